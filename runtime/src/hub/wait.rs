//! The hub's I/O waits: where a green thread (or the root) parks on a
//! socket's readiness (the readiness table, `readiness.rs`) or on a foreign
//! descriptor (`fds.rs`), and where the reactor's events come back in.
//!
//! # Model
//! A wait is always handed the hub it runs on (`&Hub`): the caller looked
//! it up once. It lists the current task in the table, counts it in the
//! reactor's `io_waiters`, parks ([`Hub::park`]), and takes itself off
//! however the park ends (wake-up, timeout, kill or timeout-scope unwind)
//! through a guard. The reactor callback ([`Hub::dispatch_io`]) marks the
//! table and unparks what it names.
//!
//! New kinds of waits (e.g. a C-level hook's wait on a foreign descriptor
//! that reports a kill or timeout as an error instead of unwinding) belong
//! here, next to [`Hub::wait_fd`].
//!
//! # Invariants
//! - Every waiter listed in either table is counted in `io_waiters`, and
//!   uncounted when it is taken off (by a wake-up or by its guard).
//! - No table borrow is held across `park`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::readiness::{Dir, IoKey, WaitEnd};
use super::{Hub, Wake};
use crate::deadlock::WouldBlockForever;
use crate::reactor::{self, Readiness, Token, FD_POLLER, FOREIGN_SWEEP};
use crate::task::WaitOn;

/// How long a wait on a foreign descriptor trusts its persistent
/// registration before proving it current (see [`Hub::wait_foreign`]).
pub(crate) const TRUST_FOR: Duration = Duration::from_millis(100);

impl Hub {
    /// Reactor callback: marks readiness and wakes the waiters.
    #[inline]
    pub(crate) fn dispatch_io(&self, token: Token, r: Readiness) {
        if token == FOREIGN_SWEEP {
            self.sweep_foreign();
        } else if token == FD_POLLER {
            // Foreign-fd waiters stay listed (and counted) until their
            // guard takes them off.
            self.fds.dispatch(|idx, gen| self.unpark_local(idx, gen));
        } else {
            self.io.dispatch(token, r, |idx, gen| {
                self.reactor.add_io_waiter(-1);
                self.unpark_local(idx, gen);
            });
        }
    }

    /// Parks the current task until `dir` is ready on the socket slot
    /// `key`, or `deadline` passes; says whether it became ready, timed
    /// out, or its slot was freed. With `clear`, first records that the
    /// caller's last call in `dir` returned `WouldBlock` (in the same
    /// lookup).
    ///
    /// Inlined into the registration's wait (another codegen unit), so
    /// that the park and its switch land in the caller, as `park` wants.
    #[inline]
    pub(crate) fn wait_slot(
        &self,
        key: IoKey,
        dir: Dir,
        deadline: Option<Instant>,
        mut clear: bool,
    ) -> Result<WaitEnd, WouldBlockForever> {
        loop {
            let me = self.current_key();
            if let Some(end) = self.io.enlist(key, dir, me, std::mem::take(&mut clear)) {
                return Ok(end);
            }
            self.reactor.add_io_waiter(1);
            let what = match dir {
                Dir::Read => WaitOn::named("socket readable"),
                Dir::Write => WaitOn::named("socket writable"),
            };
            // Remove ourselves from the waiter list however park ends
            // (wake-up, timeout, kill or timeout-scope unwind).
            let guard = SlotWaiter { hub: self, key, dir, me };
            let woke = self.park(deadline, what);
            drop(guard);
            if woke? == Wake::TimedOut {
                return Ok(WaitEnd::TimedOut);
            }
        }
    }

    /// Wakes every waiter of socket slot `key` and marks both directions
    /// ready, and the read side closed (used after a local `shutdown`, in
    /// case the kernel sends no edge).
    pub(crate) fn wake_slot(&self, key: IoKey) {
        self.dispatch_io(key.token(), Readiness { readable: true, writable: true, always_read: true });
    }

