//! Starting threads through the facade: [`Builder`] and [`JoinHandle`],
//! plus the bookkeeping of OS threads started before patching.
//!
//! # Model
//!
//! `Builder::spawn` reads `thread.spawn` once (unless a flavor is forced)
//! and starts an OS thread or a green thread; the handle keeps that
//! flavor. An OS thread carries an event that its closure sets when it
//! returns or unwinds, so that a patched program can wait for it green.
//! OS threads started before patching are counted per spawn site while
//! they run, for the `greenpatch.thread.os-threads` pre-patch check.
//!
//! # Invariant
//!
//! A green thread's `GreenThread` gets its unparker when it starts (see
//! `handle.rs` for why an early unpark is never lost).

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::{Arc, Mutex as StdMutex};

use greenpatch_runtime as rt;

use super::handle::{GreenThread, ThreadImpl};
use super::{Result, Thread, SPAWN};
use crate::flavor::Flavored;
use crate::Flavor;

/// Thread factory, like `std::thread::Builder`: a name, a stack size and —
/// beyond std — an explicit [`Flavor`].
///
/// # Example
///
/// ```
/// let h = greenpatch::thread::Builder::new()
///     .name("worker".into())
///     .spawn(|| greenpatch::thread::current().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    flavor: Option<Flavor>,
}

impl Builder {
    /// A builder with the defaults of the chosen flavor.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().name("n".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("n"));
    /// h.join().unwrap();
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Stack size in bytes (for green threads, rounded up to pages and at
    /// least `greenpatch_runtime::MIN_STACK_SIZE`).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().stack_size(256 * 1024).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Forces the flavor instead of reading `thread.spawn`: e.g. a real OS
    /// thread for CPU-bound work in a patched program (gevent's
    /// `get_original('threading', 'start_new_thread')`).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::{thread::Builder, Flavor};
    /// let h = Builder::new().flavor(Flavor::Blocking).spawn(|| 2).unwrap();
    /// assert_eq!(h.flavor(), Flavor::Blocking);
    /// assert_eq!(h.join().unwrap(), 2);
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Builder {
        self.flavor = Some(flavor);
        self
    }

    /// Spawns `f` with this configuration.
    ///
    /// # Errors
    ///
    /// When the OS thread cannot be created, or no green stack can be
    /// mapped (the error names the limit).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::Builder::new().spawn(|| "done").unwrap();
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        match self.flavor.unwrap_or_else(|| (SPAWN.get())()) {
            Flavor::Blocking => self.spawn_os(site, f),
            Flavor::Green => self.spawn_green(site, f),
        }
    }

    fn spawn_os<F, T>(self, site: &'static Location<'static>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut b = std::thread::Builder::new();
        if let Some(name) = self.name {
            b = b.name(name);
        }
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let before_patch = !SPAWN.is_patched();
        let tracker = before_patch.then(|| OsThreadTracker::start(site));
        let finished = Arc::new(rt::sync::Event::new());
        let done = Finished(finished.clone());
        let handle = b.spawn(move || {
            let _tracker = tracker;
            let _done = done;
            f()
        })?;
        let thread = Thread { imp: Flavored::Blocking(handle.thread().clone()) };
        Ok(JoinHandle { imp: Flavored::Blocking((handle, finished)), thread, site, before_patch })
    }

    fn spawn_green<F, T>(self, site: &'static Location<'static>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut b = rt::Builder::new().spawn_site(site);
        if let Some(name) = &self.name {
            b = b.name(name.clone());
        }
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        let inner = Arc::new(GreenThread::new(None, self.name, None));
        let mine = inner.clone();
        let handle = b.spawn(move || {
            crate::stale::mark_green_hub();
            let me = rt::current();
            let _ = mine.id.set(me.id());
            mine.started(me.unparker());
            drop(mine);
            f()
        })?;
        let _ = inner.id.set(handle.id());
        Ok(JoinHandle {
            imp: Flavored::Green(handle),
            thread: Thread { imp: ThreadImpl::Green(inner) },
            site,
            before_patch: false,
        })
    }
}

// ----------------------------------------------------------------- JoinHandle

// An OS thread and the event it sets when its closure is done (so that
// a patched program can wait for it without blocking its hub).
type JoinImpl<T> = Flavored<(std::thread::JoinHandle<T>, Arc<rt::sync::Event>), rt::JoinHandle<T>>;

