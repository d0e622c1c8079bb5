//! gevent's queue family through the facade: [`Queue`], [`LifoQueue`],
//! [`PriorityQueue`] (all joinable).
//!
//! # Model
//!
//! A [`GenericQueue`] is a handle (`Clone` shares the queue) over either the
//! blocking implementation of this crate (`os.rs`) or the runtime's green
//! queue; the [`Kind`] marker ([`Fifo`], [`Lifo`], [`Priority`]) fixes the
//! order and the flavor item read at construction (`queue.Queue`,
//! `queue.LifoQueue`, `queue.PriorityQueue`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime::queue as green;

use super::os::{OsQueue, Store};
use super::{Empty, Full, TaskDoneError, LIFO_QUEUE, PRIORITY_QUEUE, QUEUE};
use crate::flavor::{both, Flavored};
use crate::monkey::Slot;
use crate::Flavor;

mod sealed {
    pub trait Sealed {}
}

/// The order in which a queue hands items out: [`Fifo`], [`Lifo`] or
/// [`Priority`] (sealed: these three are all there is).
///
/// # Example
///
/// ```
/// use greenpatch::queue::{GenericQueue, Kind, LifoQueue};
/// fn drain<T, K: Kind<T>>(q: &GenericQueue<T, K>) -> Vec<T> {
///     std::iter::from_fn(|| q.get_nowait().ok()).collect()
/// }
/// let q = LifoQueue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(drain(&q), [2, 1]);
/// ```
pub trait Kind<T>: sealed::Sealed + Sized + 'static {
    /// The blocking flavor's store.
    #[doc(hidden)]
    type Store: Store<T>;
    /// The green flavor's order.
    #[doc(hidden)]
    type Green: green::Order<T>;
    /// The type's name, for messages.
    #[doc(hidden)]
    const NAME: &'static str;
    /// The flavor item read at construction.
    #[doc(hidden)]
    fn slot() -> &'static Slot<fn() -> Flavor>;
    /// A green queue of this order.
    #[doc(hidden)]
    fn green(maxsize: usize) -> green::GenericQueue<T, Self::Green>;
}

/// First in, first out: the order of [`Queue`].
///
/// # Example
///
/// ```
/// let q: greenpatch::queue::GenericQueue<u8, greenpatch::queue::Fifo> = greenpatch::queue::Queue::new();
/// # drop(q);
/// ```
#[derive(Debug)]
pub struct Fifo;

/// Last in, first out: the order of [`LifoQueue`].
///
/// # Example
///
/// ```
/// let q: greenpatch::queue::GenericQueue<u8, greenpatch::queue::Lifo> = greenpatch::queue::LifoQueue::new();
/// # drop(q);
/// ```
#[derive(Debug)]
pub struct Lifo;

/// Smallest item first: the order of [`PriorityQueue`].
///
/// # Example
///
/// ```
/// let q: greenpatch::queue::GenericQueue<u8, greenpatch::queue::Priority> =
///     greenpatch::queue::PriorityQueue::new();
/// # drop(q);
/// ```
#[derive(Debug)]
pub struct Priority;

impl sealed::Sealed for Fifo {}
impl sealed::Sealed for Lifo {}
impl sealed::Sealed for Priority {}

impl<T: 'static> Kind<T> for Fifo {
    type Store = VecDeque<T>;
    type Green = green::Fifo<T>;
    const NAME: &'static str = "Queue";
    fn slot() -> &'static Slot<fn() -> Flavor> {
        &QUEUE
    }
    fn green(maxsize: usize) -> green::GenericQueue<T, Self::Green> {
        green::Queue::with_maxsize(maxsize)
    }
}

impl<T: 'static> Kind<T> for Lifo {
    type Store = Vec<T>;
    type Green = green::Lifo<T>;
    const NAME: &'static str = "LifoQueue";
    fn slot() -> &'static Slot<fn() -> Flavor> {
        &LIFO_QUEUE
    }
    fn green(maxsize: usize) -> green::GenericQueue<T, Self::Green> {
        green::LifoQueue::with_maxsize(maxsize)
    }
}

impl<T: Ord + 'static> Kind<T> for Priority {
    type Store = BinaryHeap<Reverse<T>>;
    type Green = green::Priority<T>;
    const NAME: &'static str = "PriorityQueue";
    fn slot() -> &'static Slot<fn() -> Flavor> {
        &PRIORITY_QUEUE
    }
    fn green(maxsize: usize) -> green::GenericQueue<T, Self::Green> {
        green::PriorityQueue::with_maxsize(maxsize)
    }
}

type Imp<T, K> = Flavored<Arc<OsQueue<<K as Kind<T>>::Store>>, green::GenericQueue<T, <K as Kind<T>>::Green>>;

