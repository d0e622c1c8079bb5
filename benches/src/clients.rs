//! The load generators, run as separate processes: the TCP echo client
//! (`echo_client`) and the HTTP/1.1 keep-alive load generator (`http_load`).
//!
//! Both are one thread on a bare mio poll loop, the same code for every
//! server under test. Each of N connections has exactly one request in
//! flight: write the request, read until the whole response is in, record
//! the round trip's latency, write the next. A warm-up period (a tenth of
//! the run, not counted) lets connections and the server settle, then
//! requests are counted for the given duration. The result is printed as one
//! line of `key=value` pairs: `count`, `secs`, `per_sec`, `p50_us`,
//! `mean_us`, `p99_us`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// What a connection sends and when a response is complete.
trait Proto {
    /// The request bytes.
    fn request(&self) -> &[u8];
    /// `Some(len)` once `buf` holds a whole response of `len` bytes.
    fn complete(&self, buf: &[u8]) -> io::Result<Option<usize>>;
}

/// Echo: the response is the request.
struct Echo {
    msg: Vec<u8>,
}

impl Proto for Echo {
    fn request(&self) -> &[u8] {
        &self.msg
    }

    fn complete(&self, buf: &[u8]) -> io::Result<Option<usize>> {
        Ok((buf.len() >= self.msg.len()).then_some(self.msg.len()))
    }
}

/// HTTP/1.1 GET with keep-alive; the response is complete when its head and
/// `content-length` bytes of body are in.
struct Http {
    req: Vec<u8>,
}

impl Proto for Http {
    fn request(&self) -> &[u8] {
        &self.req
    }

    fn complete(&self, buf: &[u8]) -> io::Result<Option<usize>> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(head)) => {
                if resp.code != Some(200) {
                    return Err(io::Error::other(format!("HTTP status {:?}", resp.code)));
                }
                let len = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())
                    .ok_or_else(|| io::Error::other("response without content-length"))?;
                Ok((buf.len() >= head + len).then_some(head + len))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(io::Error::other(format!("bad response: {e}"))),
        }
    }
}

struct Conn {
    sock: TcpStream,
    sent: usize,
    buf: Vec<u8>,
    started: Instant,
}

/// The measured outcome of a client run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Completed round trips in the counted period.
    pub count: u64,
    /// Length of the counted period.
    pub secs: f64,
    /// Round-trip latencies (ns) in the counted period.
    pub latencies: Vec<u32>,
}

impl Outcome {
    /// The `key=value` line the child prints.
    pub fn line(&mut self) -> String {
        self.latencies.sort_unstable();
        let n = self.latencies.len().max(1);
        let pct = |p: f64| self.latencies.get(((n - 1) as f64 * p) as usize).copied().unwrap_or(0) as f64 / 1e3;
        let mean = self.latencies.iter().map(|&l| l as f64).sum::<f64>() / n as f64 / 1e3;
        format!(
            "count={} secs={:.6} per_sec={:.1} p50_us={:.3} mean_us={:.3} p99_us={:.3}",
            self.count,
            self.secs,
            self.count as f64 / self.secs,
            pct(0.5),
            mean,
            pct(0.99)
        )
    }
}

