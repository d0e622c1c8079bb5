//! Coroutines: the only module that names corosensei.
//!
//! A [`Coro`] is one green thread's execution context: a corosensei coroutine
//! running on a [`GreenStack`]. The body is moved onto the green stack when
//! the coroutine is created, so spawning allocates nothing but the task's
//! join packet. The scheduler resumes a coroutine; the coroutine suspends
//! itself through the [`Suspender`] it received when it first ran.
//!
//! # Invariants
//! - A `Coro` is resumed only on the OS thread that created it (the hub's
//!   thread): green threads never migrate.
//! - A `Coro` is dropped only when finished (its stack then returns to the
//!   pool) or at hub teardown, where an unfinished one is leaked on purpose
//!   (see `hub.rs`): forcing an unwind there could re-enter a hub that is
//!   being destroyed.

use std::num::NonZeroUsize;

use corosensei::stack::{Stack, StackPointer};
use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::stack::{GreenStack, StackHeader};

/// What a running green thread uses to give control back to its hub.
pub(crate) type Suspender = Yielder<(), ()>;

/// Adapter that lends a [`GreenStack`] to corosensei.
struct StackAdapter(GreenStack);

// SAFETY: `GreenStack` maps a guard page below its usable range, which is at
// least `MIN_STACK_SIZE` (16 KiB > corosensei's 4 KiB minimum); `top` and
// `bottom` are page aligned or 16-byte aligned as the trait requires, and the
// memory stays mapped for as long as the adapter (and so the coroutine) lives.
unsafe impl Stack for StackAdapter {
    #[inline]
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.0.top()).expect("stack top is never null")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.0.bottom()).expect("stack bottom is never null")
    }
}

/// One green thread's execution context.
pub(crate) struct Coro {
    inner: Coroutine<(), (), (), StackAdapter>,
    header: *const StackHeader,
}

impl Coro {
    /// Creates a coroutine that will run `body` on `stack` when first resumed.
    pub(crate) fn new(stack: GreenStack, body: impl FnOnce(&Suspender) + 'static) -> Coro {
        let header = stack.header_ptr();
        let inner = Coroutine::with_stack(StackAdapter(stack), move |y: &Suspender, ()| body(y));
        Coro { inner, header }
    }

    /// Runs the coroutine until it suspends (`false`) or finishes (`true`).
    #[inline(always)]
    pub(crate) fn resume(&mut self) -> bool {
        matches!(self.inner.resume(()), CoroutineResult::Return(()))
    }

    /// The header the overflow handler reads while this coroutine runs.
    #[inline]
    pub(crate) fn header(&self) -> *const StackHeader {
        self.header
    }

    /// Hints the CPU to load the top of this coroutine's stack (where its
    /// saved frames are) into the cache. Never faults, changes nothing.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let top = self.header as *const i8;
            for line in 1..=16 {
                // SAFETY: a prefetch is a hint: it never faults and has no
                // effect on memory, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(top.wrapping_sub(64 * line)) };
            }
        }
    }

    /// Gives back the stack of a finished coroutine.
    pub(crate) fn into_stack(self) -> GreenStack {
        self.inner.into_stack().0
    }
}

/// Suspends the running coroutine whose suspender is `s`.
///
/// # Safety
/// `s` must be the suspender of the coroutine that is running right now on
/// this OS thread.
#[inline(always)]
pub(crate) unsafe fn suspend(s: *const Suspender) {
    // SAFETY: the caller guarantees `s` points to the live suspender of the
    // coroutine currently running on this thread; it lives on that
    // coroutine's own stack, which stays mapped while it runs.
    unsafe { (*s).suspend(()) }
}
