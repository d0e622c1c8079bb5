//! The short internal lock under wait-lists and channels.
//!
//! # Model
//! One atomic flag. Locking is one compare-and-swap; unlocking is one
//! release store (std's futex mutex needs an atomic swap to unlock, to find
//! sleepers — this lock has none). A contended locker spins briefly, then
//! yields its OS thread until the holder is done: critical sections here
//! are a handful of instructions (push or pop one item or waiter) and never
//! block, so the holder is always about to release — unless its OS thread
//! was preempted, which the yield lets the scheduler fix.
//!
//! # Invariants
//! - `value` is accessed only through a [`SpinGuard`], which exists only
//!   while `locked` is set by its holder.
//! - Nothing that can park a green thread runs while a guard is held (a
//!   green thread of the same hub spinning on it could never let the
//!   holder run again).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A spin-then-yield lock for very short critical sections.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    /// # Invariant
    /// See the module docs: only reached through a guard.
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one holder at a time, possibly on
// another thread: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as above; `locked` guarantees exclusive access.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Exclusive access to a [`SpinLock`]'s value; dropping it unlocks.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its holder set `locked`
        // (module invariant), so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this reference unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_across_os_threads() {
        let l = Arc::new(SpinLock::new(0u64));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        let mut g = l.lock();
                        *g += 1;
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*l.lock(), 400_000);
    }
}
