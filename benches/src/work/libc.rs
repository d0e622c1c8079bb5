//! The `libc` patch module: what the hooks cost where they pass through,
//! what they cost the runtime's own sockets, and how fast unmodified
//! `std::net` code runs green through them.
//!
//! Patching is process-wide and one-way, so everything that must run
//! patched or unpatched runs in a child process of its own (`versus --child
//! …`), and both states are measured the same way:
//!
//! - `libc-recv`: a `recv` on an empty non-blocking TCP socket (it returns
//!   `EAGAIN`) on a plain OS thread — the hook (a normal call to
//!   `libc::recv`, which links to it) against the C library's own `recv`
//!   (`get_original("libc", "recv")`, or `dlsym(RTLD_NEXT)`), interleaved
//!   in chunks in one child; once in a child that never patched and once
//!   after `patch_all()` (the hook then also looks for the thread's hub,
//!   finds none, and passes through). Target: ≤ 1.02× the original.
//! - `libc-echo64`: the TCP echo server of the `echo64` row (green
//!   sockets of `greenpatch_runtime::net`, one hub) in a child that ran
//!   `patch_all()` against the same server in a child that ran it with
//!   `libc` switched off: once patched, the hooks sit under the runtime's
//!   own `recv`/`send`.
//!   Target: ≥ 0.97× unpatched.
//! - `libc-std-echo64`: an echo server written with `std::net` only
//!   (blocking `accept`, `read`, `write_all`, as any crate would), each
//!   connection a green thread, in a patched child: it runs green only
//!   through the hooks. Beside it the facade server (patched child, the
//!   floor column) and tokio. Target: ≥ 0.9× the facade server.
//!
//! Every echo server reads into 4 KiB buffers, sets `TCP_NODELAY`, and is
//! pinned like the other single-thread servers; the client is the suite's
//! `echo_client` with 64 connections.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::child::{self, Tool};
use crate::harness::{Baseline, Better, Config, RowSpec, Side, Sides, Target, Workload};
use crate::report::count;
use crate::rts;
use crate::work::echo::{pinning, tokio_echo, MANY};
use crate::work::server::{client_side, Server, Tokio, BUF};

/// `recv`'s C signature.
type RecvFn = unsafe extern "C" fn(c_int, *mut c_void, libc::size_t, c_int) -> libc::ssize_t;

/// Why the greenpatch side cannot run in this build, if it cannot.
pub fn missing_libc_module() -> Option<String> {
    greenpatch::monkey::module("libc").is_none().then(|| "the `libc` patch module is not in this build".to_string())
}

/// The C library's `recv` (not the hook) and where it came from.
fn original_recv() -> Option<(RecvFn, &'static str)> {
    if let Some(f) = greenpatch::monkey::get_original::<RecvFn>("libc", "recv") {
        return Some((f, "get_original"));
    }
    // SAFETY: RTLD_NEXT with a NUL-terminated name; the result is null or
    // the address of the next object's `recv`, which has recv's C type.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, c"recv".as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is the address of a function of type `RecvFn` (see above).
    Some((unsafe { std::mem::transmute::<*mut c_void, RecvFn>(p) }, "dlsym(RTLD_NEXT)"))
}

