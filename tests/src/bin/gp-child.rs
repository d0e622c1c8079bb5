//! Child-process scenarios for the black-box tests (see `tests/runtime_core.rs`).
//!
//! `gp-child overflow` overflows a named green thread's stack;
//! `gp-child overflow-patched` does the same after `patch_all()` (the
//! report's `write` goes through the C-level hooks, from a signal handler);
//! `gp-child block-forever-park` parks the root with nobody to wake it;
//! `gp-child block-forever-join` joins a green thread that parks forever;
//! `gp-child block-forever-after-pool` does the same with an idle pool worker;
//! `gp-child block-forever-runtime` joins a stuck green thread of a 2-hub runtime;
//! `gp-child map-limit` spawns until a stack cannot be mapped;
//! `gp-child wakes-later` is woken by a plain OS thread after 300 ms (must
//! NOT be reported as blocking forever);
//! `gp-child monitor-hog` runs a green thread that spins 400 ms with the
//! blocking monitor at 50 ms, and prints its id, spawn line and the reports;
//! `gp-child monitor-polite` does the same with one that yields as it spins;
//! `gp-child monitor-block-forever` parks the root with the monitor running.

use std::time::Duration;

use greenpatch_runtime as rt;

fn recurse(depth: u64, buf: &mut [u8; 1024]) -> u64 {
    if depth == u64::MAX {
        return 0; // never reached: the stack overflows long before
    }
    let mut local = [0u8; 1024];
    local[(depth % 1024) as usize] = buf[0].wrapping_add(1);
    std::hint::black_box(&mut local);
    1 + recurse(depth + 1, &mut local)
}

/// Computes for `d` without parking; with `polite`, yields every 100 µs.
fn spin(d: Duration, polite: bool) {
    let start = std::time::Instant::now();
    let mut last = start;
    let mut x = 0u64;
    while start.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        if polite && last.elapsed() >= Duration::from_micros(100) {
            rt::yield_now();
            last = std::time::Instant::now();
        }
    }
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    match scenario.as_str() {
        "overflow" | "overflow-patched" => {
            if scenario == "overflow-patched" {
                let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
            }
            let h = rt::Builder::new()
                .name("deep-recursion".into())
                .stack_size(64 * 1024)
                .spawn(|| recurse(0, &mut [0u8; 1024]))
                .expect("spawn");
            let r = h.join();
            println!("unexpected: join returned {r:?}");
        }
        "block-forever-park" => match rt::park() {
            Err(e) => println!("ERR {e}"),
            Ok(()) => println!("unexpected: park returned"),
        },
        "block-forever-join" => {
            let h = rt::Builder::new()
                .name("stuck-worker".into())
                .spawn(|| {
                    let _ = rt::park();
                })
                .expect("spawn");
            match h.join() {
                Err(rt::JoinError::WouldBlockForever(e)) => println!("ERR {e}"),
                Err(e) => println!("unexpected error: {e}"),
                Ok(()) => println!("unexpected: join returned"),
            }
        }
        "block-forever-after-pool" => {
            // An idle blocking-pool worker cannot wake anyone either.
            assert_eq!(rt::blocking::run(|| 1), 1);
            match rt::park() {
                Err(e) => println!("ERR {e}"),
                Ok(()) => println!("unexpected: park returned"),
            }
        }
        "block-forever-runtime" => {
            let runtime = rt::Runtime::builder().hubs(2).build().expect("runtime");
            let h = runtime.spawn(|| {
                let _ = rt::park();
            });
            match h.join() {
                Err(rt::JoinError::WouldBlockForever(e)) => println!("ERR {e}"),
                Err(e) => println!("unexpected error: {e}"),
                Ok(()) => println!("unexpected: join returned"),
            }
            std::process::exit(0);
        }
        "map-limit" => {
            // Keep green threads alive (sleeping) until a stack cannot be
            // mapped; report the error Builder::spawn gives.
            let mut handles = Vec::new();
            loop {
                match rt::Builder::new().spawn(|| rt::sleep(Duration::from_secs(3600))) {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        println!("ERR after {} green threads: {e}", handles.len());
                        let panicked = std::panic::catch_unwind(|| rt::spawn(|| ())).err();
                        let msg = panicked.and_then(|p| p.downcast::<String>().ok()).map(|s| *s).unwrap_or_default();
                        println!("PANIC {msg}");
                        break;
                    }
                }
                if handles.len() >= 400_000 {
                    println!("SKIP the map limit is above 400000 green threads here");
                    break;
                }
                if handles.len() % 1000 == 0 {
                    rt::yield_now(); // let them start (and park)
                }
            }
            // Exit without unwinding 30,000 green threads.
            std::process::exit(0);
        }
        "wakes-later" => {
            let u = rt::current().unparker();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                u.unpark();
            });
            match rt::park() {
                Ok(()) => println!("OK woken"),
                Err(e) => println!("ERR {e}"),
            }
            t.join().expect("waker thread");
        }
        "monitor-hog" | "monitor-polite" => {
            rt::monitor::enable(Duration::from_millis(50)).expect("monitor");
            let polite = scenario == "monitor-polite";
            let line = line!() + 1;
            let h = rt::spawn(move || spin(Duration::from_millis(400), polite));
            // Something else wants the hub meanwhile.
            let other = rt::spawn(|| rt::sleep(Duration::from_millis(10)));
            println!("ID {} LINE {line}", h.id());
            h.join().expect("spinner");
            other.join().expect("sleeper");
            for r in rt::monitor::take_reports() {
                println!("REPORT {} LINE {} HELD {}", r.green_thread, r.spawn_site.line(), r.held_for.as_millis());
            }
            println!("DONE");
        }
        "monitor-block-forever" => {
            rt::monitor::enable(Duration::from_millis(50)).expect("monitor");
            match rt::park() {
                Err(e) => println!("ERR {e}"),
                Ok(()) => println!("unexpected: park returned"),
            }
        }
        other => {
            eprintln!("unknown scenario '{other}'");
            std::process::exit(2);
        }
    }
}
