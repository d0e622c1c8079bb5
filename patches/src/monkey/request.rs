//! [`PatchAll`] (what the application asks for) and [`Patched`] (what
//! happened), with [`Warning`]s.
//!
//! # Model
//!
//! `PatchAll::default()` requests the five builtin modules and no
//! third-party module. The builder switches builtins off, opts third-party
//! modules in by name and adds `key = value` plugin arguments. The registry
//! turns it into the [`Options`] that every event carries: the builtins in
//! their fixed order with their flags, then the third-party names, sorted.
//!
//! The result has gevent's three outcomes: modules were patched now (some
//! may have been vetoed one by one), the whole call was vetoed, or there was
//! nothing new to patch. Each outcome carries the warnings of the call; each
//! warning has also been logged once with `log::warn!` (target
//! `greenpatch::monkey`) when it was raised.

use super::module::BUILTIN_MODULES;
use greenpatch_plugins::{Options, Veto};
use std::collections::BTreeSet;
use std::fmt;

/// The options of [`patch_all`](super::patch_all): which modules, and extra
/// plugin arguments.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::PatchAll;
///
/// let request = PatchAll::default()   // time, thread, socket, libc, queue
///     .thread(false)                  // keep OS threads
///     .module("pgdriver")             // a third-party module, by name
///     .arg("pgdriver.pool", "8");     // seen by plugins in every event
/// let options = request.options();
/// assert!(options.is_requested("socket"));
/// assert_eq!(options.get("thread"), Some(false));
/// assert!(options.is_requested("pgdriver"));
/// assert_eq!(request.args()[0], ("pgdriver.pool".to_string(), "8".to_string()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchAll {
    /// One flag per builtin module, in [`BUILTIN_MODULES`] order.
    builtins: [bool; BUILTIN_MODULES.len()],
    /// Opted-in third-party module names.
    modules: BTreeSet<String>,
    /// Plugin arguments, in the order given.
    args: Vec<(String, String)>,
}

/// One switch per builtin module on [`PatchAll`], from the builtin list.
macro_rules! builtin_switches {
    ($($name:ident => $what:literal;)+) => {
        impl PatchAll {$(
            #[doc = concat!("Whether to patch the `", stringify!($name), "` module (", $what, ").")]
            ///
            /// # Example
            ///
            /// ```
            /// use greenpatch::monkey::PatchAll;
            #[doc = concat!("let request = PatchAll::default().", stringify!($name), "(false);")]
            #[doc = concat!("assert_eq!(request.options().get(\"", stringify!($name), "\"), Some(false));")]
            /// ```
            #[must_use]
            pub fn $name(self, on: bool) -> Self {
                self.set_builtin(stringify!($name), on)
            }
        )+}
    };
}
builtin_modules!(builtin_switches);

impl Default for PatchAll {
    /// Every builtin module, no third-party module, no arguments.
    fn default() -> Self {
        Self { builtins: [true; BUILTIN_MODULES.len()], modules: BTreeSet::new(), args: Vec::new() }
    }
}

impl PatchAll {
    /// Same as [`PatchAll::default`]: every builtin module.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// assert_eq!(PatchAll::new(), PatchAll::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// No builtin module; opt modules in one by one.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// let request = PatchAll::none().time(true);
    /// assert_eq!(request.options().requested().collect::<Vec<_>>(), ["time"]);
    /// ```
    pub fn none() -> Self {
        Self { builtins: [false; BUILTIN_MODULES.len()], ..Self::default() }
    }

    /// Sets one builtin module's flag.
    fn set_builtin(mut self, name: &str, on: bool) -> Self {
        if let Some(i) = BUILTIN_MODULES.iter().position(|&b| b == name) {
            self.builtins[i] = on;
        }
        self
    }

