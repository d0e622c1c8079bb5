//! Answers and failures: [`DoNotPatch`], [`PluginError`], [`Veto`] and
//! [`DeliveryError`].
//!
//! # Model
//!
//! A handler answers an event with `Ok(())`, with
//! [`PluginError::DoNotPatch`] (a refusal with a reason) or with
//! [`PluginError::Failed`] (it could not do its job). Delivery turns the
//! answer into a [`DeliveryError`] that names the event, the module (for
//! module events) and the [`Plugin`] that answered:
//!
//! | answer        | to a will-event                 | to a did-event                                  |
//! |---------------|---------------------------------|-------------------------------------------------|
//! | `DoNotPatch`  | [`DeliveryError::Vetoed`]       | [`DeliveryError::DoNotPatchFromDidEvent`] (error) |
//! | `Failed`      | [`DeliveryError::Failed`]       | [`DeliveryError::Failed`]                       |
//! | panic         | [`DeliveryError::Panicked`]     | [`DeliveryError::Panicked`]                     |
//!
//! A veto is carried in the error type so that delivery stops at it, but it
//! is an answer, not a failure: [`DeliveryError::into_veto`] separates them.
//! The remaining variants describe a broken set of entry points (unknown
//! `after` name, cycle, duplicate name); they are found before any handler
//! runs.

use crate::{EventGroup, EventKind, SubscriptionId};
use std::error::Error;
use std::fmt;

/// A plugin's refusal: "do not patch this", with the reason shown to the
/// application.
///
/// Returned from a will-event it vetoes (the module, or the whole call for
/// `WillPatchAll`); returned from a did-event it is an error, because the
/// patching already happened.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{DoNotPatch, PluginError};
///
/// let answer: PluginError = DoNotPatch::new("the driver is built without green support").into();
/// assert!(matches!(answer, PluginError::DoNotPatch(ref d) if d.reason().contains("green")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DoNotPatch {
    reason: String,
}

impl DoNotPatch {
    /// A refusal with a reason (say what is in the way and how to clear it).
    ///
    /// # Example
    ///
    /// ```
    /// let refusal = greenpatch_plugins::DoNotPatch::new("set PGGREEN=1 to allow it");
    /// assert_eq!(refusal.reason(), "set PGGREEN=1 to allow it");
    /// ```
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }

    /// The reason given.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch_plugins::DoNotPatch::new("no").reason(), "no");
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DoNotPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "do not patch: {}", self.reason)
    }
}

impl Error for DoNotPatch {}

/// What a handler returns instead of `Ok(())`.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{Event, PluginError};
///
/// fn handler(event: &Event<'_>) -> Result<(), PluginError> {
///     if event.arg("driver.pool").is_some_and(|v| v.parse::<u32>().is_err()) {
///         return Err(PluginError::failed("driver.pool must be a number, e.g. driver.pool=8"));
///     }
///     if event.module() == Some("thread") {
///         return Err(PluginError::do_not_patch("the driver keeps OS threads"));
///     }
///     Ok(())
/// }
/// # let _ = handler;
/// ```
#[derive(Debug)]
pub enum PluginError {
    /// Refuse the patch (a veto from a will-event, an error from a did-event).
    DoNotPatch(DoNotPatch),
    /// The handler could not do its job; the patch call is rolled back.
    Failed(Box<dyn Error + Send + Sync>),
}

impl PluginError {
    /// Shorthand for `PluginError::DoNotPatch(DoNotPatch::new(reason))`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::PluginError;
    /// let error = PluginError::do_not_patch("not now");
    /// assert_eq!(error.to_string(), "do not patch: not now");
    /// ```
    pub fn do_not_patch(reason: impl Into<String>) -> Self {
        PluginError::DoNotPatch(DoNotPatch::new(reason))
    }

    /// Wraps any error (or a message: `&str` and `String` convert) as
    /// [`PluginError::Failed`].
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::PluginError;
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "libpq.so not found");
    /// assert_eq!(PluginError::failed(io).to_string(), "libpq.so not found");
    /// assert_eq!(PluginError::failed("bad config").to_string(), "bad config");
    /// ```
    pub fn failed(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        PluginError::Failed(error.into())
    }
}

impl From<DoNotPatch> for PluginError {
    fn from(refusal: DoNotPatch) -> Self {
        PluginError::DoNotPatch(refusal)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::DoNotPatch(refusal) => refusal.fmt(f),
            PluginError::Failed(error) => error.fmt(f),
        }
    }
}

impl Error for PluginError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PluginError::DoNotPatch(_) => None,
            PluginError::Failed(error) => Some(&**error),
        }
    }
}

