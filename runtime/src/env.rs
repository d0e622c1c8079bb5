//! Configuration by environment, as gevent's `GEVENT_*` variables.
//!
//! # Model
//! Every setting is one `GREENPATCH_*` variable, listed once in
//! [`SETTINGS`] (name, accepted values, default, meaning); the README's and
//! the crate docs' tables are this list. Each is read where it is used,
//! through the parsers here ([`flag`], [`millis`], [`count`], [`bytes`],
//! [`signal`]), which never guess: a value they cannot read is an
//! [`EnvError`] naming the variable, the value and what it accepts.
//!
//! # Invariant
//! Invalid values are never silently ignored: the first hub of the process
//! (start-up, for a green program) prints every [`EnvError`] of
//! [`check`] on standard error, once, and the component falls back to its
//! default; [`check`] returns them to applications that prefer to refuse
//! to start.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One documented `GREENPATCH_*` variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The variable's name.
    pub name: &'static str,
    /// What it accepts.
    pub accepts: &'static str,
    /// The value used when it is unset.
    pub default: &'static str,
    /// What it controls.
    pub meaning: &'static str,
}

/// Every `GREENPATCH_*` variable the runtime reads.
///
/// ```
/// use greenpatch_runtime::env::SETTINGS;
/// assert!(SETTINGS.iter().any(|s| s.name == "GREENPATCH_DUMP_SIGNAL"));
/// ```
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "GREENPATCH_MONITOR_THREAD",
        accepts: "1/true/yes/on or 0/false/no/off",
        default: "off",
        meaning: "start the blocking monitor at the first hub (gevent's GEVENT_MONITOR_THREAD_ENABLE)",
    },
    Setting {
        name: "GREENPATCH_MAX_BLOCKING_TIME",
        accepts: "milliseconds > 0",
        default: "100",
        meaning: "how long a green thread may hold its hub before the monitor reports it",
    },
    Setting {
        name: "GREENPATCH_THREADPOOL_SIZE",
        accepts: "1 to 4096",
        default: "64",
        meaning: "most OS threads of the blocking pool (file I/O, DNS, spawn_blocking)",
    },
    Setting {
        name: "GREENPATCH_STACK_SIZE",
        accepts: "bytes, or with K/M suffix (≥ 16K)",
        default: "128K",
        meaning: "default stack size of a green thread",
    },
    Setting {
        name: "GREENPATCH_HUBS",
        accepts: "1 to 1024",
        default: "available CPUs",
        meaning: "hubs (OS threads) of a Runtime built without .hubs(n)",
    },
    Setting {
        name: "GREENPATCH_DUMP_SIGNAL",
        accepts: "SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH, or a number",
        default: "unset (no handler)",
        meaning: "signal that prints dump() of every hub and the blocking pool on standard error",
    },
];

/// A `GREENPATCH_*` variable whose value could not be read.
///
/// ```
/// let e = greenpatch_runtime::env::EnvError {
///     var: "GREENPATCH_HUBS",
///     value: "many".into(),
///     accepts: "1 to 1024",
/// };
/// assert!(e.to_string().contains("GREENPATCH_HUBS=\"many\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    /// The variable.
    pub var: &'static str,
    /// Its value as found.
    pub value: String,
    /// What it accepts.
    pub accepts: &'static str,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is invalid (accepted: {}); the default is used instead — fix or unset the variable",
            self.var, self.value, self.accepts
        )
    }
}

impl std::error::Error for EnvError {}

/// The variable's value, trimmed; `None` when unset or empty.
fn raw(var: &'static str) -> Result<Option<String>, EnvError> {
    match std::env::var(var) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(EnvError { var, value: v.to_string_lossy().into_owned(), accepts: "UTF-8 text" })
        }
    }
}

fn parse_with<T>(
    var: &'static str,
    accepts: &'static str,
    f: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, EnvError> {
    match raw(var)? {
        None => Ok(None),
        Some(v) => f(&v).map(Some).ok_or(EnvError { var, value: v, accepts }),
    }
}

/// A switch: `1/true/yes/on` or `0/false/no/off` (any case).
///
/// ```
/// assert_eq!(greenpatch_runtime::env::flag("GREENPATCH_DOC_UNSET_FLAG"), Ok(None));
/// ```
///
/// # Errors
/// [`EnvError`] for any other value.
pub fn flag(var: &'static str) -> Result<Option<bool>, EnvError> {
    parse_with(var, "1/true/yes/on or 0/false/no/off", |v| match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    })
}

