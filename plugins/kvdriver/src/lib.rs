//! A small key-value client — a stand-in for a "third-party" database
//! driver — written once against the greenpatch facades, with a plugin that
//! makes what it built before `patch_all()` green.
//!
//! # The Dify problem, and the fix
//!
//! Dify deadlocked because a driver (grpc) was patched before the standard
//! library it needs. This driver cannot be patched too early: its plugin is
//! an [`entry_point!`] for `DidPatchBuiltinModules`, which greenpatch
//! delivers only after the builtin modules (`time`, `thread`, `fs`, `socket`, `libc`, `queue`) are green, and
//! which the application never has to call.
//!
//! # Model
//!
//! A [`Client`] owns a connection *pool* (idle facade
//! [`TcpStream`]s, a facade [`Mutex`] around them and a [`Semaphore`]
//! bounding them) and a background *heartbeat* thread started through
//! [`thread::spawn`] that pings the server every
//! [`Builder::heartbeat`] interval.
//!
//! Everything the client makes after `patch_all()` is green by itself. A
//! client made before it has blocking connections and an OS heartbeat
//! thread; when the plugin runs it checks
//! `is_module_patched("socket")`, then for every live client
//!
//! 1. swaps in a fresh pool (new connections are made through the now
//!    green socket facade; the blocking ones are closed when the old pool
//!    is dropped), and
//! 2. stops the OS heartbeat thread and starts a green one,
//!
//! and records the run ([`plugin_runs`]).
//!
//! The heartbeat waits between pings on a descriptor of its own (one end
//! of a socket pair whose other end the client holds) with
//! [`greenpatch::io::wait_readable`]: closing that other end stops the
//! heartbeat at once, and the wait is green when the heartbeat thread is.
//!
//! # Protocol
//!
//! One line per request and per reply: `GET key` → `VALUE v` | `NONE`;
//! `SET key value` → `OK`; `PING` → `PONG`. [`server`] has an in-process
//! server for examples and tests.
//!
//! # Invariant
//!
//! `Shared::pool` is a std mutex held only to clone or swap the `Arc`
//! (never across a blocking call), so green threads may take it.

pub mod server;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use greenpatch::io::wait_readable;
use greenpatch::monkey::{is_module_patched, patched_modules};
use greenpatch::socket::TcpStream;
use greenpatch::thread::{self, Mutex, Semaphore};
use greenpatch::{time, Flavor};
use greenpatch_plugins::{entry_point, Event, EventKind, PluginError};

/// One pooled connection: a buffered reader over the stream.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn { reader: BufReader::new(stream) })
    }

    /// Sends one request line and reads one reply line (without `\n`).
    fn call(&mut self, request: &str) -> io::Result<String> {
        let stream = self.reader.get_mut();
        stream.write_all(request.as_bytes())?;
        stream.write_all(b"\n")?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "kv server closed the connection"));
        }
        line.truncate(line.trim_end_matches(['\r', '\n']).len());
        Ok(line)
    }

    fn flavor(&self) -> Flavor {
        self.reader.get_ref().flavor()
    }
}

/// How many connections a pool opens at the same time: a burst of
/// hundreds of simultaneous connects would overflow a server's accept
/// queue (std's listeners have a backlog of 128), and the dropped
/// handshakes would be retried only after a second.
const MAX_CONNECTING: usize = 32;

/// The connections of one pool generation.
struct Pool {
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
    connecting: Semaphore,
}

impl Pool {
    fn new(max: usize) -> Pool {
        Pool { idle: Mutex::new(Vec::new()), permits: Semaphore::new(max), connecting: Semaphore::new(MAX_CONNECTING) }
    }

    /// Opens a connection, at most `MAX_CONNECTING` at a time.
    fn open(&self, addr: SocketAddr) -> io::Result<Conn> {
        self.connecting.acquire();
        let _permit = Permit(&self.connecting);
        Conn::open(addr)
    }
}

