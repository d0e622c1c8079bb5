//! Conformance with gevent's monkey-patching behaviour (after gevent's
//! `test__monkey.py` and `test__monkey_queue.py`), through greenpatch's
//! real facades:
//!
//! - the originals are std's functions and never change, whatever is
//!   patched;
//! - every item of every builtin module reports patched;
//! - the exact event sequence, with one module vetoed by a subscriber, and
//!   a later call that patches only what is missing;
//! - a second call warns when its options differ and delivers no event;
//! - plugins (entry points) run after the subscribers and after the
//!   builtin modules are patched;
//! - gevent's queues keep their order and `Empty`/`Full`/`task_done`
//!   semantics when patched (and match the blocking flavor).
//!
//! Patching is process-wide and one-way: `init` makes the first two patch
//! calls once, recording what the tests then check.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use greenpatch::monkey::{
    get_original, is_module_patched, is_object_patched, module, patch_all, patched_modules, PatchAll, Patched, Slot,
    Warning, BUILTIN_MODULES,
};
use greenpatch::plugins::{entry_point, subscribe, Event, PluginError};
use greenpatch::queue::{Empty, GenericQueue, Kind, LifoQueue, PriorityQueue, Queue, TaskDoneError};
use greenpatch::socket::{SocketAddr, TcpListener, TcpStream};
use greenpatch::thread::{self, Builder};
use greenpatch::time::WithTimeoutFn;
use greenpatch::Flavor;

// ------------------------------------------------------- a third-party module

fn db_connect() -> u32 {
    0
}
fn green_db_connect() -> u32 {
    1
}
static DB_CONNECT: Slot<fn() -> u32> = Slot::new("connect", db_connect, green_db_connect);
greenpatch::patchable_module!(name = "conformance-db", items = [DB_CONNECT]);

// ------------------------------------------------------------ the recordings

/// Events seen by the test's subscriber, in order.
static SUBSCRIBER_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What the entry point saw: (event, how many events the subscriber had
/// seen at that moment, modules patched at that moment).
static PLUGIN_LOG: Mutex<Vec<(String, usize, Vec<&'static str>)>> = Mutex::new(Vec::new());

fn plugin(event: &Event<'_>) -> Result<(), PluginError> {
    let seen = SUBSCRIBER_LOG.lock().unwrap().len();
    PLUGIN_LOG.lock().unwrap().push((event.to_string(), seen, patched_modules()));
    Ok(())
}
entry_point!(did_patch, name = "conformance-plugin", handler = plugin);

/// The originals' addresses, as seen at some moment.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Originals(Vec<(&'static str, usize)>);

fn originals() -> Originals {
    let f = |name, p: Option<usize>| (name, p.expect("original present"));
    Originals(vec![
        f("time.sleep", get_original::<fn(Duration)>("time", "sleep").map(|f| f as usize)),
        f("time.with_timeout", get_original::<WithTimeoutFn>("time", "with_timeout").map(|f| f as usize)),
        f("thread.sleep", get_original::<fn(Duration)>("thread", "sleep").map(|f| f as usize)),
        f("thread.yield_now", get_original::<fn()>("thread", "yield_now").map(|f| f as usize)),
        f("thread.park", get_original::<fn()>("thread", "park").map(|f| f as usize)),
        f("thread.park_timeout", get_original::<fn(Duration)>("thread", "park_timeout").map(|f| f as usize)),
        f("thread.current", get_original::<fn() -> thread::Thread>("thread", "current").map(|f| f as usize)),
        f("thread.spawn", get_original::<fn() -> Flavor>("thread", "spawn").map(|f| f as usize)),
        f("thread.Mutex", get_original::<fn() -> Flavor>("thread", "Mutex").map(|f| f as usize)),
        f(
            "socket.TcpStream",
            get_original::<fn(&SocketAddr) -> io::Result<TcpStream>>("socket", "TcpStream").map(|f| f as usize),
        ),
        f(
            "socket.TcpListener",
            get_original::<fn(&SocketAddr) -> io::Result<TcpListener>>("socket", "TcpListener").map(|f| f as usize),
        ),
        f(
            "socket.lookup_host",
            get_original::<greenpatch::socket::LookupFn>("socket", "lookup_host").map(|f| f as usize),
        ),
        f("queue.Queue", get_original::<fn() -> Flavor>("queue", "Queue").map(|f| f as usize)),
        f("queue.channel", get_original::<fn() -> Flavor>("queue", "channel").map(|f| f as usize)),
    ])
}

struct Init {
    before: Originals,
    after_first: Originals,
    after_second: Originals,
    first: Patched,
    first_events: Vec<String>,
    thread_patched_after_first: bool,
    spawn_flavor_after_first: Flavor,
    second: Patched,
    second_events: Vec<String>,
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *SUBSCRIBER_LOG.lock().unwrap())
}

/// The first patch calls of the process, once.
fn init() -> &'static Init {
    static INIT: OnceLock<Init> = OnceLock::new();
    INIT.get_or_init(|| {
        let before = originals();
        let id = subscribe(|event: &Event<'_>| {
            SUBSCRIBER_LOG.lock().unwrap().push(event.to_string());
            match event {
                Event::WillPatchModule(e) if e.module() == "thread" && e.arg("veto") == Some("thread") => {
                    Err(PluginError::do_not_patch("conformance: keep OS threads"))
                }
                _ => Ok(()),
            }
        });
        let request = || PatchAll::default().module("conformance-db");
        let first = patch_all(request().arg("veto", "thread")).expect("first call");
        let first_events = take_log();
        let after_first = originals();
        let thread_patched_after_first = is_module_patched("thread") || is_object_patched("thread", "spawn");
        let spawn_flavor_after_first = thread::spawn(|| ()).flavor();

        let second = patch_all(request()).expect("second call");
        let second_events = take_log();
        let after_second = originals();
        id.unsubscribe();
        Init {
            before,
            after_first,
            after_second,
            first,
            first_events,
            thread_patched_after_first,
            spawn_flavor_after_first,
            second,
            second_events,
        }
    })
}