/// A multi-producer, multi-consumer queue (gevent's queues): blocking the
/// OS thread when made before `patch_all()`, only the green thread when
/// made after. Every queue is joinable ([`GenericQueue::task_done`],
/// [`GenericQueue::join`]); `maxsize` 0 means unbounded. Use it through
/// [`Queue`], [`LifoQueue`] and [`PriorityQueue`].
///
/// # Example
///
/// ```
/// use greenpatch::queue::Queue;
/// use greenpatch::thread::spawn;
///
/// let q = Queue::with_maxsize(2);
/// let producer = {
///     let q = q.clone();
///     spawn(move || (0..10).for_each(|i| q.put(i))) // waits while full
/// };
/// let got: Vec<i32> = (0..10).map(|_| q.get()).collect();
/// producer.join().unwrap();
/// assert_eq!(got, (0..10).collect::<Vec<_>>());
/// ```
pub struct GenericQueue<T, K: Kind<T>> {
    imp: Imp<T, K>,
    site: &'static Location<'static>,
}

/// First in, first out (gevent's `Queue`).
///
/// # Example
///
/// ```
/// let q = greenpatch::queue::Queue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(q.get(), 1);
/// ```
pub type Queue<T> = GenericQueue<T, Fifo>;

/// gevent's `JoinableQueue`: every [`Queue`] is joinable, so this is the
/// same type.
///
/// # Example
///
/// ```
/// let q = greenpatch::queue::JoinableQueue::new();
/// q.put("job");
/// q.get();
/// q.task_done().unwrap();
/// q.join();
/// ```
pub type JoinableQueue<T> = Queue<T>;

/// Last in, first out (gevent's `LifoQueue`).
///
/// # Example
///
/// ```
/// let q = greenpatch::queue::LifoQueue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(q.get(), 2);
/// ```
pub type LifoQueue<T> = GenericQueue<T, Lifo>;

/// Smallest item first (gevent's `PriorityQueue`; use `(priority, item)`
/// tuples or `Reverse`).
///
/// # Example
///
/// ```
/// let q = greenpatch::queue::PriorityQueue::new();
/// q.put((2, "b"));
/// q.put((1, "a"));
/// assert_eq!(q.get(), (1, "a"));
/// ```
pub type PriorityQueue<T> = GenericQueue<T, Priority>;

