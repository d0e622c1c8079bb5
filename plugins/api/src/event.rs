//! The patch events, in the order the registry delivers them.
//!
//! # Model
//!
//! One `patch_all` call delivers, in this order (gevent's):
//!
//! ```text
//! WillPatchAll                       may veto the whole call
//! ├─ per builtin module (time, thread, socket, libc, queue) not yet patched:
//! │    WillPatchModule(name)         may veto that module
//! │    ...the module's slots are switched...
//! │    DidPatchModule(name)
//! DidPatchBuiltinModules             builtins are green; no application code has run
//! ├─ per opted-in third-party module not yet patched:
//! │    WillPatchModule(name) / DidPatchModule(name)
//! DidPatchAll
//! ```
//!
//! `patch_module` delivers only `WillPatchModule` and `DidPatchModule` for its
//! target module.
//!
//! Every event borrows the call's [`Options`] and the extra plugin arguments
//! (`key = value` pairs the application passed to `patch_all`). The module
//! events also carry the module name, which is the same string in the will-
//! and the did-event of one module (gevent's differ), and the names of the
//! items being patched.
//!
//! Events only borrow: they are built on the stack of the patching call and
//! live as long as the delivery. A plugin that needs something later copies it.

use crate::Options;
use std::fmt;

/// The two groups that entry points subscribe to: one entry point receives
/// every event of its group.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{EventGroup, EventKind};
///
/// assert_eq!(EventKind::WillPatchModule.group(), EventGroup::WillPatch);
/// assert_eq!(EventKind::DidPatchAll.group(), EventGroup::DidPatch);
/// assert_eq!(EventGroup::DidPatch.to_string(), "did_patch");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventGroup {
    /// `WillPatchAll` and `WillPatchModule`: before anything changes; a
    /// handler may veto with [`DoNotPatch`](crate::DoNotPatch).
    WillPatch,
    /// `DidPatchModule`, `DidPatchBuiltinModules` and `DidPatchAll`: after the
    /// change; vetoing is no longer possible.
    DidPatch,
}

impl EventGroup {
    /// The group's name as written in [`entry_point!`](crate::entry_point):
    /// `will_patch` or `did_patch`.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch_plugins::EventGroup::WillPatch.name(), "will_patch");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            EventGroup::WillPatch => "will_patch",
            EventGroup::DidPatch => "did_patch",
        }
    }
}

impl fmt::Display for EventGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which event, without its data: for error messages and matching.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::EventKind;
///
/// assert!(EventKind::WillPatchAll.is_will());
/// assert_eq!(EventKind::DidPatchBuiltinModules.to_string(), "DidPatchBuiltinModules");
/// assert_eq!(EventKind::ALL.len(), 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// Before a `patch_all` call changes anything.
    WillPatchAll,
    /// Before one module's items are switched.
    WillPatchModule,
    /// After one module's items were switched.
    DidPatchModule,
    /// After every requested builtin module was handled.
    DidPatchBuiltinModules,
    /// At the end of a `patch_all` call.
    DidPatchAll,
}

impl EventKind {
    /// Every kind, in delivery order.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::EventKind;
    /// assert_eq!(EventKind::ALL[0], EventKind::WillPatchAll);
    /// assert_eq!(EventKind::ALL[4], EventKind::DidPatchAll);
    /// ```
    pub const ALL: [EventKind; 5] = [
        EventKind::WillPatchAll,
        EventKind::WillPatchModule,
        EventKind::DidPatchModule,
        EventKind::DidPatchBuiltinModules,
        EventKind::DidPatchAll,
    ];

    /// The group whose entry points receive this kind.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{EventGroup, EventKind};
    /// assert_eq!(EventKind::DidPatchModule.group(), EventGroup::DidPatch);
    /// ```
    pub fn group(self) -> EventGroup {
        match self {
            EventKind::WillPatchAll | EventKind::WillPatchModule => EventGroup::WillPatch,
            EventKind::DidPatchModule | EventKind::DidPatchBuiltinModules | EventKind::DidPatchAll => {
                EventGroup::DidPatch
            }
        }
    }

    /// Whether this is a will-event, the only kind a handler may veto.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::EventKind;
    /// assert!(EventKind::WillPatchModule.is_will());
    /// assert!(!EventKind::DidPatchModule.is_will());
    /// ```
    pub fn is_will(self) -> bool {
        self.group() == EventGroup::WillPatch
    }

    /// The kind's name, e.g. `"WillPatchModule"`.
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(greenpatch_plugins::EventKind::DidPatchAll.name(), "DidPatchAll");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            EventKind::WillPatchAll => "WillPatchAll",
            EventKind::WillPatchModule => "WillPatchModule",
            EventKind::DidPatchModule => "DidPatchModule",
            EventKind::DidPatchBuiltinModules => "DidPatchBuiltinModules",
            EventKind::DidPatchAll => "DidPatchAll",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Looks `key` up in plugin arguments; the last pair with that key wins.
fn lookup<'a>(args: &'a [(String, String)], key: &str) -> Option<&'a str> {
    args.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Defines an event that carries only the call's options and arguments.
