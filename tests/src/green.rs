//! Running N calls as N green threads on the calling OS thread and timing
//! them: the measure of "overlap" the `libc` patch module's tests assert.
//!
//! # Model
//!
//! [`overlap`] spawns every call as a green thread on the calling thread's
//! hub (made lazily), joins them all, and returns the wall time with each
//! call's result. Every green thread records the OS thread it ran on, and
//! [`overlap`] checks they are all the caller's: the calls shared one OS
//! thread, so a wall time close to one call's (not the sum) means they
//! waited at the same time.

use std::time::{Duration, Instant};

/// Stack size for green threads that run C libraries (libpq, libcurl):
/// larger than the runtime's default, untouched pages cost nothing.
pub const C_STACK: usize = 1024 * 1024;

/// Runs `call(0)`..`call(n - 1)` as `n` green threads on this OS thread;
/// returns the wall time and the results in order.
///
/// # Panics
///
/// If a call panics, or a green thread ran on another OS thread.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// let (wall, got) = tests::green::overlap(10, |i| {
///     greenpatch_runtime::sleep(Duration::from_millis(100));
///     i * 2
/// });
/// assert_eq!(got[9], 18);
/// assert!(wall < Duration::from_millis(900), "{wall:?}");
/// ```
pub fn overlap<T, F>(n: usize, call: F) -> (Duration, Vec<T>)
where
    T: Send + 'static,
    F: Fn(usize) -> T + Clone + Send + 'static,
{
    let me = std::thread::current().id();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let call = call.clone();
            greenpatch_runtime::Builder::new()
                .name(format!("client-{i}"))
                .stack_size(C_STACK)
                .spawn(move || (std::thread::current().id(), call(i)))
                .expect("spawn a green thread")
        })
        .collect();
    let results: Vec<T> = handles
        .into_iter()
        .map(|h| {
            let (ran_on, r) = h.join().unwrap_or_else(|e| panic!("a green thread failed: {e}"));
            assert_eq!(ran_on, me, "a green thread ran on another OS thread");
            r
        })
        .collect();
    (start.elapsed(), results)
}
