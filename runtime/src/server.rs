//! A stream server (gevent's `StreamServer`): a listener and one green
//! thread per connection.
//!
//! # Model
//! [`StreamServer::start`] spawns one *acceptor* green thread that loops on
//! `accept` and spawns the handler for each connection with
//! [`crate::spawn`]. Started on a hub of a multi-hub
//! [`Runtime`](crate::Runtime), the handlers are placed over the runtime's
//! hubs (hand-off: one listener, spawn-time placement), so one server uses
//! every hub without `SO_REUSEPORT` listeners; on a plain thread they stay
//! on its hub.
//!
//! # Multi-hub serving: hand-off, not `SO_REUSEPORT`
//! The other way to serve on many hubs is one listener per hub, bound to
//! the same port with `SO_REUSEPORT`, each served by a [`local`]
//! (`StreamServer::local(true)`) server on its hub: the kernel then picks
//! the listener of each connection by hashing its addresses. Measured on
//! the 2-hub rows of the side-by-side suite (64 keep-alive connections; the
//! `SO_REUSEPORT` server as their floor: `VERSUS_REUSEPORT=1 cargo run
//! --release -p benches --bin versus -- --only http-mt,echo64-mt`, 3 runs,
//! 30 rounds, a shared 2-core machine at load 7 to 8), hand-off reached
//! 1.10× the `SO_REUSEPORT` server's requests per second on HTTP and 1.02×
//! its round trips on echo (medians of the per-round ratios; single
//! rounds ranged 0.5× to 1.9×, so the two are within noise). Hand-off is
//! kept as the default:
//! - it did not measure worse, and once a connection is placed both serve
//!   it the same way (on one hub, no cross-hub traffic);
//! - placement picks the less loaded hub, while the kernel's hash ignores
//!   load: four runs of 64 connections each split 134/122 by it in all;
//!   since neither way moves a connection once placed, the
//!   initial split is all the balance there is;
//! - one listener works for any listener (a Unix socket, one inherited
//!   from a supervisor) and needs no socket options at bind time.
//!
//! `SO_REUSEPORT` may pay off where accepting itself is the load (a
//! connection per request on many cores: no single acceptor, no cross-hub
//! spawn), which these rows do not measure; for that, bind one listener
//! per hub and serve each with `local(true)`.
//!
//! [`local`]: StreamServer::local
//!
//! With a pool bound ([`StreamServer::pool`]) the acceptor takes a slot
//! before it accepts, so a full server leaves new connections in the
//! kernel's accept queue instead of accepting what it cannot serve.
//!
//! Accept errors: a connection that failed before it was accepted
//! (`ECONNABORTED`, `EPROTO`, `EINTR`, …) is skipped. Out of descriptors or
//! memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) is reported on standard
//! error (once a minute at most) and retried after a sleep that doubles from
//! 5 ms up to 200 ms — the acceptor never spins, and it recovers within
//! 200 ms of descriptors coming free. An error that says the listener
//! itself is broken (`EBADF`, `EINVAL`, `ENOTSOCK`, `EOPNOTSUPP`) ends the
//! server; [`ServerHandle::wait`] returns it.
//!
//! # Invariants
//! - `active` counts handlers spawned and not finished: incremented before
//!   the spawn, decremented by a guard the handler's closure owns (so also
//!   when it is killed before it starts); `idle` is set whenever it is 0.
//! - `handlers` holds the join handle of every handler that has not
//!   finished (inserted under the lock the guard's removal takes, so a
//!   handler that finishes at once is never left behind); it is used for
//!   kills only.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use crate::sync::{Event, Semaphore};
use crate::JoinHandle;

