//! Join handles: the result of a green thread, and the handle that kills it.
//!
//! # Model
//! Each spawn allocates one [`Packet`] shared by the task and its
//! [`JoinHandle`], through counted references ([`PacketRef`], like an
//! `Arc`; [`OwnerRef`] for the task's slab entry) whose blocks are
//! recycled by a per-thread cache (`cache.rs`): a spawn that follows a
//! join reuses the block the join freed. The packet holds only the
//! outcome and its hand-over; the task record itself lives at the top of
//! the green thread's stack (`task.rs`). The task writes its outcome
//! (value, panic payload, or killed) exactly once and wakes the joiner
//! through the joiner's
//! [`Unparker`], which works from any thread. The packet also records where
//! the task lives (hub and slot) once it is placed, so `kill` can reach it;
//! a kill requested before placement is applied when the task is placed, and
//! the task then never runs.
//!
//! A spawn on the calling hub costs two reference counts (the slab entry's
//! and the handle's; the green thread's body reaches the packet through
//! the entry's) and no cross-thread fences beyond the state word: a joiner
//! on the task's own hub is woken by slot and generation, without a
//! shared hub reference.
//!
//! # Invariants
//! - `result` goes from `None` to `Some` once; `DONE` in the state word
//!   mirrors it for lock-free `is_finished`.
//! - At most one joiner (the handle is consumed by `join`).
//! - A packet is completed on one thread only: its hub's for a green
//!   thread (the body, the spawn-error path and teardown all run there),
//!   the worker's that runs it for a blocking-pool job (`blocking.rs`,
//!   whose id names hub 0, which no hub has).

use std::alloc::Layout;
use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};

mod cache;

pub(crate) use self::cache::give_back as give_back_packet_cache;

use crate::deadlock::WouldBlockForever;
use crate::hub::{Hub, KillSignal};
use crate::park::Unparker;
use crate::remote::Msg;
use crate::task::{Id, WaitOn};

/// Why [`JoinHandle::join`] did not return a value.
pub enum JoinError {
    /// The green thread panicked; this is the payload, as with
    /// `std::thread::JoinHandle::join`.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The green thread was killed ([`JoinHandle::kill`]) — before it
    /// started, or at a blocking point where it unwound.
    Killed,
    /// Its hub's thread exited while the green thread was still blocked.
    Abandoned,
    /// The green thread could not be started on the hub it was placed on
    /// (for example no stack could be mapped; the error says which limit).
    Spawn(io::Error),
    /// Joining would block forever: nothing in the process can finish it.
    WouldBlockForever(WouldBlockForever),
}

impl JoinError {
    /// Whether the green thread was killed.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::sleep(std::time::Duration::from_secs(10)));
    /// h.kill();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }

