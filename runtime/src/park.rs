//! Parking: the one blocking primitive every other is built on.
//!
//! [`park`] blocks the calling green thread (or, from plain code, the OS
//! thread, which meanwhile runs its hub) until an [`Unparker`] for it is
//! used. Like `std::thread::park`, a wake-up that arrives first is kept as a
//! token, so the unpark-before-park race loses nothing. Unparkers work from
//! any thread: on the owning hub they make the task runnable directly;
//! elsewhere they go through the hub's remote path.
//!
//! Parking can also end by a kill (the green thread unwinds), by the end of
//! a [`with_timeout`](crate::with_timeout) scope, or — for a root only — by
//! [`WouldBlockForever`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadlock::WouldBlockForever;
use crate::hub::{Hub, Wake};
use crate::registry::HubRef;
use crate::remote::Msg;
use crate::task::{Id, WaitOn};

/// A handle that wakes one parked green thread (or root), from any thread.
///
/// Cheap to clone. A handle whose green thread has finished is stale and
/// waking it does nothing.
///
/// ```
/// let u = greenpatch_runtime::current().unparker();
/// let t = std::thread::spawn(move || u.unpark());
/// greenpatch_runtime::park().unwrap();
/// t.join().unwrap();
/// ```
///
/// Its `Debug` names the green thread by its id, in the format of panics,
/// `dump()` and the monitor (`hub.seq`):
///
/// ```
/// let h = greenpatch_runtime::spawn(|| format!("{:?}", greenpatch_runtime::current().unparker()));
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), format!("Unparker {{ id: {id:?} }}"));
/// ```
#[derive(Clone)]
pub struct Unparker {
    hub: HubRef,
    idx: u32,
    gen: u32,
    /// The green thread's id (for `Debug` only).
    id: Id,
}

impl Unparker {
    #[inline]
    pub(crate) fn current_on(hub: &Hub) -> Unparker {
        let (idx, gen) = hub.current_key();
        Unparker { hub: hub.shared.clone(), idx, gen, id: hub.current_id() }
    }

    /// Wakes the green thread, or leaves it a token if it is not parked.
    ///
    /// ```
    /// let u = greenpatch_runtime::current().unparker();
    /// u.unpark(); // token: the next park returns at once
    /// greenpatch_runtime::park().unwrap();
    /// ```
    #[inline]
    pub fn unpark(&self) {
        match Hub::try_current() {
            Some(h) if Arc::ptr_eq(&h.shared, &self.hub) => h.unpark_local(self.idx, self.gen),
            _ => self.unpark_remote(),
        }
    }

    #[cold]
    fn unpark_remote(&self) {
        self.hub.push(Msg::Unpark { idx: self.idx, gen: self.gen });
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unparker").field("id", &self.id).finish()
    }
}

/// Blocks until unparked (or a pending token is consumed).
///
/// # Errors
/// From plain code (a root), [`WouldBlockForever`] when no thread of the
/// process can ever unpark it.
///
/// ```
/// let u = greenpatch_runtime::current().unparker();
/// greenpatch_runtime::spawn(move || u.unpark());
/// greenpatch_runtime::park().unwrap();
/// ```
#[inline(always)]
pub fn park() -> Result<(), WouldBlockForever> {
    Hub::current().park(None, WaitOn::named("park")).map(|_| ())
}

/// Blocks until unparked or `timeout` elapses.
///
/// # Errors
/// As [`park`] (only when the timeout cannot fire either, which never
/// happens: a timer always can).
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// greenpatch_runtime::park_timeout(Duration::from_millis(10)).unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(10));
/// ```
pub fn park_timeout(timeout: Duration) -> Result<(), WouldBlockForever> {
    let deadline = Instant::now().checked_add(timeout);
    Hub::current().park(deadline, WaitOn::named("park")).map(|_| ())
}

/// Parks with an explicit deadline and a description of the wait; returns
/// `Ok(true)` if woken, `Ok(false)` on timeout. For primitives built on the
/// runtime (locks, channels, driver plugins).
///
/// # Errors
/// As [`park`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use greenpatch_runtime::{park_until, WaitOn};
/// let woke = park_until(Some(Instant::now() + Duration::from_millis(5)), WaitOn::named("demo")).unwrap();
/// assert!(!woke);
/// ```
#[inline(always)]
pub fn park_until(deadline: Option<Instant>, wait: WaitOn) -> Result<bool, WouldBlockForever> {
    Hub::current().park(deadline, wait).map(|w| w == Wake::Unparked)
}

/// Lets every other runnable green thread of this hub run once.
///
/// ```
/// let h = greenpatch_runtime::spawn(|| 1);
/// greenpatch_runtime::yield_now();
/// assert!(h.is_finished());
/// ```
#[inline(always)]
pub fn yield_now() {
    Hub::current().yield_now();
}

/// Blocks the calling green thread (only) for `dur`. `sleep(ZERO)` yields.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// greenpatch_runtime::sleep(Duration::from_millis(20));
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(dur: Duration) {
    if dur.is_zero() {
        return yield_now();
    }
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_to(deadline),
        None => sleep_forever(),
    }
}

/// Blocks the calling green thread until `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let d = Instant::now() + Duration::from_millis(5);
/// greenpatch_runtime::sleep_until(d);
/// assert!(Instant::now() >= d);
/// ```
pub fn sleep_until(deadline: Instant) {
    if Instant::now() < deadline {
        sleep_to(deadline);
    }
}

/// Sleeps until `deadline`, which was in the future a moment ago. A wake by
/// the timer means the deadline passed (the clock is read only after an
/// early, spurious wake-up).
fn sleep_to(deadline: Instant) {
    let hub = Hub::current();
    loop {
        // A timer is armed, so this wait can always end: no error possible.
        if let Ok(Wake::TimedOut) = hub.park(Some(deadline), WaitOn::named("sleep")) {
            return;
        }
        if Instant::now() >= deadline {
            return;
        }
    }
}

fn sleep_forever() {
    let hub = Hub::current();
    loop {
        if let Err(e) = hub.park(None, WaitOn::named("sleep")) {
            panic!("{e}");
        }
    }
}

/// The running green thread (or root), as seen by itself.
///
/// ```
/// let me = greenpatch_runtime::current();
/// println!("{} {:?}", me.id(), me.name());
/// ```
#[derive(Clone, Debug)]
pub struct Current {
    id: Id,
    name: Option<Arc<str>>,
    unparker: Unparker,
}

impl Current {
    /// The green thread's id.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::current().id(), greenpatch_runtime::current().id());
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// Its name, if it was given one ([`Builder::name`](crate::Builder::name)).
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::current().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A handle that wakes it from anywhere.
    ///
    /// ```
    /// let u = greenpatch_runtime::current().unparker();
    /// u.unpark();
    /// greenpatch_runtime::park().unwrap();
    /// ```
    pub fn unparker(&self) -> Unparker {
        self.unparker.clone()
    }
}

/// The calling green thread (or the root of this OS thread).
///
/// ```
/// let h = greenpatch_runtime::Builder::new().name("w".into())
///     .spawn(|| greenpatch_runtime::current().name().map(String::from)).unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("w"));
/// ```
pub fn current() -> Current {
    let hub = Hub::current();
    Current { id: hub.current_id(), name: hub.current_name(), unparker: Unparker::current_on(hub) }
}
