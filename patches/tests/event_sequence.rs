//! The exact event sequence of `patch_all`, with one module vetoed by a
//! subscriber; a second call with nothing new delivers no event and warns
//! that its options differ; a later call only adds.

mod common;

use common::Recorder;
use greenpatch::monkey::plugins::{subscribe, Event, EventKind, Plugin, PluginError};
use greenpatch::monkey::{is_module_patched, is_object_patched, patch_all, PatchAll, Patched, Slot, Warning};
use std::sync::{Arc, Mutex};

fn std_a() -> u8 {
    0
}
fn green_a() -> u8 {
    1
}
static A: Slot<fn() -> u8> = Slot::new("a", std_a, green_a);
static B: Slot<fn() -> u8> = Slot::new("b", std_a, green_a);
greenpatch::patchable_module!(name = "t-beta", items = [B]);
greenpatch::patchable_module!(name = "t-alpha", items = [A]);

/// A module event as seen: kind, module name, address of the name string,
/// item names.
type ModuleEvent = (EventKind, String, usize, Vec<String>);

fn request() -> PatchAll {
    // Opted in out of order: third-party modules are patched by name.
    PatchAll::default().module("t-beta").module("t-alpha").arg("who", "tests")
}

#[test]
fn events_follow_gevent_order_and_a_second_call_only_adds() {
    let recorder = Recorder::start();

    // Module events, with a pointer to the module string, to check that
    // will and did carry the same name.
    let names: Arc<Mutex<Vec<ModuleEvent>>> = Arc::default();
    let sink = Arc::clone(&names);
    let names_id = subscribe(move |event: &Event<'_>| {
        if let Some(module) = event.module() {
            let items = event.items().iter().map(|s| s.to_string()).collect();
            sink.lock().unwrap().push((event.kind(), module.to_owned(), module.as_ptr() as usize, items));
        }
        // Every event carries the call's options and arguments.
        assert_eq!(event.arg("who"), Some("tests"));
        assert_eq!(event.options().to_string(), "{time, thread, socket, libc, queue, t-alpha, t-beta}");
        Ok(())
    });
    let vetoer = subscribe(|event: &Event<'_>| match event {
        Event::WillPatchModule(e) if e.module() == "thread" => Err(PluginError::do_not_patch("tests keep OS threads")),
        _ => Ok(()),
    });

    let outcome = patch_all(request()).unwrap();
    assert_eq!(
        recorder.take(),
        [
            "WillPatchAll",
            "WillPatchModule(time)",
            "DidPatchModule(time)",
            "WillPatchModule(thread)",
            "WillPatchModule(socket)",
            "DidPatchModule(socket)",
            "WillPatchModule(libc)",
            "DidPatchModule(libc)",
            "WillPatchModule(queue)",
            "DidPatchModule(queue)",
            "DidPatchBuiltinModules",
            "WillPatchModule(t-alpha)",
            "DidPatchModule(t-alpha)",
            "WillPatchModule(t-beta)",
            "DidPatchModule(t-beta)",
            "DidPatchAll",
        ]
    );
    let Patched::Patched { modules, vetoed, .. } = &outcome else {
        panic!("expected Patched, got {outcome:?}");
    };
    assert_eq!(modules, &["time", "socket", "libc", "queue", "t-alpha", "t-beta"]);
    assert_eq!(vetoed.len(), 1);
    assert_eq!(vetoed[0].module, "thread");
    assert_eq!(vetoed[0].veto.event, EventKind::WillPatchModule);
    assert_eq!(vetoed[0].veto.reason.reason(), "tests keep OS threads");
    assert!(matches!(vetoed[0].veto.plugin, Plugin::Subscriber { id, .. } if id == vetoer));
    assert!(!is_module_patched("thread"));
    assert!(is_module_patched("t-alpha") && is_object_patched("t-beta", "b"));

    // Will and did events of a module carry the same name string and items.
    let names = std::mem::take(&mut *names.lock().unwrap());
    for module in ["time", "socket", "libc", "queue", "t-alpha", "t-beta"] {
        let of: Vec<_> = names.iter().filter(|n| n.1 == module).collect();
        assert_eq!(of.len(), 2, "{module}");
        assert_eq!(of[0].0, EventKind::WillPatchModule);
        assert_eq!(of[1].0, EventKind::DidPatchModule);
        assert_eq!(of[0].2, of[1].2, "{module}: same string in will and did");
        assert_eq!(of[0].3, of[1].3, "{module}: same items in will and did");
    }
    assert_eq!(names.iter().find(|n| n.1 == "t-alpha").unwrap().3, ["a"]);
    names_id.unsubscribe();

    // Second call, different options (thread off), nothing new: no event,
    // and a warning that the options differ.
    let outcome = patch_all(request().thread(false)).unwrap();
    assert!(outcome.is_nothing_new(), "{outcome:?}");
    assert!(recorder.take().is_empty(), "no event for nothing new");
    let differ: Vec<_> = outcome.warnings().iter().filter(|w| matches!(w, Warning::OptionsDiffer { .. })).collect();
    assert_eq!(differ.len(), 1, "{:?}", outcome.warnings());
    let Warning::OptionsDiffer { first, now, .. } = differ[0] else { unreachable!() };
    assert_eq!(first.get("thread"), Some(true));
    assert_eq!(now.get("thread"), Some(false));
    assert!(differ[0].to_string().contains("only modules not yet patched were added"));

    // The same options as the first call, veto gone: only thread is new.
    vetoer.unsubscribe();
    let outcome = patch_all(request()).unwrap();
    assert_eq!(outcome.modules(), ["thread"]);
    assert!(!outcome.warnings().iter().any(|w| matches!(w, Warning::OptionsDiffer { .. })));
    assert_eq!(
        recorder.take(),
        ["WillPatchAll", "WillPatchModule(thread)", "DidPatchModule(thread)", "DidPatchBuiltinModules", "DidPatchAll",]
    );

    // And now truly nothing new, same options: no warning about options.
    let outcome = patch_all(request()).unwrap();
    assert!(outcome.is_nothing_new());
    assert!(outcome.warnings().is_empty(), "{:?}", outcome.warnings());
    assert!(recorder.take().is_empty());
}