/// A listener a [`StreamServer`] can serve: TCP and Unix stream listeners.
///
/// ```
/// use greenpatch_runtime::{net::{TcpListener, TcpStream}, server::Listener};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
/// let (_conn, peer) = l.accept_conn().unwrap();
/// assert_eq!(peer, c.local_addr().unwrap());
/// ```
pub trait Listener: Send + Sync + 'static {
    /// A connection.
    type Conn: Send + 'static;
    /// The peer's address.
    type Addr: Send + 'static;
    /// Waits for and accepts the next connection (green).
    ///
    /// # Errors
    /// As the listener's `accept`.
    fn accept_conn(&self) -> io::Result<(Self::Conn, Self::Addr)>;
}

impl Listener for TcpListener {
    type Conn = TcpStream;
    type Addr = SocketAddr;
    fn accept_conn(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept()
    }
}

impl Listener for UnixListener {
    type Conn = UnixStream;
    type Addr = std::os::unix::net::SocketAddr;
    fn accept_conn(&self) -> io::Result<(UnixStream, std::os::unix::net::SocketAddr)> {
        self.accept()
    }
}

type Handler<L> = dyn Fn(<L as Listener>::Conn, <L as Listener>::Addr) + Send + Sync;

/// A server that runs `handler(conn, peer)` in its own green thread for
/// every accepted connection (gevent's `StreamServer`).
///
/// ```
/// use std::io::{Read, Write};
/// use greenpatch_runtime::net::{TcpListener, TcpStream};
/// use greenpatch_runtime::server::StreamServer;
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let server = StreamServer::new(l, |s: TcpStream, _peer| {
///     let mut buf = [0; 5];
///     (&s).read_exact(&mut buf).unwrap();
///     (&s).write_all(&buf).unwrap();
/// })
/// .start();
/// let c = TcpStream::connect(addr).unwrap();
/// (&c).write_all(b"hello").unwrap();
/// let mut back = [0; 5];
/// (&c).read_exact(&mut back).unwrap();
/// assert_eq!(&back, b"hello");
/// server.stop(std::time::Duration::from_secs(1));
/// ```
pub struct StreamServer<L: Listener> {
    listener: L,
    handler: Arc<Handler<L>>,
    pool: Option<usize>,
    local: bool,
}

impl<L: Listener> StreamServer<L> {
    /// A server for `listener` (bound and listening) running `handler`
    /// per connection; nothing runs until [`start`](StreamServer::start)
    /// or [`serve_forever`](StreamServer::serve_forever).
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {});
    /// # drop(s);
    /// ```
    pub fn new(listener: L, handler: impl Fn(L::Conn, L::Addr) + Send + Sync + 'static) -> StreamServer<L> {
        StreamServer { listener, handler: Arc::new(handler), pool: None, local: false }
    }

    /// Serves at most `size` connections at once (gevent's
    /// `spawn=Pool(size)`): the next one is accepted when a handler ends.
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).pool(100);
    /// # drop(s);
    /// ```
    pub fn pool(mut self, size: usize) -> StreamServer<L> {
        self.pool = Some(size.max(1));
        self
    }

    /// Keeps every handler on the acceptor's hub (`true`) instead of
    /// placing it over the hubs of the acceptor's multi-hub runtime (the
    /// default, hand-off). One such server per hub, each on a listener of
    /// its own bound with `SO_REUSEPORT`, is the other way to serve on
    /// many hubs: see the [module](self) for how the two compare.
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let s = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).local(true);
    /// # drop(s);
    /// ```
    pub fn local(mut self, on: bool) -> StreamServer<L> {
        self.local = on;
        self
    }

    /// Starts accepting in a green thread and returns at once.
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// assert!(h.stop(std::time::Duration::from_millis(100)).killed == 0);
    /// ```
    #[track_caller]
    pub fn start(self) -> ServerHandle {
        let shared = Arc::new(Shared {
            active: AtomicUsize::new(0),
            idle: Event::new(),
            handlers: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            error: Mutex::new(None),
            done: Event::new(),
        });
        shared.idle.set();
        let s = shared.clone();
        let site = std::panic::Location::caller();
        /// Sets `done` when the acceptor ends — also when it is killed
        /// before it starts (the closure that owns it is dropped unrun).
        struct Finished(Arc<Shared>);
        impl Drop for Finished {
            fn drop(&mut self) {
                self.0.done.set();
            }
        }
        let finished = Finished(s.clone());
        let acceptor = crate::Builder::new().name("stream-server".into()).spawn_site(site).spawn(move || {
            let _f = finished;
            if let Err(e) = accept_loop(&self.listener, &self.handler, self.pool, self.local, &s) {
                *s.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
        });
        let acceptor = match acceptor {
            Ok(h) => Some(h),
            Err(e) => {
                *shared.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                shared.done.set();
                None
            }
        };
        ServerHandle { shared, acceptor: Mutex::new(acceptor) }
    }

    /// Starts and waits until the server stops (another green thread or
    /// thread calls [`ServerHandle::stop`]) or its listener fails, and its
    /// handlers are done.
    ///
    /// # Errors
    /// The error that ended the accept loop, or the spawn error.
    ///
    /// ```no_run
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// StreamServer::new(TcpListener::bind("127.0.0.1:8080").unwrap(), |_c, _a| {}).serve_forever().unwrap();
    /// ```
    #[track_caller]
    pub fn serve_forever(self) -> io::Result<()> {
        self.start().wait()
    }
}

