//! The core every green socket type wraps: a std socket whose descriptor
//! is always non-blocking at the OS level, its reactor [`Registration`],
//! and the blocking-mode options std keeps in the kernel (timeouts,
//! non-blocking), which a green socket keeps here instead.
//!
//! # Invariants
//! - `sock`'s descriptor has `O_NONBLOCK` set for as long as it is here;
//!   what the user chose is in `opts`. Leaving (into std, into a raw fd)
//!   writes the user's choice back to the kernel.
//! - `reg` is deregistered before `sock` is closed (`Drop`).

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::hub::Hub;
use crate::io::{Dir, Registration};

/// The most one `read` moves on Linux (`INT_MAX` rounded down to a page).
const MAX_RW_COUNT: usize = 0x7fff_f000;

/// What std would keep in the kernel for a blocking socket.
pub(crate) struct Opts {
    nonblocking: AtomicBool,
    /// Nanoseconds; 0 = no timeout.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

fn to_nanos(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1))
}

fn from_nanos(n: u64) -> Option<Duration> {
    (n != 0).then(|| Duration::from_nanos(n))
}

/// The error std returns for a zero timeout.
pub(crate) fn zero_timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout")
}

/// What a blocking call returns when its socket timeout expires: `EAGAIN`,
/// exactly as std's `SO_RCVTIMEO`/`SO_SNDTIMEO` on Linux.
pub(crate) fn timed_out() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// Whether `fd` has `O_NONBLOCK` set.
pub(crate) fn os_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL reads the descriptor's flags; an invalid fd only
    // yields -1, which we treat as "blocking".
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub(crate) fn set_os_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let mut flag = libc::c_int::from(on);
    // SAFETY: FIONBIO reads one c_int from a valid pointer.
    let r = unsafe { libc::ioctl(fd, libc::FIONBIO, &mut flag) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A green socket's core (see the module docs).
pub(crate) struct Socket<S: AsRawFd> {
    pub(crate) sock: S,
    pub(crate) reg: Registration,
    pub(crate) opts: Opts,
}

impl<S: AsRawFd> Socket<S> {
    /// Wraps a socket whose descriptor is already non-blocking.
    pub(crate) fn new(sock: S, nonblocking: bool) -> Socket<S> {
        Socket {
            sock,
            reg: Registration::new(),
            opts: Opts {
                nonblocking: AtomicBool::new(nonblocking),
                read_timeout: AtomicU64::new(0),
                write_timeout: AtomicU64::new(0),
            },
        }
    }

    /// Adopts a socket from outside (std, a raw fd): remembers whether the
    /// user made it non-blocking, then makes it non-blocking for us.
    pub(crate) fn adopt(sock: S) -> Socket<S> {
        let fd = sock.as_raw_fd();
        let was = os_nonblocking(fd);
        if !was {
            // Failure leaves a blocking fd: operations then block the OS
            // thread (std's behaviour) instead of failing.
            let _ = set_os_nonblocking(fd, true);
        }
        Socket::new(sock, was)
    }

    /// Runs `op` as a blocking call in `dir`: the system call first; on
    /// `WouldBlock`, park until ready (or fail per the options) and retry.
    #[inline]
    pub(crate) fn io<R>(&self, dir: Dir, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        // Spent before the call (see `coop.rs`): a yield there may unwind
        // with a kill, which must not lose what the call returned.
        crate::coop::spend();
        // Our descriptors are non-blocking: their system calls go straight
        // to the C library, past any C-level hook (foreign.rs).
        let mut op = |s: &S| crate::foreign::internal(|| op(s));
        match op(&self.sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io_wait(dir, e, &mut op),
            r => r,
        }
    }

    /// Runs a stream read of at most `len` bytes as a blocking call, with
    /// the short-read rule: a read that returns fewer bytes than asked (but
    /// some) emptied the kernel's receive queue, so readiness is cleared at
    /// once and the next read, if nothing new was reported, parks without
    /// first making a system call that would return `EAGAIN`.
    ///
    /// Only for byte streams whose short reads mean "queue empty": TCP.
    /// (A Unix stream may stop short at a message carrying credentials or
    /// descriptors; datagrams and `peek` never drain.) A socket the user
    /// made non-blocking always makes the call.
    #[inline]
    pub(crate) fn read_stream(&self, len: usize, mut op: impl FnMut(&S) -> io::Result<usize>) -> io::Result<usize> {
        // The kernel moves at most MAX_RW_COUNT bytes in one call.
        let len = len.min(MAX_RW_COUNT);
        // The hub is looked up once per read and handed down (a thread
        // without one yet gets it on its first wait).
        let hub = Hub::try_current();
        let mut op = |s: &S| {
            // Straight to the C library, past any C-level hook (foreign.rs).
            let r = crate::foreign::internal(|| op(s));
            if matches!(r, Ok(n) if n != 0 && n < len) {
                if let Some(hub) = hub.or_else(Hub::try_current) {
                    self.reg.drained(hub, Dir::Read);
                }
            }
            r
        };
        let Some(hub) = hub else { return self.io(Dir::Read, op) };
        crate::coop::spend();
        if self.reg.known_drained(hub, Dir::Read) && !self.nonblocking() {
            return self.read_drained(hub, &mut op);
        }
        match op(&self.sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io_wait_at(hub, Dir::Read, e, &mut op),
            r => r,
        }
    }

    /// The read path when readiness is known clear: wait first, then read.
    #[cold]
    fn read_drained(&self, hub: &Hub, op: &mut impl FnMut(&S) -> io::Result<usize>) -> io::Result<usize> {
        self.wait_loop(hub, Dir::Read, self.deadline(Dir::Read), op, false)
    }

    #[cold]
    fn io_wait<R>(&self, dir: Dir, e: io::Error, op: &mut impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io_wait_at(Hub::get()?, dir, e, op)
    }

    #[cold]
    fn io_wait_at<R>(
        &self,
        hub: &Hub,
        dir: Dir,
        e: io::Error,
        op: &mut impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        if self.nonblocking() {
            return Err(e);
        }
        self.wait_loop(hub, dir, self.deadline(dir), op, true)
    }

    /// When a blocking call in `dir` that starts now times out.
    fn deadline(&self, dir: Dir) -> Option<Instant> {
        let timeout = match dir {
            Dir::Read => self.read_timeout(),
            Dir::Write => self.write_timeout(),
        };
        timeout.and_then(|t| Instant::now().checked_add(t))
    }

    /// Waits at `hub` for `dir` until `deadline`, retrying `op` after each
    /// wake-up. Timeout: `EAGAIN`, like std's socket timeouts — after one
    /// last try of `op`: a hub that ran late (a green thread held it past
    /// the deadline, or the OS did not schedule its thread) fires the
    /// timer before it polls, and data that arrived in time must still be
    /// returned, as a kernel timeout would. `clear: false` when the first
    /// wait follows no failed call (see [`Registration::wait_with`]).
    fn wait_loop<R>(
        &self,
        hub: &Hub,
        dir: Dir,
        deadline: Option<Instant>,
        op: &mut impl FnMut(&S) -> io::Result<R>,
        mut clear: bool,
    ) -> io::Result<R> {
        let fd = self.sock.as_raw_fd();
        let mut op = |s: &S| crate::foreign::internal(|| op(s));
        loop {
            if !self.reg.wait_with(hub, fd, dir, deadline, std::mem::replace(&mut clear, true))? {
                return match op(&self.sock) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(timed_out()),
                    r => r,
                };
            }
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r,
            }
        }
    }

    pub(crate) fn nonblocking(&self) -> bool {
        self.opts.nonblocking.load(Ordering::Relaxed)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.opts.nonblocking.store(on, Ordering::Relaxed);
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        from_nanos(self.opts.read_timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        from_nanos(self.opts.write_timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(zero_timeout_error());
        }
        self.opts.read_timeout.store(to_nanos(t), Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(zero_timeout_error());
        }
        self.opts.write_timeout.store(to_nanos(t), Ordering::Relaxed);
        Ok(())
    }

    /// Copies the options of `self` onto a clone's core.
    pub(crate) fn clone_with(&self, sock: S) -> Socket<S> {
        let s = Socket::new(sock, self.nonblocking());
        s.opts.read_timeout.store(self.opts.read_timeout.load(Ordering::Relaxed), Ordering::Relaxed);
        s.opts.write_timeout.store(self.opts.write_timeout.load(Ordering::Relaxed), Ordering::Relaxed);
        s
    }

    /// Leaves the runtime: deregisters and restores the user's blocking
    /// mode in the kernel. Timeouts are the caller's to write back.
    pub(crate) fn into_inner(self) -> S {
        let mut me = ManuallyDrop::new(self);
        let fd = me.sock.as_raw_fd();
        me.reg.deregister();
        if !me.nonblocking() {
            let _ = set_os_nonblocking(fd, false);
        }
        // SAFETY: `me` is never used or dropped again (ManuallyDrop), so
        // each field is moved out exactly once; `opts` holds only atomics
        // (nothing to drop).
        unsafe {
            drop(std::ptr::read(&me.reg));
            std::ptr::read(&me.sock)
        }
    }
}

