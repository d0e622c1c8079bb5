//! The routing rule, `errno`, and the probes that tell what a caller wanted.
//!
//! # Model
//! [`reroute`] is the whole fast-path decision: the hook's enable flag (one
//! atomic load) and the runtime's "may park here" flag (one thread-local
//! read). Everything else in this module runs only on rerouted calls, and
//! mostly only after a non-blocking attempt said `EAGAIN`.
//!
//! # Invariants
//! - A rerouted call that succeeds leaves `errno` as it found it (the
//!   original, succeeding, would not have touched it); one that fails
//!   leaves the error the original would have left, or the documented
//!   interruption errors ([`KILLED`], [`TIMED_OUT`], [`NEVER`]).
//! - Nothing here creates a hub: [`reroute`] is false on threads without one.

use std::ffi::c_int;
use std::time::{Duration, Instant};

use greenpatch_runtime::foreign::{self, Interrupted};

use crate::fdstate;
use crate::sys::{real, Hook};

/// `errno` of a call interrupted because its green thread was killed.
pub const KILLED: c_int = libc::ECANCELED;
/// `errno` of a call interrupted because a timeout scope expired.
pub const TIMED_OUT: c_int = libc::ETIMEDOUT;
/// `errno` of a root's call that could never complete (would block forever).
pub const NEVER: c_int = libc::EDEADLK;

/// Whether `h` reroutes this call: the hook is on and the caller may park.
/// A rerouted call spends the green thread's cooperative budget (an empty
/// one yields to the hub first, never unwinding, `errno` kept), so a C loop
/// over calls that never wait cannot starve the hub.
#[inline(always)]
pub(crate) fn reroute(h: Hook) -> bool {
    if h.is_enabled() && foreign::may_park() {
        foreign::spend();
        return true;
    }
    false
}

/// The calling thread's `errno`.
#[inline(always)]
pub(crate) fn errno() -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's life.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`.
#[inline(always)]
pub(crate) fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

/// Whether the descriptor is in non-blocking mode (`O_NONBLOCK`, which
/// `FIONBIO` sets too): from the descriptor-state cache for a socket
/// (`fdstate.rs`), else from the kernel. Unknown (an error) counts as
/// blocking.
pub(crate) fn nonblocking(fd: c_int) -> bool {
    if let Some(f) = fdstate::cached(fd).filter(|f| f.socket()) {
        return f.nonblocking();
    }
    // SAFETY: F_GETFL reads the descriptor's flags; no memory is passed.
    let flags = unsafe { crate::track::real_fcntl(fd, libc::F_GETFL, 0) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// The socket's receive or send timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`) as a
/// deadline from now; `None` when unset (or not a socket). The cache says
/// when it is unset; a set one is read from the kernel.
pub(crate) fn sock_deadline(fd: c_int, opt: c_int) -> Option<Instant> {
    if fdstate::cached(fd).is_some_and(|f| f.socket() && !f.has_timeout(opt == libc::SO_RCVTIMEO)) {
        return None;
    }
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are valid for writes of the sizes given.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut tv).cast(), &mut len) };
    if r != 0 || (tv.tv_sec <= 0 && tv.tv_usec <= 0) {
        return None;
    }
    let d = Duration::from_secs(tv.tv_sec as u64).checked_add(Duration::from_micros(tv.tv_usec as u64))?;
    Instant::now().checked_add(d)
}

/// An integer socket option (`SO_ERROR`, `SO_TYPE`); `None` on error.
pub(crate) fn sock_int(fd: c_int, opt: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes given.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut v).cast(), &mut len) };
    (r == 0).then_some(v)
}

/// Polls one descriptor without waiting: `true` when any of `events` (or
/// an error, hang-up or invalid descriptor) is reported, or poll failed —
/// either way the original call will not wait for readiness.
pub(crate) fn ready_now(fd: c_int, events: i16) -> bool {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd; the original poll, timeout 0.
    unsafe { real::poll(&mut p, 1, 0) != 0 }
}

/// How a green wait ended, for a hook.
pub(crate) enum Wait {
    /// The descriptor is ready (or in error: the next call tells).
    Ready,
    /// The caller's own deadline (a socket timeout) passed.
    Expired,
    /// Killed, timed out by a scope, or would block forever: fail the call
    /// with this `errno`.
    Interrupted(c_int),
    /// The runtime cannot watch this descriptor: make the original,
    /// blocking call.
    Unwatchable,
}

/// Parks the caller until `fd` is readable (`read`) or writable.
pub(crate) fn wait_fd(fd: c_int, read: bool, deadline: Option<Instant>) -> Wait {
    let r = if read { foreign::wait_readable(fd, deadline) } else { foreign::wait_writable(fd, deadline) };
    match r {
        Ok(true) => Wait::Ready,
        Ok(false) => Wait::Expired,
        Err(i) => match interrupted_errno(i) {
            Some(e) => Wait::Interrupted(e),
            None => Wait::Unwatchable,
        },
    }
}

/// The `errno` for an interruption; `None` for a runtime failure (then the
/// hook falls back to the original call).
pub(crate) fn interrupted_errno(i: Interrupted) -> Option<c_int> {
    match i {
        Interrupted::Killed => Some(KILLED),
        Interrupted::TimedOut => Some(TIMED_OUT),
        Interrupted::WouldBlockForever => Some(NEVER),
        _ => None,
    }
}
