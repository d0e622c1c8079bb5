//! The blocking pool: OS threads for work with no non-blocking form.
//!
//! [`spawn_blocking`] queues a closure for a bounded, process-wide set of
//! worker threads (started on demand, up to [`MAX_WORKERS`] or `GREENPATCH_BLOCKING_THREADS`; a worker idle
//! for [`IDLE_TIMEOUT`] exits) and returns a [`JoinHandle`] whose `join`
//! parks only the calling green thread. DNS lookups and file I/O use it.
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
use crate::join::{JoinHandle, Packet};
use crate::Id;

/// Upper bound on pool threads unless `GREENPATCH_BLOCKING_THREADS` sets one.
pub const MAX_WORKERS: usize = 64;
/// A worker with nothing to do for this long exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool's size: `GREENPATCH_BLOCKING_THREADS`, read once, else [`MAX_WORKERS`].
pub fn max_workers() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| crate::env::blocking_threads().unwrap_or(MAX_WORKERS))
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
    let pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    PoolState { workers: pool.workers, idle: pool.idle, queued: pool.jobs.len(), max_workers: max_workers() }
}

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: VecDeque<Job>,
    workers: usize,
    idle: usize,
    handed: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { jobs: VecDeque::new(), workers: 0, idle: 0, handed: 0 });
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
    let packet = Packet::<T>::new(Id(0), None, std::panic::Location::caller());
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
    if pool.workers < max_workers() {
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
