//! The remote path: how any thread reaches a hub.
//!
//! Each hub has one [`HubShared`], the only part of a hub that other threads
//! may touch. A message (unpark, kill, a spawn placed by a `Runtime`) is
//! pushed onto its queue, then the hub is woken through its reactor's waker
//! if — and only if — it is asleep in the poller.
//!
//! # Invariant (no lost wake-ups)
//! The pusher stores the message and sets `pending` (SeqCst), then loads
//! `sleeping`; the hub stores `sleeping` (SeqCst), then loads `pending`
//! before it sleeps. Sequential consistency guarantees that at least one of
//! the two sees the other's store: either the hub sees the message and does
//! not sleep, or the pusher sees the hub asleep and wakes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::deadlock;

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

/// The thread-safe face of a hub.
pub(crate) struct HubShared {
    /// Index of the hub, used in green-thread ids.
    pub(crate) index: u32,
    queue: Mutex<Vec<Msg>>,
    pending: AtomicBool,
    sleeping: AtomicBool,
    /// Set while the hub counts itself as stuck (see `deadlock.rs`).
    pub(crate) stuck: AtomicBool,
    /// Set while the hub's root waits in a blocking call (it can report
    /// would-block-forever).
    pub(crate) root_waiting: AtomicBool,
    /// Spawn counter: ids can be assigned before a task reaches its hub.
    next_seq: AtomicU64,
    /// Green threads alive on this hub (read by `Runtime` placement).
    pub(crate) load: std::sync::atomic::AtomicUsize,
    waker: mio::Waker,
    /// A clone of the hub's reactor registry: lets any thread deregister a
    /// socket that leaves this hub (epoll_ctl is thread-safe).
    pub(crate) registry: mio::Registry,
    /// What the hub runs, for the blocking monitor (`monitor.rs`).
    pub(crate) beat: crate::monitor::Beat,
}

impl HubShared {
    pub(crate) fn new(index: u32, waker: mio::Waker, registry: mio::Registry) -> HubShared {
        HubShared {
            index,
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            stuck: AtomicBool::new(false),
            root_waiting: AtomicBool::new(false),
            next_seq: AtomicU64::new(1),
            load: std::sync::atomic::AtomicUsize::new(0),
            waker,
            registry,
            beat: crate::monitor::Beat::new(),
        }
    }

    /// Assigns the id of a green thread that will run on this hub.
    #[inline]
    pub(crate) fn alloc_id(&self) -> crate::task::Id {
        crate::task::Id::new(self.index, self.next_seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Hands `msg` to the hub from any thread.
    pub(crate) fn push(&self, msg: Msg) {
        // A message may make a stuck hub runnable: it stops counting as
        // stuck *before* the message is visible, so no observer can count it
        // stuck while it has work.
        if !matches!(msg, Msg::Recheck) {
            deadlock::unmark(self);
        }
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

/// A shared handle to a hub's remote path.
pub(crate) type HubRef = Arc<HubShared>;
