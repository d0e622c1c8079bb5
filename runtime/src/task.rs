//! Green-thread records: ids, states and what a blocked green thread waits on.
//!
//! Every green thread has one [`Task`], kept at the top of its own stack
//! and reached through a slot of its hub's slab. Slot 0 is the hub's
//! *root*: the OS thread's own stack, which never runs in a coroutine and
//! drives the scheduler loop whenever it blocks.
//!
//! # Lifecycle
//!
//! ```text
//!   spawn ──► Runnable ──resume──► Running ──finish──► (slot freed, record dropped, stack pooled)
//!                ▲                   │  │
//!                │          yield_now│  │park (join, sleep, lock, I/O ...)
//!                │◄──────────────────┘  ▼
//!                └──unpark / timer / kill── Parked
//! ```
//!
//! A kill request marks the task and makes it runnable if parked; the task
//! unwinds with a kill payload at its next blocking point (or never starts,
//! if it had not started yet).
//!
//! # Invariants
//! - A task index is in the run queue iff its state is `Runnable` (the root
//!   is never queued: the hub's `root_ready` flag stands for it).
//! - `coro` is `None` for the root only; a green thread's coroutine stays
//!   in place (its `Task` has a stable address) while it runs.
//! - `timer != 0` iff the task is `Parked` with an armed timer; the timer
//!   table's armed count equals the number of such tasks.
//! - Ids carry a generation (`gen`): a handle whose generation differs from
//!   the slot's is stale and is ignored.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use crate::coroutine::{Coro, Suspender};

/// Index of the root pseudo-task in every hub's slab.
pub(crate) const ROOT: u32 = 0;

/// Identifier of a green thread, unique in the process.
///
/// Displayed as `hub.seq`: the hub (OS thread) that runs it and its spawn
/// number there. The root of a hub (the OS thread's own stack) is `hub.0`.
///
/// ```
/// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::current().id());
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub(crate) u64);

impl Id {
    pub(crate) fn new(hub: u32, seq: u64) -> Id {
        Id(((hub as u64) << 40) | (seq & ((1 << 40) - 1)))
    }

    /// The id as one integer (stable for the life of the process).
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| ());
    /// assert_ne!(h.id().as_u64(), 0);
    /// h.join().unwrap();
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Index of the hub the green thread runs on.
    pub(crate) fn hub(self) -> u32 {
        (self.0 >> 40) as u32
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 >> 40, self.0 & ((1 << 40) - 1))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

/// What a parked green thread (or a blocked root) is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitOn {
    /// A short name of the operation: `"join"`, `"sleep"`, `"park"`, …
    pub what: &'static str,
    /// The green thread this wait concerns, if any (the one being joined).
    pub target: Option<Id>,
}

impl WaitOn {
    /// A wait described by its operation only.
    ///
    /// ```
    /// let w = greenpatch_runtime::WaitOn::named("lock");
    /// assert_eq!(w.to_string(), "lock");
    /// ```
    pub const fn named(what: &'static str) -> WaitOn {
        WaitOn { what, target: None }
    }
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Some(id) => write!(f, "{} of green thread {}", self.what, id),
            None => f.write_str(self.what),
        }
    }
}

/// Scheduling state of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Runnable,
    Running,
    Parked,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Runnable => "runnable",
            State::Running => "running",
            State::Parked => "parked",
        }
    }
}

/// Kill progress of a task: a kill is pending until delivered (then the
/// task may be killed again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kill {
    None,
    Requested,
}

/// An active timeout scope (see `timeout.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope {
    pub(crate) id: u64,
    pub(crate) deadline: Instant,
    /// Opened while the task was unwinding (in a destructor): such a scope
    /// still fires during the unwind, since it is caught inside the
    /// destructor that opened it.
    pub(crate) in_unwind: bool,
}

/// What a spawn says of the green thread it asks for: the task record's
/// fields that are fixed at the spawn site (a remote spawn builds its
/// record later, on the hub it is placed on).
pub(crate) struct TaskInit {
    pub(crate) id: Id,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) spawn_site: &'static Location<'static>,
    /// The green thread (or root) that spawns it, if any.
    pub(crate) parent: Option<Id>,
}

