//! [`UnixStream`]: a Unix stream connection, std's or green.

use super::*;

pub(crate) enum Imp {
    Blocking(unet::UnixStream),
    Green(green::UnixStream),
}

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

socket_traits!(UnixStream, unet::UnixStream, green::UnixStream, STREAM_CONNECT);

impl UnixStream {
    pub(super) fn new(imp: Imp) -> UnixStream {
        UnixStream { imp, site: Location::caller() }
    }

    #[inline]
    pub(super) fn check(&self) {
        if let Imp::Blocking(_) = self.imp {
            check("UnixStream", self.site);
        }
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

    /// Another handle to the same connection (same flavor).
    ///
    /// # Errors
    ///
    /// As std.
    ///
    /// # Example
    ///
    /// ```
    /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
    /// let _a2 = a.try_clone().unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let imp = match &self.imp {
            Imp::Blocking(s) => Imp::Blocking(s.try_clone()?),
            Imp::Green(s) => Imp::Green(s.try_clone()?),
        };
        Ok(UnixStream { imp, site: self.site })
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
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// assert!(a.local_addr().unwrap().is_unnamed());
        /// ```
        fn local_addr(&self) -> io::Result<SocketAddr>;
        /// The peer's address.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// assert!(a.peer_addr().unwrap().is_unnamed());
        /// ```
        fn peer_addr(&self) -> io::Result<SocketAddr>;
        /// Shuts down reading, writing or both.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// use std::io::Read;
        /// use greenpatch::socket::Shutdown;
        /// let (a, mut b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// a.shutdown(Shutdown::Write).unwrap();
        /// assert_eq!(b.read(&mut [0; 1]).unwrap(), 0);
        /// ```
        fn shutdown(&self, how: Shutdown) -> io::Result<()>;
        /// Sets the read timeout.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for a zero duration.
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// a.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        /// ```
        fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
        /// Sets the write timeout.
        ///
        /// # Errors
        ///
        /// `InvalidInput` for a zero duration.
        ///
        /// # Example
        ///
        /// ```
        /// use std::time::Duration;
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// a.set_write_timeout(Some(Duration::from_millis(1))).unwrap();
        /// ```
        fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()>;
        /// The read timeout.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// assert_eq!(a.read_timeout().unwrap(), None);
        /// ```
        fn read_timeout(&self) -> io::Result<Option<Duration>>;
        /// The write timeout.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// assert_eq!(a.write_timeout().unwrap(), None);
        /// ```
        fn write_timeout(&self) -> io::Result<Option<Duration>>;
        /// Non-blocking mode.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// a.set_nonblocking(true).unwrap();
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
        /// let (a, _b) = greenpatch::socket::UnixStream::pair().unwrap();
        /// assert!(a.take_error().unwrap().is_none());
        /// ```
        fn take_error(&self) -> io::Result<Option<io::Error>>;
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check();
        crate::socket::both!(&self.imp, s => (&*s).read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.check();
        crate::socket::both!(&self.imp, s => (&*s).read_vectored(bufs))
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check();
        crate::socket::both!(&self.imp, s => (&*s).write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.check();
        crate::socket::both!(&self.imp, s => (&*s).write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
