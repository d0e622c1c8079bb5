//! The README's main job: one facade-based workload, run twice in one
//! process — first unpatched (OS threads, blocking sockets), then after
//! `patch_all()` (green threads) with thousands of concurrent clients.
//!
//! ```text
//! cargo run --release -p examples --example demo [UNPATCHED_CLIENTS] [PATCHED_CLIENTS]
//! ```
//!
//! Each client makes 10 round trips of 64 bytes over loopback TCP; the
//! server waits 10 ms before each echo (a stand-in for real work). The
//! code of the workload (`examples/src/echo.rs`) only uses
//! `greenpatch::{socket, thread, time}`; it never mentions green threads.
//!
//! Beside it, code nobody here wrote: the `ureq` crate (a blocking HTTP
//! client on `std::net`) from [`HTTP_CLIENTS`] green threads, each making
//! one request to a local server that waits [`HTTP_DELAY`] per request.
//! Before `patch_all()` each call blocks the whole OS thread, so the green
//! threads take their turns; after it the `libc` patch module makes the
//! same calls park only their green thread, and they overlap.
//!
//! A last part shows the pitfall green threads keep: one that computes
//! starves the others, and the blocking monitor says which one and where.

use std::time::{Duration, Instant};

use examples::echo::{self, Config, Report};
use examples::slow_http::SlowHttp;
use examples::{human, print_events, raise_open_file_limit, thousands};
use greenpatch::monkey::{patch_all, PatchAll, Patched};

const REQUESTS: usize = 10;
const LATENCY: Duration = Duration::from_millis(10);
/// Green threads that each make one request with the unmodified `ureq` crate.
const HTTP_CLIENTS: usize = 10;
/// The HTTP server's wait per request.
const HTTP_DELAY: Duration = Duration::from_millis(150);

