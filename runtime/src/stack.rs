//! Guarded green-thread stacks, carved from arenas and pooled per hub.
//!
//! # Model
//!
//! Every green thread runs on a [`GreenStack`]: a *slot* of an [`Arena`],
//! laid out, from low to high addresses, as
//!
//! ```text
//! bottom()                                        top()
//! | guard page | usable stack, read/write ....... | record | StackHeader |
//! ^ guard_lo   ^ guard_hi                                              ^ end
//! ```
//!
//! The stack grows down from [`GreenStack::top`] towards the guard. Rust
//! emits stack probes for large frames, so a frame can never step over the
//! guard: one page of guard is enough, and running off the end of the stack
//! faults in the guard instead of silently corrupting a neighbour. The
//! overflow handler (`crate::overflow`) reads the [`StackHeader`] kept in the
//! top bytes of the usable region to name the green thread that overflowed.
//! Below the header, [`RECORD_SIZE`] bytes are the stack user's *record*
//! area ([`GreenStack::record`]): the hub keeps the green thread's task
//! record there, in the page the green thread's first frames touch anyway,
//! instead of in a heap allocation of its own.
//!
//! ## Two guard mechanisms
//!
//! - **Guard regions** (Linux 6.13 and later, [`StackGuard::GuardRegion`]):
//!   an arena is one anonymous read/write `MAP_NORESERVE` mapping holding
//!   many slots back to back; each slot's guard page is turned into a guard
//!   region with `madvise(MADV_GUARD_INSTALL)` when the slot is first
//!   carved. Guard regions do not split the mapping, so an arena is a single
//!   kernel mapping however many stacks it holds (and neighbouring arenas
//!   usually merge): the number of mappings no longer grows with the number
//!   of green threads, and `vm.max_map_count` stops bounding them. A touch
//!   of a guard region raises `SIGSEGV` with `SEGV_MAPERR`. Guard regions
//!   survive `MADV_DONTNEED`, so idle slots give their pages back and keep
//!   their guards.
//! - **Protected pages** (older kernels, [`StackGuard::Mprotect`]): when the
//!   kernel refuses `MADV_GUARD_INSTALL` with `EINVAL`, every stack is an
//!   arena of one slot, mapped `PROT_NONE` with the usable part made
//!   read/write by `mprotect`: two kernel mappings per stack, as the guard
//!   and the usable part differ in protection. A touch of the guard raises
//!   `SIGSEGV` with `SEGV_ACCERR`. The environment variable
//!   `GREENPATCH_STACK_GUARDS=mprotect`, read once at the first stack of the
//!   process, forces this mechanism (it exists for tests).
//!
//! Which mechanism is in force shows in `stats::stack_guard()` and in every
//! mapping error.
//!
//! Memory: a stack costs address space, not memory, until its pages are
//! touched: a green thread that only ever uses 4 KiB of its 128 KiB stack
//! costs one page of RSS (the header shares the topmost page with the first
//! frames) plus its share of a page table. Transparent huge pages are
//! disabled on arenas (`MADV_NOHUGEPAGE`) so that touching one byte does
//! not fault in 2 MiB.
//!
//! ## Size classes
//!
//! Stack sizes per runtime and per spawn keep working through *size
//! classes*: a hub's [`StackPool`] keeps one class per rounded usable size
//! (the hub's default size first, up to [`MAX_SIZES`] in all), and each class
//! carves its own arenas of slots of exactly that size. Slots of one size
//! tile an arena without waste and the slot index of an address is one
//! division, which mixed-size arenas (a general allocator) would not give.
//! A stack whose size finds no class (more than [`MAX_SIZES`] distinct sizes
//! at once) is an arena of its own, unmapped when it is returned.
//!
//! # Invariants
//!
//! - An [`Arena`] is owned through `Arc`s: by its pool, and by every
//!   [`GreenStack`] carved from it that is running or cached *hot*. Its
//!   mapping is unmapped only when the last `Arc` goes, so a stack's memory
//!   (and its header) stays mapped for as long as its `GreenStack` lives —
//!   including a green thread leaked at hub teardown.
//! - `bottom() < guard_hi <= top() < end`, `top()` is 16-byte aligned, the
//!   record area occupies exactly `[top(), top() + RECORD_SIZE)` and the
//!   header the rest up to `end`; a slot's bounds never change
//!   while its arena is mapped. The header is written in full whenever a
//!   slot is handed out of the arena ([`GreenStack`]'s constructor); only the
//!   owner (`id`, `name`) is rewritten afterwards, by
//!   [`GreenStack::set_owner`].
//! - The overflow handler needs no index of arenas: it is async-signal-safe
//!   because it never searches. The hub publishes the header of the stack it
//!   is about to resume in a thread-local (`overflow::enter`) and the handler
//!   compares the fault address with that header's guard range. That works
//!   alike for a guard region (`SEGV_MAPERR`) and a protected page
//!   (`SEGV_ACCERR`), and is sound because of the first invariant: the
//!   running stack's arena cannot be unmapped under it.
//! - [`MAPPED`] counts the `GreenStack`s alive in the process (running, or
//!   cached hot in a pool); [`ARENA_MAPS`] the kernel mappings arenas hold.
//!
//! # Pooling and giving memory back
//!
//! Each hub keeps a [`StackPool`]. A finished green thread's stack goes on
//! its class's *hot* list, last in first out, so that the stack whose pages
//! are still resident and in cache is reused first: a spawn that reuses a
//! hot stack makes no system call and takes no page fault. Otherwise a
//! *cold* slot (one whose pages were given back, guard intact) is reused,
//! lowest arena first so that high arenas drain; otherwise a fresh slot is
//! carved; otherwise a new arena is mapped.
//!
//! [`StackPool::trim_if_due`] runs when the hub is about to sleep (and, in a
//! hub that never sleeps, every few thousand green-thread runs), at most
//! once per [`TRIM_INTERVAL`]; it keeps the hub's sleep short enough for the
//! next trim while hot stacks remain. Each trim takes the hot stacks that
//! stayed unused for a whole interval (the low-water mark of the hot list
//! since the previous trim: the bottom of the LIFO): an arena all of whose
//! stacks are now idle is unmapped in one call (pages and page tables go
//! back); in other arenas the idle slots give their pages back with
//! `MADV_DONTNEED` and become cold. So a burst's memory goes back between
//! one and two intervals after the hub goes idle, while a steady state that
//! cycles through its working set keeps it. No thread is started for this.
//!
//! # The kernel's memory-map limit
//!
//! Linux caps the mappings of a process at `vm.max_map_count`, 65530 by
//! default. With guard regions an arena of [`ARENA_BYTES`] is one mapping,
//! so a million 128 KiB stacks need at most about 4,000 mappings (usually
//! far fewer, as arenas merge). With protected pages each stack needs two,
//! which (minus [`MAP_HEADROOM`] kept for the rest of the process) allows
//! about 31,000 live green threads; past that, [`StackPool::get`] returns an
//! [`io::ErrorKind::OutOfMemory`] error that names the limit, its value and
//! the `sysctl` that raises it. Errors name the real cause: a size larger
//! than the address space ([`io::ErrorKind::InvalidInput`]), the map limit,
//! or memory (or `RLIMIT_AS`) exhausted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default usable size of a green-thread stack: 128 KiB.
///
/// Measured: in an unoptimised debug build, a green thread that panics with
/// `RUST_BACKTRACE=1` (capture, symbolisation and printing of the backtrace)
/// overflows a 16 KiB stack and survives on 32 KiB. 128 KiB gives four
/// times that, for application frames (formatting, parsers, TLS) on top;
/// 64 KiB would leave only twice. The size is reserved address space, not
/// memory: pages a green thread never touches cost no RSS, and page tables
/// grow only with touched pages. Choose per runtime
/// (`RuntimeBuilder::stack_size`) or per spawn (`Builder::stack_size`).
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// The smallest usable stack size handed out; smaller requests are raised to
/// it. All sizes are rounded up to a multiple of the page size.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// How many hot stacks a hub's [`StackPool`] keeps at most when stacks are
/// protected pages (two mappings each).
///
/// Large enough that bursts of ten thousand green threads reuse stacks
/// instead of mapping and unmapping them (measured: with a 1,024 cap, waves
/// of 10,000 spawns spent 85% of their time in mmap/mprotect/munmap and page
/// faults). Bounded twice over: by this count, and by three quarters of the
/// process's map budget across all pools. With guard regions a hot stack
/// costs no mapping and the hot list is bounded by the peak of live green
/// threads instead; [`StackPool::trim_if_due`] gives both back.
pub(crate) const MAX_CACHED: usize = 16 * 1024;

