//! gevent's toolbox on the runtime: groups and pools, waits on many
//! sources, one-shot cells, `spawn_later`, scoped green threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::cell::AsyncResult;
use rt::group::{Group, Pool};
use rt::sync::Event;
use rt::wait::{iwait, select, wait};
use tests::within;

#[test]
fn pool_of_ten_over_a_thousand_jobs_never_runs_more_than_ten_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut pool: Pool<usize> = Pool::bounded(10);
    within(30, "pool", || {
        for i in 0..1000 {
            let (running, peak) = (running.clone(), peak.clone());
            pool.spawn(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                rt::sleep(Duration::from_micros(200));
                rt::yield_now();
                running.fetch_sub(1, Ordering::SeqCst);
                i
            });
            assert!(pool.free_count().unwrap() <= 10);
        }
        let all = pool.join_all();
        assert_eq!(all.len(), 1000);
        let mut values: Vec<usize> = all.into_iter().map(|(_, r)| r.unwrap()).collect();
        values.sort_unstable();
        assert_eq!(values, (0..1000).collect::<Vec<_>>());
    });
    assert_eq!(peak.load(Ordering::SeqCst), 10, "the pool should fill up, and never beyond its size");
}

#[test]
fn pool_imap_keeps_input_order_and_the_bound() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut pool = Pool::bounded(4);
    let (r, p) = (running.clone(), peak.clone());
    let out: Vec<u64> = within(10, "imap", || {
        pool.imap(0..50u64, move |i| {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            rt::sleep(Duration::from_millis((50 - i) % 7));
            r.fetch_sub(1, Ordering::SeqCst);
            i * i
        })
        .map(Result::unwrap)
        .collect()
    });
    assert_eq!(out, (0..50u64).map(|i| i * i).collect::<Vec<_>>());
    assert!(peak.load(Ordering::SeqCst) <= 4);
    let mut unordered: Vec<u64> = pool.imap_unordered(0..20u64, |i| i).map(Result::unwrap).collect();
    unordered.sort_unstable();
    assert_eq!(unordered, (0..20).collect::<Vec<_>>());
    assert!(pool.is_empty());
}

#[test]
fn group_reports_panics_per_member_and_joins_in_completion_order() {
    let mut g = Group::new();
    let slow = g.spawn(|| {
        rt::sleep(Duration::from_millis(60));
        1
    });
    let bad = g.spawn(|| panic!("member failed"));
    let fast = g.spawn(|| 3);
    let order: Vec<_> = within(10, "join_all", || g.join_all());
    assert_eq!(order.len(), 3);
    assert_eq!(order[2].0, slow);
    let by_id = |id| order.iter().find(|(i, _)| *i == id).map(|(_, r)| r).unwrap();
    assert!(by_id(bad).as_ref().unwrap_err().is_panic());
    assert_eq!(*by_id(fast).as_ref().unwrap(), 3);
}

#[test]
fn group_kill_all_runs_destructors_and_join_timeout_keeps_the_rest() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut g = Group::new();
    for _ in 0..20 {
        let f = Flag(dropped.clone());
        g.spawn(move || {
            let _f = f;
            rt::sleep(Duration::from_secs(60));
        });
    }
    let done = g.join_timeout(Duration::from_millis(30));
    assert!(done.is_empty());
    assert_eq!(g.len(), 20);
    assert!(g.join_next_timeout(Duration::from_millis(10)).is_err());
    let t = Instant::now();
    let killed = within(10, "kill_all", || g.kill_all());
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(killed.len(), 20);
    assert!(killed.iter().all(|(_, r)| r.as_ref().unwrap_err().is_killed()));
    assert_eq!(dropped.load(Ordering::SeqCst), 20, "every member's destructors ran");
    assert!(g.join_next().is_none());
}

#[test]
fn pool_spawn_from_a_plain_thread_waits_for_a_slot() {
    std::thread::spawn(|| {
        let mut p = Pool::bounded(2);
        let t = Instant::now();
        for _ in 0..6 {
            p.spawn(|| rt::sleep(Duration::from_millis(40)));
        }
        // The sixth spawn waited for two rounds of two to finish.
        assert!(t.elapsed() >= Duration::from_millis(70), "{:?}", t.elapsed());
        assert_eq!(p.join_all().len(), 6);
    })
    .join()
    .unwrap();
}

