//! Delivery order and answer mapping: subscribers first, in subscription
//! order, then entry points in `after` order with ties broken by name; the
//! first answer that is not `Ok(())` stops delivery.
//!
//! The tests share global subscribers, so they take `SERIAL`.

use greenpatch_plugins::{
    check_entry_points, deliver, entry_point, entry_points, subscribe, subscribe_named, DeliveryError, DidPatchAll,
    DidPatchModule, Event, EventGroup, EventKind, Options, Plugin, PluginError, WillPatchAll, WillPatchModule,
};
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LOG.lock().unwrap().clear();
    guard
}

fn log(entry: impl Into<String>) {
    LOG.lock().unwrap().push(entry.into());
}

fn taken() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap())
}

/// Entry points answer according to the plugin argument named after them.
fn scripted(name: &str, event: &Event<'_>) -> Result<(), PluginError> {
    log(format!("{name}:{event}"));
    match event.arg(name) {
        Some("veto") => Err(PluginError::do_not_patch(format!("{name} says no"))),
        Some("fail") => Err(PluginError::failed(format!("{name} broke"))),
        Some("panic") => panic!("{name} panicked"),
        _ => Ok(()),
    }
}

entry_point!(did_patch, name = "zeta", handler = |e| scripted("zeta", e));
entry_point!(did_patch, name = "alpha", after = ["zeta"], handler = |e| scripted("alpha", e));
entry_point!(did_patch, name = "mid", handler = |e| scripted("mid", e));
entry_point!(will_patch, name = "alpha", handler = |e| scripted("alpha", e));
// "only-will" orders after a plugin that has no will-patch entry point: allowed.
entry_point!(will_patch, name = "only-will", after = ["mid"], handler = |e| scripted("only-will", e));

fn names(group: EventGroup) -> Vec<&'static str> {
    entry_points(group).unwrap().iter().map(|e| e.name()).collect()
}

fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn entry_points_run_in_after_order_with_ties_broken_by_name() {
    let _g = serial();
    assert!(check_entry_points().is_ok());
    assert_eq!(names(EventGroup::DidPatch), ["mid", "zeta", "alpha"]);
    assert_eq!(names(EventGroup::WillPatch), ["alpha", "only-will"]);
}

#[test]
fn subscribers_run_first_in_subscription_order() {
    let _g = serial();
    let second = subscribe(|e| {
        log(format!("sub2:{e}"));
        Ok(())
    });
    let first_after_unsubscribe = subscribe(|e| {
        log(format!("sub3:{e}"));
        Ok(())
    });
    let options = Options::new().with("time", true);
    deliver(&Event::DidPatchModule(DidPatchModule::new("time", &["sleep"], &options, &[]))).unwrap();
    assert_eq!(
        taken(),
        [
            "sub2:DidPatchModule(time)",
            "sub3:DidPatchModule(time)",
            "mid:DidPatchModule(time)",
            "zeta:DidPatchModule(time)",
            "alpha:DidPatchModule(time)",
        ]
    );
    assert!(second.unsubscribe());
    deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &[]))).unwrap();
    assert_eq!(taken()[0], "sub3:DidPatchAll");
    assert!(first_after_unsubscribe.unsubscribe());
}

#[test]
fn do_not_patch_from_a_will_event_is_a_veto_and_stops_delivery() {
    let _g = serial();
    let options = Options::new().with("socket", true);
    let a = args(&[("alpha", "veto")]);
    let error = deliver(&Event::WillPatchModule(WillPatchModule::new("socket", &[], &options, &a))).unwrap_err();
    let veto = error.into_veto().unwrap();
    assert_eq!(veto.event, EventKind::WillPatchModule);
    assert_eq!(veto.module.as_deref(), Some("socket"));
    assert_eq!(veto.reason.reason(), "alpha says no");
    assert!(matches!(veto.plugin, Plugin::EntryPoint { name: "alpha", .. }));
    // "only-will" runs after "alpha" and was not reached.
    assert_eq!(taken(), ["alpha:WillPatchModule(socket)"]);
}

#[test]
fn do_not_patch_from_a_did_event_is_an_error_naming_the_plugin() {
    let _g = serial();
    let options = Options::new();
    let a = args(&[("zeta", "veto")]);
    let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &a))).unwrap_err();
    assert!(!error.is_veto());
    match &error {
        DeliveryError::DoNotPatchFromDidEvent { event, plugin, reason, .. } => {
            assert_eq!(*event, EventKind::DidPatchAll);
            assert!(matches!(plugin, Plugin::EntryPoint { name: "zeta", .. }));
            assert_eq!(reason.reason(), "zeta says no");
        }
        other => panic!("expected DoNotPatchFromDidEvent, got {other:?}"),
    }
    assert!(error.to_string().contains("`zeta`"), "{error}");
    assert_eq!(taken(), ["mid:DidPatchAll", "zeta:DidPatchAll"]);
}

#[test]
fn a_failure_stops_delivery_and_names_event_and_plugin() {
    let _g = serial();
    let options = Options::new();
    let a = args(&[("mid", "fail")]);
    let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &a))).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("`mid`") && text.contains("DidPatchAll") && text.contains("mid broke"), "{text}");
    assert_eq!(taken(), ["mid:DidPatchAll"]);
}

#[test]
fn a_panicking_handler_is_reported_not_propagated() {
    let _g = serial();
    let options = Options::new();
    let a = args(&[("alpha", "panic")]);
    let error = deliver(&Event::WillPatchAll(WillPatchAll::new(&options, &a))).unwrap_err();
    match error {
        DeliveryError::Panicked { message, plugin, .. } => {
            assert_eq!(message, "alpha panicked");
            assert!(matches!(plugin, Plugin::EntryPoint { name: "alpha", .. }));
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_named_subscriber_is_named_in_errors() {
    let _g = serial();
    let id = subscribe_named("audit", |_e| Err(PluginError::failed("disk full")));
    let options = Options::new();
    let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &[]))).unwrap_err();
    id.unsubscribe();
    assert!(matches!(
        error.plugin(),
        Some(Plugin::Subscriber { name: Some(n), .. }) if n == "audit"
    ));
    // Entry points were not reached.
    assert!(taken().is_empty());
}

#[test]
fn a_subscriber_may_unsubscribe_itself_during_delivery() {
    let _g = serial();
    let slot = std::sync::Arc::new(Mutex::new(None));
    let inner = std::sync::Arc::clone(&slot);
    let id = subscribe(move |_e| {
        if let Some(id) = inner.lock().unwrap().take() {
            greenpatch_plugins::unsubscribe(id);
        }
        log("once");
        Ok(())
    });
    *slot.lock().unwrap() = Some(id);
    let options = Options::new();
    let event = Event::DidPatchAll(DidPatchAll::new(&options, &[]));
    deliver(&event).unwrap();
    deliver(&event).unwrap();
    assert_eq!(taken().iter().filter(|e| *e == "once").count(), 1);
}
