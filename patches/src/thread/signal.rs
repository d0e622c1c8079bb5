//! gevent's [`Event`] and [`Semaphore`]: a std `Mutex` + `Condvar`
//! implementation before `patch_all()`, the runtime's green ones after it.
//!
//! # Model
//!
//! std has neither primitive, so the blocking flavor is built here on std's
//! mutex and condition variable, with the runtime's semantics:
//!
//! - `Event`: a flag plus a count of clear→set transitions; a waiter
//!   returns once the flag is set *or* the count moved (a waiter woken by
//!   `set` returns `true` even if the flag was cleared again before it ran,
//!   as in gevent);
//! - `Semaphore`: a count of permits; `release` adds one and wakes one
//!   waiter.
//!
//! The flavor is chosen at first use (`thread.Event` / `thread.Semaphore`),
//! so both have `const fn new` and work in `static`s.
//!
//! # Invariant
//!
//! The blocking flavor's state is only read or written under its mutex;
//! every change a waiter waits for is followed by a notify.

use std::fmt;
use std::panic::Location;
use std::sync::{Condvar as StdCondvar, Mutex as StdMutex, MutexGuard as StdGuard};
use std::time::{Duration, Instant};

use greenpatch_runtime::sync as green;

use super::{EVENT, SEMAPHORE};
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

/// Locks a std mutex whose critical sections cannot panic half-way.
fn lock<T>(m: &StdMutex<T>) -> StdGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv` until `done` holds or `deadline` passes; returns `done`'s
/// last answer.
fn wait_until<'a, T>(
    cv: &StdCondvar,
    mut g: StdGuard<'a, T>,
    deadline: Option<Instant>,
    mut done: impl FnMut(&mut T) -> bool,
) -> (StdGuard<'a, T>, bool) {
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

// ---------------------------------------------------------------------- Event

struct OsEvent {
    /// (flag, times it went from clear to set)
    state: StdMutex<(bool, u64)>,
    cv: StdCondvar,
}

type EventImpl = Flavored<OsEvent, green::Event>;

impl EventImpl {
    fn new(flavor: Flavor) -> EventImpl {
        Flavored::of(
            flavor,
            || OsEvent { state: StdMutex::new((false, 0)), cv: StdCondvar::new() },
            green::Event::new,
        )
    }
}

/// A flag that threads wait for (gevent's `Event`): [`Event::set`] wakes
/// every waiter, [`Event::clear`] resets it.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use greenpatch::thread::{spawn, Event};
///
/// let ready = Arc::new(Event::new());
/// let r = ready.clone();
/// let waiter = spawn(move || r.wait());
/// ready.set();
/// waiter.join().unwrap();
/// assert!(ready.is_set());
/// ```
pub struct Event {
    imp: Decided<EventImpl>,
}

impl Event {
    /// A new, clear event; its flavor is chosen at first use.
    ///
    /// # Example
    ///
    /// ```
    /// static STOP: greenpatch::thread::Event = greenpatch::thread::Event::new();
    /// assert!(!STOP.is_set());
    /// ```
    pub const fn new() -> Event {
        Event { imp: Decided::new() }
    }

    /// A new event of the given flavor.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Event, Flavor};
    /// assert_eq!(Event::with_flavor(Flavor::Green).flavor(), Flavor::Green);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor) -> Event {
        Event { imp: Decided::with(EventImpl::new(flavor), Location::caller()) }
    }

    #[inline]
    #[track_caller]
    fn imp(&self, blocks: bool) -> &EventImpl {
        let (imp, site) = self.imp.get(&EVENT, Location::caller(), EventImpl::new);
        if blocks {
            if let Flavored::Blocking(_) = imp {
                crate::stale::check(EVENT.is_patched(), "Event", site, "first used before patch_all()");
            }
        }
        imp
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Example
    ///
    /// ```
    /// let e = greenpatch::thread::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    #[track_caller]
    pub fn set(&self) {
        match self.imp(false) {
            Flavored::Blocking(e) => {
                let mut st = lock(&e.state);
                if !st.0 {
                    *st = (true, st.1.wrapping_add(1));
                    e.cv.notify_all();
                }
            }
            Flavored::Green(e) => e.set(),
        }
    }

    /// Resets the flag.
    ///
    /// # Example
    ///
    /// ```
    /// let e = greenpatch::thread::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    #[track_caller]
    pub fn clear(&self) {
        match self.imp(false) {
            Flavored::Blocking(e) => lock(&e.state).0 = false,
            Flavored::Green(e) => e.clear(),
        }
    }

    /// Whether the flag is set.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(!greenpatch::thread::Event::new().is_set());
    /// ```
    #[track_caller]
    pub fn is_set(&self) -> bool {
        match self.imp(false) {
            Flavored::Blocking(e) => lock(&e.state).0,
            Flavored::Green(e) => e.is_set(),
        }
    }

    /// Waits until the flag is set.
    ///
    /// # Panics
    ///
    /// Green flavor, from plain code that nothing can ever wake: the
    /// runtime's would-block-forever report.
    ///
    /// # Example
    ///
    /// ```
    /// let e = greenpatch::thread::Event::new();
    /// e.set();
    /// e.wait(); // returns at once
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        match self.imp(true) {
            Flavored::Blocking(e) => {
                let g = lock(&e.state);
                let start = g.1;
                drop(wait_until(&e.cv, g, None, |st| st.0 || st.1 != start));
            }
            Flavored::Green(e) => e.wait(),
        }
    }

    /// Waits at most `timeout`; returns whether the flag was set (or set
    /// and cleared again meanwhile).
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = greenpatch::thread::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(1)));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        match self.imp(true) {
            Flavored::Blocking(e) => {
                let g = lock(&e.state);
                let start = g.1;
                wait_until(&e.cv, g, Instant::now().checked_add(timeout), |st| st.0 || st.1 != start).1
            }
            Flavored::Green(e) => e.wait_timeout(timeout),
        }
    }

    /// The flavor, choosing it now if the event was never used.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::Event::new().flavor(), greenpatch::Flavor::Blocking);
    /// ```
    #[track_caller]
    pub fn flavor(&self) -> Flavor {
        self.imp(false).flavor()
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = match self.imp.peek() {
            Some(Flavored::Blocking(e)) => lock(&e.state).0,
            Some(Flavored::Green(e)) => e.is_set(),
            None => false,
        };
        f.debug_struct("Event").field("set", &set).finish()
    }
}

// ------------------------------------------------------------------ Semaphore

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
