//! gevent's queue family: multi-producer, multi-consumer queues whose
//! blocking calls park only the green thread.
//!
//! [`Queue`] (FIFO), [`LifoQueue`] and [`PriorityQueue`] (smallest item
//! first, like gevent's and `heapq`) share one implementation and one API:
//! `put`/`get` block, `put_timeout`/`get_timeout` wait at most a duration,
//! `put_nowait`/`get_nowait` never wait; `peek` looks at the next item
//! without taking it. Every queue is joinable (gevent's `JoinableQueue`):
//! [`GenericQueue::task_done`] marks an item processed, [`GenericQueue::join`] waits until
//! every item put has been. Handles are `Clone` (they share the queue) and
//! work from any green thread on any hub and from plain OS threads.
//!
//! `maxsize` 0 means unbounded, as in gevent (since 1.0) and Python's
//! `queue.Queue`. For std's single-consumer channels, with disconnection
//! and rendezvous, see [`mpsc`](crate::mpsc).
//!
//! # Model
//! A store behind a briefly held std mutex, with the length and counters
//! in atomics so that `len`, `is_empty`, and `get` on an empty queue take
//! no lock, and separate wait-lists for getters, putters, peekers and
//! joiners (see the internal `chan` module). A green thread killed while it
//! waits in `get`/`put` passes any wake-up it had received to the next
//! waiter.
//!
//! # Would block forever
//! `put`, `get`, `peek` and `join` (the calls without a timeout) panic with
//! the runtime's would-block-forever report when called from plain code
//! that nothing in the process can ever wake — gevent's `LoopExit`.

pub(crate) mod chan;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chan::{Chan, Names, PushError, UNBOUNDED};

pub(crate) mod sealed {
    /// The operations of an item store (FIFO, LIFO or heap).
    pub trait Store<T>: Default {
        fn push(&mut self, item: T);
        fn pop(&mut self) -> Option<T>;
        fn peek(&self) -> Option<&T>;
        fn len(&self) -> usize;
    }
}

/// The order in which a queue hands items out: [`Fifo`], [`Lifo`] or
/// [`Priority`]. Sealed: the three are all there is.
///
/// ```
/// use greenpatch_runtime::queue::{GenericQueue, LifoQueue, Order};
/// fn drain<T, O: Order<T>>(q: &GenericQueue<T, O>) -> Vec<T> {
///     std::iter::from_fn(|| q.get_nowait().ok()).collect()
/// }
/// let q = LifoQueue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(drain(&q), [2, 1]);
/// ```
pub trait Order<T>: sealed::Store<T> {}

/// First in, first out: the order of [`Queue`].
///
/// ```
/// use greenpatch_runtime::queue::{Fifo, GenericQueue, Queue};
/// let q: GenericQueue<i32, Fifo<i32>> = Queue::new(); // the same type
/// # drop(q);
/// ```
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out: the order of [`LifoQueue`].
///
/// ```
/// let q = greenpatch_runtime::queue::LifoQueue::<&str>::new();
/// # drop(q);
/// ```
pub struct Lifo<T>(Vec<T>);

/// Smallest first (a binary min-heap): the order of [`PriorityQueue`].
///
/// ```
/// let q = greenpatch_runtime::queue::PriorityQueue::<(u8, &str)>::new();
/// # drop(q);
/// ```
pub struct Priority<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Fifo<T> {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Lifo<T> {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Priority<T> {
        Priority(BinaryHeap::new())
    }
}

impl<T> sealed::Store<T> for Fifo<T> {
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.0.front()
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> sealed::Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn peek(&self) -> Option<&T> {
        self.0.last()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> sealed::Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|r| r.0)
    }
    fn peek(&self) -> Option<&T> {
        self.0.peek().map(|r| &r.0)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Order<T> for Fifo<T> {}
impl<T> Order<T> for Lifo<T> {}
impl<T: Ord> Order<T> for Priority<T> {}

/// `get_nowait` found the queue empty, or `get_timeout`'s time ran out.
///
/// ```
/// let q = greenpatch_runtime::queue::Queue::<u8>::new();
/// assert_eq!(q.get_nowait(), Err(greenpatch_runtime::queue::Empty));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is empty")
    }
}

impl std::error::Error for Empty {}

/// `put_nowait` found the queue full, or `put_timeout`'s time ran out;
/// holds the item that was not put.
///
/// ```
/// let q = greenpatch_runtime::queue::Queue::with_maxsize(1);
/// q.put(1);
/// let full = q.put_nowait(2).unwrap_err();
/// assert_eq!(full.into_inner(), 2);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The item that was not put.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::queue::Full(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// [`GenericQueue::task_done`] was called more times than items were put
/// (gevent raises `ValueError`).
///
/// ```
/// let q = greenpatch_runtime::queue::Queue::<u8>::new();
/// assert_eq!(q.task_done(), Err(greenpatch_runtime::queue::TaskDoneError));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TaskDoneError {}

