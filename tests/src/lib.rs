//! Black-box tests of greenpatch across its crates.
//!
//! The behaviours live in `tests/*.rs`; `src/bin/gp-child.rs` is a helper
//! program the tests start when a behaviour needs its own process (a stack
//! overflow aborts it; would-block-forever needs a process whose every
//! thread is known to the runtime). This library holds what the test files
//! share: the bounded wait that turns a lost wake-up into a failure, the
//! timing assertion, the hub ticker and the loopback setup.
//!
//! For the `libc` patch module's tests (`tests/libc_real.rs`,
//! `tests/libc_unpatched.rs`, `tests/libc_strace.rs`) and the Dify stack
//! (`tests/dify_stack.rs`): [`servers`] starts real servers (Debian's
//! `redis-server` and PostgreSQL, small std HTTP and echo servers) on free
//! loopback ports; [`cnet`] is a small C socket client built with the `cc`
//! crate; [`green`] runs N calls as green threads on one OS thread and
//! times them.

pub mod cnet;
pub mod green;
pub mod servers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::net::{TcpListener, TcpStream};

/// Runs `f` (which blocks green) with a timeout of `secs`, failing the test
/// with `what` when it is still blocked then: a lost wake-up becomes a
/// failure instead of a hang.
///
/// # Example
///
/// ```
/// assert_eq!(tests::within(5, "nothing", || 7), 7);
/// ```
pub fn within<T>(secs: u64, what: &str, f: impl FnOnce() -> T) -> T {
    match rt::with_timeout(Duration::from_secs(secs), f) {
        Ok(v) => v,
        Err(_) => panic!("{what}: still blocked after {secs} s (a lost wake-up?)"),
    }
}

/// Asserts that a timed wait of `at_least_ms` took at least that long and
/// not much longer (a generous margin for a noisy machine).
///
/// # Example
///
/// ```
/// tests::assert_took(std::time::Duration::from_millis(60), 50);
/// ```
pub fn assert_took(took: Duration, at_least_ms: u64) {
    let lo = Duration::from_millis(at_least_ms);
    assert!(took >= lo && took < lo + Duration::from_millis(450), "took {took:?}, expected ~{lo:?}");
}

/// A green thread that sleeps 10 ms at a time until `stop`, and returns
/// the longest gap between two of its wake-ups: how long the hub was held.
///
/// # Example
///
/// ```
/// use std::sync::{atomic::{AtomicBool, Ordering}, Arc};
/// let stop = Arc::new(AtomicBool::new(false));
/// let t = tests::ticker(stop.clone());
/// greenpatch_runtime::sleep(std::time::Duration::from_millis(30));
/// stop.store(true, Ordering::Relaxed);
/// assert!(t.join().unwrap() >= std::time::Duration::from_millis(10));
/// ```
pub fn ticker(stop: Arc<AtomicBool>) -> rt::JoinHandle<Duration> {
    rt::spawn(move || {
        let mut last = Instant::now();
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            rt::sleep(Duration::from_millis(10));
            let now = Instant::now();
            worst = worst.max(now - last);
            last = now;
        }
        worst
    })
}

/// A green TCP connection over loopback: the listener, the connecting
/// side and the accepted side.
///
/// # Example
///
/// ```
/// use std::io::{Read, Write};
/// let (_l, mut c, mut s) = tests::loopback();
/// c.write_all(b"x").unwrap();
/// let mut b = [0; 1];
/// s.read_exact(&mut b).unwrap();
/// ```
pub fn loopback() -> (TcpListener, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (l, c, s)
}

/// Runs `cmd` to completion with its output captured, killing it after
/// `secs` (then failing with `what`): a child that hangs becomes a test
/// failure, not a hung suite.
///
/// # Example
///
/// ```
/// let out = tests::run_bounded(std::process::Command::new("true"), 10, "true");
/// assert!(out.status.success());
/// ```
pub fn run_bounded(mut cmd: std::process::Command, secs: u64, what: &str) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the child process");
    // Drain both pipes on helper threads so a chatty child cannot block.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (o.join().unwrap_or_default(), e.join().unwrap_or_default());
            panic!(
                "{what}: still running after {secs} s (killed)\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output { status, stdout: o.join().unwrap_or_default(), stderr: e.join().unwrap_or_default() }
}
