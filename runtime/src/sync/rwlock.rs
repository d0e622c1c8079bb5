//! [`RwLock`]: std's reader-writer lock, blocking only the green thread.
//!
//! # Model
//! One atomic word: the `WRITER` bit plus the number of readers. Readers
//! and writers wait on separate wait-lists. The lock prefers writers: a
//! reader does not enter while a writer holds the lock *or waits for it*
//! (`writers_pending`),
//! so a stream of readers cannot starve a writer (as with std, a thread
//! that read-locks twice while a writer waits can deadlock itself).
//!
//! - The last reader out wakes one waiting writer.
//! - A writer's unlock wakes one waiting writer, or else every reader.
//! - A writer that stops waiting without the lock (it unwinds) and leaves
//!   no other writer pending wakes the readers it was holding back.
//!
//! # Invariants
//! - `data` is reached only through guards: `&T` by read guards while the
//!   reader count is non-zero, `&mut T` by the write guard while `WRITER`
//!   is set; the two never coexist.
//! - Only write guards poison (as in std).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison;
use super::waitlist::{forever, WaitList};

const WRITER: usize = 1 << (usize::BITS - 1);

/// A reader-writer lock with std's API: many readers or one writer;
/// blocking waits park only the green thread.
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::sync::RwLock;
///
/// let lock = Arc::new(RwLock::new(5));
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// let l = lock.clone();
/// greenpatch_runtime::spawn(move || *l.write().unwrap() += 1).join().unwrap();
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    state: AtomicUsize,
    /// Writers in the slow path of `write` (registered or about to be):
    /// readers hold back while it is non-zero. Unlike the wait-list's
    /// length, it stays up while a notified writer goes to re-check.
    writers_pending: AtomicUsize,
    poison: poison::Flag,
    readers: WaitList,
    writers: WaitList,
    /// # Invariant
    /// See the module docs.
    data: UnsafeCell<T>,
}

// SAFETY: a writer gets `&mut T`, possibly on another thread: `T: Send`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: readers on several threads share `&T` (`T: Sync`); a writer gets
// `&mut T` (`T: Send`); `state` keeps the two apart. Same bounds as std.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared read access to an [`RwLock`]; dropping it unlocks.
///
/// ```
/// let l = greenpatch_runtime::sync::RwLock::new(1);
/// let g = l.read().unwrap();
/// assert_eq!(*g, 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<(&'a T, std::sync::MutexGuard<'static, ()>)>,
}