// ------------------------------------------------------------------ identity

#[test]
fn originals_are_std_functions_and_stable_across_repatching() {
    let init = init();
    assert_eq!(init.before, init.after_first);
    assert_eq!(init.before, init.after_second);
    let _ = patch_all(PatchAll::default()).unwrap();
    assert_eq!(init.before, originals());

    let by_name = |n: &str| init.before.0.iter().find(|(k, _)| *k == n).unwrap().1;
    assert_eq!(by_name("time.sleep"), std::thread::sleep as fn(Duration) as usize);
    assert_eq!(by_name("thread.sleep"), std::thread::sleep as fn(Duration) as usize);
    assert_eq!(by_name("thread.yield_now"), std::thread::yield_now as fn() as usize);
    assert_eq!(by_name("thread.park"), std::thread::park as fn() as usize);
    assert_eq!(by_name("thread.park_timeout"), std::thread::park_timeout as fn(Duration) as usize);

    // The originals still behave as std after patching.
    let blocking = get_original::<fn() -> Flavor>("thread", "Mutex").unwrap();
    assert_eq!(blocking(), Flavor::Blocking);
    let connect = get_original::<fn(&SocketAddr) -> io::Result<TcpStream>>("socket", "TcpStream").unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(l.flavor(), Flavor::Green);
    let s = connect(&l.local_addr().unwrap()).unwrap();
    assert_eq!(s.flavor(), Flavor::Blocking, "the original connect makes std sockets");
    assert!(get_original::<fn() -> u32>("time", "sleep").is_none(), "wrong type");
    assert!(get_original::<fn(Duration)>("time", "no-such-item").is_none());
}

#[test]
fn every_item_of_every_builtin_module_is_patched() {
    let _ = init();
    for name in BUILTIN_MODULES {
        assert!(is_module_patched(name), "{name}");
        let m = module(name).expect("greenpatch declares every builtin module");
        assert!(m.is_builtin());
        assert!(!m.items().is_empty(), "{name} has items");
        for item in m.item_names() {
            assert!(is_object_patched(name, item), "{name}.{item}");
        }
    }
    assert!(is_module_patched("conformance-db"));
    assert!(is_object_patched("conformance-db", "connect"));
    assert_eq!((DB_CONNECT.get())(), 1);
    assert!(!is_object_patched("time", "no-such-item"));
    let expected = [
        ("time", &["sleep", "with_timeout"][..]),
        (
            "thread",
            &[
                "spawn",
                "sleep",
                "yield_now",
                "current",
                "park",
                "park_timeout",
                "Mutex",
                "RwLock",
                "Event",
                "Semaphore",
                "Local",
            ][..],
        ),
        ("queue", &["channel", "sync_channel", "Queue", "LifoQueue", "PriorityQueue"][..]),
    ];
    for (name, items) in expected {
        assert_eq!(module(name).unwrap().item_names().collect::<Vec<_>>(), items);
    }
    let socket: Vec<_> = module("socket").unwrap().item_names().collect();
    for item in ["lookup_host", "TcpStream", "TcpStream::connect_timeout", "TcpListener", "UdpSocket"] {
        assert!(socket.contains(&item), "socket.{item}");
    }
}

