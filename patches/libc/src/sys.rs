//! The hooked symbols, their C types, and the C library's originals.
//!
//! # Model
//!
//! One table row per hooked symbol ([`Hook`]): its C name, its C function
//! type (in [`types`]), an enable flag and a cached original. The original
//! is `dlsym(RTLD_NEXT, name)`: the next definition after this program's,
//! i.e. the C library's. It is resolved on first use and cached in an
//! `AtomicPtr`, so calling an original costs one atomic load and an
//! indirect call. Where the dynamic linker has no next definition (a
//! statically linked program), the original is this crate's own fallback,
//! which makes the same system call directly (`getaddrinfo`, which has no
//! system call, then fails with `EAI_SYSTEM`/`ENOSYS`).
//!
//! # Invariants
//! - A non-null `ORIGINALS[h]` is the address of a function of type
//!   `types::<h>`: either the C library's symbol of that name (whose C
//!   prototype the type spells) or the fallback of that exact type.
//! - Originals never route: they are the C library's code, not ours.

use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use libc::{addrinfo, fd_set, msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec, timeval};

macro_rules! hooks {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, fn $fname:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty, fallback $fallback:block;
    )*) => {
        /// One hooked C symbol.
        ///
        /// ```
        /// use greenpatch_libc::Hook;
        /// assert_eq!(Hook::Recv.name(), "recv");
        /// assert_eq!(Hook::from_name("recv"), Some(Hook::Recv));
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Hook {
            $( $(#[$doc])* $variant, )*
        }

        impl Hook {
            /// Every hooked symbol, in the registry module's item order.
            pub const ALL: &'static [Hook] = &[$(Hook::$variant),*];

            /// The C symbol's name.
            ///
            /// ```
            /// assert_eq!(greenpatch_libc::Hook::ReadChk.name(), "__read_chk");
            /// ```
            pub const fn name(self) -> &'static str {
                match self { $(Hook::$variant => $name,)* }
            }

            const fn c_name(self) -> &'static CStr {
                match self { $(Hook::$variant => {
                    match CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                        Ok(s) => s,
                        Err(_) => panic!("symbol names have no NUL"),
                    }
                })* }
            }

            const fn fallback(self) -> *mut c_void {
                match self { $(Hook::$variant => fallback::$fname as types::$variant as *mut c_void,)* }
            }

            /// The address of this crate's definition of the symbol (what
            /// the program's calls reach).
            ///
            /// ```
            /// assert!(!greenpatch_libc::Hook::Recv.hook_address().is_null());
            /// ```
            pub fn hook_address(self) -> *const c_void {
                match self { $(Hook::$variant => crate::hooks::$fname as types::$variant as *const c_void,)* }
            }
        }

        /// The C function type of each hooked symbol, named after its [`Hook`].
        pub mod types {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("The type of `", $name, "`.")]
                pub type $variant = unsafe extern "C" fn($($ty),*) -> $ret;
            )*
        }

        /// This crate's definition of each hooked symbol, as a typed function
        /// pointer named after its [`Hook`] (the registry module's green items).
        pub mod green {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[doc = concat!("This crate's `", $name, "`.")]
                #[allow(non_upper_case_globals)]
                pub const $variant: types::$variant = crate::hooks::$fname;
            )*
        }

        /// Calls of the originals.
        pub(crate) mod real {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[inline(always)]
                pub(crate) unsafe fn $fname($($arg: $ty),*) -> $ret {
                    // SAFETY: `original` returns a function of this exact
                    // type (invariant of ORIGINALS); the caller passes the
                    // arguments the C function requires.
                    unsafe {
                        let f: types::$variant = std::mem::transmute::<*mut c_void, types::$variant>(original(Hook::$variant));
                        f($($arg),*)
                    }
                }
            )*
        }

        /// The system-call fallbacks (no C library definition to call).
        mod fallback {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[allow(unused_variables, clippy::unnecessary_cast)]
                pub(super) unsafe extern "C" fn $fname($($arg: $ty),*) -> $ret $fallback
            )*
        }
    };
}

/// `syscall(2)` returning `ssize_t`.
macro_rules! sys {
    ($nr:expr $(, $a:expr)*) => {
        // SAFETY: the arguments are the caller's, passed unchanged to the
        // system call of the same name and meaning.
        unsafe { libc::syscall($nr $(, $a)*) as ssize_t }
    };
}