/// Exclusive write access to an [`RwLock`]; dropping it unlocks.
///
/// ```
/// let l = greenpatch_runtime::sync::RwLock::new(1);
/// *l.write().unwrap() = 2;
/// assert_eq!(*l.read().unwrap(), 2);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Token,
    _marker: PhantomData<(&'a mut T, std::sync::MutexGuard<'static, ()>)>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    ///
    /// ```
    /// static L: greenpatch_runtime::sync::RwLock<Vec<u8>> = greenpatch_runtime::sync::RwLock::new(Vec::new());
    /// L.write().unwrap().push(1);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: AtomicUsize::new(0),
            writers_pending: AtomicUsize::new(0),
            poison: poison::Flag::new(),
            readers: WaitList::new(),
            writers: WaitList::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the data.
    ///
    /// # Errors
    /// `PoisonError` (holding the data) if the lock is poisoned.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::RwLock::new(3).into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        poison::wrap(self.data.into_inner(), poisoned)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, blocking the green thread while a writer holds
    /// or waits for the lock.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard) if a writer panicked.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever release the lock
    /// (the message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let l = greenpatch_runtime::sync::RwLock::new("x");
    /// assert_eq!(*l.read().unwrap(), "x");
    /// ```
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        crate::coop::spend();
        if !self.try_read_fast(true) {
            self.read_contended();
        }
        self.poison.result(RwLockReadGuard { lock: self, _marker: PhantomData })
    }

    /// One attempt at a read lock; `polite` also yields to waiting writers.
    #[inline]
    fn try_read_fast(&self, polite: bool) -> bool {
        let mut s = self.state.load(SeqCst);
        loop {
            if s & WRITER != 0 || (polite && self.writers_pending.load(SeqCst) != 0) || s + 1 == WRITER {
                return false;
            }
            match self.state.compare_exchange_weak(s, s + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    #[cold]
    fn read_contended(&self) {
        let take = || self.try_read_fast(true).then_some(());
        let blocked = || self.state.load(SeqCst) & WRITER != 0 || self.writers_pending.load(SeqCst) != 0;
        if let Err(e) = self.readers.wait_for(None, "rwlock read", take, blocked) {
            forever(e);
        }
    }

    /// Locks for writing, blocking the green thread until no reader or
    /// writer holds the lock.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard) if a writer panicked.
    ///
    /// # Panics
    /// As [`RwLock::read`].
    ///
    /// ```
    /// let l = greenpatch_runtime::sync::RwLock::new(0);
    /// *l.write().unwrap() += 1;
    /// assert_eq!(*l.read().unwrap(), 1);
    /// ```
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        crate::coop::spend();
        if self.state.compare_exchange(0, WRITER, SeqCst, SeqCst).is_err() {
            self.write_contended();
        }
        self.poison.result(self.write_guard())
    }

    #[cold]
    fn write_contended(&self) {
        /// Leaves the slow path; wakes the readers this writer held back if
        /// it leaves without the lock (it unwinds) and no writer is pending.
        struct Leave<'a, T: ?Sized>(&'a RwLock<T>);
        impl<T: ?Sized> Drop for Leave<'_, T> {
            fn drop(&mut self) {
                let l = self.0;
                if l.writers_pending.fetch_sub(1, SeqCst) == 1 && l.state.load(SeqCst) & WRITER == 0 {
                    l.readers.notify_all();
                }
            }
        }
        self.writers_pending.fetch_add(1, SeqCst);
        let leave = Leave(self);
        let take = || self.state.compare_exchange(0, WRITER, SeqCst, SeqCst).ok();
        if let Err(e) = self.writers.wait_for(None, "rwlock write", take, || self.state.load(SeqCst) != 0) {
            forever(e);
        }
        // Holding the lock now: the readers wait for its unlock instead.
        drop(leave);
    }

    /// Locks for reading if no writer holds the lock, without blocking.
    ///
    /// # Errors
    /// `TryLockError::WouldBlock` if a writer holds it;
    /// `TryLockError::Poisoned` if a writer panicked.
    ///
    /// ```
    /// let l = greenpatch_runtime::sync::RwLock::new(1);
    /// let w = l.write().unwrap();
    /// assert!(l.try_read().is_err());
    /// drop(w);
    /// assert!(l.try_read().is_ok());
    /// ```
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        crate::coop::spend();
        if self.try_read_fast(false) {
            self.poison.try_result(RwLockReadGuard { lock: self, _marker: PhantomData })
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Locks for writing if the lock is free, without blocking.
    ///
    /// # Errors
    /// `TryLockError::WouldBlock` if anyone holds it;
    /// `TryLockError::Poisoned` if a writer panicked.
    ///
    /// ```
    /// let l = greenpatch_runtime::sync::RwLock::new(1);
    /// let r = l.read().unwrap();
    /// assert!(l.try_write().is_err());
    /// drop(r);
    /// assert!(l.try_write().is_ok());
    /// ```
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        crate::coop::spend();
        match self.state.compare_exchange(0, WRITER, SeqCst, SeqCst) {
            Ok(_) => self.poison.try_result(self.write_guard()),
            Err(_) => Err(TryLockError::WouldBlock),
        }
    }

    /// Whether a writer panicked (or was killed) while holding the lock.
    ///
    /// ```
    /// assert!(!greenpatch_runtime::sync::RwLock::new(()).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// ```
    /// let l = greenpatch_runtime::sync::RwLock::new(());
    /// l.clear_poison();
    /// assert!(!l.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data; `&mut self` proves exclusivity.
    ///
    /// # Errors
    /// `PoisonError` (holding the reference) if the lock is poisoned.
    ///
    /// ```
    /// let mut l = greenpatch_runtime::sync::RwLock::new(1);
    /// *l.get_mut().unwrap() = 2;
    /// assert_eq!(*l.read().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        poison::wrap(self.data.get_mut(), poisoned)
    }

    #[inline]
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard { lock: self, poison: self.poison.token(), _marker: PhantomData }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while the reader count includes
        // it, so no writer (no `&mut T`) exists (module invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let l = self.lock;
        if l.state.fetch_sub(1, SeqCst) == 1 {
            l.writers.notify_one();
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write guard exists only while `WRITER` is set by its
        // holder: no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this reference unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let l = self.lock;
        l.poison.done(&self.poison);
        l.state.store(0, SeqCst);
        if !l.writers.notify_one() {
            l.readers.notify_all();
        }
    }
}

fmt_guard!(RwLockReadGuard, RwLockWriteGuard);

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        poison::debug_lock(f, "RwLock", self.try_read(), self.poison.get())
    }
}
