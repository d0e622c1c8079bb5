//! `queue`: `std::sync::mpsc` and gevent's queue family — blocking the OS
//! thread until `patch_all()`, only the green thread after it.
//!
//! # Model
//!
//! Every channel and queue takes its flavor when it is made, from the
//! module's flavor items, and keeps it; clones and both halves of a
//! channel share it.
//!
//! | item | blocking flavor | green flavor |
//! |---|---|---|
//! | `queue.channel`, `queue.sync_channel` | `std::sync::mpsc` | `greenpatch_runtime::mpsc` |
//! | `queue.Queue`, `queue.LifoQueue`, `queue.PriorityQueue` | a std `Mutex` + `Condvar` queue (this crate) | `greenpatch_runtime::queue` |
//!
//! The error types are shared by both flavors: std's channel errors, and
//! the runtime's [`Empty`], [`Full`] and [`TaskDoneError`].
//!
//! # The gevent queues before patching
//!
//! std has no multi-consumer queue, so the blocking flavor of [`Queue`],
//! [`LifoQueue`] and [`PriorityQueue`] is a small std `Mutex` + `Condvar`
//! implementation with the runtime's semantics (maxsize 0 = unbounded,
//! `task_done`/`join` on every queue, `peek`). It does not touch the
//! runtime, so a program that never patches never creates a hub.
//! (The runtime's queue would also work from plain threads, but it would
//! make each waiting OS thread drive a hub.)

mod gevent;
mod mpsc;
mod os;

pub use gevent::{Fifo, GenericQueue, JoinableQueue, Kind, Lifo, LifoQueue, Priority, PriorityQueue, Queue};
pub use greenpatch_runtime::queue::{Empty, Full, TaskDoneError};
pub use mpsc::{channel, sync_channel, IntoIter, Iter, Receiver, Sender, SyncSender, TryIter};
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::flavor::flavor_items;

flavor_items! {
    /// `queue.channel`.
    pub(crate) static CHANNEL = "channel";
    /// `queue.sync_channel`.
    pub(crate) static SYNC_CHANNEL = "sync_channel";
    /// `queue.Queue`.
    pub(crate) static QUEUE = "Queue";
    /// `queue.LifoQueue`.
    pub(crate) static LIFO_QUEUE = "LifoQueue";
    /// `queue.PriorityQueue`.
    pub(crate) static PRIORITY_QUEUE = "PriorityQueue";
}

crate::patchable_module!(builtin, name = "queue", items = [CHANNEL, SYNC_CHANNEL, QUEUE, LIFO_QUEUE, PRIORITY_QUEUE]);
