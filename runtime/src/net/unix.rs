//! Green Unix-domain sockets: [`UnixListener`], [`UnixStream`],
//! [`UnixDatagram`], std's API over the reactor.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{self as unet, SocketAddr};
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, Type};

use super::socket::{set_os_nonblocking, socket_common, socket_mode, socket_timeouts, Socket};
use crate::hub::Hub;
use crate::io::Dir;

/// A Unix stream server socket whose `accept` parks only the calling green
/// thread.
///
/// ```
/// use greenpatch_runtime::net::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("gp-doc-listener-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = UnixListener::bind(&path).unwrap();
/// let c = UnixStream::connect(&path).unwrap();
/// let (s, _) = l.accept().unwrap();
/// # drop((c, s));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    inner: Socket<unet::UnixListener>,
}

/// A Unix stream connection whose reads and writes park only the calling
/// green thread (`&UnixStream` reads and writes too).
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
/// a.write_all(b"hey").unwrap();
/// let mut buf = [0; 3];
/// b.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hey");
/// ```
pub struct UnixStream {
    pub(super) inner: Socket<unet::UnixStream>,
}

/// A Unix datagram socket whose receives park only the calling green
/// thread.
///
/// ```
/// let (a, b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
/// a.send(b"one").unwrap();
/// assert_eq!(b.recv(&mut [0; 8]).unwrap(), 3);
/// ```
pub struct UnixDatagram {
    inner: Socket<unet::UnixDatagram>,
}

socket_common!(UnixListener, unet::UnixListener);
socket_common!(UnixStream, unet::UnixStream);
socket_common!(UnixDatagram, unet::UnixDatagram);
socket_mode!(
    UnixListener,
    "let p = std::env::temp_dir().join(format!(\"gp-doc-mode-{}.sock\", std::process::id()));\nlet _ = std::fs::remove_file(&p);\nlet s = greenpatch_runtime::net::UnixListener::bind(&p).unwrap();\nstd::fs::remove_file(&p).unwrap();"
);
socket_mode!(UnixStream, "let (s, _t) = greenpatch_runtime::net::UnixStream::pair().unwrap();");
socket_mode!(UnixDatagram, "let (s, _t) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();");
socket_timeouts!(UnixStream, "let (s, _t) = greenpatch_runtime::net::UnixStream::pair().unwrap();");
socket_timeouts!(UnixDatagram, "let (s, _t) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();");

/// std's Unix address as socket2's: a path, or (Linux) an abstract name —
/// socket2 reads a path that starts with a NUL byte as one.
fn to_sockaddr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(p) = addr.as_pathname() {
        return SockAddr::unix(p);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = addr.as_abstract_name() {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "an unnamed Unix socket address cannot be connected to"))
}

/// Whether the socket's reading side is shut down (`POLLRDHUP`, which a
/// Unix datagram socket reports exactly for that).
fn read_shut_down(s: &impl std::os::fd::AsRawFd) -> bool {
    let mut p = libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: `p` is one valid pollfd for the call's duration; a zero
    // timeout never blocks.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & libc::POLLRDHUP != 0
}

/// An unnamed Unix address (what std's `recv_from` gives for an empty
/// read with no sender): the address of an unbound socket.
fn unnamed() -> io::Result<SocketAddr> {
    unet::UnixDatagram::unbound()?.local_addr()
}

/// Wraps a std socket that was just made (blocking) by std.
fn fresh<S: std::os::fd::AsRawFd>(s: S) -> io::Result<Socket<S>> {
    set_os_nonblocking(s.as_raw_fd(), true)?;
    Ok(Socket::new(s, false))
}

