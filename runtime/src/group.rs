//! Groups and pools of green threads (gevent's `Group` and `Pool`, tokio's
//! `JoinSet`).
//!
//! # Model
//! A [`Group`] owns the join handles of its members and one completion
//! channel. Every member's closure carries a *done guard*: when the closure
//! returns, unwinds (panic, kill) or is dropped unstarted (killed before it
//! ran), the guard releases the member's pool permit and sends the member's
//! key on the channel. [`Group::join_next`] receives a key and joins that
//! member, so members are reaped in completion order without polling.
//!
//! A *bounded* group ([`Group::bounded`], gevent's `Pool(size)`) holds a
//! [`Semaphore`] of `size` permits: [`Group::spawn`] takes a permit before
//! spawning (waiting, green, for a free slot) and the done guard gives it
//! back, so at most `size` members run at once.
//!
//! # Invariants
//! - Every member sends its key exactly once (the guard is moved into the
//!   closure; the closure runs at most once and is dropped exactly once).
//! - `members` holds exactly the members whose key has not been received
//!   and joined yet; `join_next` returns `None` only when it is empty.
//! - A permit is released once per member, by its guard, never by the group.
//!
//! Dropping a group kills its members (as tokio's `JoinSet`); they unwind at
//! their next blocking point. Use [`Group::join_all`] to wait instead.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use crate::sync::Semaphore;
use crate::{Elapsed, Id, JoinError, JoinHandle};

/// What a member's closure carries: on drop (return, unwind or drop
/// unstarted) it frees the member's slot and reports the member done.
struct Done {
    key: u64,
    tx: Sender<u64>,
    permit: Option<Arc<Semaphore>>,
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(s) = &self.permit {
            s.release();
        }
        // The group may be gone (dropped): nobody to tell.
        let _ = self.tx.send(self.key);
    }
}

/// One member's outcome: its id and its value or why it has none (a panic
/// payload, a kill).
pub type Outcome<T> = (Id, Result<T, JoinError>);

/// A set of green threads joined together (gevent's `Group`, tokio's
/// `JoinSet`); made with [`Group::bounded`] it is gevent's `Pool`.
///
/// Works from green threads and from plain threads (which drive their hub
/// while they wait). The members are green threads whether or not the
/// program is patched, as in gevent.
///
/// ```
/// use greenpatch_runtime::group::Group;
/// let mut g = Group::new();
/// for i in 0..5u32 {
///     g.spawn(move || i * 10);
/// }
/// let mut sum: u32 = g.join_all().into_iter().map(|(_, r)| r.unwrap()).sum();
/// assert_eq!(sum, 100);
/// ```
pub struct Group<T> {
    members: HashMap<u64, JoinHandle<T>>,
    /// Outcomes already joined (by a mapper, for members it did not spawn)
    /// and not yet handed out; counted as members.
    reaped: VecDeque<Outcome<T>>,
    tx: Sender<u64>,
    rx: Receiver<u64>,
    next_key: u64,
    limit: Option<(usize, Arc<Semaphore>)>,
}

/// gevent's name for a bounded [`Group`]: make one with
/// [`Pool::bounded`](Group::bounded).
///
/// ```
/// use greenpatch_runtime::group::Pool;
/// let mut pool: Pool<u32> = Pool::bounded(2);
/// let squares = pool.map(0..4u32, |i| i * i);
/// assert_eq!(squares.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 4, 9]);
/// ```
pub type Pool<T> = Group<T>;

impl<T: Send + 'static> Default for Group<T> {
    fn default() -> Self {
        Group::new()
    }
}

