//! [`Thread`] and [`ThreadId`]: handles to OS threads and green threads,
//! `current`/`park` for the green flavor, and the bridge that lets an OS
//! handle wake a root's green park.
//!
//! # Model
//!
//! A `Thread` is std's handle for an OS thread (roots included: a root is
//! its OS thread) or a shared `GreenThread` record for a green thread. A
//! root that parks green (or calls `current`) registers its runtime
//! unparker under its std `ThreadId`; `Thread::unpark` on an OS handle does
//! std's unpark and, through that table, the green one.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use greenpatch_runtime as rt;

use crate::flavor::Flavored;
use crate::Flavor;

/// A green thread's handle data, shared by its `JoinHandle` and `Thread`s.
///
/// # Invariant
///
/// An unpark is never lost, even before the green thread starts: `unpark`
/// stores `early` then reads `unparker`; the starting thread stores
/// `unparker` then swaps `early` (SeqCst fences between each pair), so at
/// least one of them sees the other and delivers the token.
pub(super) struct GreenThread {
    pub(super) id: OnceLock<rt::Id>,
    name: Option<String>,
    /// Set by the green thread when it starts.
    unparker: OnceLock<rt::Unparker>,
    /// An unpark arrived before `unparker` was set.
    early: AtomicBool,
}

impl GreenThread {
    pub(super) fn new(id: Option<rt::Id>, name: Option<String>, unparker: Option<rt::Unparker>) -> GreenThread {
        let g = GreenThread { id: OnceLock::new(), name, unparker: OnceLock::new(), early: AtomicBool::new(false) };
        if let Some(id) = id {
            let _ = g.id.set(id);
        }
        if let Some(u) = unparker {
            let _ = g.unparker.set(u);
        }
        g
    }

    /// Called by the green thread when it starts.
    pub(super) fn started(&self, u: rt::Unparker) {
        let _ = self.unparker.set(u.clone());
        fence(Ordering::SeqCst);
        if self.early.swap(false, Ordering::SeqCst) {
            u.unpark();
        }
    }

    fn unpark(&self) {
        if let Some(u) = self.unparker.get() {
            return u.unpark();
        }
        self.early.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(u) = self.unparker.get() {
            if self.early.swap(false, Ordering::SeqCst) {
                u.unpark();
            }
        }
    }
}

pub(super) type ThreadImpl = Flavored<std::thread::Thread, Arc<GreenThread>>;

/// A handle to a thread (OS or green), like `std::thread::Thread`.
///
/// # Example
///
/// ```
/// let t = greenpatch::thread::current();
/// let h = greenpatch::thread::spawn(move || t.unpark());
/// greenpatch::thread::park();
/// h.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Thread {
    pub(super) imp: ThreadImpl,
}

impl Thread {
    /// The thread's id: unique among OS threads and green threads.
    ///
    /// # Example
    ///
    /// ```
    /// let here = greenpatch::thread::current().id();
    /// let there = greenpatch::thread::spawn(|| greenpatch::thread::current().id()).join().unwrap();
    /// assert_ne!(here, there);
    /// ```
    pub fn id(&self) -> ThreadId {
        match &self.imp {
            Flavored::Blocking(t) => ThreadId(Flavored::Blocking(t.id())),
            Flavored::Green(g) => ThreadId(Flavored::Green(g.id.get().map_or(0, |id| id.as_u64()))),
        }
    }

    /// The thread's name, if it was given one.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().name("w".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("w"));
    /// h.join().unwrap();
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.imp {
            Flavored::Blocking(t) => t.name(),
            Flavored::Green(g) => g.name.as_deref(),
        }
    }

    /// Makes the thread's park token available, waking it if it parks. A
    /// green thread that has not started yet gets the token when it starts.
    ///
    /// # Example
    ///
    /// ```
    /// let me = greenpatch::thread::current();
    /// me.unpark();
    /// greenpatch::thread::park(); // returns at once
    /// ```
    pub fn unpark(&self) {
        match &self.imp {
            Flavored::Blocking(t) => {
                t.unpark();
                bridge::unpark(t.id());
            }
            Flavored::Green(g) => g.unpark(),
        }
    }

    /// Whether it is an OS thread ([`Flavor::Blocking`]) or a green thread.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::current().flavor(), greenpatch::Flavor::Blocking);
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread").field("id", &self.id()).field("name", &self.name()).finish()
    }
}

type IdImpl = Flavored<std::thread::ThreadId, u64>;

/// A thread's unique id, like `std::thread::ThreadId`: OS threads and green
/// threads never share one.
///
/// # Example
///
/// ```
/// let a = greenpatch::thread::current().id();
/// assert_eq!(a, greenpatch::thread::current().id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ThreadId(IdImpl);

pub(super) fn os_current() -> Thread {
    Thread { imp: Flavored::Blocking(std::thread::current()) }
}

pub(super) fn green_current() -> Thread {
    let me = rt::current();
    if crate::stale::is_root(me.id()) {
        // A root is its OS thread: keep std's handle (the same id as before
        // patching), reachable by green parks through the bridge.
        bridge::register(me.unparker());
        return os_current();
    }
    let g = GreenThread::new(Some(me.id()), me.name().map(String::from), Some(me.unparker()));
    Thread { imp: Flavored::Green(Arc::new(g)) }
}

pub(super) fn green_park() {
    bridge::register_if_root();
    if let Err(e) = rt::park() {
        panic!("{e}");
    }
}

pub(super) fn green_park_timeout(dur: Duration) {
    bridge::register_if_root();
    let _ = rt::park_timeout(dur);
}

/// Roots that park green, reachable from their pre-patch OS handles.
mod bridge {
    use super::*;

    static ROOTS: StdMutex<Option<HashMap<std::thread::ThreadId, rt::Unparker>>> = StdMutex::new(None);
    static ANY: AtomicBool = AtomicBool::new(false);

    thread_local! {
        /// The thread's std id once its root registered; removes the entry
        /// when the thread exits.
        static REGISTERED: Unregister = const { Unregister(Cell::new(None)) };
    }

    struct Unregister(Cell<Option<std::thread::ThreadId>>);

    impl Drop for Unregister {
        fn drop(&mut self) {
            if let Some(id) = self.0.get() {
                if let Some(map) = ROOTS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    map.remove(&id);
                }
            }
        }
    }

    /// Registers the caller's unparker if it is a root (once per thread).
    pub(super) fn register_if_root() {
        if REGISTERED.try_with(|r| r.0.get().is_some()).unwrap_or(true) {
            return;
        }
        let me = rt::current();
        if crate::stale::is_root(me.id()) {
            register(me.unparker());
        }
    }

    /// Registers `root`, the calling root's unparker (once per thread).
    pub(super) fn register(root: rt::Unparker) {
        let id = std::thread::current().id();
        let first = REGISTERED.try_with(|r| r.0.replace(Some(id)).is_none()).unwrap_or(false);
        if !first {
            return;
        }
        ROOTS.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(id, root);
        ANY.store(true, Ordering::SeqCst);
    }

    /// Wakes the green park of OS thread `id`'s root, if it registered.
    pub(super) fn unpark(id: std::thread::ThreadId) {
        if !ANY.load(Ordering::SeqCst) {
            return;
        }
        let u = ROOTS.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(&id).cloned());
        if let Some(u) = u {
            u.unpark();
        }
    }
}
