//! Tests named after the defects they pin: each one failed (or hung) on
//! code that had the defect, and keeps it from coming back. A new defect
//! gets its test here, named after what went wrong.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::net::{TcpListener, TcpStream};
use rt::queue::Queue;
use rt::sync::Mutex;
use tests::{loopback, within};

#[test]
fn a_reused_descriptor_number_gets_no_stale_wake_up() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // The kernel hands out the lowest free number, but the other tests of
    // this binary run in parallel and may take it first: retry until the
    // new connection has the old one's number.
    let (new, _p2) = (0..50)
        .find_map(|_| {
            let old = TcpStream::connect(addr).unwrap();
            let (mut peer, _) = l.accept().unwrap();
            // Register `old` (a timed-out wait), then make it readable and
            // close it with the data unread: its registration had an event
            // coming.
            old.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
            assert!((&old).read(&mut [0; 1]).is_err());
            peer.write_all(b"stale").unwrap();
            rt::sleep(Duration::from_millis(5));
            let old_fd = old.as_raw_fd();
            drop(old);
            let new = TcpStream::connect(addr).unwrap();
            let (p2, _) = l.accept().unwrap();
            (new.as_raw_fd() == old_fd).then_some((new, p2))
        })
        .expect("the kernel never reused the closed descriptor's number");
    new.set_read_timeout(Some(Duration::from_millis(60))).unwrap();
    let t = Instant::now();
    let err = (&new).read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() >= Duration::from_millis(60));
}

#[test]
fn dropping_a_clone_leaves_a_waiting_reader_working() {
    let (_l, c, mut s) = loopback();
    let reader = c.try_clone().unwrap();
    let h = rt::spawn(move || {
        let mut buf = [0; 5];
        (&reader).read_exact(&mut buf).map(|_| buf)
    });
    rt::sleep(Duration::from_millis(20));
    drop(c); // std semantics: the other descriptor keeps the socket open
    s.write_all(b"still").unwrap();
    assert_eq!(&h.join().unwrap().unwrap(), b"still");
}

#[test]
fn a_blocking_peek_does_not_swallow_a_getters_wake_up() {
    let q = Queue::new();
    let (q1, q2) = (q.clone(), q.clone());
    let peeker = rt::spawn(move || q1.peek());
    let getter = rt::spawn(move || q2.get());
    rt::yield_now();
    q.put(42);
    assert_eq!(within(5, "getter", || getter.join().unwrap()), 42);
    q.put(43); // in case the getter took 42 before the peeker looked
    let peeked = within(5, "peeker", || peeker.join().unwrap());
    assert!(peeked == 42 || peeked == 43);
    assert_eq!(q.get(), 43, "peeking took nothing");
}

#[test]
fn a_killed_waiter_that_was_not_yet_woken_leaves_the_line() {
    let m = Arc::new(Mutex::new(()));
    let guard = m.lock().unwrap();
    let m2 = m.clone();
    let victim = rt::spawn(move || drop(m2.lock().unwrap()));
    rt::yield_now();
    victim.kill(); // killed while still waiting, before any unlock
    assert!(victim.join().unwrap_err().is_killed());
    let m3 = m.clone();
    let survivor = rt::spawn(move || drop(m3.lock().unwrap()));
    rt::yield_now();
    drop(guard);
    within(5, "the survivor", || survivor.join().unwrap());
}
