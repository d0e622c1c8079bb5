//! The `libc` patch module, semantics: code that calls `std::net`,
//! `std::os::unix` and `std::thread::sleep` directly (not the facades)
//! blocks only its green thread after `patch_all()`, and each call answers
//! as the same call does on a plain OS thread.
//!
//! Every test patches (the state is process-wide; the unpatched cases are
//! in `libc_passthrough.rs`, a separate binary) and runs its scenario on a
//! fresh OS thread with its own hub, under a watchdog, so that a hook that
//! blocks its hub fails the test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use greenpatch::monkey::{get_original, is_module_patched, is_object_patched, patch_all, PatchAll};
use greenpatch_runtime as rt;

fn patch() {
    let _ = patch_all(PatchAll::default()).expect("patch_all");
    assert!(is_module_patched("libc"));
}

/// Runs `f` on a new OS thread (its own hub) and fails if it takes longer
/// than `secs`: a hook that blocks the hub shows up as a deadlock here.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    patch();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).expect("the scenario hung: a hook blocked its hub")
}

/// Runs `f` on a green thread of the calling thread's hub.
fn green<T: 'static>(f: impl FnOnce() -> T + 'static) -> T {
    rt::spawn_local(f).join().expect("green thread")
}

/// Runs `f` on a plain OS thread (no hub: every hook is the original).
fn os<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("os thread")
}

/// A connected TCP pair (std sockets, blocking).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// A green thread that ticks every 5 ms until `stop`; returns its ticks.
fn ticker(stop: Arc<AtomicBool>) -> rt::JoinHandle<usize> {
    rt::spawn_local(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            rt::sleep(Duration::from_millis(5));
            n += 1;
        }
        n
    })
}

/// Runs `f` on a green thread while a ticker runs beside it on the same
/// hub; returns `f`'s value and how many ticks the ticker made meanwhile.
fn green_with_ticker<T: 'static>(f: impl FnOnce() -> T + 'static) -> (T, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let t = ticker(stop.clone());
    let v = green(f);
    stop.store(true, Ordering::Relaxed);
    (v, t.join().unwrap())
}

fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are new and owned by the files made here.
    unsafe { (std::fs::File::from(OwnedFd::from_raw_fd(fds[0])), std::fs::File::from(OwnedFd::from_raw_fd(fds[1]))) }
}

// ------------------------------------------------------------ registry

#[test]
fn libc_is_a_builtin_module_patched_by_default_with_the_c_library_as_original() {
    patch();
    for item in ["recv", "send", "read", "write", "connect", "accept4", "poll", "clock_nanosleep", "getaddrinfo"] {
        assert!(is_object_patched("libc", item), "{item}");
    }
    type Recv = unsafe extern "C" fn(i32, *mut libc::c_void, usize, i32) -> isize;
    let original = get_original::<Recv>("libc", "recv").unwrap();
    // SAFETY: dlsym's answer for the C library's recv.
    let c_recv = unsafe { libc::dlsym(libc::RTLD_NEXT, c"recv".as_ptr()) };
    // From this binary, RTLD_NEXT of the test's own code finds the first
    // definition after the executable: the C library's.
    assert_eq!(original as usize, c_recv as usize);
    assert_ne!(original as usize, greenpatch_libc::Hook::Recv.hook_address() as usize);
}

// ------------------------------------------------ semantics vs OS thread

#[test]
fn a_nonblocking_socket_returns_would_block_as_on_an_os_thread() {
    within(20, || {
        let probe = |s: TcpStream| {
            s.set_nonblocking(true).unwrap();
            (&s).read(&mut [0; 8]).unwrap_err().kind()
        };
        let (a, _keep_a) = tcp_pair();
        let (b, _keep_b) = tcp_pair();
        let on_os = os(move || probe(a));
        let on_green = green(move || probe(b));
        assert_eq!(on_os, ErrorKind::WouldBlock);
        assert_eq!(on_green, on_os);
    });
}

#[test]
fn recv_flags_that_never_wait_answer_at_once_as_on_an_os_thread() {
    within(20, || {
        // MSG_OOB with no urgent data and MSG_ERRQUEUE with an empty error
        // queue answer at once even on a blocking socket.
        let probe = |(a, _b): (TcpStream, TcpStream)| {
            let mut buf = [0u8; 8];
            let mut answers = Vec::new();
            for flags in [libc::MSG_OOB, libc::MSG_ERRQUEUE, libc::MSG_DONTWAIT] {
                // SAFETY: a valid buffer.
                let r = unsafe { libc::recv(a.as_raw_fd(), buf.as_mut_ptr().cast(), 8, flags) };
                answers.push((r, std::io::Error::last_os_error().raw_os_error()));
            }
            answers
        };
        let p1 = tcp_pair();
        let p2 = tcp_pair();
        let on_os = os(move || probe(p1));
        assert!(on_os.iter().all(|&(r, _)| r == -1), "{on_os:?}");
        assert_eq!(green(move || probe(p2)), on_os);
    });
}

