//! `dump()`: what the whole process is doing (gevent's `format_run_info`).
//!
//! # Model
//! A hub's tasks are touched only on its own thread, so the dump asks each
//! hub for its own snapshot: the calling thread's hub answers directly,
//! every other hub through its mailbox (a `Run` message its loop executes
//! between two green threads). A hub that does not answer within
//! [`ANSWER_WITHIN`] — its thread runs code that holds it (a green thread
//! that computes or blocks the OS thread), or root code outside any green
//! call — is listed from its heartbeat instead: the green thread running
//! there and its spawn site, which is the one to look at. The blocking
//! pool's counters come from its own lock.
//!
//! Green-thread ids are printed as `hub.sequence` (the runtime's one id
//! format, also used by the monitor, would-block-forever reports and the
//! stack-overflow report).
//!
//! # The dump signal
//! With `GREENPATCH_DUMP_SIGNAL=SIGUSR1` (see `env.rs`) the first hub
//! installs a handler for that signal. The handler only writes one byte to
//! a pipe (`write` is async-signal-safe); a small thread of the runtime,
//! blocked reading that pipe, makes the dump and prints it on standard
//! error. That thread can never wake a green thread, so it counts as stuck
//! for would-block-forever, as the monitor does.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::blocking::PoolState;
use crate::hub::Hub;
use crate::registry;
use crate::remote::Msg;
use crate::task::{Id, WaitOn};

/// How long [`dump`] waits for a busy hub to answer before describing it
/// from its heartbeat.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(200);

/// One green thread (or a hub's root) in a [`Dump`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadDump {
    /// Its id (`hub.sequence`; sequence 0 is the hub's root).
    pub id: Id,
    /// Whether this is the hub's root (the OS thread's own code).
    pub root: bool,
    /// Its name, if it was given one (`Builder::name`).
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawn_site: &'static Location<'static>,
    /// `runnable`, `running` or `parked`.
    pub state: &'static str,
    /// What it waits on, while parked.
    pub waits_on: Option<WaitOn>,
    /// For how long it has waited (to the hub's last poll), while parked.
    pub waiting_for: Option<Duration>,
    /// The green thread (or root) that spawned it.
    pub parent: Option<Id>,
}

/// One hub in a [`Dump`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubDump {
    /// The hub's index (the first part of its green threads' ids).
    pub hub: u32,
    /// The name of its OS thread, if it has one and answered.
    pub thread: Option<String>,
    /// Whether the hub answered; if not, `threads` is empty and `running`
    /// says what holds it.
    pub answered: bool,
    /// The green thread holding the hub when it did not answer, and its
    /// spawn site.
    pub running: Option<(Id, &'static Location<'static>)>,
    /// Its root and green threads.
    pub threads: Vec<ThreadDump>,
}

/// The whole process: every hub and the blocking pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dump {
    /// Every live hub, by index.
    pub hubs: Vec<HubDump>,
    /// The blocking pool.
    pub pool: PoolState,
}

