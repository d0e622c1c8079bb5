//! Waits on descriptors greenpatch does not own, for driver plugins.
//!
//! A driver (a database client, a TLS library, a bridge to another event
//! loop) often owns a connection it drives itself with non-blocking calls.
//! When such a call says "would block", the driver calls
//! [`wait_readable`] or [`wait_writable`] and retries: in a green thread
//! only that green thread blocks; from plain code the OS thread blocks
//! while it runs its own hub. A driver therefore needs `greenpatch` and
//! the plugin API ([`crate::plugins`]) only.
//!
//! # Model
//! Each wait watches the descriptor oneshot, so nothing lingers after it
//! returns. Readiness is a hint: retry the operation, and wait again when
//! it still would block. The descriptor must stay open during the wait.
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use greenpatch::io::{wait_readable, wait_writable};
//! use greenpatch::thread;
//!
//! // The driver's own, non-blocking connection.
//! let (mut ours, mut peer) = UnixStream::pair().unwrap();
//! ours.set_nonblocking(true).unwrap();
//! let writer = thread::spawn(move || {
//!     thread::sleep(Duration::from_millis(20));
//!     peer.write_all(b"pong").unwrap();
//! });
//!
//! assert!(wait_writable(ours.as_raw_fd(), Some(Duration::from_secs(5))).unwrap());
//! let mut buf = [0; 4];
//! let n = loop {
//!     match ours.read(&mut buf) {
//!         Ok(n) => break n,
//!         Err(e) if e.kind() == ErrorKind::WouldBlock => {
//!             // Parks only this green thread (or runs this thread's hub).
//!             let ready = wait_readable(ours.as_raw_fd(), Some(Duration::from_secs(5))).unwrap();
//!             assert!(ready, "the peer writes within 5 s");
//!         }
//!         Err(e) => panic!("{e}"),
//!     }
//! };
//! assert_eq!(&buf[..n], b"pong");
//! writer.join().unwrap();
//! ```

pub use greenpatch_runtime::{wait_readable, wait_writable};
