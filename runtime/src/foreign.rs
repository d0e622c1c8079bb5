//! Waits made from foreign frames: code that must not unwind.
//!
//! A blocking call reached through C frames (a C library's `recv`, std's
//! `read` on a raw descriptor) can still wait green, but it must never
//! unwind: unwinding out of an `extern "C"` function aborts the process.
//! This module gives such callers what the rest of the runtime gives Rust
//! code, with the unwinding taken out:
//!
//! - [`may_park`]: one thread-local read that says whether the calling code
//!   may park at all — true only while a green thread runs its own code, or
//!   while the root code of an OS thread that has a hub runs outside the
//!   hub's loop. It is false on threads without a hub (a hub is never
//!   created here), inside the hub's loop and reactor (so the runtime's own
//!   descriptor reads and writes, e.g. the reactor's waker, never come back
//!   here), inside [`internal`] sections, and in the runtime's fault handler.
//! - [`wait_readable`], [`wait_writable`], [`sleep_until`], [`run_blocking`]:
//!   the runtime's waits, returning [`Interrupted`] instead of unwinding
//!   when the green thread is killed or its timeout scope fires.
//!
//! # Invariants
//! - An interrupted wait leaves the kill or the timeout *pending*: the kill
//!   request is re-armed and the expired scope stays on the green thread, so
//!   either takes effect at the next park made from Rust code (the next
//!   `park` sees the kill, or arms the scope's already-passed deadline and
//!   fires at once).
//! - A wait that is interrupted before it parks (a kill already pending)
//!   parks nothing: it returns at once.
//! - Every wait cleans up after itself whatever ends it (fd waits delist
//!   their waiter, as in `io/fd.rs`), so nothing stale is left to wake a
//!   later wait on a reused descriptor number.
//!
//! ```
//! use greenpatch_runtime::foreign;
//! // Plain code on a thread without a hub may not park: hooks pass through.
//! std::thread::spawn(|| assert!(!foreign::may_park())).join().unwrap();
//! // Green code may.
//! assert!(greenpatch_runtime::spawn(foreign::may_park).join().unwrap());
//! ```

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crate::hub::{Hub, KillSignal, ScopeExpired};
use crate::io::Dir;
use crate::task::Kill;

thread_local! {
    /// Whether code running now may park (see the module docs).
    static MAY_PARK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling code may park the calling green thread (or root):
/// one thread-local read. False on threads without a hub, inside the hub's
/// loop, inside [`internal`] sections and in the runtime's fault handler.
///
/// ```
/// assert!(!std::thread::spawn(greenpatch_runtime::foreign::may_park).join().unwrap());
/// ```
#[inline(always)]
pub fn may_park() -> bool {
    // A `const` thread-local without a destructor: `with` cannot fail, even
    // during thread teardown.
    MAY_PARK.with(Cell::get)
}

/// Sets the flag; returns its previous value (for the hub's transitions).
#[inline(always)]
pub(crate) fn set_may_park(on: bool) -> bool {
    MAY_PARK.with(|c| c.replace(on))
}

/// Runs `f` with [`may_park`] false: for the runtime's own system calls on
/// descriptors it owns (already non-blocking), which must go straight to the
/// C library, and for code that must not switch (a signal handler).
///
/// ```
/// use greenpatch_runtime::foreign;
/// let h = greenpatch_runtime::spawn(|| foreign::internal(foreign::may_park));
/// assert!(!h.join().unwrap());
/// ```
#[inline(always)]
pub fn internal<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        #[inline(always)]
        fn drop(&mut self) {
            set_may_park(self.0);
        }
    }
    let _restore = Restore(set_may_park(false));
    f()
}

/// Why a foreign-frame wait ended without its condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupted {
    /// The green thread was killed; the kill is still pending and lands at
    /// its next park from Rust code.
    Killed,
    /// A [`with_timeout`](crate::with_timeout) scope's deadline passed; the
    /// scope still fires at the next park from Rust code.
    TimedOut,
    /// A root's wait could never end ([`WouldBlockForever`](crate::WouldBlockForever)).
    WouldBlockForever,
    /// The runtime failed (a panic inside the wait, or the poller could not
    /// watch the descriptor); nothing was waited for.
    Failed,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interrupted::Killed => "the green thread was killed during the wait",
            Interrupted::TimedOut => "a timeout scope expired during the wait",
            Interrupted::WouldBlockForever => "the wait could never end (would block forever)",
            Interrupted::Failed => "the runtime could not wait",
        })
    }
}

impl std::error::Error for Interrupted {}

/// Turns an unwind out of a runtime wait into an [`Interrupted`], leaving a
/// kill pending again.
#[cold]
fn caught(payload: Box<dyn Any + Send>) -> Interrupted {
    if payload.is::<KillSignal>() {
        if let Some(hub) = Hub::try_current() {
            hub.rearm_kill();
        }
        return Interrupted::Killed;
    }
    if payload.is::<ScopeExpired>() {
        return Interrupted::TimedOut;
    }
    Interrupted::Failed
}

