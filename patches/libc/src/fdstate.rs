//! What each descriptor's caller asked for, cached: `O_NONBLOCK`, whether
//! it is a socket (and a TCP stream), and whether `SO_RCVTIMEO` and
//! `SO_SNDTIMEO` are set — so that a rerouted call does not ask the kernel
//! again (an `fcntl` and a `getsockopt` per wait) every time it would
//! block.
//!
//! # Model
//! One word per descriptor number below [`SLOTS`], process-wide (a flag
//! changed from any thread, hub or not, is seen by every hub): a VALID bit,
//! the cached facts, a SHARED bit, and a version. A rerouted call that
//! needs the facts reads the word; when it is not VALID it asks the kernel
//! (`F_GETFL`, `SO_TYPE`, `SO_PROTOCOL`, `SO_RCVTIMEO`, `SO_SNDTIMEO`) and
//! stores the answer with a compare-and-swap against the word it read, so
//! an invalidation that ran meanwhile (it bumps the version) wins and the
//! answer is used once, uncached.
//!
//! The cache is kept exact by the calls that change what it holds, all
//! hooked here for every caller (hub or not, patched or not — they only
//! invalidate, they never reroute), each *after* the kernel call:
//! `fcntl`/`fcntl64` (`F_SETFL`; `F_DUPFD*`), `ioctl` (`FIONBIO`),
//! `setsockopt` (`SOL_SOCKET` options, the timeouts among them), and the
//! calls that end or replace what a number names: `close` (before and
//! after), `dup2`/`dup3` (their target), and the numbers `accept`,
//! `accept4` and `dup` return.
//!
//! A descriptor duplicated through the hooks (`dup`, `dup2`, `dup3`,
//! `F_DUPFD*`) shares its open file description — and so `O_NONBLOCK` —
//! with another number: both are marked SHARED and never cached again
//! (until closed), so a change made through either number is seen.
//!
//! `O_NONBLOCK` is trusted from the cache only for sockets. Pipes and
//! terminals are often shared with other processes (a terminal's
//! `O_NONBLOCK` is flipped by whatever else runs on it), so for them the
//! kernel is asked each time, as without the cache.
//!
//! # What the cache cannot see (documented in the crate docs)
//! A change made where no hook runs: a raw `fcntl`/`ioctl`/`setsockopt`
//! system call, another process sharing the open file description (a
//! `fork`ed child, a descriptor passed over a Unix socket), or a
//! descriptor shared with a number received the same way. And a number
//! closed behind the hooks' back (a raw `close`, the C library's internal
//! closes such as `fclose` on an `fdopen`ed socket) whose number is reused
//! by an object that no hooked call created: the cache may describe the
//! old object until the number is closed through the hooks. A call the
//! cache wrongly believes a socket gets `ENOTSOCK` and corrects the entry;
//! a wrongly cached readiness wait is proven after 100 ms by the runtime.
//!
//! # Where it is compiled
//! `fcntl` and `ioctl` are C-variadic, which Rust cannot define: the hooks
//! define them with a fixed third argument the width of a register
//! (`usize`), which is ABI-compatible with every variadic call on the
//! targets where integer and pointer variadic arguments travel in the same
//! general registers as fixed ones — Linux on x86_64 (System V) and
//! aarch64 (AAPCS64) — because every third argument of these calls is an
//! `int` or a pointer. Elsewhere nothing is hooked and nothing cached:
//! every call asks the kernel ([`cached`] is `None`).
//!
//! # Invariants
//! - A VALID word holds what the kernel said at some instant after the
//!   last hooked change of the descriptor (the version makes a racing fill
//!   lose to the invalidation that follows every change).
//! - A SHARED word is never VALID.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::route::{errno, set_errno, sock_int};

/// Descriptor numbers below this are cached (512 KiB of address space,
/// zero pages until used); larger ones ask the kernel every time.
pub(crate) const SLOTS: usize = 1 << 16;

/// Whether the cache is compiled in (see the module docs).
pub(crate) const ENABLED: bool = cfg!(variadic_hooks);

const VALID: u64 = 1;
const NONBLOCK: u64 = 1 << 1;
const SOCKET: u64 = 1 << 2;
const TCP: u64 = 1 << 3;
const RCVTIMEO: u64 = 1 << 4;
const SNDTIMEO: u64 = 1 << 5;
const SHARED: u64 = 1 << 6;
const VERSION_ONE: u64 = 1 << 8;
const VERSION: u64 = !(VERSION_ONE - 1);

static WORDS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// What a descriptor's caller asked for, as the cache (or the kernel) says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fd(u64);

impl Fd {
    /// `O_NONBLOCK` (or `FIONBIO`) is set.
    #[inline(always)]
    pub(crate) fn nonblocking(self) -> bool {
        self.0 & NONBLOCK != 0
    }

    /// A socket (`SO_TYPE` answered).
    #[inline(always)]
    pub(crate) fn socket(self) -> bool {
        self.0 & SOCKET != 0
    }

    /// A TCP stream (`SOCK_STREAM`, `IPPROTO_TCP`): a short read empties
    /// its receive queue.
    #[inline(always)]
    pub(crate) fn tcp(self) -> bool {
        self.0 & TCP != 0
    }

    /// `SO_RCVTIMEO` (`read: true`) or `SO_SNDTIMEO` is set.
    #[inline(always)]
    pub(crate) fn has_timeout(self, read: bool) -> bool {
        self.0 & if read { RCVTIMEO } else { SNDTIMEO } != 0
    }
}

