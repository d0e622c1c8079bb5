//! `patch_module` copies a source module's green items over a target
//! module, with the target's will/did events and veto; bad names and type
//! mismatches are typed errors that change nothing.
//!
//! One test runs the scenarios in order, since they share the registry.

mod common;

use common::{addr, Recorder};
use greenpatch::monkey::plugins::{subscribe, subscribe_named, DeliveryError, Event, PluginError};
use greenpatch::monkey::{get_original, is_module_patched, is_object_patched, patch_module, PatchError, Patched, Slot};

fn std_connect() -> u8 {
    0
}
fn green_connect() -> u8 {
    1
}
fn std_query(x: u8) -> u8 {
    x
}
fn green_query(x: u8) -> u8 {
    x + 100
}
fn std_close() {}
fn green_close(_: u8) {}

// The library as it ships: no green implementation of its own.
static LIB_CONNECT: Slot<fn() -> u8> = Slot::new("connect", std_connect, std_connect);
static LIB_QUERY: Slot<fn(u8) -> u8> = Slot::new("query", std_query, std_query);
static LIB_CLOSE: Slot<fn()> = Slot::new("close", std_close, std_close);
static LIB_ONLY: Slot<fn()> = Slot::new("only_lib", std_close, std_close);
greenpatch::patchable_module!(name = "t-lib", items = [LIB_CONNECT, LIB_QUERY, LIB_CLOSE, LIB_ONLY]);

// What a plugin crate provides to replace it (close has another signature).
static G_CONNECT: Slot<fn() -> u8> = Slot::new("connect", std_connect, green_connect);
static G_QUERY: Slot<fn(u8) -> u8> = Slot::new("query", std_query, green_query);
static G_CLOSE: Slot<fn(u8)> = Slot::new("close", green_close, green_close);
greenpatch::patchable_module!(name = "t-lib-green", items = [G_CONNECT, G_QUERY, G_CLOSE]);

static LIB2_CONNECT: Slot<fn() -> u8> = Slot::new("connect", std_connect, std_connect);
greenpatch::patchable_module!(name = "t-lib2", items = [LIB2_CONNECT]);

static UNRELATED: Slot<fn()> = Slot::new("unrelated", std_close, std_close);
greenpatch::patchable_module!(name = "t-unrelated", items = [UNRELATED]);

fn untouched(recorder: &Recorder) {
    assert!(recorder.take().is_empty(), "no event");
    assert!(!is_module_patched("t-lib"));
    for item in ["connect", "query", "close", "only_lib"] {
        assert!(!is_object_patched("t-lib", item), "{item}");
    }
    assert_eq!((LIB_CONNECT.get())(), 0);
}