#[inline]
fn no_unwind<T>(f: impl FnOnce() -> T) -> Result<T, Interrupted> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(caught)
}

fn fd_wait(fd: RawFd, dir: Dir, deadline: Option<Instant>) -> Result<bool, Interrupted> {
    let hub = Hub::current();
    match no_unwind(|| hub.wait_foreign(fd, dir, deadline))? {
        Ok(ready) => Ok(ready),
        Err(e) if e.get_ref().is_some_and(|inner| inner.is::<crate::WouldBlockForever>()) => {
            Err(Interrupted::WouldBlockForever)
        }
        Err(_) => Err(Interrupted::Failed),
    }
}

/// Parks until `fd` is readable (`Ok(true)`) or `deadline` passes
/// (`Ok(false)`), without ever unwinding. Call only where [`may_park`] is
/// true.
///
/// # Errors
/// [`Interrupted`]: killed, timeout scope expired, would block forever, or
/// the descriptor cannot be watched (a regular file: it is always ready).
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use greenpatch_runtime::foreign;
/// let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let h = greenpatch_runtime::spawn(move || foreign::wait_readable(b.as_raw_fd(), None));
/// a.write_all(b"x").unwrap();
/// assert_eq!(h.join().unwrap(), Ok(true));
/// ```
pub fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> Result<bool, Interrupted> {
    fd_wait(fd, Dir::Read, deadline)
}

/// Like [`wait_readable`], for writability.
///
/// # Errors
/// As [`wait_readable`].
///
/// ```
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert_eq!(greenpatch_runtime::foreign::wait_writable(a.as_raw_fd(), None), Ok(true));
/// ```
pub fn wait_writable(fd: RawFd, deadline: Option<Instant>) -> Result<bool, Interrupted> {
    fd_wait(fd, Dir::Write, deadline)
}

/// Drops the calling thread's hub's persistent registration of the foreign
/// descriptor `fd`, if it has one: for a C-level `close` (or a `dup2` over
/// `fd`), called while `fd` is still open. Green threads of this hub
/// waiting on `fd` wake and retry their calls (which then fail as the
/// closed descriptor makes them, e.g. `EBADF`), instead of waiting for an
/// event that a closed descriptor never raises. Never creates a hub;
/// a no-op without one. Only this hub's registration is dropped: another
/// hub's wait finds its own stale when it proves it (the kernel refuses to
/// re-arm it), so at worst it wakes late, never misses a wake-up.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// greenpatch_runtime::foreign::forget(a.as_raw_fd()); // nothing registered: a no-op
/// ```
pub fn forget(fd: RawFd) {
    if let Some(hub) = Hub::try_current() {
        hub.forget_foreign(fd);
    }
}

/// Whether the calling thread's hub knows that `fd` has nothing to read:
/// the descriptor has this hub's persistent registration (a wait on it
/// made one), its last read came back short ([`read_drained`]) or said
/// `EAGAIN`, no event arrived since, and the reactor never reported its
/// read side closed, an error or urgent data. A C-level hook then waits
/// before reading, instead of making a call that would say `EAGAIN` (the
/// short-read rule of the runtime's own TCP streams). `false` without a
/// hub or a registration. Never creates a hub.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(!greenpatch_runtime::foreign::read_known_drained(a.as_raw_fd()));
/// ```
#[inline]
pub fn read_known_drained(fd: RawFd) -> bool {
    Hub::try_current().is_some_and(|hub| hub.foreign_read_known_drained(fd))
}

/// Records that a read of `fd` just came back short (fewer bytes than
/// asked, but some), which on a TCP stream means its receive queue was
/// empty: see [`read_known_drained`]. Anything that arrives later raises a
/// new edge on the registration, so nothing is lost; call it right after
/// the read, before the hub can poll again. Only for TCP streams read
/// without `MSG_PEEK` (a datagram, or a Unix stream stopping at a message
/// that carries descriptors, may come back short with more queued). A
/// no-op without a hub or a registration. Never creates a hub.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// greenpatch_runtime::foreign::read_drained(a.as_raw_fd()); // no registration: a no-op
/// ```
#[inline]
pub fn read_drained(fd: RawFd) {
    if let Some(hub) = Hub::try_current() {
        hub.foreign_read_drained(fd);
    }
}

/// Sleeps the calling green thread (or root) until `deadline`, without
/// ever unwinding.
///
/// # Errors
/// [`Interrupted`] when killed or a timeout scope expired first.
///
/// ```
/// use std::time::{Duration, Instant};
/// let d = Instant::now() + Duration::from_millis(5);
/// greenpatch_runtime::foreign::sleep_until(d).unwrap();
/// assert!(Instant::now() >= d);
/// ```
pub fn sleep_until(deadline: Instant) -> Result<(), Interrupted> {
    no_unwind(|| crate::park::sleep_until(deadline))
}

