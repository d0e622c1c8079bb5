//! The buffered channel under both [`mpsc`](crate::mpsc) and
//! [`queue`](crate::queue).
//!
//! # Model
//! One short lock (the internal spin-then-yield lock) guards the store (FIFO, LIFO or heap), the counters and
//! four [`WaitQueue`]s: receivers (wait for an item), senders (wait for
//! room, or — rendezvous — for their item to be taken), peekers (wait for
//! an item without taking it; every push wakes all of them, so a peeker
//! never swallows a getter's wake-up) and joiners (wait until every item is
//! marked done). Every operation takes the lock once (a blocking one once
//! more after it wakes), decides under it whom to wake, and unparks them
//! after unlocking. Atomics mirror the length (for lock-free `len` and a
//! lock-free "empty" answer), the number of live senders, and the joinable
//! count.
//!
//! Before its first registration, a waiter yields once: the green thread it
//! waits for is often ready on the same hub (a producer, the other end of a
//! ping-pong), and then the wait ends without registering or waking anyone.
//!
//! Capacity: `UNBOUNDED`, `n > 0` items, or `0` — a rendezvous: the store
//! holds the one item in flight, and its sender waits until a receiver has
//! taken it (std's `sync_channel(0)`).
//!
//! # Invariants
//! - Every waiter registers and re-checks its condition under the lock, and
//!   every state change that can satisfy a waiter wakes it before the lock
//!   is released (by taking it off its queue), so no wake-up is lost.
//! - A waiter that leaves after being picked without re-checking (it
//!   unwinds: a kill, a timeout scope) passes the wake-up to the next
//!   waiter of its queue.
//! - `len` equals the store's length; `senders` changes to zero only
//!   before the last sender takes the lock to wake the receivers.
//! - A rendezvous sender leaves with its item taken, or takes its item back
//!   out of the store (the receiver left, or the sender unwinds), so an item
//!   is never delivered by a `send` that did not return `Ok`.
//! - Item methods (`Clone` for peeking, `Ord` for the priority order) run
//!   under the lock: they must not block or use the same channel.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::time::Instant;

use super::sealed::Store;
use crate::sync::spin::{SpinGuard, SpinLock};
use crate::sync::waitlist::{forever, me, unpark_all, WaitQueue};
use crate::WaitOn;

/// Capacity of an unbounded channel.
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// What the blocking operations are called in diagnostics.
pub(crate) struct Names {
    pub(crate) recv: &'static str,
    pub(crate) send: &'static str,
}

/// Why a push failed; the item comes back.
pub(crate) enum PushError<T> {
    Full(T),
    Disconnected(T),
    Timeout(T),
}

/// Why a pop failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PopError {
    Empty,
    Disconnected,
    Timeout,
}

/// Which wait queue.
#[derive(Clone, Copy)]
enum Q {
    Recv,
    Send,
    Peek,
    Join,
}

struct State<S> {
    store: S,
    pushed: u64,
    taken: u64,
    rx_alive: bool,
    recv_q: WaitQueue,
    send_q: WaitQueue,
    peek_q: WaitQueue,
    join_q: WaitQueue,
}

impl<S> State<S> {
    #[inline]
    fn q(&mut self, which: Q) -> &mut WaitQueue {
        match which {
            Q::Recv => &mut self.recv_q,
            Q::Send => &mut self.send_q,
            Q::Peek => &mut self.peek_q,
            Q::Join => &mut self.join_q,
        }
    }
}

type Guard<'a, S> = SpinGuard<'a, State<S>>;

/// The shared core of a channel or queue.
pub(crate) struct Chan<T, S> {
    state: SpinLock<State<S>>,
    /// # Invariant
    /// Equals the store's length (written under the lock).
    len: AtomicUsize,
    cap: usize,
    joinable: bool,
    names: &'static Names,
    senders: AtomicUsize,
    unfinished: AtomicUsize,
    _items: std::marker::PhantomData<fn() -> T>,
}

/// Who to wake once the lock is released.
enum Wake {
    None,
    One(crate::Unparker),
    All(std::collections::VecDeque<(u64, crate::Unparker)>),
}

impl Wake {
    /// Inlined, so that the common `None` costs one test at the caller
    /// (every push and pop ends here).
    #[inline(always)]
    fn run(self) {
        match self {
            Wake::None => {}
            Wake::One(u) => u.unpark(),
            Wake::All(all) => wake_all(all),
        }
    }
}

