//! Hubs: one scheduler per OS thread, created lazily.
//!
//! # Model
//! The first time a thread makes a green call (spawn, park, sleep, join …)
//! it gets a hub: a run queue, a slab of tasks, timers, a reactor and a stack
//! pool. Nothing is started by hand. The thread's own stack is the *root*
//! (slot 0): when root code blocks, it runs the scheduler loop
//! ([`Hub::park`] → `run_until_root_ready`) until its own wait completes.
//! A green thread that blocks suspends its coroutine and returns to that loop.
//!
//! Green-to-green switches go through the root (corosensei coroutines are
//! asymmetric): suspend to the loop, the loop resumes the next task. The loop
//! checks the remote queue with one atomic load per task, and polls the
//! reactor and timers only when the run queue is empty or every
//! [`POLL_INTERVAL`] tasks — never on every yield.
//!
//! A green thread that yields while timers are armed or green threads wait
//! on I/O goes to the *deferred* list, not the run queue, and runs again
//! only after the next poll (as tokio defers `yield_now`): one that
//! computes and yields now and then lets due timers and ready sockets in
//! at every yield, instead of every 61 tasks.
//!
//! # The wing
//! The hub owns what its green threads wait on: the readiness table of the
//! sockets registered with it (`readiness.rs`) and its waits on descriptors
//! the runtime does not own (`fds.rs`). Neither table knows the hub; the
//! waits that park on them and the reactor callback that marks them are
//! the hub's methods (`wait.rs`). Callers hand the hub down (`&Hub`)
//! rather than look it up again.
//!
//! # Invariants
//! - All fields are touched only on the hub's own thread, except through
//!   `shared` (see `registry.rs`).
//! - No `RefCell` borrow is held across a coroutine resume or suspend.
//! - `current` is the slot index of the task whose code runs now (`ROOT`
//!   while the loop or root code runs); `cur_suspender` is that task's
//!   suspender.
//! - The hub outlives every coroutine it runs: coroutines run only inside
//!   this hub's loop, and teardown leaks (never resumes) unfinished ones.
//! - A hub that ends (its thread exits, or its `Runtime` is dropped) first
//!   kills its green threads and runs them to the end
//!   (`kill_all_and_drain`); only what survives [`DRAIN_GRACE`] is leaked.
//! - While a task unwinds, parking raises neither a kill nor a timeout
//!   scope (see `park_slow`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

mod fds;
pub(crate) mod readiness;
mod wait;

use self::fds::{FdWaits, ForeignKeys};
use self::readiness::IoTable;
pub(crate) use self::readiness::{Dir, IoKey, WaitEnd, GEN_MAX};

use crate::coroutine::{self, Coro, Suspender};
use crate::deadlock::{self, WouldBlockForever};
use crate::join::OwnerRef;
use crate::overflow;
use crate::reactor::Reactor;
use crate::registry::{self, HubShared};
use crate::remote::Msg;
use crate::stack::{StackPool, DEFAULT_STACK_SIZE, MAX_CACHED};
use crate::task::{Id, Kill, Scope, State, Task, TaskInit, WaitOn, ROOT};
use crate::timer::Timers;

/// Tasks run between two non-blocking reactor/timer polls when busy.
pub(crate) const POLL_INTERVAL: u32 = 61;

/// How long a hub that is shutting down (a dropped `Runtime`, an OS thread
/// that exits) waits for its killed green threads to finish unwinding.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);

static NEXT_HUB: AtomicU32 = AtomicU32::new(1);

/// The default stack size: `GREENPATCH_STACK_SIZE`, else [`DEFAULT_STACK_SIZE`].
pub(crate) fn default_stack_size() -> usize {
    crate::env::stack_size().unwrap_or(DEFAULT_STACK_SIZE)
}

/// The error of a hub that could not be created: the OS error (its kind,
/// and its text with the errno's name) and what to do about it.
#[cold]
fn creation_error(e: io::Error) -> io::Error {
    let (name, what) = match e.raw_os_error() {
        Some(libc::EMFILE) => (
            "EMFILE",
            "this process is out of file descriptors: raise its limit (`ulimit -n`, RLIMIT_NOFILE) or close \
             descriptors it no longer needs, then retry",
        ),
        Some(libc::ENFILE) => {
            ("ENFILE", "the system is out of file descriptors (fs.file-max): close descriptors, then retry")
        }
        Some(libc::ENOMEM) => ("ENOMEM", "the kernel is out of memory: free memory, then retry"),
        _ => ("", "fix the cause, then retry"),
    };
    let name = if name.is_empty() { String::new() } else { format!(", {name}") };
    io::Error::new(
        e.kind(),
        format!("greenpatch: cannot create this thread's hub (its epoll instance and eventfd): {e}{name}; {what}"),
    )
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Unparked (possibly spuriously: callers re-check their condition).
    Unparked,
    /// The wait's own deadline passed.
    TimedOut,
}

/// Payload a killed green thread unwinds with (gevent's `GreenletExit`).
pub(crate) struct KillSignal;

/// Payload a timeout scope unwinds with; carries the scope id.
pub(crate) struct ScopeExpired(pub(crate) u64);

/// Whether the running code is unwinding: then a blocking call blocks
/// normally and raises neither a kill nor an expired timeout scope.
///
/// std's panic count is per OS thread, so while one green thread is
/// suspended in the middle of an unwind (a destructor that blocks), the
/// others on its hub are seen as unwinding too: their kills and scopes
/// wait until it is done. That errs on the side that never aborts.
#[inline]
pub(crate) fn unwinding() -> bool {
    std::thread::panicking()
}

/// Per-hub settings.
#[derive(Clone)]
pub(crate) struct HubConfig {
    pub(crate) stack_size: usize,
}

