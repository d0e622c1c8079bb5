//! HTTP/1.1 hello-world with keep-alive: the `http_load` process keeps one
//! GET in flight on each of 64 keep-alive connections and reports
//! requests per second.
//!
//! Servers:
//! - greenpatch: a green thread per connection on green sockets, parsing
//!   with `httparse` (the parser hyper uses) and answering with
//!   [`respond`];
//! - tokio + hyper 1: `http1::Builder::serve_connection` with a
//!   `service_fn`, the way hyper's own examples serve;
//! - for a like-for-like row, the same hand-written [`respond`] loop on
//!   tokio (`http-same`), so that the runtime difference can be told apart
//!   from hyper's.
//!
//! The floor column of every row is the greenpatch server written as the
//! hand-written accept loop that `StreamServer` replaced (same handler,
//! same runtime): the target is ≥ 0.97× of it. With `VERSUS_REUSEPORT=1`
//! the 2-hub row's floor is instead one `SO_REUSEPORT` listener per hub
//! (see `server::reuseport_floor`).
//!
//! Every response is `200 OK` with `content-type`, `content-length`, a
//! `date` header (cached per second, as hyper does) and `Hello, World!`.

use std::cell::RefCell;
use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::child::Tool;
use crate::harness::{Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::rts;
use crate::work::echo;
use crate::work::server::{
    client_side, greenpatch_handwritten_server, greenpatch_reuseport_server, greenpatch_server, reuseport_floor,
    tokio_server, Server, Tokio, BUF, REUSEPORT,
};

/// Keep-alive connections of the load.
pub const CONNS: usize = 64;

/// The response body.
pub const BODY: &[u8] = b"Hello, World!";

fn leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Formats `secs` since the epoch as an IMF-fixdate (`Sun, 06 Nov 1994
/// 08:49:37 GMT`), 29 bytes.
pub fn http_date(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let weekday = DAYS[(days % 7) as usize];
    // Walk whole years, then months, from 1970.
    let mut year = 1970u64;
    let mut d = days;
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if d < len {
            break;
        }
        d -= len;
        year += 1;
    }
    let lens = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while d >= lens[month] {
        d -= lens[month];
        month += 1;
    }
    let s = format!(
        "{weekday}, {:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        d + 1,
        MONTHS[month],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let mut out = [b' '; 29];
    out.copy_from_slice(&s.as_bytes()[..29]);
    out
}

thread_local! {
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [b' '; 29])) };
}

/// The current date header value, recomputed at most once a second per thread.
pub fn cached_date() -> [u8; 29] {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    DATE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != now {
            *c = (now, http_date(now));
        }
        c.1
    })
}

/// Answers every complete request (GET/HEAD-style, without a body) at the
/// front of `inp`, appending the responses to `out`. Returns the bytes
/// consumed and whether the connection should close after writing.
///
/// # Errors
/// On a malformed request.
pub fn respond(inp: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), httparse::Error> {
    let mut off = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&inp[off..])? {
            httparse::Status::Complete(n) => {
                off += n;
                let close = req.version == Some(0)
                    || req
                        .headers
                        .iter()
                        .any(|h| h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close"));
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ");
                out.extend_from_slice(BODY.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\ndate: ");
                out.extend_from_slice(&cached_date());
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(BODY);
                if close {
                    return Ok((off, true));
                }
            }
            httparse::Status::Partial => return Ok((off, false)),
        }
    }
}

/// One connection of the hand-written server on greenpatch: blocking-style
/// reads and writes on a green socket.
pub fn greenpatch_conn(mut s: greenpatch_runtime::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; BUF];
    let mut inp = Vec::with_capacity(BUF);
    let mut out = Vec::with_capacity(BUF);
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        inp.extend_from_slice(&buf[..n]);
        let Ok((used, close)) = respond(&inp, &mut out) else { return };
        inp.drain(..used);
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
    }
}

fn greenpatch_http(hubs: usize, cpu: Option<usize>) -> Box<dyn Fn() -> Result<Server, String>> {
    Box::new(move || greenpatch_server(hubs, cpu, greenpatch_conn))
}

/// The same connections served by the hand-written accept loop that
/// `StreamServer` replaced: the floor of the greenpatch side.
fn greenpatch_handwritten_http(hubs: usize, cpu: Option<usize>) -> Box<dyn Fn() -> Result<Server, String>> {
    Box::new(move || greenpatch_handwritten_server(hubs, cpu, greenpatch_conn))
}

/// The floor of every HTTP row: greenpatch's `StreamServer` keeps ≥ 0.97×
/// the throughput of the hand-written accept loop it replaced.
const LOOP: &str = "greenpatch, hand-written accept loop";

