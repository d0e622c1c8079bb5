//! `thread`: `std::thread` and std's locks until `patch_all()`, green
//! threads and green locks after it — plus gevent's `Event`, `Semaphore`
//! and a green-thread-local ([`Local`]).
//!
//! # Model
//!
//! Functions dispatch through registry slots; objects take an
//! implementation ([`Flavor`]) once and keep it (see [`crate::flavor`]'s
//! rules: threads when spawned, locks at first use).
//!
//! | item | original | green |
//! |---|---|---|
//! | `thread.spawn` (flavor of [`spawn`], [`Builder::spawn`]) | OS thread | green thread |
//! | `thread.sleep` | `std::thread::sleep` | `greenpatch_runtime::sleep` |
//! | `thread.yield_now` | `std::thread::yield_now` | `greenpatch_runtime::yield_now` |
//! | `thread.current` | `std::thread::current` | the running green thread (std's handle on a root) |
//! | `thread.park` / `thread.park_timeout` | std's | the runtime's |
//! | `thread.Mutex`, `RwLock`, `Event`, `Semaphore`, `Local` (flavors) | std-based | runtime's |
//!
//! A [`Condvar`] has no item: it always works with the flavor of the
//! [`MutexGuard`] it is given.
//!
//! # Threads that span `patch_all()`
//!
//! - An OS thread spawned through the facade before patching stays an OS
//!   thread. While any is running, `patch_all()` warns (check
//!   `greenpatch.thread.os-threads`), and joining one from a green thread
//!   is reported once per spawn site (see the crate docs' *pitfall* section); after
//!   patching, [`JoinHandle::join`] on it first waits, green, for the
//!   thread's closure to finish (an event it sets), so the hub keeps
//!   running.
//! - A *root* — an OS thread's own code, outside green threads — is its OS
//!   thread: [`current`] returns std's handle there, before and after
//!   patching, with the same [`ThreadId`].
//! - After patching, [`park`] is green everywhere — also on roots, which
//!   then run their hub while they wait. Roots that park green (or call
//!   [`current`]) register their runtime unparker under their std
//!   `ThreadId` (the *bridge*), and [`Thread::unpark`] on an OS handle
//!   wakes both a std park and a green one — so a handle taken before
//!   patching keeps working.
//! - [`scope`](std::thread::scope) has no facade: scoped threads are
//!   always OS threads (use `std::thread::scope`).

mod local;
mod lock;
mod signal;

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::Duration;

use greenpatch_runtime as rt;

pub use local::Local;
pub use lock::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult};
pub use signal::{Event, Semaphore};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use std::thread::{available_parallelism, panicking};

use crate::flavor::flavor_items;
use crate::Flavor;

flavor_items! {
    /// `thread.spawn`: OS or green threads.
    pub(crate) static SPAWN = "spawn";
    /// `thread.Mutex`.
    pub(crate) static MUTEX = "Mutex";
    /// `thread.RwLock`.
    pub(crate) static RWLOCK = "RwLock";
    /// `thread.Event`.
    pub(crate) static EVENT = "Event";
    /// `thread.Semaphore`.
    pub(crate) static SEMAPHORE = "Semaphore";
    /// `thread.Local`.
    pub(crate) static LOCAL = "Local";
}

crate::slot! {
    /// `thread.sleep`.
    pub(crate) static SLEEP: fn(Duration) = ("sleep", std::thread::sleep, rt::sleep);
    /// `thread.yield_now`.
    pub(crate) static YIELD_NOW: fn() = ("yield_now", std::thread::yield_now, rt::yield_now);
    /// `thread.current`.
    pub(crate) static CURRENT: fn() -> Thread = ("current", os_current, green_current);
    /// `thread.park`.
    pub(crate) static PARK: fn() = ("park", std::thread::park, green_park);
    /// `thread.park_timeout`.
    pub(crate) static PARK_TIMEOUT: fn(Duration) = ("park_timeout", std::thread::park_timeout, green_park_timeout);
}

crate::patchable_module!(
    builtin,
    name = "thread",
    items = [SPAWN, SLEEP, YIELD_NOW, CURRENT, PARK, PARK_TIMEOUT, MUTEX, RWLOCK, EVENT, SEMAPHORE, LOCAL]
);

/// `std::thread::Result`: a thread's value, or its panic payload.
pub type Result<T> = std::thread::Result<T>;

// ------------------------------------------------------------------ functions

