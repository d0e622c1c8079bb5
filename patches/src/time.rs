//! `time`: sleeping and timeouts — `std::thread::sleep` until
//! `patch_all()`, the runtime's green sleep and timeout scopes after it.
//!
//! # Model
//!
//! Two registry items, both plain functions dispatched through a
//! [`Slot`](crate::monkey::Slot) (one atomic load and an indirect call):
//!
//! | item | original | green |
//! |---|---|---|
//! | `time.sleep` | `std::thread::sleep` | `greenpatch_runtime::sleep` |
//! | `time.with_timeout` | runs the closure to completion | `greenpatch_runtime::with_timeout` |
//!
//! # Timeouts before patching
//!
//! A blocking call cannot be interrupted from outside (std has no scoped
//! timeouts), so before `patch_all()` [`with_timeout`] runs its closure to
//! completion and returns `Ok`. Bound blocking calls with the per-call
//! timeouts that the facades share with std (`recv_timeout`,
//! `set_read_timeout`, `connect_timeout`, `park_timeout`, …), which work in
//! both flavors. After patching, every green blocking call inside the scope
//! (sleep, lock, socket, queue, join) is bounded, as with gevent's
//! `Timeout`.

pub use greenpatch_runtime::Elapsed;
pub use std::time::{Duration, Instant, SystemTime, SystemTimeError, TryFromFloatSecsError, UNIX_EPOCH};

/// The signature of `time.with_timeout`: the closure is type-erased so that
/// one function pointer serves every `T`.
pub type WithTimeoutFn = for<'a> fn(Duration, &'a mut dyn FnMut()) -> Result<(), Elapsed>;

fn blocking_with_timeout(_limit: Duration, f: &mut dyn FnMut()) -> Result<(), Elapsed> {
    f();
    Ok(())
}

fn green_with_timeout(limit: Duration, f: &mut dyn FnMut()) -> Result<(), Elapsed> {
    greenpatch_runtime::with_timeout(limit, f)
}

crate::slot! {
    /// `time.sleep`.
    pub(crate) static SLEEP: fn(Duration) = ("sleep", std::thread::sleep, greenpatch_runtime::sleep);
    /// `time.with_timeout`.
    pub(crate) static WITH_TIMEOUT: for<'a> fn(Duration, &'a mut dyn FnMut()) -> Result<(), Elapsed> =
        ("with_timeout", blocking_with_timeout, green_with_timeout);
}

crate::patchable_module!(builtin, name = "time", items = [SLEEP, WITH_TIMEOUT]);

/// Sleeps for `dur`: blocks the OS thread before `patch_all()`
/// (`std::thread::sleep`), only the calling green thread after it.
/// `sleep(Duration::ZERO)` then lets the other green threads run.
///
/// # Example
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// greenpatch::time::sleep(Duration::from_millis(5));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[inline]
pub fn sleep(dur: Duration) {
    if SLEEP.is_green() {
        greenpatch_runtime::sleep(dur)
    } else {
        (SLEEP.get())(dur)
    }
}

/// Runs `f`, and after `patch_all()` fails every green blocking call it
/// makes once `limit` has passed (gevent's `Timeout`): the call unwinds to
/// this scope, running destructors, and the scope returns [`Elapsed`].
/// Before patching it runs `f` to completion (see the module docs).
///
/// # Errors
///
/// [`Elapsed`] when the deadline passed while `f` was blocked (after
/// patching only).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use greenpatch::monkey::{patch_all, PatchAll};
/// use greenpatch::time::{sleep, with_timeout};
///
/// assert_eq!(with_timeout(Duration::from_secs(1), || 7).unwrap(), 7);
///
/// let _ = patch_all(PatchAll::default()).unwrap();
/// let r = with_timeout(Duration::from_millis(10), || sleep(Duration::from_secs(10)));
/// assert!(r.is_err());
/// ```
pub fn with_timeout<T>(limit: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let mut f = Some(f);
    let mut out = None;
    (WITH_TIMEOUT.get())(limit, &mut || {
        if let Some(f) = f.take() {
            out = Some(f());
        }
    })?;
    out.ok_or(Elapsed { limit })
}
