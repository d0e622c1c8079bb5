//! [`RwLock`] and its guards (see the parent module for the model).

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use greenpatch_runtime::sync as green;

use super::super::{LockResult, PoisonError, TryLockError, TryLockResult, RWLOCK};
use super::{map_lock, map_try};
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

type RawRwLock = Flavored<std::sync::RwLock<()>, green::RwLock<()>>;

impl RawRwLock {
    fn new(flavor: Flavor) -> RawRwLock {
        Flavored::of(flavor, || std::sync::RwLock::new(()), || green::RwLock::new(()))
    }
}

/// A reader-writer lock with std's API: `std::sync::RwLock` before
/// `patch_all()`, the runtime's green one after it (chosen at first use).
///
/// # Example
///
/// ```
/// let l = greenpatch::thread::RwLock::new(5);
/// {
///     let a = l.read().unwrap();
///     let b = l.read().unwrap();
///     assert_eq!(*a + *b, 10);
/// }
/// *l.write().unwrap() += 1;
/// assert_eq!(*l.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: Decided<RawRwLock>,
    data: UnsafeCell<T>,
}

// SAFETY: as std's: writers get `&mut T` (needs `Send`), readers share
// `&T` across threads (needs `Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above; the raw lock enforces one writer xor many readers.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

type RawReadGuard<'a> = Flavored<std::sync::RwLockReadGuard<'a, ()>, green::RwLockReadGuard<'a, ()>>;

type RawWriteGuard<'a> = Flavored<std::sync::RwLockWriteGuard<'a, ()>, green::RwLockWriteGuard<'a, ()>>;

/// Shared access to an [`RwLock`]'s data.
///
/// # Example
///
/// ```
/// let l = greenpatch::thread::RwLock::new(1);
/// let g = l.read().unwrap();
/// assert_eq!(*g, 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _raw: RawReadGuard<'a>,
}

// SAFETY: sharing a read guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Exclusive access to an [`RwLock`]'s data.
///
/// # Example
///
/// ```
/// let l = greenpatch::thread::RwLock::new(1);
/// *l.write().unwrap() = 2;
/// assert_eq!(*l.read().unwrap(), 2);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _raw: RawWriteGuard<'a>,
}

// SAFETY: sharing a write guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock; its flavor is chosen at first use.
    ///
    /// # Example
    ///
    /// ```
    /// static CONFIG: greenpatch::thread::RwLock<u8> = greenpatch::thread::RwLock::new(0);
    /// assert_eq!(*CONFIG.read().unwrap(), 0);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock { raw: Decided::new(), data: UnsafeCell::new(value) }
    }

    /// A new lock of the given flavor.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::RwLock, Flavor};
    /// assert_eq!(RwLock::with_flavor(Flavor::Green, 1).flavor(), Flavor::Green);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor, value: T) -> RwLock<T> {
        RwLock { raw: Decided::with(RawRwLock::new(flavor), Location::caller()), data: UnsafeCell::new(value) }
    }
}

impl<T: ?Sized> RwLock<T> {
    #[inline]
    #[track_caller]
    fn raw(&self) -> &RawRwLock {
        let (raw, site) = self.raw.get(&RWLOCK, Location::caller(), RawRwLock::new);
        if let Flavored::Blocking(_) = raw {
            crate::stale::check(RWLOCK.is_patched(), "RwLock", site, "first locked before patch_all()");
        }
        raw
    }

    /// Locks for shared reading.
    ///
    /// # Errors
    ///
    /// When a writer panicked (poisoned), with the guard inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::RwLock::new(1);
    /// assert_eq!(*l.read().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let wrap = |raw| RwLockReadGuard { lock: self, _raw: raw };
        match self.raw() {
            Flavored::Blocking(l) => map_lock(l.read(), |g| wrap(Flavored::Blocking(g))),
            Flavored::Green(l) => map_lock(l.read(), |g| wrap(Flavored::Green(g))),
        }
    }

    /// Locks for exclusive writing.
    ///
    /// # Errors
    ///
    /// When poisoned, with the guard inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::RwLock::new(1);
    /// *l.write().unwrap() += 1;
    /// ```
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let wrap = |raw| RwLockWriteGuard { lock: self, _raw: raw };
        match self.raw() {
            Flavored::Blocking(l) => map_lock(l.write(), |g| wrap(Flavored::Blocking(g))),
            Flavored::Green(l) => map_lock(l.write(), |g| wrap(Flavored::Green(g))),
        }
    }

    /// Locks for reading if no writer holds or waits for the lock.
    ///
    /// # Errors
    ///
    /// `WouldBlock` or `Poisoned`.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::RwLock::new(1);
    /// let w = l.write().unwrap();
    /// assert!(l.try_read().is_err());
    /// drop(w);
    /// ```
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let wrap = |raw| RwLockReadGuard { lock: self, _raw: raw };
        match self.raw() {
            Flavored::Blocking(l) => map_try(l.try_read(), |g| wrap(Flavored::Blocking(g))),
            Flavored::Green(l) => map_try(l.try_read(), |g| wrap(Flavored::Green(g))),
        }
    }

    /// Locks for writing if the lock is free.
    ///
    /// # Errors
    ///
    /// `WouldBlock` or `Poisoned`.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::RwLock::new(1);
    /// let r = l.read().unwrap();
    /// assert!(l.try_write().is_err());
    /// drop(r);
    /// ```
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let wrap = |raw| RwLockWriteGuard { lock: self, _raw: raw };
        match self.raw() {
            Flavored::Blocking(l) => map_try(l.try_write(), |g| wrap(Flavored::Blocking(g))),
            Flavored::Green(l) => map_try(l.try_write(), |g| wrap(Flavored::Green(g))),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read guard of the raw lock is held: no writer exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the write guard of the raw lock is held exclusively.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard is held exclusively and `&mut self` makes
        // this the only reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

super::lock_common!(RwLock, RawRwLock, RWLOCK, try_read);