#[cold]
#[inline(never)]
fn wake_all(all: std::collections::VecDeque<(u64, crate::Unparker)>) {
    unpark_all(all);
}

/// A registration on one of a channel's queues while its waiter is parked:
/// if the park unwinds, the drop deregisters it and passes on a wake-up it
/// had been given.
struct Registered<'a, T, S: Store<T>> {
    chan: &'a Chan<T, S>,
    which: Q,
    ticket: u64,
}

impl<T, S: Store<T>> Drop for Registered<'_, T, S> {
    fn drop(&mut self) {
        let mut st = self.chan.lock();
        let q = st.q(self.which);
        let next = if q.remove(self.ticket) { None } else { q.pop() };
        drop(st);
        if let Some(u) = next {
            u.unpark();
        }
    }
}

impl<T, S: Store<T>> Chan<T, S> {
    /// A channel of capacity `cap` (`UNBOUNDED`, `0` for a rendezvous)
    /// with one sending and one receiving handle.
    pub(crate) fn new(cap: usize, joinable: bool, names: &'static Names) -> Chan<T, S> {
        Chan {
            state: SpinLock::new(State {
                store: S::default(),
                pushed: 0,
                taken: 0,
                rx_alive: true,
                recv_q: WaitQueue::new(),
                send_q: WaitQueue::new(),
                peek_q: WaitQueue::new(),
                join_q: WaitQueue::new(),
            }),
            len: AtomicUsize::new(0),
            cap,
            joinable,
            names,
            senders: AtomicUsize::new(1),
            unfinished: AtomicUsize::new(0),
            _items: std::marker::PhantomData,
        }
    }

