//! The facades behave like std before `patch_all()` and like the green
//! runtime after it; objects keep the flavor they were made with, and a
//! blocking object used from a green thread is reported once.
//!
//! Patching is one-way and process-wide, so the whole story runs in one
//! test, in order: `before_patch` checks, `patch_all`, `after_patch`
//! checks. Tests that only need the patched state call `patched()` first.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use greenpatch::monkey::{is_module_patched, is_object_patched, patch_all, PatchAll, Patched, Warning};
use greenpatch::queue::{channel, Queue};
use greenpatch::socket::{TcpListener, TcpStream};
use greenpatch::thread::{self, Condvar, Event, Local, Mutex, RwLock, Semaphore};
use greenpatch::{time, Flavor};

/// Objects made before patching, used after it.
struct Objects {
    mutex: Arc<Mutex<u32>>,
    client: Arc<TcpStream>,
    server: Arc<TcpStream>,
    os_thread: thread::JoinHandle<u32>,
    release_os_thread: std::sync::mpsc::Sender<()>,
}

/// What happened before and at patching.
struct Early {
    patched: Patched,
    mutex_line: u32,
    stream_line: u32,
    os_thread_line: u32,
    objects: StdMutex<Option<Objects>>,
}

/// Runs the before-patch checks, makes the early objects, and patches —
/// once per process; every test starts here.
fn patched() -> &'static Early {
    static STATE: OnceLock<Early> = OnceLock::new();
    STATE.get_or_init(before_patch_then_patch)
}

fn before_patch_then_patch() -> Early {
    // --- std behaviour before patch_all() --------------------------------
    assert!(!is_module_patched("thread"));
    thread_spawn_makes_os_threads();
    sleep_blocks_the_os_thread();
    sockets_are_std();
    locks_channels_and_queues_are_blocking();

    // --- objects made before patching --------------------------------------
    let mutex = Arc::new(Mutex::new(0));
    let mutex_line = line!() + 1;
    *mutex.lock().unwrap() += 1; // first use: fixes the blocking flavor here
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let stream_line = line!() + 1;
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (release_os_thread, wait) = std::sync::mpsc::channel::<()>();
    let os_thread_line = line!() + 1;
    let os_thread = thread::spawn(move || {
        let _ = wait.recv();
        7
    });
    let this_thread = thread::current();
    assert_eq!(this_thread.flavor(), Flavor::Blocking);

    // --- patch_all ------------------------------------------------------------
    let patched = patch_all(PatchAll::default()).expect("no plugin failed");

    // A root is its OS thread: same id before and after patching.
    assert_eq!(thread::current().id(), this_thread.id());
    assert_eq!(thread::current().flavor(), Flavor::Blocking);

    // A handle of this OS thread taken before patching still wakes its
    // (now green) park.
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        this_thread.unpark();
    });
    let start = Instant::now();
    thread::park_timeout(Duration::from_secs(5));
    assert!(start.elapsed() < Duration::from_secs(4), "the pre-patch handle did not wake the green park");
    waker.join().unwrap();

    let objects = Objects { mutex, client: Arc::new(client), server: Arc::new(server), os_thread, release_os_thread };
    Early { patched, mutex_line, stream_line, os_thread_line, objects: StdMutex::new(Some(objects)) }
}

fn thread_spawn_makes_os_threads() {
    let here = std::thread::current().id();
    let h = thread::spawn(|| (std::thread::current().id(), thread::current().id()));
    assert_eq!(h.flavor(), Flavor::Blocking);
    let handle_id = h.thread().id();
    let (os_id, facade_id) = h.join().unwrap();
    assert_ne!(os_id, here, "facade thread::spawn must start an OS thread before patch_all");
    assert_eq!(facade_id, handle_id);
    let panicked = thread::spawn(|| panic!("std semantics")).join();
    assert!(panicked.is_err());
}

