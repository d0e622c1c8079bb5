//! [`UnixStream`]: a Unix stream connection, std's or green.

use super::*;

type Imp = Flavored<unet::UnixStream, green::UnixStream>;

/// A Unix stream connection with std's API: blocking when made before
/// `patch_all()`, green when made after.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = greenpatch::socket::UnixStream::pair().unwrap();
/// a.write_all(b"hi").unwrap();
/// let mut buf = [0; 2];
/// b.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hi");
/// ```
pub struct UnixStream {
    pub(super) imp: Imp,
    pub(super) site: &'static Location<'static>,
}

socket_traits!(UnixStream, unet::UnixStream, green::UnixStream, STREAM_CONNECT, check = "UnixStream", io);
std_debug!(unix UnixStream: ["local" = local_addr, "peer" = peer_addr]);
socket_options!(
    UnixStream,
    "std::os::unix::net::UnixStream",
    setup = "let (s, peer) = greenpatch::socket::UnixStream::pair().unwrap();",
    [basic, timeouts],
    {
        "The local address." fn local_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.local_addr().unwrap().is_unnamed());";
        "The peer's address." fn peer_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.peer_addr().unwrap().is_unnamed());";
        "Shuts down reading, writing or both; with the green flavor it also wakes every green thread waiting on the socket."
        fn shutdown(&self, how: Shutdown) -> io::Result<()> =
            "s.shutdown(greenpatch::socket::Shutdown::Write).unwrap();\nassert_eq!(std::io::Read::read(&mut &peer, &mut [0; 1]).unwrap(), 0);";
    }
);

impl UnixStream {
    #[track_caller]
    pub(super) fn new(imp: Imp) -> UnixStream {
        UnixStream { imp, site: Location::caller() }
    }

    /// Connects to the socket at `path`, through `socket.UnixStream`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("gp-facade-doc-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = UnixListener::bind(&path).unwrap();
    /// let c = UnixStream::connect(&path).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// # drop((c, s));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let site = Location::caller();
        let mut s = (STREAM_CONNECT.get())(path.as_ref())?;
        s.site = site;
        Ok(s)
    }

    /// Connects to `addr` — a path, or on Linux an abstract name — with
    /// the flavor `socket.UnixStream` has now.
    ///
    /// # Errors
    ///
    /// As std's `UnixStream::connect_addr`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::socket::unix::{SocketAddr, UnixStream};
    /// let addr = SocketAddr::from_pathname("/nonexistent/gp.sock").unwrap();
    /// assert_eq!(UnixStream::connect_addr(&addr).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// ```
    #[track_caller]
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let imp = if STREAM_CONNECT.is_patched() {
            Flavored::Green(green::UnixStream::connect_addr(addr)?)
        } else {
            Flavored::Blocking(unet::UnixStream::connect_addr(addr)?)
        };
        Ok(UnixStream::new(imp))
    }

    /// A connected pair, through `socket.UnixStream::pair`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let (a, b) = greenpatch::socket::UnixStream::pair().unwrap();
    /// assert_eq!(a.flavor(), b.flavor());
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        sited((STREAM_PAIR.get())(), Location::caller(), |s, at| s.site = at)
    }
}
