//! Timers: `n` green threads (tasks) each sleep 10 ms, all at once; the
//! wall time from the first spawn to the last join, and the overhead
//! (wall − 10 ms), in ms.
//!
//! `n` is 100,000 (10,000 with `--quick`) on both sides: green-thread
//! stacks come from arenas of guard regions, so the default
//! `vm.max_map_count` does not bound them.

use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::harness::{Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::report::count;
use crate::rts;

/// The sleep each green thread does.
pub const NAP: Duration = Duration::from_millis(10);

/// greenpatch: wall time of `n` overlapping sleeps.
pub fn greenpatch(n: usize) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| gp::spawn(|| gp::sleep(NAP))).collect();
    for h in hs {
        h.join().expect("sleeper");
    }
    start.elapsed()
}

/// tokio: wall time of `n` overlapping `tokio::time::sleep`s.
pub async fn tokio(n: usize) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| tokio::spawn(tokio::time::sleep(NAP))).collect();
    for h in hs {
        h.await.expect("sleeper");
    }
    start.elapsed()
}

fn figures(d: Duration) -> Vec<f64> {
    let ms = d.as_secs_f64() * 1e3;
    vec![ms, ms - NAP.as_secs_f64() * 1e3]
}

/// The timers workload.
pub fn workload(cfg: &Config) -> Workload {
    let n = cfg.pick(100_000, 10_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    let note = format!("{} sleepers; 1 hub vs current_thread; tokio multi: 1 worker", count(n as u64));
    Workload {
        rows: vec![
            RowSpec::new(format!("{} x sleep(10 ms), wall", count(n as u64)), "ms", Better::Lower),
            RowSpec::new(format!("{} x sleep(10 ms), overhead", count(n as u64)), "ms", Better::Lower)
                .target(Target::tokio_at_most(1.0)),
        ],
        baseline: Baseline::Current,
        note,
        sides: Sides {
            greenpatch: Ok(Box::new(move || figures(greenpatch(n)))),
            tokio_current: Some(Box::new(move || figures(tc.block_on(tokio(n))))),
            tokio_multi: Some(Box::new(move || figures(tm.block_on(tokio(n))))),
            floor: None,
        },
    }
}
