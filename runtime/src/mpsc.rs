//! std's channels (`std::sync::mpsc`), blocking only the green thread.
//!
//! Same functions, types, methods and error types as std — the errors *are*
//! std's (`SendError`, `TrySendError`, `RecvError`, `TryRecvError`,
//! `RecvTimeoutError`), so switching is an import change:
//!
//! - [`channel`]: unbounded; `send` never blocks.
//! - [`sync_channel`]`(n)`: at most `n` buffered messages; `send` blocks the
//!   green thread while full. `sync_channel(0)` is a rendezvous: `send`
//!   returns only once a receiver has taken the message.
//! - Disconnection as in std: once every sender is gone, `recv` drains what
//!   is buffered and then fails; once the receiver is gone, `send` fails
//!   and returns the message (buffered messages are dropped).
//!
//! Every blocking call works from green threads on any hub and from plain
//! OS threads, in any combination.
//!
//! # Model
//! A FIFO behind a briefly held std mutex, with its length and the handle
//! counts in atomics, and wait-lists for receivers and blocked senders (the
//! internal `chan` module, shared with [`queue`](crate::queue)). A green
//! thread killed while it waits in `recv` or `send` passes any wake-up it
//! had received on; a rendezvous sender killed before its message was taken
//! takes the message back, so it is never delivered.
//!
//! # Would block forever
//! `recv`, `send` on a full `SyncSender` and the iterators block without a
//! time limit; called from plain code that nothing in the process can ever
//! wake, they panic with the runtime's would-block-forever report (std's
//! error types have no room for it).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::queue::chan::{Chan, Names, PopError, PushError, UNBOUNDED};
use crate::queue::Fifo;

static NAMES: Names = Names { recv: "channel recv", send: "channel send" };

type Shared<T> = Arc<Chan<T, Fifo<T>>>;

/// Creates an unbounded channel: [`Sender::send`] never blocks.
///
/// ```
/// use greenpatch_runtime::mpsc::channel;
/// let (tx, rx) = channel();
/// for i in 0..3 {
///     let tx = tx.clone();
///     greenpatch_runtime::spawn(move || tx.send(i).unwrap());
/// }
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(UNBOUNDED, false, &NAMES));
    (Sender { tx: Tx(chan.clone()) }, Receiver::new(chan))
}

/// Creates a bounded channel holding at most `bound` messages;
/// `sync_channel(0)` is a rendezvous.
///
/// ```
/// use greenpatch_runtime::mpsc::sync_channel;
/// let (tx, rx) = sync_channel(0);
/// let h = greenpatch_runtime::spawn(move || tx.send(7).unwrap()); // waits for the recv
/// assert_eq!(rx.recv(), Ok(7));
/// h.join().unwrap();
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(bound, false, &NAMES));
    (SyncSender { tx: Tx(chan.clone()) }, Receiver::new(chan))
}

/// A sending reference: counts as a live sender until dropped.
struct Tx<T>(Shared<T>);

impl<T> Clone for Tx<T> {
    fn clone(&self) -> Tx<T> {
        self.0.add_sender();
        Tx(self.0.clone())
    }
}

impl<T> Drop for Tx<T> {
    fn drop(&mut self) {
        self.0.drop_sender();
    }
}

/// The sending half of a [`channel`]; clone it for more producers (the
/// values need not be `Clone`).
///
/// ```
/// let (tx, rx) = greenpatch_runtime::mpsc::channel();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv().unwrap(), "hi");
/// struct NotClone;
/// let (tx, _rx) = greenpatch_runtime::mpsc::channel::<NotClone>();
/// let _more = tx.clone();
/// ```
pub struct Sender<T> {
    tx: Tx<T>,
}

// By hand: a derive would require `T: Clone`; cloning a sender never clones a value.
impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { tx: self.tx.clone() }
    }
}

/// The sending half of a [`sync_channel`]; clone it for more producers.
///
/// ```
/// let (tx, rx) = greenpatch_runtime::mpsc::sync_channel(1);
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
pub struct SyncSender<T> {
    tx: Tx<T>,
}