    /// Whether the green thread panicked.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| panic!("boom"));
    /// assert!(h.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, if the green thread panicked.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| -> () { std::panic::panic_any(7u8) });
    /// let p = h.join().unwrap_err().into_panic().unwrap();
    /// assert_eq!(*p.downcast::<u8>().unwrap(), 7);
    /// ```
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("<non-string payload>");
                write!(f, "green thread panicked: {msg}")
            }
            JoinError::Killed => f.write_str("green thread was killed"),
            JoinError::Abandoned => {
                f.write_str("green thread was abandoned: its hub's OS thread exited while it was blocked")
            }
            JoinError::Spawn(e) => write!(f, "green thread could not start: {e}"),
            JoinError::WouldBlockForever(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for JoinError {}

/// `Packet::state` bits.
const DONE: u8 = 2; // the outcome is readable
const WAITER: u8 = 4; // `waiter` holds the joiner's wake-up

/// How the completer wakes the joiner.
enum Waiter {
    /// No joiner registered.
    None,
    /// The joiner runs on the task's own hub: slot and generation there.
    Local { idx: u32, gen: u32 },
    /// The joiner runs on another thread.
    Remote(Unparker),
}

/// Slot index meaning "not placed on a hub yet".
const UNPLACED: u32 = u32::MAX;

/// The shared slot between a green thread and its join handle (one
/// allocation per spawn; the green thread's [`Task`] record is not in it
/// but at the top of its stack, see `task.rs`).
///
/// # Invariants
/// - `result` is written once, by the completer — always one thread (see
///   the module invariants), so `DONE` is set by that thread only and it
///   sees its own earlier completion with a plain load — and read only
///   after `DONE` is observed (Acquire), by the single joiner.
/// - `waiter` is written only by the joiner while `WAITER` is clear, and
///   read only by the completer after it observed `WAITER`: never both.
///   The joiner sets `WAITER` with a compare-and-swap from another thread,
///   with a plain store on the task's own hub (the completer then runs on
///   the joiner's thread, only while the joiner is parked).
///   `Waiter::Local` is stored only by a joiner on the task's hub, so the
///   completer (on that hub's thread) wakes it with `unpark_local`.
/// - `slot` goes from `UNPLACED` to the task's slot index once. A local
///   spawn places before the handle exists, so no kill can race it; for a
///   remote spawn a kill and the placement each publish their half (SeqCst)
///   before reading the other's, so at least one of them applies the kill.
pub(crate) struct Packet<T> {
    /// Counted references ([`PacketRef`], [`OwnerRef`]); the last one to
    /// go drops the packet and frees its block.
    refs: AtomicUsize,
    /// The green thread's id (it names the hub the task runs on).
    id: Id,
    state: AtomicU8,
    result: UnsafeCell<Option<Result<T, JoinError>>>,
    waiter: UnsafeCell<Waiter>,
    slot: AtomicU32,
    kill_requested: AtomicBool,
}

// SAFETY: `result` and `waiter` are handed over through `state` as
// documented above; every other field is atomic or immutable. Results of
// type `T` cross threads, hence `T: Send`.
unsafe impl<T: Send> Send for Packet<T> {}
// SAFETY: as above: shared access from other threads only reaches the
// atomics and the cells they hand over.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    /// Records the outcome (first one wins) and wakes the joiner.
    /// Called on the completing thread only (module invariants).
    pub(crate) fn complete(&self, r: Result<T, JoinError>) {
        // Only this thread sets DONE (invariant above): a plain load sees
        // an earlier completion.
        if self.state.load(Ordering::Relaxed) & DONE != 0 {
            return;
        }
        // SAFETY: DONE is clear and only this thread completes, so we are
        // the only writer; the joiner reads only after DONE, published below.
        unsafe { *self.result.get() = Some(r) };
        let prev = self.state.fetch_or(DONE, Ordering::AcqRel);
        if prev & WAITER != 0 {
            // SAFETY: WAITER was published (Release) after the joiner wrote
            // `waiter`, and the joiner never writes it again once set.
            match unsafe { std::mem::replace(&mut *self.waiter.get(), Waiter::None) } {
                Waiter::None => {}
                Waiter::Local { idx, gen } => {
                    // Stored only by a joiner on the task's hub, which is
                    // this thread's (the index check keeps that true even
                    // if it were not); during teardown the hub is gone from
                    // TLS and its green threads never run again.
                    if let Some(h) = Hub::try_current() {
                        if h.shared.index == self.id.hub() {
                            h.unpark_local(idx, gen);
                        }
                    }
                }
                Waiter::Remote(u) => u.unpark(),
            }
        }
    }

    /// The body of the green thread of `this`: `start(killed, f)`.
    ///
    /// The closure holds a pointer, not a reference count: it runs only
    /// inside the task's coroutine, which the hub resumes only while the
    /// task's slab entry — holding an [`OwnerRef`] of this packet — exists.
    pub(crate) fn body(this: &PacketRef<T>, f: impl FnOnce() -> T + 'static) -> impl FnOnce(bool) + 'static
    where
        T: 'static,
    {
        let p = PacketPtr(NonNull::from(&**this));
        move |killed| {
            let p = p;
            // SAFETY: see above: the slab entry keeps the packet alive
            // while its coroutine runs, and this runs inside it.
            unsafe { p.0.as_ref() }.start(killed, f)
        }
    }

    /// Takes the outcome if it is there (the joiner only).
    fn take_result(&self) -> Option<Result<T, JoinError>> {
        if self.state.load(Ordering::Acquire) & DONE == 0 {
            return None;
        }
        // SAFETY: DONE observed with Acquire: the write happened before; the
        // consuming joiner is the only reader.
        unsafe { (*self.result.get()).take() }
    }

    /// Records where the task lives, before any handle to the packet
    /// exists (so no kill can have been requested yet). The handle reaches
    /// other threads only through a synchronising hand-off, which carries
    /// this store with it.
    pub(crate) fn placed_unshared(&self, idx: u32) {
        self.slot.store(idx, Ordering::Relaxed);
    }

    /// Records where the task lives; applies an early kill request.
    pub(crate) fn placed(&self, hub: &Hub, idx: u32, gen: u32) {
        self.slot.store(idx, Ordering::SeqCst);
        if self.kill_requested.load(Ordering::SeqCst) {
            hub.kill_local(idx, gen);
        }
    }

    /// The body of a green thread: runs `f` (unless the thread was killed
    /// before it started, in which case `f` is dropped) and records the
    /// outcome.
    pub(crate) fn start(&self, killed: bool, f: impl FnOnce() -> T) {
        if killed {
            drop(f);
            self.complete(Err(JoinError::Killed));
        } else {
            self.run(f);
        }
    }

    /// Runs `f` and records its outcome.
    pub(crate) fn run(&self, f: impl FnOnce() -> T) {
        let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Ok(v),
            Err(p) if p.is::<KillSignal>() => Err(JoinError::Killed),
            Err(p) => Err(JoinError::Panicked(p)),
        };
        self.complete(r);
    }
}