    /// Frees socket slot `key` (its fd already deregistered or closed),
    /// waking its waiters: they find the slot gone and retry.
    pub(crate) fn close_slot(&self, key: IoKey) {
        self.io.close_slot(key, |idx, gen| {
            self.reactor.add_io_waiter(-1);
            self.unpark_local(idx, gen);
        });
    }

    /// Parks until the foreign descriptor `fd` is ready in `dir`, through
    /// its persistent registration in the readiness table; `Ok(false)` if
    /// `deadline` passed. May return `Ok(true)` spuriously: the caller has
    /// just seen `EAGAIN` and retries its call after every wake-up.
    ///
    /// The first wait on `fd` at this hub registers it edge-triggered (both
    /// directions) under a fresh slot. Later waits trust that registration
    /// without a system call: the hooked `close`, `dup2` and `dup3` drop it
    /// (`forget_foreign`), and an edge-triggered registration reports every
    /// arrival after the caller's `EAGAIN`. Only a descriptor closed behind
    /// the hooks' back (a raw system call) can leave a stale entry whose
    /// file the kernel no longer watches. So every such wait is proven once
    /// while it is parked, within [`TRUST_FOR`]: it lists `fd` for the hub's
    /// *sweep*, a periodic timer (a timerfd in the hub's poll, running only
    /// while waits are listed) whose tick re-arms each listed registration
    /// that still has waiters with `EPOLL_CTL_MOD`. That proves it current
    /// (and raises an event if a direction is ready) or fails, and then the
    /// stale slot is freed (its waiters wake and retry) and the fd
    /// registers afresh under a new generation, whose first wait finds it
    /// ready. Events still in flight for the old generation are dropped by
    /// the table. So a raw close costs at most a late wake-up
    /// ([`TRUST_FOR`]), never a lost one — and a wait costs no timer of its
    /// own. (Where no timerfd can be made, each wait arms its own check
    /// after [`TRUST_FOR`] instead.) Descriptors the poll cannot hold this
    /// way (a socket the runtime owns registered at this hub, a regular
    /// file) take [`Hub::wait_fd`].
    pub(crate) fn wait_foreign(&self, fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
        let (key, mut proven) = match self.foreign.get(fd) {
            Some(key) => (key, self.sweep_will_prove(fd)),
            None => match self.register_foreign(fd) {
                Some(key) => (key, true),
                None => return self.wait_fd(fd, dir, deadline),
            },
        };
        // The caller's last call in `dir` said EAGAIN: clear the bit in the
        // same lookup; any arrival since raises an edge.
        let mut clear = true;
        loop {
            let check_at = (!proven).then(|| Instant::now() + TRUST_FOR);
            let until = match (deadline, check_at) {
                (Some(d), Some(c)) => Some(d.min(c)),
                (d, c) => d.or(c),
            };
            match self.wait_slot(key, dir, until, std::mem::take(&mut clear))? {
                WaitEnd::Ready | WaitEnd::Closed => return Ok(true),
                WaitEnd::TimedOut if until == deadline => return Ok(false),
                WaitEnd::TimedOut => {
                    if !self.prove_foreign(fd, key) {
                        // Closed behind the hooks' back (perhaps reused):
                        // the caller retries, and its next wait registers
                        // the file `fd` names now.
                        return Ok(true);
                    }
                    proven = true;
                }
            }
        }
    }

    /// Lists `fd` for the sweep, starting its timer if it is not running;
    /// `false` when there is no sweep (no timerfd): the wait proves itself.
    #[inline]
    fn sweep_will_prove(&self, fd: RawFd) -> bool {
        let f = &self.foreign;
        if !f.sweep_armed.get() && !self.arm_sweep() {
            return false;
        }
        f.list_unproven(fd);
        true
    }

