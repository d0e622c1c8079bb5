//! # greenpatch-runtime
//!
//! The engine under greenpatch: stackful green threads (one corosensei
//! coroutine each, on a pooled, guard-paged stack), one *hub* per OS thread
//! (run queue, timers, mio reactor) created lazily on the first green call,
//! wake-ups from any thread, a blocking pool, and the diagnostics gevent
//! users rely on (would-block-forever, named stack overflows, and a
//! [`monitor`] that reports a green thread holding its hub too long).
//!
//! This crate knows nothing about monkey patching: the `greenpatch` crate's
//! facades switch to it after `patch_all()`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use greenpatch_runtime as rt;
//!
//! let start = Instant::now();
//! let handles: Vec<_> = (0..1000)
//!     .map(|i| rt::spawn(move || { rt::sleep(Duration::from_millis(50)); i }))
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 499_500);
//! assert!(start.elapsed() < Duration::from_secs(2)); // 1,000 sleeps overlap
//! ```
//!
//! See ARCHITECTURE.md for the model (hubs, no migration, lifecycle,
//! wake-up path) and each module's docs for its invariants.

pub mod blocking;
pub mod coop;
mod coroutine;
mod deadlock;
pub mod foreign;
pub mod fs;
mod future;
mod hub;
mod io;
mod join;
pub mod monitor;
pub mod mpsc;
pub mod net;
mod overflow;
pub mod panic_hook;
mod park;
mod placement;
pub mod queue;
mod reactor;
mod registry;
mod remote;
mod runtime;
mod spawn;
mod stack;
pub mod sync;
mod task;
mod timeout;
mod timer;

pub use blocking::spawn_blocking;
pub use deadlock::WouldBlockForever;
pub use future::block_on;
pub use io::fd::{wait_readable, wait_writable};
pub use join::{JoinError, JoinHandle};
pub use park::{current, park, park_timeout, park_until, sleep, sleep_until, yield_now, Current, Unparker};
pub use runtime::{Runtime, RuntimeBuilder};
pub use spawn::{spawn, spawn_local, Builder};
pub use stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
pub use task::{Id, WaitOn};
pub use timeout::{with_timeout, Elapsed};

/// Counters for tests and monitoring.
pub mod stats {
    pub use crate::stack::{mapped_stacks, stack_arenas, StackGuard};

    /// How green-thread stacks are guarded in this process: guard regions
    /// in shared arenas (Linux 6.13+), or a `PROT_NONE` page per stack on
    /// older kernels, where `vm.max_map_count` bounds the live green
    /// threads (about 31,000 at the default 65530). Decided at the first
    /// stack; the environment variable `GREENPATCH_STACK_GUARDS=mprotect`
    /// forces the second (for tests).
    ///
    /// ```
    /// let guard = greenpatch_runtime::stats::stack_guard();
    /// println!("stack guards: {guard}");
    /// ```
    pub fn stack_guard() -> StackGuard {
        crate::stack::guard_kind()
    }

    /// Green threads alive on the calling thread's hub.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::stats::live_green_threads(), 0);
    /// ```
    pub fn live_green_threads() -> usize {
        crate::hub::Hub::current().live()
    }

    /// Stacks cached in the calling thread's hub pool.
    ///
    /// ```
    /// let _ = greenpatch_runtime::stats::cached_stacks();
    /// ```
    pub fn cached_stacks() -> usize {
        crate::hub::Hub::current().cached_stacks()
    }
}

/// Diagnostics: what every green thread of this hub is doing.
pub mod diag {
    /// One line per green thread of the calling thread's hub (and its root):
    /// id, name, state, what it waits on, and where it was spawned.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| ());
    /// assert!(greenpatch_runtime::diag::dump().contains("runnable"));
    /// h.join().unwrap();
    /// ```
    pub fn dump() -> String {
        crate::hub::Hub::current().dump()
    }
}