#[test]
fn so_rcvtimeo_expires_with_the_same_error_and_the_hub_keeps_running() {
    within(20, || {
        let probe = |s: TcpStream| {
            s.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
            let t = Instant::now();
            let e = (&s).read(&mut [0; 8]).unwrap_err();
            (e.kind(), t.elapsed())
        };
        let (a, _keep_a) = tcp_pair();
        let (b, _keep_b) = tcp_pair();
        let (os_kind, os_took) = os(move || probe(a));
        let ((green_kind, green_took), ticks) = green_with_ticker(move || probe(b));
        assert_eq!(os_kind, ErrorKind::WouldBlock);
        assert_eq!(green_kind, os_kind);
        assert!(os_took >= Duration::from_millis(140), "{os_took:?}");
        assert!(green_took >= Duration::from_millis(140), "{green_took:?}");
        assert!(ticks >= 5, "the hub was blocked during the green read: {ticks} ticks");
    });
}

#[test]
fn a_4_mib_write_all_through_a_blocking_std_stream_completes_to_a_slow_green_reader() {
    within(60, || {
        const LEN: usize = 4 << 20;
        let (mut w, mut r) = tcp_pair();
        let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 4096) as u8).collect();
        let expect = data.clone();
        let reader = rt::spawn_local(move || {
            let mut got = Vec::with_capacity(LEN);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // Slow: a hooked sleep between reads.
                std::thread::sleep(Duration::from_millis(1));
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break got;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        let writer = rt::spawn_local(move || {
            w.write_all(&data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        writer.join().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == expect, "the bytes differ");
    });
}

#[test]
fn a_partial_send_on_a_blocking_socket_sends_everything_as_the_kernel_does() {
    within(30, || {
        // One `send` of a buffer far larger than the socket buffers: the
        // blocking call returns the whole length (the kernel's contract),
        // on a green thread as on an OS thread.
        const LEN: usize = 8 << 20;
        let run_send = |w: TcpStream| {
            let buf = vec![1u8; LEN];
            // SAFETY: a valid buffer of LEN bytes.
            unsafe { libc::send(w.as_raw_fd(), buf.as_ptr().cast(), LEN, 0) }
        };
        let drain = |mut r: TcpStream| {
            let mut total = 0;
            let mut buf = vec![0u8; 1 << 16];
            while total < LEN {
                total += r.read(&mut buf).unwrap();
            }
            total
        };
        let (w, r) = tcp_pair();
        let d = std::thread::spawn(move || drain(r));
        assert_eq!(os(move || run_send(w)), LEN as isize);
        assert_eq!(d.join().unwrap(), LEN);

        let (w, r) = tcp_pair();
        let d = rt::spawn_local(move || drain(r));
        assert_eq!(green(move || run_send(w)), LEN as isize);
        assert_eq!(d.join().unwrap(), LEN);
    });
}

#[test]
fn zero_length_reads_and_end_of_stream_answer_as_on_an_os_thread() {
    within(20, || {
        // recv(2) of 0 bytes on TCP returns 0 once data is queued (it
        // waits for data before: the kernel's loop runs once); read(2) of 0
        // bytes on a pipe returns 0 at once; end of stream reads 0.
        let probe = |(mut a, mut b): (TcpStream, TcpStream)| {
            b.write_all(b"x").unwrap();
            let zero = a.read(&mut []).unwrap();
            let mut one = [0u8; 1];
            a.read_exact(&mut one).unwrap();
            drop(b);
            let eof = a.read(&mut [0; 8]).unwrap();
            let (mut r, _w) = pipe();
            let pipe_zero = r.read(&mut []).unwrap();
            (zero, one[0], eof, pipe_zero)
        };
        let p1 = tcp_pair();
        let p2 = tcp_pair();
        let on_os = os(move || probe(p1));
        let on_green = green(move || probe(p2));
        assert_eq!(on_os, (0, b'x', 0, 0));
        assert_eq!(on_green, on_os);
    });
}

#[test]
fn a_green_pipe_reader_waits_while_the_hub_runs_and_gets_what_a_later_writer_wrote() {
    within(20, || {
        let (mut r, mut w) = pipe();
        let writer = rt::spawn_local(move || {
            std::thread::sleep(Duration::from_millis(100));
            w.write_all(b"through the pipe").unwrap();
        });
        let ((n, buf), ticks) = green_with_ticker(move || {
            let mut buf = [0u8; 64];
            let n = r.read(&mut buf).unwrap();
            (n, buf)
        });
        writer.join().unwrap();
        assert_eq!(&buf[..n], b"through the pipe");
        assert!(ticks >= 5, "the pipe read blocked the hub: {ticks} ticks");
    });
}

#[test]
fn a_1_mib_blocking_pipe_write_completes_to_a_slow_green_reader_on_the_same_hub() {
    within(30, || {
        const LEN: usize = 1 << 20;
        let (mut r, mut w) = pipe();
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        let writer = rt::spawn_local(move || {
            w.write_all(&data).unwrap();
        });
        let got = green(move || {
            let mut got = Vec::with_capacity(LEN);
            let mut buf = vec![0u8; 8192];
            while got.len() < LEN {
                std::thread::sleep(Duration::from_micros(200));
                let n = r.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        writer.join().unwrap();
        assert!(got == expect, "the bytes differ");
    });
}

#[test]
fn regular_files_read_and_write_as_on_an_os_thread() {
    within(20, || {
        let dir = std::env::temp_dir();
        let probe = move |name: &str| {
            let path = dir.join(format!("greenpatch-libc-{}-{name}", std::process::id()));
            let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let back = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            back == data
        };
        let p2 = probe.clone();
        assert!(os(move || probe("os")));
        assert!(green(move || p2("green")));
    });
}

#[test]
fn poll_and_select_with_a_timeout_wait_green_and_report_readiness() {
    within(20, || {
        fn poll_one(fd: i32, ms: i32) -> (i32, i16) {
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            (r, p.revents)
        }
        fn select_one(fd: i32, ms: i64) -> (i32, bool) {
            // SAFETY: an all-zero fd_set is empty; FD_SET on a small fd.
            let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
            // SAFETY: `fd` < FD_SETSIZE.
            unsafe { libc::FD_SET(fd, &mut set) };
            let mut tv = libc::timeval { tv_sec: 0, tv_usec: (ms * 1000) as _ };
            // SAFETY: valid set and timeval.
            let r = unsafe { libc::select(fd + 1, &mut set, std::ptr::null_mut(), std::ptr::null_mut(), &mut tv) };
            // SAFETY: the set select filled.
            (r, unsafe { libc::FD_ISSET(fd, &set) })
        }
        // Timeouts: nothing ready, 0 after the timeout, as on an OS thread.
        let (a, _a2) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        assert_eq!(os(move || poll_one(fd, 50)), (0, 0));
        assert_eq!(os(move || select_one(fd, 50)), (0, false));
        let ((p, s), ticks) = green_with_ticker(move || (poll_one(fd, 100), select_one(fd, 100)));
        assert_eq!((p, s), ((0, 0), (0, false)));
        assert!(ticks >= 10, "poll/select blocked the hub: {ticks} ticks");

        // Readiness: a green writer wakes a green poller and a selector.
        let (b, mut b2) = UnixStream::pair().unwrap();
        let fd = b.as_raw_fd();
        let w = rt::spawn_local(move || {
            std::thread::sleep(Duration::from_millis(50));
            b2.write_all(b"x").unwrap();
            b2
        });
        let t = Instant::now();
        let polled = green(move || poll_one(fd, 5000));
        let selected = green(move || select_one(fd, 5000));
        assert_eq!(polled, (1, libc::POLLIN));
        assert_eq!(selected, (1, true));
        assert!(t.elapsed() < Duration::from_secs(4));
        drop(w.join().unwrap());
        drop(b);
    });
}

#[test]
fn std_thread_sleep_from_ten_green_threads_overlaps() {
    within(20, || {
        let t = Instant::now();
        let hs: Vec<_> = (0..10).map(|_| rt::spawn_local(|| std::thread::sleep(Duration::from_millis(200)))).collect();
        for h in hs {
            h.join().unwrap();
        }
        let took = t.elapsed();
        // Sum: 2 s. Max: 0.2 s.
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(1200), "the sleeps did not overlap: {took:?}");
    });
}

#[test]
fn the_c_sleep_family_and_epoll_wait_wait_green() {
    within(20, || {
        let t = Instant::now();
        let mut hs = Vec::new();
        for i in 0..4 {
            hs.push(rt::spawn_local(move || {
                // SAFETY: plain C sleeps and a timespec on our stack.
                unsafe {
                    match i {
                        0 => assert_eq!(libc::usleep(200_000), 0),
                        1 => {
                            let ts = libc::timespec { tv_sec: 0, tv_nsec: 200_000_000 };
                            assert_eq!(libc::nanosleep(&ts, std::ptr::null_mut()), 0);
                        }
                        2 => {
                            let ts = libc::timespec { tv_sec: 0, tv_nsec: 200_000_000 };
                            assert_eq!(libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()), 0);
                        }
                        _ => assert_eq!(libc::poll(std::ptr::null_mut(), 0, 200), 0),
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(195) && took < Duration::from_millis(700), "{took:?}");

        // epoll_wait with a timeout: a green wait on the epoll descriptor.
        let (r, mut w) = pipe();
        // SAFETY: a new epoll instance, watched and closed below.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0);
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 7 };
        // SAFETY: valid epoll, descriptor and event.
        assert_eq!(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, r.as_raw_fd(), &mut ev) }, 0);
        let writer = rt::spawn_local(move || {
            std::thread::sleep(Duration::from_millis(80));
            w.write_all(b"e").unwrap();
            w
        });
        let (got, ticks) = green_with_ticker(move || {
            let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
            // SAFETY: room for 4 events.
            let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 4, 5000) };
            (n, out[0].u64)
        });
        drop(writer.join().unwrap());
        // SAFETY: ours, closed once.
        unsafe { libc::close(ep) };
        assert_eq!(got, (1, 7));
        assert!(ticks >= 5, "epoll_wait blocked the hub: {ticks} ticks");
    });
}

#[test]
fn accept_with_so_rcvtimeo_and_recv_with_msg_waitall_answer_as_on_an_os_thread() {
    within(20, || {
        let accept_timeout = || {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
            // SAFETY: a valid timeval for SO_RCVTIMEO.
            let r = unsafe {
                libc::setsockopt(
                    l.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&raw const tv).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0);
            let t = Instant::now();
            let kind = l.accept().unwrap_err().kind();
            (kind, t.elapsed() >= Duration::from_millis(95))
        };
        let on_os = os(accept_timeout);
        assert_eq!(on_os, (ErrorKind::WouldBlock, true));
        assert_eq!(green(accept_timeout), on_os);

        let waitall = |(a, b): (TcpStream, TcpStream)| {
            let w = std::thread::spawn(move || {
                (&b).write_all(b"12345").unwrap();
                std::thread::sleep(Duration::from_millis(60));
                (&b).write_all(b"67890").unwrap();
                b
            });
            let mut buf = [0u8; 10];
            // SAFETY: a valid 10-byte buffer.
            let n = unsafe { libc::recv(a.as_raw_fd(), buf.as_mut_ptr().cast(), 10, libc::MSG_WAITALL) };
            drop(w.join().unwrap());
            (n, buf)
        };
        let p1 = tcp_pair();
        let p2 = tcp_pair();
        let on_os = os(move || waitall(p1));
        assert_eq!(on_os, (10, *b"1234567890"));
        assert_eq!(green(move || waitall(p2)), on_os);
    });
}

#[test]
fn connect_to_a_refused_port_is_connection_refused_as_on_an_os_thread() {
    within(20, || {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let probe = move || TcpStream::connect(("127.0.0.1", port)).unwrap_err().kind();
        assert_eq!(os(probe), ErrorKind::ConnectionRefused);
        assert_eq!(green(probe), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn connect_timeout_and_accept_wait_green() {
    within(20, || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let acceptor = rt::spawn_local(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            buf
        });
        let ((), ticks) = green_with_ticker(move || {
            std::thread::sleep(Duration::from_millis(60));
            let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
            c.write_all(b"hello").unwrap();
        });
        assert_eq!(&acceptor.join().unwrap(), b"hello");
        assert!(ticks >= 5, "{ticks} ticks");
    });
}

#[test]
fn a_unix_connect_to_a_full_backlog_waits_green_until_the_server_accepts() {
    within(20, || {
        use std::os::unix::net::UnixListener;
        let path = std::env::temp_dir().join(format!("greenpatch-libc-backlog-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        // SAFETY: re-listen with a backlog of 0: one pending connection fits.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let first = UnixStream::connect(&path).unwrap();
        // The backlog is full now: a non-blocking connect says EAGAIN.
        // SAFETY: a new socket, closed below; a valid sockaddr_un.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
            assert!(fd >= 0);
            let mut sa: libc::sockaddr_un = std::mem::zeroed();
            sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in sa.sun_path.iter_mut().zip(path.to_str().unwrap().bytes()) {
                *d = s as libc::c_char;
            }
            let r =
                libc::connect(fd, (&raw const sa).cast(), std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t);
            let e = std::io::Error::last_os_error().raw_os_error();
            libc::close(fd);
            assert_eq!((r, e), (-1, Some(libc::EAGAIN)), "the backlog is not full: the test proves nothing");
        }
        let p = path.clone();
        let server = rt::spawn_local(move || {
            std::thread::sleep(Duration::from_millis(100));
            let a = listener.accept().unwrap().0;
            let b = listener.accept().unwrap().0;
            (a, b)
        });
        let (second, ticks) = green_with_ticker(move || UnixStream::connect(&p));
        let second = second.expect("the second connect completes once the server accepts");
        let _conns = server.join().unwrap();
        assert!(ticks >= 5, "the connect blocked the hub: {ticks} ticks");
        drop((first, second));
        let _ = std::fs::remove_file(&path);
    });
}

#[test]
fn getaddrinfo_runs_off_the_hub_and_answers_as_on_an_os_thread() {
    within(30, || {
        let probe = || {
            let mut v: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().map(|a| a.ip()).collect();
            v.sort();
            v.dedup();
            v
        };
        let on_os = os(probe);
        let on_green = green(probe);
        assert!(on_os.iter().any(|ip| ip.is_loopback()), "{on_os:?}");
        assert_eq!(on_green, on_os);
    });
}

#[test]
fn errno_is_what_the_original_leaves_after_a_call_that_waited() {
    within(20, || {
        let probe = |(mut a, b): (TcpStream, TcpStream)| {
            let w = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                (&b).write_all(b"z").unwrap();
                b
            });
            // SAFETY: the calling thread's errno slot.
            unsafe { *libc::__errno_location() = 4242 };
            let mut buf = [0u8; 1];
            // SAFETY: a valid buffer.
            let n = unsafe { libc::recv(a.as_raw_fd(), buf.as_mut_ptr().cast(), 1, 0) };
            // SAFETY: as above.
            let e = unsafe { *libc::__errno_location() };
            let _ = a.flush();
            drop(w.join().unwrap());
            (n, e)
        };
        let p1 = tcp_pair();
        let p2 = tcp_pair();
        assert_eq!(os(move || probe(p1)), (1, 4242));
        assert_eq!(green(move || probe(p2)), (1, 4242));
    });
}

// ------------------------------------------------------- kill and timeout

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_kill_while_parked_in_a_hook_fails_the_call_and_lands_at_the_next_rust_park() {
    within(20, || {
        let (a, _b) = tcp_pair();
        let dropped = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Option<std::io::Error>>> = Arc::new(Mutex::new(None));
        let (d, s) = (dropped.clone(), seen.clone());
        let h = rt::spawn_local(move || {
            let _guard = SetOnDrop(d);
            let r = (&a).read(&mut [0u8; 8]);
            *s.lock().unwrap() = r.err();
            // The next park from Rust code: the kill lands here.
            rt::sleep(Duration::from_secs(30));
            unreachable!("the kill did not land at the next park");
        });
        rt::sleep(Duration::from_millis(50));
        h.kill();
        let r = h.join();
        assert!(matches!(r, Err(rt::JoinError::Killed)), "{r:?}");
        assert!(dropped.load(Ordering::SeqCst), "destructors did not run");
        let e = seen.lock().unwrap().take().expect("the read returned an error");
        assert_eq!(e.raw_os_error(), Some(greenpatch_libc::KILLED));
    });
}

#[test]
fn a_reused_descriptor_number_gets_no_wake_up_meant_for_its_old_wait() {
    within(20, || {
        // A green reader parked on a pipe is killed; the pipe is closed and
        // a new one takes the same numbers; a poll on the new one sees its
        // own (empty) pipe, not the old wait.
        let (r1, w1) = pipe();
        let old_fd = r1.as_raw_fd();
        let h = rt::spawn_local(move || {
            let mut r1 = r1;
            let res = r1.read(&mut [0u8; 4]);
            assert_eq!(res.unwrap_err().raw_os_error(), Some(greenpatch_libc::KILLED));
            rt::sleep(Duration::from_secs(30));
        });
        rt::sleep(Duration::from_millis(30));
        h.kill();
        assert!(matches!(h.join(), Err(rt::JoinError::Killed)));
        drop(w1);
        let (r2, w2) = pipe();
        let new_fd = r2.as_raw_fd();
        let t = Instant::now();
        let polled = green(move || {
            let mut p = libc::pollfd { fd: new_fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut p, 1, 120) };
            (n, p.revents)
        });
        assert_eq!(polled, (0, 0), "old fd {old_fd}, new fd {new_fd}");
        assert!(t.elapsed() >= Duration::from_millis(110));
        drop((r2, w2));
    });
}

#[test]
fn a_timeout_scope_fails_a_hooked_call_and_fires_at_the_next_rust_park() {
    within(20, || {
        let (a, _b) = tcp_pair();
        let seen: Arc<Mutex<Option<std::io::Error>>> = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let r = green(move || {
            rt::with_timeout(Duration::from_millis(80), || {
                let r = (&a).read(&mut [0u8; 8]);
                *s.lock().unwrap() = r.err();
                rt::sleep(Duration::from_secs(30));
            })
        });
        assert!(r.is_err(), "the scope did not fire");
        let e = seen.lock().unwrap().take().expect("the read returned an error");
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert_eq!(e.raw_os_error(), Some(greenpatch_libc::TIMED_OUT));
    });
}

#[test]
fn root_code_of_a_thread_with_a_hub_waits_green_and_its_green_threads_keep_running() {
    within(20, || {
        // This thread has a hub (the ticker is one of its green threads);
        // its root code then blocks in std's read: the wait drives the hub.
        let stop = Arc::new(AtomicBool::new(false));
        let t = ticker(stop.clone());
        let (mut a, b) = tcp_pair();
        let w = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            (&b).write_all(b"late").unwrap();
            b
        });
        let mut buf = [0u8; 4];
        a.read_exact(&mut buf).unwrap();
        stop.store(true, Ordering::Relaxed);
        let ticks = t.join().unwrap();
        drop(w.join().unwrap());
        assert_eq!(&buf, b"late");
        assert!(ticks >= 10, "the root's read blocked the hub: {ticks} ticks");
    });
}

// ----------------------------------------------------------- pass-through

#[test]
fn on_an_os_thread_without_a_hub_hooks_pass_through_and_create_no_hub() {
    patch();
    os(|| {
        let (a, _b) = tcp_pair();
        a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        assert_eq!((&a).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
        std::thread::sleep(Duration::from_millis(1));
        // No hub was made: code here still may not park.
        assert!(!rt::foreign::may_park());
    });
}

#[test]
fn wakeups_through_the_hub_loop_and_from_other_threads_still_work() {
    within(20, || {
        // A green thread parks; a plain OS thread wakes it (the hub's
        // reactor waker: an eventfd write/read through the hooked symbols).
        let (tx, rx) = mpsc::channel();
        let h = rt::spawn_local(move || {
            tx.send(rt::current().unparker()).unwrap();
            rt::park().unwrap();
            7
        });
        rt::yield_now();
        let u = rx.recv().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            u.unpark();
        });
        assert_eq!(h.join().unwrap(), 7);

        // And across hubs, from green code on each side.
        let rtm = rt::Runtime::builder().hubs(2).build().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let c = count.clone();
                rtm.spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    c.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 20);
    });
}

