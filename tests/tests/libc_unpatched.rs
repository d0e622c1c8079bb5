//! The other side of `tests/libc_real.rs`: the same unmodified clients from
//! green threads of one OS thread, in a process that patched everything
//! but the `libc` module (`PatchAll::default().libc(false)`: the facades
//! are green, the C level is not). The hooks are linked (every program that
//! links greenpatch has them) but pass straight through, so each call
//! blocks the whole OS thread and N calls take N times one call: what the
//! patched tests' bounds are measured against. Small N: each test costs
//! about a second.
//!
//! This binary must never patch `libc`: each test checks it.

use std::net::SocketAddr;
use std::time::Duration;

use greenpatch::monkey::{is_module_patched, patch_all, PatchAll};
use tests::cnet;
use tests::green::overlap;
use tests::servers::{Postgres, Redis, SlowEcho, SlowHttp};

const N: usize = 3;

fn unpatched() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = patch_all(PatchAll::default().libc(false)).expect("patch_all without libc");
        assert!(is_module_patched("socket") && is_module_patched("time"), "the facades are patched");
    });
    assert!(!is_module_patched("libc"), "`PatchAll::default().libc(false)` must leave the `libc` module unpatched");
}

/// Asserts the calls ran one after another: at least 90% of their sum.
fn assert_serial(what: &str, each: Duration, wall: Duration) {
    let sum = each * N as u32;
    eprintln!("{what}, unpatched: {N} x {each:?} on one OS thread took {wall:?}");
    assert!(
        wall >= sum.mul_f64(0.9),
        "{what}: {N} x {each:?} took only {wall:?} unpatched: the hooks rerouted without `libc` patched"
    );
}

#[test]
fn std_thread_sleep_from_green_threads_is_serial_unpatched() {
    unpatched();
    let each = Duration::from_millis(150);
    let (wall, _) = overlap(N, move |_| std::thread::sleep(each));
    assert_serial("std::thread::sleep", each, wall);
}

#[test]
fn ureq_and_libcurl_from_green_threads_are_serial_unpatched() {
    unpatched();
    let each = Duration::from_millis(150);
    let server = SlowHttp::start(each);
    let url = server.url();
    let (wall, got) = overlap(N, move |i| {
        let mut r = ureq::get(format!("{url}/u/{i}")).call().expect("GET");
        r.body_mut().read_to_string().expect("body")
    });
    assert_eq!(got, (0..N).map(|i| format!("hello /u/{i}")).collect::<Vec<_>>());
    assert_serial("ureq GET", each, wall);

    let url = server.url();
    let (wall, got) = overlap(N, move |i| {
        let mut easy = curl::easy::Easy::new();
        easy.url(&format!("{url}/c/{i}")).expect("url");
        let mut body = Vec::new();
        {
            let mut t = easy.transfer();
            t.write_function(|d| {
                body.extend_from_slice(d);
                Ok(d.len())
            })
            .expect("write function");
            t.perform().expect("perform");
        }
        String::from_utf8(body).expect("utf-8")
    });
    assert_eq!(got, (0..N).map(|i| format!("hello /c/{i}")).collect::<Vec<_>>());
    assert_serial("libcurl perform", each, wall);
}

#[test]
fn the_c_library_is_serial_unpatched() {
    unpatched();
    let each = Duration::from_millis(150);
    let server = SlowEcho::start(each);
    let SocketAddr::V4(addr) = server.addr() else { panic!("IPv4 loopback") };
    let (wall, got) =
        overlap(N, move |i| cnet::request(addr, &format!("m{i}"), Duration::from_secs(5), cnet::Wait::Poll));
    for (i, r) in got.into_iter().enumerate() {
        assert_eq!(r.expect("C request"), format!("echo:m{i}"));
    }
    assert_serial("C request", each, wall);
}

#[test]
fn redis_blpop_is_serial_unpatched() {
    unpatched();
    let Some(server) = Redis::start() else { return };
    let client = redis::Client::open(server.url()).expect("url");
    let each = Duration::from_millis(300);
    let (wall, got) = overlap(N, move |i| {
        let mut con = client.get_connection().expect("connect");
        let () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut con).expect("SET");
        let v: usize = redis::cmd("GET").arg(format!("k{i}")).query(&mut con).expect("GET");
        let p: Option<(String, String)> =
            redis::cmd("BLPOP").arg(format!("e{i}")).arg(0.3).query(&mut con).expect("BLPOP");
        (v, p)
    });
    assert_eq!(got, (0..N).map(|i| (i, None)).collect::<Vec<_>>());
    assert_serial("redis BLPOP 0.3 s", each, wall);
}

#[test]
fn libpq_pg_sleep_is_serial_unpatched() {
    use std::ffi::{CStr, CString};
    unpatched();
    let Some(pg) = Postgres::start() else { return };
    let each = Duration::from_millis(200);
    let info = pg.conninfo();
    let (wall, got) = overlap(N, move |i| {
        let info = CString::new(info.clone()).expect("conninfo");
        let sql = CString::new(format!("SELECT pg_sleep(0.2), {i} + 100")).expect("sql");
        // SAFETY: NUL-terminated strings; every object libpq returns is
        // checked, used while alive and freed exactly once below.
        unsafe {
            let conn = pq_sys::PQconnectdb(info.as_ptr());
            assert!(!conn.is_null());
            assert_eq!(
                pq_sys::PQstatus(conn),
                pq_sys::ConnStatusType::CONNECTION_OK,
                "{}",
                CStr::from_ptr(pq_sys::PQerrorMessage(conn)).to_string_lossy()
            );
            let res = pq_sys::PQexec(conn, sql.as_ptr());
            assert_eq!(pq_sys::PQresultStatus(res), pq_sys::ExecStatusType::PGRES_TUPLES_OK);
            let v = CStr::from_ptr(pq_sys::PQgetvalue(res, 0, 1)).to_string_lossy().into_owned();
            pq_sys::PQclear(res);
            pq_sys::PQfinish(conn);
            v
        }
    });
    assert_eq!(got, (0..N).map(|i| (i + 100).to_string()).collect::<Vec<_>>());
    assert_serial("libpq pg_sleep(0.2)", each, wall);
}
