//! [`Barrier`]: std's barrier, blocking only the green thread.
//!
//! # Model
//! A count of arrivals and a generation number. The `n`-th arrival is the
//! leader: it resets the count, advances the generation and wakes everyone;
//! the others wait for the generation to move.
//!
//! # Invariants
//! - `count < n` between generations; `generation` is written under the
//!   `count` lock and only grows.
//! - A waiter that unwinds (a kill, a timeout scope) before its generation
//!   completes takes its arrival back, so the barrier still waits for `n`
//!   live arrivals.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex as StdMutex;

use super::waitlist::{forever, WaitList};

/// A rendezvous point for `n` green threads (or OS threads): each
/// [`Barrier::wait`] blocks until `n` have arrived.
///
/// ```
/// use std::sync::Arc;
/// use greenpatch_runtime::sync::Barrier;
///
/// let b = Arc::new(Barrier::new(4));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let b = b.clone();
///         greenpatch_runtime::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|l| *l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    count: StdMutex<usize>,
    generation: AtomicU64,
    waiters: WaitList,
}

/// What [`Barrier::wait`] returns: whether this caller was the leader.
///
/// ```
/// let b = greenpatch_runtime::sync::Barrier::new(1);
/// assert!(b.wait().is_leader());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one caller of each generation: the last to arrive.
    ///
    /// ```
    /// assert!(greenpatch_runtime::sync::Barrier::new(0).wait().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` and `1` never block).
    ///
    /// ```
    /// let b = greenpatch_runtime::sync::Barrier::new(2);
    /// # drop(b);
    /// ```
    pub const fn new(n: usize) -> Barrier {
        Barrier { n, count: StdMutex::new(0), generation: AtomicU64::new(0), waiters: WaitList::new() }
    }

    /// Blocks until `n` callers have arrived; one of them is the leader.
    ///
    /// # Panics
    /// From plain code, if the other parties can never arrive (the message
    /// is the runtime's would-block-forever report).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let b = Arc::new(greenpatch_runtime::sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let h = greenpatch_runtime::spawn(move || b2.wait().is_leader());
    /// let me = b.wait().is_leader();
    /// assert!(me ^ h.join().unwrap());
    /// ```
    pub fn wait(&self) -> BarrierWaitResult {
        let gen = {
            let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
            *count += 1;
            if *count >= self.n {
                *count = 0;
                self.generation.fetch_add(1, SeqCst);
                drop(count);
                self.waiters.notify_all();
                return BarrierWaitResult(true);
            }
            self.generation.load(SeqCst)
        };
        // Takes the arrival back if the wait unwinds.
        struct Leave<'a>(&'a Barrier, u64);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut count = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
                if self.0.generation.load(SeqCst) == self.1 {
                    *count -= 1;
                }
            }
        }
        let leave = Leave(self, gen);
        let done = || (self.generation.load(SeqCst) != gen).then_some(());
        if let Err(e) = self.waiters.wait_for(None, "barrier wait", done, || done().is_none()) {
            forever(e);
        }
        std::mem::forget(leave);
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish_non_exhaustive()
    }
}