/// A running heartbeat thread: dropping `stop` (the client's end of the
/// heartbeat's socket pair) makes the heartbeat's end readable, and the
/// heartbeat returns.
struct Heartbeat {
    #[allow(dead_code)] // held only to be dropped
    stop: UnixStream,
    flavor: Flavor,
}

struct Shared {
    addr: SocketAddr,
    max: usize,
    interval: Duration,
    pool: StdMutex<Arc<Pool>>,
    heartbeat: StdMutex<Option<Heartbeat>>,
    pings: AtomicU64,
}

impl Shared {
    fn pool(&self) -> Arc<Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs one request on a pooled connection (opening one if none is
    /// idle; at most `max` at a time).
    fn call(&self, request: &str) -> io::Result<String> {
        let pool = self.pool();
        pool.permits.acquire();
        let _permit = Permit(&pool.permits);
        let idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => pool.open(self.addr)?,
        };
        let reply = conn.call(request)?;
        pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        Ok(reply)
    }

    /// Starts a heartbeat thread (OS or green: whatever `thread.spawn` says
    /// now) and stops the previous one.
    fn restart_heartbeat(self: &Arc<Self>) -> io::Result<()> {
        let (stop, signal) = UnixStream::pair()?;
        signal.set_nonblocking(true)?;
        let weak = Arc::downgrade(self);
        let interval = self.interval;
        let h = thread::Builder::new()
            .name("kvdriver-heartbeat".into())
            .spawn(move || heartbeat(weak, signal, interval))?;
        let flavor = h.flavor();
        // Dropping the previous heartbeat's `stop` end stops it.
        drop(self.heartbeat.lock().unwrap_or_else(|p| p.into_inner()).replace(Heartbeat { stop, flavor }));
        Ok(())
    }
}

/// Gives a pool permit back.
struct Permit<'a>(&'a Semaphore);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The heartbeat loop: a `PING` every `interval` until stopped (the
/// client's end of `signal`'s pair is dropped) or the client is gone.
/// Between pings it waits on `signal` (non-blocking) with
/// [`wait_readable`], so a stop is seen at once; should the descriptor
/// not be watchable, it sleeps in short steps and checks `signal` instead.
fn heartbeat(client: Weak<Shared>, signal: UnixStream, interval: Duration) {
    let mut next = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= next {
            if stopped(&signal) {
                return;
            }
            let Some(shared) = client.upgrade() else { return };
            if shared.call("PING").is_ok() {
                shared.pings.fetch_add(1, Ordering::Relaxed);
            }
            next = Instant::now() + interval;
            continue;
        }
        match wait_readable(signal.as_raw_fd(), Some(next - now)) {
            Ok(true) if stopped(&signal) => return,
            Ok(_) => {}
            Err(_) => {
                time::sleep((next - now).min(Duration::from_millis(20)));
                if stopped(&signal) {
                    return;
                }
            }
        }
    }
}