/// Target size of one arena mapping: 32 MiB, 248 stacks of 128 KiB.
///
/// Small enough that an arena whose stacks all went idle is common (it is
/// then unmapped, page tables included) and that the last, partly carved
/// arena wastes little address space; large enough that a million stacks
/// take a few thousand mappings at most. Stacks larger than this get an
/// arena of one slot.
pub(crate) const ARENA_BYTES: usize = 32 * 1024 * 1024;

/// How long a hot stack must stay unused before [`StackPool::trim_if_due`]
/// gives its memory back (it happens between one and two intervals after).
pub(crate) const TRIM_INTERVAL: Duration = Duration::from_secs(1);

/// A trim that gives back at least this many stacks ends a burst: the hub
/// then also shrinks its tables and returns the allocator's free memory.
pub(crate) const BURST: usize = 1024;

/// Returns the C allocator's free memory to the kernel (glibc keeps the
/// freed task records of a burst otherwise: measured, 30 MiB after 100,000
/// green threads). Called after a burst only: it walks the whole heap.
pub(crate) fn give_back_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator; it
    // takes the allocator's own locks and is safe to call at any time
    // outside a signal handler.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes reserved at the top of every stack for its [`StackHeader`]: two
/// cache lines, a multiple of 16 so that [`GreenStack::top`] stays aligned.
pub(crate) const HEADER_SIZE: usize = 128;

/// Bytes reserved below the header for the stack user's record
/// ([`GreenStack::record`]): three cache lines (the hub's task record on
/// 64-bit targets), 16-byte aligned.
pub(crate) const RECORD_SIZE: usize = 192;
const _: () = assert!(RECORD_SIZE % 16 == 0);

/// The longest green-thread name (in bytes) that a header keeps.
pub(crate) const NAME_CAP: usize = HEADER_SIZE - 3 * mem::size_of::<usize>() - mem::size_of::<u64>() - 1;

/// `madvise` advice: turn the range into guard regions (Linux 6.13+).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// What the overflow handler needs to know about a stack, kept in its top
/// [`HEADER_SIZE`] bytes.
///
/// Written when a slot is handed out and by [`GreenStack::set_owner`], read
/// (by copy, through a raw pointer) by the signal handler on the same
/// thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct StackHeader {
    /// Lowest address of the guard (the slot's start).
    pub(crate) guard_lo: usize,
    /// One past the highest guard address: the lowest usable address.
    pub(crate) guard_hi: usize,
    /// Usable size in bytes (the read/write part, header included).
    pub(crate) size: usize,
    /// Id of the green thread that owns the stack; 0 when idle.
    pub(crate) id: u64,
    /// How many bytes of `name` are used.
    pub(crate) name_len: u8,
    /// The owner's name, UTF-8, truncated on a char boundary.
    pub(crate) name: [u8; NAME_CAP],
}

const _: () = assert!(mem::size_of::<StackHeader>() == HEADER_SIZE);
const _: () = assert!(HEADER_SIZE % 16 == 0);
const _: () = assert!(NAME_CAP <= u8::MAX as usize);

impl StackHeader {
    /// The owner's name bytes (empty when unnamed).
    pub(crate) fn name_bytes(&self) -> &[u8] {
        let len = usize::from(self.name_len).min(NAME_CAP);
        &self.name[..len]
    }
}

/// How green-thread stacks are guarded in this process.
///
/// ```
/// use greenpatch_runtime::stats::{stack_guard, StackGuard};
/// match stack_guard() {
///     StackGuard::GuardRegion => println!("stacks come from arenas"),
///     StackGuard::Mprotect => println!("two kernel mappings per stack"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackGuard {
    /// Guard regions (`MADV_GUARD_INSTALL`, Linux 6.13+) in large arenas:
    /// the number of kernel mappings does not grow with green threads.
    GuardRegion,
    /// A `PROT_NONE` page per stack (`mprotect`): two kernel mappings per
    /// stack, so `vm.max_map_count` bounds the live green threads.
    Mprotect,
}

impl fmt::Display for StackGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StackGuard::GuardRegion => "guard regions in shared arenas (MADV_GUARD_INSTALL)",
            StackGuard::Mprotect => "a PROT_NONE page per stack (mprotect; 2 kernel mappings each)",
        })
    }
}

/// 0: not decided yet; 1: guard regions; 2: mprotect.
static GUARD_KIND: AtomicU8 = AtomicU8::new(0);

/// The guard mechanism of this process, probing the kernel on first use.
pub(crate) fn guard_kind() -> StackGuard {
    match GUARD_KIND.load(Ordering::Relaxed) {
        1 => StackGuard::GuardRegion,
        2 => StackGuard::Mprotect,
        _ => {
            let forced = std::env::var("GREENPATCH_STACK_GUARDS").is_ok_and(|v| v.trim() == "mprotect");
            let (kind, sure) = if forced { (StackGuard::Mprotect, true) } else { probe_guard_regions() };
            if sure {
                GUARD_KIND.store(if kind == StackGuard::GuardRegion { 1 } else { 2 }, Ordering::Relaxed);
            }
            kind
        }
    }
}

/// Whether `MADV_GUARD_INSTALL` works here, and whether the answer is
/// definite (`EINVAL` is; running out of memory while probing is not).
fn probe_guard_regions() -> (StackGuard, bool) {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return (StackGuard::Mprotect, true);
    }
    let page = page_size();
    // SAFETY: a fresh anonymous mapping at an address of the kernel's
    // choosing; it overlaps nothing.
    let raw = unsafe {
        libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return (StackGuard::Mprotect, false);
    }
    // SAFETY: advice on the first page of our own fresh mapping.
    let rc = unsafe { libc::madvise(raw, page, MADV_GUARD_INSTALL) };
    let err = io::Error::last_os_error();
    // SAFETY: our mapping, never handed out.
    unsafe { libc::munmap(raw, 2 * page) };
    match rc {
        0 => (StackGuard::GuardRegion, true),
        _ if err.raw_os_error() == Some(libc::EINVAL) => (StackGuard::Mprotect, true),
        _ => (StackGuard::Mprotect, false),
    }
}

/// Live [`GreenStack`]s in this process.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// Live [`Arena`]s in this process.
static ARENAS: AtomicUsize = AtomicUsize::new(0);

/// Kernel mappings held by live arenas (one per guard-region arena, two per
/// protected-page stack).
static ARENA_MAPS: AtomicUsize = AtomicUsize::new(0);

