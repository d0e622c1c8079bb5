//! The workloads of the side-by-side suite, one module per kind, and the
//! registry [`all`] that `versus` runs (or `--only NAME` picks from).
//!
//! Every workload is written once per side the way a user of that runtime
//! would write it, with the same sizes, buffer sizes and message counts on
//! both sides.

use crate::harness::{Config, Workload};

pub mod channel;
pub mod echo;
pub mod facade;
pub mod http;
pub mod libc;
pub mod memory;
pub mod mutex;
pub mod server;
pub mod spawn;
pub mod switch;
pub mod timers;

/// A named workload constructor.
pub struct Entry {
    /// `--only` name.
    pub id: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Builds the workload (runtimes, servers) for a configuration.
    pub make: fn(&Config) -> Workload,
}

/// Every workload, in table order.
pub fn all() -> Vec<Entry> {
    vec![
        Entry { id: "spawn", about: "spawn+join of 1,000,000 in waves of 10,000", make: spawn::workload },
        Entry { id: "pingpong", about: "park/unpark ping-pong between two green threads", make: switch::pingpong },
        Entry { id: "yield", about: "yield_now between two green threads", make: switch::yielding },
        Entry { id: "mpsc1", about: "ping-pong through two mpsc channels of capacity 1", make: channel::bounded1 },
        Entry { id: "unbounded", about: "one-way throughput of an unbounded channel", make: channel::unbounded },
        Entry { id: "mutex", about: "1,000 threads x 100 increments, yield inside the lock", make: mutex::workload },
        Entry { id: "timers", about: "100,000 x sleep(10 ms)", make: timers::workload },
        Entry { id: "memory", about: "RSS + page tables per idle green thread / task", make: memory::workload },
        Entry {
            id: "million",
            about: "1,000,000 live idle green threads: time to spawn, memory",
            make: memory::million,
        },
        Entry { id: "echo1", about: "TCP echo, 1 connection: round trips/s and latency", make: echo::one },
        Entry { id: "echo64", about: "TCP echo, 64 connections, one hub", make: echo::many },
        Entry { id: "echo64-mt", about: "TCP echo, 64 connections, 2 hubs vs 2 workers", make: echo::many_mt },
        Entry { id: "http", about: "HTTP/1.1 hello, keep-alive: green sockets vs tokio + hyper", make: http::hyper },
        Entry { id: "http-same", about: "HTTP/1.1 hello: the same hand-written server on both", make: http::same },
        Entry { id: "http-mt", about: "HTTP/1.1 hello, 2 hubs vs tokio + hyper on 2 workers", make: http::hyper_mt },
        Entry {
            id: "facade",
            about: "facade dispatch after patch_all vs a direct runtime call",
            make: facade::workload,
        },
        Entry {
            id: "libc-recv",
            about: "libc hook pass-through: recv -> EAGAIN, hooked vs original",
            make: libc::recv,
        },
        Entry {
            id: "libc-echo64",
            about: "TCP echo, 64 conns: green sockets with libc patched vs not",
            make: libc::echo64,
        },
        Entry {
            id: "libc-std-echo64",
            about: "TCP echo, 64 conns: unmodified std::net server green via the libc hooks",
            make: libc::std_echo64,
        },
    ]
}
