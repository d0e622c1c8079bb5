//! Unix-domain sockets: [`UnixStream`], [`UnixListener`] and
//! [`UnixDatagram`], std's (`std::os::unix::net`) or the runtime's — this
//! module mirrors `std::os::unix::net`, with its [`SocketAddr`] (paths,
//! unnamed addresses and, on Linux, abstract names through std's
//! `SocketAddrExt`); `greenpatch::socket` re-exports the socket types.
//!
//! ```
//! use greenpatch::socket::unix::{SocketAddr, UnixListener, UnixStream};
//! let path = std::env::temp_dir().join(format!("gp-unix-mod-{}.sock", std::process::id()));
//! let _ = std::fs::remove_file(&path);
//! let l = UnixListener::bind_addr(&SocketAddr::from_pathname(&path).unwrap()).unwrap();
//! let _c = UnixStream::connect(&path).unwrap();
//! let (_s, from) = l.accept().unwrap();
//! assert!(from.is_unnamed());
//! std::fs::remove_file(&path).unwrap();
//! ```

use std::io;
use std::net::Shutdown;
use std::os::unix::net as unet;
pub use std::os::unix::net::SocketAddr;
use std::panic::Location;
use std::path::Path;
use std::time::Duration;

use greenpatch_runtime::net as green;

use super::{socket_options, socket_traits, std_debug};
use crate::flavor::Flavored;

type Pair<T> = io::Result<(T, T)>;

fn std_connect(p: &Path) -> io::Result<UnixStream> {
    unet::UnixStream::connect(p).map(|s| UnixStream::new(Flavored::Blocking(s)))
}
fn green_connect(p: &Path) -> io::Result<UnixStream> {
    green::UnixStream::connect(p).map(|s| UnixStream::new(Flavored::Green(s)))
}
fn std_stream_pair() -> Pair<UnixStream> {
    let (a, b) = unet::UnixStream::pair()?;
    Ok((UnixStream::new(Flavored::Blocking(a)), UnixStream::new(Flavored::Blocking(b))))
}
fn green_stream_pair() -> Pair<UnixStream> {
    let (a, b) = green::UnixStream::pair()?;
    Ok((UnixStream::new(Flavored::Green(a)), UnixStream::new(Flavored::Green(b))))
}
fn std_listen(p: &Path) -> io::Result<UnixListener> {
    unet::UnixListener::bind(p).map(|l| UnixListener::new(Flavored::Blocking(l)))
}
fn green_listen(p: &Path) -> io::Result<UnixListener> {
    green::UnixListener::bind(p).map(|l| UnixListener::new(Flavored::Green(l)))
}
fn std_dgram_bind(p: &Path) -> io::Result<UnixDatagram> {
    unet::UnixDatagram::bind(p).map(|s| UnixDatagram::new(Flavored::Blocking(s)))
}
fn green_dgram_bind(p: &Path) -> io::Result<UnixDatagram> {
    green::UnixDatagram::bind(p).map(|s| UnixDatagram::new(Flavored::Green(s)))
}
fn std_dgram_unbound() -> io::Result<UnixDatagram> {
    unet::UnixDatagram::unbound().map(|s| UnixDatagram::new(Flavored::Blocking(s)))
}
fn green_dgram_unbound() -> io::Result<UnixDatagram> {
    green::UnixDatagram::unbound().map(|s| UnixDatagram::new(Flavored::Green(s)))
}
fn std_dgram_pair() -> Pair<UnixDatagram> {
    let (a, b) = unet::UnixDatagram::pair()?;
    Ok((UnixDatagram::new(Flavored::Blocking(a)), UnixDatagram::new(Flavored::Blocking(b))))
}
fn green_dgram_pair() -> Pair<UnixDatagram> {
    let (a, b) = green::UnixDatagram::pair()?;
    Ok((UnixDatagram::new(Flavored::Green(a)), UnixDatagram::new(Flavored::Green(b))))
}

crate::slot! {
    /// `socket.UnixStream`: connect.
    pub(crate) static STREAM_CONNECT: fn(&Path) -> io::Result<UnixStream> = ("UnixStream", std_connect, green_connect);
    /// `socket.UnixStream::pair`.
    pub(crate) static STREAM_PAIR: fn() -> io::Result<(UnixStream, UnixStream)> =
        ("UnixStream::pair", std_stream_pair, green_stream_pair);
    /// `socket.UnixListener`: bind.
    pub(crate) static LISTENER_BIND: fn(&Path) -> io::Result<UnixListener> = ("UnixListener", std_listen, green_listen);
    /// `socket.UnixDatagram`: bind.
    pub(crate) static DATAGRAM_BIND: fn(&Path) -> io::Result<UnixDatagram> =
        ("UnixDatagram", std_dgram_bind, green_dgram_bind);
    /// `socket.UnixDatagram::unbound`.
    pub(crate) static DATAGRAM_UNBOUND: fn() -> io::Result<UnixDatagram> =
        ("UnixDatagram::unbound", std_dgram_unbound, green_dgram_unbound);
    /// `socket.UnixDatagram::pair`.
    pub(crate) static DATAGRAM_PAIR: fn() -> io::Result<(UnixDatagram, UnixDatagram)> =
        ("UnixDatagram::pair", std_dgram_pair, green_dgram_pair);
}

/// Reports a blocking call of a pre-patch socket from a green thread.
#[inline]
fn check(kind: &'static str, site: &'static Location<'static>) {
    crate::stale::check(STREAM_CONNECT.is_patched(), kind, site, "made before patch_all()");
}

/// Re-sites a constructed pair.
fn sited<T>(r: Pair<T>, site: &'static Location<'static>, set: impl Fn(&mut T, &'static Location<'static>)) -> Pair<T> {
    let (mut a, mut b) = r?;
    set(&mut a, site);
    set(&mut b, site);
    Ok((a, b))
}

// ------------------------------------------------------------------ UnixStream

mod stream;

pub use stream::UnixStream;

// ---------------------------------------------------------------- UnixListener

mod listener;

pub use listener::{UnixIncoming, UnixListener};

// ---------------------------------------------------------------- UnixDatagram

mod datagram;

pub use datagram::UnixDatagram;