/// How many green-thread stacks are in use or cached with their memory in
/// this process, over all hubs: running a green thread, or idle on a hub's
/// hot list.
///
/// With protected-page guards (see `stats::stack_guard`) each one holds two
/// of the kernel's memory mappings (`vm.max_map_count`), so this is the
/// number to watch when spawning fails with an out-of-memory error.
///
/// ```
/// let live = greenpatch_runtime::stats::mapped_stacks();
/// println!("{live} green-thread stacks are mapped");
/// ```
pub fn mapped_stacks() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// How many stack arenas (kernel mappings of green-thread stacks) are
/// mapped in this process. With guard regions one arena holds up to 32 MiB
/// of stacks; with protected pages each stack is an arena of its own.
///
/// ```
/// let arenas = greenpatch_runtime::stats::stack_arenas();
/// println!("{arenas} stack arenas");
/// ```
pub fn stack_arenas() -> usize {
    ARENAS.load(Ordering::Relaxed)
}

#[cfg(test)]
thread_local! {
    /// Stacks created minus stacks dropped on this thread: lets tests check
    /// the counting without racing against tests on other threads.
    static LOCAL_LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    /// Arenas mapped minus unmapped on this thread.
    static LOCAL_ARENAS: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

/// Counts one stack in (`delta == 1`) or out (`delta == -1`).
#[inline]
fn count_mapped(delta: isize) {
    if delta > 0 {
        MAPPED.fetch_add(1, Ordering::Relaxed);
    } else {
        MAPPED.fetch_sub(1, Ordering::Relaxed);
    }
    #[cfg(test)]
    LOCAL_LIVE.with(|c| c.set(c.get() + delta));
}

/// The system page size, queried once.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions; it only reads a system value.
    let queried = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(queried).ok().filter(|p| p.is_power_of_two()).unwrap_or(4096);
    PAGE.store(page, Ordering::Relaxed);
    page
}

/// `size` raised to [`MIN_STACK_SIZE`] and rounded up to the page size, or
/// `None` if that overflows.
pub(crate) fn round_size(size: usize) -> Option<usize> {
    let page = page_size();
    let size = size.max(MIN_STACK_SIZE);
    Some(size.checked_add(page - 1)? & !(page - 1))
}

/// `bytes` for a human: "128 KiB", "1 MiB", "12345 bytes".
fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The current `vm.max_map_count`, if it can be read.
fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()
}

/// The number of mappings of this process now, if it can be read.
fn current_maps() -> Option<usize> {
    Some(std::fs::read_to_string("/proc/self/maps").ok()?.lines().count())
}

/// Mappings left for the rest of the process (malloc, libraries, thread
/// stacks) when stacks approach `vm.max_map_count`: without them, hitting
/// the limit would also make the allocator fail, and the clear error below
/// could not even be formatted.
pub(crate) const MAP_HEADROOM: usize = 2048;

/// Last `vm.max_map_count` read (0: not read yet).
static MAP_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Whether `more` more arena mappings keep [`MAP_HEADROOM`] mappings free
/// below `vm.max_map_count`. The limit is re-read when near it, so raising
/// it with sysctl takes effect without a restart.
fn within_map_budget(more: usize) -> bool {
    let needed = ARENA_MAPS.load(Ordering::Relaxed) + more + MAP_HEADROOM;
    let cached = MAP_LIMIT.load(Ordering::Relaxed);
    if cached != 0 && needed <= cached {
        return true;
    }
    match max_map_count() {
        Some(limit) => {
            MAP_LIMIT.store(limit, Ordering::Relaxed);
            needed <= limit
        }
        None => true,
    }
}

/// Whether caching one more protected-page stack keeps all arena mappings
/// (live and cached stacks, every hub) within three quarters of what
/// `vm.max_map_count` allows: pools may hold stacks for the next burst
/// (measured: at one half, 20,000 concurrent sleepers kept unmapping and
/// remapping a quarter of their stacks), but a quarter of the budget always
/// stays free for live green threads on other hubs.
fn cache_within_map_budget() -> bool {
    let limit = MAP_LIMIT.load(Ordering::Relaxed);
    limit == 0 || ARENA_MAPS.load(Ordering::Relaxed) + MAP_HEADROOM <= limit / 4 * 3
}

/// Why a stack could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapFailure {
    /// The size does not fit the address space a process can map.
    TooLarge,
    /// `vm.max_map_count` (less [`MAP_HEADROOM`]) is reached.
    MapLimit,
    /// Memory, or the address-space limit (`RLIMIT_AS`), is exhausted.
    OutOfMemory,
    /// Any other error of the kernel.
    Other,
}

/// Largest mapping a process can hope for: x86-64 and arm64 user address
/// spaces are 47 or 48 bits (128 or 256 TiB) unless a program asks for more
/// with an address hint, which we do not.
const USER_ADDRESS_SPACE: u64 = 1 << 47;

/// Classifies a failed `mmap`/`mprotect`/`madvise` of `len` bytes.
fn classify(len: usize, err: &io::Error) -> MapFailure {
    if err.raw_os_error() != Some(libc::ENOMEM) {
        return MapFailure::Other;
    }
    if len as u64 >= USER_ADDRESS_SPACE / 2 {
        return MapFailure::TooLarge;
    }
    match (current_maps(), max_map_count()) {
        // A few mappings of slack: the failing call may need to split one.
        (Some(used), Some(limit)) if used + 8 >= limit => MapFailure::MapLimit,
        _ => MapFailure::OutOfMemory,
    }
}

/// The error for a `size`-byte stack whose mapping failed with `cause`.
fn map_error(size: usize, cause: MapFailure, err: io::Error) -> io::Error {
    let guard = guard_kind();
    let what = format!("cannot map a {} green-thread stack", human_size(size));
    match cause {
        MapFailure::TooLarge => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what}: the size is larger than the address space a process can map; \
                 ask for a smaller stack (the default is {})",
                human_size(DEFAULT_STACK_SIZE)
            ),
        ),
        MapFailure::Other => io::Error::new(err.kind(), format!("{what} (stack guards: {guard}): {err}")),
        MapFailure::OutOfMemory => {
            // SAFETY: rlimit is plain old data; all-zero is valid.
            let mut lim: libc::rlimit = unsafe { mem::zeroed() };
            // SAFETY: querying only; `lim` is a valid out pointer.
            let limited =
                unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0 && lim.rlim_cur != libc::RLIM_INFINITY;
            let as_limit = if limited {
                format!(" or the address-space limit (RLIMIT_AS, ulimit -v) of {} bytes", lim.rlim_cur)
            } else {
                String::new()
            };
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "{what}: out of memory: the kernel refused the mapping ({err}); memory{as_limit} \
                     is exhausted ({} green-thread stacks are in use or cached; stack guards: {guard})",
                    mapped_stacks()
                ),
            )
        }
        MapFailure::MapLimit => {
            let per = match guard {
                StackGuard::Mprotect => "each guarded stack needs 2 mappings".to_owned(),
                StackGuard::GuardRegion => format!(
                    "an arena of up to {} such stacks is one mapping",
                    (ARENA_BYTES / size.saturating_add(page_size())).max(1)
                ),
            };
            let limit = match max_map_count() {
                Some(count) => {
                    let suggested = if count < 262_144 { 262_144 } else { count.saturating_mul(2) };
                    let about = match guard {
                        StackGuard::Mprotect => {
                            let stacks = count.saturating_sub(MAP_HEADROOM) / 2;
                            let about = if stacks >= 2000 { stacks / 1000 * 1000 } else { stacks };
                            format!(", about {about} stacks")
                        }
                        StackGuard::GuardRegion => String::new(),
                    };
                    format!(
                        "vm.max_map_count is {count}{about}; \
                         raise it with 'sysctl -w vm.max_map_count={suggested}'"
                    )
                }
                None => "vm.max_map_count is unknown; \
                         raise it with 'sysctl -w vm.max_map_count=262144'"
                    .to_owned(),
            };
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "{what}: the kernel's memory-map limit was reached (stack guards: {guard}; {per}, \
                     and {MAP_HEADROOM} are kept free for the rest of the process; {limit}; \
                     {} green-thread stacks are in use or cached)",
                    mapped_stacks()
                ),
            )
        }
    }
}

