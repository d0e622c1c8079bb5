//! One-shot result cells (gevent's `AsyncResult`).
//!
//! # Model
//! An [`AsyncResult`] is shared (`Clone` shares the cell) and is set once,
//! with a value or a [`Failure`] (an error or a captured panic); every
//! waiter, before or after the set, gets a clone of the outcome. The
//! outcome sits behind a short std `Mutex` (never held across a wait); an
//! [`Event`] carries the wake-ups, so waiting parks only the calling green
//! thread and works from plain threads too.
//!
//! # Invariant
//! The outcome is written at most once, before the event is set; a reader
//! that saw the event set finds it (the mutex orders the two).

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::sync::Event;

/// Why an [`AsyncResult`] holds no value: gevent's "exception" half.
#[derive(Clone, Debug)]
pub enum Failure {
    /// Set with [`AsyncResult::set_error`].
    Error(Arc<dyn std::error::Error + Send + Sync>),
    /// The computation panicked ([`AsyncResult::set_panic`] or
    /// [`AsyncResult::run`]); the panic's message.
    Panicked(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(e) => write!(f, "{e}"),
            Failure::Panicked(m) => write!(f, "panicked: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

/// The message of a panic payload (`&str` or `String`), as std prints it.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// The error of a second set: the cell keeps its first outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadySet;

impl fmt::Display for AlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the AsyncResult was already set; it keeps its first outcome")
    }
}

impl std::error::Error for AlreadySet {}

struct Inner<T> {
    outcome: Mutex<Option<Result<T, Failure>>>,
    ready: Event,
}

/// A one-shot, many-waiter result cell (gevent's `AsyncResult`).
///
/// ```
/// use greenpatch_runtime::cell::AsyncResult;
/// let r = AsyncResult::new();
/// let w = { let r = r.clone(); greenpatch_runtime::spawn(move || r.get()) };
/// r.set(7).unwrap();
/// assert_eq!(w.join().unwrap().unwrap(), 7);
/// assert!(r.set(8).is_err()); // set once
/// ```
pub struct AsyncResult<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult { inner: self.inner.clone() }
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T> AsyncResult<T> {
    /// An empty cell.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// assert!(!r.ready());
    /// ```
    pub fn new() -> AsyncResult<T> {
        AsyncResult { inner: Arc::new(Inner { outcome: Mutex::new(None), ready: Event::new() }) }
    }

    fn put(&self, o: Result<T, Failure>) -> Result<(), AlreadySet> {
        {
            let mut g = self.inner.outcome.lock().unwrap_or_else(PoisonError::into_inner);
            if g.is_some() {
                return Err(AlreadySet);
            }
            *g = Some(o);
        }
        self.inner.ready.set();
        Ok(())
    }

    /// Sets the value and wakes every waiter.
    ///
    /// # Errors
    /// [`AlreadySet`] if the cell already has an outcome.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::new();
    /// r.set("v").unwrap();
    /// assert!(r.successful());
    /// ```
    pub fn set(&self, value: T) -> Result<(), AlreadySet> {
        self.put(Ok(value))
    }

    /// Sets an error (gevent's `set_exception`) and wakes every waiter.
    ///
    /// # Errors
    /// [`AlreadySet`] if the cell already has an outcome.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// r.set_error(std::io::Error::other("no")).unwrap();
    /// assert!(r.get().is_err());
    /// ```
    pub fn set_error(&self, e: impl std::error::Error + Send + Sync + 'static) -> Result<(), AlreadySet> {
        self.put(Err(Failure::Error(Arc::new(e))))
    }

    /// Sets a captured panic (from `catch_unwind` or a `JoinError`).
    ///
    /// # Errors
    /// [`AlreadySet`] if the cell already has an outcome.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// let p = std::panic::catch_unwind(|| panic!("bad")).unwrap_err();
    /// r.set_panic(p).unwrap();
    /// assert_eq!(r.get().unwrap_err().to_string(), "panicked: bad");
    /// ```
    pub fn set_panic(&self, payload: Box<dyn Any + Send>) -> Result<(), AlreadySet> {
        self.put(Err(Failure::Panicked(panic_message(&*payload))))
    }

    /// Runs `f` and sets its value, or its panic (which does not unwind
    /// further).
    ///
    /// # Errors
    /// [`AlreadySet`] if the cell already has an outcome.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// r.run(|| panic!("inside")).unwrap();
    /// assert!(matches!(r.get(), Err(greenpatch_runtime::cell::Failure::Panicked(_))));
    /// ```
    pub fn run(&self, f: impl FnOnce() -> T) -> Result<(), AlreadySet> {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => self.set(v),
            Err(p) => self.set_panic(p),
        }
    }

    /// Whether the cell has an outcome.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::new();
    /// r.set(()).unwrap();
    /// assert!(r.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.inner.ready.is_set()
    }

    /// Whether the cell holds a value (not a failure).
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// assert!(!r.successful());
    /// ```
    pub fn successful(&self) -> bool {
        matches!(*self.inner.outcome.lock().unwrap_or_else(PoisonError::into_inner), Some(Ok(_)))
    }

    /// Waits (green) until the cell is set; returns at once if it is.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::new();
    /// r.set(1).unwrap();
    /// r.wait();
    /// ```
    pub fn wait(&self) {
        self.inner.ready.wait();
    }

    /// Waits at most `timeout`; returns whether the cell is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = greenpatch_runtime::cell::AsyncResult::<()>::new();
    /// assert!(!r.wait_timeout(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.ready.wait_timeout(timeout)
    }

    pub(crate) fn event(&self) -> &Event {
        &self.inner.ready
    }
}

impl<T: Clone> AsyncResult<T> {
    /// Waits until the cell is set and returns a clone of its outcome.
    ///
    /// # Errors
    /// The [`Failure`] it was set with.
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::new();
    /// r.set(String::from("x")).unwrap();
    /// assert_eq!(r.get().unwrap(), "x");
    /// assert_eq!(r.get().unwrap(), "x"); // many readers
    /// ```
    pub fn get(&self) -> Result<T, Failure> {
        loop {
            self.wait();
            if let Some(o) = self.peek() {
                return o;
            }
        }
    }

    /// As [`get`](AsyncResult::get), waiting at most `timeout`; `None` if
    /// the cell is still empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// assert!(r.get_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Option<Result<T, Failure>> {
        self.wait_timeout(timeout);
        self.peek()
    }

    /// The outcome now, without waiting (gevent's `get(block=False)`).
    ///
    /// ```
    /// let r = greenpatch_runtime::cell::AsyncResult::<u8>::new();
    /// assert!(r.peek().is_none());
    /// ```
    pub fn peek(&self) -> Option<Result<T, Failure>> {
        self.inner.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult").field("ready", &self.ready()).finish()
    }
}