impl<S: AsRawFd> Drop for Socket<S> {
    fn drop(&mut self) {
        self.reg.deregister();
    }
}

/// Std-shaped conversions and descriptor traits for a green socket type
/// `$t` wrapping `Socket<$std>` in a field named `inner`.
macro_rules! socket_common {
    ($t:ident, $std:ty) => {
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.inner.sock)
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.inner.sock)
            }
        }

        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(<$std>::from(self))
            }
        }

        impl std::os::fd::FromRawFd for $t {
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $t {
                // SAFETY: forwarded: the caller hands over an open socket
                // descriptor that it owns.
                <$t>::from(unsafe { <$std as std::os::fd::FromRawFd>::from_raw_fd(fd) })
            }
        }

        impl From<std::os::fd::OwnedFd> for $t {
            fn from(fd: std::os::fd::OwnedFd) -> $t {
                <$t>::from(<$std>::from(fd))
            }
        }

        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                <$std>::from(s).into()
            }
        }

        /// What std prints for its socket of the same name (`addr`,
        /// `peer`, `fd` for IP sockets; `fd`, `local`, `peer` for Unix ones).
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.inner.sock, f)
            }
        }
    };
}

/// The four std timeout methods, for types that have them.
macro_rules! socket_timeouts {
    ($t:ident, $example:literal) => {
        impl $t {
            /// Sets the read timeout: a read that waits longer fails with
            /// `WouldBlock` (`EAGAIN`, as std on Linux). `None`: wait forever.
            /// Only the calling green thread waits.
            ///
            /// # Errors
            /// `InvalidInput` for a zero duration (as std).
            ///
            /// ```
            #[doc = $example]
            /// use std::time::Duration;
            /// s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            /// assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(50)));
            /// assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
            /// ```
            pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_read_timeout(dur)
            }

            /// Sets the write timeout (see [`set_read_timeout`](Self::set_read_timeout)).
            ///
            /// # Errors
            /// `InvalidInput` for a zero duration (as std).
            ///
            /// ```
            #[doc = $example]
            /// use std::time::Duration;
            /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(1)));
            /// ```
            pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_write_timeout(dur)
            }

            /// The read timeout.
            ///
            /// # Errors
            /// Never (the signature is std's).
            ///
            /// ```
            #[doc = $example]
            /// assert_eq!(s.read_timeout().unwrap(), None);
            /// ```
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.read_timeout())
            }

            /// The write timeout.
            ///
            /// # Errors
            /// Never (the signature is std's).
            ///
            /// ```
            #[doc = $example]
            /// assert_eq!(s.write_timeout().unwrap(), None);
            /// ```
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.write_timeout())
            }
        }
    };
}

/// `set_nonblocking` and `take_error`, common to every type.
macro_rules! socket_mode {
    ($t:ident, $example:literal) => {
        impl $t {
            /// In non-blocking mode an operation that would wait returns
            /// `WouldBlock` instead of parking the green thread (as std).
            ///
            /// # Errors
            /// Never (the signature is std's).
            ///
            /// ```
            #[doc = $example]
            /// s.set_nonblocking(true).unwrap();
            /// ```
            pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
                self.inner.set_nonblocking(nonblocking);
                Ok(())
            }

            /// Takes the pending `SO_ERROR` of the socket.
            ///
            /// # Errors
            /// The `getsockopt` call failed.
            ///
            /// ```
            #[doc = $example]
            /// assert!(s.take_error().unwrap().is_none());
            /// ```
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.inner.sock.take_error()
            }
        }
    };
}

pub(crate) use {socket_common, socket_mode, socket_timeouts};
