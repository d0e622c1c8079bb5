//! [`Condvar`]: std's condition variable, for the green [`Mutex`].
//!
//! # Model
//! A wait registers on the condvar's wait-list *before* it unlocks the
//! mutex, so a notification sent by anyone who takes the mutex afterwards
//! finds it. It then parks, leaves the list, and re-locks the mutex.
//! Wake-ups may be spurious, as in std: use [`Condvar::wait_while`].
//!
//! # Invariants
//! - A notification reaches a waiter that returns from `wait`, or is passed
//!   on: a waiter that unwinds (a kill, a timeout scope) after being
//!   notified — while parked, or while re-locking the mutex — notifies the
//!   next waiter instead.

use std::fmt;
use std::sync::LockResult;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::poison::{map, wrap};
use super::waitlist::{forever, WaitList, Woke};

/// A condition variable with std's API, used with
/// [`sync::Mutex`](super::Mutex); waiting blocks only the green thread.
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// let h = greenpatch_runtime::spawn(move || {
///     *p.0.lock().unwrap() = true;
///     p.1.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let ready = cvar.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// drop(ready);
/// h.join().unwrap();
/// ```
pub struct Condvar {
    waiters: WaitList,
}

/// Whether a timed condvar wait returned because its time ran out.
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime::sync::{Condvar, Mutex};
/// let (m, c) = (Mutex::new(()), Condvar::new());
/// let (_g, r) = c.wait_timeout(m.lock().unwrap(), Duration::from_millis(5)).unwrap();
/// assert!(r.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the timeout elapsed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::sync::{Condvar, Mutex};
    /// let (m, c) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = c.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// Passes a consumed notification on if dropped while armed (re-locking
/// the mutex unwound).
struct PassOn<'a>(&'a WaitList, bool);

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.notify_one();
        }
    }
}

impl Condvar {
    /// A new condition variable.
    ///
    /// ```
    /// static C: greenpatch_runtime::sync::Condvar = greenpatch_runtime::sync::Condvar::new();
    /// C.notify_all();
    /// ```
    pub const fn new() -> Condvar {
        Condvar { waiters: WaitList::new() }
    }

    /// Unlocks the mutex, blocks the green thread until notified (or a
    /// spurious wake-up), and re-locks it.
    ///
    /// # Errors
    /// `PoisonError` (holding the re-acquired guard) if the mutex is poisoned.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever notify (the
    /// message is the runtime's would-block-forever report).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use greenpatch_runtime::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = pair.clone();
    /// greenpatch_runtime::spawn(move || { *p.0.lock().unwrap() = 1; p.1.notify_all(); });
    /// let mut g = pair.0.lock().unwrap();
    /// while *g == 0 {
    ///     g = pair.1.wait(g).unwrap();
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_deadline(guard, None).0
    }

    /// Waits until `condition` returns `false`, re-checking after every
    /// wake-up; returns the guard with the condition false.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard) if the mutex is poisoned.
    ///
    /// # Panics
    /// As [`Condvar::wait`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use greenpatch_runtime::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = pair.clone();
    /// greenpatch_runtime::spawn(move || for _ in 0..3 { *p.0.lock().unwrap() += 1; p.1.notify_one(); });
    /// let g = pair.1.wait_while(pair.0.lock().unwrap(), |n| *n < 3).unwrap();
    /// assert_eq!(*g, 3);
    /// ```
    pub fn wait_while<'a, T: ?Sized, F>(&self, guard: MutexGuard<'a, T>, condition: F) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        let (r, _) = self.wait_while_deadline(guard, None, condition);
        r
    }

    /// Waits as [`Condvar::wait`], for at most `dur`.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard and the result) if the mutex is
    /// poisoned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::sync::{Condvar, Mutex};
    /// let (m, c) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = c.wait_timeout(m.lock().unwrap(), Duration::from_millis(10)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let (r, timed_out) = self.wait_deadline(guard, Instant::now().checked_add(dur));
        map(r, |g| (g, WaitTimeoutResult(timed_out)))
    }

    /// Waits as [`Condvar::wait_while`], for at most `dur`; the result
    /// tells whether the time ran out with the condition still true.
    ///
    /// # Errors
    /// `PoisonError` (holding the guard and the result) if the mutex is
    /// poisoned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::sync::{Condvar, Mutex};
    /// let (m, c) = (Mutex::new(false), Condvar::new());
    /// let (g, r) = c.wait_timeout_while(m.lock().unwrap(), Duration::from_millis(10), |ok| !*ok).unwrap();
    /// assert!(r.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
        condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let (r, timed_out) = self.wait_while_deadline(guard, Instant::now().checked_add(dur), condition);
        map(r, |g| (g, WaitTimeoutResult(timed_out)))
    }

    /// Wakes one waiter, if any.
    ///
    /// ```
    /// greenpatch_runtime::sync::Condvar::new().notify_one(); // no waiter: nothing happens
    /// ```
    #[inline]
    pub fn notify_one(&self) {
        self.waiters.notify_one();
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// greenpatch_runtime::sync::Condvar::new().notify_all();
    /// ```
    #[inline]
    pub fn notify_all(&self) {
        self.waiters.notify_all();
    }

    /// One wait; returns the re-locked guard and whether the deadline passed.
    fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let mutex = guard.mutex();
        let waiter = self.waiters.register();
        drop(guard);
        let woke = match waiter.park(deadline, "condvar wait") {
            Ok(w) => w,
            // Deregistered (and any notification passed on) by `park`.
            Err(e) => forever(e),
        };
        let mut pass_on = PassOn(&self.waiters, woke == Woke::Notified);
        let relocked = mutex.lock();
        pass_on.1 = false;
        (relocked, woke == Woke::TimedOut)
    }

    fn wait_while_deadline<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
        mut condition: F,
    ) -> (LockResult<MutexGuard<'a, T>>, bool)
    where
        F: FnMut(&mut T) -> bool,
    {
        let mut poisoned = false;
        loop {
            if !condition(&mut *guard) {
                return (wrap(guard, poisoned), false);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (wrap(guard, poisoned), true);
            }
            let (r, _) = self.wait_deadline(guard, deadline);
            guard = match r {
                Ok(g) => g,
                Err(e) => {
                    poisoned = true;
                    e.into_inner()
                }
            };
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
        f.debug_struct("Condvar").field("waiters", &self.waiters.len()).finish()
    }
}
