//! An `after` name that no entry point has is an error naming both plugins,
//! found before any handler runs; so is a duplicate name in one group.

use greenpatch_plugins::{
    check_entry_points, deliver, entry_point, DeliveryError, DidPatchAll, Event, EventGroup, Options, WillPatchAll,
};

entry_point!(did_patch, name = "driver", after = ["tls"], handler = |_e| panic!("must not run"));
entry_point!(will_patch, name = "twin", handler = |_e| panic!("must not run"));
mod elsewhere {
    greenpatch_plugins::entry_point!(will_patch, name = "twin", handler = |_e| panic!("must not run"));
}

#[test]
fn an_unknown_after_name_is_an_error_naming_both_plugins() {
    let options = Options::new();
    let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &[]))).unwrap_err();
    match &error {
        DeliveryError::UnknownAfter { group, plugin, unknown, declared_in } => {
            assert_eq!(*group, EventGroup::DidPatch);
            assert_eq!(*plugin, "driver");
            assert_eq!(*unknown, "tls");
            assert_eq!(*declared_in, "unknown_after");
        }
        other => panic!("expected UnknownAfter, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("`driver`") && text.contains("`tls`"), "{text}");
}

#[test]
fn a_duplicate_name_within_a_group_is_an_error_naming_both_sites() {
    let options = Options::new();
    let error = deliver(&Event::WillPatchAll(WillPatchAll::new(&options, &[]))).unwrap_err();
    match &error {
        DeliveryError::DuplicateName { group, name, declared_in } => {
            assert_eq!(*group, EventGroup::WillPatch);
            assert_eq!(*name, "twin");
            assert_eq!(declared_in, &["unknown_after", "unknown_after::elsewhere"]);
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    assert!(check_entry_points().is_err());
}
