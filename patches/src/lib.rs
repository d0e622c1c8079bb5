//! gevent for Rust: std-like facades that block the OS thread until the
//! application calls [`monkey::patch_all()`], and from then on block only
//! the calling green thread.
//!
//! # The facades
//!
//! | module | mirrors | green after `patch_all()` |
//! |---|---|---|
//! | [`socket`] | `std::net`, `std::os::unix::net` (+ [`socket::lookup_host`]) | sockets park only the green thread; DNS on the blocking pool |
//! | [`time`] | `std::thread::sleep` (+ [`time::with_timeout`]) | green sleep; gevent's `Timeout` scopes |
//! | [`thread`] | `std::thread`, `std::sync`'s locks (+ `Event`, `Semaphore`, `Local`) | green threads, green locks |
//! | [`fs`] | `std::fs` | file and directory calls on the blocking pool |
//! | [`queue`] | `std::sync::mpsc` (+ gevent's `Queue`, `LifoQueue`, `PriorityQueue`) | green channels and queues |
//! | [`process`] | `std::process` (module `subprocess`, opt-in) | green waits and pipes |
//!
//! [`toolbox`] holds gevent's tools, which are green in both modes (as in
//! gevent): groups and pools, waits on many sources, one-shot cells,
//! `spawn_later`, scoped green threads and `StreamServer`. [`server`]'s
//! `StreamServer` serves the facade listeners and follows the facade rule:
//! a handler per connection on an OS thread before `patch_all()`, on a
//! green thread after.
//!
//! Below the facades, the builtin module `libc` (also patched by default)
//! makes the C library's blocking calls green on a hub: crates that call
//! `std::net` or `std::thread::sleep` directly, and C drivers, block only
//! their green thread (see `greenpatch_libc` for the rule, `errno`, kills
//! and timeouts, and what it cannot reach; `PatchAll::libc(false)` leaves
//! it off).
//!
//! Paths and signatures are std's, so a library switches with an import
//! change — `use std::net::TcpStream` becomes `use greenpatch::socket::TcpStream`
//! — and then serves blocking programs and green programs alike: the
//! application decides, once, at start-up.
//!
//! # How an application patches
//!
//! Call [`monkey::patch_all`] first thing in `main`, before making threads,
//! sockets or locks. Then write ordinary blocking code: thousands of
//! threads, each blocking, on one OS thread.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//! use greenpatch::monkey::{patch_all, PatchAll};
//! use greenpatch::socket::{TcpListener, TcpStream};
//! use greenpatch::{thread, time};
//!
//! let outcome = patch_all(PatchAll::default()).expect("no plugin failed");
//! assert_eq!(outcome.modules(), ["time", "thread", "fs", "socket", "libc", "queue"]);
//!
//! // An echo server and 200 clients, each sleeping 50 ms: green threads,
//! // so the sleeps overlap and the whole run takes about 50 ms.
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! thread::spawn(move || loop {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     thread::spawn(move || {
//!         let mut buf = [0; 4];
//!         while conn.read_exact(&mut buf).is_ok() && conn.write_all(&buf).is_ok() {}
//!     });
//! });
//! let start = Instant::now();
//! let clients: Vec<_> = (0..200u32)
//!     .map(|i| thread::spawn(move || {
//!         let mut c = TcpStream::connect(addr).unwrap();
//!         time::sleep(Duration::from_millis(50));
//!         c.write_all(&i.to_be_bytes()).unwrap();
//!         let mut buf = [0; 4];
//!         c.read_exact(&mut buf).unwrap();
//!         u32::from_be_bytes(buf)
//!     }))
//!     .collect();
//! let sum: u32 = clients.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, (0..200).sum());
//! assert!(start.elapsed() < Duration::from_secs(2));
//! ```
//!
//! `patch_all` announces each step to plugins and returns what it did
//! ([`monkey::Patched`]), with warnings: see [`monkey`] for the registry,
//! the events, vetoes, rollback and `get_original`.
//!
//! # Features
//!
//! - `tracing`: patch calls (modules, plugins that ran, warnings; `INFO`),
//!   and the runtime's green-thread lifecycle, monitor and
//!   would-block-forever reports become `tracing` events of target
//!   `greenpatch` (see `greenpatch_runtime`'s features). Compiled out
//!   without it.
//!
//! # How a facade chooses: flavors
//!
//! Functions ([`time::sleep`], [`thread::yield_now`], …) call through a
//! registry slot: one atomic load and an indirect call, std's function
//! before patching, the runtime's after. Objects take an implementation —
//! a [`Flavor`] — once, from their module's item, and keep it: sockets,
//! threads, channels and queues when they are made; `const`-constructible
//! locks ([`thread::Mutex`], [`thread::RwLock`], [`thread::Event`],
//! [`thread::Semaphore`], [`thread::Local`]) at their first use, so that
//! `static` ones work as with std. Each type also has `with_flavor` (or
//! [`thread::Builder::flavor`]) to choose explicitly — e.g. a real OS
//! thread for CPU-bound work in a patched program.
//!
//! Every patched item is visible to the registry's queries, and the
//! originals stay reachable:
//!
//! ```
//! use std::time::Duration;
//! use greenpatch::monkey::{get_original, is_object_patched, patch_all, PatchAll};
//! use greenpatch::Flavor;
//!
//! let _ = patch_all(PatchAll::default()).unwrap();
//! assert!(is_object_patched("time", "sleep"));
//! assert!(is_object_patched("socket", "TcpStream"));
//! assert!(is_object_patched("thread", "Mutex"));
//!
//! let std_sleep = get_original::<fn(Duration)>("time", "sleep").unwrap();
//! assert_eq!(std_sleep as usize, std::thread::sleep as fn(Duration) as usize);
//! let blocking = get_original::<fn() -> Flavor>("thread", "Mutex").unwrap();
//! assert_eq!(blocking(), Flavor::Blocking);
//! ```
//!
//! # The pitfall gevent users know, made visible
//!
//! An object made before `patch_all()` stays blocking. When one makes a
//! blocking call from a green thread after patching, it stalls every green
//! thread of its OS thread. greenpatch reports it once per kind of object
//! and creation site (where it was made, or first used for locks) with
//! `log::warn!` (target `greenpatch`) — or on standard error when the
//! application installed no logger that takes it — and
//! [`monkey::register_warning`], so the next patch call returns it in
//! [`Patched::warnings`](monkey::Patched::warnings). And `patch_all()`
//! itself warns when OS threads started through [`thread::spawn`] are still
//! running (check `greenpatch.thread.os-threads`), or when it is called off
//! the main thread.
//!
//! # How a plugin author hooks a driver
//!
//! A third-party crate written against the facades is green as soon as the
//! application patches — except for what it made earlier (a connection
//! pool, a background thread). It fixes those from an entry point for
//! `DidPatchBuiltinModules`, which runs after the builtin modules are
//! green and before application code continues, without the application
//! knowing the driver is there:
//!
//! ```
//! use greenpatch::monkey::{is_module_patched, patch_all, PatchAll};
//! use greenpatch::plugins::{entry_point, Event, PluginError};
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! static POOL_IS_GREEN: AtomicBool = AtomicBool::new(false);
//!
//! fn go_green(event: &Event<'_>) -> Result<(), PluginError> {
//!     if let Event::DidPatchBuiltinModules(_) = event {
//!         if is_module_patched("socket") {
//!             // drop the blocking connections made before patching; new
//!             // ones go through the (now green) socket facade
//!             POOL_IS_GREEN.store(true, Ordering::Release);
//!         }
//!     }
//!     Ok(())
//! }
//! entry_point!(did_patch, name = "doc-driver", handler = go_green);
//!
//! fn main() {
//!     let _ = patch_all(PatchAll::default()).unwrap();
//!     assert!(POOL_IS_GREEN.load(Ordering::Acquire));
//! }
//! ```
//!
//! A driver that drives a descriptor of its own (a non-blocking connection
//! greenpatch did not make) waits on it with [`io::wait_readable`] and
//! [`io::wait_writable`], so it needs `greenpatch` and the plugin API only.
//!
//! The workspace's `greenpatch-kvdriver` crate is a complete example; a
//! driver may also declare its own patchable module
//! ([`patchable_module!`]) for items the application opts in to.

pub(crate) mod blocking;
pub mod flavor;
pub mod fs;
pub mod io;
pub mod monkey;
pub mod process;
pub mod queue;
pub mod server;
pub mod socket;
pub(crate) mod stale;
pub mod thread;
pub mod time;
pub mod toolbox;
pub(crate) mod warn;

pub use flavor::Flavor;
pub use monkey::{patch_all, PatchAll, Patched};

/// Runs a closure on the blocking pool (OS threads) and returns a handle
/// whose `join` parks only the calling green thread: the place for CPU-bound
/// work or a C call that blocks.
///
/// ```
/// let h = greenpatch::spawn_blocking(|| (1..=10u64).product::<u64>());
/// assert_eq!(h.join().unwrap(), 3_628_800);
/// ```
pub use greenpatch_runtime::spawn_blocking;

/// How a green thread ended without a value: killed
/// ([`thread::JoinHandle::kill`]), abandoned, or would block forever.
///
/// ```
/// let h = greenpatch::spawn_blocking(|| 1);
/// let r: Result<i32, greenpatch::JoinError> = h.join();
/// assert_eq!(r.unwrap(), 1);
/// ```
pub use greenpatch_runtime::JoinError;

/// The error a root's blocking call returns when no thread could ever
/// wake it (gevent's `LoopExit`).
///
/// ```
/// fn describe(e: &greenpatch::WouldBlockForever) -> String {
///     e.to_string()
/// }
/// ```
pub use greenpatch_runtime::WouldBlockForever;

/// A multi-hub runtime (one hub per OS thread, spawn-time placement) and
/// its builder.
///
/// ```
/// let rt = greenpatch::Runtime::builder().hubs(2).build().unwrap();
/// let h = rt.spawn(|| 40 + 2);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub use greenpatch_runtime::{Runtime, RuntimeBuilder};

/// Timeout scopes (gevent's `Timeout`), also at [`time::with_timeout`].
///
/// ```
/// assert_eq!(greenpatch::with_timeout(std::time::Duration::from_secs(1), || 1).unwrap(), 1);
/// ```
pub use time::{with_timeout, Elapsed};

/// What every hub and green thread is doing, and the blocking pool
/// (gevent's `format_run_info`); `GREENPATCH_DUMP_SIGNAL` prints it on a
/// signal.
///
/// ```
/// let d = greenpatch::dump();
/// println!("{d}");
/// ```
pub use greenpatch_runtime::dump::{self, dump, Dump};

/// Configuration by environment: the `GREENPATCH_*` variables.
///
/// | variable | accepts | default | controls |
/// |---|---|---|---|
/// | `GREENPATCH_MONITOR_THREAD` | 1/true/yes/on or 0/false/no/off | off | start the blocking monitor at the first hub |
/// | `GREENPATCH_MAX_BLOCKING_TIME` | milliseconds > 0 | 100 | how long a green thread may hold its hub before the monitor reports it |
/// | `GREENPATCH_THREADPOOL_SIZE` | 1 to 4096 | 64 | most OS threads of the blocking pool (files, DNS, `spawn_blocking`) |
/// | `GREENPATCH_STACK_SIZE` | bytes, or with K/M suffix (≥ 16K) | 128K | default stack size of a green thread |
/// | `GREENPATCH_HUBS` | 1 to 1024 | available CPUs | hubs of a `Runtime` built without `.hubs(n)` |
/// | `GREENPATCH_DUMP_SIGNAL` | SIGUSR1, SIGUSR2, SIGQUIT, SIGWINCH, or a number | unset | signal that prints [`dump()`] on standard error |
///
/// Each is read at start-up (the first hub); an invalid value is printed
/// on standard error, naming the variable and what it accepts, and the
/// default is used. [`env::check`] returns them for an application that
/// prefers to refuse to start:
///
/// ```
/// if let Err(errors) = greenpatch::env::check() {
///     for e in &errors {
///         eprintln!("{e}");
///     }
///     // std::process::exit(2);
/// }
/// ```
pub use greenpatch_runtime::env;

/// Counters: live green threads, cached and mapped stacks.
///
/// ```
/// let _ = greenpatch::stats::live_green_threads();
/// ```
pub use greenpatch_runtime::stats;

/// Green-thread-locals (gevent's `gevent.local.local`), also at
/// [`thread::Local`].
///
/// ```
/// static COUNTER: greenpatch::Local<std::cell::Cell<u32>> = greenpatch::Local::new(|| std::cell::Cell::new(0));
/// COUNTER.with(|c| c.set(c.get() + 1));
/// ```
pub use thread::Local;

/// Names the driver plugins an application depends on, so that they are
/// linked and their entry points run: `greenpatch::use_plugin!(greenpatch_kvdriver);`
/// at the top of `main.rs`.
///
/// Rust links a dependency only if code names it. A driver crate listed
/// in `Cargo.toml` whose items the application never uses is left out of
/// the binary, and its `entry_point!` — which is how it goes green at
/// `DidPatchBuiltinModules` — silently never runs. This macro names each
/// crate (a compile error if it is not a dependency) and keeps a reference
/// to it in the binary; [`Patched::plugins`] then lists the entry points
/// that ran.
///
/// ```
/// greenpatch::use_plugin!(greenpatch_runtime);
///
/// fn main() {
///     let outcome = greenpatch::patch_all(greenpatch::PatchAll::default()).unwrap();
///     println!("plugins that ran: {:?}", outcome.plugins());
/// }
/// ```
#[macro_export]
macro_rules! use_plugin {
    ($($krate:ident),+ $(,)?) => {
        $(
            extern crate $krate as _;
        )+
    };
}

/// The plugin API (events, subscribers, `entry_point!`), so that
/// applications and drivers need one dependency.
pub use greenpatch_plugins as plugins;

/// The blocking monitor (gevent's `monitor_thread` / `max_blocking_time`):
/// reports a green thread that holds its hub too long.
///
/// ```
/// greenpatch::monitor::enable(std::time::Duration::from_millis(100)).unwrap();
/// greenpatch::monitor::disable();
/// ```
pub use greenpatch_runtime::monitor;

/// Runs a `Future` to completion, parking only the calling green thread
/// (from plain code, the OS thread blocks while it runs its hub, as with
/// [`io::wait_readable`]): the way into `async` libraries from green code.
/// Its waker works from any OS thread; a kill or a
/// [`time::with_timeout`] scope ends the wait and drops the future.
///
/// ```
/// assert_eq!(greenpatch::block_on(async { 1 + 1 }).unwrap(), 2);
/// ```
pub use greenpatch_runtime::block_on;
