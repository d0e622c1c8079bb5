//! [`Mutex`], [`RwLock`] and [`Condvar`]: std's API over std's locks or the
//! runtime's green ones.
//!
//! # Model
//!
//! A lock owns its data (`UnsafeCell<T>`) and a *raw* lock of type `()`,
//! std's or the runtime's, chosen at the lock's first use from the
//! `thread.Mutex` / `thread.RwLock` item (so `const fn new` and `static`
//! locks work as with std). Guards wrap the raw guard, so poisoning,
//! `try_lock` and `Condvar` waits are the raw lock's own.
//!
//! A [`Condvar`] holds one std and one green condition variable and waits
//! on the one matching the guard's flavor; `notify_*` wakes only the kinds
//! that have had waiters (a std notify is a system call even when nobody
//! waits).
//!
//! # Invariants
//!
//! - `data` is reached only through a guard of the raw lock (or `&mut
//!   self`), so a `&mut T` never coexists with another reference.
//! - The raw lock never changes after it is chosen (`Decided`).
//! - A waiter marks its condvar kind in `used` while it holds the mutex,
//!   before it waits; a notifier that changed the condition under the same
//!   mutex therefore sees the mark.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use greenpatch_runtime::sync as green;

use super::{LockResult, PoisonError, TryLockError, TryLockResult, MUTEX, RWLOCK};
use crate::flavor::Decided;
use crate::Flavor;

enum RawMutex {
    Blocking(std::sync::Mutex<()>),
    Green(green::Mutex<()>),
}

impl RawMutex {
    fn new(flavor: Flavor) -> RawMutex {
        match flavor {
            Flavor::Blocking => RawMutex::Blocking(std::sync::Mutex::new(())),
            Flavor::Green => RawMutex::Green(green::Mutex::new(())),
        }
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

enum RawMutexGuard<'a> {
    Blocking(std::sync::MutexGuard<'a, ()>),
    Green(green::MutexGuard<'a, ()>),
}

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
    lock: &'a Mutex<T>,
    raw: RawMutexGuard<'a>,
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

    /// Consumes the mutex and returns its data.
    ///
    /// # Errors
    ///
    /// When poisoned, with the data inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// let m = greenpatch::thread::Mutex::new(3);
    /// assert_eq!(m.into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.is_poisoned();
        let data = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    #[inline]
    #[track_caller]
    fn raw(&self) -> &RawMutex {
        let (raw, site) = self.raw.get(&MUTEX, Location::caller(), RawMutex::new);
        if let RawMutex::Blocking(_) = raw {
            crate::stale::check(MUTEX.is_patched(), "Mutex", site, "first locked before patch_all()");
        }
        raw
    }

    fn guard<'a>(&'a self, raw: RawMutexGuard<'a>) -> MutexGuard<'a, T> {
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
            RawMutex::Blocking(m) => map_lock(m.lock(), |g| self.guard(RawMutexGuard::Blocking(g))),
            RawMutex::Green(m) => map_lock(m.lock(), |g| self.guard(RawMutexGuard::Green(g))),
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
            RawMutex::Blocking(m) => map_try(m.try_lock(), |g| self.guard(RawMutexGuard::Blocking(g))),
            RawMutex::Green(m) => map_try(m.try_lock(), |g| self.guard(RawMutexGuard::Green(g))),
        }
    }

    /// Whether a holder panicked.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(!greenpatch::thread::Mutex::new(0).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        match self.raw.peek() {
            Some(RawMutex::Blocking(m)) => m.is_poisoned(),
            Some(RawMutex::Green(m)) => m.is_poisoned(),
            None => false,
        }
    }

    /// Clears the poisoned state.
    ///
    /// # Example
    ///
    /// ```
    /// let m = greenpatch::thread::Mutex::new(0);
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        match self.raw.peek() {
            Some(RawMutex::Blocking(m)) => m.clear_poison(),
            Some(RawMutex::Green(m)) => m.clear_poison(),
            None => {}
        }
    }

    /// A mutable reference to the data (no locking: `&mut self` proves
    /// exclusive access).
    ///
    /// # Errors
    ///
    /// When poisoned, with the reference inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// let mut m = greenpatch::thread::Mutex::new(1);
    /// *m.get_mut().unwrap() = 5;
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }

    /// The flavor, choosing it now if the mutex was never used.
    ///
    /// # Example
    ///
    /// ```
    /// let m = greenpatch::thread::Mutex::new(());
    /// assert_eq!(m.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    #[track_caller]
    pub fn flavor(&self) -> Flavor {
        match self.raw.get(&MUTEX, Location::caller(), RawMutex::new).0 {
            RawMutex::Blocking(_) => Flavor::Blocking,
            RawMutex::Green(_) => Flavor::Green,
        }
    }
}

