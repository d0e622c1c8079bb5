//! Internal crate.