/// Whether the client's end of the heartbeat's pair is gone (end of
/// stream, or an error): `signal` is non-blocking and nobody writes to it.
fn stopped(mut signal: &UnixStream) -> bool {
    !matches!(signal.read(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Configures a [`Client`].
///
/// # Example
///
/// ```
/// let server = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
/// let client = greenpatch_kvdriver::Client::builder(server.addr())
///     .max_connections(8)
///     .heartbeat(std::time::Duration::from_secs(1))
///     .connect()
///     .unwrap();
/// client.set("k", "v").unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    addr: SocketAddr,
    max: usize,
    interval: Duration,
}

impl Builder {
    /// At most `n` connections at a time (at least 1; default 16).
    ///
    /// # Example
    ///
    /// ```
    /// let b = greenpatch_kvdriver::Client::builder("127.0.0.1:7000".parse().unwrap()).max_connections(4);
    /// # drop(b);
    /// ```
    pub fn max_connections(mut self, n: usize) -> Builder {
        self.max = n.max(1);
        self
    }

    /// How often the heartbeat pings (default 200 ms).
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = greenpatch_kvdriver::Client::builder("127.0.0.1:7000".parse().unwrap())
    ///     .heartbeat(Duration::from_millis(50));
    /// # drop(b);
    /// ```
    pub fn heartbeat(mut self, interval: Duration) -> Builder {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Connects (one connection, to fail early) and starts the heartbeat.
    ///
    /// # Errors
    ///
    /// The server cannot be reached, or the heartbeat thread cannot start.
    ///
    /// # Example
    ///
    /// See [`Builder`].
    pub fn connect(self) -> io::Result<Client> {
        let shared = Arc::new(Shared {
            addr: self.addr,
            max: self.max,
            interval: self.interval,
            pool: StdMutex::new(Arc::new(Pool::new(self.max))),
            heartbeat: StdMutex::new(None),
            pings: AtomicU64::new(0),
        });
        let first = Conn::open(self.addr)?;
        shared.pool().idle.lock().unwrap_or_else(|p| p.into_inner()).push(first);
        shared.restart_heartbeat()?;
        CLIENTS.lock().unwrap_or_else(|p| p.into_inner()).push(Arc::downgrade(&shared));
        Ok(Client { shared })
    }
}

/// A key-value client with a connection pool and a heartbeat thread.
/// Cheap to clone (clones share the pool).
///
/// # Example
///
/// ```
/// use greenpatch_kvdriver::{server::Server, Client};
/// let server = Server::start(std::time::Duration::ZERO).unwrap();
/// let client = Client::connect(server.addr()).unwrap();
/// client.set("lang", "rust").unwrap();
/// assert_eq!(client.get("lang").unwrap().as_deref(), Some("rust"));
/// assert_eq!(client.get("nope").unwrap(), None);
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// A builder for a client of the server at `addr`.
    ///
    /// # Example
    ///
    /// See [`Builder`].
    pub fn builder(addr: SocketAddr) -> Builder {
        Builder { addr, max: 16, interval: Duration::from_millis(200) }
    }

    /// A client with the default settings.
    ///
    /// # Errors
    ///
    /// As [`Builder::connect`].
    ///
    /// # Example
    ///
    /// See [`Client`].
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        Client::builder(addr).connect()
    }

    /// The value of `key`, if set.
    ///
    /// # Errors
    ///
    /// I/O errors, or a reply the protocol does not allow.
    ///
    /// # Example
    ///
    /// See [`Client`].
    pub fn get(&self, key: &str) -> io::Result<Option<String>> {
        check_token(key)?;
        let reply = self.shared.call(&format!("GET {key}"))?;
        if reply == "NONE" {
            return Ok(None);
        }
        match reply.strip_prefix("VALUE ") {
            Some(v) => Ok(Some(v.to_owned())),
            None => Err(bad_reply(&reply)),
        }
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// I/O errors, a key with spaces or a value with line breaks, or a
    /// reply the protocol does not allow.
    ///
    /// # Example
    ///
    /// See [`Client`].
    pub fn set(&self, key: &str, value: &str) -> io::Result<()> {
        check_token(key)?;
        if value.contains(['\n', '\r']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "values cannot contain line breaks"));
        }
        match self.shared.call(&format!("SET {key} {value}"))?.as_str() {
            "OK" => Ok(()),
            other => Err(bad_reply(other)),
        }
    }

    /// Pings the server.
    ///
    /// # Errors
    ///
    /// I/O errors or an unexpected reply.
    ///
    /// # Example
    ///
    /// ```
    /// # let server = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
    /// let client = greenpatch_kvdriver::Client::connect(server.addr()).unwrap();
    /// client.ping().unwrap();
    /// ```
    pub fn ping(&self) -> io::Result<()> {
        match self.shared.call("PING")?.as_str() {
            "PONG" => Ok(()),
            other => Err(bad_reply(other)),
        }
    }

    /// What the client runs on now: the flavor of its idle connections
    /// (`None` when none is idle) and of its heartbeat thread.
    ///
    /// # Example
    ///
    /// ```
    /// # let server = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
    /// let client = greenpatch_kvdriver::Client::connect(server.addr()).unwrap();
    /// let status = client.status();
    /// assert_eq!(status.heartbeat, Some(greenpatch::Flavor::Blocking)); // not patched
    /// ```
    pub fn status(&self) -> Status {
        let pool = self.shared.pool();
        let connections = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).first().map(Conn::flavor);
        let heartbeat = self.shared.heartbeat.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|h| h.flavor);
        Status {
            connections,
            heartbeat,
            max_connections: self.shared.max,
            pings: self.shared.pings.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("addr", &self.shared.addr).field("status", &self.status()).finish()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping the heartbeat's `stop` end stops it.
        drop(self.heartbeat.get_mut().unwrap_or_else(|p| p.into_inner()).take());
    }
}

