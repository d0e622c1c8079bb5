//! The greenpatch plugin API: patch events, subscribers and inventory entry
//! points.
//!
//! An application turns green with `greenpatch::monkey::patch_all()`. That
//! call announces what it does through the events of this crate, in gevent's
//! order:
//!
//! ```text
//! WillPatchAll → (WillPatchModule → DidPatchModule)* for time, thread, socket, libc, queue
//!              → DidPatchBuiltinModules
//!              → (WillPatchModule → DidPatchModule)* for opted-in third-party modules
//!              → DidPatchAll
//! ```
//!
//! Handlers receive [`Event`]s and answer `Ok(())`, [`DoNotPatch`] (from a
//! will-event: a veto) or a failure, which makes the registry roll back what
//! the call patched.
//!
//! There are two ways to receive events, delivered in this order:
//!
//! 1. **Runtime subscribers** — [`subscribe`] a closure while the program
//!    runs; [`unsubscribe`] it later.
//! 2. **Entry points** — [`entry_point!`] registers a function at link time
//!    (through `inventory`), so a driver crate takes part without the
//!    application calling it. Entry points run in a deterministic order: a
//!    plugin may name plugins it must run [`after`](entry_point!#example),
//!    and an unknown name or a cycle is a clear error before any handler
//!    runs.
//!
//! This crate knows nothing about the registry; `greenpatch` calls
//! [`deliver`]. It depends on no other greenpatch crate.
//!
//! # Example: a driver goes green at `DidPatchBuiltinModules`
//!
//! `DidPatchBuiltinModules` is the moment for third-party patching: the
//! builtin modules (sockets, sleeping, threads, queues) are green, and no
//! application code has run. A database driver hooks it to switch its
//! blocking waits to green ones:
//!
//! ```
//! use greenpatch_plugins::{entry_point, Event, PluginError};
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! /// Whether the driver waits for its socket through green threads.
//! static GREEN_WAITS: AtomicBool = AtomicBool::new(false);
//!
//! fn go_green(event: &Event<'_>) -> Result<(), PluginError> {
//!     let Event::DidPatchBuiltinModules(e) = event else {
//!         return Ok(()); // the other did-events do not concern us
//!     };
//!     if !e.options().is_requested("socket") {
//!         // Without green sockets our waits would block the hub.
//!         return Ok(());
//!     }
//!     if e.arg("pgdriver.green") == Some("off") {
//!         return Ok(());
//!     }
//!     GREEN_WAITS.store(true, Ordering::Release);
//!     Ok(())
//! }
//!
//! // Runs after the TLS plugin has gone green, whatever the link order.
//! entry_point!(did_patch, name = "pgdriver", after = ["tls"], handler = go_green);
//! entry_point!(did_patch, name = "tls", handler = |_event| Ok(()));
//!
//! # fn main() {
//! // This is what `greenpatch::monkey::patch_all()` does at that moment:
//! use greenpatch_plugins::{deliver, DidPatchBuiltinModules, Options};
//! let options = Options::new().with("socket", true);
//! deliver(&Event::DidPatchBuiltinModules(DidPatchBuiltinModules::new(&options, &[])))
//!     .expect("no plugin failed");
//! assert!(GREEN_WAITS.load(Ordering::Acquire));
//! # }
//! ```

//! # The whole picture
//!
//! The application depends on `greenpatch` only and calls
//! `greenpatch::monkey::patch_all(PatchAll::default())` first thing in
//! `main`; it never names the plugins. A driver crate depends on
//! `greenpatch` (for the facades: `greenpatch::socket`, `thread`, …, and
//! `greenpatch::monkey::is_module_patched`) and on this crate (for
//! [`entry_point!`]). In its `DidPatchBuiltinModules` handler it fixes
//! what it made before patching — blocking connections in a pool, an OS
//! thread — since everything it makes from then on through the facades is
//! already green. The workspace crate `greenpatch-kvdriver`
//! (`plugins/kvdriver`) is a complete, tested example; `greenpatch`'s crate
//! docs show the application side.

mod deliver;
mod entry;
mod error;
mod event;
mod options;
mod subscribe;

pub use deliver::deliver;
pub use entry::{check_entry_points, entry_points, EntryPoint, Handler};
pub use error::{DeliveryError, DoNotPatch, Plugin, PluginError, Veto};
pub use event::{
    DidPatchAll, DidPatchBuiltinModules, DidPatchModule, Event, EventGroup, EventKind, WillPatchAll, WillPatchModule,
};
pub use options::Options;
pub use subscribe::{subscribe, subscribe_named, unsubscribe, SubscriptionId};

/// Re-exported for [`entry_point!`]; not part of the API.
#[doc(hidden)]
pub use inventory;