/// `versus --child libc-recv CALLS PATCH`: prints `hooked=<ns> original=<ns>`
/// per call (from 200 adjacent pairs of chunks of `CALLS / 200` calls: the
/// median original chunk, and that times the median pair's ratio) for
/// `recv`s on an empty
/// non-blocking socket of this plain OS thread, after `patch_all()` when
/// `PATCH` is `1`.
pub fn recv_child_main(args: &[String]) -> Result<(), String> {
    let calls: u64 = args.first().and_then(|a| a.parse().ok()).ok_or("libc-recv needs CALLS PATCH")?;
    if args.get(1).map(String::as_str) == Some("1") {
        let _ = greenpatch::monkey::patch_all(greenpatch::monkey::PatchAll::default()).map_err(|e| e.to_string())?;
        if !greenpatch::monkey::is_module_patched("libc") {
            return Err("patch_all() did not patch the `libc` module".into());
        }
    }
    let (original, _) = original_recv().ok_or("no original recv (get_original and dlsym both failed)")?;
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let a = TcpStream::connect(l.local_addr().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let (_b, _) = l.accept().map_err(|e| e.to_string())?;
    a.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fd = a.as_raw_fd();
    let mut buf = [0u8; 64];
    let mut run = |f: RecvFn, n: u64| -> Result<Duration, String> {
        let start = Instant::now();
        for _ in 0..n {
            // SAFETY: `fd` is an open socket owned by `a`; `buf` is writable
            // for the length passed.
            let r = unsafe { f(std::hint::black_box(fd), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if r != -1 {
                return Err(format!("recv on an empty socket returned {r}"));
            }
        }
        Ok(start.elapsed())
    };
    let hooked: RecvFn = libc::recv;
    // Many short chunks (a few ms each), in adjacent pairs whose order
    // alternates; the figure is the median pair's ratio times the median
    // original chunk. A pair runs within milliseconds, so the machine's
    // drift (this VM is shared) cancels within it, and a pair that another
    // process preempted moves the median of 200 little.
    const CHUNKS: u64 = 200;
    let chunk = (calls / CHUNKS).max(1);
    run(hooked, chunk)?;
    run(original, chunk)?; // warm both paths
    let (mut ratios, mut o) = (Vec::new(), Vec::new());
    for i in 0..CHUNKS {
        let (h_i, o_i) = if i % 2 == 0 {
            let h_i = run(hooked, chunk)?;
            (h_i, run(original, chunk)?)
        } else {
            let o_i = run(original, chunk)?;
            (run(hooked, chunk)?, o_i)
        };
        ratios.push(h_i.as_secs_f64() / o_i.as_secs_f64());
        o.push(o_i.as_nanos() as f64 / chunk as f64);
    }
    let errno = io::Error::last_os_error();
    if errno.kind() != io::ErrorKind::WouldBlock {
        return Err(format!("recv on an empty socket left errno {errno}, not EAGAIN"));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let o = median(o);
    let h = o * median(ratios);
    println!("hooked={h:.3} original={o:.3}");
    Ok(())
}

/// Two sides fed by one measurement per round: whichever of them runs
/// first in a round runs `measure` and leaves the other's figures behind.
fn paired(measure: impl FnMut() -> (Vec<f64>, Vec<f64>) + 'static) -> (Side, Side) {
    type Slot = Rc<RefCell<(Option<Vec<f64>>, Option<Vec<f64>>)>>;
    let slot: Slot = Rc::new(RefCell::new((None, None)));
    let measure = Rc::new(RefCell::new(measure));
    let (s1, m1) = (slot.clone(), measure.clone());
    let first: Side = Box::new(move || {
        if let Some(mine) = s1.borrow_mut().0.take() {
            return mine;
        }
        let (mine, theirs) = (*m1.borrow_mut())();
        s1.borrow_mut().1 = Some(theirs);
        mine
    });
    let second: Side = Box::new(move || {
        if let Some(mine) = slot.borrow_mut().1.take() {
            return mine;
        }
        let (theirs, mine) = (*measure.borrow_mut())();
        slot.borrow_mut().0 = Some(theirs);
        mine
    });
    (first, second)
}

/// The hooks' pass-through cost on a plain OS thread.
pub fn recv(cfg: &Config) -> Workload {
    let calls: u64 = cfg.pick(2_000_000, 500_000);
    let source = original_recv().map_or("none", |(_, s)| s);
    let rows = vec![
        RowSpec::new("libc recv hook, EAGAIN, not patched", "ns/call", Better::Lower)
            .target(Target::floor_at_most(1.02))
            .floor("C library's recv"),
        RowSpec::new("libc recv hook, EAGAIN, patched, no hub", "ns/call", Better::Lower)
            .target(Target::floor_at_most(1.02))
            .floor("C library's recv"),
    ];
    let note = format!(
        "{} calls per side per run on a plain OS thread, 200 adjacent hooked/original chunk pairs (median pair ratio), in a child process; \
         original from {source}; no tokio equivalent",
        count(calls)
    );
    let (gp, floor) = paired(move || {
        let mut hooked = Vec::new();
        let mut original = Vec::new();
        for patch in ["0", "1"] {
            let mut cmd = child::self_child("libc-recv");
            cmd.args([calls.to_string(), patch.to_string()]);
            match child::run_kv(cmd) {
                Ok(kv) => {
                    hooked.push(kv.get("hooked").copied().unwrap_or(f64::NAN));
                    original.push(kv.get("original").copied().unwrap_or(f64::NAN));
                }
                Err(e) => {
                    eprintln!("libc-recv child: {e}");
                    hooked.push(f64::NAN);
                    original.push(f64::NAN);
                }
            }
        }
        (hooked, original)
    });
    Workload {
        rows,
        baseline: Baseline::Current,
        note,
        sides: Sides {
            greenpatch: missing_libc_module().map_or(Ok(gp), Err),
            tokio_current: None,
            tokio_multi: None,
            floor: Some(floor),
        },
    }
}

/// Which echo server a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoKind {
    /// Green sockets of `greenpatch_runtime::net` (the `echo64` server).
    Facade,
    /// Plain `std::net`, green only through the `libc` hooks.
    Std,
}

impl EchoKind {
    fn arg(self) -> &'static str {
        match self {
            EchoKind::Facade => "facade",
            EchoKind::Std => "std",
        }
    }
}

/// What a server child patches before it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patch {
    /// `patch_all(PatchAll::default())`: the facades and `libc`.
    All,
    /// `patch_all(PatchAll::default().libc(false))`: the facades only.
    AllButLibc,
}

impl Patch {
    fn arg(self) -> &'static str {
        match self {
            Patch::All => "all",
            Patch::AllButLibc => "all-but-libc",
        }
    }
}

