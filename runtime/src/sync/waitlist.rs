//! The wait-list every blocking primitive of `sync`, `mpsc` and `queue` is
//! built on.
//!
//! # Model
//! A [`WaitList`] is a FIFO of registered waiters, each a *ticket* (a
//! number, increasing in registration order) and the [`Unparker`] of the
//! green thread (or root) that registered it. A primitive keeps its own
//! state in atomics or behind its own lock; the wait-list only answers "who
//! sleeps until that state changes". A waiter:
//!
//! 1. registers (its ticket goes to the back of the list),
//! 2. re-checks the primitive's state — if the wait is no longer needed it
//!    leaves at once,
//! 3. parks until notified, its deadline, or a spurious wake-up,
//! 4. leaves the list (a notifier already removed it if it was notified).
//!
//! A notifier first changes the state, then calls [`WaitList::notify_one`]
//! or [`WaitList::notify_all`], which pop waiters from the front and unpark
//! them. A notification means "re-check": woken waiters retry, and may lose
//! the race to a thread that never slept (no hand-off: the fast paths of the
//! primitives stay one atomic operation).
//!
//! The FIFO itself is a [`WaitQueue`], which holds no lock of its own: a
//! [`WaitList`] puts one behind a short lock (for primitives whose state is
//! atomics: locks, semaphores, events), and a channel keeps its queues
//! under the channel's own lock, so that a blocking channel operation takes
//! one lock, not two.
//!
//! # Invariants
//! - No lost wake-up. The waiter's registration (a SeqCst store of `len`)
//!   precedes its re-check of the state; the notifier's state change
//!   precedes its SeqCst load of `len` (in [`WaitList::has_waiters`]). Both
//!   sides use SeqCst operations (or the same lock) for these, so at least
//!   one of them sees the other: the waiter does not sleep, or the notifier
//!   finds it in the list.
//! - `waiters` is sorted by ticket (tickets only grow and are pushed at the
//!   back; notifiers pop the front). So a waiter's ticket is no longer in
//!   the list iff `front` (the front ticket, `u64::MAX` when empty) is
//!   greater than it — a waiter tells "was I notified?" with one atomic load.
//! - A notification is never swallowed: a waiter that leaves without
//!   re-checking the state after being notified — it unwinds (a kill, a
//!   timeout scope) or its park fails with [`WouldBlockForever`] — passes
//!   the notification on to the next waiter (its [`Waiter`] guard does it on
//!   drop). A waiter that re-checks has consumed it: either it got what it
//!   waited for, or whoever got it first will notify again when done.
//! - Unparking happens outside the list's lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Instant;

use super::spin::{SpinGuard, SpinLock};
use crate::{Unparker, WaitOn, WouldBlockForever};

/// How a [`WaitList::wait`] ended (the caller re-checks its state in every
/// case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// A notifier picked this waiter.
    Notified,
    /// Woken without a notification, or the state changed before parking.
    Spurious,
    /// The deadline passed first.
    TimedOut,
}

/// The calling green thread's (or root's) unparker. Same as
/// `crate::current().unparker()`, minus two reference-count updates (this
/// is on every wait's path).
#[inline]
pub(crate) fn me() -> Unparker {
    crate::park::Unparker::current_on(crate::hub::Hub::current())
}

/// A FIFO of waiters kept under its owner's lock: [`WaitList`] wraps one in
/// a short lock of its own; a channel keeps its queues under its state
/// lock, so that registering costs no second lock.
///
/// # Invariant
/// Sorted by ticket: tickets only grow and are pushed at the back.
pub(crate) struct WaitQueue {
    next: u64,
    waiters: VecDeque<(u64, Unparker)>,
}

