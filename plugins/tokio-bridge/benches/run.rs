//! The round trip of an empty `run` from a green thread: spawn on the
//! shared tokio runtime, the worker finishes the task and wakes the green
//! thread through its hub's remote path, the green thread resumes.

use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion};
use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::thread;

fn empty_run(c: &mut Criterion) {
    let _ = patch_all(PatchAll::default()).expect("patch_all");
    let mut g = c.benchmark_group("tokio-bridge");
    g.bench_function("run(empty) from a green thread", |b| {
        b.iter_custom(|iters| {
            thread::spawn(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    greenpatch_tokio::run(async {}).unwrap();
                }
                start.elapsed()
            })
            .join()
            .unwrap()
        })
    });
    g.bench_function("run(empty) from plain code", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                greenpatch_tokio::run(async {}).unwrap();
            }
            start.elapsed()
        })
    });
    g.finish();
}

/// The group, with short measurement times (the figure settles fast).
fn benches() {
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    empty_run(&mut c);
}

criterion_main!(benches);