/// Patches as `arg` (`all` or `all-but-libc`) says and checks the outcome.
fn patch_as(arg: Option<&str>) -> Result<(), String> {
    use greenpatch::monkey::{is_module_patched, patch_all, PatchAll};
    let libc = match arg {
        Some("all") => true,
        Some("all-but-libc") => false,
        _ => return Err("PATCH must be all or all-but-libc".into()),
    };
    let _ = patch_all(PatchAll::default().libc(libc)).map_err(|e| e.to_string())?;
    if is_module_patched("libc") != libc || !is_module_patched("socket") {
        return Err(format!("patch_all() left libc patched={}, wanted {libc}", is_module_patched("libc")));
    }
    Ok(())
}

/// An echo server in a child process; dropping it closes the child's stdin
/// (its signal to exit) and reaps it.
fn child_server(kind: EchoKind, patch: Patch, cpu: Option<usize>) -> Result<Server, String> {
    let mut cmd = child::self_child("echo-server");
    cmd.args([kind.arg(), patch.arg()]);
    if let Some(cpu) = cpu {
        cmd.arg(cpu.to_string());
    }
    let mut c: Child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the echo-server child: {e}"))?;
    let stdin: ChildStdin = c.stdin.take().ok_or("no stdin pipe")?;
    let mut line = String::new();
    BufReader::new(c.stdout.take().ok_or("no stdout pipe")?).read_line(&mut line).map_err(|e| e.to_string())?;
    let addr: SocketAddr = match line.trim().strip_prefix("addr=").and_then(|a| a.parse().ok()) {
        Some(a) => a,
        None => {
            let _ = c.kill();
            let _ = c.wait();
            return Err(format!("the echo-server child said {line:?}, not addr=…"));
        }
    };
    Ok(Server::new(addr, move || {
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        let _ = c.wait();
    }))
}

