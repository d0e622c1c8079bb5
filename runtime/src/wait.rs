//! Waiting on many sources at once (gevent's `wait` / `iwait`, a `select`
//! over channels and queues).
//!
//! # Model
//! A [`Waitable`] can say whether a wait on it would return now
//! ([`Waitable::is_ready`]) and can register the calling green thread's
//! [`Unparker`] to be woken when that may have changed.
//! [`select`], [`wait`] and [`iwait`] register with every source that is
//! not ready, park once, deregister, and re-check — so a wake-up from any
//! source is seen, and nothing is ever *consumed*: a ready receiver or
//! queue keeps its item until the caller takes it, so a waiter that gives
//! up (a timeout, a kill) loses nothing.
//!
//! Sources: [`JoinHandle`] (finished), [`Event`] (set),
//! [`mpsc::Receiver`](crate::mpsc::Receiver) and the gevent queues (an
//! item, or every sender gone), [`AsyncResult`] (set), [`Later`]
//! (finished), [`ScopedJoinHandle`] (finished).
//!
//! # Invariants
//! - Every registration made by a wait is withdrawn before the wait
//!   returns or unwinds (a guard does it); a notification a withdrawn
//!   registration got is passed on where the source hands out one at a
//!   time.
//! - [`iwait`] yields each index at most once; among sources it finds
//!   ready in one look, it yields in index order (completion order is
//!   exact when they finish at different wake-ups of the waiter).

use std::time::{Duration, Instant};

use crate::cell::AsyncResult;
use crate::later::Later;
use crate::mpsc::Receiver;
use crate::queue::{GenericQueue, Order};
use crate::scope::ScopedJoinHandle;
use crate::sync::Event;
use crate::{JoinHandle, Unparker, WaitOn};

/// A registration with one source, handed back to it to withdraw.
#[derive(Debug)]
pub struct Registration(Option<u64>);

/// Something a green thread can wait on among others.
///
/// ```
/// use greenpatch_runtime::{sync::Event, wait::Waitable};
/// let e = Event::new();
/// assert!(!e.is_ready());
/// e.set();
/// assert!(e.is_ready());
/// ```
pub trait Waitable {
    /// Whether a wait on it would return now.
    fn is_ready(&self) -> bool;

    /// Registers `u` to be unparked when readiness may have changed.
    #[doc(hidden)]
    fn register(&mut self, u: &Unparker) -> Registration;

    /// Withdraws a registration made by [`Waitable::register`].
    #[doc(hidden)]
    fn deregister(&mut self, r: Registration);
}

impl<T> Waitable for JoinHandle<T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        self.watch(u.clone());
        Registration(None)
    }
    fn deregister(&mut self, _: Registration) {
        self.unwatch();
    }
}

/// Watches an event's waiter list (what every event-backed waitable does).
fn watch_event(e: &Event, u: &Unparker) -> Registration {
    Registration(Some(e.waiters().watch(u.clone())))
}

/// Undoes [`watch_event`].
fn unwatch_event(e: &Event, r: Registration) {
    if let Some(t) = r.0 {
        e.waiters().unwatch(t);
    }
}

impl Waitable for Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        watch_event(self, u)
    }
    fn deregister(&mut self, r: Registration) {
        unwatch_event(self, r);
    }
}

impl Waitable for &Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        watch_event(self, u)
    }
    fn deregister(&mut self, r: Registration) {
        unwatch_event(self, r);
    }
}

impl<T> Waitable for AsyncResult<T> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        watch_event(self.event(), u)
    }
    fn deregister(&mut self, r: Registration) {
        unwatch_event(self.event(), r);
    }
}

impl<T> Waitable for ScopedJoinHandle<'_, T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        Registration(Some(self.event().waiters().watch(u.clone())))
    }
    fn deregister(&mut self, r: Registration) {
        if let Some(t) = r.0 {
            self.event().waiters().unwatch(t);
        }
    }
}

impl<T> Waitable for Later<T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        self.handle_mut().register(u)
    }
    fn deregister(&mut self, r: Registration) {
        self.handle_mut().deregister(r);
    }
}

impl<T> Waitable for Receiver<T> {
    fn is_ready(&self) -> bool {
        self.chan().pop_ready()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        Registration(self.chan().watch(u.clone()))
    }
    fn deregister(&mut self, r: Registration) {
        if let Some(t) = r.0 {
            self.chan().unwatch(t);
        }
    }
}

impl<T, O: Order<T>> Waitable for GenericQueue<T, O> {
    fn is_ready(&self) -> bool {
        self.chan().pop_ready()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        Registration(self.chan().watch(u.clone()))
    }
    fn deregister(&mut self, r: Registration) {
        if let Some(t) = r.0 {
            self.chan().unwatch(t);
        }
    }
}

impl<W: Waitable + ?Sized> Waitable for &mut W {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn register(&mut self, u: &Unparker) -> Registration {
        (**self).register(u)
    }
    fn deregister(&mut self, r: Registration) {
        (**self).deregister(r);
    }
}

/// Withdraws every registration of one park, also when it unwinds.
struct Registered<'a, W: Waitable> {
    sources: &'a mut [W],
    regs: Vec<(usize, Registration)>,
}

