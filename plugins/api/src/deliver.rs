//! [`deliver`]: one event to every handler, in order, stopping at the first
//! answer that is not `Ok(())`.
//!
//! # Model
//!
//! 1. The entry points of the event's group are ordered (and checked: an
//!    unknown `after` name, a cycle or a duplicate name fails here, before
//!    any handler runs).
//! 2. Runtime subscribers run, in subscription order.
//! 3. Entry points run, in their order.
//!
//! A handler's answer is mapped as the table in [`crate::DeliveryError`]'s
//! module says; a panic is caught and reported as
//! [`DeliveryError::Panicked`] so that the caller (the registry) can roll
//! back instead of unwinding with half its slots switched. With
//! `panic = "abort"` a panicking handler aborts the process as usual.
//!
//! Delivery holds no lock while a handler runs.

use crate::entry::ordered;
use crate::subscribe::snapshot;
use crate::{DeliveryError, Event, Plugin, PluginError, Veto};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Delivers `event` to the runtime subscribers, then to the entry points of
/// its group; stops at the first answer that is not `Ok(())`.
///
/// A `DoNotPatch` answer to a will-event comes back as
/// [`DeliveryError::Vetoed`]; to a did-event as
/// [`DeliveryError::DoNotPatchFromDidEvent`].
///
/// # Example
///
/// ```
/// use greenpatch_plugins::{deliver, entry_point, Event, Options, PluginError, WillPatchAll};
///
/// fn refuse(event: &Event<'_>) -> Result<(), PluginError> {
///     match event.arg("allow-green") {
///         Some("no") => Err(PluginError::do_not_patch("allow-green=no was given")),
///         _ => Ok(()),
///     }
/// }
/// entry_point!(will_patch, name = "gatekeeper", handler = refuse);
///
/// fn main() {
///     let options = Options::new().with("socket", true);
///     let args = [("allow-green".to_string(), "no".to_string())];
///     let error = deliver(&Event::WillPatchAll(WillPatchAll::new(&options, &args))).unwrap_err();
///     let veto = error.into_veto().unwrap();
///     assert_eq!(veto.reason.reason(), "allow-green=no was given");
///
///     assert!(deliver(&Event::WillPatchAll(WillPatchAll::new(&options, &[]))).is_ok());
/// }
/// ```
pub fn deliver(event: &Event<'_>) -> Result<(), DeliveryError> {
    let entry_points = ordered(event.group())?;
    for (id, name, handler) in snapshot() {
        answer(event, Plugin::Subscriber { id, name }, || handler(event))?;
    }
    for entry in entry_points {
        let plugin = Plugin::EntryPoint { name: entry.name(), declared_in: entry.declared_in() };
        answer(event, plugin, || (entry.handler())(event))?;
    }
    Ok(())
}

/// Runs one handler and maps its answer.
fn answer(
    event: &Event<'_>,
    plugin: Plugin,
    handler: impl FnOnce() -> Result<(), PluginError>,
) -> Result<(), DeliveryError> {
    let kind = event.kind();
    let module = event.module().map(str::to_owned);
    // The handler only borrows the event, which it cannot leave in a broken
    // state; the registry rolls back its own state on any error.
    match catch_unwind(AssertUnwindSafe(handler)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(PluginError::DoNotPatch(reason))) if kind.is_will() => {
            Err(DeliveryError::Vetoed(Veto { event: kind, module, plugin, reason }))
        }
        Ok(Err(PluginError::DoNotPatch(reason))) => {
            Err(DeliveryError::DoNotPatchFromDidEvent { event: kind, module, plugin, reason })
        }
        Ok(Err(PluginError::Failed(source))) => Err(DeliveryError::Failed { event: kind, module, plugin, source }),
        Err(payload) => {
            Err(DeliveryError::Panicked { event: kind, module, plugin, message: panic_message(payload.as_ref()) })
        }
    }
}

/// The text of a panic payload, when it is one.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}