fn map_lock<G, R>(r: LockResult<G>, wrap: impl FnOnce(G) -> R) -> LockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(p) => Err(PoisonError::new(wrap(p.into_inner()))),
    }
}

fn map_try<G, R>(r: TryLockResult<G>, wrap: impl FnOnce(G) -> R) -> TryLockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(p.into_inner())))),
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
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(p)) => d.field("data", &&*p.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
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

// --------------------------------------------------------------------- RwLock

enum RawRwLock {
    Blocking(std::sync::RwLock<()>),
    Green(green::RwLock<()>),
}

impl RawRwLock {
    fn new(flavor: Flavor) -> RawRwLock {
        match flavor {
            Flavor::Blocking => RawRwLock::Blocking(std::sync::RwLock::new(())),
            Flavor::Green => RawRwLock::Green(green::RwLock::new(())),
        }
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

enum RawReadGuard<'a> {
    Blocking(#[allow(dead_code)] std::sync::RwLockReadGuard<'a, ()>),
    Green(#[allow(dead_code)] green::RwLockReadGuard<'a, ()>),
}

enum RawWriteGuard<'a> {
    Blocking(#[allow(dead_code)] std::sync::RwLockWriteGuard<'a, ()>),
    Green(#[allow(dead_code)] green::RwLockWriteGuard<'a, ()>),
}

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

    /// Consumes the lock and returns its data.
    ///
    /// # Errors
    ///
    /// When poisoned, with the data inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::RwLock::new(4).into_inner().unwrap(), 4);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.is_poisoned();
        let data = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> RwLock<T> {
    #[inline]
    #[track_caller]
    fn raw(&self) -> &RawRwLock {
        let (raw, site) = self.raw.get(&RWLOCK, Location::caller(), RawRwLock::new);
        if let RawRwLock::Blocking(_) = raw {
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
            RawRwLock::Blocking(l) => map_lock(l.read(), |g| wrap(RawReadGuard::Blocking(g))),
            RawRwLock::Green(l) => map_lock(l.read(), |g| wrap(RawReadGuard::Green(g))),
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
            RawRwLock::Blocking(l) => map_lock(l.write(), |g| wrap(RawWriteGuard::Blocking(g))),
            RawRwLock::Green(l) => map_lock(l.write(), |g| wrap(RawWriteGuard::Green(g))),
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
            RawRwLock::Blocking(l) => map_try(l.try_read(), |g| wrap(RawReadGuard::Blocking(g))),
            RawRwLock::Green(l) => map_try(l.try_read(), |g| wrap(RawReadGuard::Green(g))),
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
            RawRwLock::Blocking(l) => map_try(l.try_write(), |g| wrap(RawWriteGuard::Blocking(g))),
            RawRwLock::Green(l) => map_try(l.try_write(), |g| wrap(RawWriteGuard::Green(g))),
        }
    }

    /// Whether a writer panicked.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(!greenpatch::thread::RwLock::new(0).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        match self.raw.peek() {
            Some(RawRwLock::Blocking(l)) => l.is_poisoned(),
            Some(RawRwLock::Green(l)) => l.is_poisoned(),
            None => false,
        }
    }

    /// Clears the poisoned state.
    ///
    /// # Example
    ///
    /// ```
    /// greenpatch::thread::RwLock::new(0).clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        match self.raw.peek() {
            Some(RawRwLock::Blocking(l)) => l.clear_poison(),
            Some(RawRwLock::Green(l)) => l.clear_poison(),
            None => {}
        }
    }

    /// A mutable reference to the data, without locking.
    ///
    /// # Errors
    ///
    /// When poisoned, with the reference inside the error.
    ///
    /// # Example
    ///
    /// ```
    /// let mut l = greenpatch::thread::RwLock::new(1);
    /// *l.get_mut().unwrap() = 3;
    /// assert_eq!(*l.read().unwrap(), 3);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }

    /// The flavor, choosing it now if the lock was never used.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::RwLock::new(()).flavor(), greenpatch::Flavor::Blocking);
    /// ```
    #[track_caller]
    pub fn flavor(&self) -> Flavor {
        match self.raw.get(&RWLOCK, Location::caller(), RawRwLock::new).0 {
            RawRwLock::Blocking(_) => Flavor::Blocking,
            RawRwLock::Green(_) => Flavor::Green,
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
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(TryLockError::Poisoned(p)) => d.field("data", &&*p.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
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

// -------------------------------------------------------------------- Condvar

const USED_BLOCKING: u8 = 1;
const USED_GREEN: u8 = 2;

/// A condition variable with std's API, working with either flavor of
/// [`Mutex`]: it waits the way its guard's mutex blocks.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use greenpatch::thread::{spawn, Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// let h = spawn(move || {
///     *p.0.lock().unwrap() = true;
///     p.1.notify_one();
/// });
/// let (lock, cv) = &*pair;
/// let ready = cv.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// drop(ready);
/// h.join().unwrap();
/// ```
pub struct Condvar {
    blocking: std::sync::Condvar,
    green: green::Condvar,
    used: AtomicU8,
}

/// Whether a timed [`Condvar`] wait timed out, like std's.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use greenpatch::thread::{Condvar, Mutex};
/// let (m, cv) = (Mutex::new(()), Condvar::new());
/// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
/// assert!(r.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because its time ran out.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch::thread::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    ///
    /// # Example
    ///
    /// ```
    /// static READY: greenpatch::thread::Condvar = greenpatch::thread::Condvar::new();
    /// READY.notify_all();
    /// ```
    pub const fn new() -> Condvar {
        Condvar { blocking: std::sync::Condvar::new(), green: green::Condvar::new(), used: AtomicU8::new(0) }
    }

    fn mark(&self, kind: u8) {
        if self.used.load(Ordering::Relaxed) & kind == 0 {
            self.used.fetch_or(kind, Ordering::SeqCst);
        }
    }

    /// Releases the guard's mutex, waits for a notification, and locks it
    /// again (spurious wake-ups possible, as with std).
    ///
    /// # Errors
    ///
    /// When the mutex is poisoned on wake-up, with the guard in the error.
    ///
    /// # Example
    ///
    /// See [`Condvar`].
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let lock = guard.lock;
        match guard.raw {
            RawMutexGuard::Blocking(g) => {
                self.mark(USED_BLOCKING);
                map_lock(self.blocking.wait(g), |g| lock.guard(RawMutexGuard::Blocking(g)))
            }
            RawMutexGuard::Green(g) => {
                self.mark(USED_GREEN);
                map_lock(self.green.wait(g), |g| lock.guard(RawMutexGuard::Green(g)))
            }
        }
    }

    /// Waits while `condition` holds.
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    ///
    /// # Example
    ///
    /// See [`Condvar`].
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Waits for a notification or `dur`.
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    ///
    /// # Example
    ///
    /// See [`WaitTimeoutResult`].
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let lock = guard.lock;
        match guard.raw {
            RawMutexGuard::Blocking(g) => {
                self.mark(USED_BLOCKING);
                map_lock(self.blocking.wait_timeout(g, dur), |(g, r)| {
                    (lock.guard(RawMutexGuard::Blocking(g)), WaitTimeoutResult(r.timed_out()))
                })
            }
            RawMutexGuard::Green(g) => {
                self.mark(USED_GREEN);
                map_lock(self.green.wait_timeout(g, dur), |(g, r)| {
                    (lock.guard(RawMutexGuard::Green(g)), WaitTimeoutResult(r.timed_out()))
                })
            }
        }
    }

    /// Waits while `condition` holds, for at most `dur` in total.
    ///
    /// # Errors
    ///
    /// As [`Condvar::wait`].
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch::thread::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(0), Condvar::new());
    /// let (g, r) = cv.wait_timeout_while(m.lock().unwrap(), Duration::from_millis(1), |n| *n == 0).unwrap();
    /// assert!(r.timed_out() && *g == 0);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = std::time::Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            guard = match self.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => return Err(PoisonError::new((p.into_inner().0, WaitTimeoutResult(false)))),
            };
        }
    }

    /// Wakes one waiter.
    ///
    /// # Example
    ///
    /// ```
    /// greenpatch::thread::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        let used = self.used.load(Ordering::SeqCst);
        if used & USED_BLOCKING != 0 {
            self.blocking.notify_one();
        }
        if used & USED_GREEN != 0 {
            self.green.notify_one();
        }
    }

    /// Wakes every waiter.
    ///
    /// # Example
    ///
    /// ```
    /// greenpatch::thread::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let used = self.used.load(Ordering::SeqCst);
        if used & USED_BLOCKING != 0 {
            self.blocking.notify_all();
        }
        if used & USED_GREEN != 0 {
            self.green.notify_all();
        }
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
