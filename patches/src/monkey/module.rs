//! [`Module`]: a named set of slots, declared as data by any crate, and the
//! index the registry builds from those declarations.
//!
//! # Model
//!
//! A module is `(name, builtin?, items)`, registered at link time with
//! [`patchable_module!`](crate::patchable_module) (through `inventory`).
//! The [`BUILTIN_MODULES`] (listed once, in `monkey/mod.rs`) are declared
//! by greenpatch's facades; any other crate may declare its own
//! third-party modules (e.g. a database driver's `connect` and `wait`),
//! which applications then opt in to by name in `PatchAll`.
//!
//! The index is built once, on first use (every registration runs before
//! `main`), and checked: module names unique, item names unique within a
//! module, the `builtin` flag set exactly on the builtin names. A problem
//! makes every `patch_all`/`patch_module` fail with
//! [`PatchError::InvalidRegistry`](super::PatchError::InvalidRegistry); the
//! queries keep answering from the first declaration of a name.
//!
//! A builtin module that nobody declared is still a module: it has no items,
//! and `patch_all` still delivers its events and records it as patched.

use super::slot::AnySlot;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// Declares [`BUILTIN_MODULES`] from the builtin list.
macro_rules! builtin_names {
    ($($name:ident => $what:literal;)+) => {
        /// The builtin modules, in the order `patch_all` patches them.
        ///
        /// # Example
        ///
        /// ```
        /// assert_eq!(greenpatch::monkey::BUILTIN_MODULES, ["time", "thread", "socket", "libc", "queue"]);
        /// ```
        pub const BUILTIN_MODULES: [&str; [$(stringify!($name)),+].len()] = [$(stringify!($name)),+];
    };
}
builtin_modules!(builtin_names);

/// A patchable module: a name and the slots it switches. Made by
/// [`patchable_module!`](crate::patchable_module); found with
/// [`module`](super::module).
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{module, Slot};
///
/// fn connect() -> u32 { 0 }
/// fn green_connect() -> u32 { 1 }
/// static CONNECT: Slot<fn() -> u32> = Slot::new("connect", connect, green_connect);
/// greenpatch::patchable_module!(name = "doc-db", items = [CONNECT]);
///
/// fn main() {
///     let m = module("doc-db").unwrap();
///     assert!(!m.is_builtin());
///     assert_eq!(m.item_names().collect::<Vec<_>>(), ["connect"]);
/// }
/// ```
pub struct Module {
    name: &'static str,
    builtin: bool,
    items: &'static [&'static dyn AnySlot],
    declared_in: &'static str,
}

greenpatch_plugins::inventory::collect!(Module);

impl Module {
    /// A third-party module named `name` with `items`. `const`, for
    /// [`patchable_module!`](crate::patchable_module).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Module, Slot};
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// static ITEMS: &[&dyn AnySlot] = &[&F];
    /// static M: Module = Module::new("m", ITEMS);
    /// assert_eq!(M.name(), "m");
    /// ```
    pub const fn new(name: &'static str, items: &'static [&'static dyn AnySlot]) -> Self {
        Self { name, builtin: false, items, declared_in: "" }
    }

    /// Marks the module as one of the [`BUILTIN_MODULES`] (only greenpatch's
    /// facades declare those).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// const M: Module = Module::new("time", &[]).builtin();
    /// assert!(M.is_builtin());
    /// ```
    #[must_use]
    pub const fn builtin(mut self) -> Self {
        self.builtin = true;
        self
    }

    /// Records where the module was declared (the macro passes
    /// `module_path!()`), for messages.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// const M: Module = Module::new("m", &[]).at(module_path!());
    /// assert!(!M.declared_in().is_empty());
    /// ```
    #[must_use]
    pub const fn at(mut self, declared_in: &'static str) -> Self {
        self.declared_in = declared_in;
        self
    }

    /// The module's name.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// assert_eq!(Module::new("m", &[]).name(), "m");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether it is one of the [`BUILTIN_MODULES`].
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// assert!(!Module::new("m", &[]).is_builtin());
    /// ```
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// Its slots, in declaration order.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// assert!(Module::new("m", &[]).items().is_empty());
    /// ```
    pub fn items(&self) -> &'static [&'static dyn AnySlot] {
        self.items
    }

