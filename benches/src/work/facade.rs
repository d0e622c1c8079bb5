//! Facade dispatch: the cost of calling a green call through a greenpatch
//! facade after `greenpatch::monkey::patch_all()` (one atomic load and an
//! indirect call, by design) against calling the runtime directly.
//!
//! The call is `sleep(Duration::ZERO)` on the root of the calling thread,
//! which yields to the (empty) run queue: the cheapest green call both
//! paths share, so the dispatch is the largest possible share of it.
//! Reports ns per call; the "floor" column is the direct
//! `greenpatch_runtime::sleep` call. `patch_all()` changes the whole
//! process, so this workload runs last.

use std::hint::black_box;
use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::harness::{ns_per, Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::report::count;

/// Patches every builtin module once in this process (`patch_all` with
/// the default options); the suite runs this workload last.
pub fn ensure_patched() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()) {
            panic!("patch_all failed: {e}");
        }
    });
}

/// The facade call after `patch_all()`, `n` times; ns per call.
pub fn facade(n: u64) -> f64 {
    ensure_patched();
    let start = Instant::now();
    for _ in 0..n {
        greenpatch::time::sleep(black_box(Duration::ZERO));
    }
    ns_per(start.elapsed(), n)
}

/// The direct runtime call, `n` times; ns per call.
pub fn direct(n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        gp::sleep(black_box(Duration::ZERO));
    }
    ns_per(start.elapsed(), n)
}

/// The facade workload.
pub fn workload(cfg: &Config) -> Workload {
    let n = cfg.pick(5_000_000, 1_000_000);
    Workload {
        rows: vec![RowSpec::new("facade dispatch after patch_all()", "ns/call", Better::Lower)
            .target(Target::floor_at_most(1.05))
            .floor("direct call")],
        baseline: Baseline::Current,
        note: format!("sleep(Duration::ZERO) x {} on the root; no tokio equivalent", count(n)),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![facade(n)])),
            tokio_current: None,
            tokio_multi: None,
            floor: Some(Box::new(move || vec![direct(n)])),
        },
    }
}
