//! [`Mutex`]: std's mutual-exclusion lock, blocking only the green thread.
//!
//! # Model
//! One atomic word: `UNLOCKED`, `LOCKED` (no one waits) or `CONTENDED`
//! (someone may wait). Locking is one compare-and-swap when uncontended;
//! unlocking is one swap, and touches the wait-list only when the swap
//! returns `CONTENDED`. A waiter swaps in `CONTENDED` before it registers,
//! and parks only while the word is still `CONTENDED` (see
//! [`waitlist`](super::waitlist) for why no wake-up is lost). Woken waiters
//! retry; a thread that never slept may take the lock first (no hand-off,
//! as with std's futex mutex).
//!
//! # Invariants
//! - `data` is accessed only through a [`MutexGuard`], and a guard exists
//!   only while `state != UNLOCKED` and its holder took the lock.
//! - Every waiter that may sleep has stored `CONTENDED` after the last
//!   unlock it observed, so the next unlock notifies.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison;
use super::waitlist::{forever, WaitList};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock with std's API whose `lock` blocks only the
/// calling green thread (from plain code: the OS thread, which meanwhile
/// runs its hub). Works across hubs and with plain OS threads.
///
/// Poisoning is as in std: a holder that panics poisons the lock. A
/// *killed* holder, or one whose timeout scope expired, releases the lock
/// and poisons it too (see "Poisoning" in the [`sync`](crate::sync) docs).
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::{spawn, sync::Mutex};
///
/// let counter = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let c = counter.clone();
///         spawn(move || {
///             let mut g = c.lock().unwrap();
///             greenpatch_runtime::yield_now(); // others queue up meanwhile
///             *g += 1;
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    poison: poison::Flag,
    waiters: WaitList,
    /// # Invariant
    /// See the module docs: only reached through a guard.
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one holder at a time, possibly on
// another thread, so moving or sharing the mutex needs `T: Send` (as std).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; `state` guarantees exclusive access to `data`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]: derefs to the data; dropping it unlocks.
///
/// ```
/// let m = greenpatch_runtime::sync::Mutex::new(vec![1]);
/// m.lock().unwrap().push(2);
/// assert_eq!(*m.lock().unwrap(), [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a Mutex<T>,
    poison: poison::Token,
    /// `!Send` like std's guard; `Sync` only if `T: Sync`.
    _marker: PhantomData<(&'a mut T, std::sync::MutexGuard<'static, ()>)>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    ///
    /// ```
    /// static M: greenpatch_runtime::sync::Mutex<u32> = greenpatch_runtime::sync::Mutex::new(0);
    /// *M.lock().unwrap() += 1;
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU32::new(UNLOCKED),
            poison: poison::Flag::new(),
            waiters: WaitList::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the data.
    ///
    /// # Errors
    /// `PoisonError` (holding the data) if the mutex is poisoned.
    ///
    /// ```
    /// let m = greenpatch_runtime::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner().unwrap(), "x");
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        poison::wrap(self.data.into_inner(), poisoned)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, blocking the calling green thread until it is free.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard) if a holder panicked.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever release the lock
    /// (the message is the runtime's would-block-forever report). Calling
    /// `lock` twice on the same thread without unlocking blocks, as in std.
    ///
    /// ```
    /// let m = greenpatch_runtime::sync::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        crate::coop::spend();
        if self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        self.poison.result(self.guard())
    }

    #[cold]
    fn lock_contended(&self) {
        let take = || (self.state.swap(CONTENDED, Ordering::SeqCst) == UNLOCKED).then_some(());
        let blocked = || self.state.load(Ordering::SeqCst) == CONTENDED;
        if let Err(e) = self.waiters.wait_for(None, "mutex lock", take, blocked) {
            forever(e);
        }
    }

    /// Acquires the lock if it is free, without blocking.
    ///
    /// # Errors
    /// `TryLockError::WouldBlock` if it is held; `TryLockError::Poisoned`
    /// (holding the guard) if a holder panicked.
    ///
    /// ```
    /// use std::sync::TryLockError;
    /// let m = greenpatch_runtime::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        crate::coop::spend();
        match self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => self.poison.try_result(self.guard()),
            Err(_) => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether a holder panicked (or was killed) while holding the lock.
    ///
    /// ```
    /// let m = greenpatch_runtime::sync::Mutex::new(0);
    /// assert!(!m.is_poisoned());
    /// ```
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(greenpatch_runtime::sync::Mutex::new(0));
    /// let m2 = m.clone();
    /// let _ = greenpatch_runtime::spawn(move || { let _g = m2.lock(); panic!("poison it") }).join();
    /// assert!(m.is_poisoned());
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data; no locking needed, `&mut self`
    /// proves exclusive access.
    ///
    /// # Errors
    /// `PoisonError` (holding the reference) if the mutex is poisoned.
    ///
    /// ```
    /// let mut m = greenpatch_runtime::sync::Mutex::new(1);
    /// *m.get_mut().unwrap() = 5;
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        poison::wrap(self.data.get_mut(), poisoned)
    }

    #[inline]
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard { lock: self, poison: self.poison.token(), _marker: PhantomData }
    }

    #[inline]
    fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::SeqCst) == CONTENDED {
            self.waiters.notify_one();
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds (for [`Condvar`](super::Condvar)).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.lock
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held by us (invariant of
        // `Mutex::data`), so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference derived from the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        self.lock.unlock();
    }
}

fmt_guard!(MutexGuard);

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        poison::debug_lock(f, "Mutex", self.try_lock(), self.poison.get())
    }
}
