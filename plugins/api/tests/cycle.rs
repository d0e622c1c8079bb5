//! A cycle among `after` lists is an error naming the plugins on it, found
//! before any handler (subscriber or entry point) runs.

use greenpatch_plugins::{
    check_entry_points, deliver, entry_point, subscribe, DeliveryError, DidPatchAll, Event, EventGroup, Options,
    WillPatchAll,
};
use std::sync::atomic::{AtomicUsize, Ordering};

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn count(_event: &Event<'_>) -> Result<(), greenpatch_plugins::PluginError> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

entry_point!(did_patch, name = "c", after = ["a"], handler = count);
entry_point!(did_patch, name = "b", after = ["c"], handler = count);
entry_point!(did_patch, name = "a", after = ["b"], handler = count);
entry_point!(did_patch, name = "free", handler = count);
entry_point!(did_patch, name = "downstream", after = ["a"], handler = count);
entry_point!(will_patch, name = "fine", handler = count);

#[test]
fn a_cycle_is_reported_with_its_members_before_any_handler_runs() {
    subscribe(count);
    let options = Options::new();
    let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &[]))).unwrap_err();
    match &error {
        DeliveryError::Cycle { group, plugins } => {
            assert_eq!(*group, EventGroup::DidPatch);
            assert_eq!(plugins, &["a", "b", "c"]);
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the `after` lists of did_patch entry points form a cycle: `a` runs after `b` runs \
         after `c` runs after `a`; remove one of these `after` names"
    );
    assert_eq!(CALLS.load(Ordering::SeqCst), 0, "no handler may run");
    assert!(check_entry_points().is_err());

    // The will-patch group itself is fine and still delivers.
    deliver(&Event::WillPatchAll(WillPatchAll::new(&options, &[]))).unwrap();
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
}
