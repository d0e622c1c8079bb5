//! [`Condvar`]: waits the way its guard's mutex blocks (see the parent
//! module for the model and the `used` invariant).

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use greenpatch_runtime::sync as green;

use super::super::{LockResult, PoisonError};
use super::map_lock;
use super::mutex::{MutexGuard, RawMutexGuard};

const USED_BLOCKING: u8 = 1;
const USED_GREEN: u8 = 2;

/// A condition variable with std's API, working with either flavor of
/// [`Mutex`](super::Mutex): it waits the way its guard's mutex blocks.
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