static NAMES: Names = Names { recv: "queue get", send: "queue put" };

/// A multi-producer, multi-consumer queue (gevent's `Queue`, joinable)
/// handing items out in the order `O`. Use it through its aliases
/// [`Queue`], [`LifoQueue`] and [`PriorityQueue`]; name it to write code
/// that takes any of them. Clones share the queue.
///
/// ```
/// use greenpatch_runtime::queue::Queue;
///
/// let q = Queue::with_maxsize(2);
/// let producer = {
///     let q = q.clone();
///     greenpatch_runtime::spawn(move || (0..10).for_each(|i| q.put(i))) // waits while full
/// };
/// let got: Vec<i32> = (0..10).map(|_| q.get()).collect();
/// producer.join().unwrap();
/// assert_eq!(got, (0..10).collect::<Vec<_>>());
/// ```
pub struct GenericQueue<T, O: Order<T>> {
    chan: Arc<Chan<T, O>>,
}

/// A first-in, first-out [`GenericQueue`] (gevent's `Queue` and
/// `JoinableQueue`).
///
/// ```
/// let q = greenpatch_runtime::queue::Queue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(q.get(), 1);
/// ```
pub type Queue<T> = GenericQueue<T, Fifo<T>>;

/// A last-in, first-out [`GenericQueue`] (gevent's `LifoQueue`).
///
/// ```
/// let q = greenpatch_runtime::queue::LifoQueue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(q.get(), 2);
/// ```
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;

/// A [`GenericQueue`] that hands out the smallest item first (gevent's
/// `PriorityQueue`; use `(priority, item)` tuples or `Reverse`).
///
/// ```
/// let q = greenpatch_runtime::queue::PriorityQueue::new();
/// q.put((2, "b"));
/// q.put((1, "a"));
/// assert_eq!(q.get(), (1, "a"));
/// ```
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;

