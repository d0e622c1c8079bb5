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
//! (the root thread, which every green thread runs on) and `OK` at the end;
//! `gp-child emfile-accept sleep|spin` runs a green accept loop out of
//! descriptors (see `faults.rs`), backing off or spinning on `EMFILE`, and
//! prints its CPU use while out of descriptors and its recovery time;
//! `gp-child netem-server ADDR` / `gp-child netem-client ADDR` are the two
//! ends of the network-fault run (checksummed echo, resets, timeouts);
//! `gp-child unwind-blocks` runs destructors that block while their green
//! thread unwinds (an expired scope, a kill, a panic): must not abort;
//! `gp-child coop-emfile` loops on `accept` failing with `EMFILE` while a
//! green thread would close descriptors (must recover);
//! `gp-child named-panic` panics in a named and an unnamed green thread;
//! `gp-child pool-width` counts how many blocking-pool jobs run at once;
//! `gp-child pool-invalid` uses the pool with an invalid size setting;
//! `gp-child coop-budget` prints the cooperative budget of its hub;
//! `gp-child facade-server` runs `greenpatch::server::StreamServer` before
//! `patch_all()` (OS threads) and after it (green threads on this thread),
//! and prints what each ran on (see `tests/stream_server.rs`);
//! `gp-child hub-emfile` makes a fresh OS thread's first green calls with
//! the process out of descriptors (its hub cannot be created): a facade
//! read, `Builder::spawn` and `Runtime` building must return the error,
//! `spawn` must panic with it, and the next thread, with descriptors back,
//! must work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;

/// A destructor that blocks (green) for its duration, then counts itself.
struct SleepyDrop(Duration, Arc<AtomicUsize>);

impl Drop for SleepyDrop {
    fn drop(&mut self) {
        rt::sleep(self.0);
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Blocks (green) while unwinding: an expired scope, a kill in a scope
/// that expires meanwhile, a kill during a panic, a scope that expires
/// during a panic.
fn unwind_blocks() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let r = rt::spawn(move || {
        rt::with_timeout(ms(20), || {
            let _d = SleepyDrop(ms(50), d);
            rt::sleep(Duration::from_secs(10));
        })
    })
    .join();
    println!("expired scope: {}", matches!(r, Ok(Err(_))));
    let d = drops.clone();
    let h = rt::spawn(move || {
        let _ = rt::with_timeout(ms(30), || {
            let _d = SleepyDrop(ms(100), d);
            rt::sleep(Duration::from_secs(10));
        });
    });
    rt::sleep(ms(10));
    h.kill();
    println!("kill in a scope: {}", h.join().is_err_and(|e| e.is_killed()));
    let d = drops.clone();
    let h = rt::spawn(move || {
        let _d = SleepyDrop(ms(100), d);
        rt::sleep(ms(10));
        panic!("boom during unwind test");
    });
    rt::sleep(ms(40));
    h.kill();
    println!("kill during a panic: {}", h.join().is_err_and(|e| e.is_panic()));
    let d = drops.clone();
    let h = rt::spawn(move || {
        let _ = rt::with_timeout(ms(20), || {
            let _d = SleepyDrop(ms(100), d);
            panic!("boom in a scope");
        });
    });
    println!("scope during a panic: {}", h.join().is_err_and(|e| e.is_panic()));
    // A scope opened inside a destructor during a kill still bounds it.
    let d = drops.clone();
    let h = rt::spawn(move || {
        struct Bounded(Arc<AtomicUsize>);
        impl Drop for Bounded {
            fn drop(&mut self) {
                if rt::with_timeout(ms(20), || rt::sleep(Duration::from_secs(10))).is_err() {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let _b = Bounded(d);
        rt::sleep(Duration::from_secs(10));
    });
    rt::sleep(ms(10));
    h.kill();
    println!("scope in a destructor: {}", h.join().is_err_and(|e| e.is_killed()));
    println!("DONE drops={}", drops.load(Ordering::SeqCst));
}

/// `accept` fails with `EMFILE` until a green thread closes descriptors.
fn coop_emfile() {
    rt::yield_now(); // the hub's descriptors first
    let l = rt::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    // Queued in the backlog: accepting it needs one more descriptor.
    let _client = std::net::TcpStream::connect(addr).expect("connect");
    let lim = libc::rlimit { rlim_cur: 64, rlim_max: libc::RLIM_INFINITY };
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with valid pointers to rlimit structs.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut old);
        let lim = libc::rlimit { rlim_max: old.rlim_max, ..lim };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0, "setrlimit");
    }
    let mut hogs = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hogs.push(f);
    }
    let closer = rt::spawn(move || {
        rt::sleep(ms(50));
        drop(hogs);
    });
    let start = Instant::now();
    let mut errors = 0u64;
    let accepted = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(_) => {
                errors += 1;
                continue;
            }
        }
    };
    drop(accepted);
    closer.join().expect("closer");
    println!("OK accepted after {} ms, {} failed accepts before", start.elapsed().as_millis(), errors.min(1));
}

