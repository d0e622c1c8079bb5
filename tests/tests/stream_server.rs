//! `StreamServer`: handlers per connection, the pool bound, graceful stop
//! with kills, and accept errors under a descriptor limit (in a child
//! process, this test binary run again).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::net::{TcpListener, TcpStream};
use rt::server::StreamServer;

/// Reads until the peer closes.
fn drain(s: &TcpStream) {
    let mut buf = [0u8; 64];
    while matches!((&*s).read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn every_connection_gets_its_own_handler_and_the_pool_bounds_them() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let server = StreamServer::new(l, move |s: TcpStream, _| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        rt::sleep(Duration::from_millis(5));
        let mut b = [0u8; 1];
        if (&s).read_exact(&mut b).is_ok() {
            let _ = (&s).write_all(&b);
        }
        r.fetch_sub(1, Ordering::SeqCst);
    })
    .pool(4)
    .start();
    let clients: Vec<_> = (0..40u8)
        .map(|i| {
            rt::spawn(move || {
                let c = TcpStream::connect(addr).unwrap();
                (&c).write_all(&[i]).unwrap();
                let mut b = [0u8; 1];
                (&c).read_exact(&mut b).unwrap();
                b[0]
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        assert_eq!(usize::from(c.join().unwrap()), i);
    }
    assert!(peak.load(Ordering::SeqCst) <= 4, "peak {}", peak.load(Ordering::SeqCst));
    assert_eq!(server.stop(Duration::from_secs(2)).killed, 0);
    server.wait().unwrap();
}

#[test]
fn serve_forever_over_a_unix_listener_until_stopped_from_another_thread() {
    let dir = std::env::temp_dir().join(format!("gp-server-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let l = rt::net::UnixListener::bind(&dir).unwrap();
    let server = StreamServer::new(l, |s: rt::net::UnixStream, _| {
        let _ = (&s).write_all(b"hi");
    })
    .start();
    let server = Arc::new(server);
    let path = dir.clone();
    // The server's hub is this thread's: the client is a green thread, so
    // that joining it runs the hub.
    let client = rt::spawn(move || {
        let c = rt::net::UnixStream::connect(&path).unwrap();
        let mut s = String::new();
        (&c).read_to_string(&mut s).unwrap();
        s
    });
    assert_eq!(client.join().unwrap(), "hi");
    let s2 = server.clone();
    let stopper = std::thread::spawn(move || s2.stop(Duration::from_secs(1)));
    server.wait().unwrap();
    assert_eq!(stopper.join().unwrap().killed, 0);
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn stop_with_a_thousand_open_connections_returns_in_time_with_every_handler_done() {
    const N: usize = 1000;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    struct Ended(Arc<AtomicUsize>);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (st, en) = (started.clone(), ended.clone());
    // The server runs on a thread of its own (its own hub).
    let (tx, rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let h = Arc::new(
            StreamServer::new(l, move |s: TcpStream, _| {
                let _e = Ended(en.clone());
                st.fetch_add(1, Ordering::SeqCst);
                drain(&s);
            })
            .start(),
        );
        tx.send(h.clone()).unwrap();
        h.wait().unwrap();
    });
    let server = rx.recv().unwrap();
    let clients: Vec<std::net::TcpStream> = (0..N).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    let t = Instant::now();
    while started.load(Ordering::SeqCst) < N {
        assert!(t.elapsed() < Duration::from_secs(30), "only {} handlers started", started.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Half the clients leave: their handlers finish by themselves.
    let (leaving, staying): (Vec<_>, Vec<_>) = clients.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    drop(leaving);
    let timeout = Duration::from_secs(2);
    let t = Instant::now();
    let stopped = server.stop(timeout);
    let took = t.elapsed();
    eprintln!("stop with {N} connections: {took:?}, {stopped:?}");
    assert!(took < timeout + Duration::from_millis(500), "stop took {took:?}");
    assert_eq!(stopped.still_running, 0);
    assert!(stopped.killed >= N / 2 - 10 && stopped.killed <= N / 2, "killed {}", stopped.killed);
    assert_eq!(ended.load(Ordering::SeqCst), N, "every handler finished or was killed");
    assert_eq!(server.active(), 0);
    server_thread.join().unwrap();
    drop(staying);
}

const CHILD: &str = "GP_STREAM_SERVER_CHILD";

/// The child's side of the descriptor-limit test: a server under
/// `RLIMIT_NOFILE = 64` that answers the parent's commands on stdin.
#[test]
fn zz_child_server_under_a_descriptor_limit() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let lim = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    // SAFETY: setrlimit reads one struct from a valid pointer.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("port {}", l.local_addr().unwrap().port());
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    std::thread::spawn(move || {
        StreamServer::new(l, move |s: TcpStream, _| {
            a.fetch_add(1, Ordering::SeqCst);
            drain(&s);
        })
        .serve_forever()
        .unwrap();
    });
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        match line.trim() {
            "measure" => {
                let cpu = |who| {
                    // SAFETY: getrusage writes one struct to a valid pointer.
                    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
                    // SAFETY: as above.
                    unsafe { libc::getrusage(who, &mut u) };
                    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
                    tv(u.ru_utime) + tv(u.ru_stime)
                };
                let (c0, t0) = (cpu(libc::RUSAGE_SELF), Instant::now());
                std::thread::sleep(Duration::from_secs(1));
                let (c1, t1) = (cpu(libc::RUSAGE_SELF), Instant::now());
                let frac = (c1 - c0).as_secs_f64() / (t1 - t0).as_secs_f64();
                println!("cpu {frac:.4} accepted {}", accepted.load(Ordering::SeqCst));
            }
            "recover" => {
                let t = Instant::now();
                while accepted.load(Ordering::SeqCst) < 150 && t.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                println!("recovered {} accepted {}", t.elapsed().as_millis(), accepted.load(Ordering::SeqCst));
            }
            _ => break,
        }
    }
}

#[test]
fn out_of_descriptors_the_server_backs_off_quietly_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "zz_child_server_under_a_descriptor_limit", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = |prefix: &str| -> String {
        for l in lines.by_ref() {
            let l = l.unwrap();
            // libtest's "test name ... " may precede it on the line.
            if let Some(at) = l.find(prefix) {
                return l[at + prefix.len()..].trim().to_owned();
            }
        }
        panic!("the child ended before printing {prefix:?}");
    };
    let port: u16 = next_line("port ").parse().unwrap();
    let clients: Vec<std::net::TcpStream> =
        (0..150).map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    writeln!(to_child, "measure").unwrap();
    let m = next_line("cpu ");
    let mut parts = m.split_whitespace();
    let cpu: f64 = parts.next().unwrap().parse().unwrap();
    let accepted: usize = parts.nth(1).unwrap().parse().unwrap();
    assert!(accepted < 150, "the limit should stop the server short of 150 ({accepted})");
    assert!(cpu < 0.10, "out of descriptors, the server used {:.1}% CPU", cpu * 100.0);
    // Free descriptors: the first 100 clients leave.
    let (leave, stay) = clients.split_at(100);
    let stay: Vec<_> = stay.iter().map(|c| c.try_clone().unwrap()).collect();
    drop(leave.iter().map(|c| c.shutdown(std::net::Shutdown::Both)).collect::<Vec<_>>());
    drop(clients);
    writeln!(to_child, "recover").unwrap();
    let r = next_line("recovered ");
    let mut parts = r.split_whitespace();
    let ms: u64 = parts.next().unwrap().parse().unwrap();
    let accepted: usize = parts.nth(1).unwrap().parse().unwrap();
    assert_eq!(accepted, 150, "every client was served in the end");
    assert!(ms < 2000, "recovered after {ms} ms");
    eprintln!("out of descriptors: {:.2}% CPU; recovered {ms} ms after descriptors freed", cpu * 100.0);
    drop(stay);
    writeln!(to_child, "quit").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("accept failed").count(), 1, "logged once: {err}");
}