impl WaitQueue {
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue { next: 0, waiters: VecDeque::new() }
    }

    /// Registers `u` at the back; returns its ticket.
    #[inline]
    pub(crate) fn push(&mut self, u: Unparker) -> u64 {
        let t = self.next;
        self.next += 1;
        self.waiters.push_back((t, u));
        t
    }

    /// Takes the front waiter (to notify it after unlocking).
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Unparker> {
        self.waiters.pop_front().map(|w| w.1)
    }

    /// Takes every waiter (to notify them after unlocking).
    pub(crate) fn take_all(&mut self) -> VecDeque<(u64, Unparker)> {
        std::mem::take(&mut self.waiters)
    }

    /// Removes `ticket` if still registered; `true` if it was (so it had
    /// not been notified).
    #[inline]
    pub(crate) fn remove(&mut self, ticket: u64) -> bool {
        match self.waiters.front() {
            None => return false,
            Some(w) if w.0 > ticket => return false,
            Some(w) if w.0 == ticket => {
                self.waiters.pop_front();
                return true;
            }
            Some(_) => {}
        }
        match self.waiters.binary_search_by_key(&ticket, |w| w.0) {
            Ok(i) => {
                self.waiters.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The front ticket, `u64::MAX` when empty.
    #[inline]
    fn front(&self) -> u64 {
        self.waiters.front().map_or(u64::MAX, |w| w.0)
    }

    /// Number of waiters.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }
}

/// Unparks every waiter of a [`WaitQueue::take_all`].
pub(crate) fn unpark_all(all: VecDeque<(u64, Unparker)>) -> usize {
    let n = all.len();
    for (_, u) in all {
        u.unpark();
    }
    n
}

/// A FIFO of parked green threads (see the module docs).
pub(crate) struct WaitList {
    inner: SpinLock<WaitQueue>,
    /// # Invariant
    /// Equals the length of `inner`; written (SeqCst) under the lock.
    len: AtomicUsize,
    /// # Invariant
    /// The ticket at the front of `inner`, `u64::MAX` when empty;
    /// written (SeqCst) under the lock.
    front: AtomicU64,
}

impl WaitList {
    /// An empty list.
    pub(crate) const fn new() -> WaitList {
        WaitList { inner: SpinLock::new(WaitQueue::new()), len: AtomicUsize::new(0), front: AtomicU64::new(u64::MAX) }
    }

    /// Whether anyone is registered (one SeqCst load: notifiers call it
    /// after changing the state, see the module invariant).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.len.load(SeqCst) != 0
    }

    /// Number of registered waiters.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
    }

    #[inline]
    fn lock(&self) -> SpinGuard<'_, WaitQueue> {
        self.inner.lock()
    }

    #[inline]
    fn publish(&self, q: &WaitQueue) {
        self.len.store(q.len(), SeqCst);
        self.front.store(q.front(), SeqCst);
    }

    /// Registers the caller at the back of the list. The returned guard
    /// deregisters it when dropped (passing on a notification it got).
    pub(crate) fn register(&self) -> Waiter<'_> {
        // Taken before locking: the first green call of a thread creates
        // its hub.
        let unparker = me();
        let mut q = self.lock();
        let ticket = q.push(unparker);
        self.publish(&q);
        Waiter { list: self, ticket, armed: true }
    }

    /// Waits until notified, `deadline`, or a spurious wake-up — unless
    /// `blocked` (evaluated once registered) says the wait is not needed.
    ///
    /// # Errors
    /// [`WouldBlockForever`] from a root that nothing can ever wake (the
    /// caller is deregistered and any notification passed on).
    #[inline]
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        blocked: impl FnOnce() -> bool,
    ) -> Result<Woke, WouldBlockForever> {
        let w = self.register();
        if !blocked() {
            // Leaving to re-check: any notification is consumed by that.
            return Ok(if w.leave() { Woke::Notified } else { Woke::Spurious });
        }
        w.park(deadline, what)
    }

    /// Retries `attempt` until it returns `Some`, parking on this list
    /// (while `blocked()` holds) between attempts; `Ok(None)` once
    /// `deadline` has passed.
    ///
    /// # Errors
    /// [`WouldBlockForever`], as [`WaitList::wait`] (never with a deadline).
    #[inline]
    pub(crate) fn wait_for<R>(
        &self,
        deadline: Option<Instant>,
        what: &'static str,
        mut attempt: impl FnMut() -> Option<R>,
        blocked: impl Fn() -> bool,
    ) -> Result<Option<R>, WouldBlockForever> {
        loop {
            if let Some(r) = attempt() {
                return Ok(Some(r));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            if self.wait(deadline, what, &blocked)? == Woke::TimedOut {
                return Ok(attempt());
            }
        }
    }

    /// Registers `u` (a wait on many sources, `crate::wait`); returns its
    /// ticket for [`WaitList::unwatch`]. No guard: the caller deregisters.
    pub(crate) fn watch(&self, u: Unparker) -> u64 {
        let mut q = self.lock();
        let ticket = q.push(u);
        self.publish(&q);
        ticket
    }

    /// Deregisters a [`WaitList::watch`] ticket; a notification it got is
    /// passed on (the watcher does not consume it).
    pub(crate) fn unwatch(&self, ticket: u64) {
        let notified = {
            let mut q = self.lock();
            let was_there = q.remove(ticket);
            if was_there {
                self.publish(&q);
            }
            !was_there
        };
        if notified {
            self.notify_one();
        }
    }

    /// Wakes the waiter at the front, if any; returns whether there was one.
    #[inline]
    pub(crate) fn notify_one(&self) -> bool {
        if !self.has_waiters() {
            return false;
        }
        let u = {
            let mut q = self.lock();
            let u = q.pop();
            self.publish(&q);
            u
        };
        match u {
            Some(u) => {
                u.unpark();
                true
            }
            None => false,
        }
    }

    /// Wakes every registered waiter; returns how many.
    pub(crate) fn notify_all(&self) -> usize {
        if !self.has_waiters() {
            return 0;
        }
        let woken = {
            let mut q = self.lock();
            let all = q.take_all();
            self.publish(&q);
            all
        };
        unpark_all(woken)
    }
}

