//! Would-block-forever detection (gevent's `LoopExit`), process-wide.
//!
//! # Model
//! A thread is *stuck* when it sleeps with no way to wake by itself: a hub
//! with nothing runnable, no armed timer and no I/O wait, or an idle
//! blocking-pool worker. Such a thread can only be woken by another thread
//! acting. So when every thread of the process is stuck, nothing can ever
//! happen again, and a root blocked in a green call gets a
//! [`WouldBlockForever`] error instead of hanging.
//! This is the rule Go uses for "all goroutines are asleep"; a remote wake
//! handle (an `Unparker` held by another thread) is outstanding exactly while
//! some thread that could use it is not stuck.
//!
//! Threads the runtime does not know (another runtime's workers, a logger, a
//! test harness) might wake anything, so while one exists the check stands
//! down and stuck roots re-check every [`RECHECK`] in case it exits.
//!
//! The check costs two atomic loads until every thread of ours is stuck;
//! only then is the process's thread count read (from /proc).
//!
//! This module only counts; it knows no hub. Each hub holds a
//! [`StuckMark`] in its shared state (`registry.rs`), which also tells the
//! waiting roots to re-check.
//!
//! # Invariants
//! - `STUCK` equals the number of set [`StuckMark`]s plus the number of
//!   idle pool workers (and the monitor thread, stuck for good).
//! - Whoever makes a stuck thread runnable clears its stuck mark *before*
//!   publishing the work (`HubShared::push`, the blocking pool's submit), so
//!   `STUCK` never counts a thread that has work.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Number of threads of ours that are stuck right now.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// Number of threads of ours alive: hubs and pool workers. Only when all of
/// them are stuck is the process's thread count worth reading.
static OURS: AtomicUsize = AtomicUsize::new(0);

/// A thread of ours (a hub's or a pool worker) starts or ends.
pub(crate) fn ours(delta: isize) {
    if delta >= 0 {
        OURS.fetch_add(delta as usize, Ordering::SeqCst);
    } else {
        OURS.fetch_sub(delta.unsigned_abs(), Ordering::SeqCst);
    }
}

/// How often a stuck root re-checks while unknown threads exist.
pub(crate) const RECHECK: Duration = Duration::from_millis(200);

/// One hub's "counted as stuck" flag.
pub(crate) struct StuckMark(AtomicBool);

impl StuckMark {
    pub(crate) const fn new() -> StuckMark {
        StuckMark(AtomicBool::new(false))
    }

    /// Marks the hub stuck (idempotent).
    pub(crate) fn mark(&self) {
        if !self.0.swap(true, Ordering::SeqCst) {
            STUCK.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Clears the hub's stuck mark (idempotent).
    pub(crate) fn unmark(&self) {
        if self.0.swap(false, Ordering::SeqCst) {
            STUCK.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// An idle pool worker starts or stops counting as stuck.
pub(crate) fn worker_idle(delta: isize) {
    if delta >= 0 {
        STUCK.fetch_add(delta as usize, Ordering::SeqCst);
    } else {
        STUCK.fetch_sub(delta.unsigned_abs(), Ordering::SeqCst);
    }
}

/// Whether every thread of the process is stuck. `None` when the thread
/// count cannot be read (then nobody can tell, and the answer is "no").
pub(crate) fn everyone_stuck() -> Option<bool> {
    // Cheap first: one of ours is still busy (no system call needed).
    if STUCK.load(Ordering::SeqCst) < OURS.load(Ordering::SeqCst) {
        return Some(false);
    }
    let threads = thread_count()?;
    Some(STUCK.load(Ordering::SeqCst) >= threads)
}

/// A blocking call that could never complete (gevent's `LoopExit`).
///
/// Returned instead of hanging when nothing in the process can wake the
/// caller: no runnable green thread, no timer, no I/O wait, and every other
/// thread of the process is likewise stuck. The message names the blocked
/// green threads of the caller's hub and what each waits on.
///
/// ```
/// // Nothing will ever unpark this root: park() reports it instead of hanging
/// // (when this is the only thread of the process; a test harness has more).
/// # if false {
/// let err = greenpatch_runtime::park().unwrap_err();
/// eprintln!("{err}");
/// # }
/// ```
#[derive(Clone)]
pub struct WouldBlockForever {
    report: std::sync::Arc<str>,
}

impl WouldBlockForever {
    pub(crate) fn new(report: String) -> WouldBlockForever {
        trace_event!(WARN, kind = "would-block-forever", report = %report);
        WouldBlockForever { report: report.into() }
    }

    /// The full report.
    ///
    /// ```
    /// # fn f(e: greenpatch_runtime::WouldBlockForever) { let _ = e.report(); }
    /// ```
    pub fn report(&self) -> &str {
        &self.report
    }
}

impl fmt::Display for WouldBlockForever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl fmt::Debug for WouldBlockForever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WouldBlockForever({})", self.report)
    }
}

impl std::error::Error for WouldBlockForever {}

impl From<WouldBlockForever> for std::io::Error {
    fn from(e: WouldBlockForever) -> std::io::Error {
        std::io::Error::other(e)
    }
}

/// Number of OS threads in this process (Linux: /proc/self/stat field 20).
fn thread_count() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip
    // past its closing parenthesis, then count from field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(17)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_sees_a_new_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv().ok());
        let during = thread_count().unwrap();
        tx.send(()).unwrap();
        t.join().unwrap();
        assert!(during >= 2, "the test thread and the spawned one: {during}");
    }
}
