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

mod condvar;
mod mutex;
mod rwlock;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{LockResult, PoisonError, TryLockError, TryLockResult};

/// Maps a raw lock result to the facade's guard type, poison included.
pub(super) fn map_lock<G, R>(r: LockResult<G>, wrap: impl FnOnce(G) -> R) -> LockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(p) => Err(PoisonError::new(wrap(p.into_inner()))),
    }
}

/// As [`map_lock`], for `try_lock` results.
pub(super) fn map_try<G, R>(r: TryLockResult<G>, wrap: impl FnOnce(G) -> R) -> TryLockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(p.into_inner())))),
    }
}
