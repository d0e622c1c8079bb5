//! Join handles: the result of a green thread, and the handle that kills it.
//!
//! # Model
//! Each spawn allocates one [`Packet`] shared by the task and its
//! [`JoinHandle`]. The task writes its outcome (value, panic payload, or
//! killed) exactly once and wakes the joiner through the joiner's
//! [`Unparker`], which works from any thread. The packet also records where
//! the task lives (hub and slot) once it is placed, so `kill` can reach it;
//! a kill requested before placement is applied when the task is placed, and
//! the task then never runs.
//!
//! # Invariants
//! - `result` goes from `None` to `Some` once; `done` mirrors it for
//!   lock-free `is_finished`.
//! - At most one joiner (the handle is consumed by `join`).

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::hub::{Hub, KillSignal};
use crate::park::Unparker;
use crate::remote::{HubRef, Msg};
use crate::task::{Id, Task, TaskOwner, WaitOn};
use crate::WouldBlockForever;

/// Why [`JoinHandle::join`] did not return a value.
pub enum JoinError {
    /// The green thread panicked; this is the payload, as with
    /// `std::thread::JoinHandle::join`.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The green thread was killed ([`JoinHandle::kill`]) — before it
    /// started, or at a blocking point where it unwound.
    Killed,
    /// Its hub's thread exited while the green thread was still blocked.
    Abandoned,
    /// The green thread could not be started on the hub it was placed on
    /// (for example no stack could be mapped; the error says which limit).
    Spawn(io::Error),
    /// Joining would block forever: nothing in the process can finish it.
    WouldBlockForever(WouldBlockForever),
}

impl JoinError {
    /// Whether the green thread was killed.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::sleep(std::time::Duration::from_secs(10)));
    /// h.kill();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }

    /// Whether the green thread panicked.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| panic!("boom"));
    /// assert!(h.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, if the green thread panicked.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| -> () { std::panic::panic_any(7u8) });
    /// let p = h.join().unwrap_err().into_panic().unwrap();
    /// assert_eq!(*p.downcast::<u8>().unwrap(), 7);
    /// ```
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("<non-string payload>");
                write!(f, "green thread panicked: {msg}")
            }
            JoinError::Killed => f.write_str("green thread was killed"),
            JoinError::Abandoned => {
                f.write_str("green thread was abandoned: its hub's OS thread exited while it was blocked")
            }
            JoinError::Spawn(e) => write!(f, "green thread could not start: {e}"),
            JoinError::WouldBlockForever(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for JoinError {}

struct PacketState<T> {
    result: Option<Result<T, JoinError>>,
    waiter: Option<Unparker>,
    target: Option<(HubRef, u32, u32)>,
    kill_requested: bool,
}

/// The shared slot between a green thread and its join handle; it also
/// holds the green thread's [`Task`] record (one allocation per spawn).
pub(crate) struct Packet<T> {
    /// # Invariant
    /// After construction, touched only by the thread of the hub the task
    /// is placed on (the hub reaches it through `TaskOwner::task`); the
    /// join handle never reads it.
    task: Task,
    state: Mutex<PacketState<T>>,
    done: AtomicBool,
}

// SAFETY: the `task` field (the only non-thread-safe part: `Cell`s, the
// coroutine) is accessed by one thread only — the hub the task runs on —
// per its invariant; everything else is a `Mutex` or an atomic. Results of
// type `T` cross threads, hence `T: Send`.
unsafe impl<T: Send> Send for Packet<T> {}
// SAFETY: as above: shared access from other threads only reaches `state`
// and `done`, which are synchronised.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    pub(crate) fn new(id: Id, name: Option<Arc<str>>, site: &'static Location<'static>) -> Arc<Packet<T>> {
        Arc::new(Packet {
            task: Task::new(id, name, site),
            state: Mutex::new(PacketState { result: None, waiter: None, target: None, kill_requested: false }),
            done: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacketState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome (first one wins) and wakes the joiner.
    pub(crate) fn complete(&self, r: Result<T, JoinError>) {
        let waiter = {
            let mut st = self.lock();
            if st.result.is_some() {
                return;
            }
            st.result = Some(r);
            st.target = None;
            self.done.store(true, Ordering::Release);
            st.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }

    /// Records where the task lives; applies an early kill request.
    pub(crate) fn placed(&self, hub: &Hub, idx: u32, gen: u32) {
        let kill = {
            let mut st = self.lock();
            st.target = Some((hub.shared.clone(), idx, gen));
            st.kill_requested
        };
        if kill {
            hub.kill_local(idx, gen);
        }
    }

    /// The body of a green thread: runs `f` (unless the thread was killed
    /// before it started, in which case `f` is dropped) and records the
    /// outcome.
    pub(crate) fn start(&self, killed: bool, f: impl FnOnce() -> T) {
        if killed {
            drop(f);
            self.complete(Err(JoinError::Killed));
        } else {
            self.run(f);
        }
    }

    /// Runs `f` and records its outcome.
    pub(crate) fn run(&self, f: impl FnOnce() -> T) {
        let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Ok(v),
            Err(p) if p.is::<KillSignal>() => Err(JoinError::Killed),
            Err(p) => Err(JoinError::Panicked(p)),
        };
        self.complete(r);
    }
}

impl<T> TaskOwner for Packet<T> {
    fn task(&self) -> &Task {
        &self.task
    }

    fn abandon(&self) {
        self.complete(Err(JoinError::Abandoned));
    }
}

/// An owned permission to join a green thread (wait for its result) and to
/// kill it. Like `std::thread::JoinHandle`, dropping it detaches the thread.
///
/// ```
/// let h = greenpatch_runtime::spawn(|| 6 * 7);
/// assert!(!h.id().to_string().is_empty());
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    pub(crate) packet: Arc<Packet<T>>,
    pub(crate) id: Id,
}

impl<T> JoinHandle<T> {
    /// Waits for the green thread to finish and returns its value, or why it
    /// has none. Parks only the calling green thread; from plain code it
    /// drives this thread's hub until the result is in.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| "done");
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let hub = Hub::current();
        loop {
            {
                let mut st = self.packet.lock();
                if let Some(r) = st.result.take() {
                    return r;
                }
                st.waiter = Some(Unparker::current_on(hub));
            }
            let woke = hub.park(None, WaitOn { what: "join", target: Some(self.id) });
            if let Err(e) = woke {
                self.packet.lock().waiter = None;
                return Err(JoinError::WouldBlockForever(e));
            }
        }
    }

    /// Asks the green thread to exit: it unwinds (running destructors and
    /// releasing guards) at its next blocking point, or never starts if it
    /// has not started yet. Returns at once; `join` then reports
    /// [`JoinError::Killed`]. Killing a finished thread does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::sleep(Duration::from_secs(60)));
    /// h.kill();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) {
        let target = {
            let mut st = self.packet.lock();
            if st.result.is_some() {
                return;
            }
            match &st.target {
                Some((hub, idx, gen)) => (hub.clone(), *idx, *gen),
                None => {
                    st.kill_requested = true;
                    return;
                }
            }
        };
        let (hub, idx, gen) = target;
        match Hub::try_current() {
            Some(h) if Arc::ptr_eq(&h.shared, &hub) => h.kill_local(idx, gen),
            _ => hub.push(Msg::Kill { idx, gen }),
        }
    }

    /// Whether the green thread has finished (a `join` would not block).
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| ());
    /// greenpatch_runtime::yield_now();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.done.load(Ordering::Acquire)
    }

    /// The green thread's id.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::current().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).field("finished", &self.is_finished()).finish()
    }
}