#[test]
fn patch_module_copies_items_with_events_and_typed_errors() {
    let recorder = Recorder::start();

    // Bad arguments: typed errors, nothing changed, no event.
    let e = patch_module("t-nope", "t-lib-green", None).unwrap_err();
    assert!(
        matches!(&e, PatchError::UnknownModule { name, known }
        if name == "t-nope" && known.contains(&"t-lib")),
        "{e:?}"
    );
    let e = patch_module("t-lib", "t-nope", None).unwrap_err();
    assert!(matches!(&e, PatchError::UnknownModule { name, .. } if name == "t-nope"));
    let e = patch_module("t-lib", "t-lib-green", Some(&["connect", "nope"])).unwrap_err();
    assert!(matches!(&e, PatchError::UnknownItem { module: "t-lib", item, .. } if item == "nope"));
    let e = patch_module("t-lib", "t-lib-green", Some(&["connect", "only_lib"])).unwrap_err();
    assert!(
        matches!(&e, PatchError::UnknownItem { module: "t-lib-green", item, known }
            if item == "only_lib" && known == &["connect", "query", "close"]),
        "{e:?}"
    );
    let e = patch_module("t-lib", "t-lib-green", Some(&["connect", "close"])).unwrap_err();
    let PatchError::TypeMismatch { item, target_type, source_type, .. } = &e else {
        panic!("expected TypeMismatch, got {e:?}");
    };
    assert_eq!((*item, *target_type, *source_type), ("close", "fn()", "fn(u8)"));
    assert!(e.to_string().contains("t-lib-green.close"), "{e}");
    // Without a list, every common name is copied, close included: mismatch.
    assert!(matches!(patch_module("t-lib", "t-lib-green", None), Err(PatchError::TypeMismatch { item: "close", .. })));
    assert!(matches!(
        patch_module("t-lib", "t-unrelated", None),
        Err(PatchError::NothingToCopy { target: "t-lib", source: "t-unrelated" })
    ));
    untouched(&recorder);

    // A veto of the target's WillPatchModule.
    let vetoer = subscribe(|event: &Event<'_>| match event {
        Event::WillPatchModule(e) if e.module() == "t-lib" => Err(PluginError::do_not_patch("not this one")),
        _ => Ok(()),
    });
    let outcome = patch_module("t-lib", "t-lib-green", Some(&["connect"])).unwrap();
    vetoer.unsubscribe();
    let Patched::Vetoed { veto, .. } = &outcome else {
        panic!("expected Vetoed, got {outcome:?}");
    };
    assert_eq!(veto.reason.reason(), "not this one");
    assert_eq!(recorder.take(), ["WillPatchModule(t-lib)"]);
    untouched(&recorder);

    // A failing DidPatchModule handler rolls the copy back.
    let failing = subscribe_named("flaky", |event: &Event<'_>| match event {
        Event::DidPatchModule(_) => Err(PluginError::failed("no")),
        _ => Ok(()),
    });
    let e = patch_module("t-lib2", "t-lib-green", None).unwrap_err();
    failing.unsubscribe();
    assert!(matches!(e, PatchError::Plugin(DeliveryError::Failed { .. })));
    assert_eq!(recorder.take(), ["WillPatchModule(t-lib2)", "DidPatchModule(t-lib2)"]);
    assert!(!is_module_patched("t-lib2") && !is_object_patched("t-lib2", "connect"));
    assert_eq!((LIB2_CONNECT.get())(), 0);

    // Success: named items (a repeated name counts once).
    let items: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>> = Default::default();
    let sink = std::sync::Arc::clone(&items);
    let watcher = subscribe(move |event: &Event<'_>| {
        sink.lock().unwrap().push(event.items().iter().map(|s| s.to_string()).collect());
        assert_eq!(event.options().to_string(), "{t-lib}");
        Ok(())
    });
    let outcome = patch_module("t-lib", "t-lib-green", Some(&["connect", "query", "connect"])).unwrap();
    watcher.unsubscribe();
    assert_eq!(outcome.modules(), ["t-lib"]);
    assert_eq!(recorder.take(), ["WillPatchModule(t-lib)", "DidPatchModule(t-lib)"]);
    assert_eq!(*items.lock().unwrap(), [["connect", "query"], ["connect", "query"]]);
    assert_eq!((LIB_CONNECT.get())(), 1);
    assert_eq!((LIB_QUERY.get())(2), 102);
    assert!(is_module_patched("t-lib"));
    assert!(is_object_patched("t-lib", "connect") && is_object_patched("t-lib", "query"));
    assert!(!is_object_patched("t-lib", "close"));
    assert_eq!(addr(get_original::<fn() -> u8>("t-lib", "connect").unwrap()), addr(std_connect as fn() -> u8));

    // The same copy again: nothing new, no event.
    assert!(patch_module("t-lib", "t-lib-green", Some(&["connect"])).unwrap().is_nothing_new());
    assert!(recorder.take().is_empty());

    // Without a list: every item both have (here: connect).
    let outcome = patch_module("t-lib2", "t-lib-green", None).unwrap();
    assert_eq!(outcome.modules(), ["t-lib2"]);
    assert_eq!((LIB2_CONNECT.get())(), 1);
}
