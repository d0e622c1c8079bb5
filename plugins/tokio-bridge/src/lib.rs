//! A bridge from green threads to tokio: one shared tokio runtime on
//! background OS threads, and [`run`], which executes a future there and
//! parks only the calling green thread until its result comes back. With
//! it, tokio-only crates (tonic, reqwest, tokio-postgres, …) are callable
//! from green code as blocking functions.
//!
//! # Model
//!
//! - **One runtime per process**, multi-threaded, its workers plain OS
//!   threads named `greenpatch-tokio` (tokio makes them with std, so they
//!   never become green threads). It starts at `DidPatchBuiltinModules`
//!   (this crate's [`entry_point!`](greenpatch_plugins::entry_point)), or
//!   lazily at the first [`run`]/[`handle`] when the application never
//!   patches. [`set_worker_threads`] (or `GREENPATCH_TOKIO_WORKERS`)
//!   chooses the worker count before it starts; the default is 2.
//! - **[`run`]** spawns the future on the runtime and waits for its
//!   `JoinHandle` with [`greenpatch::block_on`]: the tokio worker that
//!   finishes the task wakes the green thread through its hub's remote
//!   path. From plain code the OS thread blocks (running its own hub).
//! - **Cancellation**: a kill of the green thread or the end of an
//!   enclosing [`greenpatch::time::with_timeout`] scope unwinds out of the
//!   wait; the guard that holds the `JoinHandle` aborts the tokio task on
//!   the way out, so the future is dropped at its next `.await`.
//!
//! # Invariants
//!
//! - The runtime, once started, lives until the process exits (it is in a
//!   `static`): handles given out never dangle.
//! - [`run`] never blocks a tokio worker: the wait happens on the caller's
//!   thread. Calling [`run`] *from* a tokio worker would block that worker,
//!   so it is refused with [`RunError::InsideTokio`].
//!
//! ```
//! use greenpatch::monkey::{patch_all, PatchAll};
//! use std::time::Duration;
//!
//! let _ = patch_all(PatchAll::default()).unwrap();
//! assert!(greenpatch_tokio::is_started()); // started at DidPatchBuiltinModules
//! let h = greenpatch::thread::spawn(|| {
//!     greenpatch_tokio::run(async {
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!         "slept on tokio"
//!     })
//! });
//! assert_eq!(h.join().unwrap().unwrap(), "slept on tokio");
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use greenpatch::monkey::is_module_patched;
use greenpatch::WouldBlockForever;
use greenpatch_plugins::{entry_point, Event, EventKind, PluginError};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

/// The worker count used when neither [`set_worker_threads`] nor
/// `GREENPATCH_TOKIO_WORKERS` says otherwise.
pub const DEFAULT_WORKER_THREADS: usize = 2;

/// The environment variable read at start-up for the worker count.
pub const WORKERS_ENV: &str = "GREENPATCH_TOKIO_WORKERS";

static RUNTIME: OnceLock<Started> = OnceLock::new();
static START_LOCK: Mutex<()> = Mutex::new(());
/// 0: not chosen (use the environment or the default).
static WORKERS: AtomicUsize = AtomicUsize::new(0);

struct Started {
    runtime: Runtime,
    info: StartInfo,
}

/// Why and when the shared runtime started ([`start_info`]).
///
/// ```
/// if let Some(info) = greenpatch_tokio::start_info() {
///     println!("{} workers, started by {:?}", info.workers, info.by);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartInfo {
    /// What started it.
    pub by: StartedBy,
    /// Its worker threads.
    pub workers: usize,
    /// When.
    pub at: Instant,
}

/// What started the shared runtime.
///
/// ```
/// use greenpatch_tokio::StartedBy;
/// assert_ne!(StartedBy::Lazily, StartedBy::Event(greenpatch::plugins::EventKind::DidPatchBuiltinModules));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartedBy {
    /// The plugin, at this event.
    Event(EventKind),
    /// The first [`run`], [`handle`] or [`start`] (no patching happened first).
    Lazily,
}

