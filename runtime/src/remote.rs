//! The remote path: how any thread reaches a hub.
//!
//! Each hub has one [`Mailbox`] in its shared state (`registry.rs`), the
//! way other threads hand it work. A message (unpark, kill, a spawn placed
//! by a `Runtime`) is pushed onto its queue, then the hub is woken through
//! its reactor's waker if — and only if — it is asleep in the poller.
//!
//! # Invariant (no lost wake-ups)
//! The pusher stores the message and sets `pending` (SeqCst), then loads
//! `sleeping`; the hub stores `sleeping` (SeqCst), then loads `pending`
//! before it sleeps. Sequential consistency guarantees that at least one of
//! the two sees the other's store: either the hub sees the message and does
//! not sleep, or the pusher sees the hub asleep and wakes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::reactor::Waker;

/// Work another thread hands to a hub.
pub(crate) enum Msg {
    /// Make task `idx` (generation `gen`) runnable, or leave it a token.
    Unpark { idx: u32, gen: u32 },
    /// Ask task `idx` to unwind at its next blocking point.
    Kill { idx: u32, gen: u32 },
    /// Run this on the hub's thread (spawn placement by a `Runtime`).
    Run(Box<dyn FnOnce() + Send>),
    /// Re-run the would-block-forever check (another thread became stuck).
    Recheck,
}

/// A hub's message queue and the handshake that wakes it.
pub(crate) struct Mailbox {
    queue: Mutex<Vec<Msg>>,
    pending: AtomicBool,
    sleeping: AtomicBool,
    waker: Waker,
}

impl Mailbox {
    pub(crate) fn new(waker: Waker) -> Mailbox {
        Mailbox {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            waker,
        }
    }

    /// Hands `msg` to the hub from any thread (the caller has already
    /// cleared the hub's stuck mark: see `HubShared::push`).
    pub(crate) fn push(&self, msg: Msg) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            // A failed wake means the eventfd is full, i.e. already signalled.
            // The waker's eventfd write is the runtime's own: straight to
            // the C library, even from a green thread (foreign.rs).
            let _ = crate::foreign::internal(|| self.waker.wake());
        }
    }

    /// Whether messages may be waiting (cheap check for the hub's loop).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes every queued message (hub thread only).
    pub(crate) fn drain(&self, into: &mut Vec<Msg>) {
        self.pending.store(false, Ordering::SeqCst);
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, into);
    }

    /// Announces that the hub is about to sleep in the poller; returns
    /// `false` if a message arrived meanwhile (then it must not sleep).
    pub(crate) fn begin_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Announces that the hub woke up.
    pub(crate) fn end_sleep(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}
