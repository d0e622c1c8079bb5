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
//! the types std implements it for (every implementor of the runtime's
//! trait, which does the parsing; this module adds only the resolver), so `connect("host:80")` and
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
pub mod unix;

use std::io;
use std::time::Duration;

use crate::flavor::{both, Flavored};

pub use std::net::{AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{SocketAddr as UnixSocketAddr, UnixDatagram, UnixIncoming, UnixListener, UnixStream};

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
/// `std::net::ToSocketAddrs` (and implemented for the same types: every
/// type that implements the runtime's `ToSocketAddrs`), whose host names
/// resolve through `socket.lookup_host` — green after patching.
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

/// The runtime's address types, resolved with the registry's resolver.
impl<T: greenpatch_runtime::net::ToSocketAddrs + ?Sized> ToSocketAddrs for T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.to_socket_addrs_with(LOOKUP.get())
    }
}

/// Tries `f` on each address of `addr` in turn, host names resolved through
/// `socket.lookup_host`: the first success wins, else the last error.
fn each_addr<A: ToSocketAddrs, T>(addr: A, f: impl FnMut(&SocketAddr) -> io::Result<T>) -> io::Result<T> {
    greenpatch_runtime::net::each_addr(addr.to_socket_addrs()?, f)
}

/// The options that std's socket types and the runtime's share, declared
/// once: implemented for both by forwarding to their methods of the same
/// name, and for a `Flavored` pair of them by dispatch. The facades'
/// public methods (`socket_options!`) call through it.
pub(crate) trait SocketOptions {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
}

/// The fields std's `Debug` prints for a socket, in std's order: for IP
/// sockets `addr` (local), `peer` (when connected), `fd`; for Unix sockets
/// `fd`, `local`, `peer`. An address that cannot be read is left out, as
/// std does. The facades' `Debug` adds `flavor` after them.
pub(crate) trait StdDebug {
    fn std_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>);
}

/// `StdDebug` for facade socket `$t` from its address methods.
macro_rules! std_debug {
    (ip $t:ident: [$($field:literal = $method:ident),*]) => {
        impl crate::socket::StdDebug for $t {
            fn std_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
                $(if let Ok(a) = self.$method() {
                    d.field($field, &a);
                })*
                d.field("fd", &std::os::fd::AsRawFd::as_raw_fd(self));
            }
        }
    };
    (unix $t:ident: [$($field:literal = $method:ident),*]) => {
        impl crate::socket::StdDebug for $t {
            fn std_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
                d.field("fd", &std::os::fd::AsRawFd::as_raw_fd(self));
                $(if let Ok(a) = self.$method() {
                    d.field($field, &a);
                })*
            }
        }
    };
}
use std_debug;

/// The timeouts of a connected or datagram socket.
pub(crate) trait Timeouts {
    fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
    fn write_timeout(&self) -> io::Result<Option<Duration>>;
}

/// `IP_TTL`, for the IP sockets.
pub(crate) trait Ttl {
    fn set_ttl(&self, ttl: u32) -> io::Result<()>;
    fn ttl(&self) -> io::Result<u32>;
}

/// Implements `$trait` for each type by forwarding to its inherent methods,
/// and for `Flavored` of two implementors by dispatch.
macro_rules! forward {
    ($trait:ident for [$($ty:ty),+]: $methods:tt) => {
        $(forward!(@impl $trait, $ty, $methods);)+
        forward!(@flavored $trait, $methods);
    };
    (@impl $trait:ident, $ty:ty, {$(fn $name:ident(&self $(, $arg:ident: $aty:ty)*) -> $ret:ty;)+}) => {
        impl $trait for $ty {
            $(#[inline]
            fn $name(&self $(, $arg: $aty)*) -> $ret {
                <$ty>::$name(self $(, $arg)*)
            })+
        }
    };
    (@flavored $trait:ident, {$(fn $name:ident(&self $(, $arg:ident: $aty:ty)*) -> $ret:ty;)+}) => {
        impl<B: $trait, G: $trait> $trait for Flavored<B, G> {
            $(#[inline]
            fn $name(&self $(, $arg: $aty)*) -> $ret {
                both!(self, s => $trait::$name(s $(, $arg)*))
            })+
        }
    };
}

use greenpatch_runtime::net as rt_net;
#[cfg(unix)]
use std::os::unix::net as unet;

