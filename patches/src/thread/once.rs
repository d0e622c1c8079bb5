//! One-time initialisation and rendezvous with std's API — [`Once`],
//! [`OnceLock`], [`LazyLock`], [`Barrier`] — that park only the green
//! thread once `thread` is patched.
//!
//! # Model
//!
//! std's `Once`, `OnceLock` and `LazyLock` block the OS thread while
//! another thread runs the initialiser: with green threads, a second green
//! thread of the same OS thread that waits there stalls the hub, and if the
//! initialiser itself parks (a connection, a sleep) the two never finish.
//! These types keep std's cell for the value and its states (completed,
//! poisoned) and put a facade [`Mutex`] in front of the initialisation:
//! initialisers run one at a time, so std's cell is never contended, and a
//! caller that waits for a running initialiser waits on the facade lock —
//! green after `patch_all()` (the lock's flavor is chosen at first use, as
//! for every facade lock). Reading an initialised value takes no lock.
//!
//! [`Barrier`] is a facade [`Mutex`] and [`Condvar`], as std's.

use std::fmt;
use std::ops::Deref;

use super::{Condvar, Event, Mutex};

pub use std::sync::OnceState;

/// Runs the initialisation under `lock`, ignoring its poison: a panicking
/// initialiser has its own consequence (std's cell stays empty, or a
/// `Once` is poisoned) and the next caller retries or sees it.
fn serialised<R>(lock: &Mutex<()>, f: impl FnOnce() -> R) -> R {
    let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f()
}

/// A one-time global initialisation, as `std::sync::Once`.
///
/// # Example
///
/// ```
/// use greenpatch::thread::Once;
/// static INIT: Once = Once::new();
/// let mut n = 0;
/// INIT.call_once(|| n += 1);
/// INIT.call_once(|| n += 1);
/// assert_eq!(n, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    lock: Mutex<()>,
    once: std::sync::Once,
    // Set after each attempt to run an initialiser (completed or
    // panicked): what `wait` and `wait_force` wait on.
    attempted: Event,
}

/// Sets the event when dropped: after an initialiser returns or unwinds.
struct SetOnDrop<'a>(&'a Event);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl Once {
    /// A new `Once`.
    ///
    /// # Example
    ///
    /// ```
    /// static START: greenpatch::thread::Once = greenpatch::thread::Once::new();
    /// assert!(!START.is_completed());
    /// ```
    #[must_use]
    pub const fn new() -> Once {
        Once { lock: Mutex::new(()), once: std::sync::Once::new(), attempted: Event::new() }
    }

    /// Runs `f` if no call has completed yet; a caller that arrives while
    /// another runs it waits (green after patching) until it is done.
    ///
    /// # Panics
    ///
    /// As std: when an earlier initialiser panicked (the `Once` is
    /// poisoned); and `f`'s own panic propagates.
    ///
    /// # Example
    ///
    /// See [`Once`].
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.once.is_completed() {
            return;
        }
        serialised(&self.lock, || {
            let _attempt = SetOnDrop(&self.attempted);
            self.once.call_once(f);
        });
    }

    /// As [`call_once`](Once::call_once), but runs `f` even when poisoned,
    /// telling it so through [`OnceState`].
    ///
    /// # Example
    ///
    /// ```
    /// let once = greenpatch::thread::Once::new();
    /// once.call_once_force(|state| assert!(!state.is_poisoned()));
    /// assert!(once.is_completed());
    /// ```
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.once.is_completed() {
            return;
        }
        serialised(&self.lock, || {
            let _attempt = SetOnDrop(&self.attempted);
            self.once.call_once_force(f);
        });
    }

    /// Waits (green after patching) until a call completed.
    ///
    /// # Panics
    ///
    /// As std: when the `Once` is poisoned (an initialiser panicked).
    ///
    /// # Example
    ///
    /// ```
    /// use std::sync::Arc;
    /// let once = Arc::new(greenpatch::thread::Once::new());
    /// let o = once.clone();
    /// let h = greenpatch::thread::spawn(move || o.wait());
    /// once.call_once(|| ());
    /// h.join().unwrap();
    /// ```
    pub fn wait(&self) {
        loop {
            if self.once.is_completed() {
                return;
            }
            if self.attempted.is_set() {
                // An attempt ended without completing: poisoned.
                panic!("Once instance has previously been poisoned");
            }
            self.attempted.wait();
        }
    }

    /// Waits until a call completed, ignoring poison (a later
    /// [`call_once_force`](Once::call_once_force) may complete it).
    ///
    /// # Example
    ///
    /// ```
    /// let once = greenpatch::thread::Once::new();
    /// once.call_once_force(|_| ());
    /// once.wait_force();
    /// ```
    pub fn wait_force(&self) {
        loop {
            if self.once.is_completed() {
                return;
            }
            self.attempted.wait();
            if self.once.is_completed() {
                return;
            }
            // That attempt panicked: wait for the next one.
            self.attempted.clear();
        }
    }

    /// Whether a call completed.
    ///
    /// # Example
    ///
    /// See [`Once`].
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.once.is_completed()
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// A cell written once, as `std::sync::OnceLock`.
///
/// # Example
///
/// ```
/// use greenpatch::thread::OnceLock;
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// assert_eq!(CONFIG.get_or_init(|| "a".into()), "a");
/// assert_eq!(CONFIG.get_or_init(|| "b".into()), "a");
/// assert!(CONFIG.set("c".into()).is_err());
/// ```
pub struct OnceLock<T> {
    lock: Mutex<()>,
    cell: std::sync::OnceLock<T>,
    // Set once the cell is: what `wait` waits on.
    ready: Event,
}

