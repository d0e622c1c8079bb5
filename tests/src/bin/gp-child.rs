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
//! `gp-child monitor-block-forever` parks the root with the monitor running;
//! `gp-child live N` keeps N green threads asleep at once, prints the memory
//! and mappings they cost, then wakes and joins them all;
//! `gp-child give-back N` runs a burst of N live green threads, joins them,
//! idles past two stack-trim intervals and prints the memory before, at the
//! peak and after;
//! `gp-child rlimit-as` spawns with a stack larger than what `RLIMIT_AS`
//! leaves, and prints the error;
//! `gp-child libc-workload patched|unpatched` runs unmodified std::net and C
//! socket code from green threads of the root thread (see
//! `tests/libc_strace.rs`, which runs it under strace): it prints `TID <n>`
//! (the root thread, which every green thread runs on) and `OK` at the end.

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

/// `(VmRSS, VmPTE)` of this process in KiB.
fn status_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmPTE:"))
}

/// Lines of /proc/self/maps: this process's kernel mappings.
fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0)
}

/// Spawns `n` green threads that each wait (in the timer heap, like a
/// sleep) until `wake` is set; returns once every one is waiting, with
/// their handles and the most mappings seen meanwhile.
fn spawn_sleepers(n: usize, wake: &std::sync::Arc<rt::sync::Event>) -> (Vec<rt::JoinHandle<bool>>, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let started = std::sync::Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(n);
    let mut peak_maps = maps();
    for i in 0..n {
        let (s, w) = (started.clone(), wake.clone());
        handles.push(rt::spawn(move || {
            s.fetch_add(1, Ordering::Relaxed);
            w.wait_timeout(Duration::from_secs(3600))
        }));
        if i % 10_000 == 0 {
            peak_maps = peak_maps.max(maps());
        }
    }
    while started.load(Ordering::Relaxed) < n {
        rt::yield_now();
    }
    (handles, peak_maps.max(maps()))
}