    /// Starts the sweep's timer (making it on first use); `false` if it
    /// cannot run.
    #[cold]
    fn arm_sweep(&self) -> bool {
        let f = &self.foreign;
        if f.sweep_failed.get() {
            return false;
        }
        let mut sweep = f.sweep.borrow_mut();
        if sweep.is_none() {
            // SAFETY: timerfd_create takes no memory; a non-negative result
            // is a new descriptor owned by the OwnedFd made from it.
            let made = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
            if made < 0 {
                f.sweep_failed.set(true);
                return false;
            }
            // SAFETY: see above.
            let owned = unsafe { OwnedFd::from_raw_fd(made) };
            let reg = self.reactor.with_registry(|r| reactor::register_timer(r, owned.as_raw_fd(), FOREIGN_SWEEP));
            if reg.is_err() {
                f.sweep_failed.set(true);
                return false;
            }
            *sweep = Some(owned);
        }
        let Some(t) = sweep.as_ref() else { return false };
        if !set_timer(t.as_raw_fd(), Some(TRUST_FOR)) {
            f.sweep_failed.set(true);
            return false;
        }
        f.sweep_armed.set(true);
        true
    }

    /// The sweep's tick: proves the registrations listed since the last
    /// one that still have waiters; stops the timer when none were listed.
    fn sweep_foreign(&self) {
        let f = &self.foreign;
        if let Some(t) = f.sweep.borrow().as_ref() {
            let mut ticks = 0u64;
            // SAFETY: reads 8 bytes into `ticks` from our non-blocking
            // timerfd, straight to the C library (foreign.rs).
            crate::foreign::internal(|| unsafe { libc::read(t.as_raw_fd(), (&raw mut ticks).cast(), 8) });
        }
        let listed = f.take_unproven();
        if listed.is_empty() {
            if let Some(t) = f.sweep.borrow().as_ref() {
                set_timer(t.as_raw_fd(), None);
            }
            f.sweep_armed.set(false);
            return;
        }
        for &fd in &listed {
            if let Some(key) = f.get(fd) {
                if self.io.has_waiters(key) {
                    self.prove_foreign(fd, key);
                }
            }
        }
        f.recycle_unproven(listed);
    }

    /// Re-arms `fd`'s registration `key` (`EPOLL_CTL_MOD`): `true` when it
    /// is current; else the stale registration is dropped (its waiters
    /// wake and retry) and `false`.
    fn prove_foreign(&self, fd: RawFd, key: IoKey) -> bool {
        if self.reactor.with_registry(|r| reactor::reregister_socket(r, fd, key.token())).is_ok() {
            return true;
        }
        self.forget_foreign(fd);
        false
    }

    /// Registers `fd` persistently at this hub (see [`Hub::wait_foreign`]);
    /// `None` when the poll refuses it.
    fn register_foreign(&self, fd: RawFd) -> Option<IoKey> {
        let key = self.io.register(&self.reactor, fd).ok()?;
        self.foreign.set(fd, key);
        Some(key)
    }

    /// Drops `fd`'s persistent foreign registration at this hub, if any
    /// (before the runtime registers the same descriptor as its own, and
    /// when the descriptor is closed through the hooks): removes it from
    /// the poll (the descriptor must still be open to be removed; if it is
    /// not, the kernel already did) and frees its slot, waking its waiters
    /// to retry their calls.
    pub(crate) fn forget_foreign(&self, fd: RawFd) {
        if let Some(key) = self.foreign.take(fd) {
            let _ = self.reactor.with_registry(|r| reactor::deregister(r, fd));
            self.close_slot(key);
        }
    }

    /// Whether `fd`'s persistent foreign registration here is known to have
    /// nothing to read (see `foreign::read_known_drained`).
    #[inline]
    pub(crate) fn foreign_read_known_drained(&self, fd: RawFd) -> bool {
        self.foreign.get(fd).is_some_and(|key| self.io.known_drained(key, Dir::Read))
    }

    /// Clears the read bit of `fd`'s persistent foreign registration here,
    /// if any (see `foreign::read_drained`).
    #[inline]
    pub(crate) fn foreign_read_drained(&self, fd: RawFd) {
        if let Some(key) = self.foreign.get(fd) {
            self.io.clear_ready(key, Dir::Read);
        }
    }

