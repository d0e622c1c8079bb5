//! Helpers shared by the registry's integration tests. Each test file is its
//! own process; tests inside one file run on parallel threads, so files whose
//! tests touch global state take [`serial`].

#![allow(dead_code)]

use greenpatch::monkey::plugins::{subscribe, Event, SubscriptionId};
use std::sync::{Arc, Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialises the tests of one file.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records every event as `Display`s it (`WillPatchModule(time)`), through a
/// runtime subscriber that lives as long as the recorder.
pub struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
    id: SubscriptionId,
}

impl Recorder {
    pub fn start() -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let id = subscribe(move |event: &Event<'_>| {
            sink.lock().unwrap().push(event.to_string());
            Ok(())
        });
        Recorder { log, id }
    }

    /// The events recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.id.unsubscribe();
    }
}

/// A fn pointer's address, to compare identities.
pub fn addr<F: Copy>(f: F) -> usize {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    // SAFETY: F is a function pointer type in every call of these tests
    // (checked to be pointer-sized above); its bits are an address.
    unsafe { std::mem::transmute_copy::<F, usize>(&f) }
}
