//! Readiness table: how green threads wait for sockets the runtime owns.
//!
//! # Model
//! A socket registers with a hub's reactor (edge-triggered, readable and
//! writable) the first time one of its operations has to wait, and gets an
//! [`IoKey`]: a slot in that hub's table plus the slot's generation, packed
//! into the mio token. Each slot keeps one readiness bit per direction and
//! the green threads waiting for it.
//!
//! An operation tries the system call first; on `WouldBlock` it clears the
//! direction's bit and parks until the reactor sets it again. Because the
//! hub is single-threaded, no event can be dispatched between the failed
//! call and the clearing of the bit, so no edge is lost. The hot path (the
//! call succeeds) touches nothing here.
//!
//! TCP reads add the *short-read rule* (as tokio does): a read that returns
//! fewer bytes than asked emptied the receive queue, so it clears the bit
//! at once ([`Registration::drained`]), and the next read parks without the
//! system call that would only say `EAGAIN` — unless an event set the bit
//! again meanwhile ([`Registration::known_drained`]). Data that arrives
//! after the read raises a new edge, so the rule loses nothing; the clear
//! happens before the hub can poll again, so it cannot erase such an edge.
//! Two states break the rule. End of stream raises no edge after it: a
//! read that eats the FIN with the last bytes comes back short, and the
//! reads after it return 0 with nothing further to report. Urgent data
//! stops a read short at its mark with bytes queued behind it. So once
//! the reactor has reported the read side closed (hang-up, error) or
//! urgent data (`EPOLLPRI`), the slot's `always_read` is set for good and
//! its reads always ask the kernel.
//!
//! A socket handle owns a [`Registration`]: which hub it is registered with
//! (its *home*) and its key there, found on the waiting path with one
//! atomic load (no lock, no read-modify-write). Sockets are `Send`, so an
//! operation may come from another hub. That hub then waits through its
//! own oneshot poller (`fd.rs`) for this one operation, and asks the home
//! hub (one message, at most one in flight) to release the registration if
//! none of its green threads waits on it — which the home hub can tell
//! exactly from its table. Released, the socket registers with the next hub
//! that waits on it. A green thread of the old home that raced in wakes,
//! finds its slot gone and retries. So a socket handed to another thread
//! moves there after one wait, and a socket used by two hubs at once works
//! from both without either stealing it from the other's waiters.
//! (If the home hub's thread has exited, the request is never served: other
//! hubs keep waiting through their oneshot pollers — correct, a little
//! slower.)
//!
//! # Invariants
//! - A token whose generation differs from its slot's is stale (the socket
//!   was closed and its fd number or slot reused): its events are dropped.
//!   Generations run from 1 to [`GEN_MAX`] (22 bits), so no token equals
//!   the reactor's reserved tokens and a key packs into one word with its
//!   hub (the lock-free lookup of [`Registration::wait`]).
//! - Every waiter listed in a slot is counted in the reactor's
//!   `io_waiters` (for the would-block-forever check).
//! - Freeing a slot wakes all its waiters; they find the slot gone and
//!   retry (the registration moved; see [`Registration::wait`]).
//! - A registered descriptor is deregistered before it is closed
//!   ([`Registration::deregister`] runs in the handle's `Drop`).

pub(crate) mod fd;

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};
use slab::Slab;

use crate::deadlock::WouldBlockForever;
use crate::hub::{Hub, Wake};
use crate::reactor::{Readiness, FD_POLLER};
use crate::registry::HubShared;
use crate::remote::Msg;
use crate::task::WaitOn;

/// Which readiness a waiter wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// Largest slot generation (22 bits; then it wraps to 1).
pub(crate) const GEN_MAX: u32 = (1 << 22) - 1;

/// A socket's place in its hub's readiness table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

impl IoKey {
    fn token(self) -> Token {
        Token(((self.gen as usize) << 32) | self.idx as usize)
    }

    fn from_token(t: Token) -> IoKey {
        IoKey { idx: t.0 as u32, gen: (t.0 >> 32) as u32 }
    }
}

