//! A veto of `WillPatchAll` records nothing: no slot switched, no module
//! recorded, no further event, and a later call is a first call again.

mod common;

use common::Recorder;
use greenpatch::monkey::plugins::{entry_point, Event, EventKind, Plugin, PluginError};
use greenpatch::monkey::{
    is_module_patched, is_object_patched, patch_all, patched_modules, PatchAll, Patched, Slot, Warning,
};

fn std_f() -> u8 {
    0
}
fn green_f() -> u8 {
    1
}
static F: Slot<fn() -> u8> = Slot::new("f", std_f, green_f);
greenpatch::patchable_module!(name = "t-vetoed", items = [F]);

fn gatekeeper(event: &Event<'_>) -> Result<(), PluginError> {
    match event {
        Event::WillPatchAll(e) if e.arg("allow") != Some("yes") => {
            Err(PluginError::do_not_patch("pass allow=yes to patch"))
        }
        _ => Ok(()),
    }
}
entry_point!(will_patch, name = "gatekeeper", handler = gatekeeper);

#[test]
fn a_vetoed_patch_all_records_nothing() {
    let recorder = Recorder::start();
    let outcome = patch_all(PatchAll::default().module("t-vetoed")).unwrap();
    let Patched::Vetoed { veto, .. } = &outcome else {
        panic!("expected Vetoed, got {outcome:?}");
    };
    assert_eq!(veto.event, EventKind::WillPatchAll);
    assert_eq!(veto.reason.reason(), "pass allow=yes to patch");
    assert!(matches!(veto.plugin, Plugin::EntryPoint { name: "gatekeeper", .. }));
    assert_eq!(recorder.take(), ["WillPatchAll"]);

    assert!(patched_modules().is_empty());
    for module in ["time", "thread", "fs", "socket", "queue", "t-vetoed"] {
        assert!(!is_module_patched(module), "{module}");
    }
    assert!(!is_object_patched("t-vetoed", "f"));
    assert_eq!((F.get())(), 0);

    // Not recorded as a first call either: a call with other options does
    // not warn that they differ.
    let outcome = patch_all(PatchAll::none().module("t-vetoed").arg("allow", "yes")).unwrap();
    assert_eq!(outcome.modules(), ["t-vetoed"]);
    assert!(!outcome.warnings().iter().any(|w| matches!(w, Warning::OptionsDiffer { .. })));
    assert_eq!((F.get())(), 1);
}
