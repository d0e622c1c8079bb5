//! Green TCP: [`TcpListener`] and [`TcpStream`], std's API over the reactor.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Type};

use super::addr::{each_addr_on_pool as each_addr, ToSocketAddrs};
use super::socket::{socket_common, socket_mode, socket_timeouts, zero_timeout_error, Socket};
use crate::hub::Hub;
use crate::io::Dir;

/// A TCP server socket whose `accept` parks only the calling green thread.
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch_runtime::{net::{TcpListener, TcpStream}, spawn};
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = spawn(move || {
///     let (mut s, _) = listener.accept().unwrap();
///     let mut buf = [0; 5];
///     s.read_exact(&mut buf).unwrap();
///     s.write_all(&buf).unwrap();
/// });
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"hello").unwrap();
/// let mut buf = [0; 5];
/// c.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// server.join().unwrap();
/// ```
pub struct TcpListener {
    inner: Socket<std::net::TcpListener>,
}

/// A TCP connection whose reads and writes park only the calling green
/// thread. `&TcpStream` implements `Read` and `Write` too, so a reader and
/// a writer green thread can share one stream.
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch_runtime::net::{TcpListener, TcpStream};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
/// let (mut s, peer) = l.accept().unwrap();
/// assert_eq!(peer, c.local_addr().unwrap());
/// c.write_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// s.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// ```
pub struct TcpStream {
    pub(super) inner: Socket<std::net::TcpStream>,
}

socket_common!(TcpListener, std::net::TcpListener);
socket_common!(TcpStream, std::net::TcpStream);
socket_mode!(TcpListener, "let s = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();");
socket_mode!(
    TcpStream,
    "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"
);
socket_timeouts!(
    TcpStream,
    "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"
);

/// Calls `accept4` for a non-blocking, close-on-exec connection.
fn accept4(fd: i32) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    // SAFETY: `try_init` hands the closure a zeroed `sockaddr_storage` and
    // its length, which `accept4` fills; the returned fd is new and owned.
    let (fd, addr) = unsafe {
        SockAddr::try_init(|storage, len| {
            let r = libc::accept4(fd, storage.cast(), len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r)
            }
        })
    }?;
    // SAFETY: `fd` was just returned by accept4: an open socket we own.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let addr = addr.as_socket().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP peer"))?;
    Ok((stream, addr))
}

impl TcpListener {
    /// Binds to the first address of `addr` that works (`SO_REUSEADDR`
    /// set, as std) and listens.
    ///
    /// # Errors
    /// Resolution failed, or every address failed (the last error).
    ///
    /// ```
    /// let l = greenpatch_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let s = socket2::Socket::new(Domain::for_address(*a), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
            s.set_reuse_address(true)?;
            s.bind(&(*a).into())?;
            s.listen(libc::SOMAXCONN)?;
            Ok(TcpListener { inner: Socket::new(s.into(), false) })
        })
    }

    /// Waits for a connection (parking only this green thread).
    ///
    /// # Errors
    /// As std's `accept`; `WouldBlock` in non-blocking mode.
    ///
    /// ```
    /// use greenpatch_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, peer) = l.accept().unwrap();
    /// assert_eq!(peer, c.local_addr().unwrap());
    /// # drop(s);
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.inner.io(Dir::Read, |l| accept4(l.as_raw_fd()))?;
        Ok((TcpStream { inner: Socket::new(s, false) }, a))
    }

    /// An endless iterator of accepted connections.
    ///
    /// ```no_run
    /// let l = greenpatch_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// for s in l.incoming() {
    ///     let s = s.unwrap();
    ///     greenpatch_runtime::spawn(move || drop(s));
    /// }
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let s = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();"]
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.local_addr()
    }

    /// A second handle (a duplicated descriptor) to the same socket, with
    /// its own registration; options are copied.
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    #[doc = "let s = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();"]
    /// let t = s.try_clone().unwrap();
    /// assert_eq!(s.local_addr().unwrap(), t.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let s = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();"]
    /// s.set_ttl(42).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock.set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let s = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();"]
    /// assert!(s.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.sock.ttl()
    }
}

