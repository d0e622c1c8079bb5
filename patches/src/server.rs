//! A stream server under the facade rule (gevent's `StreamServer`): a
//! facade listener and one facade thread per connection — OS threads and
//! blocking sockets before `patch_all()`, green threads after.
//!
//! # Model
//!
//! A [`StreamServer`] takes its flavor from its listener, which took it
//! when it was bound ([`Flavor`]):
//!
//! - **green** (bound after patching): the server is the runtime's
//!   [`greenpatch_runtime::server::StreamServer`] over the facade listener —
//!   one acceptor green thread, a green thread per connection, placement
//!   over the hubs of a multi-hub runtime; `stop` kills the handlers still
//!   running at its deadline.
//! - **blocking** (bound before): an acceptor OS thread and an OS thread per
//!   connection, each spawned through [`crate::thread::Builder`] (so they
//!   count as the program's threads for the pre-patch check). The acceptor
//!   waits for a connection *or* a stop with `poll` on the listener (set
//!   non-blocking) and a pipe that `stop` writes to, so stopping never needs
//!   a wake-up connection.
//!
//! Both flavors keep the same API and rules: the pool bound
//! ([`StreamServer::pool`]) is taken before accepting, so a full server
//! leaves connections in the kernel's accept queue; an accept that fails
//! for lack of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`,
//! `ENOMEM`) is reported once a minute at most and retried after a pause
//! that doubles from 5 ms to 200 ms (on an OS thread the pause is a `poll`
//! on the stop pipe, so `stop` interrupts it); a connection that failed
//! before it was accepted is skipped; a broken listener ends the server.
//!
//! # Stopping OS threads
//!
//! An OS thread cannot be killed. The blocking flavor therefore keeps a
//! duplicate descriptor of the connection each handler is serving, and at
//! `stop`'s deadline it *shuts down* the connections of the handlers still
//! running (`shutdown(SHUT_RDWR)`): their reads return end-of-file and
//! their writes fail, which ends any handler that serves its connection.
//! Those are counted in [`Stopped::killed`]; a handler that still runs
//! after that (it waits on something else) is counted in
//! [`Stopped::still_running`], and [`ServerHandle::wait`] waits for it.
//!
//! Descriptors go to connections first: a duplicate is made only while
//! the connection's descriptor is below half the process's open-file
//! limit, and when `accept` runs out of descriptors the server closes every
//! duplicate it holds and retries at once. A connection without a
//! duplicate is served all the same; `stop` can only wait for its handler.
//! (Keeping the bare descriptor number instead would not be sound: the
//! handler may close it and the number be reused by an unrelated socket.)
//!
//! The duplicate has one visible effect: a handler that drops its
//! connection and goes on working keeps the socket open until it returns,
//! so its peer sees the close only then. A handler that must close early
//! calls `shutdown(Shutdown::Both)` on the connection first, which acts on
//! the socket itself and so is seen at once.
//!
//! # Invariants
//! - Blocking flavor: `active` counts handlers spawned and not finished;
//!   the guard a handler's closure owns decrements it and removes the
//!   handler's duplicate descriptor (also when the closure is dropped
//!   unrun), under the state lock, so `stop` never shuts down a descriptor
//!   after its handler is done with it.
//! - The join handles of the handler threads are kept until joined: by
//!   the acceptor as they finish, and by `stop`/`wait` once no handler runs,
//!   so a server that has stopped leaves no thread of its own behind.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex as StdMutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;

pub use greenpatch_runtime::server::Stopped;
use greenpatch_runtime::server::{AcceptBackoff, AcceptError};

use crate::socket::{TcpListener, TcpStream, UnixListener, UnixSocketAddr, UnixStream};
use crate::thread::{Builder, JoinHandle};
use crate::Flavor;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::socket::TcpListener {}
    impl Sealed for crate::socket::UnixListener {}
}

