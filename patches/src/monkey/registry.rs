//! The registry: `patch_all`, `patch_module` and the queries.
//!
//! # Model
//!
//! State:
//!
//! - each slot's current implementation (in the slot itself);
//! - the set of patched module names (`PATCHED`, read by the queries, which
//!   never wait for a patch call in progress);
//! - the first successful `patch_all` call's options (`SESSION`, to warn
//!   when a later call differs).
//!
//! Patch calls are serialised by the `SESSION` lock, held for the whole
//! call, events included. A handler that calls `patch_all` or
//! `patch_module` on the delivering thread gets
//! [`PatchError::Reentrant`] instead of a deadlock.
//!
//! `patch_all` sequence (builtins in [`BUILTIN_MODULES`] order, then
//! third-party modules by name; "new" = requested and not yet patched):
//!
//! ```text
//! check arguments, registry and entry points      error → nothing happened
//! nothing new?                                    → NothingNew (no events)
//! pre-patch checks                                → warnings
//! WillPatchAll                                    veto → Vetoed (nothing recorded)
//! for each new builtin:   WillPatchModule         veto → skip it, note it
//!                         switch its slots, record it patched
//!                         DidPatchModule
//! DidPatchBuiltinModules
//! for each new third-party module: same as builtins
//! DidPatchAll
//! ```
//!
//! Every switch in a call goes through a [`Transaction`]: an error from any
//! handler after the first switch restores each slot it switched and
//! un-records each module it recorded, in reverse order. Earlier calls'
//! patches are untouched.

use super::checks::{run_checks, take_queued};
use super::error::PatchError;
use super::module::{index, Module, BUILTIN_MODULES};
use super::request::{ModuleVeto, PatchAll, Patched, Warning};
use super::slot::AnySlot;
use greenpatch_plugins::{
    check_entry_points, deliver, DidPatchAll, DidPatchBuiltinModules, DidPatchModule, Event, Options, Veto,
    WillPatchAll, WillPatchModule,
};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, RwLock};

/// The first successful `patch_all` call's options and arguments.
struct Session {
    first: Option<(Options, Vec<(String, String)>)>,
}

/// Serialises patch calls; holds what later calls compare against.
static SESSION: Mutex<Session> = Mutex::new(Session { first: None });

/// The modules recorded as patched.
///
/// # Invariant
///
/// Written only by a patch call holding `SESSION`.
static PATCHED: RwLock<BTreeSet<&'static str>> = RwLock::new(BTreeSet::new());

