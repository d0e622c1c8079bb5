//! Real servers for the tests of the `libc` patch module, each on a free
//! loopback port and stopped when its handle is dropped.
//!
//! # Model
//!
//! - [`Redis`] and [`Postgres`] run Debian's `redis-server` and PostgreSQL
//!   (`initdb` + `postgres` from `/usr/lib/postgresql/<version>/bin`) as
//!   child processes on a fresh temporary directory. PostgreSQL refuses to
//!   run as root, so as root both of its programs run as the `postgres`
//!   user (which Debian's package creates) on a directory that user owns.
//! - [`SlowHttp`] (the demo's, from `examples`) and [`SlowEcho`] are small std servers on plain OS
//!   threads (one per connection) that wait a fixed delay before they
//!   answer: the peers of the unmodified HTTP clients and of the tests' C
//!   library. They never run green: threads without a hub pass straight
//!   through the hooks, so the clients under test are the only green code.
//!
//! # Policy when a server program is missing
//!
//! [`missing`] decides: under `CI=true` a missing program is a test failure
//! (CI installs them, see `scripts/peers.sh`); elsewhere the test prints why
//! it is skipped and returns.
//!
//! # Invariants
//!
//! A handle owns its child process and directory: dropping it stops the
//! process (`SIGTERM` or PostgreSQL's fast-shutdown `SIGINT`, then
//! `SIGKILL` after a grace period), reaps it and removes the directory.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Reports a missing server program: panics under `CI=true` (CI installs
/// every program the tests need), otherwise prints `SKIP: <why>` and
/// returns `None` so that the test can return early.
///
/// # Example
///
/// ```no_run
/// let Some(redis) = tests::servers::Redis::start() else { return };
/// # drop(redis);
/// # let _ = tests::servers::missing::<()>("never: an example");
/// ```
pub fn missing<T>(why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{why} (CI must install it: scripts/peers.sh)");
    }
    eprintln!("SKIP: {why} (install it with scripts/peers.sh)");
    None
}

/// A loopback port that was free a moment ago (the kernel picked it).
///
/// # Example
///
/// ```
/// assert!(tests::servers::free_port() > 0);
/// ```
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind a loopback port")
}

/// The first of `names` found on `PATH` or as an absolute path.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    for n in names {
        let p = Path::new(n);
        if p.is_absolute() {
            if p.is_file() {
                return Some(p.to_path_buf());
            }
            continue;
        }
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let c = dir.join(n);
            if c.is_file() {
                return Some(c);
            }
        }
    }
    None
}

/// A fresh directory under the system temp dir, removed by its owner.
fn temp_dir(kind: &str) -> PathBuf {
    temp_dir_in(&std::env::temp_dir(), kind)
}

