//! The buffered channel under both [`mpsc`](crate::mpsc) and
//! [`queue`](crate::queue).
//!
//! # Model
//! A store (FIFO, LIFO or heap) behind a std mutex held only to push or pop
//! one item, plus atomics read without the lock: `len` (mirrors the
//! store's length), the number of live sending and receiving handles, the
//! number of items taken, and the joinable count of unfinished items.
//! Four wait-lists: receivers (wait for an item), senders (wait for room,
//! or — rendezvous — for their item to be taken), peekers (wait for an
//! item without taking it; every push wakes all of them, so a peeker never
//! swallows a getter's wake-up) and joiners (wait for `unfinished == 0`).
//!
//! Capacity: `UNBOUNDED`, `n > 0` items, or `0` — a rendezvous: the store
//! holds the one item in flight, and its sender waits until a receiver has
//! taken it (std's `sync_channel(0)`).
//!
//! # Invariants
//! - `len` equals the store's length and `taken` the number of pops; both
//!   are written (SeqCst) under the lock.
//! - `receivers` changes only under the lock, so a push never lands after
//!   the last receiver left (whose drop empties the store).
//! - No lost wake-up: each side changes its atomics (SeqCst) before it
//!   loads the other side's wait-list length, and each waiter re-checks
//!   those atomics after registering (see the wait-list's invariant).
//! - A rendezvous sender leaves with its item taken, or takes its item back
//!   out of the store (it disconnected, or the sender unwinds), so an item
//!   is never delivered by a `send` that did not return `Ok`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard};
use std::time::Instant;

use super::sealed::Store;
use crate::sync::waitlist::{forever, WaitList};

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

struct State<S> {
    store: S,
    taken: u64,
    pushed: u64,
}

/// The shared core of a channel or queue.
pub(crate) struct Chan<T, S> {
    state: StdMutex<State<S>>,
    len: AtomicUsize,
    taken: AtomicU64,
    cap: usize,
    joinable: bool,
    names: &'static Names,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    unfinished: AtomicUsize,
    recv_q: WaitList,
    send_q: WaitList,
    peek_q: WaitList,
    join_q: WaitList,
    _items: std::marker::PhantomData<fn() -> T>,
}

impl<T, S: Store<T>> Chan<T, S> {
    /// A channel of capacity `cap` (`UNBOUNDED`, `0` for a rendezvous)
    /// with one sending and one receiving handle.
    pub(crate) fn new(cap: usize, joinable: bool, names: &'static Names) -> Chan<T, S> {
        Chan {
            state: StdMutex::new(State { store: S::default(), taken: 0, pushed: 0 }),
            len: AtomicUsize::new(0),
            taken: AtomicU64::new(0),
            cap,
            joinable,
            names,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            unfinished: AtomicUsize::new(0),
            recv_q: WaitList::new(),
            send_q: WaitList::new(),
            peek_q: WaitList::new(),
            join_q: WaitList::new(),
            _items: std::marker::PhantomData,
        }
    }

    fn lock(&self) -> StdMutexGuard<'_, State<S>> {
        // A panicking `Ord` impl of a priority queue could poison it; the
        // store stays structurally valid, so carry on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Items the store holds at most before a push waits.
    #[inline]
    fn limit(&self) -> usize {
        self.cap.max(1)
    }

    /// Items buffered now.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
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
    fn rx_gone(&self) -> bool {
        self.receivers.load(SeqCst) == 0
    }

    #[inline]
    fn tx_gone(&self) -> bool {
        self.senders.load(SeqCst) == 0
    }

    // ------------------------------------------------------------ push

    /// Pushes if there is room; returns the item's sequence number.
    #[inline]
    fn push_now(&self, item: T) -> Result<u64, PushError<T>> {
        let seq = {
            let mut st = self.lock();
            if self.rx_gone() {
                return Err(PushError::Disconnected(item));
            }
            if st.store.len() >= self.limit() {
                return Err(PushError::Full(item));
            }
            st.store.push(item);
            let seq = st.pushed;
            st.pushed += 1;
            if self.joinable {
                self.unfinished.fetch_add(1, SeqCst);
            }
            self.len.store(st.store.len(), SeqCst);
            seq
        };
        self.recv_q.notify_one();
        if self.peek_q.has_waiters() {
            self.peek_q.notify_all();
        }
        Ok(seq)
    }