/// Sets an OS thread's "finished" event when its closure returns or
/// unwinds.
struct Finished(Arc<rt::sync::Event>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// An owned permission to join a thread, like `std::thread::JoinHandle`;
/// dropping it detaches the thread.
///
/// # Example
///
/// ```
/// let h = greenpatch::thread::spawn(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// ```
pub struct JoinHandle<T> {
    imp: JoinImpl<T>,
    thread: Thread,
    site: &'static Location<'static>,
    before_patch: bool,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish: its value, or its panic payload.
    /// A green thread that could not finish for another reason (killed,
    /// abandoned, would block forever) gives its
    /// [`greenpatch_runtime::JoinError`] as the payload.
    ///
    /// After patching, joining an OS thread first waits (green) for its
    /// closure to finish, so the caller's hub keeps running, then joins it;
    /// joining one spawned before patching from a green thread is reported
    /// once per spawn site.
    ///
    /// # Errors
    ///
    /// The panic payload, as `std::thread::JoinHandle::join`.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| panic!("boom"));
    /// assert!(h.join().is_err());
    /// ```
    pub fn join(self) -> Result<T> {
        match self.imp {
            Flavored::Green(h) => h.join().map_err(|e| match e {
                rt::JoinError::Panicked(p) => p,
                other => Box::new(other) as Box<dyn Any + Send>,
            }),
            Flavored::Blocking((h, finished)) => {
                if SPAWN.is_patched() {
                    if self.before_patch {
                        crate::stale::check(
                            true,
                            "OS thread",
                            self.site,
                            "spawned through the facade before patch_all()",
                        );
                    }
                    finished.wait();
                }
                h.join()
            }
        }
    }

    /// The thread's handle.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| greenpatch::thread::current().id());
    /// let id = h.thread().id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Kills a green thread (gevent's `Greenlet.kill`): it unwinds at its
    /// next blocking point, running destructors (or never starts), and
    /// [`join`](JoinHandle::join) returns a payload that downcasts to
    /// [`greenpatch_runtime::JoinError`] (`is_killed()`). Returns `false`,
    /// doing nothing, for an OS thread: those cannot be killed safely.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch::{thread, Flavor};
    ///
    /// let h = thread::Builder::new().flavor(Flavor::Green).spawn(|| thread::sleep(Duration::from_secs(60))).unwrap();
    /// assert!(h.kill());
    /// let payload = h.join().unwrap_err();
    /// assert!(payload.downcast_ref::<greenpatch::JoinError>().unwrap().is_killed());
    /// ```
    pub fn kill(&self) -> bool {
        match &self.imp {
            Flavored::Green(h) => {
                h.kill();
                true
            }
            Flavored::Blocking(_) => false,
        }
    }

    /// Whether the thread has finished (a `join` would not block).
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| ());
    /// while !h.is_finished() {
    ///     greenpatch::thread::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.imp {
            Flavored::Blocking((h, _)) => h.is_finished(),
            Flavored::Green(h) => h.is_finished(),
        }
    }

    /// Whether it is an OS thread ([`Flavor::Blocking`]) or a green one.
    ///
    /// # Example
    ///
    /// ```
    /// let h = greenpatch::thread::spawn(|| ());
    /// assert_eq!(h.flavor(), greenpatch::Flavor::Blocking); // not patched
    /// h.join().unwrap();
    /// ```
    pub fn flavor(&self) -> Flavor {
        self.imp.flavor()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("thread", &self.thread).field("flavor", &self.flavor()).finish()
    }
}

// ------------------------------------------------- OS threads before patching

/// OS threads spawned through the facade before patching and still
/// running, counted per spawn site.
static EARLY_OS_THREADS: StdMutex<Vec<(&'static Location<'static>, usize)>> = StdMutex::new(Vec::new());

fn early_threads() -> std::sync::MutexGuard<'static, Vec<(&'static Location<'static>, usize)>> {
    EARLY_OS_THREADS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one early OS thread while it runs.
struct OsThreadTracker(&'static Location<'static>);

impl OsThreadTracker {
    fn start(site: &'static Location<'static>) -> OsThreadTracker {
        let mut all = early_threads();
        match all.iter_mut().find(|(s, _)| *s == site) {
            Some((_, n)) => *n += 1,
            None => all.push((site, 1)),
        }
        OsThreadTracker(site)
    }
}

impl Drop for OsThreadTracker {
    fn drop(&mut self) {
        let mut all = early_threads();
        if let Some(i) = all.iter().position(|(s, _)| *s == self.0) {
            all[i].1 -= 1;
            if all[i].1 == 0 {
                all.swap_remove(i);
            }
        }
    }
}

/// The pre-patch check: OS threads started through the facade and still
/// running stay OS threads.
fn early_os_threads() -> Option<String> {
    if SPAWN.is_patched() {
        return None;
    }
    let all = early_threads();
    let n: usize = all.iter().map(|(_, n)| n).sum();
    if n == 0 {
        return None;
    }
    let mut sites: Vec<String> = all.iter().take(3).map(|(s, n)| format!("{n} at {s}")).collect();
    if all.len() > 3 {
        sites.push(format!("{} more sites", all.len() - 3));
    }
    Some(format!(
        "{n} OS thread(s) started through greenpatch::thread::spawn before patch_all() are still \
         running (spawned: {}); they stay OS threads and their blocking calls keep blocking. \
         Call patch_all() first thing in main",
        sites.join(", ")
    ))
}

crate::pre_patch_check!(name = "greenpatch.thread.os-threads", check = early_os_threads);
