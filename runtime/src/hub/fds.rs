//! Waits on descriptors the runtime does not own (psycogreen's pattern):
//! one hub's table of them. The hub's waits (`wait.rs`) list themselves
//! here and park; the hub's reactor callback marks the fired ones.
//!
//! # Model
//! Each hub has, lazily, one oneshot poller (`reactor::FdPoller`) whose own
//! fd sits in the hub's mio poll. A wait adds its fd to that poller (or
//! re-arms it, when another green thread of the hub already waits on the
//! same fd) and parks. When the poller's fd turns readable the hub drains
//! it without blocking, marks the matching waiters fired and wakes them.
//! Waiters of one fd share one entry; the entry's armed interest is the
//! union of its unfired waiters', re-armed after every firing (oneshot
//! disarms it). The last waiter to leave deletes the fd from the poller.
//!
//! Sockets the runtime owns also come here when they are waited on from a
//! hub other than the one they are registered with (see `io/mod.rs`).
//!
//! # Invariants
//! - An fd is in the poller iff it has an entry, and an entry exists iff it
//!   has at least one waiter: the fd is deleted before the last wait on it
//!   returns (the `FdPoller` contract), whatever ends the wait.
//! - Every waiter is counted in the reactor's `io_waiters` while listed.
//! - Closing an fd while a green thread waits on it is the caller's bug:
//!   the kernel drops the fd from the poller silently, so that wait ends
//!   only by its timeout (or a kill). Nothing unsound follows: a stale
//!   event can only cause a spurious wake-up, which callers tolerate.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use slab::Slab;

use super::readiness::{Dir, IoKey};
use crate::reactor::{FdPoller, Interest, Reactor};

/// Descriptor numbers below this index [`ForeignKeys`]' vector; larger
/// ones (rare: numbers are allocated lowest first) its map.
const DENSE: usize = 1 << 16;

/// The persistent registrations of foreign descriptors: fd number → slot
/// of the hub's readiness table (see `Hub::wait_foreign` in `wait.rs`).
/// Looked up on every hooked read of a TCP stream, so small numbers index
/// a vector (generation 0, which no slot has, marks an empty entry).
pub(crate) struct ForeignKeys {
    dense: RefCell<Vec<Dense>>,
    sparse: RefCell<HashMap<RawFd, IoKey>>,
    /// Descriptors a wait parked on since the last sweep, through a
    /// registration it did not make (see `Hub::wait_foreign`); a dense one
    /// is listed once (its `listed` flag).
    unproven: RefCell<Vec<RawFd>>,
    /// The sweep's periodic timer (a timerfd in the hub's poll), once made.
    pub(crate) sweep: RefCell<Option<OwnedFd>>,
    /// Whether the sweep's timer runs.
    pub(crate) sweep_armed: Cell<bool>,
    /// The timer could not be made: waits arm their own check instead.
    pub(crate) sweep_failed: Cell<bool>,
}

#[derive(Clone, Copy)]
struct Dense {
    key: IoKey,
    listed: bool,
}

const EMPTY: Dense = Dense { key: IoKey { idx: 0, gen: 0 }, listed: false };

impl ForeignKeys {
    pub(crate) fn new() -> ForeignKeys {
        ForeignKeys {
            dense: RefCell::new(Vec::new()),
            sparse: RefCell::new(HashMap::new()),
            unproven: RefCell::new(Vec::new()),
            sweep: RefCell::new(None),
            sweep_armed: Cell::new(false),
            sweep_failed: Cell::new(false),
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self, fd: RawFd) -> Option<IoKey> {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE => self.dense.borrow().get(i).map(|d| d.key).filter(|k| k.gen != 0),
            _ => self.sparse.borrow().get(&fd).copied(),
        }
    }

    pub(crate) fn set(&self, fd: RawFd, key: IoKey) {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE => {
                let mut d = self.dense.borrow_mut();
                if d.len() <= i {
                    d.resize(i + 1, EMPTY);
                }
                d[i].key = key;
            }
            _ => {
                self.sparse.borrow_mut().insert(fd, key);
            }
        }
    }

    pub(crate) fn take(&self, fd: RawFd) -> Option<IoKey> {
        match usize::try_from(fd) {
            Ok(i) if i < DENSE => {
                let mut d = self.dense.borrow_mut();
                d.get_mut(i).map(|e| std::mem::replace(&mut e.key, EMPTY.key)).filter(|k| k.gen != 0)
            }
            _ => self.sparse.borrow_mut().remove(&fd),
        }
    }

    /// Lists `fd` for the next sweep (once, for a dense number).
    #[inline]
    pub(crate) fn list_unproven(&self, fd: RawFd) {
        if let Ok(i) = usize::try_from(fd) {
            if let Some(e) = self.dense.borrow_mut().get_mut(i) {
                if e.listed {
                    return;
                }
                e.listed = true;
            }
        }
        self.unproven.borrow_mut().push(fd);
    }

    /// Takes the listed descriptors (each once), clearing their marks.
    pub(crate) fn take_unproven(&self) -> Vec<RawFd> {
        let mut listed = std::mem::take(&mut *self.unproven.borrow_mut());
        let mut d = self.dense.borrow_mut();
        for &fd in &listed {
            if let Some(e) = usize::try_from(fd).ok().and_then(|i| d.get_mut(i)) {
                e.listed = false;
            }
        }
        // Sparse numbers may be listed more than once.
        if listed.iter().any(|&fd| usize::try_from(fd).map_or(true, |i| i >= DENSE)) {
            listed.sort_unstable();
            listed.dedup();
        }
        listed
    }

    /// Gives back the (emptied) list's memory for the next period.
    pub(crate) fn recycle_unproven(&self, mut spare: Vec<RawFd>) {
        spare.clear();
        let mut u = self.unproven.borrow_mut();
        if u.is_empty() {
            *u = spare;
        }
    }
}