fn vs_loop(row: RowSpec) -> RowSpec {
    row.target(Target::floor_at_least(0.97)).floor(LOOP)
}

/// One connection of the hand-written server on tokio.
pub async fn tokio_handwritten_conn(mut s: tokio::net::TcpStream) {
    let mut buf = vec![0u8; BUF];
    let mut inp = Vec::with_capacity(BUF);
    let mut out = Vec::with_capacity(BUF);
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        inp.extend_from_slice(&buf[..n]);
        let Ok((used, close)) = respond(&inp, &mut out) else { return };
        inp.drain(..used);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
    }
}

async fn hello(_req: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    Ok(resp)
}

/// One connection of the tokio + hyper server.
pub async fn hyper_conn(s: tokio::net::TcpStream) {
    let io = hyper_util::rt::TokioIo::new(s);
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, hyper::service::service_fn(hello)).await;
}

fn hyper_server(flavor: Tokio, cpu: Option<usize>) -> Box<dyn Fn() -> Result<Server, String>> {
    Box::new(move || Ok(tokio_server(flavor, cpu, hyper_conn)))
}

fn handwritten_server(flavor: Tokio, cpu: Option<usize>) -> Box<dyn Fn() -> Result<Server, String>> {
    Box::new(move || Ok(tokio_server(flavor, cpu, tokio_handwritten_conn)))
}

const KEYS: &[&str] = &["per_sec"];

/// greenpatch (hand-written on green sockets) vs tokio + hyper.
pub fn hyper(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    let side = |make| client_side(make, Tool::HttpLoad, p.client, CONNS, secs, KEYS);
    Workload {
        rows: vec![vs_loop(
            RowSpec::new(format!("HTTP hello {CONNS} conns vs hyper"), "req/s", Better::Higher)
                .target(Target::tokio_at_least(1.0)),
        )],
        baseline: Baseline::Current,
        note: format!(
            "keep-alive, {secs} s per run; 1 hub vs current_thread; tokio multi: 1 worker; {}",
            echo::pinning(p)
        ),
        sides: Sides {
            greenpatch: Ok(side(greenpatch_http(1, p.server))),
            tokio_current: Some(side(hyper_server(Tokio::Current, p.server))),
            tokio_multi: Some(side(hyper_server(Tokio::Multi(1), p.server))),
            floor: Some(side(greenpatch_handwritten_http(1, p.server))),
        },
    }
}

/// The same hand-written server on both runtimes.
pub fn same(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    let side = |make| client_side(make, Tool::HttpLoad, p.client, CONNS, secs, KEYS);
    Workload {
        rows: vec![vs_loop(RowSpec::new(format!("HTTP hello {CONNS} conns, same code"), "req/s", Better::Higher))],
        baseline: Baseline::Current,
        note: format!(
            "hand-written server on both; {secs} s per run; 1 hub vs current_thread; tokio multi: 1 worker; {}",
            echo::pinning(p)
        ),
        sides: Sides {
            greenpatch: Ok(side(greenpatch_http(1, p.server))),
            tokio_current: Some(side(handwritten_server(Tokio::Current, p.server))),
            tokio_multi: Some(side(handwritten_server(Tokio::Multi(1), p.server))),
            floor: Some(side(greenpatch_handwritten_http(1, p.server))),
        },
    }
}

/// greenpatch on 2 hubs vs tokio + hyper on 2 workers.
pub fn hyper_mt(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let side = |make| client_side(make, Tool::HttpLoad, None, CONNS, secs, KEYS);
    Workload {
        rows: vec![{
            let row = RowSpec::new(format!("HTTP hello {CONNS} conns vs hyper, 2 hubs"), "req/s", Better::Higher)
                .target(Target::tokio_at_least(1.0));
            if reuseport_floor() {
                row.floor(REUSEPORT)
            } else {
                vs_loop(row)
            }
        }],
        baseline: Baseline::Multi,
        note: format!("keep-alive, {secs} s per run; 2 hubs vs multi_thread(2); nothing pinned"),
        sides: Sides {
            greenpatch: Ok(side(greenpatch_http(2, None))),
            tokio_current: None,
            tokio_multi: Some(side(hyper_server(Tokio::Multi(2), None))),
            floor: Some(side(if reuseport_floor() {
                Box::new(|| greenpatch_reuseport_server(2, greenpatch_conn))
            } else {
                greenpatch_handwritten_http(2, None)
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_matches_rfc_example() {
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn respond_answers_pipelined_requests_and_keeps_partial_ones() {
        let mut out = Vec::new();
        let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HT";
        let (used, close) = respond(req, &mut out).unwrap();
        assert_eq!(used, 2 * 27);
        assert!(!close);
        assert_eq!(out.windows(13).filter(|w| *w == BODY).count(), 2);
    }
}
