//! Guarded, pooled green-thread stacks.
//!
//! # Model
//!
//! Every green thread runs on a [`GreenStack`]: one anonymous private memory
//! mapping laid out, from low to high addresses, as
//!
//! ```text
//! bottom()                                                   top()
//! | guard page(s), PROT_NONE | usable stack, read/write ... | StackHeader |
//! ^ guard_lo                 ^ guard_hi                                  ^ end
//! ```
//!
//! The stack grows down from [`GreenStack::top`] towards the guard. Rust
//! emits stack probes for large frames, so a frame can never step over the
//! guard: one page of guard is enough, and running off the end of the stack
//! faults in the guard instead of silently corrupting a neighbour. The
//! overflow handler (`crate::overflow`) reads the [`StackHeader`] kept in the
//! top bytes of the usable region to name the green thread that overflowed.
//!
//! The whole region is mapped `PROT_NONE` with `MAP_NORESERVE` and only the
//! usable part is then made read/write, so a stack costs address space but
//! no memory until its pages are touched: a green thread that only ever uses
//! 4 KiB of its 128 KiB stack costs one or two pages of RSS (the header
//! shares the topmost page with the first frames). Transparent huge pages are
//! disabled on the usable part (`MADV_NOHUGEPAGE`) so that touching one byte
//! does not fault in 2 MiB.
//!
//! # Invariants
//!
//! - A `GreenStack` exclusively owns its mapping; dropping it unmaps it.
//! - `bottom() < guard_hi <= top() < end`, `top()` is 16-byte aligned and the
//!   header occupies exactly `[top(), end)`.
//! - The header's `guard_lo`, `guard_hi` and `size` never change after
//!   [`GreenStack::new`]; only the owner (`id`, `name`) is rewritten, by
//!   [`GreenStack::set_owner`].
//! - [`MAPPED`] counts the `GreenStack`s alive in the process, whichever hub
//!   or pool holds them.
//!
//! # The kernel's memory-map limit
//!
//! Each guarded stack needs **two** kernel memory mappings (VMAs): the guard
//! and the usable part have different protections, so the kernel cannot merge
//! them, nor merge neighbouring stacks. Linux caps the mappings of a process
//! at `vm.max_map_count`, 65530 by default, which (minus the few hundred the
//! binary, its libraries and the allocator use) allows about 32000 live green
//! threads. Past that, `mmap`/`mprotect` fail with `ENOMEM` and
//! [`GreenStack::new`] returns an [`io::ErrorKind::OutOfMemory`] error that
//! names the limit and its current value. Raise it with
//! `sysctl -w vm.max_map_count=262144` (or in `/etc/sysctl.d/`) for
//! workloads with more concurrent green threads.
//!
//! # Pooling
//!
//! Mapping a stack costs three system calls and its first page faults, so
//! each hub keeps a [`StackPool`] of finished green threads' stacks and hands
//! them out again, last in first out, so that the stack whose pages are still
//! in cache (and still resident) is reused first. Pooled stacks keep their
//! pages: no `MADV_DONTNEED` is issued on `put` or `get`, because reuse is
//! the hot path of every spawn, and discarding the pages would turn each
//! reuse into fresh page faults and zero-filling. Memory goes back to the
//! operating system through [`StackPool::trim`] instead, which unmaps the
//! stacks that stayed unused for a whole trim interval.

use std::fmt;
use std::io;
use std::mem;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// How many idle stacks a hub's [`StackPool`] keeps at most.
///
/// Large enough that bursts of ten thousand green threads reuse stacks
/// instead of mapping and unmapping them (measured: with a 1,024 cap, waves
/// of 10,000 spawns spent 85% of their time in mmap/mprotect/munmap and page
/// faults). Bounded twice over: by this count, and by half of the process's
/// map budget across all pools ([`StackPool::put`]); cold stacks are
/// released by [`StackPool::trim`] when the hub idles.
pub(crate) const MAX_CACHED: usize = 16 * 1024;

/// Bytes reserved at the top of every stack for its [`StackHeader`]: two
/// cache lines, a multiple of 16 so that [`GreenStack::top`] stays aligned.
pub(crate) const HEADER_SIZE: usize = 128;

/// The longest green-thread name (in bytes) that a header keeps.
pub(crate) const NAME_CAP: usize = HEADER_SIZE - 3 * mem::size_of::<usize>() - mem::size_of::<u64>() - 1;

