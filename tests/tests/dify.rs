//! The Dify scenario: a third-party driver (`greenpatch-kvdriver`) goes
//! green through its own plugin, after the builtin modules, without the
//! application knowing — and its calls then overlap.
//!
//! One test (patching is process-wide and one-way): a client made before
//! `patch_all()` is blocking; the plugin runs at `DidPatchBuiltinModules`
//! with `socket` already patched, rebuilds the client; 1,000 concurrent
//! calls against a server that answers each request after 50 ms take far
//! less than 1,000 × 50 ms.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::plugins::{subscribe, Event, EventKind};
use greenpatch::{thread, Flavor};
use greenpatch_kvdriver::{plugin_runs, server::Server, Client};

/// An event as the subscriber saw it: kind, module, when.
type Seen = (EventKind, Option<String>, Instant);

#[test]
fn the_driver_plugin_runs_after_the_builtins_and_its_calls_overlap() {
    const CALLS: u32 = 1_000;
    const DELAY: Duration = Duration::from_millis(50);
    let server = Server::start(DELAY).unwrap();

    // The application's mistake: a client made before patching.
    let client = Client::builder(server.addr()).max_connections(200).connect().unwrap();
    client.set("before", "patching").unwrap();
    let status = client.status();
    assert_eq!(status.connections, Some(Flavor::Blocking));
    assert_eq!(status.heartbeat, Some(Flavor::Blocking));
    assert!(plugin_runs().is_empty());

    // Record when each event reached the subscribers.
    let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let l = log.clone();
    let id = subscribe(move |e: &Event<'_>| {
        l.lock().unwrap().push((e.kind(), e.module().map(String::from), Instant::now()));
        Ok(())
    });
    let outcome = patch_all(PatchAll::default()).unwrap();
    id.unsubscribe();
    assert_eq!(outcome.modules(), ["time", "thread", "socket", "libc", "queue"]);

    // The plugin ran once, at DidPatchBuiltinModules, with every builtin
    // (sockets included) already patched, and rebuilt our client.
    let runs = plugin_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run.event, EventKind::DidPatchBuiltinModules);
    assert!(run.socket_patched);
    for m in ["time", "thread", "socket", "queue"] {
        assert!(run.patched_modules.contains(&m), "{m} not patched when the plugin ran: {:?}", run.patched_modules);
    }
    assert_eq!(run.clients_rebuilt, 1);
    let log = log.lock().unwrap();
    let at = |kind: EventKind, module: Option<&str>| {
        log.iter().find(|(k, m, _)| *k == kind && m.as_deref() == module).map(|(_, _, t)| *t).unwrap()
    };
    for m in ["time", "thread", "socket", "queue"] {
        assert!(at(EventKind::DidPatchModule, Some(m)) <= run.at, "the plugin ran before {m} was patched");
    }
    assert!(at(EventKind::DidPatchBuiltinModules, None) <= run.at);
    assert!(run.at <= at(EventKind::DidPatchAll, None));
    drop(log);
    assert_eq!(client.status().heartbeat, Some(Flavor::Green));

    // 1,000 concurrent calls from green threads.
    let client = Arc::new(client);
    let start = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let c = client.clone();
            thread::spawn(move || c.get(if i % 2 == 0 { "before" } else { "missing" }))
        })
        .collect();
    for (i, h) in calls.into_iter().enumerate() {
        let got = h.join().unwrap().unwrap();
        assert_eq!(got.as_deref(), if i % 2 == 0 { Some("patching") } else { None });
    }
    let took = start.elapsed();
    let serial = DELAY * CALLS;
    assert!(took < serial / 10, "1,000 calls of 50 ms took {took:?}: they did not overlap");
    println!("{CALLS} calls in {took:?} (serially {serial:?})");
    assert_eq!(client.status().connections, Some(Flavor::Green));
    assert!(server.connections() <= 1 + 200, "the pool bound holds");
}
