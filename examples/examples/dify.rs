//! The Dify stack on real servers: a green HTTP API whose handler queries
//! PostgreSQL through libpq, reads and writes Redis through the `redis`
//! crate, and calls a gRPC service (Python's grpcio) through the
//! `greenpatch-grpc` driver plugin — none of those drivers written for
//! greenpatch.
//!
//! ```text
//! bash scripts/dify-stack.sh          # starts the three servers, runs this, stops them
//! ```
//!
//! The script sets `DIFY_POSTGRES` (a libpq connection string),
//! `DIFY_REDIS` (a `redis://` URL) and `DIFY_GRPC` (`http://host:port` of
//! the demo servicer); `DIFY_REQUESTS` (200) and `DIFY_DELAY_MS` (100)
//! size the run.
//!
//! 1. `patch_all()`, printing every event in delivery order; the driver
//!    plugins (the tokio bridge, then gRPC) run at `DidPatchBuiltinModules`,
//!    after every builtin module — the Dify fix — and this program's own
//!    entry point, ordered after them, shows it.
//! 2. The stack opens its pools (green, at once) and serves on a free port.
//! 3. One request alone: the time of one chain (PostgreSQL, Redis, gRPC,
//!    each ~`DIFY_DELAY_MS` in its server).
//! 4. `DIFY_REQUESTS` requests at once: about one chain's time, not the sum.

use std::time::Duration;

use examples::dify::{load, Backends, Stack};
use examples::{human, print_events};
use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::plugins::{entry_point, Event, PluginError};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1)
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| fail(name, format!("not a number: {v:?}"))),
        Err(_) => default,
    }
}

/// Runs at `DidPatchBuiltinModules`, after the driver plugins: shows that
/// they ran there, with every builtin module already green.
fn after_drivers(event: &Event<'_>) -> Result<(), PluginError> {
    if let Event::DidPatchBuiltinModules(_) = event {
        if let Some(info) = greenpatch_tokio::start_info() {
            println!(
                "      ↳ tokio-bridge plugin: started the shared tokio runtime ({} workers, {:?})",
                info.workers, info.by
            );
        }
        for run in greenpatch_grpc::plugin_runs() {
            println!(
                "      ↳ grpc plugin: ran at {} with {:?} green; bridge running: {}",
                run.event, run.patched_modules, run.bridge_started
            );
        }
    }
    Ok(())
}
entry_point!(did_patch, name = "dify-example", after = ["tokio-bridge", "grpc"], handler = after_drivers);

fn main() {
    examples::raise_open_file_limit();
    let backends = Backends::from_env().unwrap_or_else(|e| fail("backends", e));
    let n = u32::try_from(env_num("DIFY_REQUESTS", 200)).unwrap_or_else(|e| fail("DIFY_REQUESTS", e));
    let delay = Duration::from_millis(env_num("DIFY_DELAY_MS", 100));
    println!("[0] backends: postgres {:?}, redis {}, grpc {}", backends.postgres, backends.redis, backends.grpc);

    println!("[1] patch_all(), events in delivery order:");
    let printer = print_events("      ");
    let outcome = patch_all(PatchAll::default()).unwrap_or_else(|e| fail("patch_all", e));
    printer.unsubscribe();
    for w in outcome.warnings() {
        println!("      warning: {w}");
    }

    let stack = Stack::start(&backends, n as usize, delay).unwrap_or_else(|e| fail("start the stack", e));
    println!("[2] API on http://{} ({n} PostgreSQL sessions and Redis connections pooled)", stack.addr());

    let one = load(stack.addr(), 0, 1);
    let single = match (one.answers.first(), one.failures.first()) {
        (Some(a), _) => {
            println!("[3] one request alone: {}  ({a})", human(one.wall));
            one.wall
        }
        (None, Some(e)) => fail("one request", e),
        (None, None) => fail("one request", "no answer"),
    };

    let r = load(stack.addr(), 1, n);
    let serial = single * n;
    println!(
        "[4] {n} concurrent requests: {}/{n} answered in {} — one chain takes {}, {n} one after the other {} ({:.0}x overlap)",
        r.answers.len(),
        human(r.wall),
        human(single),
        human(serial),
        serial.as_secs_f64() / r.wall.as_secs_f64().max(1e-9)
    );
    let worst = |i: usize| r.answers.iter().map(|a| a.ms[i]).max().unwrap_or(0);
    println!("      slowest stage per backend: postgres {} ms, redis {} ms, grpc {} ms", worst(0), worst(1), worst(2));
    if let Some(a) = r.answers.first() {
        println!("      e.g. {a}");
    }
    for f in r.failures.iter().take(5) {
        eprintln!("      failed: {f}");
    }
    if !r.failures.is_empty() {
        std::process::exit(1);
    }
}