/// How many blocking-pool jobs run at once (up to 100).
fn pool_width() {
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let (running, max) = (running.clone(), max.clone());
            rt::spawn_blocking(move || {
                let n = running.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                let t0 = Instant::now();
                while running.load(Ordering::SeqCst) < 100 && t0.elapsed() < Duration::from_secs(1) {
                    std::thread::sleep(ms(1));
                }
                // Stay counted until every job has seen the count.
                std::thread::sleep(ms(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().expect("job");
    }
    println!("MAX {}", max.load(Ordering::SeqCst));
}

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
            let polite = scenario == "monitor-polite";
            // The polite spinner yields every 100 µs, so any report would be
            // the monitor mistaking it for a hog; its threshold stays below
            // the 400 ms spin (a monitor that ignored yields would report)
            // but well above how long a loaded machine may deschedule the
            // hub's OS thread, which the monitor rightly counts as held.
            let threshold = Duration::from_millis(if polite { 250 } else { 50 });
            rt::monitor::enable(threshold).expect("monitor");
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
        "unwind-blocks" => unwind_blocks(),
        "coop-emfile" => coop_emfile(),
        "named-panic" => {
            let h = rt::Builder::new().name("worker-7".into()).spawn(|| -> () { panic!("boom-named") }).expect("spawn");
            println!("NAMED {}", h.id());
            let _ = h.join();
            let h = rt::spawn(|| -> () { panic!("boom-unnamed") });
            println!("UNNAMED {}", h.id());
            let _ = h.join();
            let _ = std::thread::Builder::new()
                .name("plain-os".into())
                .spawn(|| -> () { panic!("boom-os") })
                .map(|t| t.join());
            println!("DONE");
        }
        "pool-width" => pool_width(),
        "coop-budget" => println!("BUDGET {}", rt::coop::budget()),
        "pool-invalid" => {
            assert_eq!(rt::blocking::run(|| 1), 1);
            println!("DONE");
        }
        "libc-workload" => libc_workload(std::env::args().nth(2).as_deref() == Some("patched")),
        "emfile-accept" => emfile_accept(std::env::args().nth(2).as_deref() == Some("spin")),
        "netem-server" => netem_server(&std::env::args().nth(2).expect("address")),
        "netem-client" => netem_client(&std::env::args().nth(2).expect("address")),
        "facade-server" => facade_server(),
        "hub-emfile" => hub_emfile(),
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

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes the struct it is given; zeroed is a valid
    // initial value for it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// An accept loop under `RLIMIT_NOFILE` with every descriptor taken: it
/// fails with `EMFILE` while clients wait in the backlog. Prints `PORT`,
/// waits for `GO` on stdin (the parent's clients are connected), measures
/// its CPU use for 700 ms, then frees the descriptors; the loop must then
/// accept every client. Prints `EMFILE n CPU pct RECOVERY ms ACCEPTED n`.
fn emfile_accept(spin: bool) {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const CLIENTS: usize = 20;
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    let lim = libc::rlimit { rlim_cur: 256, rlim_max: 256 };
    // SAFETY: plain syscall on a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0, "setrlimit");
    let listener = greenpatch::socket::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // The hub (its epoll and eventfd descriptors) exists before the
    // descriptors run out.
    greenpatch::time::sleep(Duration::from_millis(1));
    // The parent says `GO` on stdin once its clients wait in the backlog.
    let go = Arc::new(greenpatch::thread::Event::new());
    let g = go.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        g.set();
    });
    // Take every descriptor left.
    let mut hog = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hog.push(f);
    }
    let accepted = Arc::new(AtomicUsize::new(0));
    let emfile = Arc::new(AtomicUsize::new(0));
    let (a, e) = (accepted.clone(), emfile.clone());
    let _server = greenpatch::thread::spawn(move || {
        let mut backoff = Duration::from_millis(5);
        loop {
            match listener.accept() {
                Ok((conn, _)) => {
                    backoff = Duration::from_millis(5);
                    a.fetch_add(1, Ordering::SeqCst);
                    drop(conn);
                }
                Err(err) => {
                    if err.raw_os_error() == Some(libc::EMFILE) {
                        e.fetch_add(1, Ordering::Relaxed);
                    }
                    if !spin {
                        greenpatch::time::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_millis(100));
                    }
                }
            }
        }
    });
    println!("PORT {port}");
    std::io::stdout().flush().expect("flush");
    if !go.wait_timeout(Duration::from_secs(10)) {
        println!("ERR no GO from the parent");
        std::process::exit(1);
    }
    // Every client waits in the backlog; measure while out of descriptors.
    let (c0, w0) = (cpu_time(), std::time::Instant::now());
    greenpatch::time::sleep(Duration::from_millis(700));
    let cpu = (cpu_time() - c0).as_secs_f64() / w0.elapsed().as_secs_f64() * 100.0;
    let freed = std::time::Instant::now();
    drop(hog);
    while accepted.load(Ordering::SeqCst) < CLIENTS && freed.elapsed() < Duration::from_secs(5) {
        greenpatch::time::sleep(Duration::from_millis(1));
    }
    println!(
        "EMFILE {} CPU {cpu:.1} RECOVERY {} ACCEPTED {}",
        emfile.load(Ordering::Relaxed),
        freed.elapsed().as_millis(),
        accepted.load(Ordering::SeqCst)
    );
    std::process::exit(0);
}

