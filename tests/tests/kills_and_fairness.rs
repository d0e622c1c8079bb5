//! Faults a production program meets: blocking destructors during an
//! unwind, kills that are caught, loops that never park, OS threads that
//! exit with green threads alive, panics, a saturated blocking pool. Each
//! test failed (or hung, or aborted) before the fix it pins; scenarios that
//! abort or hang when broken run in a child process (`gp-child`) that is
//! killed after a time limit.

use std::panic::catch_unwind;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use tests::within;

/// Runs a `gp-child` scenario with extra environment, killing it after
/// `limit`: a regression fails instead of hanging the suite.
fn child(scenario: &str, env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gp-child"));
    cmd.arg(scenario).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut c = cmd.spawn().expect("start the child process");
    let start = Instant::now();
    while c.try_wait().expect("child status").is_none() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = c.kill();
    c.wait_with_output().expect("child output")
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// ------------------------------------------------ 1. blocking while unwinding

#[test]
fn a_destructor_that_blocks_while_its_green_thread_unwinds_does_not_abort() {
    let out = child("unwind-blocks", &[], Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    for case in
        ["expired scope", "kill in a scope", "kill during a panic", "scope during a panic", "scope in a destructor"]
    {
        assert!(stdout.contains(&format!("{case}: true")), "{case}: {stdout}");
    }
    assert!(stdout.contains("DONE drops=5"), "every destructor completed: {stdout}");
}

#[test]
fn dropping_a_runtime_waits_for_a_destructor_that_blocks() {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicBool::new(false));
    let runtime = rt::Runtime::builder().hubs(1).build().unwrap();
    let (d, s) = (drops.clone(), started.clone());
    let h = runtime.spawn(move || {
        struct Slow(Arc<AtomicUsize>);
        impl Drop for Slow {
            fn drop(&mut self) {
                rt::sleep(Duration::from_millis(30));
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let _slow = Slow(d);
        s.store(true, Ordering::SeqCst);
        rt::sleep(Duration::from_secs(60));
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(runtime);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the destructor ran to its end");
    assert!(h.join().unwrap_err().is_killed());
}

// ------------------------------------------------ 2. every kill is honoured

#[test]
fn a_second_kill_unwinds_a_green_thread_that_caught_the_first() {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let h = rt::spawn(move || {
        let caught = catch_unwind(|| rt::sleep(Duration::from_secs(60))).is_err();
        let _flag = SetOnDrop(d);
        rt::sleep(Duration::from_secs(60));
        caught
    });
    rt::sleep(Duration::from_millis(10));
    h.kill();
    rt::sleep(Duration::from_millis(10));
    h.kill();
    let r = within(5, "the second kill", || h.join());
    assert!(r.unwrap_err().is_killed());
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn dropping_a_runtime_kills_again_a_green_thread_that_caught_its_kill() {
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let runtime = rt::Runtime::builder().hubs(1).build().unwrap();
    let (d, s) = (dropped.clone(), started.clone());
    let h = runtime.spawn(move || {
        s.store(true, Ordering::SeqCst);
        let _ = catch_unwind(|| rt::sleep(Duration::from_secs(60)));
        let _flag = SetOnDrop(d);
        rt::sleep(Duration::from_secs(60));
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(runtime);
    assert!(dropped.load(Ordering::SeqCst), "its destructors ran");
    assert!(h.join().unwrap_err().is_killed());
}

// ------------------------------------------------ 3. the cooperative budget

#[test]
fn an_accept_loop_under_emfile_lets_the_green_thread_that_closes_descriptors_run() {
    let out = child("coop-emfile", &[], Duration::from_secs(15));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OK accepted") && stdout.contains(", 1 failed accepts"),
        "the accept loop starved the closer: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops a loop that starves its hub long before it would run out of memory.
const STARVED: u64 = 10_000_000;

#[test]
fn a_send_loop_ends_when_another_green_thread_drops_the_receiver() {
    let (tx, rx) = rt::mpsc::channel::<u8>();
    let dropper = rt::spawn(move || drop(rx));
    let mut sent = 0u64;
    while tx.send(1).is_ok() && sent < STARVED {
        sent += 1;
    }
    assert!(sent < STARVED, "the receiver's green thread never ran");
    dropper.join().unwrap();
    // The same from a green thread.
    let (tx, rx) = rt::mpsc::channel::<u8>();
    let sender = rt::spawn(move || {
        let mut sent = 0u64;
        while tx.send(1).is_ok() && sent < STARVED {
            sent += 1;
        }
        sent
    });
    let dropper = rt::spawn(move || drop(rx));
    assert!(sender.join().unwrap() < STARVED, "the receiver's green thread never ran");
    dropper.join().unwrap();
}

#[test]
fn a_try_iter_and_send_loop_lets_the_other_side_run() {
    let (tx, rx) = rt::mpsc::channel::<u32>();
    let (ack_tx, _ack_rx) = rt::mpsc::channel::<()>();
    let consumer = rt::spawn(move || {
        let (mut got, mut spins) = (0, 0u64);
        while got < 10 && spins < STARVED {
            got += rx.try_iter().count();
            ack_tx.send(()).unwrap();
            spins += 1;
        }
        got
    });
    let producer = rt::spawn(move || (0..10).for_each(|i| tx.send(i).unwrap()));
    assert_eq!(consumer.join().unwrap(), 10, "the producer never ran");
    producer.join().unwrap();
}

#[test]
fn a_try_lock_loop_lets_the_holder_run() {
    let m = Arc::new(rt::sync::Mutex::new(0));
    let m2 = m.clone();
    let holder = rt::spawn(move || {
        let _g = m2.lock().unwrap();
        rt::yield_now();
    });
    rt::yield_now(); // the holder takes the lock and yields
    let mut spins = 0u64;
    while m.try_lock().is_err() && spins < STARVED {
        spins += 1;
    }
    assert!(spins < STARVED, "the holder never ran");
    holder.join().unwrap();
}

#[test]
fn the_cooperative_budget_comes_from_the_environment_and_a_bad_value_is_reported() {
    let budget = |v: &str| {
        let out = child("coop-budget", &[("GREENPATCH_COOP_BUDGET", v)], Duration::from_secs(10));
        (String::from_utf8_lossy(&out.stdout).trim().to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    assert_eq!(budget("32").0, "BUDGET 32");
    assert_eq!(budget("0").0, "BUDGET 0", "0 turns it off");
    let (out, err) = budget("lots");
    assert_eq!(out, format!("BUDGET {}", rt::coop::DEFAULT_BUDGET));
    assert!(err.contains("GREENPATCH_COOP_BUDGET") && err.contains("lots"), "{err}");
}

#[test]
fn a_hooks_budget_yield_never_unwinds_and_the_kill_lands_at_the_next_park() {
    let reached = Arc::new(AtomicBool::new(false));
    let r = reached.clone();
    let h = rt::spawn(move || {
        // A C-level hook's fast path: must never unwind.
        for _ in 0..10 * rt::coop::DEFAULT_BUDGET {
            rt::foreign::spend();
        }
        r.store(true, Ordering::SeqCst);
        rt::sleep(Duration::from_secs(60));
    });
    rt::yield_now(); // it runs until its budget yields
    h.kill();
    assert!(within(5, "the kill at the next park", || h.join()).unwrap_err().is_killed());
    assert!(reached.load(Ordering::SeqCst), "the yield in foreign::spend unwound");
}

#[test]
fn a_runtime_sets_the_budget_of_its_hubs() {
    let runtime = rt::Runtime::builder().hubs(1).coop_budget(7).build().unwrap();
    assert_eq!(runtime.block_on(rt::coop::budget), 7);
}

#[test]
fn a_green_loop_that_never_parks_yields_within_two_budgets() {
    // On its own OS thread: a hub with nothing else on it.
    std::thread::spawn(|| {
        let budget = u64::from(rt::coop::budget());
        let ops = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (ops.clone(), stop.clone());
        // Counts the looper's operations between two of its own turns.
        let watcher = rt::spawn(move || {
            let (mut last, mut widest, mut turns) = (o.load(Ordering::SeqCst), 0, 0u64);
            while !s.load(Ordering::SeqCst) {
                rt::yield_now();
                let now = o.load(Ordering::SeqCst);
                widest = widest.max(now - last);
                last = now;
                turns += 1;
            }
            (widest, turns)
        });
        let (o, s) = (ops.clone(), stop.clone());
        let looper = rt::spawn(move || {
            let m = rt::sync::Mutex::new(());
            for _ in 0..100 * budget {
                drop(m.try_lock()); // never parks: spends the budget
                o.fetch_add(1, Ordering::SeqCst);
            }
            s.store(true, Ordering::SeqCst);
        });
        looper.join().unwrap();
        let (widest, turns) = watcher.join().unwrap();
        assert!(turns >= 40, "the watcher ran only {turns} times during {} operations", 100 * budget);
        assert!(widest <= 2 * budget, "{widest} operations without a yield (budget {budget})");
    })
    .join()
    .unwrap();
}

// ------------------------------------------------ 4. an OS thread that exits

#[test]
fn an_os_thread_that_exits_kills_and_drains_its_green_threads() {
    let m = Arc::new(rt::sync::Mutex::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let (m2, d) = (m.clone(), dropped.clone());
    let t = std::thread::spawn(move || {
        let h = rt::spawn(move || {
            let _g = m2.lock().unwrap();
            let _flag = SetOnDrop(d);
            rt::sleep(Duration::from_secs(60));
        });
        rt::yield_now(); // it takes the lock and parks
        h
    });
    let h = t.join().unwrap();
    assert!(dropped.load(Ordering::SeqCst), "its destructors ran when the thread ended");
    let locked = within(5, "the lock the green thread held", || m.lock().is_ok() || m.is_poisoned());
    assert!(locked);
    assert!(h.join().unwrap_err().is_killed(), "its joiner is told it was killed");
}

// ------------------------------------------------ 5. panics name the green thread

#[test]
fn an_unparkers_debug_names_its_green_thread_by_the_common_id() {
    let h = rt::spawn(|| format!("{:?}", rt::current().unparker()));
    let id = h.id();
    // The id format of panics, dump() and the monitor: `hub.seq`.
    assert_eq!(h.join().unwrap(), format!("Unparker {{ id: Id({id}) }}"));
}

#[test]
fn a_panic_in_a_green_thread_names_the_green_thread() {
    let out = child("named-panic", &[], Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("DONE"), "{stdout} {stderr}");
    let id_of =
        |tag: &str| stdout.lines().find_map(|l| l.strip_prefix(tag)).map(str::trim).expect("id line").to_string();
    let named = id_of("NAMED ");
    let unnamed = id_of("UNNAMED ");
    assert!(stderr.contains(&format!("thread 'worker-7' (green {named}) panicked at")), "{stderr}");
    assert!(stderr.contains(&format!("thread '<unnamed>' (green {unnamed}) panicked at")), "{stderr}");
    assert!(stderr.contains("boom-named") && stderr.contains("boom-unnamed"), "{stderr}");
    assert!(!stderr.contains("thread 'main' panicked"), "{stderr}");
    // A plain OS thread's panic is std's.
    assert!(stderr.contains("thread 'plain-os'") && stderr.contains("boom-os"), "{stderr}");
}

// ------------------------------------------------ 7. the blocking pool's size

#[test]
fn the_blocking_pool_size_comes_from_the_environment() {
    let out = child("pool-width", &[("GREENPATCH_THREADPOOL_SIZE", "100")], Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), "MAX 100", "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let out = child("pool-width", &[("GREENPATCH_THREADPOOL_SIZE", "16")], Duration::from_secs(30));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "MAX 16");
}

#[test]
fn an_invalid_blocking_pool_size_is_reported() {
    let out = child("pool-invalid", &[("GREENPATCH_THREADPOOL_SIZE", "lots")], Duration::from_secs(10));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("DONE"), "{stdout} {stderr}");
    assert!(stderr.contains("GREENPATCH_THREADPOOL_SIZE") && stderr.contains("lots"), "{stderr}");
}
