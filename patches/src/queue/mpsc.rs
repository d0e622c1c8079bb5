//! std's channels through the facade: [`channel`] and [`sync_channel`].
//!
//! # Model
//!
//! Both halves of a channel have the flavor read from `queue.channel` /
//! `queue.sync_channel` when the channel is made: `std::sync::mpsc` or
//! `greenpatch_runtime::mpsc`. The error types are std's in both flavors.

use std::fmt;
use std::panic::Location;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use greenpatch_runtime::mpsc as green;

use super::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError, CHANNEL, SYNC_CHANNEL};
use crate::flavor::{both, Flavored};
use crate::monkey::Slot;
use crate::Flavor;

/// Creates an unbounded channel: [`Sender::send`] never blocks.
///
/// # Example
///
/// ```
/// use greenpatch::queue::channel;
/// use greenpatch::thread::spawn;
///
/// let (tx, rx) = channel();
/// let hs: Vec<_> = (0..3).map(|i| { let tx = tx.clone(); spawn(move || tx.send(i).unwrap()) }).collect();
/// drop(tx);
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let site = Location::caller();
    match (CHANNEL.get())() {
        Flavor::Blocking => {
            let (tx, rx) = std_mpsc::channel();
            (Sender { imp: Flavored::Blocking(tx), site }, Receiver { imp: Flavored::Blocking(rx), site, sync: false })
        }
        Flavor::Green => {
            let (tx, rx) = green::channel();
            (
                Sender { imp: Flavored::Green(Arc::new(tx)), site },
                Receiver { imp: Flavored::Green(rx), site, sync: false },
            )
        }
    }
}

/// Creates a channel of at most `bound` buffered messages;
/// [`SyncSender::send`] waits while it is full, and `sync_channel(0)` is a
/// rendezvous.
///
/// # Example
///
/// ```
/// let (tx, rx) = greenpatch::queue::sync_channel(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err());
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let site = Location::caller();
    match (SYNC_CHANNEL.get())() {
        Flavor::Blocking => {
            let (tx, rx) = std_mpsc::sync_channel(bound);
            (
                SyncSender { imp: Flavored::Blocking(tx), site },
                Receiver { imp: Flavored::Blocking(rx), site, sync: true },
            )
        }
        Flavor::Green => {
            let (tx, rx) = green::sync_channel(bound);
            (
                SyncSender { imp: Flavored::Green(Arc::new(tx)), site },
                Receiver { imp: Flavored::Green(rx), site, sync: true },
            )
        }
    }
}

// In an `Arc`: the runtime's `Sender` is `Clone` only for `T: Clone`.
type SenderImpl<T> = Flavored<std_mpsc::Sender<T>, Arc<green::Sender<T>>>;

/// The sending half of a [`channel`]; clone it for more producers.
///
/// # Example
///
/// ```
/// let (tx, rx) = greenpatch::queue::channel();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv().unwrap(), "hi");
/// ```
pub struct Sender<T> {
    imp: SenderImpl<T>,
    site: &'static Location<'static>,
}

impl<T> Sender<T> {
    /// Sends a message; never blocks.
    ///
    /// # Errors
    ///
    /// [`SendError`] (holding the message) when the receiver is gone.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, rx) = greenpatch::queue::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1).unwrap_err().0, 1);
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        both!(&self.imp, tx => tx.send(t))
    }

    /// The channel's flavor.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, _rx) = greenpatch::queue::channel::<u8>();
    /// assert_eq!(tx.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            Flavored::Blocking(tx) => Flavored::Blocking(tx.clone()),
            Flavored::Green(tx) => Flavored::Green(tx.clone()),
        };
        Sender { imp, site: self.site }
    }
}

// In an `Arc`, as `Flavored::Green`.
type SyncImpl<T> = Flavored<std_mpsc::SyncSender<T>, Arc<green::SyncSender<T>>>;

