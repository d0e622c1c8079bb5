//! The Dify stack on real servers (`examples::dify`): a green HTTP API
//! whose handler, per request, queries PostgreSQL through libpq, reads and
//! writes Redis through the `redis` crate and calls a grpcio service
//! through the gRPC driver plugin, each backend taking ~100 ms.
//!
//! 200 requests at once must finish in about one request's chain, not in
//! 200 of them; every answer must carry what each backend returned for its
//! own request; and the driver plugins must have run at
//! `DidPatchBuiltinModules`, after every builtin module was green.
//!
//! Servers: Debian's PostgreSQL and `redis-server` (`tests::servers`) and
//! the demo servicer on Python's grpcio (`greenpatch_grpc::demo`). Missing
//! programs fail under `CI=true` and skip with a message elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use examples::dify::{load, Backends, Stack};
use greenpatch::monkey::{patch_all, PatchAll, BUILTIN_MODULES, OPT_IN_BUILTINS};
use greenpatch::plugins::{entry_point, subscribe, Event, EventKind, PluginError};
use greenpatch_grpc::demo::Servicer;
use tests::servers::{self, Postgres, Redis};

const REQUESTS: u32 = 200;
const DELAY: Duration = Duration::from_millis(100);

/// How many grpc plugin runs the test's own entry point, ordered after the
/// drivers, saw at `DidPatchBuiltinModules` (`usize::MAX`: it never ran).
static GRPC_RUNS_SEEN: AtomicUsize = AtomicUsize::new(usize::MAX);

fn after_drivers(event: &Event<'_>) -> Result<(), PluginError> {
    if let Event::DidPatchBuiltinModules(_) = event {
        GRPC_RUNS_SEEN.store(greenpatch_grpc::plugin_runs().len(), Ordering::SeqCst);
    }
    Ok(())
}
entry_point!(did_patch, name = "dify-stack-test", after = ["tokio-bridge", "grpc"], handler = after_drivers);

/// Aborts the binary if the test still runs after `limit` (a driver that
/// blocked its hub would otherwise hang it).
fn watchdog(limit: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("the Dify stack is still running after {limit:?}: a driver blocked its hub; aborting");
            std::process::abort();
        }
    });
    tx
}

#[test]
fn two_hundred_requests_through_postgres_redis_and_grpc_take_about_one_chain() {
    let _w = watchdog(Duration::from_secs(240));
    // The servers start before patching (plain child processes).
    let Some(pg) = Postgres::start_with_max_connections(REQUESTS + 40) else { return };
    let Some(redis) = Redis::start() else { return };
    let grpc = match Servicer::start() {
        Ok(s) => s,
        Err(e) => {
            let _: Option<()> = servers::missing(&format!("the grpcio servicer: {e}"));
            return;
        }
    };

    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let recorder = subscribe(move |e: &Event<'_>| {
        ev.lock().unwrap().push(e.to_string());
        Ok(())
    });
    let _ = patch_all(PatchAll::default()).expect("patch_all");
    recorder.unsubscribe();

    // The event order: every builtin module, then DidPatchBuiltinModules.
    let events = events.lock().unwrap().clone();
    let at = |name: &str| events.iter().position(|e| e == name).unwrap_or_else(|| panic!("no {name} in {events:?}"));
    let builtins_done = at("DidPatchBuiltinModules");
    for m in BUILTIN_MODULES.into_iter().filter(|m| !OPT_IN_BUILTINS.contains(m)) {
        assert!(at(&format!("DidPatchModule({m})")) < builtins_done, "{m} before DidPatchBuiltinModules: {events:?}");
    }
    assert!(builtins_done < at("DidPatchAll"));
    // The drivers ran at DidPatchBuiltinModules, with the builtins green,
    // before entry points ordered after them.
    let bridge = greenpatch_tokio::start_info().expect("the bridge started");
    assert_eq!(bridge.by, greenpatch_tokio::StartedBy::Event(EventKind::DidPatchBuiltinModules));
    let runs = greenpatch_grpc::plugin_runs();
    assert_eq!(runs.len(), 1);
    for m in BUILTIN_MODULES.into_iter().filter(|m| !OPT_IN_BUILTINS.contains(m)) {
        assert!(
            runs[0].patched_modules.contains(&m),
            "{m} green when the grpc plugin ran: {:?}",
            runs[0].patched_modules
        );
    }
    assert_eq!(GRPC_RUNS_SEEN.load(Ordering::SeqCst), 1, "the grpc plugin ran before the entry point ordered after it");

    let backends = Backends { postgres: pg.conninfo(), redis: redis.url(), grpc: grpc.uri() };
    let stack = Stack::start(&backends, REQUESTS as usize, DELAY).expect("the stack starts");

    let one = load(stack.addr(), 0, 1);
    assert!(one.failures.is_empty(), "{:?}", one.failures);
    let chain = one.wall;
    assert!(chain >= DELAY * 3, "one chain spends ~{DELAY:?} in each of 3 backends: {chain:?}");

    let r = load(stack.addr(), 1, REQUESTS);
    let serial = chain * REQUESTS;
    eprintln!(
        "dify stack: one chain {chain:?}; {REQUESTS} concurrent requests {:?} (serial would be {serial:?}, {:.0}x overlap)",
        r.wall,
        serial.as_secs_f64() / r.wall.as_secs_f64()
    );
    assert!(r.failures.is_empty(), "{} failed, e.g. {:?}", r.failures.len(), &r.failures[..r.failures.len().min(3)]);
    assert_eq!(r.answers.len(), REQUESTS as usize);
    for a in &r.answers {
        for (i, ms) in a.ms.iter().enumerate() {
            assert!(*ms >= 90, "request {} spent {ms} ms in backend {i}, not ~{DELAY:?}: {a}", a.id);
        }
    }
    // About one chain, not 200 of them (60 s): a generous bound for a busy
    // 2-core machine, still 10x below the serial time.
    let bound = Duration::from_secs(6).max(chain * 4);
    assert!(r.wall < bound, "{REQUESTS} requests took {:?}, not under {bound:?} (one chain: {chain:?})", r.wall);
}
