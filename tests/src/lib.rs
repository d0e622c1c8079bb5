//! Black-box tests of greenpatch across its crates.
//!
//! The behaviours live in `tests/*.rs`; `src/bin/gp-child.rs` is a helper
//! program the tests start when a behaviour needs its own process (a stack
//! overflow aborts it; would-block-forever needs a process whose every
//! thread is known to the runtime).
