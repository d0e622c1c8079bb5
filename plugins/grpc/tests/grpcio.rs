//! The gRPC plugin against a server nobody here wrote: Python's grpcio
//! (the demo servicer, started per test on a free loopback port).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::plugins::EventKind;
use greenpatch::{thread, time, Flavor};
use greenpatch_grpc::demo::{Reply, Req, Servicer, COUNT, ECHO, FAIL};
use greenpatch_grpc::{plugin_runs, Client, Error};
use tonic::Code;

fn patched() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = patch_all(PatchAll::default()).expect("patch_all");
    });
}

fn servicer() -> Servicer {
    Servicer::start().expect("the grpcio servicer starts (pip install grpcio)")
}

/// Fails the test instead of hanging when `f` is still blocked after `secs`.
fn within<T>(secs: u64, what: &str, f: impl FnOnce() -> T) -> T {
    time::with_timeout(Duration::from_secs(secs), f).unwrap_or_else(|_| panic!("{what}: still blocked after {secs} s"))
}

fn req(text: &str, delay_ms: u32, count: u32) -> Req {
    Req { text: text.into(), delay_ms, count }
}

#[test]
fn the_plugin_runs_at_did_patch_builtin_modules_after_the_bridge() {
    patched();
    let runs = plugin_runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.event, EventKind::DidPatchBuiltinModules);
    assert!(run.threads_green);
    for m in ["time", "thread", "socket", "queue"] {
        assert!(run.patched_modules.contains(&m), "{m} green before the plugin ran: {:?}", run.patched_modules);
    }
    assert!(run.bridge_started);
    let bridge = greenpatch_tokio::start_info().unwrap();
    assert!(bridge.at <= run.at, "the bridge's entry point runs first");
}

#[test]
fn unary_calls_from_two_hundred_green_threads_overlap() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..200)
        .map(|i| {
            let c = client.clone();
            thread::spawn(move || {
                let r: Reply = c.unary(ECHO, req(&format!("n{i}"), 100, 0), Some(Duration::from_secs(20))).unwrap();
                assert_eq!(r.text, format!("n{i}"));
            })
        })
        .collect();
    assert!(hs.iter().all(|h| h.flavor() == Flavor::Green));
    within(30, "200 unary calls", || hs.into_iter().for_each(|h| h.join().unwrap()));
    // One after the other: 20 s.
    let took = start.elapsed();
    assert!(took < Duration::from_secs(6), "200 × 100 ms calls took {took:?}");
}

#[test]
fn the_hub_runs_other_green_threads_during_a_call() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, st) = (ticks.clone(), stop.clone());
    let ticker = thread::spawn(move || {
        while !st.load(Ordering::Relaxed) {
            time::sleep(Duration::from_millis(10));
            t.fetch_add(1, Ordering::Relaxed);
        }
    });
    let call = thread::spawn(move || client.unary::<_, Reply>(ECHO, req("slow", 300, 0), None).unwrap());
    assert_eq!(call.join().unwrap().text, "slow");
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    assert!(ticks.load(Ordering::Relaxed) >= 5, "ticks: {}", ticks.load(Ordering::Relaxed));
}