// By hand, as for `Sender`.
impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender { tx: self.tx.clone() }
    }
}

/// The receiving half of a channel (one consumer: not `Clone`, not `Sync`).
///
/// ```
/// let (tx, rx) = greenpatch_runtime::mpsc::channel::<u8>();
/// drop(tx);
/// assert!(rx.recv().is_err());
/// ```
pub struct Receiver<T> {
    chan: Shared<T>,
    _not_sync: PhantomData<Cell<()>>,
}

fn send_error<T>(e: PushError<T>) -> SendError<T> {
    match e {
        PushError::Full(t) | PushError::Disconnected(t) | PushError::Timeout(t) => SendError(t),
    }
}

impl<T> Sender<T> {
    /// Sends a message; never blocks.
    ///
    /// # Errors
    /// [`SendError`] (with the message) if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = greenpatch_runtime::mpsc::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1).unwrap_err().0, 1);
    /// ```
    #[inline]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.tx.0.try_push(t).map_err(send_error)
    }
}

impl<T> SyncSender<T> {
    /// Sends a message, blocking the green thread while the channel is
    /// full; on a rendezvous channel, until a receiver has taken it.
    ///
    /// # Errors
    /// [`SendError`] (with the message) if the receiver is gone (also if it
    /// leaves while a rendezvous send waits).
    ///
    /// # Panics
    /// From plain code, if nothing in the process can ever receive (the
    /// message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let (tx, rx) = greenpatch_runtime::mpsc::sync_channel(1);
    /// tx.send(1).unwrap();
    /// let h = greenpatch_runtime::spawn(move || tx.send(2).unwrap()); // waits for room
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert_eq!(rx.recv(), Ok(2));
    /// h.join().unwrap();
    /// ```
    #[inline]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.tx.0.push(t, None).map_err(send_error)
    }

    /// Sends a message if there is room now (on a rendezvous channel: if a
    /// receiver is waiting), without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the
    /// message.
    ///
    /// ```
    /// use std::sync::mpsc::TrySendError;
    /// let (tx, _rx) = greenpatch_runtime::mpsc::sync_channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    #[inline]
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.tx.0.try_push(t).map_err(|e| match e {
            PushError::Disconnected(t) => TrySendError::Disconnected(t),
            PushError::Full(t) | PushError::Timeout(t) => TrySendError::Full(t),
        })
    }
}

impl<T> Receiver<T> {
    /// The channel's core (for waits on many sources, `crate::wait`).
    pub(crate) fn chan(&self) -> &Chan<T, Fifo<T>> {
        &self.chan
    }

    fn new(chan: Shared<T>) -> Receiver<T> {
        Receiver { chan, _not_sync: PhantomData }
    }

    /// Receives a message, blocking the green thread until one arrives.
    ///
    /// # Errors
    /// [`RecvError`] once every sender is gone and the buffer is empty.
    ///
    /// # Panics
    /// From plain code, if no message can ever arrive although a sender
    /// lives (the message is the runtime's would-block-forever report).
    ///
    /// ```
    /// let (tx, rx) = greenpatch_runtime::mpsc::channel();
    /// greenpatch_runtime::spawn(move || tx.send(5).unwrap());
    /// assert_eq!(rx.recv(), Ok(5));
    /// assert!(rx.recv().is_err()); // the sender finished and dropped `tx`
    /// ```
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.pop(None).map_err(|_| RecvError)
    }

    /// Receives a message if one is buffered, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once
    /// every sender is gone and the buffer is empty.
    ///
    /// ```
    /// use std::sync::mpsc::TryRecvError;
    /// let (tx, rx) = greenpatch_runtime::mpsc::channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_pop().map_err(|e| match e {
            PopError::Disconnected => TryRecvError::Disconnected,
            PopError::Empty | PopError::Timeout => TryRecvError::Empty,
        })
    }

    /// Receives a message, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`], or [`RecvTimeoutError::Disconnected`]
    /// once every sender is gone and the buffer is empty.
    ///
    /// ```
    /// use std::sync::mpsc::RecvTimeoutError;
    /// use std::time::Duration;
    /// let (_tx, rx) = greenpatch_runtime::mpsc::channel::<u8>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        // Overflowing deadlines wait without one (std does the same).
        self.chan.pop(Instant::now().checked_add(timeout)).map_err(|e| match e {
            PopError::Disconnected => RecvTimeoutError::Disconnected,
            PopError::Empty | PopError::Timeout => RecvTimeoutError::Timeout,
        })
    }

    /// An iterator that blocks for each message and ends once every sender
    /// is gone.
    ///
    /// ```
    /// let (tx, rx) = greenpatch_runtime::mpsc::channel();
    /// greenpatch_runtime::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().sum::<i32>(), 6);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages buffered now; never blocks.
    ///
    /// ```
    /// let (tx, rx) = greenpatch_runtime::mpsc::channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

