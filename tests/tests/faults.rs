//! The fault-injection suite: what a production program meets on a bad
//! day, against the patched facades.
//!
//! - kill at every blocking point: a green thread killed while parked in
//!   each blocking facade call unwinds (its destructors run), its join says
//!   `Killed`, and what it held or waited on is not leaked;
//! - close while waiting: a socket that one green thread waits on is shut
//!   down by another, or its peer goes away: the waiter wakes with EOF or
//!   an error, never hangs;
//! - descriptor reuse: a closed descriptor's number, reused by a new
//!   socket, does not carry the old waiter's wake-ups;
//! - `EMFILE`: an accept loop that backs off recovers within a second of
//!   descriptors coming back and uses under 10% CPU meanwhile (a child
//!   process with its own `RLIMIT_NOFILE`);
//! - 1,000,000 messages from one hub to another, none lost;
//! - a network-fault run: two network namespaces joined by a veth pair
//!   with `tc netem` loss and delay, green clients and a green server in
//!   them, resets injected by clients; data is checked end to end and
//!   timeouts hold. Skipped, saying why, where namespaces or netem are not
//!   available.
//!
//! Everything blocks under a bound (`within`, `run_bounded`), so a
//! regression fails instead of hanging the suite.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::queue::{channel, sync_channel, Queue};
use greenpatch::socket::{Shutdown, TcpListener, TcpStream, UdpSocket, UnixDatagram};
use greenpatch::thread::{Condvar, Event, Mutex, Semaphore};
use greenpatch::{time, Flavor};
use greenpatch_runtime as rt;
use tests::{run_bounded, within};

/// Patches once for the whole binary (patching is process-wide).
fn patched() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let _ = patch_all(PatchAll::default()).expect("patch_all");
    });
}

/// A facade TCP connection over loopback: listener, client, server side.
fn loopback() -> (TcpListener, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (l, c, s)
}

/// Sets its flag when dropped: proof that a killed green thread unwound.
struct Unwound(Arc<AtomicBool>);

impl Drop for Unwound {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Spawns a green thread that runs `block` (which must park), kills it
/// once parked, and checks: join gives `Killed`, its destructors ran.
fn kill_while_parked(what: &str, block: impl FnOnce() + Send + 'static) {
    patched();
    let unwound = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicBool::new(false));
    let (u, p) = (unwound.clone(), parked.clone());
    let victim = rt::spawn(move || {
        let _flag = Unwound(u);
        p.store(true, Ordering::SeqCst);
        block();
    });
    within(10, what, || {
        while !parked.load(Ordering::SeqCst) {
            rt::sleep(Duration::from_millis(1));
        }
    });
    rt::sleep(Duration::from_millis(30)); // into the blocking call
    assert!(!victim.is_finished(), "{what}: returned instead of blocking");
    victim.kill();
    let r = within(10, what, || victim.join());
    assert!(matches!(r, Err(ref e) if e.is_killed()), "{what}: join gave {r:?}");
    assert!(unwound.load(Ordering::SeqCst), "{what}: destructors did not run");
}

#[test]
fn killed_in_sleep() {
    kill_while_parked("sleep", || time::sleep(Duration::from_secs(3600)));
}

#[test]
fn killed_in_join_leaves_the_joined_thread_running() {
    patched();
    let go = Arc::new(Event::new());
    let g = go.clone();
    let inner = Arc::new(OnceLock::new());
    let i2 = inner.clone();
    kill_while_parked("join", move || {
        let h = greenpatch::thread::spawn(move || {
            g.wait();
            5
        });
        let _ = i2.set(());
        let _ = h.join();
    });
    // The joined green thread was not killed with its joiner.
    assert!(inner.get().is_some());
    go.set();
}

#[test]
fn killed_in_lock_does_not_take_the_lock() {
    patched();
    let m = Arc::new(Mutex::new(0));
    assert_eq!(m.flavor(), Flavor::Green);
    let held = m.lock().unwrap();
    let m2 = m.clone();
    kill_while_parked("mutex lock", move || *m2.lock().unwrap() += 1);
    drop(held);
    let g = within(5, "lock after a killed waiter", || m.lock());
    assert_eq!(*g.unwrap(), 0, "the killed waiter never ran its critical section");
}

