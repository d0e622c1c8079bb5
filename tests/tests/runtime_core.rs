//! Behaviours of the runtime core: spawning, joining, panics, sleeping,
//! wake-ups across threads, kill, timeouts, would-block-forever, stack
//! overflow reports and bounded stack mappings.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;

/// Counts drops, to prove destructors run exactly once.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn spawn_and_join_100_000_green_threads_returns_each_value() {
    // Waves of 10,000 live green threads.
    let mut total = 0u64;
    for wave in 0..10u64 {
        let handles: Vec<_> = (0..10_000u64).map(|i| rt::spawn(move || wave * 10_000 + i)).collect();
        for (i, h) in handles.into_iter().enumerate() {
            let v = h.join().unwrap();
            assert_eq!(v, wave * 10_000 + i as u64);
            total += v;
        }
    }
    assert_eq!(total, (0..100_000u64).sum::<u64>());
}

#[test]
fn a_panic_in_one_of_1000_green_threads_reaches_only_its_own_join() {
    let handles: Vec<_> = (0..1000)
        .map(|i| {
            rt::spawn(move || {
                rt::yield_now();
                if i == 500 {
                    panic!("green thread 500 fails");
                }
                i
            })
        })
        .collect();
    let mut ok = 0;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(v) => {
                assert_eq!(v, i);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(i, 500);
                let p = e.into_panic().expect("a panic payload");
                assert_eq!(*p.downcast::<&str>().unwrap(), "green thread 500 fails");
            }
        }
    }
    assert_eq!(ok, 999);
}

#[test]
fn a_thousand_green_threads_sleeping_100ms_overlap_on_one_os_thread() {
    let start = Instant::now();
    let os_thread = std::thread::current().id();
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            rt::spawn_local(move || {
                rt::sleep(Duration::from_millis(100));
                std::thread::current().id()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), os_thread);
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(100), "slept only {took:?}");
    assert!(took < Duration::from_secs(1), "1,000 sleeps of 100 ms took {took:?}: they did not overlap");
}

#[test]
fn a_plain_os_thread_wakes_a_parked_green_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = rt::spawn(move || {
        tx.send(rt::current().unparker()).unwrap();
        let start = Instant::now();
        rt::park().unwrap();
        start.elapsed()
    });
    rt::yield_now(); // let the waiter publish its unparker and park
    let u = rx.recv().unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        u.unpark();
    });
    let waited = waiter.join().unwrap();
    t.join().unwrap();
    assert!(waited >= Duration::from_millis(40), "woke after only {waited:?}");
}

#[test]
fn a_green_thread_on_another_hub_wakes_a_parked_green_thread() {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(rt::Unparker, std::thread::ThreadId)>();
    // Park on one hub...
    let parked = runtime.spawn(move || {
        tx.send((rt::current().unparker(), std::thread::current().id())).unwrap();
        rt::park().unwrap();
        std::thread::current().id()
    });
    let (u, parked_on) = rx.recv().unwrap();
    // ...and wake from green threads until one runs on the other hub.
    let mut woke_from_other_hub = false;
    for _ in 0..16 {
        let u = u.clone();
        let h = runtime.spawn(move || {
            let here = std::thread::current().id();
            if here != parked_on {
                u.unpark();
                return true;
            }
            false
        });
        if h.join().unwrap() {
            woke_from_other_hub = true;
            break;
        }
    }
    assert!(woke_from_other_hub, "placement never used the second hub");
    assert_eq!(parked.join().unwrap(), parked_on, "a started green thread never moves");
}

#[test]
fn an_unpark_before_park_is_not_lost_and_stale_unparkers_are_harmless() {
    let u = rt::current().unparker();
    u.unpark();
    rt::park().unwrap(); // returns at once: the token was kept

    let h = rt::spawn(|| rt::current().unparker());
    let stale = h.join().unwrap();
    stale.unpark(); // its green thread is gone: nothing happens
    let t = std::thread::spawn(move || stale.unpark());
    t.join().unwrap();
    let next = rt::spawn(|| 7);
    assert_eq!(next.join().unwrap(), 7);
}