/// Who answered an event: a runtime subscriber or an inventory entry point.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::Plugin;
///
/// let plugin = Plugin::EntryPoint { name: "pg", declared_in: "pg_green::plugin" };
/// assert_eq!(plugin.to_string(), "entry point `pg` (declared in pg_green::plugin)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Plugin {
    /// A handler registered with [`subscribe`](crate::subscribe) or
    /// [`subscribe_named`](crate::subscribe_named).
    Subscriber {
        /// Its id.
        id: SubscriptionId,
        /// The name it was given, if any.
        name: Option<String>,
    },
    /// A handler registered with [`entry_point!`](crate::entry_point).
    EntryPoint {
        /// The entry point's name.
        name: &'static str,
        /// The Rust module path where the macro was invoked.
        declared_in: &'static str,
    },
}

impl fmt::Display for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plugin::Subscriber { id, name: None } => write!(f, "subscriber {id}"),
            Plugin::Subscriber { id, name: Some(name) } => write!(f, "subscriber {id} `{name}`"),
            Plugin::EntryPoint { name, declared_in } => {
                write!(f, "entry point `{name}` (declared in {declared_in})")
            }
        }
    }
}

/// Formats `WillPatchModule(socket)` or `WillPatchAll`.
struct EventAt<'a>(EventKind, &'a Option<String>);

impl fmt::Display for EventAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(module) => write!(f, "{}({module})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A `DoNotPatch` answer to a will-event: who refused what, and why.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{DoNotPatch, EventKind, Plugin, Veto};
///
/// let veto = Veto {
///     event: EventKind::WillPatchModule,
///     module: Some("thread".into()),
///     plugin: Plugin::EntryPoint { name: "pg", declared_in: "pg_green" },
///     reason: DoNotPatch::new("pg keeps OS threads"),
/// };
/// assert_eq!(
///     veto.to_string(),
///     "entry point `pg` (declared in pg_green) vetoed WillPatchModule(thread): pg keeps OS threads"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Veto {
    /// The will-event that was refused.
    pub event: EventKind,
    /// The module, for `WillPatchModule`.
    pub module: Option<String>,
    /// Who refused.
    pub plugin: Plugin,
    /// Why.
    pub reason: DoNotPatch,
}

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} vetoed {}: {}", self.plugin, EventAt(self.event, &self.module), self.reason.reason())
    }
}

/// Why [`deliver`](crate::deliver) stopped.
///
/// Delivery stops at the first answer that is not `Ok(())`. The handler
/// variants name the event, the module and the plugin; the entry-point
/// variants are found before any handler runs and name the entry points.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{DeliveryError, DoNotPatch, EventKind, Plugin};
///
/// let error = DeliveryError::DoNotPatchFromDidEvent {
///     event: EventKind::DidPatchAll,
///     module: None,
///     plugin: Plugin::EntryPoint { name: "late", declared_in: "x" },
///     reason: DoNotPatch::new("too late"),
/// };
/// assert!(!error.is_veto());
/// assert!(error.to_string().contains("return DoNotPatch from the matching will-event"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A will-event was answered with `DoNotPatch`: a veto, not a failure.
    Vetoed(Veto),
    /// A did-event was answered with `DoNotPatch`. The patching had already
    /// happened, so this cannot be honoured as a veto and is an error.
    DoNotPatchFromDidEvent {
        /// The did-event.
        event: EventKind,
        /// The module, for `DidPatchModule`.
        module: Option<String>,
        /// Who answered.
        plugin: Plugin,
        /// The reason given.
        reason: DoNotPatch,
    },
    /// A handler returned [`PluginError::Failed`].
    Failed {
        /// The event being handled.
        event: EventKind,
        /// The module, for module events.
        module: Option<String>,
        /// Who failed.
        plugin: Plugin,
        /// The handler's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A handler panicked; the panic was caught so the caller can roll back.
    Panicked {
        /// The event being handled.
        event: EventKind,
        /// The module, for module events.
        module: Option<String>,
        /// Who panicked.
        plugin: Plugin,
        /// The panic message, when it was a string.
        message: String,
    },
    /// An entry point lists, in `after`, a name that no entry point of any
    /// group has.
    UnknownAfter {
        /// The group of the entry point that names it.
        group: EventGroup,
        /// That entry point.
        plugin: &'static str,
        /// Where it was declared.
        declared_in: &'static str,
        /// The name nobody has.
        unknown: &'static str,
    },
    /// The `after` lists of one group's entry points form a cycle.
    Cycle {
        /// The group.
        group: EventGroup,
        /// The entry points on the cycle, each running after the next; the
        /// last runs after the first.
        plugins: Vec<&'static str>,
    },
    /// Two entry points of one group have the same name, so `after` cannot
    /// tell them apart.
    DuplicateName {
        /// The group.
        group: EventGroup,
        /// The shared name.
        name: &'static str,
        /// Where each was declared.
        declared_in: Vec<&'static str>,
    },
}