#[test]
fn server_streaming_delivers_every_message_in_order() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let h = thread::spawn(move || {
        client.server_streaming::<_, Reply>(COUNT, req("item", 10, 5), None).unwrap().collect::<Result<Vec<_>, _>>()
    });
    let replies = within(20, "stream", || h.join().unwrap()).unwrap();
    let texts: Vec<_> = replies.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["item 0", "item 1", "item 2", "item 3", "item 4"]);
    assert_eq!(replies.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_server_status_is_a_typed_error() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let e = client.unary::<_, Reply>(FAIL, req("bad input", 0, 0), None).unwrap_err();
    assert_eq!(e.code(), Some(Code::InvalidArgument));
    match e {
        Error::Status(st) => assert_eq!(st.message(), "bad input"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_deadline_ends_a_slow_unary_call() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let h = thread::spawn(move || {
        let start = Instant::now();
        let r = client.unary::<_, Reply>(ECHO, req("late", 3000, 0), Some(Duration::from_millis(200)));
        (r, start.elapsed())
    });
    let (r, took) = within(20, "deadline", || h.join().unwrap());
    assert_eq!(r.unwrap_err().code(), Some(Code::DeadlineExceeded));
    assert!(took < Duration::from_millis(2000), "took {took:?}");
}

#[test]
fn a_deadline_bounds_a_whole_stream() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let h = thread::spawn(move || {
        let start = Instant::now();
        let items: Vec<_> = client
            .server_streaming::<_, Reply>(COUNT, req("t", 100, 100), Some(Duration::from_millis(350)))
            .unwrap()
            .collect();
        (items, start.elapsed())
    });
    let (items, took) = within(20, "stream deadline", || h.join().unwrap());
    let (ok, err): (Vec<_>, Vec<_>) = items.into_iter().partition(|r| r.is_ok());
    assert!(!ok.is_empty() && ok.len() < 10, "{} messages before the deadline", ok.len());
    assert_eq!(err.len(), 1, "one error ends the stream");
    assert_eq!(err[0].as_ref().unwrap_err().code(), Some(Code::DeadlineExceeded));
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn a_server_killed_mid_stream_is_an_error_not_a_hang() {
    patched();
    let mut s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let (tx, rx) = greenpatch::queue::channel::<()>();
    let h = thread::spawn(move || {
        let mut stream = client.server_streaming::<_, Reply>(COUNT, req("k", 50, 1000), None).unwrap();
        for _ in 0..3 {
            stream.next().unwrap().unwrap();
        }
        tx.send(()).unwrap();
        let rest: Vec<_> = stream.collect();
        (rest, client)
    });
    rx.recv().unwrap();
    s.kill();
    let (rest, client) = within(20, "killed server", || h.join().unwrap());
    let last = rest.last().expect("the stream ends with an error");
    let code = last.as_ref().unwrap_err().code();
    assert!(matches!(code, Some(Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled)), "{last:?}");
    assert!(rest.len() < 100, "the stream stopped: {} more messages", rest.len());
    // And a new call on the dead connection fails too, at once.
    let e = within(20, "call to a dead server", || client.unary::<_, Reply>(ECHO, req("x", 0, 0), None)).unwrap_err();
    assert!(matches!(e.code(), Some(Code::Unavailable | Code::Unknown)), "{e:?}");
}

#[test]
fn connecting_to_nothing_is_a_connect_error() {
    patched();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = within(20, "connect", || Client::connect(&format!("http://127.0.0.1:{port}"))).unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    assert!(matches!(Client::connect("not a uri"), Err(Error::InvalidUri(_))));
}

#[test]
fn a_kill_of_the_caller_cancels_the_call() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let c = client.clone();
    let h = greenpatch_runtime::spawn_local(move || c.unary::<_, Reply>(ECHO, req("never", 60_000, 0), None));
    time::sleep(Duration::from_millis(100));
    h.kill();
    assert!(within(10, "killed caller", || h.join()).is_err());
    // The connection still serves other calls.
    let r: Reply = within(20, "after the kill", || client.unary(ECHO, req("ok", 0, 0), None)).unwrap();
    assert_eq!(r.text, "ok");
}

#[test]
fn a_stream_dropped_early_leaves_the_connection_usable() {
    patched();
    let s = servicer();
    let client = Client::connect(&s.uri()).unwrap();
    let c = client.clone();
    let first = thread::spawn(move || {
        let mut stream = c.server_streaming::<_, Reply>(COUNT, req("d", 20, 1000), None).unwrap();
        let first = stream.next().unwrap().unwrap();
        drop(stream); // the rest of the 1,000 is never read
        first.text
    });
    assert_eq!(within(20, "first message", || first.join().unwrap()), "d 0");
    let r: Reply = within(20, "after the drop", || client.unary(ECHO, req("still", 0, 0), None)).unwrap();
    assert_eq!(r.text, "still");
}
