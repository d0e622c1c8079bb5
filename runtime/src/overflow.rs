//! Naming the green thread that overflowed its stack.
//!
//! # Model
//!
//! A green thread that runs off the end of its stack touches the guard page
//! below it (see `crate::stack`) and the kernel sends the OS thread `SIGSEGV`
//! (`SIGBUS` on some systems): with `si_code = SEGV_MAPERR` for a guard
//! region in a stack arena (Linux 6.13+), `SEGV_ACCERR` for a `PROT_NONE`
//! page (older kernels). The handler does not look at `si_code`: both kinds
//! are recognised the same way, by address. Left alone, the process would die with a bare
//! "Segmentation fault", or std's handler would blame the OS thread. This
//! module installs a handler that recognises a fault in the guard of the
//! green-thread stack currently running on the faulting OS thread and prints
//!
//! ```text
//! green thread <id> '<name>' overflowed its <N>-byte stack
//! ```
//!
//! to standard error, then aborts (`SIGABRT`). Any other fault is passed on
//! to the handler that was installed before ours, which is std's own
//! stack-overflow reporter ("thread 'x' has overflowed its stack") for the
//! OS threads' stacks, or the default action, which kills the process as
//! usual.
//!
//! # Invariants
//!
//! - The handler runs on an alternate signal stack (`SA_ONSTACK`): the
//!   faulting stack has no room left. Each OS thread that runs green threads
//!   needs one, which [`ensure_altstack`] provides when std has not.
//! - `SA_NODEFER` is deliberately **not** set: while the handler runs, a
//!   second fault of the same signal (say, a corrupt header) makes the kernel
//!   kill the process outright instead of recursing into the handler until
//!   the alternate stack overflows too.
//! - The handler is async-signal-safe: it reads a `const`-initialised
//!   thread-local (a plain TLS load, no lazy initialisation, no destructor),
//!   copies the header out through a raw pointer, formats into a buffer on
//!   its own stack, and calls only `write(2)`, `abort(3)`, `sigaction(2)` and
//!   `raise(3)`. No allocation, no locks, no std formatting.
//! - The current-stack pointer of a thread is non-null exactly while a green
//!   thread runs on that OS thread, and then points at the header of that
//!   green thread's stack, which stays mapped for at least as long.
//! - No index of stacks or arenas is searched, so there is nothing to lock:
//!   a fault can only be an overflow of the green thread running on the
//!   faulting OS thread, whose header the thread-local names. The guard
//!   range in that header (`guard_lo..guard_hi`) is fixed for as long as the
//!   slot's arena is mapped, and the arena stays mapped while the running
//!   stack holds it (see `crate::stack`), so the copy the handler reads is
//!   never stale. Slots of an arena sit back to back, so one page below a
//!   guard is the previous slot's header page, which is mapped read/write:
//!   it can never be the fault address, and the one-page slack below the
//!   guard only matters for single-stack mappings.
//!
//! # Wiring (for the hub)
//!
//! - Call [`install`] once before the first green thread runs (idempotent,
//!   cheap after the first call), and [`ensure_altstack`] on every OS thread
//!   that resumes green threads, before its first resume.
//! - Around every resume of a green thread, publish its stack's header:
//!
//!   ```ignore
//!   overflow::enter(stack.header_ptr());
//!   let result = coroutine.resume(value); // runs on `stack`
//!   overflow::leave();
//!   ```
//!
//!   `leave` must also run when the resume unwinds (a panic propagated out
//!   of the green thread): use a drop guard, or catch and rethrow, so that a
//!   stale pointer never outlives the stack. A green thread that resumes
//!   another one directly must re-`enter` its own header after that resume
//!   returns instead of calling `leave`.
//! - Set the owner before the green thread first runs:
//!   `stack.set_owner(id, name)`.

use std::cell::Cell;
use std::ffi::c_void;
use std::io;
use std::mem;
use std::ptr;
use std::sync::{Once, OnceLock};

use libc::c_int;

