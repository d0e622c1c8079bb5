//! `Once` and `LazyLock` with std's API over the runtime's [`OnceLock`]:
//! a thread that finds another initialising waits green (only itself)
//! on a green thread, and blocks its OS thread elsewhere.
//!
//! # Invariant
//! The value is written once, by the one caller that wins the runtime
//! `OnceLock`'s right to initialise; a `LazyLock`'s function is taken out
//! of its cell by that caller only.

use std::ops::Deref;
use std::sync::Mutex as StdMutex;

pub use greenpatch_runtime::sync::OnceLock;

/// Runs a closure once (as [`std::sync::Once`]), waiting green for a
/// concurrent initialiser after patching.
///
/// ```
/// static INIT: greenpatch::thread::Once = greenpatch::thread::Once::new();
/// let mut n = 0;
/// INIT.call_once(|| n += 1);
/// INIT.call_once(|| n += 1);
/// assert_eq!(n, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    done: OnceLock<()>,
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// ```
    /// let _ = greenpatch::thread::Once::new();
    /// ```
    pub const fn new() -> Once {
        Once { done: OnceLock::new() }
    }

    /// Runs `f` if no call has completed yet; others wait until it has.
    ///
    /// ```
    /// let once = greenpatch::thread::Once::new();
    /// once.call_once(|| println!("once"));
    /// ```
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.done.get_or_init(f);
    }

    /// Whether a call has completed.
    ///
    /// ```
    /// assert!(!greenpatch::thread::Once::new().is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.done.get().is_some()
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Once").field("completed", &self.is_completed()).finish()
    }
}

/// A value initialised on first access (as [`std::sync::LazyLock`]).
///
/// ```
/// use greenpatch::thread::LazyLock;
/// static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| (0..4).collect());
/// assert_eq!(TABLE.len(), 4);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: StdMutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value made by `f` on first access.
    ///
    /// ```
    /// let v = greenpatch::thread::LazyLock::new(|| 3);
    /// assert_eq!(*v, 3);
    /// ```
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { cell: OnceLock::new(), init: StdMutex::new(Some(f)) }
    }

    /// Forces initialisation and returns the value.
    ///
    /// ```
    /// let v = greenpatch::thread::LazyLock::new(|| 3);
    /// assert_eq!(*greenpatch::thread::LazyLock::force(&v), 3);
    /// ```
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // Only the initialiser takes the function; the lock is not held
            // while it runs.
            let f = this.init.lock().unwrap_or_else(|e| e.into_inner()).take();
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned (its initialiser panicked)"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: std::fmt::Debug, F> std::fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyLock").field("value", &self.cell.get()).finish()
    }
}
