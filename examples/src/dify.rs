//! The Dify stack on real servers: a green HTTP API whose handler, per
//! request, queries PostgreSQL through libpq, reads and writes Redis
//! through the `redis` crate, and calls a gRPC service through the
//! `greenpatch-grpc` driver plugin.
//!
//! # Model
//!
//! - **Drivers**, none written for greenpatch: libpq (C, through `pq-sys`)
//!   is green through the `libc` patch module (its `poll`/`recv`/`send`
//!   park the green thread); the `redis` crate calls `std::net` directly,
//!   green through the same module; the gRPC client is tonic on the tokio
//!   bridge, whose calls park the green thread until a tokio worker
//!   finishes them. The drivers go green at `DidPatchBuiltinModules`, which
//!   greenpatch delivers after the builtins (the Dify fix).
//! - **Pools**: [`Stack::start`] opens `pool` PostgreSQL sessions and
//!   `pool` Redis connections up front (concurrently, from green threads)
//!   and keeps them in gevent-style queues; a request takes one of each
//!   and gives them back. The gRPC client is one HTTP/2 connection that
//!   multiplexes every call.
//! - **HTTP**: one green thread accepts on a facade `TcpListener`; each
//!   connection gets a green thread that reads one `GET /ask?id=N`,
//!   runs the chain (PostgreSQL, then Redis, then gRPC, each waiting
//!   [`Stack::start`]'s `delay` in its server) and answers one line.
//!
//! # Invariants
//!
//! - A pooled libpq session is used by one green thread at a time (taken
//!   from the queue, put back after), and all of them live on the OS
//!   thread that started the stack.
//! - Errors are answered as `500` with the reason; the server never panics
//!   on a request.

use std::ffi::{CStr, CString};
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch::queue::Queue;
use greenpatch::socket::{TcpListener, TcpStream};
use greenpatch::thread;
use greenpatch_grpc::{demo, Client};

/// Stack size for green threads that run libpq (C frames): larger than
/// the runtime's default; untouched pages cost nothing.
pub const C_STACK: usize = 1024 * 1024;

/// Where the three servers are: libpq connection string, Redis URL, gRPC
/// URI. [`Backends::from_env`] reads them from `DIFY_POSTGRES`,
/// `DIFY_REDIS` and `DIFY_GRPC`.
///
/// ```
/// let b = examples::dify::Backends {
///     postgres: "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into(),
///     redis: "redis://127.0.0.1:6379/".into(),
///     grpc: "http://127.0.0.1:50051".into(),
/// };
/// ```
#[derive(Clone, Debug)]
pub struct Backends {
    /// A libpq connection string.
    pub postgres: String,
    /// A `redis://` URL.
    pub redis: String,
    /// The demo gRPC service's URI (`http://host:port`).
    pub grpc: String,
}

impl Backends {
    /// Reads `DIFY_POSTGRES`, `DIFY_REDIS` and `DIFY_GRPC`.
    ///
    /// # Errors
    /// Names the first variable that is missing (`scripts/dify-stack.sh`
    /// starts the servers and sets them).
    ///
    /// ```
    /// if let Ok(b) = examples::dify::Backends::from_env() {
    ///     println!("{b:?}");
    /// }
    /// ```
    pub fn from_env() -> Result<Backends, String> {
        let var = |name: &str| {
            std::env::var(name)
                .map_err(|_| format!("{name} is not set (run the example through scripts/dify-stack.sh)"))
        };
        Ok(Backends { postgres: var("DIFY_POSTGRES")?, redis: var("DIFY_REDIS")?, grpc: var("DIFY_GRPC")? })
    }
}

/// One libpq session (`PGconn`), finished on drop.
struct Pg(*mut pq_sys::PGconn);

// SAFETY: libpq allows a connection object to be used from any thread as
// long as no two threads use it at once; the pool hands each session to
// one green thread at a time.
unsafe impl Send for Pg {}

impl Pg {
    fn connect(conninfo: &str) -> Result<Pg, String> {
        let info = CString::new(conninfo).map_err(|_| "the connection string contains a NUL byte".to_owned())?;
        // SAFETY: `info` is NUL-terminated; PQconnectdb returns a connection
        // object (possibly failed) or null on out-of-memory.
        let conn = unsafe { pq_sys::PQconnectdb(info.as_ptr()) };
        if conn.is_null() {
            return Err("PQconnectdb returned null (out of memory)".into());
        }
        let pg = Pg(conn);
        // SAFETY: `pg.0` is a live connection object from PQconnectdb.
        if unsafe { pq_sys::PQstatus(pg.0) } != pq_sys::ConnStatusType::CONNECTION_OK {
            return Err(format!("PostgreSQL connect: {}", pg.error()));
        }
        Ok(pg)
    }

