//! What the documented programs share (`examples/demo.rs`,
//! `examples/dify.rs`, `examples/kvdriver.rs`), and the Dify stack
//! ([`dify`]) that `examples/dify.rs` runs and `tests/dify_stack.rs` tests.
//!
//! # Model
//!
//! [`echo`] is a client/server workload written only against the
//! greenpatch facades, the way a library would be: it does not know
//! whether the program patched. The demo runs it before and after
//! `patch_all()` and compares. [`print_events`] subscribes a printer for
//! the patch events; [`raise_open_file_limit`] makes room for thousands of
//! sockets. [`slow_http`] is the slow HTTP server the demo's unmodified
//! client (`ureq`) talks to.

pub mod dify;
pub mod echo;
pub mod slow_http;

use std::time::Duration;

use greenpatch::plugins::{subscribe, Event, SubscriptionId};

/// Subscribes a handler that prints every patch event, indented by
/// `indent`, in delivery order.
///
/// # Example
///
/// ```
/// let id = examples::print_events("    ");
/// id.unsubscribe();
/// ```
pub fn print_events(indent: &'static str) -> SubscriptionId {
    subscribe(move |event: &Event<'_>| {
        match event {
            Event::DidPatchModule(e) => println!("{indent}{event}  ({} items now green)", e.items().len()),
            _ => println!("{indent}{event}"),
        }
        Ok(())
    })
}

/// Raises the soft open-file limit to the hard limit; returns the limit in
/// force afterwards (`u64::MAX` when unlimited or unknown).
///
/// # Example
///
/// ```
/// assert!(examples::raise_open_file_limit() > 0);
/// ```
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return u64::MAX;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: `raised` is a valid rlimit; setrlimit only reads it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        lim.rlim_cur
    }
}

/// `1234567` as `"1,234,567"`.
///
/// # Example
///
/// ```
/// assert_eq!(examples::thousands(5000), "5,000");
/// ```
pub fn thousands(n: u64) -> String {
    let digits = n.to_string().into_bytes();
    let groups: Vec<&str> = digits.rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap_or_default()).collect();
    groups.join(",")
}

/// A duration in the unit that reads best (`850 µs`, `12.3 ms`, `1.42 s`).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// assert_eq!(examples::human(Duration::from_millis(1500)), "1.50 s");
/// assert_eq!(examples::human(Duration::from_micros(999_960)), "1.00 s");
/// assert_eq!(examples::human(Duration::from_nanos(999_700)), "1.0 ms");
/// ```
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    // Pick the unit from the rounded figure, so 999.96 ms reads "1.00 s",
    // not "1000.0 ms".
    if s >= 0.999_95 {
        format!("{s:.2} s")
    } else if s >= 0.000_999_5 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}
