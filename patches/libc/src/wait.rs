//! Rerouted `poll`, `select`, `ppoll`, `epoll_wait`, and the sleep family.
//!
//! # Model
//! A multiplexing wait with a timeout of zero is the original (it never
//! blocks). Otherwise the original is called once with timeout 0; when
//! nothing is ready, the descriptors are put, level-triggered, into a
//! private epoll instance, whose own descriptor the green thread waits on
//! (one readiness wait for any number of descriptors). Each wake-up asks
//! the original again with timeout 0, so the result (`revents`, the
//! `fd_set`s) is exactly the kernel's. The private epoll is closed before
//! the call returns. `epoll_wait` waits on the caller's epoll descriptor
//! directly.
//!
//! The sleep family parks until the deadline. A kill or an expired timeout
//! scope ends the sleep early and the call reports success: sleeps have no
//! error their callers handle (std's `thread::sleep` asserts `EINTR` and
//! sleeps again; `sleep(3)` callers loop on the seconds left), and the kill
//! or timeout lands at the green thread's next park from Rust code.

use std::ffi::{c_int, c_long, c_uint};
use std::time::{Duration, Instant};

use libc::{fd_set, nfds_t, pollfd, timespec, timeval};

use crate::route::{errno, interrupted_errno, set_errno, wait_fd, Wait};
use crate::sys::real;

/// What a green multiplexing wait returns.
enum Outcome {
    /// The original's answer (count, or -1 with its errno).
    Polled(c_int),
    /// Nothing ready by the deadline.
    TimedOut,
    /// Fail with this errno.
    Fail(c_int),
    /// The runtime could not wait: make the original call, blocking.
    Fallback,
}

/// A deadline `ms` milliseconds from now; `None` for a negative timeout.
fn deadline_ms(ms: c_int) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now().checked_add(Duration::from_millis(ms as u64))).flatten()
}

/// A deadline `ts` from now; `None` for a null pointer.
///
/// # Safety
/// `ts` is null or points to a valid timespec.
unsafe fn deadline_ts(ts: *const timespec) -> Option<Instant> {
    // SAFETY: the caller's timespec.
    let t = unsafe { ts.as_ref() }?;
    Instant::now().checked_add(Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32))
}

/// Waits green until the original `poll` over `fds` reports something, or
/// `deadline`.
///
/// # Safety
/// `fds` points to `n` valid pollfds.
unsafe fn poll_green(fds: *mut pollfd, n: nfds_t, deadline: Option<Instant>) -> Outcome {
    // SAFETY: the caller's array; timeout 0.
    let r = unsafe { real::poll(fds, n, 0) };
    if r != 0 {
        return Outcome::Polled(r);
    }
    if n == 0 {
        return match deadline {
            Some(d) => match greenpatch_runtime::foreign::sleep_until(d) {
                Ok(()) => Outcome::TimedOut,
                Err(i) => interrupted_errno(i).map_or(Outcome::Fallback, Outcome::Fail),
            },
            // Waiting for nothing, forever: as the original (until a signal).
            None => Outcome::Fallback,
        };
    }
    // SAFETY: epoll_create1 takes no memory.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Outcome::Fallback;
    }
    // SAFETY: the caller's array of `n` pollfds.
    let all = unsafe { std::slice::from_raw_parts(fds, n as usize) };
    for (i, p) in all.iter().enumerate() {
        if p.fd < 0 {
            continue;
        }
        // Poll and epoll share the bit values of these events.
        let want = all.iter().filter(|q| q.fd == p.fd).fold(0u32, |a, q| a | (q.events as u16 as u32));
        let mut ev = libc::epoll_event { events: want, u64: i as u64 };
        // SAFETY: `ev` is valid; `ep` is ours. EEXIST (a descriptor listed
        // twice, already added with the union) and EPERM (a regular file,
        // which poll always reports ready) are fine to ignore.
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, p.fd, &mut ev) };
    }
    let out = loop {
        match wait_fd(ep, true, deadline) {
            Wait::Ready => {
                // SAFETY: the caller's array; timeout 0.
                let r = unsafe { real::poll(fds, n, 0) };
                if r != 0 {
                    break Outcome::Polled(r);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break Outcome::TimedOut;
                }
            }
            Wait::Expired => break Outcome::TimedOut,
            Wait::Interrupted(e) => break Outcome::Fail(e),
            Wait::Unwatchable => break Outcome::Fallback,
        }
    };
    // SAFETY: `ep` is ours, closed once.
    unsafe { libc::close(ep) };
    out
}

/// Milliseconds left until `deadline` (rounded up), for a fallback call.
fn ms_left(deadline: Option<Instant>) -> c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            left.as_millis().saturating_add(u128::from(left.subsec_nanos() % 1_000_000 != 0)).min(c_int::MAX as u128)
                as c_int
        }
    }
}