/// One mapping of stack slots of one size.
///
/// With guard regions: `slots` slots back to back in one read/write
/// mapping, guards installed as slots are carved. With protected pages: one
/// slot, its guard `PROT_NONE`. Unmapped when dropped (see the module
/// invariants for who holds it).
pub(crate) struct Arena {
    /// Start of the mapping.
    base: usize,
    /// Length of the mapping.
    len: usize,
    /// Bytes per slot: one guard page plus the usable size.
    slot: usize,
    /// Number of slots.
    slots: usize,
    /// How its guards are made.
    guard: StackGuard,
}

// SAFETY: an Arena is an address range plus immutable numbers; the memory
// it maps is only touched through the GreenStacks carved from it, and
// unmapping happens once, in Drop, when no Arc (so no stack) is left.
unsafe impl Send for Arena {}
// SAFETY: as above; `&Arena` gives no access to the memory.
unsafe impl Sync for Arena {}

impl Arena {
    /// Maps an arena of `slots` slots of `usable` bytes each (page rounded)
    /// guarded with `guard`; protected pages allow one slot only.
    fn map(usable: usize, slots: usize, guard: StackGuard) -> io::Result<Arena> {
        let page = page_size();
        let slot = usable.checked_add(page).ok_or_else(|| too_large(usable))?;
        let len = slot
            .checked_mul(slots)
            .filter(|&l| (l as u64) < USER_ADDRESS_SPACE / 2)
            .ok_or_else(|| too_large(usable))?;
        let maps = if guard == StackGuard::Mprotect { 2 } else { 1 };
        if !within_map_budget(maps) {
            return Err(map_error(usable, MapFailure::MapLimit, io::Error::from_raw_os_error(libc::ENOMEM)));
        }
        let prot = match guard {
            StackGuard::GuardRegion => libc::PROT_READ | libc::PROT_WRITE,
            StackGuard::Mprotect => libc::PROT_NONE,
        };
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing; it overlaps nothing we or anyone else own.
        let raw = unsafe {
            libc::mmap(ptr::null_mut(), len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
        };
        if raw == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            return Err(map_error(usable, classify(len, &err), err));
        }
        // From here on, dropping `arena` unmaps the region and uncounts it.
        let arena = Arena { base: raw as usize, len, slot, slots, guard };
        ARENAS.fetch_add(1, Ordering::Relaxed);
        ARENA_MAPS.fetch_add(maps, Ordering::Relaxed);
        #[cfg(test)]
        LOCAL_ARENAS.with(|c| c.set(c.get() + 1));
        if guard == StackGuard::Mprotect {
            // SAFETY: `[raw + page, raw + len)` lies inside the mapping we
            // just created and is page aligned; making it read/write
            // touches nothing else.
            let rc = unsafe {
                libc::mprotect((arena.base + page) as *mut libc::c_void, usable, libc::PROT_READ | libc::PROT_WRITE)
            };
            if rc != 0 {
                let err = io::Error::last_os_error();
                return Err(map_error(usable, classify(len, &err), err));
            }
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: advice on our own mapping; MADV_NOHUGEPAGE only sets a
        // flag and cannot change the contents. A failure (a kernel without
        // transparent huge pages) is harmless and ignored.
        unsafe {
            libc::madvise(raw, len, libc::MADV_NOHUGEPAGE);
        }
        Ok(arena)
    }

    /// Makes slot `index`'s guard page a guard region (guard-region arenas
    /// only; protected-page guards exist from `map`).
    fn install_guard(&self, index: usize) -> io::Result<()> {
        if self.guard == StackGuard::Mprotect {
            return Ok(());
        }
        let lo = self.base + index * self.slot;
        // SAFETY: `[lo, lo + page)` is the guard page of a slot of our own
        // mapping (index < slots), not yet handed out: nothing lives there.
        let rc = unsafe { libc::madvise(lo as *mut libc::c_void, page_size(), MADV_GUARD_INSTALL) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            let usable = self.slot - page_size();
            return Err(map_error(usable, classify(page_size(), &err), err));
        }
        Ok(())
    }

    /// Gives back the pages of slots `first..=last` (guards stay).
    fn release(&self, first: usize, last: usize) {
        let page = page_size();
        // The guard of `first` holds no page; start above it.
        let lo = self.base + first * self.slot + page;
        let hi = self.base + (last + 1) * self.slot;
        // SAFETY: `[lo, hi)` lies in our mapping and covers only idle slots
        // (the caller's contract: no GreenStack of them is alive), so no one
        // reads what DONTNEED zeroes; guard regions in between survive it.
        unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: we own the whole mapping; the last Arc is gone, so no
        // GreenStack of it is alive and nothing runs on or reads it.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
        ARENAS.fetch_sub(1, Ordering::Relaxed);
        let maps = if self.guard == StackGuard::Mprotect { 2 } else { 1 };
        ARENA_MAPS.fetch_sub(maps, Ordering::Relaxed);
        #[cfg(test)]
        LOCAL_ARENAS.with(|c| c.set(c.get() - 1));
    }
}

/// The error for a stack size that overflows address arithmetic.
fn too_large(size: usize) -> io::Error {
    map_error(size, MapFailure::TooLarge, io::Error::from_raw_os_error(libc::ENOMEM))
}

/// One guarded green-thread stack: a slot of an [`Arena`], with a
/// [`StackHeader`] on top.
pub(crate) struct GreenStack {
    /// The arena; keeps the memory mapped while this stack lives.
    arena: Arc<Arena>,
    /// The slot's lowest address: its guard's start.
    lo: usize,
}

impl GreenStack {
    /// Maps a stack of its own with at least `size` usable bytes (raised to
    /// [`MIN_STACK_SIZE`], rounded up to the page size) above one guard
    /// page, with the process's guard mechanism.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when the size does not fit
    /// the address space, and [`io::ErrorKind::OutOfMemory`] naming the
    /// cause when the kernel refuses the mapping.
    #[cfg(test)]
    pub(crate) fn new(size: usize) -> io::Result<GreenStack> {
        GreenStack::single(size, guard_kind())
    }

    /// [`GreenStack::new`] with the guard mechanism `guard`.
    fn single(size: usize, guard: StackGuard) -> io::Result<GreenStack> {
        let usable = round_size(size).ok_or_else(|| too_large(size))?;
        let arena = Arc::new(Arena::map(usable, 1, guard)?);
        arena.install_guard(0)?;
        Ok(GreenStack::from_slot(arena, 0))
    }

