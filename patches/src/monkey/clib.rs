//! The builtin module `"libc"`: the C library's blocking calls, green.
//!
//! # Model
//!
//! Its items are the symbols `greenpatch-libc` defines (`recv`, `read`,
//! `connect`, `poll`, `nanosleep`, `getaddrinfo`, …, see
//! [`greenpatch_libc::Hook::ALL`]). A [`CSlot`] is the registry's view of
//! one: its *current* implementation is not a pointer that callers load
//! (C code calls the symbol itself) but the hook's enable flag, which the
//! hook reads on every call. Patching an item turns its flag on; rolling
//! back or unpatching turns it off. `get_original` returns the C library's
//! function (the `dlsym(RTLD_NEXT)` address the hook calls), typed as the
//! C function pointer `unsafe extern "C" fn(..) -> ..`:
//!
//! ```
//! use greenpatch::monkey::{get_original, is_object_patched, patch_all, PatchAll};
//! use std::ffi::{c_int, c_void};
//!
//! type Recv = unsafe extern "C" fn(c_int, *mut c_void, usize, c_int) -> isize;
//! let _ = patch_all(PatchAll::default()).unwrap();
//! assert!(is_object_patched("libc", "recv"));
//! let recv = get_original::<Recv>("libc", "recv").unwrap();
//! let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
//! use std::os::fd::AsRawFd;
//! // The C library's recv: never rerouted, so a non-blocking call it is.
//! let n = unsafe { recv(a.as_raw_fd(), [0u8; 1].as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) };
//! assert_eq!(n, -1);
//! ```
//!
//! # Invariants
//! - `CSlot<F>` is built only with `F` = the hook's type from
//!   [`greenpatch_libc::types`] (an `unsafe extern "C" fn` pointer), and
//!   `green` = that hook: so the original's address, converted to `F`, is a
//!   valid `F` (it is the C library's function of that prototype, or the
//!   hooks crate's fallback of that type).
//! - A hook is on iff its item is patched; a raw value restored by a
//!   rollback is one `raw_current` returned for the same slot.

use super::slot::{sealed, AnySlot, SlotTypeMismatch};
use greenpatch_libc::{green, types, Hook};
use std::any::{type_name, Any, TypeId};
use std::ffi::c_void;
use std::fmt;
use std::mem::size_of;
use std::sync::OnceLock;

/// One hooked C symbol as a registry item.
pub(crate) struct CSlot<F> {
    hook: Hook,
    green: F,
    original: OnceLock<F>,
}

impl<F: Copy + Send + Sync + 'static> CSlot<F> {
    const fn new(hook: Hook, green: F) -> Self {
        assert!(size_of::<F>() == size_of::<*const c_void>(), "CSlot: F must be a function pointer type");
        Self { hook, green, original: OnceLock::new() }
    }

    fn original(&self) -> &F {
        self.original.get_or_init(|| {
            let raw = self.hook.original();
            // SAFETY: module invariant: `F` is the hook's C function pointer
            // type, and `raw` a non-null function of that type.
            unsafe { std::mem::transmute_copy::<*const c_void, F>(&raw) }
        })
    }

    fn raw_of(&self, f: &F) -> *mut () {
        // SAFETY: `F` is pointer-sized (checked in `new`) and a function
        // pointer: its bits are an address.
        unsafe { std::mem::transmute_copy::<F, *mut ()>(f) }
    }
}

impl<F> fmt::Debug for CSlot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CSlot").field("hook", &self.hook).finish_non_exhaustive()
    }
}

impl<F: Copy + Send + Sync + 'static> sealed::SlotInternals for CSlot<F> {
    fn raw_current(&self) -> *mut () {
        if self.hook.is_enabled() {
            self.raw_of(&self.green)
        } else {
            self.raw_of(self.original())
        }
    }

    fn raw_green(&self) -> *mut () {
        self.raw_of(&self.green)
    }

    unsafe fn restore_raw(&self, raw: *mut ()) {
        self.hook.set_enabled(raw == self.raw_of(&self.green));
    }
}

impl<F: Copy + Send + Sync + 'static> AnySlot for CSlot<F> {
    fn name(&self) -> &'static str {
        self.hook.name()
    }

    fn fn_type_id(&self) -> TypeId {
        TypeId::of::<F>()
    }

    fn fn_type_name(&self) -> &'static str {
        type_name::<F>()
    }

    fn is_patched(&self) -> bool {
        self.hook.is_enabled()
    }

    fn patch(&self) {
        self.hook.set_enabled(true);
    }

    fn unpatch(&self) {
        self.hook.set_enabled(false);
    }

    fn set_from(&self, source: &dyn AnySlot) -> Result<(), SlotTypeMismatch> {
        // A C symbol can only be switched between the C library's function
        // and this hook: copying the hook (from this module) turns it on.
        match source.green_any().downcast_ref::<F>() {
            Some(g) if self.raw_of(g) == self.raw_of(&self.green) => {
                self.hook.set_enabled(true);
                Ok(())
            }
            _ => Err(SlotTypeMismatch {
                item: self.hook.name(),
                target_type: type_name::<F>(),
                source_item: source.name(),
                source_type:
                    "a function other than greenpatch-libc's hook (C symbols can only be switched to their hook)",
            }),
        }
    }

    fn original_any(&self) -> &dyn Any {
        self.original()
    }

    fn green_any(&self) -> &dyn Any {
        &self.green
    }
}

macro_rules! c_slots {
    ($($stat:ident = $variant:ident;)*) => {
        $(static $stat: CSlot<types::$variant> = CSlot::new(Hook::$variant, green::$variant);)*
        crate::patchable_module!(builtin, name = "libc", items = [$($stat),*]);
    };
}

c_slots! {
    RECV = Recv;
    RECVFROM = Recvfrom;
    RECVMSG = Recvmsg;
    SEND = Send;
    SENDTO = Sendto;
    SENDMSG = Sendmsg;
    READ = Read;
    WRITE = Write;
    READV = Readv;
    WRITEV = Writev;
    CONNECT = Connect;
    ACCEPT = Accept;
    ACCEPT4 = Accept4;
    CLOSE = Close;
    DUP2 = Dup2;
    DUP3 = Dup3;
    POLL = Poll;
    SELECT = Select;
    NANOSLEEP = Nanosleep;
    CLOCK_NANOSLEEP = ClockNanosleep;
    USLEEP = Usleep;
    SLEEP = Sleep;
    GETADDRINFO = Getaddrinfo;
    READ_CHK = ReadChk;
    RECV_CHK = RecvChk;
    RECVFROM_CHK = RecvfromChk;
    POLL_CHK = PollChk;
    PPOLL = Ppoll;
    EPOLL_WAIT = EpollWait;
}

/// Every hook has its item (checked in tests).
#[cfg(test)]
mod tests {
    #[test]
    fn every_hook_is_an_item() {
        let m = crate::monkey::module("libc").expect("the libc module is declared");
        let names: Vec<_> = m.item_names().collect();
        let hooks: Vec<_> = greenpatch_libc::Hook::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(names, hooks);
    }
}