fn kill_runs_destructors_once(block: impl FnOnce() + Send + 'static) {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let h = rt::spawn(move || {
        let _guard = guard;
        block();
        unreachable!("the blocking call must unwind when killed");
    });
    rt::yield_now(); // let it start and block
    assert!(!h.is_finished());
    h.kill();
    let err = h.join().unwrap_err();
    assert!(err.is_killed(), "expected Killed, got {err}");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn kill_of_a_green_thread_sleeping_runs_its_destructors_once() {
    kill_runs_destructors_once(|| rt::sleep(Duration::from_secs(60)));
}

#[test]
fn kill_of_a_green_thread_joining_runs_its_destructors_once() {
    let sleeper = rt::spawn(|| rt::sleep(Duration::from_secs(60)));
    kill_runs_destructors_once(move || {
        let _ = sleeper.join();
    });
}

#[test]
fn kill_of_a_green_thread_parked_runs_its_destructors_once() {
    kill_runs_destructors_once(|| loop {
        let _ = rt::park();
    });
}

#[test]
fn kill_before_start_prevents_the_green_thread_from_running() {
    let ran = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (r, guard) = (ran.clone(), DropCounter(drops.clone()));
    let h = rt::spawn(move || {
        let _g = guard;
        r.fetch_add(1, Ordering::SeqCst);
    });
    h.kill();
    assert!(h.join().unwrap_err().is_killed());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the closure's captures are dropped");
}

#[test]
fn a_timeout_scope_bounds_every_blocking_call_inside_it() {
    let start = Instant::now();
    let r = rt::with_timeout(Duration::from_millis(50), || {
        rt::sleep(Duration::from_secs(30));
        "not reached"
    });
    assert_eq!(r.unwrap_err().limit, Duration::from_millis(50));
    assert!(start.elapsed() < Duration::from_secs(5));

    // Nested: the inner, shorter scope fires and is caught by itself only.
    let outer = rt::with_timeout(Duration::from_secs(30), || {
        let inner = rt::with_timeout(Duration::from_millis(20), || {
            let _ = rt::park();
        });
        assert!(inner.is_err());
        "outer finished"
    });
    assert_eq!(outer.unwrap(), "outer finished");

    // In a green thread, around a join.
    let h = rt::spawn(|| {
        let never = rt::spawn(|| rt::sleep(Duration::from_secs(60)));
        let r = rt::with_timeout(Duration::from_millis(20), move || never.join().is_ok());
        r.is_err()
    });
    assert!(h.join().unwrap());
}

#[test]
fn a_million_spawns_in_waves_of_10_000_keep_mapped_stacks_bounded() {
    let mut peak = 0;
    for _ in 0..100 {
        let handles: Vec<_> = (0..10_000).map(|_| rt::spawn(|| ())).collect();
        peak = peak.max(rt::stats::mapped_stacks());
        for h in handles {
            h.join().unwrap();
        }
    }
    // Other tests of this process run concurrently on their own hubs and
    // map their own stacks: allow for them, but a leak of 1,000,000 stacks
    // (or even one wave's worth per wave) would exceed this by far.
    assert!(peak <= 60_000, "peak of {peak} mapped stacks");
    assert!(rt::stats::cached_stacks() <= 16 * 1024, "the pool is bounded");
}

fn child(scenario: &str) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gp-child")).arg(scenario).output().expect("start the child process");
    out
}

#[test]
fn would_block_forever_is_reported_instead_of_hanging() {
    for scenario in ["block-forever-park", "block-forever-after-pool", "block-forever-runtime"] {
        let start = Instant::now();
        let out = child(scenario);
        let took = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("ERR this call would block forever"), "{scenario}: {stdout}");
        assert!(took < Duration::from_secs(1), "{scenario}: reported after {took:?}");
    }
}

#[test]
fn would_block_forever_names_the_blocked_green_threads() {
    let out = child("block-forever-join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ERR this call would block forever"), "{stdout}");
    assert!(stdout.contains("waits on join of green thread"), "{stdout}");
    assert!(stdout.contains("'stuck-worker' waits on park"), "{stdout}");
    assert!(stdout.contains("runtime_core") || stdout.contains("gp-child.rs"), "spawn site: {stdout}");
}