// -------------------------------------------------------------------- events

#[test]
fn the_event_sequence_with_one_module_vetoed_by_a_subscriber() {
    let init = init();
    assert_eq!(
        init.first_events,
        [
            "WillPatchAll",
            "WillPatchModule(time)",
            "DidPatchModule(time)",
            "WillPatchModule(thread)",
            "WillPatchModule(socket)",
            "DidPatchModule(socket)",
            "WillPatchModule(libc)",
            "DidPatchModule(libc)",
            "WillPatchModule(queue)",
            "DidPatchModule(queue)",
            "DidPatchBuiltinModules",
            "WillPatchModule(conformance-db)",
            "DidPatchModule(conformance-db)",
            "DidPatchAll",
        ]
    );
    assert_eq!(init.first.modules(), ["time", "socket", "libc", "queue", "conformance-db"]);
    assert_eq!(init.first.vetoed().len(), 1);
    assert_eq!(init.first.vetoed()[0].module, "thread");
    assert_eq!(init.first.vetoed()[0].veto.reason.reason(), "conformance: keep OS threads");
    // The vetoed module was left alone, and objects made then are std's.
    assert!(!init.thread_patched_after_first);
    assert_eq!(init.spawn_flavor_after_first, Flavor::Blocking);

    // The next call patches only what is missing.
    assert_eq!(
        init.second_events,
        ["WillPatchAll", "WillPatchModule(thread)", "DidPatchModule(thread)", "DidPatchBuiltinModules", "DidPatchAll"]
    );
    assert_eq!(init.second.modules(), ["thread"]);
}

