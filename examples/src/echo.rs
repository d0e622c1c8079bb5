//! A loopback echo workload written only against the greenpatch facades.
//!
//! # Model
//!
//! A [`StreamServer`] (the facade one: it follows the facade rule) accepts
//! connections and starts one handler thread per connection; a handler reads fixed-size requests, waits `latency` (a
//! stand-in for the work a real server does: a database call, a disk
//! read), and echoes the request back. `clients` client threads each
//! connect and make `requests` round trips, checking every echo.
//!
//! Nothing here mentions green threads: before `patch_all()` the threads
//! are OS threads and the sockets blocking, after it they are green — the
//! point of the demo. The code is what a std user writes, plus two
//! real-world habits against dropped handshakes (each retried only a second
//! later): the server asks for a long accept queue, and a [`Semaphore`]
//! bounds how many clients connect at once ([`CONNECTING`]).
//!
//! # Invariant
//!
//! [`run`] returns only after every thread it started has finished (a
//! stopped server has joined its handler threads), so a blocking run leaves no OS thread behind
//! for `patch_all()` to warn about.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use greenpatch::server::{ServerHandle, StreamServer};
use greenpatch::socket::{TcpListener, TcpStream};
use greenpatch::thread::{self, JoinHandle, Semaphore};
use greenpatch::{time, Flavor};

/// Bytes per request.
pub const REQUEST: usize = 64;

/// Clients connecting at the same moment, at most: below the smallest
/// accept-queue length a listener may have (128: std's backlog, and
/// `somaxconn` on older kernels), so no handshake is dropped and retried a
/// second later.
pub const CONNECTING: usize = 100;

/// The size of a run.
///
/// # Example
///
/// ```
/// let cfg = examples::echo::Config { clients: 2, requests: 3, latency: std::time::Duration::ZERO };
/// assert_eq!(cfg.total(), 6);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Concurrent clients, each on its own thread with its own connection.
    pub clients: usize,
    /// Round trips per client.
    pub requests: usize,
    /// Server-side wait per request.
    pub latency: Duration,
}

impl Config {
    /// Requests in the whole run.
    ///
    /// # Example
    ///
    /// See [`Config`].
    pub fn total(&self) -> u64 {
        (self.clients * self.requests) as u64
    }
}

/// What a run measured.
///
/// # Example
///
/// ```
/// let cfg = examples::echo::Config { clients: 4, requests: 2, latency: std::time::Duration::ZERO };
/// let report = examples::echo::run(cfg).unwrap();
/// assert_eq!(report.requests, 8);
/// ```
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's size.
    pub config: Config,
    /// Requests completed (and checked).
    pub requests: u64,
    /// Wall-clock time from the first connect to the last reply.
    pub wall: Duration,
    /// Mean round-trip time seen by the clients.
    pub mean_round_trip: Duration,
    /// Distinct OS threads that ran client or server code.
    pub os_threads: usize,
    /// Flavor of the clients' sockets.
    pub flavor: Flavor,
}

impl Report {
    /// Completed requests per second of wall-clock time.
    ///
    /// # Example
    ///
    /// See [`Report`].
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// OS threads seen running the workload.
type Seen = Arc<StdMutex<HashSet<std::thread::ThreadId>>>;

fn note(seen: &Seen) {
    seen.lock().unwrap_or_else(|p| p.into_inner()).insert(std::thread::current().id());
}

/// The echo server: a [`StreamServer`] running [`handle`] per connection,
/// on an OS thread each before `patch_all()` and a green thread after
/// (the server takes its listener's flavor).
struct Server {
    addr: SocketAddr,
    running: ServerHandle,
}

impl Server {
    fn start(latency: Duration, seen: Seen) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        deepen_accept_queue(&listener);
        let addr = listener.local_addr()?;
        let running = StreamServer::new(listener, move |conn, _peer| handle(conn, latency, &seen)).start();
        Ok(Server { addr, running })
    }

    /// Stops accepting and waits for every handler to finish (the clients
    /// have all left, so each ends at its next read; the timeout is only a
    /// safety net).
    fn stop(self) {
        let stopped = self.running.stop(Duration::from_secs(10));
        if stopped.still_running == 0 {
            let _ = self.running.wait();
        }
    }
}

/// Asks for a longer accept queue than std's 128 (servers do this, usually
/// through `socket2`): thousands of clients may connect before the accept
/// loop runs again. Calling `listen` again on a listening socket only
/// changes its backlog (capped by `net.core.somaxconn`); failure is
/// harmless.
fn deepen_accept_queue(listener: &TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: `listen` on a descriptor we own and keep open for the call;
    // it touches no memory of ours.
    let _ = unsafe { libc::listen(listener.as_raw_fd(), 4096) };
}

/// Serves one connection until the client closes it.
fn handle(mut conn: TcpStream, latency: Duration, seen: &Seen) {
    note(seen);
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; REQUEST];
    while conn.read_exact(&mut buf).is_ok() {
        if !latency.is_zero() {
            time::sleep(latency);
        }
        if conn.write_all(&buf).is_err() {
            return;
        }
    }
}

/// One client: connect (at most `gate` at a time), then `requests` checked
/// round trips; returns the summed round-trip time.
fn client(
    id: usize,
    addr: SocketAddr,
    requests: usize,
    gate: &Semaphore,
    seen: &Seen,
) -> io::Result<(Duration, Flavor)> {
    note(seen);
    gate.acquire();
    let conn = TcpStream::connect(addr);
    gate.release();
    let mut conn = conn?;
    conn.set_nodelay(true)?;
    let mut out = [0u8; REQUEST];
    let mut back = [0u8; REQUEST];
    let mut total = Duration::ZERO;
    for r in 0..requests {
        out[..8].copy_from_slice(&(id as u64).to_be_bytes());
        out[8..16].copy_from_slice(&(r as u64).to_be_bytes());
        let start = Instant::now();
        conn.write_all(&out)?;
        conn.read_exact(&mut back)?;
        total += start.elapsed();
        if back != out {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "echo mismatch"));
        }
    }
    Ok((total, conn.flavor()))
}

/// Runs the workload: a server, `clients` concurrent clients, every
/// request checked; every thread has finished when it returns.
///
/// # Errors
///
/// A socket could not be bound, a thread could not start, or a client
/// failed (the first error).
///
/// # Example
///
/// See [`Report`].
pub fn run(config: Config) -> io::Result<Report> {
    let seen: Seen = Arc::default();
    let server = Server::start(config.latency, seen.clone())?;
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let start = Instant::now();
    let clients: Vec<JoinHandle<io::Result<(Duration, Flavor)>>> = (0..config.clients)
        .map(|id| {
            let (gate, seen, addr, n) = (gate.clone(), seen.clone(), server.addr, config.requests);
            thread::Builder::new().spawn(move || client(id, addr, n, &gate, &seen))
        })
        .collect::<io::Result<_>>()?;
    let mut round_trips = Duration::ZERO;
    let mut flavor = Flavor::Blocking;
    let mut first_error = None;
    for h in clients {
        match h.join() {
            Ok(Ok((t, f))) => {
                round_trips += t;
                flavor = f;
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(io::Error::other("a client thread panicked"));
            }
        }
    }
    let wall = start.elapsed();
    server.stop();
    if let Some(e) = first_error {
        return Err(e);
    }
    let requests = config.total();
    let os_threads = seen.lock().unwrap_or_else(|p| p.into_inner()).len();
    Ok(Report {
        config,
        requests,
        wall,
        mean_round_trip: round_trips / u32::try_from(requests.max(1)).unwrap_or(u32::MAX),
        os_threads,
        flavor,
    })
}