#[test]
fn a_green_stack_overflow_is_still_reported_from_the_signal_handler_after_patching() {
    // The fault handler writes its report with `write`, which is hooked: it
    // must pass straight through (a signal handler never parks).
    use std::os::unix::process::ExitStatusExt;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gp-child")).arg("overflow-patched").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "status {:?}, stderr: {stderr}", out.status);
    assert!(stderr.contains("'deep-recursion' overflowed its 65536-byte stack"), "stderr: {stderr}");
}

#[test]
fn println_from_green_threads_works() {
    within(20, || {
        let hs: Vec<_> = (0..20).map(|i| rt::spawn_local(move || println!("green thread {i} prints"))).collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

// ---------------------------------------------------------- concurrency

#[test]
fn eight_blocking_std_clients_on_one_hub_take_the_time_of_one() {
    within(30, || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // The server: an OS thread per connection, answering after 300 ms.
        std::thread::spawn(move || {
            for s in l.incoming().take(8) {
                let mut s = s.unwrap();
                std::thread::spawn(move || {
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).unwrap();
                    std::thread::sleep(Duration::from_millis(300));
                    s.write_all(&[b[0] + 1]).unwrap();
                });
            }
        });
        let t = Instant::now();
        let hs: Vec<_> = (0..8u8)
            .map(|i| {
                rt::spawn_local(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.write_all(&[i]).unwrap();
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).unwrap();
                    b[0]
                })
            })
            .collect();
        let got: Vec<u8> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        let took = t.elapsed();
        assert_eq!(got, (1..=8).collect::<Vec<u8>>());
        // Sum: 2.4 s. Max: 0.3 s.
        assert!(took < Duration::from_millis(1500), "the calls did not overlap: {took:?}");
    });
}

