//! Placement: which hub of a multi-hub [`Runtime`](crate::Runtime) a new
//! green thread goes to.
//!
//! # Model
//! A runtime's [`Placement`] lists its hubs; a pick takes the less loaded
//! of two hubs taken round-robin (each hub publishes its load in its
//! shared state). Each of the runtime's hub threads *serves* the placement
//! (a thread-local set while it runs), so that `spawn` called there places
//! too; on any other thread `spawn` stays on the caller's hub. The hub
//! itself knows nothing of runtimes.
//!
//! # Invariants
//! - Once `shutting_down` is set, [`Placement::pick`] returns `None` and
//!   the hub list is empty.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::registry::HubRef;

/// The hubs of one runtime, shared by its hub threads and its handle.
pub(crate) struct Placement {
    hubs: Mutex<Vec<HubRef>>,
    next: AtomicUsize,
    shutting_down: AtomicBool,
}

impl Placement {
    pub(crate) fn new() -> Placement {
        Placement { hubs: Mutex::new(Vec::new()), next: AtomicUsize::new(0), shutting_down: AtomicBool::new(false) }
    }

    /// Lists the runtime's hubs (once they have all started).
    pub(crate) fn set_hubs(&self, hubs: Vec<HubRef>) {
        *self.hubs.lock().unwrap_or_else(|e| e.into_inner()) = hubs;
    }

    /// Refuses further picks and takes the hub list (shutdown, step 1).
    pub(crate) fn shut_down(&self) -> Vec<HubRef> {
        self.shutting_down.store(true, Ordering::SeqCst);
        std::mem::take(&mut *self.hubs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether the runtime is shutting down.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Picks the hub for a new green thread.
    /// `None` once the runtime is shutting down.
    pub(crate) fn pick(&self) -> Option<HubRef> {
        let hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        let n = hubs.len();
        if n == 0 || self.shutting_down.load(Ordering::Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let a = &hubs[i % n];
        let b = &hubs[(i + 1) % n];
        if b.load.load(Ordering::Relaxed) < a.load.load(Ordering::Relaxed) {
            Some(b.clone())
        } else {
            Some(a.clone())
        }
    }
}

thread_local! {
    /// The placement this thread's hub serves (a runtime's hub thread).
    static SERVED: RefCell<Option<Arc<Placement>>> = const { RefCell::new(None) };
}

/// This thread starts (`Some`) or stops (`None`) serving a runtime.
pub(crate) fn serve(placement: Option<Arc<Placement>>) {
    SERVED.with(|s| *s.borrow_mut() = placement);
}

/// The hub a green thread spawned on this thread should go to: `None`
/// when this thread serves no runtime (or it is shutting down).
#[inline]
pub(crate) fn pick_here() -> Option<HubRef> {
    SERVED.try_with(|s| s.borrow().as_ref().and_then(|p| p.pick())).ok().flatten()
}
