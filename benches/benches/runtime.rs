//! Criterion micro benches of the runtime's core paths, each beside its
//! tokio `current_thread` equivalent:
//!
//! - `spawn_join`: spawn one trivial green thread and join it
//!   (`tokio::spawn(async {})` + `.await`);
//! - `pingpong`: one park/unpark round trip between two green threads
//!   (two tasks ping-ponging through `tokio::sync::Notify`);
//! - `yield`: one `yield_now` by each of two green threads, reported per
//!   call (`tokio::task::yield_now().await` in two tasks);
//! - `raw_switch`: one corosensei resume + suspend on a reused coroutine,
//!   the floor under every green switch.
//!
//! greenpatch runs on the bench thread's own hub; tokio in one
//! `current_thread` runtime. Each measurement times a loop of `iters`
//! operations inside the runtime (`iter_custom`), so runtime entry costs
//! (`block_on`) are not counted on either side. Run with
//! `cargo bench -p benches --bench runtime`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::floor::RawSwitch;
use benches::rts;
use benches::work::switch;
use criterion::{criterion_main, Criterion};
use greenpatch_runtime as gp;

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.bench_function("greenpatch", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                gp::spawn(|| ()).join().expect("trivial green thread");
            }
            start.elapsed()
        })
    });
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::spawn(async {}).await.expect("trivial task");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("pingpong");
    g.bench_function("greenpatch", |b| b.iter_custom(switch::greenpatch_pingpong));
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| b.iter_custom(|iters| rt.block_on(switch::tokio_pingpong(iters))));
    g.finish();
}

/// Runs `n` = ⌈iters/2⌉ yields in each of two threads and scales the time
/// to `iters` yields.
fn per_yield(iters: u64, run: impl FnOnce(u64) -> Duration) -> Duration {
    let n = iters.div_ceil(2).max(1);
    run(n).mul_f64(iters as f64 / (2 * n) as f64)
}

fn yielding(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    g.bench_function("greenpatch", |b| b.iter_custom(|iters| per_yield(iters, switch::greenpatch_yield)));
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| {
        b.iter_custom(|iters| per_yield(iters, |n| rt.block_on(switch::tokio_yield(n))))
    });
    g.finish();
}

fn raw_switch(c: &mut Criterion) {
    let mut raw = RawSwitch::new();
    let mut v = 0u64;
    c.bench_function("raw_switch/corosensei", |b| {
        b.iter(|| {
            v = raw.switch(black_box(v));
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(50)
}

/// Runs every bench of this file with the short configuration.
fn runtime() {
    let mut c = config().configure_from_args();
    spawn_join(&mut c);
    pingpong(&mut c);
    yielding(&mut c);
    raw_switch(&mut c);
}

criterion_main!(runtime);
