//! Criterion micro benches of the green channels and locks, each beside
//! its tokio `current_thread` equivalent (the tokio sides are the
//! side-by-side suite's, `benches::work::{channel, mutex}`):
//!
//! - `mpsc1_pingpong`: one round trip between two green threads through
//!   two `sync_channel(1)` (tokio: two `mpsc::channel(1)`). Target: at most
//!   0.5x tokio's time.
//! - `unbounded`: one message one way through `channel()`, producer and
//!   consumer green threads (tokio: `unbounded_channel`). Target: at most
//!   1.0x tokio's time per message.
//! - `mutex_contended`: one increment of a `sync::Mutex` held across a
//!   `yield_now`, by each of 100 green threads in turn (tokio:
//!   `tokio::sync::Mutex` and `yield_now().await`).
//!
//! greenpatch runs on the bench thread's own hub; tokio in one
//! `current_thread` runtime; each sample times a whole run of `iters`
//! operations (`iter_custom`). Run with
//! `cargo bench -p benches --bench sync` (add `-- --quick` for a short run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::rts;
use benches::work::{channel, mutex};
use criterion::{criterion_main, Criterion};
use greenpatch_runtime as gp;
use greenpatch_runtime::mpsc;

/// `n` round trips through two `sync_channel(1)`.
fn greenpatch_bounded1(n: u64) -> Duration {
    let (to_b, from_a) = mpsc::sync_channel::<u64>(1);
    let (to_a, from_b) = mpsc::sync_channel::<u64>(1);
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

/// `n` messages one way through an unbounded channel.
fn greenpatch_unbounded(n: u64) -> Duration {
    let (tx, rx) = mpsc::channel::<u64>();
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

/// `threads` green threads each take the lock `rounds` times, increment,
/// and yield while holding it.
fn greenpatch_mutex(threads: u64, rounds: u64) -> Duration {
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

const CONTENDERS: u64 = 100;

/// Runs `CONTENDERS` x ⌈iters/CONTENDERS⌉ increments and scales the time
/// to `iters`.
fn per_increment(iters: u64, run: impl FnOnce(u64, u64) -> Duration) -> Duration {
    let rounds = iters.div_ceil(CONTENDERS).max(1);
    run(CONTENDERS, rounds).mul_f64(iters as f64 / (CONTENDERS * rounds) as f64)
}

fn mpsc1_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpsc1_pingpong");
    g.bench_function("greenpatch", |b| b.iter_custom(greenpatch_bounded1));
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| b.iter_custom(|iters| rt.block_on(channel::tokio_bounded1(iters))));
    g.finish();
}

fn unbounded(c: &mut Criterion) {
    let mut g = c.benchmark_group("unbounded");
    g.bench_function("greenpatch", |b| b.iter_custom(greenpatch_unbounded));
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| b.iter_custom(|iters| rt.block_on(channel::tokio_unbounded(iters))));
    g.finish();
}

fn mutex_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_contended");
    g.bench_function("greenpatch", |b| b.iter_custom(|iters| per_increment(iters, greenpatch_mutex)));
    let rt = rts::tokio_current();
    g.bench_function("tokio_current", |b| {
        b.iter_custom(|iters| per_increment(iters, |t, r| rt.block_on(mutex::tokio(t, r))))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(50)
}

/// Runs every bench of this file with the short configuration.
fn sync() {
    let mut c = config().configure_from_args();
    mpsc1_pingpong(&mut c);
    unbounded(&mut c);
    mutex_contended(&mut c);
}

criterion_main!(sync);
