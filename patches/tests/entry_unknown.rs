//! An `after` name that no entry point has makes `patch_all` fail before any
//! event, naming both plugins.

mod common;

use common::Recorder;
use greenpatch::monkey::plugins::{entry_point, DeliveryError};
use greenpatch::monkey::{patch_all, patched_modules, PatchAll, PatchError};

entry_point!(did_patch, name = "driver", after = ["tsl"], handler = |_e| Ok(()));
entry_point!(will_patch, name = "tls", handler = |_e| Ok(()));

#[test]
fn an_unknown_after_name_fails_the_call_before_any_event() {
    let recorder = Recorder::start();
    let error = patch_all(PatchAll::default()).unwrap_err();
    let PatchError::Plugin(DeliveryError::UnknownAfter { plugin, unknown, .. }) = &error else {
        panic!("expected UnknownAfter, got {error:?}");
    };
    assert_eq!((*plugin, *unknown), ("driver", "tsl"));
    let text = error.to_string();
    assert!(text.contains("`driver`") && text.contains("`tsl`"), "{text}");
    assert!(recorder.take().is_empty());
    assert!(patched_modules().is_empty());
}