impl<T> OnceLock<T> {
    /// An empty cell.
    ///
    /// # Example
    ///
    /// ```
    /// let c = greenpatch::thread::OnceLock::<u8>::new();
    /// assert!(c.get().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock { lock: Mutex::new(()), cell: std::sync::OnceLock::new(), ready: Event::new() }
    }

    /// The value, if set.
    ///
    /// # Example
    ///
    /// See [`OnceLock::new`].
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The value, mutably, if set.
    ///
    /// # Example
    ///
    /// ```
    /// let mut c = greenpatch::thread::OnceLock::from(1);
    /// *c.get_mut().unwrap() += 1;
    /// assert_eq!(c.get(), Some(&2));
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.cell.get_mut()
    }

    /// Waits (green after patching) until the cell is set, and returns its
    /// value.
    ///
    /// # Example
    ///
    /// ```
    /// let c = greenpatch::thread::OnceLock::new();
    /// c.set(5).unwrap();
    /// assert_eq!(*c.wait(), 5);
    /// ```
    pub fn wait(&self) -> &T {
        loop {
            if let Some(v) = self.cell.get() {
                return v;
            }
            self.ready.wait();
        }
    }

    /// Sets the value if empty.
    ///
    /// # Errors
    ///
    /// `Err(value)` when it was already set.
    ///
    /// # Example
    ///
    /// See [`OnceLock`].
    pub fn set(&self, value: T) -> Result<(), T> {
        match self.try_insert(value) {
            Ok(_) => Ok(()),
            Err((_, value)) => Err(value),
        }
    }

    /// Sets the value if empty and returns a reference to it.
    ///
    /// # Errors
    ///
    /// `Err((current, value))` when it was already set.
    ///
    /// # Example
    ///
    /// ```
    /// let c = greenpatch::thread::OnceLock::new();
    /// assert_eq!(c.try_insert(1), Ok(&1));
    /// assert_eq!(c.try_insert(2), Err((&1, 2)));
    /// ```
    pub fn try_insert(&self, value: T) -> Result<&T, (&T, T)> {
        let mut value = Some(value);
        let v = self.get_or_init(|| value.take().unwrap_or_else(|| unreachable!("init runs once")));
        match value {
            None => Ok(v),
            Some(value) => Err((v, value)),
        }
    }

    /// The value, initialised by `f` if empty; callers that arrive while
    /// another initialises wait for it (green after patching).
    ///
    /// # Panics
    ///
    /// `f`'s panic propagates, and the cell stays empty (as std).
    ///
    /// # Example
    ///
    /// See [`OnceLock`].
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.cell.get() {
            return v;
        }
        let v = serialised(&self.lock, || self.cell.get_or_init(f));
        self.ready.set();
        v
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// # Example
    ///
    /// ```
    /// let mut c = greenpatch::thread::OnceLock::from("x");
    /// assert_eq!(c.take(), Some("x"));
    /// assert!(c.get().is_none());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.ready.clear();
        self.cell.take()
    }

    /// The value, consuming the cell.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch::thread::OnceLock::from(3).into_inner(), Some(3));
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
        let ready = Event::new();
        ready.set();
        OnceLock { lock: Mutex::new(()), cell: std::sync::OnceLock::from(value), ready }
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

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.cell, f)
    }
}

