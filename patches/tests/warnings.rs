//! Warnings reach the result and the log: queued warnings, pre-patch checks,
//! the off-main-thread check. A handler calling back into the registry gets
//! a typed error, not a deadlock.

mod common;

use greenpatch::monkey::plugins::{subscribe, Event};
use greenpatch::monkey::{is_main_thread, patch_all, patch_module, register_warning, PatchAll, PatchError, Warning};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static EARLY_THREADS: AtomicBool = AtomicBool::new(true);

fn early_threads() -> Option<String> {
    EARLY_THREADS
        .load(Ordering::Relaxed)
        .then(|| "2 OS threads were started through the facade before patching".to_owned())
}
greenpatch::pre_patch_check!(name = "early-threads", check = early_threads);
greenpatch::pre_patch_check!(name = "broken-check", check = || panic!("bug in a check"));

/// Captures what the registry logs.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "greenpatch::monkey" && record.level() == log::Level::Warn {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static LOGGED: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn warnings_are_returned_and_logged_and_reentry_is_an_error() {
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    // A handler that calls back into the registry.
    let reentered: std::sync::Arc<Mutex<Option<String>>> = Default::default();
    let sink = std::sync::Arc::clone(&reentered);
    let id = subscribe(move |event: &Event<'_>| {
        if let Event::DidPatchAll(_) = event {
            let error = patch_all(PatchAll::default()).unwrap_err();
            assert!(matches!(error, PatchError::Reentrant { call: "patch_all" }));
            let error = patch_module("a", "b", None).unwrap_err();
            *sink.lock().unwrap() = Some(error.to_string());
        }
        Ok(())
    });

    register_warning("a TcpStream made before patching was used from a green thread");
    // The test harness runs tests off the main thread.
    assert!(!is_main_thread());
    let outcome = patch_all(PatchAll::none().time(true)).unwrap();
    id.unsubscribe();
    assert_eq!(outcome.modules(), ["time"]);
    let reentered = reentered.lock().unwrap().take().unwrap();
    assert!(reentered.starts_with("patch_module was called from a plugin handler"), "{reentered}");

    let warnings = outcome.warnings();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert_eq!(
        warnings[0],
        Warning::Registered { message: "a TcpStream made before patching was used from a green thread".into() }
    );
    assert!(
        matches!(&warnings[1], Warning::OffMainThread { thread }
        if thread.contains("warnings_are_returned")),
        "{:?}",
        warnings[1]
    );
    // Checks run by name: broken-check, then early-threads.
    assert!(matches!(&warnings[2], Warning::Check { check: "broken-check", message }
        if message.contains("panicked")));
    assert!(matches!(&warnings[3], Warning::Check { check: "early-threads", message }
        if message.starts_with("2 OS threads")));

    // Every warning was logged once, as it reads.
    let logged = std::mem::take(&mut *LOGGED.0.lock().unwrap());
    let expected: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(logged, expected);

    // A queued warning goes to the next call whatever its outcome; checks
    // run only when there is something to patch.
    register_warning("late");
    let outcome = patch_all(PatchAll::none().time(true)).unwrap();
    assert!(outcome.is_nothing_new());
    assert_eq!(outcome.warnings(), [Warning::Registered { message: "late".into() }]);

    // A patch_all off the main thread, from a thread of our own.
    EARLY_THREADS.store(false, Ordering::Relaxed);
    let outcome = std::thread::Builder::new()
        .name("worker-7".into())
        .spawn(|| patch_all(PatchAll::none().socket(true)).unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert!(outcome.warnings().contains(&Warning::OffMainThread { thread: "`worker-7`".into() }));
    assert!(!outcome.warnings().iter().any(|w| matches!(w, Warning::Check { check: "early-threads", .. })));
}