impl UnixListener {
    /// Binds to `path` and listens.
    ///
    /// # Errors
    /// As std (`AddrInUse` if the path exists …).
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-bind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = greenpatch_runtime::net::UnixListener::bind(&p).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(p.as_path()));
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: fresh(unet::UnixListener::bind(path)?)? })
    }

    /// Binds to `addr` — a path, or on Linux a name in the abstract
    /// namespace (`SocketAddrExt::from_abstract_name`) — and listens.
    ///
    /// # Errors
    /// As std's `UnixListener::bind_addr`.
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// use std::os::linux::net::SocketAddrExt;
    /// use greenpatch_runtime::net::{UnixListener, UnixStream};
    /// let name = format!("gp-doc-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let l = UnixListener::bind_addr(&addr).unwrap();
    /// let _c = UnixStream::connect_addr(&addr).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: fresh(unet::UnixListener::bind_addr(addr)?)? })
    }

    /// Waits for a connection (parking only this green thread).
    ///
    /// # Errors
    /// As std; `WouldBlock` in non-blocking mode.
    ///
    /// ```
    /// use greenpatch_runtime::net::{UnixListener, UnixStream};
    /// let p = std::env::temp_dir().join(format!("gp-doc-accept-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let l = UnixListener::bind(&p).unwrap();
    /// let h = greenpatch_runtime::spawn({ let p = p.clone(); move || UnixStream::connect(p).unwrap() });
    /// let (_s, _addr) = l.accept().unwrap();
    /// h.join().unwrap();
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.inner.io(Dir::Read, |l| l.accept())?;
        Ok((UnixStream { inner: fresh(s)? }, a))
    }

    /// An endless iterator of accepted connections.
    ///
    /// ```no_run
    /// let l = greenpatch_runtime::net::UnixListener::bind("app.sock").unwrap();
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
    /// ```no_run
    /// let l = greenpatch_runtime::net::UnixListener::bind("app.sock").unwrap();
    /// println!("{:?}", l.local_addr().unwrap());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.local_addr()
    }

    /// A second handle (duplicated descriptor, own registration).
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```no_run
    /// let l = greenpatch_runtime::net::UnixListener::bind("app.sock").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }
}

/// The iterator of [`UnixListener::incoming`]; never yields `None`.
///
/// ```no_run
/// let l = greenpatch_runtime::net::UnixListener::bind("app.sock").unwrap();
/// let first = l.incoming().next().unwrap();
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl UnixStream {
    /// Connects to the socket at `path`; only the calling green thread
    /// waits (a full backlog is retried with short green sleeps, where
    /// std's blocking connect would block).
    ///
    /// # Errors
    /// As std (`NotFound`, `ConnectionRefused` …).
    ///
    /// ```
    /// let err = greenpatch_runtime::net::UnixStream::connect("/nonexistent/gp.sock").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_sockaddr(&SockAddr::unix(path)?)
    }

    /// Connects to `addr` (a path, or on Linux an abstract name), as
    /// [`connect`](UnixStream::connect).
    ///
    /// # Errors
    /// As std's `UnixStream::connect_addr`; `InvalidInput` for an unnamed
    /// address.
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// let addr = SocketAddr::from_pathname("/nonexistent/gp.sock").unwrap();
    /// let err = greenpatch_runtime::net::UnixStream::connect_addr(&addr).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_sockaddr(&to_sockaddr(addr)?)
    }

    fn connect_sockaddr(addr: &SockAddr) -> io::Result<UnixStream> {
        let s = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
        let mut backoff = Duration::from_millis(1);
        loop {
            match s.connect(addr) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                    let stream = UnixStream { inner: Socket::new(s.into(), false) };
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream.inner.sock);
                    stream.inner.reg.wait(Hub::get()?, fd, Dir::Write, None)?;
                    if let Some(e) = stream.inner.sock.take_error()? {
                        return Err(e);
                    }
                    return Ok(stream);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The listener's backlog is full: nothing to wait on.
                    crate::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(UnixStream { inner: Socket::new(s.into(), false) })
    }

    /// A connected pair.
    ///
    /// # Errors
    /// `socketpair` failed.
    ///
    /// ```
    /// let (a, b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
    /// # drop((a, b));
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unet::UnixStream::pair()?;
        Ok((UnixStream { inner: fresh(a)? }, UnixStream { inner: fresh(b)? }))
    }

    /// A second handle (duplicated descriptor, own registration, options
    /// copied); dropping one leaves the others working.
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
    /// let a2 = a.try_clone().unwrap();
    /// # drop(a2);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.peer_addr()
    }

    /// Shuts down one or both halves, waking every green thread that waits
    /// on the connection (readers see end of stream).
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// use std::io::Read;
    /// let (a, mut b) = greenpatch_runtime::net::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(b.read(&mut [0; 4]).unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.sock.shutdown(how)?;
        self.inner.reg.wake_all();
        Ok(())
    }
}

impl Read for &UnixStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &UnixStream {
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

crate::__io_by_value!(UnixStream; read: [read, read_vectored]; write: [write, write_vectored]);

impl UnixDatagram {
    /// Binds a datagram socket to `path`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let p = std::env::temp_dir().join(format!("gp-doc-dgram-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&p);
    /// let s = greenpatch_runtime::net::UnixDatagram::bind(&p).unwrap();
    /// # drop(s);
    /// std::fs::remove_file(&p).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { inner: fresh(unet::UnixDatagram::bind(path)?)? })
    }