/// A positive number of milliseconds.
///
/// ```
/// assert_eq!(greenpatch_runtime::env::millis("GREENPATCH_DOC_UNSET_MS"), Ok(None));
/// ```
///
/// # Errors
/// [`EnvError`] unless the value is an integer > 0.
pub fn millis(var: &'static str) -> Result<Option<Duration>, EnvError> {
    parse_with(var, "milliseconds > 0", |v| v.parse::<u64>().ok().filter(|&ms| ms > 0).map(Duration::from_millis))
}

/// A count in `min..=max`.
///
/// ```
/// assert_eq!(greenpatch_runtime::env::count("GREENPATCH_DOC_UNSET_N", 1, 8, "1 to 8"), Ok(None));
/// ```
///
/// # Errors
/// [`EnvError`] unless the value is an integer in range.
pub fn count(var: &'static str, min: usize, max: usize, accepts: &'static str) -> Result<Option<usize>, EnvError> {
    parse_with(var, accepts, |v| v.parse::<usize>().ok().filter(|n| (min..=max).contains(n)))
}

/// A size in bytes, with an optional `K`/`M` (×1024) suffix, at least `min`.
///
/// ```
/// assert_eq!(greenpatch_runtime::env::bytes("GREENPATCH_DOC_UNSET_SIZE", 1, "bytes"), Ok(None));
/// ```
///
/// # Errors
/// [`EnvError`] unless the value is such a size.
pub fn bytes(var: &'static str, min: usize, accepts: &'static str) -> Result<Option<usize>, EnvError> {
    parse_with(var, accepts, |v| {
        let (digits, unit) = match v.as_bytes().last()? {
            b'k' | b'K' => (&v[..v.len() - 1], 1024),
            b'm' | b'M' => (&v[..v.len() - 1], 1024 * 1024),
            _ => (v, 1),
        };
        digits.trim().parse::<usize>().ok()?.checked_mul(unit).filter(|&n| n >= min)
    })
}

/// A signal: `SIGUSR1`, `USR1`, `SIGUSR2`, `SIGQUIT`, `SIGWINCH` or a
/// number from 1 to 64 other than `SIGKILL`/`SIGSTOP`.
///
/// ```
/// assert_eq!(greenpatch_runtime::env::signal("GREENPATCH_DOC_UNSET_SIG"), Ok(None));
/// ```
///
/// # Errors
/// [`EnvError`] for any other value.
pub fn signal(var: &'static str) -> Result<Option<i32>, EnvError> {
    parse_with(var, "SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH, or a number", |v| {
        let upper = v.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let n = match name {
            "USR1" => libc::SIGUSR1,
            "USR2" => libc::SIGUSR2,
            "QUIT" => libc::SIGQUIT,
            "WINCH" => libc::SIGWINCH,
            other => other.parse::<i32>().ok()?,
        };
        ((1..=64).contains(&n) && n != libc::SIGKILL && n != libc::SIGSTOP).then_some(n)
    })
}

/// The default stack size (`GREENPATCH_STACK_SIZE`), or `None` if unset
/// or invalid.
pub(crate) fn stack_size() -> Option<usize> {
    bytes("GREENPATCH_STACK_SIZE", crate::MIN_STACK_SIZE, SETTINGS[3].accepts).ok().flatten()
}

/// The default runtime's hub count (`GREENPATCH_HUBS`).
pub(crate) fn hubs() -> Option<usize> {
    count("GREENPATCH_HUBS", 1, 1024, SETTINGS[4].accepts).ok().flatten()
}

/// Every `GREENPATCH_*` variable that is set to a value it does not
/// accept.
///
/// ```
/// // Refuse to start on a typo rather than run with a default:
/// if let Err(errors) = greenpatch_runtime::env::check() {
///     for e in &errors {
///         eprintln!("{e}");
///     }
/// }
/// ```
///
/// # Errors
/// One [`EnvError`] per invalid variable.
pub fn check() -> Result<(), Vec<EnvError>> {
    let errors: Vec<EnvError> = [
        flag("GREENPATCH_MONITOR_THREAD").err(),
        millis("GREENPATCH_MAX_BLOCKING_TIME").err(),
        count("GREENPATCH_THREADPOOL_SIZE", 1, 4096, SETTINGS[2].accepts).err(),
        bytes("GREENPATCH_STACK_SIZE", crate::MIN_STACK_SIZE, SETTINGS[3].accepts).err(),
        count("GREENPATCH_HUBS", 1, 1024, SETTINGS[4].accepts).err(),
        signal("GREENPATCH_DUMP_SIGNAL").err(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// At start-up (the first hub): prints every invalid setting once, then
/// applies the settings that start something (monitor, dump signal).
pub(crate) fn start_up_once() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::Relaxed) {
        return;
    }
    if let Err(errors) = check() {
        for e in errors {
            eprintln!("greenpatch: {e}");
        }
    }
    crate::monitor::from_env();
    crate::dump::signal_from_env();
}
