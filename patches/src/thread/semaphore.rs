//! gevent's [`Semaphore`]: a std `Mutex` + `Condvar` implementation before
//! `patch_all()`, the runtime's green one after it.
//!
//! # Model
//!
//! std has no semaphore, so the blocking flavor is built here on std's
//! mutex and condition variable: a count of permits; `release` adds one and
//! wakes one waiter. The flavor is chosen at first use (`thread.Semaphore`),
//! so `Semaphore` has a `const fn new` and works in `static`s.
//!
//! # Invariant
//!
//! The permit count is only read or written under its mutex; every
//! `release` is followed by a notify.

use std::fmt;
use std::panic::Location;
use std::sync::{Condvar as StdCondvar, Mutex as StdMutex};
use std::time::{Duration, Instant};

use greenpatch_runtime::sync as green;

use super::SEMAPHORE;
use crate::blocking::{lock, wait_until};
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

struct OsSemaphore {
    permits: StdMutex<usize>,
    cv: StdCondvar,
}

type SemaphoreImpl = Flavored<OsSemaphore, green::Semaphore>;

/// A counting semaphore (gevent's `Semaphore`): [`Semaphore::acquire`]
/// takes a permit, waiting while there is none; [`Semaphore::release`]
/// gives one back.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use greenpatch::thread::{spawn, Semaphore};
///
/// let sem = Arc::new(Semaphore::new(2)); // at most two at a time
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let s = sem.clone();
///         spawn(move || {
///             s.acquire();
///             s.release();
///         })
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(sem.available(), 2);
/// ```
pub struct Semaphore {
    initial: usize,
    imp: Decided<SemaphoreImpl>,
}

impl Semaphore {
    /// A semaphore with `permits` permits; its flavor is chosen at first
    /// use.
    ///
    /// # Example
    ///
    /// ```
    /// static SLOTS: greenpatch::thread::Semaphore = greenpatch::thread::Semaphore::new(8);
    /// assert_eq!(SLOTS.available(), 8);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore { initial: permits, imp: Decided::new() }
    }

    /// A semaphore of the given flavor.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Semaphore, Flavor};
    /// assert_eq!(Semaphore::with_flavor(Flavor::Green, 1).flavor(), Flavor::Green);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor, permits: usize) -> Semaphore {
        Semaphore { initial: permits, imp: Decided::with(Self::make(permits, flavor), Location::caller()) }
    }

    fn make(permits: usize, flavor: Flavor) -> SemaphoreImpl {
        Flavored::of(
            flavor,
            || OsSemaphore { permits: StdMutex::new(permits), cv: StdCondvar::new() },
            || green::Semaphore::new(permits),
        )
    }

    #[inline]
    #[track_caller]
    fn imp(&self, blocks: bool) -> &SemaphoreImpl {
        let initial = self.initial;
        let (imp, site) = self.imp.get(&SEMAPHORE, Location::caller(), |f| Self::make(initial, f));
        if blocks {
            if let Flavored::Blocking(_) = imp {
                crate::stale::check(SEMAPHORE.is_patched(), "Semaphore", site, "first used before patch_all()");
            }
        }
        imp
    }

    /// Takes a permit, waiting until one is available.
    ///
    /// # Panics
    ///
    /// Green flavor, from plain code that nothing can ever wake: the
    /// runtime's would-block-forever report.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::thread::Semaphore::new(1);
    /// s.acquire();
    /// assert_eq!(s.available(), 0);
    /// ```
    #[track_caller]
    pub fn acquire(&self) {
        match self.imp(true) {
            Flavored::Blocking(s) => {
                let (mut g, _) = wait_until(&s.cv, lock(&s.permits), None, |n| *n > 0);
                *g -= 1;
            }
            Flavored::Green(s) => s.acquire(),
        }
    }

    /// Takes a permit if one is available, without waiting.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::thread::Semaphore::new(1);
    /// assert!(s.try_acquire());
    /// assert!(!s.try_acquire());
    /// ```
    #[track_caller]
    pub fn try_acquire(&self) -> bool {
        match self.imp(false) {
            Flavored::Blocking(s) => {
                let mut g = lock(&s.permits);
                let got = *g > 0;
                if got {
                    *g -= 1;
                }
                got
            }
            Flavored::Green(s) => s.try_acquire(),
        }
    }

    /// Takes a permit, waiting at most `timeout`; returns whether it got
    /// one.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenpatch::thread::Semaphore::new(0);
    /// assert!(!s.acquire_timeout(Duration::from_millis(1)));
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        match self.imp(true) {
            Flavored::Blocking(s) => {
                let deadline = Instant::now().checked_add(timeout);
                let (mut g, got) = wait_until(&s.cv, lock(&s.permits), deadline, |n| *n > 0);
                if got {
                    *g -= 1;
                }
                got
            }
            Flavored::Green(s) => s.acquire_timeout(timeout),
        }
    }

    /// Gives a permit back (the count saturates at `usize::MAX`) and wakes
    /// one waiter.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::thread::Semaphore::new(0);
    /// s.release();
    /// assert_eq!(s.available(), 1);
    /// ```
    #[track_caller]
    pub fn release(&self) {
        match self.imp(false) {
            Flavored::Blocking(s) => {
                let mut g = lock(&s.permits);
                *g = g.saturating_add(1);
                s.cv.notify_one();
            }
            Flavored::Green(s) => s.release(),
        }
    }

    /// Permits available now.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::Semaphore::new(3).available(), 3);
    /// ```
    #[track_caller]
    pub fn available(&self) -> usize {
        match self.imp(false) {
            Flavored::Blocking(s) => *lock(&s.permits),
            Flavored::Green(s) => s.available(),
        }
    }

    /// The flavor, choosing it now if the semaphore was never used.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::Semaphore::new(1).flavor(), greenpatch::Flavor::Blocking);
    /// ```
    #[track_caller]
    pub fn flavor(&self) -> Flavor {
        self.imp(false).flavor()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let available = match self.imp.peek() {
            Some(Flavored::Blocking(s)) => *lock(&s.permits),
            Some(Flavored::Green(s)) => s.available(),
            None => self.initial,
        };
        f.debug_struct("Semaphore").field("available", &available).finish()
    }
}