/// A loop over hooked calls that never wait (a non-blocking `recv` that
/// says `EAGAIN`, retried until another green thread sets a flag) spends
/// the cooperative budget, so the other green thread gets to run. Before
/// the hooks spent it, the loop held the hub for good (the watchdog fired).
#[test]
fn a_loop_of_hooked_calls_that_never_wait_lets_the_others_run() {
    within(20, || {
        let (c, _s) = tcp_pair();
        c.set_nonblocking(true).unwrap();
        let flag = Rc::new(std::cell::Cell::new(false));
        let f = flag.clone();
        // The spinner is queued first, so it runs first and the setter can
        // only run if the spinner's hooked calls yield.
        let spinner = rt::spawn_local(move || {
            let mut spins = 0u64;
            let mut buf = [0u8; 8];
            while !flag.get() {
                assert_eq!((&c).read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
                spins += 1;
            }
            spins
        });
        let setter = rt::spawn_local(move || f.set(true));
        let spins = spinner.join().unwrap();
        setter.join().unwrap();
        assert!(spins > 0);
    });
}

// ------------------------------------- what the caller wanted, cached
//
// The hooks cache per descriptor what its caller asked for (O_NONBLOCK,
// SO_RCVTIMEO/SO_SNDTIMEO, socket type), kept exact by the hooked calls
// that change it, and read blocking TCP streams with the short-read rule.
// Each scenario first uses the descriptor green (so its state is cached,
// the hub holds a registration of it, and a short read left it known
// drained), then changes what the caller wants, then checks the next call
// answers as the kernel would.

/// Has a green thread read `a` while nothing is there (so the read parks:
/// the descriptor's state is cached and the hub registers it), then `b`
/// writes 3 bytes: a short read. Returns what was read.
fn used_green(a: &TcpStream, b: &TcpStream) -> Vec<u8> {
    let fd = a.as_raw_fd();
    let reader = rt::spawn_local(move || {
        let mut buf = [0u8; 16];
        // SAFETY: `fd` stays open (the caller holds `a`); a valid buffer.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        buf[..n.max(0) as usize].to_vec()
    });
    rt::sleep(Duration::from_millis(20));
    (&*b).write_all(b"abc").unwrap();
    reader.join().unwrap()
}

/// Reads `fd` on a green thread that must not park: a second green thread,
/// which can only run if the read parks, sends `peer` bytes that would
/// turn a parked read into a successful one. Returns the read's result.
fn read_must_not_park(fd: i32, peer: TcpStream) -> Result<usize, ErrorKind> {
    let parked = Rc::new(std::cell::Cell::new(false));
    let p = parked.clone();
    let reader = rt::spawn_local(move || {
        let mut buf = [0u8; 16];
        // SAFETY: `fd` stays open (the caller holds its stream).
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            Err(std::io::Error::last_os_error().kind())
        } else {
            Ok(n as usize)
        }
    });
    let other = rt::spawn_local(move || {
        p.set(true);
        (&peer).write_all(b"late").unwrap();
        peer
    });
    let r = reader.join().unwrap();
    let _peer = other.join().unwrap();
    assert!(!parked.get() || r.is_err(), "the read parked: {r:?}");
    r
}

