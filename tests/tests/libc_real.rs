//! The `libc` patch module against real, unmodified code and real servers.
//!
//! After `patch_all()` (which patches `libc` by default), crates and C
//! libraries that know nothing of greenpatch block only the calling green
//! thread. Each test runs N calls as N green threads on its own OS thread
//! (`tests::green::overlap`, which checks they shared it) against a peer
//! that takes a fixed time per call, and asserts two things:
//!
//! - **overlap**: the wall time is about one call's, far below the N calls'
//!   sum that the same code takes unpatched (`tests/libc_unpatched.rs`
//!   shows that side); margins are generous (the sum is at least twice the
//!   bound) because this runs beside other builds on a small machine;
//! - **answers**: every call returned what its server sent it.
//!
//! Servers: Debian's `redis-server` and PostgreSQL (started on free
//! loopback ports by `tests::servers`, stopped when the test ends; missing
//! programs fail under `CI=true` and skip with a message elsewhere), and
//! std servers on plain OS threads for HTTP and the C library.
//!
//! Patching is process-wide and one-way: every test here runs patched.
//! A watchdog aborts the binary if a test hangs (a hook that blocked a hub
//! whose own green threads must answer would otherwise hang forever).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use greenpatch::monkey::{is_module_patched, patch_all, PatchAll};
use tests::green::overlap;
use tests::servers::{Postgres, Redis, SlowEcho, SlowHttp};
use tests::{cnet, servers};

/// Patches every default module once (the tests of this binary share it).
fn patched() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = patch_all(PatchAll::default()).expect("patch_all");
    });
    assert!(is_module_patched("libc"), "patch_all() with the default options must patch the `libc` module");
}

/// Aborts the test binary if the guarded test is still running after
/// `limit` (a hang means a call blocked a hub that had to answer it).
struct Watchdog(Option<mpsc::Sender<()>>);