/// Why the shared runtime could not start or a [`run`] failed.
///
/// ```
/// let e = greenpatch_tokio::RunError::InsideTokio;
/// assert!(e.to_string().contains("tokio worker"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The runtime could not start (threads could not be made): free
    /// resources or lower the worker count, then retry.
    Start(std::io::Error),
    /// The worker count was set after the runtime had started.
    AlreadyStarted {
        /// The count it runs with.
        workers: usize,
    },
    /// The future panicked on the runtime; the message of the panic.
    Panicked(String),
    /// The task was cancelled on the tokio side (the runtime is shutting down).
    Cancelled,
    /// [`run`] was called on a tokio worker thread, where waiting would block
    /// the worker: `.await` the future there instead.
    InsideTokio,
    /// From plain code: nothing could ever finish the wait.
    WouldBlockForever(WouldBlockForever),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Start(e) => {
                write!(f, "the shared tokio runtime could not start: {e} (free threads or lower {WORKERS_ENV})")
            }
            RunError::AlreadyStarted { workers } => {
                write!(f, "the shared tokio runtime already runs with {workers} workers; set the count before patching or the first run")
            }
            RunError::Panicked(m) => write!(f, "the future panicked on the tokio runtime: {m}"),
            RunError::Cancelled => f.write_str("the tokio task was cancelled (the runtime is shutting down)"),
            RunError::InsideTokio => f.write_str(
                "run() called on a tokio worker thread, where waiting would block the worker; await the future instead",
            ),
            RunError::WouldBlockForever(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Start(e) => Some(e),
            RunError::WouldBlockForever(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RunError> for std::io::Error {
    fn from(e: RunError) -> std::io::Error {
        let kind = match &e {
            RunError::Cancelled => std::io::ErrorKind::Interrupted,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// Chooses the worker count of the shared runtime; call it before patching
/// (or before the first [`run`]).
///
/// # Errors
/// [`RunError::AlreadyStarted`] when the runtime runs already.
///
/// ```
/// // In a fresh process, before patch_all():
/// let _ = greenpatch_tokio::set_worker_threads(4);
/// ```
pub fn set_worker_threads(n: usize) -> Result<(), RunError> {
    let _g = START_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = RUNTIME.get() {
        return Err(RunError::AlreadyStarted { workers: s.info.workers });
    }
    WORKERS.store(n.max(1), Ordering::Relaxed);
    Ok(())
}

fn worker_count() -> usize {
    match WORKERS.load(Ordering::Relaxed) {
        0 => std::env::var(WORKERS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_WORKER_THREADS),
        n => n,
    }
}

fn start_by(by: StartedBy) -> Result<&'static Started, RunError> {
    if let Some(s) = RUNTIME.get() {
        return Ok(s);
    }
    let _g = START_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = RUNTIME.get() {
        return Ok(s);
    }
    let workers = worker_count();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("greenpatch-tokio")
        .enable_all()
        .build()
        .map_err(RunError::Start)?;
    Ok(RUNTIME.get_or_init(|| Started { runtime, info: StartInfo { by, workers, at: Instant::now() } }))
}

/// Starts the shared runtime if it is not running (idempotent).
///
/// # Errors
/// [`RunError::Start`] when its threads cannot be made.
///
/// ```
/// greenpatch_tokio::start().unwrap();
/// assert!(greenpatch_tokio::is_started());
/// ```
pub fn start() -> Result<(), RunError> {
    start_by(StartedBy::Lazily).map(|_| ())
}

/// Whether the shared runtime runs.
///
/// ```
/// let _ = greenpatch_tokio::is_started();
/// ```
pub fn is_started() -> bool {
    RUNTIME.get().is_some()
}

/// Why, when and with how many workers the shared runtime started.
///
/// ```
/// greenpatch_tokio::start().unwrap();
/// assert!(greenpatch_tokio::start_info().unwrap().workers >= 1);
/// ```
pub fn start_info() -> Option<StartInfo> {
    RUNTIME.get().map(|s| s.info.clone())
}

/// A handle to the shared runtime (started lazily), for code that spawns
/// its own tasks or needs a tokio context (`Handle::enter`).
///
/// # Errors
/// [`RunError::Start`] when the runtime cannot start.
///
/// ```
/// let h = greenpatch_tokio::handle().unwrap();
/// let task = h.spawn(async { 3 });
/// assert_eq!(greenpatch_tokio::run(task).unwrap().unwrap(), 3);
/// ```
pub fn handle() -> Result<Handle, RunError> {
    start_by(StartedBy::Lazily).map(|s| s.runtime.handle().clone())
}

/// Aborts the tokio task when the wait ends early (kill, timeout scope).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `future` on the shared runtime and parks only the calling green
/// thread until it finishes (from plain code, the OS thread blocks).
///
/// A kill of the calling green thread, or the end of an enclosing
/// `with_timeout` scope, aborts the tokio task.
///
/// # Errors
/// [`RunError::Panicked`] when the future panicked, [`RunError::Cancelled`]
/// when the runtime cancelled it, [`RunError::InsideTokio`] on a tokio
/// worker, [`RunError::Start`] when the runtime could not start, and
/// [`RunError::WouldBlockForever`] from a stuck root.
///
/// ```
/// let v = greenpatch_tokio::run(async { tokio::task::yield_now().await; 40 + 2 }).unwrap();
/// assert_eq!(v, 42);
/// ```
pub fn run<F>(future: F) -> Result<F::Output, RunError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if Handle::try_current().is_ok() {
        return Err(RunError::InsideTokio);
    }
    let started = start_by(StartedBy::Lazily)?;
    let mut task = AbortOnDrop(started.runtime.spawn(future));
    match greenpatch::block_on(&mut task.0) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.is_panic() => Err(RunError::Panicked(panic_message(e.into_panic()))),
        Ok(Err(_)) => Err(RunError::Cancelled),
        Err(e) => Err(RunError::WouldBlockForever(e)),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => {
            p.downcast_ref::<&str>().map_or_else(|| "(a non-string panic payload)".to_owned(), |s| (*s).to_owned())
        }
    }
}

/// The plugin: at `DidPatchBuiltinModules` (threads and sockets are green
/// by then) start the shared runtime, so that its workers exist before
/// the application's green threads call [`run`].
fn on_patched(event: &Event<'_>) -> Result<(), PluginError> {
    let Event::DidPatchBuiltinModules(_) = event else {
        return Ok(());
    };
    if !is_module_patched("thread") {
        // Nothing green calls run() yet; keep the lazy start.
        return Ok(());
    }
    start_by(StartedBy::Event(EventKind::DidPatchBuiltinModules)).map(|_| ()).map_err(PluginError::failed)
}

entry_point!(did_patch, name = "tokio-bridge", handler = on_patched);