/// A facade listener a [`StreamServer`] can serve:
/// [`greenpatch::socket::TcpListener`](crate::socket::TcpListener) and
/// [`UnixListener`]. Sealed.
///
/// ```
/// use greenpatch::server::Listener;
/// use greenpatch::socket::{TcpListener, TcpStream};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
/// let (_conn, peer) = l.accept_conn().unwrap();
/// assert_eq!(peer, c.local_addr().unwrap());
/// ```
pub trait Listener: sealed::Sealed + AsRawFd + Send + Sync + 'static {
    /// A connection.
    type Conn: AsFd + Send + 'static;
    /// The peer's address.
    type Addr: Send + 'static;
    /// Waits for and accepts the next connection (as the listener's
    /// `accept`).
    ///
    /// # Errors
    /// As the listener's `accept`.
    fn accept_conn(&self) -> io::Result<(Self::Conn, Self::Addr)>;
    /// The listener's flavor, which becomes the server's.
    fn listener_flavor(&self) -> Flavor;
    /// Switches non-blocking mode (the blocking flavor's acceptor polls).
    ///
    /// # Errors
    /// As `set_nonblocking`.
    fn set_listener_nonblocking(&self, on: bool) -> io::Result<()>;
}

impl Listener for TcpListener {
    type Conn = TcpStream;
    type Addr = std::net::SocketAddr;
    fn accept_conn(&self) -> io::Result<(TcpStream, std::net::SocketAddr)> {
        self.accept()
    }
    fn listener_flavor(&self) -> Flavor {
        self.flavor()
    }
    fn set_listener_nonblocking(&self, on: bool) -> io::Result<()> {
        self.set_nonblocking(on)
    }
}

impl Listener for UnixListener {
    type Conn = UnixStream;
    type Addr = UnixSocketAddr;
    fn accept_conn(&self) -> io::Result<(UnixStream, UnixSocketAddr)> {
        self.accept()
    }
    fn listener_flavor(&self) -> Flavor {
        self.flavor()
    }
    fn set_listener_nonblocking(&self, on: bool) -> io::Result<()> {
        self.set_nonblocking(on)
    }
}

/// A facade listener seen as a runtime listener (green flavor only: its
/// `accept` parks the green thread).
struct Green<L>(L);

impl<L: Listener> rt::server::Listener for Green<L> {
    type Conn = L::Conn;
    type Addr = L::Addr;
    fn accept_conn(&self) -> io::Result<(L::Conn, L::Addr)> {
        self.0.accept_conn()
    }
}

type Handler<L> = dyn Fn(<L as Listener>::Conn, <L as Listener>::Addr) + Send + Sync;

/// A server that runs `handler(conn, peer)` on a thread of its own for
/// every accepted connection: an OS thread when the listener is blocking
/// (bound before `patch_all()`), a green thread when it is green. See the
/// [module](self) for how each flavor stops.
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch::server::StreamServer;
/// use greenpatch::socket::{TcpListener, TcpStream};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let server = StreamServer::new(l, |mut s: TcpStream, _peer| {
///     let mut buf = [0; 5];
///     s.read_exact(&mut buf).unwrap();
///     s.write_all(&buf).unwrap();
/// })
/// .start();
/// assert_eq!(server.flavor(), greenpatch::Flavor::Blocking); // not patched
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"hello").unwrap();
/// let mut back = [0; 5];
/// c.read_exact(&mut back).unwrap();
/// assert_eq!(&back, b"hello");
/// assert_eq!(server.stop(std::time::Duration::from_secs(1)).killed, 0);
/// ```
pub struct StreamServer<L: Listener> {
    listener: L,
    handler: Arc<Handler<L>>,
    pool: Option<usize>,
}

impl<L: Listener> StreamServer<L> {
    /// A server for `listener` (bound and listening) running `handler` per
    /// connection; nothing runs until [`start`](StreamServer::start) or
    /// [`serve_forever`](StreamServer::serve_forever).
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {});
    /// assert_eq!(s.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn new(listener: L, handler: impl Fn(L::Conn, L::Addr) + Send + Sync + 'static) -> StreamServer<L> {
        StreamServer { listener, handler: Arc::new(handler), pool: None }
    }

    /// Serves at most `size` connections at once (gevent's
    /// `spawn=Pool(size)`): the next one is accepted when a handler ends.
    /// For the blocking flavor it also bounds the server's OS threads.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).pool(100);
    /// # drop(s);
    /// ```
    pub fn pool(mut self, size: usize) -> StreamServer<L> {
        self.pool = Some(size.max(1));
        self
    }

    /// The flavor the server will run with: its listener's.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener, Flavor};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {});
    /// assert_eq!(s.flavor(), Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.listener.listener_flavor()
    }

    /// Starts accepting (on a green thread, or on an OS thread for the
    /// blocking flavor) and returns at once.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// assert_eq!(h.stop(std::time::Duration::from_millis(100)).killed, 0);
    /// ```
    #[track_caller]
    pub fn start(self) -> ServerHandle {
        let StreamServer { listener, handler, pool } = self;
        match listener.listener_flavor() {
            Flavor::Green => {
                let mut s = rt::server::StreamServer::new(Green(listener), move |c, a| handler(c, a));
                if let Some(n) = pool {
                    s = s.pool(n);
                }
                ServerHandle { imp: Imp::Green(s.start()) }
            }
            Flavor::Blocking => ServerHandle { imp: Imp::Os(OsServer::start(listener, handler, pool)) },
        }
    }

    /// Starts and waits until the server stops (another thread calls
    /// [`ServerHandle::stop`]) or its listener fails, and its handlers are
    /// done.
    ///
    /// # Errors
    /// The error that ended the accept loop, or the one that kept it from
    /// starting.
    ///
    /// ```no_run
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// StreamServer::new(TcpListener::bind("127.0.0.1:8080").unwrap(), |_c, _a| {}).serve_forever().unwrap();
    /// ```
    #[track_caller]
    pub fn serve_forever(self) -> io::Result<()> {
        self.start().wait()
    }
}

