//! [`Semaphore`] and [`BoundedSemaphore`] (gevent's, with Rust names).
//!
//! # Model
//! An atomic count of permits. Acquiring is a compare-and-swap that
//! decrements a non-zero count; releasing increments it and wakes one
//! waiter if any is registered. Waiters retry after a wake-up (a thread
//! that never slept may take the permit first).
//!
//! # Invariants
//! - A release that finds waiters notifies one; a notified waiter that
//!   unwinds passes the notification on (see the wait-list).
//! - [`BoundedSemaphore`]: the count never exceeds its bound.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use super::waitlist::{forever, WaitList};

/// A counting semaphore: `acquire` takes a permit, blocking the green
/// thread while there is none; `release` gives one back.
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(2)); // at most two at a time
/// let hs: Vec<_> = (0..6)
///     .map(|_| {
///         let s = sem.clone();
///         greenpatch_runtime::spawn(move || {
///             s.acquire();
///             assert!(s.available() <= 1);
///             greenpatch_runtime::yield_now();
///             s.release();
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(sem.available(), 2);
/// ```
pub struct Semaphore {
    permits: AtomicUsize,
    waiters: WaitList,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::Semaphore::new(3).available(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore { permits: AtomicUsize::new(permits), waiters: WaitList::new() }
    }

    /// Takes a permit, blocking the green thread until one is available.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever release a permit
    /// (the message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::Semaphore::new(1);
    /// s.acquire();
    /// assert_eq!(s.available(), 0);
    /// ```
    #[inline]
    pub fn acquire(&self) {
        crate::coop::spend();
        if !self.try_acquire() {
            self.acquire_until(None);
        }
    }

    /// Takes a permit if one is available, without blocking.
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::Semaphore::new(1);
    /// assert!(s.try_acquire());
    /// assert!(!s.try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        crate::coop::spend();
        let mut n = self.permits.load(SeqCst);
        while n > 0 {
            match self.permits.compare_exchange_weak(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
        false
    }

    /// Takes a permit, waiting at most `timeout`; returns whether it got one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenpatch_runtime::sync::Semaphore::new(0);
    /// assert!(!s.acquire_timeout(Duration::from_millis(10)));
    /// s.release();
    /// assert!(s.acquire_timeout(Duration::from_millis(10)));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        crate::coop::spend();
        self.try_acquire() || self.acquire_until(Instant::now().checked_add(timeout))
    }

    #[cold]
    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        let take = || self.try_acquire().then_some(());
        match self.waiters.wait_for(deadline, "semaphore acquire", take, || self.permits.load(SeqCst) == 0) {
            Ok(got) => got.is_some(),
            Err(e) => forever(e),
        }
    }

    /// Gives a permit back (or adds one: a plain semaphore has no upper
    /// bound; the count saturates at `usize::MAX`) and wakes a waiter.
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::Semaphore::new(0);
    /// s.release();
    /// assert_eq!(s.available(), 1);
    /// ```
    #[inline]
    pub fn release(&self) {
        self.release_below(usize::MAX);
    }

    /// Adds a permit unless the count is already `limit`; wakes a waiter.
    #[inline]
    fn release_below(&self, limit: usize) -> bool {
        let mut n = self.permits.load(SeqCst);
        loop {
            if n >= limit {
                return false;
            }
            match self.permits.compare_exchange_weak(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        self.waiters.notify_one();
        true
    }

    /// Permits available now.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::Semaphore::new(4).available(), 4);
    /// ```
    #[inline]
    pub fn available(&self) -> usize {
        self.permits.load(SeqCst)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("available", &self.available()).field("waiters", &self.waiters.len()).finish()
    }
}

/// A [`Semaphore`] that refuses to be released above its initial count:
/// an extra release is a bug, reported as [`ReleaseError`] (gevent raises
/// `ValueError`).
///
/// ```
/// use greenpatch_runtime::sync::BoundedSemaphore;
/// let s = BoundedSemaphore::new(1);
/// s.acquire();
/// assert!(s.release().is_ok());
/// assert!(s.release().is_err()); // one release too many
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
    bound: usize,
}

/// A [`BoundedSemaphore`] was released more times than it was acquired.
///
/// ```
/// let s = greenpatch_runtime::sync::BoundedSemaphore::new(0);
/// let e = s.release().unwrap_err();
/// assert_eq!(e.to_string(), "semaphore released too many times (bound 0)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseError {
    /// The semaphore's bound.
    pub bound: usize,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "semaphore released too many times (bound {})", self.bound)
    }
}

impl std::error::Error for ReleaseError {}

impl BoundedSemaphore {
    /// A semaphore with `permits` permits, which is also its bound.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::BoundedSemaphore::new(2).bound(), 2);
    /// ```
    pub const fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore { sem: Semaphore::new(permits), bound: permits }
    }

    /// As [`Semaphore::acquire`].
    ///
    /// # Panics
    /// As [`Semaphore::acquire`].
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::BoundedSemaphore::new(1);
    /// s.acquire();
    /// ```
    #[inline]
    pub fn acquire(&self) {
        self.sem.acquire();
    }

    /// As [`Semaphore::try_acquire`].
    ///
    /// ```
    /// assert!(greenpatch_runtime::sync::BoundedSemaphore::new(1).try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.sem.try_acquire()
    }

    /// As [`Semaphore::acquire_timeout`].
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::BoundedSemaphore::new(0);
    /// assert!(!s.acquire_timeout(std::time::Duration::from_millis(1)));
    /// ```
    pub fn acquire_timeout(&self, timeout: std::time::Duration) -> bool {
        self.sem.acquire_timeout(timeout)
    }

    /// Gives a permit back and wakes a waiter.
    ///
    /// # Errors
    /// [`ReleaseError`] if every permit is already back (the count is at
    /// its bound); nothing changes then.
    ///
    /// ```
    /// let s = greenpatch_runtime::sync::BoundedSemaphore::new(1);
    /// assert!(s.release().is_err());
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), ReleaseError> {
        if self.sem.release_below(self.bound) {
            Ok(())
        } else {
            Err(ReleaseError { bound: self.bound })
        }
    }

    /// Permits available now.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::BoundedSemaphore::new(3).available(), 3);
    /// ```
    #[inline]
    pub fn available(&self) -> usize {
        self.sem.available()
    }

    /// The initial (and maximum) number of permits.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::sync::BoundedSemaphore::new(5).bound(), 5);
    /// ```
    pub fn bound(&self) -> usize {
        self.bound
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore").field("available", &self.available()).field("bound", &self.bound).finish()
    }
}
