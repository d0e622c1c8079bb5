//! The demo service: its messages (hand-written `prost` structs) and its
//! servicer, a Python `grpcio` server (the script ships with this crate)
//! that the tests and the Dify example start on a free loopback port.
//!
//! ```text
//! message Req   { string text = 1; uint32 delay_ms = 2; uint32 count = 3; }
//! message Reply { string text = 1; uint32 index = 2; }
//! rpc Echo(Req)  returns (Reply);          // sleeps delay_ms, echoes text
//! rpc Count(Req) returns (stream Reply);   // count replies, delay_ms apart
//! rpc Fail(Req)  returns (Reply);          // INVALID_ARGUMENT, text as detail
//! ```
//!
//! # Invariant
//! A [`Servicer`] owns its child process: dropping it kills and reaps the
//! server, so no test leaves one behind.

use std::io::{self, BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The servicer's Python source (needs `grpcio` installed).
pub const SERVICER_PY: &str = include_str!("../servicer/demo_servicer.py");

/// `Echo`: sleeps `delay_ms`, replies with `text`.
pub const ECHO: &str = "/greenpatch.demo.Demo/Echo";
/// `Count`: `count` replies `"{text} {i}"`, `delay_ms` apart.
pub const COUNT: &str = "/greenpatch.demo.Demo/Count";
/// `Fail`: fails with `INVALID_ARGUMENT` and `text` as its message.
pub const FAIL: &str = "/greenpatch.demo.Demo/Fail";

/// The demo service's request.
///
/// ```
/// let r = greenpatch_grpc::demo::Req { text: "hi".into(), delay_ms: 100, count: 0 };
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct Req {
    /// Echoed (or prefixed to each streamed reply).
    #[prost(string, tag = "1")]
    pub text: String,
    /// How long the server sleeps (before the reply, or between streamed ones).
    #[prost(uint32, tag = "2")]
    pub delay_ms: u32,
    /// How many replies `Count` streams.
    #[prost(uint32, tag = "3")]
    pub count: u32,
}

/// The demo service's reply.
///
/// ```
/// let r = greenpatch_grpc::demo::Reply::default();
/// assert_eq!(r.index, 0);
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reply {
    /// The text.
    #[prost(string, tag = "1")]
    pub text: String,
    /// The position in a stream.
    #[prost(uint32, tag = "2")]
    pub index: u32,
}

/// A running demo servicer (a `python3` child process serving on
/// `127.0.0.1`); dropping it kills the server.
///
/// ```no_run
/// let s = greenpatch_grpc::demo::Servicer::start().unwrap();
/// println!("{}", s.uri());
/// ```
#[derive(Debug)]
pub struct Servicer {
    child: Child,
    port: u16,
}

impl Servicer {
    /// Starts the servicer on a free port and waits until it serves.
    ///
    /// # Errors
    /// When `python3` cannot start, or the server exits before serving
    /// (`grpcio` not installed: `pip install grpcio`).
    ///
    /// ```no_run
    /// let s = greenpatch_grpc::demo::Servicer::start().unwrap();
    /// ```
    pub fn start() -> io::Result<Servicer> {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVICER_PY)
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("could not start python3 for the gRPC servicer: {e}")))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(io::Error::other("the servicer's standard output is not a pipe"));
        };
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = read.ok().and_then(|_| line.trim().strip_prefix("PORT ").and_then(|p| p.parse::<u16>().ok()));
        match port {
            Some(port) => Ok(Servicer { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(
                    "the gRPC servicer exited before serving (is grpcio installed? pip install grpcio)",
                ))
            }
        }
    }

    /// Its port on `127.0.0.1`.
    ///
    /// ```no_run
    /// let s = greenpatch_grpc::demo::Servicer::start().unwrap();
    /// assert_ne!(s.port(), 0);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address as a URI for [`Client::connect`](crate::Client::connect).
    ///
    /// ```no_run
    /// let s = greenpatch_grpc::demo::Servicer::start().unwrap();
    /// assert!(s.uri().starts_with("http://127.0.0.1:"));
    /// ```
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (`SIGKILL`) and reaps it: calls in flight
    /// see the connection break.
    ///
    /// ```no_run
    /// let mut s = greenpatch_grpc::demo::Servicer::start().unwrap();
    /// s.kill();
    /// ```
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        // Reaping a killed child takes no time; bound it anyway.
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

impl Drop for Servicer {
    fn drop(&mut self) {
        self.kill();
    }
}
