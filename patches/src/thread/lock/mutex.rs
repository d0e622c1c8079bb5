//! [`Mutex`] and [`MutexGuard`] (see the parent module for the model).

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use greenpatch_runtime::sync as green;

use super::super::{LockResult, PoisonError, TryLockError, TryLockResult, MUTEX};
use super::{map_lock, map_try};
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

type RawMutex = Flavored<std::sync::Mutex<()>, green::Mutex<()>>;

impl RawMutex {
    fn new(flavor: Flavor) -> RawMutex {
        Flavored::of(flavor, || std::sync::Mutex::new(()), || green::Mutex::new(()))
    }
}

/// A mutual exclusion lock with std's API: `std::sync::Mutex` before
/// `patch_all()`, the runtime's green mutex (blocks only the green thread)
/// after it. The choice is made at the lock's first use.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use greenpatch::thread::{spawn, Mutex};
///
/// let counter = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let c = counter.clone();
///         spawn(move || *c.lock().unwrap() += 1)
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: Decided<RawMutex>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one holder at a time, possibly on
// another thread, so it needs `T: Send`, as std's; the raw locks are
// `Send + Sync`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: the raw lock guarantees exclusive access to `data`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

pub(super) type RawMutexGuard<'a> = Flavored<std::sync::MutexGuard<'a, ()>, green::MutexGuard<'a, ()>>;

/// Proof of holding a [`Mutex`]; derefs to the data; dropping it unlocks.
///
/// # Example
///
/// ```
/// let m = greenpatch::thread::Mutex::new(vec![1]);
/// m.lock().unwrap().push(2);
/// assert_eq!(*m.lock().unwrap(), [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(super) lock: &'a Mutex<T>,
    pub(super) raw: RawMutexGuard<'a>,
}

// SAFETY: sharing the guard shares `&T` only, as std's guard.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex; its flavor is chosen at its first use.
    ///
    /// # Example
    ///
    /// ```
    /// static HITS: greenpatch::thread::Mutex<u32> = greenpatch::thread::Mutex::new(0);
    /// *HITS.lock().unwrap() += 1;
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex { raw: Decided::new(), data: UnsafeCell::new(value) }
    }

    /// A new mutex of the given flavor, whatever is patched.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Mutex, Flavor};
    /// let m = Mutex::with_flavor(Flavor::Green, 1);
    /// assert_eq!(*m.lock().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor, value: T) -> Mutex<T> {
        Mutex { raw: Decided::with(RawMutex::new(flavor), Location::caller()), data: UnsafeCell::new(value) }
    }
}

impl<T: ?Sized> Mutex<T> {
    #[inline]
    #[track_caller]
    fn raw(&self) -> &RawMutex {
        let (raw, site) = self.raw.get(&MUTEX, Location::caller(), RawMutex::new);
        if let Flavored::Blocking(_) = raw {
            crate::stale::check(MUTEX.is_patched(), "Mutex", site, "first locked before patch_all()");
        }
        raw
    }

    pub(super) fn guard<'a>(&'a self, raw: RawMutexGuard<'a>) -> MutexGuard<'a, T> {
        MutexGuard { lock: self, raw }
    }

    /// Acquires the mutex, blocking the OS thread (blocking flavor) or only
    /// the green thread (green flavor) until it is free.
    ///
    /// # Errors
    ///
    /// When a holder panicked, as std (the guard is in the error).
    ///
    /// # Example
    ///
    /// ```
    /// let m = greenpatch::thread::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        match self.raw() {
            Flavored::Blocking(m) => map_lock(m.lock(), |g| self.guard(Flavored::Blocking(g))),
            Flavored::Green(m) => map_lock(m.lock(), |g| self.guard(Flavored::Green(g))),
        }
    }

    /// Acquires the mutex if it is free.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when it is held; `Poisoned` as [`Mutex::lock`].
    ///
    /// # Example
    ///
    /// ```
    /// let m = greenpatch::thread::Mutex::new(1);
    /// let g = m.lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.raw() {
            Flavored::Blocking(m) => map_try(m.try_lock(), |g| self.guard(Flavored::Blocking(g))),
            Flavored::Green(m) => map_try(m.try_lock(), |g| self.guard(Flavored::Green(g))),
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the raw lock (invariant: `data` is only
        // reached through a guard), so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the raw lock exclusively and `&mut self`
        // makes this the only reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

super::lock_common!(Mutex, RawMutex, MUTEX, try_lock);
