//! [`UnixDatagram`]: a Unix datagram socket, std's or green.

use super::*;

type Imp = Flavored<unet::UnixDatagram, green::UnixDatagram>;

/// A Unix datagram socket with std's API: blocking when made before
/// `patch_all()`, green after.
///
/// # Example
///
/// ```
/// let (a, b) = greenpatch::socket::UnixDatagram::pair().unwrap();
/// a.send(b"x").unwrap();
/// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
/// ```
pub struct UnixDatagram {
    pub(super) imp: Imp,
    pub(super) site: &'static Location<'static>,
}

socket_traits!(UnixDatagram, unet::UnixDatagram, green::UnixDatagram, STREAM_CONNECT, check = "UnixDatagram");
std_debug!(unix UnixDatagram: ["local" = local_addr, "peer" = peer_addr]);
socket_options!(
    UnixDatagram,
    "std::os::unix::net::UnixDatagram",
    setup = "let (s, _peer) = greenpatch::socket::UnixDatagram::pair().unwrap();",
    [basic, timeouts],
    {
        "The local address." fn local_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.local_addr().unwrap().is_unnamed());";
        "The connected peer's address." fn peer_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.peer_addr().unwrap().is_unnamed());";
        "Shuts down reading, writing or both." fn shutdown(&self, how: Shutdown) -> io::Result<()> =
            "s.shutdown(greenpatch::socket::Shutdown::Both).unwrap();";
    }
);

impl UnixDatagram {
    #[track_caller]
    pub(super) fn new(imp: Imp) -> UnixDatagram {
        UnixDatagram { imp, site: Location::caller() }
    }

    /// A socket bound to `path`, through `socket.UnixDatagram`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gp-facade-d-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let s = greenpatch::socket::UnixDatagram::bind(&path).unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let site = Location::caller();
        let mut s = (DATAGRAM_BIND.get())(path.as_ref())?;
        s.site = site;
        Ok(s)
    }

    /// A socket bound to `addr` — a path, or on Linux an abstract name —
    /// with the flavor `socket.UnixDatagram` has now.
    ///
    /// # Errors
    ///
    /// As std's `UnixDatagram::bind_addr`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use greenpatch::socket::unix::{SocketAddr, UnixDatagram};
    /// let name = format!("gp-facade-dgram-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = UnixDatagram::unbound().unwrap();
    /// client.send_to_addr(b"hi", &addr).unwrap();
    /// client.connect_addr(&addr).unwrap();
    /// client.send(b"!").unwrap();
    /// assert_eq!(server.recv(&mut [0; 4]).unwrap(), 2);
    /// assert_eq!(server.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let imp = if DATAGRAM_BIND.is_patched() {
            Flavored::Green(green::UnixDatagram::bind_addr(addr)?)
        } else {
            Flavored::Blocking(unet::UnixDatagram::bind_addr(addr)?)
        };
        Ok(UnixDatagram::new(imp))
    }

    /// An unbound socket, through `socket.UnixDatagram::unbound`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UnixDatagram::unbound().unwrap();
    /// assert!(s.local_addr().unwrap().is_unnamed());
    /// ```
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        let site = Location::caller();
        let mut s = (DATAGRAM_UNBOUND.get())()?;
        s.site = site;
        Ok(s)
    }

    /// A connected pair, through `socket.UnixDatagram::pair`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// See [`UnixDatagram`].
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        sited((DATAGRAM_PAIR.get())(), Location::caller(), |s, at| s.site = at)
    }

    /// Sets the default peer.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UnixDatagram::unbound().unwrap();
    /// assert!(s.connect("/nonexistent/socket").is_err());
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        crate::flavor::both!(&self.imp, s => s.connect(path.as_ref()))
    }

    /// Sets the default peer to `addr` (a path or an abstract name).
    ///
    /// # Errors
    ///
    /// As std's `UnixDatagram::connect_addr`.
    ///
    /// # Example
    ///
    /// See [`UnixDatagram::bind_addr`].
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        crate::flavor::both!(&self.imp, s => s.connect_addr(addr))
    }

    /// Sends to `addr` (a path or an abstract name).
    ///
    /// # Errors
    ///
    /// As std's `UnixDatagram::send_to_addr`.
    ///
    /// # Example
    ///
    /// See [`UnixDatagram::bind_addr`].
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.check();
        crate::flavor::both!(&self.imp, s => s.send_to_addr(buf, addr))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// See [`UnixDatagram`].
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.check();
        crate::flavor::both!(&self.imp, s => s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// See [`UnixDatagram`].
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        crate::flavor::both!(&self.imp, s => s.recv(buf))
    }

    /// Sends to the socket at `path`.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch::socket::UnixDatagram::unbound().unwrap();
    /// assert!(s.send_to(b"x", "/nonexistent/socket").is_err());
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.check();
        crate::flavor::both!(&self.imp, s => s.send_to(buf, path.as_ref()))
    }

    /// Receives one datagram and its source.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let (a, b) = greenpatch::socket::UnixDatagram::pair().unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv_from(&mut [0; 4]).unwrap().0, 1);
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.check();
        crate::flavor::both!(&self.imp, s => s.recv_from(buf))
    }
}