    fn error(&self) -> String {
        // SAFETY: PQerrorMessage returns a NUL-terminated string owned by
        // the live connection `self.0`, copied at once.
        unsafe { CStr::from_ptr(pq_sys::PQerrorMessage(self.0)) }.to_string_lossy().trim().to_owned()
    }

    /// Runs `sql`, which returns one row; the value of its column `col`.
    fn query_one(&self, sql: &str, col: i32) -> Result<String, String> {
        let sql = CString::new(sql).map_err(|_| "the query contains a NUL byte".to_owned())?;
        // SAFETY: `self.0` is a live, connected session used by this green
        // thread only; `sql` is NUL-terminated.
        let res = unsafe { pq_sys::PQexec(self.0, sql.as_ptr()) };
        if res.is_null() {
            return Err(format!("PostgreSQL: {}", self.error()));
        }
        // SAFETY: `res` is a live result from PQexec, read here and cleared
        // once below; PQgetvalue's string is copied before PQclear.
        let out = unsafe {
            if pq_sys::PQresultStatus(res) != pq_sys::ExecStatusType::PGRES_TUPLES_OK {
                Err(format!(
                    "PostgreSQL: {}",
                    CStr::from_ptr(pq_sys::PQresultErrorMessage(res)).to_string_lossy().trim()
                ))
            } else if pq_sys::PQntuples(res) != 1 || pq_sys::PQnfields(res) <= col {
                Err("PostgreSQL: expected one row".into())
            } else {
                Ok(CStr::from_ptr(pq_sys::PQgetvalue(res, 0, col)).to_string_lossy().into_owned())
            }
        };
        // SAFETY: `res` came from PQexec and is not used after this.
        unsafe { pq_sys::PQclear(res) };
        out
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from PQconnectdb and is finished once, here.
        unsafe { pq_sys::PQfinish(self.0) };
    }
}

/// What a request's chain got from each backend, and how long each took.
///
/// ```
/// let a: examples::dify::Answer = "id=3 doc=doc-3 cache=doc-3 answer=doc-3 pg_ms=101 redis_ms=100 grpc_ms=102".parse().unwrap();
/// assert_eq!(a.id, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The request's id.
    pub id: u32,
    /// What PostgreSQL returned (`doc-<id>`).
    pub doc: String,
    /// What Redis returned for the key the handler set.
    pub cache: String,
    /// What the gRPC service echoed.
    pub answer: String,
    /// Milliseconds in PostgreSQL, Redis and gRPC.
    pub ms: [u64; 3],
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "id={} doc={} cache={} answer={} pg_ms={} redis_ms={} grpc_ms={}",
            self.id, self.doc, self.cache, self.answer, self.ms[0], self.ms[1], self.ms[2]
        )
    }
}

impl std::str::FromStr for Answer {
    type Err = String;
    fn from_str(s: &str) -> Result<Answer, String> {
        let mut a = Answer { id: 0, doc: String::new(), cache: String::new(), answer: String::new(), ms: [0; 3] };
        let num = |v: &str| v.parse::<u64>().map_err(|_| format!("not a number: {v:?} in {s:?}"));
        for field in s.split_whitespace() {
            let (k, v) = field.split_once('=').ok_or_else(|| format!("not key=value: {field:?}"))?;
            match k {
                "id" => a.id = u32::try_from(num(v)?).map_err(|_| format!("id out of range in {s:?}"))?,
                "doc" => a.doc = v.to_owned(),
                "cache" => a.cache = v.to_owned(),
                "answer" => a.answer = v.to_owned(),
                "pg_ms" => a.ms[0] = num(v)?,
                "redis_ms" => a.ms[1] = num(v)?,
                "grpc_ms" => a.ms[2] = num(v)?,
                _ => return Err(format!("unknown field {k:?}")),
            }
        }
        Ok(a)
    }
}

struct Shared {
    pg: Queue<Pg>,
    redis: Queue<redis::Connection>,
    grpc: Client,
    delay: Duration,
}