#[cfg(unix)]
forward!(SocketOptions for [
    std::net::TcpStream, rt_net::TcpStream, std::net::TcpListener, rt_net::TcpListener,
    std::net::UdpSocket, rt_net::UdpSocket, unet::UnixStream, rt_net::UnixStream,
    unet::UnixListener, rt_net::UnixListener, unet::UnixDatagram, rt_net::UnixDatagram]: {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
});
#[cfg(unix)]
forward!(Timeouts for [
    std::net::TcpStream, rt_net::TcpStream, std::net::UdpSocket, rt_net::UdpSocket,
    unet::UnixStream, rt_net::UnixStream, unet::UnixDatagram, rt_net::UnixDatagram]: {
    fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
    fn write_timeout(&self) -> io::Result<Option<Duration>>;
});
forward!(Ttl for [
    std::net::TcpStream, rt_net::TcpStream, std::net::TcpListener, rt_net::TcpListener,
    std::net::UdpSocket, rt_net::UdpSocket]: {
    fn set_ttl(&self, ttl: u32) -> io::Result<()>;
    fn ttl(&self) -> io::Result<u32>;
});

/// The public option methods of facade socket `$t` (std's `$std`), for the
/// groups listed: each links to std's method and shows a use on `s`, made by
/// the `setup` lines.
macro_rules! socket_options {
    ($t:ident, $std:literal, setup = $setup:literal, [$($group:ident),+]
        $(, {$($doc:literal fn $name:ident(&self $(, $arg:ident: $aty:ty)*) -> $ret:ty = $example:literal;)+})?) => {
        impl $t {
            $(socket_options!(@$group $std, $setup);)+
            $($(
            #[doc = $doc]
            ///
            /// # Errors
            ///
            #[doc = concat!("As [`", $std, "::", stringify!($name), "`].")]
            ///
            /// # Example
            ///
            /// ```
            #[doc = $setup]
            #[doc = $example]
            /// ```
            #[inline]
            pub fn $name(&self $(, $arg: $aty)*) -> $ret {
                crate::flavor::both!(&self.imp, s => s.$name($($arg),*))
            }
            )+)?
        }
    };
    (@basic $std:literal, $setup:literal) => {
        socket_options!(@method $std, $setup, SocketOptions,
            "Non-blocking mode: an operation that would wait returns `WouldBlock` at once.",
            fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> = "s.set_nonblocking(true).unwrap();");
        socket_options!(@method $std, $setup, SocketOptions, "Takes the pending `SO_ERROR`.",
            fn take_error(&self) -> io::Result<Option<io::Error>> = "assert!(s.take_error().unwrap().is_none());");
    };
    (@timeouts $std:literal, $setup:literal) => {
        socket_options!(@method $std, $setup, Timeouts,
            "Sets the read timeout (`None`: wait forever); a read that waits longer fails with `WouldBlock`, as std on Linux. `InvalidInput` for a zero duration.",
            fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> =
                "s.set_read_timeout(Some(std::time::Duration::from_secs(1))).unwrap();\nassert_eq!(s.read_timeout().unwrap(), Some(std::time::Duration::from_secs(1)));");
        socket_options!(@method $std, $setup, Timeouts, "Sets the write timeout. `InvalidInput` for a zero duration.",
            fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> =
                "s.set_write_timeout(Some(std::time::Duration::from_secs(1))).unwrap();\nassert!(s.write_timeout().unwrap().is_some());");
        socket_options!(@method $std, $setup, Timeouts, "The read timeout.",
            fn read_timeout(&self) -> io::Result<Option<Duration>> = "assert_eq!(s.read_timeout().unwrap(), None);");
        socket_options!(@method $std, $setup, Timeouts, "The write timeout.",
            fn write_timeout(&self) -> io::Result<Option<Duration>> = "assert_eq!(s.write_timeout().unwrap(), None);");
    };
    (@ttl $std:literal, $setup:literal) => {
        socket_options!(@method $std, $setup, Ttl, "Sets `IP_TTL`.",
            fn set_ttl(&self, ttl: u32) -> io::Result<()> = "s.set_ttl(64).unwrap();\nassert_eq!(s.ttl().unwrap(), 64);");
        socket_options!(@method $std, $setup, Ttl, "`IP_TTL`.",
            fn ttl(&self) -> io::Result<u32> = "assert!(s.ttl().unwrap() > 0);");
    };
    (@method $std:literal, $setup:literal, $trait:ident, $doc:literal,
        fn $name:ident(&self $(, $arg:ident: $aty:ty)*) -> $ret:ty = $example:literal) => {
        #[doc = $doc]
        ///
        /// # Errors
        ///
        #[doc = concat!("As [`", $std, "::", stringify!($name), "`].")]
        ///
        /// # Example
        ///
        /// ```
        #[doc = $setup]
        #[doc = $example]
        /// ```
        #[inline]
        pub fn $name(&self $(, $arg: $aty)*) -> $ret {
            crate::socket::$trait::$name(&self.imp $(, $arg)*)
        }
    };
}
use socket_options;