/// Spends one unit of the cooperative budget ([`crate::coop`]) for a call
/// that completed without waiting — what a C-level hook calls on its fast
/// path — and, when the budget is used up, yields to the hub without ever
/// unwinding: a kill that arrives at that yield stays pending for the next
/// park made from Rust code (as for [`Interrupted::Killed`]). Where the
/// calling code may not park ([`may_park`] is false) it only counts.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let done = Arc::new(AtomicBool::new(false));
/// let d = done.clone();
/// let h = greenpatch_runtime::spawn(move || d.store(true, Ordering::SeqCst));
/// // A hook's loop that never waits still lets the other green thread run.
/// while !done.load(Ordering::SeqCst) {
///     greenpatch_runtime::foreign::spend();
/// }
/// h.join().unwrap();
/// ```
#[inline]
pub fn spend() {
    if !crate::coop::take() {
        spend_exhausted();
    }
}

#[cold]
#[inline(never)]
fn spend_exhausted() {
    // A hook spends before its call: the yield must leave the caller's
    // `errno` as it found it.
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's life; a green thread never changes OS thread.
    let saved = unsafe { *libc::__errno_location() };
    if may_park() {
        let _ = no_unwind(|| crate::coop::exhausted(true));
    } else {
        crate::coop::exhausted(false);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// Runs `f` on the blocking pool and waits for it, without ever unwinding.
/// When the wait is interrupted, `f` still runs to its end on the pool and
/// its result is dropped there: give it only owned data.
///
/// # Errors
/// [`Interrupted`] when killed or a timeout scope expired first, or
/// `Failed` when `f` panicked.
///
/// ```
/// assert_eq!(greenpatch_runtime::foreign::run_blocking(|| 2 + 2), Ok(4));
/// ```
pub fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Interrupted> {
    let handle = crate::blocking::spawn_blocking(f);
    match no_unwind(move || handle.join())? {
        Ok(v) => Ok(v),
        Err(_) => Err(Interrupted::Failed),
    }
}

impl Hub {
    /// Re-arms a kill that a foreign-frame wait caught (it was taken when
    /// the park unwound), so the next park delivers it.
    fn rearm_kill(&self) {
        self.running_task().kill.set(Kill::Requested);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn a_kill_during_a_foreign_wait_returns_killed_and_lands_at_the_next_park() {
        std::thread::spawn(|| {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            let seen = Arc::new(Mutex::new(None));
            let s = seen.clone();
            let h = crate::spawn_local(move || {
                *s.lock().unwrap() = Some(wait_readable(a.as_raw_fd(), None));
                // Not parking yet: a foreign wait fails at once while the
                // kill is pending, without parking.
                let again = wait_readable(a.as_raw_fd(), None);
                assert_eq!(again, Err(Interrupted::Killed));
                crate::sleep(Duration::from_secs(30));
                unreachable!("the kill did not land at the next park");
            });
            crate::sleep(Duration::from_millis(20));
            h.kill();
            assert!(matches!(h.join(), Err(crate::JoinError::Killed)));
            assert_eq!(seen.lock().unwrap().take(), Some(Err(Interrupted::Killed)));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_timeout_scope_during_a_foreign_wait_returns_timed_out_and_fires_at_the_next_park() {
        std::thread::spawn(|| {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            let mut got = None;
            let r = crate::with_timeout(Duration::from_millis(30), || {
                got = Some(wait_readable(a.as_raw_fd(), None));
                crate::sleep(Duration::from_secs(30));
            });
            assert!(r.is_err(), "the scope did not fire at the next park");
            assert_eq!(got, Some(Err(Interrupted::TimedOut)));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn may_park_is_true_only_in_green_and_root_code_outside_internal_sections() {
        std::thread::spawn(|| {
            assert!(!may_park(), "a thread without a hub");
            let in_green = crate::spawn_local(|| (may_park(), internal(may_park), may_park())).join().unwrap();
            assert_eq!(in_green, (true, false, true));
            // The root drove the loop for that join and may park again.
            assert!(may_park());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn an_interrupted_blocking_job_still_runs_and_drops_its_result_on_the_pool() {
        std::thread::spawn(|| {
            struct Flag(Arc<AtomicBool>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let dropped = Arc::new(AtomicBool::new(false));
            let d = dropped.clone();
            let r = crate::with_timeout(Duration::from_millis(20), move || {
                run_blocking(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    Flag(d)
                })
                .map(|_| ())
            });
            assert_eq!(r.ok(), Some(Err(Interrupted::TimedOut)));
            let t = Instant::now();
            while !dropped.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(dropped.load(Ordering::SeqCst), "the job's result was not dropped");
        })
        .join()
        .unwrap();
    }
}