    /// Hands out slot `index` of `arena` (its guard in place), writing a
    /// fresh header.
    fn from_slot(arena: Arc<Arena>, index: usize) -> GreenStack {
        let page = page_size();
        let lo = arena.base + index * arena.slot;
        let stack = GreenStack { lo, arena };
        count_mapped(1);
        let header = StackHeader {
            guard_lo: lo,
            guard_hi: lo + page,
            size: stack.usable_size(),
            id: 0,
            name_len: 0,
            name: [0; NAME_CAP],
        };
        // SAFETY: the header slot is the top HEADER_SIZE bytes of the slot's
        // read/write part, 16-byte aligned (slots end on a page boundary),
        // and nothing else refers to it: the slot was idle.
        unsafe { stack.header_mut().write(header) };
        stack
    }

    /// The initial stack pointer: the address just below the record area,
    /// 16-byte aligned. The stack grows down from here.
    #[inline]
    pub(crate) fn top(&self) -> usize {
        self.lo + self.arena.slot - HEADER_SIZE - RECORD_SIZE
    }

    /// The record area: [`RECORD_SIZE`] bytes at [`GreenStack::top`],
    /// 16-byte aligned, read/write, which the stack itself never touches.
    /// Valid for as long as `self` (or the coroutine it is lent to) lives,
    /// including when `self` is leaked; its content is the user's to
    /// initialise and to drop.
    #[inline]
    pub(crate) fn record(&self) -> *mut u8 {
        self.top() as *mut u8
    }

    /// The lowest address of the slot, guard included: the stack's limit.
    #[inline]
    pub(crate) fn bottom(&self) -> usize {
        self.lo
    }

    /// Read/write bytes (page rounded, header included); the size the stack
    /// was created with, after rounding.
    #[inline]
    pub(crate) fn usable_size(&self) -> usize {
        self.arena.slot - page_size()
    }

    /// The slot's index in its arena.
    #[inline]
    fn index(&self) -> usize {
        (self.lo - self.arena.base) / self.arena.slot
    }

    /// The header at the top of the stack, for the overflow handler.
    ///
    /// Valid for reads as long as `self` is alive.
    #[inline]
    pub(crate) fn header_ptr(&self) -> *const StackHeader {
        self.header_mut().cast_const()
    }

    #[inline]
    fn header_mut(&self) -> *mut StackHeader {
        // The header slot is inside the slot: slot >= MIN_STACK_SIZE +
        // guard > HEADER_SIZE + RECORD_SIZE.
        (self.lo + self.arena.slot - HEADER_SIZE) as *mut StackHeader
    }

    /// Records which green thread runs on this stack, for the overflow
    /// message. Names longer than the header holds are cut on a char
    /// boundary. Call it for every green thread placed on the stack.
    pub(crate) fn set_owner(&mut self, id: u64, name: Option<&str>) {
        let name = name.unwrap_or("");
        let mut len = name.len().min(NAME_CAP);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let h = self.header_mut();
        // SAFETY: `h` is the header slot of our stack (see header_mut),
        // initialised in `from_slot`; `&mut self` means no other Rust
        // reference to it is alive (the signal handler only copies it out
        // through a raw pointer, on this same thread). `len <= NAME_CAP` and
        // `len <= name.len()`, so the copy stays inside both buffers.
        unsafe {
            (*h).id = id;
            (*h).name_len = len as u8;
            ptr::copy_nonoverlapping(name.as_ptr(), ptr::addr_of_mut!((*h).name).cast::<u8>(), len);
        }
    }
}

impl Drop for GreenStack {
    fn drop(&mut self) {
        // The memory goes with the arena's last Arc (ours may be it).
        count_mapped(-1);
    }
}

impl fmt::Debug for GreenStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenStack")
            .field("bottom", &format_args!("{:#x}", self.bottom()))
            .field("top", &format_args!("{:#x}", self.top()))
            .field("usable_size", &self.usable_size())
            .finish()
    }
}

/// Most distinct stack sizes a [`StackPool`] keeps classes for at once;
/// stacks of further sizes are arenas of their own, unmapped when returned.
pub(crate) const MAX_SIZES: usize = 8;

/// A class's bookkeeping for one of its arenas.
struct ArenaSlots {
    arena: Arc<Arena>,
    /// Slots `0..carved` have been handed out at least once (their guards
    /// are installed).
    carved: usize,
    /// Carved slots that are idle and hold no pages (cold).
    cold: Vec<u32>,
}

/// The stacks of one usable size.
struct Class {
    /// Rounded usable size of every stack in the class.
    size: usize,
    /// Idle stacks with their pages (hot); the last is the most recently
    /// used.
    hot: Vec<GreenStack>,
    /// Smallest `hot.len()` seen since the last trim.
    low_water: usize,
    /// The class's arenas by base address (guard regions only).
    arenas: BTreeMap<usize, ArenaSlots>,
    /// Bases of the arenas that have cold slots.
    with_cold: BTreeSet<usize>,
    /// Base of the arena still being carved, if any.
    open: Option<usize>,
}

impl Class {
    fn new(size: usize) -> Class {
        Class { size, hot: Vec::new(), low_water: 0, arenas: BTreeMap::new(), with_cold: BTreeSet::new(), open: None }
    }

    /// Slots per arena for this class.
    fn slots_per_arena(&self) -> usize {
        (ARENA_BYTES / (self.size + page_size())).max(1)
    }

    /// A stack that is not hot: a cold slot, a fresh slot, or a new arena.
    fn take_slot(&mut self, guard: StackGuard) -> io::Result<GreenStack> {
        if guard == StackGuard::Mprotect {
            return GreenStack::single(self.size, guard);
        }
        if let Some(&base) = self.with_cold.first() {
            if let Some(entry) = self.arenas.get_mut(&base) {
                if let Some(index) = entry.cold.pop() {
                    if entry.cold.is_empty() {
                        self.with_cold.remove(&base);
                    }
                    return Ok(GreenStack::from_slot(entry.arena.clone(), index as usize));
                }
            }
            self.with_cold.remove(&base);
        }
        let open = self.open.and_then(|base| self.arenas.get_mut(&base)).filter(|e| e.carved < e.arena.slots);
        let entry = match open {
            Some(entry) => entry,
            None => {
                let arena = Arena::map(self.size, self.slots_per_arena(), guard)?;
                let base = arena.base;
                self.open = Some(base);
                self.arenas.entry(base).or_insert(ArenaSlots { arena: Arc::new(arena), carved: 0, cold: Vec::new() })
            }
        };
        let index = entry.carved;
        entry.arena.install_guard(index)?;
        entry.carved += 1;
        Ok(GreenStack::from_slot(entry.arena.clone(), index))
    }

    /// Gives back the memory of hot stacks unused since the last trim.
    fn trim(&mut self) -> usize {
        let cold = self.low_water.min(self.hot.len());
        let mut slots: Vec<(usize, u32)> = Vec::new();
        for stack in self.hot.drain(..cold) {
            if self.arenas.contains_key(&stack.arena.base) {
                slots.push((stack.arena.base, stack.index() as u32));
            }
            // Dropping the handle releases its Arc; an arena of its own
            // (protected pages, or an unclassed size) is unmapped here.
        }
        self.low_water = self.hot.len();
        if self.hot.capacity() > 64 && self.hot.capacity() / 4 > self.hot.len() {
            self.hot.shrink_to(self.hot.len() * 2);
        }
        // Arenas that nobody but us holds are wholly idle: unmap them.
        let idle: Vec<usize> =
            self.arenas.iter().filter(|(_, e)| Arc::strong_count(&e.arena) == 1).map(|(&b, _)| b).collect();
        for base in &idle {
            self.arenas.remove(base);
            self.with_cold.remove(base);
            if self.open == Some(*base) {
                self.open = None;
            }
        }
        // Elsewhere, idle slots give their pages back and turn cold.
        slots.sort_unstable();
        let mut i = 0;
        while i < slots.len() {
            let (base, first) = slots[i];
            let mut last = first;
            let mut j = i + 1;
            while j < slots.len() && slots[j] == (base, last + 1) {
                last += 1;
                j += 1;
            }
            if let Some(entry) = self.arenas.get_mut(&base) {
                entry.arena.release(first as usize, last as usize);
                entry.cold.extend(first..=last);
                self.with_cold.insert(base);
            }
            i = j;
        }
        cold
    }
}

