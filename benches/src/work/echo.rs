//! TCP echo: the `echo_client` process keeps one 64-byte message in flight
//! per connection against each server in turn, and reports round trips per
//! second (and, with one connection, the median round-trip latency).
//!
//! Servers, all reading into 4 KiB buffers and writing back what they read:
//! - greenpatch: a green thread per connection on green sockets
//!   (`greenpatch_runtime::net`), blocking-style `read` + `write_all`;
//! - tokio: a task per connection, `read().await` + `write_all().await`;
//! - the floor: a bare single-thread mio server (edge-triggered, one
//!   thread, no tasks), written as mio's documentation prescribes: every
//!   socket is read until `WouldBlock`;
//! - a second floor for 64 connections: the same mio server with the
//!   short-read rule (a read shorter than the buffer emptied the queue, so
//!   no read that would return `EAGAIN`), which greenpatch and tokio both
//!   apply: the least any server can do on one core;
//! - with `VERSUS_REUSEPORT=1`, the 2-hub row's floor is the greenpatch
//!   server with one `SO_REUSEPORT` listener per hub instead of hand-off.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::child::Tool;
use crate::harness::{Baseline, Better, Config, RowSpec, Side, Sides, Target, Workload};
use crate::rts;
use crate::work::server::{
    client_side, greenpatch_reuseport_server, greenpatch_server, reuseport_floor, tokio_server, Server, Tokio, BUF,
    REUSEPORT,
};

/// Connections of the many-connection rows.
pub const MANY: usize = 64;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKE: Token = Token(usize::MAX);

struct Conn {
    sock: TcpStream,
    out: Vec<u8>,
}

/// Serves one readiness event; `Ok(false)` when the connection is done.
/// `short_reads`: stop reading at a short read (the receive queue is
/// empty), not only at `WouldBlock`; `closed`: the event reported the read
/// side closed, so reads go on to the end of stream (no edge follows it).
fn mio_serve(c: &mut Conn, buf: &mut [u8], short_reads: bool, closed: bool) -> io::Result<bool> {
    // Flush what a previous event could not write, then read and echo until
    // the socket is drained (edge-triggered): until it would block, or
    // (`short_reads`) a read comes back shorter than the buffer (the receive
    // queue is empty; anything that arrives later raises a new edge).
    while !c.out.is_empty() {
        match c.sock.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    loop {
        let n = match c.sock.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let drained = short_reads && n < buf.len() && !closed;
        let mut done = 0;
        while done < n {
            match c.sock.write(&buf[done..n]) {
                Ok(w) => done += w,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.out.extend_from_slice(&buf[done..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if drained {
            return Ok(true);
        }
    }
}

fn mio_loop(mut poll: Poll, listener: TcpListener, stop: &AtomicBool, short_reads: bool) -> io::Result<()> {
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; BUF];
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            match ev.token() {
                WAKE => {
                    if stop.load(Ordering::Acquire) {
                        return Ok(());
                    }
                }
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            sock.set_nodelay(true)?;
                            let key = conns.vacant_key();
                            poll.registry().register(&mut sock, Token(key), Interest::READABLE | Interest::WRITABLE)?;
                            conns.insert(Conn { sock, out: Vec::new() });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                },
                Token(key) => {
                    let Some(c) = conns.get_mut(key) else { continue };
                    let closed = ev.is_read_closed() || ev.is_error();
                    if !matches!(mio_serve(c, &mut buf, short_reads, closed), Ok(true)) {
                        let mut c = conns.remove(key);
                        let _ = poll.registry().deregister(&mut c.sock);
                    }
                }
            }
        }
    }
}

/// The bare single-thread mio echo server (the floor), pinned to `cpu`
/// when given; with `short_reads`, it applies the short-read rule.
pub fn mio_server(cpu: Option<usize>, short_reads: bool) -> Result<Server, String> {
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    std_l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr: SocketAddr = std_l.local_addr().map_err(|e| e.to_string())?;
    let mut listener = TcpListener::from_std(std_l);
    let poll = Poll::new().map_err(|e| e.to_string())?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).map_err(|e| e.to_string())?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|e| e.to_string())?);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let th = thread::Builder::new()
        .name("mio-echo".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                rts::pin_current_thread(cpu);
            }
            if let Err(e) = mio_loop(poll, listener, &s, short_reads) {
                eprintln!("mio echo server: {e}");
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(Server::new(addr, move || {
        stop.store(true, Ordering::Release);
        let _ = waker.wake();
        let _ = th.join();
    }))
}

