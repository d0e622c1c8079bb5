//! Where the registry's warnings go: through `log` when the application
//! installed a logger that takes them, else on standard error.
//!
//! # Model
//! gevent's warnings are printed where they will be seen; Rust's `log`
//! facade drops everything until a logger is installed. So every warning
//! of the registry (objects or OS threads made before patching, a blocking
//! object used from a green thread, a plugin failure) goes through
//! [`emit`]: when `log::max_level()` admits warnings and the installed
//! logger is enabled for the target, `log::warn!`; otherwise one line on
//! standard error.
//!
//! # Invariant
//! Standard error gets each distinct warning once per process (the same
//! site reported again, or re-queued into a later patch call's result, is
//! not printed twice).

use std::collections::HashSet;
use std::sync::Mutex;

/// Whether a logger is installed that takes warnings for `target`.
pub(crate) fn logger_takes(target: &str) -> bool {
    log::max_level() >= log::LevelFilter::Warn
        && log::logger().enabled(&log::Metadata::builder().level(log::Level::Warn).target(target).build())
}

/// Reports `message`: `log::warn!` when a logger takes it, else standard
/// error (once per distinct message).
pub(crate) fn emit(target: &'static str, message: &str) {
    if logger_takes(target) {
        log::warn!(target: target, "{message}");
        return;
    }
    static PRINTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let first =
        PRINTED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashSet::new).insert(message.to_owned());
    if first {
        if message.starts_with("greenpatch") {
            eprintln!("{message}");
        } else {
            eprintln!("greenpatch: {message}");
        }
    }
}