/// A hub's stacks (single-threaded, no locking): classes of sizes, each
/// with its hot list and its arenas. See the module docs.
pub(crate) struct StackPool {
    /// `classes[0]` is the default size's. Never empty.
    classes: Vec<Class>,
    /// Hot stacks over all classes.
    cached: usize,
    /// Upper bound on `cached` with protected-page guards.
    max_cached: usize,
    /// The guard mechanism (decided at the first pool's creation).
    guard: StackGuard,
    /// When the last trim ran.
    last_trim: Instant,
}

impl StackPool {
    /// A pool for stacks of `default_size` usable bytes (rounded like
    /// [`GreenStack::new`]) and, less favoured, other sizes; with
    /// protected-page guards it keeps at most `max_cached` hot stacks.
    pub(crate) fn new(default_size: usize, max_cached: usize) -> StackPool {
        StackPool::with_guard(default_size, max_cached, guard_kind())
    }

    /// [`StackPool::new`] with the guard mechanism `guard`.
    pub(crate) fn with_guard(default_size: usize, max_cached: usize, guard: StackGuard) -> StackPool {
        // An unrepresentable default gets size 0, which no stack has.
        let default = Class::new(round_size(default_size).unwrap_or(0));
        StackPool { classes: vec![default], cached: 0, max_cached, guard, last_trim: Instant::now() }
    }

    /// A stack of `size` usable bytes (rounded): the most recently returned
    /// hot one of that size, else a cold or fresh slot of its class, else a
    /// stack of its own.
    pub(crate) fn get(&mut self, size: usize) -> io::Result<GreenStack> {
        let rounded =
            round_size(size).filter(|&r| (r as u64) < USER_ADDRESS_SPACE / 2).ok_or_else(|| too_large(size))?;
        let index = match self.classes.iter().position(|c| c.size == rounded) {
            Some(index) => index,
            None if self.classes.len() < MAX_SIZES => {
                self.classes.push(Class::new(rounded));
                self.classes.len() - 1
            }
            None => return GreenStack::single(rounded, self.guard),
        };
        let class = &mut self.classes[index];
        if let Some(stack) = class.hot.pop() {
            class.low_water = class.low_water.min(class.hot.len());
            self.cached -= 1;
            return Ok(stack);
        }
        class.take_slot(self.guard)
    }

    /// Takes back a stack whose green thread has finished, onto its class's
    /// hot list. Its header keeps the last owner (not written here: by now
    /// the header has left the cache, and the next green thread placed on
    /// the stack writes its own with [`GreenStack::set_owner`]; the
    /// overflow handler reads only the header of a stack being resumed).
    /// With protected-page guards, a
    /// stack beyond `max_cached` or the map budget is unmapped instead; a
    /// stack of a size without a class is always.
    pub(crate) fn put(&mut self, stack: GreenStack) {
        if self.guard == StackGuard::Mprotect && (self.cached >= self.max_cached || !cache_within_map_budget()) {
            return;
        }
        let size = stack.usable_size();
        let Some(class) = self.classes.iter_mut().find(|c| c.size == size) else { return };
        class.hot.push(stack);
        self.cached += 1;
    }

    /// Trims when [`TRIM_INTERVAL`] has passed since the last trim. Returns
    /// how long the caller may sleep before the next trim is due (`None`:
    /// nothing left to trim, sleep as long as you like), and how many stacks
    /// this call gave back (at least [`BURST`]: the caller should shrink
    /// what the burst grew, see `Hub::shrink_after_burst`).
    pub(crate) fn trim_if_due(&mut self, now: Instant) -> (Option<Duration>, usize) {
        if self.cached == 0 {
            // Nothing to give back; the next interval starts with the next
            // stack that is returned.
            self.last_trim = now;
            return (None, 0);
        }
        let due = self.last_trim + TRIM_INTERVAL;
        if now < due {
            return (Some(due - now), 0);
        }
        let before = self.cached;
        self.trim();
        self.last_trim = now;
        ((self.cached > 0).then_some(TRIM_INTERVAL), before - self.cached)
    }

    /// Gives back the memory of the hot stacks that stayed unused since the
    /// previous trim (the coldest of each size, at the bottom of its LIFO),
    /// unmaps arenas left wholly idle, and forgets sizes other than the
    /// default that have no stack left.
    pub(crate) fn trim(&mut self) {
        for class in &mut self.classes {
            self.cached -= class.trim();
        }
        let mut is_default = true;
        self.classes.retain(|c| mem::take(&mut is_default) || !c.hot.is_empty() || !c.arenas.is_empty());
    }