    /// Opts in to a module by name. A third-party module must be declared by
    /// a linked crate, or `patch_all` fails with
    /// [`PatchError::UnknownModule`](super::PatchError::UnknownModule); a
    /// builtin name turns that builtin on.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// let request = PatchAll::none().module("socket").module("pgdriver");
    /// assert_eq!(request.options().requested().collect::<Vec<_>>(), ["socket", "pgdriver"]);
    /// ```
    #[must_use]
    pub fn module(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if BUILTIN_MODULES.contains(&name.as_str()) {
            return self.set_builtin(&name, true);
        }
        self.modules.insert(name);
        self
    }

    /// Adds a plugin argument, passed to every event of the call.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// let request = PatchAll::default().arg("tls", "on");
    /// assert_eq!(request.args().len(), 1);
    /// ```
    #[must_use]
    pub fn arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.args.push((key.into(), value.into()));
        self
    }

    /// The plugin arguments, in the order given.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// assert!(PatchAll::default().args().is_empty());
    /// ```
    pub fn args(&self) -> &[(String, String)] {
        &self.args
    }

    /// The opted-in third-party module names, sorted.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// let request = PatchAll::default().module("b").module("a");
    /// assert_eq!(request.third_party().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn third_party(&self) -> impl Iterator<Item = &str> + '_ {
        self.modules.iter().map(String::as_str)
    }

    /// Whether builtin module `name` is requested (`false` for other names).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// assert!(PatchAll::default().is_builtin_requested("queue"));
    /// assert!(!PatchAll::none().is_builtin_requested("queue"));
    /// ```
    pub fn is_builtin_requested(&self, name: &str) -> bool {
        BUILTIN_MODULES.iter().position(|&b| b == name).is_some_and(|i| self.builtins[i])
    }

    /// The options as events carry them: builtins in order with their flags,
    /// then the third-party names (sorted), requested.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::PatchAll;
    /// let options = PatchAll::default().queue(false).module("db").options();
    /// assert_eq!(options.to_string(), "{time, thread, socket, libc, !queue, db}");
    /// ```
    pub fn options(&self) -> Options {
        let mut options = Options::new();
        for (name, on) in BUILTIN_MODULES.iter().zip(self.builtins) {
            options.set(*name, on);
        }
        for name in &self.modules {
            options.set(name.clone(), true);
        }
        options
    }
}

/// One module that a plugin vetoed during a call that went on with the
/// others.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::ModuleVeto;
/// use greenpatch_plugins::{DoNotPatch, EventKind, Plugin, Veto};
///
/// let vetoed = ModuleVeto {
///     module: "thread",
///     veto: Veto {
///         event: EventKind::WillPatchModule,
///         module: Some("thread".into()),
///         plugin: Plugin::EntryPoint { name: "pg", declared_in: "pg" },
///         reason: DoNotPatch::new("pg keeps OS threads"),
///     },
/// };
/// assert_eq!(vetoed.veto.reason.reason(), "pg keeps OS threads");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleVeto {
    /// The module that was skipped.
    pub module: &'static str,
    /// Who vetoed it and why.
    pub veto: Veto,
}

/// Something the application should know about a patch call, though the
/// call went through. Each warning is also logged once with `log::warn!`.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::Warning;
/// let warning = Warning::Registered { message: "a TcpStream was made before patching".into() };
/// assert_eq!(warning.to_string(), "a TcpStream was made before patching");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// This `patch_all` call's options differ from those of the first call
    /// that patched. Only modules not yet patched were added; nothing is
    /// unpatched.
    OptionsDiffer {
        /// The first call's options.
        first: Options,
        /// The first call's plugin arguments.
        first_args: Vec<(String, String)>,
        /// This call's options.
        now: Options,
        /// This call's plugin arguments.
        now_args: Vec<(String, String)>,
    },
    /// `patch_all` ran on a thread other than the process's main thread.
    OffMainThread {
        /// The thread's name, or its id when unnamed.
        thread: String,
    },
    /// A [`pre_patch_check!`](crate::pre_patch_check) found a problem.
    Check {
        /// The check's name.
        check: &'static str,
        /// What it found.
        message: String,
    },
    /// A warning queued with [`register_warning`](super::register_warning).
    Registered {
        /// The message.
        message: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::OptionsDiffer { first, first_args, now, now_args } => write!(
                f,
                "patch_all was called again with different options (first {first} with \
                 arguments {first_args:?}, now {now} with arguments {now_args:?}); only modules \
                 not yet patched were added and nothing was unpatched. Call patch_all once, \
                 first thing in main, with every option you need"
            ),
            Warning::OffMainThread { thread } => write!(
                f,
                "patch_all was called on thread {thread}, not the main thread; threads and \
                 objects made before it stay blocking. Call it first thing in main"
            ),
            Warning::Check { check, message } => write!(f, "{check}: {message}"),
            Warning::Registered { message } => f.write_str(message),
        }
    }
}

