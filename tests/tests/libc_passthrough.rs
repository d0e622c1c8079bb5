//! The `libc` patch module switched off, then on item by item: the hooks
//! are the originals while their item is not patched (a blocking call from
//! a green thread blocks its hub, as without greenpatch), a failing
//! subscriber rolls the items back, and `patch_module` turns on exactly
//! the items it names.
//!
//! A binary of its own: `libc_semantics.rs` patches everything, and the
//! patched state is process-wide.

use std::time::{Duration, Instant};

use greenpatch::monkey::plugins::{subscribe, Event, PluginError};
use greenpatch::monkey::{get_original, is_module_patched, is_object_patched, patch_all, patch_module, PatchAll};
use greenpatch_runtime as rt;

/// Four green threads on one fresh hub each call `std::thread::sleep(ms)`;
/// returns the wall time.
fn four_std_sleeps(ms: u64) -> Duration {
    std::thread::spawn(move || {
        let t = Instant::now();
        let hs: Vec<_> = (0..4).map(|_| rt::spawn(move || std::thread::sleep(Duration::from_millis(ms)))).collect();
        for h in hs {
            h.join().unwrap();
        }
        t.elapsed()
    })
    .join()
    .unwrap()
}

#[test]
fn unpatched_items_pass_through_rollback_restores_them_and_patch_module_turns_on_what_it_names() {
    // 1. patch_all with libc off: every hook is the C library's function.
    let outcome = patch_all(PatchAll::default().libc(false)).unwrap();
    assert!(!outcome.modules().contains(&"libc"), "{:?}", outcome.modules());
    assert!(!is_module_patched("libc"));
    assert!(!is_object_patched("libc", "recv"));
    assert!(!is_object_patched("libc", "clock_nanosleep"));
    type Sleep = unsafe extern "C" fn(libc::c_uint) -> libc::c_uint;
    assert!(get_original::<Sleep>("libc", "sleep").is_some());
    // The sleeps block the hub one after the other: about the sum.
    let took = four_std_sleeps(100);
    assert!(took >= Duration::from_millis(390), "unpatched hooks did not pass through: {took:?}");

    // 2. A subscriber fails the DidPatchModule event: the items switched
    //    by this call are switched back.
    let failing = subscribe(|event: &Event<'_>| match event {
        Event::DidPatchModule(e) if e.module() == "libc" => Err(PluginError::failed("not today")),
        _ => Ok(()),
    });
    let err = patch_module("libc", "libc", Some(&["nanosleep", "clock_nanosleep"]));
    failing.unsubscribe();
    assert!(err.is_err());
    assert!(!is_object_patched("libc", "nanosleep"));
    assert!(!is_object_patched("libc", "clock_nanosleep"));
    assert!(!is_module_patched("libc"));
    let took = four_std_sleeps(100);
    assert!(took >= Duration::from_millis(390), "a rolled-back hook stayed on: {took:?}");

    // 3. patch_module turns on exactly the named items.
    let outcome = patch_module("libc", "libc", Some(&["nanosleep", "clock_nanosleep"])).unwrap();
    assert_eq!(outcome.modules(), ["libc"]);
    assert!(is_object_patched("libc", "nanosleep") && is_object_patched("libc", "clock_nanosleep"));
    assert!(!is_object_patched("libc", "recv"));
    let took = four_std_sleeps(300);
    assert!(took < Duration::from_millis(900), "the patched sleeps did not overlap: {took:?}");
}
