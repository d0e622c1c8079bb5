//! The blocking pool: OS threads for work with no non-blocking form.
//!
//! [`spawn_blocking`] queues a closure for a bounded, process-wide set of
//! worker threads (started on demand, up to the pool's size; a worker idle
//! for [`IDLE_TIMEOUT`] exits) and returns a [`JoinHandle`] whose `join`
//! parks only the calling green thread. DNS lookups and file I/O use it.
//!
//! # Size
//! At most [`size`] jobs run at once; the rest wait in order. The size is
//! [`DEFAULT_SIZE`] (64), or the environment variable
//! `GREENPATCH_THREADPOOL_SIZE` (a whole number from 1 to [`MAX_SIZE`],
//! read when the pool first gets a job; an invalid value is reported on
//! stderr, naming the variable and the accepted range, and the default is
//! used), or what [`set_size`] or
//! [`RuntimeBuilder::blocking_threads`](crate::RuntimeBuilder::blocking_threads)
//! sets. gevent's threadpool is the reference: a bounded pool whose size
//! (`Hub.threadpool_size`, 10 there) the application raises when many
//! slow lookups would otherwise queue behind each other; workers are
//! started only when there is work, so a large size costs nothing idle.
//!
//! # Invariants
//! - `idle` counts workers waiting for a job; each is also counted stuck
//!   (see `deadlock.rs`). A submit that will be served by an idle worker
//!   moves one unit from `idle` to `handed` and un-counts it *before* the
//!   job is visible; the woken worker consumes that unit instead of
//!   un-counting itself.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::deadlock;
use crate::join::{JoinHandle, PacketRef};
use crate::Id;

/// The pool's size when nothing sets it.
///
/// ```
/// assert_eq!(greenpatch_runtime::blocking::DEFAULT_SIZE, 64);
/// ```
pub const DEFAULT_SIZE: usize = 64;
/// The largest size the pool accepts.
///
/// ```
/// assert_eq!(greenpatch_runtime::blocking::MAX_SIZE, 4096);
/// ```
pub const MAX_SIZE: usize = 4096;
/// The environment variable that sets the pool's size.
///
/// ```
/// assert_eq!(greenpatch_runtime::blocking::ENV_VAR, "GREENPATCH_THREADPOOL_SIZE");
/// ```
pub const ENV_VAR: &str = "GREENPATCH_THREADPOOL_SIZE";
/// A worker with nothing to do for this long exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most workers the pool starts: [`size`] (kept for `dump`'s
/// [`PoolState::max_workers`]).
///
/// ```
/// assert!(greenpatch_runtime::blocking::max_workers() >= 1);
/// ```
pub fn max_workers() -> usize {
    size()
}

/// What the blocking pool is doing (part of [`dump`](crate::dump())).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolState {
    /// OS threads of the pool.
    pub workers: usize,
    /// Of which waiting for a job.
    pub idle: usize,
    /// Jobs queued, not yet taken by a worker.
    pub queued: usize,
    /// The most workers the pool starts.
    pub max_workers: usize,
}

/// A snapshot of the pool.
///
/// ```
/// let s = greenpatch_runtime::blocking::state();
/// assert!(s.idle <= s.workers && s.workers <= s.max_workers);
/// ```
pub fn state() -> PoolState {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    // `size` under the lock already held (`max_workers` would take it again).
    let max_workers = pool.size();
    PoolState { workers: pool.workers, idle: pool.idle, queued: pool.jobs.len(), max_workers }
}

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: VecDeque<Job>,
    /// The size; 0 until set or read from the environment.
    max: usize,
    workers: usize,
    idle: usize,
    handed: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { jobs: VecDeque::new(), max: 0, workers: 0, idle: 0, handed: 0 });

/// A pool size out of range (`1..=MAX_SIZE`).
///
/// ```
/// let e = greenpatch_runtime::blocking::set_size(0).unwrap_err();
/// assert!(e.to_string().contains("between 1 and"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSize(pub usize);

impl std::fmt::Display for InvalidSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blocking pool size {} is out of range: give a number of threads between 1 and {MAX_SIZE}", self.0)
    }
}

impl std::error::Error for InvalidSize {}

