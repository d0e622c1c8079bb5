//! Multi-hub runtimes: N OS threads, each running one hub.
//!
//! A [`Runtime`] starts `hubs(n)` threads; each creates its hub and serves
//! it until shutdown. [`Runtime::spawn`] (and `spawn` called on one of its
//! hubs) places each new green thread on a hub picked at spawn time — the
//! less loaded of two hubs taken round-robin (`placement.rs`) — and it
//! stays there: only the not-yet-started `Send` closure crosses threads.
//!
//! # Shutdown order
//! 1. `shutting_down` is set: new spawns through the runtime are refused.
//! 2. Each hub gets a stop message; its root leaves `serve`, kills every
//!    green thread still alive and runs them until they have unwound
//!    (destructors run, guards released).
//! 3. The hub threads exit (their hubs tear down) and are joined.

use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::thread;

use crate::hub::Hub;
use crate::join::JoinHandle;
use crate::placement::{self, Placement};
use crate::remote::Msg;
use crate::spawn::Builder;

/// Configures a [`Runtime`].
///
/// ```
/// let rt = greenpatch_runtime::Runtime::builder().hubs(2).stack_size(128 * 1024).build().unwrap();
/// assert_eq!(rt.block_on(|| 5), 5);
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    hubs: usize,
    stack_size: usize,
    coop_budget: Option<u32>,
    blocking_threads: Option<usize>,
}

impl RuntimeBuilder {
    /// Number of hub threads (default: available parallelism).
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(1).build().unwrap();
    /// assert_eq!(rt.hubs(), 1);
    /// ```
    pub fn hubs(mut self, n: usize) -> RuntimeBuilder {
        self.hubs = n.max(1);
        self
    }

    /// Default stack size of green threads spawned on this runtime.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().stack_size(64 * 1024).build().unwrap();
    /// rt.block_on(|| ());
    /// ```
    pub fn stack_size(mut self, size: usize) -> RuntimeBuilder {
        self.stack_size = size;
        self
    }

    /// The cooperative budget of the runtime's hubs: how many operations a
    /// green thread may complete without parking before its next such call
    /// yields (`0`: off). Default: `GREENPATCH_COOP_BUDGET`, else
    /// [`coop::DEFAULT_BUDGET`](crate::coop::DEFAULT_BUDGET); see
    /// [`coop`](crate::coop).
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(1).coop_budget(16).build().unwrap();
    /// assert_eq!(rt.block_on(greenpatch_runtime::coop::budget), 16);
    /// ```
    pub fn coop_budget(mut self, n: u32) -> RuntimeBuilder {
        self.coop_budget = Some(n);
        self
    }

    /// The size of the (process-wide) blocking pool that runs name lookups
    /// and file I/O: how many such calls run at once; see
    /// [`blocking`](crate::blocking) (default: `GREENPATCH_THREADPOOL_SIZE`,
    /// else 64; at most [`blocking::MAX_SIZE`](crate::blocking::MAX_SIZE)).
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(1).blocking_threads(100).build().unwrap();
    /// assert_eq!(greenpatch_runtime::blocking::size(), 100);
    /// # drop(rt);
    /// # greenpatch_runtime::blocking::set_size(64).unwrap();
    /// ```
    pub fn blocking_threads(mut self, n: usize) -> RuntimeBuilder {
        self.blocking_threads = Some(n);
        self
    }

    /// Starts the hub threads.
    ///
    /// # Errors
    /// If an OS thread cannot be started, or a hub cannot be created (the
    /// process is out of descriptors: `EMFILE`; the hubs already started
    /// are stopped); `InvalidInput` if the blocking pool size is out of
    /// range.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().build().unwrap();
    /// drop(rt);
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        if let Some(n) = self.blocking_threads {
            crate::blocking::set_size(n)?;
        }
        let shared = Arc::new(Placement::new());
        let (tx, rx) = std::sync::mpsc::channel();
        let mut threads = Vec::with_capacity(self.hubs);
        let mut failed = None;
        for i in 0..self.hubs {
            let tx = tx.clone();
            let sh = shared.clone();
            let stack_size = self.stack_size;
            let coop_budget = self.coop_budget;
            let started = thread::Builder::new().name(format!("greenpatch-hub-{i}")).spawn(move || {
                // A hub that cannot be made (out of descriptors) fails the
                // build with its error.
                let hub = match Hub::get() {
                    Ok(hub) => hub,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                hub.config.borrow_mut().stack_size = stack_size;
                if let Some(n) = coop_budget {
                    hub.set_coop_budget(n);
                }
                placement::serve(Some(sh.clone()));
                let _ = tx.send(Ok(hub.shared.clone()));
                hub.serve(|| sh.is_shutting_down());
                hub.kill_all_and_drain();
                placement::serve(None);
            });
            match started {
                Ok(t) => threads.push(t),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let mut hubs = Vec::with_capacity(threads.len());
        for _ in 0..threads.len() {
            match rx.recv() {
                Ok(Ok(hub)) => hubs.push(hub),
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(_) => {
                    failed.get_or_insert_with(|| io::Error::other("a hub thread died while starting"));
                    break;
                }
            }
        }
        shared.set_hubs(hubs);
        let runtime = Runtime { shared, threads };
        match failed {
            None => Ok(runtime),
            Some(e) => {
                drop(runtime); // stops the hubs that did start
                Err(e)
            }
        }
    }
}

/// A set of hub threads with spawn-time placement.
///
/// ```
/// let rt = greenpatch_runtime::Runtime::builder().hubs(2).build().unwrap();
/// let hs: Vec<_> = (0..4).map(|i| rt.spawn(move || i)).collect();
/// let total: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(total, 6);
/// ```
pub struct Runtime {
    shared: Arc<Placement>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Runtime {
    /// A builder with one hub per available core and the default stack size.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().build().unwrap();
    /// assert!(rt.hubs() >= 1);
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            hubs: crate::env::hubs().unwrap_or_else(|| thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
            stack_size: crate::hub::default_stack_size(),
            coop_budget: None,
            blocking_threads: None,
        }
    }

    /// Number of hubs.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(3).build().unwrap();
    /// assert_eq!(rt.hubs(), 3);
    /// ```
    pub fn hubs(&self) -> usize {
        self.threads.len()
    }

    /// Spawns a green thread on one of the runtime's hubs.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(2).build().unwrap();
    /// assert_eq!(rt.spawn(|| 1).join().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.shared.pick() {
            Some(target) => Builder::new().spawn_remote(&target, Location::caller(), f),
            // Unreachable while `self` is borrowed (shutdown happens in drop).
            None => unreachable!("Runtime::spawn on a runtime that is shutting down"),
        }
    }

    /// Runs `f` as a green thread on the runtime and waits for its value;
    /// a panic in `f` is resumed here.
    ///
    /// # Panics
    /// If `f` panics, or was killed, or can never finish.
    ///
    /// ```
    /// let rt = greenpatch_runtime::Runtime::builder().hubs(2).build().unwrap();
    /// let v = rt.block_on(|| {
    ///     let hs: Vec<_> = (0..100).map(|i| greenpatch_runtime::spawn(move || i)).collect();
    ///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    /// });
    /// assert_eq!(v, 4950);
    /// ```
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(crate::JoinError::Panicked(p)) => std::panic::resume_unwind(p),
            Err(e) => panic!("Runtime::block_on: {e}"),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let hubs = self.shared.shut_down();
        for hub in &hubs {
            // Wake the serving root (slot 0) so it sees the stop flag.
            hub.push(Msg::Unpark { idx: crate::task::ROOT, gen: 0 });
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("hubs", &self.threads.len()).finish()
    }
}