fn watchdog(what: &'static str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("{what}: still running after {limit:?}: a blocking call held its hub; aborting");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

fn v4(a: SocketAddr) -> std::net::SocketAddrV4 {
    match a {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => panic!("the test servers listen on IPv4 loopback"),
    }
}

/// Prints the measured figure (shown with `--nocapture`) and asserts the bound.
fn assert_overlapped(what: &str, n: usize, each: Duration, wall: Duration, bound: Duration) {
    let serial = each * n as u32;
    eprintln!("{what}: {n} x {each:?} took {wall:?} (serial would be >= {serial:?})");
    assert!(
        wall < bound,
        "{what}: {n} green threads x {each:?} took {wall:?}, not under {bound:?}: the calls did not overlap \
         (serial would be {serial:?})"
    );
}

#[test]
fn redis_crate_blpop_from_8_green_threads_overlaps_and_set_get_answer_right() {
    patched();
    let _w = watchdog("redis", Duration::from_secs(60));
    let Some(server) = Redis::start() else { return };
    let client = redis::Client::open(server.url()).expect("redis url");
    const N: usize = 8;
    const BLPOP: Duration = Duration::from_millis(500);
    let c = client.clone();
    let (wall, got) = overlap(N, move |i| {
        let mut con = c.get_connection().expect("connect to redis-server");
        let key = format!("greenpatch:key:{i}");
        let () = redis::cmd("SET").arg(&key).arg(format!("value-{i}")).query(&mut con).expect("SET");
        let value: String = redis::cmd("GET").arg(&key).query(&mut con).expect("GET");
        // Nobody pushes to this list: the server answers nil after 0.5 s.
        let t = Instant::now();
        let popped: Option<(String, String)> =
            redis::cmd("BLPOP").arg(format!("greenpatch:empty:{i}")).arg(0.5).query(&mut con).expect("BLPOP");
        (value, popped, t.elapsed())
    });
    for (i, (value, popped, took)) in got.iter().enumerate() {
        assert_eq!(value, &format!("value-{i}"));
        assert_eq!(popped, &None);
        assert!(*took >= Duration::from_millis(450), "BLPOP returned after {took:?}, before its timeout");
    }
    assert_overlapped("redis BLPOP 0.5 s", N, BLPOP, wall, Duration::from_millis(2000));

    // A BLPOP that is answered: a green thread waits on a list that
    // another green thread of the same OS thread pushes to later.
    let c = client.clone();
    let (wall, got) = overlap(2, move |i| {
        let mut con = c.get_connection().expect("connect to redis-server");
        if i == 0 {
            let popped: Option<(String, String)> =
                redis::cmd("BLPOP").arg("greenpatch:jobs").arg(10).query(&mut con).expect("BLPOP");
            popped.map(|(_, v)| v)
        } else {
            std::thread::sleep(Duration::from_millis(200));
            let _: i64 = redis::cmd("RPUSH").arg("greenpatch:jobs").arg("job-1").query(&mut con).expect("RPUSH");
            None
        }
    });
    assert_eq!(got[0].as_deref(), Some("job-1"), "the waiting green thread gets what the other pushed");
    assert!(wall < Duration::from_secs(5), "the push must wake the BLPOP well before its 10 s timeout: {wall:?}");
}

#[test]
fn ureq_from_10_green_threads_overlaps_and_bodies_are_right() {
    patched();
    let _w = watchdog("ureq", Duration::from_secs(60));
    const N: usize = 10;
    const DELAY: Duration = Duration::from_millis(300);
    let server = SlowHttp::start(DELAY);
    let url = server.url();
    let (wall, got) = overlap(N, move |i| {
        let mut resp = ureq::get(format!("{url}/item/{i}")).call().expect("GET");
        assert_eq!(resp.status(), 200);
        resp.body_mut().read_to_string().expect("body")
    });
    for (i, body) in got.iter().enumerate() {
        assert_eq!(body, &format!("hello /item/{i}"));
    }
    assert_eq!(server.requests(), N);
    assert_overlapped("ureq GET (server waits 300 ms)", N, DELAY, wall, Duration::from_millis(1500));
}

#[test]
fn libcurl_easy_perform_from_10_green_threads_overlaps_and_bodies_are_right() {
    patched();
    let _w = watchdog("libcurl", Duration::from_secs(60));
    curl::init();
    const N: usize = 10;
    const DELAY: Duration = Duration::from_millis(300);
    let server = SlowHttp::start(DELAY);
    let url = server.url();
    let (wall, got) = overlap(N, move |i| {
        let mut body = Vec::new();
        let mut easy = curl::easy::Easy::new();
        easy.url(&format!("{url}/curl/{i}")).expect("url");
        easy.timeout(Duration::from_secs(20)).expect("timeout");
        {
            let mut t = easy.transfer();
            t.write_function(|d| {
                body.extend_from_slice(d);
                Ok(d.len())
            })
            .expect("write function");
            t.perform().expect("curl_easy_perform");
        }
        (easy.response_code().expect("response code"), String::from_utf8(body).expect("utf-8 body"))
    });
    for (i, (code, body)) in got.iter().enumerate() {
        assert_eq!(*code, 200);
        assert_eq!(body, &format!("hello /curl/{i}"));
    }
    assert_overlapped("libcurl perform (server waits 300 ms)", N, DELAY, wall, Duration::from_millis(1500));
}

/// One libpq session: connect, `SELECT pg_sleep(0.2), <i> * 7`, return the
/// second column as text.
fn libpq_sleep_query(conninfo: &str, i: usize) -> Result<String, String> {
    use std::ffi::{CStr, CString};
    let info = CString::new(conninfo).map_err(|e| e.to_string())?;
    let sql = CString::new(format!("SELECT pg_sleep(0.2), {i} * 7")).map_err(|e| e.to_string())?;
    // SAFETY: `info` is NUL-terminated; PQconnectdb returns a connection
    // object (possibly failed) or null on out-of-memory, owned by us until
    // PQfinish below.
    let conn = unsafe { pq_sys::PQconnectdb(info.as_ptr()) };
    if conn.is_null() {
        return Err("PQconnectdb returned null".into());
    }
    let out = (|| {
        // SAFETY: `conn` is a live connection object from PQconnectdb.
        if unsafe { pq_sys::PQstatus(conn) } != pq_sys::ConnStatusType::CONNECTION_OK {
            // SAFETY: PQerrorMessage returns a NUL-terminated string owned by `conn`.
            let msg = unsafe { CStr::from_ptr(pq_sys::PQerrorMessage(conn)) };
            return Err(format!("connect: {}", msg.to_string_lossy()));
        }
        // SAFETY: `conn` is connected; `sql` is NUL-terminated.
        let res = unsafe { pq_sys::PQexec(conn, sql.as_ptr()) };
        if res.is_null() {
            return Err("PQexec returned null".into());
        }
        // SAFETY: `res` is a live result from PQexec, cleared once below.
        let r = unsafe {
            if pq_sys::PQresultStatus(res) != pq_sys::ExecStatusType::PGRES_TUPLES_OK {
                Err(format!("query: {}", CStr::from_ptr(pq_sys::PQresultErrorMessage(res)).to_string_lossy()))
            } else if pq_sys::PQntuples(res) != 1 || pq_sys::PQnfields(res) != 2 {
                Err("query: expected one row of two columns".into())
            } else {
                Ok(CStr::from_ptr(pq_sys::PQgetvalue(res, 0, 1)).to_string_lossy().into_owned())
            }
        };
        // SAFETY: `res` came from PQexec and is not used after this.
        unsafe { pq_sys::PQclear(res) };
        r
    })();
    // SAFETY: `conn` came from PQconnectdb and is not used after this.
    unsafe { pq_sys::PQfinish(conn) };
    out
}

#[test]
fn libpq_pg_sleep_from_20_green_threads_overlaps_and_values_are_right() {
    patched();
    let _w = watchdog("libpq", Duration::from_secs(120));
    let Some(pg) = Postgres::start() else { return };
    // One session first: the server answers at all (and a failure here is
    // about the server, not about overlap).
    assert_eq!(libpq_sleep_query(&pg.conninfo(), 6).expect("a first libpq session"), "42");
    const N: usize = 20;
    const SLEEP: Duration = Duration::from_millis(200);
    let conninfo = pg.conninfo();
    let (wall, got) = overlap(N, move |i| libpq_sleep_query(&conninfo, i));
    for (i, r) in got.into_iter().enumerate() {
        assert_eq!(r.expect("libpq session"), (i * 7).to_string());
    }
    assert_overlapped("libpq SELECT pg_sleep(0.2) (connect + query)", N, SLEEP, wall, Duration::from_millis(2000));

    // The same over the server's Unix-domain socket.
    let conninfo = pg.conninfo_unix();
    let (wall, got) = overlap(N, move |i| libpq_sleep_query(&conninfo, i));
    for (i, r) in got.into_iter().enumerate() {
        assert_eq!(r.expect("libpq session over the Unix socket"), (i * 7).to_string());
    }
    assert_overlapped("libpq over a Unix socket", N, SLEEP, wall, Duration::from_millis(2000));
}

#[test]
fn a_c_library_built_here_goes_green_through_connect_send_poll_select_recv() {
    patched();
    let _w = watchdog("C library", Duration::from_secs(60));
    const N: usize = 10;
    const DELAY: Duration = Duration::from_millis(200);
    let server = SlowEcho::start(DELAY);
    let addr = v4(server.addr());
    let (wall, got) = overlap(N, move |i| {
        let wait = if i % 2 == 0 { cnet::Wait::Poll } else { cnet::Wait::Select };
        cnet::request(addr, &format!("msg-{i}"), Duration::from_secs(10), wait)
    });
    for (i, r) in got.into_iter().enumerate() {
        assert_eq!(r.expect("C request"), format!("echo:msg-{i}"));
    }
    assert_overlapped(
        "C connect/send/poll|select/recv (server waits 200 ms)",
        N,
        DELAY,
        wall,
        Duration::from_millis(1000),
    );

    // The C library's nanosleep.
    let (wall, got) = overlap(N, |_| cnet::sleep_ms(200));
    assert!(got.iter().all(|r| r.is_ok()), "{got:?}");
    assert_overlapped("C nanosleep(200 ms)", N, DELAY, wall, Duration::from_millis(1000));
}

#[test]
fn std_thread_sleep_from_50_green_threads_overlaps() {
    patched();
    let _w = watchdog("std::thread::sleep", Duration::from_secs(60));
    const N: usize = 50;
    const SLEEP: Duration = Duration::from_millis(200);
    let (wall, got) = overlap(N, |i| {
        let t = Instant::now();
        std::thread::sleep(SLEEP);
        (i, t.elapsed())
    });
    for (_, took) in &got {
        assert!(*took >= SLEEP, "std::thread::sleep returned early: {took:?}");
    }
    assert_overlapped("std::thread::sleep(200 ms)", N, SLEEP, wall, Duration::from_millis(2000));
}

#[test]
fn std_net_echo_server_and_clients_all_in_green_threads_of_one_os_thread() {
    patched();
    let _w = watchdog("std::net echo", Duration::from_secs(60));
    const N: usize = 20;
    const DELAY: Duration = Duration::from_millis(200);
    // The server is std::net too, and on this OS thread: unhooked, its
    // accept would block the only thread the clients run on, forever.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = greenpatch_runtime::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..N {
            let (mut s, _) = listener.accept().expect("accept");
            conns.push(greenpatch_runtime::spawn(move || {
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).expect("server read");
                std::thread::sleep(DELAY);
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                s.write_all(&reply).expect("server write");
            }));
        }
        for c in conns {
            c.join().expect("connection handler");
        }
    });
    let (wall, got) = overlap(N, move |i| {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(format!("hello-{i}").as_bytes()).expect("client write");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("client read");
        reply
    });
    server.join().expect("server");
    for (i, reply) in got.iter().enumerate() {
        assert_eq!(reply, &format!("echo:hello-{i}"));
    }
    assert_overlapped("std::net echo (server waits 200 ms per message)", N, DELAY, wall, Duration::from_millis(2000));
}