/// The reports a monitor scenario printed: `(green thread, spawn line)`.
fn monitor_reports(stdout: &str) -> Vec<(String, u32)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "REPORT").then_some(())?;
            let id = w.next()?.to_string();
            (w.next()? == "LINE").then_some(())?;
            Some((id, w.next()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_monitor_names_a_green_thread_that_holds_its_hub_and_where_it_was_spawned() {
    let out = child("monitor-hog");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("DONE"), "{stdout}{stderr}");
    let head: Vec<&str> = stdout.lines().next().unwrap_or("").split_whitespace().collect();
    let (id, line) = (head[1].to_string(), head[3].parse::<u32>().unwrap());
    let reports = monitor_reports(&stdout);
    assert_eq!(reports, vec![(id.clone(), line)], "one report for the one stretch: {stdout}");
    assert!(stderr.contains(&format!("green thread {id} (spawned at")), "{stderr}");
    assert!(stderr.contains("max_blocking_time 50 ms"), "{stderr}");
}

#[test]
fn the_monitor_leaves_a_green_thread_that_yields_alone() {
    let out = child("monitor-polite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("DONE"), "{stdout}");
    assert_eq!(monitor_reports(&stdout), vec![], "{stdout}");
}

/// Runs a scenario, killing it after `limit` (a scenario that should report
/// a hang must not hang the test instead).
fn child_within(scenario: &str, limit: Duration) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gp-child"))
        .arg(scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the child process");
    let start = Instant::now();
    while c.try_wait().expect("child status").is_none() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = c.kill();
    c.wait_with_output().expect("child output")
}

#[test]
fn would_block_forever_is_still_reported_while_the_monitor_runs() {
    let start = Instant::now();
    let out = child_within("monitor-block-forever", Duration::from_secs(5));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ERR this call would block forever"), "{stdout}");
    assert!(start.elapsed() < Duration::from_secs(2), "reported after {:?}", start.elapsed());
}

#[test]
fn a_wait_that_another_thread_will_end_is_not_reported() {
    let out = child("wakes-later");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK woken");
}

#[test]
fn a_green_stack_overflow_names_the_green_thread_and_aborts() {
    use std::os::unix::process::ExitStatusExt;
    let out = child("overflow");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "status {:?}, stderr: {stderr}", out.status);
    assert!(stderr.contains("'deep-recursion' overflowed its 65536-byte stack"), "stderr: {stderr}");
    assert!(stderr.contains("green thread "), "stderr: {stderr}");
}

#[test]
fn an_impossible_stack_size_is_an_error_not_a_crash() {
    let err = rt::Builder::new().stack_size(usize::MAX / 2).spawn(|| ()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("stack"), "{msg}");
}

#[test]
fn builder_names_and_current_reports_them() {
    let h = rt::Builder::new().name("named".into()).spawn(|| rt::current().name().map(String::from)).unwrap();
    assert_eq!(h.join().unwrap().as_deref(), Some("named"));
    let dump = {
        let h = rt::Builder::new().name("dumped".into()).spawn(|| rt::sleep(Duration::from_millis(5))).unwrap();
        let d = rt::diag::dump();
        h.join().unwrap();
        d
    };
    assert!(dump.contains("'dumped'"), "{dump}");
}

#[test]
fn spawn_blocking_parks_only_the_calling_green_thread() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let t2 = ticks.clone();
    let ticker = rt::spawn(move || {
        for _ in 0..10 {
            rt::sleep(Duration::from_millis(10));
            t2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let worker = rt::spawn(|| {
        rt::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(150));
            42
        })
        .join()
        .unwrap()
    });
    assert_eq!(worker.join().unwrap(), 42);
    ticker.join().unwrap();
    assert_eq!(ticks.load(Ordering::SeqCst), 10);
}

#[test]
fn a_green_thread_that_yields_lets_a_due_timer_in_at_its_next_yield() {
    // The computation yields every 5 ms. Were yielders queued like any
    // runnable task, timers would be looked at only every 61 tasks, here
    // about every 300 ms; yields are deferred behind a poll instead, so the
    // timer fires at the next yield (the bound leaves room for a loaded
    // machine descheduling the hub's thread).
    let sleeper = rt::spawn(|| {
        let asked = Instant::now() + Duration::from_millis(20);
        rt::sleep_until(asked);
        Instant::now().saturating_duration_since(asked)
    });
    let hog = rt::spawn(|| {
        let start = Instant::now();
        let mut last = start;
        while start.elapsed() < Duration::from_millis(800) {
            if last.elapsed() >= Duration::from_millis(5) {
                rt::yield_now();
                last = Instant::now();
            }
        }
    });
    let late = sleeper.join().unwrap();
    hog.join().unwrap();
    assert!(late < Duration::from_millis(150), "the timer fired {late:?} late");
}
