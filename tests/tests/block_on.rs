//! `block_on`: futures run from green threads park only their green thread,
//! are woken from other OS threads, and are dropped by kills and timeouts.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use tests::{ticker, within};

/// A future completed by a plain OS thread `after` its first poll, through
/// the waker it was given; it counts its drops in `dropped`.
struct Remote {
    state: Arc<(AtomicBool, Mutex<Option<Waker>>)>,
    after: Duration,
    started: bool,
    dropped: Arc<AtomicUsize>,
}

impl Remote {
    fn new(after: Duration, dropped: Arc<AtomicUsize>) -> Remote {
        Remote { state: Arc::new((AtomicBool::new(false), Mutex::new(None))), after, started: false, dropped }
    }
}

impl Future for Remote {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.state.0.load(Ordering::Acquire) {
            return Poll::Ready(7);
        }
        *self.state.1.lock().unwrap() = Some(cx.waker().clone());
        if !self.started {
            self.started = true;
            let (state, after) = (self.state.clone(), self.after);
            std::thread::spawn(move || {
                std::thread::sleep(after);
                state.0.store(true, Ordering::Release);
                if let Some(w) = state.1.lock().unwrap().take() {
                    w.wake();
                }
            });
        }
        Poll::Pending
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_future_woken_from_another_os_thread_parks_only_its_green_thread() {
    let stop = Arc::new(AtomicBool::new(false));
    let tick = ticker(stop.clone());
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let h = rt::spawn(move || rt::block_on(Remote::new(Duration::from_millis(200), d)).unwrap());
    let v = within(10, "block_on", || h.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    assert_eq!(v, 7);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    // The ticker kept running on the same hub while the future was pending.
    let worst = tick.join().unwrap();
    assert!(worst < Duration::from_millis(150), "the hub was held for {worst:?}");
}

#[test]
fn two_hundred_pending_futures_overlap() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let hs: Vec<_> = (0..200)
        .map(|_| {
            let d = dropped.clone();
            rt::spawn(move || rt::block_on(Remote::new(Duration::from_millis(100), d)).unwrap())
        })
        .collect();
    let sum: u32 = within(20, "200 block_on", || hs.into_iter().map(|h| h.join().unwrap()).sum());
    assert_eq!(sum, 7 * 200);
    // 200 × 100 ms one after the other would be 20 s.
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[test]
fn root_code_blocks_on_a_future() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let v = within(10, "root block_on", || rt::block_on(Remote::new(Duration::from_millis(20), dropped.clone())));
    assert_eq!(v.unwrap(), 7);
    assert_eq!(rt::block_on(async { 5 }).unwrap(), 5);
}

#[test]
fn a_kill_ends_the_wait_and_drops_the_future() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let h = rt::spawn(move || rt::block_on(Remote::new(Duration::from_secs(3600), d)).unwrap());
    rt::sleep(Duration::from_millis(30));
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "the future is pending");
    h.kill();
    let r = within(10, "killed block_on", || h.join());
    assert!(r.is_err(), "the green thread was killed");
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the future was dropped");
}

#[test]
fn a_timeout_scope_ends_the_wait_and_drops_the_future() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let h = rt::spawn(move || {
        let start = Instant::now();
        let r = rt::with_timeout(Duration::from_millis(50), || rt::block_on(Remote::new(Duration::from_secs(3600), d)));
        (r.is_err(), start.elapsed())
    });
    let (timed_out, took) = within(10, "block_on in a scope", || h.join().unwrap());
    assert!(timed_out);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn a_waker_kept_after_block_on_returned_does_not_unpark_the_green_thread() {
    let h = rt::spawn(|| {
        let (tx, rx) = mpsc::channel();
        rt::block_on(poll_fn(|cx| {
            tx.send(cx.waker().clone()).unwrap();
            Poll::Ready(())
        }))
        .unwrap();
        let late = rx.recv().unwrap();
        std::thread::spawn(move || late.wake()).join().unwrap();
        // Nothing else unparks this green thread: the park must time out.
        rt::park_until(Some(Instant::now() + Duration::from_millis(50)), rt::WaitOn::named("test")).unwrap()
    });
    let woke = within(10, "late waker", || h.join().unwrap());
    assert!(!woke, "a late wake reached a green thread whose block_on had returned");
}

#[test]
fn a_wake_during_poll_is_not_lost() {
    // The future wakes itself while being polled, then is ready on the
    // next poll: block_on must poll again instead of parking for good.
    let h = rt::spawn(|| {
        let mut polls = 0;
        rt::block_on(poll_fn(move |cx| {
            polls += 1;
            if polls < 1000 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        }))
        .unwrap()
    });
    assert_eq!(within(10, "self-waking future", || h.join().unwrap()), 1000);
}