#[test]
fn free_ports_and_servers_are_released_when_dropped() {
    // The harness itself: a dropped server's port is free again.
    let http = SlowHttp::start(Duration::ZERO);
    let addr = http.addr();
    drop(http);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the HTTP test server still accepts after being dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(servers::free_port() > 0);
}

#[test]
fn unmodified_clients_timeouts_expire_on_time_and_overlap() {
    // ureq's global timeout and redis' read timeout are SO_RCVTIMEO on the
    // socket; libcurl's is its own poll timeout. Each must expire as it
    // would on an OS thread (not early, not never), and green threads
    // waiting for them must not wait in turn.
    patched();
    let _w = watchdog("client timeouts", Duration::from_secs(60));
    let Some(redis_server) = Redis::start() else { return };
    curl::init();
    const TIMEOUT: Duration = Duration::from_millis(200);
    let http = SlowHttp::start(Duration::from_secs(2));
    let url = http.url();
    let redis_url = redis_server.url();
    const N: usize = 9;
    let (wall, got) = overlap(N, move |i| {
        let t = Instant::now();
        let what = match i % 3 {
            0 => {
                let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().into();
                match agent.get(format!("{url}/t/{i}")).call() {
                    Err(ureq::Error::Timeout(_)) => "ureq timeout".to_string(),
                    other => format!("ureq: unexpected {other:?}"),
                }
            }
            1 => {
                let mut con = redis::Client::open(redis_url.as_str())
                    .and_then(|c| c.get_connection())
                    .expect("connect to redis-server");
                con.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
                let t = Instant::now();
                let r: redis::RedisResult<Option<(String, String)>> =
                    redis::cmd("BLPOP").arg(format!("greenpatch:never:{i}")).arg(5).query(&mut con);
                return (
                    match r {
                        Err(e) if e.is_timeout() => "redis timeout".to_string(),
                        other => format!("redis: unexpected {other:?}"),
                    },
                    t.elapsed(),
                );
            }
            _ => {
                let mut easy = curl::easy::Easy::new();
                easy.url(&format!("{url}/t/{i}")).expect("url");
                easy.timeout(TIMEOUT).expect("timeout");
                match easy.perform() {
                    Err(e) if e.is_operation_timedout() => "curl timeout".to_string(),
                    other => format!("curl: unexpected {other:?}"),
                }
            }
        };
        (what, t.elapsed())
    });
    for (i, (what, took)) in got.iter().enumerate() {
        let want = ["ureq timeout", "redis timeout", "curl timeout"][i % 3];
        assert_eq!(what, want, "client {i}");
        assert!(*took >= TIMEOUT.mul_f64(0.9), "{what} after {took:?}: before its {TIMEOUT:?}");
        assert!(*took < Duration::from_millis(1500), "{what} after {took:?}: far after its {TIMEOUT:?}");
    }
    assert_overlapped("client timeouts (200 ms each)", N, TIMEOUT, wall, Duration::from_millis(1000));
}

