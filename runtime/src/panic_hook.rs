//! Panic messages that name the green thread.
//!
//! # Model
//! std's panic hook names the OS thread (`thread 'main' panicked at …`),
//! which says nothing about which of its green threads panicked. The
//! runtime installs a hook, the first time a thread gets a hub (or when
//! [`install`] is called), that prints, for a panic in a green thread:
//!
//! ```text
//! thread 'worker-7' (green 1.3) panicked at src/main.rs:10:5:
//! boom
//! note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
//! ```
//!
//! with the green thread's name (`<unnamed>` without one) and its [`Id`]
//! in the one format every diagnostic uses (`hub.seq`: dumps, monitor
//! reports, would-block-forever and overflow reports, `Debug`), and a
//! backtrace when `RUST_BACKTRACE` asks for one. A panic anywhere else (a
//! plain OS thread, a hub's root) goes to the hook that was installed
//! before, unchanged.
//!
//! # Chaining with your own hook
//! `std::panic::set_hook` replaces the current hook, as always. Set yours
//! after the runtime's (call [`install`] first, or set it after the first
//! green call) and chain to it with `std::panic::take_hook`, and green
//! panics keep their names. A hook set before the runtime's is called for
//! every panic outside green threads; green panics print the runtime's
//! message instead.
//!
//! # Invariants
//! - Installed at most once per process; the previous hook is kept.
//! - Never panics itself (a panic in a hook aborts the process).

use std::backtrace::{Backtrace, BacktraceStatus};
use std::fmt::Write as _;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::hub::Hub;
use crate::Id;

/// Installs the runtime's panic hook now (it is installed anyway when the
/// first hub is created); idempotent. Call it before `std::panic::set_hook`
/// to chain your hook to the runtime's.
///
/// ```
/// greenpatch_runtime::panic_hook::install();
/// let runtime_hook = std::panic::take_hook();
/// std::panic::set_hook(Box::new(move |info| {
///     // your reporting here …
///     runtime_hook(info); // … then the runtime's message, with green names
/// }));
/// # let _ = std::panic::take_hook();
/// ```
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| match green_identity() {
            Some((name, id)) => report(info, name.as_deref().unwrap_or("<unnamed>"), id),
            None => prev(info),
        }));
    });
}

/// Name and id of the running green thread, if a green thread runs.
fn green_identity() -> Option<(Option<std::sync::Arc<str>>, Id)> {
    let hub = Hub::try_current()?;
    hub.is_green().then(|| (hub.current_name(), hub.current_id()))
}

/// Prints std's panic message with the green thread's name and id.
fn report(info: &PanicHookInfo<'_>, name: &str, id: Id) {
    static NOTED: AtomicBool = AtomicBool::new(false);
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let mut out = String::new();
    let _ = write!(out, "\nthread '{name}' (green {id}) panicked at ");
    match info.location() {
        Some(l) => {
            let _ = write!(out, "{}:{}:{}", l.file(), l.line(), l.column());
        }
        None => out.push_str("<unknown>"),
    }
    let _ = writeln!(out, ":\n{msg}");
    let bt = Backtrace::capture();
    match bt.status() {
        BacktraceStatus::Captured => {
            let _ = writeln!(out, "stack backtrace:\n{bt}");
        }
        _ => {
            if !NOTED.swap(true, Ordering::Relaxed) {
                out.push_str("note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n");
            }
        }
    }
    eprint!("{}", &out[1..]);
}
