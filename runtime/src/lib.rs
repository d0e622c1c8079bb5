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
//! # Features
//!
//! - `tracing`: green-thread lifecycle (`spawn`, `park` with its reason,
//!   `wake`, `finish`, at `TRACE`), blocking-monitor and would-block-forever
//!   reports (at `WARN`) become `tracing` events of target `greenpatch`.
//!   Without the feature they are compiled out.
//!
//! See ARCHITECTURE.md for the model (hubs, no migration, lifecycle,
//! wake-up path) and each module's docs for its invariants.

/// A `tracing` event under target `greenpatch` with the `tracing` feature;
/// nothing at all without it (the arguments are not even evaluated).
macro_rules! trace_event {
    ($level:ident, $($t:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            ::tracing::event!(target: "greenpatch", ::tracing::Level::$level, $($t)*);
        }
    };
}

pub mod blocking;
pub mod cell;
pub mod coop;
mod coroutine;
mod deadlock;
pub mod dump;
pub mod env;
pub mod foreign;
pub mod fs;
mod future;
pub mod group;
mod hub;
mod io;
mod join;
mod later;
pub mod monitor;
pub mod mpsc;
pub mod net;
mod overflow;
pub mod panic_hook;
mod park;
mod placement;
pub mod process;
pub mod queue;
mod reactor;
mod registry;
mod remote;
mod runtime;
mod scope;
pub mod server;
mod spawn;
mod stack;
pub mod sync;
mod task;
mod timeout;
mod timer;
pub mod wait;

pub use blocking::spawn_blocking;
pub use deadlock::WouldBlockForever;
pub use dump::{dump, Dump};
pub use future::block_on;
pub use io::fd::{wait_readable, wait_writable};
pub use join::{JoinError, JoinHandle};
pub use later::{spawn_later, Later};
pub use park::{current, park, park_timeout, park_until, sleep, sleep_until, yield_now, Current, Unparker};
pub use runtime::{Runtime, RuntimeBuilder};
pub use scope::{scope, Scope, ScopedJoinHandle};
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

    /// The stack size a green thread of the calling thread's hub gets when
    /// its builder sets none (`GREENPATCH_STACK_SIZE`, else
    /// [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE)).
    ///
    /// ```
    /// assert!(greenpatch_runtime::stats::default_stack_size() >= greenpatch_runtime::MIN_STACK_SIZE);
    /// ```
    pub fn default_stack_size() -> usize {
        crate::hub::Hub::current().config.borrow().stack_size
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

    pub use crate::dump::{dump as dump_all, Dump, HubDump, ThreadDump};
}
