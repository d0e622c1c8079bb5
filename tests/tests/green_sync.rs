//! Behaviours of the green locks and signals (`greenpatch_runtime::sync`):
//! mutual exclusion across hubs, no lost wake-ups (under stress, across OS
//! threads, and when a waiter is killed), timeouts, poisoning, and gevent's
//! semaphore, event and local semantics.

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use greenpatch_runtime::sync::{Barrier, BoundedSemaphore, Condvar, Event, Local, Mutex, OnceLock, RwLock, Semaphore};
use tests::within;

/// The hub (OS thread) a green thread id belongs to.
fn hub_of(id: rt::Id) -> u64 {
    id.as_u64() >> 40
}

#[test]
fn mutex_counter_incremented_by_1000_green_threads_on_two_hubs_ends_at_100_000() {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let c = counter.clone();
            runtime.spawn(move || {
                for _ in 0..100 {
                    let mut g = c.lock().unwrap();
                    let seen = *g;
                    rt::yield_now(); // others run (and contend) inside the critical section
                    *g = seen + 1;
                }
                hub_of(rt::current().id())
            })
        })
        .collect();
    let hubs: HashSet<u64> = within(60, "join", || handles.into_iter().map(|h| h.join().unwrap()).collect());
    assert_eq!(*counter.lock().unwrap(), 100_000);
    assert_eq!(hubs.len(), 2, "the green threads ran on both hubs");
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Arc::new(Mutex::new(1));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let busy = rt::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock))).join().unwrap();
    assert!(busy);
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, poisoned: false, .. }");
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 1);
    assert_eq!(format!("{m:?}"), "Mutex { data: 1, poisoned: false, .. }");
}

#[test]
fn a_panicking_holder_poisons_the_mutex_and_the_data_stays_reachable() {
    let m = Arc::new(Mutex::new(vec![1]));
    let m2 = m.clone();
    let r = rt::spawn(move || {
        let mut g = m2.lock().unwrap();
        g.push(2);
        panic!("inside the critical section");
    })
    .join();
    assert!(r.unwrap_err().is_panic());
    assert!(m.is_poisoned());
    let err = m.lock().unwrap_err();
    assert_eq!(*err.into_inner(), [1, 2]);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    assert!(!m.is_poisoned());
    assert!(m.lock().is_ok());
}

#[test]
fn a_killed_holder_releases_the_mutex() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let holder = rt::spawn(move || {
        let _g = m2.lock().unwrap();
        rt::sleep(Duration::from_secs(60));
    });
    rt::yield_now();
    assert!(m.try_lock().is_err(), "the holder has it");
    holder.kill();
    assert!(holder.join().unwrap_err().is_killed());
    // Released on the way out; poisoned, as documented (a kill is an unwind).
    let g = within(5, "lock after kill", || m.lock());
    assert!(g.is_err());
}

#[test]
fn a_panicking_writer_poisons_the_rwlock_but_a_panicking_reader_does_not() {
    let l = Arc::new(RwLock::new(0));
    let l2 = l.clone();
    let _ = rt::spawn(move || {
        let _r = l2.read().unwrap();
        panic!("reader");
    })
    .join();
    assert!(!l.is_poisoned());
    let l3 = l.clone();
    let _ = rt::spawn(move || {
        let _w = l3.write().unwrap();
        panic!("writer");
    })
    .join();
    assert!(l.is_poisoned());
    assert!(l.read().is_err());
}

#[test]
fn rwlock_readers_share_and_a_writer_excludes_them() {
    let l = Arc::new(RwLock::new(0u32));
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..10)
        .map(|_| {
            let (l, inside, max_inside) = (l.clone(), inside.clone(), max_inside.clone());
            rt::spawn(move || {
                let g = l.read().unwrap();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(n, Ordering::SeqCst);
                rt::yield_now();
                inside.fetch_sub(1, Ordering::SeqCst);
                *g
            })
        })
        .collect();
    let writers: Vec<_> = (0..5)
        .map(|_| {
            let l = l.clone();
            rt::spawn(move || {
                let mut g = l.write().unwrap();
                let seen = *g;
                rt::yield_now();
                *g = seen + 1;
            })
        })
        .collect();
    within(10, "readers", || readers.into_iter().for_each(|h| assert!(h.join().unwrap() <= 5)));
    within(10, "writers", || writers.into_iter().for_each(|h| h.join().unwrap()));
    assert!(max_inside.load(Ordering::SeqCst) > 1, "readers held the lock together");
    assert_eq!(*l.read().unwrap(), 5, "writers excluded each other");
}