fn sleep_blocks_the_os_thread() {
    assert!(!is_object_patched("time", "sleep"));
    let start = Instant::now();
    time::sleep(Duration::from_millis(20));
    assert!(start.elapsed() >= Duration::from_millis(20));
    // Timeouts cannot interrupt blocking calls: the closure runs to the end.
    assert_eq!(
        time::with_timeout(Duration::from_millis(1), || {
            time::sleep(Duration::from_millis(5));
            3
        })
        .unwrap(),
        3
    );
}

fn sockets_are_std() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(listener.flavor(), Flavor::Blocking);
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    assert_eq!((client.flavor(), server.flavor()), (Flavor::Blocking, Flavor::Blocking));
    client.write_all(b"std").unwrap();
    let mut buf = [0; 3];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    // It really is a std socket: it converts without changing mode.
    let std_stream: std::net::TcpStream = client.into();
    assert!(std_stream.read_timeout().unwrap().is_none());
}

fn locks_channels_and_queues_are_blocking() {
    assert_eq!(Mutex::new(()).flavor(), Flavor::Blocking);
    assert_eq!(RwLock::new(()).flavor(), Flavor::Blocking);
    assert_eq!(Event::new().flavor(), Flavor::Blocking);
    assert_eq!(Semaphore::new(1).flavor(), Flavor::Blocking);
    assert_eq!(Local::new(|| 0).flavor(), Flavor::Blocking);
    let (tx, rx) = channel::<u8>();
    assert_eq!((tx.flavor(), rx.flavor()), (Flavor::Blocking, Flavor::Blocking));
    let q = Queue::new();
    assert_eq!(q.flavor(), Flavor::Blocking);
    q.put(1);
    q.put(2);
    assert_eq!((q.get(), q.get()), (1, 2));
}

fn registered_messages(p: &Patched) -> Vec<String> {
    p.warnings()
        .iter()
        .filter_map(|w| match w {
            Warning::Registered { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn facades_are_std_before_patch_all_and_green_after() {
    let early = patched();

    // patch_all warned about the OS thread still running from before.
    assert!(
        early
            .patched
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::Check { check: "greenpatch.thread.os-threads", message }
            if message.contains("1 OS thread") && message.contains(&format!("facades.rs:{}", early.os_thread_line)))),
        "warnings: {:?}",
        early.patched.warnings()
    );
    for module in ["time", "thread", "fs", "socket", "queue"] {
        assert!(is_module_patched(module));
    }
    // New objects are green.
    assert_eq!(Mutex::new(()).flavor(), Flavor::Green);
    assert_eq!(Queue::<u8>::new().flavor(), Flavor::Green);
}

#[test]
fn a_thousand_facade_sleepers_share_one_os_thread_after_patch_all() {
    let _ = patched();
    let os_threads = Arc::new(StdMutex::new(HashSet::new()));
    let start = Instant::now();
    let hs: Vec<_> = (0..1000)
        .map(|_| {
            let seen = os_threads.clone();
            thread::spawn(move || {
                seen.lock().unwrap().insert(std::thread::current().id());
                time::sleep(Duration::from_millis(100));
            })
        })
        .collect();
    assert!(hs.iter().all(|h| h.flavor() == Flavor::Green));
    for h in hs {
        h.join().unwrap();
    }
    let took = start.elapsed();
    assert_eq!(os_threads.lock().unwrap().len(), 1, "every green thread ran on this test's OS thread");
    assert!(took < Duration::from_millis(900), "1,000 sleeps of 100 ms took {took:?}");
    assert!(took >= Duration::from_millis(100));
}

#[test]
fn facade_sockets_do_real_loopback_work_on_green_threads() {
    let _ = patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(listener.flavor(), Flavor::Green);
    let addr = listener.local_addr().unwrap();
    const CLIENTS: usize = 200;
    const ROUNDS: u32 = 20;
    let server = thread::spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (mut conn, _) = listener.accept().unwrap();
                assert_eq!(conn.flavor(), Flavor::Green);
                thread::spawn(move || {
                    let mut buf = [0; 4];
                    while conn.read_exact(&mut buf).is_ok() {
                        conn.write_all(&buf).unwrap();
                    }
                })
            })
            .collect();
        handlers.into_iter().for_each(|h| h.join().unwrap());
    });
    let os_threads = Arc::new(StdMutex::new(HashSet::new()));
    let clients: Vec<_> = (0..CLIENTS as u32)
        .map(|c| {
            let seen = os_threads.clone();
            thread::spawn(move || {
                seen.lock().unwrap().insert(std::thread::current().id());
                let mut s = TcpStream::connect(addr).unwrap();
                assert_eq!(s.flavor(), Flavor::Green);
                let mut sum = 0u64;
                for r in 0..ROUNDS {
                    s.write_all(&(c * 1000 + r).to_be_bytes()).unwrap();
                    let mut buf = [0; 4];
                    s.read_exact(&mut buf).unwrap();
                    assert_eq!(u32::from_be_bytes(buf), c * 1000 + r);
                    sum += 1;
                }
                sum
            })
        })
        .collect();
    let total: u64 = clients.into_iter().map(|h| h.join().unwrap()).sum();
    server.join().unwrap();
    assert_eq!(total, CLIENTS as u64 * u64::from(ROUNDS));
    assert_eq!(os_threads.lock().unwrap().len(), 1);
}