macro_rules! call_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'a> {
            options: &'a Options,
            args: &'a [(String, String)],
        }

        impl<'a> $name<'a> {
            /// Builds the event (the registry does this; plugins receive it).
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new().with("time", true);
            /// let args = [("k".to_string(), "v".to_string())];
            #[doc = concat!("let event = ", stringify!($name), "::new(&options, &args);")]
            /// assert!(event.options().is_requested("time"));
            /// ```
            pub fn new(options: &'a Options, args: &'a [(String, String)]) -> Self {
                Self { options, args }
            }

            /// The modules the call requested.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new().with("socket", false);
            #[doc = concat!("let event = ", stringify!($name), "::new(&options, &[]);")]
            /// assert_eq!(event.options().get("socket"), Some(false));
            /// ```
            pub fn options(&self) -> &'a Options {
                self.options
            }

            /// The extra plugin arguments passed to `patch_all`, in order.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let args = [("pool".to_string(), "8".to_string())];
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(&options, &args);")]
            /// assert_eq!(event.args().len(), 1);
            /// ```
            pub fn args(&self) -> &'a [(String, String)] {
                self.args
            }

            /// The value of plugin argument `key` (the last one when repeated).
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let args = [("pool".to_string(), "8".to_string())];
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(&options, &args);")]
            /// assert_eq!(event.arg("pool"), Some("8"));
            /// assert_eq!(event.arg("tls"), None);
            /// ```
            pub fn arg(&self, key: &str) -> Option<&'a str> {
                lookup(self.args, key)
            }
        }
    };
}

/// Defines an event about one module.
macro_rules! module_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'a> {
            module: &'a str,
            items: &'a [&'a str],
            options: &'a Options,
            args: &'a [(String, String)],
        }

        impl<'a> $name<'a> {
            /// Builds the event (the registry does this; plugins receive it).
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new().with("time", true);
            #[doc = concat!("let event = ", stringify!($name), "::new(\"time\", &[\"sleep\"], &options, &[]);")]
            /// assert_eq!(event.module(), "time");
            /// ```
            pub fn new(
                module: &'a str,
                items: &'a [&'a str],
                options: &'a Options,
                args: &'a [(String, String)],
            ) -> Self {
                Self { module, items, options, args }
            }

            /// The module's name: the same string in its will- and did-event.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(\"socket\", &[], &options, &[]);")]
            /// assert_eq!(event.module(), "socket");
            /// ```
            pub fn module(&self) -> &'a str {
                self.module
            }

            /// The names of the module's items being patched.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(\"time\", &[\"sleep\", \"now\"], &options, &[]);")]
            /// assert_eq!(event.items(), ["sleep", "now"]);
            /// ```
            pub fn items(&self) -> &'a [&'a str] {
                self.items
            }

            /// The modules the call requested.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new().with("time", true);
            #[doc = concat!("let event = ", stringify!($name), "::new(\"time\", &[], &options, &[]);")]
            /// assert!(event.options().is_requested("time"));
            /// ```
            pub fn options(&self) -> &'a Options {
                self.options
            }

            /// The extra plugin arguments passed to the patch call, in order.
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(\"time\", &[], &options, &[]);")]
            /// assert!(event.args().is_empty());
            /// ```
            pub fn args(&self) -> &'a [(String, String)] {
                self.args
            }

            /// The value of plugin argument `key` (the last one when repeated).
            ///
            /// # Example
            ///
            /// ```
            #[doc = concat!("use greenpatch_plugins::{", stringify!($name), ", Options};")]
            /// let args = [("tls".to_string(), "on".to_string())];
            /// let options = Options::new();
            #[doc = concat!("let event = ", stringify!($name), "::new(\"time\", &[], &options, &args);")]
            /// assert_eq!(event.arg("tls"), Some("on"));
            /// ```
            pub fn arg(&self, key: &str) -> Option<&'a str> {
                lookup(self.args, key)
            }
        }
    };
}

call_event!(
    /// Delivered first in a `patch_all` call, before anything changes. A
    /// [`DoNotPatch`](crate::DoNotPatch) answer vetoes the whole call: nothing
    /// is patched and nothing is recorded.
    WillPatchAll
);

module_event!(
    /// Delivered before one module's items are switched. A
    /// [`DoNotPatch`](crate::DoNotPatch) answer skips that module only.
    WillPatchModule
);

module_event!(
    /// Delivered after one module's items were switched (and
    /// `is_module_patched` reports it).
    DidPatchModule
);

call_event!(
    /// Delivered once the requested builtin modules (time, thread, socket,
    /// libc, queue) are handled and before any third-party module: the moment for a
    /// driver plugin to go green, since the builtins it needs are green and
    /// application code has not run yet.
    DidPatchBuiltinModules
);