macro_rules! constructors {
    ($order:ident, $($bound:tt)*) => {
        impl<T $($bound)*> GenericQueue<T, $order<T>> {
            /// An unbounded queue.
            ///
            /// ```
            /// let q = greenpatch_runtime::queue::Queue::new();
            /// q.put("x");
            /// assert_eq!(q.len(), 1);
            /// ```
            pub fn new() -> Self {
                Self::with_maxsize(0)
            }

            /// A queue holding at most `maxsize` items (`put` waits while it
            /// is full); `0` means unbounded, as in gevent.
            ///
            /// ```
            /// let q = greenpatch_runtime::queue::Queue::with_maxsize(1);
            /// q.put(1);
            /// assert!(q.is_full());
            /// ```
            pub fn with_maxsize(maxsize: usize) -> Self {
                let cap = if maxsize == 0 { UNBOUNDED } else { maxsize };
                GenericQueue { chan: Arc::new(Chan::new(cap, true, &NAMES)) }
            }
        }

        impl<T $($bound)*> Default for GenericQueue<T, $order<T>> {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
constructors!(Fifo,);
constructors!(Lifo,);
constructors!(Priority, : Ord);

impl<T, O: Order<T>> GenericQueue<T, O> {
    /// The queue's core (for waits on many sources, `crate::wait`).
    pub(crate) fn chan(&self) -> &Chan<T, O> {
        &self.chan
    }

    /// Puts `item`, blocking the green thread while the queue is full.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever make room (the
    /// message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.get(), 1);
    /// ```
    #[inline]
    pub fn put(&self, item: T) {
        // Queues never disconnect and wait without a deadline: it succeeds.
        let _ = self.chan.push(item, None);
    }

    /// Puts `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Full`] (with the item) if the queue stayed full.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch_runtime::queue::Queue::with_maxsize(1);
    /// q.put_timeout(1, Duration::from_millis(5)).unwrap();
    /// assert!(q.put_timeout(2, Duration::from_millis(5)).is_err());
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        self.chan.push(item, Some(deadline(timeout))).map_err(full)
    }

    /// Puts `item` if there is room, without waiting.
    ///
    /// # Errors
    /// [`Full`] (with the item) if the queue is full.
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::with_maxsize(1);
    /// assert!(q.put_nowait(1).is_ok());
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    #[inline]
    pub fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
        self.chan.try_push(item).map_err(full)
    }

    /// Takes the next item, blocking the green thread while the queue is
    /// empty.
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever put an item (the
    /// message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// let q2 = q.clone();
    /// greenpatch_runtime::spawn(move || q2.put("hi"));
    /// assert_eq!(q.get(), "hi");
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        loop {
            // Queues never disconnect; without a deadline only an item ends
            // the wait.
            if let Ok(item) = self.chan.pop(None) {
                return item;
            }
        }
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Empty`] if no item came in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch_runtime::queue::Queue::<u8>::new();
    /// assert!(q.get_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        self.chan.pop(Some(deadline(timeout))).map_err(|_| Empty)
    }

    /// Takes the next item if there is one, without waiting.
    ///
    /// # Errors
    /// [`Empty`] if the queue is empty.
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(3);
    /// assert_eq!(q.get_nowait(), Ok(3));
    /// assert!(q.get_nowait().is_err());
    /// ```
    #[inline]
    pub fn get_nowait(&self) -> Result<T, Empty> {
        self.chan.try_pop().map_err(|_| Empty)
    }

    /// A copy of the next item, without taking it; blocks the green thread
    /// while the queue is empty (gevent's `peek(block=True)`).
    ///
    /// # Panics
    /// As [`GenericQueue::get`].
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(String::from("a"));
    /// assert_eq!(q.peek(), "a");
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn peek(&self) -> T
    where
        T: Clone,
    {
        loop {
            if let Ok(item) = self.chan.peek(None) {
                return item;
            }
        }
    }

    /// A copy of the next item, waiting at most `timeout` for one.
    ///
    /// # Errors
    /// [`Empty`] if no item came in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch_runtime::queue::Queue::<u8>::new();
    /// assert!(q.peek_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, Empty>
    where
        T: Clone,
    {
        self.chan.peek(Some(deadline(timeout))).map_err(|_| Empty)
    }

    /// A copy of the next item, if any, without waiting or taking it.
    ///
    /// # Errors
    /// [`Empty`] if the queue is empty.
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::PriorityQueue::new();
    /// q.put(5);
    /// q.put(1);
    /// assert_eq!(q.peek_nowait(), Ok(1));
    /// ```
    pub fn peek_nowait(&self) -> Result<T, Empty>
    where
        T: Clone,
    {
        self.chan.peek(Some(Instant::now())).map_err(|_| Empty)
    }

    /// Items in the queue now.
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(());
    /// assert_eq!(q.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the queue is empty now.
    ///
    /// ```
    /// assert!(greenpatch_runtime::queue::Queue::<u8>::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is at its `maxsize` (never for an unbounded one).
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::with_maxsize(1);
    /// assert!(!q.is_full());
    /// q.put(0);
    /// assert!(q.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.chan.is_full()
    }

    /// The bound, `None` if unbounded.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::queue::Queue::<u8>::with_maxsize(3).maxsize(), Some(3));
    /// assert_eq!(greenpatch_runtime::queue::Queue::<u8>::new().maxsize(), None);
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        (self.chan.cap() != UNBOUNDED).then_some(self.chan.cap())
    }

    /// Marks one item taken with `get` as processed; when every item put
    /// so far is, [`GenericQueue::join`] returns.
    ///
    /// # Errors
    /// [`TaskDoneError`] if called more times than items were put.
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(1);
    /// q.get();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.chan.task_done() {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Items put and not yet marked done with [`GenericQueue::task_done`].
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.chan.unfinished()
    }

    /// Blocks the green thread until every item put has been marked done.
    ///
    /// # Panics
    /// From plain code, if that can never happen (the message is the
    /// runtime's would-block-forever report).
    ///
    /// ```
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// let worker = {
    ///     let q = q.clone();
    ///     greenpatch_runtime::spawn(move || loop {
    ///         let job: u32 = q.get();
    ///         let _ = job * 2;
    ///         q.task_done().unwrap();
    ///     })
    /// };
    /// (0..5).for_each(|j| q.put(j));
    /// q.join();
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// worker.kill();
    /// ```
    pub fn join(&self) {
        self.chan.join(None);
    }

    /// Waits at most `timeout` for every item to be marked done; returns
    /// whether they all were.
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch_runtime::queue::Queue::new();
    /// q.put(1);
    /// assert!(!q.join_timeout(Duration::from_millis(5)));
    /// q.task_done().unwrap();
    /// assert!(q.join_timeout(Duration::from_millis(5)));
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.chan.join(Some(deadline(timeout)))
    }
}

/// The deadline `timeout` from now (far away if it overflows).
fn deadline(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

fn full<T>(e: PushError<T>) -> Full<T> {
    match e {
        PushError::Full(t) | PushError::Disconnected(t) | PushError::Timeout(t) => Full(t),
    }
}

impl<T, O: Order<T>> Clone for GenericQueue<T, O> {
    fn clone(&self) -> Self {
        GenericQueue { chan: self.chan.clone() }
    }
}

impl<T, O: Order<T>> fmt::Debug for GenericQueue<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("maxsize", &self.maxsize())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}
