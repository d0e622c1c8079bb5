//! Entry points run in `after` order, ties broken by name, after the runtime
//! subscribers; at `DidPatchBuiltinModules` they see the builtins patched and
//! the third-party modules not yet.

mod common;

use greenpatch::monkey::plugins::{entry_point, subscribe, Event, PluginError};
use greenpatch::monkey::{is_module_patched, is_object_patched, patch_all, PatchAll, Slot};
use std::sync::Mutex;

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(line: String) {
    LOG.lock().unwrap().push(line);
}

fn std_connect() -> u8 {
    0
}
fn green_connect() -> u8 {
    1
}
static CONNECT: Slot<fn() -> u8> = Slot::new("connect", std_connect, green_connect);
greenpatch::patchable_module!(name = "t-driver", items = [CONNECT]);

/// Logs the builtins-done moment, with what the handler sees then.
fn at_builtins(name: &str, event: &Event<'_>) -> Result<(), PluginError> {
    if let Event::DidPatchBuiltinModules(_) = event {
        log(format!(
            "{name}: socket={} time={} t-driver={} connect={}",
            is_module_patched("socket"),
            is_module_patched("time"),
            is_module_patched("t-driver"),
            is_object_patched("t-driver", "connect"),
        ));
    }
    Ok(())
}

entry_point!(did_patch, name = "z-driver", after = ["a-tls"], handler = |e| at_builtins("z-driver", e));
entry_point!(did_patch, name = "m-pool", after = ["z-driver"], handler = |e| at_builtins("m-pool", e));
entry_point!(did_patch, name = "b-free", handler = |e| at_builtins("b-free", e));
entry_point!(did_patch, name = "a-tls", handler = |e| at_builtins("a-tls", e));

fn before_all(event: &Event<'_>) -> Result<(), PluginError> {
    if let Event::WillPatchAll(_) = event {
        log(format!("will: socket={}", is_module_patched("socket")));
    }
    Ok(())
}
entry_point!(will_patch, name = "z-driver", handler = before_all);

#[test]
fn entry_points_run_in_dependency_order_once_builtins_are_patched() {
    let _sub = subscribe(|event: &Event<'_>| {
        if let Event::DidPatchBuiltinModules(_) = event {
            log("subscriber".into());
        }
        Ok(())
    });
    let outcome = patch_all(PatchAll::default().module("t-driver")).unwrap();
    assert_eq!(outcome.modules(), ["time", "thread", "socket", "libc", "queue", "t-driver"]);
    let seen = "socket=true time=true t-driver=false connect=false";
    assert_eq!(
        *LOG.lock().unwrap(),
        [
            "will: socket=false".to_string(),
            "subscriber".to_string(),
            format!("a-tls: {seen}"),
            format!("b-free: {seen}"),
            format!("z-driver: {seen}"),
            format!("m-pool: {seen}"),
        ]
    );
    assert!(is_object_patched("t-driver", "connect"));
}