/// `poll` rerouted: `timeout` in milliseconds, negative for none.
///
/// # Safety
/// The caller's arguments to `poll`.
pub(crate) unsafe fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 {
        // SAFETY: the caller's call.
        return unsafe { real::poll(fds, n, timeout) };
    }
    let entry = errno();
    let deadline = deadline_ms(timeout);
    // SAFETY: the caller's arguments.
    match unsafe { poll_green(fds, n, deadline) } {
        Outcome::Polled(r) => {
            if r > 0 {
                set_errno(entry);
            }
            r
        }
        Outcome::TimedOut => {
            set_errno(entry);
            0
        }
        Outcome::Fail(e) => {
            set_errno(e);
            -1
        }
        Outcome::Fallback => {
            set_errno(entry);
            // SAFETY: the caller's call, with the time left.
            unsafe { real::poll(fds, n, ms_left(deadline)) }
        }
    }
}

/// `ppoll` rerouted when it has no signal mask (with one, the atomic mask
/// change cannot be reproduced: the hook passes it through).
///
/// # Safety
/// The caller's arguments to `ppoll`.
pub(crate) unsafe fn ppoll(fds: *mut pollfd, n: nfds_t, ts: *const timespec, mask: *const libc::sigset_t) -> c_int {
    // SAFETY: `ts` is the caller's timespec or null.
    let zero = unsafe { ts.as_ref() }.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0);
    if !mask.is_null() || zero {
        // SAFETY: the caller's call.
        return unsafe { real::ppoll(fds, n, ts, mask) };
    }
    let entry = errno();
    // SAFETY: the caller's timespec.
    let deadline = unsafe { deadline_ts(ts) };
    // SAFETY: the caller's arguments.
    match unsafe { poll_green(fds, n, deadline) } {
        Outcome::Polled(r) => {
            if r > 0 {
                set_errno(entry);
            }
            r
        }
        Outcome::TimedOut => {
            set_errno(entry);
            0
        }
        Outcome::Fail(e) => {
            set_errno(e);
            -1
        }
        Outcome::Fallback => {
            set_errno(entry);
            // SAFETY: the caller's call.
            unsafe { real::ppoll(fds, n, ts, mask) }
        }
    }
}

fn fd_isset(fd: c_int, set: *const fd_set) -> bool {
    // SAFETY: `set` is non-null (checked by callers) and `fd < FD_SETSIZE`.
    !set.is_null() && unsafe { libc::FD_ISSET(fd, set) }
}

/// `select` rerouted: translated to `poll`, waited green, translated back.
///
/// # Safety
/// The caller's arguments to `select`.
pub(crate) unsafe fn select(nfds: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, tv: *mut timeval) -> c_int {
    // SAFETY: `tv` is the caller's timeval or null.
    let t = unsafe { tv.as_ref() }.copied();
    let zero = t.is_some_and(|t| t.tv_sec == 0 && t.tv_usec == 0);
    let bad_time = t.is_some_and(|t| t.tv_sec < 0 || !(0..1_000_000).contains(&t.tv_usec));
    if zero || bad_time || !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) {
        // SAFETY: the caller's call (which reports EINVAL where due).
        return unsafe { real::select(nfds, r, w, e, tv) };
    }
    let entry = errno();
    let deadline = t.and_then(|t| Instant::now().checked_add(Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)));
    let mut fds: Vec<pollfd> = Vec::new();
    for fd in 0..nfds {
        let mut events = 0;
        if fd_isset(fd, r) {
            events |= libc::POLLIN;
        }
        if fd_isset(fd, w) {
            events |= libc::POLLOUT;
        }
        if fd_isset(fd, e) {
            events |= libc::POLLPRI;
        }
        if events != 0 {
            fds.push(pollfd { fd, events, revents: 0 });
        }
    }
    // SAFETY: our own array.
    let out = unsafe { poll_green(fds.as_mut_ptr(), fds.len() as nfds_t, deadline) };
    let report_left = |tv: *mut timeval| {
        if let (Some(d), false) = (deadline, tv.is_null()) {
            let left = d.saturating_duration_since(Instant::now());
            // SAFETY: the caller's timeval (Linux reports the time left).
            unsafe { *tv = timeval { tv_sec: left.as_secs() as _, tv_usec: left.subsec_micros() as _ } };
        }
    };
    match out {
        Outcome::Polled(n) if n < 0 => n,
        Outcome::Polled(_) => {
            if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
                set_errno(libc::EBADF);
                return -1;
            }
            for set in [r, w, e] {
                if !set.is_null() {
                    // SAFETY: the caller's set.
                    unsafe { libc::FD_ZERO(set) };
                }
            }
            let mut count = 0;
            for p in &fds {
                let hits = [
                    (r, libc::POLLIN | libc::POLLHUP | libc::POLLERR, libc::POLLIN),
                    (w, libc::POLLOUT | libc::POLLERR, libc::POLLOUT),
                    (e, libc::POLLPRI, libc::POLLPRI),
                ];
                for (set, mask, asked) in hits {
                    if !set.is_null() && p.events & asked != 0 && p.revents & mask != 0 {
                        // SAFETY: the caller's set; `p.fd < nfds <= FD_SETSIZE`.
                        unsafe { libc::FD_SET(p.fd, set) };
                        count += 1;
                    }
                }
            }
            report_left(tv);
            set_errno(entry);
            count
        }
        Outcome::TimedOut => {
            for set in [r, w, e] {
                if !set.is_null() {
                    // SAFETY: the caller's set.
                    unsafe { libc::FD_ZERO(set) };
                }
            }
            report_left(tv);
            set_errno(entry);
            0
        }
        Outcome::Fail(err) => {
            set_errno(err);
            -1
        }
        Outcome::Fallback => {
            set_errno(entry);
            // SAFETY: the caller's call (its timeout not yet consumed).
            unsafe { real::select(nfds, r, w, e, tv) }
        }
    }
}