/// Puts the current thread to sleep for `dur`: the OS thread before
/// `patch_all()`, only the green thread after it.
///
/// # Example
///
/// ```
/// greenpatch::thread::sleep(std::time::Duration::from_millis(1));
/// ```
#[inline]
pub fn sleep(dur: Duration) {
    if SLEEP.is_green() {
        rt::sleep(dur)
    } else {
        (SLEEP.get())(dur)
    }
}

/// Gives up the processor: to other OS threads before `patch_all()`, to
/// the other runnable green threads of this hub after it.
///
/// # Example
///
/// ```
/// greenpatch::thread::yield_now();
/// ```
#[inline]
pub fn yield_now() {
    if YIELD_NOW.is_green() {
        rt::yield_now()
    } else {
        (YIELD_NOW.get())()
    }
}

/// A handle to the calling thread: the OS thread before `patch_all()`; after
/// it, the running green thread — or, outside green threads, still the OS
/// thread (whose green parks the handle can wake).
///
/// # Example
///
/// ```
/// let me = greenpatch::thread::current();
/// assert_eq!(me.id(), greenpatch::thread::current().id());
/// ```
#[inline]
pub fn current() -> Thread {
    (CURRENT.get())()
}

/// Blocks until the current thread's token is made available by
/// [`Thread::unpark`] (possibly spuriously, as with std).
///
/// # Panics
///
/// After patching, from plain code (a root) that nothing in the process can
/// ever wake: the runtime's would-block-forever report (gevent's
/// `LoopExit`), instead of hanging.
///
/// # Example
///
/// ```
/// let me = greenpatch::thread::current();
/// me.unpark(); // the token makes the next park return at once
/// greenpatch::thread::park();
/// ```
#[inline]
pub fn park() {
    if PARK.is_green() {
        green_park()
    } else {
        (PARK.get())()
    }
}

/// Like [`park`], for at most `dur`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// greenpatch::thread::park_timeout(Duration::from_millis(1));
/// ```
#[inline]
pub fn park_timeout(dur: Duration) {
    if PARK_TIMEOUT.is_green() {
        green_park_timeout(dur)
    } else {
        (PARK_TIMEOUT.get())(dur)
    }
}

/// Spawns a thread running `f`: an OS thread before `patch_all()`, a green
/// thread on this hub after it.
///
/// # Panics
///
/// Like `std::thread::spawn`, when the thread cannot be created (use
/// [`Builder::spawn`] to get an `io::Error` instead).
///
/// # Example
///
/// ```
/// let h = greenpatch::thread::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("failed to spawn thread: {e}"),
    }
}

// -------------------------------------------------------------------- Builder

/// Thread factory, like `std::thread::Builder`: a name, a stack size and —
/// beyond std — an explicit [`Flavor`].
///
/// # Example
///
/// ```
/// let h = greenpatch::thread::Builder::new()
///     .name("worker".into())
///     .spawn(|| greenpatch::thread::current().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    flavor: Option<Flavor>,
}

impl Builder {
    /// A builder with the defaults of the chosen flavor.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().name("n".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("n"));
    /// h.join().unwrap();
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Stack size in bytes (for green threads, rounded up to pages and at
    /// least `greenpatch_runtime::MIN_STACK_SIZE`).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().stack_size(256 * 1024).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Forces the flavor instead of reading `thread.spawn`: e.g. a real OS
    /// thread for CPU-bound work in a patched program (gevent's
    /// `get_original('threading', 'start_new_thread')`).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Builder, Flavor};
    /// let h = Builder::new().flavor(Flavor::Blocking).spawn(|| 2).unwrap();
    /// assert_eq!(h.flavor(), Flavor::Blocking);
    /// assert_eq!(h.join().unwrap(), 2);
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Builder {
        self.flavor = Some(flavor);
        self
    }

    /// Spawns `f` with this configuration.
    ///
    /// # Errors
    ///
    /// When the OS thread cannot be created, or no green stack can be
    /// mapped (the error names the limit).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().spawn(|| "done").unwrap();
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        match self.flavor.unwrap_or_else(|| (SPAWN.get())()) {
            Flavor::Blocking => self.spawn_os(site, f),
            Flavor::Green => self.spawn_green(site, f),
        }
    }