thread_local! {
    /// Whether this thread is inside a patch call (delivering events).
    static IN_PATCH_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a patch call for its lifetime.
struct InPatchCall;

impl InPatchCall {
    /// Enters, or fails when this thread is already inside a patch call.
    fn enter(call: &'static str) -> Result<Self, PatchError> {
        if IN_PATCH_CALL.with(|flag| flag.replace(true)) {
            return Err(PatchError::Reentrant { call });
        }
        Ok(InPatchCall)
    }
}

impl Drop for InPatchCall {
    fn drop(&mut self) {
        IN_PATCH_CALL.with(|flag| flag.set(false));
    }
}

/// Locks the session. Handlers' panics are caught by delivery and registry
/// code does not panic while holding it, so a poisoned lock still guards a
/// consistent state: the poison is ignored.
fn session() -> MutexGuard<'static, Session> {
    SESSION.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `module` is recorded as patched.
fn recorded(module: &str) -> bool {
    PATCHED.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(module)
}

/// Records or un-records `module`.
fn record(module: &'static str, patched: bool) {
    let mut set = PATCHED.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    if patched {
        set.insert(module);
    } else {
        set.remove(module);
    }
}

/// Undo log of one patch call. Dropped without [`Transaction::commit`]
/// (an error, or an unexpected unwind), it rolls everything back.
struct Transaction {
    /// Slots switched, with the raw value each held before.
    slots: Vec<(&'static dyn AnySlot, *mut ())>,
    /// Modules this call recorded as patched.
    modules: Vec<&'static str>,
    committed: bool,
}

impl Transaction {
    fn new() -> Self {
        Self { slots: Vec::new(), modules: Vec::new(), committed: false }
    }

    /// Saves `slot`'s current value, then runs `switch` on it.
    fn switch(&mut self, slot: &'static dyn AnySlot, switch: impl FnOnce(&dyn AnySlot)) {
        self.slots.push((slot, slot.raw_current()));
        switch(slot);
    }

    /// Records `module` as patched, to be un-recorded on rollback.
    fn record(&mut self, module: &'static str) {
        if !recorded(module) {
            record(module, true);
            self.modules.push(module);
        }
    }

    /// Keeps everything.
    fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (slot, raw) in self.slots.drain(..).rev() {
            // SAFETY: `raw` was read with `raw_current` from this same slot.
            unsafe { slot.restore_raw(raw) };
        }
        for module in self.modules.drain(..).rev() {
            record(module, false);
        }
    }
}

/// Collects a call's warnings, logging each once as it is raised.
#[derive(Default)]
struct Warnings(Vec<Warning>);

impl Warnings {
    fn push(&mut self, warning: Warning) {
        crate::warn::emit("greenpatch::monkey", &warning.to_string());
        self.0.push(warning);
    }

    fn extend(&mut self, warnings: Vec<Warning>) {
        for warning in warnings {
            self.push(warning);
        }
    }
}

/// Delivers a will-event: `Ok(None)` to go on, `Ok(Some(veto))` when vetoed.
fn ask(event: &Event<'_>) -> Result<Option<Veto>, PatchError> {
    match deliver(event) {
        Ok(()) => Ok(None),
        Err(error) => error.into_veto().map(Some).map_err(PatchError::Plugin),
    }
}

/// Delivers a did-event.
fn tell(event: &Event<'_>) -> Result<(), PatchError> {
    deliver(event).map_err(PatchError::Plugin)
}

/// Fails when the declared modules are inconsistent.
fn check_registry() -> Result<(), PatchError> {
    let problems = &index().problems;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PatchError::InvalidRegistry(problems.clone()))
    }
}

/// A module to patch: its name and its declaration (absent for a builtin
/// nobody declared).
type Target = (&'static str, Option<&'static Module>);

/// Patches every builtin module requested (all by default) and the opted-in
/// third-party modules that are not patched yet, delivering the events:
///
/// ```text
/// WillPatchAll                              veto → Patched::Vetoed, nothing recorded
/// for each new builtin, in BUILTIN_MODULES order:
///     WillPatchModule(m)                    veto → skip m, listed in `vetoed`
///     switch m's slots to green; is_module_patched(m) becomes true
///     DidPatchModule(m)
/// DidPatchBuiltinModules
/// for each new opted-in third-party module, by name: as for builtins
/// DidPatchAll
/// ```
///
/// Calls are serialised by a global lock held for the whole call. A builtin
/// module that no crate declares has no items but still gets its events
/// and is recorded.
///
/// A second call only adds modules; when its options differ from the first
/// successful call's it adds [`Warning::OptionsDiffer`]. A call with nothing
/// new returns [`Patched::NothingNew`] without delivering any event.
///
/// # Errors
///
/// Nothing is changed when it fails: [`PatchError::UnknownModule`] for an
/// opted-in name nobody declares, [`PatchError::InvalidRegistry`],
/// [`PatchError::Reentrant`], and [`PatchError::Plugin`] when a handler
/// failed (what this call switched is rolled back) or the entry points are
/// broken (found before any event).
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{is_module_patched, patch_all, PatchAll, Patched};
///
/// let outcome = patch_all(PatchAll::default()).expect("no plugin failed");
/// assert!(matches!(outcome, Patched::Patched { .. }));
/// assert!(is_module_patched("socket"));
///
/// // A second call has nothing new to do.
/// assert!(patch_all(PatchAll::default()).unwrap().is_nothing_new());
/// ```
pub fn patch_all(request: PatchAll) -> Result<Patched, PatchError> {
    reported(patch_all_inner(request))
}

