//! The Dify scenario in miniature, on the in-repo key-value driver: a
//! third-party driver made green by its own plugin, at the right moment,
//! without the application knowing (`examples/dify.rs` is the same story
//! on real servers).
//!
//! ```text
//! cargo run --release -p examples --example kvdriver
//! ```
//!
//! Dify (gevent + grpc + psycopg2) deadlocked because a driver was patched
//! before the standard library it relied on. Here the `greenpatch-kvdriver`
//! crate ships an `entry_point!` for `DidPatchBuiltinModules`: greenpatch
//! calls it after the builtin modules (`time`, `thread`, `fs`, `socket`, `libc`, `queue`) are green, and it
//! rebuilds the client's connection pool and heartbeat on green sockets
//! and threads. The application only calls `patch_all()`.
//!
//! 1. A local key-value server starts; every reply takes 50 ms.
//! 2. The application makes a client *before* patching (the classic
//!    mistake: blocking connections, an OS heartbeat thread).
//! 3. `patch_all()`, printing the events and the warnings.
//! 4. 1,000 concurrent green threads each make a driver call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use examples::{human, print_events};
use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::thread;
use greenpatch_kvdriver::{plugin_runs, server::Server, Client};

const CALLS: usize = 1_000;
const DELAY: Duration = Duration::from_millis(50);
const POOL: usize = 250;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1)
}

fn main() {
    examples::raise_open_file_limit();
    let server = Server::start(DELAY).unwrap_or_else(|e| fail("kv server", e));
    println!("[1] kv server on {} (every reply waits {})", server.addr(), human(DELAY));

    let client = Client::builder(server.addr()).max_connections(POOL).connect().unwrap_or_else(|e| fail("connect", e));
    println!("[2] client made before patch_all(): {:?}", client.status());

    println!("[3] patch_all():");
    let printer = print_events("      ");
    let outcome = patch_all(PatchAll::default()).unwrap_or_else(|e| fail("patch_all", e));
    printer.unsubscribe();
    for w in outcome.warnings() {
        println!("      warning: {w}");
    }
    for run in plugin_runs() {
        println!(
            "      kvdriver plugin ran at {}: socket patched = {}, patched then = {:?}, clients rebuilt = {}",
            run.event, run.socket_patched, run.patched_modules, run.clients_rebuilt
        );
        if run.clients_rebuilt > 0 {
            println!("      (it replaced the blocking pool and the OS heartbeat thread warned about above)");
        }
    }
    println!("    client now: {:?}", client.status());

    println!("[4] {CALLS} concurrent driver calls from green threads (pool of {POOL} connections)");
    client.set("greeting", "hello").unwrap_or_else(|e| fail("set", e));
    let client = Arc::new(client);
    let start = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let c = client.clone();
            thread::spawn(move || c.get(if i % 2 == 0 { "greeting" } else { "nobody" }))
        })
        .collect();
    let mut ok = 0;
    for (i, h) in calls.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(v)) if v.as_deref() == (i % 2 == 0).then_some("hello") => ok += 1,
            other => eprintln!("call {i}: {other:?}"),
        }
    }
    let took = start.elapsed();
    let serial = DELAY * CALLS as u32;
    println!(
        "    {ok}/{CALLS} calls in {} — one at a time they would take {} ({:.0}x overlap)",
        human(took),
        human(serial),
        serial.as_secs_f64() / took.as_secs_f64().max(1e-9)
    );
    println!("    server answered {} requests on {} connections", server.requests(), server.connections());
    if ok != CALLS {
        std::process::exit(1);
    }
}