impl<L: Listener> fmt::Debug for StreamServer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamServer").field("pool", &self.pool).field("local", &self.local).finish()
    }
}

struct Shared {
    active: AtomicUsize,
    idle: Event,
    handlers: Mutex<HashMap<u64, JoinHandle<()>>>,
    stopping: AtomicBool,
    error: Mutex<Option<io::Error>>,
    /// Set when the acceptor has ended.
    done: Event,
}

impl Shared {
    fn handlers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, JoinHandle<()>>> {
        self.handlers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no handler runs or `deadline`; `true` if none runs.
    fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.active.load(Ordering::Acquire) == 0 {
                return true;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return false;
            }
            self.idle.clear();
            if self.active.load(Ordering::Acquire) == 0 {
                return true;
            }
            match deadline {
                Some(d) => {
                    self.idle.wait_timeout(d - now);
                }
                None => self.idle.wait(),
            }
        }
    }
}

/// Owned by a handler's closure: on drop (return, unwind, or dropped
/// unstarted) it frees the pool slot and deregisters the handler.
struct Active {
    shared: Arc<Shared>,
    key: u64,
    slot: Option<Arc<Semaphore>>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.shared.handlers().remove(&self.key);
        if let Some(s) = &self.slot {
            s.release();
        }
        if self.shared.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.idle.set();
        }
    }
}

/// What a server does about a failed `accept` ([`AcceptBackoff::classify`]).
///
/// ```
/// use greenpatch_runtime::server::{AcceptBackoff, AcceptError};
/// let mut b = AcceptBackoff::new();
/// let e = std::io::Error::from_raw_os_error(libc::ECONNABORTED);
/// assert_eq!(b.classify(&e), AcceptError::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// The listener itself is unusable (`EBADF`, `EINVAL`, `ENOTSOCK`,
    /// `EOPNOTSUPP`): the server ends with the error.
    Fatal,
    /// The process or system is out of a resource that frees up with time
    /// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): pause for
    /// [`AcceptBackoff::next_pause`], then try again.
    Exhausted,
    /// The connection failed before it was taken (`ECONNABORTED`,
    /// `EPROTO`, `EINTR`, …): skip it.
    Skip,
}

/// The accept-error policy both stream servers share: classification, a
/// pause that doubles from 5 ms to 200 ms while resources are exhausted
/// (reset by a successful accept), and a report on standard error at most
/// once a minute.
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime::server::{AcceptBackoff, AcceptError};
/// let mut b = AcceptBackoff::new();
/// let e = std::io::Error::from_raw_os_error(libc::EMFILE);
/// assert_eq!(b.classify(&e), AcceptError::Exhausted);
/// assert_eq!(b.next_pause(), Duration::from_millis(5));
/// assert_eq!(b.next_pause(), Duration::from_millis(10));
/// b.reset();
/// assert_eq!(b.next_pause(), Duration::from_millis(5));
/// ```
#[derive(Debug)]
pub struct AcceptBackoff {
    pause: Duration,
    last_report: Option<Instant>,
}

