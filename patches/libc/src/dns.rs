//! Rerouted `getaddrinfo`: the lookup runs on the runtime's blocking pool.
//!
//! # Model
//! The node, service and hints are copied into owned values and the
//! original `getaddrinfo` runs on a pool thread (which has no hub, so
//! glibc's own calls inside it are the originals), while only the calling
//! green thread waits. The result list is handed back to the caller, who
//! frees it with `freeaddrinfo` as usual.
//!
//! # Invariants
//! - The pool job never borrows the caller's memory: a wait cut short by a
//!   kill or a timeout scope returns while the lookup may still run, and
//!   the job then frees its own result.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

use libc::addrinfo;

use crate::route::{errno, interrupted_errno, set_errno};
use crate::sys::real;

/// A result list owned until handed to the caller.
struct List(*mut addrinfo);

// SAFETY: the list is plain heap memory from getaddrinfo, owned by exactly
// one `List` at a time; freeaddrinfo may run on any thread.
unsafe impl Send for List {}

impl Drop for List {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a list getaddrinfo returned, freed once (here).
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

/// Copies a C string argument (null stays null).
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn owned(p: *const c_char) -> Option<CString> {
    // SAFETY: the caller's string.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_owned())
}

/// `getaddrinfo` rerouted.
///
/// # Safety
/// The caller's arguments to `getaddrinfo`.
pub(crate) unsafe fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if res.is_null() {
        // SAFETY: the caller's call (which reports the error).
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    let entry = errno();
    // SAFETY: the caller's strings.
    let (node_c, service_c) = unsafe { (owned(node), owned(service)) };
    // SAFETY: the caller's hints or null; only the four fields a caller
    // may set are copied, the rest must be zero/null by contract.
    let hints_c = unsafe { hints.as_ref() }.map(|h| (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol));
    let job = move || {
        // SAFETY: an all-zero addrinfo is valid (null pointers, zero sizes).
        let mut h: addrinfo = unsafe { std::mem::zeroed() };
        let hp = match hints_c {
            Some((flags, family, socktype, protocol)) => {
                h.ai_flags = flags;
                h.ai_family = family;
                h.ai_socktype = socktype;
                h.ai_protocol = protocol;
                &h as *const addrinfo
            }
            None => ptr::null(),
        };
        let mut out: *mut addrinfo = ptr::null_mut();
        let np = node_c.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let sp = service_c.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        // SAFETY: owned strings and hints, a valid out pointer.
        let rc = unsafe { real::getaddrinfo(np, sp, hp, &mut out) };
        (rc, errno(), List(out))
    };
    match greenpatch_runtime::foreign::run_blocking(job) {
        Ok((rc, err, list)) => {
            let list = std::mem::ManuallyDrop::new(list);
            // SAFETY: `res` is the caller's, non-null.
            unsafe { *res = list.0 };
            set_errno(if rc == libc::EAI_SYSTEM { err } else { entry });
            rc
        }
        Err(i) => match interrupted_errno(i) {
            Some(e) => {
                set_errno(e);
                libc::EAI_SYSTEM
            }
            None => {
                set_errno(entry);
                // SAFETY: the caller's call, on this thread.
                unsafe { real::getaddrinfo(node, service, hints, res) }
            }
        },
    }
}
