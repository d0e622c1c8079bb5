//! spawn+join: spawn `wave` trivial green threads (tasks), then join them
//! all, until `total` have run; reports ns per spawn+join.
//!
//! The waves exist because greenpatch maps one stack per live green thread
//! and `vm.max_map_count` (65530 by default) allows about 32,000 live
//! stacks; tokio runs the same waves.

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

/// Wave size of the second, informative row: small enough that every
/// stack comes from the hub's pool (which keeps up to 1,024).
pub const SMALL_WAVE: usize = 1_000;

/// The spawn+join workload: the waves of 10,000 the target is about, and
/// (no target) waves of 1,000, to show the cost with pooled stacks.
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
            .target(Target::tokio_at_most(0.5)),
            RowSpec::new(
                format!("spawn+join ({} in waves of {})", count(total as u64), count(SMALL_WAVE as u64)),
                "ns/op",
                Better::Lower,
            ),
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