#[test]
fn a_waiting_writer_is_not_starved_by_a_stream_of_readers() {
    let l = Arc::new(RwLock::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (l, stop) = (l.clone(), stop.clone());
            rt::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let _g = l.read().unwrap();
                    rt::yield_now();
                }
            })
        })
        .collect();
    rt::yield_now();
    let l2 = l.clone();
    let writer = rt::spawn(move || *l2.write().unwrap() = true);
    within(5, "writer", || writer.join().unwrap());
    stop.store(true, Ordering::SeqCst);
    readers.into_iter().for_each(|h| h.join().unwrap());
    assert!(*l.read().unwrap());
}

#[test]
fn a_killed_waiting_writer_lets_the_readers_it_held_back_in() {
    let l = Arc::new(RwLock::new(1));
    let held = l.read().unwrap();
    let l2 = l.clone();
    let writer = rt::spawn(move || drop(l2.write().unwrap()));
    rt::yield_now(); // the writer waits for `held`
    let l3 = l.clone();
    let reader = rt::spawn(move || *l3.read().unwrap());
    rt::yield_now();
    assert!(!reader.is_finished(), "a waiting writer holds new readers back");
    writer.kill();
    assert!(writer.join().unwrap_err().is_killed());
    assert_eq!(within(5, "reader", || reader.join().unwrap()), 1);
    drop(held);
}