/// A plugin failure is a warning the application must see even if it
/// drops the `Err` (`warn.rs`).
fn reported(r: Result<Patched, PatchError>) -> Result<Patched, PatchError> {
    #[cfg(feature = "tracing")]
    match &r {
        Ok(outcome) => tracing::event!(
            target: "greenpatch",
            tracing::Level::INFO,
            kind = "patch",
            modules = ?outcome.modules(),
            plugins = ?outcome.plugins(),
            warnings = outcome.warnings().len(),
        ),
        Err(e) => tracing::event!(target: "greenpatch", tracing::Level::ERROR, kind = "patch", error = %e),
    }
    if let Err(e @ PatchError::Plugin(_)) = &r {
        crate::warn::emit("greenpatch::monkey", &format!("greenpatch: patching failed and was rolled back: {e}"));
    }
    r
}

fn patch_all_inner(request: PatchAll) -> Result<Patched, PatchError> {
    let _in_call = InPatchCall::enter("patch_all")?;
    let mut session = session();
    check_registry()?;
    let index = index();

    let mut third_party: Vec<Target> = Vec::new();
    for name in request.third_party() {
        match index.find(name) {
            Some(module) => third_party.push((module.name(), Some(module))),
            None => return Err(PatchError::UnknownModule { name: name.to_owned(), known: index.names() }),
        }
    }
    check_entry_points().map_err(PatchError::Plugin)?;

    let options = request.options();
    let args = request.args().to_vec();
    let mut warnings = Warnings::default();
    warnings.extend(take_queued());
    if let Some((first, first_args)) = &session.first {
        if *first != options || *first_args != args {
            warnings.push(Warning::OptionsDiffer {
                first: first.clone(),
                first_args: first_args.clone(),
                now: options.clone(),
                now_args: args.clone(),
            });
        }
    }

    let builtins: Vec<Target> = BUILTIN_MODULES
        .iter()
        .filter(|&&name| request.is_builtin_requested(name) && !recorded(name))
        .map(|&name| (name, index.find(name)))
        .collect();
    third_party.retain(|&(name, _)| !recorded(name));
    if builtins.is_empty() && third_party.is_empty() {
        return Ok(Patched::NothingNew { warnings: warnings.0 });
    }
    warnings.extend(run_checks());

    if let Some(veto) = ask(&Event::WillPatchAll(WillPatchAll::new(&options, &args)))? {
        return Ok(Patched::Vetoed { veto, warnings: warnings.0 });
    }

    let mut tx = Transaction::new();
    let mut modules = Vec::new();
    let mut vetoed = Vec::new();
    for (name, module) in builtins {
        patch_one(&mut tx, name, module, &options, &args, &mut modules, &mut vetoed)?;
    }
    tell(&Event::DidPatchBuiltinModules(DidPatchBuiltinModules::new(&options, &args)))?;
    for (name, module) in third_party {
        patch_one(&mut tx, name, module, &options, &args, &mut modules, &mut vetoed)?;
    }
    tell(&Event::DidPatchAll(DidPatchAll::new(&options, &args)))?;

    tx.commit();
    if session.first.is_none() {
        session.first = Some((options, args));
    }
    Ok(Patched::Patched { modules, vetoed, warnings: warnings.0 })
}

/// Will-event, switch, record, did-event for one module of `patch_all`.
fn patch_one(
    tx: &mut Transaction,
    name: &'static str,
    module: Option<&'static Module>,
    options: &Options,
    args: &[(String, String)],
    modules: &mut Vec<&'static str>,
    vetoed: &mut Vec<ModuleVeto>,
) -> Result<(), PatchError> {
    let items: Vec<&str> = module.map(|m| m.item_names().collect()).unwrap_or_default();
    let will = WillPatchModule::new(name, &items, options, args);
    if let Some(veto) = ask(&Event::WillPatchModule(will))? {
        vetoed.push(ModuleVeto { module: name, veto });
        return Ok(());
    }
    for &slot in module.map(Module::items).unwrap_or_default() {
        tx.switch(slot, |slot| slot.patch());
    }
    tx.record(name);
    modules.push(name);
    tell(&Event::DidPatchModule(DidPatchModule::new(name, &items, options, args)))
}