impl fmt::Display for ThreadDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = if self.root { "root " } else { "green" };
        write!(f, "{role} {} '{}' {}", self.id, self.name.as_deref().unwrap_or("<unnamed>"), self.state)?;
        if let Some(w) = self.waits_on {
            write!(f, " on {w}")?;
            if let Some(d) = self.waiting_for {
                write!(f, " for {} ms", d.as_millis())?;
            }
        }
        if !self.root {
            write!(f, " (spawned at {}", self.spawn_site)?;
            match self.parent {
                Some(p) => write!(f, " by {p})")?,
                None => f.write_str(")")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for HubDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hub {} (thread '{}')", self.hub, self.thread.as_deref().unwrap_or("<unnamed>"))?;
        if !self.answered {
            write!(f, ": did not answer within {} ms; ", ANSWER_WITHIN.as_millis())?;
            match self.running {
                Some((id, site)) => writeln!(f, "green thread {id} (spawned at {site}) holds it")?,
                None => writeln!(f, "its thread runs code outside green calls")?,
            }
            return Ok(());
        }
        writeln!(f, ": {} green thread(s)", self.threads.iter().filter(|t| !t.root).count())?;
        for t in &self.threads {
            writeln!(f, "  {t}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "greenpatch dump: {} hub(s)", self.hubs.len())?;
        for h in &self.hubs {
            write!(f, "{h}")?;
        }
        writeln!(
            f,
            "blocking pool: {} worker(s), {} idle, {} job(s) queued (at most {} workers)",
            self.pool.workers, self.pool.idle, self.pool.queued, self.pool.max_workers
        )
    }
}

/// What every hub and green thread of the process is doing, and the
/// blocking pool (gevent's `format_run_info`). `to_string()` gives the
/// text; the fields give the structure.
///
/// Callable from anywhere: a green thread, a root, a plain OS thread.
///
/// ```
/// let rt = greenpatch_runtime::Runtime::builder().hubs(2).build().unwrap();
/// let h = rt.spawn(|| greenpatch_runtime::sleep(std::time::Duration::from_millis(300)));
/// std::thread::sleep(std::time::Duration::from_millis(50));
/// let d = greenpatch_runtime::dump();
/// assert!(d.hubs.len() >= 2);
/// assert!(d.to_string().contains("on sleep"));
/// h.join().unwrap();
/// ```
pub fn dump() -> Dump {
    let own = Hub::try_current().map(|h| h.shared.index);
    let answers: Arc<(Mutex<Vec<HubDump>>, Condvar)> = Arc::default();
    let mut asked = Vec::new();
    let mut hubs = Vec::new();
    for shared in registry::hubs() {
        if Some(shared.index) == own {
            continue;
        }
        let a = answers.clone();
        shared.push(Msg::Run(Box::new(move || {
            let snap = Hub::current().snapshot();
            a.0.lock().unwrap_or_else(|e| e.into_inner()).push(snap);
            a.1.notify_all();
        })));
        asked.push(shared);
    }
    if let Some(h) = Hub::try_current() {
        hubs.push(h.snapshot());
    }
    let deadline = Instant::now() + ANSWER_WITHIN;
    let mut got = answers.0.lock().unwrap_or_else(|e| e.into_inner());
    while got.len() < asked.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        got = answers.1.wait_timeout(got, left).unwrap_or_else(|e| e.into_inner()).0;
    }
    let answered: Vec<HubDump> = std::mem::take(&mut *got);
    drop(got);
    for shared in &asked {
        if !answered.iter().any(|a| a.hub == shared.index) {
            let (_, running, site) = shared.beat.sample();
            hubs.push(HubDump {
                hub: shared.index,
                thread: None,
                answered: false,
                running: site.filter(|_| running != 0).map(|s| (Id(running), s)),
                threads: Vec::new(),
            });
        }
    }
    hubs.extend(answered);
    hubs.sort_by_key(|h| h.hub);
    Dump { hubs, pool: crate::blocking::state() }
}

/// Write end of the dump pipe (-1 until the handler is installed).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `write` is async-signal-safe; `fd` is the pipe's write
        // end, open for the life of the process; the byte outlives the call.
        // errno is saved and restored so the interrupted code never sees ours.
        unsafe {
            let errno = *libc::__errno_location();
            let _ = libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Prints [`dump`] on standard error whenever the process receives
/// `signal` (what `GREENPATCH_DUMP_SIGNAL` does at start-up). Installing
/// it twice is a no-op.
///
/// ```
/// greenpatch_runtime::dump::print_on_signal(libc::SIGUSR2).unwrap();
/// ```
///
/// # Errors
/// The `pipe`, `sigaction` or thread-spawn error, when one fails.
pub fn print_on_signal(signal: i32) -> std::io::Result<()> {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for `pipe2` to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    // The handler must never block: a full pipe already has a dump pending.
    // SAFETY: `write_end` is the descriptor `pipe2` just returned.
    unsafe { libc::fcntl(write_end, libc::F_SETFL, libc::O_NONBLOCK) };
    std::thread::Builder::new().name("greenpatch-dump".into()).spawn(move || printer(read_end))?;
    PIPE_WRITE.store(write_end, Ordering::Relaxed);
    // SAFETY: a zeroed sigaction is a valid starting value; the handler is
    // an `extern "C" fn(c_int)` that only calls async-signal-safe functions.
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(signal, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    *installed = true;
    Ok(())
}

/// The dump thread: prints a dump for each byte the handler writes.
fn printer(read_end: libc::c_int) {
    // Ours, and never able to wake anyone: counted stuck for good.
    crate::deadlock::ours(1);
    crate::deadlock::worker_idle(1);
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is valid for its length; `read_end` is the pipe's
        // read end, owned by this thread.
        let n = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            eprint!("{}", dump());
        } else if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Applies `GREENPATCH_DUMP_SIGNAL` (once, at start-up: `env.rs`).
pub(crate) fn signal_from_env() {
    if let Ok(Some(sig)) = crate::env::signal("GREENPATCH_DUMP_SIGNAL") {
        if let Err(e) = print_on_signal(sig) {
            eprintln!("greenpatch: cannot install the GREENPATCH_DUMP_SIGNAL handler: {e}");
        }
    }
}