#[test]
fn killed_in_condvar_wait_releases_the_mutex() {
    patched();
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p2 = pair.clone();
    kill_while_parked("condvar wait", move || {
        let (m, c) = &*p2;
        let _g = c.wait_while(m.lock().unwrap(), |ready| !*ready);
    });
    // The mutex the waiter reacquired while unwinding is free again.
    let g = within(5, "lock after a killed condvar waiter", || pair.0.lock());
    assert!(!*g.unwrap_or_else(|e| e.into_inner()));
    pair.1.notify_all(); // nobody left to wake: no effect, no crash
}

#[test]
fn killed_in_recv_drops_its_receiver() {
    patched();
    let (tx, rx) = channel::<u32>();
    assert_eq!(rx.flavor(), Flavor::Green);
    kill_while_parked("channel recv", move || {
        let _ = rx.recv();
    });
    assert!(tx.send(1).is_err(), "the killed receiver's end was dropped");
}

#[test]
fn killed_in_a_full_send_does_not_deliver() {
    patched();
    let (tx, rx) = sync_channel::<Box<u32>>(1);
    tx.send(Box::new(1)).unwrap();
    let tx2 = tx.clone();
    kill_while_parked("sync_channel send", move || {
        let _ = tx2.send(Box::new(2));
    });
    assert_eq!(*rx.recv().unwrap(), 1);
    assert!(rx.try_recv().is_err(), "the killed sender's value was not delivered");
    drop(tx);
    assert!(within(5, "recv after every sender is gone", || rx.recv()).is_err());
}

#[test]
fn killed_in_queue_get_and_put_lose_nothing() {
    patched();
    let q: Queue<u32> = Queue::new();
    let q2 = q.clone();
    kill_while_parked("queue get", move || {
        let _ = q2.get();
    });
    q.put(7);
    assert_eq!(within(5, "get after a killed getter", || q.get()), 7);

    let full: Queue<u32> = Queue::with_maxsize(1);
    full.put(1);
    let f2 = full.clone();
    kill_while_parked("queue put", move || f2.put(2));
    assert_eq!(full.get(), 1);
    assert!(full.get_nowait().is_err(), "the killed putter's item was not added");
    full.put(3); // its slot is free
}

#[test]
fn killed_in_accept_closes_the_listener() {
    patched();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    kill_while_parked("accept", move || {
        let _ = l.accept();
    });
    let err = within(5, "connect to a closed listener", || TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn killed_in_connect_closes_the_socket() {
    patched();
    // A listener with a backlog of 0 that never accepts: after one queued
    // connection the kernel drops SYNs, so the next connect waits.
    // SAFETY: plain socket syscalls on a descriptor this test owns.
    let (fd, addr) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), len), 0);
        assert_eq!(libc::listen(fd, 0), 0);
        let mut out: libc::sockaddr_in = std::mem::zeroed();
        let mut olen = len;
        libc::getsockname(fd, (&mut out as *mut libc::sockaddr_in).cast(), &mut olen);
        (fd, std::net::SocketAddr::from(([127, 0, 0, 1], u16::from_be(out.sin_port))))
    };
    let mut fillers = Vec::new();
    // Fill the accept queue (a connect that completes does not block).
    for _ in 0..2 {
        if let Ok(Ok(s)) = rt::with_timeout(Duration::from_millis(300), || TcpStream::connect(addr)) {
            fillers.push(s);
        }
    }
    kill_while_parked("connect", move || {
        let _ = TcpStream::connect(addr);
    });
    // SAFETY: closes the descriptor opened above, once.
    unsafe { libc::close(fd) };
}

#[test]
fn killed_in_read_and_write_close_their_sockets() {
    patched();
    let (_l, c, mut s) = loopback();
    assert_eq!(c.flavor(), Flavor::Green);
    kill_while_parked("read", move || {
        let mut c = c;
        let _ = c.read(&mut [0; 16]);
    });
    assert_eq!(within(5, "peer sees EOF", || s.read(&mut [0; 16])).unwrap(), 0);

    let (_l, c, mut s) = loopback();
    kill_while_parked("write", move || {
        let mut c = c;
        let big = vec![0u8; 64 << 20]; // the peer never reads: the write waits
        let _ = c.write_all(&big);
    });
    // The peer drains what was sent and then sees EOF: the socket is closed.
    let mut sink = Vec::new();
    let r = within(20, "peer drains to EOF", || s.read_to_end(&mut sink));
    assert!(r.is_ok() || r.unwrap_err().kind() == ErrorKind::ConnectionReset);
}