/// A slab entry: where a task lives and what keeps it alive.
struct Entry {
    task: NonNull<Task>,
    /// `None` for the root (its task lives in the hub).
    owner: Option<OwnerRef>,
}

/// One OS thread's scheduler.
pub(crate) struct Hub {
    pub(crate) shared: Arc<HubShared>,
    /// # Invariant
    /// Every entry's `task` points to the record area of its green
    /// thread's stack, kept alive by the coroutine the task owns (or to
    /// `root`); `owner` keeps the join packet alive. An entry is removed
    /// only by `run_task` when its task finished (`finish`), or at
    /// teardown.
    tasks: RefCell<Slab<Entry>>,
    root: Box<Task>,
    runq: RefCell<VecDeque<u32>>,
    /// Green threads that yielded: back on `runq` after the next poll.
    deferred: RefCell<VecDeque<u32>>,
    current: Cell<u32>,
    /// # Invariant
    /// Points to the task whose code runs now (the root's outside green
    /// code); valid because the running task's entry cannot be removed
    /// while it runs.
    cur_task: Cell<NonNull<Task>>,
    root_ready: Cell<bool>,
    /// The root waits in a blocking call (it drives the loop and is not
    /// serving a runtime): it can report would-block-forever.
    root_waits: Cell<bool>,
    /// `shared.root_waiting` was set for the current wait (see
    /// `run_until_root_ready`).
    root_published: Cell<bool>,
    serving: Cell<bool>,
    timers: RefCell<Timers>,
    pub(crate) reactor: Reactor,
    /// The readiness table of the sockets registered here (`readiness.rs`).
    pub(crate) io: IoTable,
    /// Waits on descriptors the runtime does not own (`fds.rs`).
    fds: FdWaits,
    /// Persistent registrations of foreign descriptors in the readiness
    /// table (`fds.rs`, `wait.rs`).
    foreign: ForeignKeys,
    stacks: RefCell<StackPool>,
    tick: Cell<u32>,
    live: Cell<usize>,
    inbox: RefCell<Vec<Msg>>,
    pub(crate) config: RefCell<HubConfig>,
    next_scope: Cell<u64>,
    /// The cooperative budget each green thread gets when it is resumed
    /// (`coop.rs`; `u32::MAX`: off).
    coop_budget: Cell<u32>,
    /// `tick` when the cooperative budget was last refilled (`coop.rs`).
    coop_mark: Cell<u32>,
    /// A coarse clock, read at polls: when waits began (for `dump`), at no
    /// cost on the park path.
    clock: Cell<Instant>,
}

thread_local! {
    static CURRENT: Cell<*const Hub> = const { Cell::new(ptr::null()) };
    static OWNER: HubOwner = const { HubOwner(Cell::new(ptr::null_mut())) };
}

/// Owns the thread's hub; its destructor tears the hub down.
struct HubOwner(Cell<*mut Hub>);

impl Drop for HubOwner {
    fn drop(&mut self) {
        let p = self.0.get();
        if p.is_null() {
            return;
        }
        // SAFETY: `p` came from `Box::into_raw` in `Hub::create` and is
        // freed only below; CURRENT still points to it, so the green
        // threads run here find their hub.
        let live = unsafe { &*p }.live();
        if live > 0 {
            // The thread ends with green threads still alive: kill them and
            // run them to the end (destructors, locks, joiners), as a
            // `Runtime` does when it is dropped.
            // SAFETY: as above.
            unsafe { &*p }.kill_all_and_drain();
        }
        let p = self.0.replace(ptr::null_mut());
        if !p.is_null() {
            crate::foreign::set_may_park(false);
            CURRENT.with(|c| c.set(ptr::null()));
            // SAFETY: `p` came from `Box::into_raw` in `Hub::create` and is
            // released exactly once, here, at thread exit.
            let hub = unsafe { Box::from_raw(p) };
            hub.teardown();
        }
    }
}

