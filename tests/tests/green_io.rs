//! Green I/O, black box: sockets, name resolution, foreign descriptors and
//! files, each checked from green threads on one hub (and from plain code).

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use tests::{loopback, ticker};

fn checksum(acc: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(acc, |a, &b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
}

#[test]
fn thousand_connections_echo_hundred_round_trips_on_one_hub_with_equal_checksums() {
    const CONNS: usize = 1000;
    const ROUNDS: usize = 100;
    const MSG: usize = 64;
    let start = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rt::spawn(move || {
        let mut handlers = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let (mut s, _) = listener.accept().unwrap();
            handlers.push(rt::spawn(move || {
                let mut buf = [0u8; MSG];
                let mut sum = 0u64;
                for _ in 0..ROUNDS {
                    s.read_exact(&mut buf).unwrap();
                    sum = checksum(sum, &buf);
                    s.write_all(&buf).unwrap();
                }
                sum
            }));
        }
        handlers.into_iter().map(|h| h.join().unwrap()).fold(0u64, u64::wrapping_add)
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|c| {
            rt::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let (mut sent, mut got) = (0u64, 0u64);
                let mut back = [0u8; MSG];
                for r in 0..ROUNDS {
                    let msg: Vec<u8> = (0..MSG).map(|i| (c * 7 + r * 13 + i) as u8).collect();
                    s.write_all(&msg).unwrap();
                    sent = checksum(sent, &msg);
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back[..], msg[..], "connection {c} round {r}");
                    got = checksum(got, &back);
                }
                (sent, got)
            })
        })
        .collect();
    let (mut sent, mut got) = (0u64, 0u64);
    for c in clients {
        let (s, g) = c.join().unwrap();
        sent = sent.wrapping_add(s);
        got = got.wrapping_add(g);
    }
    let served = server.join().unwrap();
    assert_eq!(sent, got);
    assert_eq!(sent, served);
    eprintln!("1000 connections x 100 round trips: {:?}", start.elapsed());
}

#[test]
fn read_timeout_expires_within_its_bounds_with_would_block() {
    let (_l, c, _s) = loopback();
    let timeout = Duration::from_millis(100);
    c.set_read_timeout(Some(timeout)).unwrap();
    let h = rt::spawn(move || {
        let t = Instant::now();
        let err = (&c).read(&mut [0; 8]).unwrap_err();
        (err.kind(), t.elapsed())
    });
    let (kind, took) = h.join().unwrap();
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert!(took >= timeout && took < timeout + Duration::from_secs(1), "{took:?}");
}

#[test]
fn data_that_arrived_before_the_read_timeout_is_returned_when_the_hub_ran_late() {
    // The reader's deadline passes while a green thread holds the hub; the
    // data arrived well before it. As with a kernel timeout, the read
    // returns the data, not `WouldBlock` (the late hub fires the timer
    // before it polls).
    let (_l, c, s) = loopback();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let reader = rt::spawn(move || (&c).read(&mut [0; 8]).map_err(|e| e.kind()));
    rt::yield_now(); // the reader waits, its deadline armed
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        (&s).write_all(b"hi").unwrap();
        s
    });
    let hog = rt::spawn(|| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(300) {}
    });
    hog.join().unwrap();
    let _s = writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), Ok(2));
}

#[test]
fn udp_recv_timeout_expires_within_its_bounds() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_millis(80);
    s.set_read_timeout(Some(timeout)).unwrap();
    // From plain code: the root blocks (driving its hub) exactly as long.
    let t = Instant::now();
    let err = s.recv_from(&mut [0; 8]).unwrap_err();
    let took = t.elapsed();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(took >= timeout && took < timeout + Duration::from_secs(1), "{took:?}");
}

#[test]
fn unix_datagram_recv_timeout_expires_within_its_bounds() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    let timeout = Duration::from_millis(50);
    a.set_read_timeout(Some(timeout)).unwrap();
    let t = Instant::now();
    assert_eq!(a.recv(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() >= timeout && t.elapsed() < timeout + Duration::from_secs(1));
}