struct Slot {
    gen: u32,
    ready: [bool; 2],
    /// The reactor reported the read side closed (end of stream, hang-up,
    /// error) or urgent data: a short read proves nothing any more (see the
    /// module docs), so reads always ask the kernel. Never cleared.
    always_read: bool,
    waiters: [Vec<(u32, u32)>; 2],
}

/// How a wait on a slot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    Ready,
    TimedOut,
    /// The slot was freed (closed or migrated) while waiting.
    Closed,
}

/// What every owned socket registers for: both directions, and on Linux
/// urgent data too (`EPOLLPRI`), which the short-read rule must hear of.
fn interests() -> Interest {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return Interest::READABLE | Interest::WRITABLE;
}

/// One hub's readiness table.
pub(crate) struct IoTable {
    slots: RefCell<Slab<Slot>>,
    next_gen: Cell<u32>,
    /// Waits on descriptors the runtime does not own.
    pub(crate) fds: fd::FdWaits,
}

/// The error a lookup of a freed slot gets (test helpers only: real
/// waiters retry, see [`Registration::wait`]).
#[cfg(test)]
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed while this green thread waited on it")
}

impl IoTable {
    pub(crate) fn new() -> IoTable {
        IoTable { slots: RefCell::new(Slab::new()), next_gen: Cell::new(1), fds: fd::FdWaits::new() }
    }

    /// Registers `source` with `hub`'s reactor for both directions.
    pub(crate) fn register(&self, hub: &Hub, source: &mut impl mio::event::Source) -> io::Result<IoKey> {
        let gen = self.next_gen.get();
        let next = gen + 1;
        self.next_gen.set(if next > GEN_MAX { 1 } else { next });
        let idx = self.slots.borrow_mut().insert(Slot {
            gen,
            // Assume ready until told otherwise: the first call tries the
            // system call anyway.
            ready: [true, true],
            always_read: false,
            waiters: [Vec::new(), Vec::new()],
        }) as u32;
        let key = IoKey { idx, gen };
        let res = hub.reactor.with_registry(|r| r.register(source, key.token(), interests()));
        if let Err(e) = res {
            self.slots.borrow_mut().remove(idx as usize);
            return Err(e);
        }
        Ok(key)
    }

    /// Deregisters `source` and wakes every waiter of its slot.
    #[cfg(test)]
    pub(crate) fn deregister(&self, hub: &Hub, key: IoKey, source: &mut impl mio::event::Source) {
        let _ = hub.reactor.with_registry(|r| r.deregister(source));
        self.close_slot(hub, key);
    }

    /// Frees a slot whose fd is already deregistered or closed (waking its
    /// waiters).
    pub(crate) fn close_slot(&self, hub: &Hub, key: IoKey) {
        let slot = {
            let mut slots = self.slots.borrow_mut();
            match slots.get(key.idx as usize) {
                Some(s) if s.gen == key.gen => slots.remove(key.idx as usize),
                _ => return,
            }
        };
        for list in slot.waiters {
            for (idx, gen) in list {
                hub.reactor.add_io_waiter(-1);
                hub.unpark_local(idx, gen);
            }
        }
    }

    /// Whether `dir` is believed ready.
    #[cfg(test)]
    pub(crate) fn is_ready(&self, key: IoKey, dir: Dir) -> io::Result<bool> {
        match self.slots.borrow().get(key.idx as usize) {
            Some(s) if s.gen == key.gen => Ok(s.ready[dir as usize]),
            _ => Err(closed_error()),
        }
    }

    /// Whether `dir` is known not ready: its bit is clear and, for reads,
    /// the slot is not `always_read`. `false` when `key`'s slot is gone.
    #[inline]
    pub(crate) fn known_drained(&self, key: IoKey, dir: Dir) -> bool {
        match self.slots.borrow().get(key.idx as usize) {
            Some(s) if s.gen == key.gen => {
                let always = dir == Dir::Read && s.always_read;
                !s.ready[dir as usize] && !always
            }
            _ => false,
        }
    }