/// The sending half of a [`sync_channel`]; clone it for more producers.
///
/// # Example
///
/// ```
/// let (tx, rx) = greenpatch::queue::sync_channel(1);
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
pub struct SyncSender<T> {
    imp: SyncImpl<T>,
    site: &'static Location<'static>,
}

impl<T> SyncSender<T> {
    /// Sends a message, waiting while the buffer is full (or, for a
    /// rendezvous channel, until the receiver takes it).
    ///
    /// # Errors
    ///
    /// [`SendError`] (holding the message) when the receiver is gone.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, rx) = greenpatch::queue::sync_channel(1);
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 5);
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match &self.imp {
            Flavored::Blocking(tx) => {
                check(&SYNC_CHANNEL, self.site);
                tx.send(t)
            }
            Flavored::Green(tx) => tx.send(t),
        }
    }

    /// Sends a message if there is room, without waiting.
    ///
    /// # Errors
    ///
    /// `Full` or `Disconnected`, holding the message.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, _rx) = greenpatch::queue::sync_channel(0);
    /// assert!(tx.try_send(1).is_err()); // nobody is receiving
    /// ```
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        both!(&self.imp, tx => tx.try_send(t))
    }

    /// The channel's flavor.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, _rx) = greenpatch::queue::sync_channel::<u8>(1);
    /// assert_eq!(tx.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            Flavored::Blocking(tx) => Flavored::Blocking(tx.clone()),
            Flavored::Green(tx) => Flavored::Green(tx.clone()),
        };
        SyncSender { imp, site: self.site }
    }
}

type RxImpl<T> = Flavored<std_mpsc::Receiver<T>, green::Receiver<T>>;

/// The receiving half of a channel (one consumer).
///
/// # Example
///
/// ```
/// let (tx, rx) = greenpatch::queue::channel::<u8>();
/// drop(tx);
/// assert!(rx.recv().is_err());
/// ```
pub struct Receiver<T> {
    imp: RxImpl<T>,
    site: &'static Location<'static>,
    sync: bool,
}

/// Reports a blocking call of a pre-patch channel from a green thread.
#[inline]
fn check(slot: &Slot<fn() -> Flavor>, site: &'static Location<'static>) {
    crate::stale::check(slot.is_patched(), "channel", site, "made before patch_all()");
}

impl<T> Receiver<T> {
    fn check(&self) {
        if let Flavored::Blocking(_) = self.imp {
            check(if self.sync { &SYNC_CHANNEL } else { &CHANNEL }, self.site);
        }
    }

    /// Waits for a message.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the buffer is empty.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, rx) = greenpatch::queue::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.check();
        both!(&self.imp, rx => rx.recv())
    }

    /// Takes a message if one is buffered, without waiting.
    ///
    /// # Errors
    ///
    /// `Empty` or `Disconnected`.
    ///
    /// # Example
    ///
    /// ```
    /// let (_tx, rx) = greenpatch::queue::channel::<u8>();
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        both!(&self.imp, rx => rx.try_recv())
    }

    /// Waits at most `timeout` for a message.
    ///
    /// # Errors
    ///
    /// `Timeout` or `Disconnected`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = greenpatch::queue::channel::<u8>();
    /// assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.check();
        both!(&self.imp, rx => rx.recv_timeout(timeout))
    }

    /// A blocking iterator over messages, ending when every sender is gone.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, rx) = greenpatch::queue::channel();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the buffered messages only.
    ///
    /// # Example
    ///
    /// ```
    /// let (tx, rx) = greenpatch::queue::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// The channel's flavor.
    ///
    /// # Example
    ///
    /// ```
    /// let (_tx, rx) = greenpatch::queue::channel::<u8>();
    /// assert_eq!(rx.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }
}

greenpatch_runtime::__receiver_iterators!("greenpatch::queue");

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("flavor", &self.flavor()).finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").field("flavor", &self.flavor()).finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("flavor", &self.flavor()).finish_non_exhaustive()
    }
}
