//! Futures from green threads: [`block_on`] runs a `Future` to completion,
//! parking only the calling green thread between polls.
//!
//! # Model
//!
//! The future is pinned on the caller's stack and polled there, on the
//! caller's hub. Its [`Waker`] holds the caller's [`Unparker`] and a small
//! state word (`IDLE`, `NOTIFIED`, `DONE`): a wake moves `IDLE` to
//! `NOTIFIED` and unparks, from any OS thread (a tokio worker, a callback
//! thread, another hub); the caller, between polls, parks until it finds
//! `NOTIFIED`. From plain code (a root) the OS thread blocks while it runs
//! its own hub, as every blocking call of the runtime does.
//!
//! # Invariants
//!
//! - A wake that lands while the future is being polled is not lost: the
//!   state stays `NOTIFIED` and the caller polls again before parking.
//! - Wakers the future handed out and keeps after `block_on` returned (a
//!   timer in another runtime, say) find `DONE` and do nothing, so a
//!   finished `block_on` never unparks its green thread later.
//! - A kill or the end of a [`with_timeout`](crate::with_timeout) scope
//!   unwinds out of the park; the pinned future is dropped on the way out
//!   (cancelling whatever it started, as dropping a future does).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::deadlock::WouldBlockForever;
use crate::park::{current, park_until, Unparker};
use crate::task::WaitOn;

const IDLE: u8 = 0;
const NOTIFIED: u8 = 1;
const DONE: u8 = 2;

/// The waker of one `block_on` call.
struct Signal {
    state: AtomicU8,
    unparker: Unparker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.compare_exchange(IDLE, NOTIFIED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.unparker.unpark();
        }
    }
}

/// Marks the signal `DONE` however `block_on` ends (value, kill, timeout).
struct Finish<'a>(&'a Signal);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.state.store(DONE, Ordering::Release);
    }
}

/// Runs `future` to completion on the calling green thread (or root),
/// parking only it while the future is pending.
///
/// The future's waker may be used from any OS thread. A kill, or the end
/// of an enclosing [`with_timeout`](crate::with_timeout) scope, unwinds out
/// of the wait and drops the future.
///
/// # Errors
/// From plain code (a root) only: [`WouldBlockForever`] when the future is
/// pending and no thread of the process can ever wake it (the future is
/// dropped). A thread the runtime does not know about (a tokio worker, say)
/// could, so such a wait never reports it.
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime as rt;
///
/// // A future completed by a plain OS thread: only this green thread waits.
/// let h = rt::spawn(|| {
///     let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
///     let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
///     let d = done.clone();
///     std::thread::spawn(move || {
///         let w = rx.recv().unwrap();
///         std::thread::sleep(Duration::from_millis(20));
///         d.store(true, std::sync::atomic::Ordering::Release);
///         w.wake();
///     });
///     let mut tx = Some(tx);
///     rt::block_on(std::future::poll_fn(move |cx| {
///         if done.load(std::sync::atomic::Ordering::Acquire) {
///             return std::task::Poll::Ready(42);
///         }
///         if let Some(tx) = tx.take() {
///             tx.send(cx.waker().clone()).unwrap();
///         }
///         std::task::Poll::Pending
///     }))
/// });
/// assert_eq!(h.join().unwrap().unwrap(), 42);
/// assert_eq!(rt::block_on(async { 7 }).unwrap(), 7); // from root code too
/// ```
pub fn block_on<F: Future>(future: F) -> Result<F::Output, WouldBlockForever> {
    let signal = Arc::new(Signal { state: AtomicU8::new(IDLE), unparker: current().unparker() });
    let _finish = Finish(&signal);
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        // Park until a wake arrives; an unpark meant for something else
        // (a stale token) only costs one more look at the state.
        while signal.state.compare_exchange(NOTIFIED, IDLE, Ordering::AcqRel, Ordering::Acquire).is_err() {
            park_until(None, WaitOn::named("future"))?;
        }
    }
}