#[test]
fn set_nonblocking_returns_would_block_instead_of_parking() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    c.set_nonblocking(true).unwrap();
    assert_eq!((&c).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_nonblocking(true).unwrap();
    assert_eq!(u.recv_from(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    // And back to parking.
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let t = Instant::now();
    assert_eq!((&c).read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn hundred_concurrent_localhost_lookups_keep_the_hub_ticking() {
    let stop = Arc::new(AtomicBool::new(false));
    let tick = ticker(stop.clone());
    let t = Instant::now();
    let lookups: Vec<_> = (0..100)
        .map(|i| rt::spawn(move || rt::net::lookup_host(("localhost", 1000 + i)).unwrap().collect::<Vec<_>>()))
        .collect();
    for (i, h) in lookups.into_iter().enumerate() {
        let addrs = h.join().unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 1000 + i as u16), "{addrs:?}");
    }
    // Let the ticker tick a few times more, then stop it.
    rt::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::Relaxed);
    let worst = tick.join().unwrap();
    eprintln!("100 lookups: {:?}, longest tick gap {worst:?}", t.elapsed());
    assert!(worst < Duration::from_millis(50), "the hub stalled for {worst:?}");
}

#[test]
fn connect_resolves_a_host_name_and_tries_each_address() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // "localhost" may resolve to ::1 first, where nothing listens: the
    // next address must be tried.
    let c = rt::spawn(move || TcpStream::connect(("localhost", port)).map(|s| s.peer_addr().unwrap()));
    let (_s, _) = l.accept().unwrap();
    assert_eq!(c.join().unwrap().unwrap().port(), port);
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    let err = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn shutdown_wakes_a_waiting_reader_with_end_of_stream() {
    let (_l, c, _s) = loopback();
    let reader = c.try_clone().unwrap();
    let h = rt::spawn(move || (&reader).read(&mut [0; 16]));
    rt::sleep(Duration::from_millis(20)); // the reader is parked now
    assert!(!h.is_finished());
    c.shutdown(Shutdown::Both).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), 0);
}

#[test]
fn closing_the_socket_under_a_waiting_writer_wakes_it_with_an_error() {
    let (_l, c, _s) = loopback(); // never reads: c's buffers fill up
    let writer = c.try_clone().unwrap();
    let h = rt::spawn(move || {
        let chunk = vec![0u8; 1 << 16];
        loop {
            if let Err(e) = (&writer).write(&chunk) {
                return e;
            }
        }
    });
    rt::sleep(Duration::from_millis(50)); // the writer is parked on a full buffer
    assert!(!h.is_finished());
    c.shutdown(Shutdown::Write).unwrap();
    let err = h.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
}

#[test]
fn reader_and_writer_green_threads_share_one_stream() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let echo = rt::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = (&s).read(&mut buf).unwrap();
            if n == 0 {
                return;
            }
            (&s).write_all(&buf[..n]).unwrap();
        }
    });
    let c = Arc::new(TcpStream::connect(addr).unwrap());
    let total = 1 << 20;
    let w = {
        let c = c.clone();
        rt::spawn(move || {
            let chunk = [42u8; 8192];
            for _ in 0..total / chunk.len() {
                (&*c).write_all(&chunk).unwrap();
            }
            c.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut got = 0;
    let mut buf = [0u8; 8192];
    loop {
        let n = (&*c).read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 42));
        got += n;
    }
    assert_eq!(got, total);
    w.join().unwrap();
    echo.join().unwrap();
}

