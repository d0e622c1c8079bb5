//! The README's example, kept compiling: 10,000 facade threads sleeping at
//! once on one OS thread after `patch_all()`.
use greenpatch::{monkey, thread};
use std::time::{Duration, Instant};

fn main() {
    // Before this call the facades are std: OS threads, blocking sleeps.
    let patched = monkey::patch_all(monkey::PatchAll::default()).expect("patch");
    println!("patched: {:?}", patched.modules());
    let start = Instant::now();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(100));
                i
            })
        })
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // 10,000 green threads slept at once on one OS thread.
    println!("sum {sum} in {:?}", start.elapsed());
}