/// Copies items of module `source` over module `target`: each target slot
/// named in `items` (or, for `None`, each one whose name the source also
/// has) takes the source slot's green implementation. Delivers the target's
/// `WillPatchModule` (a veto returns [`Patched::Vetoed`]) and
/// `DidPatchModule`, and records the target as patched.
///
/// Returns [`Patched::NothingNew`], without events, when every chosen target
/// item already runs the source's implementation.
///
/// # Errors
///
/// Nothing is changed when it fails: [`PatchError::UnknownModule`],
/// [`PatchError::UnknownItem`], [`PatchError::TypeMismatch`],
/// [`PatchError::NothingToCopy`], [`PatchError::InvalidRegistry`],
/// [`PatchError::Reentrant`], and [`PatchError::Plugin`] (rolled back).
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{is_module_patched, is_object_patched, patch_module, Slot};
///
/// fn std_connect() -> &'static str { "blocking" }
/// fn our_connect() -> &'static str { "green" }
///
/// static LIB_CONNECT: Slot<fn() -> &'static str> = Slot::new("connect", std_connect, std_connect);
/// static OUR_CONNECT: Slot<fn() -> &'static str> = Slot::new("connect", std_connect, our_connect);
/// greenpatch::patchable_module!(name = "doc-lib", items = [LIB_CONNECT]);
/// greenpatch::patchable_module!(name = "doc-lib-green", items = [OUR_CONNECT]);
///
/// fn main() {
///     patch_module("doc-lib", "doc-lib-green", Some(&["connect"])).unwrap();
///     assert_eq!((LIB_CONNECT.get())(), "green");
///     assert!(is_module_patched("doc-lib"));
///     assert!(is_object_patched("doc-lib", "connect"));
/// }
/// ```
pub fn patch_module(target: &str, source: &str, items: Option<&[&str]>) -> Result<Patched, PatchError> {
    reported(patch_module_inner(target, source, items))
}

fn patch_module_inner(target: &str, source: &str, items: Option<&[&str]>) -> Result<Patched, PatchError> {
    let _in_call = InPatchCall::enter("patch_module")?;
    let _session = session();
    check_registry()?;
    let index = index();
    let find = |name: &str| {
        index.find(name).ok_or_else(|| PatchError::UnknownModule { name: name.to_owned(), known: index.names() })
    };
    let target = find(target)?;
    let source = find(source)?;

    let mut pairs: Vec<(&'static dyn AnySlot, &'static dyn AnySlot)> = Vec::new();
    match items {
        Some(names) => {
            for &name in names {
                let item = |module: &'static Module| {
                    module.item(name).ok_or_else(|| PatchError::UnknownItem {
                        module: module.name(),
                        item: name.to_owned(),
                        known: module.item_names().collect(),
                    })
                };
                let pair = (item(target)?, item(source)?);
                if !pairs.iter().any(|(t, _)| t.name() == pair.0.name()) {
                    pairs.push(pair);
                }
            }
        }
        None => {
            for &slot in target.items() {
                if let Some(from) = source.item(slot.name()) {
                    pairs.push((slot, from));
                }
            }
            if pairs.is_empty() {
                return Err(PatchError::NothingToCopy { target: target.name(), source: source.name() });
            }
        }
    }
    for (to, from) in &pairs {
        if to.fn_type_id() != from.fn_type_id() {
            return Err(PatchError::TypeMismatch {
                target: target.name(),
                source: source.name(),
                item: to.name(),
                target_type: to.fn_type_name(),
                source_type: from.fn_type_name(),
            });
        }
    }
    check_entry_points().map_err(PatchError::Plugin)?;

    let mut warnings = Warnings::default();
    warnings.extend(take_queued());
    if pairs.iter().all(|(to, from)| to.raw_current() == from.raw_green()) {
        return Ok(Patched::NothingNew { warnings: warnings.0 });
    }

    let name = target.name();
    let options = Options::new().with(name, true);
    let item_names: Vec<&str> = pairs.iter().map(|(to, _)| to.name()).collect();
    let will = WillPatchModule::new(name, &item_names, &options, &[]);
    if let Some(veto) = ask(&Event::WillPatchModule(will))? {
        return Ok(Patched::Vetoed { veto, warnings: warnings.0 });
    }

    let mut tx = Transaction::new();
    for (to, from) in pairs {
        let mut result = Ok(());
        tx.switch(to, |to| result = to.set_from(from));
        // Types were checked above; should it fail anyway, `tx` rolls back.
        result.map_err(|mismatch| PatchError::TypeMismatch {
            target: name,
            source: source.name(),
            item: mismatch.item,
            target_type: mismatch.target_type,
            source_type: mismatch.source_type,
        })?;
    }
    tx.record(name);
    tell(&Event::DidPatchModule(DidPatchModule::new(name, &item_names, &options, &[])))?;
    tx.commit();
    Ok(Patched::Patched { modules: vec![name], vetoed: Vec::new(), warnings: warnings.0 })
}