#[test]
fn iwait_over_a_hundred_handles_yields_each_once_in_completion_order() {
    let gates: Arc<Vec<Event>> = Arc::new((0..100).map(|_| Event::new()).collect());
    let mut handles: Vec<_> = (0..100)
        .map(|i| {
            let g = gates.clone();
            rt::spawn(move || {
                g[i].wait();
                i
            })
        })
        .collect();
    // A fixed permutation: the order in which the gates open.
    let order: Vec<usize> = (0..100).map(|k| (k * 37 + 11) % 100).collect();
    let mut seen = Vec::new();
    within(10, "iwait", || {
        let mut it = iwait(&mut handles, Some(Duration::from_secs(10)));
        for &i in &order {
            gates[i].set();
            seen.push(it.next().expect("one more finished"));
        }
        assert_eq!(it.next(), None);
    });
    assert_eq!(seen, order, "completion order");
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i);
    }
}

#[test]
fn iwait_sees_handles_that_finish_together_each_once() {
    let mut handles: Vec<_> = (0..100u64).map(|i| rt::spawn(move || rt::sleep(Duration::from_millis(i % 5)))).collect();
    let mut seen = within(10, "iwait", || iwait(&mut handles, None).collect::<Vec<_>>());
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

#[test]
fn select_over_channels_and_queues_consumes_nothing_and_times_out() {
    let (tx, mut rx) = rt::mpsc::channel::<u32>();
    let mut q: rt::queue::Queue<&str> = rt::queue::Queue::new();
    // Nothing ready: the timeout, and nothing lost afterwards.
    let t = Instant::now();
    let r = {
        let mut sources: [&mut dyn rt::wait::Waitable; 2] = [&mut rx, &mut q];
        select(&mut sources, Some(Duration::from_millis(30)))
    };
    assert_eq!(r, None);
    assert!(t.elapsed() >= Duration::from_millis(25));
    let q2 = q.clone();
    let putter = rt::spawn(move || {
        rt::sleep(Duration::from_millis(10));
        q2.put("item");
    });
    let r = within(5, "select", || {
        let mut sources: [&mut dyn rt::wait::Waitable; 2] = [&mut rx, &mut q];
        select(&mut sources, Some(Duration::from_secs(5)))
    });
    assert_eq!(r, Some(1));
    assert_eq!(q.get_nowait().unwrap(), "item", "select took nothing");
    putter.join().unwrap();
    tx.send(9).unwrap();
    let mut sources: [&mut dyn rt::wait::Waitable; 2] = [&mut rx, &mut q];
    assert_eq!(select(&mut sources, Some(Duration::ZERO)), Some(0));
    assert_eq!(rx.try_recv().unwrap(), 9);
}

#[test]
fn a_waiter_that_gives_up_loses_no_item() {
    // Several waiters on one channel time out or are killed; every item
    // sent meanwhile is still received by the owner afterwards.
    let (tx, rx) = rt::mpsc::channel::<u32>();
    let rx = Arc::new(rt::sync::Mutex::new(rx));
    let mut gaveup = Vec::new();
    for k in 0..5u64 {
        let rx = rx.clone();
        gaveup.push(rt::spawn(move || {
            let mut g = rx.lock().unwrap();
            let mut one: [&mut rt::mpsc::Receiver<u32>; 1] = [&mut g];
            select(&mut one, Some(Duration::from_millis(k)))
        }));
    }
    for h in gaveup {
        let _ = h.join();
    }
    let killed = {
        let rx = rx.clone();
        rt::spawn(move || {
            let mut g = rx.lock().unwrap();
            let mut one: [&mut rt::mpsc::Receiver<u32>; 1] = [&mut g];
            select(&mut one, None)
        })
    };
    rt::yield_now();
    killed.kill();
    assert!(killed.join().unwrap_err().is_killed());
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    // The killed waiter unwound holding the lock: poisoned, the receiver intact.
    let got: Vec<u32> = rx.lock().unwrap_or_else(|p| p.into_inner()).try_iter().collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn wait_returns_what_became_ready_in_time() {
    let (a, b, c) = (Event::new(), Event::new(), Event::new());
    b.set();
    let ready = wait(&mut [&a, &b, &c], Some(Duration::from_millis(20)));
    assert_eq!(ready, [1]);
    let cell = AsyncResult::new();
    let setter = {
        let cell = cell.clone();
        rt::spawn_later(Duration::from_millis(10), move || cell.set(5).unwrap())
    };
    let mut cells = [cell.clone()];
    assert_eq!(within(5, "wait", || wait(&mut cells, None)), [0]);
    assert_eq!(cell.get().unwrap(), 5);
    setter.join().unwrap();
}

#[test]
fn async_result_is_set_once_and_every_waiter_gets_the_outcome() {
    let r: AsyncResult<String> = AsyncResult::new();
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            rt::spawn(move || r.get())
        })
        .collect();
    let from_thread = {
        let r = r.clone();
        std::thread::spawn(move || r.get())
    };
    rt::sleep(Duration::from_millis(10));
    r.set("v".into()).unwrap();
    assert!(r.set("w".into()).is_err());
    for w in waiters {
        assert_eq!(w.join().unwrap().unwrap(), "v");
    }
    assert_eq!(from_thread.join().unwrap().unwrap(), "v");

    let failed: AsyncResult<u8> = AsyncResult::new();
    let f = failed.clone();
    rt::spawn(move || f.run(|| panic!("computation failed")).unwrap()).join().unwrap();
    let e = failed.get().unwrap_err();
    assert!(e.to_string().contains("computation failed"), "{e}");
    assert!(!failed.successful());
}