impl From<InvalidSize> for std::io::Error {
    fn from(e: InvalidSize) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// Sets how many jobs the blocking pool runs at once (process-wide). A
/// smaller size than the threads running now takes effect as they finish.
///
/// # Errors
/// [`InvalidSize`] unless `1 <= n <= MAX_SIZE`.
///
/// ```
/// greenpatch_runtime::blocking::set_size(128).unwrap();
/// assert_eq!(greenpatch_runtime::blocking::size(), 128);
/// assert!(greenpatch_runtime::blocking::set_size(0).is_err());
/// # greenpatch_runtime::blocking::set_size(64).unwrap();
/// ```
pub fn set_size(n: usize) -> Result<(), InvalidSize> {
    if n == 0 || n > MAX_SIZE {
        return Err(InvalidSize(n));
    }
    POOL.lock().unwrap_or_else(|e| e.into_inner()).max = n;
    Ok(())
}

/// How many jobs the blocking pool runs at once.
///
/// ```
/// assert!(greenpatch_runtime::blocking::size() >= 1);
/// ```
pub fn size() -> usize {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.size()
}

impl Pool {
    fn size(&mut self) -> usize {
        if self.max == 0 {
            self.max = size_from_env();
        }
        self.max
    }
}

/// `GREENPATCH_THREADPOOL_SIZE`, or the default (reporting a bad value).
fn size_from_env() -> usize {
    let v = match std::env::var(ENV_VAR) {
        Err(std::env::VarError::NotPresent) => return DEFAULT_SIZE,
        Err(std::env::VarError::NotUnicode(v)) => format!("{v:?}"),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_SIZE).contains(&n) => return n,
            _ => format!("{v:?}"),
        },
    };
    eprintln!(
        "greenpatch: ignoring {ENV_VAR}={v}: expected a number of threads between 1 and {MAX_SIZE}; \
         using the default, {DEFAULT_SIZE}"
    );
    DEFAULT_SIZE
}
static WORK: Condvar = Condvar::new();

/// Runs `f` on the blocking pool; `join` the handle to get its result.
///
/// ```
/// let h = greenpatch_runtime::spawn_blocking(|| std::fs::metadata(".").is_ok());
/// assert!(h.join().unwrap());
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let packet = PacketRef::<T>::new(Id(0));
    let p = packet.clone();
    submit(Box::new(move || p.run(f)));
    JoinHandle { packet, id: Id(0) }
}

/// Runs `f` on the blocking pool and waits for it, parking only the
/// calling green thread. Panics in `f` are resumed in the caller.
///
/// ```
/// let n = greenpatch_runtime::blocking::run(|| 2 + 2);
/// assert_eq!(n, 4);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match spawn_blocking(f).join() {
        Ok(v) => v,
        Err(crate::JoinError::Panicked(p)) => std::panic::resume_unwind(p),
        Err(e) => panic!("blocking pool job failed: {e}"),
    }
}

fn submit(job: Job) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.idle > pool.handed {
        // An idle worker will take it: stop counting it stuck first.
        pool.handed += 1;
        deadlock::worker_idle(-1);
        pool.jobs.push_back(job);
        drop(pool);
        WORK.notify_one();
        return;
    }
    pool.jobs.push_back(job);
    if pool.workers < pool.size() {
        pool.workers += 1;
        drop(pool);
        let spawned = std::thread::Builder::new().name("greenpatch-blocking".into()).spawn(worker);
        if spawned.is_err() {
            // Could not add a thread: existing workers will get to the job.
            POOL.lock().unwrap_or_else(|e| e.into_inner()).workers -= 1;
        }
    }
}

fn worker() {
    deadlock::ours(1);
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = pool.jobs.pop_front() {
            drop(pool);
            job();
            pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        pool.idle += 1;
        deadlock::worker_idle(1);
        let (guard, timeout) = WORK.wait_timeout(pool, IDLE_TIMEOUT).unwrap_or_else(|e| e.into_inner());
        pool = guard;
        pool.idle -= 1;
        if pool.handed > 0 {
            // The submitter already un-counted us.
            pool.handed -= 1;
        } else {
            deadlock::worker_idle(-1);
        }
        if timeout.timed_out() && pool.jobs.is_empty() {
            pool.workers -= 1;
            deadlock::ours(-1);
            return;
        }
    }
}