#[inline(always)]
fn word(fd: c_int) -> Option<&'static AtomicU64> {
    if !ENABLED {
        return None;
    }
    WORDS.get(usize::try_from(fd).ok()?)
}

/// The cached facts of `fd`, asking the kernel and caching its answer
/// when they are not cached yet; `None` where nothing is cached (a number
/// beyond [`SLOTS`], a SHARED descriptor, an invalid one, or a build
/// without the cache): the caller then asks the kernel itself.
#[inline]
pub(crate) fn cached(fd: c_int) -> Option<Fd> {
    let w = word(fd)?;
    let seen = w.load(Ordering::Acquire);
    if seen & VALID != 0 {
        return Some(Fd(seen));
    }
    fill(fd, w, seen)
}

#[cold]
#[inline(never)]
fn fill(fd: c_int, w: &AtomicU64, seen: u64) -> Option<Fd> {
    if seen & SHARED != 0 {
        return None;
    }
    let facts = query(fd)?;
    let new = (seen & VERSION) | facts | VALID;
    // Lost to an invalidation: the answer is still the kernel's, use it once.
    let _ = w.compare_exchange(seen, new, Ordering::AcqRel, Ordering::Relaxed);
    Some(Fd(new))
}

/// Asks the kernel; `None` when `fd` is not an open descriptor. `errno` is
/// kept.
fn query(fd: c_int) -> Option<u64> {
    let entry = errno();
    let out = (|| {
        // SAFETY: F_GETFL reads the descriptor's flags; no memory passed.
        let fl = unsafe { crate::track::real_fcntl(fd, libc::F_GETFL, 0) };
        if fl < 0 {
            return None;
        }
        let mut facts = if fl & libc::O_NONBLOCK != 0 { NONBLOCK } else { 0 };
        let Some(ty) = sock_int(fd, libc::SO_TYPE) else { return Some(facts) };
        facts |= SOCKET;
        if ty == libc::SOCK_STREAM && sock_int(fd, libc::SO_PROTOCOL) == Some(libc::IPPROTO_TCP) {
            facts |= TCP;
        }
        if timeout_set(fd, libc::SO_RCVTIMEO) {
            facts |= RCVTIMEO;
        }
        if timeout_set(fd, libc::SO_SNDTIMEO) {
            facts |= SNDTIMEO;
        }
        Some(facts)
    })();
    set_errno(entry);
    out
}

/// Whether a socket timeout option is set (non-zero); an error counts as
/// set, so that the caller asks again when it needs the value.
fn timeout_set(fd: c_int, opt: c_int) -> bool {
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are valid for writes of the sizes given.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&raw mut tv).cast(), &mut len) };
    r != 0 || tv.tv_sec > 0 || tv.tv_usec > 0
}

/// Forgets the facts of `fd` after a change of them (`F_SETFL`, `FIONBIO`,
/// a `SOL_SOCKET` option): the next rerouted call asks the kernel. A
/// SHARED mark stays.
#[inline]
pub(crate) fn invalidate(fd: c_int) {
    if let Some(w) = word(fd) {
        let _ = w.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
            Some(((v & VERSION).wrapping_add(VERSION_ONE)) | (v & SHARED))
        });
    }
}

/// Forgets everything about `fd`, SHARED mark included: the number now
/// names (or will name) another object (`close`, the target of `dup2`,
/// a number `accept` returned).
#[inline]
pub(crate) fn reset(fd: c_int) {
    if let Some(w) = word(fd) {
        let _ = w.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| Some((v & VERSION).wrapping_add(VERSION_ONE)));
    }
}

/// Marks `fd` as sharing its open file description with another number
/// (a `dup`): never cached again until it is closed.
#[inline]
pub(crate) fn share(fd: c_int) {
    if let Some(w) = word(fd) {
        let _ = w.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
            Some(((v & VERSION).wrapping_add(VERSION_ONE)) | SHARED)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_fill_that_races_an_invalidation_is_not_cached() {
        if !ENABLED {
            return;
        }
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let w = word(fd).unwrap();
        reset(fd);
        let seen = w.load(Ordering::Acquire);
        invalidate(fd);
        assert!(fill(fd, w, seen).is_some());
        assert_eq!(w.load(Ordering::Acquire) & VALID, 0, "a stale fill was stored");
        let f = cached(fd).unwrap();
        assert!(f.socket() && !f.tcp() && !f.nonblocking());
        assert_ne!(w.load(Ordering::Acquire) & VALID, 0);
    }

    #[test]
    fn shared_descriptors_are_never_cached_and_reset_clears_the_mark() {
        if !ENABLED {
            return;
        }
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        share(fd);
        assert!(cached(fd).is_none());
        invalidate(fd);
        assert!(cached(fd).is_none(), "invalidate keeps the SHARED mark");
        reset(fd);
        assert!(cached(fd).is_some());
    }

    #[test]
    fn a_tcp_stream_with_a_timeout_is_seen_as_such() {
        if !ENABLED {
            return;
        }
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
        reset(c.as_raw_fd());
        let f = cached(c.as_raw_fd()).unwrap();
        assert!(f.socket() && f.tcp() && f.has_timeout(true) && !f.has_timeout(false) && !f.nonblocking());
        assert!(cached(-1).is_none());
    }
}
