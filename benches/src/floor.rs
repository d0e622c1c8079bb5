//! The physical floor of a green-thread switch: one raw corosensei
//! `resume` + `suspend` pair on a coroutine that is created once and reused,
//! with no scheduler, no run queue and no bookkeeping around it.
//!
//! A green thread that yields costs at least one such pair (suspend to the
//! hub, resume the next one); a park/unpark round trip between two green
//! threads costs at least two.

use std::hint::black_box;
use std::time::{Duration, Instant};

use corosensei::{Coroutine, CoroutineResult};

/// A coroutine that suspends forever: each [`RawSwitch::switch`] is one
/// resume into it and one suspend back out.
pub struct RawSwitch {
    co: Coroutine<u64, u64, ()>,
}

impl RawSwitch {
    /// Maps the coroutine's stack and starts nothing yet.
    pub fn new() -> RawSwitch {
        RawSwitch {
            co: Coroutine::new(|y, mut v: u64| loop {
                v = y.suspend(v.wrapping_add(1));
            }),
        }
    }

    /// One resume + suspend pair.
    #[inline]
    pub fn switch(&mut self, v: u64) -> u64 {
        match self.co.resume(v) {
            CoroutineResult::Yield(r) => r,
            CoroutineResult::Return(()) => unreachable!("the floor coroutine never returns"),
        }
    }

    /// Runs `n` pairs and returns the elapsed time.
    pub fn run(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        let mut v = 0;
        for _ in 0..n {
            v = self.switch(black_box(v));
        }
        black_box(v);
        start.elapsed()
    }
}

impl Default for RawSwitch {
    fn default() -> RawSwitch {
        RawSwitch::new()
    }
}
