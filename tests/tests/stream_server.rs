//! `StreamServer`: handlers per connection, the pool bound, graceful stop
//! with kills, and accept errors under a descriptor limit (in a child
//! process, this test binary run again) — for the runtime's server and for
//! the facade one (`greenpatch::server`), which this binary runs in its
//! blocking flavor: it never calls `patch_all()`, so its handlers are OS
//! threads.

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
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    if std::env::var(CHILD).as_deref() == Ok("facade") {
        // OS threads and blocking sockets.
        let l = greenpatch::socket::TcpListener::bind("127.0.0.1:0").unwrap();
        println!("port {}", l.local_addr().unwrap().port());
        let server = greenpatch::server::StreamServer::new(l, move |mut s: greenpatch::socket::TcpStream, _| {
            a.fetch_add(1, Ordering::SeqCst);
            let _ = s.read_to_end(&mut Vec::new());
        })
        .start();
        assert_eq!(server.flavor(), greenpatch::Flavor::Blocking);
        std::mem::forget(server);
    } else {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        println!("port {}", l.local_addr().unwrap().port());
        std::thread::spawn(move || {
            StreamServer::new(l, move |s: TcpStream, _| {
                a.fetch_add(1, Ordering::SeqCst);
                drain(&s);
            })
            .serve_forever()
            .unwrap();
        });
    }
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
    out_of_descriptors("runtime");
}

#[test]
fn out_of_descriptors_the_os_thread_server_backs_off_quietly_and_recovers() {
    out_of_descriptors("facade");
}

/// Runs the child server (`mode`: the runtime's, or the facade one on OS
/// threads) under `RLIMIT_NOFILE = 64` with 150 clients.
fn out_of_descriptors(mode: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "zz_child_server_under_a_descriptor_limit", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
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
    eprintln!("{mode}: out of descriptors: {:.2}% CPU; recovered {ms} ms after descriptors freed", cpu * 100.0);
    drop(stay);
    writeln!(to_child, "quit").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("accept failed").count(), 1, "logged once: {err}");
}

// ------------------------------------------------ the facade server, unpatched

use greenpatch::server::StreamServer as FacadeServer;
use greenpatch::socket as fsock;

#[test]
fn facade_server_before_patching_runs_each_handler_on_an_os_thread_within_the_pool() {
    let l = fsock::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let (r, p, t) = (running.clone(), peak.clone(), threads.clone());
    let server = FacadeServer::new(l, move |mut s: fsock::TcpStream, _| {
        assert_eq!(s.flavor(), greenpatch::Flavor::Blocking);
        t.lock().unwrap().insert(std::thread::current().id());
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        let mut b = [0u8; 1];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(&b);
        }
        r.fetch_sub(1, Ordering::SeqCst);
    })
    .pool(4)
    .start();
    assert_eq!(server.flavor(), greenpatch::Flavor::Blocking);
    let clients: Vec<_> = (0..24u8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&[i]).unwrap();
                let mut b = [0u8; 1];
                c.read_exact(&mut b).unwrap();
                b[0]
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        assert_eq!(usize::from(c.join().unwrap()), i);
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 4, "peak {peak}");
    // Handlers sleeping 20 ms each, 24 of them: they overlapped (OS threads).
    assert!(peak >= 2, "the handlers never ran at the same time");
    let threads = threads.lock().unwrap();
    assert!(threads.len() >= 2 && !threads.contains(&std::thread::current().id()), "{threads:?}");
    assert_eq!(server.stop(Duration::from_secs(2)), greenpatch::server::Stopped { killed: 0, still_running: 0 });
    server.wait().unwrap();
    // The listener closed with the acceptor.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn facade_stop_shuts_os_thread_handlers_connections_down_and_reports_the_one_that_keeps_running() {
    const N: usize = 50;
    let l = fsock::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let (st, en) = (started.clone(), ended.clone());
    let server = FacadeServer::new(l, move |mut s: fsock::TcpStream, _| {
        let n = st.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            // Waits on something that is not its connection: a shutdown
            // cannot end it.
            std::thread::sleep(Duration::from_millis(1500));
        } else {
            let _ = s.read_to_end(&mut Vec::new());
        }
        en.fetch_add(1, Ordering::SeqCst);
    })
    .start();
    let clients: Vec<_> = (0..N).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    let t = Instant::now();
    while started.load(Ordering::SeqCst) < N {
        assert!(t.elapsed() < Duration::from_secs(30), "only {} handlers started", started.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(5));
    }
    let timeout = Duration::from_millis(400);
    let t = Instant::now();
    let stopped = server.stop(timeout);
    let took = t.elapsed();
    assert!(took < timeout + Duration::from_millis(500), "stop took {took:?}");
    assert_eq!(stopped.killed, N, "every connection still served at the deadline was shut down");
    assert_eq!(stopped.still_running, 1, "{stopped:?}");
    assert_eq!(ended.load(Ordering::SeqCst), N - 1);
    // The clients see the shutdown as end-of-file.
    let mut c = &clients[1];
    assert_eq!(c.read(&mut [0u8; 8]).unwrap(), 0);
    server.wait().unwrap();
    assert_eq!(ended.load(Ordering::SeqCst), N);
    assert_eq!(server.active(), 0);
}

#[test]
fn facade_serve_forever_over_a_unix_listener_until_stopped_from_another_thread() {
    let path = std::env::temp_dir().join(format!("gp-facade-server-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let l = fsock::UnixListener::bind(&path).unwrap();
    let server = Arc::new(
        FacadeServer::new(l, |mut s: fsock::UnixStream, _| {
            let _ = s.write_all(b"hi");
        })
        .start(),
    );
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hi");
    let s2 = server.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        s2.stop(Duration::from_secs(1))
    });
    server.wait().unwrap();
    assert_eq!(stopper.join().unwrap().killed, 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_facade_server_is_os_threads_before_patch_all_and_green_threads_after() {
    let out = Command::new(env!("CARGO_BIN_EXE_gp-child")).arg("facade-server").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let field = |line: &str, key: &str| -> String {
        let l = text.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no {line} in {text}"));
        let at = l.find(&format!(" {key}=")).unwrap_or_else(|| panic!("no {key} in {l}")) + key.len() + 2;
        l[at..].split_whitespace().next().unwrap().to_owned()
    };
    // Before: blocking sockets, a handler per OS thread, never the main one.
    assert_eq!(field("UNPATCHED", "flavor"), "blocking");
    assert_eq!(field("UNPATCHED", "ok"), "50");
    assert!(field("UNPATCHED", "os_threads").parse::<usize>().unwrap() > 1);
    assert_eq!(field("UNPATCHED", "main_thread"), "false");
    // After: green, every handler on the main thread's hub, and 500
    // handlers sleeping 100 ms overlap on it.
    assert_eq!(field("PATCHED", "flavor"), "green");
    assert_eq!(field("PATCHED", "ok"), "500");
    assert_eq!(field("PATCHED", "os_threads"), "1");
    assert_eq!(field("PATCHED", "main_thread"), "true");
    let wall: u64 = field("PATCHED", "wall_ms").parse().unwrap();
    assert!(wall < 3000, "500 green handlers of 100 ms took {wall} ms");
    // A green stop kills the handlers left at its deadline.
    assert_eq!(field("STOP", "killed"), "20");
    assert_eq!(field("STOP", "still_running"), "0");
    let took: u64 = field("STOP", "took_ms").parse().unwrap();
    assert!(took < 1000, "stop took {took} ms");
}
