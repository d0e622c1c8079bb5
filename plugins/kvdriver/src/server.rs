//! An in-process key-value server for examples and tests.
//!
//! # Model
//!
//! Plain `std::net` and OS threads — deliberately independent of
//! greenpatch, so it behaves the same whether or not the program patches:
//! one thread accepts, one thread per connection answers, and every reply
//! is held back by a fixed delay (a stand-in for a real database's
//! latency). Dropping the [`Server`] stops accepting; connections end when
//! their clients close them.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct State {
    data: Mutex<HashMap<String, String>>,
    delay: Duration,
    stop: AtomicBool,
    requests: AtomicU64,
    connections: AtomicU64,
}

/// A running server; dropping it stops accepting new connections.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// let server = greenpatch_kvdriver::server::Server::start(Duration::from_millis(1)).unwrap();
/// let client = greenpatch_kvdriver::Client::connect(server.addr()).unwrap();
/// client.ping().unwrap();
/// assert!(server.requests() >= 1);
/// ```
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
}

impl Server {
    /// Starts a server on a free loopback port whose replies each wait
    /// `delay`.
    ///
    /// # Errors
    ///
    /// No port could be bound, or the accept thread could not start.
    ///
    /// # Example
    ///
    /// See [`Server`].
    pub fn start(delay: Duration) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            data: Mutex::new(HashMap::new()),
            delay,
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        });
        let st = state.clone();
        std::thread::Builder::new().name("kv-server-accept".into()).spawn(move || accept_loop(listener, st))?;
        Ok(Server { addr, state })
    }

    /// The address clients connect to.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
    /// assert!(s.addr().ip().is_loopback());
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
    /// assert_eq!(s.requests(), 0);
    /// ```
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    ///
    /// # Example
    ///
    /// ```
    /// let s = greenpatch_kvdriver::server::Server::start(std::time::Duration::ZERO).unwrap();
    /// assert_eq!(s.connections(), 0);
    /// ```
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    for conn in listener.incoming() {
        if state.stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(conn) = conn else { continue };
        state.connections.fetch_add(1, Ordering::Relaxed);
        let st = state.clone();
        let spawned =
            std::thread::Builder::new().name("kv-server-conn".into()).stack_size(64 * 1024).spawn(move || {
                let _ = serve(conn, &st);
            });
        if spawned.is_err() {
            // Out of threads: the connection is dropped and the client sees
            // it closed.
            continue;
        }
    }
}

fn serve(conn: TcpStream, state: &State) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request = line.trim_end();
        if !state.delay.is_zero() {
            std::thread::sleep(state.delay);
        }
        let reply = answer(request, state);
        state.requests.fetch_add(1, Ordering::Relaxed);
        writer.write_all(reply.as_bytes())?;
    }
}

fn answer(request: &str, state: &State) -> String {
    let mut parts = request.splitn(3, ' ');
    let data = || state.data.lock().unwrap_or_else(|p| p.into_inner());
    match (parts.next(), parts.next(), parts.next()) {
        (Some("PING"), None, None) => "PONG\n".to_owned(),
        (Some("GET"), Some(key), None) => match data().get(key) {
            Some(v) => format!("VALUE {v}\n"),
            None => "NONE\n".to_owned(),
        },
        (Some("SET"), Some(key), Some(value)) => {
            data().insert(key.to_owned(), value.to_owned());
            "OK\n".to_owned()
        }
        _ => "ERR unknown request\n".to_owned(),
    }
}
