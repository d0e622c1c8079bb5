//! [`UnixListener`]: a Unix stream server socket, std's or green.

use super::*;

type Imp = Flavored<unet::UnixListener, green::UnixListener>;

/// A Unix stream server socket with std's API: blocking when bound
/// before `patch_all()`, green after; accepted streams share its
/// flavor.
///
/// # Example
///
/// ```
/// use greenpatch::socket::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("gp-facade-l-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = UnixListener::bind(&path).unwrap();
/// let _c = UnixStream::connect(&path).unwrap();
/// let (s, _) = l.accept().unwrap();
/// assert_eq!(s.flavor(), l.flavor());
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    pub(super) imp: Imp,
    pub(super) site: &'static Location<'static>,
}

socket_traits!(UnixListener, unet::UnixListener, green::UnixListener, STREAM_CONNECT);
std_debug!(unix UnixListener: ["local" = local_addr]);
socket_options!(
    UnixListener,
    "std::os::unix::net::UnixListener",
    setup = "let path = std::env::temp_dir().join(format!(\"gp-facade-o-{}.sock\", std::process::id()));\nlet _ = std::fs::remove_file(&path);\nlet s = greenpatch::socket::UnixListener::bind(&path).unwrap();\nstd::fs::remove_file(&path).unwrap();",
    [basic],
    {
        "The local address." fn local_addr(&self) -> io::Result<SocketAddr> =
            "assert!(s.local_addr().unwrap().as_pathname().is_some());";
    }
);

impl UnixListener {
    #[track_caller]
    pub(super) fn new(imp: Imp) -> UnixListener {
        UnixListener { imp, site: Location::caller() }
    }

    /// Binds to `path` and listens, through `socket.UnixListener`.
    ///
    /// # Errors
    ///
    /// As std (e.g. the path exists).
    ///
    /// # Example
    ///
    /// See [`UnixListener`].
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let site = Location::caller();
        let mut l = (LISTENER_BIND.get())(path.as_ref())?;
        l.site = site;
        Ok(l)
    }

    /// Binds to `addr` — a path, or on Linux an abstract name — and
    /// listens, with the flavor `socket.UnixListener` has now.
    ///
    /// # Errors
    ///
    /// As std's `UnixListener::bind_addr`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use greenpatch::socket::unix::{SocketAddr, UnixListener, UnixStream};
    /// let name = format!("gp-facade-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let l = UnixListener::bind_addr(&addr).unwrap();
    /// let _c = UnixStream::connect_addr(&addr).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let imp = if LISTENER_BIND.is_patched() {
            Flavored::Green(green::UnixListener::bind_addr(addr)?)
        } else {
            Flavored::Blocking(unet::UnixListener::bind_addr(addr)?)
        };
        Ok(UnixListener::new(imp))
    }

    /// Waits for a connection.
    ///
    /// # Errors
    ///
    /// As std; `WouldBlock` in non-blocking mode.
    ///
    /// # Example
    ///
    /// See [`UnixListener`].
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (imp, a) = match &self.imp {
            Flavored::Blocking(l) => {
                check("UnixListener", self.site);
                l.accept().map(|(s, a)| (Flavored::Blocking(s), a))?
            }
            Flavored::Green(l) => l.accept().map(|(s, a)| (Flavored::Green(s), a))?,
        };
        Ok((UnixStream { imp, site: self.site }, a))
    }

    /// An endless iterator over incoming connections.
    ///
    /// # Example
    ///
    /// ```
    /// # fn f(l: &greenpatch::socket::UnixListener) {
    /// for s in l.incoming().take(1) {
    ///     let _ = s;
    /// }
    /// # }
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }
}

/// An endless iterator over a [`UnixListener`]'s connections.
///
/// # Example
///
/// ```
/// # fn f(l: &greenpatch::socket::UnixListener) {
/// let _it: greenpatch::socket::UnixIncoming<'_> = l.incoming();
/// # }
/// ```
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

/// `for s in &listener`, as std.
impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = UnixIncoming<'a>;
    fn into_iter(self) -> UnixIncoming<'a> {
        self.incoming()
    }
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
