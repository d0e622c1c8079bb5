//! Spawning green threads: [`spawn`], [`spawn_local`] and [`Builder`].
//!
//! `spawn` puts the new green thread on the calling thread's hub, or — on a
//! hub of a multi-hub [`Runtime`](crate::Runtime) — on the runtime hub that
//! placement picks. `spawn_local` always stays on the calling hub, so its
//! closure need not be `Send`. A stack is taken from the hub's pool (or
//! mapped) at spawn time, so a limit is reported where the spawn happens.

use std::io;
use std::panic::Location;
use std::sync::Arc;

use crate::hub::Hub;
use crate::join::{JoinHandle, Packet, PacketRef};
use crate::placement;
use crate::registry::HubRef;
use crate::remote::Msg;
use crate::task::TaskInit;

/// Spawns a green thread running `f` and returns its handle.
///
/// # Panics
/// If no stack can be mapped, or the calling thread's hub cannot be created
/// (its first green call, with the process out of descriptors: `EMFILE`);
/// the message names the limit that was hit and how to raise it (use
/// [`Builder::spawn`] to get it as an `io::Error`), as `std::thread::spawn`
/// panics where `std::thread::Builder::spawn` returns the error.
///
/// ```
/// let handles: Vec<_> = (0..10).map(|i| greenpatch_runtime::spawn(move || i * 2)).collect();
/// let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 90);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Spawns a green thread on the current hub; `f` need not be `Send`.
///
/// # Panics
/// As [`spawn`].
///
/// ```
/// use std::rc::Rc;
/// let shared = Rc::new(5);
/// let s = shared.clone();
/// let h = greenpatch_runtime::spawn_local(move || *s + 1);
/// assert_eq!(h.join().unwrap(), 6);
/// ```
#[track_caller]
pub fn spawn_local<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match Builder::new().spawn_local(f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Green-thread factory, like `std::thread::Builder`: a name and a stack
/// size per green thread.
///
/// ```
/// let h = greenpatch_runtime::Builder::new()
///     .name("worker".into())
///     .stack_size(256 * 1024)
///     .spawn(|| greenpatch_runtime::current().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
    site: Option<&'static Location<'static>>,
}

impl Builder {
    /// A builder with the hub's defaults.
    ///
    /// ```
    /// let h = greenpatch_runtime::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the green thread (shown in diagnostics and by [`crate::current`]).
    ///
    /// ```
    /// let h = greenpatch_runtime::Builder::new().name("n".into()).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Usable stack size in bytes (rounded up to pages; at least
    /// [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE)).
    ///
    /// ```
    /// let h = greenpatch_runtime::Builder::new().stack_size(64 * 1024).spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// The spawn site that diagnostics (dumps, would-block-forever and
    /// monitor reports) show for the green thread, instead of the caller
    /// of `spawn`: for wrappers that spawn on their caller's behalf, such
    /// as the `greenpatch` facades (`#[track_caller]` there, then pass
    /// `Location::caller()` here).
    ///
    /// ```
    /// #[track_caller]
    /// fn spawn_for_caller() -> greenpatch_runtime::JoinHandle<()> {
    ///     let site = std::panic::Location::caller();
    ///     greenpatch_runtime::Builder::new().spawn_site(site).spawn(|| ()).unwrap()
    /// }
    /// spawn_for_caller().join().unwrap();
    /// ```
    pub fn spawn_site(mut self, site: &'static Location<'static>) -> Builder {
        self.site = Some(site);
        self
    }

    /// The site set by [`Builder::spawn_site`], else the caller's.
    #[track_caller]
    fn site_or_caller(&self) -> &'static Location<'static> {
        match self.site {
            Some(site) => site,
            None => Location::caller(),
        }
    }

    /// Spawns `f`; on a runtime hub, placement may pick another hub.
    ///
    /// # Errors
    /// When no stack can be mapped (the error names the limit), the
    /// calling thread's hub cannot be created (out of descriptors:
    /// `EMFILE`), or the runtime has shut down.
    ///
    /// ```
    /// let h = greenpatch_runtime::Builder::new().spawn(|| 3).unwrap();
    /// assert_eq!(h.join().unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = self.site_or_caller();
        let hub = Hub::get()?;
        if let Some(target) = placement::pick_here() {
            if !Arc::ptr_eq(&target, &hub.shared) {
                return Ok(self.spawn_remote(&target, site, f));
            }
        }
        self.spawn_on(hub, site, f)
    }

    /// Spawns `f` on the current hub; `f` need not be `Send`.
    ///
    /// # Errors
    /// When no stack can be mapped (the error names the limit), or the
    /// calling thread's hub cannot be created (out of descriptors: `EMFILE`).
    ///
    /// ```
    /// let h = greenpatch_runtime::Builder::new().spawn_local(|| std::rc::Rc::new(1)).unwrap();
    /// assert_eq!(*h.join().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn spawn_local<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let site = self.site_or_caller();
        self.spawn_on(Hub::get()?, site, f)
    }

    fn spawn_on<F, T>(self, hub: &Hub, site: &'static Location<'static>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let id = hub.shared.alloc_id();
        let packet = PacketRef::<T>::new(id);
        let body = Packet::body(&packet, f);
        let init = TaskInit { id, name: self.name, spawn_site: site, parent: Some(hub.current_id()) };
        let (idx, _) = hub.spawn_raw(packet.clone().into_owner(), init, self.stack_size, body)?;
        // The handle is not out yet: no kill can have been requested.
        packet.placed_unshared(idx);
        Ok(JoinHandle { packet, id })
    }

    /// Hands a not-yet-started `Send` closure to another hub.
    pub(crate) fn spawn_remote<F, T>(self, target: &HubRef, site: &'static Location<'static>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = target.alloc_id();
        let packet = PacketRef::<T>::new(id);
        let p = packet.clone();
        let stack_size = self.stack_size;
        // The record's fields fixed here: the parent is the spawner.
        let init = TaskInit::here(id, self.name, site);
        target.push(Msg::Run(Box::new(move || {
            let hub = Hub::current();
            let body = Packet::body(&p, f);
            match hub.spawn_raw(p.clone().into_owner(), init, stack_size, body) {
                Ok((idx, gen)) => p.placed(hub, idx, gen),
                Err(e) => p.complete(Err(crate::JoinError::Spawn(e))),
            }
        })));
        JoinHandle { packet, id }
    }
}
