//! Timers: `n` green threads (tasks) each sleep 10 ms, all at once; the
//! wall time from the first spawn to the last join, and the overhead
//! (wall − 10 ms), in ms.
//!
//! `n` is 100,000 when `vm.max_map_count` allows that many live green
//! stacks (two kernel mappings each); otherwise the largest multiple of
//! 10,000 that fits, and the table says so. tokio runs the same `n`.

use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::harness::{Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::machine;
use crate::report::count;
use crate::rts;

/// The sleep each green thread does.
pub const NAP: Duration = Duration::from_millis(10);

/// How many green threads can be live at once here, at most `want`, and why
/// if fewer.
pub fn size(want: usize) -> (usize, Option<String>) {
    let (Some(max), Some(used)) = (machine::max_map_count(), machine::current_maps()) else {
        return (want, None);
    };
    // Two mappings per stack, plus headroom for the allocator and the
    // runtime's own mappings.
    let room = (max.saturating_sub(used + 2_048) / 2) as usize;
    if room >= want {
        return (want, None);
    }
    let n = if room >= 10_000 { room / 10_000 * 10_000 } else { room / 1_000 * 1_000 };
    let n = n.max(1_000);
    let need = used + 2_048 + 2 * want as u64;
    (
        n,
        Some(format!(
            "run as {}, not {}: vm.max_map_count={max} ({} need it ≥ {})",
            count(n as u64),
            count(want as u64),
            count(want as u64),
            count(need)
        )),
    )
}

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
    let (n, why) = size(cfg.pick(100_000, 10_000));
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    let mut note = format!("{} sleepers; 1 hub vs current_thread; tokio multi: 1 worker", count(n as u64));
    if let Some(w) = why {
        note = format!("{note}; {w}");
    }
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
