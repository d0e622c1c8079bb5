//! What the runtime says: `dump()` of several hubs, the dump signal,
//! `GREENPATCH_*` settings (applied, and invalid ones reported), and
//! registry warnings printed when no logger is installed.
//!
//! Settings, signals and loggers are process-wide, so those tests run
//! their scenario in a child process: the test re-runs this binary with
//! only itself selected and `GP_OBSERVE_CHILD=1`; the same test function
//! then plays the child.

use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use greenpatch_runtime as rt;

fn in_child() -> bool {
    std::env::var_os("GP_OBSERVE_CHILD").is_some()
}

/// Runs test `name` of this binary in a child process with `env` set.
fn child(name: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([name, "--exact", "--nocapture", "--test-threads=1"]).env("GP_OBSERVE_CHILD", "1");
    for var in rt::env::SETTINGS {
        c.env_remove(var.name);
    }
    c.envs(env.iter().copied());
    let out = c.output().expect("start the child");
    assert!(
        out.status.success(),
        "child {name} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts a 2-hub runtime where each hub has a parent green thread
/// waiting on a join of a named child that sleeps; returns the runtime,
/// the handles and the (parent, child) ids per hub.
fn two_busy_hubs() -> (rt::Runtime, Vec<rt::JoinHandle<()>>, Vec<(rt::Id, rt::Id)>) {
    let runtime = rt::Runtime::builder().hubs(2).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for _ in 0..2 {
        let tx = tx.clone();
        handles.push(runtime.spawn(move || {
            let me = rt::current().id();
            let child = rt::Builder::new()
                .name("dump-me".into())
                .spawn_local(|| rt::sleep(Duration::from_millis(1500)))
                .unwrap();
            tx.send((me, child.id())).unwrap();
            child.join().unwrap();
        }));
    }
    let ids: Vec<_> = (0..2).map(|_| rx.recv().unwrap()).collect();
    (runtime, handles, ids)
}

#[test]
fn dump_lists_every_hub_with_ids_names_sites_waits_and_parents() {
    let (_rt, handles, ids) = two_busy_hubs();
    std::thread::sleep(Duration::from_millis(100));
    let d = rt::dump();
    let text = d.to_string();
    let hubs: Vec<u32> = ids.iter().map(|(p, _)| p.to_string().split('.').next().unwrap().parse().unwrap()).collect();
    assert_ne!(hubs[0], hubs[1], "placement put both on one hub: {text}");
    for (parent, kid) in &ids {
        let t = d
            .hubs
            .iter()
            .flat_map(|h| &h.threads)
            .find(|t| t.id == *kid)
            .unwrap_or_else(|| panic!("{kid} missing: {text}"));
        assert_eq!(t.name.as_deref(), Some("dump-me"));
        assert_eq!(t.parent, Some(*parent), "{text}");
        assert_eq!(t.state, "parked");
        assert_eq!(t.waits_on.map(|w| w.what), Some("sleep"), "{text}");
        assert!(t.waiting_for.is_some());
        assert!(t.spawn_site.file().ends_with("observe.rs"), "{text}");
        let p = d.hubs.iter().flat_map(|h| &h.threads).find(|t| t.id == *parent).unwrap();
        assert_eq!(p.waits_on.map(|w| (w.what, w.target)), Some(("join", Some(*kid))), "{text}");
        // The text names the same things, with the runtime's id format.
        assert!(text.contains(&format!("green {kid} 'dump-me' parked on")), "{text}");
        assert!(text.contains(&format!("by {parent})")), "{text}");
    }
    for hub in hubs {
        assert!(d.hubs.iter().any(|h| h.hub == hub && h.answered), "{text}");
    }
    assert!(text.contains("blocking pool:"), "{text}");
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn dump_on_the_signal_the_application_chose() {
    if in_child() {
        let (_rt, handles, _) = two_busy_hubs();
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: raising a signal the runtime installed a handler for.
        unsafe { libc::raise(libc::SIGUSR1) };
        std::thread::sleep(Duration::from_millis(500));
        for h in handles {
            h.join().unwrap();
        }
        return;
    }
    let out = child("dump_on_the_signal_the_application_chose", &[("GREENPATCH_DUMP_SIGNAL", "SIGUSR1")]);
    let err = stderr(&out);
    assert!(err.contains("greenpatch dump:"), "{err}");
    assert_eq!(err.matches("'dump-me' parked on sleep").count(), 2, "{err}");
    assert!(err.contains("blocking pool:"), "{err}");
}

#[test]
fn env_settings_are_applied() {
    if in_child() {
        rt::yield_now(); // start-up: the first hub reads the settings
        assert_eq!(rt::Runtime::builder().build().unwrap().hubs(), 3);
        assert_eq!(rt::stats::default_stack_size(), 64 * 1024);
        assert_eq!(rt::blocking::max_workers(), 2);
        assert_eq!(rt::dump().pool.max_workers, 2);
        assert_eq!(rt::monitor::max_blocking_time(), Some(Duration::from_millis(250)));
        assert_eq!(rt::env::check(), Ok(()));
        return;
    }
    let out = child(
        "env_settings_are_applied",
        &[
            ("GREENPATCH_HUBS", "3"),
            ("GREENPATCH_STACK_SIZE", "64K"),
            ("GREENPATCH_THREADPOOL_SIZE", "2"),
            ("GREENPATCH_MONITOR_THREAD", "yes"),
            ("GREENPATCH_MAX_BLOCKING_TIME", "250"),
        ],
    );
    assert!(!stderr(&out).contains("invalid"), "{}", stderr(&out));
}

#[test]
fn invalid_env_settings_are_reported_at_start_up() {
    if in_child() {
        rt::yield_now();
        let errors = rt::env::check().unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(rt::Runtime::builder().build().unwrap().hubs(), cpus);
        assert_eq!(rt::stats::default_stack_size(), rt::DEFAULT_STACK_SIZE);
        assert_eq!(rt::monitor::max_blocking_time(), None);
        return;
    }
    let out = child(
        "invalid_env_settings_are_reported_at_start_up",
        &[("GREENPATCH_HUBS", "many"), ("GREENPATCH_STACK_SIZE", "12"), ("GREENPATCH_MONITOR_THREAD", "maybe")],
    );
    let err = stderr(&out);
    for bad in [
        r#"GREENPATCH_HUBS="many" is invalid"#,
        r#"GREENPATCH_STACK_SIZE="12" is invalid"#,
        r#"GREENPATCH_MONITOR_THREAD="maybe" is invalid"#,
    ] {
        assert_eq!(err.matches(bad).count(), 1, "{bad} reported once: {err}");
    }
}

#[test]
fn a_registry_warning_reaches_stderr_without_a_logger() {
    if in_child() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let early = greenpatch::thread::spawn(move || {
            let _ = rx.recv();
        });
        let outcome = greenpatch::patch_all(greenpatch::PatchAll::default()).unwrap();
        assert!(!outcome.warnings().is_empty());
        tx.send(()).unwrap();
        early.join().unwrap();
        return;
    }
    let out = child("a_registry_warning_reaches_stderr_without_a_logger", &[]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("started through greenpatch::thread::spawn before patch_all() are still running").count(),
        1,
        "{err}"
    );
}

struct Capture;

static CAPTURED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        CAPTURED.lock().unwrap().push(r.args().to_string());
    }
    fn flush(&self) {}
}

#[test]
fn a_registry_warning_goes_through_log_when_a_logger_is_installed() {
    if in_child() {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let early = greenpatch::thread::spawn(move || {
            let _ = rx.recv();
        });
        let _ = greenpatch::patch_all(greenpatch::PatchAll::default()).unwrap();
        tx.send(()).unwrap();
        early.join().unwrap();
        let got = CAPTURED.lock().unwrap();
        assert!(got.iter().any(|m| m.contains("are still running")), "{got:?}");
        return;
    }
    let out = child("a_registry_warning_goes_through_log_when_a_logger_is_installed", &[]);
    let err = stderr(&out);
    assert!(!err.contains("are still running"), "printed although a logger took it: {err}");
}
