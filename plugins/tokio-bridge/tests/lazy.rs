//! The bridge in a process that never patches: the runtime starts lazily at
//! the first `run`, with the worker count chosen before.

use greenpatch_tokio::{run, set_worker_threads, start_info, RunError, StartedBy};

#[test]
fn the_runtime_starts_lazily_with_the_chosen_worker_count() {
    assert!(start_info().is_none(), "nothing started it yet");
    set_worker_threads(3).unwrap();
    let names = run(async {
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let n = tokio::spawn(async { std::thread::current().name().map(String::from) }).await.unwrap();
            names.extend(n);
        }
        names
    })
    .unwrap();
    assert!(names.iter().all(|n| n == "greenpatch-tokio"), "{names:?}");
    let info = start_info().unwrap();
    assert_eq!(info.by, StartedBy::Lazily);
    assert_eq!(info.workers, 3);
    assert!(matches!(set_worker_threads(1), Err(RunError::AlreadyStarted { workers: 3 })));
}