#[test]
fn short_reads_lose_no_wake_up_while_os_threads_write_in_bursts() {
    // Green readers read with a small buffer (short reads and full ones,
    // so the short-read rule engages constantly) while plain OS threads
    // write chunks of varied sizes. A lost edge would leave a reader
    // parked: its read timeout turns that into a failure, not a hang.
    const CONNS: usize = 8;
    const CHUNKS: usize = 20_000;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let writers: Vec<_> = (0..CONNS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut x = 0x9E37_79B9_u32.wrapping_mul(i as u32 + 1);
                let (mut sum, mut len) = (0u64, 0usize);
                let chunk: Vec<u8> = (0..700u32).map(|b| (b * 7 + i as u32) as u8).collect();
                for k in 0..CHUNKS {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let n = 1 + (x >> 16) as usize % chunk.len();
                    s.write_all(&chunk[..n]).unwrap();
                    sum = checksum(sum, &chunk[..n]);
                    len += n;
                    if k % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
                (sum, len)
            })
        })
        .collect();
    let readers: Vec<_> = (0..CONNS)
        .map(|_| {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            rt::spawn(move || {
                let mut buf = [0u8; 512];
                let (mut sum, mut len) = (0u64, 0usize);
                loop {
                    let n = (&s).read(&mut buf).expect("a reader waited 10 s: a wake-up was lost");
                    if n == 0 {
                        return (sum, len);
                    }
                    sum = checksum(sum, &buf[..n]);
                    len += n;
                }
            })
        })
        .collect();
    // Green joins first: they run the hub, and with it the readers that
    // the writers' full socket buffers wait for.
    let mut got: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let mut sent: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    // Connections are accepted in an order of their own: compare as sets.
    sent.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, sent);
}

#[test]
fn a_socket_moves_to_the_hub_of_the_thread_that_uses_it() {
    let (_l, mut c, s) = loopback();
    // Register on this hub first.
    s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    assert!((&s).read(&mut [0; 1]).is_err());
    s.set_read_timeout(None).unwrap();
    let t = std::thread::spawn(move || {
        // A green thread on this OS thread's hub waits on it now.
        rt::spawn(move || {
            let mut buf = [0; 3];
            (&s).read_exact(&mut buf).unwrap();
            buf
        })
        .join()
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(30));
    c.write_all(b"abc").unwrap();
    assert_eq!(&t.join().unwrap(), b"abc");
}

#[test]
fn two_hubs_wait_on_one_socket_at_the_same_time() {
    let (a, b) = UnixStream::pair().unwrap();
    let a = Arc::new(a);
    // Reader green thread on this hub, writer on another OS thread's hub,
    // both parked on `a` at once (the writer on a full buffer).
    let reader = {
        let a = a.clone();
        rt::spawn(move || {
            let mut buf = [0; 4];
            (&*a).read_exact(&mut buf).map(|_| buf)
        })
    };
    rt::sleep(Duration::from_millis(10));
    let writer = {
        let a = a.clone();
        std::thread::spawn(move || {
            let chunk = vec![1u8; 1 << 16];
            for _ in 0..64 {
                (&*a).write_all(&chunk).unwrap();
            }
            64usize << 16
        })
    };
    let drain = std::thread::spawn(move || {
        let mut b = b;
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"ping").unwrap();
        while got < 4 << 20 {
            let want = buf.len().min((4 << 20) - got);
            got += b.read(&mut buf[..want]).unwrap();
        }
        got
    });
    assert_eq!(&reader.join().unwrap().unwrap(), b"ping");
    assert_eq!(writer.join().unwrap(), drain.join().unwrap());
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0);
    // SAFETY: both are fresh descriptors that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn wait_readable_on_a_pipe_wakes_when_another_thread_writes() {
    let (r, w) = pipe();
    let fd = r.as_raw_fd();
    let h = rt::spawn(move || {
        let t = Instant::now();
        (rt::wait_readable(fd, Some(Duration::from_secs(10))).unwrap(), t.elapsed())
    });
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(40));
        let mut f = std::fs::File::from(w);
        f.write_all(b"x").unwrap();
    });
    let (ready, took) = h.join().unwrap();
    writer.join().unwrap();
    assert!(ready);
    assert!(took >= Duration::from_millis(30) && took < Duration::from_secs(5), "{took:?}");
    drop(r);
}

