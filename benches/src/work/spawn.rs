//! spawn+join: spawn `wave` trivial green threads (tasks), then join them
//! all, until `total` have run; reports ns per spawn+join.
//!
//! Waves of 10,000 measure a spawn that reuses hot pooled stacks after the
//! first wave; waves of 1,000 the same with a working set that stays in
//! cache. tokio runs the same waves.

use std::time::Instant;

use greenpatch_runtime as gp;

use crate::harness::{ns_per, Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::report::count;
use crate::rts;

/// Spawned-then-joined green threads per wave.
pub const WAVE: usize = 10_000;

/// greenpatch: `total` spawn+join on the calling thread's hub; ns per op.
pub fn greenpatch(total: usize, wave: usize) -> f64 {
    let mut hs = Vec::with_capacity(wave);
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let n = wave.min(total - done);
        for _ in 0..n {
            hs.push(gp::spawn(|| ()));
        }
        for h in hs.drain(..) {
            h.join().expect("trivial green thread");
        }
        done += n;
    }
    ns_per(start.elapsed(), total as u64)
}

/// tokio: the same waves of `tokio::spawn` + `.await`; ns per op.
pub async fn tokio(total: usize, wave: usize) -> f64 {
    let mut hs = Vec::with_capacity(wave);
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let n = wave.min(total - done);
        for _ in 0..n {
            hs.push(tokio::spawn(async {}));
        }
        for h in hs.drain(..) {
            h.await.expect("trivial task");
        }
        done += n;
    }
    ns_per(start.elapsed(), total as u64)
}

/// Wave size of the second row: a working set that fits the caches.
pub const SMALL_WAVE: usize = 1_000;

/// The spawn+join workload: waves of 10,000 and of 1,000.
pub fn workload(cfg: &Config) -> Workload {
    let total = cfg.pick(1_000_000, 100_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    Workload {
        rows: vec![
            RowSpec::new(
                format!("spawn+join ({} in waves of {})", count(total as u64), count(WAVE as u64)),
                "ns/op",
                Better::Lower,
            )
            .target(Target::tokio_at_most(1.0)),
            RowSpec::new(
                format!("spawn+join ({} in waves of {})", count(total as u64), count(SMALL_WAVE as u64)),
                "ns/op",
                Better::Lower,
            )
            .target(Target::tokio_at_most(0.6)),
        ],
        baseline: Baseline::Current,
        note: "1 hub vs current_thread; tokio multi: 1 worker".into(),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![greenpatch(total, WAVE), greenpatch(total, SMALL_WAVE)])),
            tokio_current: Some(Box::new(move || {
                vec![tc.block_on(tokio(total, WAVE)), tc.block_on(tokio(total, SMALL_WAVE))]
            })),
            tokio_multi: Some(Box::new(move || {
                vec![tm.block_on(tokio(total, WAVE)), tm.block_on(tokio(total, SMALL_WAVE))]
            })),
            floor: None,
        },
    }
}