    #[inline]
    fn lock(&self) -> Guard<'_, S> {
        self.state.lock()
    }

    /// Items the store holds at most before a push waits.
    #[inline]
    fn limit(&self) -> usize {
        self.cap.max(1)
    }

    /// Items buffered now.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// Capacity as given at construction.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Whether a push would wait now.
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.limit()
    }

    #[inline]
    fn tx_gone(&self) -> bool {
        self.senders.load(SeqCst) == 0
    }

    /// Waits on queue `which` until `attempt` (run under the lock) gives
    /// `Some`, or until `deadline` (then `None`). Returns with the lock
    /// held, so that the caller decides whom to wake.
    fn wait<'a, R>(
        &'a self,
        mut st: Guard<'a, S>,
        which: Q,
        deadline: Option<Instant>,
        what: &'static str,
        mut attempt: impl FnMut(&mut State<S>) -> Option<R>,
    ) -> (Guard<'a, S>, Option<R>) {
        let mut yielded = false;
        loop {
            if let Some(r) = attempt(&mut st) {
                return (st, Some(r));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (st, None);
            }
            if !yielded {
                // Let the green threads that are ready run first: the one we
                // wait for is often among them (a producer on this hub), and
                // then no registration and no wake-up is needed at all.
                yielded = true;
                drop(st);
                crate::yield_now();
                st = self.lock();
                continue;
            }
            let ticket = st.q(which).push(me());
            drop(st);
            let reg = Registered { chan: self, which, ticket };
            let woke = crate::park_until(deadline, WaitOn::named(what));
            std::mem::forget(reg);
            st = self.lock();
            let notified = !st.q(which).remove(ticket);
            match woke {
                Err(e) => {
                    let next = if notified { st.q(which).pop() } else { None };
                    drop(st);
                    if let Some(u) = next {
                        u.unpark();
                    }
                    forever(e);
                }
                Ok(false) if !notified => {
                    let r = attempt(&mut st);
                    return (st, r);
                }
                Ok(_) => {}
            }
        }
    }

    // ------------------------------------------------------------ push

    /// Pushes under the lock if there is room; returns the item's number.
    #[inline(always)]
    fn push_locked(&self, st: &mut State<S>, item: T) -> Result<u64, PushError<T>> {
        if !st.rx_alive {
            return Err(PushError::Disconnected(item));
        }
        if st.store.len() >= self.limit() {
            return Err(PushError::Full(item));
        }
        st.store.push(item);
        let seq = st.pushed;
        st.pushed += 1;
        if self.joinable {
            self.unfinished.fetch_add(1, Relaxed);
        }
        self.len.store(st.store.len(), Relaxed);
        Ok(seq)
    }

    /// After a push: releases the lock, waking one receiver and every peeker.
    #[inline(always)]
    fn pushed(&self, mut st: Guard<'_, S>) {
        let receiver = st.recv_q.pop();
        let peekers = if st.peek_q.len() != 0 { Wake::All(st.peek_q.take_all()) } else { Wake::None };
        drop(st);
        if let Some(u) = receiver {
            u.unpark();
        }
        peekers.run();
    }

    /// Pushes without waiting. A rendezvous accepts only while a receiver
    /// waits (and then does not wait for it to take the item).
    #[inline]
    pub(crate) fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        crate::coop::spend();
        let mut st = self.lock();
        if self.cap == 0 && st.recv_q.len() <= st.store.len() {
            return Err(if st.rx_alive { PushError::Full(item) } else { PushError::Disconnected(item) });
        }
        let r = self.push_locked(&mut st, item);
        if r.is_ok() {
            self.pushed(st);
        }
        r.map(|_| ())
    }

    /// Pushes, waiting for room until `deadline`; a rendezvous also waits
    /// until its item is taken.
    #[inline]
    pub(crate) fn push(&self, item: T, deadline: Option<Instant>) -> Result<(), PushError<T>> {
        crate::coop::spend();
        let mut slot = Some(item);
        let attempt = |st: &mut State<S>| {
            let item = slot.take()?;
            match self.push_locked(st, item) {
                Ok(seq) => Some(Ok(seq)),
                Err(PushError::Full(item)) => {
                    slot = Some(item);
                    None
                }
                Err(e) => Some(Err(e)),
            }
        };
        let (st, r) = self.wait(self.lock(), Q::Send, deadline, self.names.send, attempt);
        let seq = match r {
            Some(Ok(seq)) => seq,
            Some(Err(e)) => return Err(e),
            None => {
                drop(st);
                return Err(PushError::Timeout(slot.take().expect("a push that timed out keeps its item")));
            }
        };
        self.pushed(st);
        if self.cap == 0 {
            return self.wait_taken(seq);
        }
        Ok(())
    }

    /// Rendezvous: waits until item `seq` is taken; takes it back if the
    /// receiver leaves or the wait unwinds.
    #[cold]
    fn wait_taken(&self, seq: u64) -> Result<(), PushError<T>> {
        /// Takes the item back out of the store unless it was taken.
        struct Reclaim<'a, T, S: Store<T>>(&'a Chan<T, S>, u64);
        impl<T, S: Store<T>> Reclaim<'_, T, S> {
            fn take_back(&self) -> Option<T> {
                let c = self.0;
                let mut st = c.lock();
                if st.taken > self.1 {
                    return None;
                }
                // Not yet taken: with room for one, the store holds only it.
                let item = st.store.pop();
                c.len.store(st.store.len(), Relaxed);
                let senders = if item.is_some() { Wake::All(st.send_q.take_all()) } else { Wake::None };
                drop(st);
                senders.run(); // its place is free
                item
            }
        }
        impl<T, S: Store<T>> Drop for Reclaim<'_, T, S> {
            fn drop(&mut self) {
                drop(self.take_back());
            }
        }
        let reclaim = Reclaim(self, seq);
        let done = |st: &mut State<S>| {
            if st.taken > seq {
                Some(true)
            } else if !st.rx_alive {
                Some(false)
            } else {
                None
            }
        };
        let (st, r) = self.wait(self.lock(), Q::Send, None, self.names.send, done);
        drop(st);
        let item = if r == Some(true) { None } else { reclaim.take_back() };
        std::mem::forget(reclaim);
        match item {
            Some(item) => Err(PushError::Disconnected(item)),
            None => Ok(()), // taken (perhaps just before the receiver left)
        }
    }

    // ------------------------------------------------------------ pop

    /// Pops under the lock; `None` if the wait should go on.
    #[inline(always)]
    fn pop_locked(&self, st: &mut State<S>) -> Option<Result<T, PopError>> {
        match st.store.pop() {
            Some(item) => {
                st.taken += 1;
                self.len.store(st.store.len(), Relaxed);
                Some(Ok(item))
            }
            None if self.tx_gone() => Some(Err(PopError::Disconnected)),
            None => None,
        }
    }

    /// After a pop: releases the lock, waking the senders it made room for.
    #[inline(always)]
    fn popped(&self, mut st: Guard<'_, S>) {
        let wake = if self.cap == 0 {
            // The sender of the taken item may be anywhere in the queue.
            if st.send_q.len() != 0 {
                Wake::All(st.send_q.take_all())
            } else {
                Wake::None
            }
        } else {
            st.send_q.pop().map_or(Wake::None, Wake::One)
        };
        drop(st);
        wake.run();
    }

    /// Pops without waiting.
    #[inline]
    pub(crate) fn try_pop(&self) -> Result<T, PopError> {
        crate::coop::spend();
        if self.len() == 0 && !self.tx_gone() {
            return Err(PopError::Empty);
        }
        let mut st = self.lock();
        match self.pop_locked(&mut st) {
            Some(Ok(item)) => {
                self.popped(st);
                Ok(item)
            }
            Some(Err(e)) => Err(e),
            None => Err(PopError::Empty),
        }
    }

    /// Pops, waiting for an item until `deadline`.
    #[inline]
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Result<T, PopError> {
        crate::coop::spend();
        let mut st = self.lock();
        // An item (or a disconnection) is there: no wait to set up.
        if let Some(r) = self.pop_locked(&mut st) {
            if r.is_ok() {
                self.popped(st);
            }
            return r;
        }
        let (st, r) = self.wait(st, Q::Recv, deadline, self.names.recv, |st| self.pop_locked(st));
        match r {
            Some(Ok(item)) => {
                self.popped(st);
                Ok(item)
            }
            Some(Err(e)) => Err(e),
            None => Err(PopError::Timeout),
        }
    }

    /// A clone of the item the next pop would return, waiting for one until
    /// `deadline`.
    pub(crate) fn peek(&self, deadline: Option<Instant>) -> Result<T, PopError>
    where
        T: Clone,
    {
        let attempt = |st: &mut State<S>| match st.store.peek() {
            Some(item) => Some(Ok(item.clone())),
            None if self.tx_gone() => Some(Err(PopError::Disconnected)),
            None => None,
        };
        let (_st, r) = self.wait(self.lock(), Q::Peek, deadline, "queue peek", attempt);
        r.unwrap_or(Err(PopError::Timeout))
    }

    /// Whether a pop would not wait (an item, or every sender gone).
    pub(crate) fn pop_ready(&self) -> bool {
        self.len() > 0 || self.tx_gone()
    }

    /// Registers `u` with the peekers (woken by every push and by the last
    /// sender's drop) unless a pop would not wait; `None` then. For waits on
    /// many sources (`crate::wait`): nothing is consumed.
    pub(crate) fn watch(&self, u: crate::Unparker) -> Option<u64> {
        let mut st = self.lock();
        if st.store.len() > 0 || self.tx_gone() {
            return None;
        }
        Some(st.peek_q.push(u))
    }

    /// Deregisters a [`Chan::watch`] ticket (peekers are all woken at once:
    /// nothing to pass on).
    pub(crate) fn unwatch(&self, ticket: u64) {
        self.lock().peek_q.remove(ticket);
    }

    // ------------------------------------------------------- joinable

    /// Marks one item done; `false` if every item already was.
    pub(crate) fn task_done(&self) -> bool {
        match self.unfinished.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)) {
            Ok(1) => {
                let joiners = self.lock().join_q.take_all();
                unpark_all(joiners);
                true
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Items put but not yet marked done.
    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished.load(SeqCst)
    }

    /// Waits until every item put was marked done; `false` on timeout.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let done = |_: &mut State<S>| (self.unfinished() == 0).then_some(());
        let (_st, r) = self.wait(self.lock(), Q::Join, deadline, "queue join", done);
        r.is_some()
    }

    // ------------------------------------------------------- handles

    /// A sending handle was cloned.
    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Relaxed);
    }

    /// A sending handle was dropped; the last one wakes every receiver.
    pub(crate) fn drop_sender(&self) {
        if self.senders.fetch_sub(1, SeqCst) == 1 {
            let (receivers, peekers) = {
                let mut st = self.lock();
                (st.recv_q.take_all(), st.peek_q.take_all())
            };
            unpark_all(receivers);
            unpark_all(peekers);
        }
    }

    /// The receiving handle was dropped: senders fail from now on, and
    /// buffered items are dropped (a rendezvous sender takes its own back).
    pub(crate) fn drop_receiver(&self) {
        let (items, senders) = {
            let mut st = self.lock();
            st.rx_alive = false;
            let items = if self.cap == 0 {
                S::default()
            } else {
                self.len.store(0, Relaxed);
                std::mem::take(&mut st.store)
            };
            (items, st.send_q.take_all())
        };
        unpark_all(senders);
        drop(items);
    }
}
