//! `socket`: `std::net` (and `std::os::unix::net`) until `patch_all()`,
//! green sockets after it — plus [`lookup_host`].
//!
//! # Model
//!
//! Every socket type is an enum over std's socket and the runtime's green
//! one. Its constructors are registry items, called through a slot, so a
//! socket's flavor is that of the constructor that made it, and it keeps
//! it (accepted connections and clones inherit it):
//!
//! | item | signature | original | green |
//! |---|---|---|---|
//! | `socket.lookup_host` | [`LookupFn`] | `getaddrinfo` on this thread | on the runtime's blocking pool |
//! | `socket.TcpStream` | [`ConnectFn`] | `std::net::TcpStream::connect` | green connect |
//! | `socket.TcpStream::connect_timeout` | [`ConnectTimeoutFn`] | std's | green |
//! | `socket.TcpListener` | [`BindTcpFn`] | `std::net::TcpListener::bind` | green bind |
//! | `socket.UdpSocket` | [`BindUdpFn`] | `std::net::UdpSocket::bind` | green bind |
//! | `socket.UnixStream`, `UnixStream::pair`, `UnixListener`, `UnixDatagram`, `UnixDatagram::unbound`, `UnixDatagram::pair` | (Unix) | std's | green |
//!
//! Each item takes one resolved address; the facade resolves
//! [`ToSocketAddrs`] first and tries each address in turn, as std does.
//!
//! # `ToSocketAddrs`
//!
//! [`ToSocketAddrs`] is this module's own trait, implemented for exactly
//! the types std implements it for, so `connect("host:80")` and
//! `bind(("0.0.0.0", 0))` read as with std. It exists because std's trait
//! resolves host names with a blocking `getaddrinfo` on the caller's
//! thread: ours sends host names through `socket.lookup_host`, so after
//! `patch_all()` a lookup parks only the green thread. Literal addresses
//! never reach the resolver. (A type that implements only std's trait
//! can be resolved with std and passed as a `&[SocketAddr]`.)
//!
//! # Sockets made before patching
//!
//! A socket made before `patch_all()` stays blocking; when it makes a
//! blocking call (read, write, accept, receive, send) from a green thread
//! after patching, that is reported once per creation site (see
//! the crate docs' *pitfall* section).

mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

use std::io;
use std::time::Duration;

pub use std::net::{AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

/// The signature of `socket.lookup_host`: host and port to addresses.
pub type LookupFn = for<'a> fn(&'a str, u16) -> io::Result<Vec<SocketAddr>>;
/// The signature of `socket.TcpStream` (connect to one address).
pub type ConnectFn = for<'a> fn(&'a SocketAddr) -> io::Result<TcpStream>;
/// The signature of `socket.TcpStream::connect_timeout`.
pub type ConnectTimeoutFn = for<'a> fn(&'a SocketAddr, Duration) -> io::Result<TcpStream>;
/// The signature of `socket.TcpListener` (bind one address).
pub type BindTcpFn = for<'a> fn(&'a SocketAddr) -> io::Result<TcpListener>;
/// The signature of `socket.UdpSocket` (bind one address).
pub type BindUdpFn = for<'a> fn(&'a SocketAddr) -> io::Result<UdpSocket>;

fn std_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

fn green_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    greenpatch_runtime::net::lookup_host((host, port)).map(Iterator::collect)
}

crate::slot! {
    /// `socket.lookup_host`.
    pub(crate) static LOOKUP: fn(&str, u16) -> io::Result<Vec<SocketAddr>> = ("lookup_host", std_lookup, green_lookup);
}

#[cfg(not(unix))]
crate::patchable_module!(
    builtin,
    name = "socket",
    items = [LOOKUP, tcp::CONNECT, tcp::CONNECT_TIMEOUT, tcp::BIND, udp::BIND]
);

#[cfg(unix)]
crate::patchable_module!(
    builtin,
    name = "socket",
    items = [
        LOOKUP,
        tcp::CONNECT,
        tcp::CONNECT_TIMEOUT,
        tcp::BIND,
        udp::BIND,
        unix::STREAM_CONNECT,
        unix::STREAM_PAIR,
        unix::LISTENER_BIND,
        unix::DATAGRAM_BIND,
        unix::DATAGRAM_UNBOUND,
        unix::DATAGRAM_PAIR,
    ]
);

/// Resolves `addr` (e.g. `"example.org:443"`) to socket addresses: with
/// `getaddrinfo` on the calling thread before `patch_all()`, on the
/// runtime's blocking pool after it (parking only the green thread).
///
/// # Errors
///
/// The address is malformed or does not resolve.
///
/// # Example
///
/// ```
/// let addrs: Vec<_> = greenpatch::socket::lookup_host("localhost:8080").unwrap().collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// ```
pub fn lookup_host<A: ToSocketAddrs>(addr: A) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    Ok(addr.to_socket_addrs()?.collect::<Vec<_>>().into_iter())
}

