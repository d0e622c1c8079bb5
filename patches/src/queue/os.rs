//! The blocking flavor of gevent's queues: a std `Mutex` + `Condvar`
//! queue with the runtime queue's semantics.
//!
//! # Model
//!
//! One std mutex guards the items, the unfinished-task count and nothing
//! else; three condition variables signal "an item arrived" (getters and
//! peekers), "room appeared" (putters) and "all tasks done" (joiners).
//! `put` increments `unfinished`; `task_done` decrements it and fails
//! below zero.
//!
//! # Invariants
//!
//! - `items.len() <= cap` after every `put` (`cap` is `usize::MAX` for
//!   unbounded queues).
//! - State is read and written only under the mutex; every change a waiter
//!   waits for is followed by the matching notify.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use greenpatch_runtime::queue::{Empty, Full, TaskDoneError};

/// An item store: FIFO, LIFO or min-heap.
pub trait Store<T> {
    /// An empty store.
    fn empty() -> Self
    where
        Self: Sized;
    /// Adds an item.
    fn push(&mut self, item: T);
    /// Takes the next item.
    fn pop(&mut self) -> Option<T>;
    /// The next item.
    fn peek(&self) -> Option<&T>;
    /// How many items.
    fn len(&self) -> usize;
}

impl<T> Store<T> for VecDeque<T> {
    fn empty() -> Self {
        VecDeque::new()
    }
    fn push(&mut self, item: T) {
        self.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}

impl<T> Store<T> for Vec<T> {
    fn empty() -> Self {
        Vec::new()
    }
    fn push(&mut self, item: T) {
        Vec::push(self, item);
    }
    fn pop(&mut self) -> Option<T> {
        Vec::pop(self)
    }
    fn peek(&self) -> Option<&T> {
        self.last()
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

impl<T: Ord> Store<T> for BinaryHeap<Reverse<T>> {
    fn empty() -> Self {
        BinaryHeap::new()
    }
    fn push(&mut self, item: T) {
        BinaryHeap::push(self, Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        BinaryHeap::pop(self).map(|Reverse(t)| t)
    }
    fn peek(&self) -> Option<&T> {
        BinaryHeap::peek(self).map(|Reverse(t)| t)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
}

struct State<S> {
    items: S,
    unfinished: usize,
}

/// A blocking multi-producer, multi-consumer queue.
pub struct OsQueue<S> {
    cap: usize,
    state: Mutex<State<S>>,
    not_empty: Condvar,
    not_full: Condvar,
    all_done: Condvar,
}

/// Waits on `cv` until `ready` holds or `deadline` passes.
fn wait<'a, S>(
    cv: &Condvar,
    g: MutexGuard<'a, State<S>>,
    deadline: Option<Instant>,
    ready: impl Fn(&State<S>) -> bool,
) -> (MutexGuard<'a, State<S>>, bool) {
    crate::blocking::wait_until(cv, g, deadline, |s| ready(s))
}

/// `Some(now + d)`, or `None` (no deadline) when that overflows.
fn deadline(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

impl<S> OsQueue<S> {
    /// A queue of at most `maxsize` items (0 = unbounded).
    pub fn new<T>(maxsize: usize) -> OsQueue<S>
    where
        S: Store<T>,
    {
        OsQueue {
            cap: if maxsize == 0 { usize::MAX } else { maxsize },
            state: Mutex::new(State { items: S::empty(), unfinished: 0 }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        // Critical sections only move items and counters; a panic in a
        // user's `Ord`/`Clone` leaves them consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts with an optional deadline (`wait == false`: no waiting).
    pub fn put_until<T>(&self, item: T, wait_for_room: bool, until: Option<Instant>) -> Result<(), Full<T>>
    where
        S: Store<T>,
    {
        let cap = self.cap;
        let g = self.lock();
        let (mut g, room) = if wait_for_room {
            wait(&self.not_full, g, until, |s| s.items.len() < cap)
        } else {
            let room = g.items.len() < cap;
            (g, room)
        };
        if !room {
            return Err(Full(item));
        }
        g.items.push(item);
        g.unfinished += 1;
        drop(g);
        self.not_empty.notify_all();
        Ok(())
    }

    /// Puts, waiting for room.
    pub fn put<T>(&self, item: T)
    where
        S: Store<T>,
    {
        // No deadline: `put_until` only returns once the item is in.
        let _ = self.put_until(item, true, None);
    }

    /// Puts, waiting at most `d`.
    pub fn put_timeout<T>(&self, item: T, d: Duration) -> Result<(), Full<T>>
    where
        S: Store<T>,
    {
        self.put_until(item, true, deadline(d))
    }

    /// Puts without waiting.
    pub fn put_nowait<T>(&self, item: T) -> Result<(), Full<T>>
    where
        S: Store<T>,
    {
        self.put_until(item, false, None)
    }

    /// Takes (or with `take == false`, clones) the next item.
    fn next<T, R>(
        &self,
        wait_for_item: bool,
        until: Option<Instant>,
        take: impl FnOnce(&mut S) -> Option<R>,
    ) -> Result<R, Empty>
    where
        S: Store<T>,
    {
        let g = self.lock();
        let (mut g, ready) = if wait_for_item {
            wait(&self.not_empty, g, until, |s| s.items.len() > 0)
        } else {
            let ready = g.items.len() > 0;
            (g, ready)
        };
        if !ready {
            return Err(Empty);
        }
        let r = take(&mut g.items).ok_or(Empty);
        drop(g);
        self.not_full.notify_one();
        r
    }

    /// Takes the next item, waiting up to `until` (`wait == false`: no
    /// waiting).
    pub fn get_until<T>(&self, wait_for_item: bool, until: Option<Instant>) -> Result<T, Empty>
    where
        S: Store<T>,
    {
        self.next(wait_for_item, until, |s| s.pop())
    }

    /// Clones the next item, waiting up to `until`.
    pub fn peek_until<T: Clone>(&self, wait_for_item: bool, until: Option<Instant>) -> Result<T, Empty>
    where
        S: Store<T>,
    {
        let r = self.next(wait_for_item, until, |s| s.peek().cloned());
        // Peeking leaves the item: the next waiter may want it too.
        self.not_empty.notify_one();
        r
    }

    /// How many items are queued.
    pub fn len<T>(&self) -> usize
    where
        S: Store<T>,
    {
        self.lock().items.len()
    }

    /// The bound, `None` when unbounded.
    pub fn maxsize(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Marks one item processed.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut g = self.lock();
        if g.unfinished == 0 {
            return Err(TaskDoneError);
        }
        g.unfinished -= 1;
        if g.unfinished == 0 {
            drop(g);
            self.all_done.notify_all();
        }
        Ok(())
    }

    /// Items put and not yet marked done.
    pub fn unfinished_tasks(&self) -> usize {
        self.lock().unfinished
    }

    /// Waits until every item put has been marked done, up to `until`.
    pub fn join_until(&self, until: Option<Instant>) -> bool {
        wait(&self.all_done, self.lock(), until, |s| s.unfinished == 0).1
    }
}