/// A pointer to a packet, owned elsewhere (see [`Packet::body`]).
struct PacketPtr<T>(NonNull<Packet<T>>);

/// A counted reference to a [`Packet`], as `Arc<Packet<T>>` would be; the
/// block comes from, and goes back to, the per-thread cache (`cache.rs`).
///
/// # Invariant
/// `ptr` points to a live packet of which this value owns one count of
/// `refs`; the packet is dropped, and its block freed, by whichever
/// reference (this type or [`OwnerRef`]) takes the count to zero.
pub(crate) struct PacketRef<T> {
    ptr: NonNull<Packet<T>>,
    _owns: PhantomData<Packet<T>>,
}

// SAFETY: as for `Arc<Packet<T>>`: a `PacketRef` only gives shared access
// to the packet, which is `Send + Sync` when `T: Send` (see above); the
// count is atomic and the last reference, on whichever thread, drops it.
unsafe impl<T: Send> Send for PacketRef<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for PacketRef<T> {}

impl<T> PacketRef<T> {
    /// A new packet for the green thread `id`, with one reference (the
    /// caller's).
    pub(crate) fn new(id: Id) -> PacketRef<T> {
        let p = cache::alloc(Layout::new::<Packet<T>>()).cast::<Packet<T>>();
        // SAFETY: a fresh block for the packet's layout (size and
        // alignment), not yet shared.
        unsafe {
            p.as_ptr().write(Packet {
                refs: AtomicUsize::new(1),
                id,
                state: AtomicU8::new(0),
                result: UnsafeCell::new(None),
                waiter: UnsafeCell::new(Waiter::None),
                slot: AtomicU32::new(UNPLACED),
                kill_requested: AtomicBool::new(false),
            })
        };
        PacketRef { ptr: p, _owns: PhantomData }
    }

    /// This reference as the task's slab entry holds it, `T` erased.
    pub(crate) fn into_owner(self) -> OwnerRef
    where
        T: 'static,
    {
        let ptr = self.ptr.cast::<u8>();
        std::mem::forget(self);
        OwnerRef { ptr, vt: &Packet::<T>::OWNER_VT }
    }
}

impl<T> Deref for PacketRef<T> {
    type Target = Packet<T>;

    #[inline]
    fn deref(&self) -> &Packet<T> {
        // SAFETY: the packet lives while this reference does (invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Clone for PacketRef<T> {
    #[inline]
    fn clone(&self) -> PacketRef<T> {
        // Relaxed, as `Arc::clone`: the new count is made from an existing
        // one, which keeps the packet alive meanwhile. At most three counts
        // exist at once (the slab entry, the handle, a remote spawn's
        // message), so the count cannot overflow.
        self.refs.fetch_add(1, Ordering::Relaxed);
        PacketRef { ptr: self.ptr, _owns: PhantomData }
    }
}

impl<T> Drop for PacketRef<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this reference owns one count (invariant), given up here.
        unsafe { release::<T>(self.ptr) };
    }
}

