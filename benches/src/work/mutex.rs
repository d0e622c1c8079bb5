//! Mutex contention: 1,000 green threads (tasks) each take the lock 100
//! times, increment a counter and yield *while holding the lock*, so that
//! every other thread queues on it. Reports ns per increment (100,000 in
//! all). greenpatch `greenpatch_runtime::sync::Mutex`, tokio
//! `tokio::sync::Mutex`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::harness::{ns_per, Baseline, Better, Config, RowSpec, Sides, Workload};
use crate::report::count;
use crate::rts;

/// Contending threads.
pub const THREADS: u64 = 1_000;
/// Increments per thread.
pub const ROUNDS: u64 = 100;

/// greenpatch: the contention run on the calling thread's hub.
pub fn greenpatch(threads: u64, rounds: u64) -> Duration {
    let m = Arc::new(gp::sync::Mutex::new(0u64));
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            gp::spawn(move || {
                for _ in 0..rounds {
                    let mut g = m.lock().expect("not poisoned");
                    *g += 1;
                    gp::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("incrementer");
    }
    let d = start.elapsed();
    assert_eq!(*m.lock().expect("not poisoned"), threads * rounds);
    d
}

/// tokio: the contention run.
pub async fn tokio(threads: u64, rounds: u64) -> Duration {
    let m = Arc::new(tokio::sync::Mutex::new(0u64));
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                for _ in 0..rounds {
                    let mut g = m.lock().await;
                    *g += 1;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.expect("incrementer");
    }
    let d = start.elapsed();
    assert_eq!(*m.lock().await, threads * rounds);
    d
}

/// The mutex workload.
pub fn workload(_cfg: &Config) -> Workload {
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    let ops = THREADS * ROUNDS;
    Workload {
        rows: vec![RowSpec::new("Mutex contention (yield inside)", "ns/increment", Better::Lower)],
        baseline: Baseline::Current,
        note: format!(
            "{} threads x {ROUNDS} increments; 1 hub vs current_thread; tokio multi: 1 worker",
            count(THREADS)
        ),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![ns_per(greenpatch(THREADS, ROUNDS), ops)])),
            tokio_current: Some(Box::new(move || vec![ns_per(tc.block_on(tokio(THREADS, ROUNDS)), ops)])),
            tokio_multi: Some(Box::new(move || vec![ns_per(tm.block_on(tokio(THREADS, ROUNDS)), ops)])),
            floor: None,
        },
    }
}