impl<L: Listener> fmt::Debug for StreamServer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamServer").field("flavor", &self.flavor()).field("pool", &self.pool).finish()
    }
}

enum Imp {
    Green(rt::server::ServerHandle),
    Os(OsServer),
}

/// A running [`StreamServer`]: stop it, wait for it. Share it (`Arc`) to
/// stop it from another thread.
///
/// ```
/// use greenpatch::{server::StreamServer, socket::TcpListener};
/// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
/// assert_eq!(h.active(), 0);
/// h.stop(std::time::Duration::from_millis(50));
/// h.wait().unwrap();
/// ```
pub struct ServerHandle {
    imp: Imp,
}

impl ServerHandle {
    /// Handlers running now.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// assert_eq!(h.active(), 0);
    /// # h.stop(std::time::Duration::ZERO);
    /// ```
    pub fn active(&self) -> usize {
        match &self.imp {
            Imp::Green(h) => h.active(),
            Imp::Os(s) => s.shared.state().active,
        }
    }

    /// The server's flavor: green threads or OS threads.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener, Flavor};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// assert_eq!(h.flavor(), Flavor::Blocking);
    /// # h.stop(std::time::Duration::ZERO);
    /// ```
    pub fn flavor(&self) -> Flavor {
        match &self.imp {
            Imp::Green(_) => Flavor::Green,
            Imp::Os(_) => Flavor::Blocking,
        }
    }

    /// Stops accepting (the listener closes when the acceptor ends), waits
    /// up to three quarters of `timeout` for the handlers to finish, then
    /// ends the rest and gives them the last quarter (at least 10 ms):
    /// green handlers are killed; OS-thread handlers have their connection
    /// shut down (see the [module](self)). Stopping twice is harmless.
    ///
    /// For the blocking flavor the waits block the calling OS thread.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use greenpatch::{server::StreamServer, socket::{TcpListener, TcpStream}, thread};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// // A handler that reads until its peer leaves: an OS thread here.
    /// let h = StreamServer::new(l, |mut s: TcpStream, _| {
    ///     let _ = s.read_to_end(&mut Vec::new());
    /// })
    /// .start();
    /// let _c = TcpStream::connect(addr).unwrap();
    /// while h.active() == 0 { thread::sleep(Duration::from_millis(1)); }
    /// let stopped = h.stop(Duration::from_millis(200));
    /// assert_eq!((stopped.killed, stopped.still_running), (1, 0));
    /// ```
    pub fn stop(&self, timeout: Duration) -> Stopped {
        match &self.imp {
            Imp::Green(h) => h.stop(timeout),
            Imp::Os(s) => s.stop(timeout),
        }
    }

    /// Waits until the server has stopped accepting (after
    /// [`stop`](ServerHandle::stop), or a listener failure) and every
    /// handler has finished.
    ///
    /// # Errors
    /// The error that ended the accept loop.
    ///
    /// ```
    /// use greenpatch::{server::StreamServer, socket::TcpListener};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// h.stop(std::time::Duration::ZERO);
    /// assert!(h.wait().is_ok());
    /// ```
    pub fn wait(&self) -> io::Result<()> {
        match &self.imp {
            Imp::Green(h) => h.wait(),
            Imp::Os(s) => s.wait(),
        }
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle").field("flavor", &self.flavor()).field("active", &self.active()).finish()
    }
}