#[test]
fn killed_in_udp_recv_drops_the_socket() {
    patched();
    let u = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let u2 = u.clone();
    kill_while_parked("udp recv", move || {
        let _ = u2.recv_from(&mut [0; 16]);
    });
    assert_eq!(Arc::strong_count(&u), 1, "the killed thread's handle was dropped");
    // The socket still works for its other owner.
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"x", u.local_addr().unwrap()).unwrap();
    assert_eq!(within(5, "recv after a killed receiver", || u.recv(&mut [0; 4])).unwrap(), 1);
}

#[test]
fn killed_in_event_wait_and_semaphore_acquire() {
    patched();
    let ev = Arc::new(Event::new());
    let e2 = ev.clone();
    kill_while_parked("event wait", move || e2.wait());
    ev.set();
    assert_eq!(Arc::strong_count(&ev), 1);

    let sem = Arc::new(Semaphore::new(0));
    let s2 = sem.clone();
    kill_while_parked("semaphore acquire", move || s2.acquire());
    sem.release();
    assert_eq!(sem.available(), 1, "the killed acquirer took no permit");
    assert!(within(5, "acquire after a killed acquirer", || sem.acquire_timeout(Duration::from_secs(1))));
}

// ------------------------------------------------------- close while waiting

#[test]
fn a_shutdown_from_another_green_thread_wakes_the_reader() {
    patched();
    let (_l, c, _s) = loopback();
    let c = Arc::new(c);
    let c2 = c.clone();
    let reader = rt::spawn(move || (&*c2).read(&mut [0; 8]).map_err(|e| e.kind()));
    rt::sleep(Duration::from_millis(20));
    c.shutdown(Shutdown::Both).unwrap();
    let r = within(5, "reader after shutdown", || reader.join().unwrap());
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
}

#[test]
fn the_peer_going_away_wakes_readers_and_writers() {
    patched();
    let (_l, c, s) = loopback();
    let reader = rt::spawn(move || {
        let mut c = c;
        c.read(&mut [0; 8]).map_err(|e| e.kind())
    });
    rt::sleep(Duration::from_millis(20));
    drop(s);
    assert_eq!(within(5, "reader after the peer closed", || reader.join().unwrap()), Ok(0));

    let (_l, c, s) = loopback();
    let writer = rt::spawn(move || {
        let mut c = c;
        let chunk = vec![1u8; 1 << 20];
        loop {
            if let Err(e) = c.write_all(&chunk) {
                return e.kind();
            }
        }
    });
    rt::sleep(Duration::from_millis(50)); // the writer fills the buffers and waits
    drop(s);
    let kind = within(5, "writer after the peer closed", || writer.join().unwrap());
    assert!(matches!(kind, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset), "{kind:?}");
}

#[test]
fn a_unix_datagram_shutdown_wakes_the_receiver() {
    patched();
    let (a, _b) = UnixDatagram::pair().unwrap();
    let a = Arc::new(a);
    let a2 = a.clone();
    let rx = rt::spawn(move || a2.recv(&mut [0; 8]).map_err(|e| e.kind()));
    rt::sleep(Duration::from_millis(20));
    a.shutdown(Shutdown::Read).unwrap();
    let r = within(5, "datagram receiver after shutdown", || rx.join().unwrap());
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
}

#[test]
fn a_listener_shut_down_under_a_waiting_accept_wakes_it() {
    patched();
    let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let l2 = l.clone();
    let acceptor = rt::spawn(move || l2.accept().map(|_| ()).map_err(|e| e.kind()));
    rt::sleep(Duration::from_millis(20));
    // std has no listener shutdown; the syscall is what a framework uses.
    // SAFETY: shutdown on an open socket this test owns.
    assert_eq!(unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) }, 0);
    let r = within(5, "accept after shutdown", || acceptor.join().unwrap());
    assert!(r.is_err(), "{r:?}");
}

// ---------------------------------------------------------- descriptor reuse