    /// Whether any green thread waits on `key` (in either direction).
    pub(crate) fn has_waiters(&self, key: IoKey) -> bool {
        let slots = self.slots.borrow();
        slots.get(key.idx as usize).is_some_and(|s| s.gen == key.gen && s.waiters.iter().any(|w| !w.is_empty()))
    }

    /// Records that the last call in `dir` found nothing left (it returned
    /// `WouldBlock`, or a stream read came back short).
    #[inline]
    pub(crate) fn clear_ready(&self, key: IoKey, dir: Dir) {
        if let Some(s) = self.slots.borrow_mut().get_mut(key.idx as usize) {
            if s.gen == key.gen {
                s.ready[dir as usize] = false;
            }
        }
    }

    /// Parks the current task until `dir` is ready or `deadline` passes;
    /// says whether it became ready, timed out, or its slot was freed.
    /// With `clear`, first records that the caller's last call in `dir`
    /// returned `WouldBlock` (in the same lookup).
    pub(crate) fn wait_slot(
        &self,
        hub: &Hub,
        key: IoKey,
        dir: Dir,
        deadline: Option<Instant>,
        mut clear: bool,
    ) -> Result<WaitEnd, WouldBlockForever> {
        loop {
            let me = hub.current_key();
            {
                let mut slots = self.slots.borrow_mut();
                let Some(s) = slots.get_mut(key.idx as usize).filter(|s| s.gen == key.gen) else {
                    return Ok(WaitEnd::Closed);
                };
                if std::mem::take(&mut clear) {
                    s.ready[dir as usize] = false;
                } else if s.ready[dir as usize] {
                    return Ok(WaitEnd::Ready);
                }
                s.waiters[dir as usize].push(me);
            }
            hub.reactor.add_io_waiter(1);
            let what = match dir {
                Dir::Read => WaitOn::named("socket readable"),
                Dir::Write => WaitOn::named("socket writable"),
            };
            // Remove ourselves from the waiter list however park ends
            // (wake-up, timeout, kill or timeout-scope unwind).
            let guard = WaiterGuard { table: self, hub, key, dir, me };
            let woke = hub.park(deadline, what);
            drop(guard);
            if woke? == Wake::TimedOut {
                return Ok(WaitEnd::TimedOut);
            }
        }
    }

    /// Wakes every waiter of `key` and marks both directions ready, and the
    /// read side closed (used after a local `shutdown`, in case the kernel
    /// sends no edge).
    pub(crate) fn wake_all(&self, hub: &Hub, key: IoKey) {
        self.dispatch(hub, key.token(), Readiness { readable: true, writable: true, always_read: true });
    }

    /// Reactor callback: marks readiness and wakes the waiters.
    pub(crate) fn dispatch(&self, hub: &Hub, token: Token, r: Readiness) {
        if token == FD_POLLER {
            self.fds.dispatch(hub);
            return;
        }
        let key = IoKey::from_token(token);
        let mut slots = self.slots.borrow_mut();
        let Some(s) = slots.get_mut(key.idx as usize) else { return };
        if s.gen != key.gen {
            return;
        }
        s.always_read |= r.always_read;
        // Waking only touches the hub's task table and run queue, never
        // this table, so the waiters are drained in place: no allocation.
        for (dir, on) in [(Dir::Read, r.readable), (Dir::Write, r.writable)] {
            if on {
                s.ready[dir as usize] = true;
                for (idx, gen) in s.waiters[dir as usize].drain(..) {
                    hub.reactor.add_io_waiter(-1);
                    hub.unpark_local(idx, gen);
                }
            }
        }
    }
}

/// Takes a waiter off its slot's list when its wait ends for any reason.
struct WaiterGuard<'a> {
    table: &'a IoTable,
    hub: &'a Hub,
    key: IoKey,
    dir: Dir,
    me: (u32, u32),
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let mut slots = self.table.slots.borrow_mut();
        if let Some(s) = slots.get_mut(self.key.idx as usize) {
            if s.gen == self.key.gen {
                let list = &mut s.waiters[self.dir as usize];
                if let Some(pos) = list.iter().position(|w| *w == self.me) {
                    list.swap_remove(pos);
                    self.hub.reactor.add_io_waiter(-1);
                }
            }
        }
    }
}

