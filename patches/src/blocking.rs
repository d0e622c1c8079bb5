//! Waits for the blocking flavors that std lacks (gevent's `Event`,
//! `Semaphore` and queues), built on a std `Mutex` and `Condvar`.
//!
//! # Invariant
//!
//! The guarded state is read only under its mutex, and every waiter
//! re-checks its condition after each wake-up (spurious ones included), so
//! a notifier only has to notify after changing the state.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Locks a std mutex whose critical sections cannot panic half-way.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv` until `done` holds or `deadline` passes; returns `done`'s
/// last answer.
pub(crate) fn wait_until<'a, T>(
    cv: &Condvar,
    mut g: MutexGuard<'a, T>,
    deadline: Option<Instant>,
    mut done: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    loop {
        if done(&mut g) {
            return (g, true);
        }
        g = match deadline {
            None => cv.wait(g).unwrap_or_else(|p| p.into_inner()),
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => cv.wait_timeout(g, left).unwrap_or_else(|p| p.into_inner()).0,
                _ => return (g, false),
            },
        };
    }
}