/// Serves one readiness event of `c`: writes what is due and reads until
/// the socket is drained. A read shorter than `scratch` emptied the receive
/// queue (TCP), so the next read waits for the next event instead of asking
/// the kernel for an `EAGAIN`: the client spends as little CPU per round
/// trip as it can, and the server under test is what the figure measures.
/// `closed`: the event reported the read side closed (no edge follows the
/// end of stream, so reads go on until they see it).
fn drive<P: Proto>(
    p: &P,
    c: &mut Conn,
    closed: bool,
    counting: bool,
    out: &mut Outcome,
    scratch: &mut [u8],
) -> io::Result<()> {
    let req = p.request();
    let mut drained = false;
    loop {
        if c.sent < req.len() {
            match c.sock.write(&req[c.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        if drained {
            return Ok(());
        }
        match c.sock.read(scratch) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection")),
            Ok(n) => {
                drained = n < scratch.len() && !closed;
                c.buf.extend_from_slice(&scratch[..n]);
                if let Some(len) = p.complete(&c.buf)? {
                    let now = Instant::now();
                    if counting {
                        out.count += 1;
                        out.latencies.push((now - c.started).as_nanos().min(u32::MAX as u128) as u32);
                    }
                    c.buf.drain(..len);
                    if !c.buf.is_empty() {
                        return Err(io::Error::other("more bytes than one response"));
                    }
                    c.sent = 0;
                    c.started = now;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn run<P: Proto>(p: &P, addr: SocketAddr, conns: usize, secs: f64) -> io::Result<Outcome> {
    let mut poll = Poll::new()?;
    let mut cs = Vec::with_capacity(conns);
    for i in 0..conns {
        let s = std::net::TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut sock = TcpStream::from_std(s);
        poll.registry().register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        cs.push(Conn { sock, sent: 0, buf: Vec::with_capacity(4096), started: Instant::now() });
    }
    let mut out = Outcome { count: 0, secs: 0.0, latencies: Vec::new() };
    let mut scratch = vec![0u8; 4096];
    let warm = Duration::from_secs_f64((secs / 10.0).max(0.05));
    let t0 = Instant::now();
    let count_from = t0 + warm;
    let end = count_from + Duration::from_secs_f64(secs);
    for c in cs.iter_mut() {
        c.started = Instant::now();
        drive(p, c, false, false, &mut out, &mut scratch)?;
    }
    let mut events = Events::with_capacity(1024);
    let mut counting = false;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if !counting && now >= count_from {
            counting = true;
        }
        poll.poll(&mut events, Some(end - now))?;
        for ev in events.iter() {
            let closed = ev.is_read_closed() || ev.is_error();
            drive(p, &mut cs[ev.token().0], closed, counting, &mut out, &mut scratch)?;
        }
    }
    out.secs = (end - count_from).as_secs_f64();
    Ok(out)
}

/// Parsed command line of a client: `--addr A --conns N --secs S [--size B]`.
struct Args {
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    size: usize,
    cpu: Option<usize>,
}

fn args(argv: &[String], usage: &str) -> Result<Args, String> {
    let mut a = Args { addr: "127.0.0.1:0".parse().expect("literal"), conns: 1, secs: 1.0, size: ECHO_MSG, cpu: None };
    let mut have_addr = false;
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value\n{usage}"))?;
        let bad = |_| format!("bad value for {k}: {v}\n{usage}");
        match k.as_str() {
            "--addr" => {
                a.addr = v.parse().map_err(|_| format!("bad address {v}"))?;
                have_addr = true;
            }
            "--conns" => a.conns = v.parse().map_err(bad)?,
            "--secs" => a.secs = v.parse().map_err(|_| format!("bad value for {k}: {v}"))?,
            "--size" => a.size = v.parse().map_err(bad)?,
            "--cpu" => a.cpu = Some(v.parse().map_err(bad)?),
            _ => return Err(format!("unknown argument {k}\n{usage}")),
        }
    }
    if !have_addr {
        return Err(format!("--addr is required\n{usage}"));
    }
    if let Some(cpu) = a.cpu {
        if !crate::rts::pin_current_thread(cpu) {
            return Err(format!("cannot pin to CPU {cpu}"));
        }
    }
    Ok(a)
}

/// Bytes per echo message (the default of `--size`).
pub const ECHO_MSG: usize = 64;

/// Usage of `echo_client`.
pub const ECHO_USAGE: &str = "echo_client --addr HOST:PORT [--conns N=1] [--secs S=1] [--size BYTES=64] [--cpu N]";

/// Usage of `http_load`.
pub const HTTP_USAGE: &str = "http_load --addr HOST:PORT [--conns N=1] [--secs S=1] [--cpu N]";

/// `echo_client` main: runs and prints the result line.
pub fn echo_main(argv: &[String]) -> Result<(), String> {
    let a = args(argv, ECHO_USAGE)?;
    let p = Echo { msg: vec![b'x'; a.size.max(1)] };
    let mut out = run(&p, a.addr, a.conns, a.secs).map_err(|e| format!("echo_client: {e}"))?;
    println!("{}", out.line());
    Ok(())
}

/// `http_load` main: runs and prints the result line.
pub fn http_main(argv: &[String]) -> Result<(), String> {
    let a = args(argv, HTTP_USAGE)?;
    let req = format!("GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: http_load\r\n\r\n", a.addr).into_bytes();
    let p = Http { req };
    let mut out = run(&p, a.addr, a.conns, a.secs).map_err(|e| format!("http_load: {e}"))?;
    println!("{}", out.line());
    Ok(())
}