/// Where a socket is registered: its home hub, its key there, and the
/// descriptor it was registered through.
struct Home {
    hub: Arc<HubShared>,
    key: IoKey,
    fd: RawFd,
}

/// The part of a [`Registration`] a home hub may be asked to act on
/// after the fact (it outlives the handle if a message still holds it).
struct RegShared {
    /// Changed only under this lock; `fast` mirrors it. While it is
    /// `Some`, the handle is alive and `fd` open: the handle's `Drop` takes
    /// it (under the lock) before closing the descriptor.
    home: Mutex<Option<Home>>,
    /// # Invariant
    /// 0, or the home's hub index (20 bits), slot index (22 bits) and
    /// generation (22 bits) packed — equal to `home` whenever the lock is
    /// free. One word, so a reader never sees one hub's key paired with
    /// another hub (homes that do not fit in the widths stay 0: lock path).
    fast: AtomicU64,
    /// Another hub asked the home hub to release the registration and the
    /// request has not run yet (at most one message in flight).
    release_asked: AtomicBool,
}

/// One socket handle's reactor registration (see the module docs).
///
/// Registration is lazy: a socket that never has to wait is never
/// registered. The waiting path takes no lock and makes no atomic
/// read-modify-write at home: one atomic load finds the key.
///
/// Moving between hubs: a hub that needs to wait on a socket registered
/// elsewhere waits through its oneshot poller this time, and asks the home
/// hub (one message) to release the registration if none of its green
/// threads waits on it — which the home hub can tell exactly from its own
/// table. The next wait then registers where it happens.
pub(crate) struct Registration {
    shared: Arc<RegShared>,
}

fn pack(hub: &HubShared, key: IoKey) -> u64 {
    if hub.index >= 1 << 20 || key.idx >= 1 << 22 || key.gen > GEN_MAX {
        return 0;
    }
    (u64::from(hub.index) << 44) | (u64::from(key.idx) << 22) | u64::from(key.gen)
}

fn unpack(hub: &HubShared, packed: u64) -> Option<IoKey> {
    let mask = (1 << 22) - 1;
    (packed != 0 && packed >> 44 == u64::from(hub.index))
        .then_some(IoKey { idx: ((packed >> 22) & mask) as u32, gen: (packed & mask) as u32 })
}

impl Registration {
    pub(crate) fn new() -> Registration {
        Registration {
            shared: Arc::new(RegShared {
                home: Mutex::new(None),
                fast: AtomicU64::new(0),
                release_asked: AtomicBool::new(false),
            }),
        }
    }

    /// Waits until `fd` may be ready in `dir`, after an operation in that
    /// direction returned `WouldBlock`. `Ok(false)`: `deadline` passed.
    ///
    /// The caller retries its operation after `Ok(true)` (readiness is a
    /// hint: another green thread may have consumed it).
    pub(crate) fn wait(&self, fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
        self.wait_with(fd, dir, deadline, true)
    }

    /// As [`Registration::wait`]; `clear: false` for a caller that made no
    /// system call because [`Registration::known_drained`] said `dir` is not
    /// ready here: the readiness bit is already clear, and an event that
    /// set it since must not be cleared again.
    pub(crate) fn wait_with(
        &self,
        fd: RawFd,
        dir: Dir,
        deadline: Option<Instant>,
        mut clear: bool,
    ) -> io::Result<bool> {
        let hub = Hub::current();
        loop {
            let key = match unpack(&hub.shared, self.shared.fast.load(Ordering::Acquire)) {
                Some(key) => key,
                None => match self.key_on(hub, fd)? {
                    Some(key) => key,
                    None => return fd::wait_fd(hub, fd, dir, deadline),
                },
            };
            match hub.io.wait_slot(hub, key, dir, deadline, std::mem::replace(&mut clear, true))? {
                WaitEnd::Ready => return Ok(true),
                WaitEnd::TimedOut => return Ok(false),
                // Released meanwhile (moved to another hub): look again.
                WaitEnd::Closed => continue,
            }
        }
    }

