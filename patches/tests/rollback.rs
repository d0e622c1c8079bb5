//! A failing handler rolls back every slot the call switched and every
//! module it recorded; earlier calls' patches stay; the error names the
//! event and the plugin.
//!
//! One test runs the scenarios in order: each leaves the registry as it
//! found it, and the last one patches for good.

mod common;

use common::Recorder;
use greenpatch::monkey::plugins::{subscribe_named, DeliveryError, Event, EventKind, Plugin, PluginError};
use greenpatch::monkey::{is_module_patched, is_object_patched, patch_all, PatchAll, PatchError, Slot};

fn std_f() -> u8 {
    0
}
fn green_f() -> u8 {
    1
}
static EARLY: Slot<fn() -> u8> = Slot::new("f", std_f, green_f);
static FIRST: Slot<fn() -> u8> = Slot::new("f", std_f, green_f);
static SECOND: Slot<fn() -> u8> = Slot::new("f", std_f, green_f);
static SECOND_G: Slot<fn() -> u8> = Slot::new("g", std_f, green_f);
greenpatch::patchable_module!(name = "t-early", items = [EARLY]);
greenpatch::patchable_module!(name = "t-first", items = [FIRST]);
greenpatch::patchable_module!(name = "t-second", items = [SECOND, SECOND_G]);

fn nothing_of_this_call_is_left() {
    assert!(!is_module_patched("t-first") && !is_module_patched("t-second"));
    for (module, item) in [("t-first", "f"), ("t-second", "f"), ("t-second", "g")] {
        assert!(!is_object_patched(module, item), "{module}.{item}");
    }
    assert_eq!((FIRST.get())(), 0);
    assert_eq!((SECOND.get())(), 0);
    assert_eq!((SECOND_G.get())(), 0);
}

/// The earlier call's patches.
fn patch_early() {
    let _ = patch_all(PatchAll::default().module("t-early")).unwrap();
    assert!(is_module_patched("t-early") && is_module_patched("socket"));
}

fn earlier_patches_stay() {
    assert!(is_module_patched("t-early") && is_module_patched("socket"));
    assert_eq!((EARLY.get())(), 1);
}

fn request() -> PatchAll {
    PatchAll::default().module("t-early").module("t-first").module("t-second")
}

#[test]
fn failures_roll_back_this_call_only() {
    patch_early();
    a_failing_did_subscriber_rolls_back_this_calls_slots();
    a_failure_at_did_patch_all_rolls_back_everything_of_the_call();
    a_panicking_handler_rolls_back_and_is_reported();
}

fn a_failing_did_subscriber_rolls_back_this_calls_slots() {
    let recorder = Recorder::start();
    let failing = subscribe_named("flaky", |event: &Event<'_>| match event {
        Event::DidPatchModule(e) if e.module() == "t-second" => Err(PluginError::failed("lost the connection pool")),
        _ => Ok(()),
    });
    let error = patch_all(request()).unwrap_err();
    failing.unsubscribe();

    let PatchError::Plugin(DeliveryError::Failed { event, module, plugin, .. }) = &error else {
        panic!("expected a plugin failure, got {error:?}");
    };
    assert_eq!(*event, EventKind::DidPatchModule);
    assert_eq!(module.as_deref(), Some("t-second"));
    assert!(matches!(plugin, Plugin::Subscriber { name: Some(n), .. } if n == "flaky"));
    let text = error.to_string();
    assert!(
        text.contains("`flaky`")
            && text.contains("DidPatchModule(t-second)")
            && text.contains("lost the connection pool")
            && text.contains("restored"),
        "{text}"
    );
    // The call had reached t-second: t-first was patched, then undone.
    assert_eq!(
        recorder.take(),
        [
            "WillPatchAll",
            "DidPatchBuiltinModules",
            "WillPatchModule(t-first)",
            "DidPatchModule(t-first)",
            "WillPatchModule(t-second)",
            "DidPatchModule(t-second)",
        ]
    );
    nothing_of_this_call_is_left();
    earlier_patches_stay();
}

fn a_failure_at_did_patch_all_rolls_back_everything_of_the_call() {
    let failing = subscribe_named("last", |event: &Event<'_>| match event {
        Event::DidPatchAll(_) => Err(PluginError::failed("no")),
        _ => Ok(()),
    });
    let error = patch_all(request()).unwrap_err();
    failing.unsubscribe();
    assert!(matches!(error, PatchError::Plugin(DeliveryError::Failed { event: EventKind::DidPatchAll, .. })));
    nothing_of_this_call_is_left();
    earlier_patches_stay();
}

fn a_panicking_handler_rolls_back_and_is_reported() {
    let panicking = subscribe_named("panicky", |event: &Event<'_>| match event {
        Event::DidPatchModule(e) if e.module() == "t-first" => panic!("handler bug"),
        _ => Ok(()),
    });
    let error = patch_all(request()).unwrap_err();
    panicking.unsubscribe();
    let PatchError::Plugin(DeliveryError::Panicked { message, .. }) = &error else {
        panic!("expected Panicked, got {error:?}");
    };
    assert_eq!(message, "handler bug");
    nothing_of_this_call_is_left();
    earlier_patches_stay();

    // The registry is still usable.
    let outcome = patch_all(request()).unwrap();
    assert_eq!(outcome.modules(), ["t-first", "t-second"]);
    assert_eq!((SECOND_G.get())(), 1);
}
