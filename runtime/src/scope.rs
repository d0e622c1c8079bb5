//! Scoped green threads: [`scope`], std's `thread::scope` for green threads.
//!
//! # Model
//! [`scope`] runs the caller's closure with a [`Scope`]; green threads
//! spawned through it may borrow from the caller's stack (anything that
//! outlives `'env`). Each child carries a *running guard*, the last thing
//! its closure drops: the guard decrements the scope's count of running
//! children and sets the scope's event at zero. `scope` returns only after
//! the count reached zero.
//!
//! # Soundness (the guarantee the unsafe lifetime erasure relies on)
//! A child's closure is spawned with its lifetime erased to `'static`
//! (`Scope::spawn`); this is sound because `scope` does not return — by
//! value, by panic, or by the parent being killed — before every child's
//! closure, including its captures and its result slot's borrow of the
//! scope, has been dropped:
//! - the count is incremented before the child is spawned and decremented
//!   by the child's guard, which is declared last in the child's job and so
//!   dropped after the closure and everything it captured (also when the
//!   child is killed before it starts and its closure is dropped unrun);
//! - a panic of the caller's closure is caught, the children are waited
//!   for, then the panic resumes;
//! - the wait itself catches unwinds (a kill of the parent, an expired
//!   timeout scope, a would-block-forever report): it then kills every
//!   child and keeps waiting; the first such unwind resumes once all
//!   children are done. So a killed parent kills its children and waits
//!   for them to unwind, then unwinds itself.
//!
//! As with std, if a child panicked and its handle was not joined, `scope`
//! panics after joining them all.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::hub::KillSignal;
use crate::sync::Event;
use crate::{Id, JoinError, JoinHandle};

/// What the scope and its children share (no borrow of the caller's stack).
struct Data {
    running: AtomicUsize,
    zero: Event,
    /// Every child's handle, for kills (never joined: the count is the
    /// join).
    children: Mutex<Vec<JoinHandle<()>>>,
    /// A child panicked and nobody joined its handle.
    unjoined_panic: AtomicBool,
}

impl Data {
    fn kill_children(&self) {
        for h in self.children.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            h.kill();
        }
    }

    /// Waits until no child runs; never unwinds (see the module docs).
    fn wait_children(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let mut first = None;
        loop {
            if self.running.load(Ordering::Acquire) == 0 {
                return first;
            }
            self.zero.clear();
            if self.running.load(Ordering::Acquire) == 0 {
                return first;
            }
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| self.zero.wait())) {
                self.kill_children();
                let blocked_for_good = !p.is::<KillSignal>() && !p.is::<crate::hub::ScopeExpired>();
                first.get_or_insert(p);
                if blocked_for_good {
                    // Nothing could wake this thread; the children were
                    // killed, give them a moment of OS time to unwind.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    }
}

/// Decrements the running count; declared last in a child's job.
struct Running(Arc<Data>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.set();
        }
    }
}

/// A child's outcome, read by its [`ScopedJoinHandle`].
struct Slot<T> {
    outcome: Mutex<Option<Result<T, JoinError>>>,
    done: Event,
    data: Arc<Data>,
}

impl<T> Slot<T> {
    fn finish(&self, r: Result<T, JoinError>) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        self.done.set();
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let o = self.outcome.get_mut().unwrap_or_else(PoisonError::into_inner);
        if matches!(o, Some(Err(JoinError::Panicked(_)))) {
            self.data.unjoined_panic.store(true, Ordering::Release);
        }
    }
}

/// A child's closure with its slot and guard. Field order is drop order:
/// `f`, then `slot`, then `_running` last.
struct Job<F, T> {
    f: Option<F>,
    slot: Arc<Slot<T>>,
    _running: Running,
}

impl<F: FnOnce() -> T, T> Job<F, T> {
    fn run(mut self) {
        let Some(f) = self.f.take() else { return };
        let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => Ok(v),
            Err(p) if p.is::<KillSignal>() => Err(JoinError::Killed),
            Err(p) => Err(JoinError::Panicked(p)),
        };
        self.slot.finish(r);
    }
}

impl<F, T> Drop for Job<F, T> {
    fn drop(&mut self) {
        if self.f.is_some() {
            // Killed before it started: drop the closure first, then report.
            self.f = None;
            self.slot.finish(Err(JoinError::Killed));
        }
    }
}

/// A scope to spawn green threads that borrow from the caller (std's
/// `thread::Scope`).
///
/// ```
/// let mut total = 0;
/// let data = [1, 2, 3];
/// greenpatch_runtime::scope(|s| {
///     s.spawn(|| assert_eq!(data.len(), 3));
///     s.spawn(|| total = data.iter().sum());
/// });
/// assert_eq!(total, 6);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<Data>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The handle of a green thread spawned in a [`Scope`].
///
/// ```
/// let v = vec![1, 2];
/// let n = greenpatch_runtime::scope(|s| s.spawn(|| v.len()).join().unwrap());
/// assert_eq!(n, 2);
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    slot: Arc<Slot<T>>,
    id: Id,
    handle_kill: Arc<Data>,
    index: usize,
    _scope: PhantomData<&'scope ()>,
}