/// `epoll_wait` rerouted: waits green on the epoll descriptor itself.
///
/// # Safety
/// The caller's arguments to `epoll_wait`.
pub(crate) unsafe fn epoll_wait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int) -> c_int {
    if timeout == 0 {
        // SAFETY: the caller's call.
        return unsafe { real::epoll_wait(epfd, events, max, timeout) };
    }
    let entry = errno();
    let deadline = deadline_ms(timeout);
    loop {
        // SAFETY: the caller's call, timeout 0.
        let r = unsafe { real::epoll_wait(epfd, events, max, 0) };
        if r != 0 {
            if r > 0 {
                set_errno(entry);
            }
            return r;
        }
        match wait_fd(epfd, true, deadline) {
            Wait::Ready => {}
            Wait::Expired => {
                set_errno(entry);
                return 0;
            }
            Wait::Interrupted(e) => {
                set_errno(e);
                return -1;
            }
            Wait::Unwatchable => {
                set_errno(entry);
                // SAFETY: the caller's call, with the time left.
                return unsafe { real::epoll_wait(epfd, events, max, ms_left(deadline)) };
            }
        }
    }
}

// ------------------------------------------------------------- sleeping

/// Sleeps green for `d`; a kill or timeout scope ends it early (see the
/// module docs). Returns `false` when the runtime could not sleep.
fn sleep_for(d: Duration) -> bool {
    let entry = errno();
    let slept = match Instant::now().checked_add(d) {
        Some(deadline) => greenpatch_runtime::foreign::sleep_until(deadline).map_err(interrupted_errno),
        None => return false,
    };
    set_errno(entry);
    // Interrupted (Some errno): the sleep ends early, successfully.
    !matches!(slept, Err(None))
}

fn valid(ts: &timespec) -> bool {
    ts.tv_sec >= 0 && (0..1_000_000_000).contains(&(ts.tv_nsec as c_long))
}

/// `nanosleep` rerouted.
///
/// # Safety
/// The caller's arguments to `nanosleep`.
pub(crate) unsafe fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller's timespec or null.
    match unsafe { req.as_ref() } {
        Some(t) if valid(t) && (t.tv_sec, t.tv_nsec) != (0, 0) => {
            if sleep_for(Duration::new(t.tv_sec as u64, t.tv_nsec as u32)) {
                0
            } else {
                // SAFETY: the caller's call.
                unsafe { real::nanosleep(req, rem) }
            }
        }
        // Null, invalid or zero: the original reports or returns at once.
        // SAFETY: the caller's call.
        _ => unsafe { real::nanosleep(req, rem) },
    }
}

/// `clock_nanosleep` rerouted for the clocks a sleep can follow
/// (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`, `CLOCK_TAI`).
/// An absolute deadline is turned into a duration once, at the call.
///
/// # Safety
/// The caller's arguments to `clock_nanosleep`.
pub(crate) unsafe fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let known = matches!(clock, libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME | libc::CLOCK_TAI);
    // SAFETY: the caller's timespec or null.
    let t = match unsafe { req.as_ref() } {
        Some(t) if known && valid(t) && (flags & !libc::TIMER_ABSTIME) == 0 => *t,
        // SAFETY: the caller's call (which reports EINVAL/EFAULT).
        _ => return unsafe { real::clock_nanosleep(clock, flags, req, rem) },
    };
    let want = Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
    let d = if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `now` is valid for writes.
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            // SAFETY: the caller's call.
            return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
        }
        want.saturating_sub(Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32))
    } else {
        want
    };
    if d.is_zero() || !sleep_for(d) {
        // SAFETY: the caller's call (returns at once when already due).
        return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
    }
    0
}

/// `usleep` rerouted.
pub(crate) fn usleep(usec: libc::useconds_t) -> c_int {
    if usec == 0 || !sleep_for(Duration::from_micros(usec as u64)) {
        // SAFETY: the caller's call.
        return unsafe { real::usleep(usec) };
    }
    0
}

/// `sleep` rerouted.
pub(crate) fn sleep(secs: c_uint) -> c_uint {
    if secs == 0 || !sleep_for(Duration::from_secs(secs as u64)) {
        // SAFETY: the caller's call.
        return unsafe { real::sleep(secs) };
    }
    0
}
