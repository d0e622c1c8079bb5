//! The reactor: the only module that names mio.
//!
//! Each hub owns one `mio::Poll`. The hub sleeps in it when nothing is
//! runnable, with a timeout set by the next timer; other threads wake it
//! through the [`mio::Waker`] of its remote path (token [`WAKER`]). Sockets
//! the runtime owns are registered edge-triggered ([`register_socket`]) by
//! the hub's readiness table (`hub/readiness.rs`) with a token that indexes
//! that table. Other modules use mio's types through the names re-exported
//! here ([`Token`], [`Waker`], [`Registry`]).
//!
//! Descriptors the runtime does *not* own (a driver plugin's connection fd)
//! are waited on through an [`FdPoller`]: a `polling` poller in oneshot
//! mode whose own epoll fd is registered in the hub's mio poll under token
//! [`FD_POLLER`] (nested polling). The hub's `hub/fds.rs` owns its waiters.
//!
//! # Invariants
//! - `io_waiters` counts green threads parked on I/O readiness of this hub
//!   (sockets and foreign descriptors alike); the would-block-forever check
//!   treats any of them as a possible wake-up.
//! - Socket tokens never equal [`WAKER`], [`FD_POLLER`] or
//!   [`FOREIGN_SWEEP`] (the readiness table keeps its generations below
//!   `u32::MAX`).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use mio::{Events, Interest as MioInterest, Poll};
pub(crate) use mio::{Registry, Token, Waker};

/// Token of the remote-path waker.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// Token of the hub's nested [`FdPoller`].
pub(crate) const FD_POLLER: Token = Token(usize::MAX - 1);

/// Token of the hub's foreign-registration sweep timer (a timerfd, see
/// `Hub::wait_foreign`).
pub(crate) const FOREIGN_SWEEP: Token = Token(usize::MAX - 2);

/// One hub's poller.
pub(crate) struct Reactor {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    io_waiters: Cell<usize>,
}

impl Reactor {
    /// Creates the poller and the waker other threads use to reach it.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker, mio::Registry)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let registry = poll.registry().try_clone()?;
        let reactor = Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(1024)),
            io_waiters: Cell::new(0),
        };
        Ok((reactor, waker, registry))
    }

    /// Waits for readiness up to `timeout` (`None`: until woken) and hands
    /// each ready token to `ready`. Returns the number of events.
    pub(crate) fn poll(&self, timeout: Option<Duration>, mut ready: impl FnMut(Token, Readiness)) -> usize {
        let mut events = self.events.borrow_mut();
        let res = self.poll.borrow_mut().poll(&mut events, timeout);
        if let Err(e) = res {
            // EINTR is a spurious wake-up; anything else means the epoll fd
            // is unusable, which only happens on resource exhaustion.
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("greenpatch: reactor poll failed: {e}");
            }
            return 0;
        }
        let mut n = 0;
        for ev in events.iter() {
            n += 1;
            if ev.token() == WAKER {
                continue;
            }
            ready(
                ev.token(),
                Readiness {
                    readable: ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    writable: ev.is_writable() || ev.is_write_closed() || ev.is_error(),
                    always_read: ev.is_read_closed() || ev.is_error() || ev.is_priority(),
                },
            );
        }
        n
    }

    /// The registry sockets register with.
    pub(crate) fn with_registry<R>(&self, f: impl FnOnce(&mio::Registry) -> R) -> R {
        f(self.poll.borrow().registry())
    }

    pub(crate) fn io_waiters(&self) -> usize {
        self.io_waiters.get()
    }

    pub(crate) fn add_io_waiter(&self, delta: isize) {
        self.io_waiters.set(self.io_waiters.get().wrapping_add_signed(delta));
    }
}

/// Readiness reported for one token.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// A short read no longer proves the receive queue empty: the read
    /// side reached a final state (end of stream, hang-up, error: reads
    /// return at once from now on, and no further edge need ever come), or
    /// urgent data arrived (a TCP read stops short at the urgent mark with
    /// bytes queued behind it).
    pub(crate) always_read: bool,
}

/// Which readiness a foreign-descriptor wait asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Interest {
    pub(crate) read: bool,
    pub(crate) write: bool,
}

