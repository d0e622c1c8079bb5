//! Warnings raised before patching: pre-patch checks and queued warnings.
//!
//! # Model
//!
//! Two ways for the facades (or any crate) to tell the application about a
//! pitfall in the [`Patched`](super::Patched) result of the next patch call:
//!
//! - a **pre-patch check** ([`pre_patch_check!`](crate::pre_patch_check)), a
//!   function registered at link time and run by every `patch_all` call that
//!   has something new to patch, just before its first event; it returns a
//!   message when something is wrong ("OS threads were started through the
//!   facade before patching");
//! - a **queued warning** ([`register_warning`]), raised when the problem is
//!   seen and handed to the next patch call of any outcome.
//!
//! The registry adds its own check: `patch_all` off the main thread. On
//! Linux the main thread is the one whose thread id equals the process id
//! (`gettid() == getpid()`), which holds whatever the thread's name; on
//! other systems it is the thread std names `"main"`.
//!
//! Checks run in name order; a panicking check becomes a warning.

use super::request::Warning;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// A function run before patching that may report a problem.
/// Registered with [`pre_patch_check!`](crate::pre_patch_check).
///
/// # Example
///
/// ```
/// fn threads_started_early() -> Option<String> {
///     None // nothing to report
/// }
/// greenpatch::pre_patch_check!(name = "doc-threads", check = threads_started_early);
/// # fn main() {}
/// ```
pub struct PrePatchCheck {
    name: &'static str,
    check: fn() -> Option<String>,
}

greenpatch_plugins::inventory::collect!(PrePatchCheck);

impl PrePatchCheck {
    /// Used by [`pre_patch_check!`](crate::pre_patch_check); not a stable API.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, check: fn() -> Option<String>) -> Self {
        Self { name, check }
    }
}

/// Registers a check that `patch_all` runs before patching; a `Some(message)`
/// answer becomes a [`Warning::Check`] in the result (and a log line).
///
/// ```text
/// pre_patch_check!(name = "NAME", check = path::to::fn);   // fn() -> Option<String>
/// ```
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{patch_all, PatchAll, Warning};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// /// Incremented by the facade when it starts an OS thread.
/// static OS_THREADS: AtomicUsize = AtomicUsize::new(0);
///
/// fn no_early_threads() -> Option<String> {
///     let n = OS_THREADS.load(Ordering::Relaxed);
///     (n > 0).then(|| format!("{n} OS threads were started before patching and stay blocking"))
/// }
/// greenpatch::pre_patch_check!(name = "early-threads", check = no_early_threads);
///
/// fn main() {
///     OS_THREADS.store(2, Ordering::Relaxed);
///     let outcome = patch_all(PatchAll::default()).unwrap();
///     assert!(outcome.warnings().iter().any(|w| matches!(w,
///         Warning::Check { check: "early-threads", message } if message.starts_with("2 OS threads"))));
/// }
/// ```
#[macro_export]
macro_rules! pre_patch_check {
    (name = $name:literal, check = $check:expr $(,)?) => {
        $crate::monkey::__private::inventory::submit! {
            $crate::monkey::PrePatchCheck::__new($name, $check)
        }
    };
}

/// Warnings queued for the next patch call.
static QUEUED: Mutex<Vec<Warning>> = Mutex::new(Vec::new());

/// Locks the queue; its critical sections cannot panic half-way, so poison
/// is ignored.
fn queued() -> MutexGuard<'static, Vec<Warning>> {
    QUEUED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Queues a warning for the result of the next `patch_all` or
/// `patch_module` call (whatever its outcome); it is logged then.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{patch_all, register_warning, PatchAll, Warning};
///
/// register_warning("a TcpStream made before patching was used from a green thread");
/// let outcome = patch_all(PatchAll::default()).unwrap();
/// assert!(outcome.warnings().contains(&Warning::Registered {
///     message: "a TcpStream made before patching was used from a green thread".into(),
/// }));
/// ```
pub fn register_warning(message: impl Into<String>) {
    queued().push(Warning::Registered { message: message.into() });
}

/// Takes the queued warnings.
pub(crate) fn take_queued() -> Vec<Warning> {
    std::mem::take(&mut *queued())
}

/// Runs the built-in main-thread check and every registered check.
pub(crate) fn run_checks() -> Vec<Warning> {
    let mut warnings = Vec::new();
    if !is_main_thread() {
        let current = std::thread::current();
        let thread = match current.name() {
            Some(name) => format!("`{name}`"),
            None => format!("{:?}", current.id()),
        };
        warnings.push(Warning::OffMainThread { thread });
    }
    let mut checks: Vec<&'static PrePatchCheck> =
        greenpatch_plugins::inventory::iter::<PrePatchCheck>.into_iter().collect();
    checks.sort_by_key(|c| c.name);
    for check in checks {
        // A check only reads state; catching its panic cannot expose a
        // broken invariant of ours.
        match catch_unwind(AssertUnwindSafe(check.check)) {
            Ok(None) => {}
            Ok(Some(message)) => warnings.push(Warning::Check { check: check.name, message }),
            Err(_) => warnings
                .push(Warning::Check { check: check.name, message: "the check panicked; fix the check".to_owned() }),
        }
    }
    warnings
}

/// Whether the calling thread is the process's main thread (see the module
/// docs for how that is decided).
///
/// # Example
///
/// ```
/// use greenpatch::monkey::is_main_thread;
///
/// let on_main = is_main_thread();
/// let elsewhere = std::thread::spawn(is_main_thread).join().unwrap();
/// assert!(!elsewhere);
/// # let _ = on_main;
/// ```
pub fn is_main_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes no arguments, cannot fail and touches no
        // memory of ours.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        // SAFETY: getpid takes no arguments and cannot fail.
        let pid = unsafe { libc::getpid() };
        tid == libc::c_long::from(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::thread::current().name() == Some("main")
    }
}