#[test]
fn rwlock_across_two_hubs_never_lets_a_writer_in_with_anyone_else() {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let l = Arc::new(RwLock::new(0u64));
    let readers_in = Arc::new(AtomicUsize::new(0));
    let writer_in = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (l, readers_in, writer_in) = (l.clone(), readers_in.clone(), writer_in.clone());
            runtime.spawn(move || {
                for _ in 0..200 {
                    if i % 5 == 0 {
                        let mut g = l.write().unwrap();
                        assert_eq!(readers_in.load(Ordering::SeqCst), 0);
                        assert!(!writer_in.swap(true, Ordering::SeqCst));
                        *g += 1;
                        rt::yield_now();
                        writer_in.store(false, Ordering::SeqCst);
                    } else {
                        let _g = l.read().unwrap();
                        readers_in.fetch_add(1, Ordering::SeqCst);
                        assert!(!writer_in.load(Ordering::SeqCst));
                        rt::yield_now();
                        readers_in.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    within(60, "readers and writers", || hs.into_iter().for_each(|h| h.join().unwrap()));
    assert_eq!(*l.read().unwrap(), 400);
}

/// Blocks a victim then a survivor in `block`, makes one unit available
/// with `release` (the victim, first in line, is picked), kills the victim
/// before it runs, and checks that the survivor gets the unit.
fn killed_waiter_passes_the_wake_up_on(block: impl Fn() + Send + Clone + 'static, release: impl FnOnce()) {
    let b = block.clone();
    let victim = rt::spawn(b);
    rt::yield_now(); // the victim registers first
    let got = Arc::new(AtomicBool::new(false));
    let g = got.clone();
    let survivor = rt::spawn(move || {
        block();
        g.store(true, Ordering::SeqCst);
    });
    rt::yield_now();
    assert!(!victim.is_finished() && !survivor.is_finished(), "both wait");
    release(); // wakes the victim …
    victim.kill(); // … which unwinds instead of taking the unit
    assert!(victim.join().unwrap_err().is_killed());
    within(5, "the survivor", || survivor.join().unwrap());
    assert!(got.load(Ordering::SeqCst));
}

#[test]
fn a_killed_green_thread_blocked_on_lock_does_not_lose_the_unlock() {
    let m = Arc::new(Mutex::new(()));
    let guard = m.lock().unwrap();
    let m2 = m.clone();
    killed_waiter_passes_the_wake_up_on(move || drop(m2.lock().unwrap()), move || drop(guard));
    assert!(m.try_lock().is_ok());
}

#[test]
fn a_killed_green_thread_blocked_on_write_does_not_lose_the_unlock() {
    let l = Arc::new(RwLock::new(()));
    let guard = l.write().unwrap();
    let l2 = l.clone();
    killed_waiter_passes_the_wake_up_on(move || drop(l2.write().unwrap()), move || drop(guard));
}

#[test]
fn a_killed_green_thread_blocked_on_acquire_does_not_lose_the_release() {
    let s = Arc::new(Semaphore::new(0));
    let (s2, s3) = (s.clone(), s.clone());
    killed_waiter_passes_the_wake_up_on(move || s2.acquire(), move || s3.release());
    assert_eq!(s.available(), 0, "the survivor holds the one permit");
}

#[test]
fn a_killed_green_thread_blocked_on_event_wait_does_not_stop_the_others() {
    let e = Arc::new(Event::new());
    let (e2, e3) = (e.clone(), e.clone());
    killed_waiter_passes_the_wake_up_on(move || e2.wait(), move || e3.set());
}

#[test]
fn a_killed_green_thread_waiting_on_a_condvar_passes_the_notification_on() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p = pair.clone();
    let block = move || {
        let (m, c) = &*p;
        let mut g = m.lock().unwrap();
        let start = *g;
        while *g == start {
            g = c.wait(g).unwrap();
        }
    };
    let p = pair.clone();
    killed_waiter_passes_the_wake_up_on(block, move || {
        *p.0.lock().unwrap() += 1;
        p.1.notify_one();
    });
}

#[test]
fn condvar_bounded_buffer_across_two_hubs_loses_no_wake_up() {
    // Two producers and two consumers on two OS threads (one hub each),
    // notify_one on two condvars: a lost wake-up stalls the run.
    const ITEMS: u64 = 20_000;
    struct Buf {
        q: Mutex<VecDeque<u64>>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    let buf = Arc::new(Buf { q: Mutex::new(VecDeque::new()), not_empty: Condvar::new(), not_full: Condvar::new() });
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let buf = buf.clone();
            std::thread::spawn(move || {
                let producer = {
                    let buf = buf.clone();
                    rt::spawn(move || {
                        for i in 0..ITEMS / 2 {
                            let mut q = buf.not_full.wait_while(buf.q.lock().unwrap(), |q| q.len() >= 4).unwrap();
                            q.push_back(t * ITEMS + i);
                            drop(q);
                            buf.not_empty.notify_one();
                        }
                    })
                };
                let consumer = rt::spawn(move || {
                    let mut sum = 0;
                    for _ in 0..ITEMS / 2 {
                        let mut q = buf.not_empty.wait_while(buf.q.lock().unwrap(), |q| q.is_empty()).unwrap();
                        sum += q.pop_front().unwrap();
                        drop(q);
                        buf.not_full.notify_one();
                    }
                    sum
                });
                within(60, "producer", || producer.join().unwrap());
                within(60, "consumer", || consumer.join().unwrap())
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let expected: u64 = (0..2).map(|t| (0..ITEMS / 2).map(|i| t * ITEMS + i).sum::<u64>()).sum();
    assert_eq!(total, expected);
}

#[test]
fn condvar_wait_timeout_expires_within_bounds_and_reports_it() {
    let (m, c) = (Mutex::new(()), Condvar::new());
    let t = Instant::now();
    let (_g, r) = c.wait_timeout(m.lock().unwrap(), Duration::from_millis(50)).unwrap();
    let took = t.elapsed();
    assert!(r.timed_out());
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn a_plain_os_thread_wakes_green_waiters_on_event_condvar_and_semaphore() {
    let ev = Arc::new(Event::new());
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let sem = Arc::new(Semaphore::new(0));
    let (e, p, s) = (ev.clone(), pair.clone(), sem.clone());
    let waiters = [
        rt::spawn(move || e.wait()),
        rt::spawn(move || drop(p.1.wait_while(p.0.lock().unwrap(), |ready| !*ready).unwrap())),
        rt::spawn(move || s.acquire()),
    ];
    rt::yield_now();
    let (e, p, s) = (ev.clone(), pair.clone(), sem.clone());
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        e.set();
        *p.0.lock().unwrap() = true;
        p.1.notify_all();
        s.release();
    });
    within(5, "green waiters", || waiters.into_iter().for_each(|h| h.join().unwrap()));
    waker.join().unwrap();
}

#[test]
fn a_green_thread_wakes_a_plain_os_thread_blocked_on_a_mutex() {
    static M: Mutex<i32> = Mutex::new(0);
    let g = M.lock().unwrap();
    let plain = std::thread::spawn(|| *M.lock().unwrap() + 1);
    std::thread::sleep(Duration::from_millis(20));
    let unlocker = rt::spawn_local(move || {
        rt::sleep(Duration::from_millis(5));
        drop(g); // guards are not Send: this green thread runs on our hub
    });
    unlocker.join().unwrap();
    assert_eq!(plain.join().unwrap(), 1);
}

#[test]
fn acquire_timeout_expires_within_bounds() {
    let s = Semaphore::new(0);
    let t = Instant::now();
    assert!(!s.acquire_timeout(Duration::from_millis(50)));
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(500), "{took:?}");
    // And from a green thread, while another green thread keeps the hub busy.
    let s = Arc::new(Semaphore::new(0));
    let s2 = s.clone();
    let h = rt::spawn(move || {
        let t = Instant::now();
        (s2.acquire_timeout(Duration::from_millis(50)), t.elapsed())
    });
    let (got, took) = h.join().unwrap();
    assert!(!got);
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn a_semaphore_admits_at_most_its_permits() {
    let s = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..20)
        .map(|_| {
            let (s, inside, max) = (s.clone(), inside.clone(), max.clone());
            rt::spawn(move || {
                s.acquire();
                max.fetch_max(inside.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                rt::sleep(Duration::from_millis(1));
                inside.fetch_sub(1, Ordering::SeqCst);
                s.release();
            })
        })
        .collect();
    within(10, "workers", || hs.into_iter().for_each(|h| h.join().unwrap()));
    assert_eq!(max.load(Ordering::SeqCst), 3);
    assert_eq!(s.available(), 3);
}

#[test]
fn bounded_semaphore_release_past_its_bound_is_an_error() {
    let s = BoundedSemaphore::new(2);
    assert_eq!(s.release().unwrap_err().bound, 2);
    s.acquire();
    s.acquire();
    assert!(!s.try_acquire());
    assert!(s.release().is_ok());
    assert!(s.release().is_ok());
    let err = s.release().unwrap_err();
    assert_eq!(err.to_string(), "semaphore released too many times (bound 2)");
    assert_eq!(s.available(), 2, "a refused release changes nothing");
}

#[test]
fn event_wakes_every_waiter_and_clear_resets_it() {
    let e = Arc::new(Event::new());
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let e = e.clone();
            rt::spawn(move || e.wait())
        })
        .collect();
    rt::yield_now();
    assert!(hs.iter().all(|h| !h.is_finished()));
    e.set();
    // gevent: a waiter woken by set() returns even if the flag is cleared
    // before it runs.
    e.clear();
    within(5, "waiters", || hs.into_iter().for_each(|h| h.join().unwrap()));
    assert!(!e.is_set());
    assert!(!e.wait_timeout(Duration::from_millis(10)));
}

#[test]
fn barrier_releases_each_generation_with_one_leader_across_hubs() {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let b = Arc::new(Barrier::new(8));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let b = b.clone();
            runtime.spawn(move || (0..50).filter(|_| b.wait().is_leader()).count())
        })
        .collect();
    let leaders: usize = within(30, "barrier", || hs.into_iter().map(|h| h.join().unwrap()).sum());
    assert_eq!(leaders, 50, "one leader per generation");
}

#[test]
fn a_killed_barrier_waiter_takes_its_arrival_back() {
    let b = Arc::new(Barrier::new(2));
    let b2 = b.clone();
    let victim = rt::spawn(move || b2.wait().is_leader());
    rt::yield_now();
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    let b3 = b.clone();
    let other = rt::spawn(move || b3.wait().is_leader());
    rt::yield_now();
    assert!(!other.is_finished(), "one live arrival of two: still waiting");
    assert!(b.wait().is_leader());
    assert!(!other.join().unwrap());
}

#[test]
fn once_lock_runs_one_initialiser_while_the_others_wait() {
    let runs = Arc::new(AtomicUsize::new(0));
    let cell = Arc::new(OnceLock::new());
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (runs, cell) = (runs.clone(), cell.clone());
            rt::spawn(move || {
                *cell.get_or_init(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    rt::sleep(Duration::from_millis(10)); // the others park meanwhile
                    i
                })
            })
        })
        .collect();
    let values: Vec<i32> = within(5, "initialisers", || hs.into_iter().map(|h| h.join().unwrap()).collect());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(values.iter().all(|v| *v == values[0]));
    assert_eq!(cell.set(99), Err(99));
}