    /// The slot named `item`, if the module has one.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Module, Slot};
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// static ITEMS: &[&dyn AnySlot] = &[&F];
    /// let m = Module::new("m", ITEMS);
    /// assert!(m.item("f").is_some());
    /// assert!(m.item("g").is_none());
    /// ```
    pub fn item(&self, item: &str) -> Option<&'static dyn AnySlot> {
        self.items.iter().copied().find(|slot| slot.name() == item)
    }

    /// The names of its items, in declaration order.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Module, Slot};
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// static ITEMS: &[&dyn AnySlot] = &[&F];
    /// assert_eq!(Module::new("m", ITEMS).item_names().collect::<Vec<_>>(), ["f"]);
    /// ```
    pub fn item_names(&self) -> impl Iterator<Item = &'static str> {
        self.items.iter().map(|slot| slot.name())
    }

    /// The Rust module path where it was declared (empty when not recorded).
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Module;
    /// assert_eq!(Module::new("m", &[]).declared_in(), "");
    /// ```
    pub fn declared_in(&self) -> &'static str {
        self.declared_in
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("builtin", &self.builtin)
            .field("items", &self.item_names().collect::<Vec<_>>())
            .field("declared_in", &self.declared_in)
            .finish()
    }
}

/// Declares a patchable module and registers it with the registry.
///
/// ```text
/// patchable_module!([builtin,] name = "NAME", items = [SLOT, ...]);
/// ```
///
/// - `NAME`: a string literal, unique among all linked crates' modules.
///   Third-party crates should prefix it with their crate name.
/// - `SLOT`s: paths to `static` [`Slot`](crate::monkey::Slot)s (any mix of
///   function types); item names come from the slots.
/// - `builtin`: only for the [`BUILTIN_MODULES`], which greenpatch's
///   own facades declare.
///
/// Use it once per module, at item level.
///
/// # Example
///
/// A driver crate declares what must change when the program goes green;
/// the application opts in with `PatchAll::default().module("pgdriver")`.
///
/// ```
/// use greenpatch::monkey::{get_original, module, Slot};
/// use std::time::Duration;
///
/// fn blocking_wait(fd: i32, timeout: Duration) -> bool { fd >= 0 && !timeout.is_zero() }
/// fn green_wait(fd: i32, timeout: Duration) -> bool { blocking_wait(fd, timeout) }
/// fn blocking_id() -> u64 { 0 }
/// fn green_id() -> u64 { 1 }
///
/// pub static WAIT: Slot<fn(i32, Duration) -> bool> = Slot::new("wait", blocking_wait, green_wait);
/// pub static ID: Slot<fn() -> u64> = Slot::new("id", blocking_id, green_id);
///
/// greenpatch::patchable_module!(name = "pgdriver", items = [WAIT, ID]);
///
/// fn main() {
///     assert_eq!(module("pgdriver").unwrap().items().len(), 2);
///     let original = get_original::<fn() -> u64>("pgdriver", "id").unwrap();
///     assert_eq!(original as usize, blocking_id as fn() -> u64 as usize);
/// }
/// ```
#[macro_export]
macro_rules! patchable_module {
    (builtin, name = $name:literal, items = [$($item:path),* $(,)?] $(,)?) => {
        $crate::__patchable_module!(true; $name; $($item),*);
    };
    (name = $name:literal, items = [$($item:path),* $(,)?] $(,)?) => {
        $crate::__patchable_module!(false; $name; $($item),*);
    };
    ($($rest:tt)*) => {
        ::core::compile_error!(
            "patchable_module!: expected `[builtin,] name = \"...\", items = [SLOT, ...]`"
        );
    };
}

/// The body of [`patchable_module!`]; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __patchable_module {
    ($builtin:literal; $name:literal; $($item:path),*) => {
        const _: () = {
            static ITEMS: &[&dyn $crate::monkey::AnySlot] = &[$(&$item),*];
            $crate::monkey::__private::inventory::submit! {
                $crate::monkey::__private::declare($name, $builtin, ITEMS, ::core::module_path!())
            }
        };
    };
}

/// What [`patchable_module!`](crate::patchable_module) registers.
pub const fn declare(
    name: &'static str,
    builtin: bool,
    items: &'static [&'static dyn AnySlot],
    declared_in: &'static str,
) -> Module {
    Module { name, builtin, items, declared_in }
}