impl<W: Waitable> Drop for Registered<'_, W> {
    fn drop(&mut self) {
        for (i, r) in self.regs.drain(..) {
            self.sources[i].deregister(r);
        }
    }
}

/// Parks until a source among those `skip` does not exclude may be ready,
/// or `deadline`. Returns `false` on timeout.
fn park_on<W: Waitable>(sources: &mut [W], skip: &[bool], deadline: Option<Instant>) -> bool {
    let me = crate::current().unparker();
    let mut reg = Registered { sources, regs: Vec::new() };
    for i in 0..reg.sources.len() {
        if skip.get(i).copied().unwrap_or(false) {
            continue;
        }
        if reg.sources[i].is_ready() {
            return true;
        }
        let r = reg.sources[i].register(&me);
        reg.regs.push((i, r));
        if reg.sources[i].is_ready() {
            return true; // ready while registering: look again
        }
    }
    if reg.regs.is_empty() {
        // Nothing to wait for: only the deadline.
        return match deadline {
            Some(d) => {
                crate::sleep_until(d);
                false
            }
            None => true,
        };
    }
    match crate::park_until(deadline, WaitOn::named("wait on many")) {
        Ok(woken) => woken || deadline.is_none_or(|d| Instant::now() < d),
        Err(e) => crate::sync::waitlist::forever(e),
    }
}

/// Waits until one of `sources` is ready; returns the lowest ready index,
/// or `None` once `timeout` passed (`None` waits without a limit).
/// Nothing is consumed: receive from the ready source afterwards.
///
/// # Panics
/// From plain code, if nothing in the process can ever make one ready
/// (the runtime's would-block-forever report).
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime::{mpsc, wait::select};
/// let (tx1, mut rx1) = mpsc::channel::<u8>();
/// let (tx2, mut rx2) = mpsc::channel::<u8>();
/// greenpatch_runtime::spawn(move || tx2.send(2).unwrap());
/// let which = select(&mut [&mut rx1, &mut rx2], Some(Duration::from_secs(5)));
/// assert_eq!(which, Some(1));
/// assert_eq!(rx2.recv().unwrap(), 2); // still there: select took nothing
/// drop(tx1);
/// ```
pub fn select<W: Waitable>(sources: &mut [W], timeout: Option<Duration>) -> Option<usize> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        if let Some(i) = sources.iter().position(|s| s.is_ready()) {
            return Some(i);
        }
        if !park_on(sources, &[], deadline) {
            return sources.iter().position(|s| s.is_ready());
        }
    }
}

/// Yields the indices of `sources` as they become ready, each once, until
/// all were yielded or `timeout` (for the whole iteration) passed
/// (gevent's `iwait`).
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime::{spawn, sleep, wait::iwait};
/// let mut hs = vec![
///     spawn(|| sleep(Duration::from_millis(40))),
///     spawn(|| sleep(Duration::from_millis(5))),
/// ];
/// let order: Vec<usize> = iwait(&mut hs, None).collect();
/// assert_eq!(order, [1, 0]);
/// ```
pub fn iwait<W: Waitable>(sources: &mut [W], timeout: Option<Duration>) -> IWait<'_, W> {
    let n = sources.len();
    IWait { sources, yielded: vec![false; n], left: n, deadline: timeout.and_then(|t| Instant::now().checked_add(t)) }
}

/// Waits until every source is ready or `timeout` passed; returns the
/// indices that became ready, in the order they did (gevent's `wait`).
///
/// ```
/// use greenpatch_runtime::{sync::Event, wait::wait};
/// let (a, b) = (Event::new(), Event::new());
/// b.set();
/// assert_eq!(wait(&mut [&a, &b], Some(std::time::Duration::from_millis(10))), [1]);
/// ```
pub fn wait<W: Waitable>(sources: &mut [W], timeout: Option<Duration>) -> Vec<usize> {
    iwait(sources, timeout).collect()
}

/// The iterator of [`iwait`].
///
/// ```
/// use greenpatch_runtime::{sync::Event, wait::iwait};
/// let e = Event::new();
/// e.set();
/// assert_eq!(iwait(&mut [&e], None).next(), Some(0));
/// ```
pub struct IWait<'a, W: Waitable> {
    sources: &'a mut [W],
    yielded: Vec<bool>,
    left: usize,
    deadline: Option<Instant>,
}

impl<W: Waitable> Iterator for IWait<'_, W> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            if self.left == 0 {
                return None;
            }
            let found = (0..self.sources.len()).find(|&i| !self.yielded[i] && self.sources[i].is_ready());
            if let Some(i) = found {
                self.yielded[i] = true;
                self.left -= 1;
                return Some(i);
            }
            if !park_on(self.sources, &self.yielded, self.deadline) {
                let found = (0..self.sources.len()).find(|&i| !self.yielded[i] && self.sources[i].is_ready());
                if let Some(i) = found {
                    self.yielded[i] = true;
                    self.left -= 1;
                    return Some(i);
                }
                self.left = 0;
                return None;
            }
        }
    }
}

impl<W: Waitable> std::fmt::Debug for IWait<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IWait").field("left", &self.left).finish()
    }
}
