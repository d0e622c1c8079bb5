//! Waits on descriptors the runtime does not own (psycogreen's pattern):
//! the public face of the hub's foreign-descriptor waits (`hub/fds.rs`).
//!
//! A driver plugin (a database client, a TLS library) owns a connection fd
//! that it drives itself; when its non-blocking call says "would block", it
//! calls [`wait_readable`] / [`wait_writable`] and only the calling green
//! thread blocks.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::hub::{Dir, Hub};

fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Blocks the calling green thread (or, from plain code, the OS thread
/// while it runs its hub) until `fd` is readable, or `timeout` passes.
/// Returns `Ok(true)` when readable (or hung up / in error: the next read
/// tells), `Ok(false)` on timeout.
///
/// For descriptors the runtime does not own — a driver's connection whose
/// non-blocking call just returned "would block". The fd must stay open
/// during the wait; it is watched oneshot, so nothing lingers afterwards.
/// Readiness is a hint: retry the operation, and wait again if it still
/// would block.
///
/// # Errors
/// The poller could not watch `fd` (e.g. `EBADF`, or `EPERM` for a regular
/// file), a root's wait could never end ([`WouldBlockForever`](crate::WouldBlockForever)),
/// or the calling thread's hub could not be created (its first green call,
/// with the process out of descriptors: `EMFILE`).
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::time::Duration;
/// let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(!greenpatch_runtime::wait_readable(b.as_raw_fd(), Some(Duration::from_millis(10))).unwrap());
/// a.write_all(b"x").unwrap();
/// assert!(greenpatch_runtime::wait_readable(b.as_raw_fd(), Some(Duration::from_secs(5))).unwrap());
/// ```
pub fn wait_readable(fd: RawFd, timeout: Option<Duration>) -> io::Result<bool> {
    Hub::get()?.wait_fd(fd, Dir::Read, deadline_of(timeout))
}

/// Like [`wait_readable`], for writability.
///
/// # Errors
/// As [`wait_readable`].
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::time::Duration;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(greenpatch_runtime::wait_writable(a.as_raw_fd(), Some(Duration::from_secs(5))).unwrap());
/// ```
pub fn wait_writable(fd: RawFd, timeout: Option<Duration>) -> io::Result<bool> {
    Hub::get()?.wait_fd(fd, Dir::Write, deadline_of(timeout))
}
