//! Inventory entry points and their delivery order.
//!
//! # Model
//!
//! Any linked crate registers an [`EntryPoint`] with one
//! [`entry_point!`](crate::entry_point) invocation per event group
//! (`will_patch` or `did_patch`). An entry point has a name, the names of
//! plugins it must run after, and a plain `fn` handler that receives every
//! event of its group.
//!
//! Within a group, entry points run in topological order of their `after`
//! lists; among those free to run, the smallest name first. The order is
//! therefore the same in every run of the same binary, whatever order the
//! linker put the registrations in.
//!
//! An `after` name refers to a plugin name in *any* group: a did-patch
//! entry point may name a plugin that only has a will-patch entry point, and
//! that constraint is then empty for the did-patch group. A name that no
//! entry point has is an error, as are a cycle and two entry points with the
//! same name in one group. [`ordered`] finds these before any handler runs.

use crate::{DeliveryError, Event, EventGroup, PluginError};
use std::collections::{BTreeMap, BTreeSet};

/// The handler of an entry point: a plain function receiving every event of
/// its group.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{Event, Handler, PluginError};
///
/// fn on_event(_event: &Event<'_>) -> Result<(), PluginError> {
///     Ok(())
/// }
/// let handler: Handler = on_event;
/// # let _ = handler;
/// ```
pub type Handler = fn(&Event<'_>) -> Result<(), PluginError>;

/// One registered entry point. Made by [`entry_point!`](crate::entry_point);
/// listed by [`entry_points`].
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{entry_point, entry_points, Event, EventGroup, PluginError};
///
/// fn handler(_event: &Event<'_>) -> Result<(), PluginError> {
///     Ok(())
/// }
/// entry_point!(did_patch, name = "example", handler = handler);
///
/// fn main() {
///     let all = entry_points(EventGroup::DidPatch).unwrap();
///     let ours = all.iter().find(|e| e.name() == "example").unwrap();
///     assert_eq!(ours.group(), EventGroup::DidPatch);
///     assert!(ours.after().is_empty());
/// }
/// ```
#[derive(Debug)]
pub struct EntryPoint {
    group: EventGroup,
    name: &'static str,
    after: &'static [&'static str],
    handler: Handler,
    declared_in: &'static str,
}

inventory::collect!(EntryPoint);

impl EntryPoint {
    /// Used by [`entry_point!`](crate::entry_point); not a stable API.
    #[doc(hidden)]
    pub const fn __new(
        group: EventGroup,
        name: &'static str,
        after: &'static [&'static str],
        handler: Handler,
        declared_in: &'static str,
    ) -> Self {
        Self { group, name, after, handler, declared_in }
    }

    /// The group whose events it receives.
    ///
    /// # Example
    ///
    /// ```
    /// # use greenpatch_plugins::{entry_point, entry_points, EventGroup};
    /// entry_point!(will_patch, name = "w", handler = |_e| Ok(()));
    /// # fn main() {
    /// let w = entry_points(EventGroup::WillPatch).unwrap();
    /// assert_eq!(w[0].group(), EventGroup::WillPatch);
    /// # }
    /// ```
    pub fn group(&self) -> EventGroup {
        self.group
    }

    /// Its name, as other entry points refer to it in `after`.
    ///
    /// # Example
    ///
    /// ```
    /// # use greenpatch_plugins::{entry_point, entry_points, EventGroup};
    /// entry_point!(will_patch, name = "w", handler = |_e| Ok(()));
    /// # fn main() {
    /// assert_eq!(entry_points(EventGroup::WillPatch).unwrap()[0].name(), "w");
    /// # }
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The plugins it must run after.
    ///
    /// # Example
    ///
    /// ```
    /// # use greenpatch_plugins::{entry_point, entry_points, EventGroup};
    /// entry_point!(did_patch, name = "a", handler = |_e| Ok(()));
    /// entry_point!(did_patch, name = "b", after = ["a"], handler = |_e| Ok(()));
    /// # fn main() {
    /// let order = entry_points(EventGroup::DidPatch).unwrap();
    /// assert_eq!(order[1].after(), ["a"]);
    /// # }
    /// ```
    pub fn after(&self) -> &'static [&'static str] {
        self.after
    }

    /// The Rust module path where it was declared.
    ///
    /// # Example
    ///
    /// ```
    /// # use greenpatch_plugins::{entry_point, entry_points, EventGroup};
    /// entry_point!(did_patch, name = "a", handler = |_e| Ok(()));
    /// # fn main() {
    /// assert!(!entry_points(EventGroup::DidPatch).unwrap()[0].declared_in().is_empty());
    /// # }
    /// ```
    pub fn declared_in(&self) -> &'static str {
        self.declared_in
    }

    /// Its handler.
    ///
    /// # Example
    ///
    /// ```
    /// # use greenpatch_plugins::{entry_point, entry_points, DidPatchAll, Event, EventGroup, Options};
    /// entry_point!(did_patch, name = "a", handler = |_e| Ok(()));
    /// # fn main() {
    /// let options = Options::new();
    /// let event = Event::DidPatchAll(DidPatchAll::new(&options, &[]));
    /// assert!((entry_points(EventGroup::DidPatch).unwrap()[0].handler())(&event).is_ok());
    /// # }
    /// ```
    pub fn handler(&self) -> Handler {
        self.handler
    }
}

