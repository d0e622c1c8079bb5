//! Locks and signals that block only the calling green thread.
//!
//! std's API, green behaviour: [`Mutex`], [`RwLock`], [`Condvar`],
//! [`Barrier`] and [`OnceLock`] have std's method names, signatures and
//! error types (`std::sync::LockResult`, `PoisonError`, `TryLockError`), so
//! switching is an import change. gevent's primitives join them:
//! [`Semaphore`], [`BoundedSemaphore`], [`Event`] and [`Local`]
//! (gevent's `local`).
//!
//! # Model
//! Every primitive keeps its state in atomics (a Mutex is one word; taking
//! it uncontended is one compare-and-swap) and parks waiters on a shared
//! internal wait-list: a FIFO of (ticket, [`Unparker`](crate::Unparker)).
//! Waiting blocks the calling green thread on any hub; from plain code (a
//! root) it blocks the OS thread, which meanwhile runs its hub. Wake-ups
//! work across hubs and from plain OS threads, and none is lost: a waiter
//! re-checks the state after registering and before parking, and a waiter
//! that gives up after being notified passes the notification on.
//!
//! # Kills, timeouts and would-block-forever
//! - A green thread killed ([`JoinHandle::kill`](crate::JoinHandle::kill))
//!   or timed out ([`with_timeout`](crate::with_timeout)) while it waits
//!   unwinds out of the wait, deregisters, and passes on any notification
//!   it had received, so the next waiter gets the lock, permit or item.
//! - A root that waits where nothing in the process can ever wake it gets
//!   the runtime's [`WouldBlockForever`](crate::WouldBlockForever) report as
//!   a panic (std's signatures have no room for the error). Timed waits
//!   never report it: their timer can always fire.
//!
//! # Poisoning
//! As std: a [`MutexGuard`] or [`RwLockWriteGuard`] dropped while its
//! thread unwinds poisons the lock, and the lock is released. That includes
//! a holder that is *killed* or whose timeout scope expires inside the
//! critical section: the runtime does not tell a guard why its thread
//! unwinds, so the conservative std rule applies (gevent, which has no
//! poisoning, would treat `GreenletExit` as benign: call `clear_poison` or
//! `PoisonError::into_inner` to do the same).

/// Debug and Display for a guard, through its `Deref`.
macro_rules! fmt_guard {
    ($($g:ident),*) => {$(
        impl<T: ?Sized + fmt::Debug> fmt::Debug for $g<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ?Sized + fmt::Display> fmt::Display for $g<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

mod barrier;
mod condvar;
mod event;
pub(crate) mod local;
mod mutex;
mod once;
mod poison;
mod rwlock;
mod semaphore;
pub(crate) mod spin;
pub(crate) mod waitlist;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use event::Event;
pub use local::Local;
pub use mutex::{Mutex, MutexGuard};
pub use once::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{BoundedSemaphore, ReleaseError, Semaphore};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