// ------------------------------------------------------------ the blocking flavor

struct OsState {
    active: usize,
    /// Free pool slots (`None`: no bound).
    free: Option<usize>,
    stopping: bool,
    /// The acceptor has ended.
    done: bool,
    error: Option<io::Error>,
    /// A duplicate of each running handler's connection, for `stop`.
    conns: HashMap<u64, Option<OwnedFd>>,
    /// Handler threads not joined yet.
    threads: Vec<JoinHandle<()>>,
}

struct OsShared {
    state: StdMutex<OsState>,
    changed: Condvar,
    /// `stop` writes a byte here; the acceptor polls the other end.
    wake: Option<OwnedFd>,
}

impl OsShared {
    fn state(&self) -> MutexGuard<'_, OsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release_slot(&self) {
        let mut st = self.state();
        if let Some(n) = &mut st.free {
            *n += 1;
            self.changed.notify_all();
        }
    }

    /// Waits until no handler runs or `deadline`; `true` if none runs.
    fn wait_idle(&self, deadline: Instant) -> bool {
        let mut st = self.state();
        loop {
            if st.active == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Joins every handler thread (call when none is active: they are all
    /// past their guard and about to exit).
    fn join_threads(&self) {
        let threads = std::mem::take(&mut self.state().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Owned by a handler's closure: on drop (return, unwind, or dropped
/// unstarted) it frees the slot, forgets the connection's duplicate and
/// counts the handler out.
struct OsActive {
    shared: Arc<OsShared>,
    key: u64,
}

impl Drop for OsActive {
    fn drop(&mut self) {
        let mut st = self.shared.state();
        st.conns.remove(&self.key);
        if let Some(n) = &mut st.free {
            *n += 1;
        }
        st.active -= 1;
        self.shared.changed.notify_all();
    }
}

/// Sets `done` when the acceptor ends, whatever ends it.
struct AcceptorDone(Arc<OsShared>);

impl Drop for AcceptorDone {
    fn drop(&mut self) {
        self.0.state().done = true;
        self.0.changed.notify_all();
    }
}

struct OsServer {
    shared: Arc<OsShared>,
    acceptor: StdMutex<Option<JoinHandle<()>>>,
}

impl OsServer {
    #[track_caller]
    fn start<L: Listener>(listener: L, handler: Arc<Handler<L>>, pool: Option<usize>) -> OsServer {
        let (reader, writer, pipe_error) = match pipe() {
            Ok((r, w)) => (Some(r), Some(w), None),
            Err(e) => (None, None, Some(e)),
        };
        let shared = Arc::new(OsShared {
            state: StdMutex::new(OsState {
                active: 0,
                free: pool,
                stopping: false,
                done: false,
                error: None,
                conns: HashMap::new(),
                threads: Vec::new(),
            }),
            changed: Condvar::new(),
            wake: writer,
        });
        let server = OsServer { shared: shared.clone(), acceptor: StdMutex::new(None) };
        let Some(reader) = reader else {
            let mut st = shared.state();
            let e = pipe_error.map_or_else(|| "unknown error".to_owned(), |e| e.to_string());
            st.error = Some(io::Error::other(format!(
                "StreamServer: cannot make its stop pipe: {e} (out of descriptors? raise `ulimit -n`)"
            )));
            st.done = true;
            return server;
        };
        let done = AcceptorDone(shared.clone());
        let spawned = Builder::new().name("stream-server".into()).flavor(Flavor::Blocking).spawn(move || {
            let done = done;
            if let Err(e) = os_accept_loop(&listener, &handler, &done.0, &reader) {
                done.0.state().error = Some(e);
            }
        });
        match spawned {
            Ok(h) => *server.acceptor.lock().unwrap_or_else(PoisonError::into_inner) = Some(h),
            Err(e) => shared.state().error = Some(e),
        }
        server
    }

    fn stop(&self, timeout: Duration) -> Stopped {
        let start = Instant::now();
        {
            self.shared.state().stopping = true;
            self.shared.changed.notify_all();
        }
        if let Some(w) = &self.shared.wake {
            // SAFETY: writes one byte from a live buffer to a pipe we own.
            let _ = unsafe { libc::write(w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
        self.join_acceptor();
        let grace = timeout.mul_f64(0.75);
        if self.shared.wait_idle(start + grace) {
            self.shared.join_threads();
            return Stopped { killed: 0, still_running: 0 };
        }
        let victims = {
            let st = self.shared.state();
            for fd in st.conns.values().flatten() {
                // SAFETY: `fd` is a descriptor we own (a duplicate), open
                // while the lock keeps its entry; shutdown touches no memory.
                unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
            }
            st.conns.len()
        };
        let unwind = (timeout - grace).max(Duration::from_millis(10));
        let idle = self.shared.wait_idle(Instant::now() + unwind);
        if idle {
            self.shared.join_threads();
        }
        Stopped { killed: victims, still_running: self.shared.state().active }
    }

    fn join_acceptor(&self) {
        let acceptor = self.acceptor.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(a) = acceptor {
            let _ = a.join();
        }
    }

    fn wait(&self) -> io::Result<()> {
        {
            let mut st = self.shared.state();
            while !(st.done && st.active == 0) {
                st = self.shared.changed.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
        }
        self.join_acceptor();
        self.shared.join_threads();
        match self.shared.state().error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`:
/// forever). Returns which were readable (empty on timeout).
fn poll_in(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX).max(1));
    loop {
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs
        // that poll may write `revents` into.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if r >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A pipe (read end, write end), close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The soft open-file limit, as a descriptor number (`RawFd::MAX` when
/// unlimited or unknown).
fn open_file_limit() -> RawFd {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        return RawFd::MAX;
    }
    RawFd::try_from(lim.rlim_cur).unwrap_or(RawFd::MAX)
}

fn os_accept_loop<L: Listener>(
    listener: &L,
    handler: &Arc<Handler<L>>,
    shared: &Arc<OsShared>,
    wake: &OwnedFd,
) -> io::Result<()> {
    listener.set_listener_nonblocking(true)?;
    let (lfd, wfd) = (listener.as_raw_fd(), wake.as_raw_fd());
    let mut next_key = 0u64;
    let mut backoff = AcceptBackoff::new();
    // Finished handler threads are joined when their list doubles.
    let mut sweep_at = 32;
    let dup_below = open_file_limit() / 2;
    loop {
        // Take a slot (or see the stop), and join finished handlers.
        let finished = {
            let mut st = shared.state();
            loop {
                if st.stopping {
                    return Ok(());
                }
                match st.free {
                    Some(0) => st = shared.changed.wait(st).unwrap_or_else(PoisonError::into_inner),
                    Some(n) => {
                        st.free = Some(n - 1);
                        break;
                    }
                    None => break,
                }
            }
            if st.threads.len() >= sweep_at {
                let (done, running): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut st.threads).into_iter().partition(JoinHandle::is_finished);
                st.threads = running;
                sweep_at = (st.threads.len() * 2).max(32);
                done
            } else {
                Vec::new()
            }
        };
        for t in finished {
            let _ = t.join();
        }
        let (conn, peer) = match listener.accept_conn() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                shared.release_slot();
                poll_in(&[lfd, wfd], None)?;
                continue;
            }
            Err(e) => {
                shared.release_slot();
                match backoff.classify(&e) {
                    AcceptError::Fatal => return Err(e),
                    AcceptError::Exhausted => {
                        // Give the duplicates' descriptors to connections.
                        let freed = shared.state().conns.values_mut().filter_map(Option::take).count();
                        if freed == 0 {
                            poll_in(&[wfd], Some(backoff.next_pause()))?;
                        }
                    }
                    // Interrupted, or the connection failed before we took it.
                    AcceptError::Skip => {}
                }
                continue;
            }
        };
        backoff.reset();
        let key = next_key;
        next_key += 1;
        let dup = if conn.as_fd().as_raw_fd() < dup_below { conn.as_fd().try_clone_to_owned().ok() } else { None };
        {
            let mut st = shared.state();
            st.conns.insert(key, dup);
            st.active += 1;
        }
        let guard = OsActive { shared: shared.clone(), key };
        let h = handler.clone();
        match Builder::new().flavor(Flavor::Blocking).spawn(move || {
            let _guard = guard;
            h(conn, peer);
        }) {
            Ok(t) => shared.state().threads.push(t),
            Err(e) => {
                // The closure and its guard were dropped: the slot and the
                // count are back; the connection is closed.
                eprintln!("greenpatch: StreamServer: cannot start a handler thread: {e}");
                poll_in(&[wfd], Some(backoff.next_pause()))?;
            }
        }
    }
}