use crate::stack::{self, StackHeader};

thread_local! {
    /// Header of the green-thread stack running on this OS thread, or null.
    static CURRENT: Cell<*const StackHeader> = const { Cell::new(ptr::null()) };
}

/// Publishes `h` as the header of the stack about to run on this thread.
/// Call right before resuming a green thread.
#[inline]
pub(crate) fn enter(h: *const StackHeader) {
    CURRENT.set(h);
}

/// Clears the current stack: call right after a resume returns (or unwinds).
#[inline]
pub(crate) fn leave() {
    CURRENT.set(ptr::null());
}

static INSTALL: Once = Once::new();
/// The `SIGSEGV` disposition found when we installed ours.
static PREV_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
/// The `SIGBUS` disposition found when we installed ours.
static PREV_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the `SIGSEGV` and `SIGBUS` handler for the whole process,
/// keeping the previous handlers to chain to. Idempotent.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // The handler reads the page size; make sure it is cached.
        let _ = stack::page_size();
        install_one(libc::SIGSEGV, &PREV_SEGV);
        install_one(libc::SIGBUS, &PREV_BUS);
    });
}

fn install_one(sig: c_int, prev_slot: &OnceLock<libc::sigaction>) {
    // SAFETY: sigaction is plain old data; all-zero is a valid value (no
    // handler, empty mask, no flags).
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = handle_fault as *const () as libc::sighandler_t;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `action.sa_mask` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: see above.
    let mut prev: libc::sigaction = unsafe { mem::zeroed() };
    // Swap in one call so that a handler installed concurrently by someone
    // else is not lost. The handler treats a not-yet-saved previous
    // disposition as the default one.
    // SAFETY: both pointers are valid for the call; `handle_fault` has the
    // three-argument signature SA_SIGINFO requires and is async-signal-safe.
    let rc = unsafe { libc::sigaction(sig, &action, &mut prev) };
    if rc == 0 {
        let _ = prev_slot.set(prev);
    }
}

/// The signal handler for `SIGSEGV` and `SIGBUS`.
extern "C" fn handle_fault(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // A signal handler must never switch: C-level hooks of `write` (the
    // report below) pass straight through from here on (foreign.rs).
    crate::foreign::set_may_park(false);
    let current = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if !current.is_null() && !info.is_null() {
        // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
        let addr = unsafe { fault_address(info) };
        // SAFETY: `current` is non-null only while a green thread runs on
        // this thread, and then points at the header of its stack, which is
        // mapped and initialised (module invariant). Copying it out avoids
        // holding a reference into that memory.
        let header = unsafe { ptr::read(current) };
        if in_guard(addr, &header, guard_slack()) {
            let mut buf = [0u8; 256];
            let len = overflow_message(&mut buf, header.id, header.name_bytes(), header.size);
            write_stderr(buf.get(..len).unwrap_or(&buf));
            // SAFETY: abort is async-signal-safe and takes no arguments.
            unsafe { libc::abort() };
        }
    }
    chain(sig, info, ctx);
}

/// How far below the guard a fault still counts as an overflow: one page.
fn guard_slack() -> usize {
    // Cached by `install`, so this is an atomic load, not a system call.
    stack::page_size()
}

/// The faulting address of a `SIGSEGV`/`SIGBUS`.
///
/// # Safety
///
/// `info` must point at the siginfo_t of a fault signal.
unsafe fn fault_address(info: *const libc::siginfo_t) -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `info` is valid (caller), and for SIGSEGV/SIGBUS the address
    // member of the union is the one the kernel filled.
    let addr = unsafe { (*info).si_addr() };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: `info` is valid (caller).
    let addr = unsafe { (*info).si_addr };
    addr as usize
}

/// Whether a fault at `addr` is an overflow of the stack described by `h`:
/// inside its guard, or at most `slack` bytes below it.
fn in_guard(addr: usize, h: &StackHeader, slack: usize) -> bool {
    addr >= h.guard_lo.saturating_sub(slack) && addr < h.guard_hi
}

