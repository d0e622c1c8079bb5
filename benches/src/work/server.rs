//! Plumbing shared by the TCP and HTTP workloads: a server running on its
//! own thread(s) of this process, stopped when dropped, and a [`Side`] that
//! starts its server on first use and then runs the client process against
//! it once per call.
//!
//! Every server listens on 127.0.0.1 on a port the kernel picks, sets
//! `TCP_NODELAY` on accepted connections (so does the client), and reads
//! into buffers of [`BUF`] bytes.

use std::future::Future;
use std::net::SocketAddr;
use std::thread;

use crate::child::{self, Tool};
use crate::harness::Side;
use crate::rts;

/// Read buffer size of every server.
pub const BUF: usize = 4096;

/// A running server; dropping it stops it and joins its thread.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce()>>,
}

impl Server {
    /// A server at `addr` that `stop` shuts down (and waits for).
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + 'static) -> Server {
        Server { addr, stop: Some(Box::new(stop)) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Which tokio runtime a server runs on.
#[derive(Clone, Copy, Debug)]
pub enum Tokio {
    /// `current_thread`.
    Current,
    /// `multi_thread` with this many workers.
    Multi(usize),
}

/// Runs an accept loop on a tokio runtime of `flavor` (on a thread of its
/// own, in `block_on`, as `#[tokio::main]` would) that spawns `handler` for
/// each connection. With `cpu`, every thread of the server is pinned there.
pub fn tokio_server<F, Fut>(flavor: Tokio, cpu: Option<usize>, handler: F) -> Server
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let rt = match flavor {
        Tokio::Current => rts::tokio_current(),
        Tokio::Multi(n) => rts::tokio_multi_on(n, cpu),
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let th = thread::Builder::new()
        .name("tokio-server".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                rts::pin_current_thread(cpu);
            }
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(l.local_addr().expect("local addr")).expect("main thread waits");
                let accept = async {
                    loop {
                        if let Ok((s, _)) = l.accept().await {
                            let _ = s.set_nodelay(true);
                            tokio::spawn(handler(s));
                        }
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            drop(rt);
        })
        .expect("server thread");
    let addr = addr_rx.recv().expect("server started");
    Server::new(addr, move || {
        let _ = stop_tx.send(());
        let _ = th.join();
    })
}

/// A greenpatch runtime of `hubs` hubs (with `cpu`, the hub thread of a
/// one-hub runtime pinned there) and a loopback listener for it.
fn runtime_and_listener(
    hubs: usize,
    cpu: Option<usize>,
) -> Result<(greenpatch_runtime::Runtime, greenpatch_runtime::net::TcpListener, SocketAddr), String> {
    let rt = rts::greenpatch(hubs);
    if let (1, Some(cpu)) = (hubs, cpu) {
        // The only hub runs this green thread, so this pins that hub's thread.
        rt.block_on(move || rts::pin_current_thread(cpu));
    }
    let l = greenpatch_runtime::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    Ok((rt, l, addr))
}

/// Runs a greenpatch server on a [`greenpatch_runtime::Runtime`] of `hubs`
/// hubs: a [`StreamServer`](greenpatch_runtime::server::StreamServer)
/// whose acceptor spawns a green thread running `handler` per connection
/// (on a one-hub runtime it stays there; on more, spawn-time placement
/// spreads connections over the hubs). With `cpu`, the hub thread of a
/// one-hub runtime is pinned there.
pub fn greenpatch_server(
    hubs: usize,
    cpu: Option<usize>,
    handler: fn(greenpatch_runtime::net::TcpStream),
) -> Result<Server, String> {
    let (rt, l, addr) = runtime_and_listener(hubs, cpu)?;
    drop(rt.spawn(move || {
        let server =
            greenpatch_runtime::server::StreamServer::new(l, move |s: greenpatch_runtime::net::TcpStream, _| {
                let _ = s.set_nodelay(true);
                handler(s);
            });
        let _ = server.serve_forever();
    }));
    // Dropping the runtime kills the server and any connection left.
    Ok(Server::new(addr, move || drop(rt)))
}

/// The greenpatch server as it was written before `StreamServer`: one green
/// thread loops on `accept` and spawns a green thread running `handler` per
/// connection, with no pool, no accounting and no back-off — the floor
/// that `StreamServer` must keep up with (same runtime, same placement).
pub fn greenpatch_handwritten_server(
    hubs: usize,
    cpu: Option<usize>,
    handler: fn(greenpatch_runtime::net::TcpStream),
) -> Result<Server, String> {
    let (rt, l, addr) = runtime_and_listener(hubs, cpu)?;
    drop(rt.spawn(move || loop {
        if let Ok((s, _)) = l.accept() {
            let _ = s.set_nodelay(true);
            drop(greenpatch_runtime::spawn(move || handler(s)));
        }
    }));
    // Dropping the runtime kills the accept loop and any connection left.
    Ok(Server::new(addr, move || drop(rt)))
}

/// Whether the 2-hub rows (`http-mt`, `echo64-mt`) take the
/// `SO_REUSEPORT` server ([`greenpatch_reuseport_server`]) as their floor
/// instead of their usual one: set `VERSUS_REUSEPORT=1` to compare
/// multi-hub serving by hand-off (the greenpatch column) with one listener
/// per hub (the floor column).
pub fn reuseport_floor() -> bool {
    std::env::var_os("VERSUS_REUSEPORT").is_some()
}

/// The floor's name when [`reuseport_floor`] is on.
pub const REUSEPORT: &str = "greenpatch, SO_REUSEPORT listener per hub";

/// Multi-hub serving by `SO_REUSEPORT` instead of hand-off: one listener
/// per hub on the same port, each with its own `StreamServer` whose
/// handlers stay on the acceptor's hub (the kernel spreads connections
/// over the listeners by hash). For the comparison in `server.rs`'s docs.
pub fn greenpatch_reuseport_server(
    hubs: usize,
    handler: fn(greenpatch_runtime::net::TcpStream),
) -> Result<Server, String> {
    let rt = rts::greenpatch(hubs);
    let mut addr: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Connections each listener got, printed when the server stops: the
    // kernel's hash decides, not the hubs' load.
    let counts: std::sync::Arc<Vec<std::sync::atomic::AtomicUsize>> =
        std::sync::Arc::new((0..hubs).map(|_| std::sync::atomic::AtomicUsize::new(0)).collect());
    for i in 0..hubs {
        let counts = counts.clone();
        let l = reuseport_listener(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        addr = l.local_addr().map_err(|e| e.to_string())?;
        let l = greenpatch_runtime::net::TcpListener::from(l);
        let tx = tx.clone();
        drop(rt.spawn(move || {
            let _ = tx.send(thread::current().id());
            let server =
                greenpatch_runtime::server::StreamServer::new(l, move |s: greenpatch_runtime::net::TcpStream, _| {
                    counts[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = s.set_nodelay(true);
                    handler(s);
                })
                .local(true);
            let _ = server.serve_forever();
        }));
    }
    let on: std::collections::HashSet<_> =
        (0..hubs).map(|_| rx.recv().map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    if on.len() != hubs {
        return Err(format!("the {hubs} acceptors share {} hub thread(s)", on.len()));
    }
    Ok(Server::new(addr, move || {
        drop(rt);
        let per: Vec<usize> = counts.iter().map(|c| c.load(std::sync::atomic::Ordering::Relaxed)).collect();
        eprintln!("SO_REUSEPORT server: connections per listener (one per hub): {per:?}");
    }))
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// A side that starts a server with `make` on first use and then, per call,
/// runs `tool` with `conns` connections for `secs` seconds against it
/// (pinned to `cpu` when given), returning the result keys `keys`
/// (`f64::NAN` for a failed run).
pub fn client_side(
    make: impl Fn() -> Result<Server, String> + 'static,
    tool: Tool,
    cpu: Option<usize>,
    conns: usize,
    secs: f64,
    keys: &'static [&'static str],
) -> Side {
    let mut server: Option<Server> = None;
    Box::new(move || {
        if server.is_none() {
            match make() {
                Ok(s) => server = Some(s),
                Err(e) => {
                    eprintln!("server: {e}");
                    return vec![f64::NAN; keys.len()];
                }
            }
        }
        let addr = server.as_ref().map(|s| s.addr).expect("started above");
        let mut cmd = child::command(tool);
        cmd.args(["--addr", &addr.to_string(), "--conns", &conns.to_string(), "--secs", &secs.to_string()]);
        if let Some(cpu) = cpu {
            cmd.args(["--cpu", &cpu.to_string()]);
        }
        match child::run_kv(cmd) {
            Ok(kv) => keys.iter().map(|k| kv.get(*k).copied().unwrap_or(f64::NAN)).collect(),
            Err(e) => {
                eprintln!("client: {e}");
                vec![f64::NAN; keys.len()]
            }
        }
    })
}