#[test]
fn a_reused_descriptor_does_not_inherit_a_killed_waiters_wake_ups() {
    patched();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    for _ in 0..3 {
        let old = TcpStream::connect(addr).unwrap();
        let (mut old_peer, _) = l.accept().unwrap();
        let old_fd = old.as_raw_fd();
        // A waiter parks on the old socket and is killed; the socket closes.
        let waiter = rt::spawn(move || {
            let mut old = old;
            let _ = old.read(&mut [0; 8]);
        });
        rt::sleep(Duration::from_millis(10));
        waiter.kill();
        assert!(waiter.join().unwrap_err().is_killed());
        // A new socket, likely on the same number, waits with a timeout
        // while the old peer writes into the void.
        let new = TcpStream::connect(addr).unwrap();
        let (mut new_peer, _) = l.accept().unwrap();
        let reused = new.as_raw_fd() == old_fd;
        let _ = old_peer.write_all(b"stale");
        new.set_read_timeout(Some(Duration::from_millis(80))).unwrap();
        let t = Instant::now();
        let err = (&new).read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "reused={reused}");
        assert!(t.elapsed() >= Duration::from_millis(80), "woken early (reused={reused})");
        // And its own data still wakes it.
        new.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reader = rt::spawn(move || {
            let mut b = [0; 5];
            (&new).read_exact(&mut b).map(|_| b)
        });
        rt::sleep(Duration::from_millis(5));
        new_peer.write_all(b"fresh").unwrap();
        assert_eq!(&within(5, "new socket's own data", || reader.join().unwrap()).unwrap(), b"fresh");
    }
}

// --------------------------------------------------------------------- EMFILE

/// Runs `gp-child emfile-accept <mode>`, connects 20 clients while it is
/// out of descriptors, and returns its report line.
fn emfile_child(mode: &str) -> String {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gp-child"))
        .args(["emfile-accept", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start gp-child");
    let pid = child.id();
    // Kill-after: a hung child fails the test instead of hanging it.
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let watchdog = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if d2.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signals our own child, which has not been reaped yet
        // (`done` is set only after `wait`).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        true
    });
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port: u16 = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("PORT ").map(str::to_owned))
        .and_then(|p| p.parse().ok())
        .expect("the child's port");
    // Plain std clients: they wait in the child's backlog.
    let clients: Vec<_> = (0..20).map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"GO\n").expect("tell the child to go");
    drop(stdin);
    let report = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = child.wait();
    done.store(true, Ordering::SeqCst);
    let killed = watchdog.join().unwrap();
    drop(clients);
    assert!(!killed, "emfile-accept {mode}: killed after 20 s (report: {report:?})");
    report
}

fn field(report: &str, name: &str) -> f64 {
    let mut it = report.split_whitespace();
    while let Some(w) = it.next() {
        if w == name {
            return it.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        }
    }
    panic!("no {name} in {report:?}")
}

#[test]
fn an_accept_loop_that_backs_off_recovers_from_emfile_quickly_and_cheaply() {
    let report = emfile_child("sleep");
    println!("emfile-accept sleep: {report}");
    assert!(field(&report, "EMFILE") > 0.0, "never out of descriptors: {report}");
    assert_eq!(field(&report, "ACCEPTED"), 20.0, "{report}");
    assert!(field(&report, "RECOVERY") < 1000.0, "recovery took too long: {report}");
    assert!(field(&report, "CPU") < 10.0, "CPU while out of descriptors: {report}");
}

// ------------------------------------------------------ cross-hub messaging