/// What the overflow handler needs to know about a stack, kept in its top
/// [`HEADER_SIZE`] bytes.
///
/// Written by [`GreenStack::new`] and [`GreenStack::set_owner`], read (by
/// copy, through a raw pointer) by the signal handler on the same thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct StackHeader {
    /// Lowest address of the guard (the mapping's start).
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

/// Live [`GreenStack`] mappings in this process.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// How many green-thread stacks are currently mapped in this process, over
/// all hubs, whether running a green thread or idle in a pool.
///
/// Each one holds two of the kernel's memory mappings (see
/// `vm.max_map_count`), so this is the number to watch when spawning fails
/// with an out-of-memory error.
///
/// ```
/// let live = greenpatch_runtime::stats::mapped_stacks();
/// println!("{live} green-thread stacks are mapped");
/// ```
pub fn mapped_stacks() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

#[cfg(test)]
thread_local! {
    /// Stacks created minus stacks dropped on this thread: lets tests check
    /// the counting without racing against tests on other threads.
    static LOCAL_LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

/// Counts one mapping in (`delta == 1`) or out (`delta == -1`).
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

/// Mappings left for the rest of the process (malloc, libraries, thread
/// stacks) when stacks approach `vm.max_map_count`: without them, hitting
/// the limit would also make the allocator fail, and the clear error below
/// could not even be formatted.
pub(crate) const MAP_HEADROOM: usize = 2048;

/// Last `vm.max_map_count` read (0: not read yet).
static MAP_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Whether one more stack (two mappings) keeps [`MAP_HEADROOM`] mappings
/// free below `vm.max_map_count`. The limit is re-read when near it, so
/// raising it with sysctl takes effect without a restart.
fn within_map_budget() -> bool {
    let needed = (mapped_stacks() + 1) * 2 + MAP_HEADROOM;
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

/// Whether caching one more stack keeps all mapped stacks (live and
/// cached, every hub) within three quarters of what `vm.max_map_count`
/// allows: pools may hold stacks for the next burst (measured: at one half,
/// 20,000 concurrent sleepers kept unmapping and remapping a quarter of
/// their stacks), but a quarter of the budget always stays free for live
/// green threads on other hubs.
fn cache_within_map_budget() -> bool {
    let limit = MAP_LIMIT.load(Ordering::Relaxed);
    limit == 0 || mapped_stacks() * 2 + MAP_HEADROOM <= limit / 4 * 3
}

/// The error for a failed `mmap`/`mprotect` of a `size`-byte stack.
fn map_error(size: usize, err: io::Error) -> io::Error {
    let what = format!("cannot map a {} green-thread stack", human_size(size));
    if err.raw_os_error() != Some(libc::ENOMEM) {
        return io::Error::new(err.kind(), format!("{what}: {err}"));
    }
    let limit = match max_map_count() {
        Some(count) => {
            let suggested = if count < 262_144 { 262_144 } else { count.saturating_mul(2) };
            let stacks = count / 2;
            let about = if stacks >= 2000 { stacks / 1000 * 1000 } else { stacks };
            format!(
                "vm.max_map_count is {count}, about {about} stacks; \
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
            "{what}: the kernel's memory-map limit was reached (each guarded \
             stack needs 2 mappings and {MAP_HEADROOM} are kept free for the rest of the \
             process; {limit}) or memory is exhausted ({} green-thread stacks are mapped)",
            mapped_stacks()
        ),
    )
}

/// One guarded green-thread stack: a private anonymous mapping of a guard
/// page followed by the usable stack, with a [`StackHeader`] on top.
pub(crate) struct GreenStack {
    /// Start of the mapping: the lowest guard address.
    base: NonNull<u8>,
    /// Length of the whole mapping, guard included.
    len: usize,
    /// Length of the guard at the low end.
    guard: usize,
}

// SAFETY: a GreenStack exclusively owns its mapping, like a Box owns its
// allocation; nothing in it is tied to the thread that created it, so moving
// it (and the right to unmap it) to another thread is sound.
unsafe impl Send for GreenStack {}

impl GreenStack {
    /// Maps a stack with at least `size` usable bytes (raised to
    /// [`MIN_STACK_SIZE`], rounded up to the page size) below one guard page.
    ///
    /// Fails with [`io::ErrorKind::OutOfMemory`] and an explanation of
    /// `vm.max_map_count` when the kernel refuses the mapping for lack of
    /// memory or mappings, and with [`io::ErrorKind::InvalidInput`] when the
    /// size does not fit the address space.
    pub(crate) fn new(size: usize) -> io::Result<GreenStack> {
        let page = page_size();
        let too_big = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("green-thread stack size {size} does not fit the address space"),
            )
        };
        let usable = round_size(size).ok_or_else(too_big)?;
        if !within_map_budget() {
            return Err(map_error(usable, io::Error::from_raw_os_error(libc::ENOMEM)));
        }
        let guard = page;
        let len = usable.checked_add(guard).ok_or_else(too_big)?;

        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing; it overlaps nothing we or anyone else own.
        let raw = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(map_error(usable, io::Error::last_os_error()));
        }
        // SAFETY: `[raw + guard, raw + len)` lies inside the mapping we just
        // created and is page aligned; making it read/write touches nothing
        // else.
        let rc =
            unsafe { libc::mprotect(raw.cast::<u8>().add(guard).cast(), usable, libc::PROT_READ | libc::PROT_WRITE) };
        let base = NonNull::new(raw.cast::<u8>());
        let (Some(base), 0) = (base, rc) else {
            // mmap never returns address 0 for a non-fixed mapping, so this is
            // an mprotect failure (ENOMEM when the map count is exhausted).
            let err = match rc {
                0 => io::Error::from_raw_os_error(libc::EINVAL),
                _ => io::Error::last_os_error(),
            };
            // SAFETY: the region is the mapping of `len` bytes we created
            // above; nothing refers to it.
            unsafe { libc::munmap(raw, len) };
            return Err(map_error(usable, err));
        };

        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: advice on our own usable range; MADV_NOHUGEPAGE only sets a
        // flag and cannot change the contents. A failure (a kernel without
        // transparent huge pages) is harmless and ignored.
        unsafe {
            libc::madvise(raw.cast::<u8>().add(guard).cast(), usable, libc::MADV_NOHUGEPAGE);
        }

        // From here on, dropping `stack` unmaps the region and uncounts it.
        let stack = GreenStack { base, len, guard };
        count_mapped(1);
        let header = StackHeader {
            guard_lo: stack.bottom(),
            guard_hi: stack.bottom() + guard,
            size: usable,
            id: 0,
            name_len: 0,
            name: [0; NAME_CAP],
        };
        // SAFETY: the header slot is the top HEADER_SIZE bytes of the
        // read/write part, 16-byte aligned (the mapping ends on a page
        // boundary), and nothing else refers to it yet.
        unsafe { stack.header_mut().write(header) };
        Ok(stack)
    }

    /// The initial stack pointer: the address just below the header,
    /// 16-byte aligned. The stack grows down from here.
    #[inline]
    pub(crate) fn top(&self) -> usize {
        self.bottom() + self.len - HEADER_SIZE
    }

    /// The lowest address of the mapping, guard included: the stack's limit.
    #[inline]
    pub(crate) fn bottom(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Read/write bytes (page rounded, header included); the size the stack
    /// was created with, after rounding.
    #[inline]
    pub(crate) fn usable_size(&self) -> usize {
        self.len - self.guard
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
        // The header slot is inside the mapping: len >= MIN_STACK_SIZE +
        // guard > HEADER_SIZE.
        self.base.as_ptr().wrapping_add(self.len - HEADER_SIZE).cast::<StackHeader>()
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
        // SAFETY: `h` is the header slot of our mapping (see header_mut),
        // initialised in `new`; `&mut self` means no other Rust reference to
        // it is alive (the signal handler only copies it out through a raw
        // pointer, on this same thread). `len <= NAME_CAP` and
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
        // SAFETY: we own the whole mapping `[base, base + len)`; once the
        // GreenStack is gone nothing may run on it or read its header (the
        // caller leaves the stack before dropping it).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
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

/// Most distinct stack sizes a [`StackPool`] caches at once; stacks of
/// further sizes are unmapped when returned.
const MAX_SIZES: usize = 8;

/// The idle stacks of one usable size.
struct Bucket {
    /// Rounded usable size of every stack in the bucket.
    size: usize,
    /// Idle stacks; the last one is the most recently used.
    stacks: Vec<GreenStack>,
    /// Smallest `stacks.len()` seen since the last trim.
    low_water: usize,
}

impl Bucket {
    fn new(size: usize) -> Bucket {
        Bucket { size, stacks: Vec::new(), low_water: 0 }
    }
}

/// A hub's cache of idle stacks (single-threaded, no locking).
///
/// Stacks are cached per usable size, last in first out, so that the most
/// recently used stack of a size, whose pages are the likeliest to be
/// resident and in cache, is reused first. The hub's default size has the
/// first bucket (looked up first, never removed); up to [`MAX_SIZES`] sizes
/// in all are cached, so a program that spawns with many odd sizes cannot
/// make the lookup slow; stacks of further sizes are simply unmapped on
/// [`put`](StackPool::put).
///
/// Trimming: each size tracks the low-water mark of its cache since the last
/// [`trim`](StackPool::trim); that many stacks at the bottom of its LIFO
/// were not touched for a whole interval and are unmapped. A burst's stacks
/// thus go back to the OS after two idle trims, while a steady state that
/// cycles through its working set keeps it.
pub(crate) struct StackPool {
    /// `buckets[0]` is the default size's. Never empty.
    buckets: Vec<Bucket>,
    /// Stacks over all buckets.
    cached: usize,
    /// Upper bound on `cached`.
    max_cached: usize,
}

impl StackPool {
    /// A pool for stacks of `default_size` usable bytes (rounded like
    /// [`GreenStack::new`]) and, less favoured, other sizes, keeping at most
    /// `max_cached` idle stacks in all.
    pub(crate) fn new(default_size: usize, max_cached: usize) -> StackPool {
        // An unrepresentable default gets size 0, which no stack has.
        let default = Bucket::new(round_size(default_size).unwrap_or(0));
        StackPool { buckets: vec![default], cached: 0, max_cached }
    }

    /// A stack of `size` usable bytes (rounded): the most recently returned
    /// cached one of that size, else a newly mapped one.
    pub(crate) fn get(&mut self, size: usize) -> io::Result<GreenStack> {
        if let Some(rounded) = round_size(size) {
            if let Some(bucket) = self.buckets.iter_mut().find(|b| b.size == rounded) {
                if let Some(stack) = bucket.stacks.pop() {
                    bucket.low_water = bucket.low_water.min(bucket.stacks.len());
                    self.cached -= 1;
                    return Ok(stack);
                }
            }
        }
        GreenStack::new(size)
    }

    /// Takes back a stack whose green thread has finished: cached unless the
    /// pool already holds `max_cached` stacks or [`MAX_SIZES`] other sizes,
    /// unmapped otherwise. Its owner is reset to none.
    pub(crate) fn put(&mut self, mut stack: GreenStack) {
        if self.cached >= self.max_cached || !cache_within_map_budget() {
            return;
        }
        let size = stack.usable_size();
        let index = match self.buckets.iter().position(|b| b.size == size) {
            Some(index) => index,
            None if self.buckets.len() < MAX_SIZES => {
                self.buckets.push(Bucket::new(size));
                self.buckets.len() - 1
            }
            None => return,
        };
        stack.set_owner(0, None);
        if let Some(bucket) = self.buckets.get_mut(index) {
            bucket.stacks.push(stack);
            self.cached += 1;
        }
    }

    /// Unmaps the stacks that stayed cached and unused since the previous
    /// trim (the coldest of each size, at the bottom of its LIFO), and
    /// forgets sizes other than the default that have no stack left. Meant
    /// to be called periodically, e.g. when the hub goes idle.
    pub(crate) fn trim(&mut self) {
        for bucket in &mut self.buckets {
            let cold = bucket.low_water.min(bucket.stacks.len());
            bucket.stacks.drain(..cold);
            self.cached -= cold;
            bucket.low_water = bucket.stacks.len();
        }
        let mut is_default = true;
        self.buckets.retain(|b| mem::take(&mut is_default) || !b.stacks.is_empty());
    }

    /// How many idle stacks the pool holds, over all sizes.
    pub(crate) fn cached(&self) -> usize {
        self.cached
    }
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sizes = f.debug_map();
        for b in &self.buckets {
            sizes.entry(&b.size, &format_args!("{} cached, low water {}", b.stacks.len(), b.low_water));
        }
        sizes.finish()?;
        write!(f, " (max_cached {})", self.max_cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_live() -> isize {
        LOCAL_LIVE.with(|c| c.get())
    }

    #[test]
    fn usable_range_is_writable_at_both_ends() {
        let stack = GreenStack::new(DEFAULT_STACK_SIZE).unwrap();
        let page = page_size();
        assert_eq!(stack.usable_size(), DEFAULT_STACK_SIZE);
        assert_eq!(stack.top() % 16, 0);
        assert_eq!(stack.top() + HEADER_SIZE - stack.bottom(), DEFAULT_STACK_SIZE + page);
        let lowest = stack.bottom() + page;
        // SAFETY: both ranges lie in the read/write part of the mapping
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
    fn guard_is_mapped_without_access() {
        let stack = GreenStack::new(MIN_STACK_SIZE).unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let perms = |start: usize| {
            let prefix = format!("{start:x}-");
            maps.lines().find(|l| l.starts_with(&prefix)).map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        };
        assert_eq!(perms(stack.bottom()).as_deref(), Some("---p"));
        assert_eq!(perms(stack.bottom() + page_size()).as_deref(), Some("rw-p"));
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
    fn enomem_message_names_the_limit() {
        let err = map_error(DEFAULT_STACK_SIZE, io::Error::from_raw_os_error(libc::ENOMEM));
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let msg = err.to_string();
        assert!(msg.starts_with("cannot map a 128 KiB green-thread stack: the kernel's memory-map limit"), "{msg}");
        assert!(msg.contains("vm.max_map_count is "), "{msg}");
        assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
        if max_map_count() == Some(65530) {
            assert!(msg.contains("65530, about 32000 stacks"), "{msg}");
        }
        let other = map_error(4096, io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(other.kind(), io::ErrorKind::PermissionDenied);
        assert!(other.to_string().starts_with("cannot map a 4 KiB green-thread stack: "));
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
    fn pool_resets_owner() {
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, 4);
        let mut s = pool.get(DEFAULT_STACK_SIZE).unwrap();
        s.set_owner(42, Some("busy"));
        pool.put(s);
        let s = pool.get(DEFAULT_STACK_SIZE).unwrap();
        // SAFETY: the header stays valid while `s` lives.
        let h = unsafe { *s.header_ptr() };
        assert_eq!((h.id, h.name_bytes()), (0, &b""[..]));
    }

    #[test]
    fn pool_caches_each_size_apart() {
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, MAX_CACHED);
        let small = pool.get(MIN_STACK_SIZE).unwrap();
        let big = pool.get(4 * DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(big.usable_size(), 4 * DEFAULT_STACK_SIZE);
        let (small_addr, big_addr) = (small.bottom(), big.bottom());
        pool.put(small);
        pool.put(big);
        assert_eq!(pool.cached(), 2);
        // No stack of the default size is cached: a new one is mapped.
        let default = pool.get(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(default.usable_size(), DEFAULT_STACK_SIZE);
        assert_eq!(pool.cached(), 2);
        assert_eq!(pool.get(4 * DEFAULT_STACK_SIZE).unwrap().bottom(), big_addr);
        assert_eq!(pool.get(MIN_STACK_SIZE).unwrap().bottom(), small_addr);
        assert_eq!(pool.cached(), 0);
    }

    #[test]
    fn pool_caches_at_most_max_sizes() {
        let page = page_size();
        let mut pool = StackPool::new(DEFAULT_STACK_SIZE, MAX_CACHED);
        let stacks: Vec<_> = (1..=MAX_SIZES).map(|i| pool.get(MIN_STACK_SIZE + i * page).unwrap()).collect();
        let before = local_live();
        for s in stacks {
            pool.put(s);
        }
        // The default size's bucket is one of the MAX_SIZES.
        assert_eq!(pool.cached(), MAX_SIZES - 1);
        assert_eq!(local_live(), before - 1);
        // Empty non-default sizes are forgotten by trim, making room again.
        for i in 1..MAX_SIZES {
            drop(pool.get(MIN_STACK_SIZE + i * page).unwrap());
        }
        pool.trim();
        let s = GreenStack::new(MIN_STACK_SIZE + MAX_SIZES * page).unwrap();
        pool.put(s);
        assert_eq!(pool.cached(), 1);
    }

    #[test]
    fn put_beyond_max_cached_drops() {
        let mut pool = StackPool::new(MIN_STACK_SIZE, 3);
        let stacks: Vec<_> = (0..5).map(|_| pool.get(MIN_STACK_SIZE).unwrap()).collect();
        let before = local_live();
        for s in stacks {
            pool.put(s);
        }
        assert_eq!(pool.cached(), 3);
        assert_eq!(local_live(), before - 2);
        drop(pool);
        assert_eq!(local_live(), before - 5);
    }

    #[test]
    fn trim_releases_a_burst_after_two_idle_trims() {
        let mut pool = StackPool::new(MIN_STACK_SIZE, MAX_CACHED);
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
}