#[test]
fn ureq_by_host_name_resolves_off_the_hub_and_overlaps() {
    // `localhost` goes through getaddrinfo (the blocking pool once hooked).
    patched();
    let _w = watchdog("ureq by name", Duration::from_secs(60));
    const N: usize = 10;
    const DELAY: Duration = Duration::from_millis(300);
    let server = SlowHttp::start(DELAY);
    let port = server.addr().port();
    let (wall, got) = overlap(N, move |i| {
        let mut resp = ureq::get(format!("http://localhost:{port}/n/{i}")).call().expect("GET by name");
        resp.body_mut().read_to_string().expect("body")
    });
    for (i, body) in got.iter().enumerate() {
        assert_eq!(body, &format!("hello /n/{i}"));
    }
    assert_overlapped("ureq GET http://localhost (getaddrinfo + 300 ms)", N, DELAY, wall, Duration::from_millis(1500));
}

#[test]
fn ureq_from_green_threads_of_a_two_hub_runtime_overlaps() {
    patched();
    let _w = watchdog("ureq on a runtime", Duration::from_secs(60));
    const N: usize = 20;
    const DELAY: Duration = Duration::from_millis(300);
    let server = SlowHttp::start(DELAY);
    let url = server.url();
    let rt = greenpatch_runtime::Runtime::builder().hubs(2).build().expect("runtime");
    let start = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let url = url.clone();
            rt.spawn(move || {
                let mut r = ureq::get(format!("{url}/rt/{i}")).call().expect("GET");
                r.body_mut().read_to_string().expect("body")
            })
        })
        .collect();
    let bodies: Vec<String> = handles.into_iter().map(|h| h.join().expect("green thread")).collect();
    let wall = start.elapsed();
    assert_eq!(bodies, (0..N).map(|i| format!("hello /rt/{i}")).collect::<Vec<_>>());
    // Two hubs: the serial worst case would be N / 2 calls per hub.
    assert_overlapped("ureq GET on a 2-hub runtime", N, DELAY, wall, Duration::from_millis(1500));
}

