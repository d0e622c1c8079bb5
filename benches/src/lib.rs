//! Benchmarks for greenpatch, side by side with tokio.
//!
//! Two entry points use this library:
//!
//! - `benches/runtime.rs`: criterion micro benches (spawn+join, park/unpark
//!   ping-pong, yield, the raw corosensei switch), each beside its tokio
//!   `current_thread` equivalent.
//! - `src/bin/versus.rs`: the side-by-side suite, one command
//!   (`cargo run --release -p benches --bin versus`) that runs every
//!   workload on greenpatch, tokio `current_thread` and tokio `multi_thread`,
//!   alternating the runs, and prints a markdown table of medians and ratios
//!   (also written as JSON and as an SVG chart under `target/versus/`).
//!
//! The TCP and HTTP workloads measure servers from a separate client process
//! (`src/bin/echo_client.rs`, `src/bin/http_load.rs`), the same client for
//! every server.
//!
//! Modules: [`harness`] (alternating runs, medians, ratios, targets),
//! [`report`] (markdown, JSON, SVG), [`machine`] (what it ran on),
//! [`child`] (child processes), [`floor`] (raw corosensei switch),
//! [`rts`] (runtime construction), [`work`] (the workloads) and
//! [`clients`] (the echo client and HTTP load generator).

pub mod child;
pub mod clients;
pub mod floor;
pub mod harness;
pub mod machine;
pub mod report;
pub mod rts;
pub mod work;
