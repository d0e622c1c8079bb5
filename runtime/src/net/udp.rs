//! Green UDP: [`UdpSocket`], std's API over the reactor.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Type};

use super::addr::{each_addr_on_pool as each_addr, ToSocketAddrs};
use super::socket::{socket_common, socket_mode, socket_timeouts, Socket};
use crate::io::Dir;

/// A UDP socket whose receives (and, rarely, sends) park only the calling
/// green thread.
///
/// ```
/// use greenpatch_runtime::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
/// let mut buf = [0; 8];
/// let (n, from) = b.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// ```
pub struct UdpSocket {
    inner: Socket<std::net::UdpSocket>,
}

socket_common!(UdpSocket, std::net::UdpSocket);
socket_mode!(UdpSocket, "let s = greenpatch_runtime::net::UdpSocket::bind(\"127.0.0.1:0\").unwrap();");
socket_timeouts!(UdpSocket, "let s = greenpatch_runtime::net::UdpSocket::bind(\"127.0.0.1:0\").unwrap();");

/// Forwards a plain std socket-option method.
macro_rules! delegate {
    ($(#[$m:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty) => {
        $(#[$m])*
        ///
        /// # Errors
        /// As std.
        pub fn $name(&self $(, $arg: $ty)*) -> io::Result<$ret> {
            self.inner.sock.$name($($arg),*)
        }
    };
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// # Errors
    /// Resolution failed, or every address failed (the last error).
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let s = socket2::Socket::new(Domain::for_address(*a), Type::DGRAM.nonblocking(), Some(Protocol::UDP))?;
            s.bind(&(*a).into())?;
            Ok(UdpSocket { inner: Socket::new(s.into(), false) })
        })
    }

    /// Receives one datagram and its source, waiting for it.
    ///
    /// # Errors
    /// As std; `WouldBlock` on timeout or in non-blocking mode.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    /// let err = s.recv_from(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Dir::Read, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](Self::recv_from) without consuming the datagram.
    ///
    /// # Errors
    /// As `recv_from`.
    ///
    /// ```
    /// use greenpatch_runtime::net::UdpSocket;
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.send_to(b"x", s.local_addr().unwrap()).unwrap();
    /// let mut b = [0; 1];
    /// assert_eq!(s.peek_from(&mut b).unwrap().0, 1);
    /// assert_eq!(s.recv_from(&mut b).unwrap().0, 1);
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Dir::Read, |s| s.peek_from(buf))
    }

    /// Sends a datagram to the first address of `addr`.
    ///
    /// # Errors
    /// Resolution failed (`InvalidInput` when it yields nothing), or as std.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.send_to(b"abc", s.local_addr().unwrap()).unwrap(), 3);
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(to) = addr.to_socket_addrs()?.next() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"));
        };
        self.inner.io(Dir::Write, |s| s.send_to(buf, to))
    }

    /// Sets the default peer: `send`/`recv` then use it, and datagrams
    /// from other sources are dropped (first address that works).
    ///
    /// # Errors
    /// Resolution failed, or every address failed.
    ///
    /// ```
    /// use greenpatch_runtime::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.sock.connect(a))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// As std (`NotConnected`, `ConnectionRefused` …).
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.send(b"x").is_err()); // not connected
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Dir::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer, waiting for a datagram.
    ///
    /// # Errors
    /// As `recv_from`.
    ///
    /// ```
    /// use greenpatch_runtime::net::UdpSocket;
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"me").unwrap();
    /// assert_eq!(s.recv(&mut [0; 4]).unwrap(), 2);
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.recv(buf))
    }

    /// Like [`recv`](Self::recv) without consuming the datagram.
    ///
    /// # Errors
    /// As `recv`.
    ///
    /// ```
    /// use greenpatch_runtime::net::UdpSocket;
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"me").unwrap();
    /// assert_eq!(s.peek(&mut [0; 4]).unwrap(), 2);
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.peek(buf))
    }

    /// A second handle (duplicated descriptor, own registration, options
    /// copied).
    ///
    /// # Errors
    /// `dup` failed.
    ///
    /// ```
    /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let t = s.try_clone().unwrap();
    /// assert_eq!(s.local_addr().unwrap(), t.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket { inner: self.inner.clone_with(self.inner.sock.try_clone()?) })
    }

    delegate!(
        /// The connected peer's address.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert!(s.peer_addr().is_err());
        /// ```
        fn peer_addr(&self) -> SocketAddr
    );
    delegate!(
        /// The bound address.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert!(s.local_addr().unwrap().ip().is_loopback());
        /// ```
        fn local_addr(&self) -> SocketAddr
    );
    delegate!(
        /// Sets `SO_BROADCAST`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// s.set_broadcast(true).unwrap();
        /// assert!(s.broadcast().unwrap());
        /// ```
        fn set_broadcast(&self, on: bool) -> ()
    );
    delegate!(
        /// Reads `SO_BROADCAST`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert!(!s.broadcast().unwrap());
        /// ```
        fn broadcast(&self) -> bool
    );
    delegate!(
        /// Sets `IP_MULTICAST_LOOP`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// s.set_multicast_loop_v4(false).unwrap();
        /// assert!(!s.multicast_loop_v4().unwrap());
        /// ```
        fn set_multicast_loop_v4(&self, on: bool) -> ()
    );
    delegate!(
        /// Reads `IP_MULTICAST_LOOP`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert!(s.multicast_loop_v4().unwrap());
        /// ```
        fn multicast_loop_v4(&self) -> bool
    );
    delegate!(
        /// Sets `IP_MULTICAST_TTL`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// s.set_multicast_ttl_v4(4).unwrap();
        /// assert_eq!(s.multicast_ttl_v4().unwrap(), 4);
        /// ```
        fn set_multicast_ttl_v4(&self, ttl: u32) -> ()
    );
    delegate!(
        /// Reads `IP_MULTICAST_TTL`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert_eq!(s.multicast_ttl_v4().unwrap(), 1);
        /// ```
        fn multicast_ttl_v4(&self) -> u32
    );
    delegate!(
        /// Sets `IPV6_MULTICAST_LOOP`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// let _ = s.set_multicast_loop_v6(false); // an IPv4 socket refuses
        /// ```
        fn set_multicast_loop_v6(&self, on: bool) -> ()
    );
    delegate!(
        /// Reads `IPV6_MULTICAST_LOOP`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// let _ = s.multicast_loop_v6();
        /// ```
        fn multicast_loop_v6(&self) -> bool
    );
    delegate!(
        /// Sets `IP_TTL`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// s.set_ttl(9).unwrap();
        /// assert_eq!(s.ttl().unwrap(), 9);
        /// ```
        fn set_ttl(&self, ttl: u32) -> ()
    );
    delegate!(
        /// Reads `IP_TTL`.
        ///
        /// ```
        /// let s = greenpatch_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        /// assert!(s.ttl().unwrap() > 0);
        /// ```
        fn ttl(&self) -> u32
    );

    /// Joins an IPv4 multicast group.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```no_run
    /// use std::net::Ipv4Addr;
    /// let s = greenpatch_runtime::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// s.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 123), &Ipv4Addr::UNSPECIFIED).unwrap();
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.sock.join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```no_run
    /// use std::net::Ipv6Addr;
    /// let s = greenpatch_runtime::net::UdpSocket::bind("[::]:0").unwrap();
    /// s.join_multicast_v6(&"ff02::123".parse::<Ipv6Addr>().unwrap(), 0).unwrap();
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.sock.join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```no_run
    /// use std::net::Ipv4Addr;
    /// let s = greenpatch_runtime::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let _ = s.leave_multicast_v4(&Ipv4Addr::new(224, 0, 0, 123), &Ipv4Addr::UNSPECIFIED);
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.sock.leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// As std.
    ///
    /// ```no_run
    /// use std::net::Ipv6Addr;
    /// let s = greenpatch_runtime::net::UdpSocket::bind("[::]:0").unwrap();
    /// let _ = s.leave_multicast_v6(&"ff02::123".parse::<Ipv6Addr>().unwrap(), 0);
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.sock.leave_multicast_v6(multiaddr, interface)
    }
}

impl From<std::net::UdpSocket> for UdpSocket {
    /// Adopts a std socket: its timeouts and non-blocking mode carry over.
    fn from(s: std::net::UdpSocket) -> UdpSocket {
        let rt = s.read_timeout().ok().flatten();
        let wt = s.write_timeout().ok().flatten();
        let u = UdpSocket { inner: Socket::adopt(s) };
        let _ = u.inner.set_read_timeout(rt);
        let _ = u.inner.set_write_timeout(wt);
        u
    }
}

impl From<UdpSocket> for std::net::UdpSocket {
    /// Back to std: blocking mode and timeouts are written to the kernel.
    fn from(s: UdpSocket) -> std::net::UdpSocket {
        let (rt, wt) = (s.inner.read_timeout(), s.inner.write_timeout());
        let std = s.inner.into_inner();
        let _ = std.set_read_timeout(rt);
        let _ = std.set_write_timeout(wt);
        std
    }
}
