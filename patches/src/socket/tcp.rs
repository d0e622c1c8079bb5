//! [`TcpStream`] and [`TcpListener`]: std's or the runtime's, chosen by
//! the constructor item that made them.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::panic::Location;
use std::time::Duration;

use greenpatch_runtime::net as green;

use super::{both, delegate, each_addr, socket_traits, ToSocketAddrs};

fn std_connect(a: &SocketAddr) -> io::Result<TcpStream> {
    std::net::TcpStream::connect(a).map(|s| TcpStream::new(Imp::Blocking(s)))
}

fn green_connect(a: &SocketAddr) -> io::Result<TcpStream> {
    green::TcpStream::connect(a).map(|s| TcpStream::new(Imp::Green(s)))
}

fn std_connect_timeout(a: &SocketAddr, t: Duration) -> io::Result<TcpStream> {
    std::net::TcpStream::connect_timeout(a, t).map(|s| TcpStream::new(Imp::Blocking(s)))
}

fn green_connect_timeout(a: &SocketAddr, t: Duration) -> io::Result<TcpStream> {
    green::TcpStream::connect_timeout(a, t).map(|s| TcpStream::new(Imp::Green(s)))
}

fn std_bind(a: &SocketAddr) -> io::Result<TcpListener> {
    std::net::TcpListener::bind(a).map(|l| TcpListener::new(ListenerImp::Blocking(l)))
}

fn green_bind(a: &SocketAddr) -> io::Result<TcpListener> {
    green::TcpListener::bind(a).map(|l| TcpListener::new(ListenerImp::Green(l)))
}

crate::slot! {
    /// `socket.TcpStream`: connect to one address.
    pub(crate) static CONNECT: fn(&SocketAddr) -> io::Result<TcpStream> = ("TcpStream", std_connect, green_connect);
    /// `socket.TcpStream::connect_timeout`.
    pub(crate) static CONNECT_TIMEOUT: fn(&SocketAddr, Duration) -> io::Result<TcpStream> =
        ("TcpStream::connect_timeout", std_connect_timeout, green_connect_timeout);
    /// `socket.TcpListener`: bind one address.
    pub(crate) static BIND: fn(&SocketAddr) -> io::Result<TcpListener> = ("TcpListener", std_bind, green_bind);
}

/// Reports a blocking call of a pre-patch socket from a green thread.
#[inline]
fn check(kind: &'static str, site: &'static Location<'static>) {
    crate::stale::check(CONNECT.is_patched(), kind, site, "made before patch_all()");
}

pub(super) enum Imp {
    Blocking(std::net::TcpStream),
    Green(green::TcpStream),
}

/// A TCP connection with std's API: a blocking `std::net::TcpStream` when
/// made before `patch_all()`, a green one (reads and writes park only the
/// green thread) when made after. `&TcpStream` is `Read` and `Write` too.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch::socket::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let (mut server, _) = listener.accept().unwrap();
/// client.write_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// ```
pub struct TcpStream {
    pub(super) imp: Imp,
    site: &'static Location<'static>,
}

socket_traits!(TcpStream, std::net::TcpStream, green::TcpStream, CONNECT);

impl TcpStream {
    fn new(imp: Imp) -> TcpStream {
        TcpStream { imp, site: Location::caller() }
    }

    #[inline]
    fn check(&self) {
        if let Imp::Blocking(_) = self.imp {
            check("TcpStream", self.site);
        }
    }

    /// Connects to the first address of `addr` that accepts, through the
    /// `socket.TcpStream` item.
    ///
    /// # Errors
    ///
    /// Resolution failed, or every address failed (the last error).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = TcpStream::connect(("127.0.0.1", l.local_addr().unwrap().port())).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let site = Location::caller();
        let connect = CONNECT.get();
        let mut s = each_addr(addr, connect)?;
        s.site = site;
        Ok(s)
    }

    /// Connects to one address, failing with `TimedOut` after `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero timeout (as std); `TimedOut`; or the
    /// connection error.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::from_secs(5)).unwrap();
    /// # drop(s);
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let site = Location::caller();
        let mut s = (CONNECT_TIMEOUT.get())(addr, timeout)?;
        s.site = site;
        Ok(s)
    }

    /// Reads without consuming.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Write;
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// c.write_all(b"x").unwrap();
    /// let mut buf = [0; 1];
    /// assert_eq!(s.peek(&mut buf).unwrap(), 1);
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => s.peek(buf))
    }

    /// Another handle to the same connection (same flavor).
    ///
    /// # Errors
    ///
    /// As std (`dup` failed).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let c2 = c.try_clone().unwrap();
    /// assert_eq!(c.local_addr().unwrap(), c2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let imp = match &self.imp {
            Imp::Blocking(s) => Imp::Blocking(s.try_clone()?),
            Imp::Green(s) => Imp::Green(s.try_clone()?),
        };
        Ok(TcpStream { imp, site: self.site })
    }

    delegate! {
        /// The remote address.
        ///
        /// # Errors
        ///
        /// As std (`NotConnected`).
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
        /// ```
        fn peer_addr(&self) -> io::Result<SocketAddr>;
        /// The local address.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert!(s.local_addr().unwrap().ip().is_loopback());
        /// ```
        fn local_addr(&self) -> io::Result<SocketAddr>;
        /// Shuts down reading, writing or both; with the green flavor it
        /// also wakes every green thread waiting on the socket.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// use std::io::Read;
        /// use greenpatch::socket::{Shutdown, TcpListener, TcpStream};
        /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
        /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// let (mut s, _) = l.accept().unwrap();
        /// c.shutdown(Shutdown::Write).unwrap();
        /// assert_eq!(s.read(&mut [0; 4]).unwrap(), 0);
        /// ```
        fn shutdown(&self, how: Shutdown) -> io::Result<()>;
        /// Sets `TCP_NODELAY`.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// s.set_nodelay(true).unwrap();
        /// assert!(s.nodelay().unwrap());
        /// ```
        fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;
        /// Whether `TCP_NODELAY` is set.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// let _ = s.nodelay().unwrap();
        /// ```
        fn nodelay(&self) -> io::Result<bool>;
        /// Sets `IP_TTL`.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// s.set_ttl(64).unwrap();
        /// assert_eq!(s.ttl().unwrap(), 64);
        /// ```
        fn set_ttl(&self, ttl: u32) -> io::Result<()>;
        /// `IP_TTL`.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert!(s.ttl().unwrap() > 0);
        /// ```
        fn ttl(&self) -> io::Result<u32>;
        /// Sets the read timeout (`None`: wait forever); a read that waits
        /// longer fails with `WouldBlock`, as std on Linux.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for a zero duration, as std.
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        /// assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_secs(1)));
        /// ```
        fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
        /// Sets the write timeout.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for a zero duration, as std.
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
        /// assert!(s.write_timeout().unwrap().is_some());
        /// ```
        fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
        /// The read timeout.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert_eq!(s.read_timeout().unwrap(), None);
        /// ```
        fn read_timeout(&self) -> io::Result<Option<Duration>>;
        /// The write timeout.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert_eq!(s.write_timeout().unwrap(), None);
        /// ```
        fn write_timeout(&self) -> io::Result<Option<Duration>>;
        /// Non-blocking mode: an operation that would wait returns
        /// `WouldBlock` at once.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// s.set_nonblocking(true).unwrap();
        /// ```
        fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
        /// Takes the pending `SO_ERROR`.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        /// let s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        /// assert!(s.take_error().unwrap().is_none());
        /// ```
        fn take_error(&self) -> io::Result<Option<io::Error>>;
    }
}

