//! [`Event`]: gevent's event — a flag that green threads wait for.
//!
//! # Model
//! One atomic word: bit 0 is the flag, the rest counts the times it went
//! from clear to set. A waiter remembers the count when it starts and
//! returns once the flag is set *or* the count moved: like gevent, a waiter
//! woken by `set` returns `true` even if the flag was cleared again before
//! it ran. `set` wakes every waiter.
//!
//! # Invariants
//! - The count only grows; `set` on a set event changes nothing.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use super::waitlist::{forever, WaitList};

/// A flag that green threads can wait for (gevent's `Event`): [`Event::set`]
/// wakes every waiter; [`Event::clear`] resets it.
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::sync::Event;
///
/// let ev = Arc::new(Event::new());
/// let e = ev.clone();
/// let waiter = greenpatch_runtime::spawn(move || e.wait());
/// greenpatch_runtime::yield_now();
/// assert!(!waiter.is_finished());
/// ev.set();
/// waiter.join().unwrap();
/// assert!(ev.is_set());
/// ```
pub struct Event {
    /// Bit 0: the flag; bits 1..: how many times it was set.
    state: AtomicU64,
    waiters: WaitList,
}

impl Event {
    /// A new, clear event.
    ///
    /// ```
    /// assert!(!greenpatch_runtime::sync::Event::new().is_set());
    /// ```
    pub const fn new() -> Event {
        Event { state: AtomicU64::new(0), waiters: WaitList::new() }
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// let e = greenpatch_runtime::sync::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    pub fn set(&self) {
        let changed =
            self.state.fetch_update(SeqCst, SeqCst, |s| (s & 1 == 0).then_some((s | 1).wrapping_add(2))).is_ok();
        if changed {
            self.waiters.notify_all();
        }
    }

    /// Clears the flag; later waits block until the next `set`.
    ///
    /// ```
    /// let e = greenpatch_runtime::sync::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.fetch_and(!1, SeqCst);
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// assert!(!greenpatch_runtime::sync::Event::new().is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.state.load(SeqCst) & 1 != 0
    }

    /// Blocks the green thread until the flag is set (returns at once if it
    /// is).
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever set it (the
    /// message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let e = greenpatch_runtime::sync::Event::new();
    /// e.set();
    /// e.wait();
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout` for the flag; returns `true` if it was set
    /// (gevent's `wait(timeout)` return value).
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = greenpatch_runtime::sync::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(10)));
    /// e.set();
    /// assert!(e.wait_timeout(Duration::from_millis(10)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Its wait-list (for waits on many sources, `crate::wait`).
    pub(crate) fn waiters(&self) -> &WaitList {
        &self.waiters
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let start = self.state.load(SeqCst);
        if start & 1 != 0 {
            return true;
        }
        let done = || {
            let s = self.state.load(SeqCst);
            (s & 1 != 0 || s >> 1 != start >> 1).then_some(())
        };
        match self.waiters.wait_for(deadline, "event wait", done, || done().is_none()) {
            Ok(r) => r.is_some(),
            Err(e) => forever(e),
        }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("set", &self.is_set()).field("waiters", &self.waiters.len()).finish()
    }
}
