//! Reporting the seeds' pitfall: a blocking object used from a green thread.
//!
//! # Model
//!
//! A facade object made (or first used) before `patch_all()` keeps its
//! blocking implementation. When such an object makes a blocking call from
//! a green thread after its module was patched, it blocks the whole OS
//! thread — every green thread of that hub — which is the bug gevent users
//! meet as "a thread/lock/socket created before `patch_all`". The facade
//! then calls [`report`], which:
//!
//! 1. reports each (object kind, site) pair once per process — the site is
//!    where the object was made, or first used for `const`-made locks;
//! 2. logs the message with `log::warn!` (target `greenpatch`), or prints
//!    it on standard error when no logger takes it (`warn.rs`), and
//! 3. queues it with [`register_warning`](crate::monkey::register_warning),
//!    so that the next patch call returns it in
//!    [`Patched::warnings`](crate::monkey::Patched::warnings).
//!
//! # Which threads are green
//!
//! The runtime has no query that avoids creating a hub, so greenpatch marks
//! each OS thread that runs a green thread started through the facade
//! (`thread::spawn` after patching); on such threads the runtime's
//! [`current`](greenpatch_runtime::current) id tells a green thread
//! (`hub.N`, N > 0) from the root (`hub.0`). Objects used from green threads
//! spawned with `greenpatch_runtime::spawn` directly are not reported.
//! The check runs only for blocking objects of a patched module, so it
//! costs nothing on the green path.

use std::cell::Cell;
use std::collections::HashSet;
use std::panic::Location;
use std::sync::Mutex;

thread_local! {
    /// Whether this OS thread runs (or ran) green threads started through
    /// the facade.
    static RUNS_FACADE_GREEN: Cell<bool> = const { Cell::new(false) };
}

/// A reported pitfall: (kind, file, line, column).
type Key = (&'static str, &'static str, u32, u32);

/// Every pitfall reported so far.
static REPORTED: Mutex<Option<HashSet<Key>>> = Mutex::new(None);

/// Called at the start of every green thread the facade spawns.
#[inline]
pub(crate) fn mark_green_hub() {
    RUNS_FACADE_GREEN.with(|c| c.set(true));
}

/// Whether an id is a hub's root: ids print as `hub.seq` and a root's seq
/// is 0 (documented on `greenpatch_runtime::Id`); `as_u64` packs the seq in
/// the low 40 bits (checked by this crate's tests).
pub(crate) fn is_root(id: greenpatch_runtime::Id) -> bool {
    id.as_u64() & ((1 << 40) - 1) == 0
}

/// Whether the caller is a green thread (not a root) on a thread that runs
/// facade green threads. Never creates a hub on other threads.
pub(crate) fn on_green_thread() -> bool {
    RUNS_FACADE_GREEN.try_with(Cell::get).unwrap_or(false) && !is_root(greenpatch_runtime::current().id())
}

/// Reports a blocking `kind` made at `site` and used from a green thread,
/// once per (kind, site). `what` says what was made when (e.g. "made before
/// patch_all()").
#[cold]
pub(crate) fn report(kind: &'static str, site: &'static Location<'static>, what: &str) {
    let key = (kind, site.file(), site.line(), site.column());
    let first = {
        let mut set = REPORTED.lock().unwrap_or_else(|p| p.into_inner());
        set.get_or_insert_with(HashSet::new).insert(key)
    };
    if !first {
        return;
    }
    let message = format!(
        "greenpatch: a blocking {kind} ({what}, at {site}) was used from a green thread after \
         patch_all(); it keeps blocking the whole OS thread and every green thread of its hub. \
         Make it after patch_all() so that it is green"
    );
    crate::warn::emit("greenpatch", &message);
    crate::monkey::register_warning(message);
}

/// Checks a blocking object's use: reports it when `patched` (its module
/// is patched now) and the caller is a green thread.
#[inline]
pub(crate) fn check(patched: bool, kind: &'static str, site: &'static Location<'static>, what: &str) {
    if patched && on_green_thread() {
        report(kind, site, what);
    }
}

#[cfg(test)]
mod tests {
    use super::is_root;
    use greenpatch_runtime as rt;

    #[test]
    fn root_ids_are_told_from_green_ids_as_the_runtime_prints_them() {
        std::thread::spawn(|| {
            let root = rt::current().id();
            assert!(is_root(root));
            assert!(root.to_string().ends_with(".0"), "{root}");
            let green = rt::spawn(|| rt::current().id()).join().unwrap();
            assert!(!is_root(green));
            assert!(!green.to_string().ends_with(".0"), "{green}");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn reports_are_made_once_per_kind_and_site() {
        let site = std::panic::Location::caller();
        super::report("Thing", site, "made in a test");
        super::report("Thing", site, "made in a test");
        super::report("Other", site, "made in a test");
        let reported = super::REPORTED.lock().unwrap();
        let n = |kind| reported.as_ref().unwrap().iter().filter(|k| k.0 == kind && k.2 == site.line()).count();
        assert_eq!((n("Thing"), n("Other")), (1, 1));
    }
}
