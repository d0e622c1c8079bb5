//! [`UnixListener`]: a Unix stream server socket, std's or green.

use super::*;

pub(crate) enum Imp {
    Blocking(unet::UnixListener),
    Green(green::UnixListener),
}

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

impl UnixListener {
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
        match &self.imp {
            Imp::Blocking(l) => {
                check("UnixListener", self.site);
                let (s, a) = l.accept()?;
                Ok((UnixStream { imp: StreamImp::Blocking(s), site: self.site }, a))
            }
            Imp::Green(l) => {
                let (s, a) = l.accept()?;
                Ok((UnixStream { imp: StreamImp::Green(s), site: self.site }, a))
            }
        }
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

    /// Another handle to the same listener.
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// # fn f(l: &greenpatch::socket::UnixListener) {
    /// let _l2 = l.try_clone().unwrap();
    /// # }
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let imp = match &self.imp {
            Imp::Blocking(l) => Imp::Blocking(l.try_clone()?),
            Imp::Green(l) => Imp::Green(l.try_clone()?),
        };
        Ok(UnixListener { imp, site: self.site })
    }

    delegate! {
        /// The local address.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// # fn f(l: &greenpatch::socket::UnixListener) {
        /// let _ = l.local_addr().unwrap().as_pathname();
        /// # }
        /// ```
        fn local_addr(&self) -> io::Result<SocketAddr>;
        /// Non-blocking mode.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// # fn f(l: &greenpatch::socket::UnixListener) {
        /// l.set_nonblocking(true).unwrap();
        /// # }
        /// ```
        fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
        /// Takes the pending `SO_ERROR`.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// # fn f(l: &greenpatch::socket::UnixListener) {
        /// let _ = l.take_error();
        /// # }
        /// ```
        fn take_error(&self) -> io::Result<Option<io::Error>>;
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

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
