//! Monkey patching for Rust: switch the facades from blocking to green, as
//! data, with gevent's events.
//!
//! # Model
//!
//! Every facade entry point (`time::sleep`, `socket::TcpStream::connect`, …)
//! calls through a [`Slot`]: a `static` holding the original (std)
//! implementation, the green one, and the current one, switched with one
//! atomic store. Slots are grouped in [`Module`]s declared with
//! [`patchable_module!`](crate::patchable_module); the
//! [`BUILTIN_MODULES`] come with greenpatch (`libc` is the C-level layer:
//! the C library's blocking calls, see `greenpatch_libc`), and any crate can declare more.
//!
//! [`patch_all`] switches the requested modules' slots to green and
//! announces each step to plugins (see `greenpatch_plugins`):
//!
//! ```text
//! WillPatchAll → (WillPatchModule → switch → DidPatchModule) for each builtin, in BUILTIN_MODULES order
//!              → DidPatchBuiltinModules
//!              → (WillPatchModule → switch → DidPatchModule) for opted-in third-party modules
//!              → DidPatchAll
//! ```
//!
//! # Invariants (what gevent gets wrong, and this does not)
//!
//! - A vetoed call records nothing: `WillPatchAll` comes before any switch.
//! - A failing handler rolls back every slot the call switched, and every
//!   module it recorded; earlier calls' patches stay.
//! - Will- and did-events of a module carry the same module name.
//! - `DoNotPatch` from a did-event is an error, not a silent escape.
//! - A call with nothing new delivers no event; a later call only adds.
//! - [`get_original`] returns the same std function before and after any
//!   patching.
//!
//! # Example: declaring a module and patching it
//!
//! ```
//! use greenpatch::monkey::{get_original, is_object_patched, patch_all, PatchAll, Slot};
//! use std::time::Duration;
//!
//! fn green_nap(d: Duration) {
//!     // a real one would park the green thread on the hub's timer
//!     let _ = d;
//! }
//!
//! pub static NAP: Slot<fn(Duration)> = Slot::new("nap", std::thread::sleep, green_nap);
//! greenpatch::patchable_module!(name = "doc-naps", items = [NAP]);
//!
//! /// The facade: blocking until `doc-naps` is patched, green after.
//! pub fn nap(d: Duration) {
//!     (NAP.get())(d)
//! }
//!
//! fn main() {
//!     patch_all(PatchAll::default().module("doc-naps")).expect("no plugin failed");
//!     assert!(is_object_patched("doc-naps", "nap"));
//!     nap(Duration::from_secs(3600)); // returns at once: green_nap runs
//!
//!     let std_sleep = get_original::<fn(Duration)>("doc-naps", "nap").unwrap();
//!     assert_eq!(std_sleep as usize, std::thread::sleep as fn(Duration) as usize);
//! }
//! ```

/// The builtin modules, in the order `patch_all` patches them, each with
/// what it makes green: the one list from which [`BUILTIN_MODULES`],
/// [`PatchAll`]'s per-module switches (`PatchAll::time`, …) and the patch
/// order come. Adding a builtin module is one line here plus the module's
/// own file, which declares its items with
/// `patchable_module!(builtin, name = "...", items = [...])`.
macro_rules! builtin_modules {
    ($then:ident) => {
        $then! {
            time => "sleeping, timeouts";
            thread => "threads, locks, events";
            fs => "files, directories";
            socket => "TCP, UDP, DNS";
            libc => "the C library's blocking calls: recv, read, connect, poll, sleeps, getaddrinfo";
            queue => "channels, queues";
            subprocess => "child processes (opt-in)";
        }
    };
}

mod checks;
mod clib;
mod error;
mod module;
mod registry;
mod request;
mod slot;

pub use checks::{is_main_thread, register_warning, PrePatchCheck};
pub use error::PatchError;
pub use module::{Module, RegistryProblem, BUILTIN_MODULES};
pub use registry::{
    get_original, is_module_patched, is_object_patched, module, modules, patch_all, patch_module, patched_modules,
};
pub use request::{ModuleVeto, PatchAll, Patched, Warning, OPT_IN_BUILTINS};
pub use slot::{AnySlot, FnPtr, Slot, SlotTypeMismatch};

/// The plugin API, re-exported so that applications need one dependency.
pub use greenpatch_plugins as plugins;

/// Used by greenpatch's macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use super::module::declare;
    pub use greenpatch_plugins::inventory;
}