/// A registration in a [`WaitList`]. Dropping it deregisters the waiter; if
/// it had been notified meanwhile, the notification goes to the next waiter.
pub(crate) struct Waiter<'a> {
    list: &'a WaitList,
    ticket: u64,
    /// Whether the drop must still deregister (and maybe pass on).
    armed: bool,
}

impl Waiter<'_> {
    /// Whether a notifier has removed this waiter from the list.
    #[inline]
    fn notified(&self) -> bool {
        self.list.front.load(SeqCst) > self.ticket
    }

    /// Removes the waiter if it is still registered; returns `true` if a
    /// notifier had removed it already (it was notified).
    #[inline]
    fn remove(&self) -> bool {
        if self.notified() {
            return true;
        }
        let mut q = self.list.lock();
        let was_there = q.remove(self.ticket);
        if was_there {
            self.list.publish(&q);
        }
        !was_there
    }

    /// Leaves the list to re-check the state (which consumes any
    /// notification); returns whether it had been notified.
    pub(crate) fn leave(mut self) -> bool {
        self.armed = false;
        self.remove()
    }

    /// Parks until notified, `deadline`, a spurious wake-up, a kill or a
    /// timeout scope (these two unwind; the guard cleans up), then leaves
    /// the list.
    ///
    /// # Errors
    /// [`WouldBlockForever`], as [`WaitList::wait`].
    pub(crate) fn park(self, deadline: Option<Instant>, what: &'static str) -> Result<Woke, WouldBlockForever> {
        let woken = crate::park_until(deadline, WaitOn::named(what))?;
        // The deadline may pass after a notification: the notification wins
        // (the caller consumes it by re-checking).
        Ok(if self.leave() {
            Woke::Notified
        } else if woken {
            Woke::Spurious
        } else {
            Woke::TimedOut
        })
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.armed && self.remove() {
            // Notified, but leaving without re-checking: pass it on.
            self.list.notify_one();
        }
    }
}

/// Converts a [`WouldBlockForever`] into a panic carrying its report, for
/// blocking calls whose std signature has no room for the error.
#[cold]
#[track_caller]
pub(crate) fn forever(e: WouldBlockForever) -> ! {
    panic!("{e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn notified_waiter_sees_notified() {
        let list = Arc::new(WaitList::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (l, f) = (list.clone(), flag.clone());
        let h = crate::spawn(move || loop {
            if f.load(Ordering::SeqCst) {
                break;
            }
            let _ = l.wait(None, "test", || !f.load(Ordering::SeqCst)).unwrap();
        });
        crate::yield_now();
        assert_eq!(list.len(), 1);
        flag.store(true, Ordering::SeqCst);
        assert!(list.notify_one());
        h.join().unwrap();
        assert_eq!(list.len(), 0);
        assert!(!list.notify_one());
    }

    #[test]
    fn timed_out_waiter_deregisters() {
        let list = WaitList::new();
        let d = Instant::now() + Duration::from_millis(10);
        assert_eq!(list.wait(Some(d), "test", || true).unwrap(), Woke::TimedOut);
        assert!(!list.has_waiters());
        assert_eq!(list.front.load(SeqCst), u64::MAX);
    }

    #[test]
    fn killed_notified_waiter_passes_the_notification_on() {
        let list = Arc::new(WaitList::new());
        let woke = Arc::new(AtomicBool::new(false));
        let l1 = list.clone();
        let first = crate::spawn(move || {
            let _ = l1.wait(None, "test", || true);
        });
        crate::yield_now();
        let (l2, w2) = (list.clone(), woke.clone());
        let second = crate::spawn(move || {
            let r = l2.wait(None, "test", || true).unwrap();
            w2.store(r == Woke::Notified, Ordering::SeqCst);
        });
        crate::yield_now();
        assert_eq!(list.len(), 2);
        list.notify_one(); // picks `first` …
        first.kill(); // … which unwinds before it runs
        assert!(first.join().unwrap_err().is_killed());
        second.join().unwrap();
        assert!(woke.load(Ordering::SeqCst), "the notification reached the second waiter");
    }
}