#[test]
fn spawn_later_runs_after_the_delay_unless_cancelled() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let cancelled = rt::spawn_later(Duration::from_millis(20), move || r.store(true, Ordering::SeqCst));
    assert!(cancelled.cancel());
    assert!(!cancelled.cancel(), "cancel is once");
    assert!(within(5, "join", || cancelled.join()).unwrap_err().is_killed());
    rt::sleep(Duration::from_millis(40));
    assert!(!ran.load(Ordering::SeqCst));

    let t = Instant::now();
    let later = rt::spawn_later(Duration::from_millis(30), || 7);
    assert_eq!(within(5, "join", || later.join()).unwrap(), 7);
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn scope_borrows_the_parents_stack_and_joins_every_child() {
    let mut counts = [0u32; 8];
    let total = AtomicUsize::new(0);
    rt::scope(|s| {
        for (i, c) in counts.iter_mut().enumerate() {
            let total = &total;
            s.spawn(move || {
                rt::sleep(Duration::from_millis(i as u64 * 3));
                *c = i as u32 + 1;
                total.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(total.load(Ordering::SeqCst), 8);
    assert_eq!(counts, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn a_dropped_scope_still_joins() {
    // The scope's closure panics (its handles are dropped unjoined); the
    // scope still waits for every child before the panic goes on.
    let finished = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt::scope(|s| {
            for i in 0..10u64 {
                let finished = &finished;
                drop(s.spawn(move || {
                    rt::sleep(Duration::from_millis(20 + i));
                    finished.fetch_add(1, Ordering::SeqCst);
                }));
            }
            panic!("the parent fails while its children run");
        })
    }));
    assert!(r.is_err());
    assert_eq!(finished.load(Ordering::SeqCst), 10, "every child finished before the scope returned");
}

#[test]
fn a_killed_parent_kills_its_scoped_children_and_waits_for_them() {
    let unwound = Arc::new(AtomicUsize::new(0));
    let parent_left = Arc::new(AtomicBool::new(false));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (u, left) = (unwound.clone(), parent_left.clone());
    let parent = rt::spawn(move || {
        let local = [1u8; 64]; // borrowed by the children
        struct Left(Arc<AtomicBool>);
        impl Drop for Left {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _l = Left(left);
        rt::scope(|s| {
            for _ in 0..5 {
                let c = Count(u.clone());
                let local = &local;
                s.spawn(move || {
                    let _c = c;
                    rt::sleep(Duration::from_secs(60));
                    local.len()
                });
            }
        });
    });
    rt::sleep(Duration::from_millis(20));
    parent.kill();
    let r = within(10, "parent", || parent.join());
    assert!(r.unwrap_err().is_killed());
    assert!(parent_left.load(Ordering::SeqCst));
    assert_eq!(unwound.load(Ordering::SeqCst), 5, "children unwound before the parent left the scope");
}

#[test]
fn scope_panics_when_a_child_panicked_unjoined() {
    let r = std::panic::catch_unwind(|| {
        rt::scope(|s| {
            s.spawn(|| panic!("child"));
        })
    });
    assert!(r.is_err());
    rt::scope(|s| {
        assert!(s.spawn(|| panic!("joined")).join().unwrap_err().is_panic());
    });
}