impl AcceptBackoff {
    const MIN: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_millis(200);
    /// Exhaustion is reported at most once per this long (a server near
    /// its limit can run out many times a second).
    const REPORT_EVERY: Duration = Duration::from_secs(60);

    /// A policy with the shortest pause and nothing reported yet.
    ///
    /// ```
    /// let _ = greenpatch_runtime::server::AcceptBackoff::new();
    /// ```
    pub fn new() -> AcceptBackoff {
        AcceptBackoff { pause: Self::MIN, last_report: None }
    }

    /// Classifies accept error `e`; an [`AcceptError::Exhausted`] is
    /// reported on standard error unless one was within the last minute.
    ///
    /// ```
    /// use greenpatch_runtime::server::{AcceptBackoff, AcceptError};
    /// let e = std::io::Error::from_raw_os_error(libc::EBADF);
    /// assert_eq!(AcceptBackoff::new().classify(&e), AcceptError::Fatal);
    /// ```
    pub fn classify(&mut self, e: &io::Error) -> AcceptError {
        match e.raw_os_error() {
            Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EOPNOTSUPP) => AcceptError::Fatal,
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                if self.last_report.is_none_or(|t| t.elapsed() >= Self::REPORT_EVERY) {
                    self.last_report = Some(Instant::now());
                    eprintln!(
                        "greenpatch: StreamServer: accept failed: {e}; backing off (up to {:?} between tries) until \
                         resources free up (raise the limit with `ulimit -n` if this persists)",
                        Self::MAX
                    );
                }
                AcceptError::Exhausted
            }
            _ => AcceptError::Skip,
        }
    }

    /// The pause before the next try; each call doubles the next one, up
    /// to 200 ms.
    ///
    /// ```
    /// let mut b = greenpatch_runtime::server::AcceptBackoff::new();
    /// assert_eq!(b.next_pause(), std::time::Duration::from_millis(5));
    /// ```
    pub fn next_pause(&mut self) -> Duration {
        let p = self.pause;
        self.pause = (p * 2).min(Self::MAX);
        p
    }

    /// Back to the shortest pause (an accept succeeded).
    ///
    /// ```
    /// greenpatch_runtime::server::AcceptBackoff::new().reset();
    /// ```
    pub fn reset(&mut self) {
        self.pause = Self::MIN;
    }
}

impl Default for AcceptBackoff {
    fn default() -> AcceptBackoff {
        AcceptBackoff::new()
    }
}

fn accept_loop<L: Listener>(
    listener: &L,
    handler: &Arc<Handler<L>>,
    pool: Option<usize>,
    local: bool,
    shared: &Arc<Shared>,
) -> io::Result<()> {
    let slots = pool.map(|n| Arc::new(Semaphore::new(n)));
    let mut next_key = 0u64;
    let mut backoff = AcceptBackoff::new();
    while !shared.stopping.load(Ordering::Acquire) {
        if let Some(s) = &slots {
            s.acquire();
        }
        let release = |slots: &Option<Arc<Semaphore>>| {
            if let Some(s) = slots {
                s.release();
            }
        };
        let (conn, peer) = match listener.accept_conn() {
            Ok(c) => c,
            Err(e) => {
                release(&slots);
                match backoff.classify(&e) {
                    AcceptError::Fatal => return Err(e),
                    AcceptError::Exhausted => crate::sleep(backoff.next_pause()),
                    // The connection failed before we took it: skip it.
                    AcceptError::Skip => crate::yield_now(),
                }
                continue;
            }
        };
        backoff.reset();
        let key = next_key;
        next_key += 1;
        shared.active.fetch_add(1, Ordering::AcqRel);
        let guard = Active { shared: shared.clone(), key, slot: slots.clone() };
        let h = handler.clone();
        // Hold the lock across spawn and insert: the guard's removal takes
        // it, so a handler that ends at once cannot leave its entry behind.
        let mut handlers = shared.handlers();
        let body = move || {
            let _guard = guard;
            h(conn, peer);
        };
        let spawned = if local { crate::Builder::new().spawn_local(body) } else { crate::Builder::new().spawn(body) };
        match spawned {
            Ok(jh) => {
                handlers.insert(key, jh);
            }
            Err(e) => {
                // The closure (and its guard) was dropped: the slot and
                // count are back; the connection is closed.
                drop(handlers);
                eprintln!("greenpatch: StreamServer: cannot start a handler: {e}");
                crate::sleep(backoff.next_pause());
            }
        }
    }
    Ok(())
}

