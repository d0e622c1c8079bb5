//! [`UdpSocket`]: std's or the runtime's, chosen by `socket.UdpSocket`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::Location;
use std::time::Duration;

use greenpatch_runtime::net as green;

use super::{each_addr, socket_options, socket_traits, std_debug, ToSocketAddrs};
use crate::flavor::{both, Flavored};

fn std_bind(a: &SocketAddr) -> io::Result<UdpSocket> {
    std::net::UdpSocket::bind(a).map(|s| UdpSocket::new(Flavored::Blocking(s)))
}

fn green_bind(a: &SocketAddr) -> io::Result<UdpSocket> {
    green::UdpSocket::bind(a).map(|s| UdpSocket::new(Flavored::Green(s)))
}

crate::slot! {
    /// `socket.UdpSocket`: bind one address.
    pub(crate) static BIND: fn(&SocketAddr) -> io::Result<UdpSocket> = ("UdpSocket", std_bind, green_bind);
}

type Imp = Flavored<std::net::UdpSocket, green::UdpSocket>;

/// A UDP socket with std's API: blocking when bound before `patch_all()`,
/// green (receives park only the green thread) when bound after.
///
/// # Example
///
/// ```
/// use greenpatch::socket::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
/// let mut buf = [0; 8];
/// let (n, from) = b.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// ```
pub struct UdpSocket {
    imp: Imp,
    site: &'static Location<'static>,
}

socket_traits!(UdpSocket, std::net::UdpSocket, green::UdpSocket, BIND, check = "UdpSocket");
std_debug!(ip UdpSocket: ["addr" = local_addr]);
socket_options!(
    UdpSocket,
    "std::net::UdpSocket",
    setup = "let s = greenpatch::socket::UdpSocket::bind(\"127.0.0.1:0\").unwrap();",
    [basic, timeouts, ttl],
    {
        "The connected peer's address (`NotConnected` if none)." fn peer_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.peer_addr().is_err());";
        "The local address." fn local_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.local_addr().unwrap().ip().is_loopback());";
        "Sets `SO_BROADCAST`." fn set_broadcast(&self, on: bool) -> io::Result<()> =
            "s.set_broadcast(true).unwrap();\nassert!(s.broadcast().unwrap());";
        "`SO_BROADCAST`." fn broadcast(&self) -> io::Result<bool> = "assert!(!s.broadcast().unwrap());";
        "Sets `IP_MULTICAST_LOOP`." fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> =
            "s.set_multicast_loop_v4(false).unwrap();\nassert!(!s.multicast_loop_v4().unwrap());";
        "`IP_MULTICAST_LOOP`." fn multicast_loop_v4(&self) -> io::Result<bool> = "let _ = s.multicast_loop_v4().unwrap();";
        "Sets `IP_MULTICAST_TTL`." fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> =
            "s.set_multicast_ttl_v4(4).unwrap();\nassert_eq!(s.multicast_ttl_v4().unwrap(), 4);";
        "`IP_MULTICAST_TTL`." fn multicast_ttl_v4(&self) -> io::Result<u32> = "let _ = s.multicast_ttl_v4().unwrap();";
        "Sets `IPV6_MULTICAST_LOOP` (an IPv4 socket fails)." fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> =
            "let _ = s.set_multicast_loop_v6(false);";
        "`IPV6_MULTICAST_LOOP` (an IPv4 socket fails)." fn multicast_loop_v6(&self) -> io::Result<bool> =
            "let _ = s.multicast_loop_v6();";
    }
);

fn no_addr() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
}

impl UdpSocket {
    fn new(imp: Imp) -> UdpSocket {
        UdpSocket { imp, site: Location::caller() }
    }

    /// Binds to the first address of `addr` that works, through the
    /// `socket.UdpSocket` item.
    ///
    /// # Errors
    ///
    /// Resolution failed, or every address failed (the last error).
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    #[track_caller]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let site = Location::caller();
        let mut s = each_addr(addr, BIND.get())?;
        s.site = site;
        Ok(s)
    }

    /// Receives one datagram and its source.
    ///
    /// # Errors
    ///
    /// As std; `WouldBlock` on timeout or in non-blocking mode.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert!(s.recv_from(&mut [0; 8]).is_err());
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.check();
        both!(&self.imp, s => s.recv_from(buf))
    }

    /// Like `recv_from`, leaving the datagram queued.
    ///
    /// # Errors
    ///
    /// As `recv_from`.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.send_to(b"x", s.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.peek_from(&mut [0; 4]).unwrap().0, 1);
    /// assert_eq!(s.recv_from(&mut [0; 4]).unwrap().0, 1);
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.check();
        both!(&self.imp, s => s.peek_from(buf))
    }

    /// Sends one datagram to the first address of `addr`.
    ///
    /// # Errors
    ///
    /// Resolution failed, no address, or as std.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.send_to(b"abc", s.local_addr().unwrap()).unwrap(), 3);
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = addr.to_socket_addrs()?.next().ok_or_else(no_addr)?;
        self.check();
        both!(&self.imp, s => s.send_to(buf, to))
    }

    /// Sets the default peer (the first address that works).
    ///
    /// # Errors
    ///
    /// Resolution failed, or every address failed.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| both!(&self.imp, s => s.connect(a)))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// As std (`NotConnected`, …).
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.send(b"x").is_err()); // not connected
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    ///
    /// As std; `WouldBlock` on timeout or in non-blocking mode.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"hi").unwrap();
    /// assert_eq!(s.recv(&mut [0; 4]).unwrap(), 2);
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => s.recv(buf))
    }

    /// Like `recv`, leaving the datagram queued.
    ///
    /// # Errors
    ///
    /// As `recv`.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"hi").unwrap();
    /// assert_eq!(s.peek(&mut [0; 4]).unwrap(), 2);
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        both!(&self.imp, s => s.peek(buf))
    }

    /// Joins an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let s = greenpatch::socket::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let _ = s.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 123), &Ipv4Addr::UNSPECIFIED);
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        both!(&self.imp, s => s.join_multicast_v4(multiaddr, interface))
    }

    /// Joins an IPv6 multicast group.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// let s = greenpatch::socket::UdpSocket::bind("[::1]:0");
    /// # let _ = s.map(|s| s.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123), 0));
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        both!(&self.imp, s => s.join_multicast_v6(multiaddr, interface))
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let s = greenpatch::socket::UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let _ = s.leave_multicast_v4(&Ipv4Addr::new(224, 0, 0, 123), &Ipv4Addr::UNSPECIFIED);
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        both!(&self.imp, s => s.leave_multicast_v4(multiaddr, interface))
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// let s = greenpatch::socket::UdpSocket::bind("[::1]:0");
    /// # let _ = s.map(|s| s.leave_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123), 0));
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        both!(&self.imp, s => s.leave_multicast_v6(multiaddr, interface))
    }
}