impl<T: Send + 'static> Group<T> {
    /// An empty, unbounded group.
    ///
    /// ```
    /// let g = greenpatch_runtime::group::Group::<()>::new();
    /// assert!(g.is_empty());
    /// ```
    pub fn new() -> Group<T> {
        let (tx, rx) = mpsc::channel();
        Group { members: HashMap::new(), reaped: VecDeque::new(), tx, rx, next_key: 0, limit: None }
    }

    /// An empty group that runs at most `size` members at once (gevent's
    /// `Pool(size)`): [`spawn`](Group::spawn) waits for a free slot. A
    /// `size` of 0 is taken as 1.
    ///
    /// ```
    /// let mut pool = greenpatch_runtime::group::Pool::bounded(3);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.size(), Some(3));
    /// pool.join_all();
    /// ```
    pub fn bounded(size: usize) -> Group<T> {
        let size = size.max(1);
        let mut g = Group::new();
        g.limit = Some((size, Arc::new(Semaphore::new(size))));
        g
    }

    /// The bound of a pool, `None` for an unbounded group.
    ///
    /// ```
    /// assert_eq!(greenpatch_runtime::group::Group::<()>::new().size(), None);
    /// ```
    pub fn size(&self) -> Option<usize> {
        self.limit.as_ref().map(|(n, _)| *n)
    }

    /// Free slots of a pool now (gevent's `free_count`); `None` for an
    /// unbounded group.
    ///
    /// ```
    /// let p = greenpatch_runtime::group::Pool::<()>::bounded(4);
    /// assert_eq!(p.free_count(), Some(4));
    /// ```
    pub fn free_count(&self) -> Option<usize> {
        self.limit.as_ref().map(|(_, s)| s.available())
    }

    /// Members not yet joined (running, or finished and waiting to be
    /// reaped).
    ///
    /// ```
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// g.spawn(|| 1);
    /// assert_eq!(g.len(), 1);
    /// g.join_all();
    /// assert_eq!(g.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.members.len() + self.reaped.len()
    }

    /// Whether the group has no members left to join.
    ///
    /// ```
    /// assert!(greenpatch_runtime::group::Group::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spawns `f` as a member and returns its id. A pool first waits
    /// (parking only the calling green thread) until a slot is free.
    ///
    /// # Panics
    /// As [`crate::spawn`], if no stack can be mapped.
    ///
    /// ```
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// let id = g.spawn(|| "hi");
    /// let (who, r) = g.join_next().unwrap();
    /// assert_eq!((who, r.unwrap()), (id, "hi"));
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, f: F) -> Id
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self.limit.as_ref().map(|(_, s)| {
            s.acquire();
            s.clone()
        });
        self.spawn_with(permit, f)
    }

    /// Spawns `f` if a slot is free now; gives `f` back otherwise.
    ///
    /// # Errors
    /// `Err(f)` when the pool is full.
    ///
    /// ```
    /// let mut p = greenpatch_runtime::group::Pool::bounded(1);
    /// p.spawn(|| greenpatch_runtime::sleep(std::time::Duration::from_millis(20)));
    /// assert!(p.try_spawn(|| ()).is_err());
    /// p.join_all();
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&mut self, f: F) -> Result<Id, F>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match &self.limit {
            Some((_, s)) if !s.try_acquire() => return Err(f),
            Some((_, s)) => Some(s.clone()),
            None => None,
        };
        Ok(self.spawn_with(permit, f))
    }

    #[track_caller]
    fn spawn_with<F>(&mut self, permit: Option<Arc<Semaphore>>, f: F) -> Id
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let key = self.next_key;
        self.next_key += 1;
        let done = Done { key, tx: self.tx.clone(), permit };
        let site = std::panic::Location::caller();
        let h = match crate::Builder::new().spawn_site(site).spawn(move || {
            let _done = done;
            f()
        }) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        };
        let id = h.id();
        self.members.insert(key, h);
        id
    }

    /// Joins the next member to finish: its id and outcome, or `None` when
    /// the group is empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenpatch_runtime::{group::Group, sleep};
    /// let mut g = Group::new();
    /// g.spawn(|| { sleep(Duration::from_millis(30)); "slow" });
    /// g.spawn(|| "fast");
    /// assert_eq!(g.join_next().unwrap().1.unwrap(), "fast");
    /// assert_eq!(g.join_next().unwrap().1.unwrap(), "slow");
    /// assert!(g.join_next().is_none());
    /// ```
    pub fn join_next(&mut self) -> Option<Outcome<T>> {
        self.join_next_deadline(None).ok().flatten()
    }

    /// As [`join_next`](Group::join_next), giving up after `timeout`.
    ///
    /// # Errors
    /// [`Elapsed`] if no member finished in time (none is lost: they stay
    /// in the group).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// g.spawn(|| greenpatch_runtime::sleep(Duration::from_secs(5)));
    /// assert!(g.join_next_timeout(Duration::from_millis(10)).is_err());
    /// g.kill_all();
    /// ```
    pub fn join_next_timeout(&mut self, timeout: Duration) -> Result<Option<Outcome<T>>, Elapsed> {
        self.join_next_deadline(Some(Instant::now() + timeout)).map_err(|()| Elapsed { limit: timeout })
    }

    fn join_next_deadline(&mut self, deadline: Option<Instant>) -> Result<Option<Outcome<T>>, ()> {
        if let Some(o) = self.reaped.pop_front() {
            return Ok(Some(o));
        }
        self.join_next_deadline_inner(deadline)
    }

    /// The next member to finish, leaving `reaped` alone.
    fn join_next_deadline_fresh(&mut self) -> Result<Option<Outcome<T>>, ()> {
        self.join_next_deadline_inner(None)
    }

    fn join_next_deadline_inner(&mut self, deadline: Option<Instant>) -> Result<Option<Outcome<T>>, ()> {
        loop {
            if self.members.is_empty() {
                return Ok(None);
            }
            let key = match deadline {
                None => match self.rx.recv() {
                    Ok(k) => k,
                    Err(_) => return Ok(None), // unreachable: we hold a sender
                },
                Some(d) => match self.rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                    Ok(k) => k,
                    Err(RecvTimeoutError::Timeout) => return Err(()),
                    Err(RecvTimeoutError::Disconnected) => return Ok(None),
                },
            };
            if let Some(h) = self.members.remove(&key) {
                let id = h.id();
                return Ok(Some((id, h.join())));
            }
        }
    }

    /// Waits for every member and returns their outcomes in completion
    /// order (gevent's `Group.join()`).
    ///
    /// ```
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// g.spawn(|| panic!("boom"));
    /// g.spawn(|| 1);
    /// let all = g.join_all();
    /// assert_eq!(all.iter().filter(|(_, r)| r.is_ok()).count(), 1);
    /// assert!(all.iter().any(|(_, r)| matches!(r, Err(e) if e.is_panic())));
    /// ```
    pub fn join_all(&mut self) -> Vec<Outcome<T>> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(o) = self.join_next() {
            out.push(o);
        }
        out
    }

    /// Waits up to `timeout` for the members; returns the outcomes of those
    /// that finished (in completion order). The others stay in the group:
    /// [`is_empty`](Group::is_empty) tells whether all were joined.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// g.spawn(|| 1);
    /// g.spawn(|| { greenpatch_runtime::sleep(Duration::from_secs(5)); 2 });
    /// let done = g.join_timeout(Duration::from_millis(50));
    /// assert_eq!(done.len(), 1);
    /// assert_eq!(g.len(), 1);
    /// g.kill_all();
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Vec<Outcome<T>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while let Ok(Some(o)) = self.join_next_deadline(Some(deadline)) {
            out.push(o);
        }
        out
    }

    /// Kills every member and waits until each has unwound (destructors
    /// run); returns their outcomes (those that finished before the kill
    /// keep their values).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// for _ in 0..3 {
    ///     g.spawn(|| greenpatch_runtime::sleep(Duration::from_secs(60)));
    /// }
    /// let all = g.kill_all();
    /// assert!(all.iter().all(|(_, r)| r.as_ref().unwrap_err().is_killed()));
    /// ```
    pub fn kill_all(&mut self) -> Vec<Outcome<T>> {
        for h in self.members.values() {
            h.kill();
        }
        self.join_all()
    }

    /// Kills one member (it unwinds at its next blocking point); `false`
    /// if no member of this group has that id.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut g = greenpatch_runtime::group::Group::new();
    /// let id = g.spawn(|| greenpatch_runtime::sleep(Duration::from_secs(60)));
    /// assert!(g.kill(id));
    /// assert!(g.join_next().unwrap().1.unwrap_err().is_killed());
    /// ```
    pub fn kill(&mut self, id: Id) -> bool {
        match self.members.values().find(|h| h.id() == id) {
            Some(h) => {
                h.kill();
                true
            }
            None => false,
        }
    }

    /// Runs `f` over `items` with the group's bound on concurrency (every
    /// item at once in an unbounded group) and collects the outcomes in
    /// input order (gevent's `Pool.map`).
    ///
    /// ```
    /// let mut p = greenpatch_runtime::group::Pool::bounded(4);
    /// let r = p.map(1..=3u64, |x| x + 1);
    /// assert_eq!(r.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [2, 3, 4]);
    /// ```
    pub fn map<I, F>(&mut self, items: I, f: F) -> Vec<Result<T, JoinError>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        self.imap(items, f).collect()
    }

    /// Lazily runs `f` over `items`, at most the group's bound at once,
    /// yielding the outcomes in input order (gevent's `Pool.imap`).
    ///
    /// ```
    /// let mut p = greenpatch_runtime::group::Pool::bounded(2);
    /// let mut it = p.imap(0..100u32, |x| x * 2);
    /// assert_eq!(it.next().unwrap().unwrap(), 0);
    /// assert_eq!(it.next().unwrap().unwrap(), 2);
    /// ```
    pub fn imap<I, F>(&mut self, items: I, f: F) -> Imap<'_, T, I::IntoIter, F>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        Imap { inner: self.imap_unordered_impl(items, f), next_seq: 0, ready: HashMap::new() }
    }

    /// Lazily runs `f` over `items`, at most the group's bound at once,
    /// yielding the outcomes as they finish (gevent's
    /// `Pool.imap_unordered`).
    ///
    /// ```
    /// let mut p = greenpatch_runtime::group::Pool::bounded(3);
    /// let mut sum: u32 = p.imap_unordered(1..=10u32, |x| x).map(Result::unwrap).sum();
    /// assert_eq!(sum, 55);
    /// ```
    pub fn imap_unordered<I, F>(&mut self, items: I, f: F) -> ImapUnordered<'_, T, I::IntoIter, F>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        ImapUnordered { inner: self.imap_unordered_impl(items, f) }
    }

    fn imap_unordered_impl<I, F>(&mut self, items: I, f: F) -> Mapper<'_, T, I::IntoIter, F>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        Mapper { group: self, items: items.into_iter(), f: Arc::new(f), seq_of: HashMap::new(), next_seq: 0 }
    }
}