impl DeliveryError {
    /// Whether this is a veto rather than a failure.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DeliveryError, DoNotPatch, EventKind, Plugin, Veto};
    /// let veto = Veto {
    ///     event: EventKind::WillPatchAll,
    ///     module: None,
    ///     plugin: Plugin::EntryPoint { name: "a", declared_in: "a" },
    ///     reason: DoNotPatch::new("no"),
    /// };
    /// assert!(DeliveryError::Vetoed(veto).is_veto());
    /// ```
    pub fn is_veto(&self) -> bool {
        matches!(self, DeliveryError::Vetoed(_))
    }

    /// The veto, if this is one.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DeliveryError, EventGroup};
    /// let error = DeliveryError::Cycle { group: EventGroup::DidPatch, plugins: vec!["a"] };
    /// assert!(error.veto().is_none());
    /// ```
    pub fn veto(&self) -> Option<&Veto> {
        match self {
            DeliveryError::Vetoed(veto) => Some(veto),
            _ => None,
        }
    }

    /// Splits a veto (`Ok`) from a failure (`Err`).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DeliveryError, EventGroup};
    /// let error = DeliveryError::Cycle { group: EventGroup::DidPatch, plugins: vec!["a"] };
    /// assert!(error.into_veto().is_err());
    /// ```
    pub fn into_veto(self) -> Result<Veto, DeliveryError> {
        match self {
            DeliveryError::Vetoed(veto) => Ok(veto),
            other => Err(other),
        }
    }

    /// The event that was being handled, for the handler variants.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DeliveryError, EventKind, Plugin};
    /// let error = DeliveryError::Panicked {
    ///     event: EventKind::DidPatchAll,
    ///     module: None,
    ///     plugin: Plugin::EntryPoint { name: "a", declared_in: "a" },
    ///     message: "boom".into(),
    /// };
    /// assert_eq!(error.event(), Some(EventKind::DidPatchAll));
    /// ```
    pub fn event(&self) -> Option<EventKind> {
        match self {
            DeliveryError::Vetoed(veto) => Some(veto.event),
            DeliveryError::DoNotPatchFromDidEvent { event, .. }
            | DeliveryError::Failed { event, .. }
            | DeliveryError::Panicked { event, .. } => Some(*event),
            _ => None,
        }
    }

    /// The plugin that answered, for the handler variants.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DeliveryError, EventKind, Plugin};
    /// let plugin = Plugin::EntryPoint { name: "a", declared_in: "a" };
    /// let error = DeliveryError::Failed {
    ///     event: EventKind::DidPatchAll,
    ///     module: None,
    ///     plugin: plugin.clone(),
    ///     source: "x".into(),
    /// };
    /// assert_eq!(error.plugin(), Some(&plugin));
    /// ```
    pub fn plugin(&self) -> Option<&Plugin> {
        match self {
            DeliveryError::Vetoed(veto) => Some(&veto.plugin),
            DeliveryError::DoNotPatchFromDidEvent { plugin, .. }
            | DeliveryError::Failed { plugin, .. }
            | DeliveryError::Panicked { plugin, .. } => Some(plugin),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Vetoed(veto) => veto.fmt(f),
            DeliveryError::DoNotPatchFromDidEvent { event, module, plugin, reason } => write!(
                f,
                "{plugin} returned DoNotPatch from {} ({}), but a did-event comes after the \
                 patching and cannot veto it; return DoNotPatch from the matching will-event \
                 (WillPatchAll or WillPatchModule) instead",
                EventAt(*event, module),
                reason.reason()
            ),
            DeliveryError::Failed { event, module, plugin, source } => {
                write!(f, "{plugin} failed handling {}: {source}", EventAt(*event, module))
            }
            DeliveryError::Panicked { event, module, plugin, message } => write!(
                f,
                "{plugin} panicked handling {}: {message}; a handler should return \
                 PluginError::Failed instead of panicking",
                EventAt(*event, module)
            ),
            DeliveryError::UnknownAfter { group, plugin, declared_in, unknown } => write!(
                f,
                "{group} entry point `{plugin}` (declared in {declared_in}) must run after \
                 `{unknown}`, but no entry point of any group is named `{unknown}`; fix the \
                 name in its `after` list or link the crate that registers `{unknown}`"
            ),
            DeliveryError::Cycle { group, plugins } => {
                write!(f, "the `after` lists of {group} entry points form a cycle: ")?;
                for name in plugins {
                    write!(f, "`{name}` runs after ")?;
                }
                match plugins.first() {
                    Some(first) => write!(f, "`{first}`")?,
                    None => f.write_str("itself")?,
                }
                f.write_str("; remove one of these `after` names")
            }
            DeliveryError::DuplicateName { group, name, declared_in } => write!(
                f,
                "{} {group} entry points are named `{name}` (declared in {}); names must be \
                 unique within a group for `after` to work, so rename all but one",
                declared_in.len(),
                declared_in.join(", ")
            ),
        }
    }
}

impl Error for DeliveryError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DeliveryError::Failed { source, .. } => Some(&**source),
            _ => None,
        }
    }
}
