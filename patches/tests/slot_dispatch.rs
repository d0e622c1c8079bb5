//! A slot dispatches to the original until its module is patched and to the
//! green function after; `get_original` is the std function, the same value
//! before and after patching; the queries follow.

mod common;

use common::{addr, serial};
use greenpatch::monkey::{
    get_original, is_module_patched, is_object_patched, patch_all, AnySlot, PatchAll, Patched, Slot,
};
use std::time::Duration;

fn green_sleep(_d: Duration) {}
fn std_ticks() -> u64 {
    1
}
fn green_ticks() -> u64 {
    2
}
fn std_len(s: &str) -> usize {
    s.len()
}
fn green_len(s: &str) -> usize {
    s.chars().count()
}

static SLEEP: Slot<fn(Duration)> = Slot::new("sleep", std::thread::sleep, green_sleep);
static TICKS: Slot<fn() -> u64> = Slot::new("ticks", std_ticks, green_ticks);
greenpatch::slot! {
    /// A borrowing signature, declared through the macro.
    static LEN: fn(&str) -> usize = ("len", std_len, green_len);
}
/// In a module that the test never requests.
static OTHER: Slot<fn() -> u64> = Slot::new("ticks", std_ticks, green_ticks);

greenpatch::patchable_module!(name = "t-clock", items = [SLEEP, TICKS, LEN]);
greenpatch::patchable_module!(name = "t-untouched", items = [OTHER]);

/// The facade functions, as a facade module would write them.
fn ticks() -> u64 {
    (TICKS.get())()
}
fn len(s: &str) -> usize {
    (LEN.get())(s)
}

#[test]
fn slots_switch_to_green_and_originals_stay_the_std_functions() {
    let _g = serial();
    let std_sleep = std::thread::sleep as fn(Duration);

    // Before patching: originals run, nothing reports patched.
    assert_eq!(ticks(), 1);
    assert_eq!(len("héllo"), 6);
    assert!(!is_module_patched("t-clock"));
    assert!(!is_object_patched("t-clock", "ticks"));
    let before = get_original::<fn(Duration)>("t-clock", "sleep").unwrap();
    assert_eq!(addr(before), addr(std_sleep));

    let outcome = patch_all(PatchAll::default().module("t-clock")).unwrap();
    let Patched::Patched { modules, vetoed, .. } = &outcome else {
        panic!("expected Patched, got {outcome:?}");
    };
    assert_eq!(modules, &["time", "thread", "socket", "libc", "queue", "t-clock"]);
    assert!(vetoed.is_empty());

    // After: the green functions run.
    assert_eq!(ticks(), 2);
    assert_eq!(len("héllo"), 5);
    assert_eq!(addr(SLEEP.get()), addr(green_sleep as fn(Duration)));
    assert!(is_module_patched("t-clock"));
    for item in ["sleep", "ticks", "len"] {
        assert!(is_object_patched("t-clock", item), "{item}");
    }
    // A module not requested is untouched.
    assert!(!is_module_patched("t-untouched"));
    assert!(!is_object_patched("t-untouched", "ticks"));
    assert_eq!((OTHER.get())(), 1);

    // The original is the same value after patching, and after unpatching
    // and re-patching by hand.
    let after = get_original::<fn(Duration)>("t-clock", "sleep").unwrap();
    assert_eq!(addr(after), addr(std_sleep));
    SLEEP.unpatch();
    assert!(!is_object_patched("t-clock", "sleep"));
    SLEEP.patch();
    let again = get_original::<fn(Duration)>("t-clock", "sleep").unwrap();
    assert_eq!(addr(again), addr(std_sleep));
    assert_eq!(addr(get_original::<fn() -> u64>("t-clock", "ticks").unwrap()), addr(std_ticks as fn() -> u64));
    let original_len = get_original::<fn(&str) -> usize>("t-clock", "len").unwrap();
    assert_eq!(original_len("héllo"), 6);

    // Nothing new the second time.
    assert!(patch_all(PatchAll::default().module("t-clock")).unwrap().is_nothing_new());
}

#[test]
fn get_original_is_none_for_unknown_names_and_wrong_types() {
    assert!(get_original::<fn(Duration)>("t-nope", "sleep").is_none());
    assert!(get_original::<fn(Duration)>("t-clock", "nope").is_none());
    assert!(get_original::<fn(u64)>("t-clock", "sleep").is_none());
    assert!(get_original::<fn(&'static str) -> usize>("t-clock", "len").is_none());
    assert!(!is_object_patched("t-nope", "sleep"));
    assert!(!is_object_patched("t-clock", "nope"));
}

#[test]
fn slots_expose_their_type_erased_view() {
    let any: &dyn AnySlot = &TICKS;
    assert_eq!(any.name(), "ticks");
    assert_eq!(any.fn_type_id(), std::any::TypeId::of::<fn() -> u64>());
    assert_eq!(any.fn_type_name(), "fn() -> u64");
    let mismatch = any.set_from(&SLEEP).unwrap_err();
    assert_eq!(mismatch.source_type, "fn(core::time::Duration)");
}