/// `HTTP_CLIENTS` green threads on this OS thread, each one `ureq` GET
/// (the crate as published: it calls `std::net`, which calls the C
/// library). Returns the wall time; checks every body.
fn unmodified_http() -> Result<Duration, String> {
    let server = SlowHttp::start(HTTP_DELAY).map_err(|e| format!("HTTP server: {e}"))?;
    let base = format!("http://{}", server.addr());
    let start = Instant::now();
    let handles: Vec<_> = (0..HTTP_CLIENTS)
        .map(|i| {
            let url = format!("{base}/page/{i}");
            greenpatch_runtime::spawn(move || -> Result<String, String> {
                let mut resp = ureq::get(&url).call().map_err(|e| e.to_string())?;
                resp.body_mut().read_to_string().map_err(|e| e.to_string())
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let body = h.join().map_err(|e| e.to_string())??;
        if body != format!("hello /page/{i}") {
            return Err(format!("client {i} got {body:?}"));
        }
    }
    Ok(start.elapsed())
}

fn describe_http(label: &str, wall: Duration) {
    println!(
        "    {label}: unmodified ureq, {HTTP_CLIENTS} green threads x 1 request ({} at the server) = {}  ({:.1}x one request)",
        human(HTTP_DELAY),
        human(wall),
        wall.as_secs_f64() / HTTP_DELAY.as_secs_f64()
    );
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn describe(label: &str, r: &Report) {
    println!(
        "    {label}: {} clients x {} requests = {} requests in {}  ({} req/s, mean round trip {}, {} OS thread{}, {} sockets)",
        thousands(r.config.clients as u64),
        r.config.requests,
        thousands(r.requests),
        human(r.wall),
        thousands(r.per_second() as u64),
        human(r.mean_round_trip),
        thousands(r.os_threads as u64),
        if r.os_threads == 1 { "" } else { "s" },
        r.flavor,
    );
}

/// Runs a 300 ms computation beside a 10 ms ticker, with the blocking
/// monitor at 50 ms, and prints the ticker's longest gap and the reports.
fn starvation(polite: bool) {
    use greenpatch::thread;
    if let Err(e) = greenpatch::monitor::enable(Duration::from_millis(50)) {
        println!("    (monitor unavailable: {e})");
    }
    let ticker = thread::spawn(|| {
        let (start, mut last, mut worst) = (Instant::now(), Instant::now(), Duration::ZERO);
        while start.elapsed() < Duration::from_millis(400) {
            thread::sleep(Duration::from_millis(10));
            worst = worst.max(last.elapsed());
            last = Instant::now();
        }
        worst
    });
    thread::sleep(Duration::from_millis(30));
    let worker = thread::spawn(move || {
        let (start, mut last, mut x) = (Instant::now(), Instant::now(), 0u64);
        while start.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            if polite && last.elapsed() >= Duration::from_millis(1) {
                thread::yield_now();
                last = Instant::now();
            }
        }
    });
    let _ = worker.join();
    let worst = ticker.join().unwrap_or_default();
    greenpatch::monitor::disable();
    let reports = greenpatch::monitor::take_reports();
    println!("    the ticker's longest gap: {} (it asked for 10 ms)", human(worst));
    if reports.is_empty() {
        println!("    monitor: nothing to report");
    }
    for r in reports {
        println!(
            "    monitor: green thread {} (spawned at {}) held the hub for {} or more",
            r.green_thread,
            r.spawn_site,
            human(r.held_for)
        );
    }
}

fn main() {
    let started = Instant::now();
    let fd_limit = raise_open_file_limit();
    // Each patched client needs two descriptors (its end and the server's).
    let room = usize::try_from(fd_limit.saturating_sub(200) / 2).unwrap_or(usize::MAX);
    let unpatched_clients = arg(1, 200);
    let mut patched_clients = arg(2, 5_000);
    if patched_clients > room {
        println!("(open-file limit {fd_limit}: using {room} green clients instead of {patched_clients})");
        patched_clients = room;
    }

    println!("greenpatch demo — the same facade code and an unmodified crate, blocking and then green");
    println!();
    println!("[1] before patch_all(): OS threads and blocking sockets; ureq blocks its OS thread");
    let unpatched = match echo::run(Config { clients: unpatched_clients, requests: REQUESTS, latency: LATENCY }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("unpatched run failed: {e}");
            std::process::exit(1);
        }
    };
    describe("unpatched", &unpatched);
    let http_before = unmodified_http().unwrap_or_else(|e| {
        eprintln!("unpatched HTTP run failed: {e}");
        std::process::exit(1);
    });
    describe_http("unpatched", http_before);

    println!();
    println!("[2] patch_all(): the events, in delivery order");
    let printer = print_events("    ");
    let outcome = patch_all(PatchAll::default());
    printer.unsubscribe();
    match &outcome {
        Ok(Patched::Patched { modules, warnings, .. }) => {
            println!("    patched: {}", modules.join(", "));
            for w in warnings {
                println!("    warning: {w}");
            }
        }
        Ok(other) => println!("    {other:?}"),
        Err(e) => {
            eprintln!("patch_all failed: {e}");
            std::process::exit(1);
        }
    }

    println!();
    println!("[3] after patch_all(): green threads, one OS thread; ureq parks only its green thread");
    let patched = match echo::run(Config { clients: patched_clients, requests: REQUESTS, latency: LATENCY }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("patched run failed: {e}");
            std::process::exit(1);
        }
    };
    describe("patched  ", &patched);
    let http_after = unmodified_http().unwrap_or_else(|e| {
        eprintln!("patched HTTP run failed: {e}");
        std::process::exit(1);
    });
    describe_http("patched  ", http_after);

    println!();
    println!("[4] a green thread that computes for 300 ms, beside one that ticks every 10 ms");
    starvation(false);
    println!("    the same computation calling thread::yield_now() every millisecond:");
    starvation(true);

    println!();
    println!("report");
    println!(
        "    {:<10} {:>8} {:>10} {:>10} {:>12} {:>10} {:>11}",
        "", "clients", "requests", "wall", "req/s", "round trip", "OS threads"
    );
    for (label, r) in [("unpatched", &unpatched), ("patched", &patched)] {
        println!(
            "    {:<10} {:>8} {:>10} {:>10} {:>12} {:>10} {:>11}",
            label,
            thousands(r.config.clients as u64),
            thousands(r.requests),
            human(r.wall),
            thousands(r.per_second() as u64),
            human(r.mean_round_trip),
            r.os_threads,
        );
    }
    println!(
        "    after patch_all(): {:.0}x the concurrent clients, {:.1}x the throughput, on {} OS thread(s) instead of {}",
        patched.config.clients as f64 / unpatched.config.clients.max(1) as f64,
        patched.per_second() / unpatched.per_second().max(1e-9),
        patched.os_threads,
        unpatched.os_threads,
    );
    println!(
        "    unmodified ureq from {HTTP_CLIENTS} green threads: {} before patch_all(), {} after ({:.1}x faster: \
         the `libc` patch module)",
        human(http_before),
        human(http_after),
        http_before.as_secs_f64() / http_after.as_secs_f64().max(1e-9)
    );
    println!("    (each request waits {} at the server; total run time {})", human(LATENCY), human(started.elapsed()));
}
