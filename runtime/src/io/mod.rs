//! Readiness table: how green threads wait for sockets the runtime owns.
//!
//! # Model
//! A socket registers once with its hub's reactor (edge-triggered, readable
//! and writable) and gets an [`IoKey`]: a slot in this table plus the slot's
//! generation, packed into the mio token. Each slot keeps one readiness bit
//! per direction and the green threads waiting for it.
//!
//! An operation tries the system call first; on `WouldBlock` it clears the
//! direction's bit and parks until the reactor sets it again. Because the
//! hub is single-threaded, no event can be dispatched between the failed
//! call and the clearing of the bit, so no edge is lost.
//!
//! # Invariants
//! - A token whose generation differs from its slot's is stale (the socket
//!   was closed and its fd number or slot reused): its events are dropped.
//! - Every waiter listed in a slot is counted in the reactor's
//!   `io_waiters` (for the would-block-forever check).
//! - Closing a slot wakes all its waiters; they find the slot gone and fail
//!   with [`closed_error`].

pub(crate) mod fd;

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Instant;

use mio::{Interest, Token};
use slab::Slab;

use crate::hub::{Hub, Wake};
use crate::reactor::Readiness;
use crate::task::WaitOn;

/// Which readiness a waiter wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

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
    waiters: [Vec<(u32, u32)>; 2],
}

/// One hub's readiness table.
pub(crate) struct IoTable {
    slots: RefCell<Slab<Slot>>,
    next_gen: Cell<u32>,
}

/// The error a waiter gets when its socket is closed under it.
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed while this green thread waited on it")
}

impl IoTable {
    pub(crate) fn new() -> IoTable {
        IoTable { slots: RefCell::new(Slab::new()), next_gen: Cell::new(1) }
    }

    /// Registers `source` with `hub`'s reactor for both directions.
    pub(crate) fn register(&self, hub: &Hub, source: &mut impl mio::event::Source) -> io::Result<IoKey> {
        let gen = self.next_gen.get();
        self.next_gen.set(gen.wrapping_add(1).max(1));
        let idx = self.slots.borrow_mut().insert(Slot {
            gen,
            // Assume ready until told otherwise: the first call tries the
            // system call anyway.
            ready: [true, true],
            waiters: [Vec::new(), Vec::new()],
        }) as u32;
        let key = IoKey { idx, gen };
        let res =
            hub.reactor.with_registry(|r| r.register(source, key.token(), Interest::READABLE | Interest::WRITABLE));
        if let Err(e) = res {
            self.slots.borrow_mut().remove(idx as usize);
            return Err(e);
        }
        Ok(key)
    }

    /// Deregisters `source` and wakes every waiter of its slot.
    pub(crate) fn deregister(&self, hub: &Hub, key: IoKey, source: &mut impl mio::event::Source) {
        let _ = hub.reactor.with_registry(|r| r.deregister(source));
        self.close_slot(hub, key);
    }

    /// Frees a slot whose fd is already closed (waking its waiters).
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
    pub(crate) fn is_ready(&self, key: IoKey, dir: Dir) -> io::Result<bool> {
        match self.slots.borrow().get(key.idx as usize) {
            Some(s) if s.gen == key.gen => Ok(s.ready[dir as usize]),
            _ => Err(closed_error()),
        }
    }

    /// Records that the last call in `dir` returned `WouldBlock`.
    pub(crate) fn clear_ready(&self, key: IoKey, dir: Dir) {
        if let Some(s) = self.slots.borrow_mut().get_mut(key.idx as usize) {
            if s.gen == key.gen {
                s.ready[dir as usize] = false;
            }
        }
    }

    /// Parks the current task until `dir` is ready or `deadline` passes.
    /// Returns `Ok(false)` on timeout.
    pub(crate) fn wait(&self, hub: &Hub, key: IoKey, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            if self.is_ready(key, dir)? {
                return Ok(true);
            }
            let me = hub.current_key();
            {
                let mut slots = self.slots.borrow_mut();
                let s = slots.get_mut(key.idx as usize).ok_or_else(closed_error)?;
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
            match woke {
                Ok(Wake::TimedOut) => return Ok(false),
                Ok(Wake::Unparked) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reactor callback: marks readiness and wakes the waiters.
    pub(crate) fn dispatch(&self, hub: &Hub, token: Token, r: Readiness) {
        let key = IoKey::from_token(token);
        let mut woken: Vec<(u32, u32)> = Vec::new();
        {
            let mut slots = self.slots.borrow_mut();
            let Some(s) = slots.get_mut(key.idx as usize) else { return };
            if s.gen != key.gen {
                return;
            }
            if r.readable {
                s.ready[Dir::Read as usize] = true;
                woken.append(&mut s.waiters[Dir::Read as usize]);
            }
            if r.writable {
                s.ready[Dir::Write as usize] = true;
                woken.append(&mut s.waiters[Dir::Write as usize]);
            }
        }
        for (idx, gen) in woken {
            hub.reactor.add_io_waiter(-1);
            hub.unpark_local(idx, gen);
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