    /// Pushes without waiting. A rendezvous accepts only while a receiver
    /// waits (and then does not wait for it to take the item).
    pub(crate) fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        if self.cap == 0 && self.recv_q.len() <= self.len() {
            return Err(if self.rx_gone() { PushError::Disconnected(item) } else { PushError::Full(item) });
        }
        self.push_now(item).map(|_| ())
    }

    /// Pushes, waiting for room until `deadline`; a rendezvous also waits
    /// until its item is taken.
    pub(crate) fn push(&self, item: T, deadline: Option<Instant>) -> Result<(), PushError<T>> {
        let seq = match self.push_now(item) {
            Ok(seq) => seq,
            Err(PushError::Full(item)) => self.push_slow(item, deadline)?,
            Err(e) => return Err(e),
        };
        if self.cap == 0 {
            self.wait_taken(seq)?;
        }
        Ok(())
    }

    #[cold]
    fn push_slow(&self, item: T, deadline: Option<Instant>) -> Result<u64, PushError<T>> {
        let mut slot = Some(item);
        let attempt = || {
            let item = slot.take()?;
            match self.push_now(item) {
                Ok(seq) => Some(Ok(seq)),
                Err(PushError::Full(item)) => {
                    slot = Some(item);
                    None
                }
                Err(e) => Some(Err(e)),
            }
        };
        let blocked = || self.len() >= self.limit() && !self.rx_gone();
        match self.send_q.wait_for(deadline, self.names.send, attempt, blocked) {
            Ok(Some(r)) => r,
            Ok(None) => Err(PushError::Timeout(slot.take().expect("a timed-out push keeps its item"))),
            Err(e) => forever(e),
        }
    }

    /// Rendezvous: waits until item `seq` is taken; takes it back if the
    /// receiver disconnects or the wait unwinds.
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
                // The store holds at most one item: ours.
                let item = st.store.pop();
                c.len.store(st.store.len(), SeqCst);
                item
            }
        }
        impl<T, S: Store<T>> Drop for Reclaim<'_, T, S> {
            fn drop(&mut self) {
                let item = self.take_back();
                if item.is_some() {
                    // Its place is free: let another sender in.
                    self.0.send_q.notify_all();
                }
            }
        }
        let reclaim = Reclaim(self, seq);
        let done = || {
            if self.taken.load(SeqCst) > seq {
                Some(Ok(()))
            } else if self.rx_gone() {
                Some(Err(()))
            } else {
                None
            }
        };
        let blocked = || self.taken.load(SeqCst) <= seq && !self.rx_gone();
        let r = match self.send_q.wait_for(None, self.names.send, done, blocked) {
            Ok(r) => r,
            Err(e) => forever(e),
        };
        match r {
            Some(Ok(())) => {
                std::mem::forget(reclaim);
                Ok(())
            }
            _ => {
                let item = reclaim.take_back();
                std::mem::forget(reclaim);
                match item {
                    Some(item) => Err(PushError::Disconnected(item)),
                    None => Ok(()), // taken just before the receiver left
                }
            }
        }
    }

    // ------------------------------------------------------------ pop

    /// Pops without waiting.
    #[inline]
    pub(crate) fn try_pop(&self) -> Result<T, PopError> {
        let item = {
            let mut st = self.lock();
            let item = st.store.pop();
            if item.is_some() {
                st.taken += 1;
                self.taken.store(st.taken, SeqCst);
                self.len.store(st.store.len(), SeqCst);
            }
            item
        };
        match item {
            Some(item) => {
                if self.cap == 0 {
                    self.send_q.notify_all();
                } else if self.cap != UNBOUNDED {
                    self.send_q.notify_one();
                }
                Ok(item)
            }
            // Every sender left after its last push: a second look (after
            // seeing them gone) finds any item they sent.
            None if self.tx_gone() && self.len() == 0 => Err(PopError::Disconnected),
            None if self.tx_gone() => self.try_pop(),
            None => Err(PopError::Empty),
        }
    }

    /// Pops, waiting for an item until `deadline`.
    #[inline]
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Result<T, PopError> {
        if self.len() != 0 {
            if let Ok(item) = self.try_pop() {
                return Ok(item);
            }
        }
        self.pop_slow(deadline)
    }

    #[cold]
    fn pop_slow(&self, deadline: Option<Instant>) -> Result<T, PopError> {
        let attempt = || match self.try_pop() {
            Err(PopError::Empty) => None,
            r => Some(r),
        };
        let blocked = || self.len() == 0 && !self.tx_gone();
        match self.recv_q.wait_for(deadline, self.names.recv, attempt, blocked) {
            Ok(Some(r)) => r,
            Ok(None) => Err(PopError::Timeout),
            Err(e) => forever(e),
        }
    }

    /// A clone of the item the next pop would return, waiting for one until
    /// `deadline`.
    pub(crate) fn peek(&self, deadline: Option<Instant>) -> Result<T, PopError>
    where
        T: Clone,
    {
        let attempt = || match self.lock().store.peek() {
            Some(item) => Some(Ok(item.clone())),
            None if self.tx_gone() => Some(Err(PopError::Disconnected)),
            None => None,
        };
        let blocked = || self.len() == 0 && !self.tx_gone();
        match self.peek_q.wait_for(deadline, "queue peek", attempt, blocked) {
            Ok(Some(r)) => r,
            Ok(None) => Err(PopError::Timeout),
            Err(e) => forever(e),
        }
    }

    // ------------------------------------------------------- joinable

    /// Marks one item done; `false` if every item already was.
    pub(crate) fn task_done(&self) -> bool {
        match self.unfinished.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)) {
            Ok(1) => {
                self.join_q.notify_all();
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
        let done = || (self.unfinished() == 0).then_some(());
        match self.join_q.wait_for(deadline, "queue join", done, || self.unfinished() != 0) {
            Ok(r) => r.is_some(),
            Err(e) => forever(e),
        }
    }

    // ------------------------------------------------------- handles

    /// A sending handle was cloned.
    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, SeqCst);
    }

    /// A sending handle was dropped; the last one wakes every receiver.
    pub(crate) fn drop_sender(&self) {
        if self.senders.fetch_sub(1, SeqCst) == 1 {
            self.recv_q.notify_all();
            self.peek_q.notify_all();
        }
    }

    /// The receiving handle was dropped: senders fail from now on, and
    /// buffered items are dropped (a rendezvous sender takes its own back).
    pub(crate) fn drop_receiver(&self) {
        let items = {
            let mut st = self.lock();
            self.receivers.store(0, SeqCst);
            if self.cap == 0 {
                S::default()
            } else {
                self.len.store(0, SeqCst);
                std::mem::take(&mut st.store)
            }
        };
        self.send_q.notify_all();
        drop(items);
    }
}