impl Read for &TcpStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => (&*s).read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => (&*s).read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => (&*s).write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => (&*s).write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- TcpListener

/// As [`both!`], for [`ListenerImp`].
macro_rules! listener_both {
    ($imp:expr, $s:ident => $e:expr) => {
        match $imp {
            ListenerImp::Blocking($s) => $e,
            ListenerImp::Green($s) => $e,
        }
    };
}

pub(super) enum ListenerImp {
    Blocking(std::net::TcpListener),
    Green(green::TcpListener),
}

/// A TCP server socket with std's API: blocking when bound before
/// `patch_all()`, green after. Accepted connections have its flavor.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch::socket::{TcpListener, TcpStream};
/// use greenpatch::thread::spawn;
///
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
    imp: ListenerImp,
    site: &'static Location<'static>,
}

mod listener_traits {
    use super::ListenerImp as Imp;
    use super::*;
    socket_traits!(TcpListener, std::net::TcpListener, green::TcpListener, BIND);
}

impl TcpListener {
    fn new(imp: ListenerImp) -> TcpListener {
        TcpListener { imp, site: Location::caller() }
    }

    /// Binds to the first address of `addr` that works (`SO_REUSEADDR`, as
    /// std) and listens, through the `socket.TcpListener` item.
    ///
    /// # Errors
    ///
    /// Resolution failed, or every address failed (the last error).
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    #[track_caller]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let site = Location::caller();
        let mut l = each_addr(addr, BIND.get())?;
        l.site = site;
        Ok(l)
    }

    /// Waits for a connection; the stream has the listener's flavor.
    ///
    /// # Errors
    ///
    /// As std's `accept`; `WouldBlock` in non-blocking mode.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, peer) = l.accept().unwrap();
    /// assert_eq!(peer, c.local_addr().unwrap());
    /// assert_eq!(s.flavor(), l.flavor());
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        match &self.imp {
            ListenerImp::Blocking(l) => {
                check("TcpListener", self.site);
                let (s, a) = l.accept()?;
                Ok((TcpStream { imp: Imp::Blocking(s), site: self.site }, a))
            }
            ListenerImp::Green(l) => {
                let (s, a) = l.accept()?;
                Ok((TcpStream { imp: Imp::Green(s), site: self.site }, a))
            }
        }
    }

    /// An endless iterator over incoming connections.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s = l.incoming().next().unwrap().unwrap();
    /// # drop(s);
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Another handle to the same listener (same flavor).
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l.local_addr().unwrap(), l2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let imp = match &self.imp {
            ListenerImp::Blocking(l) => ListenerImp::Blocking(l.try_clone()?),
            ListenerImp::Green(l) => ListenerImp::Green(l.try_clone()?),
        };
        Ok(TcpListener { imp, site: self.site })
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        listener_both!(&self.imp, l => l.local_addr())
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_ttl(30).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 30);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        listener_both!(&self.imp, l => l.set_ttl(ttl))
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        listener_both!(&self.imp, l => l.ttl())
    }

    /// Non-blocking mode: `accept` returns `WouldBlock` instead of waiting.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// assert!(l.accept().is_err());
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        listener_both!(&self.imp, l => l.set_nonblocking(nonblocking))
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        listener_both!(&self.imp, l => l.take_error())
    }
}

/// An endless iterator over a [`TcpListener`]'s connections.
///
/// # Example
///
/// ```
/// use greenpatch::socket::{Incoming, TcpListener};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let it: Incoming<'_> = l.incoming();
/// # drop(it);
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
