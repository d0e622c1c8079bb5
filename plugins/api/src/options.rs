//! [`Options`]: which modules a patch call asked for.
//!
//! # Model
//!
//! An ordered list of `(module name, requested)` pairs. The registry fills it
//! in from the application's `PatchAll` (builtins first, in the registry's
//! fixed order, then opted-in third-party modules by name) and hands a
//! reference to every event, so a plugin sees exactly what the application
//! asked for, including the modules it turned off.
//!
//! # Invariant
//!
//! Module names are unique: setting a name a second time overwrites its flag
//! in place and keeps its position.

use std::fmt;

/// The modules a patch call requested, with one flag per module.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::Options;
///
/// let options = Options::new().with("time", true).with("socket", false);
/// assert!(options.is_requested("time"));
/// assert!(!options.is_requested("socket"));
/// assert_eq!(options.get("socket"), Some(false));
/// assert_eq!(options.get("redis"), None);
/// assert_eq!(options.requested().collect::<Vec<_>>(), ["time"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// `(name, requested)` pairs in the order they were first set.
    ///
    /// # Invariant
    ///
    /// No name appears twice.
    modules: Vec<(String, bool)>,
}

impl Options {
    /// An empty set of options: no module mentioned.
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new();
    /// assert!(options.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns these options with `module` set to `requested` (builder form of
    /// [`Options::set`]).
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new().with("queue", true);
    /// assert_eq!(options.get("queue"), Some(true));
    /// ```
    #[must_use]
    pub fn with(mut self, module: impl Into<String>, requested: bool) -> Self {
        self.set(module, requested);
        self
    }

    /// Sets whether `module` is requested. A name already present keeps its
    /// position and takes the new flag.
    ///
    /// # Example
    ///
    /// ```
    /// let mut options = greenpatch_plugins::Options::new().with("time", true);
    /// options.set("time", false);
    /// assert_eq!(options.get("time"), Some(false));
    /// assert_eq!(options.len(), 1);
    /// ```
    pub fn set(&mut self, module: impl Into<String>, requested: bool) {
        let module = module.into();
        match self.modules.iter_mut().find(|(name, _)| *name == module) {
            Some(entry) => entry.1 = requested,
            None => self.modules.push((module, requested)),
        }
    }

    /// The flag of `module`, or `None` when the options do not mention it.
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new().with("thread", false);
    /// assert_eq!(options.get("thread"), Some(false));
    /// assert_eq!(options.get("socket"), None);
    /// ```
    pub fn get(&self, module: &str) -> Option<bool> {
        self.modules.iter().find(|(name, _)| name == module).map(|&(_, requested)| requested)
    }

    /// Whether `module` is mentioned and requested.
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new().with("socket", true);
    /// assert!(options.is_requested("socket"));
    /// assert!(!options.is_requested("time"));
    /// ```
    pub fn is_requested(&self, module: &str) -> bool {
        self.get(module).unwrap_or(false)
    }

    /// The names of the requested modules, in order.
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new()
    ///     .with("time", true)
    ///     .with("thread", false)
    ///     .with("socket", true);
    /// assert_eq!(options.requested().collect::<Vec<_>>(), ["time", "socket"]);
    /// ```
    pub fn requested(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().filter(|&(_, requested)| requested).map(|(name, _)| name)
    }

    /// Every `(module, requested)` pair, in order.
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new().with("time", false);
    /// assert_eq!(options.iter().collect::<Vec<_>>(), [("time", false)]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        self.modules.iter().map(|(name, requested)| (name.as_str(), *requested))
    }

    /// How many modules the options mention (requested or not).
    ///
    /// # Example
    ///
    /// ```
    /// let options = greenpatch_plugins::Options::new().with("a", true).with("b", false);
    /// assert_eq!(options.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the options mention no module at all.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(greenpatch_plugins::Options::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

/// Formats as `{time, thread, !socket}`: requested modules by name, the
/// others prefixed with `!`.
///
/// # Example
///
/// ```
/// let options = greenpatch_plugins::Options::new().with("time", true).with("socket", false);
/// assert_eq!(options.to_string(), "{time, !socket}");
/// ```
impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (name, requested)) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            if !requested {
                f.write_str("!")?;
            }
            f.write_str(name)?;
        }
        f.write_str("}")
    }
}