hooks! {
    /// `recv`.
    Recv = "recv", fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_recvfrom, fd, buf, len, flags, 0usize, 0usize) };
    /// `recvfrom`.
    Recvfrom = "recvfrom", fn recvfrom(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> ssize_t,
        fallback { sys!(libc::SYS_recvfrom, fd, buf, len, flags, addr, alen) };
    /// `recvmsg`.
    Recvmsg = "recvmsg", fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_recvmsg, fd, msg, flags) };
    /// `send`.
    Send = "send", fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_sendto, fd, buf, len, flags, 0usize, 0usize) };
    /// `sendto`.
    Sendto = "sendto", fn sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, alen: socklen_t) -> ssize_t,
        fallback { sys!(libc::SYS_sendto, fd, buf, len, flags, addr, alen) };
    /// `sendmsg`.
    Sendmsg = "sendmsg", fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_sendmsg, fd, msg, flags) };
    /// `read`.
    Read = "read", fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t,
        fallback { sys!(libc::SYS_read, fd, buf, len) };
    /// `write`.
    Write = "write", fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t,
        fallback { sys!(libc::SYS_write, fd, buf, len) };
    /// `readv`.
    Readv = "readv", fn readv(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_readv, fd, iov, n) };
    /// `writev`.
    Writev = "writev", fn writev(fd: c_int, iov: *const libc::iovec, n: c_int) -> ssize_t,
        fallback { sys!(libc::SYS_writev, fd, iov, n) };
    /// `connect`.
    Connect = "connect", fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int,
        fallback { sys!(libc::SYS_connect, fd, addr, alen) as c_int };
    /// `accept`.
    Accept = "accept", fn accept(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> c_int,
        fallback { sys!(libc::SYS_accept4, fd, addr, alen, 0) as c_int };
    /// `accept4`.
    Accept4 = "accept4", fn accept4(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t, flags: c_int) -> c_int,
        fallback { sys!(libc::SYS_accept4, fd, addr, alen, flags) as c_int };
    /// `close` (drops the runtime's persistent registration of the
    /// descriptor first).
    Close = "close", fn close(fd: c_int) -> c_int,
        fallback { sys!(libc::SYS_close, fd) as c_int };
    /// `dup2` (closes `new`: as `close` for it).
    Dup2 = "dup2", fn dup2(old: c_int, new: c_int) -> c_int,
        fallback {
            // dup3 refuses old == new; dup2 then only checks `old`.
            if old != new { sys!(libc::SYS_dup3, old, new, 0) as c_int }
            else if sys!(libc::SYS_fcntl, old, libc::F_GETFD) < 0 { -1 } else { new }
        };
    /// `dup3` (closes `new`: as `close` for it).
    Dup3 = "dup3", fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int,
        fallback { sys!(libc::SYS_dup3, old, new, flags) as c_int };
    /// `poll`.
    Poll = "poll", fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int,
        fallback {
            let ts = (timeout >= 0).then(|| timespec { tv_sec: (timeout / 1000) as _, tv_nsec: ((timeout % 1000) as c_long) * 1_000_000 });
            let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
            sys!(libc::SYS_ppoll, fds, n, tsp, 0usize, 8usize) as c_int
        };
    /// `select`.
    Select = "select", fn select(n: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, tv: *mut timeval) -> c_int,
        fallback {
            let mut ts = (!tv.is_null()).then(|| {
                // SAFETY: the caller's timeval, non-null here.
                let t = unsafe { *tv };
                timespec { tv_sec: t.tv_sec, tv_nsec: (t.tv_usec as c_long) * 1000 }
            });
            let tsp = ts.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut timespec);
            let r = sys!(libc::SYS_pselect6, n, r, w, e, tsp, 0usize) as c_int;
            if let Some(t) = ts {
                // SAFETY: as above; select reports the time left in it.
                unsafe { *tv = timeval { tv_sec: t.tv_sec, tv_usec: (t.tv_nsec / 1000) as _ } };
            }
            r
        };
    /// `nanosleep`.
    Nanosleep = "nanosleep", fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int,
        fallback { sys!(libc::SYS_nanosleep, req, rem) as c_int };
    /// `clock_nanosleep` (returns the error number instead of setting `errno`).
    ClockNanosleep = "clock_nanosleep", fn clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int,
        fallback {
            if sys!(libc::SYS_clock_nanosleep, clock, flags, req, rem) < 0 { crate::route::errno() } else { 0 }
        };
    /// `usleep`.
    Usleep = "usleep", fn usleep(usec: libc::useconds_t) -> c_int,
        fallback {
            let ts = timespec { tv_sec: (usec / 1_000_000) as _, tv_nsec: ((usec % 1_000_000) as c_long) * 1000 };
            sys!(libc::SYS_nanosleep, &ts as *const timespec, std::ptr::null_mut::<timespec>()) as c_int
        };
    /// `sleep` (returns the seconds left when interrupted).
    Sleep = "sleep", fn sleep(secs: c_uint) -> c_uint,
        fallback {
            let mut ts = timespec { tv_sec: secs as _, tv_nsec: 0 };
            let p = &mut ts as *mut timespec;
            if sys!(libc::SYS_nanosleep, p, p) < 0 { ts.tv_sec as c_uint + c_uint::from(ts.tv_nsec > 0) } else { 0 }
        };
    /// `getaddrinfo`.
    Getaddrinfo = "getaddrinfo", fn getaddrinfo(node: *const c_char, service: *const c_char, hints: *const addrinfo, res: *mut *mut addrinfo) -> c_int,
        fallback { crate::route::set_errno(libc::ENOSYS); libc::EAI_SYSTEM };
    /// glibc's FORTIFY `read` (`__read_chk`).
    ReadChk = "__read_chk", fn read_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t) -> ssize_t,
        fallback { if len > buflen { std::process::abort() } sys!(libc::SYS_read, fd, buf, len) };
    /// glibc's FORTIFY `recv` (`__recv_chk`).
    RecvChk = "__recv_chk", fn recv_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t, flags: c_int) -> ssize_t,
        fallback { if len > buflen { std::process::abort() } sys!(libc::SYS_recvfrom, fd, buf, len, flags, 0usize, 0usize) };
    /// glibc's FORTIFY `recvfrom` (`__recvfrom_chk`).
    RecvfromChk = "__recvfrom_chk", fn recvfrom_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> ssize_t,
        fallback { if len > buflen { std::process::abort() } sys!(libc::SYS_recvfrom, fd, buf, len, flags, addr, alen) };
    /// glibc's FORTIFY `poll` (`__poll_chk`).
    PollChk = "__poll_chk", fn poll_chk(fds: *mut pollfd, n: nfds_t, timeout: c_int, fdslen: size_t) -> c_int,
        fallback {
            if fdslen / std::mem::size_of::<pollfd>() < n as usize { std::process::abort() }
            // SAFETY: the caller's arguments, checked as glibc checks them.
            unsafe { fallback::poll(fds, n, timeout) }
        };
    /// `ppoll` (green only without a signal mask; see the crate docs).
    Ppoll = "ppoll", fn ppoll(fds: *mut pollfd, n: nfds_t, ts: *const timespec, mask: *const libc::sigset_t) -> c_int,
        fallback { sys!(libc::SYS_ppoll, fds, n, ts, mask, 8usize) as c_int };
    /// `epoll_wait`.
    EpollWait = "epoll_wait", fn epoll_wait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int) -> c_int,
        fallback { sys!(libc::SYS_epoll_pwait, epfd, events, max, timeout, 0usize, 8usize) as c_int };
}