/// A snapshot of a client ([`Client::status`]).
///
/// # Example
///
/// ```
/// let s = greenpatch_kvdriver::Status { connections: None, heartbeat: None, max_connections: 1, pings: 0 };
/// assert_eq!(s.pings, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Flavor of the idle connections, if any is idle.
    pub connections: Option<Flavor>,
    /// Flavor of the heartbeat thread.
    pub heartbeat: Option<Flavor>,
    /// The pool bound.
    pub max_connections: usize,
    /// Successful heartbeat pings so far.
    pub pings: u64,
}

fn check_token(key: &str) -> io::Result<()> {
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "keys are non-empty and have no whitespace"));
    }
    Ok(())
}

fn bad_reply(reply: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected kv reply {reply:?}"))
}

// --------------------------------------------------------------------- plugin

/// Every client made in this process (for the plugin).
static CLIENTS: StdMutex<Vec<Weak<Shared>>> = StdMutex::new(Vec::new());

/// What the plugin saw and did, one entry per run.
static RUNS: StdMutex<Vec<PluginRun>> = StdMutex::new(Vec::new());

/// One run of the driver's plugin ([`plugin_runs`]).
///
/// # Example
///
/// ```
/// for run in greenpatch_kvdriver::plugin_runs() {
///     assert!(run.socket_patched);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRun {
    /// The event it ran for (always `DidPatchBuiltinModules`).
    pub event: EventKind,
    /// `is_module_patched("socket")` when it ran.
    pub socket_patched: bool,
    /// Every module recorded as patched when it ran.
    pub patched_modules: Vec<&'static str>,
    /// Clients whose pool and heartbeat it rebuilt.
    pub clients_rebuilt: usize,
    /// When it ran.
    pub at: Instant,
}

/// The plugin's runs so far, in order.
///
/// # Example
///
/// ```
/// assert!(greenpatch_kvdriver::plugin_runs().is_empty()); // nothing patched here
/// ```
pub fn plugin_runs() -> Vec<PluginRun> {
    RUNS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The plugin: at `DidPatchBuiltinModules`, with green sockets, rebuild
/// every live client's pool and heartbeat.
fn go_green(event: &Event<'_>) -> Result<(), PluginError> {
    let Event::DidPatchBuiltinModules(_) = event else {
        return Ok(());
    };
    let socket_patched = is_module_patched("socket");
    let mut rebuilt = 0;
    if socket_patched {
        let clients: Vec<Arc<Shared>> = {
            let mut all = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
            all.retain(|w| w.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        for shared in clients {
            let fresh = Arc::new(Pool::new(shared.max));
            // The old pool (and its blocking connections) goes when the
            // last call using it returns.
            drop(std::mem::replace(&mut *shared.pool.lock().unwrap_or_else(|p| p.into_inner()), fresh));
            shared.restart_heartbeat().map_err(PluginError::failed)?;
            rebuilt += 1;
        }
    }
    RUNS.lock().unwrap_or_else(|p| p.into_inner()).push(PluginRun {
        event: event.kind(),
        socket_patched,
        patched_modules: patched_modules(),
        clients_rebuilt: rebuilt,
        at: Instant::now(),
    });
    Ok(())
}

entry_point!(did_patch, name = "kvdriver", handler = go_green);
