//! A small HTTP/1.1 server on plain OS threads that waits a fixed time
//! before each answer: the peer of the demo's unmodified HTTP client.
//!
//! # Model
//!
//! One accept thread, one thread per connection. A connection reads one
//! request head, counts it ([`SlowHttp::requests`]), sleeps `delay` (a
//! stand-in for a slow backend), answers `200 OK` with the body
//! `hello <path>` and `Connection: close`, and closes. The tests' HTTP peer
//! is this server too. The server never runs green: its threads have no hub, so the
//! `libc` hooks pass straight through for them, and only the client side
//! of the demo changes when the program patches.
//!
//! # Invariant
//!
//! Dropping a [`SlowHttp`] ends the accept loop and joins every thread it
//! started, so no OS thread of it outlives it (`patch_all()` warns about
//! threads started before it that are still running).

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running server; dropping it stops it.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// let s = examples::slow_http::SlowHttp::start(std::time::Duration::from_millis(5)).unwrap();
/// let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
/// c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut text = String::new();
/// c.read_to_string(&mut text).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK") && text.ends_with("hello /a"));
/// assert_eq!(s.requests(), 1);
/// ```
pub struct SlowHttp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

fn answer(c: TcpStream, delay: Duration, hits: &AtomicUsize) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(read_half) = c.try_clone() else { return };
    let mut r = BufReader::new(read_half);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        match r.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header.trim_end().is_empty() => break,
            Ok(_) => {}
        }
    }
    hits.fetch_add(1, Ordering::Relaxed);
    thread::sleep(delay);
    let body = format!("hello {path}");
    let mut c = c;
    let _ = write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = c.shutdown(Shutdown::Write);
}

impl SlowHttp {
    /// Starts it on a free loopback port.
    ///
    /// # Errors
    ///
    /// The listener could not be bound or its thread started.
    ///
    /// # Example
    ///
    /// See [`SlowHttp`].
    pub fn start(delay: Duration) -> std::io::Result<SlowHttp> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let addr = l.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (stop.clone(), hits.clone());
        let accept = thread::Builder::new().name("slow-http".into()).spawn(move || {
            let mut conns: Vec<JoinHandle<()>> = Vec::new();
            for c in l.incoming() {
                if s.load(Ordering::Acquire) {
                    break;
                }
                if let Ok(c) = c {
                    let h = h.clone();
                    conns.push(thread::spawn(move || answer(c, delay, &h)));
                    conns.retain(|t| !t.is_finished());
                }
            }
            for h in conns {
                let _ = h.join();
            }
        })?;
        Ok(SlowHttp { addr, stop, hits, accept: Some(accept) })
    }

    /// Where it listens.
    ///
    /// # Example
    ///
    /// See [`SlowHttp`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    ///
    /// # Example
    ///
    /// ```
    /// let s = examples::slow_http::SlowHttp::start(std::time::Duration::ZERO).unwrap();
    /// assert_eq!(s.url(), format!("http://{}", s.addr()));
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose head was read (answered or being answered) so far.
    ///
    /// # Example
    ///
    /// See [`SlowHttp`].
    pub fn requests(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for SlowHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}