/// A oneshot poller for descriptors the runtime does not own, nested in a
/// hub's mio poll (see the module docs).
///
/// # Invariant
/// Every descriptor added is deleted (by its owner, `hub/fds.rs`)
/// before the wait that added it returns, so the poller never refers to a
/// descriptor the caller may close.
pub(crate) struct FdPoller {
    poller: polling::Poller,
    events: RefCell<polling::Events>,
}

impl FdPoller {
    /// Creates the poller and registers its fd in `registry` under
    /// [`FD_POLLER`], edge-triggered readable.
    pub(crate) fn new(registry: &mio::Registry) -> io::Result<FdPoller> {
        use std::os::fd::AsRawFd;
        let poller = polling::Poller::new()?;
        let fd = poller.as_raw_fd();
        registry.register(&mut mio::unix::SourceFd(&fd), FD_POLLER, mio::Interest::READABLE)?;
        let cap = std::num::NonZeroUsize::new(64).unwrap_or(std::num::NonZeroUsize::MIN);
        Ok(FdPoller { poller, events: RefCell::new(polling::Events::with_capacity(cap)) })
    }

    fn event(key: usize, i: Interest) -> polling::Event {
        polling::Event::new(key, i.read, i.write)
    }

    /// Starts a oneshot wait on `fd`.
    ///
    /// # Safety
    /// `fd` must stay open until [`FdPoller::delete`] is called for it.
    pub(crate) unsafe fn add(&self, fd: RawFd, key: usize, i: Interest) -> io::Result<()> {
        // SAFETY: forwarded to our caller (delete before close).
        unsafe { self.poller.add(fd, Self::event(key, i)) }
    }

    /// Re-arms the oneshot wait on `fd` (after it fired or its interest
    /// changed). `fd` must have been added and not deleted.
    pub(crate) fn modify(&self, fd: RawFd, key: usize, i: Interest) -> io::Result<()> {
        // SAFETY: the fd is open: it was added under `add`'s contract and
        // not deleted yet; the borrow ends with this call.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        self.poller.modify(b, Self::event(key, i))
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: as in `modify`: still open per `add`'s contract.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        self.poller.delete(b)
    }

    /// Collects every ready event without blocking, draining the poller
    /// completely (the outer registration is edge-triggered).
    pub(crate) fn drain(&self, mut ready: impl FnMut(usize, Interest)) {
        let mut events = self.events.borrow_mut();
        loop {
            events.clear();
            if self.poller.wait(&mut events, Some(Duration::ZERO)).is_err() {
                return;
            }
            let n = events.len();
            for ev in events.iter() {
                ready(ev.key, Interest { read: ev.readable, write: ev.writable });
            }
            if n < events.capacity().get() {
                return;
            }
        }
    }
}

/// What every owned socket registers for: both directions, and on Linux
/// urgent data too (`EPOLLPRI`), which the short-read rule must hear of.
fn socket_interests() -> MioInterest {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return MioInterest::READABLE | MioInterest::WRITABLE | MioInterest::PRIORITY;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return MioInterest::READABLE | MioInterest::WRITABLE;
}

/// Registers an owned socket's `fd` edge-triggered for both directions
/// (and urgent data) under `token`.
pub(crate) fn register_socket(registry: &Registry, fd: RawFd, token: Token) -> io::Result<()> {
    registry.register(&mut mio::unix::SourceFd(&fd), token, socket_interests())
}

/// Registers a timer descriptor (a timerfd) for readability under `token`.
pub(crate) fn register_timer(registry: &Registry, fd: RawFd, token: Token) -> io::Result<()> {
    registry.register(&mut mio::unix::SourceFd(&fd), token, MioInterest::READABLE)
}

/// Re-arms `fd`'s registration under `token` (`EPOLL_CTL_MOD`): fails
/// (`ENOENT`) when the poll no longer holds the file `fd` now names (it
/// was closed, its number perhaps reused). On success the kernel rechecks
/// readiness, so a direction already ready raises an event.
pub(crate) fn reregister_socket(registry: &Registry, fd: RawFd, token: Token) -> io::Result<()> {
    registry.reregister(&mut mio::unix::SourceFd(&fd), token, socket_interests())
}

/// Removes `fd` from the poll `registry` belongs to (any thread may:
/// `epoll_ctl` is thread-safe).
pub(crate) fn deregister(registry: &Registry, fd: RawFd) -> io::Result<()> {
    registry.deregister(&mut mio::unix::SourceFd(&fd))
}