/// Something wrong with the declared modules. Any problem makes
/// `patch_all` and `patch_module` refuse to run.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::RegistryProblem;
/// let problem = RegistryProblem::DuplicateModule { module: "db", declared_in: vec!["a", "b"] };
/// assert!(problem.to_string().contains("`db`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// Two declarations use the same module name.
    DuplicateModule {
        /// The name.
        module: &'static str,
        /// Where each was declared.
        declared_in: Vec<&'static str>,
    },
    /// One module has two items with the same name.
    DuplicateItem {
        /// The module.
        module: &'static str,
        /// The item name.
        item: &'static str,
    },
    /// A module marked `builtin` is not one of [`BUILTIN_MODULES`].
    NotABuiltin {
        /// The module.
        module: &'static str,
        /// Where it was declared.
        declared_in: &'static str,
    },
    /// A third-party module uses one of the [`BUILTIN_MODULES`] names.
    ReservedName {
        /// The module.
        module: &'static str,
        /// Where it was declared.
        declared_in: &'static str,
    },
}

impl fmt::Display for RegistryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryProblem::DuplicateModule { module, declared_in } => write!(
                f,
                "module `{module}` is declared {} times (in {}); module names must be unique, \
                 so rename all but one (prefix third-party modules with their crate name)",
                declared_in.len(),
                declared_in.join(", ")
            ),
            RegistryProblem::DuplicateItem { module, item } => {
                write!(f, "module `{module}` lists two items named `{item}`; give each slot its own name")
            }
            RegistryProblem::NotABuiltin { module, declared_in } => write!(
                f,
                "module `{module}` (declared in {declared_in}) is marked builtin, but the \
                 builtin modules are {BUILTIN_MODULES:?}; drop `builtin,` from its \
                 patchable_module! declaration"
            ),
            RegistryProblem::ReservedName { module, declared_in } => write!(
                f,
                "module `{module}` (declared in {declared_in}) uses a builtin module's name; \
                 choose another name for this third-party module"
            ),
        }
    }
}

/// The checked index of every declared module.
pub(crate) struct Index {
    /// Declarations by name, in a stable order (by declaration site).
    by_name: BTreeMap<&'static str, Vec<&'static Module>>,
    /// What is wrong with them, if anything.
    pub(crate) problems: Vec<RegistryProblem>,
}

impl Index {
    /// The module named `name` (its first declaration when duplicated).
    pub(crate) fn find(&self, name: &str) -> Option<&'static Module> {
        self.by_name.get(name).and_then(|all| all.first().copied())
    }

    /// Every module name, sorted.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }

    /// Every module (first declaration of each name), sorted by name.
    pub(crate) fn modules(&self) -> Vec<&'static Module> {
        self.by_name.values().filter_map(|all| all.first().copied()).collect()
    }
}

/// The index, built on first use.
pub(crate) fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(build_index)
}

/// Collects and checks the declarations.
fn build_index() -> Index {
    let mut by_name: BTreeMap<&'static str, Vec<&'static Module>> = BTreeMap::new();
    for module in greenpatch_plugins::inventory::iter::<Module> {
        by_name.entry(module.name).or_default().push(module);
    }
    let mut problems = Vec::new();
    for (&name, all) in &mut by_name {
        all.sort_by_key(|m| m.declared_in);
        if all.len() > 1 {
            problems.push(RegistryProblem::DuplicateModule {
                module: name,
                declared_in: all.iter().map(|m| m.declared_in).collect(),
            });
        }
        for module in all.iter() {
            let is_builtin_name = BUILTIN_MODULES.contains(&name);
            if module.builtin && !is_builtin_name {
                problems.push(RegistryProblem::NotABuiltin { module: name, declared_in: module.declared_in });
            }
            if !module.builtin && is_builtin_name {
                problems.push(RegistryProblem::ReservedName { module: name, declared_in: module.declared_in });
            }
            let mut names: Vec<&'static str> = module.item_names().collect();
            names.sort_unstable();
            for pair in names.windows(2) {
                if pair[0] == pair[1] {
                    problems.push(RegistryProblem::DuplicateItem { module: name, item: pair[0] });
                }
            }
        }
    }
    Index { by_name, problems }
}