    /// The key of this socket's slot if it is registered with `hub`.
    #[inline]
    fn key_here(&self, hub: &Hub) -> Option<IoKey> {
        unpack(&hub.shared, self.shared.fast.load(Ordering::Acquire))
    }

    /// Records that a call in `dir` just left nothing to do at the kernel
    /// (a stream read returned fewer bytes than asked: its receive queue
    /// was empty), so the next call in `dir` on this hub parks without a
    /// system call until the reactor reports new readiness. Anything that
    /// arrives later raises a new edge, so nothing is lost; the clearing
    /// must happen now, before this hub polls again, or it could erase
    /// such an edge. A no-op unless registered with the current hub.
    #[inline]
    pub(crate) fn drained(&self, dir: Dir) {
        if let Some(hub) = Hub::try_current() {
            if let Some(key) = self.key_here(hub) {
                hub.io.clear_ready(key, dir);
            }
        }
    }

    /// Whether the current hub knows `dir` is not ready: registered here,
    /// the last call in `dir` drained it, no event came since, and (for
    /// reads) the reactor never reported the read side closed or urgent
    /// data.
    #[inline]
    pub(crate) fn known_drained(&self, dir: Dir) -> bool {
        let Some(hub) = Hub::try_current() else { return false };
        self.key_here(hub).is_some_and(|key| hub.io.known_drained(key, dir))
    }

    /// The key to wait on at `hub`, registering here if the socket has no
    /// home; `None` when it lives at another hub (which is asked to let it
    /// go).
    fn key_on(&self, hub: &Hub, fd: RawFd) -> io::Result<Option<IoKey>> {
        let mut home = self.shared.home.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = &*home {
            if Arc::ptr_eq(&h.hub, &hub.shared) {
                return Ok(Some(h.key));
            }
            if !self.shared.release_asked.swap(true, Ordering::AcqRel) {
                let shared = self.shared.clone();
                h.hub.push(Msg::Run(Box::new(move || release_if_idle(&shared))));
            }
            return Ok(None);
        }
        let key = hub.io.register(hub, &mut SourceFd(&fd))?;
        self.shared.fast.store(pack(&hub.shared, key), Ordering::Release);
        *home = Some(Home { hub: hub.shared.clone(), key, fd });
        Ok(Some(key))
    }

    /// Removes the registration (the descriptor must still be open).
    pub(crate) fn deregister(&mut self) {
        let home = {
            let mut home = self.shared.home.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.fast.store(0, Ordering::Release);
            home.take()
        };
        if let Some(h) = home {
            release(h);
        }
    }

    /// Index of the home hub, if registered (for tests).
    #[cfg(test)]
    pub(crate) fn home_index(&self) -> Option<u32> {
        self.shared.home.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|h| h.hub.index)
    }

    /// Wakes every green thread waiting on this socket at its home hub.
    pub(crate) fn wake_all(&self) {
        let home = self.shared.home.lock().unwrap_or_else(|e| e.into_inner());
        let Some(h) = &*home else { return };
        let key = h.key;
        match Hub::try_current() {
            Some(cur) if Arc::ptr_eq(&cur.shared, &h.hub) => cur.io.wake_all(cur, key),
            _ => h.hub.push(Msg::Run(Box::new(move || {
                let hub = Hub::current();
                hub.io.wake_all(hub, key);
            }))),
        }
    }
}

/// Runs on the home hub when another hub asked for the socket: lets it go
/// if no green thread of this hub waits on it.
fn release_if_idle(shared: &RegShared) {
    let hub = Hub::current();
    let mut home = shared.home.lock().unwrap_or_else(|e| e.into_inner());
    shared.release_asked.store(false, Ordering::Release);
    let idle = match &*home {
        Some(h) => Arc::ptr_eq(&h.hub, &hub.shared) && !hub.io.has_waiters(h.key),
        None => false,
    };
    if idle {
        shared.fast.store(0, Ordering::Release);
        if let Some(h) = home.take() {
            release(h);
        }
    }
}