/// A fresh directory under `base`, removed by its owner.
fn temp_dir_in(base: &Path, kind: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = base.join(format!("greenpatch-{kind}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temporary directory");
    d
}

/// Stops `child`: `signal`, then `SIGKILL` after `grace`; reaps it.
fn stop_child(child: &mut Child, signal: libc::c_int, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: `pid` is our own child, not yet reaped (try_wait said it is
    // running), so the number cannot belong to another process.
    unsafe { libc::kill(pid, signal) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `ready()` or `timeout`; `false` on timeout or if `child` exited.
fn wait_ready(child: &mut Child, timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A `redis-server` on a free loopback port, without persistence.
///
/// # Example
///
/// ```no_run
/// if let Some(r) = tests::servers::Redis::start() {
///     println!("redis at {}", r.url());
/// }
/// ```
pub struct Redis {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Redis {
    /// Starts one; `None` (printed) when `redis-server` is not installed
    /// outside CI (see [`missing`]). Panics if it is installed but does not
    /// come up.
    pub fn start() -> Option<Redis> {
        let Some(bin) = find_program(&["redis-server", "/usr/bin/redis-server", "/usr/sbin/redis-server"]) else {
            return missing("redis-server is not installed");
        };
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let dir = temp_dir("redis");
            let log = std::fs::File::create(dir.join("redis.log")).expect("redis log file");
            let mut child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--protected-mode", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("redis log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            if wait_ready(&mut child, Duration::from_secs(15), || ping_redis(port)) {
                return Some(Redis { port, child, dir });
            }
            stop_child(&mut child, libc::SIGKILL, Duration::ZERO);
            last = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("redis-server did not come up on a free port; its log:\n{last}");
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// One `PING` in RESP over a fresh connection.
fn ping_redis(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGTERM, Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL cluster made with `initdb` on a temporary directory and
/// served by `postgres` on a free loopback port, trust authentication,
/// user and database `postgres`.
///
/// # Example
///
/// ```no_run
/// if let Some(pg) = tests::servers::Postgres::start() {
///     println!("connect with: {}", pg.conninfo());
/// }
/// ```
pub struct Postgres {
    port: u16,
    child: Child,
    dir: PathBuf,
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has both programs.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d)
}

/// `(uid, gid)` to run PostgreSQL as: the `postgres` user when we are
/// root (PostgreSQL refuses root), else nobody else (`None`).
fn postgres_identity() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: `name` is a NUL-terminated string; getpwnam returns a pointer
    // to static storage or null, read at once below, before any other call
    // that could overwrite it.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("running as root and there is no `postgres` user to run PostgreSQL as".into());
    }
    // SAFETY: `pw` is non-null and points to getpwnam's valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

impl Postgres {
    /// Makes a cluster and starts the server; `None` (printed) when
    /// PostgreSQL's server programs are not installed outside CI (see
    /// [`missing`]). Panics if they are installed but fail.
    pub fn start() -> Option<Postgres> {
        Postgres::start_with_max_connections(64)
    }

    /// As [`Postgres::start`], allowing `max_connections` sessions at once
    /// (the Dify stack holds one per concurrent request).
    ///
    /// ```no_run
    /// let pg = tests::servers::Postgres::start_with_max_connections(250);
    /// ```
    pub fn start_with_max_connections(max_connections: u32) -> Option<Postgres> {
        let Some(bin) = postgres_bin_dir() else {
            return missing("PostgreSQL's server (initdb, postgres under /usr/lib/postgresql) is not installed");
        };
        let who = postgres_identity().unwrap_or_else(|e| panic!("{e}"));
        // The postgres user must reach the directory: under /tmp (world
        // searchable) rather than a $TMPDIR that may be private to root.
        let dir = match who {
            Some(_) => temp_dir_in(Path::new("/tmp"), "pg"),
            None => temp_dir("pg"),
        };
        let data = dir.join("data");
        if let Some((uid, gid)) = who {
            let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("temp dir path");
            // SAFETY: `c` is a NUL-terminated path of a directory we just made.
            if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
                panic!("cannot give {} to the postgres user: {}", dir.display(), std::io::Error::last_os_error());
            }
        }
        let as_pg = |program: &str| {
            let mut c = Command::new(bin.join(program));
            c.current_dir(&dir).env("LC_ALL", "C").env("LANG", "C").stdin(Stdio::null());
            if let Some((uid, gid)) = who {
                c.uid(uid).gid(gid);
            }
            c
        };
        let out = as_pg("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log_path = dir.join("postgres.log");
            let log = std::fs::File::create(&log_path).expect("postgres log file");
            let mut child = as_pg("postgres")
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(&dir)
                .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
                .args(["-c", "shared_buffers=16MB", "-c", &format!("max_connections={max_connections}")])
                .args(["-c", "logging_collector=off"])
                .stdout(log.try_clone().expect("postgres log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
            let ready = || {
                std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("ready to accept connections"))
                    && TcpStream::connect(("127.0.0.1", port)).is_ok()
            };
            if wait_ready(&mut child, Duration::from_secs(60), ready) {
                return Some(Postgres { port, child, dir });
            }
            stop_child(&mut child, libc::SIGKILL, Duration::ZERO);
            last = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("postgres did not come up on a free port; its log:\n{last}");
    }

    /// A libpq connection string for it, over TCP.
    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=10", self.port)
    }

    /// A libpq connection string for it over its Unix-domain socket (the
    /// way psycopg2 connects by default).
    pub fn conninfo_unix(&self) -> String {
        format!("host={} port={} user=postgres dbname=postgres connect_timeout=10", self.dir.display(), self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, no checkpoint wait).
        stop_child(&mut self.child, libc::SIGINT, Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Loopback server on plain OS threads; each connection gets its own
/// thread, which runs `answer` on it. Stopped (accept loop ended, threads
/// joined) when dropped.
struct Threaded {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Threaded {
    fn start(answer: impl Fn(TcpStream) + Send + Sync + 'static) -> Threaded {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        let addr = l.local_addr().expect("listener address");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let answer = Arc::new(answer);
        let accept = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let mut conns = Vec::new();
                for c in l.incoming() {
                    if s.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(c) = c else { continue };
                    let a = answer.clone();
                    conns.push(thread::spawn(move || a(c)));
                    conns.retain(|h: &JoinHandle<()>| !h.is_finished());
                }
                for h in conns {
                    let _ = h.join();
                }
            })
            .expect("server thread");
        Threaded { addr, stop, accept: Some(accept) }
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// An HTTP/1.1 server that waits `delay` before each answer: the demo's
/// server ([`examples::slow_http::SlowHttp`]), started or panicking. The
/// answer to `GET /<path>` is `200 OK` with the body `hello /<path>` and
/// `Connection: close`.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// let s = tests::servers::SlowHttp::start(std::time::Duration::from_millis(10));
/// let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
/// c.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
/// let mut text = String::new();
/// c.read_to_string(&mut text).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK") && text.ends_with("hello /x"));
/// assert_eq!(s.requests(), 1);
/// ```
pub struct SlowHttp(examples::slow_http::SlowHttp);

impl SlowHttp {
    /// Starts it on a free loopback port.
    ///
    /// # Panics
    ///
    /// When the listener cannot be bound or its thread started.
    pub fn start(delay: Duration) -> SlowHttp {
        SlowHttp(examples::slow_http::SlowHttp::start(delay).expect("start the slow HTTP server"))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Requests answered or being answered so far.
    pub fn requests(&self) -> usize {
        self.0.requests()
    }
}

/// A TCP server that reads one message (whatever the first read brings),
/// waits `delay`, writes back `echo:<message>` and closes.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// let s = tests::servers::SlowEcho::start(std::time::Duration::from_millis(10));
/// let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
/// c.write_all(b"hi").unwrap();
/// let mut text = String::new();
/// c.read_to_string(&mut text).unwrap();
/// assert_eq!(text, "echo:hi");
/// ```
pub struct SlowEcho {
    inner: Threaded,
}

impl SlowEcho {
    /// Starts it on a free loopback port.
    pub fn start(delay: Duration) -> SlowEcho {
        let inner = Threaded::start(move |mut c| {
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 1024];
            let n = match c.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            thread::sleep(delay);
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = c.write_all(&reply);
            let _ = c.shutdown(Shutdown::Write);
        });
        SlowEcho { inner }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }
}