fn count_arg() -> usize {
    std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(200_000)
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    match scenario.as_str() {
        "overflow" | "overflow-patched" => {
            if scenario == "overflow-patched" {
                let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
            }
            eprintln!("stack guards: {:?}", rt::stats::stack_guard());
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
                        println!("ERR after {} green threads ({:?}): {e}", handles.len(), rt::stats::stack_guard());
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
        "live" => {
            let n = count_arg();
            rt::spawn(|| ()).join().expect("warm-up");
            let wake = std::sync::Arc::new(rt::sync::Event::new());
            let (rss0, pte0) = status_kib();
            let (handles, peak_maps) = spawn_sleepers(n, &wake);
            let (rss1, pte1) = status_kib();
            let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / n as f64;
            println!(
                "LIVE n={n} guard={:?} rss_kib={:.3} pte_kib={:.3} maps={peak_maps} arenas={} mapped={}",
                rt::stats::stack_guard(),
                per(rss0, rss1),
                per(pte0, pte1),
                rt::stats::stack_arenas(),
                rt::stats::mapped_stacks(),
            );
            wake.set();
            let woken = handles.into_iter().map(|h| h.join().expect("sleeper")).filter(|&w| w).count();
            println!("JOINED {woken}");
        }
        "give-back" => {
            let n = count_arg();
            rt::spawn(|| ()).join().expect("warm-up");
            // Let the warm-up stack go back too, so "before" is the floor.
            rt::sleep(Duration::from_millis(2_500));
            let (before, _) = status_kib();
            let arenas_before = rt::stats::stack_arenas();
            let wake = std::sync::Arc::new(rt::sync::Event::new());
            let (handles, _) = spawn_sleepers(n, &wake);
            let (peak, _) = status_kib();
            wake.set();
            for h in handles {
                h.join().expect("sleeper");
            }
            drop(wake);
            let (joined, _) = status_kib();
            // Two trim intervals (and a margin): hot stacks go back after
            // one to two.
            rt::sleep(Duration::from_millis(2_500));
            let (after, _) = status_kib();
            println!(
                "GIVE-BACK n={n} before_kib={before} peak_kib={peak} joined_kib={joined} after_kib={after} \
                 arenas_before={arenas_before} arenas_after={} mapped_after={} cached_after={}",
                rt::stats::stack_arenas(),
                rt::stats::mapped_stacks(),
                rt::stats::cached_stacks(),
            );
        }
        "rlimit-as" => {
            // Leave 64 MiB of address space above what the process uses.
            let vm_size: u64 = std::fs::read_to_string("/proc/self/status")
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmSize:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            let cap = (vm_size + 64 * 1024) * 1024;
            let lim = libc::rlimit { rlim_cur: cap, rlim_max: libc::RLIM_INFINITY };
            // SAFETY: lowers this (child) process's own soft limit.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
            match rt::Builder::new().stack_size(256 * 1024 * 1024).spawn(|| ()) {
                Err(e) => println!("ERR {:?} {e}", e.kind()),
                Ok(h) => {
                    h.join().expect("join");
                    println!("unexpected: a 256 MiB stack was mapped under RLIMIT_AS");
                }
            }
        }
        "libc-workload" => libc_workload(std::env::args().nth(2).as_deref() == Some("patched")),
        other => {
            eprintln!("unknown scenario '{other}'");
            std::process::exit(2);
        }
    }
}

/// Server delay of the `libc-workload` scenario: a socket call that blocked
/// its thread would take at least this long.
const LIBC_DELAY: Duration = Duration::from_millis(400);

/// Patched: a std::net echo server and its clients, all green on this OS
/// thread, the server sleeping with `std::thread::sleep` before each answer;
/// the tests' C client (connect, send, poll or select, recv) against the
/// same server; the C library's `nanosleep`. Every call goes through the
/// `libc` hooks and parks only its green thread.
///
/// Unpatched (the strace criterion's control): green clients on this
/// thread against a server on plain OS threads; every `recv` blocks the
/// thread for the server's delay.
fn libc_workload(patched: bool) {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use tests::cnet;

    // SAFETY: gettid has no preconditions.
    println!("TID {}", unsafe { libc::gettid() });
    let client = |addr: SocketAddr, i: usize| {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(format!("m{i}").as_bytes()).expect("write");
        let mut r = String::new();
        s.read_to_string(&mut r).expect("read");
        assert_eq!(r, format!("echo:m{i}"));
    };
    if !patched {
        let server = tests::servers::SlowEcho::start(LIBC_DELAY);
        let addr = server.addr();
        let hs: Vec<_> = (0..3).map(|i| rt::spawn(move || client(addr, i))).collect();
        hs.into_iter().for_each(|h| h.join().expect("client"));
        println!("OK");
        return;
    }
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    assert!(greenpatch::monkey::is_module_patched("libc"), "the default patch_all patches libc");
    const STD_CLIENTS: usize = 6;
    const C_CLIENTS: usize = 4;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = rt::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..STD_CLIENTS + C_CLIENTS {
            let (mut s, _) = listener.accept().expect("accept");
            conns.push(rt::spawn(move || {
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).expect("server read");
                std::thread::sleep(LIBC_DELAY);
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                s.write_all(&reply).expect("server write");
            }));
        }
        conns.into_iter().for_each(|c| c.join().expect("handler"));
    });
    let mut hs: Vec<rt::JoinHandle<()>> = (0..STD_CLIENTS).map(|i| rt::spawn(move || client(addr, i))).collect();
    let SocketAddr::V4(a4) = addr else { unreachable!("bound to IPv4 loopback") };
    for i in 0..C_CLIENTS {
        let wait = if i % 2 == 0 { cnet::Wait::Poll } else { cnet::Wait::Select };
        let h = rt::Builder::new().stack_size(tests::green::C_STACK).spawn(move || {
            let r = cnet::request(a4, &format!("c{i}"), Duration::from_secs(10), wait).expect("C request");
            assert_eq!(r, format!("echo:c{i}"));
        });
        hs.push(h.expect("spawn"));
        hs.push(rt::spawn(|| cnet::sleep_ms(LIBC_DELAY.as_millis() as u32).expect("C nanosleep")));
    }
    hs.into_iter().for_each(|h| h.join().expect("client"));
    server.join().expect("server");
    println!("OK");
}
