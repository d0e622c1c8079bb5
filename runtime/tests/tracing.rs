//! With the `tracing` feature, a green thread's lifecycle is a sequence of
//! `tracing` events of target `greenpatch`: spawn, park (with its reason),
//! wake, finish.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use greenpatch_runtime as rt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static SEEN: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

struct Collect;

#[derive(Default)]
struct Fields {
    kind: String,
    id: String,
    on: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "kind" {
            self.kind = value.to_owned();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "kind" => self.kind = format!("{value:?}").trim_matches('"').to_owned(),
            "id" => self.id = format!("{value:?}"),
            "on" => self.on = format!("{value:?}"),
            _ => {}
        }
    }
}

impl Subscriber for Collect {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "greenpatch"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut f = Fields::default();
        e.record(&mut f);
        SEEN.lock().unwrap().push((f.kind, f.id, f.on));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_green_threads_lifecycle_is_traced() {
    tracing::subscriber::set_global_default(Collect).unwrap();
    let h = rt::spawn(|| rt::sleep(Duration::from_millis(5)));
    let id = h.id().to_string();
    h.join().unwrap();
    let seen = SEEN.lock().unwrap();
    let mine: Vec<(&str, &str)> =
        seen.iter().filter(|(_, i, _)| *i == id).map(|(k, _, on)| (k.as_str(), on.as_str())).collect();
    let kinds: Vec<&str> = mine.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["spawn", "park", "wake", "finish"], "{seen:?}");
    assert_eq!(mine[1].1, "sleep", "the park names its reason: {seen:?}");
}
