//! Unix-domain sockets: [`UnixStream`], [`UnixListener`] and
//! [`UnixDatagram`], std's (`std::os::unix::net`) or the runtime's.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{self as unet, SocketAddr};
use std::panic::Location;
use std::path::Path;
use std::time::Duration;

use greenpatch_runtime::net as green;

use super::{delegate, socket_traits};

type Pair<T> = io::Result<(T, T)>;

fn std_connect(p: &Path) -> io::Result<UnixStream> {
    unet::UnixStream::connect(p).map(|s| UnixStream::new(StreamImp::Blocking(s)))
}
fn green_connect(p: &Path) -> io::Result<UnixStream> {
    green::UnixStream::connect(p).map(|s| UnixStream::new(StreamImp::Green(s)))
}
fn std_stream_pair() -> Pair<UnixStream> {
    let (a, b) = unet::UnixStream::pair()?;
    Ok((UnixStream::new(StreamImp::Blocking(a)), UnixStream::new(StreamImp::Blocking(b))))
}
fn green_stream_pair() -> Pair<UnixStream> {
    let (a, b) = green::UnixStream::pair()?;
    Ok((UnixStream::new(StreamImp::Green(a)), UnixStream::new(StreamImp::Green(b))))
}
fn std_listen(p: &Path) -> io::Result<UnixListener> {
    unet::UnixListener::bind(p).map(|l| UnixListener::new(ListenerImp::Blocking(l)))
}
fn green_listen(p: &Path) -> io::Result<UnixListener> {
    green::UnixListener::bind(p).map(|l| UnixListener::new(ListenerImp::Green(l)))
}
fn std_dgram_bind(p: &Path) -> io::Result<UnixDatagram> {
    unet::UnixDatagram::bind(p).map(|s| UnixDatagram::new(DgramImp::Blocking(s)))
}
fn green_dgram_bind(p: &Path) -> io::Result<UnixDatagram> {
    green::UnixDatagram::bind(p).map(|s| UnixDatagram::new(DgramImp::Green(s)))
}
fn std_dgram_unbound() -> io::Result<UnixDatagram> {
    unet::UnixDatagram::unbound().map(|s| UnixDatagram::new(DgramImp::Blocking(s)))
}
fn green_dgram_unbound() -> io::Result<UnixDatagram> {
    green::UnixDatagram::unbound().map(|s| UnixDatagram::new(DgramImp::Green(s)))
}
fn std_dgram_pair() -> Pair<UnixDatagram> {
    let (a, b) = unet::UnixDatagram::pair()?;
    Ok((UnixDatagram::new(DgramImp::Blocking(a)), UnixDatagram::new(DgramImp::Blocking(b))))
}
fn green_dgram_pair() -> Pair<UnixDatagram> {
    let (a, b) = green::UnixDatagram::pair()?;
    Ok((UnixDatagram::new(DgramImp::Green(a)), UnixDatagram::new(DgramImp::Green(b))))
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

mod stream {
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
}

use stream::Imp as StreamImp;
pub use stream::UnixStream;

// ---------------------------------------------------------------- UnixListener

mod listener {
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
}

use listener::Imp as ListenerImp;
pub use listener::{UnixIncoming, UnixListener};

// ---------------------------------------------------------------- UnixDatagram

mod datagram {
    use super::*;

    pub(crate) enum Imp {
        Blocking(unet::UnixDatagram),
        Green(green::UnixDatagram),
    }

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

    socket_traits!(UnixDatagram, unet::UnixDatagram, green::UnixDatagram, STREAM_CONNECT);

    impl UnixDatagram {
        pub(super) fn new(imp: Imp) -> UnixDatagram {
            UnixDatagram { imp, site: Location::caller() }
        }

        #[inline]
        fn check(&self) {
            if let Imp::Blocking(_) = self.imp {
                check("UnixDatagram", self.site);
            }
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
            crate::socket::both!(&self.imp, s => s.connect(path.as_ref()))
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
            crate::socket::both!(&self.imp, s => s.send(buf))
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
            crate::socket::both!(&self.imp, s => s.recv(buf))
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
            crate::socket::both!(&self.imp, s => s.send_to(buf, path.as_ref()))
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
            crate::socket::both!(&self.imp, s => s.recv_from(buf))
        }

        /// Another handle to the same socket.
        ///
        /// # Errors
        ///
        /// As std.
        ///
        /// # Example
        ///
        /// ```
        /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
        /// let _a2 = a.try_clone().unwrap();
        /// ```
        pub fn try_clone(&self) -> io::Result<UnixDatagram> {
            let imp = match &self.imp {
                Imp::Blocking(s) => Imp::Blocking(s.try_clone()?),
                Imp::Green(s) => Imp::Green(s.try_clone()?),
            };
            Ok(UnixDatagram { imp, site: self.site })
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
            /// assert!(a.local_addr().unwrap().is_unnamed());
            /// ```
            fn local_addr(&self) -> io::Result<SocketAddr>;
            /// The connected peer's address.
            ///
            /// # Errors
            ///
            /// As std.
            ///
            /// # Example
            ///
            /// ```
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
            /// a.shutdown(greenpatch::socket::Shutdown::Both).unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
            /// a.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            /// assert!(a.recv(&mut [0; 1]).is_err());
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
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
            /// let (a, _b) = greenpatch::socket::UnixDatagram::pair().unwrap();
            /// assert!(a.take_error().unwrap().is_none());
            /// ```
            fn take_error(&self) -> io::Result<Option<io::Error>>;
        }
    }
}

use datagram::Imp as DgramImp;
pub use datagram::UnixDatagram;