#[test]
fn a_short_read_of_a_blocking_std_tcp_stream_leaves_it_known_drained_until_new_data() {
    within(20, || {
        let (a, b) = tcp_pair();
        let fd = a.as_raw_fd();
        assert_eq!(used_green(&a, &b), b"abc");
        // The short read emptied the queue: the hub knows, so the next read
        // waits first (no recv that would only say EAGAIN) and wakes on the
        // edge of the next write.
        assert!(rt::foreign::read_known_drained(fd), "the short-read rule was not applied");
        let writer = rt::spawn_local(move || {
            rt::sleep(Duration::from_millis(10));
            (&b).write_all(&[7u8; 40]).unwrap();
            b
        });
        let mut buf = [0u8; 16];
        let got = green(move || {
            let n = (&a).read(&mut buf).unwrap();
            (a, n)
        });
        let (a, n) = got;
        assert_eq!(n, 16);
        // A read that filled the buffer says nothing about what is left.
        assert!(!rt::foreign::read_known_drained(fd));
        let _b = writer.join().unwrap();
        let rest = green(move || {
            let mut buf = [0u8; 64];
            let mut got = 0;
            while got < 24 {
                got += (&a).read(&mut buf).unwrap();
            }
            got
        });
        assert_eq!(rest, 24);
    });
}

