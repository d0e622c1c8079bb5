//! [`Local`]: thread-local storage that becomes green-thread-local after
//! `patch_all()` (gevent's `local`).
//!
//! # Model
//!
//! A `Local<T>` gives each *thread* its own value, made by `init` on first
//! use. Which threads count is its flavor, chosen at its first use from the
//! `thread.Local` item:
//!
//! - blocking: one value per OS thread, kept in a thread-local map keyed by
//!   the `Local`'s process-unique number; values are dropped when their OS
//!   thread exits;
//! - green: `greenpatch_runtime::sync::Local`, one value per green thread
//!   (and per root), dropped when the green thread ends.
//!
//! A `Local` first used before patching stays per-OS-thread: every green
//! thread of a hub would then share one value — reported once if it
//! happens (see the crate docs' *pitfall* section).
//!
//! # Invariant
//!
//! A blocking value's box is removed from its thread's map only when the
//! thread exits, so a `&T` handed to `with` stays valid for the call; a box
//! never moves its contents when the map grows.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

use greenpatch_runtime::sync as green;

use super::LOCAL;
use crate::flavor::Decided;
use crate::flavor::Flavored;
use crate::Flavor;

/// Numbers for blocking `Local`s.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This OS thread's values of blocking `Local`s.
    static VALUES: RefCell<HashMap<u64, Box<dyn Any>>> = RefCell::new(HashMap::new());
}

type LocalImpl<T> = Flavored<u64, green::Local<T>>;

/// Thread-local storage: each OS thread (before `patch_all()`) or each
/// green thread (after it) sees its own value, made by `init` on first use.
///
/// Unlike `thread_local!`, a `static Local<T>` needs `T: Send` (the green
/// flavor keeps the values of one `Local` in one shared table).
///
/// # Example
///
/// ```
/// use std::cell::Cell;
/// use greenpatch::thread::{spawn, Local};
///
/// static COUNTER: Local<Cell<u32>> = Local::new(|| Cell::new(0));
///
/// COUNTER.with(|c| c.set(10));
/// let other = spawn(|| COUNTER.with(|c| c.get())).join().unwrap();
/// assert_eq!(other, 0); // its own value
/// assert_eq!(COUNTER.with(|c| c.get()), 10);
/// ```
pub struct Local<T: 'static> {
    init: fn() -> T,
    imp: Decided<LocalImpl<T>>,
}

impl<T: 'static> Local<T> {
    /// A thread-local with values made by `init`; its flavor is chosen at
    /// first use.
    ///
    /// # Example
    ///
    /// ```
    /// static NAME: greenpatch::thread::Local<String> = greenpatch::thread::Local::new(String::new);
    /// assert!(NAME.with(|n| n.is_empty()));
    /// ```
    pub const fn new(init: fn() -> T) -> Local<T> {
        Local { init, imp: Decided::new() }
    }

    /// A thread-local of the given flavor.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Local, Flavor};
    /// let l = Local::with_flavor(Flavor::Green, || 5u8);
    /// assert_eq!(l.with(|v| *v), 5);
    /// ```
    #[track_caller]
    pub fn with_flavor(flavor: Flavor, init: fn() -> T) -> Local<T> {
        Local { init, imp: Decided::with(Self::make(init, flavor), Location::caller()) }
    }

    fn make(init: fn() -> T, flavor: Flavor) -> LocalImpl<T> {
        Flavored::of(flavor, || NEXT_ID.fetch_add(1, Ordering::Relaxed), || green::Local::new(init))
    }

    /// Calls `f` with the calling thread's value, making it first if
    /// needed. Use interior mutability (`Cell`, `RefCell`) to change it.
    ///
    /// # Example
    ///
    /// ```
    /// use std::cell::RefCell;
    /// let l = greenpatch::thread::Local::new(|| RefCell::new(Vec::new()));
    /// l.with(|v| v.borrow_mut().push(1));
    /// assert_eq!(l.with(|v| v.borrow().len()), 1);
    /// ```
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let init = self.init;
        let (imp, site) = self.imp.get(&LOCAL, Location::caller(), |fl| Self::make(init, fl));
        match imp {
            Flavored::Green(l) => l.with(f),
            Flavored::Blocking(id) => {
                crate::stale::check(
                    LOCAL.is_patched(),
                    "Local",
                    site,
                    "first used before patch_all(), so per OS thread",
                );
                self.with_os(*id, f)
            }
        }
    }

    fn with_os<R>(&self, id: u64, f: impl FnOnce(&T) -> R) -> R {
        let find = |m: &RefCell<HashMap<u64, Box<dyn Any>>>| {
            m.borrow().get(&id).and_then(|b| b.downcast_ref::<T>()).map(|v| v as *const T)
        };
        let ptr = match VALUES.try_with(find) {
            Ok(Some(p)) => p,
            Ok(None) => {
                // `init` runs with the map unborrowed: it may use other
                // `Local`s (or, recursively, this one).
                let value: Box<T> = Box::new((self.init)());
                let p: *const T = &*value;
                let stored = VALUES.try_with(|m| {
                    let mut m = m.borrow_mut();
                    match m.get(&id).and_then(|b| b.downcast_ref::<T>()) {
                        // A recursive `init` stored one first: keep it.
                        Some(v) => v as *const T,
                        None => {
                            m.insert(id, value);
                            p
                        }
                    }
                });
                match stored {
                    Ok(p) => p,
                    // The thread is exiting: nothing left to store it in.
                    Err(_) => return f(&(self.init)()),
                }
            }
            Err(_) => return f(&(self.init)()),
        };
        // SAFETY: `ptr` points into a box stored in this thread's map, which
        // removes boxes only at thread exit (module invariant), and box
        // contents never move; `f` runs on this thread, before it exits.
        f(unsafe { &*ptr })
    }

    /// The flavor, choosing it now if the `Local` was never used.
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::Local::new(|| 0);
    /// assert_eq!(l.flavor(), greenpatch::Flavor::Blocking);
    /// ```
    #[track_caller]
    pub fn flavor(&self) -> Flavor {
        let init = self.init;
        self.imp.get(&LOCAL, Location::caller(), |fl| Self::make(init, fl)).0.flavor()
    }
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = self.imp.peek().map(|imp| imp.flavor());
        f.debug_struct("Local").field("flavor", &flavor).finish_non_exhaustive()
    }
}