/// One greenpatch echo connection: blocking-style, on a green socket.
pub fn greenpatch_conn(mut s: greenpatch_runtime::net::TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// The greenpatch echo server on `hubs` hubs.
pub fn greenpatch_echo(hubs: usize, cpu: Option<usize>) -> impl Fn() -> Result<Server, String> {
    move || greenpatch_server(hubs, cpu, greenpatch_conn)
}

/// One tokio echo connection.
pub async fn tokio_conn(mut s: tokio::net::TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The tokio echo server.
pub fn tokio_echo(flavor: Tokio, cpu: Option<usize>) -> impl Fn() -> Result<Server, String> {
    move || Ok(tokio_server(flavor, cpu, tokio_conn))
}

/// TCP echo with one connection: round trips/s and median latency.
pub fn one(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    const KEYS: &[&str] = &["per_sec", "p50_us"];
    // One connection: the client shares the server's CPU (see `one_conn_note`).
    let side =
        |make: Box<dyn Fn() -> Result<Server, String>>| client_side(make, Tool::EchoClient, p.server, 1, secs, KEYS);
    Workload {
        rows: vec![
            RowSpec::new("TCP echo 1 conn", "round trips/s", Better::Higher).floor("mio"),
            RowSpec::new("TCP echo 1 conn, latency p50", "µs", Better::Lower)
                .target(Target::floor_at_most(1.05))
                .floor("mio"),
        ],
        baseline: Baseline::Current,
        note: format!(
            "64 B messages, {secs} s per run; 1 hub vs current_thread; tokio multi: 1 worker; {}",
            one_conn_note(p)
        ),
        sides: Sides {
            greenpatch: Ok(side(Box::new(greenpatch_echo(1, p.server)))),
            tokio_current: Some(side(Box::new(tokio_echo(Tokio::Current, p.server)))),
            tokio_multi: Some(side(Box::new(tokio_echo(Tokio::Multi(1), p.server)))),
            floor: Some(side(Box::new(move || mio_server(p.server, false)))),
        },
    }
}

/// Placement of the one-connection rows. Server and client share one CPU:
/// with one request in flight, a server on another CPU is idle between
/// requests, and waking an idle CPU (an inter-processor interrupt; on a
/// virtual machine, a trip through the hypervisor) then dominates every
/// round trip, with a long tail, and hides the runtime's own share of the
/// latency that this row exists to show.
pub fn one_conn_note(p: rts::Placement) -> String {
    match p.server {
        Some(s) => format!("server and client both on CPU {s}"),
        None => "nothing pinned".into(),
    }
}

/// TCP echo with 64 connections on one hub / one thread. Two rows: against
/// the canonical mio floor (the target), and against the mio server with
/// the short-read rule (the least a server can do; shown, no target).
pub fn many(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    const KEYS: &[&str] = &["per_sec"];
    let side =
        |make: Box<dyn Fn() -> Result<Server, String>>| client_side(make, Tool::EchoClient, p.client, MANY, secs, KEYS);
    // One run gives the figure of both rows; the floor side runs both floors.
    let twice = |mut s: Side| -> Side {
        Box::new(move || {
            let x = s().first().copied().unwrap_or(f64::NAN);
            vec![x, x]
        })
    };
    let mut canonical = side(Box::new(move || mio_server(p.server, false)));
    let mut short = side(Box::new(move || mio_server(p.server, true)));
    let floors: Side = Box::new(move || {
        let a = canonical().first().copied().unwrap_or(f64::NAN);
        let b = short().first().copied().unwrap_or(f64::NAN);
        vec![a, b]
    });
    Workload {
        rows: vec![
            RowSpec::new(format!("TCP echo {MANY} conns"), "round trips/s", Better::Higher)
                .target(Target::tokio_at_least(1.0))
                .target(Target::floor_at_least(0.95))
                .floor("mio"),
            RowSpec::new(format!("TCP echo {MANY} conns, vs short-read mio"), "round trips/s", Better::Higher)
                .floor("mio, short reads"),
        ],
        baseline: Baseline::Current,
        note: format!(
            "64 B messages, {secs} s per run; 1 hub vs current_thread; tokio multi: 1 worker; {}",
            pinning(p)
        ),
        sides: Sides {
            greenpatch: Ok(twice(side(Box::new(greenpatch_echo(1, p.server))))),
            tokio_current: Some(twice(side(Box::new(tokio_echo(Tokio::Current, p.server))))),
            tokio_multi: Some(twice(side(Box::new(tokio_echo(Tokio::Multi(1), p.server))))),
            floor: Some(floors),
        },
    }
}

/// TCP echo with 64 connections, greenpatch on 2 hubs vs tokio on 2 workers.
pub fn many_mt(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    const KEYS: &[&str] = &["per_sec"];
    let side =
        |make: Box<dyn Fn() -> Result<Server, String>>| client_side(make, Tool::EchoClient, None, MANY, secs, KEYS);
    Workload {
        rows: vec![RowSpec::new(format!("TCP echo {MANY} conns, 2 hubs"), "round trips/s", Better::Higher)
            .target(Target::tokio_at_least(1.0))
            .floor(if reuseport_floor() { REUSEPORT } else { "mio, 1 thread" })],
        baseline: Baseline::Multi,
        note: format!("64 B messages, {secs} s per run; 2 hubs vs multi_thread(2); nothing pinned"),
        sides: Sides {
            greenpatch: Ok(side(Box::new(greenpatch_echo(2, None)))),
            tokio_current: None,
            tokio_multi: Some(side(Box::new(tokio_echo(Tokio::Multi(2), None)))),
            floor: Some(if reuseport_floor() {
                side(Box::new(|| greenpatch_reuseport_server(2, greenpatch_conn)))
            } else {
                side(Box::new(|| mio_server(None, false)))
            }),
        },
    }
}

/// How the servers and client were placed, for the table's note.
pub fn pinning(p: rts::Placement) -> String {
    match (p.server, p.client) {
        (Some(s), Some(c)) => format!("server on CPU {s}, client on CPU {c}"),
        _ => "nothing pinned".into(),
    }
}
