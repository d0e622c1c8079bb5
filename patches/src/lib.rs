//! gevent for Rust: std-like facades that turn green after
//! [`monkey::patch_all()`].
//!
//! (Crate documentation stub: the lead merges the facades and the full
//! overview.)

pub mod monkey;
