//! std conformance of the facades: a representative set of the cases of
//! Rust std's own unit tests for `std::net`, `std::os::unix::net`,
//! `std::thread`, `std::sync` and `std::sync::mpsc`, rewritten against
//! greenpatch's facades, each run twice:
//!
//! - `<case>::unpatched` in this process, which never patches: the
//!   facades are std's objects (OS threads, blocking sockets);
//! - `<case>::patched` in a child process (this test binary, started again
//!   with only that test selected) that calls `patch_all()` first: the same
//!   code on green threads and green sockets. Patching is process-wide and
//!   one-way, hence the child; a child that hangs is killed and fails.
//!
//! Each case also checks that its objects have the flavor of the run
//! ([`expected`]), so a patched run that silently stayed blocking fails.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::queue::{channel, sync_channel, RecvTimeoutError, TryRecvError, TrySendError};
use greenpatch::socket::unix::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};
use greenpatch::socket::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use greenpatch::thread::{self, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use greenpatch::Flavor;

/// Set in the child that runs a `patched` case.
const CHILD: &str = "GREENPATCH_STD_CONFORMANCE_PATCHED";

/// The flavor the facades must give in this run.
fn expected() -> Flavor {
    if std::env::var_os(CHILD).is_some() {
        Flavor::Green
    } else {
        Flavor::Blocking
    }
}

/// Runs `case` patched: in the child, patch and run it; in the parent,
/// start the child for test `name` and require that it passed.
fn patched(name: &str, case: fn()) {
    if std::env::var_os(CHILD).is_some() {
        let _ = patch_all(PatchAll::default()).expect("patch_all");
        case();
        return;
    }
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.args([name, "--exact", "--test-threads=1", "--nocapture"]).env(CHILD, "1");
    let out = tests::run_bounded(cmd, 60, name);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed patched ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One module per case, with its `unpatched` and `patched` tests.
macro_rules! conformance {
    ($($(#[doc = $doc:literal])* fn $name:ident() $body:block)*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn case() $body

            #[test]
            fn unpatched() {
                if std::env::var_os(CHILD).is_some() {
                    return; // the child runs only the patched test
                }
                case();
            }

            #[test]
            fn patched() {
                super::patched(concat!(stringify!($name), "::patched"), case);
            }
        }
    )*};
}

fn sock_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("gp-conf-{tag}-{}-{:?}.sock", std::process::id(), expected()));
    let _ = std::fs::remove_file(&p);
    p
}

/// std's `Debug` of the socket behind `fd`, printed by a std object that
/// borrows the descriptor (never closes it).
fn std_debug<S: FromRawFd + std::fmt::Debug>(fd: &impl AsRawFd) -> String {
    // SAFETY: the descriptor stays open (owned by the facade object the
    // caller holds) for the life of `view`, which is never dropped.
    let view = ManuallyDrop::new(unsafe { S::from_raw_fd(fd.as_raw_fd()) });
    format!("{:?}", *view)
}

/// The facade's `Debug` is std's with `flavor` appended.
fn assert_debug_is_std<S: FromRawFd + std::fmt::Debug>(s: &(impl AsRawFd + std::fmt::Debug)) {
    let ours = format!("{s:?}");
    let std = std_debug::<S>(s);
    // std's Unix sockets print their descriptor as `FileDesc(OwnedFd { fd: N })`
    // (an internal wrapper type); the facades print the number, as std's
    // IP sockets do.
    let std = match (std.find("FileDesc(OwnedFd { fd: "), std.find(" })")) {
        (Some(a), Some(b)) => format!("{}{}{}", &std[..a], &std[a + 23..b], &std[b + 3..]),
        _ => std,
    };
    let with_flavor = format!("{}, flavor: {:?} }}", std.strip_suffix(" }").unwrap(), expected());
    assert_eq!(ours, with_flavor);
}