/// Gives up one count of the packet at `p`; the last one drops the packet
/// and frees its block.
///
/// # Safety
/// The caller owns one count of the live packet at `p` and does not use
/// `p` afterwards.
#[inline]
unsafe fn release<T>(p: NonNull<Packet<T>>) {
    // SAFETY: the caller's count keeps the packet alive until this
    // decrement; Release orders this thread's uses before the free.
    if unsafe { p.as_ref() }.refs.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Acquire: every other reference's uses happened before the free.
    atomic::fence(Ordering::Acquire);
    // SAFETY: the count reached zero: no reference is left, so the packet
    // is dropped once and its block, from `cache::alloc` with this layout,
    // freed once.
    unsafe {
        ptr::drop_in_place(p.as_ptr());
        cache::free(p.cast(), Layout::new::<Packet<T>>());
    }
}

/// What a slab entry needs of a packet whose `T` it does not know.
pub(crate) struct OwnerVt {
    abandon: unsafe fn(NonNull<u8>),
    release: unsafe fn(NonNull<u8>),
}

impl<T: 'static> Packet<T> {
    const OWNER_VT: OwnerVt = OwnerVt {
        // SAFETY: `p` is the live packet of an `OwnerRef` made by
        // `into_owner` for this `T`.
        abandon: |p| unsafe { p.cast::<Packet<T>>().as_ref() }.complete(Err(JoinError::Abandoned)),
        // SAFETY: as above; the `OwnerRef` gives up the count it owns.
        release: |p| unsafe { release::<T>(p.cast()) },
    };
}

/// The task's slab entry's counted reference to its packet (a
/// [`PacketRef`] with `T` erased): gives the hub a way to fail the task's
/// joiners when the task can never finish.
///
/// # Invariant
/// As [`PacketRef`]'s; `vt` is the table of the packet's `T`.
pub(crate) struct OwnerRef {
    ptr: NonNull<u8>,
    vt: &'static OwnerVt,
}

impl OwnerRef {
    /// Completes the join packet with `JoinError::Abandoned`.
    pub(crate) fn abandon(&self) {
        // SAFETY: the packet lives while this reference does (invariant).
        unsafe { (self.vt.abandon)(self.ptr) }
    }
}

impl Drop for OwnerRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this reference owns one count (invariant), given up here.
        unsafe { (self.vt.release)(self.ptr) }
    }
}

/// An owned permission to join a green thread (wait for its result) and to
/// kill it. Like `std::thread::JoinHandle`, dropping it detaches the thread.
///
/// ```
/// let h = greenpatch_runtime::spawn(|| 6 * 7);
/// assert!(!h.id().to_string().is_empty());
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    pub(crate) packet: PacketRef<T>,
    pub(crate) id: Id,
}