#[test]
fn a_hooked_call_from_root_code_drives_the_hub_for_its_green_threads() {
    // Root code of an OS thread that has a hub: its blocking C-level call
    // waits by running the hub, so the thread's green threads go on.
    patched();
    let _w = watchdog("root code", Duration::from_secs(60));
    const DELAY: Duration = Duration::from_millis(400);
    let server = SlowHttp::start(DELAY);
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = ticks.clone();
    let ticker = greenpatch_runtime::spawn(move || {
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(10));
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let mut r = ureq::get(format!("{}/root", server.url())).call().expect("GET from root code");
    assert_eq!(r.body_mut().read_to_string().expect("body"), "hello /root");
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(start.elapsed() >= DELAY);
    assert!(during >= 10, "the green ticker ran only {during} of 20 ticks while root code waited {DELAY:?} in ureq");
    ticker.join().expect("ticker");
}

#[test]
fn std_process_output_from_green_threads_overlaps() {
    // `Command::output` reads the child's pipes with `poll` + `read`
    // (hooked), so the green threads wait for their children together.
    patched();
    let _w = watchdog("Command::output", Duration::from_secs(60));
    const N: usize = 6;
    const CHILD: Duration = Duration::from_millis(300);
    let (wall, got) = overlap(N, |i| {
        std::process::Command::new("sh")
            .args(["-c", &format!("sleep 0.3; echo child-{i}; echo err-{i} >&2")])
            .output()
            .expect("run sh")
    });
    for (i, out) in got.iter().enumerate() {
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("child-{i}\n"));
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("err-{i}\n"));
    }
    assert_overlapped("std::process::Command::output (sh: sleep 0.3)", N, CHILD, wall, Duration::from_millis(1200));
}