#[test]
fn objects_made_before_patching_stay_blocking_and_their_green_use_is_reported_once() {
    let early = patched();
    let objects = early.objects.lock().unwrap().take().expect("this test runs once");
    // They kept their flavor.
    assert_eq!(objects.mutex.flavor(), Flavor::Blocking);
    assert_eq!(objects.client.flavor(), Flavor::Blocking);
    assert_eq!(objects.os_thread.flavor(), Flavor::Blocking);

    // Use the early Mutex and stream from two green threads each.
    let hs: Vec<_> = (0..2)
        .map(|i| {
            let m = objects.mutex.clone();
            let c = objects.client.clone();
            let s = objects.server.clone();
            thread::spawn(move || {
                *m.lock().unwrap() += 1;
                (&*c).write_all(&[i]).unwrap();
                let mut b = [0; 1];
                (&*s).read_exact(&mut b).unwrap();
                b[0]
            })
        })
        .collect();
    let got: Vec<u8> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, [0, 1]);
    assert_eq!(*objects.mutex.lock().unwrap(), 3);

    // Join the early OS thread from a green thread (through the blocking pool).
    let release = objects.release_os_thread.clone();
    let os_thread = objects.os_thread;
    let joined = thread::spawn(move || {
        release.send(()).unwrap();
        os_thread.join().unwrap()
    });
    assert_eq!(joined.join().unwrap(), 7);

    // The next patch call hands back the queued reports: once per kind+site.
    let again = patch_all(PatchAll::default()).unwrap();
    assert!(again.is_nothing_new());
    let messages = registered_messages(&again);
    let count = |kind: &str, line: u32| {
        messages
            .iter()
            .filter(|m| m.contains(&format!("blocking {kind} (")) && m.contains(&format!("facades.rs:{line}")))
            .count()
    };
    assert_eq!(count("Mutex", early.mutex_line), 1, "{messages:#?}");
    assert_eq!(count("TcpStream", early.stream_line), 1, "{messages:#?}");
    assert_eq!(count("OS thread", early.os_thread_line), 1, "{messages:#?}");

    // Used again: nothing new is reported.
    let m = objects.mutex.clone();
    thread::spawn(move || *m.lock().unwrap() += 1).join().unwrap();
    let third = patch_all(PatchAll::default()).unwrap();
    assert!(registered_messages(&third).iter().all(|m| !m.contains("blocking Mutex")), "{:?}", third.warnings());
}

