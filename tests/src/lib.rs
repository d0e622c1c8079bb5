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
