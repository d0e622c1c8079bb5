//! Safe wrappers over `csrc/gpnet.c`, the tests' own C socket client (built
//! by `build.rs` with the `cc` crate and linked into every target of this
//! crate).
//!
//! # Model
//!
//! The C code is an ordinary blocking client, compiled without knowing
//! about greenpatch: its `socket`/`connect`/`send`/`poll` or
//! `select`/`recv` and `nanosleep` calls resolve, at link time, to the C
//! library's names — which the `libc` patch module defines. Whether they
//! block the OS thread or only the calling green thread is what the tests
//! observe.

use std::ffi::{c_char, c_int, CString};
use std::io;
use std::net::SocketAddrV4;
use std::time::Duration;

extern "C" {
    fn gpnet_request(
        ip: *const c_char,
        port: c_int,
        msg: *const c_char,
        out: *mut c_char,
        outlen: c_int,
        timeout_ms: c_int,
        use_select: c_int,
    ) -> c_int;
    fn gpnet_sleep_ms(ms: c_int) -> c_int;
}

/// How the C client waits before each `recv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `poll(2)`.
    Poll,
    /// `select(2)`.
    Select,
}

/// Connects to `addr` from C, sends `msg`, and returns what the server sent
/// back before closing (at most 4 KiB), waiting at most `timeout` before
/// each read.
///
/// # Example
///
/// ```
/// let s = tests::servers::SlowEcho::start(std::time::Duration::ZERO);
/// let std::net::SocketAddr::V4(a) = s.addr() else { unreachable!() };
/// let reply = tests::cnet::request(a, "hi", std::time::Duration::from_secs(5), tests::cnet::Wait::Poll).unwrap();
/// assert_eq!(reply, "echo:hi");
/// ```
pub fn request(addr: SocketAddrV4, msg: &str, timeout: Duration, wait: Wait) -> io::Result<String> {
    let ip = CString::new(addr.ip().to_string()).map_err(io::Error::other)?;
    let msg = CString::new(msg).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message has a NUL"))?;
    let mut out = vec![0u8; 4096];
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: `ip` and `msg` are NUL-terminated and outlive the call; `out`
    // is writable for the `out.len()` bytes passed; the C function keeps no
    // pointer after it returns.
    let r = unsafe {
        gpnet_request(
            ip.as_ptr(),
            c_int::from(addr.port()),
            msg.as_ptr(),
            out.as_mut_ptr().cast(),
            out.len() as c_int,
            timeout_ms,
            c_int::from(wait == Wait::Select),
        )
    };
    if r < 0 {
        return Err(io::Error::from_raw_os_error(-r));
    }
    out.truncate(r as usize);
    String::from_utf8(out).map_err(io::Error::other)
}

/// Sleeps `ms` milliseconds with C's `nanosleep`.
///
/// # Example
///
/// ```
/// tests::cnet::sleep_ms(1).unwrap();
/// ```
pub fn sleep_ms(ms: u32) -> io::Result<()> {
    // SAFETY: plain integer argument; the C function touches no Rust memory.
    let r = unsafe { gpnet_sleep_ms(c_int::try_from(ms).unwrap_or(c_int::MAX)) };
    if r < 0 {
        Err(io::Error::from_raw_os_error(-r))
    } else {
        Ok(())
    }
}