#[test]
fn a_million_messages_cross_hubs_and_none_is_lost() {
    patched();
    const N: u64 = 1_000_000;
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let (tx, rx) = channel::<u64>();
    let (where_tx, where_rx) = std::sync::mpsc::channel();
    let producer = runtime.spawn(move || {
        where_tx.send(std::thread::current().id()).unwrap();
        for i in 0..N {
            tx.send(i).unwrap();
        }
    });
    let producer_thread = where_rx.recv().unwrap();
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    // Place the consumer on the other hub: a consumer that lands on the
    // producer's hub hands the receiver back and another is spawned.
    let t0 = Instant::now();
    let mut got = None;
    for _ in 0..16 {
        let rx = rx.clone();
        let h = runtime.spawn(move || {
            if std::thread::current().id() == producer_thread {
                return None;
            }
            let rx = rx.lock().unwrap().take().expect("one consumer");
            let (mut count, mut sum, mut next) = (0u64, 0u64, 0u64);
            for v in rx.iter() {
                assert_eq!(v, next, "messages arrive in order");
                next += 1;
                count += 1;
                sum = sum.wrapping_add(v);
            }
            Some((count, sum))
        });
        if let Some(r) = h.join().unwrap() {
            got = Some(r);
            break;
        }
    }
    producer.join().unwrap();
    let (count, sum) = got.expect("a consumer on the other hub");
    assert_eq!(count, N);
    assert_eq!(sum, N * (N - 1) / 2);
    println!("1,000,000 cross-hub messages in {:?}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(60), "took {:?}", t0.elapsed());
}

// ---------------------------------------------------------- network faults

/// Two network namespaces joined by a veth pair with `netem` on both ends;
/// removed on drop.
struct FaultyLink {
    names: [String; 2],
    veth: String,
}

impl FaultyLink {
    /// The link, or why it cannot be made here.
    fn new(netem: &str) -> Result<FaultyLink, String> {
        let id = std::process::id();
        let (va, vb) = (format!("gva{id}"), format!("gvb{id}"));
        let link = FaultyLink { names: [format!("gpfa{id}"), format!("gpfb{id}")], veth: va.clone() };
        let [a, b] = &link.names;
        let ip = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e} (install iproute2)"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("`ip {}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
            }
        };
        ip(&["netns", "add", a])?;
        ip(&["netns", "add", b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        ip(&["link", "set", &va, "netns", a])?;
        ip(&["link", "set", &vb, "netns", b])?;
        for (ns, dev, addr) in [(a, &va, "10.77.0.1/24"), (b, &vb, "10.77.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            if netem == "none" {
                continue;
            }
            let mut args = vec!["-n", ns, "qdisc", "add", "dev", dev, "root", "netem"];
            args.extend(netem.split_whitespace());
            let out = Command::new("tc").args(&args).output().map_err(|e| format!("tc: {e} (install iproute2)"))?;
            if !out.status.success() {
                return Err(format!("`tc {}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
        Ok(link)
    }

    fn exec(&self, side: usize, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.names[side], env!("CARGO_BIN_EXE_gp-child")]).args(args);
        c
    }
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        // Deleting the namespaces deletes the veth pair in them; the pair is
        // deleted first in case it never left this namespace.
        let _ = Command::new("ip").args(["link", "del", &self.veth]).stderr(Stdio::null()).output();
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

#[test]
fn green_clients_and_server_keep_data_and_timeouts_over_a_lossy_link() {
    use std::io::BufRead;
    // `GREENPATCH_NETEM` replaces the impairment (`none`: a clean link, to
    // check the run itself where the kernel has no netem).
    let netem = std::env::var("GREENPATCH_NETEM").unwrap_or_else(|_| "loss 5% delay 20ms".into());
    let link = match FaultyLink::new(&netem) {
        Ok(l) => l,
        Err(why) => {
            println!("SKIPPED network-fault run: {why}");
            return;
        }
    };
    let mut server = link.exec(1, &["netem-server", "10.77.0.2:7000"]).stdout(Stdio::piped()).spawn().expect("server");
    let ready = std::io::BufReader::new(server.stdout.take().expect("stdout")).lines().next();
    assert!(matches!(ready, Some(Ok(ref l)) if l == "READY"), "server: {ready:?}");
    let out = run_bounded(link.exec(0, &["netem-client", "10.77.0.2:7000"]), 90, "netem client");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("INTACT 12 RESETS 4 TIMEOUTS 4"), "{stdout}");
}

/// The harness itself fails when the call it is given does not block,
/// so a kill test cannot pass by accident.
#[test]
fn the_kill_harness_fails_for_a_call_that_does_not_block() {
    patched();
    let r = std::panic::catch_unwind(|| kill_while_parked("no-op", || ()));
    assert!(r.is_err(), "a call that returns at once must fail the harness");
}

// ------------------------------------------- a hub that cannot be created

/// A fresh OS thread's first green calls while the process is out of
/// descriptors: its hub (an epoll instance and an eventfd) cannot be
/// created. A facade socket call, `Builder::spawn` and `Runtime` building
/// return an error that names `EMFILE` and what to do; `spawn` (no error channel) panics with
/// the same message, as `std::thread::spawn` does; nothing aborts, and
/// once descriptors are back the next thread works.
#[test]
fn a_threads_first_green_call_out_of_descriptors_returns_emfile() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gp-child"))
        .arg("hub-emfile")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gp-child");
    let start = Instant::now();
    while child.try_wait().expect("status").is_none() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    let line = |tag: &str| stdout.lines().find(|l| l.starts_with(tag)).unwrap_or_default().to_string();
    for tag in ["READ ERR", "BUILDER ERR", "SPAWN PANIC", "RUNTIME ERR"] {
        let l = line(tag);
        assert!(l.contains("EMFILE") && l.contains("ulimit -n"), "{tag}: {stdout}");
    }
    assert!(line("RECOVERED").contains("read Err(WouldBlock) spawn Some(7)"), "{stdout}");
}