impl Hub {
    /// The current thread's hub, created on first use.
    ///
    /// The reference is valid until the thread exits; it must not be stored
    /// in another thread-local whose destructor could run after the hub's.
    ///
    /// # Panics
    /// When the hub cannot be created (see [`Hub::get`]), with the error's
    /// message. Only for calls whose signature has no room for an
    /// `io::Error` (as `std::thread::spawn` panics where
    /// `Builder::spawn` returns the error); calls that return one use
    /// [`Hub::get`].
    #[inline]
    pub(crate) fn current() -> &'static Hub {
        let p = CURRENT.with(|c| c.get());
        if p.is_null() {
            return Hub::create_or_panic();
        }
        // SAFETY: a non-null CURRENT points to the thread's boxed hub, which
        // is freed only by HubOwner's destructor after CURRENT is cleared.
        unsafe { &*p }
    }

    /// The current thread's hub, created on first use, or why it cannot be
    /// created: the process is out of descriptors (`EMFILE`: the hub needs
    /// an epoll instance and an eventfd), the system is (`ENFILE`), or the
    /// thread is exiting. Nothing is kept of a failed attempt: the next
    /// call tries again.
    #[inline]
    pub(crate) fn get() -> io::Result<&'static Hub> {
        let p = CURRENT.with(|c| c.get());
        if p.is_null() {
            return Hub::create();
        }
        // SAFETY: as in `current`.
        Ok(unsafe { &*p })
    }

    /// The current thread's hub if it has one.
    #[inline]
    pub(crate) fn try_current() -> Option<&'static Hub> {
        // CURRENT has a const initialiser and no destructor: `with` cannot
        // fail, even during thread teardown.
        let p = CURRENT.with(|c| c.get());
        // SAFETY: as in `current`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn create_or_panic() -> &'static Hub {
        match Hub::create() {
            Ok(hub) => hub,
            Err(e) => panic!("{e}"),
        }
    }

    #[cold]
    #[inline(never)]
    fn create() -> io::Result<&'static Hub> {
        // A green call from a thread-local destructor after the hub's owner
        // is gone: a hub made now could never be torn down.
        if OWNER.try_with(|_| ()).is_err() {
            return Err(io::Error::other(
                "greenpatch: a green call while this thread exits (from a thread-local destructor that runs \
                 after the thread's hub was torn down); make the call before the thread ends",
            ));
        }
        let hub = Box::new(Hub::new().map_err(creation_error)?);
        let p = Box::into_raw(hub);
        let registered = OWNER.try_with(|o| o.0.set(p)).is_ok();
        debug_assert!(registered, "checked above");
        CURRENT.with(|c| c.set(p));
        // Root code runs now: it may park (foreign.rs).
        crate::foreign::set_may_park(true);
        overflow::install();
        overflow::ensure_altstack();
        crate::panic_hook::install();
        // SAFETY: just stored; lives until thread exit (see `current`).
        Ok(unsafe { &*p })
    }

    fn new() -> io::Result<Hub> {
        let (reactor, waker, registry) = Reactor::new()?;
        let index = NEXT_HUB.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(HubShared::new(index, waker, registry));
        registry::register(Arc::downgrade(&shared));
        deadlock::ours(1);
        crate::env::start_up_once();
        let init = TaskInit { id: Id::new(index, 0), name: None, spawn_site: Location::caller(), parent: None };
        let root = Box::new(Task::new(init, Instant::now()));
        root.state.set(State::Running);
        root.started.set(true);
        let root_ptr = NonNull::from(&*root);
        let mut tasks = Slab::with_capacity(64);
        let key = tasks.insert(Entry { task: root_ptr, owner: None });
        debug_assert_eq!(key, ROOT as usize);
        Ok(Hub {
            shared,
            tasks: RefCell::new(tasks),
            root,
            runq: RefCell::new(VecDeque::with_capacity(64)),
            deferred: RefCell::new(VecDeque::with_capacity(64)),
            current: Cell::new(ROOT),
            cur_task: Cell::new(root_ptr),
            root_ready: Cell::new(false),
            root_waits: Cell::new(false),
            root_published: Cell::new(false),
            serving: Cell::new(false),
            timers: RefCell::new(Timers::new()),
            reactor,
            io: IoTable::new(),
            fds: FdWaits::new(),
            foreign: ForeignKeys::new(),
            stacks: RefCell::new(StackPool::new(default_stack_size(), MAX_CACHED)),
            tick: Cell::new(0),
            live: Cell::new(0),
            inbox: RefCell::new(Vec::new()),
            config: RefCell::new(HubConfig { stack_size: default_stack_size() }),
            next_scope: Cell::new(1),
            coop_budget: Cell::new(crate::coop::process_budget()),
            coop_mark: Cell::new(0),
            clock: Cell::new(Instant::now()),
        })
    }

    /// The task running now.
    #[inline]
    fn cur(&self) -> &Task {
        // SAFETY: invariant of `cur_task`: the running task's entry (and so
        // its allocation) cannot be removed while its code runs.
        unsafe { self.cur_task.get().as_ref() }
    }

    /// The task in slot `idx` if its generation is `gen`.
    #[inline]
    fn task(&self, idx: u32, gen: u32) -> Option<NonNull<Task>> {
        let tasks = self.tasks.borrow();
        let p = tasks.get(idx as usize)?.task;
        // SAFETY: entries point to live tasks (invariant of `tasks`).
        (unsafe { p.as_ref() }.gen() == gen).then_some(p)
    }

    // ----------------------------------------------------------------- spawn

    /// Places a green thread described by `init`, whose join packet is
    /// `owner`, on this hub; its task record goes to the record area of its
    /// stack. `body(killed)` runs inside the coroutine; `killed` says the
    /// green thread was killed before it started (the body must then not
    /// run the user's closure). The owner's joiners are failed if the hub
    /// dies first.
    pub(crate) fn spawn_raw(
        &self,
        owner: OwnerRef,
        init: TaskInit,
        stack_size: Option<usize>,
        body: impl FnOnce(bool) + 'static,
    ) -> io::Result<(u32, u32)> {
        let size = stack_size.unwrap_or_else(|| self.config.borrow().stack_size);
        let mut stack = self.stacks.borrow_mut().get(size)?;
        trace_event!(TRACE, kind = "spawn", id = %init.id, name = ?init.name, site = %init.spawn_site, parent = ?init.parent.map(|p| p.to_string()));
        stack.set_owner(init.id.as_u64(), init.name.as_deref());
        let record = stack.record().cast::<Task>();
        // SAFETY: the record area holds a `Task` (size and alignment are
        // checked at compile time in `task.rs`), is unused (the stack was
        // idle) and stays mapped while the stack lives: from here on the
        // task owns the stack through its coroutine, and `finish` (or
        // teardown) drops the task before the stack goes.
        unsafe { record.write(Task::new(init, self.clock.get())) };
        // SAFETY: just written; only shared references are made to it.
        let task = unsafe { &*record };
        let coro = Coro::new(stack, move |s: &Suspender| {
            let hub = Hub::current();
            let me = hub.cur();
            me.suspender.set(s);
            me.started.set(true);
            // Killed before it started: the body only records that.
            body(me.take_kill());
        });
        // SAFETY: the task is not running and nothing else references its
        // coroutine slot (invariant of `Task::coro`).
        unsafe { *task.coro.get() = Some(coro) };
        let gen = task.gen();
        let ptr = NonNull::from(task);
        let idx = self.tasks.borrow_mut().insert(Entry { task: ptr, owner: Some(owner) }) as u32;
        self.runq.borrow_mut().push_back(idx);
        self.live.set(self.live.get() + 1);
        self.shared.load.store(self.live.get(), Ordering::Relaxed);
        Ok((idx, gen))
    }

    // ------------------------------------------------------------ identity

    /// Id of the running task (the root's id outside green threads).
    pub(crate) fn current_id(&self) -> Id {
        self.cur().id
    }

    /// Name of the running task, if any.
    pub(crate) fn current_name(&self) -> Option<Arc<str>> {
        self.cur().name.clone()
    }

    /// The task whose code runs now (the root's outside green threads).
    pub(crate) fn running_task(&self) -> &Task {
        self.cur()
    }

    /// Whether a green thread (not the root) runs now.
    pub(crate) fn is_green(&self) -> bool {
        self.current.get() != ROOT
    }

    /// Slot index and generation of the running task.
    #[inline]
    pub(crate) fn current_key(&self) -> (u32, u32) {
        (self.current.get(), self.cur().gen())
    }

    /// Green threads alive on this hub.
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    // ------------------------------------------------------------ blocking

    /// Blocks the current task until unparked, its deadline, or a kill.
    ///
    /// A pending unpark token returns at once. A kill request unwinds with
    /// [`KillSignal`]; an expired timeout scope unwinds with
    /// [`ScopeExpired`]. Only a root can get `Err`: when no thread of the
    /// process can ever wake it.
    ///
    /// The common case — a green thread, no deadline, no timeout scope, no
    /// pending kill — is inlined into the caller (see `yield_now` for why).
    #[inline(always)]
    pub(crate) fn park(&self, deadline: Option<Instant>, wait: WaitOn) -> Result<Wake, WouldBlockForever> {
        let me = self.current.get();
        let t = self.cur();
        if me == ROOT || deadline.is_some() || t.kill.get() != Kill::None || !t.scopes.borrow().is_empty() {
            return self.park_slow(deadline, wait);
        }
        if t.notified.replace(false) {
            return Ok(Wake::Unparked);
        }
        t.state.set(State::Parked);
        t.wait.set(wait);
        t.since.set(self.clock.get());
        trace_event!(TRACE, kind = "park", id = %t.id, on = %wait);
        // SAFETY: `t` is the running green thread (me != ROOT), whose
        // suspender was stored when its coroutine started.
        unsafe { coroutine::suspend(t.suspender.get()) };
        t.state.set(State::Running);
        if t.kill.get() == Kill::Requested && !unwinding() {
            t.kill.set(Kill::None);
            std::panic::resume_unwind(Box::new(KillSignal));
        }
        Ok(Wake::Unparked)
    }

    /// `park` with a deadline, a timeout scope, a pending kill, or on the root.
    ///
    /// While the task unwinds (a kill, an expired scope or a panic is on
    /// its way up), it parks like any other wait: a pending kill stays
    /// pending until the unwind is over, and the timeout scopes opened
    /// before the unwind are ignored (the one that expired already fired).
    /// Raising either here would be a panic in a destructor during
    /// cleanup: a process abort. A scope opened inside the destructor
    /// still fires: its own `with_timeout`, in the destructor, catches it.
    #[inline(never)]
    fn park_slow(&self, deadline: Option<Instant>, wait: WaitOn) -> Result<Wake, WouldBlockForever> {
        let me = self.current.get();
        let t = self.cur();
        let unwinding = unwinding();
        if !unwinding && t.take_kill() {
            std::panic::resume_unwind(Box::new(KillSignal));
        }
        if t.notified.replace(false) {
            return Ok(Wake::Unparked);
        }
        let scope = t.tightest_scope(unwinding);
        let effective = match (deadline, scope) {
            (Some(d), Some(s)) => Some(d.min(s.deadline)),
            (d, s) => d.or(s.map(|s| s.deadline)),
        };
        if let Some(when) = effective {
            t.timer.set(self.timers.borrow_mut().arm(when, me, t.gen()));
        }
        t.state.set(State::Parked);
        t.wait.set(wait);
        t.since.set(self.clock.get());
        trace_event!(TRACE, kind = "park", id = %t.id, on = %wait);
        t.timed_out.set(false);
        if me == ROOT {
            if let Err(e) = self.run_until_root_ready() {
                t.state.set(State::Running);
                self.disarm(t);
                return Err(e);
            }
        } else {
            // SAFETY: `t` is the running green thread, whose suspender was
            // stored when its coroutine started.
            unsafe { coroutine::suspend(t.suspender.get()) };
        }
        t.state.set(State::Running);
        self.disarm(t);
        if !unwinding && t.take_kill() {
            std::panic::resume_unwind(Box::new(KillSignal));
        }
        if t.timed_out.replace(false) {
            if let Some(s) = scope {
                if deadline.is_none_or(|d| s.deadline < d) {
                    std::panic::resume_unwind(Box::new(ScopeExpired(s.id)));
                }
            }
            return Ok(Wake::TimedOut);
        }
        Ok(Wake::Unparked)
    }

    #[inline]
    fn disarm(&self, t: &Task) {
        if t.timer.replace(0) != 0 {
            self.timers.borrow_mut().disarm();
        }
    }

    /// Lets every other runnable task run once, then returns.
    ///
    /// Inlined into the caller on purpose: a context switch leaves the CPU's
    /// return-stack predictor one entry off, so every `ret` right after a
    /// switch mispredicts; with the switch inlined, the green thread's code
    /// continues without returning through a stale entry.
    #[inline(always)]
    pub(crate) fn yield_now(&self) {
        let me = self.current.get();
        if me == ROOT {
            return self.yield_root();
        }
        let t = self.cur();
        if t.kill.get() == Kill::Requested && !unwinding() {
            t.kill.set(Kill::None);
            std::panic::resume_unwind(Box::new(KillSignal));
        }
        t.state.set(State::Runnable);
        // Deferring only helps when a poll could make someone runnable.
        if self.reactor.io_waiters() > 0 || self.timers.borrow().armed() > 0 {
            self.deferred.borrow_mut().push_back(me);
        } else {
            self.runq.borrow_mut().push_back(me);
        }
        // SAFETY: as in `park`: the running green thread's own suspender.
        unsafe { coroutine::suspend(t.suspender.get()) };
        t.state.set(State::Running);
        if t.kill.get() == Kill::Requested && !unwinding() {
            t.kill.set(Kill::None);
            std::panic::resume_unwind(Box::new(KillSignal));
        }
    }

    #[cold]
    fn yield_root(&self) {
        let n = self.runq.borrow().len();
        for _ in 0..n {
            let Some(idx) = self.runq.borrow_mut().pop_front() else { break };
            self.run_task(idx);
        }
        self.poll_and_undefer();
    }

    // -------------------------------------------------------- wake-ups

    /// Makes task `idx`/`gen` runnable (or leaves it a token). Stale: no-op.
    #[inline]
    pub(crate) fn unpark_local(&self, idx: u32, gen: u32) {
        let Some(p) = self.task(idx, gen) else { return };
        // SAFETY: `task` returned a live entry; no other reference to it is
        // held across this short block.
        let t = unsafe { p.as_ref() };
        match t.state.get() {
            State::Parked => {
                trace_event!(TRACE, kind = "wake", id = %t.id, by = "unpark");
                t.state.set(State::Runnable);
                self.disarm(t);
                self.make_runnable(idx);
            }
            State::Running | State::Runnable => t.notified.set(true),
        }
    }

    /// Requests that task `idx`/`gen` unwind at its next blocking point.
    ///
    /// Every kill counts: one that arrives after an earlier kill was
    /// delivered (and perhaps caught) is delivered again. Two kills before
    /// a delivery are one. A kill that arrives while the task unwinds waits
    /// until the unwind is over (see `park_slow`).
    pub(crate) fn kill_local(&self, idx: u32, gen: u32) {
        if idx == ROOT {
            return;
        }
        let Some(p) = self.task(idx, gen) else { return };
        // SAFETY: as in `unpark_local`.
        let t = unsafe { p.as_ref() };
        if t.kill.get() == Kill::Requested {
            return;
        }
        t.kill.set(Kill::Requested);
        if t.state.get() == State::Parked {
            trace_event!(TRACE, kind = "wake", id = %t.id, by = "kill");
            t.state.set(State::Runnable);
            self.disarm(t);
            self.make_runnable(idx);
        }
    }

    #[inline]
    fn make_runnable(&self, idx: u32) {
        if idx == ROOT {
            self.root_ready.set(true);
        } else {
            self.runq.borrow_mut().push_back(idx);
        }
    }

    // --------------------------------------------------------- the loop

    /// Runs one task until it suspends or finishes (inlined into the loop
    /// for the same reason as `yield_now`).
    #[inline(always)]
    fn run_task(&self, idx: u32) {
        let p = self.tasks.borrow()[idx as usize].task;
        // SAFETY: entries point to live tasks; this one stays in the slab at
        // least until it finishes below.
        let t = unsafe { p.as_ref() };
        t.state.set(State::Running);
        self.current.set(idx);
        self.cur_task.set(p);
        // SAFETY: only `run_task` touches a green thread's coroutine slot,
        // and it is not re-entered for the same task (a running task is not
        // in the run queue).
        let coro = unsafe { &mut *t.coro.get() };
        let coro = coro.as_mut().expect("a runnable green thread has its coroutine");
        overflow::enter(coro.header());
        self.shared.beat.enter(t.id, t.spawn_site);
        self.prefetch_next();
        let loop_may_park = crate::foreign::set_may_park(true);
        let finished = coro.resume();
        crate::foreign::set_may_park(loop_may_park);
        self.shared.beat.leave();
        overflow::leave();
        self.current.set(ROOT);
        self.cur_task.set(NonNull::from(&*self.root));
        if finished {
            self.finish(idx, p);
        }
    }

    /// Starts loading the top of a green thread's stack soon to run
    /// while this one runs: with many green threads, each one's stack is
    /// cold by its turn (a TLB and cache miss on the first frames).
    #[inline]
    fn prefetch_next(&self) {
        /// How far down the run queue: the second next, so that the load
        /// has a whole turn to complete.
        const PREFETCH_AHEAD: usize = 1;
        let Some(&next) = self.runq.borrow().get(PREFETCH_AHEAD) else { return };
        let tasks = self.tasks.borrow();
        let Some(entry) = tasks.get(next as usize) else { return };
        // SAFETY: entries point to live tasks; the coroutine slot is only
        // written by spawn and finish, neither of which runs meanwhile.
        if let Some(coro) = unsafe { &*entry.task.as_ref().coro.get() } {
            coro.prefetch();
        }
    }

    /// Ends the finished green thread in slot `idx`, whose task is `p`:
    /// its entry goes (and with it the slab's count of its join packet),
    /// its task record is dropped, then its stack goes back to the pool.
    #[cold]
    fn finish(&self, idx: u32, p: NonNull<Task>) {
        let (coro, id) = {
            // SAFETY: the entry still points to the live task; this
            // reference ends with the block.
            let t = unsafe { p.as_ref() };
            trace_event!(TRACE, kind = "finish", id = %t.id);
            self.disarm(t);
            // SAFETY: the coroutine has returned; nothing references it.
            (unsafe { (*t.coro.get()).take() }, t.id)
        };
        self.live.set(self.live.get() - 1);
        self.shared.load.store(self.live.get(), Ordering::Relaxed);
        let entry = self.tasks.borrow_mut().remove(idx as usize);
        drop(entry);
        // SAFETY: the task lives in its stack's record area, still mapped
        // (`coro` holds the stack); its entry is gone and no reference to
        // it is left (its coroutine has returned), so it is dropped once,
        // before its memory goes back with the stack.
        unsafe { ptr::drop_in_place(p.as_ptr()) };
        if let Some(c) = coro {
            self.stacks.borrow_mut().put(c.into_stack());
        }
        // Green-local values of the finished green thread go with it.
        crate::sync::local::finished(id);
    }

    /// The scheduler loop, driven by the root until its wait completes.
    ///
    /// The root's wait is published to other threads (`root_waiting`, for
    /// the would-block-forever check) only when the hub goes idle during
    /// it (`sleep`), before the hub marks itself stuck: a wait that other
    /// hubs' checks could concern is one where this hub is stuck, and a
    /// busy loop (a root joining green threads that are runnable) then
    /// makes no cross-thread store at all.
    fn run_until_root_ready(&self) -> Result<(), WouldBlockForever> {
        let outer = self.root_waits.replace(!self.serving.get());
        // The loop and the reactor never park from foreign frames (foreign.rs).
        let root_may_park = crate::foreign::set_may_park(false);
        let result = self.run_loop();
        crate::foreign::set_may_park(root_may_park);
        self.root_waits.set(outer);
        if !outer && self.root_published.replace(false) {
            self.shared.root_waiting.store(false, Ordering::SeqCst);
        }
        self.root_ready.set(false);
        result
    }

    fn run_loop(&self) -> Result<(), WouldBlockForever> {
        loop {
            // Run what is runnable, checking the remote queue (one atomic
            // load) between tasks and the reactor/timers every POLL_INTERVAL.
            loop {
                if self.root_ready.get() {
                    return Ok(());
                }
                if self.shared.has_pending() {
                    self.drain_remote();
                    continue;
                }
                let next = self.runq.borrow_mut().pop_front();
                let Some(idx) = next else {
                    if self.deferred.borrow().is_empty() {
                        break;
                    }
                    self.poll_and_undefer();
                    continue;
                };
                self.run_task(idx);
                let tick = self.tick.get().wrapping_add(1);
                self.tick.set(tick);
                if tick % POLL_INTERVAL == 0 {
                    self.poll_and_undefer();
                    if tick % (POLL_INTERVAL * 64) == 0 {
                        // A hub that never sleeps trims its idle stacks too.
                        self.trim_stacks();
                    }
                }
            }
            if self.root_ready.get() {
                return Ok(());
            }
            if self.timers.borrow().armed() > 0 && self.fire_timers(Instant::now()) > 0 {
                continue;
            }
            self.sleep()?;
        }
    }

    /// Polls without blocking, then puts the green threads that yielded
    /// back on the run queue, behind what the poll woke.
    #[inline]
    fn poll_and_undefer(&self) {
        self.clock.set(Instant::now());
        self.poll_nonblocking();
        self.undefer();
    }

    /// Puts the green threads that yielded back on the run queue.
    #[inline]
    fn undefer(&self) {
        let mut deferred = self.deferred.borrow_mut();
        if !deferred.is_empty() {
            let mut runq = self.runq.borrow_mut();
            if runq.is_empty() {
                // The common case (only yielders were runnable): O(1).
                std::mem::swap(&mut *runq, &mut *deferred);
            } else {
                runq.extend(deferred.drain(..));
            }
        }
    }

    /// Polls I/O without blocking (only when someone waits on I/O: remote
    /// wake-ups arrive through `pending`, not the poller) and fires due
    /// timers.
    fn poll_nonblocking(&self) {
        if self.reactor.io_waiters() > 0 {
            self.reactor.poll(Some(Duration::ZERO), |tok, r| self.dispatch_io(tok, r));
        }
        if self.timers.borrow().armed() > 0 {
            self.fire_timers(Instant::now());
        }
    }

    /// Nothing runnable: sleep in the reactor until I/O, a timer, or a
    /// remote message; or report that nothing can ever wake the root.
    fn sleep(&self) -> Result<(), WouldBlockForever> {
        let next = self.timers.borrow_mut().next_deadline();
        let mut timeout = next.map(|d| d.saturating_duration_since(Instant::now()));
        let stuck_candidate = next.is_none() && self.reactor.io_waiters() == 0;
        if stuck_candidate {
            if self.root_waits.get() && !self.root_published.replace(true) {
                // Published before the stuck mark (see `run_until_root_ready`).
                self.shared.root_waiting.store(true, Ordering::SeqCst);
            }
            self.shared.stuck.mark();
            if !self.shared.has_pending() {
                match deadlock::everyone_stuck() {
                    Some(true) => {
                        if self.root_waits.get() {
                            self.shared.stuck.unmark();
                            return Err(self.would_block_forever());
                        }
                        registry::notify_waiting_roots();
                    }
                    _ => {
                        if self.root_waits.get() {
                            timeout = Some(deadlock::RECHECK);
                        }
                    }
                }
            }
        }
        if self.shared.begin_sleep() {
            // Idle stacks give their memory back; wake up for the next trim.
            if let Some(trim) = self.trim_stacks() {
                timeout = Some(timeout.map_or(trim, |t| t.min(trim)));
            }
            self.reactor.poll(timeout, |tok, r| self.dispatch_io(tok, r));
            self.shared.end_sleep();
        }
        self.clock.set(Instant::now());
        if stuck_candidate {
            self.shared.stuck.unmark();
        }
        if self.shared.has_pending() {
            self.drain_remote();
        }
        if self.timers.borrow().armed() > 0 {
            self.fire_timers(Instant::now());
        }
        Ok(())
    }

    /// Trims the stack pool if a trim interval has passed (see
    /// `crate::stack`), and shrinks the tables after a burst; returns when
    /// the next trim is due, if anything is left to trim.
    fn trim_stacks(&self) -> Option<Duration> {
        let (next_trim, released) = self.stacks.borrow_mut().trim_if_due(Instant::now());
        if released >= crate::stack::BURST {
            self.shrink_after_burst();
        }
        next_trim
    }

    /// After a burst of green threads has gone, gives back the capacity its
    /// tables grew to (the task slab, the run queues, the timer heap) and
    /// the allocator's free memory, so that RSS returns to its level before
    /// the burst.
    #[cold]
    fn shrink_after_burst(&self) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.capacity() > 1024 && tasks.len() < tasks.capacity() / 4 {
            tasks.shrink_to_fit();
        }
        drop(tasks);
        for q in [&self.runq, &self.deferred] {
            let mut q = q.borrow_mut();
            if q.capacity() > 1024 && q.len() < q.capacity() / 4 {
                let keep = q.len().max(64);
                q.shrink_to(keep);
            }
        }
        self.timers.borrow_mut().shrink();
        crate::join::give_back_packet_cache();
        crate::stack::give_back_heap();
    }

    /// Fires every timer due at `now`; returns how many woke a task.
    fn fire_timers(&self, now: Instant) -> usize {
        let mut woke = 0;
        loop {
            let entry = {
                let mut timers = self.timers.borrow_mut();
                if timers.armed() == 0 {
                    break;
                }
                match timers.pop_due(now) {
                    Some(e) => e,
                    None => break,
                }
            };
            let Some(p) = self.task(entry.idx, entry.gen) else { continue };
            // SAFETY: a live entry, not held across anything.
            let t = unsafe { p.as_ref() };
            if t.timer.get() != entry.seq {
                continue;
            }
            t.timer.set(0);
            t.timed_out.set(true);
            trace_event!(TRACE, kind = "wake", id = %t.id, by = "timer");
            t.state.set(State::Runnable);
            self.timers.borrow_mut().fired();
            self.make_runnable(entry.idx);
            woke += 1;
        }
        if woke > 0 {
            let tasks = self.tasks.borrow();
            self.timers.borrow_mut().compact(|e| {
                tasks.get(e.idx as usize).is_some_and(|en| {
                    // SAFETY: entries point to live tasks.
                    let t = unsafe { en.task.as_ref() };
                    t.gen() == e.gen && t.timer.get() == e.seq
                })
            });
        }
        woke
    }

    /// Handles every message of the remote queue.
    fn drain_remote(&self) {
        let mut inbox = self.inbox.take();
        self.shared.drain(&mut inbox);
        for msg in inbox.drain(..) {
            match msg {
                Msg::Unpark { idx, gen } => self.unpark_local(idx, gen),
                Msg::Kill { idx, gen } => self.kill_local(idx, gen),
                Msg::Run(f) => f(),
                Msg::Recheck => {}
            }
        }
        self.inbox.replace(inbox);
    }

    // ---------------------------------------------------------- serving

    /// Runs this hub for a `Runtime` until `stop` says so; the root waits
    /// on `serve` and is woken by the runtime's shutdown message.
    pub(crate) fn serve(&self, stop: impl Fn() -> bool) {
        self.serving.set(true);
        while !stop() {
            let _ = self.park(None, WaitOn::named("serve"));
        }
        self.serving.set(false);
    }

    /// Kills every green thread of this hub and runs them until they end:
    /// their destructors run (also ones that block: timers, I/O and
    /// wake-ups from other threads keep working), their locks are
    /// released and their joiners get `Killed`.
    ///
    /// A green thread that catches its kill and blocks again is killed
    /// again. What is still alive after [`DRAIN_GRACE`] (a destructor that
    /// waits for something that never comes, a thread that catches every
    /// kill) is abandoned at teardown: its joiners get `Abandoned`.
    pub(crate) fn kill_all_and_drain(&self) {
        let give_up = Instant::now() + DRAIN_GRACE;
        while self.live.get() > 0 {
            // Kill whatever has no kill pending: every thread at first, then
            // the ones that caught theirs.
            let keys: Vec<(u32, u32)> = self
                .tasks
                .borrow()
                .iter()
                .filter(|(k, _)| *k != ROOT as usize)
                // SAFETY: entries point to live tasks.
                .map(|(k, e)| (k as u32, unsafe { e.task.as_ref() }.gen()))
                .collect();
            for (idx, gen) in keys {
                self.kill_local(idx, gen);
            }
            loop {
                if self.shared.has_pending() {
                    self.drain_remote();
                }
                self.undefer();
                let next = self.runq.borrow_mut().pop_front();
                let Some(idx) = next else { break };
                self.run_task(idx);
            }
            if self.live.get() == 0 {
                break;
            }
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            // What is left is parked, unwinding or not: wait for a timer,
            // I/O or a wake-up from another thread (not past `give_up`).
            let until = self.timers.borrow_mut().next_deadline().map_or(give_up, |d| d.min(give_up));
            if self.shared.begin_sleep() {
                let wait = until.saturating_duration_since(now).min(Duration::from_millis(50));
                self.reactor.poll(Some(wait), |tok, r| self.dispatch_io(tok, r));
                self.shared.end_sleep();
            }
            if self.timers.borrow().armed() > 0 {
                self.fire_timers(Instant::now());
            }
        }
    }

    // ------------------------------------------------- cooperative budget

    /// The budget green threads of this hub get (`u32::MAX`: off).
    #[inline]
    pub(crate) fn coop_budget(&self) -> u32 {
        self.coop_budget.get()
    }

    /// Sets the budget (`0`: off).
    pub(crate) fn set_coop_budget(&self, n: u32) {
        self.coop_budget.set(crate::coop::internal(n));
    }

    /// For an exhausted budget: whether the scheduler switched tasks since
    /// the last refill (the running code gave the hub back meanwhile: no
    /// yield is owed). Marks the refill that follows either way.
    #[inline]
    pub(crate) fn coop_switched_since_refill(&self) -> bool {
        let tick = self.tick.get();
        self.coop_mark.replace(tick) != tick
    }

    /// Marks a refill after a budget yield.
    #[inline]
    pub(crate) fn coop_refilled(&self) {
        self.coop_mark.set(self.tick.get());
    }

    /// Yields for an exhausted budget, unless the root is driving the
    /// loop (a destructor or a remote job run by the scheduler itself):
    /// there the loop is already taking turns.
    pub(crate) fn coop_yield(&self) {
        if self.current.get() == ROOT && self.root.state.get() != State::Running {
            return;
        }
        self.yield_now();
    }

    // ------------------------------------------------------ timeout scopes

    /// Opens a timeout scope on the running task; returns its id.
    pub(crate) fn push_scope(&self, deadline: Instant) -> u64 {
        let id = self.next_scope.get();
        self.next_scope.set(id + 1);
        self.cur().scopes.borrow_mut().push(Scope { id, deadline, in_unwind: unwinding() });
        id
    }

    /// Closes the timeout scope `id` of the running task.
    pub(crate) fn pop_scope(&self, id: u64) {
        self.cur().scopes.borrow_mut().retain(|s| s.id != id);
    }

    // ------------------------------------------------------ diagnostics

    /// Every task of this hub (root first) with its slot index.
    fn each_task(&self, mut f: impl FnMut(usize, &Task)) {
        let tasks = self.tasks.borrow();
        for (k, e) in tasks.iter() {
            // SAFETY: entries point to live tasks.
            f(k, unsafe { e.task.as_ref() });
        }
    }

    fn would_block_forever(&self) -> WouldBlockForever {
        let thread = std::thread::current();
        let mut msg = format!(
            "this call would block forever: the root of OS thread '{}' waits on {}, and no thread of the process can wake it (nothing runnable, no timer, no I/O, no outstanding wake handle)",
            thread.name().unwrap_or("<unnamed>"),
            self.root.wait.get()
        );
        let mut lines = Vec::new();
        self.each_task(|k, t| {
            if k != ROOT as usize {
                lines.push(format!(
                    "\n  green thread {} '{}' waits on {} (spawned at {})",
                    t.id,
                    t.name.as_deref().unwrap_or("<unnamed>"),
                    t.wait.get(),
                    t.spawn_site
                ));
            }
        });
        if !lines.is_empty() {
            let _ = write!(msg, "; {} blocked green thread(s) on this hub:", lines.len());
            for l in lines.iter().take(20) {
                msg.push_str(l);
            }
            if lines.len() > 20 {
                let _ = write!(msg, "\n  … and {} more", lines.len() - 20);
            }
        }
        WouldBlockForever::new(msg)
    }

    /// One line per task: id, name, state, spawn site, what it waits on.
    pub(crate) fn dump(&self) -> String {
        self.snapshot().to_string()
    }

    /// What every green thread of this hub (and its root) is doing.
    pub(crate) fn snapshot(&self) -> crate::dump::HubDump {
        let now = Instant::now();
        let mut threads = Vec::new();
        self.each_task(|k, t| {
            let state = t.state.get();
            threads.push(crate::dump::ThreadDump {
                id: t.id,
                root: k == ROOT as usize,
                name: t.name.as_deref().map(str::to_owned),
                spawn_site: t.spawn_site,
                state: state.name(),
                waits_on: (state == State::Parked).then(|| t.wait.get()),
                waiting_for: (state == State::Parked).then(|| now.saturating_duration_since(t.since.get())),
                parent: t.parent(),
            });
        });
        crate::dump::HubDump {
            hub: self.shared.index,
            thread: std::thread::current().name().map(str::to_owned),
            answered: true,
            running: None,
            threads,
        }
    }

    /// Stacks cached in this hub's pool.
    pub(crate) fn cached_stacks(&self) -> usize {
        self.stacks.borrow().cached()
    }

    // ------------------------------------------------------- teardown

    /// At thread exit, after the drain: fail the joiners of the green
    /// threads that survived it and leak their coroutines (resuming them
    /// now could re-enter this hub).
    fn teardown(self: Box<Hub>) {
        self.shared.stuck.unmark();
        deadlock::ours(-1);
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for (_, e) in tasks {
            let Some(owner) = e.owner else { continue };
            // SAFETY: the hub is gone from this thread's TLS; nothing else
            // references the task or its coroutine slot.
            if let Some(c) = unsafe { (*e.task.as_ref().coro.get()).take() } {
                // Leaked: its stack, and the task record in it, stay mapped.
                std::mem::forget(c);
                // SAFETY: the task lives in the leaked stack's record area,
                // which stays mapped; nothing references it any more, and
                // its entry is gone: dropped once (its name, its scopes).
                unsafe { ptr::drop_in_place(e.task.as_ptr()) };
            }
            owner.abandon();
        }
    }
}
