//! Switching between two green threads (tasks).
//!
//! - **ping-pong**: A wakes B and waits; B wakes A and waits; `n` round
//!   trips. greenpatch uses `Unparker::unpark` + `park`, tokio two
//!   `tokio::sync::Notify` (`notify_one` + `notified().await`). Both sides
//!   keep a shared turn counter and re-check it after each wake-up, as code
//!   that parks must. Reports ns per round trip.
//! - **yield**: two green threads (tasks) each call `yield_now` `n` times.
//!   Reports ns per `yield_now` call.
//!
//! The floor is the raw corosensei switch ([`crate::floor::RawSwitch`]):
//! two resume+suspend pairs per round trip, one per yield.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use greenpatch_runtime as gp;
use tokio::sync::Notify;

use crate::floor::RawSwitch;
use crate::harness::{ns_per, Baseline, Better, Config, RowSpec, Sides, Target, Workload};
use crate::report::count;
use crate::rts;

fn wait_for(slot: &OnceLock<gp::Unparker>) -> gp::Unparker {
    loop {
        if let Some(u) = slot.get() {
            return u.clone();
        }
        gp::yield_now();
    }
}

/// greenpatch: `n` park/unpark round trips between two green threads.
pub fn greenpatch_pingpong(n: u64) -> Duration {
    let turn = Arc::new(AtomicU64::new(0));
    let slots: Arc<[OnceLock<gp::Unparker>; 2]> = Arc::new([OnceLock::new(), OnceLock::new()]);
    let start = Instant::now();
    let (t, s) = (turn.clone(), slots.clone());
    let a = gp::spawn(move || {
        let _ = s[0].set(gp::current().unparker());
        let b = wait_for(&s[1]);
        for i in 0..n {
            t.store(2 * i + 1, Ordering::Release);
            b.unpark();
            while t.load(Ordering::Acquire) != 2 * i + 2 {
                gp::park().expect("B wakes A");
            }
        }
    });
    let (t, s) = (turn, slots);
    let b = gp::spawn(move || {
        let _ = s[1].set(gp::current().unparker());
        let a = wait_for(&s[0]);
        for i in 0..n {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                gp::park().expect("A wakes B");
            }
            t.store(2 * i + 2, Ordering::Release);
            a.unpark();
        }
    });
    a.join().expect("ping");
    b.join().expect("pong");
    start.elapsed()
}

/// tokio: `n` Notify round trips between two tasks.
pub async fn tokio_pingpong(n: u64) -> Duration {
    let turn = Arc::new(AtomicU64::new(0));
    let (na, nb) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let start = Instant::now();
    let (t, a_n, b_n) = (turn.clone(), na.clone(), nb.clone());
    let a = tokio::spawn(async move {
        for i in 0..n {
            t.store(2 * i + 1, Ordering::Release);
            b_n.notify_one();
            while t.load(Ordering::Acquire) != 2 * i + 2 {
                a_n.notified().await;
            }
        }
    });
    let (t, a_n, b_n) = (turn, na, nb);
    let b = tokio::spawn(async move {
        for i in 0..n {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                b_n.notified().await;
            }
            t.store(2 * i + 2, Ordering::Release);
            a_n.notify_one();
        }
    });
    a.await.expect("ping");
    b.await.expect("pong");
    start.elapsed()
}

/// greenpatch: two green threads each yielding `n` times.
pub fn greenpatch_yield(n: u64) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            gp::spawn(move || {
                for _ in 0..n {
                    gp::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("yielder");
    }
    start.elapsed()
}

/// tokio: two tasks each calling `tokio::task::yield_now().await` `n` times.
pub async fn tokio_yield(n: u64) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in hs {
        h.await.expect("yielder");
    }
    start.elapsed()
}

/// The ping-pong workload.
pub fn pingpong(cfg: &Config) -> Workload {
    let n = cfg.pick(1_000_000, 200_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    let mut raw = RawSwitch::new();
    Workload {
        rows: vec![RowSpec::new("ping-pong park/unpark vs Notify", "ns/round trip", Better::Lower)
            .target(Target::tokio_at_most(0.25))
            .floor("2 raw switches")],
        baseline: Baseline::Current,
        note: format!("{} round trips; 1 hub vs current_thread; tokio multi: 1 worker", count(n)),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![ns_per(greenpatch_pingpong(n), n)])),
            tokio_current: Some(Box::new(move || vec![ns_per(tc.block_on(tokio_pingpong(n)), n)])),
            tokio_multi: Some(Box::new(move || vec![ns_per(tm.block_on(tokio_pingpong(n)), n)])),
            floor: Some(Box::new(move || vec![2.0 * ns_per(raw.run(n), n)])),
        },
    }
}

/// The yield workload.
pub fn yielding(cfg: &Config) -> Workload {
    let n = cfg.pick(1_000_000, 200_000);
    let tc = rts::tokio_current();
    let tm = rts::tokio_multi(1);
    let mut raw = RawSwitch::new();
    Workload {
        rows: vec![RowSpec::new("yield between two threads", "ns/yield", Better::Lower)
            .target(Target::tokio_at_most(0.1))
            .floor("raw switch")],
        baseline: Baseline::Current,
        note: format!("2 x {} yields; 1 hub vs current_thread; tokio multi: 1 worker", count(n)),
        sides: Sides {
            greenpatch: Ok(Box::new(move || vec![ns_per(greenpatch_yield(n), 2 * n)])),
            tokio_current: Some(Box::new(move || vec![ns_per(tc.block_on(tokio_yield(n)), 2 * n)])),
            tokio_multi: Some(Box::new(move || vec![ns_per(tm.block_on(tokio_yield(n)), 2 * n)])),
            floor: Some(Box::new(move || vec![ns_per(raw.run(n), n)])),
        },
    }
}
