//! A per-thread cache of join-packet blocks.
//!
//! # Model
//! Every spawn allocates one join packet and every join (or detached
//! finish) frees it. Under waves of spawns the allocator's own per-thread
//! cache (a handful of blocks per size) overflows and most blocks take its
//! slow path, which costs as much as the rest of a spawn and join. This
//! cache keeps freed packet blocks on per-size free lists of the freeing
//! thread, last in first out (the block freed last is the one still in
//! cache), and hands them to the next spawn on that thread.
//!
//! Blocks are sized in steps of [`STEP`] bytes up to [`MAX_BLOCK`]; larger
//! or over-aligned packets go straight to the global allocator. A block is
//! always allocated and deallocated with its step's layout, so a cached
//! block serves any packet type of its step. Each list holds at most
//! [`BIN_BYTES`] bytes; past that, freed blocks go back to the allocator.
//! [`give_back`] empties this thread's lists (a hub calls it after a burst,
//! before it hands free memory back to the system), and so does the
//! thread's exit.
//!
//! # Invariants
//! - A block on a list is unused memory of exactly its list's layout,
//!   obtained from the global allocator; its first word links the next one.
//! - The lists are touched only by their own thread (a thread-local), and
//!   never re-entered: no list operation calls out while it holds a list.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Size step of the lists (the allocator's own granularity).
pub(crate) const STEP: usize = 16;
/// Largest block kept.
pub(crate) const MAX_BLOCK: usize = 512;
/// Alignment of every cached block.
const ALIGN: usize = 16;
/// Bytes each list holds at most (4,096 blocks of 256 bytes).
pub(crate) const BIN_BYTES: usize = 1024 * 1024;
const BINS: usize = MAX_BLOCK / STEP;

struct Bin {
    head: Cell<*mut u8>,
    count: Cell<usize>,
}

struct Bins([Bin; BINS]);

impl Drop for Bins {
    fn drop(&mut self) {
        drain(self);
    }
}

thread_local! {
    static BINS_TL: Bins = const {
        Bins([const { Bin { head: Cell::new(ptr::null_mut()), count: Cell::new(0) } }; BINS])
    };
}

/// The list and block layout for `layout`, if it is cached.
#[inline]
fn bin_of(layout: Layout) -> Option<(usize, Layout)> {
    if layout.align() > ALIGN || layout.size() > MAX_BLOCK || layout.size() == 0 {
        return None;
    }
    let bin = (layout.size() - 1) / STEP;
    // Sizes up to MAX_BLOCK, a multiple of ALIGN: always a valid layout.
    let block = Layout::from_size_align((bin + 1) * STEP, ALIGN).ok()?;
    Some((bin, block))
}

/// Allocates a block for `layout` (a packet's); aborts through
/// `handle_alloc_error` when memory is exhausted, as `Box` and `Arc` do.
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    let Some((bin, block)) = bin_of(layout) else {
        return global_alloc(layout);
    };
    let cached = BINS_TL
        .try_with(|b| {
            let bin = &b.0[bin];
            let head = bin.head.get();
            if head.is_null() {
                return None;
            }
            // SAFETY: a listed block is unused memory of at least one word,
            // 16-byte aligned; its first word is the link (invariant).
            let next = unsafe { head.cast::<*mut u8>().read() };
            bin.head.set(next);
            bin.count.set(bin.count.get() - 1);
            NonNull::new(head)
        })
        .ok()
        .flatten();
    cached.unwrap_or_else(|| global_alloc(block))
}

/// Frees a block that [`alloc`] returned for the same `layout`.
///
/// # Safety
/// `p` came from [`alloc`] with this `layout` (on any thread), is no longer
/// used, and is freed once.
#[inline]
pub(crate) unsafe fn free(p: NonNull<u8>, layout: Layout) {
    let Some((bin, block)) = bin_of(layout) else {
        // SAFETY: allocated by `global_alloc(layout)` (not cached), per the
        // caller's contract.
        unsafe { alloc::dealloc(p.as_ptr(), layout) };
        return;
    };
    let kept = BINS_TL
        .try_with(|b| {
            let bin = &b.0[bin];
            if (bin.count.get() + 1) * block.size() > BIN_BYTES {
                return false;
            }
            // SAFETY: the block is unused and at least one 16-byte-aligned
            // word long: it now holds the link to the list's next block.
            unsafe { p.as_ptr().cast::<*mut u8>().write(bin.head.get()) };
            bin.head.set(p.as_ptr());
            bin.count.set(bin.count.get() + 1);
            true
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: a cached-size block is always allocated with its step's
        // layout (`alloc`), and the caller frees it once.
        unsafe { alloc::dealloc(p.as_ptr(), block) };
    }
}

/// Gives this thread's cached blocks back to the allocator.
pub(crate) fn give_back() {
    let _ = BINS_TL.try_with(drain);
}

fn drain(b: &Bins) {
    for (i, bin) in b.0.iter().enumerate() {
        let block = Layout::from_size_align((i + 1) * STEP, ALIGN).expect("a cached block's layout is valid");
        let mut p = bin.head.replace(ptr::null_mut());
        bin.count.set(0);
        while !p.is_null() {
            // SAFETY: a listed block: its first word links the next one.
            let next = unsafe { p.cast::<*mut u8>().read() };
            // SAFETY: listed blocks were allocated with their step's layout
            // and are unused; each is unlisted before it is freed.
            unsafe { alloc::dealloc(p, block) };
            p = next;
        }
    }
}

fn global_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: packet layouts are never zero-sized (they hold atomics).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_blocks_are_reused_last_in_first_out() {
        give_back();
        let l = Layout::from_size_align(200, 8).unwrap();
        let a = alloc(l);
        let b = alloc(l);
        // SAFETY: allocated above with `l`, freed once.
        unsafe {
            free(a, l);
            free(b, l);
        }
        assert_eq!(alloc(l), b);
        // A packet type of another size in the same step shares the list.
        let l2 = Layout::from_size_align(195, 4).unwrap();
        assert_eq!(alloc(l2), a);
        // SAFETY: as above.
        unsafe {
            free(b, l);
            free(a, l2);
        }
        give_back();
    }

    #[test]
    fn large_and_over_aligned_layouts_bypass_the_lists() {
        assert!(bin_of(Layout::from_size_align(MAX_BLOCK + 1, 8).unwrap()).is_none());
        assert!(bin_of(Layout::from_size_align(64, 64).unwrap()).is_none());
        let l = Layout::from_size_align(4096, 64).unwrap();
        let p = alloc(l);
        assert_eq!(p.as_ptr() as usize % 64, 0);
        // SAFETY: allocated above with `l`, freed once.
        unsafe { free(p, l) };
    }

    #[test]
    fn a_list_holds_at_most_its_byte_budget() {
        give_back();
        let l = Layout::from_size_align(MAX_BLOCK, 16).unwrap();
        let max = BIN_BYTES / MAX_BLOCK;
        let blocks: Vec<_> = (0..max + 10).map(|_| alloc(l)).collect();
        for p in blocks {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { free(p, l) };
        }
        let held = BINS_TL.with(|b| b.0[(MAX_BLOCK - 1) / STEP].count.get());
        assert_eq!(held, max);
        give_back();
        assert_eq!(BINS_TL.with(|b| b.0[(MAX_BLOCK - 1) / STEP].count.get()), 0);
    }
}
