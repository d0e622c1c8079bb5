//! Concurrent `patch_all` calls serialise: one patches, with one unbroken
//! event sequence; the others find nothing new.

mod common;

use common::Recorder;
use greenpatch::monkey::{is_object_patched, patch_all, PatchAll, Slot};
use std::sync::Barrier;

fn std_f() -> u8 {
    0
}
fn green_f() -> u8 {
    1
}
static F: Slot<fn() -> u8> = Slot::new("f", std_f, green_f);
greenpatch::patchable_module!(name = "t-shared", items = [F]);

#[test]
fn concurrent_calls_serialise() {
    let recorder = Recorder::start();
    let barrier = Barrier::new(8);
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    patch_all(PatchAll::default().module("t-shared")).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| o.is_nothing_new()).count(), 7);
    let patched: Vec<_> = outcomes.iter().filter(|o| !o.is_nothing_new()).collect();
    assert_eq!(patched[0].modules(), ["time", "thread", "socket", "libc", "queue", "t-shared"]);
    let events = recorder.take();
    assert_eq!(events.len(), 15, "{events:?}");
    assert_eq!(events.first().map(String::as_str), Some("WillPatchAll"));
    assert_eq!(events.last().map(String::as_str), Some("DidPatchAll"));
    assert_eq!(events.iter().filter(|e| *e == "WillPatchAll").count(), 1);
    assert!(is_object_patched("t-shared", "f"));
}