#[test]
fn a_second_call_with_nothing_new_warns_if_its_options_differ_and_delivers_no_event() {
    let _ = init();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let id = subscribe(move |_e: &Event<'_>| {
        s.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    // The first call that patched had these options and arguments.
    let same = patch_all(PatchAll::default().module("conformance-db").arg("veto", "thread")).unwrap();
    assert!(same.is_nothing_new());
    assert!(!same.warnings().iter().any(|w| matches!(w, Warning::OptionsDiffer { .. })));

    let differs = patch_all(PatchAll::default().queue(false)).unwrap();
    assert!(differs.is_nothing_new());
    assert!(differs.warnings().iter().any(|w| matches!(w, Warning::OptionsDiffer { .. })), "{:?}", differs.warnings());
    id.unsubscribe();
    assert_eq!(seen.load(Ordering::SeqCst), 0, "no event for a call with nothing new");
}

#[test]
fn plugins_run_after_subscribers_and_after_the_builtin_modules() {
    let init = init();
    let log = PLUGIN_LOG.lock().unwrap().clone();
    let builtins: Vec<_> = log.iter().filter(|(e, _, _)| e == "DidPatchBuiltinModules").collect();
    assert_eq!(builtins.len(), 2, "{log:?}");
    // First call: time, socket, queue were patched (thread was vetoed), and
    // the subscriber had already seen the event (11th of the first call).
    let (_, seen, patched) = builtins[0];
    let pos = init.first_events.iter().position(|e| e == "DidPatchBuiltinModules").unwrap();
    assert_eq!(*seen, pos + 1, "the entry point runs after the subscriber got the same event");
    for m in ["time", "socket", "queue"] {
        assert!(patched.contains(&m), "{m} patched before the plugin ran: {patched:?}");
    }
    assert!(!patched.contains(&"thread"));
    assert!(!patched.contains(&"conformance-db"), "third-party modules come after DidPatchBuiltinModules");
    // Second call: thread too.
    assert!(builtins[1].2.contains(&"thread"));
    // The entry point saw every did-event, never a will-event.
    assert!(log.iter().all(|(e, _, _)| e.starts_with("Did")));
}

// --------------------------------------------------------------------- queues

fn queue_semantics<K: Kind<i32>>(make: impl Fn(usize) -> GenericQueue<i32, K>, order: &[i32], spawn: &Builder)
where
    GenericQueue<i32, K>: Send,
{
    // Order.
    let q = make(0);
    for i in [3, 1, 2] {
        q.put(i);
    }
    assert_eq!(q.len(), 3);
    assert_eq!(q.peek_nowait(), Ok(order[0]));
    let got: Vec<i32> = (0..3).map(|_| q.get()).collect();
    assert_eq!(got, order);

    // Empty.
    assert_eq!(q.get_nowait(), Err(Empty));
    let start = Instant::now();
    assert_eq!(q.get_timeout(Duration::from_millis(30)), Err(Empty));
    assert!(start.elapsed() >= Duration::from_millis(25));

    // Full.
    let q = make(2);
    assert_eq!(q.maxsize(), Some(2));
    q.put_nowait(1).unwrap();
    q.put(2);
    assert!(q.is_full());
    assert_eq!(q.put_nowait(3).unwrap_err().into_inner(), 3);
    assert_eq!(q.put_timeout(4, Duration::from_millis(10)).unwrap_err().into_inner(), 4);

    // A blocked put completes when a consumer makes room.
    let producer = {
        let q = q.clone();
        spawn.clone().spawn(move || q.put(5)).unwrap()
    };
    std::thread::sleep(Duration::from_millis(10));
    let first = q.get();
    producer.join().unwrap();
    assert_eq!(q.len(), 2);
    assert!(first == 1 || first == 2);

    // task_done / join.
    let q = make(0);
    assert_eq!(q.task_done(), Err(TaskDoneError), "task_done without a put is an error");
    for i in 0..5 {
        q.put(i);
    }
    assert_eq!(q.unfinished_tasks(), 5);
    assert!(!q.join_timeout(Duration::from_millis(5)));
    let worker = {
        let q = q.clone();
        spawn
            .clone()
            .spawn(move || {
                for _ in 0..5 {
                    q.get();
                    q.task_done().unwrap();
                }
            })
            .unwrap()
    };
    q.join();
    assert_eq!(q.unfinished_tasks(), 0);
    worker.join().unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError), "more task_done than puts");
}

#[test]
fn gevent_queues_keep_their_semantics_under_patching() {
    let _ = init();
    assert!(is_module_patched("queue"));
    let green = Builder::new();
    assert_eq!(Queue::<i32>::new().flavor(), Flavor::Green);
    queue_semantics(Queue::with_maxsize, &[3, 1, 2], &green);
    queue_semantics(LifoQueue::with_maxsize, &[2, 1, 3], &green);
    queue_semantics(PriorityQueue::with_maxsize, &[1, 2, 3], &green);

    // The blocking flavor, with OS threads, behaves the same.
    let os = Builder::new().flavor(Flavor::Blocking);
    queue_semantics(|n| Queue::with_flavor(Flavor::Blocking, n), &[3, 1, 2], &os);
    queue_semantics(|n| LifoQueue::with_flavor(Flavor::Blocking, n), &[2, 1, 3], &os);
    queue_semantics(|n| PriorityQueue::with_flavor(Flavor::Blocking, n), &[1, 2, 3], &os);
}

#[test]
fn a_patched_joinable_queue_feeds_many_green_workers() {
    let _ = init();
    let q: Queue<u64> = Queue::with_maxsize(16);
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (q, done) = (q.clone(), done.clone());
            thread::spawn(move || loop {
                let n = q.get();
                if n == u64::MAX {
                    q.task_done().unwrap();
                    return;
                }
                greenpatch::time::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::Relaxed);
                q.task_done().unwrap();
            })
        })
        .collect();
    let start = Instant::now();
    for i in 0..1000 {
        q.put(i);
    }
    q.join();
    assert_eq!(done.load(Ordering::Relaxed), 1000);
    // 1,000 items of 1 ms each on 50 workers: about 20 ms of sleeping.
    assert!(start.elapsed() < Duration::from_secs(2));
    for _ in 0..50 {
        q.put(u64::MAX);
    }
    workers.into_iter().for_each(|w| w.join().unwrap());
}
