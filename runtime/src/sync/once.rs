//! [`OnceLock`]: std's write-once cell, whose concurrent initialisers wait
//! as green threads.
//!
//! # Model
//! The value lives in a `std::sync::OnceLock` (so reading it is std's
//! single atomic load). Initialisation is guarded by a `running` flag of our
//! own: the initialiser that sets it runs its closure, publishes the value,
//! clears the flag and wakes everyone; the others park on the wait-list
//! meanwhile instead of blocking their OS thread (which std's would do —
//! and if the initialiser is a green thread of the same hub, forever).
//!
//! # Invariants
//! - The inner cell is written only by the holder of `running`.
//! - An initialiser that unwinds (its closure panicked, it was killed, its
//!   timeout scope expired) clears `running` and wakes the waiters: one of
//!   them initialises instead, as in std.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use super::waitlist::{forever, WaitList};

/// A cell written at most once (std's `OnceLock`); a caller of
/// [`get_or_init`](OnceLock::get_or_init) that finds another green thread
/// initialising waits for it without blocking its hub.
///
/// ```
/// use greenpatch_runtime::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let hs: Vec<_> = (0..4)
///     .map(|i| {
///         greenpatch_runtime::spawn(move || {
///             CONFIG.get_or_init(|| {
///                 greenpatch_runtime::yield_now(); // the others wait meanwhile
///                 format!("from {i}")
///             }).clone()
///         })
///     })
///     .collect();
/// let seen: Vec<String> = hs.into_iter().map(|h| h.join().unwrap()).collect();
/// assert!(seen.iter().all(|s| s == &seen[0]));
/// ```
pub struct OnceLock<T> {
    cell: std::sync::OnceLock<T>,
    running: AtomicBool,
    waiters: WaitList,
}

impl<T> OnceLock<T> {
    /// An empty cell.
    ///
    /// ```
    /// let c: greenpatch_runtime::sync::OnceLock<u8> = greenpatch_runtime::sync::OnceLock::new();
    /// assert!(c.get().is_none());
    /// ```
    pub const fn new() -> OnceLock<T> {
        OnceLock { cell: std::sync::OnceLock::new(), running: AtomicBool::new(false), waiters: WaitList::new() }
    }

    /// The value, if initialised (never blocks).
    ///
    /// ```
    /// let c = greenpatch_runtime::sync::OnceLock::new();
    /// c.set(1).unwrap();
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// A mutable reference to the value, if initialised.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::sync::OnceLock::new();
    /// c.set(1).unwrap();
    /// *c.get_mut().unwrap() += 1;
    /// assert_eq!(c.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.cell.get_mut()
    }

    /// Stores `value` if the cell is empty; waits for a concurrent
    /// initialiser first, like std.
    ///
    /// # Errors
    /// `Err(value)` if the cell was already initialised.
    ///
    /// # Panics
    /// As [`OnceLock::get_or_init`].
    ///
    /// ```
    /// let c = greenpatch_runtime::sync::OnceLock::new();
    /// assert_eq!(c.set(1), Ok(()));
    /// assert_eq!(c.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.initialize(|| value.take());
        match value {
            Some(v) => Err(v),
            None => Ok(()),
        }
    }

    /// The value, initialising it with `f` if the cell is empty. If another
    /// green thread (or OS thread) is running its initialiser, the caller
    /// parks until it is done. If `f` panics, the panic propagates and the
    /// cell stays empty (a waiting caller then initialises it).
    ///
    /// # Panics
    /// If `f` panics. From plain code, if the initialiser can never finish
    /// (the message is the runtime's would-block-forever report). Calling
    /// `get_or_init` on the same cell from inside `f` waits for itself
    /// (std: deadlock or panic).
    ///
    /// ```
    /// let c = greenpatch_runtime::sync::OnceLock::new();
    /// assert_eq!(*c.get_or_init(|| 5), 5);
    /// assert_eq!(*c.get_or_init(|| 6), 5);
    /// ```
    #[inline]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.cell.get() {
            return v;
        }
        let mut f = Some(f);
        self.initialize(|| f.take().map(|f| f()))
    }

    /// Runs `make` (at most once, only if it wins the right to initialise)
    /// and stores its `Some`; returns the value stored by whoever won.
    #[cold]
    fn initialize(&self, mut make: impl FnMut() -> Option<T>) -> &T {
        struct Running<'a, T>(&'a OnceLock<T>);
        impl<T> Drop for Running<'_, T> {
            fn drop(&mut self) {
                self.0.running.store(false, SeqCst);
                self.0.waiters.notify_all();
            }
        }
        loop {
            if let Some(v) = self.cell.get() {
                return v;
            }
            if self.running.compare_exchange(false, true, SeqCst, SeqCst).is_ok() {
                let _running = Running(self);
                if self.cell.get().is_none() {
                    if let Some(v) = make() {
                        let _ = self.cell.set(v);
                    }
                }
                // `make` gave nothing only for `set` after losing: fall
                // through to read what the winner stored.
                if let Some(v) = self.cell.get() {
                    return v;
                }
                continue;
            }
            let idle = || (!self.running.load(SeqCst) || self.cell.get().is_some()).then_some(());
            if let Err(e) = self.waiters.wait_for(None, "once init", idle, || idle().is_none()) {
                forever(e);
            }
        }
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::sync::OnceLock::new();
    /// c.set(String::from("v")).unwrap();
    /// assert_eq!(c.take().as_deref(), Some("v"));
    /// assert!(c.get().is_none());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.cell.take()
    }

    /// Consumes the cell and returns its value, if any.
    ///
    /// ```
    /// let c = greenpatch_runtime::sync::OnceLock::new();
    /// c.set(3).unwrap();
    /// assert_eq!(c.into_inner(), Some(3));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.cell.into_inner()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let c = OnceLock::new();
        let _ = c.cell.set(value);
        c
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}