/// Runs `f` with a [`Scope`] and joins every green thread spawned in it
/// before returning (std's `thread::scope`).
///
/// # Panics
/// If `f` panicked (after the children are joined), or if a child
/// panicked and its handle was not joined.
///
/// ```
/// let mut a = vec![1, 2, 3];
/// let x = 0;
/// greenpatch_runtime::scope(|s| {
///     s.spawn(|| println!("x = {x}"));
///     s.spawn(|| a.push(4));
/// });
/// assert_eq!(a.len(), 4);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let data = Arc::new(Data {
        running: AtomicUsize::new(0),
        zero: Event::new(),
        children: Mutex::new(Vec::new()),
        unjoined_panic: AtomicBool::new(false),
    });
    let s = Scope { data: data.clone(), scope: PhantomData, env: PhantomData };
    let r = panic::catch_unwind(AssertUnwindSafe(|| f(&s)));
    if matches!(&r, Err(p) if p.is::<KillSignal>()) {
        data.kill_children();
    }
    let waited = data.wait_children();
    match (r, waited) {
        (Err(p), _) => panic::resume_unwind(p),
        (Ok(_), Some(p)) => panic::resume_unwind(p),
        (Ok(v), None) => {
            if data.unjoined_panic.load(Ordering::Acquire) {
                panic!("a scoped green thread panicked");
            }
            v
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a green thread that may borrow from outside the scope; the
    /// scope joins it before it returns.
    ///
    /// # Panics
    /// As [`crate::spawn`], if no stack can be mapped.
    ///
    /// ```
    /// let s = String::from("hi");
    /// greenpatch_runtime::scope(|sc| {
    ///     let h = sc.spawn(|| s.len());
    ///     assert_eq!(h.join().unwrap(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.data.running.fetch_add(1, Ordering::AcqRel);
        let slot = Arc::new(Slot { outcome: Mutex::new(None), done: Event::new(), data: self.data.clone() });
        let job = Job { f: Some(f), slot: slot.clone(), _running: Running(self.data.clone()) };
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || job.run());
        // SAFETY: the closure (and everything it borrows for 'scope) is
        // dropped before its `Running` guard decrements the scope's count,
        // and `scope` does not return, unwind or let its caller's frame go
        // until that count is zero (module docs: it catches the caller's
        // panic, kills of the parent and failed waits, and keeps waiting).
        // So no borrow the closure holds is used after 'scope ends, which
        // is all that the 'static bound of `spawn` protects.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let site = std::panic::Location::caller();
        let handle = match crate::Builder::new().spawn_site(site).spawn(body) {
            Ok(h) => h,
            Err(e) => panic!("{e}"), // the job was dropped: the count is back
        };
        let id = handle.id();
        let index = {
            let mut c = self.data.children.lock().unwrap_or_else(PoisonError::into_inner);
            c.push(handle);
            c.len() - 1
        };
        ScopedJoinHandle { slot, id, handle_kill: self.data.clone(), index, _scope: PhantomData }
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the green thread and returns its value, or why it has none.
    ///
    /// # Errors
    /// [`JoinError::Panicked`] with the payload, or [`JoinError::Killed`].
    ///
    /// ```
    /// greenpatch_runtime::scope(|s| {
    ///     assert!(s.spawn(|| panic!("x")).join().unwrap_err().is_panic());
    /// });
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        loop {
            self.slot.done.wait();
            if let Some(r) = self.slot.outcome.lock().unwrap_or_else(PoisonError::into_inner).take() {
                return r;
            }
        }
    }

    /// Whether the green thread has finished.
    ///
    /// ```
    /// greenpatch_runtime::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     greenpatch_runtime::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot.done.is_set()
    }

    /// Asks the green thread to unwind at its next blocking point.
    ///
    /// ```
    /// greenpatch_runtime::scope(|s| {
    ///     let h = s.spawn(|| greenpatch_runtime::sleep(std::time::Duration::from_secs(60)));
    ///     h.kill();
    ///     assert!(h.join().unwrap_err().is_killed());
    /// });
    /// ```
    pub fn kill(&self) {
        if let Some(h) = self.handle_kill.children.lock().unwrap_or_else(PoisonError::into_inner).get(self.index) {
            h.kill();
        }
    }

    /// The green thread's id.
    ///
    /// ```
    /// greenpatch_runtime::scope(|s| { let _ = s.spawn(|| ()).id(); });
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    pub(crate) fn event(&self) -> &Event {
        &self.slot.done
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("running", &self.data.running.load(Ordering::Relaxed)).finish()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle").field("id", &self.id).finish()
    }
}
