//! Poisoning, shared by [`Mutex`](super::Mutex) and [`RwLock`](super::RwLock).
//!
//! # Model
//! As in std: a lock is poisoned when a guard that gives write access is
//! dropped while its thread unwinds — unless the thread was already
//! unwinding when it took the lock. The error types are std's
//! (`std::sync::PoisonError`, `TryLockError`, `LockResult`,
//! `TryLockResult`), so code that handles std's locks handles these.
//!
//! # Kills and timeouts
//! A green thread that is killed ([`JoinHandle::kill`](crate::JoinHandle::kill))
//! or whose [`with_timeout`](crate::with_timeout) scope expires unwinds out
//! of its blocking call, and its guards are dropped on the way: the lock is
//! always released. The runtime does not (yet) tell a guard *why* its
//! thread unwinds — `std::thread::panicking()` is true for every unwind —
//! so a kill or an expired scope inside a critical section poisons the lock
//! exactly like a panic does. That is the conservative choice: the holder
//! stopped half-way through its critical section, whatever the reason.
//! Callers who treat a kill as benign (gevent's `GreenletExit`) call
//! `clear_poison` or use `PoisonError::into_inner`.
//!
//! `std::thread::panicking()` is per OS thread: if an unwinding green thread
//! blocks inside a destructor, other green threads of its hub see
//! `panicking()` as true until it resumes, and a guard they drop meanwhile
//! poisons its lock. Blocking in a destructor during an unwind is rare.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// The poison flag of one lock.
pub(crate) struct Flag(AtomicBool);

/// What a write guard remembers from when its lock was taken.
pub(crate) struct Token {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    /// Whether the lock is poisoned.
    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Clears the poison.
    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Called when a write guard is made.
    #[inline]
    pub(crate) fn token(&self) -> Token {
        Token { panicking: std::thread::panicking() }
    }

    /// Called when a write guard is dropped: poisons if its thread started
    /// unwinding since the guard was made.
    #[inline]
    pub(crate) fn done(&self, token: &Token) {
        if !token.panicking && std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// Wraps `guard` in std's `LockResult` according to the flag.
    #[inline]
    pub(crate) fn result<G>(&self, guard: G) -> LockResult<G> {
        wrap(guard, self.get())
    }

    /// As [`Flag::result`], for a `try_` lock that succeeded.
    #[inline]
    pub(crate) fn try_result<G>(&self, guard: G) -> std::sync::TryLockResult<G> {
        self.result(guard).map_err(std::sync::TryLockError::Poisoned)
    }
}

/// `Ok(value)`, or `Err(PoisonError(value))` if `poisoned`.
#[inline]
pub(crate) fn wrap<G>(value: G, poisoned: bool) -> LockResult<G> {
    if poisoned {
        Err(PoisonError::new(value))
    } else {
        Ok(value)
    }
}

/// Maps the value inside a `LockResult`, keeping its poison.
pub(crate) fn map<G, U>(r: LockResult<G>, f: impl FnOnce(G) -> U) -> LockResult<U> {
    match r {
        Ok(g) => Ok(f(g)),
        Err(e) => Err(PoisonError::new(f(e.into_inner()))),
    }
}

/// std's `Debug` of a lock: its data if a `try_` lock gets it, and whether
/// it is poisoned.
pub(crate) fn debug_lock<G: Deref>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    attempt: TryLockResult<G>,
    poisoned: bool,
) -> fmt::Result
where
    G::Target: fmt::Debug,
{
    let mut d = f.debug_struct(name);
    match attempt {
        Ok(g) => d.field("data", &&*g),
        Err(TryLockError::Poisoned(e)) => d.field("data", &&**e.get_ref()),
        Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
    };
    d.field("poisoned", &poisoned).finish_non_exhaustive()
}