    /// How many hot stacks the pool holds, over all sizes.
    pub(crate) fn cached(&self) -> usize {
        self.cached
    }
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sizes = f.debug_map();
        for c in &self.classes {
            let cold: usize = c.arenas.values().map(|e| e.cold.len()).sum();
            sizes.entry(
                &c.size,
                &format_args!(
                    "{} hot, low water {}, {} cold, {} arenas",
                    c.hot.len(),
                    c.low_water,
                    cold,
                    c.arenas.len()
                ),
            );
        }
        sizes.finish()?;
        write!(f, " ({}, max_cached {})", self.guard, self.max_cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_live() -> isize {
        LOCAL_LIVE.with(|c| c.get())
    }

    fn local_arenas() -> isize {
        LOCAL_ARENAS.with(|c| c.get())
    }

    fn regions() -> bool {
        guard_kind() == StackGuard::GuardRegion
    }

    /// The permissions of the mapping that contains `addr`, and its bounds.
    #[cfg(target_os = "linux")]
    fn mapping_of(addr: usize) -> Option<(usize, usize, String)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            let (lo, hi) = parts.next()?.split_once('-')?;
            let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
            (lo <= addr && addr < hi).then(|| (lo, hi, parts.next().unwrap_or_default().to_owned()))
        })
    }

    #[test]
    fn usable_range_is_writable_at_both_ends() {
        let stack = GreenStack::new(DEFAULT_STACK_SIZE).unwrap();
        let page = page_size();
        assert_eq!(stack.usable_size(), DEFAULT_STACK_SIZE);
        assert_eq!(stack.top() % 16, 0);
        assert_eq!(stack.top() + RECORD_SIZE + HEADER_SIZE - stack.bottom(), DEFAULT_STACK_SIZE + page);
        assert_eq!(stack.record() as usize, stack.top());
        assert_eq!(stack.top() + RECORD_SIZE, stack.header_ptr() as usize);
        let lowest = stack.bottom() + page;
        // SAFETY: both ranges lie in the read/write part of the slot
        // (`[bottom + guard, top)`), which `stack` owns and keeps alive.
        unsafe {
            ptr::write_bytes((stack.top() - 64) as *mut u8, 0xA5, 64);
            ptr::write_bytes(lowest as *mut u8, 0x5A, 64);
            assert_eq!(*((stack.top() - 1) as *const u8), 0xA5);
            assert_eq!(*(lowest as *const u8), 0x5A);
        }
        // SAFETY: the header stays valid while `stack` lives.
        let h = unsafe { *stack.header_ptr() };
        assert_eq!(h.guard_lo, stack.bottom());
        assert_eq!(h.guard_hi, lowest);
        assert_eq!(h.size, DEFAULT_STACK_SIZE);
        assert_eq!(h.id, 0);
        assert!(h.name_bytes().is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn protected_page_guard_is_mapped_without_access() {
        let stack = GreenStack::single(MIN_STACK_SIZE, StackGuard::Mprotect).unwrap();
        let (lo, hi, perms) = mapping_of(stack.bottom()).unwrap();
        assert_eq!((lo, hi - lo, perms.as_str()), (stack.bottom(), page_size(), "---p"));
        assert_eq!(mapping_of(stack.bottom() + page_size()).unwrap().2, "rw-p");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn guard_regions_keep_an_arena_one_mapping() {
        if !regions() {
            eprintln!("skipped: this kernel has no guard regions");
            return;
        }
        let mut pool = StackPool::new(MIN_STACK_SIZE, MAX_CACHED);
        let arenas = local_arenas();
        let stacks: Vec<_> = (0..100).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        assert_eq!(local_arenas(), arenas + 1, "100 small stacks share one arena");
        let (lo, hi, perms) = mapping_of(stacks[0].bottom()).unwrap();
        assert_eq!(perms, "rw-p");
        for s in &stacks {
            assert!(lo <= s.bottom() && s.top() < hi, "every slot, guards included, lies in one mapping");
        }
        // Slots tile the arena: each one's guard sits right above the
        // previous one's header.
        let mut bottoms: Vec<_> = stacks.iter().map(|s| s.bottom()).collect();
        bottoms.sort_unstable();
        for w in bottoms.windows(2) {
            assert_eq!(w[1] - w[0], MIN_STACK_SIZE + page_size());
        }
    }

    #[test]
    fn sizes_are_rounded() {
        let page = page_size();
        let min = round_size(MIN_STACK_SIZE).unwrap();
        assert_eq!(min % page, 0);
        assert!(min >= MIN_STACK_SIZE);
        assert_eq!(round_size(0), Some(min));
        assert_eq!(round_size(1), Some(min));
        let odd = DEFAULT_STACK_SIZE + 1;
        assert_eq!(round_size(odd), Some(DEFAULT_STACK_SIZE + page));
        assert_eq!(round_size(usize::MAX), None);
        assert_eq!(GreenStack::new(1).unwrap().usable_size(), min);
        assert_eq!(GreenStack::new(odd).unwrap().usable_size(), DEFAULT_STACK_SIZE + page);
        let err = GreenStack::new(usize::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn mapped_stacks_counts_up_and_down() {
        let before = local_live();
        let stacks: Vec<_> = (0..8).map(|_| GreenStack::new(MIN_STACK_SIZE).unwrap()).collect();
        assert_eq!(local_live(), before + 8);
        // Other tests may hold stacks too, never fewer than ours.
        assert!(mapped_stacks() >= 8);
        assert!(stack_arenas() >= 8);
        drop(stacks);
        assert_eq!(local_live(), before);
    }

    #[test]
    fn set_owner_truncates_on_char_boundary() {
        let mut stack = GreenStack::new(MIN_STACK_SIZE).unwrap();
        stack.set_owner(7, Some("worker"));
        // SAFETY: the header stays valid while `stack` lives.
        let h = unsafe { *stack.header_ptr() };
        assert_eq!((h.id, h.name_bytes()), (7, &b"worker"[..]));

        // 'é' is two bytes; place one across the NAME_CAP boundary.
        let long = format!("{}é{}", "a".repeat(NAME_CAP - 1), "b".repeat(10));
        stack.set_owner(8, Some(&long));
        // SAFETY: as above.
        let h = unsafe { *stack.header_ptr() };
        assert_eq!(h.name_bytes(), "a".repeat(NAME_CAP - 1).as_bytes());

        stack.set_owner(9, None);
        // SAFETY: as above.
        let h = unsafe { *stack.header_ptr() };
        assert_eq!((h.id, h.name_bytes()), (9, &b""[..]));
    }

    #[test]
    fn map_limit_message_names_the_limit_and_the_mechanism() {
        let err = map_error(DEFAULT_STACK_SIZE, MapFailure::MapLimit, io::Error::from_raw_os_error(libc::ENOMEM));
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let msg = err.to_string();
        assert!(msg.starts_with("cannot map a 128 KiB green-thread stack: the kernel's memory-map limit"), "{msg}");
        assert!(msg.contains("vm.max_map_count is "), "{msg}");
        assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
        assert!(msg.contains(&format!("stack guards: {}", guard_kind())), "{msg}");
        if max_map_count() == Some(65530) && !regions() {
            assert!(msg.contains("65530, about 31000 stacks"), "{msg}");
        }
        let other = map_error(4096, MapFailure::Other, io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(other.kind(), io::ErrorKind::PermissionDenied);
        assert!(other.to_string().starts_with("cannot map a 4 KiB green-thread stack (stack guards: "));
    }

    #[test]
    fn errors_name_the_real_cause() {
        let enomem = || io::Error::from_raw_os_error(libc::ENOMEM);
        // A size beyond the address space is the caller's mistake.
        assert_eq!(classify(usize::MAX / 2, &enomem()), MapFailure::TooLarge);
        let err = StackPool::new(DEFAULT_STACK_SIZE, 4).get(usize::MAX / 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("larger than the address space") && !msg.contains("max_map_count"), "{msg}");
        // ENOMEM far from the map limit is memory, not the map limit.
        assert_eq!(classify(DEFAULT_STACK_SIZE, &enomem()), MapFailure::OutOfMemory);
        let msg = map_error(DEFAULT_STACK_SIZE, MapFailure::OutOfMemory, enomem()).to_string();
        assert!(msg.contains("out of memory") && !msg.contains("max_map_count"), "{msg}");
        assert_eq!(classify(DEFAULT_STACK_SIZE, &io::Error::from_raw_os_error(libc::EACCES)), MapFailure::Other);
    }

    #[test]
    fn pool_reuses_lifo() {
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, MAX_CACHED);
        let a = pool.get(DEFAULT_STACK_SIZE).unwrap();
        let b = pool.get(DEFAULT_STACK_SIZE).unwrap();
        let (a_addr, b_addr) = (a.bottom(), b.bottom());
        pool.put(a);
        pool.put(b);
        assert_eq!(pool.cached(), 2);
        let before = local_live();
        assert_eq!(pool.get(DEFAULT_STACK_SIZE).unwrap().bottom(), b_addr);
        // The dropped one above went away; the next is `a`.
        let again = pool.get(DEFAULT_STACK_SIZE - 1).unwrap();
        assert_eq!(again.bottom(), a_addr);
        assert_eq!(local_live(), before - 1);
        assert_eq!(pool.cached(), 0);
    }

    #[test]
    fn a_reused_stack_names_its_new_owner() {
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, 4);
        let mut s = pool.get(DEFAULT_STACK_SIZE).unwrap();
        s.set_owner(42, Some("busy"));
        pool.put(s);
        let mut s = pool.get(DEFAULT_STACK_SIZE).unwrap();
        s.set_owner(43, None);
        // SAFETY: the header stays valid while `s` lives.
        let h = unsafe { *s.header_ptr() };
        assert_eq!((h.id, h.name_bytes()), (43, &b""[..]));
        assert_eq!((h.guard_lo, h.size), (s.bottom(), DEFAULT_STACK_SIZE));
    }

    #[test]
    fn pool_caches_each_size_apart() {
        for guard in [StackGuard::Mprotect, guard_kind()] {
            let mut pool = StackPool::with_guard(DEFAULT_STACK_SIZE, MAX_CACHED, guard);
            let small = pool.get(MIN_STACK_SIZE).unwrap();
            let big = pool.get(4 * DEFAULT_STACK_SIZE).unwrap();
            assert_eq!(big.usable_size(), 4 * DEFAULT_STACK_SIZE);
            let (small_addr, big_addr) = (small.bottom(), big.bottom());
            pool.put(small);
            pool.put(big);
            assert_eq!(pool.cached(), 2);
            // No stack of the default size is cached: a new one is made.
            let default = pool.get(DEFAULT_STACK_SIZE).unwrap();
            assert_eq!(default.usable_size(), DEFAULT_STACK_SIZE);
            assert_eq!(pool.cached(), 2);
            assert_eq!(pool.get(4 * DEFAULT_STACK_SIZE).unwrap().bottom(), big_addr);
            assert_eq!(pool.get(MIN_STACK_SIZE).unwrap().bottom(), small_addr);
            assert_eq!(pool.cached(), 0);
        }
    }

    #[test]
    fn pool_keeps_at_most_max_sizes() {
        let page = page_size();
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, MAX_CACHED);
        let stacks: Vec<_> = (1..=MAX_SIZES).map(|i| pool.get(MIN_STACK_SIZE + i * page).unwrap()).collect();
        let before = local_live();
        for s in stacks {
            pool.put(s);
        }
        // The default size's class is one of the MAX_SIZES.
        assert_eq!(pool.cached(), MAX_SIZES - 1);
        assert_eq!(local_live(), before - 1);
        // Empty non-default sizes are forgotten by trim, making room again.
        for i in 1..MAX_SIZES {
            drop(pool.get(MIN_STACK_SIZE + i * page).unwrap());
        }
        pool.trim();
        let s = pool.get(MIN_STACK_SIZE + MAX_SIZES * page).unwrap();
        pool.put(s);
        assert_eq!(pool.cached(), 1);
    }

    #[test]
    fn protected_pages_put_beyond_max_cached_drops() {
        let mut pool = StackPool::with_guard(MIN_STACK_SIZE, 3, StackGuard::Mprotect);
        let stacks: Vec<_> = (0..5).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        let (before, arenas) = (local_live(), local_arenas());
        for s in stacks {
            pool.put(s);
        }
        assert_eq!(pool.cached(), 3);
        assert_eq!(local_live(), before - 2);
        assert_eq!(local_arenas(), arenas - 2, "protected-page stacks are unmapped when dropped");
        drop(pool);
        assert_eq!(local_live(), before - 5);
        assert_eq!(local_arenas(), arenas - 5);
    }

    #[test]
    fn trim_releases_a_burst_after_two_idle_trims() {
        for guard in [StackGuard::Mprotect, guard_kind()] {
            let mut pool = StackPool::with_guard(MIN_STACK_SIZE, MAX_CACHED, guard);
            let arenas = local_arenas();
            let burst: Vec<_> = (0..50).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
            for s in burst {
                pool.put(s);
            }
            assert_eq!(pool.cached(), 50);
            let before = local_live();
            pool.trim();
            assert_eq!(pool.cached(), 50, "just used: kept");
            pool.trim();
            assert_eq!(pool.cached(), 0, "idle for a whole interval: released");
            assert_eq!(local_live(), before - 50);
            assert_eq!(local_arenas(), arenas, "{guard}: every arena of the burst is unmapped");
        }
    }

    #[test]
    fn trim_keeps_a_steady_working_set_and_drops_the_excess() {
        let mut pool = StackPool::new(MIN_STACK_SIZE, MAX_CACHED);
        // A burst of 40 leaves 40 cached.
        let burst: Vec<_> = (0..40).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        for s in burst {
            pool.put(s);
        }
        pool.trim();
        // Then a steady state that needs 10 at a time.
        let mut hot = Vec::new();
        for _ in 0..5 {
            let ws: Vec<_> = (0..10).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
            for s in ws {
                hot.push(s.bottom());
                pool.put(s);
            }
            pool.trim();
            // The 30 cold ones go after the first interval; 10 stay.
            assert_eq!(pool.cached(), 10);
        }
        // The working set kept is the one in use, not cold stacks.
        let ws: Vec<_> = (0..10).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        for s in &ws {
            assert!(hot.contains(&s.bottom()));
        }
    }

    /// Resident pages in `[lo, hi)`, from mincore.
    #[cfg(target_os = "linux")]
    fn resident(lo: usize, hi: usize) -> usize {
        let page = page_size();
        let mut vec = vec![0u8; (hi - lo).div_ceil(page)];
        // SAFETY: `[lo, hi)` is mapped by the caller's arena; `vec` has one
        // byte per page.
        let rc = unsafe { libc::mincore(lo as *mut libc::c_void, hi - lo, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    /// Whether the kernel reports the page at `addr` as a guard region
    /// (`/proc/self/pagemap` bit 58, Linux 6.14+).
    #[cfg(target_os = "linux")]
    fn is_guard_region(addr: usize) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open("/proc/self/pagemap").unwrap();
        f.seek(SeekFrom::Start((addr / page_size() * 8) as u64)).unwrap();
        let mut entry = [0u8; 8];
        f.read_exact(&mut entry).unwrap();
        u64::from_le_bytes(entry) >> 58 & 1 == 1
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn idle_slots_give_their_pages_back_and_are_reused_cold() {
        if !regions() {
            eprintln!("skipped: this kernel has no guard regions");
            return;
        }
        let mut pool = StackPool::new(MIN_STACK_SIZE, MAX_CACHED);
        let keep = pool.get(MIN_STACK_SIZE).unwrap(); // keeps the arena busy
        let stacks: Vec<_> = (0..20).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        let (lo, hi) = (stacks[0].bottom(), stacks[19].top() + HEADER_SIZE);
        for s in &stacks {
            // SAFETY: the 8 KiB below the top of each stack are its own
            // read/write memory.
            unsafe { ptr::write_bytes((s.top() - 8192) as *mut u8, 0xEE, 8192) };
        }
        assert!(resident(lo, hi) >= 40);
        for s in stacks {
            pool.put(s);
        }
        pool.trim();
        assert!(resident(lo, hi) >= 40, "hot stacks keep their pages for an interval");
        let guards: Vec<usize> = (0..20).map(|i| lo + i * (MIN_STACK_SIZE + page_size())).collect();
        let reported = is_guard_region(guards[0]);
        pool.trim();
        assert_eq!(pool.cached(), 0);
        assert_eq!(resident(lo, hi), 0, "idle stacks gave their pages back");
        if reported {
            // One MADV_DONTNEED covered them all: the guards survive it.
            assert!(guards.iter().all(|&g| is_guard_region(g)), "guard regions survive the trim");
        } else {
            eprintln!("this kernel does not report guard regions in pagemap; not checked");
        }
        // A cold slot comes back with a fresh header and zeroed memory.
        let s = pool.get(MIN_STACK_SIZE).unwrap();
        assert!(lo <= s.bottom() && s.bottom() < hi, "a cold slot is reused before carving");
        // SAFETY: the header stays valid while `s` lives; the byte below
        // the top is the stack's own memory.
        let (h, below) = unsafe { (*s.header_ptr(), *((s.top() - 1) as *const u8)) };
        assert_eq!((h.guard_lo, h.guard_hi, h.size), (s.bottom(), s.bottom() + page_size(), s.usable_size()));
        assert_eq!(below, 0);
        drop(keep);
    }
}
