//! The bridge in a patched process: started by the plugin at
//! `DidPatchBuiltinModules`, `run` parks only the calling green thread,
//! kills and timeout scopes abort the tokio task.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use greenpatch::monkey::{patch_all, PatchAll};
use greenpatch::plugins::EventKind;
use greenpatch::{thread, time, Flavor};
use greenpatch_tokio::{run, start_info, RunError, StartedBy};

fn patched() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = patch_all(PatchAll::default()).expect("patch_all");
    });
}

/// Sets its flag when dropped: proves the tokio side dropped the future.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn the_plugin_starts_the_runtime_at_did_patch_builtin_modules() {
    patched();
    let info = start_info().expect("started by patch_all");
    assert_eq!(info.by, StartedBy::Event(EventKind::DidPatchBuiltinModules));
    assert!(info.workers >= 1);
}

#[test]
fn two_hundred_green_threads_overlap_their_tokio_sleeps() {
    patched();
    let start = Instant::now();
    let hs: Vec<_> = (0..200u64)
        .map(|i| {
            thread::spawn(move || {
                run(async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    i
                })
                .unwrap()
            })
        })
        .collect();
    assert!(hs.iter().all(|h| h.flavor() == Flavor::Green));
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..200).sum());
    // One after the other: 20 s.
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[test]
fn other_green_threads_run_while_one_waits_on_tokio() {
    patched();
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (ticks.clone(), stop.clone());
    let ticker = thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            time::sleep(Duration::from_millis(10));
            t.fetch_add(1, Ordering::Relaxed);
        }
    });
    let waiter = thread::spawn(|| run(async { tokio::time::sleep(Duration::from_millis(300)).await }).unwrap());
    waiter.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    // ~30 ticks if the hub was free; a blocked hub gives none.
    assert!(ticks.load(Ordering::Relaxed) >= 5, "ticks: {}", ticks.load(Ordering::Relaxed));
}

#[test]
fn a_kill_aborts_the_tokio_task() {
    patched();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let h = greenpatch_runtime_spawn(move || {
        let guard = DropFlag(d);
        run(async move {
            let _g = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
    });
    time::sleep(Duration::from_millis(50));
    assert!(!dropped.load(Ordering::SeqCst));
    h.kill();
    assert!(h.join().is_err());
    let until = Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < until {
        time::sleep(Duration::from_millis(5));
    }
    assert!(dropped.load(Ordering::SeqCst), "the tokio task was not aborted");
}

/// A killable green thread (the facade's handles have no kill).
fn greenpatch_runtime_spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> greenpatch_runtime::JoinHandle<T> {
    greenpatch_runtime::spawn_local(f)
}

#[test]
fn a_timeout_scope_aborts_the_tokio_task() {
    patched();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let h = thread::spawn(move || {
        let guard = DropFlag(d);
        let start = Instant::now();
        let r = time::with_timeout(Duration::from_millis(50), || {
            run(async move {
                let _g = guard;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            })
        });
        (r.is_err(), start.elapsed())
    });
    let (timed_out, took) = h.join().unwrap();
    assert!(timed_out);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let until = Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < until {
        time::sleep(Duration::from_millis(5));
    }
    assert!(dropped.load(Ordering::SeqCst), "the tokio task was not aborted");
}

#[test]
fn a_panic_on_tokio_is_a_typed_error() {
    patched();
    let r = thread::spawn(|| run(async { panic!("boom on tokio") })).join().unwrap();
    match r {
        Err(RunError::Panicked(m)) => assert!(m.contains("boom on tokio")),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn plain_os_threads_can_run_too() {
    patched();
    let h = thread::Builder::new()
        .flavor(Flavor::Blocking)
        .spawn(|| run(async { tokio::task::spawn_blocking(|| 5).await.unwrap() }).unwrap())
        .unwrap();
    assert_eq!(h.join().unwrap(), 5);
}

#[test]
fn run_on_a_tokio_worker_is_refused() {
    patched();
    let r = run(async { run(async { 1 }).map_err(|e| e.to_string()) }).unwrap();
    assert!(matches!(r, Err(ref m) if m.contains("tokio worker")), "{r:?}");
}