impl<T> JoinHandle<T> {
    /// Waits for the green thread to finish and returns its value, or why it
    /// has none. Parks only the calling green thread; from plain code it
    /// drives this thread's hub until the result is in.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| "done");
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let hub = Hub::current();
        let p = &*self.packet;
        // The task runs on this thread: its completer runs only while this
        // joiner is parked, never between two of its instructions.
        let local = hub.shared.index == self.id.hub();
        loop {
            if let Some(r) = p.take_result() {
                return r;
            }
            let s = p.state.load(Ordering::Acquire);
            if s & DONE == 0 && s & WAITER != 0 {
                // A registration from before (a `watch`, or this loop's own
                // before a spurious wake-up) may name another waiter:
                // withdraw it, then register this one.
                let _ = p.state.compare_exchange(s, s & !WAITER, Ordering::AcqRel, Ordering::Acquire);
                continue;
            }
            if s & DONE == 0 {
                let w = if local {
                    let (idx, gen) = hub.current_key();
                    Waiter::Local { idx, gen }
                } else {
                    Waiter::Remote(Unparker::current_on(hub))
                };
                // SAFETY: WAITER is clear, so the completer does not read
                // `waiter`; this handle is the only joiner (join consumes it).
                unsafe { *p.waiter.get() = w };
                if local {
                    // The only other writer of `state` is the completer, on
                    // this thread: nothing can change it since the load.
                    p.state.store(s | WAITER, Ordering::Release);
                } else if p.state.compare_exchange(s, s | WAITER, Ordering::AcqRel, Ordering::Acquire).is_err() {
                    continue; // the outcome arrived meanwhile: look again
                }
            }
            if s & DONE != 0 {
                continue;
            }
            if let Err(e) = hub.park(None, WaitOn { what: "join", target: Some(self.id) }) {
                return Err(JoinError::WouldBlockForever(e));
            }
        }
    }

    /// Registers `u` as the one joiner to wake at completion, replacing an
    /// earlier registration; `false` if the outcome is in already. Needs
    /// `&self` only because callers hold the handle exclusively (`join`
    /// consumes it, `crate::wait` borrows it mutably): two concurrent
    /// watchers of one handle cannot exist.
    pub(crate) fn watch(&self, u: Unparker) -> bool {
        let p = &*self.packet;
        let mut u = Some(u);
        loop {
            let s = p.state.load(Ordering::Acquire);
            if s & DONE != 0 {
                return false;
            }
            if s & WAITER != 0 {
                // Withdraw the earlier registration first; once WAITER is
                // clear, the completer no longer reads `waiter`.
                let _ = p.state.compare_exchange(s, s & !WAITER, Ordering::AcqRel, Ordering::Acquire);
                continue;
            }
            // SAFETY: WAITER is clear, so the completer does not read
            // `waiter`; the holder of the handle is the only writer (see
            // above).
            unsafe { *p.waiter.get() = u.take().map_or(Waiter::None, Waiter::Remote) };
            if p.state.compare_exchange(s, s | WAITER, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return true;
            }
            // The outcome is being written: take the unparker back, look again.
            // SAFETY: as above; WAITER is still clear.
            u = match unsafe { std::mem::replace(&mut *p.waiter.get(), Waiter::None) } {
                Waiter::Remote(u) => Some(u),
                _ => None,
            };
        }
    }

    /// Withdraws a [`JoinHandle::watch`] registration (a spurious unpark
    /// may still come if the completer read it first).
    pub(crate) fn unwatch(&self) {
        let p = &*self.packet;
        let s = p.state.load(Ordering::Acquire);
        if s & WAITER != 0 && s & DONE == 0 {
            let _ = p.state.compare_exchange(s, s & !WAITER, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Asks the green thread to exit: it unwinds (running destructors and
    /// releasing guards) at its next blocking point, or never starts if it
    /// has not started yet. Returns at once; `join` then reports
    /// [`JoinError::Killed`]. Killing a finished thread does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::sleep(Duration::from_secs(60)));
    /// h.kill();
    /// assert!(h.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) {
        let p = &*self.packet;
        if p.state.load(Ordering::Acquire) & DONE != 0 {
            return;
        }
        p.kill_requested.store(true, Ordering::SeqCst);
        let idx = p.slot.load(Ordering::SeqCst);
        if idx == UNPLACED {
            return; // the placement will apply it
        }
        let gen = self.id.as_u64() as u32;
        match Hub::try_current() {
            Some(h) if h.shared.index == self.id.hub() => h.kill_local(idx, gen),
            _ => {
                if let Some(hub) = crate::registry::hub_by_index(self.id.hub()) {
                    hub.push(Msg::Kill { idx, gen });
                }
            }
        }
    }

    /// Whether the green thread has finished (a `join` would not block).
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| ());
    /// greenpatch_runtime::yield_now();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.state.load(Ordering::Acquire) & DONE != 0
    }

    /// The green thread's id.
    ///
    /// ```
    /// let h = greenpatch_runtime::spawn(|| greenpatch_runtime::current().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).field("finished", &self.is_finished()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted;

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_spawn_after_a_join_reuses_the_packet_block() {
        let h = crate::spawn(|| 1u64);
        let first = h.packet.ptr.as_ptr() as usize;
        assert_eq!(h.join().unwrap(), 1);
        let h = crate::spawn(|| 2u64);
        assert_eq!(h.packet.ptr.as_ptr() as usize, first, "the freed block is the next one handed out");
        assert_eq!(h.join().unwrap(), 2);
    }

    #[test]
    fn an_outcome_nobody_joins_is_dropped_with_the_last_reference() {
        let before = DROPS.load(Ordering::SeqCst);
        // Detached: the slab entry's reference is the last one.
        drop(crate::spawn(|| Counted));
        crate::yield_now();
        assert_eq!(DROPS.load(Ordering::SeqCst), before + 1);
        // Finished first: the handle's reference is the last one.
        let h = crate::spawn(|| Counted);
        crate::yield_now();
        assert!(h.is_finished());
        assert_eq!(DROPS.load(Ordering::SeqCst), before + 1);
        drop(h);
        assert_eq!(DROPS.load(Ordering::SeqCst), before + 2);
    }
}
