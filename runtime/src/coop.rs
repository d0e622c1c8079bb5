//! The cooperative budget: fairness for code that never parks.
//!
//! # Model
//! A green thread gives its hub back only when it blocks. Code that loops
//! over calls that *could* block but happen not to — `accept` failing with
//! `EMFILE` and retried, `send` on an unbounded channel, `try_recv`,
//! `try_lock` — would keep every other green thread of its hub (including
//! the one that would end the loop) from running, for good. So, as tokio's
//! coop budget does, the running code has a budget of operations: every
//! green blocking-capable call that completes without parking (socket
//! calls that succeed or fail — also on a socket the user made
//! non-blocking —, channel and queue sends and receives, lock
//! acquisitions, and hooks that call [`spend`]) spends one unit. The unit
//! is spent when the call starts, so a kill delivered at a yield there
//! loses nothing the call would have returned.
//!
//! When the budget runs out, the call asks the hub whether the running
//! code gave the hub back since the budget was last refilled (the hub's
//! scheduler tick moved: it parked, yielded, or is a green thread that
//! started since). If it did, the budget is refilled and the call goes on;
//! if it did not, the call first yields to the hub
//! ([`crate::yield_now`]), then proceeds with a full budget. So code that
//! never parks yields at least once every two budgets' worth of calls
//! (`2 × budget`: the budget it inherited, then a full one), and code that
//! blocks now and then pays only the decrement: resuming a green thread
//! costs the budget nothing (no refill on the switch path).
//!
//! # Tuning
//! The budget is [`DEFAULT_BUDGET`] operations. Set it per process with the
//! environment variable `GREENPATCH_COOP_BUDGET` (a whole number; `0`
//! turns the budget off), per [`Runtime`](crate::Runtime) with
//! [`RuntimeBuilder::coop_budget`](crate::RuntimeBuilder::coop_budget), or
//! for the calling thread's hub with [`set_budget`]. Smaller budgets switch
//! more often (fairer, slower for a thread that streams data); larger ones
//! let a busy green thread run longer between switches. An invalid value
//! of the variable is reported on stderr once and the default is used.
//!
//! # Invariants
//! - `LEFT` is the running code's remaining budget on this OS thread,
//!   shared by whatever the hub runs there; it is refilled (to the hub's
//!   budget) only when it runs out and by [`set_budget`].
//! - The hub's coop mark is its scheduler tick at the last refill: an
//!   unchanged tick means the running code has held the hub since then
//!   (the tick moves only while the scheduler loop switches tasks), so it
//!   must yield; a moved tick means it gave the hub back in between.
//! - `u32::MAX` means "off": it runs out only after 2^32 calls, and then
//!   only refills.
//! - The fast path is one thread-local decrement and a branch.

use std::cell::Cell;
use std::sync::OnceLock;

use crate::hub::Hub;

/// Operations a green thread may complete without parking before its next
/// such call yields (tokio uses the same figure).
///
/// ```
/// assert_eq!(greenpatch_runtime::coop::DEFAULT_BUDGET, 128);
/// ```
pub const DEFAULT_BUDGET: u32 = 128;

/// The environment variable that sets the budget for the process.
///
/// ```
/// assert_eq!(greenpatch_runtime::coop::ENV_VAR, "GREENPATCH_COOP_BUDGET");
/// ```
pub const ENV_VAR: &str = "GREENPATCH_COOP_BUDGET";

thread_local! {
    /// Operations the running code may still complete without yielding.
    static LEFT: Cell<u32> = const { Cell::new(DEFAULT_BUDGET) };
}