#[test]
fn green_locks_park_only_the_green_thread() {
    let _ = patched();
    // 50 green threads take one facade Mutex and sleep 10 ms inside it,
    // while a ticker green thread keeps running: the hub is never blocked.
    let m = Arc::new(Mutex::new(0u32));
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(Event::new());
    let ticker = {
        let (ticks, stop) = (ticks.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.wait_timeout(Duration::from_millis(1)) {
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let hs: Vec<_> = (0..50)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                let mut g = m.lock().unwrap();
                time::sleep(Duration::from_millis(10));
                *g += 1;
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    stop.set();
    ticker.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 50);
    assert!(ticks.load(Ordering::Relaxed) > 100, "ticker ran {} times", ticks.load(Ordering::Relaxed));

    // Condvar follows its mutex's flavor.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let h = thread::spawn(move || {
        let (lock, cv) = &*p;
        let g = cv.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
        *g
    });
    thread::yield_now();
    *pair.0.lock().unwrap() = true;
    pair.1.notify_all();
    assert!(h.join().unwrap());

    // Semaphore bounds concurrency.
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..20)
        .map(|_| {
            let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
            thread::spawn(move || {
                sem.acquire();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                time::sleep(Duration::from_millis(2));
                inside.fetch_sub(1, Ordering::SeqCst);
                sem.release();
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(max.load(Ordering::SeqCst), 3);
}

#[test]
fn locals_timeouts_and_park_are_green_after_patching() {
    let _ = patched();
    static COUNTER: Local<std::cell::Cell<u32>> = Local::new(|| std::cell::Cell::new(0));
    let hs: Vec<_> = (0..10)
        .map(|i| {
            thread::spawn(move || {
                COUNTER.with(|c| c.set(i));
                thread::yield_now();
                COUNTER.with(|c| c.get())
            })
        })
        .collect();
    let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>(), "each green thread has its own value");

    let r = time::with_timeout(Duration::from_millis(20), || time::sleep(Duration::from_secs(10)));
    assert!(r.is_err());

    // park / unpark between green threads, including an unpark that
    // arrives before the target has started.
    let sleeper = thread::spawn(|| {
        thread::park();
        "woken"
    });
    sleeper.thread().unpark();
    assert_eq!(sleeper.join().unwrap(), "woken");

    let (tx, rx) = channel();
    let producer = thread::spawn(move || (0..100).for_each(|i| tx.send(i).unwrap()));
    assert_eq!(rx.iter().sum::<i32>(), 4950);
    producer.join().unwrap();
}

#[test]
fn joining_an_os_thread_from_a_green_thread_keeps_the_hub_running() {
    let _ = patched();
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let ticker = thread::spawn(move || {
        for _ in 0..20 {
            time::sleep(Duration::from_millis(5));
            t.fetch_add(1, Ordering::Relaxed);
        }
    });
    let t = ticks.clone();
    let joiner = thread::spawn(move || {
        let os = thread::Builder::new()
            .flavor(Flavor::Blocking)
            .spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                std::thread::current().id()
            })
            .unwrap();
        assert_eq!(os.flavor(), Flavor::Blocking);
        let id = os.join().unwrap();
        (id, t.load(Ordering::Relaxed))
    });
    let (os_id, ticks_meanwhile) = joiner.join().unwrap();
    assert_ne!(os_id, std::thread::current().id());
    assert_eq!(ticks_meanwhile, 20, "the ticker must run while a green thread joins an OS thread");
    ticker.join().unwrap();
}

#[test]
fn a_green_thread_spawned_through_the_facade_reports_its_callers_spawn_site() {
    patched();
    let line = line!() + 1;
    let h = thread::spawn(greenpatch_runtime::diag::dump);
    let dump = h.join().unwrap();
    let site = format!("{}:{line}", file!());
    assert!(dump.contains(&site), "the dump names {site}, not the facade: {dump}");
}
