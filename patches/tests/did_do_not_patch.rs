//! `DoNotPatch` from a did-event is an error naming the plugin, not a silent
//! escape; what the call patched is rolled back.

mod common;

use greenpatch::monkey::plugins::{entry_point, DeliveryError, Event, EventKind, Plugin, PluginError};
use greenpatch::monkey::{is_module_patched, patch_all, patched_modules, PatchAll, PatchError};

fn too_late(event: &Event<'_>) -> Result<(), PluginError> {
    match event {
        Event::DidPatchBuiltinModules(_) => Err(PluginError::do_not_patch("changed my mind")),
        _ => Ok(()),
    }
}
entry_point!(did_patch, name = "too-late", handler = too_late);

#[test]
fn do_not_patch_from_a_did_event_is_an_error() {
    let error = patch_all(PatchAll::default()).unwrap_err();
    let PatchError::Plugin(DeliveryError::DoNotPatchFromDidEvent { event, plugin, reason, .. }) = &error else {
        panic!("expected DoNotPatchFromDidEvent, got {error:?}");
    };
    assert_eq!(*event, EventKind::DidPatchBuiltinModules);
    assert!(matches!(plugin, Plugin::EntryPoint { name: "too-late", .. }));
    assert_eq!(reason.reason(), "changed my mind");
    let text = error.to_string();
    assert!(text.contains("`too-late`") && text.contains("will-event"), "{text}");

    // The builtins patched before DidPatchBuiltinModules were rolled back.
    assert!(!is_module_patched("socket"));
    assert!(patched_modules().is_empty());
}
