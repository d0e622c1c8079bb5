//! Green-thread stacks at scale: hundreds of thousands of live green
//! threads at the default `vm.max_map_count`, memory per idle green thread,
//! the protected-page fallback, overflow reports from guard regions, memory
//! given back after a burst, and errors that name their real cause.
//!
//! The scenarios that measure a whole process (memory, mappings) or change
//! a process-wide setting (the guard mechanism) run in a fresh child
//! process (`gp-child`).

use std::collections::HashMap;
use std::process::{Command, Output};

use greenpatch_runtime as rt;

/// Runs `gp-child` with `args`, with `GREENPATCH_STACK_GUARDS=mprotect` when
/// `mprotect` is set.
fn child(args: &[&str], mprotect: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gp-child"));
    cmd.args(args);
    if mprotect {
        cmd.env("GREENPATCH_STACK_GUARDS", "mprotect");
    } else {
        cmd.env_remove("GREENPATCH_STACK_GUARDS");
    }
    cmd.output().expect("start the child process")
}

/// The `key=value` fields of the stdout line that starts with `tag`.
fn fields(out: &Output, tag: &str) -> HashMap<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(tag))
        .unwrap_or_else(|| panic!("no {tag} line; status {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status));
    line.split_whitespace().filter_map(|f| f.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn num(f: &HashMap<String, String>, key: &str) -> f64 {
    f.get(key).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no number {key} in {f:?}"))
}

fn guard_regions_here() -> bool {
    let here = rt::stats::stack_guard() == rt::stats::StackGuard::GuardRegion;
    if !here {
        eprintln!("skipped: this kernel refuses MADV_GUARD_INSTALL (Linux < 6.13); stacks use protected pages");
    }
    here
}

#[test]
fn two_hundred_thousand_green_threads_sleep_together_at_the_default_map_limit() {
    if !guard_regions_here() {
        return;
    }
    let out = child(&["live", "200000"], false);
    let f = fields(&out, "LIVE");
    assert_eq!(f["guard"], "GuardRegion");
    let per_thread = num(&f, "rss_kib") + num(&f, "pte_kib");
    assert!(per_thread <= 5.0, "{per_thread:.3} KiB per idle green thread (RSS + page tables): {f:?}");
    assert!(num(&f, "maps") < 1000.0, "the mapping count stays small: {f:?}");
    assert_eq!(num(&f, "mapped"), 200_000.0, "{f:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("JOINED 200000"), "every green thread woke and was joined: {stdout}");
}

#[test]
fn the_protected_page_fallback_can_be_forced_and_maps_two_per_stack() {
    let out = child(&["live", "3000"], true);
    let f = fields(&out, "LIVE");
    assert_eq!(f["guard"], "Mprotect", "{f:?}");
    assert!(num(&f, "arenas") >= 3000.0, "one arena per stack: {f:?}");
    assert!(num(&f, "maps") >= 6000.0, "two mappings per stack: {f:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("JOINED 3000"));
}

#[test]
fn the_fallback_still_reports_the_map_limit_clearly() {
    let out = child(&["map-limit"], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err_line = stdout.lines().find(|l| l.starts_with("ERR")).unwrap_or_default();
    assert!(err_line.contains("(Mprotect)"), "{stdout}");
    assert!(err_line.contains("the kernel's memory-map limit was reached"), "{stdout}");
    assert!(err_line.contains("stack guards: a PROT_NONE page per stack"), "names the mechanism: {stdout}");
    assert!(err_line.contains("sysctl -w vm.max_map_count="), "says how to raise it: {stdout}");
    let panic_line = stdout.lines().find(|l| l.starts_with("PANIC")).unwrap_or_default();
    assert!(panic_line.contains("vm.max_map_count"), "spawn panics with the same text: {stdout}");
}

#[test]
fn an_overflow_into_a_guard_region_names_the_green_thread() {
    use std::os::unix::process::ExitStatusExt;
    let mut modes = vec![true];
    if guard_regions_here() {
        modes.push(false);
    }
    for mprotect in modes {
        let out = child(&["overflow"], mprotect);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = if mprotect { "stack guards: Mprotect" } else { "stack guards: GuardRegion" };
        assert!(stderr.contains(want), "{stderr}");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "status {:?}, stderr: {stderr}", out.status);
        assert!(stderr.contains("'deep-recursion' overflowed its 65536-byte stack"), "stderr: {stderr}");
    }
}

#[test]
fn memory_goes_back_after_a_burst() {
    let out = child(&["give-back", "50000"], false);
    let f = fields(&out, "GIVE-BACK");
    let (before, peak, after) = (num(&f, "before_kib"), num(&f, "peak_kib"), num(&f, "after_kib"));
    // 50,000 live green threads cost well over 150 MiB...
    assert!(peak - before > 150.0 * 1024.0, "the burst was measured: {f:?}");
    // ...and within two trim intervals of the hub going idle, RSS is back
    // within a few MiB of where it was.
    assert!(after - before < 4.0 * 1024.0, "RSS after the burst: {f:?}");
    assert_eq!(num(&f, "arenas_after"), num(&f, "arenas_before"), "idle arenas are unmapped: {f:?}");
    assert_eq!(num(&f, "mapped_after"), 0.0, "{f:?}");
    assert_eq!(num(&f, "cached_after"), 0.0, "{f:?}");
}

#[test]
fn errors_name_their_real_cause() {
    // A size the address space cannot hold is the caller's mistake, not
    // the map limit.
    let err = rt::Builder::new().stack_size(usize::MAX / 2).spawn(|| ()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("larger than the address space"), "{msg}");
    assert!(!msg.contains("max_map_count"), "{msg}");

    // Address space exhausted (RLIMIT_AS) is memory, not the map limit.
    let out = child(&["rlimit-as"], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ERR OutOfMemory"), "{stdout}");
    assert!(stdout.contains("out of memory") && stdout.contains("RLIMIT_AS"), "{stdout}");
    assert!(!stdout.contains("max_map_count"), "{stdout}");
}

/// Uses about `bytes` of stack, one KiB per frame.
fn use_stack(bytes: usize) -> u64 {
    let mut local = [0u8; 1024];
    local[bytes % 1024] = 1;
    std::hint::black_box(&mut local);
    if bytes <= 1024 {
        return 1;
    }
    1 + use_stack(bytes - 1024)
}

#[test]
fn stack_sizes_per_spawn_and_per_runtime_keep_working() {
    // Three sizes live at once on one hub, each green thread using half of
    // its stack (frames of unoptimised code are larger than 1 KiB, so
    // "half" is generous and a stack smaller than asked would overflow).
    let sizes = [64 * 1024, 512 * 1024, 2 * 1024 * 1024];
    let handles: Vec<_> = (0..300)
        .map(|i| {
            let size = sizes[i % 3];
            rt::Builder::new()
                .stack_size(size)
                .spawn(move || {
                    let depth = use_stack(size / 4);
                    rt::yield_now();
                    depth
                })
                .unwrap()
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (sizes[i % 3] / 4 / 1024) as u64);
    }
    let runtime = rt::Runtime::builder().hubs(1).stack_size(1024 * 1024).build().unwrap();
    let h = runtime.spawn(|| use_stack(256 * 1024));
    assert_eq!(h.join().unwrap(), 256);
}

#[test]
fn a_hub_that_never_sleeps_still_trims_its_idle_stacks() {
    // A burst leaves hot stacks in this thread's hub...
    let burst: Vec<_> = (0..5_000).map(|_| rt::spawn(|| ())).collect();
    for h in burst {
        h.join().unwrap();
    }
    assert!(rt::stats::cached_stacks() >= 5_000);
    // ...then the hub stays busy (a green thread that only yields) for
    // longer than two trim intervals: the unused stacks go back anyway.
    let start = std::time::Instant::now();
    let spinner = rt::spawn(move || {
        let mut yields = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(2_500) {
            rt::yield_now();
            yields += 1;
        }
        yields
    });
    assert!(spinner.join().unwrap() > 0);
    let left = rt::stats::cached_stacks();
    assert!(left <= 1, "{left} idle stacks kept by a busy hub");
}