#[test]
fn std_udp_sockets_in_green_threads_wait_green() {
    // recv_from/send_to on blocking std UdpSockets: a server green thread
    // answers each datagram from its own green thread after 200 ms.
    patched();
    let _w = watchdog("UDP", Duration::from_secs(60));
    const N: usize = 10;
    const DELAY: Duration = Duration::from_millis(200);
    let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("addr");
    let server = std::sync::Arc::new(server);
    let s = server.clone();
    let serve = greenpatch_runtime::spawn(move || {
        let mut replies = Vec::new();
        for _ in 0..N {
            let mut buf = [0u8; 64];
            let (n, from) = s.recv_from(&mut buf).expect("server recv_from");
            let s = s.clone();
            let msg = buf[..n].to_vec();
            replies.push(greenpatch_runtime::spawn(move || {
                std::thread::sleep(DELAY);
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&msg);
                s.send_to(&reply, from).expect("server send_to");
            }));
        }
        replies.into_iter().for_each(|r| r.join().expect("reply"));
    });
    let (wall, got) = overlap(N, move |i| {
        let c = std::net::UdpSocket::bind("127.0.0.1:0").expect("client bind");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        c.send_to(format!("d{i}").as_bytes(), addr).expect("client send_to");
        let mut buf = [0u8; 64];
        let (n, from) = c.recv_from(&mut buf).expect("client recv_from");
        assert_eq!(from, addr);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    serve.join().expect("server");
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r, &format!("echo:d{i}"));
    }
    assert_overlapped("std UDP recv_from (server waits 200 ms)", N, DELAY, wall, Duration::from_millis(1000));
}

#[test]
fn a_timeout_scope_ends_a_libpq_query_and_the_session_fails_cleanly() {
    // A green thread in libpq (C frames: PQexec -> poll) whose timeout
    // scope expires: the poll fails, libpq reports the failure, PQfinish
    // runs, and the timeout lands at the next park in Rust. Nothing waits
    // for pg_sleep(5), and other green threads' sessions are unaffected.
    patched();
    let _w = watchdog("libpq timeout", Duration::from_secs(60));
    let Some(pg) = Postgres::start() else { return };
    let info = pg.conninfo();
    let slow_info = info.clone();
    let start = Instant::now();
    let slow = greenpatch_runtime::Builder::new()
        .stack_size(tests::green::C_STACK)
        .spawn(move || {
            greenpatch_runtime::with_timeout(Duration::from_millis(300), move || {
                let inside = libpq_query(&slow_info, "SELECT pg_sleep(5)");
                // The next park in Rust: the expired scope ends here.
                greenpatch_runtime::sleep(Duration::from_secs(30));
                inside
            })
        })
        .expect("spawn");
    let (_, ok) = overlap(4, move |i| libpq_sleep_query(&info, i));
    let r = slow.join().expect("the green thread itself finished");
    let took = start.elapsed();
    assert!(r.is_err(), "the timeout scope must expire: {r:?}");
    assert!(took < Duration::from_secs(4), "the expired scope waited for pg_sleep(5): {took:?}");
    for (i, r) in ok.into_iter().enumerate() {
        assert_eq!(r.expect("the other sessions"), (i * 7).to_string());
    }
}

/// Runs `sql` in a fresh libpq session; `Err` with libpq's message when the
/// query fails (the session is finished either way).
fn libpq_query(conninfo: &str, sql: &str) -> Result<(), String> {
    use std::ffi::{CStr, CString};
    let info = CString::new(conninfo).map_err(|e| e.to_string())?;
    let sql = CString::new(sql).map_err(|e| e.to_string())?;
    // SAFETY: NUL-terminated strings; every object libpq returns is checked,
    // used while alive and freed exactly once.
    unsafe {
        let conn = pq_sys::PQconnectdb(info.as_ptr());
        if conn.is_null() {
            return Err("PQconnectdb returned null".into());
        }
        let res = pq_sys::PQexec(conn, sql.as_ptr());
        let out = if res.is_null() {
            Err(CStr::from_ptr(pq_sys::PQerrorMessage(conn)).to_string_lossy().into_owned())
        } else if pq_sys::PQresultStatus(res) == pq_sys::ExecStatusType::PGRES_TUPLES_OK {
            Ok(())
        } else {
            Err(CStr::from_ptr(pq_sys::PQresultErrorMessage(res)).to_string_lossy().into_owned())
        };
        if !res.is_null() {
            pq_sys::PQclear(res);
        }
        pq_sys::PQfinish(conn);
        out
    }
}
