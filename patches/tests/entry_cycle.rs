//! A cycle among entry points' `after` lists makes `patch_all` fail before
//! any event: nothing is delivered, nothing patched.

mod common;

use common::Recorder;
use greenpatch::monkey::plugins::{entry_point, DeliveryError, EventGroup};
use greenpatch::monkey::{patch_all, patched_modules, PatchAll, PatchError};

entry_point!(did_patch, name = "pg", after = ["tls"], handler = |_e| Ok(()));
entry_point!(did_patch, name = "tls", after = ["dns"], handler = |_e| Ok(()));
entry_point!(did_patch, name = "dns", after = ["pg"], handler = |_e| Ok(()));
entry_point!(did_patch, name = "ok", handler = |_e| Ok(()));

#[test]
fn a_cycle_fails_the_call_before_any_event() {
    let recorder = Recorder::start();
    let error = patch_all(PatchAll::default()).unwrap_err();
    let PatchError::Plugin(DeliveryError::Cycle { group, plugins }) = &error else {
        panic!("expected a cycle, got {error:?}");
    };
    assert_eq!(*group, EventGroup::DidPatch);
    assert_eq!(plugins, &["dns", "pg", "tls"]);
    let text = error.to_string();
    assert!(
        text.contains("`dns` runs after `pg` runs after `tls` runs after `dns`")
            && text.contains("nothing was patched"),
        "{text}"
    );
    assert!(recorder.take().is_empty(), "no event, not even WillPatchAll");
    assert!(patched_modules().is_empty());
}
