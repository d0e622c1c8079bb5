//! [`Mutex`], [`RwLock`] and [`Condvar`]: std's API over std's locks or the
//! runtime's green ones.
//!
//! # Model
//!
//! A lock owns its data (`UnsafeCell<T>`) and a *raw* lock of type `()`,
//! std's or the runtime's, chosen at the lock's first use from the
//! `thread.Mutex` / `thread.RwLock` item (so `const fn new` and `static`
//! locks work as with std). Guards wrap the raw guard, so poisoning,
//! `try_lock` and `Condvar` waits are the raw lock's own.
//!
//! A [`Condvar`] holds one std and one green condition variable and waits
//! on the one matching the guard's flavor; `notify_*` wakes only the kinds
//! that have had waiters (a std notify is a system call even when nobody
//! waits).
//!
//! # Invariants
//!
//! - `data` is reached only through a guard of the raw lock (or `&mut
//!   self`), so a `&mut T` never coexists with another reference.
//! - The raw lock never changes after it is chosen (`Decided`).
//! - A waiter marks its condvar kind in `used` while it holds the mutex,
//!   before it waits; a notifier that changed the condition under the same
//!   mutex therefore sees the mark.

/// What [`Mutex`] and [`RwLock`] share, over their raw lock `$raw` chosen
/// from item `$slot`: `into_inner`, `get_mut`, poisoning, `flavor`, and the
/// `Default`, `From` and `Debug` impls (`Debug` peeks with `$try`).
macro_rules! lock_common {
    ($t:ident, $raw:ident, $slot:ident, $try:ident) => {
        impl<T> $t<T> {
            /// Consumes the lock and returns its data.
            ///
            /// # Errors
            ///
            /// When poisoned, with the data inside the error.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("let m = greenpatch::thread::", stringify!($t), "::new(3);")]
            /// assert_eq!(m.into_inner().unwrap(), 3);
            /// ```
            pub fn into_inner(self) -> LockResult<T> {
                let poisoned = self.is_poisoned();
                let data = self.data.into_inner();
                if poisoned {
                    Err(PoisonError::new(data))
                } else {
                    Ok(data)
                }
            }
        }

        impl<T: ?Sized> $t<T> {
            /// Whether a holder panicked.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("assert!(!greenpatch::thread::", stringify!($t), "::new(0).is_poisoned());")]
            /// ```
            pub fn is_poisoned(&self) -> bool {
                self.raw.peek().is_some_and(|raw| $crate::flavor::both!(raw, r => r.is_poisoned()))
            }

            /// Clears the poisoned state.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("let m = greenpatch::thread::", stringify!($t), "::new(0);")]
            /// m.clear_poison();
            /// assert!(!m.is_poisoned());
            /// ```
            pub fn clear_poison(&self) {
                if let Some(raw) = self.raw.peek() {
                    $crate::flavor::both!(raw, r => r.clear_poison())
                }
            }

            /// A mutable reference to the data (no locking: `&mut self`
            /// proves exclusive access).
            ///
            /// # Errors
            ///
            /// When poisoned, with the reference inside the error.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("let mut m = greenpatch::thread::", stringify!($t), "::new(1);")]
            /// *m.get_mut().unwrap() = 5;
            /// assert_eq!(m.into_inner().unwrap(), 5);
            /// ```
            pub fn get_mut(&mut self) -> LockResult<&mut T> {
                let poisoned = self.is_poisoned();
                let data = self.data.get_mut();
                if poisoned {
                    Err(PoisonError::new(data))
                } else {
                    Ok(data)
                }
            }

            /// The flavor, choosing it now if the lock was never used.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("let m = greenpatch::thread::", stringify!($t), "::new(());")]
            /// assert_eq!(m.flavor(), greenpatch::Flavor::Blocking);
            /// ```
            #[track_caller]
            pub fn flavor(&self) -> Flavor {
                self.raw.get(&$slot, Location::caller(), $raw::new).0.flavor()
            }
        }

        impl<T: Default> Default for $t<T> {
            fn default() -> $t<T> {
                $t::new(T::default())
            }
        }

        impl<T> From<T> for $t<T> {
            fn from(value: T) -> $t<T> {
                $t::new(value)
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for $t<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($t));
                match self.$try() {
                    Ok(g) => d.field("data", &&*g),
                    Err(TryLockError::Poisoned(p)) => d.field("data", &&*p.into_inner()),
                    Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
                };
                d.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
            }
        }
    };
}
use lock_common;

mod condvar;
mod mutex;
mod rwlock;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{LockResult, PoisonError, TryLockError, TryLockResult};

/// Maps a raw lock result to the facade's guard type, poison included.
pub(super) fn map_lock<G, R>(r: LockResult<G>, wrap: impl FnOnce(G) -> R) -> LockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(p) => Err(PoisonError::new(wrap(p.into_inner()))),
    }
}

/// As [`map_lock`], for `try_lock` results.
pub(super) fn map_try<G, R>(r: TryLockResult<G>, wrap: impl FnOnce(G) -> R) -> TryLockResult<R> {
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(p.into_inner())))),
    }
}