/// Spends one unit of the running green thread's budget; when it is used
/// up, yields to the hub first (other green threads, due timers and ready
/// sockets get their turn), then returns with a fresh budget.
///
/// The runtime's own blocking-capable calls spend already; call this from
/// Rust code that makes such calls on its own (a user-space queue, a
/// driver's retry loop) so that a loop over it cannot starve its hub. The
/// yield may unwind with a kill, as any blocking call: from code that must
/// not unwind (a C-level hook, an `extern "C"` function) call
/// [`foreign::spend`](crate::foreign::spend) instead. On a thread that has
/// no hub yet it only counts.
///
/// ```
/// // A loop that never parks still lets the other green thread run.
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let done = Arc::new(AtomicBool::new(false));
/// let d = done.clone();
/// let h = greenpatch_runtime::spawn(move || d.store(true, Ordering::SeqCst));
/// while !done.load(Ordering::SeqCst) {
///     greenpatch_runtime::coop::spend();
/// }
/// h.join().unwrap();
/// ```
#[inline(always)]
pub fn spend() {
    if !take() {
        exhausted(true);
    }
}

/// Takes one unit; `false` when the budget just ran out.
#[inline(always)]
pub(crate) fn take() -> bool {
    // One decrement and a branch (`dec fs:[..]; je`): the fast path.
    let left = LEFT.get().wrapping_sub(1);
    LEFT.set(left);
    left != 0
}

/// The budget ran out: refill it and, with `may_yield`, yield first unless
/// the running code gave the hub back since the last refill.
#[cold]
#[inline(never)]
pub(crate) fn exhausted(may_yield: bool) {
    match Hub::try_current() {
        Some(hub) => {
            let full = hub.coop_budget();
            LEFT.set(full);
            if may_yield && full != u32::MAX && !hub.coop_switched_since_refill() {
                hub.coop_yield();
                hub.coop_refilled();
                LEFT.set(full);
            }
        }
        None => LEFT.set(process_budget()),
    }
}

/// Gives the running code a full budget of `n` ([`set_budget`]).
#[inline]
fn refill(n: u32) {
    LEFT.set(n);
}

/// Sets the budget of the calling thread's hub: every green thread it runs
/// from now on (and its root). `0` turns the budget off on this hub.
///
/// ```
/// greenpatch_runtime::coop::set_budget(32);
/// assert_eq!(greenpatch_runtime::coop::budget(), 32);
/// greenpatch_runtime::coop::set_budget(greenpatch_runtime::coop::DEFAULT_BUDGET);
/// ```
pub fn set_budget(n: u32) {
    let hub = Hub::current();
    hub.set_coop_budget(n);
    refill(hub.coop_budget());
}

/// The budget of the calling thread's hub (`0`: off).
///
/// ```
/// assert!(greenpatch_runtime::coop::budget() > 0);
/// ```
pub fn budget() -> u32 {
    match Hub::current().coop_budget() {
        u32::MAX => 0,
        n => n,
    }
}

/// The budget a new hub starts with: `GREENPATCH_COOP_BUDGET` or the
/// default, as the internal value (`u32::MAX` when off).
pub(crate) fn process_budget() -> u32 {
    static BUDGET: OnceLock<u32> = OnceLock::new();
    *BUDGET.get_or_init(|| match std::env::var(ENV_VAR) {
        Err(std::env::VarError::NotPresent) => DEFAULT_BUDGET,
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) => internal(n),
            Err(_) => {
                eprintln!(
                    "greenpatch: ignoring {ENV_VAR}={v:?}: expected a whole number of operations \
                     (0 turns the budget off); using the default, {DEFAULT_BUDGET}"
                );
                DEFAULT_BUDGET
            }
        },
        Err(std::env::VarError::NotUnicode(v)) => {
            eprintln!("greenpatch: ignoring {ENV_VAR}={v:?}: not valid UTF-8; using the default, {DEFAULT_BUDGET}");
            DEFAULT_BUDGET
        }
    })
}

/// The stored form of a budget: `0` (off) becomes "never runs out".
pub(crate) fn internal(n: u32) -> u32 {
    if n == 0 {
        u32::MAX
    } else {
        n
    }
}
