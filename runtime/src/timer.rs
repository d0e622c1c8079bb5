//! Timers: per hub, a queue of deadlines armed in order plus a min-heap of
//! the others.
//!
//! A parked task with a deadline owns exactly one armed timer, identified by
//! a sequence number stored in the task (`Task::timer`). Cancelling is lazy:
//! the entry stays, and is skipped when it surfaces because the task no
//! longer holds that sequence number. Entries are rebuilt when stale ones
//! outnumber live ones, so the structure stays O(live timers).
//!
//! Most timers are armed in deadline order (a server's timeouts, sleeps of
//! one duration: each deadline is "now + the same duration"), so an entry
//! whose deadline is not earlier than the last one queued goes to the back
//! of a FIFO queue in O(1), and only the others go to the heap. The next
//! timer is the earlier of the queue's front and the heap's top. Measured:
//! 100,000 overlapping sleeps spent 10% of their time in heap pushes and
//! pops.
//!
//! # Invariants
//! - `armed` is the number of tasks whose `timer` field is non-zero; it is
//!   what the would-block-forever check reads ("no timer").
//! - Sequence numbers start at 1 and are never reused; 0 means "no timer".
//! - `fifo` is sorted by `(when, seq)`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// One entry: when, which timer, which task slot and generation.
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) when: Instant,
    pub(crate) seq: u64,
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

/// The timers of one hub.
pub(crate) struct Timers {
    /// Entries armed in deadline order.
    fifo: VecDeque<Entry>,
    /// The other entries.
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    armed: usize,
}

/// Whether a vector-like capacity is worth shrinking to `len`.
fn oversized(len: usize, capacity: usize) -> bool {
    capacity > 1024 && len < capacity / 4
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers { fifo: VecDeque::new(), heap: BinaryHeap::new(), next_seq: 1, armed: 0 }
    }

    /// Arms a timer for task `idx`/`gen`; returns its sequence number.
    pub(crate) fn arm(&mut self, when: Instant, idx: u32, gen: u32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.armed += 1;
        let entry = Entry { when, seq, idx, gen };
        // `seq` grows, so an equal deadline also keeps the queue sorted.
        if self.fifo.back().is_none_or(|last| last.when <= when) {
            self.fifo.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
        seq
    }

    /// A task gave up its timer before it fired.
    pub(crate) fn disarm(&mut self) {
        self.armed -= 1;
    }

    /// A timer fired and woke its task.
    pub(crate) fn fired(&mut self) {
        self.armed -= 1;
    }

    /// Tasks with an armed timer.
    pub(crate) fn armed(&self) -> usize {
        self.armed
    }

    /// The earliest entry, and whether it is the queue's.
    fn first(&self) -> Option<(Entry, bool)> {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(f), Some(h)) if h.0 < *f => Some((h.0, false)),
            (Some(f), _) => Some((*f, true)),
            (None, Some(h)) => Some((h.0, false)),
            (None, None) => None,
        }
    }

    /// The earliest deadline (possibly of a stale entry: waking early is
    /// harmless), or `None` when no timer is armed.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.armed == 0 {
            self.fifo.clear();
            self.heap.clear();
            return None;
        }
        self.first().map(|(e, _)| e.when)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.first() {
            Some((e, true)) if e.when <= now => self.fifo.pop_front(),
            Some((e, false)) if e.when <= now => self.heap.pop().map(|e| e.0),
            _ => None,
        }
    }

    /// Gives back capacity beyond four times what is in use (after a burst
    /// of timers).
    pub(crate) fn shrink(&mut self) {
        if oversized(self.fifo.len(), self.fifo.capacity()) {
            self.fifo.shrink_to(self.fifo.len().max(64));
        }
        if oversized(self.heap.len(), self.heap.capacity()) {
            self.heap.shrink_to(self.heap.len().max(64));
        }
    }

    /// Drops stale entries (for which `live` is false) once they outnumber
    /// live ones four to one.
    pub(crate) fn compact(&mut self, live: impl Fn(&Entry) -> bool) {
        let len = self.fifo.len() + self.heap.len();
        if len > 64 && len > 4 * self.armed {
            self.fifo.retain(&live);
            let entries = std::mem::take(&mut self.heap).into_vec();
            // Collecting reuses the allocation: shrink it if a burst of
            // timers had grown it.
            let mut kept: Vec<_> = entries.into_iter().filter(|e| live(&e.0)).collect();
            if oversized(kept.len(), kept.capacity()) {
                kept.shrink_to(kept.len().max(64));
            }
            self.heap = BinaryHeap::from(kept);
            self.shrink();
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
        assert_eq!(t.heap.len() + t.fifo.len(), 1);
        assert_eq!(t.pop_due(now).unwrap().idx, 7);
    }

    #[test]
    fn in_order_and_out_of_order_deadlines_pop_in_order() {
        let mut t = Timers::new();
        let now = Instant::now();
        let ms = |m: u64| now + Duration::from_millis(m);
        // In order (to the queue), then earlier ones (to the heap), ties.
        let order = [10, 20, 20, 30, 5, 25, 15, 30, 1];
        for (i, m) in order.iter().enumerate() {
            t.arm(ms(*m), i as u32, 1);
        }
        assert!(!t.fifo.is_empty() && !t.heap.is_empty(), "both lanes used");
        assert_eq!(t.next_deadline(), Some(ms(1)));
        let mut popped = Vec::new();
        while let Some(e) = t.pop_due(ms(100)) {
            popped.push((e.when, e.seq));
        }
        let mut sorted = popped.clone();
        sorted.sort();
        assert_eq!(popped, sorted);
        assert_eq!(popped.len(), order.len());
        assert!(t.pop_due(ms(100)).is_none());
    }
}
