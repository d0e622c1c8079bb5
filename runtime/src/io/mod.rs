//! Socket registrations: which hub a socket the runtime owns waits at.
//!
//! The read path runs facade → socket (`net/socket.rs`, which looks its hub
//! up once) → [`Registration`] (finds the socket's slot at that hub) → the
//! hub's wait (`hub/wait.rs`: list, park, switch) and back. The readiness
//! table itself is the hub's (`hub/readiness.rs`); descriptors the runtime
//! does not own are waited on through `fd.rs`.
//!
//! # Model
//! A socket handle owns a [`Registration`]: which hub it is registered with
//! (its *home*) and its key there, found on the waiting path with one
//! atomic load (no lock, no read-modify-write). Sockets are `Send`, so an
//! operation may come from another hub. That hub then waits through its
//! own oneshot poller (`hub/fds.rs`) for this one operation, and asks the
//! home hub (one message, at most one in flight) to release the
//! registration if none of its green threads waits on it — which the home
//! hub can tell exactly from its table. Released, the socket registers
//! with the next hub that waits on it. A green thread of the old home that
//! raced in wakes, finds its slot gone and retries. So a socket handed to
//! another thread moves there after one wait, and a socket used by two hubs
//! at once works from both without either stealing it from the other's
//! waiters. (If the home hub's thread has exited, the request is never
//! served: other hubs keep waiting through their oneshot pollers — correct,
//! a little slower.)
//!
//! # Invariants
//! - The packed home (`RegShared::fast`) equals `home` whenever its lock is
//!   free; it names its hub, so a key is never used at another hub.
//! - A registered descriptor is deregistered before it is closed
//!   ([`Registration::deregister`] runs in the handle's `Drop`).

pub(crate) mod fd;

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) use crate::hub::Dir;
use crate::hub::{Hub, IoKey, WaitEnd, GEN_MAX};
use crate::reactor;
use crate::registry::HubShared;
use crate::remote::Msg;

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

    /// Waits at `hub` (the caller's) until `fd` may be ready in `dir`,
    /// after an operation in that direction returned `WouldBlock`.
    /// `Ok(false)`: `deadline` passed. See [`Registration::wait_with`].
    pub(crate) fn wait(&self, hub: &Hub, fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
        self.wait_with(hub, fd, dir, deadline, true)
    }

    /// Waits at `hub` (the caller's) until `fd` may be ready in `dir`,
    /// after an operation in that direction returned `WouldBlock` (`clear:
    /// true`), or without one because [`Registration::known_drained`] said
    /// `dir` is not ready here (`clear: false`: the readiness bit is
    /// already clear, and an event that set it since must not be cleared
    /// again). `Ok(false)`: `deadline` passed.
    ///
    /// The caller retries its operation after `Ok(true)` (readiness is a
    /// hint: another green thread may have consumed it).
    pub(crate) fn wait_with(
        &self,
        hub: &Hub,
        fd: RawFd,
        dir: Dir,
        deadline: Option<Instant>,
        mut clear: bool,
    ) -> io::Result<bool> {
        loop {
            let key = match unpack(&hub.shared, self.shared.fast.load(Ordering::Acquire)) {
                Some(key) => key,
                None => match self.key_on(hub, fd)? {
                    Some(key) => key,
                    None => return hub.wait_fd(fd, dir, deadline),
                },
            };
            match hub.wait_slot(key, dir, deadline, std::mem::replace(&mut clear, true))? {
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
    /// such an edge. A no-op unless registered with `hub` (the caller's).
    #[inline]
    pub(crate) fn drained(&self, hub: &Hub, dir: Dir) {
        if let Some(key) = self.key_here(hub) {
            hub.io.clear_ready(key, dir);
        }
    }

    /// Whether `hub` (the caller's) knows `dir` is not ready: registered
    /// there, the last call in `dir` drained it, no event came since, and
    /// (for reads) the reactor never reported the read side closed or
    /// urgent data.
    #[inline]
    pub(crate) fn known_drained(&self, hub: &Hub, dir: Dir) -> bool {
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
        // A foreign wait (a C-level hook) may have registered this fd here.
        hub.forget_foreign(fd);
        let key = hub.io.register(&hub.reactor, fd)?;
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
            Some(cur) if Arc::ptr_eq(&cur.shared, &h.hub) => cur.wake_slot(key),
            _ => h.hub.push(Msg::Run(Box::new(move || Hub::current().wake_slot(key)))),
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
    let _ = reactor::deregister(&home.hub.registry, home.fd);
    let key = home.key;
    match Hub::try_current() {
        Some(cur) if Arc::ptr_eq(&cur.shared, &home.hub) => cur.close_slot(key),
        _ => home.hub.push(Msg::Run(Box::new(move || Hub::current().close_slot(key)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
