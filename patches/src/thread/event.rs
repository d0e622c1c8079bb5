//! gevent's [`Event`]: a std `Mutex` + `Condvar` implementation before
//! `patch_all()`, the runtime's green one after it.
//!
//! # Model
//!
//! std has no such primitive, so the blocking flavor is built here on std's
//! mutex and condition variable, with the runtime's semantics: a flag plus
//! a count of clear→set transitions; a waiter returns once the flag is set
//! *or* the count moved (a waiter woken by `set` returns `true` even if the
//! flag was cleared again before it ran, as in gevent).
//!
//! The flavor is chosen at first use (`thread.Event`), so `Event` has a
//! `const fn new` and works in `static`s.
//!
//! # Invariant
//!
//! The blocking flavor's state is only read or written under its mutex;
//! every change a waiter waits for is followed by a notify.

use std::fmt;
use std::panic::Location;
use std::sync::{Condvar as StdCondvar, Mutex as StdMutex};
use std::time::{Duration, Instant};

use greenpatch_runtime::sync as green;

use super::EVENT;
use crate::blocking::{lock, wait_until};
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

struct OsEvent {
    /// (flag, times it went from clear to set)
    state: StdMutex<(bool, u64)>,
    cv: StdCondvar,
}

type EventImpl = Flavored<OsEvent, green::Event>;

impl EventImpl {
    fn new(flavor: Flavor) -> EventImpl {
        Flavored::of(flavor, || OsEvent { state: StdMutex::new((false, 0)), cv: StdCondvar::new() }, green::Event::new)
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