#[test]
fn once_lock_initialiser_that_panics_leaves_it_to_a_waiter() {
    let cell = Arc::new(OnceLock::new());
    let c = cell.clone();
    let failing = rt::spawn(move || {
        c.get_or_init(|| {
            rt::yield_now();
            panic!("init fails")
        });
    });
    rt::yield_now();
    let c = cell.clone();
    let waiter = rt::spawn(move || *c.get_or_init(|| 7));
    assert!(failing.join().unwrap_err().is_panic());
    assert_eq!(within(5, "waiter", || waiter.join().unwrap()), 7);
}

#[test]
fn local_gives_each_green_thread_and_each_os_thread_its_own_value() {
    static SLOT: Local<Cell<u64>> = Local::new(|| Cell::new(0));
    SLOT.with(|c| c.set(1000));
    let hs: Vec<_> = (1..=20u64)
        .map(|i| {
            rt::spawn(move || {
                SLOT.with(|c| c.set(i));
                rt::yield_now(); // the others set theirs meanwhile
                SLOT.with(|c| c.get())
            })
        })
        .collect();
    let seen: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    assert_eq!(SLOT.with(|c| c.get()), 1000, "the root's value");
    let other = std::thread::spawn(|| SLOT.with(|c| c.get())).join().unwrap();
    assert_eq!(other, 0, "another OS thread starts fresh");
}
