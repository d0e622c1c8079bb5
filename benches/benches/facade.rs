//! Criterion micro bench of facade dispatch after `patch_all()`: a facade
//! call is one atomic load and an indirect call on top of the runtime
//! function it reaches, and must cost at most 1.05x the direct call.
//!
//! - `yield_now`: `greenpatch::thread::yield_now()` against
//!   `greenpatch_runtime::yield_now()` (the cheapest green call: an empty
//!   run queue, nothing to switch to);
//! - `sleep_zero`: `greenpatch::time::sleep(Duration::ZERO)` against
//!   `greenpatch_runtime::sleep(Duration::ZERO)` (which yields);
//! - `unpatched`: for reference, `greenpatch::thread::yield_now()` before
//!   patching is `std::thread::yield_now` (a `sched_yield` system call) —
//!   measured first, in the same process.
//!
//! Each measurement times a loop of `iters` calls on the bench thread's
//! root (`iter_custom`). Run with `cargo bench -p benches --bench facade`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion};
use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch_runtime as rt;

fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

fn unpatched(c: &mut Criterion) {
    let mut g = c.benchmark_group("unpatched");
    g.bench_function("facade thread::yield_now (std)", |b| b.iter_custom(|n| timed(n, greenpatch::thread::yield_now)));
    g.finish();
}

fn patched(c: &mut Criterion) {
    let outcome = patch_all(PatchAll::default()).expect("no plugin failed");
    assert!(!outcome.modules().is_empty() || outcome.is_nothing_new());
    // Create this thread's hub outside the measurements.
    rt::yield_now();

    let mut g = c.benchmark_group("yield_now");
    g.bench_function("facade", |b| b.iter_custom(|n| timed(n, greenpatch::thread::yield_now)));
    g.bench_function("direct", |b| b.iter_custom(|n| timed(n, rt::yield_now)));
    g.finish();

    let mut g = c.benchmark_group("sleep_zero");
    g.bench_function("facade", |b| b.iter_custom(|n| timed(n, || greenpatch::time::sleep(black_box(Duration::ZERO)))));
    g.bench_function("direct", |b| b.iter_custom(|n| timed(n, || rt::sleep(black_box(Duration::ZERO)))));
    g.finish();
}

/// Runs the unpatched reference, then patches and runs the comparisons.
fn facade() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    unpatched(&mut c);
    patched(&mut c);
}

criterion_main!(facade);
