//! The bookkeeping hooks: `fcntl`, `fcntl64`, `ioctl`, `setsockopt` and
//! `dup`, which keep the descriptor-state cache ([`crate::fdstate`])
//! exact.
//!
//! # Model
//! They never reroute and are not items of the registry module: each is
//! the C library's function for every caller, hub or not, patched or not,
//! followed — when it succeeded and changed what the cache holds — by an
//! invalidation (a few atomic operations). The originals are found as the
//! hooks' are (`dlsym(RTLD_NEXT)`, cached); where there is none (a static
//! program) the system call is made directly.
//!
//! # ABI (why the variadic ones can be defined here)
//! `fcntl(int, int, ...)` and `ioctl(int, unsigned long, ...)` are
//! C-variadic, and Rust cannot define a variadic function. They are
//! defined with a fixed third argument of register width (`usize`). Every
//! third argument of these calls is an `int` or a pointer, and on Linux on
//! x86_64 (System V) and aarch64 (AAPCS64) such variadic arguments are
//! passed exactly as fixed ones, in the next general register (x86_64's
//! `%al` vector count is only read by variadic callees, which these
//! definitions are not). The value is passed on unchanged to the C
//! library's variadic function (called through a variadic function
//! pointer type, so the call is a proper variadic call), which reads it
//! back as its `int` or pointer. Calls with no third argument
//! (`F_GETFL`) leave a meaningless register value, ignored there as by the
//! C library. On other targets this module is not compiled, and the cache
//! is off.

use std::ffi::{c_int, c_ulong, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::fdstate;

type Fcntl = unsafe extern "C" fn(c_int, c_int, ...) -> c_int;
type Ioctl = unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int;
type Setsockopt = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, libc::socklen_t) -> c_int;
type Dup = unsafe extern "C" fn(c_int) -> c_int;

/// The bookkeeping symbols' originals, in this order.
const NAMES: [&std::ffi::CStr; 5] = [c"fcntl", c"fcntl64", c"ioctl", c"setsockopt", c"dup"];
const FCNTL: usize = 0;
const FCNTL64: usize = 1;
const IOCTL: usize = 2;
const SETSOCKOPT: usize = 3;
const DUP: usize = 4;

/// Not resolved yet.
const UNRESOLVED: *mut c_void = std::ptr::null_mut();
/// Resolved: no original (make the system call).
const NONE: *mut c_void = 1 as *mut c_void;

static ORIGINALS: [AtomicPtr<c_void>; 5] = [const { AtomicPtr::new(UNRESOLVED) }; 5];

/// The original of `NAMES[i]`, or `None` when there is none.
#[inline(always)]
fn original(i: usize) -> Option<*mut c_void> {
    let mut p = ORIGINALS[i].load(Ordering::Acquire);
    if p == UNRESOLVED {
        p = resolve(i);
    }
    (p != NONE).then_some(p)
}

#[cold]
#[inline(never)]
fn resolve(i: usize) -> *mut c_void {
    let saved = crate::route::errno();
    // SAFETY: RTLD_NEXT with a NUL-terminated name is dlsym's documented use.
    let mut p = unsafe { libc::dlsym(libc::RTLD_NEXT, NAMES[i].as_ptr()) };
    #[cfg(variadic_hooks)]
    let ours = [fcntl as *const c_void, fcntl64 as *const c_void, ioctl as *const c_void];
    #[cfg(not(variadic_hooks))]
    let ours: [*const c_void; 0] = [];
    if i == FCNTL64 && p.is_null() {
        // An older C library without `fcntl64`: its `fcntl` is the same.
        // SAFETY: as above.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, NAMES[FCNTL].as_ptr()) };
    }
    if p.is_null() || ours.iter().any(|&o| std::ptr::eq(p, o)) {
        p = NONE;
    }
    crate::route::set_errno(saved);
    ORIGINALS[i].store(p, Ordering::Release);
    p
}

/// Resolves every original now (see `Hook::set_enabled`: not later, in a
/// signal handler).
pub(crate) fn resolve_all() {
    for i in 0..NAMES.len() {
        original(i);
    }
}

/// The C library's `fcntl` (or the system call), for this crate's own use.
///
/// # Safety
/// `arg` is what `cmd` requires (an `int`, a valid pointer, or nothing).
#[inline]
pub(crate) unsafe fn real_fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { call_fcntl(FCNTL, fd, cmd, arg) }
}

#[inline(always)]
unsafe fn call_fcntl(i: usize, fd: c_int, cmd: c_int, arg: usize) -> c_int {
    match original(i) {
        Some(p) => {
            // SAFETY: `p` is the C library's `fcntl`/`fcntl64`, of type
            // `Fcntl`; `arg` is the caller's third argument (module docs).
            unsafe { std::mem::transmute::<*mut c_void, Fcntl>(p)(fd, cmd, arg) }
        }
        // SAFETY: the caller's arguments, to the system call of the name.
        None => unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) as c_int },
    }
}

/// After a successful `fcntl`: what it changed, in the cache.
#[inline(always)]
fn after_fcntl(fd: c_int, cmd: c_int, r: c_int) {
    if r < 0 {
        return;
    }
    match cmd {
        libc::F_SETFL => fdstate::invalidate(fd),
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            fdstate::share(fd);
            fdstate::share(r);
        }
        _ => {}
    }
}

// SAFETY (every hook below): called with the arguments of the C function
// of the same name, whose contract the caller keeps; they are passed on
// unchanged (see the module docs for the variadic third argument).

#[cfg(variadic_hooks)]
#[no_mangle]
pub(crate) unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: see above.
    let r = unsafe { call_fcntl(FCNTL, fd, cmd, arg) };
    after_fcntl(fd, cmd, r);
    r
}

#[cfg(variadic_hooks)]
#[no_mangle]
pub(crate) unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: see above.
    let r = unsafe { call_fcntl(FCNTL64, fd, cmd, arg) };
    after_fcntl(fd, cmd, r);
    r
}

#[cfg(variadic_hooks)]
#[no_mangle]
pub(crate) unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: usize) -> c_int {
    let r = match original(IOCTL) {
        // SAFETY: see above; `p` is the C library's `ioctl`, of type `Ioctl`.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, Ioctl>(p)(fd, req, arg) },
        // SAFETY: see above.
        None => unsafe { libc::syscall(libc::SYS_ioctl, fd, req, arg) as c_int },
    };
    // The kernel reads the request as 32 bits (callers declaring it `int`
    // may leave the register's upper half undefined).
    if r >= 0 && req as u32 == libc::FIONBIO as u32 {
        fdstate::invalidate(fd);
    }
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: libc::socklen_t,
) -> c_int {
    let r = match original(SETSOCKOPT) {
        // SAFETY: see above; `p` is the C library's `setsockopt`.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, Setsockopt>(p)(fd, level, name, val, len) },
        // SAFETY: see above.
        None => unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, val, len) as c_int },
    };
    // The timeouts are SOL_SOCKET options (in their old and new forms).
    if r == 0 && level == libc::SOL_SOCKET {
        fdstate::invalidate(fd);
    }
    r
}

#[no_mangle]
pub(crate) unsafe extern "C" fn dup(fd: c_int) -> c_int {
    let r = match original(DUP) {
        // SAFETY: see above; `p` is the C library's `dup`.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, Dup>(p)(fd) },
        // SAFETY: see above.
        None => unsafe { libc::syscall(libc::SYS_dup, fd) as c_int },
    };
    if r >= 0 {
        fdstate::share(fd);
        fdstate::share(r);
    }
    r
}
