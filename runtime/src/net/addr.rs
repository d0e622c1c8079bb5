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
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

impl ToSocketAddrs for SocketAddr {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(Some(*self).into_iter())
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::V4(*self).to_socket_addrs()
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::V6(*self).to_socket_addrs()
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::new(self.0, self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::new(self.0.into(), self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        SocketAddr::new(self.0.into(), self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)].into_iter());
        }
        let host = host.to_owned();
        resolve(move || std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)))
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
        // Validate "host:port" here so that malformed input fails without
        // a trip to the pool, exactly as std words it.
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

/// Runs a std lookup on the blocking pool.
fn resolve<I>(lookup: impl FnOnce() -> io::Result<I> + Send + 'static) -> io::Result<std::vec::IntoIter<SocketAddr>>
where
    I: Iterator<Item = SocketAddr>,
{
    crate::blocking::run(move || lookup().map(|it| it.collect::<Vec<_>>())).map(Vec::into_iter)
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

/// Tries `f` on every address of `addr` in turn: the first success wins,
/// else the last error (std's rule for `bind` and `connect`).
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any addresses")))
}