impl<T> Drop for Group<T> {
    fn drop(&mut self) {
        for h in self.members.values() {
            h.kill();
        }
    }
}

impl<T> fmt::Debug for Group<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("members", &self.members.len())
            .field("size", &self.limit.as_ref().map(|(n, _)| *n))
            .finish()
    }
}

/// The shared engine of [`Imap`] and [`ImapUnordered`]: keeps up to the
/// bound in flight and hands back `(input position, outcome)`.
struct Mapper<'a, T, I, F> {
    group: &'a mut Group<T>,
    items: I,
    f: Arc<F>,
    /// Input position of each member this mapper spawned.
    seq_of: HashMap<Id, usize>,
    next_seq: usize,
}

impl<T: Send + 'static, I, F> Mapper<'_, T, I, F>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
{
    fn in_flight(&self) -> usize {
        self.seq_of.len()
    }

    fn next_outcome(&mut self) -> Option<(usize, Result<T, JoinError>)> {
        let bound = self.group.size().unwrap_or(usize::MAX);
        while self.in_flight() < bound {
            let Some(item) = self.items.next() else { break };
            let f = self.f.clone();
            let id = self.group.spawn(move || f(item));
            self.seq_of.insert(id, self.next_seq);
            self.next_seq += 1;
        }
        let mut others = Vec::new();
        let mut found = None;
        while self.in_flight() > 0 {
            // Members the caller spawned itself are kept for its own joins.
            let Ok(Some((id, r))) = self.group.join_next_deadline_fresh() else { break };
            match self.seq_of.remove(&id) {
                Some(seq) => {
                    found = Some((seq, r));
                    break;
                }
                None => others.push((id, r)),
            }
        }
        self.group.reaped.extend(others);
        found
    }
}

