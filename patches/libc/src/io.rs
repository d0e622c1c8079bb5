//! Rerouted reads, writes, `accept` and `connect`.
//!
//! # Model
//! Sockets: the call is made with `MSG_DONTWAIT` (a per-call non-blocking
//! flag: no descriptor state changes, no race with other threads). Only on
//! `EAGAIN` does the hook look at what the caller wanted (the
//! descriptor-state cache, `fdstate.rs`): a non-blocking descriptor gets
//! its `EAGAIN`; a blocking one parks the green thread on readiness until
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` (then `EAGAIN`, as the kernel) and retries.
//! A blocking send completes the whole buffer. Plain reads of a blocking
//! TCP stream follow the short-read rule ([`sock_read`]): after a short
//! read, the next one waits first.
//!
//! Other descriptors (`read`/`write` on pipes, eventfds, files, …):
//! `preadv2`/`pwritev2` with `RWF_NOWAIT` (a per-call non-blocking flag,
//! like `MSG_DONTWAIT`); on `EAGAIN` a non-blocking descriptor gets it, a
//! ready one (file data to fetch from the disk) gets the original call,
//! and a blocking one parks on readiness; a blocking write completes every
//! byte. Descriptors without `RWF_NOWAIT` (terminals, some devices):
//! `poll` with timeout 0 first; ready → the original call; not ready and
//! blocking → park on readiness, then again.
//!
//! # Accepted races (documented in the crate docs)
//! - Descriptors without `RWF_NOWAIT` and `accept`: between "ready" and
//!   the original call, another thread or process sharing the descriptor
//!   may take the data or the connection; the original call then blocks
//!   the hub until more comes.
//! - `connect`: the descriptor is non-blocking for the duration of the
//!   original `connect` call (two `fcntl`s around it); another thread using
//!   the same descriptor at that instant sees `O_NONBLOCK`. A Unix socket
//!   whose listener's backlog is full is retried after short green sleeps
//!   (readiness does not report backlog room).

use std::ffi::{c_int, c_void};
use std::time::{Duration, Instant};

use libc::{iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use greenpatch_runtime::foreign;

use crate::fdstate;
use crate::route::{
    errno, interrupted_errno, nonblocking, ready_now, set_errno, sock_deadline, sock_int, wait_fd, Wait,
};
use crate::sys::real;

/// The kernel moves at most this many bytes in one call (`MAX_RW_COUNT`):
/// a read asked for more that returns this many did not drain anything.
const MAX_RW_COUNT: usize = (i32::MAX as usize) & !4095;

/// A socket read made with `MSG_DONTWAIT`; on `EAGAIN`, behaves as the
/// blocking call would. `op(dontwait)` makes the call (`false`: the
/// original, blocking call, for descriptors the runtime cannot watch).
///
/// `asked` is the length a plain read asks for (no `MSG_PEEK`, no
/// `MSG_WAITALL`, …), or 0: then, on a blocking TCP stream (the
/// descriptor-state cache says so), the *short-read rule* of the runtime's
/// own TCP streams applies. A read that returns fewer bytes than asked
/// (but some) emptied the receive queue: it tells the hub
/// (`foreign::read_drained`), and the next read, while the hub has seen
/// no new event, parks first instead of making a call that would only say
/// `EAGAIN` (`foreign::read_known_drained`). Whatever arrives after the
/// short read raises a new edge, so nothing is lost; a slot whose read
/// side was ever reported closed, in error or with urgent data reads
/// without the rule for good (the end of stream raises no edge after the
/// short read that ate it), and so does a non-blocking caller.
#[inline(always)]
pub(crate) unsafe fn sock_read(fd: c_int, asked: usize, mut op: impl FnMut(bool) -> ssize_t) -> ssize_t {
    let entry = errno();
    let rule = asked != 0 && fdstate::cached(fd).is_some_and(|f| f.tcp() && !f.nonblocking());
    if !rule {
        let r = op(true);
        if r >= 0 || errno() != libc::EAGAIN {
            return r;
        }
        return read_wait(fd, entry, 0, &mut op);
    }
    let asked = asked.min(MAX_RW_COUNT);
    if foreign::read_known_drained(fd) {
        return read_wait(fd, entry, asked, &mut op);
    }
    let r = op(true);
    if r > 0 && (r as usize) < asked {
        foreign::read_drained(fd);
    }
    if r >= 0 || errno() != libc::EAGAIN {
        return r;
    }
    read_wait(fd, entry, asked, &mut op)
}

/// The wait of [`sock_read`]: the last call said `EAGAIN`, or (`asked`
/// non-zero, the short-read rule) the hub knows there is nothing to read.
#[cold]
#[inline(never)]
fn read_wait(fd: c_int, entry: c_int, asked: usize, op: &mut dyn FnMut(bool) -> ssize_t) -> ssize_t {
    if nonblocking(fd) {
        set_errno(libc::EAGAIN);
        return -1;
    }
    let deadline = sock_deadline(fd, libc::SO_RCVTIMEO);
    loop {
        match wait_fd(fd, true, deadline) {
            Wait::Ready => {}
            Wait::Expired => {
                set_errno(libc::EAGAIN);
                return -1;
            }
            Wait::Interrupted(e) => {
                set_errno(e);
                return -1;
            }
            Wait::Unwatchable => {
                set_errno(entry);
                return op(false);
            }
        }
        set_errno(entry);
        let r = op(true);
        if asked != 0 && r > 0 && (r as usize) < asked {
            foreign::read_drained(fd);
        }
        if r >= 0 || errno() != libc::EAGAIN {
            return r;
        }
    }
}

/// A socket send of `total` bytes made with `MSG_DONTWAIT`; for a blocking
/// socket, continues (parking on writability) until every byte is sent, as
/// the kernel does. `op(done, dontwait)` sends from byte `done` on.
#[inline(always)]
pub(crate) unsafe fn sock_write(fd: c_int, total: usize, mut op: impl FnMut(usize, bool) -> ssize_t) -> ssize_t {
    let entry = errno();
    let r = op(0, true);
    if (r >= 0 && r as usize >= total) || (r < 0 && errno() != libc::EAGAIN) {
        return r;
    }
    write_rest(fd, total, entry, r, &mut op)
}

#[cold]
#[inline(never)]
fn write_rest(
    fd: c_int,
    total: usize,
    entry: c_int,
    first: ssize_t,
    op: &mut dyn FnMut(usize, bool) -> ssize_t,
) -> ssize_t {
    if nonblocking(fd) {
        // A non-blocking caller gets the partial count or its EAGAIN.
        if first < 0 {
            set_errno(libc::EAGAIN);
        }
        return first;
    }
    let mut done = first.max(0) as usize;
    let mut deadline: Option<Option<Instant>> = None;
    // What to return when the rest cannot be sent: the bytes sent so far
    // (the kernel's answer after a partial send), else the error.
    let partial = |done: usize, e: c_int| -> ssize_t {
        if done > 0 {
            set_errno(entry);
            done as ssize_t
        } else {
            set_errno(e);
            -1
        }
    };
    let mut must_wait = first < 0;
    loop {
        if done >= total {
            set_errno(entry);
            return done as ssize_t;
        }
        if must_wait {
            let d = *deadline.get_or_insert_with(|| sock_deadline(fd, libc::SO_SNDTIMEO));
            match wait_fd(fd, false, d) {
                Wait::Ready => {}
                Wait::Expired => return partial(done, libc::EAGAIN),
                Wait::Interrupted(e) => return partial(done, e),
                Wait::Unwatchable => {
                    set_errno(entry);
                    let r = op(done, false);
                    return if r < 0 { partial(done, errno()) } else { (done + r as usize) as ssize_t };
                }
            }
        }
        let r = op(done, true);
        if r < 0 {
            let e = errno();
            if e != libc::EAGAIN {
                return partial(done, e);
            }
            must_wait = true;
        } else {
            done += r as usize;
            must_wait = false;
        }
    }
}

/// `read`/`write` on a descriptor that is not a socket: poll first; wait
/// green only when not ready and blocking. `op` is the original call.
pub(crate) fn other_fd(fd: c_int, read: bool, entry: c_int, op: &mut dyn FnMut() -> ssize_t) -> ssize_t {
    let events = if read { libc::POLLIN } else { libc::POLLOUT };
    loop {
        if ready_now(fd, events) || nonblocking(fd) {
            set_errno(entry);
            return op();
        }
        if let Some(r) = park_until_ready(fd, read, entry, op) {
            return r;
        }
    }
}

/// Parks the green thread until `fd` is ready (to read with `read`, else
/// to write) for a blocking call that found it not ready. `None`: try the
/// call again. `Some(r)`: the call's answer — `-1` with the error when the
/// wait was interrupted (killed, timed out), or the original `op` when the
/// descriptor cannot be watched.
fn park_until_ready(fd: c_int, read: bool, entry: c_int, op: &mut dyn FnMut() -> ssize_t) -> Option<ssize_t> {
    match wait_fd(fd, read, None) {
        Wait::Ready | Wait::Expired => None,
        Wait::Interrupted(e) => {
            set_errno(e);
            Some(-1)
        }
        Wait::Unwatchable => {
            set_errno(entry);
            Some(op())
        }
    }
}

/// Whether `e` says "this descriptor cannot do `RWF_NOWAIT`" (terminals,
/// some devices and file systems, old kernels): then the zero-timeout
/// `poll` path decides.
fn nowait_unsupported(e: c_int) -> bool {
    matches!(e, libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS | libc::ESPIPE)
}

/// `read`/`readv` on a descriptor that is not a socket: `preadv2` with
/// `RWF_NOWAIT` at the current offset (a per-call non-blocking read: no
/// race with other readers of a shared pipe, and one system call for
/// cached file data). `EAGAIN` → ready anyway (file data not cached) →
/// the original; non-blocking → `EAGAIN`; else park on readability and
/// try again. Descriptors without `RWF_NOWAIT` take [`other_fd`].
fn other_read(fd: c_int, iov: &[iovec], entry: c_int, orig: &mut dyn FnMut() -> ssize_t) -> ssize_t {
    loop {
        // SAFETY: `iov` describes the caller's buffers; offset -1 is the
        // file position, as read/readv.
        let r = unsafe { libc::preadv2(fd, iov.as_ptr(), iov.len() as c_int, -1, libc::RWF_NOWAIT) };
        if r >= 0 {
            set_errno(entry);
            return r;
        }
        let e = errno();
        if nowait_unsupported(e) {
            return other_fd(fd, true, entry, orig);
        }
        if e != libc::EAGAIN {
            return -1;
        }
        if ready_now(fd, libc::POLLIN) {
            // Readable, yet the read would wait: file data to fetch from
            // the disk, which the original does (as files always block).
            set_errno(entry);
            return orig();
        }
        if nonblocking(fd) {
            set_errno(libc::EAGAIN);
            return -1;
        }
        if let Some(r) = park_until_ready(fd, true, entry, orig) {
            return r;
        }
    }
}

/// `write`/`writev` on a descriptor that is not a socket: `pwritev2` with
/// `RWF_NOWAIT` at the current offset; a blocking descriptor gets every
/// byte written (parking on writability between parts, as a blocking pipe
/// write waits for the reader), a non-blocking one the kernel's answer.
/// Descriptors without `RWF_NOWAIT` take [`other_fd`].
fn other_write(fd: c_int, iov: &[iovec], entry: c_int, orig: &mut dyn FnMut() -> ssize_t) -> ssize_t {
    let total = iov.iter().fold(0usize, |a, v| a.saturating_add(v.iov_len));
    let mut done = 0usize;
    let partial = |done: usize, e: c_int| -> ssize_t {
        if done > 0 {
            set_errno(entry);
            done as ssize_t
        } else {
            set_errno(e);
            -1
        }
    };
    loop {
        if done >= total {
            set_errno(entry);
            return done as ssize_t;
        }
        // SAFETY: the caller's iovecs.
        let rest = unsafe { skip_iov(iov.as_ptr(), iov.len(), done) };
        // SAFETY: `rest` describes the rest of the caller's buffers.
        let r = unsafe { libc::pwritev2(fd, rest.as_ptr(), rest.len() as c_int, -1, libc::RWF_NOWAIT) };
        if r >= 0 {
            done += r as usize;
            continue;
        }
        let e = errno();
        if nowait_unsupported(e) && done == 0 {
            return other_fd(fd, false, entry, orig);
        }
        if e != libc::EAGAIN {
            return partial(done, e);
        }
        if nonblocking(fd) {
            return partial(done, libc::EAGAIN);
        }
        if done == 0 && ready_now(fd, libc::POLLOUT) {
            // Writable, yet the write would wait (a file system that must
            // allocate): the original, as files always block.
            set_errno(entry);
            return orig();
        }
        match wait_fd(fd, false, None) {
            Wait::Ready | Wait::Expired => {}
            Wait::Interrupted(e) => return partial(done, e),
            Wait::Unwatchable if done == 0 => {
                set_errno(entry);
                return orig();
            }
            Wait::Unwatchable => return partial(done, libc::EAGAIN),
        }
    }
}

/// Whether the descriptor-state cache knows `fd` is not a socket: then
/// `read`/`write` go straight to the path for other descriptors instead
/// of first trying a socket call that says `ENOTSOCK`.
#[inline(always)]
fn known_not_socket(fd: c_int) -> bool {
    fdstate::cached(fd).is_some_and(|f| !f.socket())
}

/// A socket call said `ENOTSOCK`: whatever the cache held about `fd` is
/// wrong (its number was reused behind the hooks' back), so it is
/// forgotten; `errno` goes back to `entry` for the other path.
#[cold]
fn not_a_socket(fd: c_int, entry: c_int) {
    if fdstate::cached(fd).is_some_and(|f| f.socket()) {
        fdstate::reset(fd);
    }
    set_errno(entry);
}

// ------------------------------------------------------------ the calls

pub(crate) unsafe fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, passed on (no address wanted).
    unsafe { recvfrom(fd, buf, len, flags, std::ptr::null_mut(), std::ptr::null_mut()) }
}

pub(crate) unsafe fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let once = |b: *mut c_void, l: size_t| {
        // SAFETY: the caller's arguments, with MSG_DONTWAIT added or not.
        unsafe {
            // A plain read (no flags) may take the short-read rule.
            sock_read(fd, if flags == 0 { l } else { 0 }, |dw| {
                real::recvfrom(fd, b, l, if dw { flags | libc::MSG_DONTWAIT } else { flags }, addr, alen)
            })
        }
    };
    if flags & libc::MSG_WAITALL == 0 {
        return once(buf, len);
    }
    // MSG_WAITALL on a blocking stream socket: wait for all `len` bytes
    // (or end of stream, or an error), as the kernel does.
    let first = once(buf, len);
    if first <= 0 || first as usize >= len || sock_int(fd, libc::SO_TYPE) != Some(libc::SOCK_STREAM) || nonblocking(fd)
    {
        return first;
    }
    let entry = errno();
    let mut got = first as usize;
    while got < len {
        // SAFETY: `got < len`, within the caller's buffer.
        let r = once(unsafe { buf.cast::<u8>().add(got).cast() }, len - got);
        if r <= 0 {
            break;
        }
        got += r as usize;
    }
    set_errno(entry);
    got as ssize_t
}

pub(crate) unsafe fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, with MSG_DONTWAIT added or not.
    unsafe { sock_read(fd, 0, |dw| real::recvmsg(fd, msg, if dw { flags | libc::MSG_DONTWAIT } else { flags })) }
}

pub(crate) unsafe fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let op = |done: usize, dw: bool| {
        let f = if dw { flags | libc::MSG_DONTWAIT } else { flags };
        // SAFETY: `done <= len`: the rest of the caller's buffer.
        unsafe { real::sendto(fd, buf.cast::<u8>().add(done).cast(), len - done, f, addr, alen) }
    };
    // SAFETY: `op` makes the caller's call.
    unsafe { sock_write(fd, len, op) }
}

/// The iovecs of `iov[..n]` with the first `skip` bytes dropped.
///
/// # Safety
/// `iov` points to `n` valid iovecs.
unsafe fn skip_iov(iov: *const iovec, n: usize, mut skip: usize) -> Vec<iovec> {
    // SAFETY: the caller's array of `n` iovecs.
    let all = unsafe { std::slice::from_raw_parts(iov, n) };
    let mut out = Vec::with_capacity(n);
    for v in all {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        // SAFETY: `skip < iov_len`: inside this buffer.
        out.push(iovec { iov_base: unsafe { v.iov_base.cast::<u8>().add(skip).cast() }, iov_len: v.iov_len - skip });
        skip = 0;
    }
    out
}

fn iov_total(iov: *const iovec, n: c_int) -> usize {
    if iov.is_null() || n <= 0 {
        return 0;
    }
    // SAFETY: the caller's array of `n` iovecs (the C contract of the call).
    let all = unsafe { std::slice::from_raw_parts(iov, n as usize) };
    all.iter().fold(0usize, |a, v| a.saturating_add(v.iov_len))
}

pub(crate) unsafe fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if msg.is_null() {
        // SAFETY: the original reports EFAULT.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    // SAFETY: non-null, the caller's message.
    let m = unsafe { *msg };
    let total = iov_total(m.msg_iov, m.msg_iovlen as c_int);
    let op = |done: usize, dw: bool| {
        let f = if dw { flags | libc::MSG_DONTWAIT } else { flags };
        if done == 0 {
            // SAFETY: the caller's message.
            return unsafe { real::sendmsg(fd, msg, f) };
        }
        // The rest of a partly sent stream message: its data from `done`
        // on, without the ancillary data (already sent with the first part).
        // `msg_iovlen` is `size_t` on glibc, `int` on musl.
        #[allow(clippy::unnecessary_cast)]
        let iovlen = m.msg_iovlen as usize;
        // SAFETY: the caller's iovecs.
        let rest = unsafe { skip_iov(m.msg_iov, iovlen, done) };
        let mut m2 = m;
        m2.msg_iov = rest.as_ptr().cast_mut();
        m2.msg_iovlen = rest.len() as _;
        m2.msg_control = std::ptr::null_mut();
        m2.msg_controllen = 0;
        // SAFETY: `m2` points into the caller's buffers and `rest`.
        unsafe { real::sendmsg(fd, &m2, f) }
    };
    // SAFETY: `op` makes the caller's call.
    unsafe { sock_write(fd, total, op) }
}

pub(crate) unsafe fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if len == 0 {
        // SAFETY: the caller's call; never blocks.
        return unsafe { real::read(fd, buf, len) };
    }
    let entry = errno();
    if !known_not_socket(fd) {
        // SAFETY: on a socket, recv(MSG_DONTWAIT) is read without blocking.
        let r = unsafe {
            sock_read(fd, len, |dw| {
                real::recvfrom(
                    fd,
                    buf,
                    len,
                    if dw { libc::MSG_DONTWAIT } else { 0 },
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            })
        };
        if r >= 0 || errno() != libc::ENOTSOCK {
            return r;
        }
        not_a_socket(fd, entry);
    }
    let iov = [iovec { iov_base: buf, iov_len: len }];
    // SAFETY: the caller's call.
    other_read(fd, &iov, entry, &mut || unsafe { real::read(fd, buf, len) })
}

pub(crate) unsafe fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if len == 0 {
        // SAFETY: the caller's call.
        return unsafe { real::write(fd, buf, len) };
    }
    let entry = errno();
    if !known_not_socket(fd) {
        let op = |done: usize, dw: bool| {
            let f = if dw { libc::MSG_DONTWAIT } else { 0 };
            // SAFETY: `done <= len`: the rest of the caller's buffer. On a
            // socket, send without flags is write (SIGPIPE included).
            unsafe { real::sendto(fd, buf.cast::<u8>().add(done).cast(), len - done, f, std::ptr::null(), 0) }
        };
        // SAFETY: `op` makes the caller's call.
        let r = unsafe { sock_write(fd, len, op) };
        if r >= 0 || errno() != libc::ENOTSOCK {
            return r;
        }
        not_a_socket(fd, entry);
    }
    let iov = [iovec { iov_base: buf.cast_mut(), iov_len: len }];
    // SAFETY: the caller's call.
    other_write(fd, &iov, entry, &mut || unsafe { real::write(fd, buf, len) })
}

pub(crate) unsafe fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    let total = iov_total(iov, n);
    if total == 0 {
        // SAFETY: the caller's call; nothing to wait for (or invalid).
        return unsafe { real::readv(fd, iov, n) };
    }
    let entry = errno();
    if !known_not_socket(fd) {
        // SAFETY: an all-zero msghdr is valid (no name, no control).
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov.cast_mut();
        m.msg_iovlen = n as _;
        // SAFETY: recvmsg over the caller's iovecs is readv on a socket.
        let r =
            unsafe { sock_read(fd, total, |dw| real::recvmsg(fd, &mut m, if dw { libc::MSG_DONTWAIT } else { 0 })) };
        if r >= 0 || errno() != libc::ENOTSOCK {
            return r;
        }
        not_a_socket(fd, entry);
    }
    // SAFETY: the caller's `n` iovecs (n > 0: their total is not zero).
    let v = unsafe { std::slice::from_raw_parts(iov, n as usize) };
    // SAFETY: the caller's call.
    other_read(fd, v, entry, &mut || unsafe { real::readv(fd, iov, n) })
}

pub(crate) unsafe fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    let total = iov_total(iov, n);
    if total == 0 {
        // SAFETY: the caller's call.
        return unsafe { real::writev(fd, iov, n) };
    }
    let entry = errno();
    if !known_not_socket(fd) {
        // SAFETY: an all-zero msghdr is valid.
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov.cast_mut();
        m.msg_iovlen = n as _;
        // SAFETY: sendmsg over the caller's iovecs is writev on a socket.
        let r = unsafe { sendmsg(fd, &m, 0) };
        if r >= 0 || errno() != libc::ENOTSOCK {
            return r;
        }
        not_a_socket(fd, entry);
    }
    // SAFETY: the caller's `n` iovecs (n > 0: their total is not zero).
    let v = unsafe { std::slice::from_raw_parts(iov, n as usize) };
    // SAFETY: the caller's call.
    other_write(fd, v, entry, &mut || unsafe { real::writev(fd, iov, n) })
}

pub(crate) unsafe fn accept4(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t, flags: Option<c_int>) -> c_int {
    let entry = errno();
    let op = || match flags {
        // SAFETY: the caller's call.
        Some(f) => unsafe { real::accept4(fd, addr, alen, f) },
        // SAFETY: the caller's call.
        None => unsafe { real::accept(fd, addr, alen) },
    };
    let mut deadline = None;
    loop {
        if nonblocking(fd) || ready_now(fd, libc::POLLIN) {
            set_errno(entry);
            return op();
        }
        let d = *deadline.get_or_insert_with(|| sock_deadline(fd, libc::SO_RCVTIMEO));
        match wait_fd(fd, true, d) {
            Wait::Ready => {}
            Wait::Expired => {
                set_errno(libc::EAGAIN);
                return -1;
            }
            Wait::Interrupted(e) => {
                set_errno(e);
                return -1;
            }
            Wait::Unwatchable => {
                set_errno(entry);
                return op();
            }
        }
    }
}

pub(crate) unsafe fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int {
    // SAFETY: F_GETFL reads flags; no memory passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_NONBLOCK != 0 {
        // Not a descriptor, or a non-blocking caller: the original,
        // EINPROGRESS and all.
        // SAFETY: the caller's call.
        return unsafe { real::connect(fd, addr, alen) };
    }
    let entry = errno();
    let attempt = || {
        // SAFETY: sets O_NONBLOCK for the one call below (see the module
        // docs for the race this accepts), then restores the caller's flags.
        unsafe {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            let r = real::connect(fd, addr, alen);
            let e = errno();
            libc::fcntl(fd, libc::F_SETFL, flags);
            set_errno(e);
            r
        }
    };
    let mut deadline: Option<Option<Instant>> = None;
    let mut backoff = Duration::from_millis(1);
    loop {
        if attempt() == 0 {
            set_errno(entry);
            return 0;
        }
        match errno() {
            libc::EINPROGRESS => break,
            libc::EAGAIN => {
                // A Unix socket whose listener's backlog is full: readiness
                // does not report room, so retry after a short green sleep
                // (1 ms doubling to 50 ms), until SO_SNDTIMEO (then EAGAIN,
                // as the kernel).
                let d = *deadline.get_or_insert_with(|| sock_deadline(fd, libc::SO_SNDTIMEO));
                let now = Instant::now();
                if d.is_some_and(|d| now >= d) {
                    set_errno(libc::EAGAIN);
                    return -1;
                }
                let until = now + backoff;
                let until = d.map_or(until, |d| d.min(until));
                if let Err(i) = greenpatch_runtime::foreign::sleep_until(until) {
                    set_errno(interrupted_errno(i).unwrap_or(libc::EAGAIN));
                    return -1;
                }
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
            _ => return -1,
        }
    }
    // The connection proceeds in the kernel; wait green for its end.
    let deadline = deadline.unwrap_or_else(|| sock_deadline(fd, libc::SO_SNDTIMEO));
    match wait_fd(fd, false, deadline) {
        Wait::Ready => {}
        Wait::Expired => {
            // The kernel's answer when SO_SNDTIMEO cuts a connect short.
            set_errno(libc::EINPROGRESS);
            return -1;
        }
        Wait::Interrupted(e) => {
            set_errno(e);
            return -1;
        }
        Wait::Unwatchable => {
            let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
            // SAFETY: one valid pollfd; the original poll, blocking.
            unsafe { real::poll(&mut p, 1, -1) };
        }
    }
    // The outcome: SO_ERROR, as a non-blocking caller would read it.
    match sock_int(fd, libc::SO_ERROR) {
        Some(0) => {
            set_errno(entry);
            0
        }
        Some(e) => {
            set_errno(e);
            -1
        }
        None => -1,
    }
}
