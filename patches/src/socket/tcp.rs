//! [`TcpStream`] and [`TcpListener`]: std's or the runtime's, chosen by
//! the constructor item that made them.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::Location;
use std::time::Duration;

use greenpatch_runtime::net as green;

use super::{each_addr, socket_options, socket_traits, std_debug, ToSocketAddrs};
use crate::flavor::{both, Flavored};

fn std_connect(a: &SocketAddr) -> io::Result<TcpStream> {
    std::net::TcpStream::connect(a).map(|s| TcpStream::new(Flavored::Blocking(s)))
}

fn green_connect(a: &SocketAddr) -> io::Result<TcpStream> {
    green::TcpStream::connect(a).map(|s| TcpStream::new(Flavored::Green(s)))
}

fn std_connect_timeout(a: &SocketAddr, t: Duration) -> io::Result<TcpStream> {
    std::net::TcpStream::connect_timeout(a, t).map(|s| TcpStream::new(Flavored::Blocking(s)))
}

fn green_connect_timeout(a: &SocketAddr, t: Duration) -> io::Result<TcpStream> {
    green::TcpStream::connect_timeout(a, t).map(|s| TcpStream::new(Flavored::Green(s)))
}

fn std_bind(a: &SocketAddr) -> io::Result<TcpListener> {
    std::net::TcpListener::bind(a).map(|l| TcpListener::new(Flavored::Blocking(l)))
}

fn green_bind(a: &SocketAddr) -> io::Result<TcpListener> {
    green::TcpListener::bind(a).map(|l| TcpListener::new(Flavored::Green(l)))
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

type Imp = Flavored<std::net::TcpStream, green::TcpStream>;

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

socket_traits!(TcpStream, std::net::TcpStream, green::TcpStream, CONNECT, check = "TcpStream", io);
std_debug!(ip TcpStream: ["addr" = local_addr, "peer" = peer_addr]);
socket_options!(
    TcpStream,
    "std::net::TcpStream",
    setup = "let l = greenpatch::socket::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet s = greenpatch::socket::TcpStream::connect(l.local_addr().unwrap()).unwrap();",
    [basic, timeouts, ttl],
    {
        "The remote address." fn peer_addr(&self) -> io::Result<SocketAddr> =
            "assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());";
        "The local address." fn local_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.local_addr().unwrap().ip().is_loopback());";
        "Shuts down reading, writing or both; with the green flavor it also wakes every green thread waiting on the socket."
        fn shutdown(&self, how: Shutdown) -> io::Result<()> =
            "let (mut peer, _) = l.accept().unwrap();\ns.shutdown(greenpatch::socket::Shutdown::Write).unwrap();\nassert_eq!(std::io::Read::read(&mut peer, &mut [0; 4]).unwrap(), 0);";
        "Sets `TCP_NODELAY`." fn set_nodelay(&self, nodelay: bool) -> io::Result<()> =
            "s.set_nodelay(true).unwrap();\nassert!(s.nodelay().unwrap());";
        "Whether `TCP_NODELAY` is set." fn nodelay(&self) -> io::Result<bool> = "let _ = s.nodelay().unwrap();";
    }
);

impl TcpStream {
    fn new(imp: Imp) -> TcpStream {
        TcpStream { imp, site: Location::caller() }
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
}

// ---------------------------------------------------------------- TcpListener

type ListenerImp = Flavored<std::net::TcpListener, green::TcpListener>;

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

socket_traits!(TcpListener, std::net::TcpListener, green::TcpListener, BIND);
std_debug!(ip TcpListener: ["addr" = local_addr]);
socket_options!(
    TcpListener,
    "std::net::TcpListener",
    setup = "let s = greenpatch::socket::TcpListener::bind(\"127.0.0.1:0\").unwrap();",
    [basic, ttl]
);

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
        let (imp, a) = match &self.imp {
            Flavored::Blocking(l) => {
                check("TcpListener", self.site);
                l.accept().map(|(s, a)| (Flavored::Blocking(s), a))?
            }
            Flavored::Green(l) => l.accept().map(|(s, a)| (Flavored::Green(s), a))?,
        };
        Ok((TcpStream { imp, site: self.site }, a))
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
    #[inline]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        both!(&self.imp, l => l.local_addr())
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