/// The iterator of [`TcpListener::incoming`]; never yields `None`.
///
/// ```no_run
/// let l = greenpatch_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let first = l.incoming().next().unwrap();
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts; only the
    /// calling green thread waits for the handshake.
    ///
    /// # Errors
    /// Resolution failed, or every address failed (the last error).
    ///
    /// ```
    /// use greenpatch_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = TcpStream::connect(("localhost", l.local_addr().unwrap().port()));
    /// # let _ = s;
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_until(a, None))
    }

    /// Connects to one address, failing with `TimedOut` after `timeout`.
    ///
    /// # Errors
    /// `InvalidInput` for a zero timeout (as std); `TimedOut`; or the
    /// connection error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::from_secs(5)).unwrap();
    /// # drop(s);
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(zero_timeout_error());
        }
        TcpStream::connect_until(addr, Instant::now().checked_add(timeout))
    }

    fn connect_until(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = socket2::Socket::new(Domain::for_address(*addr), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
        let pending = match s.connect(&(*addr).into()) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        let stream = TcpStream { inner: Socket::new(s.into(), false) };
        if pending {
            let fd = stream.inner.sock.as_raw_fd();
            if !stream.inner.reg.wait(Hub::get()?, fd, Dir::Write, deadline)? {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "connection timed out"));
            }
            if let Some(e) = stream.inner.sock.take_error()? {
                return Err(e);
            }
        }
        Ok(stream)
    }

    /// The remote address.
    ///
    /// # Errors
    /// As std (`NotConnected`).
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.local_addr()
    }

    /// Shuts down one or both halves. Every green thread waiting on the
    /// socket (through any handle) wakes: readers see end of stream,
    /// writers get `BrokenPipe`, as std's blocking calls would.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// s.shutdown(std::net::Shutdown::Write).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.sock.shutdown(how)?;
        self.inner.reg.wake_all();
        Ok(())
    }

    /// A second handle (a duplicated descriptor) to the same connection,
    /// with its own registration; options are copied. Dropping one handle
    /// leaves the others working (std semantics).
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// let t = s.try_clone().unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), t.peer_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }

    /// Reads without consuming (`MSG_PEEK`), waiting like `read`.
    ///
    /// # Errors
    /// As `read`.
    ///
    /// ```
    /// use std::io::Write;
    /// use greenpatch_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// c.write_all(b"x").unwrap();
    /// let mut b = [0; 1];
    /// assert_eq!(s.peek(&mut b).unwrap(), 1);
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.sock.set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.sock.nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// s.set_ttl(33).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 33);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock.set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    #[doc = "let l = greenpatch_runtime::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();"]
    /// assert!(s.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.sock.ttl()
    }
}

impl Read for &TcpStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_stream(buf.len(), |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        // std passes at most IOV_MAX (1,024) buffers to the kernel.
        let len = bufs.iter().take(1024).map(|b| b.len()).fold(0usize, usize::saturating_add);
        self.inner.read_stream(len, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Dir::Write, |mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.io(Dir::Write, |mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

crate::__io_by_value!(TcpStream; read: [read, read_vectored]; write: [write, write_vectored]);

impl From<std::net::TcpStream> for TcpStream {
    /// Adopts a std stream: its timeouts and non-blocking mode carry over.
    fn from(s: std::net::TcpStream) -> TcpStream {
        let rt = s.read_timeout().ok().flatten();
        let wt = s.write_timeout().ok().flatten();
        let t = TcpStream { inner: Socket::adopt(s) };
        let _ = t.inner.set_read_timeout(rt);
        let _ = t.inner.set_write_timeout(wt);
        t
    }
}

impl From<TcpStream> for std::net::TcpStream {
    /// Back to std: blocking mode and timeouts are written to the kernel.
    fn from(s: TcpStream) -> std::net::TcpStream {
        let (rt, wt) = (s.inner.read_timeout(), s.inner.write_timeout());
        let std = s.inner.into_inner();
        let _ = std.set_read_timeout(rt);
        let _ = std.set_write_timeout(wt);
        std
    }
}

impl From<std::net::TcpListener> for TcpListener {
    /// Adopts a std listener (its non-blocking mode carries over).
    fn from(l: std::net::TcpListener) -> TcpListener {
        TcpListener { inner: Socket::adopt(l) }
    }
}

impl From<TcpListener> for std::net::TcpListener {
    /// Back to std, in the blocking mode the user chose.
    fn from(l: TcpListener) -> std::net::TcpListener {
        l.inner.into_inner()
    }
}