    fn spawn_os<F, T>(self, site: &'static Location<'static>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut b = std::thread::Builder::new();
        if let Some(name) = self.name {
            b = b.name(name);
        }
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let before_patch = !SPAWN.is_patched();
        let tracker = before_patch.then(|| OsThreadTracker::start(site));
        let finished = Arc::new(rt::sync::Event::new());
        let done = Finished(finished.clone());
        let handle = b.spawn(move || {
            let _tracker = tracker;
            let _done = done;
            f()
        })?;
        let thread = Thread { imp: ThreadImpl::Os(handle.thread().clone()) };
        Ok(JoinHandle { imp: JoinImpl::Os(handle, finished), thread, site, before_patch })
    }

    fn spawn_green<F, T>(self, site: &'static Location<'static>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut b = rt::Builder::new();
        if let Some(name) = &self.name {
            b = b.name(name.clone());
        }
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let inner = Arc::new(GreenThread::new(None, self.name, None));
        let mine = inner.clone();
        let handle = b.spawn(move || {
            crate::stale::mark_green_hub();
            let me = rt::current();
            let _ = mine.id.set(me.id());
            mine.started(me.unparker());
            drop(mine);
            f()
        })?;
        let _ = inner.id.set(handle.id());
        Ok(JoinHandle {
            imp: JoinImpl::Green(handle),
            thread: Thread { imp: ThreadImpl::Green(inner) },
            site,
            before_patch: false,
        })
    }
}

// ----------------------------------------------------------------- JoinHandle

enum JoinImpl<T> {
    /// An OS thread and the event it sets when its closure is done (so that
    /// a patched program can wait for it without blocking its hub).
    Os(std::thread::JoinHandle<T>, Arc<rt::sync::Event>),
    Green(rt::JoinHandle<T>),
}

/// Sets an OS thread's "finished" event when its closure returns or
/// unwinds.
struct Finished(Arc<rt::sync::Event>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// An owned permission to join a thread, like `std::thread::JoinHandle`;
/// dropping it detaches the thread.
///
/// # Example
///
/// ```
/// let h = greenpatch::thread::spawn(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// ```
pub struct JoinHandle<T> {
    imp: JoinImpl<T>,
    thread: Thread,
    site: &'static Location<'static>,
    before_patch: bool,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish: its value, or its panic payload.
    /// A green thread that could not finish for another reason (killed,
    /// abandoned, would block forever) gives its
    /// [`greenpatch_runtime::JoinError`] as the payload.
    ///
    /// After patching, joining an OS thread first waits (green) for its
    /// closure to finish, so the caller's hub keeps running, then joins it;
    /// joining one spawned before patching from a green thread is reported
    /// once per spawn site.
    ///
    /// # Errors
    ///
    /// The panic payload, as `std::thread::JoinHandle::join`.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| panic!("boom"));
    /// assert!(h.join().is_err());
    /// ```
    pub fn join(self) -> Result<T> {
        match self.imp {
            JoinImpl::Green(h) => h.join().map_err(|e| match e {
                rt::JoinError::Panicked(p) => p,
                other => Box::new(other) as Box<dyn Any + Send>,
            }),
            JoinImpl::Os(h, finished) => {
                if SPAWN.is_patched() {
                    if self.before_patch {
                        crate::stale::check(
                            true,
                            "OS thread",
                            self.site,
                            "spawned through the facade before patch_all()",
                        );
                    }
                    finished.wait();
                }
                h.join()
            }
        }
    }

    /// The thread's handle.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| greenpatch::thread::current().id());
    /// let id = h.thread().id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished (a `join` would not block).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| ());
    /// while !h.is_finished() {
    ///     greenpatch::thread::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.imp {
            JoinImpl::Os(h, _) => h.is_finished(),
            JoinImpl::Green(h) => h.is_finished(),
        }
    }

    /// Whether it is an OS thread ([`Flavor::Blocking`]) or a green one.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| ());
    /// assert_eq!(h.flavor(), greenpatch::Flavor::Blocking); // not patched
    /// h.join().unwrap();
    /// ```
    pub fn flavor(&self) -> Flavor {
        match self.imp {
            JoinImpl::Os(..) => Flavor::Blocking,
            JoinImpl::Green(_) => Flavor::Green,
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("thread", &self.thread).field("flavor", &self.flavor()).finish()
    }
}

// --------------------------------------------------------------------- Thread