impl<T, K: Kind<T>> GenericQueue<T, K> {
    /// An unbounded queue of the flavor its item says now.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put('x');
    /// assert_eq!(q.len(), 1);
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Self::make((K::slot().get())(), 0, Location::caller())
    }

    /// A queue holding at most `maxsize` items (`put` waits while it is
    /// full); `0` means unbounded, as in gevent.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::with_maxsize(1);
    /// q.put(1);
    /// assert!(q.is_full());
    /// ```
    #[track_caller]
    pub fn with_maxsize(maxsize: usize) -> Self {
        Self::make((K::slot().get())(), maxsize, Location::caller())
    }

    /// A queue of the given flavor, whatever is patched.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{queue::Queue, Flavor};
    /// let q = Queue::<u8>::with_flavor(Flavor::Green, 0);
    /// assert_eq!(q.flavor(), Flavor::Green);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor, maxsize: usize) -> Self {
        Self::make(flavor, maxsize, Location::caller())
    }

    fn make(flavor: Flavor, maxsize: usize, site: &'static Location<'static>) -> Self {
        let imp = Flavored::of(flavor, || Arc::new(OsQueue::new::<T>(maxsize)), || K::green(maxsize));
        GenericQueue { imp, site }
    }

    /// Reports a blocking call of a pre-patch queue from a green thread.
    #[inline]
    fn check(&self) {
        if let Flavored::Blocking(_) = self.imp {
            crate::stale::check(K::slot().is_patched(), K::NAME, self.site, "made before patch_all()");
        }
    }

    /// Whether it blocks the OS thread or only the green thread.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::queue::Queue::<u8>::new().flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }

    /// Puts `item`, waiting while the queue is full.
    ///
    /// # Panics
    ///
    /// Green flavor, from plain code that nothing can ever make room for:
    /// the runtime's would-block-forever report.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(1);
    /// ```
    pub fn put(&self, item: T) {
        self.check();
        both!(&self.imp, q => q.put(item))
    }

    /// Puts `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`Full`] (holding the item) when no room appeared in time.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch::queue::Queue::with_maxsize(1);
    /// q.put(1);
    /// assert_eq!(q.put_timeout(2, Duration::from_millis(1)).unwrap_err().into_inner(), 2);
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        self.check();
        both!(&self.imp, q => q.put_timeout(item, timeout))
    }

    /// Puts `item` if there is room, without waiting.
    ///
    /// # Errors
    ///
    /// [`Full`] (holding the item) when the queue is full.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::with_maxsize(1);
    /// q.put_nowait(1).unwrap();
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
        both!(&self.imp, q => q.put_nowait(item))
    }

    /// Takes the next item, waiting while the queue is empty.
    ///
    /// # Panics
    ///
    /// Green flavor, from plain code that nothing can ever put to: the
    /// runtime's would-block-forever report.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put("a");
    /// assert_eq!(q.get(), "a");
    /// ```
    pub fn get(&self) -> T {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => loop {
                // No deadline: only an item ends the wait.
                if let Ok(item) = q.get_until(true, None) {
                    return item;
                }
            },
            Flavored::Green(q) => q.get(),
        }
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Empty`] when nothing arrived in time.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch::queue::Queue::<u8>::new();
    /// assert!(q.get_timeout(Duration::from_millis(1)).is_err());
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => q.get_until(true, Instant::now().checked_add(timeout)),
            Flavored::Green(q) => q.get_timeout(timeout),
        }
    }

    /// Takes the next item if there is one, without waiting.
    ///
    /// # Errors
    ///
    /// [`Empty`] when the queue is empty.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::<u8>::new();
    /// assert_eq!(q.get_nowait(), Err(greenpatch::queue::Empty));
    /// ```
    pub fn get_nowait(&self) -> Result<T, Empty> {
        match &self.imp {
            Flavored::Blocking(q) => q.get_until(false, None),
            Flavored::Green(q) => q.get_nowait(),
        }
    }

    /// A copy of the next item, waiting while the queue is empty; the item
    /// stays queued.
    ///
    /// # Panics
    ///
    /// As [`GenericQueue::get`].
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.peek(), 1);
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn peek(&self) -> T
    where
        T: Clone,
    {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => loop {
                if let Ok(item) = q.peek_until(true, None) {
                    return item;
                }
            },
            Flavored::Green(q) => q.peek(),
        }
    }

    /// A copy of the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Empty`] when nothing arrived in time.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch::queue::Queue::<u8>::new();
    /// assert!(q.peek_timeout(Duration::from_millis(1)).is_err());
    /// ```
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, Empty>
    where
        T: Clone,
    {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => q.peek_until(true, Instant::now().checked_add(timeout)),
            Flavored::Green(q) => q.peek_timeout(timeout),
        }
    }

    /// A copy of the next item, without waiting.
    ///
    /// # Errors
    ///
    /// [`Empty`] when the queue is empty.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(3);
    /// assert_eq!(q.peek_nowait(), Ok(3));
    /// ```
    pub fn peek_nowait(&self) -> Result<T, Empty>
    where
        T: Clone,
    {
        match &self.imp {
            Flavored::Blocking(q) => q.peek_until(false, None),
            Flavored::Green(q) => q.peek_nowait(),
        }
    }

    /// How many items are queued.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(());
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.imp {
            Flavored::Blocking(q) => q.len::<T>(),
            Flavored::Green(q) => q.len(),
        }
    }

    /// Whether no item is queued.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(greenpatch::queue::Queue::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a `put` would wait (always `false` when unbounded).
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::with_maxsize(1);
    /// assert!(!q.is_full());
    /// q.put(1);
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.maxsize().is_some_and(|m| self.len() >= m)
    }

    /// The bound, `None` when unbounded.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::queue::Queue::<u8>::with_maxsize(4).maxsize(), Some(4));
    /// assert_eq!(greenpatch::queue::Queue::<u8>::new().maxsize(), None);
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        both!(&self.imp, q => q.maxsize())
    }

    /// Marks one item taken from the queue as processed.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] when called more times than items were put
    /// (gevent's `ValueError`).
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(1);
    /// q.get();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        both!(&self.imp, q => q.task_done())
    }

    /// Items put and not yet marked done.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        both!(&self.imp, q => q.unfinished_tasks())
    }

    /// Waits until every item put has been marked done.
    ///
    /// # Panics
    ///
    /// Green flavor, from plain code that nothing can ever finish: the
    /// runtime's would-block-forever report.
    ///
    /// # Example
    ///
    /// ```
    /// let q = greenpatch::queue::Queue::<u8>::new();
    /// q.join(); // nothing was put: returns at once
    /// ```
    pub fn join(&self) {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => {
                q.join_until(None);
            }
            Flavored::Green(q) => q.join(),
        }
    }

    /// Like [`GenericQueue::join`], for at most `timeout`; returns whether
    /// every task was done.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = greenpatch::queue::Queue::new();
    /// q.put(1);
    /// assert!(!q.join_timeout(Duration::from_millis(1)));
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.check();
        match &self.imp {
            Flavored::Blocking(q) => q.join_until(Instant::now().checked_add(timeout)),
            Flavored::Green(q) => q.join_timeout(timeout),
        }
    }
}

impl<T, K: Kind<T>> Default for GenericQueue<T, K> {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<T, K: Kind<T>> Clone for GenericQueue<T, K> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            Flavored::Blocking(q) => Flavored::Blocking(q.clone()),
            Flavored::Green(q) => Flavored::Green(q.clone()),
        };
        GenericQueue { imp, site: self.site }
    }
}

impl<T, K: Kind<T>> fmt::Debug for GenericQueue<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(K::NAME)
            .field("flavor", &self.flavor())
            .field("len", &self.len())
            .field("maxsize", &self.maxsize())
            .finish()
    }
}
