//! The blocking monitor: gevent's `monitor_thread` with `max_blocking_time`.
//!
//! A green thread that computes for a long time, or calls something that
//! blocks the OS thread (a C library, `std::thread::sleep`, a std lock),
//! holds its hub: every other green thread there starves. The monitor makes
//! that visible instead of merely slow.
//!
//! # Model
//! Each hub publishes a heartbeat (`Beat`, in its shared state:
//! `registry.rs`) with plain relaxed stores on
//! its own thread: a switch counter bumped at every resume, and the id and
//! spawn site of the green thread it is running (id 0 while the hub runs
//! its own loop or sleeps). Off by default; [`enable`] starts one monitor OS
//! thread that samples every hub a few times per `max_blocking_time`. A hub
//! whose counter has not moved while one green thread ran for at least
//! `max_blocking_time` is reported once for that stretch: on standard
//! error, and kept for [`take_reports`] (the latest 64).
//!
//! The environment can switch it on before any code runs, as gevent's
//! `GEVENT_MONITOR_THREAD_ENABLE`: `GREENPATCH_MONITOR_THREAD=1`, with
//! `GREENPATCH_MAX_BLOCKING_TIME` in milliseconds (default 100), read when
//! the first hub is made.
//!
//! Root code (an OS thread's own stack outside the scheduler loop) is not
//! watched: it is not scheduled by a hub.
//!
//! # Invariants
//! - The published spawn site is a `&'static Location`: any thread may read
//!   it. Nothing else of a task is read off its hub's thread.
//! - The monitor thread counts as one of ours and as stuck (it never wakes
//!   a green thread), so would-block-forever detection works while it runs.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::deadlock;
use crate::registry;
use crate::task::Id;

/// A green thread that held its hub longer than `max_blocking_time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingReport {
    /// The hub it holds (the first number of its id).
    pub hub: u32,
    /// The green thread.
    pub green_thread: Id,
    /// Where it was spawned.
    pub spawn_site: &'static Location<'static>,
    /// How long it had held the hub when it was seen (at least this long).
    pub held_for: Duration,
    /// The threshold in force.
    pub max_blocking_time: Duration,
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "green thread {} (spawned at {}) has held hub {} for {} ms without giving it back \
             (max_blocking_time {} ms): every other green thread there waits. It computes, or calls \
             something that blocks the OS thread; run that with greenpatch::spawn_blocking (or on an OS \
             thread: greenpatch::thread::Builder::new().flavor(Flavor::Blocking)), or call \
             greenpatch::thread::yield_now() in long loops",
            self.green_thread,
            self.spawn_site,
            self.hub,
            self.held_for.as_millis(),
            self.max_blocking_time.as_millis()
        )
    }
}

/// The threshold in nanoseconds; 0 = off.
static MAX_NANOS: AtomicU64 = AtomicU64::new(0);
static THREAD: OnceLock<Thread> = OnceLock::new();
static STARTING: AtomicBool = AtomicBool::new(false);
static REPORTS: Mutex<VecDeque<BlockingReport>> = Mutex::new(VecDeque::new());
const KEEP: usize = 64;

/// Starts watching every hub of the process (or changes the threshold):
/// a green thread that keeps its hub for `max_blocking_time` or longer
/// without parking or yielding is reported once, on standard error and in
/// [`take_reports`]. gevent's default threshold is 100 ms.
///
/// Errors: `InvalidInput` for a zero duration; the OS error if the
/// monitor thread cannot be started.
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime as rt;
///
/// rt::monitor::enable(Duration::from_millis(100)).unwrap();
/// assert_eq!(rt::monitor::max_blocking_time(), Some(Duration::from_millis(100)));
/// assert!(rt::monitor::enable(Duration::ZERO).is_err());
/// rt::monitor::disable();
/// assert_eq!(rt::monitor::max_blocking_time(), None);
/// ```
pub fn enable(max_blocking_time: Duration) -> io::Result<()> {
    if max_blocking_time.is_zero() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "max_blocking_time must be greater than zero"));
    }
    let nanos = u64::try_from(max_blocking_time.as_nanos()).unwrap_or(u64::MAX);
    MAX_NANOS.store(nanos, Ordering::SeqCst);
    if let Some(t) = THREAD.get() {
        t.unpark();
        return Ok(());
    }
    if STARTING.swap(true, Ordering::SeqCst) {
        // Another thread is starting it; it will read the new threshold.
        return Ok(());
    }
    let started = std::thread::Builder::new().name("greenpatch-monitor".into()).spawn(run);
    match started {
        Ok(h) => {
            let _ = THREAD.set(h.thread().clone());
            Ok(())
        }
        Err(e) => {
            STARTING.store(false, Ordering::SeqCst);
            MAX_NANOS.store(0, Ordering::SeqCst);
            Err(e)
        }
    }
}