#[test]
fn wait_readable_on_a_pipe_times_out_when_nothing_is_written() {
    let (r, _w) = pipe();
    let t = Instant::now();
    let ready = rt::wait_readable(r.as_raw_fd(), Some(Duration::from_millis(50))).unwrap();
    assert!(!ready);
    assert!(t.elapsed() >= Duration::from_millis(50) && t.elapsed() < Duration::from_secs(1));
    // Two green threads on one fd, each direction: both get their answer.
    let (r, w) = pipe();
    let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
    let hr = rt::spawn(move || rt::wait_readable(rfd, Some(Duration::from_millis(60))).unwrap());
    let hw = rt::spawn(move || rt::wait_writable(wfd, Some(Duration::from_secs(5))).unwrap());
    assert!(hw.join().unwrap());
    assert!(!hr.join().unwrap());
}

/// A minimal HTTP/1.1 responder on green threads.
fn http_responder(l: TcpListener, requests: usize) -> rt::JoinHandle<usize> {
    rt::spawn(move || {
        let mut served = 0;
        for _ in 0..requests {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            let body = b"hello from a green thread\n";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body).unwrap();
            served += 1;
        }
        served
    })
}

#[test]
fn curl_gets_a_response_from_a_green_http_responder() {
    if std::process::Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: curl is not installed (Debian package: curl)");
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hello", l.local_addr().unwrap());
    let server = http_responder(l, 3);
    for _ in 0..3 {
        let url = url.clone();
        // curl runs on the blocking pool so that this hub keeps serving.
        let out = rt::blocking::run(move || {
            std::process::Command::new("curl").args(["-sS", "--http1.1", "--max-time", "10", &url]).output()
        })
        .unwrap();
        assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from a green thread\n");
    }
    assert_eq!(server.join().unwrap(), 3);
}

#[test]
fn unix_stream_echo_between_green_threads() {
    let dir = std::env::temp_dir().join(format!("gp-green-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let l = rt::net::UnixListener::bind(&path).unwrap();
    let server = rt::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&buf[..n]).unwrap();
    });
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"over unix").unwrap();
    let mut buf = [0; 9];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"over unix");
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conversions_to_std_restore_blocking_mode_and_timeouts() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let std_c: std::net::TcpStream = c.into();
    assert_eq!(std_c.read_timeout().unwrap(), Some(Duration::from_millis(100)));
    // Blocking again in the kernel: the std read waits for its timeout.
    let t = Instant::now();
    assert_eq!((&std_c).read(&mut [0; 1]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() >= Duration::from_millis(90));
    let back = TcpStream::from(std_c);
    assert_eq!(back.read_timeout().unwrap(), Some(Duration::from_millis(100)));
}

#[test]
fn large_file_round_trip_keeps_the_hub_ticking() {
    let dir = std::env::temp_dir().join(format!("gp-green-fs-{}", std::process::id()));
    rt::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let tick = ticker(stop.clone());
    let t = Instant::now();
    rt::fs::write(&path, &data).unwrap();
    let f = rt::fs::File::open(&path).unwrap();
    f.sync_all().unwrap();
    assert_eq!(f.metadata().unwrap().len(), data.len() as u64);
    let back = rt::fs::read(&path).unwrap();
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let worst = tick.join().unwrap();
    assert!(back == data, "file contents differ");
    let names: Vec<_> = rt::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["big.bin"]);
    rt::fs::rename(&path, dir.join("moved.bin")).unwrap();
    rt::fs::remove_dir_all(&dir).unwrap();
    assert!(!rt::fs::exists(&dir).unwrap());
    eprintln!("64 MiB write+sync+read: {took:?}, longest tick gap {worst:?}");
    // Were the file I/O on the hub's thread, one gap would span the whole
    // operation. Allow scheduler noise on a loaded machine, never that.
    let bound = Duration::from_millis(50).max(took / 2);
    assert!(worst < bound, "the hub stalled for {worst:?} of {took:?}");
}