/// Outcomes of [`Group::imap`], in input order.
///
/// ```
/// let mut p = greenpatch_runtime::group::Pool::bounded(2);
/// let v: Vec<_> = p.imap(["a", "b"], |s| s.len()).map(Result::unwrap).collect();
/// assert_eq!(v, [1, 1]);
/// ```
pub struct Imap<'a, T, I, F> {
    inner: Mapper<'a, T, I, F>,
    next_seq: usize,
    ready: HashMap<usize, Result<T, JoinError>>,
}

impl<T: Send + 'static, I, F> Iterator for Imap<'_, T, I, F>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
{
    type Item = Result<T, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.remove(&self.next_seq) {
                self.next_seq += 1;
                return Some(r);
            }
            let (seq, r) = self.inner.next_outcome()?;
            self.ready.insert(seq, r);
        }
    }
}

/// Outcomes of [`Group::imap_unordered`], in completion order.
///
/// ```
/// let mut g = greenpatch_runtime::group::Group::new();
/// assert_eq!(g.imap_unordered(0..3, |x: i32| x).count(), 3);
/// ```
pub struct ImapUnordered<'a, T, I, F> {
    inner: Mapper<'a, T, I, F>,
}

impl<T: Send + 'static, I, F> Iterator for ImapUnordered<'_, T, I, F>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
{
    type Item = Result<T, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next_outcome().map(|(_, r)| r)
    }
}