/// A value initialised on first access, as `std::sync::LazyLock`.
///
/// # Example
///
/// ```
/// use std::collections::HashMap;
/// use greenpatch::thread::LazyLock;
/// static TABLE: LazyLock<HashMap<u8, &str>> = LazyLock::new(|| HashMap::from([(1, "one")]));
/// assert_eq!(TABLE[&1], "one");
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    // Only touched under `cell`'s initialisation lock, so never contended.
    init: std::sync::Mutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value made by `f`.
    ///
    /// # Example
    ///
    /// See [`LazyLock`].
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { cell: OnceLock::new(), init: std::sync::Mutex::new(Some(f)) }
    }

    /// Initialises (once; others wait, green after patching) and returns
    /// the value.
    ///
    /// # Panics
    ///
    /// When the initialiser panicked, now or in an earlier call (as std).
    ///
    /// # Example
    ///
    /// ```
    /// let l = greenpatch::thread::LazyLock::new(|| 6 * 7);
    /// assert_eq!(*greenpatch::thread::LazyLock::force(&l), 42);
    /// ```
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            let f = this.init.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F> LazyLock<T, F> {
    /// The value, if initialised (without initialising it).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::thread::LazyLock;
    /// let l = LazyLock::new(|| 1);
    /// assert_eq!(LazyLock::get(&l), None);
    /// LazyLock::force(&l);
    /// assert_eq!(LazyLock::get(&l), Some(&1));
    /// ```
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.cell.get()
    }

    /// The value, mutably, if initialised.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::thread::LazyLock;
    /// let mut l = LazyLock::new(|| 1);
    /// assert_eq!(LazyLock::get_mut(&mut l), None);
    /// ```
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.cell.get_mut()
    }
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Initialises if needed and returns the value mutably (no waiting:
    /// `&mut` means nobody else is looking).
    ///
    /// # Panics
    ///
    /// When the initialiser panicked, now or earlier.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::thread::LazyLock;
    /// let mut l = LazyLock::new(|| 1);
    /// *LazyLock::force_mut(&mut l) += 1;
    /// assert_eq!(*l, 2);
    /// ```
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        LazyLock::force(this);
        match this.cell.get_mut() {
            Some(v) => v,
            None => unreachable!("force initialised the cell or panicked"),
        }
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// Lets `n` threads meet, as `std::sync::Barrier`: each [`wait`](Barrier::wait)
/// blocks (green after patching) until `n` have called it.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use greenpatch::thread::{spawn, Barrier};
/// let b = Arc::new(Barrier::new(3));
/// let hs: Vec<_> = (0..3).map(|_| { let b = b.clone(); spawn(move || b.wait().is_leader()) }).collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|l| *l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    state: Mutex<(usize, usize)>,
    cvar: Condvar,
    n: usize,
}

/// What [`Barrier::wait`] returns: whether this thread was the leader (one
/// per generation).
///
/// # Example
///
/// ```
/// assert!(greenpatch::thread::Barrier::new(1).wait().is_leader());
/// ```
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this thread was the generation's leader (the last to arrive).
    ///
    /// # Example
    ///
    /// See [`BarrierWaitResult`].
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads (0 and 1 never wait).
    ///
    /// # Example
    ///
    /// See [`Barrier`].
    #[must_use]
    pub const fn new(n: usize) -> Barrier {
        Barrier { state: Mutex::new((0, 0)), cvar: Condvar::new(), n }
    }

    /// Waits until `n` threads wait; the last to arrive is the leader.
    ///
    /// # Example
    ///
    /// See [`Barrier`].
    pub fn wait(&self) -> BarrierWaitResult {
        let mut g = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let generation = g.1;
        g.0 += 1;
        if g.0 < self.n {
            while generation == g.1 {
                g = self.cvar.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            BarrierWaitResult(false)
        } else {
            g.0 = 0;
            g.1 = g.1.wrapping_add(1);
            self.cvar.notify_all();
            BarrierWaitResult(true)
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