/// The running API: its address; the pools and the gRPC client live as
/// long as the accept loop (the process).
///
/// ```no_run
/// use std::time::Duration;
/// let _ = greenpatch::monkey::patch_all(Default::default()).unwrap();
/// let backends = examples::dify::Backends::from_env().unwrap();
/// let stack = examples::dify::Stack::start(&backends, 200, Duration::from_millis(100)).unwrap();
/// let answer = examples::dify::ask(stack.addr(), 1).unwrap();
/// ```
#[derive(Debug)]
pub struct Stack {
    addr: SocketAddr,
}

impl Stack {
    /// Opens `pool` PostgreSQL sessions and Redis connections (green, at
    /// the same time), connects the gRPC client, and serves the API on a
    /// free loopback port. `delay` is how long each backend works per
    /// request (`pg_sleep`, `BLPOP`'s timeout, the servicer's sleep).
    ///
    /// # Errors
    /// The first backend that could not be reached, with its reason.
    ///
    /// ```no_run
    /// # let backends = examples::dify::Backends::from_env().unwrap();
    /// let stack = examples::dify::Stack::start(&backends, 10, std::time::Duration::from_millis(100)).unwrap();
    /// println!("API on {}", stack.addr());
    /// ```
    pub fn start(backends: &Backends, pool: usize, delay: Duration) -> Result<Stack, String> {
        let pg = Queue::new();
        let rd = Queue::new();
        let opens: Vec<_> = (0..pool)
            .map(|_| {
                let b = backends.clone();
                spawn_c(move || {
                    let pg = Pg::connect(&b.postgres)?;
                    let client = redis::Client::open(b.redis.as_str()).map_err(|e| format!("Redis URL: {e}"))?;
                    let con = client.get_connection().map_err(|e| format!("Redis connect: {e}"))?;
                    Ok::<_, String>((pg, con))
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        for h in opens {
            let (p, r) = h.join().map_err(|_| "a pool opener panicked".to_owned())??;
            pg.put(p);
            rd.put(r);
        }
        let grpc = Client::connect(&backends.grpc).map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared { pg, redis: rd, grpc, delay });
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind the API: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("the API's address: {e}"))?;
        thread::Builder::new()
            .name("dify-accept".into())
            .spawn(move || accept_loop(listener, shared))
            .map_err(|e| format!("start the accept loop: {e}"))?;
        Ok(Stack { addr })
    }

    /// The API's address.
    ///
    /// ```no_run
    /// # let backends = examples::dify::Backends::from_env().unwrap();
    /// # let stack = examples::dify::Stack::start(&backends, 1, std::time::Duration::ZERO).unwrap();
    /// assert!(stack.addr().ip().is_loopback());
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Spawns a green thread (a thread, unpatched) with a stack for C frames.
fn spawn_c<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<thread::JoinHandle<T>, String> {
    thread::Builder::new().stack_size(C_STACK).spawn(f).map_err(|e| format!("spawn: {e}"))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            // Out of descriptors, or a connection reset before accept: the
            // next accept may well succeed.
            Err(_) => {
                greenpatch::time::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let s = shared.clone();
        // A request that cannot get a green thread is dropped (the client
        // sees the connection close).
        let _ = spawn_c(move || serve(conn, &s));
    }
}

/// Reads one request, answers one line, closes.
fn serve(conn: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Skip the headers.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let (status, body) = match parse_id(&line) {
        Some(id) => match chain(id, shared) {
            Ok(a) => ("200 OK", a.to_string()),
            Err(e) => ("500 Internal Server Error", e),
        },
        None => ("404 Not Found", "try GET /ask?id=<number>".to_owned()),
    };
    let mut conn = reader.into_inner();
    let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
}

fn parse_id(request_line: &str) -> Option<u32> {
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        return None;
    }
    target.strip_prefix("/ask?id=")?.parse().ok()
}

/// Takes an item from a pool queue and gives it back when dropped.
struct Lease<'a, T: Send + 'static> {
    item: Option<T>,
    pool: &'a Queue<T>,
}

impl<'a, T: Send + 'static> Lease<'a, T> {
    fn take(pool: &'a Queue<T>) -> Lease<'a, T> {
        Lease { item: Some(pool.get()), pool }
    }

    fn get(&mut self) -> &mut T {
        // `item` is `Some` from `take` until `drop`.
        self.item.as_mut().unwrap_or_else(|| unreachable!("a lease holds its item until dropped"))
    }
}

impl<T: Send + 'static> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.put(item);
        }
    }
}

