//! Runtime subscribers: handlers registered while the program runs.
//!
//! # Model
//!
//! One global list, behind a mutex, in subscription order. [`subscribe`]
//! appends, [`unsubscribe`] removes by id. Delivery takes a snapshot (the
//! handlers are reference-counted) and calls them with the lock released, so
//! a handler may itself subscribe or unsubscribe; such a change takes effect
//! from the next event on.
//!
//! A subscriber receives every event of both groups, before any entry point.
//!
//! # Invariant
//!
//! Ids are unique for the life of the process (a counter that is never
//! reset), so a stale id never removes a newer subscriber.

use crate::{Event, PluginError};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A subscriber's handler, shared between the list and delivery snapshots.
pub(crate) type SharedHandler = Arc<dyn Fn(&Event<'_>) -> Result<(), PluginError> + Send + Sync>;

/// One registered subscriber.
pub(crate) struct Subscriber {
    pub(crate) id: SubscriptionId,
    pub(crate) name: Option<String>,
    pub(crate) handler: SharedHandler,
}

/// Subscribers in subscription order.
static SUBSCRIBERS: Mutex<Vec<Subscriber>> = Mutex::new(Vec::new());

/// The next id to hand out.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Locks the list. Handlers never run under this lock, so a poisoned lock can
/// only come from a panic in this module's own short critical sections,
/// which leave the list consistent: the poison is ignored.
fn list() -> MutexGuard<'static, Vec<Subscriber>> {
    SUBSCRIBERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The current subscribers, in order, for one delivery.
pub(crate) fn snapshot() -> Vec<(SubscriptionId, Option<String>, SharedHandler)> {
    list().iter().map(|s| (s.id, s.name.clone(), Arc::clone(&s.handler))).collect()
}

/// Identifies a subscription; use it to [`unsubscribe`].
///
/// Dropping it does not unsubscribe: a subscription lasts until it is
/// removed explicitly.
///
/// # Example
///
/// ```
/// let id = greenpatch_plugins::subscribe(|_event| Ok(()));
/// assert!(id.unsubscribe());
/// assert!(!id.unsubscribe(), "already removed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    /// Removes this subscription; `false` if it was already removed.
    ///
    /// # Example
    ///
    /// ```
    /// let id = greenpatch_plugins::subscribe(|_event| Ok(()));
    /// assert!(id.unsubscribe());
    /// ```
    pub fn unsubscribe(self) -> bool {
        unsubscribe(self)
    }

    /// The id as a number (unique in the process, increasing).
    ///
    /// # Example
    ///
    /// ```
    /// let a = greenpatch_plugins::subscribe(|_event| Ok(()));
    /// let b = greenpatch_plugins::subscribe(|_event| Ok(()));
    /// assert!(a.get() < b.get());
    /// # a.unsubscribe(); b.unsubscribe();
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Formats as `#7`.
impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Registers `handler` to receive every event, before the entry points and
/// after the subscribers registered earlier.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{deliver, subscribe, Event, Options, PluginError, WillPatchModule};
///
/// let id = subscribe(|event: &Event<'_>| match event {
///     Event::WillPatchModule(e) if e.module() == "thread" => {
///         Err(PluginError::do_not_patch("this program keeps OS threads"))
///     }
///     _ => Ok(()),
/// });
/// let options = Options::new().with("thread", true);
/// let event = Event::WillPatchModule(WillPatchModule::new("thread", &[], &options, &[]));
/// let veto = deliver(&event).unwrap_err().into_veto().unwrap();
/// assert_eq!(veto.reason.reason(), "this program keeps OS threads");
/// id.unsubscribe();
/// ```
pub fn subscribe<F>(handler: F) -> SubscriptionId
where
    F: Fn(&Event<'_>) -> Result<(), PluginError> + Send + Sync + 'static,
{
    add(None, Arc::new(handler))
}

/// Like [`subscribe`], with a name that errors and vetoes show.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{deliver, subscribe_named, DidPatchAll, Event, Options, PluginError};
///
/// let id = subscribe_named("audit", |_event: &Event<'_>| Err(PluginError::failed("disk full")));
/// let options = Options::new();
/// let error = deliver(&Event::DidPatchAll(DidPatchAll::new(&options, &[]))).unwrap_err();
/// assert!(error.to_string().contains("`audit`"));
/// id.unsubscribe();
/// ```
pub fn subscribe_named<F>(name: impl Into<String>, handler: F) -> SubscriptionId
where
    F: Fn(&Event<'_>) -> Result<(), PluginError> + Send + Sync + 'static,
{
    add(Some(name.into()), Arc::new(handler))
}

/// Appends a subscriber and returns its id.
fn add(name: Option<String>, handler: SharedHandler) -> SubscriptionId {
    let id = SubscriptionId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    list().push(Subscriber { id, name, handler });
    id
}

/// Removes subscription `id`; `false` if there is none (already removed).
///
/// A delivery already in progress may still call it once.
///
/// # Example
///
/// ```
/// let id = greenpatch_plugins::subscribe(|_event| Ok(()));
/// assert!(greenpatch_plugins::unsubscribe(id));
/// assert!(!greenpatch_plugins::unsubscribe(id));
/// ```
pub fn unsubscribe(id: SubscriptionId) -> bool {
    let mut list = list();
    match list.iter().position(|s| s.id == id) {
        Some(index) => {
            list.remove(index);
            true
        }
        None => false,
    }
}
