//! The readiness table: how green threads wait for sockets the runtime
//! owns. Each hub owns one; the hub's waits (`wait.rs`) park on it, and
//! the hub's reactor callback marks it.
//!
//! # Model
//! A socket registers with a hub's reactor (edge-triggered, readable and
//! writable) the first time one of its operations has to wait, and gets an
//! [`IoKey`]: a slot in that hub's table plus the slot's generation, packed
//! into the reactor token. Each slot keeps one readiness bit per direction
//! and the green threads waiting for it. The table knows no hub: what it
//! wakes, it hands to a callback.
//!
//! An operation tries the system call first; on `WouldBlock` it clears the
//! direction's bit and parks until the reactor sets it again. Because the
//! hub is single-threaded, no event can be dispatched between the failed
//! call and the clearing of the bit, so no edge is lost. The hot path (the
//! call succeeds) touches nothing here.
//!
//! TCP reads add the *short-read rule* (as tokio does): a read that returns
//! fewer bytes than asked emptied the receive queue, so it clears the bit
//! at once ([`IoTable::clear_ready`]), and the next read parks without the
//! system call that would only say `EAGAIN` — unless an event set the bit
//! again meanwhile ([`IoTable::known_drained`]). Data that arrives
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
//! # Invariants
//! - A token whose generation differs from its slot's is stale (the socket
//!   was closed and its fd number or slot reused): its events are dropped.
//!   Generations run from 1 to [`GEN_MAX`] (22 bits), so no token equals
//!   the reactor's reserved tokens and a key packs into one word with its
//!   hub (the lock-free lookup of `Registration::wait_with`, `io/mod.rs`).
//! - Every waiter listed in a slot is counted in the reactor's
//!   `io_waiters` (for the would-block-forever check).
//! - Freeing a slot wakes all its waiters; they find the slot gone and
//!   retry (the registration moved).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;

use slab::Slab;

use crate::reactor::{self, Reactor, Readiness, Token};

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
    pub(crate) fn token(self) -> Token {
        Token(((self.gen as usize) << 32) | self.idx as usize)
    }

    pub(crate) fn from_token(t: Token) -> IoKey {
        IoKey { idx: t.0 as u32, gen: (t.0 >> 32) as u32 }
    }
}

pub(crate) struct Slot {
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

/// The error a lookup of a freed slot gets (test helpers only: real
/// waiters retry, see [`Registration::wait`]).
#[cfg(test)]
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed while this green thread waited on it")
}

/// One hub's readiness table.
pub(crate) struct IoTable {
    slots: RefCell<Slab<Slot>>,
    next_gen: Cell<u32>,
}

impl IoTable {
    pub(crate) fn new() -> IoTable {
        IoTable { slots: RefCell::new(Slab::new()), next_gen: Cell::new(1) }
    }

    /// Registers `fd` with `reactor` for both directions (and urgent data).
    pub(crate) fn register(&self, reactor: &Reactor, fd: RawFd) -> io::Result<IoKey> {
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
        let res = reactor.with_registry(|r| reactor::register_socket(r, fd, key.token()));
        if let Err(e) = res {
            self.slots.borrow_mut().remove(idx as usize);
            return Err(e);
        }
        Ok(key)
    }

    /// Frees a slot whose fd is already deregistered or closed; hands each
    /// of its waiters to `wake`.
    pub(crate) fn close_slot(&self, key: IoKey, mut wake: impl FnMut(u32, u32)) {
        let slot = {
            let mut slots = self.slots.borrow_mut();
            match slots.get(key.idx as usize) {
                Some(s) if s.gen == key.gen => slots.remove(key.idx as usize),
                _ => return,
            }
        };
        for list in slot.waiters {
            for (idx, gen) in list {
                wake(idx, gen);
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

    /// Lists `me` as a waiter of `key` in `dir`, unless the slot is gone
    /// (`Some(WaitEnd::Closed)`) or `dir` is believed ready (`Some(Ready)`).
    /// With `clear`, first records that the caller's last call in `dir`
    /// returned `WouldBlock` (in the same lookup), and lists it regardless.
    #[inline]
    pub(crate) fn enlist(&self, key: IoKey, dir: Dir, me: (u32, u32), clear: bool) -> Option<WaitEnd> {
        let mut slots = self.slots.borrow_mut();
        let Some(s) = slots.get_mut(key.idx as usize).filter(|s| s.gen == key.gen) else {
            return Some(WaitEnd::Closed);
        };
        if clear {
            s.ready[dir as usize] = false;
        } else if s.ready[dir as usize] {
            return Some(WaitEnd::Ready);
        }
        s.waiters[dir as usize].push(me);
        None
    }

    /// Takes `me` off `key`'s waiters in `dir`; whether it was listed
    /// (a wake-up takes it off first).
    #[inline]
    pub(crate) fn delist(&self, key: IoKey, dir: Dir, me: (u32, u32)) -> bool {
        let mut slots = self.slots.borrow_mut();
        if let Some(s) = slots.get_mut(key.idx as usize) {
            if s.gen == key.gen {
                let list = &mut s.waiters[dir as usize];
                if let Some(pos) = list.iter().position(|w| *w == me) {
                    list.swap_remove(pos);
                    return true;
                }
            }
        }
        false
    }

    /// Reactor callback for a socket token: marks readiness and hands the
    /// woken waiters to `wake`.
    pub(crate) fn dispatch(&self, token: Token, r: Readiness, mut wake: impl FnMut(u32, u32)) {
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
                    wake(idx, gen);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;
    use crate::hub::Hub;

    #[test]
    fn tokens_never_collide_with_the_reserved_ones() {
        let t = IoTable::new();
        t.next_gen.set(GEN_MAX);
        let hub = Hub::current();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let k1 = t.register(&hub.reactor, a.as_raw_fd()).unwrap();
        assert_eq!(k1.gen, GEN_MAX);
        let _ = hub.reactor.with_registry(|r| reactor::deregister(r, a.as_raw_fd()));
        let k2 = t.register(&hub.reactor, a.as_raw_fd()).unwrap();
        assert_eq!(k2.gen, 1, "generations wrap to 1 after GEN_MAX");
        let _ = hub.reactor.with_registry(|r| reactor::deregister(r, a.as_raw_fd()));
    }
}
