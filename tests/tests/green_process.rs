//! Child processes with green waits: the runtime's `process` and the
//! `greenpatch::process` facade.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use greenpatch_runtime as rt;
use rt::process::Command;

#[test]
fn two_hundred_green_sleeps_in_child_processes_overlap_on_one_os_thread() {
    let t = Instant::now();
    let handles: Vec<_> = (0..200).map(|_| rt::spawn(|| Command::new("sleep").arg("0.2").output().unwrap())).collect();
    for h in handles {
        assert!(h.join().unwrap().status.success());
    }
    let took = t.elapsed();
    // Serially, 200 × 0.2 s = 40 s.
    assert!(took < Duration::from_secs(2), "took {took:?}");
    eprintln!("200 green `sleep 0.2` children: {took:?}");
}

#[test]
fn a_waiting_child_does_not_block_the_hub() {
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t2 = ticks.clone();
    let ticker = rt::spawn(move || {
        for _ in 0..10 {
            rt::sleep(Duration::from_millis(10));
            t2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let st = Command::new("sleep").arg("0.3").status().unwrap();
    assert!(st.success());
    assert_eq!(ticks.load(std::sync::atomic::Ordering::SeqCst), 10, "the ticker ran during the wait");
    ticker.join().unwrap();
}

#[test]
fn pipes_kill_and_timeouts() {
    let mut c = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = c.stdin.take().unwrap();
    // More than a pipe holds: the writer parks while cat drains.
    let big = vec![b'x'; 1 << 20];
    let writer = rt::spawn(move || {
        stdin.write_all(&big).unwrap();
    });
    let mut out = Vec::new();
    c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap();
    assert_eq!(out.len(), 1 << 20);
    assert!(c.wait().unwrap().success());

    let mut s = Command::new("sleep").arg("30").spawn().unwrap();
    let t = Instant::now();
    assert!(s.wait_timeout(Duration::from_millis(50)).unwrap().is_none());
    s.kill().unwrap();
    let st = s.wait().unwrap();
    assert!(!st.success());
    assert!(t.elapsed() < Duration::from_secs(5));

    let o = Command::new("sh").args(["-c", "printf out; printf err >&2; exit 4"]).output().unwrap();
    assert_eq!((o.stdout.as_slice(), o.stderr.as_slice(), o.status.code()), (&b"out"[..], &b"err"[..], Some(4)));
    assert!(Command::new("/nonexistent/program").output().is_err());
}

#[test]
fn the_facade_blocks_before_patching_and_parks_after() {
    use greenpatch::process::Command as Facade;
    let before = Facade::new("true").spawn().unwrap();
    assert!(!before.is_green());
    let mut before = before;
    assert!(before.wait().unwrap().success());
    let _ = greenpatch::monkey::patch_all(greenpatch::PatchAll::default().subprocess(true)).unwrap();
    assert!(greenpatch::monkey::is_module_patched("subprocess"));
    let t = Instant::now();
    let hs: Vec<_> =
        (0..20).map(|_| greenpatch::thread::spawn(|| Facade::new("sleep").arg("0.2").output().unwrap())).collect();
    for h in hs {
        assert!(h.join().unwrap().status.success());
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(Facade::new("true").spawn().unwrap().is_green());
}