/// Stops reporting (the monitor thread idles until [`enable`] again).
///
/// ```
/// greenpatch_runtime::monitor::disable();
/// assert_eq!(greenpatch_runtime::monitor::max_blocking_time(), None);
/// ```
pub fn disable() {
    MAX_NANOS.store(0, Ordering::SeqCst);
}

/// The threshold in force, `None` while the monitor is off.
///
/// ```
/// // Off unless enabled (or switched on by GREENPATCH_MONITOR_THREAD=1).
/// let _ = greenpatch_runtime::monitor::max_blocking_time();
/// ```
pub fn max_blocking_time() -> Option<Duration> {
    match MAX_NANOS.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Duration::from_nanos(n)),
    }
}

/// Takes the reports kept so far (the latest 64), oldest first.
///
/// ```
/// let reports = greenpatch_runtime::monitor::take_reports();
/// for r in &reports {
///     eprintln!("{r}");
/// }
/// ```
pub fn take_reports() -> Vec<BlockingReport> {
    REPORTS.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect()
}

/// Applies `GREENPATCH_MONITOR_THREAD` / `GREENPATCH_MAX_BLOCKING_TIME`
/// (once, at start-up: `env.rs`, which also reports invalid values).
pub(crate) fn from_env() {
    if crate::env::flag("GREENPATCH_MONITOR_THREAD") != Ok(Some(true)) {
        return;
    }
    let max = crate::env::millis("GREENPATCH_MAX_BLOCKING_TIME").ok().flatten().unwrap_or(Duration::from_millis(100));
    if let Err(e) = enable(max) {
        eprintln!("greenpatch: cannot start the blocking monitor: {e}");
    }
}

/// What the monitor last saw of one hub.
struct Seen {
    switches: u64,
    running: u64,
    since: Instant,
    reported: bool,
}

fn run() {
    // Ours, and never able to wake anyone: counted stuck for good.
    deadlock::ours(1);
    deadlock::worker_idle(1);
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    loop {
        let nanos = MAX_NANOS.load(Ordering::SeqCst);
        if nanos == 0 {
            seen.clear();
            std::thread::park();
            continue;
        }
        let max = Duration::from_nanos(nanos);
        std::thread::park_timeout((max / 4).clamp(Duration::from_millis(1), Duration::from_millis(250)));
        let now = Instant::now();
        let mut alive = Vec::new();
        registry::each_hub(|index, beat| {
            alive.push(index);
            let (switches, running, site) = beat.sample();
            let e = seen.entry(index).or_insert(Seen { switches, running, since: now, reported: false });
            if e.switches != switches || e.running != running {
                *e = Seen { switches, running, since: now, reported: false };
                return;
            }
            let held = now.saturating_duration_since(e.since);
            if running != 0 && !e.reported && held >= max {
                e.reported = true;
                if let Some(site) = site {
                    report(BlockingReport {
                        hub: index,
                        green_thread: Id(running),
                        spawn_site: site,
                        held_for: held,
                        max_blocking_time: max,
                    });
                }
            }
        });
        seen.retain(|index, _| alive.contains(index));
    }
}

fn report(r: BlockingReport) {
    trace_event!(WARN, kind = "monitor", green_thread = %r.green_thread, hub = r.hub, spawn_site = %r.spawn_site, held_ms = r.held_for.as_millis() as u64, "{r}");
    eprintln!("greenpatch: {r}");
    let mut kept = REPORTS.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() == KEEP {
        kept.pop_front();
    }
    kept.push_back(r);
}