/// Registers an entry point: a function that receives every event of one
/// group, in a deterministic order among all linked crates' entry points.
///
/// ```text
/// entry_point!(GROUP, name = "NAME", [after = ["OTHER", ...],] handler = HANDLER);
/// ```
///
/// - `GROUP` is `will_patch` (`WillPatchAll`, `WillPatchModule`; may veto)
///   or `did_patch` (`DidPatchModule`, `DidPatchBuiltinModules`,
///   `DidPatchAll`).
/// - `NAME` is a non-empty string literal, unique within the group; it is
///   what errors show and what other plugins name in `after`.
/// - `after` (optional) lists plugins that must run first.
/// - `HANDLER` is a path to a `fn(&Event<'_>) -> Result<(), PluginError>`, or
///   a closure that captures nothing.
///
/// Use it at item level (module scope or inside a function body), once per
/// group and plugin.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{entry_point, entry_points, Event, EventGroup, PluginError};
///
/// fn pool_after_patch(_event: &Event<'_>) -> Result<(), PluginError> {
///     Ok(())
/// }
///
/// entry_point!(did_patch, name = "tls", handler = |_event| Ok(()));
/// entry_point!(did_patch, name = "pool", after = ["tls"], handler = pool_after_patch);
///
/// fn main() {
///     let names: Vec<_> = entry_points(EventGroup::DidPatch)
///         .unwrap()
///         .iter()
///         .map(|e| e.name())
///         .collect();
///     assert_eq!(names, ["tls", "pool"]);
/// }
/// ```
#[macro_export]
macro_rules! entry_point {
    (will_patch, $($rest:tt)*) => {
        $crate::__entry_point!($crate::EventGroup::WillPatch; $($rest)*);
    };
    (did_patch, $($rest:tt)*) => {
        $crate::__entry_point!($crate::EventGroup::DidPatch; $($rest)*);
    };
    ($group:tt $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "entry_point!: unknown event group `", ::core::stringify!($group),
            "`; write `entry_point!(will_patch, name = \"...\", handler = ...)` or `did_patch`"
        ));
    };
}

/// The body of [`entry_point!`]; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __entry_point {
    (
        $group:expr;
        name = $name:literal,
        $(after = [$($after:literal),* $(,)?],)?
        handler = $handler:expr $(,)?
    ) => {
        const _: () = {
            ::core::assert!(
                !<str>::is_empty($name),
                "entry_point!: `name` must not be empty"
            );
            $crate::inventory::submit! {
                $crate::EntryPoint::__new(
                    $group,
                    $name,
                    &[$($($after),*)?],
                    $handler,
                    ::core::module_path!(),
                )
            }
        };
    };
    ($group:expr; $($rest:tt)*) => {
        ::core::compile_error!(
            "entry_point!: expected `name = \"...\", [after = [\"...\", ...],] handler = path::to::fn` \
             after the group, in that order"
        );
    };
}

/// The entry points of `group`, in delivery order.
///
/// Fails, naming the entry points involved, when an `after` name is unknown,
/// when `after` lists form a cycle, or when two entry points of the group
/// share a name.
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{entry_point, entry_points, EventGroup};
///
/// entry_point!(will_patch, name = "b", handler = |_e| Ok(()));
/// entry_point!(will_patch, name = "a", after = ["c"], handler = |_e| Ok(()));
/// entry_point!(will_patch, name = "c", handler = |_e| Ok(()));
///
/// fn main() {
///     let order: Vec<_> = entry_points(EventGroup::WillPatch)
///         .unwrap()
///         .iter()
///         .map(|e| e.name())
///         .collect();
///     // "b" and "c" are free to run; "b" sorts first. "a" waits for "c".
///     assert_eq!(order, ["b", "c", "a"]);
/// }
/// ```
pub fn entry_points(group: EventGroup) -> Result<Vec<&'static EntryPoint>, DeliveryError> {
    ordered(group)
}