call_event!(
    /// Delivered last in a `patch_all` call.
    DidPatchAll
);

/// Any patch event, as handlers receive it.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{Event, EventKind, Options, WillPatchModule};
///
/// let options = Options::new().with("socket", true);
/// let event = Event::WillPatchModule(WillPatchModule::new("socket", &["connect"], &options, &[]));
/// assert_eq!(event.kind(), EventKind::WillPatchModule);
/// assert_eq!(event.module(), Some("socket"));
/// assert_eq!(event.items(), ["connect"]);
/// assert_eq!(event.to_string(), "WillPatchModule(socket)");
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// See [`WillPatchAll`].
    WillPatchAll(WillPatchAll<'a>),
    /// See [`WillPatchModule`].
    WillPatchModule(WillPatchModule<'a>),
    /// See [`DidPatchModule`].
    DidPatchModule(DidPatchModule<'a>),
    /// See [`DidPatchBuiltinModules`].
    DidPatchBuiltinModules(DidPatchBuiltinModules<'a>),
    /// See [`DidPatchAll`].
    DidPatchAll(DidPatchAll<'a>),
}

impl<'a> Event<'a> {
    /// Which event this is.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchAll, Event, EventKind, Options};
    /// let options = Options::new();
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &[]));
    /// assert_eq!(event.kind(), EventKind::DidPatchAll);
    /// ```
    pub fn kind(&self) -> EventKind {
        match self {
            Event::WillPatchAll(_) => EventKind::WillPatchAll,
            Event::WillPatchModule(_) => EventKind::WillPatchModule,
            Event::DidPatchModule(_) => EventKind::DidPatchModule,
            Event::DidPatchBuiltinModules(_) => EventKind::DidPatchBuiltinModules,
            Event::DidPatchAll(_) => EventKind::DidPatchAll,
        }
    }

    /// The group of entry points that receive this event.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{Event, EventGroup, Options, WillPatchAll};
    /// let options = Options::new();
    /// let event = Event::WillPatchAll(WillPatchAll::new(&options, &[]));
    /// assert_eq!(event.group(), EventGroup::WillPatch);
    /// ```
    pub fn group(&self) -> EventGroup {
        self.kind().group()
    }

    /// The modules the call requested.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchAll, Event, Options};
    /// let options = Options::new().with("queue", true);
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &[]));
    /// assert!(event.options().is_requested("queue"));
    /// ```
    pub fn options(&self) -> &'a Options {
        match self {
            Event::WillPatchAll(e) => e.options(),
            Event::WillPatchModule(e) => e.options(),
            Event::DidPatchModule(e) => e.options(),
            Event::DidPatchBuiltinModules(e) => e.options(),
            Event::DidPatchAll(e) => e.options(),
        }
    }

    /// The extra plugin arguments of the call.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchAll, Event, Options};
    /// let options = Options::new();
    /// let args = [("a".to_string(), "1".to_string())];
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &args));
    /// assert_eq!(event.args(), &args);
    /// ```
    pub fn args(&self) -> &'a [(String, String)] {
        match self {
            Event::WillPatchAll(e) => e.args(),
            Event::WillPatchModule(e) => e.args(),
            Event::DidPatchModule(e) => e.args(),
            Event::DidPatchBuiltinModules(e) => e.args(),
            Event::DidPatchAll(e) => e.args(),
        }
    }

    /// The value of plugin argument `key` (the last one when repeated).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchAll, Event, Options};
    /// let options = Options::new();
    /// let args = [("a".to_string(), "1".to_string()), ("a".to_string(), "2".to_string())];
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &args));
    /// assert_eq!(event.arg("a"), Some("2"));
    /// ```
    pub fn arg(&self, key: &str) -> Option<&'a str> {
        lookup(self.args(), key)
    }

    /// The module of a module event; `None` for the call-wide events.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchModule, Event, Options};
    /// let options = Options::new();
    /// let event = Event::DidPatchModule(DidPatchModule::new("time", &[], &options, &[]));
    /// assert_eq!(event.module(), Some("time"));
    /// ```
    pub fn module(&self) -> Option<&'a str> {
        match self {
            Event::WillPatchModule(e) => Some(e.module()),
            Event::DidPatchModule(e) => Some(e.module()),
            _ => None,
        }
    }

    /// The items being patched by a module event; empty for the call-wide
    /// events.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch_plugins::{DidPatchAll, Event, Options};
    /// let options = Options::new();
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &[]));
    /// assert!(event.items().is_empty());
    /// ```
    pub fn items(&self) -> &'a [&'a str] {
        match self {
            Event::WillPatchModule(e) => e.items(),
            Event::DidPatchModule(e) => e.items(),
            _ => &[],
        }
    }
}

/// Formats as the kind, with the module in parentheses for module events:
/// `WillPatchModule(socket)`, `DidPatchAll`.
impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.module() {
            Some(module) => write!(f, "{}({module})", self.kind()),
            None => write!(f, "{}", self.kind()),
        }
    }
}
