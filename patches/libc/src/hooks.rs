//! The C symbols themselves: each is the original unless [`reroute`] says
//! the call comes from a hub with the hook on; then it goes to the green
//! implementation (`io.rs`, `wait.rs`, `dns.rs`).
//!
//! # Invariants
//! - The fast path is `reroute` (one atomic load, one thread-local read)
//!   plus the original's cached pointer (one atomic load): nothing else
//!   runs on a call that is not rerouted.
//! - No hook unwinds: the green paths return errors (see the crate docs),
//!   and none of their code panics on the caller's input.

use std::ffi::{c_char, c_int, c_uint, c_void};

use libc::{addrinfo, fd_set, iovec, msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec, timeval};

use crate::route::reroute;
use crate::sys::{real, Hook};
use crate::{dns, fdstate, io, wait};

/// Standard output and standard error: writes to them never park. std
/// (and C's stdio) serialise them under a process-wide lock; a green thread
/// parked in a write while holding it would make the next green thread
/// that prints block its whole hub on that lock (a futex the hooks cannot
/// see). So they block as without greenpatch, which is also the cheapest.
#[inline(always)]
fn is_std_stream(fd: c_int) -> bool {
    fd == libc::STDOUT_FILENO || fd == libc::STDERR_FILENO
}

/// Receive flags with which the original never waits: the caller's own
/// `MSG_DONTWAIT`, and `MSG_ERRQUEUE` and `MSG_OOB`, which report `EAGAIN`
/// at once even on a blocking socket (waiting for readability would change
/// that answer, and loop on normal data for `MSG_OOB`).
#[inline(always)]
fn recv_never_waits(flags: c_int) -> bool {
    flags & (libc::MSG_DONTWAIT | libc::MSG_ERRQUEUE | libc::MSG_OOB) != 0
}

// SAFETY (every hook below): each is called with the arguments of the C
// function of the same name, whose contract the caller keeps; they are
// passed on unchanged to the original or to a green implementation that
// keeps the same contract.

