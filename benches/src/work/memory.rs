//! Memory per idle green thread vs per idle tokio task, and a million of
//! them alive at once.
//!
//! Each measurement is a fresh child process (`versus --child memory SIDE
//! N`): it warms its runtime up (one spawn+join), reads `VmRSS` and `VmPTE`
//! from `/proc/self/status`, spawns `N` = 10,000 green threads (tasks) that
//! each sleep for an hour, waits until every one has started and is
//! blocked, reads the two figures again and prints the growth per thread in
//! KiB: resident memory (stacks, task records, allocator) plus page tables,
//! which a per-thread stack mapping also costs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as gp;

use crate::child;
use crate::harness::{Baseline, Better, Config, RowSpec, Side, Sides, Target, Workload};
use crate::report::count;
use crate::rts;

/// Idle threads per measurement.
pub const COUNT: usize = 10_000;

const LONG: Duration = Duration::from_secs(3600);

/// `VmRSS` and `VmPTE` of this process, in KiB.
pub fn status() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmPTE:"))
}

fn print(before: (f64, f64), after: (f64, f64), n: usize, spawn: Duration) {
    let rss = (after.0 - before.0) / n as f64;
    let pte = (after.1 - before.1) / n as f64;
    let ms = spawn.as_secs_f64() * 1e3;
    println!("kib={:.4} rss_kib={rss:.4} pte_kib={pte:.4} spawn_ms={ms:.3}", rss + pte);
}

fn greenpatch_child(n: usize) {
    gp::spawn(|| ()).join().expect("warm-up");
    let started = Arc::new(AtomicUsize::new(0));
    let before = status();
    let start = Instant::now();
    for _ in 0..n {
        let s = started.clone();
        drop(gp::spawn(move || {
            s.fetch_add(1, Ordering::Relaxed);
            gp::sleep(LONG);
        }));
    }
    while started.load(Ordering::Relaxed) < n {
        gp::yield_now();
    }
    let spawn = start.elapsed();
    print(before, status(), n, spawn);
}

fn tokio_child(rt: tokio::runtime::Runtime, n: usize) {
    rt.block_on(async move {
        tokio::spawn(async {}).await.expect("warm-up");
        let started = Arc::new(AtomicUsize::new(0));
        let before = status();
        let start = Instant::now();
        for _ in 0..n {
            let s = started.clone();
            drop(tokio::spawn(async move {
                s.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(LONG).await;
            }));
        }
        while started.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        let spawn = start.elapsed();
        print(before, status(), n, spawn);
    });
}

/// `versus --child memory SIDE N`: measures and prints, then exits without
/// tearing anything down.
pub fn child_main(args: &[String]) -> Result<(), String> {
    let side = args.first().map(String::as_str).unwrap_or("");
    let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(COUNT);
    match side {
        "greenpatch" => greenpatch_child(n),
        "tokio-current" => tokio_child(rts::tokio_current(), n),
        "tokio-multi" => tokio_child(rts::tokio_multi(1), n),
        _ => return Err(format!("memory child: unknown side {side:?}")),
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(0)
}

/// One side: a fresh child of `n` idle threads per run, reporting `keys`.
fn side(name: &'static str, n: usize, keys: &'static [&'static str]) -> Side {
    Box::new(move || {
        let mut cmd = child::self_child("memory");
        cmd.args([name, &n.to_string()]);
        match child::run_kv(cmd) {
            Ok(kv) => keys.iter().map(|k| kv.get(*k).copied().unwrap_or(f64::NAN)).collect(),
            Err(e) => {
                eprintln!("memory: {e}");
                vec![f64::NAN; keys.len()]
            }
        }
    })
}

const MEMORY_KEYS: &[&str] = &["kib", "pte_kib"];

/// The memory workload.
pub fn workload(_cfg: &Config) -> Workload {
    Workload {
        rows: vec![
            RowSpec::new("idle thread memory (RSS + page tables)", "KiB/thread", Better::Lower)
                .target(Target::absolute_at_most(4.6)),
            RowSpec::new("  of which page tables", "KiB/thread", Better::Lower),
        ],
        baseline: Baseline::Current,
        note: format!(
            "{} sleeping, fresh child process per run; 1 hub vs current_thread; tokio multi: 1 worker",
            count(COUNT as u64)
        ),
        sides: Sides {
            greenpatch: Ok(side("greenpatch", COUNT, MEMORY_KEYS)),
            tokio_current: Some(side("tokio-current", COUNT, MEMORY_KEYS)),
            tokio_multi: Some(side("tokio-multi", COUNT, MEMORY_KEYS)),
            floor: None,
        },
    }
}

/// Live idle threads of the "million" workload.
pub const MILLION: usize = 1_000_000;

const MILLION_KEYS: &[&str] = &["spawn_ms", "kib"];

/// A million live idle green threads (tasks) at once, at the default
/// `vm.max_map_count`: the time to spawn them until every one sleeps, and
/// the memory (RSS + page tables) each costs.
pub fn million(cfg: &Config) -> Workload {
    let n = cfg.pick(MILLION, MILLION / 10);
    let label = format!("{} live idle green threads", count(n as u64));
    Workload {
        rows: vec![
            RowSpec::new(format!("{label}, time to spawn"), "ms", Better::Lower),
            RowSpec::new(format!("{label}, RSS + page tables"), "KiB/thread", Better::Lower),
        ],
        baseline: Baseline::Current,
        note: format!(
            "{} sleeping at once (tokio: idle tasks), fresh child process per run; 1 hub vs current_thread; \
             tokio multi: 1 worker",
            count(n as u64)
        ),
        sides: Sides {
            greenpatch: Ok(side("greenpatch", n, MILLION_KEYS)),
            tokio_current: Some(side("tokio-current", n, MILLION_KEYS)),
            tokio_multi: Some(side("tokio-multi", n, MILLION_KEYS)),
            floor: None,
        },
    }
}