fn std_conn(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; BUF];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// `versus --child echo-server KIND PATCH [CPU]`: an echo server of `KIND`
/// (`facade` or `std`) on this thread's hub, after `patch_all()` with
/// `libc` (`PATCH` = `all`) or without it (`all-but-libc`), pinned to
/// `CPU`; prints `addr=<addr>` and serves until its stdin closes.
pub fn server_child_main(args: &[String]) -> Result<(), String> {
    let kind = match args.first().map(String::as_str) {
        Some("facade") => EchoKind::Facade,
        Some("std") => EchoKind::Std,
        _ => return Err("echo-server needs KIND (facade|std) PATCH (all|all-but-libc) [CPU]".into()),
    };
    if let Some(cpu) = args.get(2).and_then(|c| c.parse().ok()) {
        rts::pin_current_thread(cpu);
    }
    patch_as(args.get(1).map(String::as_str))?;
    if kind == EchoKind::Std && !greenpatch::monkey::is_module_patched("libc") {
        return Err("a std::net echo server in green threads needs the `libc` module patched".into());
    }
    // The parent closes our stdin to stop us (read on a plain OS thread:
    // the hooks pass through there).
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while !matches!(io::stdin().read(&mut sink), Ok(0) | Err(_)) {}
        std::process::exit(0);
    });
    let accept = match kind {
        EchoKind::Facade => {
            let l = greenpatch_runtime::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            println!("addr={}", l.local_addr().map_err(|e| e.to_string())?);
            greenpatch_runtime::spawn(move || loop {
                if let Ok((s, _)) = l.accept() {
                    let _ = s.set_nodelay(true);
                    drop(greenpatch_runtime::spawn(move || crate::work::echo::greenpatch_conn(s)));
                }
            })
        }
        EchoKind::Std => {
            let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            println!("addr={}", l.local_addr().map_err(|e| e.to_string())?);
            greenpatch_runtime::spawn(move || loop {
                if let Ok((s, _)) = l.accept() {
                    drop(greenpatch_runtime::spawn(move || std_conn(s)));
                }
            })
        }
    };
    io::stdout().flush().map_err(|e| e.to_string())?;
    // The root drives this thread's hub until the parent stops us.
    let _ = accept.join();
    Ok(())
}

/// The facade echo-64 row with `libc` patched against itself unpatched.
pub fn echo64(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    const KEYS: &[&str] = &["per_sec"];
    let side = move |patch: Patch| {
        client_side(
            move || child_server(EchoKind::Facade, patch, p.server),
            Tool::EchoClient,
            p.client,
            MANY,
            secs,
            KEYS,
        )
    };
    Workload {
        rows: vec![RowSpec::new(format!("TCP echo {MANY} conns, libc patched"), "round trips/s", Better::Higher)
            .target(Target::floor_at_least(0.97))
            .floor("same, libc switched off")],
        baseline: Baseline::Current,
        note: format!(
            "64 B messages, {secs} s per run; green-socket server on 1 hub in a child process, after patch_all() \
             vs patch_all() with libc switched off; {}",
            pinning(p)
        ),
        sides: Sides {
            greenpatch: missing_libc_module().map_or_else(|| Ok(side(Patch::All)), Err),
            tokio_current: None,
            tokio_multi: None,
            floor: Some(side(Patch::AllButLibc)),
        },
    }
}

/// An unmodified std::net echo server in green threads, through the hooks.
pub fn std_echo64(cfg: &Config) -> Workload {
    let secs = cfg.pick(1.0, 0.3);
    let p = rts::placement();
    const KEYS: &[&str] = &["per_sec"];
    let child_side = move |kind: EchoKind| {
        client_side(move || child_server(kind, Patch::All, p.server), Tool::EchoClient, p.client, MANY, secs, KEYS)
    };
    let tokio_side = |flavor: Tokio| {
        let make = tokio_echo(flavor, p.server);
        client_side(make, Tool::EchoClient, p.client, MANY, secs, KEYS)
    };
    let (gp, floor) = match missing_libc_module() {
        Some(why) => (Err(why), None),
        None => (Ok(child_side(EchoKind::Std)), Some(child_side(EchoKind::Facade))),
    };
    Workload {
        rows: vec![RowSpec::new(
            format!("TCP echo {MANY} conns, std::net server via libc hooks"),
            "round trips/s",
            Better::Higher,
        )
        .target(Target::floor_at_least(0.9))
        .floor("facade server, patched")],
        baseline: Baseline::Current,
        note: format!(
            "64 B messages, {secs} s per run; unmodified std::net accept/read/write_all, a green thread per \
             connection, 1 hub, patched child process; floor: the echo64 green-socket server in the same setting; \
             tokio multi: 1 worker; {}",
            pinning(p)
        ),
        sides: Sides {
            greenpatch: gp,
            tokio_current: Some(tokio_side(Tokio::Current)),
            tokio_multi: Some(tokio_side(Tokio::Multi(1))),
            floor,
        },
    }
}
