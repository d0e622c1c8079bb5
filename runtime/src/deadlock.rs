//! Would-block-forever detection (gevent's `LoopExit`), process-wide.
//!
//! # Model
//! A thread is *stuck* when it sleeps with no way to wake by itself: a hub
//! with nothing runnable, no armed timer and no I/O wait, or an idle
//! blocking-pool worker. Such a thread can only be woken by another thread
//! acting. So when every thread of the process is stuck, nothing can ever
//! happen again, and a root blocked in a green call gets a
//! [`WouldBlockForever`](crate::WouldBlockForever) error instead of hanging.
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
//! # Invariants
//! - `STUCK` equals the number of hubs whose `stuck` flag is set plus the
//!   number of idle pool workers.
//! - Whoever makes a stuck thread runnable clears its stuck mark *before*
//!   publishing the work (`HubShared::push`, the blocking pool's submit), so
//!   `STUCK` never counts a thread that has work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use crate::remote::{HubShared, Msg};

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

/// Every hub, so that the last thread to get stuck can tell waiting roots.
static HUBS: Mutex<Vec<Weak<HubShared>>> = Mutex::new(Vec::new());

/// How often a stuck root re-checks while unknown threads exist.
pub(crate) const RECHECK: Duration = Duration::from_millis(200);

pub(crate) fn register(hub: Weak<HubShared>) {
    let mut hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.retain(|h| h.strong_count() > 0);
    hubs.push(hub);
}

/// The hub with this index, if it is still alive.
pub(crate) fn hub_by_index(index: u32) -> Option<std::sync::Arc<HubShared>> {
    let hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.iter().filter_map(Weak::upgrade).find(|h| h.index == index)
}

/// Calls `f` with the index and heartbeat of every live hub.
pub(crate) fn each_hub(mut f: impl FnMut(u32, &crate::monitor::Beat)) {
    let hubs: Vec<_> = HUBS.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for h in &hubs {
        f(h.index, &h.beat);
    }
}

/// Marks a hub stuck (idempotent).
pub(crate) fn mark(hub: &HubShared) {
    if !hub.stuck.swap(true, Ordering::SeqCst) {
        STUCK.fetch_add(1, Ordering::SeqCst);
    }
}

/// Clears a hub's stuck mark (idempotent).
pub(crate) fn unmark(hub: &HubShared) {
    if hub.stuck.swap(false, Ordering::SeqCst) {
        STUCK.fetch_sub(1, Ordering::SeqCst);
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

/// Tells every hub whose root waits in a blocking call to re-check.
pub(crate) fn notify_waiting_roots() {
    let hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    for hub in hubs.iter().filter_map(Weak::upgrade) {
        if hub.root_waiting.load(Ordering::SeqCst) {
            hub.push(Msg::Recheck);
        }
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