/// Whether the kernel raised the signal for a fault (as opposed to `kill`,
/// `raise` or `sigqueue`).
fn raised_by_fault(info: *const libc::siginfo_t) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO
        // handlers; `si_code` is outside the union.
        !info.is_null() && unsafe { (*info).si_code } > 0
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = info;
        true
    }
}

/// Restores the default disposition of `sig`.
fn reset_default(sig: c_int) {
    // SAFETY: sigaction is plain old data; zero is SIG_DFL, no flags.
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = libc::SIG_DFL;
    // SAFETY: valid pointers; sigaction is async-signal-safe.
    unsafe { libc::sigaction(sig, &action, ptr::null_mut()) };
}

/// Passes a fault that is not a green-thread overflow to the handler that
/// was installed before ours.
fn chain(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let prev = match sig {
        libc::SIGSEGV => PREV_SEGV.get(),
        libc::SIGBUS => PREV_BUS.get(),
        _ => None,
    };
    let (handler, flags) = prev.map_or((libc::SIG_DFL, 0), |p| (p.sa_sigaction, p.sa_flags));
    if handler == libc::SIG_DFL {
        // Returning re-executes the faulting instruction, which faults again
        // and now gets the default action: death with the right signal (and
        // a core dump where enabled). A signal that was sent rather than
        // caused would not come back by itself, so send it again; it stays
        // pending until this handler returns.
        reset_default(sig);
        if !raised_by_fault(info) {
            // SAFETY: raise is async-signal-safe.
            unsafe { libc::raise(sig) };
        }
    } else if handler == libc::SIG_IGN {
        // A real fault cannot be ignored: returning would re-execute the
        // faulting instruction forever. Do what the kernel does for an
        // ignored fault signal and let the default action happen.
        if raised_by_fault(info) {
            reset_default(sig);
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, the previous owner registered a handler
        // of exactly this signature; we pass the kernel's own arguments.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { mem::transmute::<libc::sighandler_t, _>(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO, the previous owner registered a
        // one-argument handler.
        let f: extern "C" fn(c_int) = unsafe { mem::transmute::<libc::sighandler_t, _>(handler) };
        f(sig);
    }
}

/// Writes all of `buf` to standard error with `write(2)`, retrying on
/// `EINTR` and short writes, giving up on any other error.
fn write_stderr(mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes; write is
        // async-signal-safe.
        let n = unsafe { libc::write(libc::STDERR_FILENO, buf.as_ptr().cast(), buf.len()) };
        if n > 0 {
            buf = buf.get(n as usize..).unwrap_or(&[]);
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            break;
        }
    }
}

/// A byte writer into a fixed buffer that silently truncates: it never
/// panics, whatever it is fed.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.buf.get_mut(self.len) {
                Some(slot) => *slot = b,
                None => return,
            }
            self.len += 1;
        }
    }

    fn push_u64(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let len = format_u64(n, &mut digits);
        self.push(digits.get(digits.len() - len..).unwrap_or(&[]));
    }
}

/// Writes `n` in decimal at the end of `out` (u64::MAX has 20 digits) and
/// returns how many digits it used.
fn format_u64(mut n: u64, out: &mut [u8; 20]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return out.len() - i;
        }
    }
}

/// Builds `green thread <id> '<name>' overflowed its <size>-byte stack\n`
/// into `buf` (name `<unnamed>` when empty) and returns its length.
/// Output that does not fit is cut off; it always fits for names of up to
/// [`stack::NAME_CAP`] bytes.
fn overflow_message(buf: &mut [u8; 256], id: u64, name: &[u8], size: usize) -> usize {
    let mut out = Cursor { buf, len: 0 };
    // Ids print as `hub.seq`, like `Id`'s Display (hub in the top 24 bits).
    out.push(b"green thread ");
    out.push_u64(id >> 40);
    out.push(b".");
    out.push_u64(id & ((1 << 40) - 1));
    out.push(b" '");
    out.push(if name.is_empty() { b"<unnamed>" } else { name });
    out.push(b"' overflowed its ");
    out.push_u64(size as u64);
    out.push(b"-byte stack\n");
    out.len
}