    /// Binds a datagram socket to `addr` (a path, or on Linux an abstract
    /// name).
    ///
    /// # Errors
    /// As std's `UnixDatagram::bind_addr`.
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// use std::os::linux::net::SocketAddrExt;
    /// use greenpatch_runtime::net::UnixDatagram;
    /// let name = format!("gp-doc-dgram-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = UnixDatagram::unbound().unwrap();
    /// client.send_to_addr(b"hi", &addr).unwrap();
    /// assert_eq!(server.recv(&mut [0; 4]).unwrap(), 2);
    /// client.connect_addr(&addr).unwrap();
    /// assert_eq!(client.send(b"x").unwrap(), 1);
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { inner: fresh(unet::UnixDatagram::bind_addr(addr)?)? })
    }

    /// Sets the default peer to `addr` (a path or an abstract name).
    ///
    /// # Errors
    /// As std's `UnixDatagram::connect_addr`.
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.connect_addr(&SocketAddr::from_pathname("/nonexistent/gp.sock").unwrap()).is_err());
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner.sock.connect_addr(addr)
    }

    /// Sends a datagram to `addr` (a path or an abstract name), parking
    /// only this green thread while the socket's buffer is full.
    ///
    /// # Errors
    /// As std's `UnixDatagram::send_to_addr`.
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.send_to_addr(b"x", &SocketAddr::from_pathname("/nonexistent/gp.sock").unwrap()).is_err());
    /// ```
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.inner.io(Dir::Write, |s| s.send_to_addr(buf, addr))
    }

    /// A socket bound to no address.
    ///
    /// # Errors
    /// `socket` failed.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// # drop(s);
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { inner: fresh(unet::UnixDatagram::unbound()?)? })
    }

    /// A connected pair.
    ///
    /// # Errors
    /// `socketpair` failed.
    ///
    /// ```
    /// let (a, b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// # drop((a, b));
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = unet::UnixDatagram::pair()?;
        Ok((UnixDatagram { inner: fresh(a)? }, UnixDatagram { inner: fresh(b)? }))
    }

    /// Sets the default peer.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.connect("/nonexistent/gp.sock").is_err());
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.sock.connect(path)
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// assert_eq!(a.send(b"x").unwrap(), 1);
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Dir::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer, waiting for a datagram.
    ///
    /// # Errors
    /// As std; `WouldBlock` on timeout or in non-blocking mode.
    ///
    /// ```
    /// let (a, b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// greenpatch_runtime::spawn(move || a.send(b"later").unwrap());
    /// assert_eq!(b.recv(&mut [0; 8]).unwrap(), 5);
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| self.at_eof(s.recv(buf), || Ok(0)))
    }

    /// Sends a datagram to the socket at `path`.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.send_to(b"x", "/nonexistent/gp.sock").is_err());
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.io(Dir::Write, |s| s.send_to(buf, path))
    }

    /// Receives a datagram and its source address.
    ///
    /// # Errors
    /// As `recv`.
    ///
    /// ```
    /// let (a, b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv_from(&mut [0; 4]).unwrap().0, 1);
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Dir::Read, |s| self.at_eof(s.recv_from(buf), || Ok((0, unnamed()?))))
    }

    /// std's blocking receive on a datagram socket whose reading side is
    /// shut down returns 0 at once (the kernel's wait sees the shutdown);
    /// the non-blocking call the green one makes returns `EAGAIN` instead,
    /// while the descriptor polls readable with `POLLRDHUP`. So a
    /// `WouldBlock` on a socket in blocking mode (from the user's view) is
    /// turned into std's result when the reading side is shut down —
    /// whoever shut it down (this handle, a clone, another process).
    fn at_eof<R>(&self, r: io::Result<R>, eof: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        match r {
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    && !self.inner.nonblocking()
                    && read_shut_down(&self.inner.sock) =>
            {
                eof()
            }
            r => r,
        }
    }

    /// The local address.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// As std (`NotConnected`).
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// assert!(a.peer_addr().is_ok());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.sock.peer_addr()
    }

    /// Shuts down one or both directions, waking waiters.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Both).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.sock.shutdown(how)?;
        self.inner.reg.wake_all();
        Ok(())
    }

    /// A second handle (duplicated descriptor, own registration).
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    /// let (a, _b) = greenpatch_runtime::net::UnixDatagram::pair().unwrap();
    /// let a2 = a.try_clone().unwrap();
    /// # drop(a2);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }
}

macro_rules! unix_conversions {
    ($t:ident, $std:ty, timeouts) => {
        impl From<$std> for $t {
            /// Adopts a std socket: its timeouts and non-blocking mode carry over.
            fn from(s: $std) -> $t {
                let rt = s.read_timeout().ok().flatten();
                let wt = s.write_timeout().ok().flatten();
                let t = $t { inner: Socket::adopt(s) };
                let _ = t.inner.set_read_timeout(rt);
                let _ = t.inner.set_write_timeout(wt);
                t
            }
        }

        impl From<$t> for $std {
            /// Back to std: blocking mode and timeouts are written to the kernel.
            fn from(s: $t) -> $std {
                let (rt, wt) = (s.inner.read_timeout(), s.inner.write_timeout());
                let std = s.inner.into_inner();
                let _ = std.set_read_timeout(rt);
                let _ = std.set_write_timeout(wt);
                std
            }
        }
    };
}

unix_conversions!(UnixStream, unet::UnixStream, timeouts);
unix_conversions!(UnixDatagram, unet::UnixDatagram, timeouts);

impl From<unet::UnixListener> for UnixListener {
    /// Adopts a std listener (its non-blocking mode carries over).
    fn from(l: unet::UnixListener) -> UnixListener {
        UnixListener { inner: Socket::adopt(l) }
    }
}

impl From<UnixListener> for unet::UnixListener {
    /// Back to std, in the blocking mode the user chose.
    fn from(l: UnixListener) -> unet::UnixListener {
        l.inner.into_inner()
    }
}
