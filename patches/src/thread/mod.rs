//! `thread`: `std::thread` and std's locks until `patch_all()`, green
//! threads and green locks after it — plus gevent's `Event`, `Semaphore`
//! and a green-thread-local ([`Local`]).
//!
//! # Model
//!
//! Functions dispatch through registry slots; objects take an
//! implementation ([`Flavor`](crate::Flavor)) once and keep it (see [`crate::flavor`]'s
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
//! - [`scope`] is std's (re-exported): scoped threads are always OS
//!   threads, and a scope's end blocks its OS thread until they finish.
//!   [`Once`], [`OnceLock`], [`LazyLock`] and [`Barrier`] wait through a
//!   facade lock, so green after patching (see their module's docs);
//!   `thread_local!` keys are per OS thread ([`Local`] is per green thread).

mod event;
mod handle;
mod local;
mod lock;
mod once;
mod semaphore;
mod spawn;

use std::time::Duration;

use greenpatch_runtime as rt;

pub use event::Event;
use handle::{green_current, green_park, green_park_timeout, os_current};
pub use handle::{Thread, ThreadId};
pub use local::Local;
pub use lock::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult};
pub use once::{Barrier, BarrierWaitResult, LazyLock, Once, OnceLock, OnceState};
pub use semaphore::Semaphore;
pub use spawn::{Builder, JoinHandle};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use std::thread::{available_parallelism, panicking, scope, AccessError, LocalKey, Scope, ScopedJoinHandle};

use crate::flavor::flavor_items;

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
