//! Timers: one min-heap of deadlines per hub.
//!
//! A parked task with a deadline owns exactly one armed timer, identified by
//! a sequence number stored in the task (`Task::timer`). Cancelling is lazy:
//! the heap entry stays, and is skipped when it surfaces because the task no
//! longer holds that sequence number. The heap is rebuilt when stale entries
//! outnumber live ones, so it stays O(live timers).
//!
//! # Invariants
//! - `armed` is the number of tasks whose `timer` field is non-zero; it is
//!   what the would-block-forever check reads ("no timer").
//! - Sequence numbers start at 1 and are never reused; 0 means "no timer".

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One heap entry: when, which timer, which task slot and generation.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) when: Instant,
    pub(crate) seq: u64,
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

/// The timer heap of one hub.
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    armed: usize,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers { heap: BinaryHeap::new(), next_seq: 1, armed: 0 }
    }

    /// Arms a timer for task `idx`/`gen`; returns its sequence number.
    pub(crate) fn arm(&mut self, when: Instant, idx: u32, gen: u32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.armed += 1;
        self.heap.push(Reverse(Entry { when, seq, idx, gen }));
        seq
    }

    /// Notes that one armed timer was cancelled (its entry becomes stale).
    pub(crate) fn disarm(&mut self) {
        self.armed -= 1;
    }

    /// Notes that a surfaced timer fired.
    pub(crate) fn fired(&mut self) {
        self.armed -= 1;
    }

    /// Number of armed (live) timers.
    pub(crate) fn armed(&self) -> usize {
        self.armed
    }

    /// Earliest deadline in the heap (possibly stale: waking early is harmless).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.armed == 0 {
            self.heap.clear();
            return None;
        }
        self.heap.peek().map(|e| e.0.when)
    }

    /// Pops the next entry due at or before `now`, stale or not.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.heap.peek() {
            Some(e) if e.0.when <= now => self.heap.pop().map(|e| e.0),
            _ => None,
        }
    }

    /// Rebuilds the heap without stale entries when they dominate it.
    /// `live` says whether an entry is still armed.
    /// Gives back heap capacity beyond four times what is in use (after a
    /// burst of timers).
    pub(crate) fn shrink(&mut self) {
        if self.heap.capacity() > 1024 && self.heap.len() < self.heap.capacity() / 4 {
            self.heap.shrink_to(self.heap.len().max(64));
        }
    }

    pub(crate) fn compact(&mut self, live: impl Fn(&Entry) -> bool) {
        if self.heap.len() > 64 && self.heap.len() > 4 * self.armed {
            let entries = std::mem::take(&mut self.heap).into_vec();
            // Collecting reuses the allocation: shrink it if a burst of
            // timers had grown it.
            let mut kept: Vec<_> = entries.into_iter().filter(|e| live(&e.0)).collect();
            if kept.capacity() > 1024 && kept.len() < kept.capacity() / 4 {
                kept.shrink_to(kept.len().max(64));
            }
            self.heap = BinaryHeap::from(kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_and_counts_armed() {
        let mut t = Timers::new();
        let now = Instant::now();
        let a = t.arm(now + Duration::from_millis(20), 1, 1);
        let b = t.arm(now + Duration::from_millis(10), 2, 1);
        assert_eq!(t.armed(), 2);
        let later = now + Duration::from_millis(30);
        assert_eq!(t.pop_due(later).unwrap().seq, b);
        assert_eq!(t.pop_due(later).unwrap().seq, a);
        assert!(t.pop_due(later).is_none());
        t.fired();
        t.fired();
        assert_eq!(t.armed(), 0);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn not_due_timers_stay() {
        let mut t = Timers::new();
        let now = Instant::now();
        t.arm(now + Duration::from_secs(5), 1, 1);
        assert!(t.pop_due(now).is_none());
        assert!(t.next_deadline().is_some());
    }

    #[test]
    fn compaction_drops_stale_entries() {
        let mut t = Timers::new();
        let now = Instant::now();
        for i in 0..200 {
            t.arm(now, i, 1);
        }
        for _ in 0..199 {
            t.disarm();
        }
        t.compact(|e| e.idx == 7);
        assert_eq!(t.heap.len(), 1);
        assert_eq!(t.pop_due(now).unwrap().idx, 7);
    }
}