/// Checks both groups' entry points (unknown `after` names, cycles,
/// duplicate names) without delivering anything. The registry calls it
/// before the first event of a patch call, so that a broken did-patch
/// ordering is reported before any will-patch handler has run.
///
/// # Example
///
/// ```
/// assert!(greenpatch_plugins::check_entry_points().is_ok());
/// ```
pub fn check_entry_points() -> Result<(), DeliveryError> {
    ordered(EventGroup::WillPatch)?;
    ordered(EventGroup::DidPatch)?;
    Ok(())
}

/// Orders the entry points of `group` (see the module docs).
pub(crate) fn ordered(group: EventGroup) -> Result<Vec<&'static EntryPoint>, DeliveryError> {
    let all: Vec<&'static EntryPoint> = inventory::iter::<EntryPoint>.into_iter().collect();
    let known: BTreeSet<&str> = all.iter().map(|e| e.name).collect();

    // By name, then by declaration site, so that every check below visits
    // entry points in the same order in every run.
    let mut members: Vec<&'static EntryPoint> = all.into_iter().filter(|e| e.group == group).collect();
    members.sort_by_key(|e| (e.name, e.declared_in));

    for pair in members.windows(2) {
        if pair[0].name == pair[1].name {
            let name = pair[0].name;
            return Err(DeliveryError::DuplicateName {
                group,
                name,
                declared_in: members.iter().filter(|e| e.name == name).map(|e| e.declared_in).collect(),
            });
        }
    }

    for entry in &members {
        if let Some(unknown) = entry.after.iter().find(|a| !known.contains(*a)) {
            return Err(DeliveryError::UnknownAfter {
                group,
                plugin: entry.name,
                declared_in: entry.declared_in,
                unknown,
            });
        }
    }

    let by_name: BTreeMap<&str, &'static EntryPoint> = members.iter().map(|e| (e.name, *e)).collect();
    // How many in-group predecessors each entry point still waits for, and
    // who waits for whom.
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for entry in &members {
        let before: BTreeSet<&str> = entry.after.iter().copied().filter(|a| by_name.contains_key(a)).collect();
        waiting.insert(entry.name, before.len());
        for b in before {
            dependents.entry(b).or_default().push(entry.name);
        }
    }

    let mut ready: BTreeSet<&str> = waiting.iter().filter(|&(_, &n)| n == 0).map(|(&name, _)| name).collect();
    let mut order = Vec::with_capacity(members.len());
    while let Some(name) = ready.pop_first() {
        order.push(by_name[name]);
        waiting.remove(name);
        for dependent in dependents.get(name).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(dependent) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }

    if waiting.is_empty() {
        Ok(order)
    } else {
        Err(DeliveryError::Cycle { group, plugins: find_cycle(&waiting, &by_name) })
    }
}

/// Finds one cycle among the entry points left after ordering. Each of them
/// still waits for another one left over, so following "runs after" from
/// any of them must revisit a name. The cycle is rotated to start at its
/// smallest name, for a stable message.
fn find_cycle(left: &BTreeMap<&str, usize>, by_name: &BTreeMap<&str, &'static EntryPoint>) -> Vec<&'static str> {
    let Some(&start) = left.keys().next() else {
        return Vec::new();
    };
    let mut path: Vec<&'static str> = Vec::new();
    let mut current = by_name[start];
    loop {
        if let Some(at) = path.iter().position(|&n| n == current.name) {
            let mut cycle = path.split_off(at);
            if let Some(min) = cycle.iter().enumerate().min_by_key(|&(_, n)| *n).map(|(i, _)| i) {
                cycle.rotate_left(min);
            }
            return cycle;
        }
        path.push(current.name);
        let next = current.after.iter().filter(|a| left.contains_key(*a)).min().and_then(|a| by_name.get(a));
        match next {
            Some(next) => current = next,
            // Cannot happen (every left-over entry waits for a left-over
            // one); report the path walked rather than panic.
            None => return path,
        }
    }
}
