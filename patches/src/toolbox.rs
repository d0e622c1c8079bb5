//! gevent's toolbox: groups and pools, waits on many sources, one-shot
//! cells, deferred and scoped green threads, and a stream server.
//!
//! # Model
//!
//! These are the runtime's own tools, re-exported. Unlike the facades they
//! have no blocking flavor: as gevent's `Pool`, `Group`, `AsyncResult`,
//! `wait`/`iwait`, `spawn_later` and `StreamServer` always work with
//! greenlets, these always run green threads, whether or not
//! `patch_all()` was called. They work from green threads and from plain
//! OS threads alike: a plain thread that waits (a `join_next`, a `wait`, a
//! `serve_forever`) drives its own hub meanwhile, blocking that OS thread
//! only. A program that wants OS threads uses `greenpatch::thread` before
//! patching instead — and for a server, [`crate::server::StreamServer`],
//! which serves the facade listeners under the facade rule (an OS thread
//! per connection before `patch_all()`, a green thread after).
//!
//! | item | gevent | std / tokio |
//! |---|---|---|
//! | [`Group`], [`Pool`] | `Group`, `Pool` (`map`, `imap`, `imap_unordered`) | tokio's `JoinSet` |
//! | [`select`], [`wait()`], [`iwait`] | `wait`, `iwait` | a `select` over channels and queues |
//! | [`AsyncResult`] | `AsyncResult` | |
//! | [`spawn_later`] | `spawn_later` | |
//! | [`scope`] | | `std::thread::scope` |
//! | [`StreamServer`] (runtime listeners, always green; [`crate::server::StreamServer`] for facade listeners) | `StreamServer` | |
//!
//! ```
//! use greenpatch::toolbox::Pool;
//! let mut pool = Pool::bounded(4);
//! let squares = pool.map(0..8u32, |x| x * x);
//! assert_eq!(squares.into_iter().map(Result::unwrap).sum::<u32>(), 140);
//! ```

pub use greenpatch_runtime::cell::{AlreadySet, AsyncResult, Failure};
pub use greenpatch_runtime::group::{Group, Imap, ImapUnordered, Outcome, Pool};
pub use greenpatch_runtime::server::{Listener, ServerHandle, Stopped, StreamServer};
pub use greenpatch_runtime::wait::{iwait, select, wait, IWait, Waitable};
pub use greenpatch_runtime::{scope, spawn_later, Later, Scope, ScopedJoinHandle};