/// The iterators of a channel's `Receiver<T>` (which has `recv` and
/// `try_recv`): `Iter`, `TryIter`, `IntoIter` and the two `IntoIterator`
/// impls, declared in the calling module, whose path (`$path`, for the doc
/// examples) has a `channel` function. Written once for this module and
/// greenpatch's `queue`; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __receiver_iterators {
    ($path:literal) => {
        /// Blocking iterator over a [`Receiver`]'s messages ([`Receiver::iter`]).
        ///
        /// ```
        #[doc = concat!("let (tx, rx) = ", $path, "::channel();")]
        /// tx.send(1).unwrap();
        /// drop(tx);
        #[doc = concat!("let mut it: ", $path, "::Iter<'_, i32> = rx.iter();")]
        /// assert_eq!(it.next(), Some(1));
        /// assert_eq!(it.next(), None);
        /// ```
        #[derive(Debug)]
        pub struct Iter<'a, T: 'a> {
            rx: &'a Receiver<T>,
        }

        /// Non-blocking iterator over a [`Receiver`]'s buffered messages
        /// ([`Receiver::try_iter`]).
        ///
        /// ```
        #[doc = concat!("let (_tx, rx) = ", $path, "::channel::<u8>();")]
        #[doc = concat!("let mut it: ", $path, "::TryIter<'_, u8> = rx.try_iter();")]
        /// assert_eq!(it.next(), None);
        /// ```
        #[derive(Debug)]
        pub struct TryIter<'a, T: 'a> {
            rx: &'a Receiver<T>,
        }

        /// Owning blocking iterator over a [`Receiver`]'s messages.
        ///
        /// ```
        #[doc = concat!("let (tx, rx) = ", $path, "::channel();")]
        /// tx.send('a').unwrap();
        /// drop(tx);
        #[doc = concat!("let it: ", $path, "::IntoIter<char> = rx.into_iter();")]
        /// assert_eq!(it.collect::<String>(), "a");
        /// ```
        #[derive(Debug)]
        pub struct IntoIter<T> {
            rx: Receiver<T>,
        }

        impl<T> Iterator for Iter<'_, T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.recv().ok()
            }
        }

        impl<T> Iterator for TryIter<'_, T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.try_recv().ok()
            }
        }

        impl<T> Iterator for IntoIter<T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.recv().ok()
            }
        }

        impl<'a, T> IntoIterator for &'a Receiver<T> {
            type Item = T;
            type IntoIter = Iter<'a, T>;
            fn into_iter(self) -> Iter<'a, T> {
                Iter { rx: self }
            }
        }

        impl<T> IntoIterator for Receiver<T> {
            type Item = T;
            type IntoIter = IntoIter<T>;
            fn into_iter(self) -> IntoIter<T> {
                IntoIter { rx: self }
            }
        }
    };
}

crate::__receiver_iterators!("greenpatch_runtime::mpsc");

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
