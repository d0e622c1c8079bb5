//! Deferred green threads: [`spawn_later`] (gevent's `spawn_later`).
//!
//! # Model
//! `spawn_later(delay, f)` spawns at once a green thread that sleeps for
//! `delay` and then claims the right to run `f`; [`Later::cancel`] claims
//! it first. The claim is one compare-and-swap on a shared state
//! (`WAITING` → `STARTED` or `CANCELLED`), so `f` runs iff `cancel` returned
//! `false`. A cancel also kills the sleeping thread, so it leaves at once.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering::AcqRel};
use std::sync::Arc;
use std::time::Duration;

use crate::{Id, JoinError, JoinHandle};

const WAITING: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

/// Runs `f` in a green thread after `delay`, unless cancelled first.
///
/// # Panics
/// As [`crate::spawn`], if no stack can be mapped.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// let later = greenpatch_runtime::spawn_later(Duration::from_millis(20), || 5);
/// assert_eq!(later.join().unwrap(), 5);
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
#[track_caller]
pub fn spawn_later<F, T>(delay: Duration, f: F) -> Later<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let state = Arc::new(AtomicU8::new(WAITING));
    let s = state.clone();
    let site = std::panic::Location::caller();
    let handle = match crate::Builder::new().spawn_site(site).spawn(move || {
        crate::sleep(delay);
        match s.compare_exchange(WAITING, STARTED, AcqRel, std::sync::atomic::Ordering::Acquire) {
            Ok(_) => Some(f()),
            Err(_) => None,
        }
    }) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    Later { handle, state }
}

/// The handle of a [`spawn_later`] call: cancel it, kill it, join it.
///
/// ```
/// use std::time::Duration;
/// let later = greenpatch_runtime::spawn_later(Duration::from_secs(60), || ());
/// assert!(later.cancel());
/// assert!(later.join().unwrap_err().is_killed());
/// ```
pub struct Later<T> {
    handle: JoinHandle<Option<T>>,
    state: Arc<AtomicU8>,
}

impl<T> Later<T> {
    /// Cancels the call if `f` has not started; returns whether it was
    /// cancelled (then `f` never runs, and `join` reports a kill).
    ///
    /// ```
    /// use std::time::Duration;
    /// let later = greenpatch_runtime::spawn_later(Duration::from_millis(1), || ());
    /// greenpatch_runtime::sleep(Duration::from_millis(30));
    /// assert!(!later.cancel()); // already ran
    /// ```
    pub fn cancel(&self) -> bool {
        let won = self.state.compare_exchange(WAITING, CANCELLED, AcqRel, std::sync::atomic::Ordering::Acquire).is_ok();
        if won {
            self.handle.kill();
        }
        won
    }

    /// Kills the green thread, whether it waits or already runs `f`
    /// (gevent's `kill`).
    ///
    /// ```
    /// let later = greenpatch_runtime::spawn_later(std::time::Duration::ZERO, || ());
    /// later.kill();
    /// let _ = later.join();
    /// ```
    pub fn kill(&self) {
        let _ = self.state.compare_exchange(WAITING, CANCELLED, AcqRel, std::sync::atomic::Ordering::Acquire);
        self.handle.kill();
    }

    /// Waits for `f`'s value.
    ///
    /// # Errors
    /// [`JoinError::Killed`] if cancelled or killed; the panic if `f`
    /// panicked.
    ///
    /// ```
    /// let later = greenpatch_runtime::spawn_later(std::time::Duration::ZERO, || 1);
    /// assert_eq!(later.join().unwrap(), 1);
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        match self.handle.join()? {
            Some(v) => Ok(v),
            None => Err(JoinError::Killed),
        }
    }

    /// Whether the green thread has finished (ran, or was cancelled).
    ///
    /// ```
    /// let later = greenpatch_runtime::spawn_later(std::time::Duration::from_secs(9), || ());
    /// assert!(!later.is_finished());
    /// later.cancel();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The green thread's id.
    ///
    /// ```
    /// let later = greenpatch_runtime::spawn_later(std::time::Duration::ZERO, || ());
    /// let _ = later.id();
    /// ```
    pub fn id(&self) -> Id {
        self.handle.id()
    }

    pub(crate) fn handle_mut(&mut self) -> &mut JoinHandle<Option<T>> {
        &mut self.handle
    }
}

impl<T> fmt::Debug for Later<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Later").field("id", &self.handle.id()).finish()
    }
}
