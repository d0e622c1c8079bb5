//! The `libc` patch module's persistent registrations: a descriptor a hook
//! waited on stays registered with its hub (edge-triggered) between waits.
//! These tests pin what that must never cost: a lost wake-up or a hang
//! when the descriptor is closed or replaced (by the hooked `close`/`dup2`
//! or behind the hooks' back, by a raw system call), or a stale wake-up
//! delivered to whatever file later takes the descriptor's number.
//!
//! The tests replace and close descriptor numbers on purpose, so they run
//! one at a time (a lock), each on a fresh OS thread with its own hub under
//! a watchdog: a lost wake-up shows up as a hang, and fails the test.

use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch_runtime as rt;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Patches, then runs `f` on a new OS thread (its own hub); fails if it
/// takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = patch_all(PatchAll::default()).expect("patch_all");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).expect("the scenario hung: a wake-up was lost")
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// A std stream over `fd` that does not close it when dropped.
fn borrowed(fd: RawFd) -> ManuallyDrop<TcpStream> {
    // SAFETY: `fd` is an open socket for as long as the stream is used;
    // `ManuallyDrop` keeps the stream from closing it.
    ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) })
}

/// Has a green thread read `fd` while nothing is there (so the read parks
/// and registers `fd` with the hub), then sends `peer` a message and checks
/// the reader gets it.
fn wait_once(fd: RawFd, peer: &TcpStream, msg: &'static [u8]) {
    let h = rt::spawn_local(move || {
        let mut buf = [0u8; 16];
        let n = (&*borrowed(fd)).read(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    rt::sleep(Duration::from_millis(30));
    (&*peer).write_all(msg).unwrap();
    assert_eq!(h.join().unwrap(), msg);
}

/// `dup3` straight to the kernel: replaces `new` behind the hooks' back.
fn raw_dup3(old: RawFd, new: RawFd) {
    // SAFETY: both are open descriptors of this test; dup3 closes `new`
    // and makes it name `old`'s file.
    let r = unsafe { libc::syscall(libc::SYS_dup3, old, new, libc::O_CLOEXEC) };
    assert_eq!(r, new as libc::c_long);
}

#[test]
fn a_number_reused_behind_the_hooks_back_registers_afresh_without_a_hang_or_stale_wake_up() {
    within(20, || {
        let (a, b) = tcp_pair();
        let fd = a.as_raw_fd();
        // `fd` gets its persistent registration (file A).
        wait_once(fd, &b, b"first");
        // A raw dup3 puts file C under the same number: the kernel drops
        // file A's registration when A closes, and the hub's table still
        // names `fd`. A wait now must not trust that entry.
        let (c, d) = tcp_pair();
        raw_dup3(c.as_raw_fd(), fd);
        drop(c);
        // The old peer's traffic goes nowhere now (A is closed).
        drop(b);
        let t = Instant::now();
        wait_once(fd, &d, b"second");
        assert!(t.elapsed() < Duration::from_secs(5));
        // And again: the new registration persists and works.
        wait_once(fd, &d, b"third");
        drop(a);
    });
}

#[test]
fn a_hooked_dup2_over_a_registered_descriptor_wakes_its_waiter_which_then_calls_on_the_new_file() {
    within(20, || {
        let (a, b) = tcp_pair();
        let fd = a.as_raw_fd();
        wait_once(fd, &b, b"first");
        // A green thread waits on `fd`; the root puts /dev/null under the
        // number with the (hooked) dup2. The waiter wakes and retries its
        // `recv` on what `fd` names now: not a socket, as the kernel says.
        let reader = rt::spawn_local(move || (&*borrowed(fd)).read(&mut [0u8; 16]).map_err(|e| e.raw_os_error()));
        rt::sleep(Duration::from_millis(30));
        let null = std::fs::File::open("/dev/null").unwrap();
        let t = Instant::now();
        // SAFETY: both descriptors are open; `fd` is `a`'s, replaced here.
        assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), fd) }, fd);
        assert_eq!(reader.join().unwrap(), Err(Some(libc::ENOTSOCK)));
        assert!(t.elapsed() < Duration::from_secs(5));
        drop((a, b));
    });
}

#[test]
fn closing_a_descriptor_a_green_thread_waits_on_wakes_it_with_ebadf() {
    within(20, || {
        let (a, b) = tcp_pair();
        let fd = ManuallyDrop::new(a).as_raw_fd();
        let reader = rt::spawn_local(move || (&*borrowed(fd)).read(&mut [0u8; 16]).map_err(|e| e.raw_os_error()));
        rt::sleep(Duration::from_millis(30));
        let t = Instant::now();
        // SAFETY: `fd` is open and owned by nothing else (ManuallyDrop).
        assert_eq!(unsafe { libc::close(fd) }, 0);
        assert_eq!(reader.join().unwrap(), Err(Some(libc::EBADF)));
        assert!(t.elapsed() < Duration::from_secs(5));
        drop(b);
    });
}

#[test]
fn a_descriptor_registered_by_a_hook_can_become_a_green_socket_on_the_same_hub() {
    within(20, || {
        let (a, b) = tcp_pair();
        wait_once(a.as_raw_fd(), &b, b"hooked");
        // The runtime registers the same descriptor as its own: the
        // hook's registration gives way instead of making that fail.
        let g = rt::net::TcpStream::from(a);
        let h = rt::spawn_local(move || {
            let mut buf = [0u8; 16];
            let n = (&g).read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        rt::sleep(Duration::from_millis(30));
        (&b).write_all(b"green").unwrap();
        assert_eq!(h.join().unwrap(), b"green");
    });
}