/// This thread's alternate signal stack, when we had to provide one.
struct AltStack {
    /// The whole mapping, guard page included.
    map: *mut c_void,
    len: usize,
    /// The usable part registered with sigaltstack.
    sp: *mut c_void,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: stack_t is plain old data; all-zero is valid.
        let mut cur: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: querying only; `cur` is a valid out pointer.
        let queried = unsafe { libc::sigaltstack(ptr::null(), &mut cur) } == 0;
        if !queried {
            return; // Unknown state: leak rather than unmap a live stack.
        }
        if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_sp == self.sp {
            let off = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
            // SAFETY: disabling this thread's alternate stack; we are not
            // running on it (a thread-local destructor runs on the thread's
            // own stack).
            if unsafe { libc::sigaltstack(&off, ptr::null_mut()) } != 0 {
                return; // Still registered: leak it.
            }
        }
        // SAFETY: the mapping is ours and no longer registered with the
        // kernel, so no signal can be delivered onto it.
        unsafe { libc::munmap(self.map, self.len) };
    }
}

#[derive(Default)]
enum AltState {
    /// Not looked at yet on this thread (or the last attempt failed).
    #[default]
    Unchecked,
    /// Someone else (std, usually) registered one; leave it alone.
    Foreign,
    /// Ours; disabled and unmapped when the thread exits.
    Owned { _stack: AltStack },
}

thread_local! {
    static ALTSTACK: Cell<AltState> = const { Cell::new(AltState::Unchecked) };
}

/// Usable size of the alternate signal stacks we map.
fn altstack_size() -> usize {
    let page = stack::page_size();
    let size = libc::SIGSTKSZ.max(64 * 1024);
    (size + page - 1) & !(page - 1)
}

/// Makes sure this OS thread has an alternate signal stack for the overflow
/// handler to run on, mapping one (with its own guard page) if the thread
/// has none. Idempotent per thread. If mapping fails, overflows on this
/// thread kill the process with a plain `SIGSEGV` instead of a message; the
/// next call tries again.
pub(crate) fn ensure_altstack() {
    let _ = ALTSTACK.try_with(|cell| {
        let state = match cell.take() {
            AltState::Unchecked => probe_or_map(),
            known => known,
        };
        cell.set(state);
    });
}

