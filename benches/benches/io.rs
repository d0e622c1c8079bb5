//! Criterion benches of green sockets, each beside its tokio
//! `current_thread` equivalent (and, for one connection, a bare mio loop:
//! the floor any readiness-based runtime sits on):
//!
//! - `tcp_echo_1conn`: one 64-byte round trip over one loopback connection
//!   (client and echo server on the same thread);
//! - `tcp_echo_64conn`: 64 connections doing 64-byte round trips at once,
//!   reported per round trip (throughput).
//!
//! greenpatch runs on the bench thread's own hub, tokio in one
//! `current_thread` runtime; both echo servers are one green thread / task
//! per connection that reads up to 64 bytes and writes them back. Setup
//! (listening, connecting) is outside the timed region; each measurement
//! times `iters` round trips inside the runtime (`iter_custom`). Run with
//! `cargo bench -p benches --bench io`.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion, Throughput};
use greenpatch_runtime as gp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per message, equal on every side.
const MSG: usize = 64;
/// Concurrent connections of the many-connection group.
const CONNS: usize = 64;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

// ------------------------------------------------------------ greenpatch

/// A green echo server accepting `n` connections; returns its address.
fn gp_server(n: usize) -> std::net::SocketAddr {
    let l = gp::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    gp::spawn(move || {
        for _ in 0..n {
            let (s, _) = l.accept().expect("accept");
            s.set_nodelay(true).expect("nodelay");
            gp::spawn(move || {
                let mut buf = [0u8; MSG];
                loop {
                    match (&s).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            if (&s).write_all(&buf[..k]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

fn gp_connect(addr: std::net::SocketAddr) -> gp::net::TcpStream {
    let s = gp::net::TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn gp_round_trips(s: &gp::net::TcpStream, n: u64) {
    let msg = [7u8; MSG];
    let mut back = [0u8; MSG];
    for _ in 0..n {
        (&*s).write_all(&msg).expect("write");
        (&*s).read_exact(&mut back).expect("read");
    }
}

fn gp_echo(conns: usize, iters: u64) -> Duration {
    let addr = gp_server(conns);
    let streams: Vec<_> = (0..conns).map(|_| gp_connect(addr)).collect();
    let per = iters.div_ceil(conns as u64);
    let start = Instant::now();
    let clients: Vec<_> = streams.into_iter().map(|s| gp::spawn(move || gp_round_trips(&s, per))).collect();
    for c in clients {
        c.join().expect("client");
    }
    start.elapsed()
}

// ----------------------------------------------------------------- tokio

async fn tokio_server(n: usize) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        for _ in 0..n {
            let (mut s, _) = l.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            tokio::spawn(async move {
                let mut buf = [0u8; MSG];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            if s.write_all(&buf[..k]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn tokio_echo(conns: usize, iters: u64) -> Duration {
    let addr = tokio_server(conns).await;
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        streams.push(s);
    }
    let per = iters.div_ceil(conns as u64);
    let start = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let msg = [7u8; MSG];
                let mut back = [0u8; MSG];
                for _ in 0..per {
                    s.write_all(&msg).await.expect("write");
                    s.read_exact(&mut back).await.expect("read");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.expect("client");
    }
    start.elapsed()
}

// ------------------------------------------------------------- bare mio

/// One connection, client and server in one hand-written mio loop:
/// write, wait for the server's readiness, echo, wait for the client's.
fn mio_echo(iters: u64) -> Duration {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    const CLIENT: Token = Token(0);
    const SERVER: Token = Token(1);
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(16);
    let mut l = TcpListener::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = l.local_addr().expect("addr");
    poll.registry().register(&mut l, Token(2), Interest::READABLE).expect("register");
    let mut c = TcpStream::connect(addr).expect("connect");
    poll.registry().register(&mut c, CLIENT, Interest::READABLE | Interest::WRITABLE).expect("register");
    let mut s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                poll.poll(&mut events, None).expect("poll");
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    poll.registry().register(&mut s, SERVER, Interest::READABLE | Interest::WRITABLE).expect("register");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    // Wait until the client's connect completed.
    while c.peer_addr().is_err() {
        poll.poll(&mut events, None).expect("poll");
    }
    let msg = [7u8; MSG];
    let mut buf = [0u8; MSG];
    let start = Instant::now();
    for _ in 0..iters {
        c.write_all(&msg).expect("write");
        let mut got = 0;
        while got < MSG {
            poll.poll(&mut events, None).expect("poll");
            for ev in events.iter() {
                if ev.token() == SERVER {
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Ok(k) => s.write_all(&buf[..k]).expect("echo"),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("server read: {e}"),
                        }
                    }
                } else if ev.token() == CLIENT {
                    loop {
                        match c.read(&mut buf[got..]) {
                            Ok(0) => break,
                            Ok(k) => got += k,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("client read: {e}"),
                        }
                    }
                }
            }
        }
    }
    start.elapsed()
}

// ------------------------------------------------------------- groups

fn tcp_echo_1conn(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_1conn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("greenpatch", |b| b.iter_custom(|iters| gp_echo(1, iters)));
    let rt = tokio_rt();
    g.bench_function("tokio_current", |b| b.iter_custom(|iters| rt.block_on(tokio_echo(1, iters))));
    g.bench_function("bare_mio", |b| b.iter_custom(mio_echo));
    g.finish();
}

fn tcp_echo_64conn(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_echo_64conn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("greenpatch", |b| b.iter_custom(|iters| gp_echo(CONNS, iters)));
    let rt = tokio_rt();
    g.bench_function("tokio_current", |b| b.iter_custom(|iters| rt.block_on(tokio_echo(CONNS, iters))));
    g.finish();
}

/// Both groups, with a measurement time that keeps the whole file near a
/// minute.
fn io() {
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    tcp_echo_1conn(&mut c);
    tcp_echo_64conn(&mut c);
}

criterion_main!(io);
