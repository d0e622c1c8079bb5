//! Black-box tests of greenpatch across its crates.
//!
//! The behaviours live in `tests/*.rs`; `src/bin/gp-child.rs` is a helper
//! program the tests start when a behaviour needs its own process (a stack
//! overflow aborts it; would-block-forever needs a process whose every
//! thread is known to the runtime).
//!
//! For the `libc` patch module's tests (`tests/libc_real.rs`,
//! `tests/libc_unpatched.rs`): [`servers`] starts real servers (Debian's
//! `redis-server` and PostgreSQL, small std HTTP and echo servers) on free
//! loopback ports; [`cnet`] is a small C socket client built with the `cc`
//! crate; [`green`] runs N calls as green threads on one OS thread and
//! times them.

pub mod cnet;
pub mod green;
pub mod servers;