const N: usize = Hook::ALL.len();

/// The cached originals (null: not resolved yet).
static ORIGINALS: [AtomicPtr<c_void>; N] = [const { AtomicPtr::new(std::ptr::null_mut()) }; N];

/// Per-hook switch, flipped by the registry module `"libc"`.
static ENABLED: [AtomicBool; N] = [const { AtomicBool::new(false) }; N];

impl Hook {
    /// The hook with C name `name`.
    ///
    /// ```
    /// assert_eq!(greenpatch_libc::Hook::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.iter().copied().find(|h| h.name() == name)
    }

    /// Whether this hook reroutes (on a hub). Flipped by the registry
    /// module `"libc"` of `greenpatch`; a program normally never calls
    /// [`set_enabled`](Hook::set_enabled) itself.
    ///
    /// ```
    /// let _ = greenpatch_libc::Hook::Recv.is_enabled();
    /// ```
    #[inline(always)]
    pub fn is_enabled(self) -> bool {
        ENABLED[self as usize].load(Ordering::Relaxed)
    }

    /// Switches this hook on or off. Off, it is the original for every
    /// caller; on, it reroutes callers on a hub (see the crate docs).
    ///
    /// ```
    /// use greenpatch_libc::Hook;
    /// Hook::Usleep.set_enabled(true);
    /// assert!(Hook::Usleep.is_enabled());
    /// Hook::Usleep.set_enabled(false);
    /// ```
    pub fn set_enabled(self, on: bool) {
        if on {
            // Resolve every original now, in ordinary code: a first call
            // made later from a signal handler must not run dlsym there.
            for &h in Hook::ALL {
                original(h);
            }
            crate::track::resolve_all();
        }
        // Release pairs with nothing in particular: the hooks keep no state
        // that enabling publishes; the store only needs to become visible.
        ENABLED[self as usize].store(on, Ordering::Release);
    }

    /// The C library's function (the address `dlsym(RTLD_NEXT, name)`
    /// returns), or this crate's system-call fallback when there is none.
    /// Resolved once, then cached.
    ///
    /// ```
    /// let p = greenpatch_libc::Hook::Recv.original();
    /// assert!(!p.is_null());
    /// assert_ne!(p, greenpatch_libc::Hook::Recv.hook_address());
    /// ```
    pub fn original(self) -> *const c_void {
        original(self)
    }
}

/// The original of `h` (see [`Hook::original`]).
#[inline(always)]
pub(crate) fn original(h: Hook) -> *mut c_void {
    let p = ORIGINALS[h as usize].load(Ordering::Acquire);
    if p.is_null() {
        return resolve(h);
    }
    p
}

#[cold]
#[inline(never)]
fn resolve(h: Hook) -> *mut c_void {
    // dlsym may set the thread's dlerror state and touch errno; a hook's
    // caller must see neither.
    let saved = crate::route::errno();
    // SAFETY: RTLD_NEXT with a NUL-terminated name is dlsym's documented use.
    let mut p = unsafe { libc::dlsym(libc::RTLD_NEXT, h.c_name().as_ptr()) };
    if p.is_null() || std::ptr::eq(p, h.hook_address()) {
        p = h.fallback();
    }
    crate::route::set_errno(saved);
    // Racing resolvers store the same value.
    ORIGINALS[h as usize].store(p, Ordering::Release);
    p
}