conformance! {
    /// std `net::tcp::tests::smoke_test_ip4` and `read_eof`.
    fn tcp_smoke_and_eof() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(l.flavor(), expected());
        let addr = l.local_addr().unwrap();
        let t = thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&[144]).unwrap();
        });
        let (mut s, _) = l.accept().unwrap();
        assert_eq!(s.flavor(), expected());
        let mut buf = [0];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(buf[0], 144);
        t.join().unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        assert_eq!(s.read(&mut buf).unwrap(), 0);
    }

    /// std `multiple_connect_serial` and `socket_and_peer_name`.
    fn tcp_serial_connects_and_names() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = thread::spawn(move || {
            for i in 0..10u8 {
                let mut s = TcpStream::connect(addr).unwrap();
                assert_eq!(s.peer_addr().unwrap(), addr);
                s.write_all(&[i]).unwrap();
            }
        });
        for (i, s) in l.incoming().take(10).enumerate() {
            let mut s = s.unwrap();
            assert_eq!(s.local_addr().unwrap(), addr);
            let mut b = [0];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0] as usize, i);
        }
        t.join().unwrap();
    }

    /// std `read_vectored` and `write_vectored` (TCP).
    fn tcp_vectored() {
        let (_l, mut c, mut s) = pair_tcp();
        let n = c.write_vectored(&[IoSlice::new(b"hello"), IoSlice::new(b" "), IoSlice::new(b"world!")]).unwrap();
        assert_eq!(n, 12);
        let (mut a, mut b, mut d) = ([0; 5], [0; 1], [0; 6]);
        let mut got = 0;
        while got < 12 {
            let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b), IoSliceMut::new(&mut d)];
            let m = s.read_vectored(&mut bufs).unwrap();
            assert!(m > 0);
            got += m;
            if got < 12 {
                // a partial read: finish byte-wise (rare on loopback)
                let mut rest = vec![0; 12 - got];
                s.read_exact(&mut rest).unwrap();
                got = 12;
            }
        }
        assert_eq!((&a, &b, &d), (b"hello", b" ", b"world!"));
    }

    /// std `double_bind`.
    fn tcp_double_bind_is_addr_in_use() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    /// std `tcp_clone_two_read` and `tcp_clone_smoke`.
    fn tcp_clone_read_write() {
        let (_l, mut c, s) = pair_tcp();
        let mut s2 = s.try_clone().unwrap();
        assert_eq!(s2.flavor(), expected());
        let reader = thread::spawn(move || {
            let mut b = [0];
            s2.read_exact(&mut b).unwrap();
            b[0]
        });
        c.write_all(&[7]).unwrap();
        assert_eq!(reader.join().unwrap(), 7);
        let mut s = s;
        s.write_all(&[9]).unwrap();
        let mut b = [0];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], 9);
    }

    /// std `shutdown_smoke` and `close_read_wakes_up`.
    fn tcp_shutdown_wakes_a_reader() {
        let (_l, c, s) = pair_tcp();
        let s2 = s.try_clone().unwrap();
        let reader = thread::spawn(move || {
            let mut s2 = s2;
            s2.read(&mut [0; 4]).unwrap()
        });
        thread::sleep(Duration::from_millis(50));
        s.shutdown(Shutdown::Read).unwrap();
        assert_eq!(reader.join().unwrap(), 0);
        c.shutdown(Shutdown::Write).unwrap();
        assert!((&c).write(&[0]).is_err());
    }

    /// std `debug` (TCP): std's fields, then the flavor.
    fn tcp_debug_is_std() {
        let (l, c, s) = pair_tcp();
        assert_debug_is_std::<std::net::TcpListener>(&l);
        assert_debug_is_std::<std::net::TcpStream>(&c);
        assert_debug_is_std::<std::net::TcpStream>(&s);
        let d = format!("{c:?}");
        assert!(d.contains(&format!("addr: {:?}", c.local_addr().unwrap())), "{d}");
        assert!(d.contains(&format!("peer: {:?}", l.local_addr().unwrap())), "{d}");
        assert!(d.contains(&format!("fd: {}", c.as_raw_fd())), "{d}");
    }

    /// std `timeouts`, `test_read_timeout`, `test_read_with_timeout`,
    /// `test_timeout_zero_duration`.
    fn tcp_timeouts() {
        let (_l, mut c, mut s) = pair_tcp();
        assert_eq!(c.read_timeout().unwrap(), None);
        // (the kernel keeps timeouts in ticks: whole seconds read back exactly)
        c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_secs(1)));
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let kind = c.read(&mut [0; 4]).unwrap_err().kind();
        assert!(kind == io::ErrorKind::WouldBlock || kind == io::ErrorKind::TimedOut, "{kind:?}");
        assert!(start.elapsed() >= Duration::from_millis(50));
        s.write_all(b"x").unwrap();
        assert_eq!(c.read(&mut [0; 4]).unwrap(), 1);
        assert_eq!(c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(c.set_write_timeout(Some(Duration::ZERO)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        c.set_read_timeout(None).unwrap();
        assert_eq!(c.read_timeout().unwrap(), None);
    }

    /// std `nodelay`, `ttl`, `set_nonblocking`, `peek`, `connect_timeout_valid`.
    fn tcp_options_peek_nonblocking() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        let (s, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_ttl(100).unwrap();
        assert_eq!(c.ttl().unwrap(), 100);
        l.set_nonblocking(true).unwrap();
        assert_eq!(l.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        s.set_nonblocking(true).unwrap();
        assert_eq!(s.peek(&mut [0; 4]).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        c.write_all(b"abc").unwrap();
        s.set_nonblocking(false).unwrap();
        let mut b = [0; 3];
        assert_eq!(s.peek(&mut b).unwrap(), 3);
        assert_eq!(&b, b"abc");
        assert_eq!((&s).read(&mut b).unwrap(), 3);
        assert!(s.take_error().unwrap().is_none());
    }

    /// std `udp::tests::socket_smoke_test_ip4`, `socket_name`, `socket_peer`,
    /// `connect_send_recv`, `peek_from`, `debug`.
    fn udp_smoke_names_peek_debug() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(a.flavor(), expected());
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.peer_addr().unwrap_err().kind(), io::ErrorKind::NotConnected);
        a.send_to(&[99], ba).unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.peek_from(&mut buf).unwrap(), (1, aa));
        assert_eq!(b.recv_from(&mut buf).unwrap(), (1, aa));
        assert_eq!(buf[0], 99);
        a.connect(ba).unwrap();
        assert_eq!(a.peer_addr().unwrap(), ba);
        a.send(b"xy").unwrap();
        assert_eq!(b.recv(&mut buf).unwrap(), 2);
        assert_debug_is_std::<std::net::UdpSocket>(&a);
        let d = format!("{b:?}");
        assert!(d.contains(&format!("addr: {ba:?}")), "{d}");
    }

    /// std `udp_clone_two_read` and `test_read_timeout` (UDP).
    fn udp_clone_and_timeout() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b2 = b.try_clone().unwrap();
        let ba = b.local_addr().unwrap();
        let t = thread::spawn(move || b2.recv(&mut [0; 8]).unwrap());
        a.send_to(b"12345", ba).unwrap();
        assert_eq!(t.join().unwrap(), 5);
        b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let kind = b.recv(&mut [0; 8]).unwrap_err().kind();
        assert!(kind == io::ErrorKind::WouldBlock || kind == io::ErrorKind::TimedOut, "{kind:?}");
    }

    /// std `unix::net::tests::basic`, `pair`, `try_clone`, `iter`.
    fn unix_stream_basics() {
        let path = sock_path("basic");
        let l = UnixListener::bind(&path).unwrap();
        assert_eq!(l.flavor(), expected());
        let p2 = path.clone();
        let t = thread::spawn(move || {
            for _ in 0..2 {
                let mut s = UnixStream::connect(&p2).unwrap();
                s.write_all(b"hello").unwrap();
            }
        });
        for s in (&l).into_iter().take(2) {
            let mut s = s.unwrap();
            let mut b = String::new();
            s.read_to_string(&mut b).unwrap();
            assert_eq!(b, "hello");
        }
        t.join().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut b2 = b.try_clone().unwrap();
        a.write_all(b"x").unwrap();
        let mut buf = [0];
        b2.read_exact(&mut buf).unwrap();
        assert_eq!(buf, *b"x");
        std::fs::remove_file(&path).unwrap();
    }

    /// std `vectored` (Unix): an owned stream forwards both vectored calls.
    fn unix_stream_vectored() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let n = a.write_vectored(&[IoSlice::new(b"hello"), IoSlice::new(b" "), IoSlice::new(b"world!")]).unwrap();
        assert_eq!(n, 12);
        let (mut x, mut y, mut z) = ([0; 5], [0; 1], [0; 6]);
        let m = b.read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y), IoSliceMut::new(&mut z)]).unwrap();
        assert_eq!(m, 12);
        assert_eq!((&x, &y, &z), (b"hello", b" ", b"world!"));
    }

    /// std `abstract_namespace` cases and the `*_addr` constructors.
    fn unix_abstract_namespace_and_addr_apis() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("gp-conf-abstract-{}-{:?}", std::process::id(), expected());
        let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
        let l = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(l.flavor(), expected());
        assert_eq!(l.local_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
        let mut c = UnixStream::connect_addr(&addr).unwrap();
        assert_eq!(c.flavor(), expected());
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");

        let dname = format!("{name}-dgram");
        let daddr = UnixAddr::from_abstract_name(dname.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&daddr).unwrap();
        assert_eq!(server.flavor(), expected());
        let client = UnixDatagram::unbound().unwrap();
        client.send_to_addr(b"one", &daddr).unwrap();
        client.connect_addr(&daddr).unwrap();
        client.send(b"two!").unwrap();
        assert_eq!(server.recv(&mut [0; 8]).unwrap(), 3);
        assert_eq!(server.recv(&mut [0; 8]).unwrap(), 4);

        let path = sock_path("addr");
        let paddr = UnixAddr::from_pathname(&path).unwrap();
        let pl = UnixListener::bind_addr(&paddr).unwrap();
        let _pc = UnixStream::connect_addr(&paddr).unwrap();
        let (_ps, from) = pl.accept().unwrap();
        assert!(from.is_unnamed());
        std::fs::remove_file(&path).unwrap();
    }

    /// std's Unix `Debug`: `fd`, `local`, `peer`, then the flavor.
    fn unix_debug_is_std() {
        let path = sock_path("debug");
        let l = UnixListener::bind(&path).unwrap();
        let c = UnixStream::connect(&path).unwrap();
        let (s, _) = l.accept().unwrap();
        assert_debug_is_std::<std::os::unix::net::UnixListener>(&l);
        assert_debug_is_std::<std::os::unix::net::UnixStream>(&c);
        assert_debug_is_std::<std::os::unix::net::UnixStream>(&s);
        let (d, _e) = UnixDatagram::pair().unwrap();
        assert_debug_is_std::<std::os::unix::net::UnixDatagram>(&d);
        let text = format!("{l:?}");
        assert!(text.contains(&format!("fd: {}", l.as_raw_fd())) && text.contains("local:"), "{text}");
        std::fs::remove_file(&path).unwrap();
    }

    /// std `test_unix_datagram`, `test_unnamed_unix_datagram`,
    /// `test_unix_datagram_timeout`.
    fn unix_datagram_basics() {
        let p1 = sock_path("d1");
        let p2 = sock_path("d2");
        let a = UnixDatagram::bind(&p1).unwrap();
        let b = UnixDatagram::bind(&p2).unwrap();
        a.send_to(b"hello world", &p2).unwrap();
        let mut buf = [0; 11];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(n, 11);
        assert_eq!(from.as_pathname(), Some(p1.as_path()));
        let u = UnixDatagram::unbound().unwrap();
        u.send_to(b"x", &p2).unwrap();
        assert!(b.recv_from(&mut buf).unwrap().1.is_unnamed());
        b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let kind = b.recv(&mut buf).unwrap_err().kind();
        assert!(kind == io::ErrorKind::WouldBlock || kind == io::ErrorKind::TimedOut, "{kind:?}");
        std::fs::remove_file(&p1).unwrap();
        std::fs::remove_file(&p2).unwrap();
    }

    /// std `thread::tests::test_named_thread`, `test_run_basic`,
    /// `test_join_panic`, `test_thread_id_equal`.
    fn thread_spawn_join_name_id() {
        let h = thread::Builder::new()
            .name("ada lovelace".into())
            .spawn(|| thread::current().name().map(str::to_owned))
            .unwrap();
        assert_eq!(h.thread().name(), Some("ada lovelace"));
        assert_eq!(h.join().unwrap().as_deref(), Some("ada lovelace"));
        assert_eq!(thread::spawn(|| 5).join().unwrap(), 5);
        let r = thread::spawn(|| panic!("expected panic")).join();
        assert!(r.is_err());
        let (me, again) = (thread::current().id(), thread::current().id());
        assert_eq!(me, again);
        let other = thread::spawn(|| thread::current().id()).join().unwrap();
        assert_ne!(me, other);
    }

    /// std `test_park_unpark_before`, `test_park_timeout_unpark_called_other_thread`.
    fn thread_park_unpark() {
        for _ in 0..10 {
            thread::current().unpark();
            thread::park();
        }
        let me = thread::current();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            me.unpark();
        });
        let start = Instant::now();
        thread::park_timeout(Duration::from_secs(30));
        assert!(start.elapsed() < Duration::from_secs(10));
        t.join().unwrap();
        let start = Instant::now();
        thread::park_timeout(Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20) || start.elapsed() > Duration::ZERO);
    }

    /// std's scoped threads (OS threads in both runs; see `thread` docs).
    fn thread_scope_borrows() {
        let mut a = vec![1, 2, 3];
        let mut x = 0;
        thread::scope(|s| {
            s.spawn(|| assert_eq!(a.len(), 3));
            s.spawn(|| x += a[0] + a[2]);
        });
        a.push(4);
        assert_eq!((x, a.len()), (4, 4));
    }

    /// std `sync::mutex::tests::smoke`, `lots_and_lots`, `try_lock`,
    /// `test_into_inner`, `test_get_mut`, `test_mutex_arc_poison`.
    fn mutex_conformance() {
        let m = Arc::new(Mutex::new(0u32));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..1000 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock().unwrap(), 4000);
        assert_eq!(m.flavor(), expected());
        let g = m.lock().unwrap();
        assert!(m.try_lock().is_err());
        drop(g);
        let m2 = m.clone();
        let _ = thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        assert!(m.lock().is_err());
        m.clear_poison();
        let mut owned = Mutex::new(vec![1]);
        owned.get_mut().unwrap().push(2);
        assert_eq!(owned.into_inner().unwrap(), [1, 2]);
    }

    /// std `rwlock::tests::frob`-style readers and writers, `test_rw_arc`.
    fn rwlock_conformance() {
        let l = Arc::new(RwLock::new(0usize));
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let l = l.clone();
                thread::spawn(move || {
                    for _ in 0..200 {
                        if i % 2 == 0 {
                            *l.write().unwrap() += 1;
                        } else {
                            let r = l.read().unwrap();
                            assert!(*r <= 600);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*l.read().unwrap(), 600);
        let r = l.read().unwrap();
        assert!(l.try_write().is_err());
        assert!(l.try_read().is_ok());
        assert_eq!(format!("{r}"), "600");
    }

    /// std `condvar::tests::notify_one`, `notify_all`, `wait_while`,
    /// `wait_timeout_wait`.
    fn condvar_conformance() {
        let pair = Arc::new((Mutex::new(0usize), Condvar::new()));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let pair = pair.clone();
                thread::spawn(move || {
                    let (m, c) = &*pair;
                    let g = c.wait_while(m.lock().unwrap(), |n| *n == 0).unwrap();
                    assert_eq!(*g, 1);
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        *pair.0.lock().unwrap() = 1;
        pair.1.notify_all();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let (m, c) = &*pair;
        let (g, r) = c.wait_timeout(m.lock().unwrap(), Duration::from_millis(10)).unwrap();
        assert!(r.timed_out());
        drop(g);
        let p2 = pair.clone();
        let t = thread::spawn(move || {
            *p2.0.lock().unwrap() = 2;
            p2.1.notify_one();
        });
        let (g, r) = c.wait_timeout_while(m.lock().unwrap(), Duration::from_secs(20), |n| *n != 2).unwrap();
        assert!(!r.timed_out());
        assert_eq!(*g, 2);
        drop(g);
        t.join().unwrap();
    }

    /// std `barrier::tests::test_barrier`: one leader per generation, and
    /// nobody passes before all arrived.
    fn barrier_conformance() {
        const N: usize = 10;
        let b = Arc::new(Barrier::new(N));
        let passed = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        for _ in 0..N - 1 {
            let (b, tx, passed) = (b.clone(), tx.clone(), passed.clone());
            thread::spawn(move || {
                let leader = b.wait().is_leader();
                passed.fetch_add(1, Ordering::SeqCst);
                tx.send(leader).unwrap();
            });
        }
        thread::sleep(Duration::from_millis(30));
        assert_eq!(passed.load(Ordering::SeqCst), 0, "passed before all arrived");
        let mut leaders = usize::from(b.wait().is_leader());
        for _ in 0..N - 1 {
            leaders += usize::from(rx.recv().unwrap());
        }
        assert_eq!(leaders, 1);
    }

    /// std `once::tests::smoke_once`, `stampede_once`, `poison_bad`,
    /// and `OnceLock`/`LazyLock` initialisation by one caller while the
    /// others wait.
    fn once_oncelock_lazylock() {
        static O: Once = Once::new();
        static CELL: OnceLock<usize> = OnceLock::new();
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        static LAZY: LazyLock<usize> = LazyLock::new(|| {
            RUNS.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(20));
            7
        });
        let mut n = 0;
        O.call_once(|| n += 1);
        O.call_once(|| n += 1);
        assert_eq!(n, 1);
        let hs: Vec<_> = (0..8)
            .map(|i| {
                thread::spawn(move || {
                    let v = *CELL.get_or_init(|| {
                        thread::sleep(Duration::from_millis(20)); // others arrive meanwhile
                        i
                    });
                    (v, *LAZY)
                })
            })
            .collect();
        let got: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(got.iter().all(|&(v, l)| v == got[0].0 && l == 7), "{got:?}");
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        assert_eq!(LazyLock::get(&LAZY), Some(&7));
        let once = Arc::new(Once::new());
        let o2 = once.clone();
        let w = thread::spawn(move || o2.wait());
        thread::sleep(Duration::from_millis(10));
        once.call_once(|| ());
        w.join().unwrap();
        let waiter = thread::spawn(|| {
            static LATE: OnceLock<u8> = OnceLock::new();
            let w = thread::spawn(|| *LATE.wait());
            thread::sleep(Duration::from_millis(10));
            LATE.set(3).unwrap();
            w.join().unwrap()
        });
        assert_eq!(waiter.join().unwrap(), 3);
        let bad = Once::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bad.call_once(|| panic!("poison"))));
        assert!(r.is_err());
        let mut forced = false;
        bad.call_once_force(|s| forced = s.is_poisoned());
        assert!(forced && bad.is_completed());
    }

    /// std `mpsc::tests::smoke`, `smoke_shared`, `smoke_threads`,
    /// `smoke_port_gone`, `drop_full`, `try_recv_states`, `recv_timeout`,
    /// `oneshot_single_thread_send_port_close`, `stress`.
    fn mpsc_conformance() {
        let (tx, rx) = channel::<i32>();
        assert_eq!(rx.flavor(), expected());
        tx.send(1).unwrap();
        assert_eq!(rx.recv().unwrap(), 1);
        let tx2 = tx.clone();
        tx2.send(2).unwrap();
        assert_eq!(rx.recv().unwrap(), 2);
        let t = thread::spawn(move || tx.send(3).unwrap());
        assert_eq!(rx.recv().unwrap(), 3);
        t.join().unwrap();
        drop(rx);
        assert!(tx2.send(4).is_err());

        let (tx, rx) = channel::<Box<i32>>();
        tx.send(Box::new(1)).unwrap();
        drop(rx); // drop_full: the buffered box is freed

        let (tx, rx) = sync_channel::<i32>(1);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.try_send(1).unwrap();
        assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
        assert_eq!(rx.try_recv(), Ok(1));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        let (tx, rx) = channel::<i32>();
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout));
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Disconnected));

        const AMT: usize = 10_000;
        const SENDERS: usize = 4;
        let (tx, rx) = channel::<usize>();
        let hs: Vec<_> = (0..SENDERS)
            .map(|_| {
                let tx = tx.clone();
                thread::spawn(move || (0..AMT).for_each(|i| tx.send(i).unwrap()))
            })
            .collect();
        drop(tx);
        let sum: usize = rx.iter().sum();
        assert_eq!(sum, SENDERS * (AMT * (AMT - 1) / 2));
        hs.into_iter().for_each(|h| h.join().unwrap());

        let (tx, rx) = sync_channel::<usize>(0);
        let t = thread::spawn(move || (0..100).for_each(|i| tx.send(i).unwrap()));
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        t.join().unwrap();
    }
}

fn pair_tcp() -> (TcpListener, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, peer): (TcpStream, SocketAddr) = l.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    (l, c, s)
}
