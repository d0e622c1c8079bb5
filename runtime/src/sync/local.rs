//! [`Local`]: green-thread-local storage (gevent's `local`).
//!
//! # Model
//! A `Local<T>` holds one value per green thread, created on first use by
//! its `init` function and keyed by the green thread's [`Id`]. Outside
//! green threads the key is the OS thread's root id, so plain code gets one
//! value per OS thread — as gevent's `local` falls back to thread-local.
//! Values are boxed (their address never changes) in a map behind a std
//! mutex that is held only to find or insert a box, never while user code
//! runs.
//!
//! Each hub thread also records, per green thread, which `Local`s hold a
//! value for it, so that [`finished`] can drop exactly those values when
//! the green thread ends, on the thread that ran it.
//!
//! # Invariants
//! - The box for id `i` is read only by the green thread `i` (a green
//!   thread never migrates) and removed only by [`finished`]`(i)`, after
//!   `i` has ended, or when the `Local` itself is dropped. So a `&T` handed
//!   to `with` stays valid for the call, and `T` need not be `Sync`.
//!
//! # Dropping values of finished green threads
//! [`finished`] drops a finished green thread's values; the hub is to call
//! it when a green thread ends (and for its root at thread exit). Until
//! that call is wired into the hub, a value lives until its `Local` is
//! dropped — for a `static` one, until the process exits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex, OnceLock as StdOnceLock, Weak};

use crate::Id;

/// Green-thread-local storage: each green thread (and, outside green
/// threads, each OS thread) sees its own value, made by `init` on first
/// use.
///
/// For now a value lives until the `Local` itself is dropped (for a
/// `static`, until exit): dropping each value when its green thread
/// finishes is implemented but awaits the hub's notice of finished green
/// threads.
///
/// ```
/// use std::cell::Cell;
/// use greenpatch_runtime::sync::Local;
///
/// static COUNTER: Local<Cell<u32>> = Local::new(|| Cell::new(0));
///
/// COUNTER.with(|c| c.set(10));
/// let h = greenpatch_runtime::spawn(|| {
///     COUNTER.with(|c| c.set(c.get() + 1));
///     COUNTER.with(|c| c.get())
/// });
/// assert_eq!(h.join().unwrap(), 1); // its own value, not the root's
/// assert_eq!(COUNTER.with(|c| c.get()), 10);
/// ```
pub struct Local<T: 'static> {
    init: fn() -> T,
    slots: StdOnceLock<Arc<Slots<T>>>,
}

/// The values of one `Local`.
struct Slots<T> {
    /// # Invariant
    /// See the module docs: a box is removed only after its owner ended.
    map: StdMutex<HashMap<Id, Box<T>>>,
}

/// Lets [`finished`] drop one green thread's value from a `Local` of any `T`.
trait Forget {
    fn forget(&self, id: Id);
}

impl<T> Forget for Slots<T> {
    fn forget(&self, id: Id) {
        let value = self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        drop(value); // outside the lock: its destructor may use this Local
    }
}

thread_local! {
    /// Per green thread of this OS thread's hub: the `Local`s holding a value for it.
    static HELD: RefCell<HashMap<Id, Vec<Weak<dyn Forget>>>> = RefCell::new(HashMap::new());
}

/// Drops every [`Local`] value of the green thread `id`, which has ended.
/// Called on the thread of the hub that ran it.
pub(crate) fn finished(id: Id) {
    let held = HELD
        .try_with(|h| {
            let mut h = h.borrow_mut();
            if h.is_empty() {
                return None; // the common case: no Local used on this thread
            }
            h.remove(&id)
        })
        .ok()
        .flatten();
    let Some(held) = held else { return };
    for slots in held {
        if let Some(s) = slots.upgrade() {
            s.forget(id);
        }
    }
}

impl<T: 'static> Local<T> {
    /// A green-thread-local with values made by `init`.
    ///
    /// ```
    /// static NAME: greenpatch_runtime::sync::Local<String> = greenpatch_runtime::sync::Local::new(String::new);
    /// assert_eq!(NAME.with(|n| n.len()), 0);
    /// ```
    pub const fn new(init: fn() -> T) -> Local<T> {
        Local { init, slots: StdOnceLock::new() }
    }

    /// Calls `f` with the calling green thread's value, creating it first if
    /// needed. Interior mutability (`Cell`, `RefCell`) changes it.
    ///
    /// # Panics
    /// If `init` panics; if `init` uses this same `Local` it recurses, as
    /// `thread_local!` does.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// let l = greenpatch_runtime::sync::Local::new(|| RefCell::new(Vec::new()));
    /// l.with(|v| v.borrow_mut().push(1));
    /// assert_eq!(l.with(|v| v.borrow().len()), 1);
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let id = crate::current().id();
        let slots = self.slots.get_or_init(|| Arc::new(Slots { map: StdMutex::new(HashMap::new()) }));
        let found = slots.map.lock().unwrap_or_else(|e| e.into_inner()).get(&id).map(|b| &**b as *const T);
        let ptr = match found {
            Some(p) => p,
            None => {
                let b = Box::new((self.init)());
                let p = &*b as *const T;
                slots.map.lock().unwrap_or_else(|e| e.into_inner()).insert(id, b);
                let weak = Arc::downgrade(slots) as Weak<dyn Forget>;
                let _ = HELD.try_with(|h| h.borrow_mut().entry(id).or_default().push(weak));
                p
            }
        };
        // SAFETY: `ptr` points into the box stored for `id`, which only this
        // green thread uses and which is removed only after it ends or when
        // `self` is dropped — neither can happen during this call (module
        // invariant). A box's contents never move.
        f(unsafe { &*ptr })
    }
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.slots.get().map_or(0, |s| s.map.lock().map_or(0, |m| m.len()));
        f.debug_struct("Local").field("values", &n).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_green_threads_value_is_dropped_when_it_finishes() {
        let local = Local::new(|| Counted);
        let before = DROPS.load(Ordering::SeqCst);
        let h = crate::spawn_local(move || {
            local.with(|_| ());
            assert_eq!(local.slots.get().unwrap().map.lock().unwrap().len(), 1);
            local
        });
        let local = h.join().unwrap();
        // The hub called `finished` for the green thread as it ended.
        assert_eq!(DROPS.load(Ordering::SeqCst), before + 1);
        assert!(local.slots.get().unwrap().map.lock().unwrap().is_empty());
    }
}