/// Deregisters a home's descriptor from its hub's poll and frees its slot.
fn release(home: Home) {
    // epoll_ctl is thread-safe: any thread may deregister.
    let _ = home.hub.registry.deregister(&mut SourceFd(&home.fd));
    let key = home.key;
    match Hub::try_current() {
        Some(cur) if Arc::ptr_eq(&cur.shared, &home.hub) => cur.io.close_slot(cur, key),
        _ => home.hub.push(Msg::Run(Box::new(move || {
            let hub = Hub::current();
            hub.io.close_slot(hub, key);
        }))),
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
        let old = hub.io.register(hub, &mut SourceFd(&a.as_raw_fd())).unwrap();
        let _ = hub.reactor.with_registry(|r| r.deregister(&mut SourceFd(&a.as_raw_fd())));
        hub.io.close_slot(hub, old);
        let new = hub.io.register(hub, &mut SourceFd(&b.as_raw_fd())).unwrap();
        assert_eq!(new.idx, old.idx, "the slab reuses the freed slot");
        assert_ne!(new.gen, old.gen);
        hub.io.clear_ready(new, Dir::Read);
        // An event still in flight for the old registration is dropped.
        hub.io.dispatch(hub, old.token(), Readiness { readable: true, writable: true, always_read: false });
        assert!(!hub.io.is_ready(new, Dir::Read).unwrap());
        // Its own token does mark it.
        hub.io.dispatch(hub, new.token(), Readiness { readable: true, writable: false, always_read: false });
        assert!(hub.io.is_ready(new, Dir::Read).unwrap());
        hub.io.deregister(hub, new, &mut SourceFd(&b.as_raw_fd()));
        assert!(hub.io.is_ready(new, Dir::Read).is_err());
    }

    #[test]
    fn a_freed_slot_wakes_its_waiter_with_closed() {
        let hub = Hub::current();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let key = hub.io.register(hub, &mut SourceFd(&a.as_raw_fd())).unwrap();
        hub.io.clear_ready(key, Dir::Read);
        let closer = crate::spawn(move || {
            let hub = Hub::current();
            hub.io.close_slot(hub, key);
        });
        let end = hub.io.wait_slot(hub, key, Dir::Read, None, true).unwrap();
        assert_eq!(end, WaitEnd::Closed);
        assert_eq!(hub.reactor.io_waiters(), 0);
        closer.join().unwrap();
        let _ = hub.reactor.with_registry(|r| r.deregister(&mut SourceFd(&a.as_raw_fd())));
    }

    #[test]
    fn a_packed_home_names_its_hub_and_key_or_falls_back_to_the_lock() {
        let hub = Hub::current();
        let key = IoKey { idx: 5, gen: GEN_MAX };
        assert_eq!(unpack(&hub.shared, pack(&hub.shared, key)), Some(key));
        assert_eq!(pack(&hub.shared, IoKey { idx: 1 << 22, gen: 1 }), 0);
        let other = std::thread::spawn(|| {
            let h = Hub::current();
            (h.shared.index, pack(&h.shared, IoKey { idx: 5, gen: 9 }))
        });
        let (index, packed) = other.join().unwrap();
        assert_ne!(index, hub.shared.index);
        assert_eq!(unpack(&hub.shared, packed), None, "another hub's key is not ours");
        assert_eq!(unpack(&hub.shared, 0), None);
    }

    #[test]
    fn tokens_never_collide_with_the_reserved_ones() {
        let t = IoTable::new();
        t.next_gen.set(GEN_MAX);
        let hub = Hub::current();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let k1 = t.register(hub, &mut SourceFd(&a.as_raw_fd())).unwrap();
        assert_eq!(k1.gen, GEN_MAX);
        let _ = hub.reactor.with_registry(|r| r.deregister(&mut SourceFd(&a.as_raw_fd())));
        let k2 = t.register(hub, &mut SourceFd(&a.as_raw_fd())).unwrap();
        assert_eq!(k2.gen, 1, "generations wrap to 1 after GEN_MAX");
        let _ = hub.reactor.with_registry(|r| r.deregister(&mut SourceFd(&a.as_raw_fd())));
    }
}