#[no_mangle]
pub(crate) unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    if !reroute(Hook::Recv) || recv_never_waits(flags) {
        // SAFETY: see above.
        return unsafe { real::recv(fd, buf, len, flags) };
    }
    // SAFETY: see above.
    unsafe { io::recv(fd, buf, len, flags) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if !reroute(Hook::Recvfrom) || recv_never_waits(flags) {
        // SAFETY: see above.
        return unsafe { real::recvfrom(fd, buf, len, flags, addr, alen) };
    }
    // SAFETY: see above.
    unsafe { io::recvfrom(fd, buf, len, flags, addr, alen) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !reroute(Hook::Recvmsg) || recv_never_waits(flags) {
        // SAFETY: see above.
        return unsafe { real::recvmsg(fd, msg, flags) };
    }
    // SAFETY: see above.
    unsafe { io::recvmsg(fd, msg, flags) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    if !reroute(Hook::Send) || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: see above.
        return unsafe { real::send(fd, buf, len, flags) };
    }
    // SAFETY: see above.
    unsafe { io::sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    if !reroute(Hook::Sendto) || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: see above.
        return unsafe { real::sendto(fd, buf, len, flags, addr, alen) };
    }
    // SAFETY: see above.
    unsafe { io::sendto(fd, buf, len, flags, addr, alen) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if !reroute(Hook::Sendmsg) || flags & libc::MSG_DONTWAIT != 0 {
        // SAFETY: see above.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    // SAFETY: see above.
    unsafe { io::sendmsg(fd, msg, flags) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if !reroute(Hook::Read) {
        // SAFETY: see above.
        return unsafe { real::read(fd, buf, len) };
    }
    // SAFETY: see above.
    unsafe { io::read(fd, buf, len) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if !reroute(Hook::Write) || is_std_stream(fd) {
        // SAFETY: see above.
        return unsafe { real::write(fd, buf, len) };
    }
    // SAFETY: see above.
    unsafe { io::write(fd, buf, len) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if !reroute(Hook::Readv) {
        // SAFETY: see above.
        return unsafe { real::readv(fd, iov, n) };
    }
    // SAFETY: see above.
    unsafe { io::readv(fd, iov, n) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if !reroute(Hook::Writev) || is_std_stream(fd) {
        // SAFETY: see above.
        return unsafe { real::writev(fd, iov, n) };
    }
    // SAFETY: see above.
    unsafe { io::writev(fd, iov, n) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int {
    if !reroute(Hook::Connect) {
        // SAFETY: see above.
        return unsafe { real::connect(fd, addr, alen) };
    }
    // SAFETY: see above.
    unsafe { io::connect(fd, addr, alen) }
}

/// A descriptor number a call just returned names a new object: nothing
/// cached about the number still holds (it may have been closed behind
/// the hooks' back).
#[inline(always)]
fn fresh(fd: c_int) -> c_int {
    if fd >= 0 {
        fdstate::reset(fd);
    }
    fd
}

#[no_mangle]
pub(crate) unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> c_int {
    if !reroute(Hook::Accept) {
        // SAFETY: see above.
        return fresh(unsafe { real::accept(fd, addr, alen) });
    }
    // SAFETY: see above.
    fresh(unsafe { io::accept4(fd, addr, alen, None) })
}

#[no_mangle]
pub(crate) unsafe extern "C" fn accept4(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t, flags: c_int) -> c_int {
    if !reroute(Hook::Accept4) {
        // SAFETY: see above.
        return fresh(unsafe { real::accept4(fd, addr, alen, flags) });
    }
    // SAFETY: see above.
    fresh(unsafe { io::accept4(fd, addr, alen, Some(flags)) })
}

/// Drops the calling hub's persistent registration of `fd` (and wakes its
/// waiters, which retry their calls) before `fd` is closed or replaced.
/// `errno` is kept: the original call decides it.
#[inline(always)]
fn forget(h: Hook, fd: c_int) {
    if reroute(h) {
        let entry = crate::route::errno();
        greenpatch_runtime::foreign::forget(fd);
        crate::route::set_errno(entry);
    }
}

// `close`, `dup2` and `dup3` also keep the descriptor-state cache
// (`fdstate.rs`) exact, for every caller: the number closed is forgotten
// before the call (no fill racing it can outlive it) and after (a fill
// between the two, by a use racing the close, is dropped too); a
// duplicate shares its open file description with `old`, so both are
// marked shared (never cached).

#[no_mangle]
pub(crate) unsafe extern "C" fn close(fd: c_int) -> c_int {
    forget(Hook::Close, fd);
    fdstate::reset(fd);
    // SAFETY: see above.
    let r = unsafe { real::close(fd) };
    fdstate::reset(fd);
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old != new {
        forget(Hook::Dup2, new);
        fdstate::reset(new);
    }
    // SAFETY: see above.
    let r = unsafe { real::dup2(old, new) };
    if r >= 0 && old != new {
        fdstate::share(old);
        fdstate::share(new);
    }
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    if old != new {
        forget(Hook::Dup3, new);
        fdstate::reset(new);
    }
    // SAFETY: see above.
    let r = unsafe { real::dup3(old, new, flags) };
    if r >= 0 {
        fdstate::share(old);
        fdstate::share(new);
    }
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    if !reroute(Hook::Poll) {
        // SAFETY: see above.
        return unsafe { real::poll(fds, n, timeout) };
    }
    // SAFETY: see above.
    unsafe { wait::poll(fds, n, timeout) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn select(
    n: c_int,
    r: *mut fd_set,
    w: *mut fd_set,
    e: *mut fd_set,
    tv: *mut timeval,
) -> c_int {
    if !reroute(Hook::Select) {
        // SAFETY: see above.
        return unsafe { real::select(n, r, w, e, tv) };
    }
    // SAFETY: see above.
    unsafe { wait::select(n, r, w, e, tv) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    n: nfds_t,
    ts: *const timespec,
    mask: *const libc::sigset_t,
) -> c_int {
    if !reroute(Hook::Ppoll) {
        // SAFETY: see above.
        return unsafe { real::ppoll(fds, n, ts, mask) };
    }
    // SAFETY: see above.
    unsafe { wait::ppoll(fds, n, ts, mask) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    if !reroute(Hook::EpollWait) {
        // SAFETY: see above.
        return unsafe { real::epoll_wait(epfd, events, max, timeout) };
    }
    // SAFETY: see above.
    unsafe { wait::epoll_wait(epfd, events, max, timeout) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if !reroute(Hook::Nanosleep) {
        // SAFETY: see above.
        return unsafe { real::nanosleep(req, rem) };
    }
    // SAFETY: see above.
    unsafe { wait::nanosleep(req, rem) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    if !reroute(Hook::ClockNanosleep) {
        // SAFETY: see above.
        return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
    }
    // SAFETY: see above.
    unsafe { wait::clock_nanosleep(clock, flags, req, rem) }
}

#[no_mangle]
pub(crate) unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    if !reroute(Hook::Usleep) {
        // SAFETY: see above.
        return unsafe { real::usleep(usec) };
    }
    wait::usleep(usec)
}

#[no_mangle]
pub(crate) unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if !reroute(Hook::Sleep) {
        // SAFETY: see above.
        return unsafe { real::sleep(secs) };
    }
    wait::sleep(secs)
}

#[no_mangle]
pub(crate) unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if !reroute(Hook::Getaddrinfo) {
        // SAFETY: see above.
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    // SAFETY: see above.
    unsafe { dns::getaddrinfo(node, service, hints, res) }
}

#[export_name = "__read_chk"]
pub(crate) unsafe extern "C" fn read_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t) -> ssize_t {
    if !reroute(Hook::ReadChk) || len > buflen {
        // SAFETY: see above (the original reports the overflow).
        return unsafe { real::read_chk(fd, buf, len, buflen) };
    }
    // SAFETY: see above; `len` fits the buffer.
    unsafe { io::read(fd, buf, len) }
}

#[export_name = "__recv_chk"]
pub(crate) unsafe extern "C" fn recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if !reroute(Hook::RecvChk) || len > buflen || recv_never_waits(flags) {
        // SAFETY: see above.
        return unsafe { real::recv_chk(fd, buf, len, buflen, flags) };
    }
    // SAFETY: see above; `len` fits the buffer.
    unsafe { io::recv(fd, buf, len, flags) }
}

#[export_name = "__recvfrom_chk"]
pub(crate) unsafe extern "C" fn recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if !reroute(Hook::RecvfromChk) || len > buflen || recv_never_waits(flags) {
        // SAFETY: see above.
        return unsafe { real::recvfrom_chk(fd, buf, len, buflen, flags, addr, alen) };
    }
    // SAFETY: see above; `len` fits the buffer.
    unsafe { io::recvfrom(fd, buf, len, flags, addr, alen) }
}

#[export_name = "__poll_chk"]
pub(crate) unsafe extern "C" fn poll_chk(fds: *mut pollfd, n: nfds_t, timeout: c_int, fdslen: size_t) -> c_int {
    if !reroute(Hook::PollChk) || fdslen / std::mem::size_of::<pollfd>() < n as usize {
        // SAFETY: see above.
        return unsafe { real::poll_chk(fds, n, timeout, fdslen) };
    }
    // SAFETY: see above; `n` fits the array.
    unsafe { wait::poll(fds, n, timeout) }
}