/// What a patch call did: gevent's three outcomes, each with the call's
/// warnings.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{patch_all, PatchAll, Patched};
///
/// # fn main() -> Result<(), greenpatch::monkey::PatchError> {
/// match patch_all(PatchAll::default())? {
///     Patched::Patched { modules, vetoed, .. } => {
///         println!("patched {modules:?}; vetoed {}", vetoed.len())
///     }
///     Patched::Vetoed { veto, .. } => println!("not patched: {veto}"),
///     Patched::NothingNew { .. } => println!("already green"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a veto or a warning is reported only in the result"]
pub enum Patched {
    /// The call got past its will-event and patched these modules, in order
    /// (possibly none, when every new module was vetoed).
    Patched {
        /// The modules patched by this call, in patch order.
        modules: Vec<&'static str>,
        /// Modules a plugin vetoed; they stay unpatched and a later call may
        /// try them again.
        vetoed: Vec<ModuleVeto>,
        /// The call's warnings.
        warnings: Vec<Warning>,
    },
    /// A plugin vetoed the whole call (`WillPatchAll`, or `WillPatchModule`
    /// of `patch_module`'s target): nothing was patched and nothing was
    /// recorded.
    Vetoed {
        /// Who vetoed and why.
        veto: Veto,
        /// The call's warnings.
        warnings: Vec<Warning>,
    },
    /// Every requested module was already patched: no event was delivered.
    NothingNew {
        /// The call's warnings.
        warnings: Vec<Warning>,
    },
}

impl Patched {
    /// The call's warnings, whatever the outcome.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Patched;
    /// assert!(Patched::NothingNew { warnings: vec![] }.warnings().is_empty());
    /// ```
    pub fn warnings(&self) -> &[Warning] {
        match self {
            Patched::Patched { warnings, .. } | Patched::Vetoed { warnings, .. } | Patched::NothingNew { warnings } => {
                warnings
            }
        }
    }

    /// The modules this call patched (empty unless `Patched::Patched`).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Patched;
    /// let outcome = Patched::Patched { modules: vec!["time"], vetoed: vec![], warnings: vec![] };
    /// assert_eq!(outcome.modules(), ["time"]);
    /// ```
    pub fn modules(&self) -> &[&'static str] {
        match self {
            Patched::Patched { modules, .. } => modules,
            _ => &[],
        }
    }

    /// The modules vetoed one by one (empty unless `Patched::Patched`).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Patched;
    /// assert!(Patched::NothingNew { warnings: vec![] }.vetoed().is_empty());
    /// ```
    pub fn vetoed(&self) -> &[ModuleVeto] {
        match self {
            Patched::Patched { vetoed, .. } => vetoed,
            _ => &[],
        }
    }

    /// Whether the call found nothing new to patch.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Patched;
    /// assert!(Patched::NothingNew { warnings: vec![] }.is_nothing_new());
    /// ```
    pub fn is_nothing_new(&self) -> bool {
        matches!(self, Patched::NothingNew { .. })
    }
}