/// The original (std) implementation of `module.item`, typed; `None` when
/// there is no such item or `T` is not its function type. The same value
/// before, during and after any patching.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{get_original, Slot};
///
/// fn std_ticks() -> u64 { 7 }
/// fn green_ticks() -> u64 { 8 }
/// static TICKS: Slot<fn() -> u64> = Slot::new("ticks", std_ticks, green_ticks);
/// greenpatch::patchable_module!(name = "doc-clock", items = [TICKS]);
///
/// fn main() {
///     let ticks = get_original::<fn() -> u64>("doc-clock", "ticks").unwrap();
///     assert_eq!(ticks(), 7);
///     assert!(get_original::<fn() -> u32>("doc-clock", "ticks").is_none(), "wrong type");
///     assert!(get_original::<fn() -> u64>("doc-clock", "tocks").is_none(), "no such item");
/// }
/// ```
pub fn get_original<T: Copy + 'static>(module: &str, item: &str) -> Option<T> {
    index().find(module)?.item(item)?.original_any().downcast_ref::<T>().copied()
}

/// Whether `module` was patched, by `patch_all` or `patch_module`. It is
/// already `true` while the module's `DidPatchModule` is delivered.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::is_module_patched;
/// assert!(!is_module_patched("no-such-module"));
/// ```
pub fn is_module_patched(module: &str) -> bool {
    recorded(module)
}

/// Whether item `item` of `module` currently runs something other than its
/// original implementation; `false` for unknown names.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::is_object_patched;
/// assert!(!is_object_patched("no-such-module", "sleep"));
/// ```
pub fn is_object_patched(module: &str, item: &str) -> bool {
    index().find(module).and_then(|m| m.item(item)).is_some_and(|slot| slot.is_patched())
}

/// The declared module named `name` (its first declaration, should a name be
/// declared twice).
///
/// # Example
///
/// ```
/// assert!(greenpatch::monkey::module("no-such-module").is_none());
/// ```
pub fn module(name: &str) -> Option<&'static Module> {
    index().find(name)
}

/// Every declared module, sorted by name.
///
/// # Example
///
/// ```
/// let names: Vec<_> = greenpatch::monkey::modules().iter().map(|m| m.name()).collect();
/// let mut sorted = names.clone();
/// sorted.sort();
/// assert_eq!(names, sorted);
/// ```
pub fn modules() -> Vec<&'static Module> {
    index().modules()
}

/// The modules recorded as patched, sorted by name.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{patch_all, patched_modules, PatchAll};
/// let _ = patch_all(PatchAll::none().time(true)).unwrap();
/// assert!(patched_modules().contains(&"time"));
/// ```
pub fn patched_modules() -> Vec<&'static str> {
    PATCHED.read().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().copied().collect()
}