fn probe_or_map() -> AltState {
    // SAFETY: stack_t is plain old data; all-zero is valid.
    let mut cur: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: querying only; `cur` is a valid out pointer.
    if unsafe { libc::sigaltstack(ptr::null(), &mut cur) } != 0 {
        return AltState::Unchecked;
    }
    if cur.ss_flags & libc::SS_DISABLE == 0 {
        return AltState::Foreign;
    }
    let page = stack::page_size();
    let size = altstack_size();
    let len = size + page;
    // SAFETY: a fresh anonymous mapping at an address of the kernel's
    // choosing; it overlaps nothing.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return AltState::Unchecked;
    }
    // SAFETY: the guard page is inside the mapping, so `sp..sp + size` is
    // the rest of it.
    let sp = unsafe { map.cast::<u8>().add(page) }.cast::<c_void>();
    // SAFETY: making our own mapping's upper part read/write.
    let rc = unsafe { libc::mprotect(sp, size, libc::PROT_READ | libc::PROT_WRITE) };
    let alt = libc::stack_t { ss_sp: sp, ss_flags: 0, ss_size: size };
    // SAFETY: `alt` describes read/write memory we own and keep mapped until
    // the AltStack below is dropped, which unregisters it first.
    if rc != 0 || unsafe { libc::sigaltstack(&alt, ptr::null_mut()) } != 0 {
        // SAFETY: our mapping, never registered.
        unsafe { libc::munmap(map, len) };
        return AltState::Unchecked;
    }
    AltState::Owned { _stack: AltStack { map, len, sp } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{GreenStack, StackGuard, StackPool, MIN_STACK_SIZE, NAME_CAP};

    fn message(id: u64, name: &[u8], size: usize) -> String {
        let mut buf = [0u8; 256];
        let len = overflow_message(&mut buf, id, name, size);
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    #[test]
    fn formats_numbers() {
        for n in [0, 7, 10, 99, 100, 131_072, 1_234_567_890, u64::MAX] {
            let mut out = [0u8; 20];
            let len = format_u64(n, &mut out);
            assert_eq!(&out[20 - len..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn builds_the_message() {
        let id = (3 << 40) | 42;
        assert_eq!(message(id, b"worker", 131_072), "green thread 3.42 'worker' overflowed its 131072-byte stack\n");
        assert_eq!(message(0, b"", 16_384), "green thread 0.0 '<unnamed>' overflowed its 16384-byte stack\n");
        let longest = [b'x'; NAME_CAP];
        let msg = message(u64::MAX, &longest, usize::MAX);
        assert!(msg.ends_with("-byte stack\n"), "{msg}");
        assert!(msg.contains(&(u64::MAX >> 40).to_string()));
    }

    #[test]
    fn message_truncates_instead_of_panicking() {
        let mut buf = [0u8; 256];
        let len = overflow_message(&mut buf, 1, &[b'y'; 400], 1);
        assert_eq!(len, 256);
        assert!(buf.starts_with(b"green thread 0.1 'yyy"));
    }

    #[test]
    fn guard_range_includes_one_page_below() {
        let stack = GreenStack::new(MIN_STACK_SIZE).unwrap();
        // SAFETY: the header stays valid while `stack` lives.
        let h = unsafe { *stack.header_ptr() };
        let page = stack::page_size();
        assert!(in_guard(h.guard_lo, &h, page));
        assert!(in_guard(h.guard_hi - 1, &h, page));
        assert!(in_guard(h.guard_lo - page, &h, page));
        assert!(!in_guard(h.guard_lo - page - 1, &h, page));
        assert!(!in_guard(h.guard_hi, &h, page));
        assert!(!in_guard(stack.top() - 8, &h, page));
    }

    #[test]
    fn enter_and_leave_set_the_current_header() {
        let stack = GreenStack::new(MIN_STACK_SIZE).unwrap();
        enter(stack.header_ptr());
        assert_eq!(CURRENT.with(Cell::get), stack.header_ptr());
        leave();
        assert!(CURRENT.with(Cell::get).is_null());
    }

    fn current_altstack() -> libc::stack_t {
        // SAFETY: plain old data.
        let mut cur: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: querying only.
        assert_eq!(unsafe { libc::sigaltstack(ptr::null(), &mut cur) }, 0);
        cur
    }

    #[test]
    fn ensure_altstack_maps_one_when_missing() {
        std::thread::spawn(|| {
            // Start from a thread without an alternate stack.
            let off = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
            // SAFETY: disabling this thread's alternate stack while not on it.
            assert_eq!(unsafe { libc::sigaltstack(&off, ptr::null_mut()) }, 0);
            ensure_altstack();
            let first = current_altstack();
            assert_eq!(first.ss_flags & libc::SS_DISABLE, 0);
            assert!(first.ss_size >= 64 * 1024);
            ensure_altstack();
            assert_eq!(current_altstack().ss_sp, first.ss_sp);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn ensure_altstack_keeps_an_existing_one() {
        std::thread::spawn(|| {
            let before = current_altstack();
            ensure_altstack();
            let after = current_altstack();
            assert_eq!(before.ss_flags, after.ss_flags);
            if before.ss_flags & libc::SS_DISABLE == 0 {
                assert_eq!(before.ss_sp, after.ss_sp);
            }
        })
        .join()
        .unwrap();
    }

    /// Set in the child processes of the end-to-end tests below.
    const CHILD_ENV: &str = "GREENPATCH_OVERFLOW_TEST_CHILD";

    /// Runs the test `name` (in this module) alone in a child process with
    /// [`CHILD_ENV`] set; returns its terminating signal and standard error.
    fn run_child(name: &str) -> (Option<i32>, String) {
        run_child_with(name, "")
    }

    /// [`run_child`] with [`GUARD_ENV`] set to `guard`.
    fn run_child_with(name: &str, guard: &str) -> (Option<i32>, String) {
        use std::os::unix::process::ExitStatusExt;
        let module = module_path!().split_once("::").map_or("", |(_, m)| m);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &format!("{module}::{name}"), "--test-threads=1"])
            .args(["--nocapture", "--include-ignored"])
            .env(CHILD_ENV, "1")
            .env(GUARD_ENV, guard)
            .output()
            .unwrap();
        (out.status.signal(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// In a child: no core file, install the handler and an alternate stack.
    fn child_setup() {
        let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain system calls on this (child) process only.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
        install();
        install();
        ensure_altstack();
    }

    /// Set in the child to pick the guard mechanism of its stack.
    const GUARD_ENV: &str = "GREENPATCH_OVERFLOW_TEST_GUARD";

    #[test]
    #[ignore = "runs only as the child of overflow_in_guard_is_reported"]
    fn child_touches_green_guard() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        child_setup();
        let guard = match std::env::var(GUARD_ENV).as_deref() {
            Ok("mprotect") => StackGuard::Mprotect,
            _ => StackGuard::GuardRegion,
        };
        // The second slot of an arena: its guard sits right above the first
        // slot's header (an arena of one slot with protected pages).
        let mut pool = StackPool::with_guard(MIN_STACK_SIZE, 4, guard);
        let _first = pool.get(MIN_STACK_SIZE).unwrap();
        let mut stack = pool.get(MIN_STACK_SIZE).unwrap();
        stack.set_owner(17, Some("deep-recursion"));
        enter(stack.header_ptr());
        // The byte just below the usable range: the top of the guard.
        let guard = (stack.bottom() + stack::page_size() - 1) as *mut u8;
        // SAFETY: the target is in the PROT_NONE guard page, so the write
        // cannot modify any memory: it faults, and the handler reports the
        // overflow and aborts this child process before execution continues.
        unsafe { ptr::write_volatile(guard, 1) };
        unreachable!("the guard page did not fault");
    }

    #[test]
    fn overflow_in_guard_is_reported() {
        let mut guards = vec!["mprotect"];
        if stack::guard_kind() == StackGuard::GuardRegion {
            guards.push("region");
        }
        for guard in guards {
            let (signal, stderr) = run_child_with("child_touches_green_guard", guard);
            assert_eq!(signal, Some(libc::SIGABRT), "{guard}: stderr: {stderr}");
            let want = format!(
                "green thread 0.17 'deep-recursion' overflowed its {}-byte stack\n",
                stack::round_size(MIN_STACK_SIZE).unwrap()
            );
            assert!(stderr.contains(&want), "{guard}: stderr: {stderr}");
        }
    }

    #[test]
    #[ignore = "runs only as the child of other_faults_are_chained"]
    fn child_faults_elsewhere() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        child_setup();
        let stack = GreenStack::new(MIN_STACK_SIZE).unwrap();
        enter(stack.header_ptr());
        // SAFETY: address 16 is in the first page, which is never mapped
        // (vm.mmap_min_addr), so the write cannot modify any memory: it
        // faults outside any guard and the chained default action kills this
        // child process before execution continues.
        unsafe { ptr::write_volatile(16 as *mut u8, 1) };
        unreachable!("address 16 did not fault");
    }

    #[test]
    fn other_faults_are_chained() {
        let (signal, stderr) = run_child("child_faults_elsewhere");
        assert_eq!(signal, Some(libc::SIGSEGV), "stderr: {stderr}");
        assert!(!stderr.contains("green thread"), "stderr: {stderr}");
    }
}