/// A green thread's handle data, shared by its `JoinHandle` and `Thread`s.
///
/// # Invariant
///
/// An unpark is never lost, even before the green thread starts: `unpark`
/// stores `early` then reads `unparker`; the starting thread stores
/// `unparker` then swaps `early` (SeqCst fences between each pair), so at
/// least one of them sees the other and delivers the token.
struct GreenThread {
    id: OnceLock<rt::Id>,
    name: Option<String>,
    /// Set by the green thread when it starts.
    unparker: OnceLock<rt::Unparker>,
    /// An unpark arrived before `unparker` was set.
    early: AtomicBool,
}

impl GreenThread {
    fn new(id: Option<rt::Id>, name: Option<String>, unparker: Option<rt::Unparker>) -> GreenThread {
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
    fn started(&self, u: rt::Unparker) {
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

#[derive(Clone)]
enum ThreadImpl {
    Os(std::thread::Thread),
    Green(Arc<GreenThread>),
}

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
    imp: ThreadImpl,
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
            ThreadImpl::Os(t) => ThreadId(IdImpl::Os(t.id())),
            ThreadImpl::Green(g) => ThreadId(IdImpl::Green(g.id.get().map_or(0, |id| id.as_u64()))),
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
            ThreadImpl::Os(t) => t.name(),
            ThreadImpl::Green(g) => g.name.as_deref(),
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
            ThreadImpl::Os(t) => {
                t.unpark();
                bridge::unpark(t.id());
            }
            ThreadImpl::Green(g) => g.unpark(),
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
        match self.imp {
            ThreadImpl::Os(_) => Flavor::Blocking,
            ThreadImpl::Green(_) => Flavor::Green,
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread").field("id", &self.id()).field("name", &self.name()).finish()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum IdImpl {
    Os(std::thread::ThreadId),
    Green(u64),
}

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

fn os_current() -> Thread {
    Thread { imp: ThreadImpl::Os(std::thread::current()) }
}

fn green_current() -> Thread {
    let me = rt::current();
    if crate::stale::is_root(me.id()) {
        // A root is its OS thread: keep std's handle (the same id as before
        // patching), reachable by green parks through the bridge.
        bridge::register(me.unparker());
        return os_current();
    }
    let g = GreenThread::new(Some(me.id()), me.name().map(String::from), Some(me.unparker()));
    Thread { imp: ThreadImpl::Green(Arc::new(g)) }
}

fn green_park() {
    bridge::register_if_root();
    if let Err(e) = rt::park() {
        panic!("{e}");
    }
}

fn green_park_timeout(dur: Duration) {
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

// ------------------------------------------------- OS threads before patching

/// OS threads spawned through the facade before patching and still
/// running, counted per spawn site.
static EARLY_OS_THREADS: StdMutex<Vec<(&'static Location<'static>, usize)>> = StdMutex::new(Vec::new());

fn early_threads() -> std::sync::MutexGuard<'static, Vec<(&'static Location<'static>, usize)>> {
    EARLY_OS_THREADS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one early OS thread while it runs.
struct OsThreadTracker(&'static Location<'static>);

impl OsThreadTracker {
    fn start(site: &'static Location<'static>) -> OsThreadTracker {
        let mut all = early_threads();
        match all.iter_mut().find(|(s, _)| *s == site) {
            Some((_, n)) => *n += 1,
            None => all.push((site, 1)),
        }
        OsThreadTracker(site)
    }
}

impl Drop for OsThreadTracker {
    fn drop(&mut self) {
        let mut all = early_threads();
        if let Some(i) = all.iter().position(|(s, _)| *s == self.0) {
            all[i].1 -= 1;
            if all[i].1 == 0 {
                all.swap_remove(i);
            }
        }
    }
}

/// The pre-patch check: OS threads started through the facade and still
/// running stay OS threads.
fn early_os_threads() -> Option<String> {
    if SPAWN.is_patched() {
        return None;
    }
    let all = early_threads();
    let n: usize = all.iter().map(|(_, n)| n).sum();
    if n == 0 {
        return None;
    }
    let mut sites: Vec<String> = all.iter().take(3).map(|(s, n)| format!("{n} at {s}")).collect();
    if all.len() > 3 {
        sites.push(format!("{} more sites", all.len() - 3));
    }
    Some(format!(
        "{n} OS thread(s) started through greenpatch::thread::spawn before patch_all() are still \
         running (spawned: {}); they stay OS threads and their blocking calls keep blocking. \
         Call patch_all() first thing in main",
        sites.join(", ")
    ))
}

crate::pre_patch_check!(name = "greenpatch.thread.os-threads", check = early_os_threads);
