//! The process-wide registry of hubs, and the shared state of each.
//!
//! # Model
//! A hub's [`HubShared`] is the only part of it that other threads may
//! touch: its mailbox (the remote path, `remote.rs`), its stuck mark and
//! root-waiting flag (would-block-forever, `deadlock.rs`), its heartbeat
//! ([`Beat`], read by the blocking monitor, `monitor.rs`), its load (read
//! by `Runtime` placement) and a clone of its reactor registry. Every hub
//! is listed here (weakly) from creation, so any thread can find a hub by
//! index (a kill from another thread), sample every hub (the monitor), or
//! tell every waiting root to re-check (the last thread to get stuck).
//!
//! This module composes the parts; the parts know no hub.
//!
//! # Invariants
//! - `HUBS` holds a weak reference to every hub alive (dead ones are
//!   pruned at the next registration).
//! - A [`Beat`] is written only by its hub's thread.
//! - [`HubShared::push`] clears the hub's stuck mark before the message
//!   becomes visible (see `deadlock.rs`).

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::deadlock::StuckMark;
use crate::reactor::{Registry, Waker};
use crate::remote::{Mailbox, Msg};
use crate::task::Id;

/// The thread-safe face of a hub.
pub(crate) struct HubShared {
    /// Index of the hub, used in green-thread ids.
    pub(crate) index: u32,
    mailbox: Mailbox,
    /// Set while the hub counts itself as stuck (see `deadlock.rs`).
    pub(crate) stuck: StuckMark,
    /// Set while the hub's root waits in a blocking call (it can report
    /// would-block-forever), from the first time the hub goes idle in that
    /// wait (before it marks itself stuck) until the wait ends.
    pub(crate) root_waiting: AtomicBool,
    /// Spawn counter: ids can be assigned before a task reaches its hub.
    next_seq: AtomicU64,
    /// Green threads alive on this hub (read by `Runtime` placement).
    pub(crate) load: AtomicUsize,
    /// A clone of the hub's reactor registry: lets any thread deregister a
    /// socket that leaves this hub (epoll_ctl is thread-safe).
    pub(crate) registry: Registry,
    /// What the hub runs, for the blocking monitor (`monitor.rs`).
    pub(crate) beat: Beat,
}

impl HubShared {
    pub(crate) fn new(index: u32, waker: Waker, registry: Registry) -> HubShared {
        HubShared {
            index,
            mailbox: Mailbox::new(waker),
            stuck: StuckMark::new(),
            root_waiting: AtomicBool::new(false),
            next_seq: AtomicU64::new(1),
            load: AtomicUsize::new(0),
            registry,
            beat: Beat::new(),
        }
    }

    /// Assigns the id of a green thread that will run on this hub.
    #[inline]
    pub(crate) fn alloc_id(&self) -> Id {
        Id::new(self.index, self.next_seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Hands `msg` to the hub from any thread.
    pub(crate) fn push(&self, msg: Msg) {
        // A message may make a stuck hub runnable: it stops counting as
        // stuck *before* the message is visible, so no observer can count it
        // stuck while it has work.
        if !matches!(msg, Msg::Recheck) {
            self.stuck.unmark();
        }
        self.mailbox.push(msg);
    }

    /// Whether messages may be waiting (cheap check for the hub's loop).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.mailbox.has_pending()
    }

    /// Takes every queued message (hub thread only).
    #[inline]
    pub(crate) fn drain(&self, into: &mut Vec<Msg>) {
        self.mailbox.drain(into)
    }

    /// Announces that the hub is about to sleep in the poller; returns
    /// `false` if a message arrived meanwhile (then it must not sleep).
    #[inline]
    pub(crate) fn begin_sleep(&self) -> bool {
        self.mailbox.begin_sleep()
    }

    /// Announces that the hub woke up.
    #[inline]
    pub(crate) fn end_sleep(&self) {
        self.mailbox.end_sleep()
    }
}

/// A shared handle to a hub's remote path.
pub(crate) type HubRef = Arc<HubShared>;

/// One hub's heartbeat, written only by the hub's thread.
pub(crate) struct Beat {
    switches: AtomicU64,
    /// Raw id of the running green thread; 0 while none runs.
    running: AtomicU64,
    /// # Invariant
    /// Null or a `&'static Location<'static>` (the running one's spawn site).
    site: AtomicPtr<Location<'static>>,
}

impl Beat {
    pub(crate) const fn new() -> Beat {
        Beat { switches: AtomicU64::new(0), running: AtomicU64::new(0), site: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// A green thread is about to run (plain stores: one writer).
    #[inline(always)]
    pub(crate) fn enter(&self, id: Id, site: &'static Location<'static>) {
        self.switches.store(self.switches.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        self.site.store((site as *const Location<'static>).cast_mut(), Ordering::Relaxed);
        self.running.store(id.as_u64(), Ordering::Relaxed);
    }

    /// The green thread gave the hub back.
    #[inline(always)]
    pub(crate) fn leave(&self) {
        self.running.store(0, Ordering::Relaxed);
    }

    /// What the monitor reads: switch count, running id, its spawn site.
    pub(crate) fn sample(&self) -> (u64, u64, Option<&'static Location<'static>>) {
        let running = self.running.load(Ordering::Relaxed);
        let switches = self.switches.load(Ordering::Relaxed);
        let site = self.site.load(Ordering::Relaxed);
        // SAFETY: `site` is null or was stored from a `&'static Location`
        // (the field's invariant), so it is valid for ever.
        let site = unsafe { site.cast_const().as_ref() };
        (switches, running, site)
    }
}

/// Every hub alive (weakly).
static HUBS: Mutex<Vec<Weak<HubShared>>> = Mutex::new(Vec::new());

/// Lists a new hub.
pub(crate) fn register(hub: Weak<HubShared>) {
    let mut hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.retain(|h| h.strong_count() > 0);
    hubs.push(hub);
}

/// The hub with this index, if it is still alive.
pub(crate) fn hub_by_index(index: u32) -> Option<HubRef> {
    let hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.iter().filter_map(Weak::upgrade).find(|h| h.index == index)
}

/// Every live hub.
pub(crate) fn hubs() -> Vec<HubRef> {
    HUBS.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect()
}

/// Calls `f` with the index and heartbeat of every live hub.
pub(crate) fn each_hub(mut f: impl FnMut(u32, &Beat)) {
    let hubs: Vec<_> = HUBS.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for h in &hubs {
        f(h.index, &h.beat);
    }
}

/// Tells every hub whose root waits in a blocking call to re-check (the
/// would-block-forever check: another thread became stuck).
pub(crate) fn notify_waiting_roots() {
    let hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    for hub in hubs.iter().filter_map(Weak::upgrade) {
        if hub.root_waiting.load(Ordering::SeqCst) {
            hub.push(Msg::Recheck);
        }
    }
}