#[test]
fn end_of_stream_eaten_by_a_short_read_still_ends_the_stream() {
    within(20, || {
        let (a, b) = tcp_pair();
        let fd = a.as_raw_fd();
        assert_eq!(used_green(&a, &b), b"abc");
        (&b).write_all(b"xyz").unwrap();
        drop(b);
        // Let the hub poll: it sees readable + read-closed before the read.
        rt::sleep(Duration::from_millis(20));
        let (n, known, eof) = green(move || {
            let mut buf = [0u8; 16];
            let n = (&a).read(&mut buf).unwrap();
            // The FIN came with the last bytes: no edge follows it, so the
            // rule must not hold the next read back.
            let known = rt::foreign::read_known_drained(fd);
            let eof = (&a).read(&mut buf).unwrap();
            (n, known, eof)
        });
        assert_eq!(n, 3, "the last bytes, and the FIN with them");
        assert!(!known, "a read-closed stream was left known drained");
        assert_eq!(eof, 0);
    });
}

#[test]
fn o_nonblocking_set_with_fcntl_after_green_use_returns_would_block_at_once() {
    within(20, || {
        let (a, b) = tcp_pair();
        assert_eq!(used_green(&a, &b), b"abc");
        let fd = a.as_raw_fd();
        // SAFETY: F_GETFL/F_SETFL on an open descriptor.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK), 0);
        }
        assert_eq!(read_must_not_park(fd, b), Err(ErrorKind::WouldBlock));
        // And back: blocking again, the read waits for the bytes.
        // SAFETY: as above.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK), 0);
        }
        let n = green(move || (&a).read(&mut [0u8; 16]).unwrap());
        assert_eq!(n, 4, "the bytes the second green thread sent");
    });
}