/// What [`ServerHandle::stop`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Handlers still running at the deadline, which were killed.
    pub killed: usize,
    /// Killed handlers that had not unwound yet when `stop` returned (they
    /// caught the kill or block outside the runtime).
    pub still_running: usize,
}

/// A running [`StreamServer`]: stop it, wait for it. Share it (`Arc`) to
/// stop from another green thread or thread.
///
/// ```
/// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
/// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
/// assert_eq!(h.active(), 0);
/// h.stop(std::time::Duration::from_millis(50));
/// h.wait().unwrap();
/// ```
pub struct ServerHandle {
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl ServerHandle {
    /// Handlers running now.
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// assert_eq!(h.active(), 0);
    /// # h.stop(std::time::Duration::ZERO);
    /// ```
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Stops accepting (the listener closes when the acceptor ends), waits
    /// up to three quarters of `timeout` for the handlers to finish, then
    /// kills the rest and gives them the last quarter (at least 10 ms) to
    /// unwind. Returns how many were killed. Stopping twice is harmless.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::{net::{TcpListener, TcpStream}, server::StreamServer, sleep};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let h = StreamServer::new(l, |_c, _a| sleep(Duration::from_secs(60))).start();
    /// let _c = TcpStream::connect(addr).unwrap();
    /// while h.active() == 0 { sleep(Duration::from_millis(1)); }
    /// assert_eq!(h.stop(Duration::from_millis(50)).killed, 1);
    /// ```
    pub fn stop(&self, timeout: Duration) -> Stopped {
        let start = Instant::now();
        self.shared.stopping.store(true, Ordering::Release);
        let acceptor = self.acceptor.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(a) = acceptor {
            a.kill();
            let _ = a.join();
        }
        let grace = timeout.mul_f64(0.75);
        if self.shared.wait_idle(Some(start + grace)) {
            return Stopped { killed: 0, still_running: 0 };
        }
        let victims: Vec<u64> = {
            let hs = self.shared.handlers();
            for h in hs.values() {
                h.kill();
            }
            hs.keys().copied().collect()
        };
        let unwind = (timeout - grace).max(Duration::from_millis(10));
        self.shared.wait_idle(Some(Instant::now() + unwind));
        Stopped { killed: victims.len(), still_running: self.active() }
    }

    /// Waits until the server has stopped accepting (after
    /// [`stop`](ServerHandle::stop), or a listener failure) and every
    /// handler has finished (or was killed by `stop`). A thread that serves
    /// with `serve_forever` keeps its hub running its handlers until then.
    ///
    /// # Errors
    /// The error that ended the accept loop.
    ///
    /// ```
    /// use greenpatch_runtime::{net::TcpListener, server::StreamServer};
    /// let h = StreamServer::new(TcpListener::bind("127.0.0.1:0").unwrap(), |_c, _a| {}).start();
    /// h.stop(std::time::Duration::ZERO);
    /// assert!(h.wait().is_ok());
    /// ```
    pub fn wait(&self) -> io::Result<()> {
        self.shared.done.wait();
        self.shared.wait_idle(None);
        match self.shared.error.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle").field("active", &self.active()).finish()
    }
}
