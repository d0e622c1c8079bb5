//! Behaviours of the green channels (`greenpatch_runtime::mpsc`) and of
//! gevent's queue family (`greenpatch_runtime::queue`): throughput across
//! hubs, ordering, timeouts, rendezvous, disconnection, joinable queues, and
//! no lost wake-ups when a waiter is killed or the waker is a plain thread.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use greenpatch_runtime::mpsc::{channel, sync_channel};
use greenpatch_runtime::queue::{Empty, LifoQueue, PriorityQueue, Queue, TaskDoneError};
use tests::{assert_took, within};

#[test]
fn a_million_messages_from_4_producers_on_one_hub_reach_4_consumers_on_another() {
    const PER_PRODUCER: u64 = 250_000;
    let q: Queue<Option<u64>> = Queue::with_maxsize(1024);
    let qp = q.clone();
    let producers = std::thread::spawn(move || {
        let hs: Vec<_> = (0..4u64)
            .map(|p| {
                let q = qp.clone();
                rt::spawn(move || {
                    for i in 0..PER_PRODUCER {
                        q.put(Some(p * PER_PRODUCER + i));
                    }
                    rt::current().id()
                })
            })
            .collect();
        let ids: Vec<rt::Id> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        for _ in 0..4 {
            qp.put(None); // one end marker per consumer
        }
        ids
    });
    let consumers = std::thread::spawn(move || {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                rt::spawn(move || {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = q.get() {
                        count += 1;
                        sum += v;
                    }
                    (count, sum, rt::current().id())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    let producer_ids = producers.join().unwrap();
    let results = consumers.join().unwrap();
    let count: u64 = results.iter().map(|r| r.0).sum();
    let sum: u64 = results.iter().map(|r| r.1).sum();
    let n = 4 * PER_PRODUCER;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
    let hub = |id: rt::Id| id.as_u64() >> 40;
    assert!(producer_ids.iter().all(|id| hub(*id) == hub(producer_ids[0])));
    assert!(results.iter().all(|r| hub(r.2) == hub(results[0].2)));
    assert_ne!(hub(producer_ids[0]), hub(results[0].2), "producers and consumers on two hubs");
}

#[test]
fn mpsc_messages_from_green_producers_on_one_hub_reach_a_receiver_on_another() {
    let (tx, rx) = sync_channel::<u64>(16);
    let producers = std::thread::spawn(move || {
        let hs: Vec<_> = (0..4u64)
            .map(|p| {
                let tx = tx.clone();
                rt::spawn(move || (0..25_000).for_each(|i| tx.send(p * 25_000 + i).unwrap()))
            })
            .collect();
        drop(tx);
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    let consumer = std::thread::spawn(move || {
        rt::spawn(move || rx.iter().fold((0u64, 0u64), |(c, s), v| (c + 1, s + v))).join().unwrap()
    });
    producers.join().unwrap();
    let (count, sum) = consumer.join().unwrap();
    assert_eq!(count, 100_000);
    assert_eq!(sum, 100_000 * 99_999 / 2);
}

#[test]
fn queues_hand_out_items_in_fifo_lifo_and_priority_order() {
    let fifo = Queue::new();
    let lifo = LifoQueue::new();
    let prio = PriorityQueue::new();
    for v in [3, 1, 4, 1, 5, 9, 2, 6] {
        fifo.put(v);
        lifo.put(v);
        prio.put(v);
    }
    let drain = |get: &dyn Fn() -> Result<i32, Empty>| std::iter::from_fn(|| get().ok()).collect::<Vec<_>>();
    assert_eq!(drain(&|| fifo.get_nowait()), [3, 1, 4, 1, 5, 9, 2, 6]);
    assert_eq!(drain(&|| lifo.get_nowait()), [6, 2, 9, 5, 1, 4, 1, 3]);
    assert_eq!(drain(&|| prio.get_nowait()), [1, 1, 2, 3, 4, 5, 6, 9]);
}

#[test]
fn peek_shows_the_next_item_without_taking_it() {
    let q = PriorityQueue::new();
    assert_eq!(q.peek_nowait(), Err(Empty));
    q.put((2, "b"));
    q.put((1, "a"));
    assert_eq!(q.peek_nowait(), Ok((1, "a")));
    assert_eq!(q.len(), 2);
    assert_eq!(q.get(), (1, "a"));
}

#[test]
fn put_blocks_while_full_and_put_nowait_returns_the_item() {
    let q = Queue::with_maxsize(2);
    q.put(1);
    q.put(2);
    assert!(q.is_full());
    assert_eq!(q.put_nowait(3).unwrap_err().into_inner(), 3);
    let t = Instant::now();
    assert_eq!(q.put_timeout(3, Duration::from_millis(50)).unwrap_err().0, 3);
    assert_took(t.elapsed(), 50);
    let q2 = q.clone();
    let putter = rt::spawn(move || q2.put(3));
    rt::yield_now();
    assert!(!putter.is_finished(), "waits for room");
    assert_eq!(q.get(), 1);
    within(5, "putter", || putter.join().unwrap());
    assert_eq!((q.get(), q.get()), (2, 3));
}

#[test]
fn get_timeout_and_recv_timeout_expire_within_bounds() {
    let q = Queue::<u8>::new();
    let t = Instant::now();
    assert_eq!(q.get_timeout(Duration::from_millis(50)), Err(Empty));
    assert_took(t.elapsed(), 50);

    let (_tx, rx) = channel::<u8>();
    let t = Instant::now();
    assert_eq!(rx.recv_timeout(Duration::from_millis(50)), Err(RecvTimeoutError::Timeout));
    assert_took(t.elapsed(), 50);

    // From a green thread too, with the value arriving in time.
    let (tx, rx) = channel();
    let h = rt::spawn(move || {
        let t = Instant::now();
        let first = rx.recv_timeout(Duration::from_millis(50));
        let waited = t.elapsed();
        (first, waited, rx.recv_timeout(Duration::from_secs(5)))
    });
    rt::yield_now();
    let (first, waited, second) = {
        rt::sleep(Duration::from_millis(100));
        tx.send(7).unwrap();
        h.join().unwrap()
    };
    assert_eq!(first, Err(RecvTimeoutError::Timeout));
    assert_took(waited, 50);
    assert_eq!(second, Ok(7));
}

#[test]
fn a_killed_green_thread_blocked_on_get_does_not_lose_the_next_item() {
    let q = Queue::new();
    let q1 = q.clone();
    let victim = rt::spawn(move || q1.get());
    rt::yield_now();
    let q2 = q.clone();
    let survivor = rt::spawn(move || q2.get());
    rt::yield_now();
    q.put("item"); // wakes the victim, first in line …
    victim.kill(); // … which unwinds without taking it
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(within(5, "survivor", || survivor.join().unwrap()), "item");
}

#[test]
fn a_killed_green_thread_blocked_on_recv_does_not_lose_the_next_message() {
    let (tx, rx) = channel();
    let rx = Rc::new(rx); // two green threads of one hub share the receiver
    let r1 = rx.clone();
    let victim = rt::spawn_local(move || r1.recv());
    rt::yield_now();
    let r2 = rx.clone();
    let survivor = rt::spawn_local(move || r2.recv());
    rt::yield_now();
    tx.send(1).unwrap();
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(within(5, "survivor", || survivor.join().unwrap()), Ok(1));
}

#[test]
fn a_killed_green_thread_blocked_on_put_does_not_lose_the_free_slot() {
    let q = Queue::with_maxsize(1);
    q.put(0);
    let q1 = q.clone();
    let victim = rt::spawn(move || q1.put(1));
    rt::yield_now();
    let q2 = q.clone();
    let survivor = rt::spawn(move || q2.put(2));
    rt::yield_now();
    assert_eq!(q.get(), 0); // frees the slot, wakes the victim …
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    within(5, "survivor", || survivor.join().unwrap());
    assert_eq!(q.get(), 2);
}

#[test]
fn rendezvous_send_returns_only_once_a_receiver_took_the_value() {
    let (tx, rx) = sync_channel(0);
    let sent = Arc::new(AtomicBool::new(false));
    let s = sent.clone();
    let sender = rt::spawn(move || {
        tx.send("hello").unwrap();
        s.store(true, Ordering::SeqCst);
        tx
    });
    for _ in 0..5 {
        rt::yield_now();
    }
    assert!(!sent.load(Ordering::SeqCst), "no receiver yet: send still waits");
    assert_eq!(rx.recv(), Ok("hello"));
    let tx = within(5, "sender", || sender.join().unwrap());
    assert!(sent.load(Ordering::SeqCst));
    assert_eq!(tx.try_send("x"), Err(TrySendError::Full("x")), "no receiver waiting");
}

#[test]
fn rendezvous_try_send_succeeds_only_while_a_receiver_waits() {
    let (tx, rx) = sync_channel(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    let receiver = rt::spawn(move || rx.recv());
    while !rt::diag::dump().contains("channel recv") {
        rt::yield_now(); // until the receiver is parked in recv
    }
    assert_eq!(tx.try_send(2), Ok(()));
    assert_eq!(within(5, "receiver", || receiver.join().unwrap()), Ok(2));
}

#[test]
fn rendezvous_send_gets_its_value_back_when_the_receiver_leaves() {
    let (tx, rx) = sync_channel(0);
    let sender = rt::spawn(move || tx.send(String::from("lost?")));
    rt::yield_now();
    drop(rx);
    let err = within(5, "sender", || sender.join().unwrap()).unwrap_err();
    assert_eq!(err.0, "lost?");
}

#[test]
fn a_killed_rendezvous_sender_never_delivers_its_value() {
    let (tx, rx) = sync_channel(0);
    let sender = rt::spawn(move || tx.send(1));
    rt::yield_now();
    sender.kill();
    assert!(sender.join().unwrap_err().is_killed());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn disconnection_drains_then_fails_like_std() {
    let (tx, rx) = channel();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(rx.recv().is_err());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Disconnected));

    let (tx, rx) = sync_channel(1);
    drop(rx);
    assert_eq!(tx.send(5).unwrap_err().0, 5);
    assert_eq!(tx.try_send(6), Err(TrySendError::Disconnected(6)));
}

#[test]
fn a_blocked_receiver_wakes_when_the_last_sender_leaves() {
    let (tx, rx) = channel::<u8>();
    let receiver = rt::spawn(move || rx.recv());
    rt::yield_now();
    let tx2 = tx.clone();
    drop(tx);
    rt::yield_now();
    assert!(!receiver.is_finished(), "one sender is still alive");
    drop(tx2);
    assert!(within(5, "receiver", || receiver.join().unwrap()).is_err());
}

#[test]
fn a_plain_os_thread_sends_to_a_green_receiver_and_back() {
    let (to_green, rx) = channel();
    let (tx, from_green) = channel();
    let green = rt::spawn(move || {
        for v in rx.iter() {
            tx.send(v * 2).unwrap();
        }
    });
    let plain = std::thread::spawn(move || {
        // This OS thread runs no green code; its blocking recv parks it.
        (0..100u64)
            .map(|i| {
                to_green.send(i).unwrap();
                from_green.recv().unwrap()
            })
            .sum::<u64>()
    });
    let total = within(10, "plain thread", || {
        while !plain.is_finished() {
            rt::sleep(Duration::from_millis(1));
        }
        plain.join().unwrap()
    });
    assert_eq!(total, 2 * (0..100).sum::<u64>());
    within(5, "green", || green.join().unwrap());
}

#[test]
fn task_done_too_many_times_is_an_error_and_join_waits_for_every_item() {
    let q = Queue::new();
    assert_eq!(q.task_done(), Err(TaskDoneError));
    for i in 0..10 {
        q.put(i);
    }
    let q2 = q.clone();
    let worker = rt::spawn(move || {
        for _ in 0..10 {
            let _ = q2.get();
            rt::sleep(Duration::from_millis(1));
            q2.task_done().unwrap();
        }
    });
    assert!(!q.join_timeout(Duration::from_millis(1)), "not all done yet");
    within(5, "join", || q.join());
    assert_eq!(q.unfinished_tasks(), 0);
    worker.join().unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError));
}

#[test]
fn a_green_receiver_on_a_multi_hub_runtime_gets_messages_from_plain_threads() {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let (tx, rx) = sync_channel::<u32>(4);
    let receiver = runtime.spawn(move || rx.iter().sum::<u32>());
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || (0..1000).for_each(|i| tx.send(i).unwrap()))
        })
        .collect();
    drop(tx);
    senders.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(within(10, "receiver", || receiver.join().unwrap()), 4 * (0..1000).sum::<u32>());
}

#[test]
fn handles_are_send_and_sync_like_std() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<greenpatch_runtime::mpsc::Sender<u8>>();
    send_sync::<greenpatch_runtime::mpsc::SyncSender<u8>>();
    send::<greenpatch_runtime::mpsc::Receiver<u8>>();
    send_sync::<Queue<u8>>();
    send_sync::<LifoQueue<u8>>();
    send_sync::<PriorityQueue<u8>>();
    send_sync::<greenpatch_runtime::sync::Mutex<std::cell::Cell<u8>>>();
    send_sync::<greenpatch_runtime::sync::RwLock<u8>>();
    send_sync::<greenpatch_runtime::sync::Condvar>();
    send_sync::<greenpatch_runtime::sync::Semaphore>();
    send_sync::<greenpatch_runtime::sync::Event>();
    send_sync::<greenpatch_runtime::sync::Barrier>();
    send_sync::<greenpatch_runtime::sync::OnceLock<u8>>();
    send_sync::<greenpatch_runtime::sync::Local<std::cell::Cell<u8>>>();
}
