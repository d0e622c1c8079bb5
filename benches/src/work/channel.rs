//! Channels.
//!
//! - **mpsc(1) ping-pong**: two bounded channels of capacity 1; A sends a
//!   number on the first and receives it back on the second, B echoes; `n`
//!   round trips, ns per round trip. greenpatch
//!   `greenpatch_runtime::mpsc::sync_channel(1)` (std's API), tokio
//!   `tokio::sync::mpsc::channel(1)`.
//! - **unbounded**: one producer green thread (task) sends `n` numbers, one
//!   consumer receives them; ns per message. greenpatch
//!   `greenpatch_runtime::mpsc::channel`, tokio
//!   `tokio::sync::mpsc::unbounded_channel`.

use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::harness::{ns_per, Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::report::count;
use crate::rts;

/// greenpatch: `n` round trips through two `mpsc::sync_channel(1)`.
pub fn greenpatch_bounded1(n: u64) -> Duration {
    let (to_b, from_a) = gp::mpsc::sync_channel::<u64>(1);
    let (to_a, from_b) = gp::mpsc::sync_channel::<u64>(1);
    let start = Instant::now();
    let a = gp::spawn(move || {
        for i in 0..n {
            to_b.send(i).expect("B alive");
            let back = from_b.recv().expect("B alive");
            debug_assert_eq!(back, i);
        }
    });
    let b = gp::spawn(move || {
        for v in from_a.iter() {
            to_a.send(v).expect("A alive");
        }
    });
    a.join().expect("A");
    b.join().expect("B");
    start.elapsed()
}

/// greenpatch: `n` messages one way through an unbounded `mpsc::channel`.
pub fn greenpatch_unbounded(n: u64) -> Duration {
    let (tx, rx) = gp::mpsc::channel::<u64>();
    let start = Instant::now();
    let p = gp::spawn(move || {
        for i in 0..n {
            tx.send(i).expect("consumer alive");
        }
    });
    let c = gp::spawn(move || rx.iter().fold(0u64, u64::wrapping_add));
    p.join().expect("producer");
    let sum = c.join().expect("consumer");
    assert_eq!(sum, n * (n - 1) / 2);
    start.elapsed()
}

/// tokio: `n` round trips through two `mpsc::channel(1)`.
pub async fn tokio_bounded1(n: u64) -> Duration {
    let (to_b, mut from_a) = tokio::sync::mpsc::channel::<u64>(1);
    let (to_a, mut from_b) = tokio::sync::mpsc::channel::<u64>(1);
    let start = Instant::now();
    let a = tokio::spawn(async move {
        for i in 0..n {
            to_b.send(i).await.expect("B alive");
            let back = from_b.recv().await.expect("B alive");
            debug_assert_eq!(back, i);
        }
    });
    let b = tokio::spawn(async move {
        while let Some(v) = from_a.recv().await {
            to_a.send(v).await.expect("A alive");
        }
    });
    a.await.expect("A");
    b.await.expect("B");
    start.elapsed()
}

/// tokio: `n` messages one way through an unbounded channel.
pub async fn tokio_unbounded(n: u64) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let start = Instant::now();
    let p = tokio::spawn(async move {
        for i in 0..n {
            tx.send(i).expect("consumer alive");
        }
    });
    let c = tokio::spawn(async move {
        let mut sum = 0u64;
        while let Some(v) = rx.recv().await {
            sum = sum.wrapping_add(v);
        }
        sum
    });
    p.await.expect("producer");
    let sum = c.await.expect("consumer");
    assert_eq!(sum, n * (n - 1) / 2);
    start.elapsed()
}

/// The mpsc(1) ping-pong workload.
pub fn bounded1(cfg: &Config) -> Workload {
    let n = cfg.pick(500_000, 100_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    Workload {
        rows: vec![RowSpec::new("mpsc(1) ping-pong", "ns/round trip", Better::Lower).target(Target::tokio_at_most(0.5))],
        baseline: Baseline::Current,
        note: format!("{} round trips; 1 hub vs current_thread; tokio multi: 1 worker", count(n)),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![ns_per(greenpatch_bounded1(n), n)])),
            tokio_current: Some(Box::new(move || vec![ns_per(tc.block_on(tokio_bounded1(n)), n)])),
            tokio_multi: Some(Box::new(move || vec![ns_per(tm.block_on(tokio_bounded1(n)), n)])),
            floor: None,
        },
    }
}

/// The unbounded throughput workload.
pub fn unbounded(cfg: &Config) -> Workload {
    let n = cfg.pick(2_000_000, 500_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    Workload {
        rows: vec![
            RowSpec::new("unbounded channel one-way", "ns/msg", Better::Lower).target(Target::tokio_at_most(1.0))
        ],
        baseline: Baseline::Current,
        note: format!("{} u64 messages; 1 hub vs current_thread; tokio multi: 1 worker", count(n)),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![ns_per(greenpatch_unbounded(n), n)])),
            tokio_current: Some(Box::new(move || vec![ns_per(tc.block_on(tokio_unbounded(n)), n)])),
            tokio_multi: Some(Box::new(move || vec![ns_per(tm.block_on(tokio_unbounded(n)), n)])),
            floor: None,
        },
    }
}