impl TaskInit {
    /// A spawn by the code running now on this thread.
    pub(crate) fn here(id: Id, name: Option<Arc<str>>, spawn_site: &'static Location<'static>) -> TaskInit {
        let parent = crate::hub::Hub::try_current().map(|h| h.current_id());
        TaskInit { id, name, spawn_site, parent }
    }
}

/// One green thread (or the root) of a hub.
///
/// A green thread's `Task` lives in the record area at the top of its own
/// stack (`GreenStack::record`), in the page its first frames touch
/// anyway: it is written when the green thread is placed, owns the
/// coroutine (and so the stack) until the green thread finishes, and is
/// dropped in place before the stack goes back to the pool. Its address is
/// stable meanwhile. The root's lives in the hub. Fields are `Cell`s: a
/// task is only ever touched by its hub's thread, and shared references to
/// it are never held across a context switch.
pub(crate) struct Task {
    pub(crate) id: Id,
    pub(crate) state: Cell<State>,
    /// # Invariant
    /// Accessed only by the hub's `run_task` (to resume) and teardown; never
    /// while another reference to the coroutine exists.
    pub(crate) coro: UnsafeCell<Option<Coro>>,
    pub(crate) suspender: Cell<*const Suspender>,
    pub(crate) started: Cell<bool>,
    pub(crate) notified: Cell<bool>,
    pub(crate) kill: Cell<Kill>,
    pub(crate) timer: Cell<u64>,
    pub(crate) timed_out: Cell<bool>,
    pub(crate) wait: Cell<WaitOn>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) scopes: RefCell<Vec<Scope>>,
    pub(crate) spawn_site: &'static Location<'static>,
    /// The raw id of the green thread (or root) that spawned this one, 0
    /// if none (no green thread or root has id 0); see [`Task::parent`].
    parent: u64,
    /// When the current wait began, to the hub's coarse clock (for `dump`).
    pub(crate) since: Cell<Instant>,
}

/// A green thread's record fits the record area of its stack.
const _: () = assert!(std::mem::size_of::<Task>() <= crate::stack::RECORD_SIZE && std::mem::align_of::<Task>() <= 16);

impl Task {
    /// A task record; `since` is the hub's coarse clock. Inlined, so that
    /// a spawn builds it in place at the top of the new stack.
    #[inline]
    pub(crate) fn new(init: TaskInit, since: Instant) -> Task {
        let TaskInit { id, name, spawn_site, parent } = init;
        Task {
            id,
            state: Cell::new(State::Runnable),
            coro: UnsafeCell::new(None),
            suspender: Cell::new(std::ptr::null()),
            started: Cell::new(false),
            notified: Cell::new(false),
            kill: Cell::new(Kill::None),
            timer: Cell::new(0),
            timed_out: Cell::new(false),
            wait: Cell::new(WaitOn::named("start")),
            name,
            scopes: RefCell::new(Vec::new()),
            spawn_site,
            parent: parent.map_or(0, Id::as_u64),
            // Set again at every park.
            since: Cell::new(since),
        }
    }

    /// The task's generation: the low bits of its id, which differ between
    /// the successive tasks of one slab slot.
    #[inline]
    pub(crate) fn gen(&self) -> u32 {
        self.id.as_u64() as u32
    }

    /// The green thread (or root) that spawned this one, if any (for `dump`).
    pub(crate) fn parent(&self) -> Option<Id> {
        (self.parent != 0).then_some(Id(self.parent))
    }

    /// The innermost-binding timeout scope: the one with the earliest
    /// deadline; while `unwinding`, among those opened during the unwind.
    #[inline]
    pub(crate) fn tightest_scope(&self, unwinding: bool) -> Option<Scope> {
        let scopes = self.scopes.borrow();
        if scopes.is_empty() {
            return None;
        }
        scopes.iter().copied().filter(|s| !unwinding || s.in_unwind).min_by_key(|s| s.deadline)
    }

    /// Takes a pending kill request (a later kill is a new request).
    #[inline]
    pub(crate) fn take_kill(&self) -> bool {
        if self.kill.get() == Kill::Requested {
            self.kill.set(Kill::None);
            return true;
        }
        false
    }
}
