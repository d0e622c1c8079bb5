//! The reactor: the only module that names mio.
//!
//! Each hub owns one `mio::Poll`. The hub sleeps in it when nothing is
//! runnable, with a timeout set by the next timer; other threads wake it
//! through the [`mio::Waker`] of its remote path (token [`WAKER`]). Sockets
//! the runtime owns are registered edge-triggered by the `io` layer with a
//! token that indexes its readiness table.
//!
//! # Invariants
//! - `io_waiters` counts green threads parked on I/O readiness of this hub;
//!   the would-block-forever check treats any of them as a possible wake-up.

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Duration;

use mio::{Events, Poll, Token};

/// Token of the remote-path waker.
pub(crate) const WAKER: Token = Token(usize::MAX);

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
}
