//! [`PatchError`]: why a patch call changed nothing.
//!
//! # Model
//!
//! Every error leaves the registry as it was before the call: argument
//! errors are found before any event, and a plugin failure rolls back every
//! slot the call had switched (patches from earlier calls stay). Messages
//! say what was wrong and what to do.

use super::module::RegistryProblem;
use greenpatch_plugins::DeliveryError;
use std::error::Error;
use std::fmt;

/// Why `patch_all` or `patch_module` failed. Nothing was changed.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{patch_all, PatchAll, PatchError};
///
/// let error = patch_all(PatchAll::default().module("no-such-driver")).unwrap_err();
/// assert!(matches!(error, PatchError::UnknownModule { ref name, .. } if name == "no-such-driver"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PatchError {
    /// A subscriber or entry point failed (or answered `DoNotPatch` to a
    /// did-event), or the entry points are broken (unknown `after` name,
    /// cycle, duplicate name). The inner error names the event and the
    /// plugin. What the call had patched was rolled back.
    Plugin(DeliveryError),
    /// No linked crate declares a module with this name.
    UnknownModule {
        /// The name asked for.
        name: String,
        /// The declared modules.
        known: Vec<&'static str>,
    },
    /// The module has no item with this name.
    UnknownItem {
        /// The module.
        module: &'static str,
        /// The name asked for.
        item: String,
        /// The module's items.
        known: Vec<&'static str>,
    },
    /// `patch_module` would copy an item over one of another function type.
    TypeMismatch {
        /// The target module.
        target: &'static str,
        /// The source module.
        source: &'static str,
        /// The item.
        item: &'static str,
        /// The target item's function type.
        target_type: &'static str,
        /// The source item's function type.
        source_type: &'static str,
    },
    /// `patch_module` without an item list found no item name that both
    /// modules have.
    NothingToCopy {
        /// The target module.
        target: &'static str,
        /// The source module.
        source: &'static str,
    },
    /// The declared modules are inconsistent (see [`RegistryProblem`]).
    InvalidRegistry(Vec<RegistryProblem>),
    /// A plugin handler called `patch_all` or `patch_module` while a patch
    /// call was delivering its events on the same thread.
    Reentrant {
        /// The function called from the handler.
        call: &'static str,
    },
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Plugin(error) if error.event().is_some() => write!(
                f,
                "{error}; every slot this call had switched was restored (earlier calls' \
                 patches stay)"
            ),
            PatchError::Plugin(error) => write!(f, "{error}; nothing was patched"),
            PatchError::UnknownModule { name, known } => write!(
                f,
                "no linked crate declares a patchable module named `{name}` (declared: \
                 {known:?}); check the spelling, or add the crate that declares it as a \
                 dependency and use it so it is linked"
            ),
            PatchError::UnknownItem { module, item, known } => write!(
                f,
                "module `{module}` has no item named `{item}` (it has {known:?}); check the \
                 spelling"
            ),
            PatchError::TypeMismatch { target, source, item, target_type, source_type } => write!(
                f,
                "cannot copy `{source}.{item}` ({source_type}) over `{target}.{item}` \
                 ({target_type}): the function types differ; copy only items declared with \
                 the same signature"
            ),
            PatchError::NothingToCopy { target, source } => write!(
                f,
                "modules `{source}` and `{target}` have no item name in common, so \
                 patch_module has nothing to copy; name the items explicitly or check the \
                 module names"
            ),
            PatchError::InvalidRegistry(problems) => {
                f.write_str("the declared patchable modules are inconsistent: ")?;
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{problem}")?;
                }
                Ok(())
            }
            PatchError::Reentrant { call } => write!(
                f,
                "{call} was called from a plugin handler while a patch call was delivering \
                 its events; patching is not re-entrant, so do the work in the handler \
                 itself or after the outer call returns"
            ),
        }
    }
}

impl Error for PatchError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PatchError::Plugin(error) => Some(error),
            _ => None,
        }
    }
}