    /// Parks until the foreign descriptor `fd` is ready in `dir`;
    /// `Ok(false)` if `deadline` passed.
    pub(crate) fn wait_fd(&self, fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
        let fds = &self.fds;
        fds.ensure_poller(&self.reactor)?;
        let task = self.current_key();
        let key = fds.enlist(fd, task, dir)?;
        self.reactor.add_io_waiter(1);
        let mut guard = FdWaiter { hub: self, key, task, done: false };
        let what = match dir {
            Dir::Read => WaitOn::named("fd readable"),
            Dir::Write => WaitOn::named("fd writable"),
        };
        loop {
            let woke = self.park(deadline, what)?;
            if woke == Wake::TimedOut || fds.fired(key, task) {
                guard.done = true;
                return Ok(fds.delist(key, task));
            }
            // Spurious wake-up: keep waiting.
        }
    }
}

/// Sets the periodic timerfd `fd` to tick every `period`, or stops it
/// (`None`); `false` on failure.
fn set_timer(fd: RawFd, period: Option<Duration>) -> bool {
    let ts = |d: Duration| libc::timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ };
    let p = period.map_or(libc::timespec { tv_sec: 0, tv_nsec: 0 }, ts);
    let spec = libc::itimerspec { it_interval: p, it_value: p };
    // SAFETY: `spec` is a valid itimerspec; no old value is asked for.
    unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) == 0 }
}

/// Takes a waiter off its socket slot's list when its wait ends for any
/// reason.
struct SlotWaiter<'a> {
    hub: &'a Hub,
    key: IoKey,
    dir: Dir,
    me: (u32, u32),
}

impl Drop for SlotWaiter<'_> {
    fn drop(&mut self) {
        if self.hub.io.delist(self.key, self.dir, self.me) {
            self.hub.reactor.add_io_waiter(-1);
        }
    }
}

/// Removes a foreign-descriptor waiter however its wait ends (wake-up,
/// timeout, kill).
struct FdWaiter<'a> {
    hub: &'a Hub,
    key: usize,
    task: (u32, u32),
    done: bool,
}

impl Drop for FdWaiter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.hub.fds.delist(self.key, self.task);
        }
        self.hub.reactor.add_io_waiter(-1);
    }
}

#[cfg(test)]
impl Hub {
    /// Deregisters `fd` and frees its slot (test helper).
    pub(crate) fn deregister_slot(&self, key: IoKey, fd: RawFd) {
        let _ = self.reactor.with_registry(|r| crate::reactor::deregister(r, fd));
        self.close_slot(key);
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_stale_token_wakes_nobody_on_the_slot_that_reused_it() {
        let hub = Hub::current();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let old = hub.io.register(&hub.reactor, a.as_raw_fd()).unwrap();
        hub.deregister_slot(old, a.as_raw_fd());
        let new = hub.io.register(&hub.reactor, b.as_raw_fd()).unwrap();
        assert_eq!(new.idx, old.idx, "the slab reuses the freed slot");
        assert_ne!(new.gen, old.gen);
        hub.io.clear_ready(new, Dir::Read);
        // An event still in flight for the old registration is dropped.
        hub.dispatch_io(old.token(), Readiness { readable: true, writable: true, always_read: false });
        assert!(!hub.io.is_ready(new, Dir::Read).unwrap());
        // Its own token does mark it.
        hub.dispatch_io(new.token(), Readiness { readable: true, writable: false, always_read: false });
        assert!(hub.io.is_ready(new, Dir::Read).unwrap());
        hub.deregister_slot(new, b.as_raw_fd());
        assert!(hub.io.is_ready(new, Dir::Read).is_err());
    }

    #[test]
    fn a_freed_slot_wakes_its_waiter_with_closed() {
        let hub = Hub::current();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let key = hub.io.register(&hub.reactor, a.as_raw_fd()).unwrap();
        hub.io.clear_ready(key, Dir::Read);
        let closer = crate::spawn(move || Hub::current().close_slot(key));
        let end = hub.wait_slot(key, Dir::Read, None, true).unwrap();
        assert_eq!(end, WaitEnd::Closed);
        assert_eq!(hub.reactor.io_waiters(), 0);
        closer.join().unwrap();
        let _ = hub.reactor.with_registry(|r| crate::reactor::deregister(r, a.as_raw_fd()));
    }
}