#[test]
fn fionbio_after_green_use_returns_would_block_at_once() {
    within(20, || {
        let (a, b) = tcp_pair();
        assert_eq!(used_green(&a, &b), b"abc");
        // std's set_nonblocking is ioctl(FIONBIO) on Linux.
        a.set_nonblocking(true).unwrap();
        assert_eq!(read_must_not_park(a.as_raw_fd(), b), Err(ErrorKind::WouldBlock));
        let mut on = 0i32;
        // SAFETY: FIONBIO with a valid int.
        assert_eq!(unsafe { libc::ioctl(a.as_raw_fd(), libc::FIONBIO, &mut on) }, 0);
        assert_eq!(green(move || (&a).read(&mut [0u8; 16]).unwrap()), 4);
    });
}

#[test]
fn so_rcvtimeo_set_after_green_use_expires_as_on_an_os_thread() {
    within(20, || {
        let probe = |(a, b): (TcpStream, TcpStream), green_use: bool| {
            if green_use {
                assert_eq!(used_green(&a, &b), b"abc");
            }
            a.set_read_timeout(Some(Duration::from_millis(60))).unwrap();
            let e = (&a).read(&mut [0; 8]).unwrap_err().kind();
            a.set_write_timeout(Some(Duration::from_millis(60))).unwrap();
            (e, b)
        };
        let p1 = tcp_pair();
        let p2 = tcp_pair();
        let (on_os, _b1) = os(move || probe(p1, false));
        // The hub itself (root code) made the green use; the read is green.
        let (on_green, _b2) = green(move || probe(p2, true));
        assert_eq!(on_os, ErrorKind::WouldBlock);
        assert_eq!(on_green, on_os);
    });
}