struct Waiter {
    task: (u32, u32),
    dir: Dir,
    fired: bool,
}

struct Entry {
    fd: RawFd,
    waiters: Vec<Waiter>,
}

impl Entry {
    /// Union of what the unfired waiters want.
    fn interest(&self) -> Interest {
        let mut i = Interest::default();
        for w in self.waiters.iter().filter(|w| !w.fired) {
            match w.dir {
                Dir::Read => i.read = true,
                Dir::Write => i.write = true,
            }
        }
        i
    }
}

/// One hub's foreign-descriptor waits.
pub(crate) struct FdWaits {
    poller: RefCell<Option<FdPoller>>,
    entries: RefCell<Slab<Entry>>,
    by_fd: RefCell<HashMap<RawFd, usize>>,
}

impl FdWaits {
    pub(crate) fn new() -> FdWaits {
        FdWaits { poller: RefCell::new(None), entries: RefCell::new(Slab::new()), by_fd: RefCell::new(HashMap::new()) }
    }

    /// Makes the poller (nested in `reactor`) unless it exists.
    pub(crate) fn ensure_poller(&self, reactor: &Reactor) -> io::Result<()> {
        let mut p = self.poller.borrow_mut();
        if p.is_none() {
            *p = Some(reactor.with_registry(FdPoller::new)?);
        }
        Ok(())
    }

    /// Adds a waiter for `fd` and arms the poller; returns its entry key.
    pub(crate) fn enlist(&self, fd: RawFd, task: (u32, u32), dir: Dir) -> io::Result<usize> {
        let poller = self.poller.borrow();
        let Some(poller) = poller.as_ref() else { return Err(io::Error::other("fd poller missing")) };
        let mut entries = self.entries.borrow_mut();
        let mut by_fd = self.by_fd.borrow_mut();
        if let Some(&key) = by_fd.get(&fd) {
            let e = &mut entries[key];
            e.waiters.push(Waiter { task, dir, fired: false });
            if let Err(err) = poller.modify(fd, key, e.interest()) {
                e.waiters.pop();
                return Err(err);
            }
            return Ok(key);
        }
        let key = entries.insert(Entry { fd, waiters: vec![Waiter { task, dir, fired: false }] });
        let want = entries[key].interest();
        // SAFETY: the fd is deleted before the last wait on it returns
        // (`Enlisted`'s drop in `wait.rs`), and the caller keeps it open meanwhile (a
        // violation only yields spurious wake-ups, see the module docs).
        if let Err(err) = unsafe { poller.add(fd, key, want) } {
            entries.remove(key);
            return Err(err);
        }
        by_fd.insert(fd, key);
        Ok(key)
    }

    /// Takes `task` off entry `key`; returns whether its wait had fired.
    pub(crate) fn delist(&self, key: usize, task: (u32, u32)) -> bool {
        let poller = self.poller.borrow();
        let mut entries = self.entries.borrow_mut();
        let Some(e) = entries.get_mut(key) else { return false };
        let Some(pos) = e.waiters.iter().position(|w| w.task == task) else { return false };
        let fired = e.waiters.swap_remove(pos).fired;
        let Some(poller) = poller.as_ref() else { return fired };
        if e.waiters.is_empty() {
            let fd = e.fd;
            let _ = poller.delete(fd);
            entries.remove(key);
            self.by_fd.borrow_mut().remove(&fd);
        } else {
            let _ = poller.modify(e.fd, key, e.interest());
        }
        fired
    }

    /// Whether `task`'s wait on entry `key` has fired.
    pub(crate) fn fired(&self, key: usize, task: (u32, u32)) -> bool {
        let entries = self.entries.borrow();
        entries.get(key).and_then(|e| e.waiters.iter().find(|w| w.task == task)).is_some_and(|w| w.fired)
    }

    /// Reactor callback for the poller's token: marks the fired waiters
    /// and hands them to `wake`.
    pub(crate) fn dispatch(&self, mut wake: impl FnMut(u32, u32)) {
        let poller = self.poller.borrow();
        let Some(poller) = poller.as_ref() else { return };
        let mut entries = self.entries.borrow_mut();
        poller.drain(|key, ready| {
            let Some(e) = entries.get_mut(key) else { return };
            for w in e.waiters.iter_mut().filter(|w| !w.fired) {
                let hit = match w.dir {
                    Dir::Read => ready.read,
                    Dir::Write => ready.write,
                };
                if hit {
                    w.fired = true;
                    wake(w.task.0, w.task.1);
                }
            }
            // Oneshot disarmed the fd: re-arm it for whoever still waits.
            let want = e.interest();
            if want.read || want.write {
                let _ = poller.modify(e.fd, key, want);
            }
        });
    }
}