/// FNV-1a, the checksum of the network-fault run.
fn fnv(h: u64, data: &[u8]) -> u64 {
    data.iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A green echo server: each connection is echoed until EOF; one that
/// starts with `S` is read and never answered (for the client timeouts).
/// An error on one connection (a reset) ends only that connection.
fn netem_server(addr: &str) {
    use std::io::{Read, Write};
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    let l = greenpatch::socket::TcpListener::bind(addr).expect("bind");
    println!("READY");
    std::io::stdout().flush().expect("flush");
    loop {
        let Ok((mut c, _)) = l.accept() else { continue };
        greenpatch::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut silent = None;
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let s = *silent.get_or_insert(buf[0] == b'S');
                        if !s && c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Green clients against `netem_server` over the faulty link: 12 echo
/// clients check their data (FNV-1a of sent and received bytes), 4 reset
/// their connection mid-transfer (`SO_LINGER` 0), 4 wait on a silent
/// connection with a 300 ms read timeout. Prints `INTACT n RESETS n
/// TIMEOUTS n WORST_TIMEOUT_MS n` and exits 0 when every check held.
fn netem_client(addr: &str) {
    use greenpatch::socket::TcpStream;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    const LEN: usize = 64 * 1024;
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    let addr: std::net::SocketAddr = addr.parse().expect("address");
    let connect = move || TcpStream::connect_timeout(&addr, Duration::from_secs(10));
    let echo: Vec<_> = (0..12u64)
        .map(|i| {
            greenpatch::thread::spawn(move || -> Result<(), String> {
                let c = connect().map_err(|e| format!("connect: {e}"))?;
                let mut w = c.try_clone().map_err(|e| e.to_string())?;
                let data: Vec<u8> =
                    (0..LEN as u64).map(|k| (k.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8).collect();
                let sent = fnv(0xcbf2_9ce4_8422_2325, &data);
                let writer = greenpatch::thread::spawn(move || {
                    w.write_all(&data).map_err(|e| format!("write: {e}"))?;
                    w.shutdown(greenpatch::socket::Shutdown::Write).map_err(|e| format!("shutdown: {e}"))
                });
                let mut got = Vec::with_capacity(LEN);
                (&c).read_to_end(&mut got).map_err(|e| format!("read: {e}"))?;
                writer.join().map_err(|_| "writer panicked".to_string())??;
                let recv = fnv(0xcbf2_9ce4_8422_2325, &got);
                if got.len() != LEN || recv != sent {
                    return Err(format!("corrupted: {} bytes, checksum {recv:x} != {sent:x}", got.len()));
                }
                Ok(())
            })
        })
        .collect();
    let resets: Vec<_> = (0..4)
        .map(|_| {
            greenpatch::thread::spawn(move || -> Result<(), String> {
                let mut c = connect().map_err(|e| format!("connect: {e}"))?;
                c.write_all(&[b'x'; 4096]).map_err(|e| format!("write: {e}"))?;
                let linger = libc::linger { l_onoff: 1, l_linger: 0 };
                // SAFETY: setsockopt on an open socket with a valid linger.
                let rc = unsafe {
                    libc::setsockopt(
                        c.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&linger as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    )
                };
                if rc != 0 {
                    return Err("SO_LINGER".into());
                }
                drop(c); // closes with a reset
                Ok(())
            })
        })
        .collect();
    let timeouts: Vec<_> = (0..4)
        .map(|_| {
            greenpatch::thread::spawn(move || -> Result<Duration, String> {
                let mut c = connect().map_err(|e| format!("connect: {e}"))?;
                c.write_all(b"Silent, please").map_err(|e| format!("write: {e}"))?;
                c.set_read_timeout(Some(Duration::from_millis(300))).map_err(|e| e.to_string())?;
                let t = std::time::Instant::now();
                match c.read(&mut [0; 8]) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    other => return Err(format!("silent read gave {other:?}")),
                }
                let took = t.elapsed();
                if took < Duration::from_millis(300) || took > Duration::from_millis(2300) {
                    return Err(format!("timeout of 300 ms took {took:?}"));
                }
                Ok(took)
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut intact = 0;
    for h in echo {
        match h.join() {
            Ok(Ok(())) => intact += 1,
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("echo client panicked".into()),
        }
    }
    let mut reset = 0;
    for h in resets {
        match h.join() {
            Ok(Ok(())) => reset += 1,
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("reset client panicked".into()),
        }
    }
    let (mut timed, mut worst) = (0, Duration::ZERO);
    for h in timeouts {
        match h.join() {
            Ok(Ok(d)) => {
                timed += 1;
                worst = worst.max(d);
            }
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("timeout client panicked".into()),
        }
    }
    // The server survived the resets: one more echo works.
    let after = connect().and_then(|mut c| {
        c.write_all(b"after")?;
        c.shutdown(greenpatch::socket::Shutdown::Write)?;
        let mut v = Vec::new();
        c.read_to_end(&mut v)?;
        Ok(v)
    });
    if after.as_deref().ok() != Some(&b"after"[..]) {
        failures.push(format!("echo after the resets: {after:?}"));
    }
    println!("INTACT {intact} RESETS {reset} TIMEOUTS {timed} WORST_TIMEOUT_MS {}", worst.as_millis());
    for f in &failures {
        println!("FAIL {f}");
    }
    std::process::exit(i32::from(!failures.is_empty()));
}

/// `facade-server`: the facade `StreamServer` with 50 (unpatched) and 500
/// (patched) clients whose handlers each sleep 100 ms before echoing one
/// byte; prints the flavor, the distinct OS threads the handlers ran on and
/// the wall time of each run, then a `stop` with 20 connections left open.
fn facade_server() {
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::sync::Mutex;

    use greenpatch::server::StreamServer;
    use greenpatch::socket::{TcpListener, TcpStream};

    fn run(label: &str, clients: usize) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let t = threads.clone();
        let server = StreamServer::new(l, move |mut s: TcpStream, _| {
            t.lock().unwrap_or_else(|p| p.into_inner()).insert(std::thread::current().id());
            greenpatch::time::sleep(ms(100));
            let mut b = [0u8; 1];
            if s.read_exact(&mut b).is_ok() {
                let _ = s.write_all(&b);
            }
        })
        .pool(1000)
        .start();
        let start = Instant::now();
        let hs: Vec<_> = (0..clients)
            .map(|i| {
                greenpatch::thread::spawn(move || {
                    let mut c = TcpStream::connect(addr).expect("connect");
                    c.write_all(&[i as u8]).expect("write");
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).expect("read");
                    b[0] == i as u8
                })
            })
            .collect();
        let ok = hs.into_iter().map(|h| h.join().unwrap_or(false)).filter(|x| *x).count();
        let wall = start.elapsed();
        let flavor = server.flavor();
        let stopped = server.stop(Duration::from_secs(2));
        let main = std::thread::current().id();
        let threads = threads.lock().unwrap_or_else(|p| p.into_inner());
        println!(
            "{label} flavor={flavor} ok={ok} os_threads={} main_thread={} wall_ms={} killed={}",
            threads.len(),
            threads.contains(&main),
            wall.as_millis(),
            stopped.killed
        );
    }

    run("UNPATCHED", 50);
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    run("PATCHED", 500);
    // Patched, 20 connections left open to a handler that reads until its
    // peer leaves: stop kills them within its timeout.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let server = StreamServer::new(l, |mut s: TcpStream, _| {
        let _ = s.read_to_end(&mut Vec::new());
    })
    .start();
    let conns: Vec<_> = (0..20).map(|_| TcpStream::connect(addr).expect("connect")).collect();
    while server.active() < 20 {
        greenpatch::time::sleep(ms(1));
    }
    let t = Instant::now();
    let stopped = server.stop(Duration::from_millis(200));
    println!(
        "STOP killed={} still_running={} took_ms={}",
        stopped.killed,
        stopped.still_running,
        t.elapsed().as_millis()
    );
    drop(conns);
}

/// `hub-emfile`: see the module docs.
fn hub_emfile() {
    use std::io::Read;
    let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).expect("patch_all");
    let listener = greenpatch::socket::TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = greenpatch::socket::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (_server, _) = listener.accept().expect("accept");
    // Out of descriptors: a low limit, filled.
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with valid pointers to rlimit structs.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut old);
        let lim = libc::rlimit { rlim_cur: 64, rlim_max: old.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0, "setrlimit");
    }
    let mut hogs = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hogs.push(f);
    }
    let t = std::thread::spawn(move || {
        let mut client = client;
        // Nothing to read: the read must wait, which needs this thread's hub.
        let read = client.read(&mut [0u8; 8]);
        let built = rt::Builder::new().spawn(|| ()).map(drop);
        let spawned = std::panic::catch_unwind(|| rt::spawn(|| ()).join().is_ok());
        let spawned = match spawned {
            Ok(joined) => format!("returned (joined: {joined})"),
            Err(p) => p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        };
        (client, read, built, spawned)
    });
    let (client, read, built, spawned) = t.join().expect("the thread ended without a panic escaping");
    let runtime = rt::Runtime::builder().hubs(2).build().map(drop);
    drop(hogs);
    match read {
        Ok(n) => println!("READ OK {n}"),
        Err(e) => println!("READ ERR {e}"),
    }
    match built {
        Ok(()) => println!("BUILDER OK"),
        Err(e) => println!("BUILDER ERR {e}"),
    }
    println!("SPAWN PANIC {spawned}");
    match runtime {
        Ok(()) => println!("RUNTIME OK"),
        Err(e) => println!("RUNTIME ERR {e}"),
    }
    // Descriptors are back: a fresh thread gets its hub (nothing was kept
    // of the failed attempts), and the same socket waits as it should.
    let t = std::thread::spawn(move || {
        let mut client = client;
        client.set_read_timeout(Some(ms(50))).expect("timeout");
        let r = client.read(&mut [0u8; 8]);
        (r.map_err(|e| e.kind()), rt::spawn(|| 7).join().ok())
    });
    let (r, joined) = t.join().expect("the second thread");
    println!("RECOVERED read {r:?} spawn {joined:?}");
}