/// One request's chain: PostgreSQL, Redis, gRPC, one after the other.
fn chain(id: u32, shared: &Shared) -> Result<Answer, String> {
    let secs = shared.delay.as_secs_f64();
    let t = Instant::now();
    let doc = {
        let mut pg = Lease::take(&shared.pg);
        pg.get().query_one(&format!("SELECT pg_sleep({secs}), 'doc-' || {id}"), 1)?
    };
    let pg_ms = t.elapsed().as_millis() as u64;

    let t = Instant::now();
    let cache = {
        let mut r = Lease::take(&shared.redis);
        let con = r.get();
        let key = format!("dify:doc:{id}");
        redis::cmd("SET").arg(&key).arg(&doc).query::<()>(con).map_err(|e| format!("Redis SET: {e}"))?;
        // Nobody pushes to this list: Redis answers nil after `delay`.
        let _: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(format!("dify:idle:{id}"))
            .arg(secs)
            .query(con)
            .map_err(|e| format!("Redis BLPOP: {e}"))?;
        let v: String = redis::cmd("GET").arg(&key).query(con).map_err(|e| format!("Redis GET: {e}"))?;
        v
    };
    let redis_ms = t.elapsed().as_millis() as u64;

    let t = Instant::now();
    let delay_ms = u32::try_from(shared.delay.as_millis()).unwrap_or(u32::MAX);
    let reply: demo::Reply = shared
        .grpc
        .unary(demo::ECHO, demo::Req { text: cache.clone(), delay_ms, count: 0 }, Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let grpc_ms = t.elapsed().as_millis() as u64;

    Ok(Answer { id, doc, cache, answer: reply.text, ms: [pg_ms, redis_ms, grpc_ms] })
}

/// One HTTP request to the API (`GET /ask?id=<id>`) over a facade socket;
/// the parsed answer.
///
/// # Errors
/// The connection failed, or the API answered something else than `200`
/// (its status line and body).
///
/// ```no_run
/// # let backends = examples::dify::Backends::from_env().unwrap();
/// # let stack = examples::dify::Stack::start(&backends, 1, std::time::Duration::ZERO).unwrap();
/// let a = examples::dify::ask(stack.addr(), 7).unwrap();
/// assert_eq!(a.doc, "doc-7");
/// ```
pub fn ask(addr: SocketAddr, id: u32) -> Result<Answer, String> {
    let io = |e: io::Error| format!("request {id}: {e}");
    let mut c = TcpStream::connect(addr).map_err(io)?;
    write!(c, "GET /ask?id={id} HTTP/1.1\r\nHost: dify\r\nConnection: close\r\n\r\n").map_err(io)?;
    let mut reader = BufReader::new(c);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(io)?;
    let mut body = String::new();
    let mut in_body = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        if in_body {
            body.push_str(&line);
        } else if line == "\r\n" {
            in_body = true;
        }
    }
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("request {id}: {} {body}", status.trim()));
    }
    body.parse()
}

/// What [`load`] measured.
///
/// ```
/// let r = examples::dify::LoadReport { answers: vec![], failures: vec![], wall: std::time::Duration::ZERO };
/// assert!(r.failures.is_empty());
/// ```
#[derive(Debug)]
pub struct LoadReport {
    /// The answers, in request order.
    pub answers: Vec<Answer>,
    /// The requests that failed, with why.
    pub failures: Vec<String>,
    /// From the first request sent to the last answer read.
    pub wall: Duration,
}

/// Sends `n` requests at once (ids `first..first + n`), one green thread
/// each, and waits for every answer.
///
/// ```no_run
/// # let backends = examples::dify::Backends::from_env().unwrap();
/// # let stack = examples::dify::Stack::start(&backends, 200, std::time::Duration::from_millis(100)).unwrap();
/// let r = examples::dify::load(stack.addr(), 1000, 200);
/// println!("200 requests in {:?}", r.wall);
/// ```
pub fn load(addr: SocketAddr, first: u32, n: u32) -> LoadReport {
    let start = Instant::now();
    let hs: Vec<_> = (first..first + n).map(|id| (id, thread::spawn(move || ask(addr, id)))).collect();
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    for (id, h) in hs {
        match h.join() {
            Ok(Ok(a)) if a.id == id && a.doc == format!("doc-{id}") && a.cache == a.doc && a.answer == a.doc => {
                answers.push(a)
            }
            Ok(Ok(a)) => failures.push(format!("request {id}: wrong answer {a}")),
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push(format!("request {id}: its client panicked")),
        }
    }
    LoadReport { answers, failures, wall: start.elapsed() }
}