/// Implements, for facade socket `$t` with `imp: Flavored<$std, $green>`
/// and `site`: the descriptor traits and conversions, `Debug`, `flavor()`,
/// `try_clone`; and, with `io`, `Read`/`Write` for `$t` and `&$t` (checking
/// a pre-patch socket used from a green thread first). `$slot` is the
/// module's item that says whether `socket` is patched.
macro_rules! socket_traits {
    ($t:ident, $std:ty, $green:ty, $slot:path $(, check = $kind:literal $(, $io:ident)?)?) => {
        impl std::os::fd::AsRawFd for $t {
            #[inline]
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.imp)
            }
        }

        impl std::os::fd::AsFd for $t {
            #[inline]
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.imp)
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
                    $crate::flavor::Flavored::Blocking(s) => s,
                    $crate::flavor::Flavored::Green(s) => <$std>::from(s),
                }
            }
        }

        /// Wraps a std socket with the flavor its module has now: green
        /// once `socket` is patched.
        impl From<$std> for $t {
            #[track_caller]
            fn from(s: $std) -> $t {
                let imp = if $slot.is_patched() {
                    $crate::flavor::Flavored::Green(<$green>::from(s))
                } else {
                    $crate::flavor::Flavored::Blocking(s)
                };
                $t { imp, site: std::panic::Location::caller() }
            }
        }

        /// std's fields (`addr`/`peer`/`fd`, or `fd`/`local`/`peer` for
        /// Unix sockets), then the flavor.
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($t));
                crate::socket::StdDebug::std_fields(self, &mut d);
                d.field("flavor", &self.flavor()).finish()
            }
        }

        /// Takes over a socket descriptor, with the flavor its module has
        /// now (as `From<std>`).
        impl std::os::fd::FromRawFd for $t {
            #[track_caller]
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $t {
                // SAFETY: forwarded: the caller hands over an open socket
                // descriptor that it owns.
                <$t>::from(unsafe { <$std as std::os::fd::FromRawFd>::from_raw_fd(fd) })
            }
        }

        /// Takes over an owned socket descriptor (as `From<std>`).
        impl From<std::os::fd::OwnedFd> for $t {
            #[track_caller]
            fn from(fd: std::os::fd::OwnedFd) -> $t {
                <$t>::from(<$std>::from(fd))
            }
        }

        /// Gives up the descriptor (a green socket is put back in blocking
        /// mode first, as `From<$t> for std`).
        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                <$std>::from(s).into()
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
            #[inline]
            pub fn flavor(&self) -> crate::Flavor {
                self.imp.flavor()
            }

            /// Another handle to the same socket, of the same flavor.
            ///
            /// # Errors
            ///
            #[doc = concat!("As [`", stringify!($std), "::try_clone`] (`dup` failed).")]
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("# fn f(s: &greenpatch::socket::", stringify!($t), ") {")]
            /// let s2 = s.try_clone().unwrap();
            /// assert_eq!(s2.flavor(), s.flavor());
            /// # }
            /// ```
            pub fn try_clone(&self) -> io::Result<$t> {
                let imp = self.imp.as_ref().try_map(<$std>::try_clone, <$green>::try_clone)?;
                Ok($t { imp, site: self.site })
            }
        }

        $(
        impl $t {
            /// Reports a blocking call of a pre-patch socket from a green thread.
            #[inline]
            fn check(&self) {
                if let $crate::flavor::Flavored::Blocking(_) = self.imp {
                    crate::stale::check($slot.is_patched(), $kind, self.site, "made before patch_all()");
                }
            }
        }

        $(crate::socket::socket_traits!(@$io $t);)?
        )?
    };
    (@io $t:ident) => {
        impl std::io::Read for &$t {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.check();
                crate::flavor::both!(&self.imp, s => std::io::Read::read(&mut &*s, buf))
            }

            fn read_vectored(&mut self, bufs: &mut [std::io::IoSliceMut<'_>]) -> io::Result<usize> {
                self.check();
                crate::flavor::both!(&self.imp, s => std::io::Read::read_vectored(&mut &*s, bufs))
            }
        }

        impl std::io::Write for &$t {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.check();
                crate::flavor::both!(&self.imp, s => std::io::Write::write(&mut &*s, buf))
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
                self.check();
                crate::flavor::both!(&self.imp, s => std::io::Write::write_vectored(&mut &*s, bufs))
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        greenpatch_runtime::__io_by_value!($t; read: [read, read_vectored]; write: [write, write_vectored]);
    };
}
use socket_traits;