/// Something that names one or more socket addresses, as
/// `std::net::ToSocketAddrs` (and implemented for the same types), whose
/// host names resolve through `socket.lookup_host` — green after patching.
///
/// # Example
///
/// ```
/// use greenpatch::socket::ToSocketAddrs;
/// let addrs: Vec<_> = ("127.0.0.1", 80).to_socket_addrs().unwrap().collect();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// assert!("not an address".to_socket_addrs().is_err());
/// ```
pub trait ToSocketAddrs {
    /// The addresses, in resolver order.
    type Iter: Iterator<Item = SocketAddr>;

    /// Resolves to addresses.
    ///
    /// # Errors
    ///
    /// The name is malformed or does not resolve.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{SocketAddr, ToSocketAddrs};
    /// let a: SocketAddr = "10.0.0.1:5".parse().unwrap();
    /// assert_eq!(a.to_socket_addrs().unwrap().next(), Some(a));
    /// ```
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

macro_rules! literal_addrs {
    ($($t:ty => |$s:ident| $e:expr;)+) => {$(
        impl ToSocketAddrs for $t {
            type Iter = std::option::IntoIter<SocketAddr>;
            fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
                let $s = self;
                Ok(Some($e).into_iter())
            }
        }
    )+};
}

literal_addrs! {
    SocketAddr => |s| *s;
    SocketAddrV4 => |s| SocketAddr::V4(*s);
    SocketAddrV6 => |s| SocketAddr::V6(*s);
    (IpAddr, u16) => |s| SocketAddr::new(s.0, s.1);
    (Ipv4Addr, u16) => |s| SocketAddr::new(s.0.into(), s.1);
    (Ipv6Addr, u16) => |s| SocketAddr::new(s.0.into(), s.1);
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)].into_iter());
        }
        (LOOKUP.get())(host, port).map(Vec::into_iter)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (self.0.as_str(), self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for str {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr].into_iter());
        }
        let Some((host, port)) = self.rsplit_once(':') else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"));
        };
        let Ok(port) = port.parse::<u16>() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"));
        };
        (host, port).to_socket_addrs()
    }
}

impl ToSocketAddrs for String {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.as_str().to_socket_addrs()
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Copied<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().copied())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (**self).to_socket_addrs()
    }
}

/// Tries `f` on each address of `addr` in turn: the first success wins,
/// else the last error (std's rule for `bind` and `connect`).
fn each_addr<A: ToSocketAddrs, T>(addr: A, mut f: impl FnMut(&SocketAddr) -> io::Result<T>) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any addresses")))
}

/// Matches a facade socket's implementation and runs the same expression on
/// either (the two have the same method names).
macro_rules! both {
    ($imp:expr, $s:ident => $e:expr) => {
        match $imp {
            Imp::Blocking($s) => $e,
            Imp::Green($s) => $e,
        }
    };
}
use both;

/// Implements the descriptor traits and conversions of a facade socket
/// type `$t` with `imp: Imp` over `$std` / `$green`.
macro_rules! socket_traits {
    ($t:ident, $std:ty, $green:ty, $slot:path) => {
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                crate::socket::both!(&self.imp, s => std::os::fd::AsRawFd::as_raw_fd(s))
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                crate::socket::both!(&self.imp, s => std::os::fd::AsFd::as_fd(s))
            }
        }

        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(<$std>::from(self))
            }
        }

        /// Either flavor converts to std's socket (a green one is put back
        /// in blocking mode, with its timeouts written to the kernel).
        impl From<$t> for $std {
            fn from(s: $t) -> $std {
                match s.imp {
                    Imp::Blocking(s) => s,
                    Imp::Green(s) => <$std>::from(s),
                }
            }
        }

        /// Wraps a std socket with the flavor its module has now: green
        /// once `socket` is patched.
        impl From<$std> for $t {
            #[track_caller]
            fn from(s: $std) -> $t {
                let imp = if $slot.is_patched() { Imp::Green(<$green>::from(s)) } else { Imp::Blocking(s) };
                $t { imp, site: std::panic::Location::caller() }
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("flavor", &self.flavor())
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .finish()
            }
        }

        impl $t {
            /// Whether it blocks the OS thread ([`Flavor::Blocking`](crate::Flavor))
            /// or only the green thread.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("# fn f(s: &greenpatch::socket::", stringify!($t), ") {")]
            /// let _ = s.flavor();
            /// # }
            /// ```
            pub fn flavor(&self) -> crate::Flavor {
                match self.imp {
                    Imp::Blocking(_) => crate::Flavor::Blocking,
                    Imp::Green(_) => crate::Flavor::Green,
                }
            }
        }
    };
}
use socket_traits;

/// Delegates std's common per-socket getters and setters.
macro_rules! delegate {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)+) => {$(
        $(#[$doc])*
        pub fn $name(&self $(, $arg: $ty)*) -> $ret {
            crate::socket::both!(&self.imp, s => s.$name($($arg),*))
        }
    )+};
}
use delegate;