#[test]
fn a_duplicate_made_non_blocking_makes_the_original_non_blocking_too() {
    within(20, || {
        // try_clone is fcntl(F_DUPFD_CLOEXEC); both numbers share one open
        // file description, and so O_NONBLOCK.
        let (a, b) = tcp_pair();
        assert_eq!(used_green(&a, &b), b"abc");
        let dup = a.try_clone().unwrap();
        dup.set_nonblocking(true).unwrap();
        assert_eq!(read_must_not_park(a.as_raw_fd(), b), Err(ErrorKind::WouldBlock));

        // dup(2) itself, and a flag set through the original this time.
        let (c, d) = tcp_pair();
        assert_eq!(used_green(&c, &d), b"abc");
        // SAFETY: dup of an open descriptor; the new one is owned below.
        let raw = unsafe { libc::dup(c.as_raw_fd()) };
        assert!(raw >= 0);
        // SAFETY: `raw` is a new descriptor owned by nothing else.
        let c2 = unsafe { TcpStream::from_raw_fd(raw) };
        assert_eq!(used_green(&c2, &d), b"abc");
        c.set_nonblocking(true).unwrap();
        assert_eq!(read_must_not_park(c2.as_raw_fd(), d), Err(ErrorKind::WouldBlock));
    });
}

#[test]
fn a_closed_number_reused_by_another_kind_of_descriptor_behaves_as_the_new_one() {
    within(30, || {
        // A number cached as a blocking TCP stream, closed through the
        // hooks, then taken by a descriptor made without any hooked call
        // (socket(2), pipe2(2) and open(2) are not hooked): each must
        // answer as the new object does on an OS thread. Other tests make
        // descriptors meanwhile, so the scenario retries until the number
        // is reused.
        let reuse = |make: &dyn Fn() -> i32| -> i32 {
            for _ in 0..200 {
                let (a, b) = tcp_pair();
                assert_eq!(used_green(&a, &b), b"abc");
                let fd = a.as_raw_fd();
                drop(a);
                // Numbers are handed out lowest first, and lower ones (the
                // pair's listener) may be free too: take numbers until `fd`
                // comes back, then give the others back.
                let mut taken = Vec::new();
                let mut hit = None;
                while taken.len() < 64 {
                    let new = make();
                    if new < 0 {
                        break;
                    }
                    if new == fd {
                        hit = Some(new);
                        break;
                    }
                    taken.push(new);
                }
                for other in taken {
                    // SAFETY: `other` is ours.
                    unsafe { libc::close(other) };
                }
                if let Some(new) = hit {
                    return new;
                }
            }
            panic!("the descriptor number was never reused");
        };
        let answer = |fd: i32| -> (isize, Option<i32>) {
            let mut buf = [0u8; 16];
            // SAFETY: a valid buffer; `fd` is open.
            let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            (r, (r < 0).then(|| std::io::Error::last_os_error().raw_os_error()).flatten())
        };
        // A non-blocking UDP socket: EAGAIN at once (a stale "blocking TCP"
        // would park forever: the watchdog).
        // SAFETY: socket(2) with constant arguments.
        let udp = || unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0) };
        let fd = reuse(&udp);
        let on_green = green(move || answer(fd));
        let other = udp();
        let on_os = os(move || answer(other));
        assert_eq!(on_green, (-1, Some(libc::EAGAIN)));
        assert_eq!(on_green, on_os);
        // SAFETY: both ours.
        unsafe { (libc::close(fd), libc::close(other)) };

        // A non-blocking pipe: EAGAIN at once, as the pipe says.
        let pipe_nb = || {
            let mut p = [0; 2];
            // SAFETY: room for two descriptors.
            assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }, 0);
            // The write end is kept open (never closed: a few bytes of the test).
            p[0]
        };
        let fd = reuse(&pipe_nb);
        let on_green = green(move || answer(fd));
        let other = pipe_nb();
        let on_os = os(move || answer(other));
        assert_eq!(on_green, (-1, Some(libc::EAGAIN)));
        assert_eq!(on_green, on_os);

        // A regular file: its bytes.
        let path = std::env::temp_dir().join(format!("greenpatch-libc-reuse-{}", std::process::id()));
        std::fs::write(&path, b"file bytes").unwrap();
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        let open = || unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        let fd = reuse(&open);
        let on_green = green(move || answer(fd));
        let other = open();
        let on_os = os(move || answer(other));
        assert_eq!(on_green, (10, None));
        assert_eq!(on_green, on_os);
        // SAFETY: both ours.
        unsafe { (libc::close(fd), libc::close(other)) };
        let _ = std::fs::remove_file(&path);
    });
}
