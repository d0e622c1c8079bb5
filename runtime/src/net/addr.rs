//! Green address resolution.
//!
//! [`ToSocketAddrs`] mirrors `std::net::ToSocketAddrs` and is implemented
//! for the same types. Literal addresses (`"127.0.0.1:80"`, `("::1", 80)`,
//! a `SocketAddr`) resolve inline; host names go to `getaddrinfo` on the
//! blocking pool, so a lookup parks only the calling green thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one or more socket addresses; the green
/// counterpart of [`std::net::ToSocketAddrs`], taken by `bind`, `connect`
/// and `send_to` of this module.
///
/// Host names are resolved on the blocking pool; literals never leave the
/// calling green thread.
///
/// ```
/// use greenpatch_runtime::net::ToSocketAddrs;
/// let addrs: Vec<_> = ("127.0.0.1", 80).to_socket_addrs().unwrap().collect();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// assert!("localhost:80".to_socket_addrs().unwrap().next().is_some());
/// ```
pub trait ToSocketAddrs {
    /// The addresses, in resolver order.
    type Iter: Iterator<Item = SocketAddr>;

    /// Resolves to addresses (host names on the blocking pool).
    ///
    /// # Errors
    /// The name is malformed or does not resolve.
    ///
    /// ```
    /// use greenpatch_runtime::net::ToSocketAddrs;
    /// assert!("not a socket address".to_socket_addrs().is_err());
    /// ```
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.to_socket_addrs_with(resolve_on_pool)
    }

    /// Resolves to addresses, host names with `resolve` (literals never
    /// reach it). The types here implement this one; a type of yours may
    /// implement either method (each defaults to the other).
    ///
    /// # Errors
    /// The name is malformed, or `resolve` failed.
    ///
    /// ```
    /// use greenpatch_runtime::net::ToSocketAddrs;
    /// fn nowhere(_: &str, _: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    ///     Ok(Vec::new())
    /// }
    /// assert_eq!("example.org:80".to_socket_addrs_with(nowhere).unwrap().count(), 0);
    /// assert_eq!("10.0.0.1:80".to_socket_addrs_with(nowhere).unwrap().count(), 1);
    /// ```
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        let _ = resolve;
        self.to_socket_addrs()
    }
}

/// A host-name resolver, as [`ToSocketAddrs::to_socket_addrs_with`] takes
/// it: host and port to addresses.
///
/// ```
/// let r: greenpatch_runtime::net::Resolver = |_host, port| Ok(vec![([127, 0, 0, 1], port).into()]);
/// assert_eq!(r("anything", 7).unwrap()[0].port(), 7);
/// ```
pub type Resolver = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

/// `ToSocketAddrs` for types that are one literal address.
macro_rules! literal_addrs {
    ($($t:ty => |$s:ident| $e:expr;)+) => {$(
        impl ToSocketAddrs for $t {
            type Iter = std::option::IntoIter<SocketAddr>;
            fn to_socket_addrs_with(&self, _: Resolver) -> io::Result<Self::Iter> {
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
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)].into_iter());
        }
        resolve(host, port).map(Vec::into_iter)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        (self.0.as_str(), self.1).to_socket_addrs_with(resolve)
    }
}

impl ToSocketAddrs for str {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr].into_iter());
        }
        // Validate "host:port" here so that malformed input fails without
        // reaching the resolver, exactly as std words it.
        let Some((host, port)) = self.rsplit_once(':') else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"));
        };
        let Ok(port) = port.parse::<u16>() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid port value"));
        };
        (host, port).to_socket_addrs_with(resolve)
    }
}

impl ToSocketAddrs for String {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        self.as_str().to_socket_addrs_with(resolve)
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Copied<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs_with(&self, _: Resolver) -> io::Result<Self::Iter> {
        Ok(self.iter().copied())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs_with(&self, resolve: Resolver) -> io::Result<Self::Iter> {
        (**self).to_socket_addrs_with(resolve)
    }
}

/// The runtime's resolver: std's `getaddrinfo` on the blocking pool, so
/// only the calling green thread waits.
fn resolve_on_pool(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let host = host.to_owned();
    crate::blocking::run(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
    })
}

/// Resolves `addr` (e.g. `"example.org:443"`) to socket addresses; host
/// names are looked up on the blocking pool, so only the calling green
/// thread waits (tokio's `lookup_host`).
///
/// # Errors
/// The name is malformed or does not resolve.
///
/// ```
/// let addrs: Vec<_> = greenpatch_runtime::net::lookup_host("localhost:8080").unwrap().collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// ```
pub fn lookup_host<A: ToSocketAddrs>(addr: A) -> io::Result<impl Iterator<Item = SocketAddr>> {
    addr.to_socket_addrs()
}

/// Tries `f` on each of `addrs` in turn: the first success wins, else the
/// last error (std's rule for `bind` and `connect`). The runtime's sockets
/// use it with addresses resolved on the blocking pool; greenpatch's
/// facades with addresses resolved by their registry's resolver.
///
/// # Errors
/// `addrs` was empty, or every `f` failed (the last error).
///
/// ```
/// use std::net::SocketAddr;
/// use greenpatch_runtime::net::{each_addr, ToSocketAddrs};
/// let addrs = "10.0.0.1:5".to_socket_addrs().unwrap();
/// assert_eq!(each_addr(addrs, |a: &SocketAddr| Ok(a.port())).unwrap(), 5);
/// ```
pub fn each_addr<T>(
    addrs: impl IntoIterator<Item = SocketAddr>,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any addresses")))
}

/// [`each_addr`] over `addr` resolved with the runtime's resolver (the
/// blocking pool).
pub(crate) fn each_addr_on_pool<A: ToSocketAddrs, T>(
    addr: A,
    f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    each_addr(addr.to_socket_addrs()?, f)
}
