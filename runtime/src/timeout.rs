//! Timeout scopes (gevent's `Timeout`): bound every blocking call in a block.
//!
//! [`with_timeout`] records a deadline on the running green thread (or root).
//! Every park inside the scope also waits for that deadline; when it passes
//! first, the blocked call unwinds to the scope, which returns [`Elapsed`].
//! Destructors run on the way out, so guards are released. Scopes nest: the
//! earliest deadline wins, and each scope catches only its own expiry.
//! Code that does not block is not interrupted (as in gevent).

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::hub::{Hub, ScopeExpired};

/// The error of a [`with_timeout`] scope whose deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    /// The scope's time limit.
    pub limit: Duration,
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.limit)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `f`, failing any blocking call it makes after `limit` has passed.
///
/// # Errors
/// [`Elapsed`] if the deadline passed while `f` was blocked.
///
/// ```
/// use std::time::Duration;
/// use greenpatch_runtime::{with_timeout, sleep};
/// let r = with_timeout(Duration::from_millis(20), || sleep(Duration::from_secs(5)));
/// assert!(r.is_err());
/// assert_eq!(with_timeout(Duration::from_secs(5), || 1).unwrap(), 1);
/// ```
pub fn with_timeout<T>(limit: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let hub = Hub::current();
    let deadline = Instant::now().checked_add(limit).unwrap_or_else(far_future);
    let id = hub.push_scope(deadline);
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    hub.pop_scope(id);
    match r {
        Ok(v) => Ok(v),
        Err(p) => match p.downcast::<ScopeExpired>() {
            Ok(e) if e.0 == id => Err(Elapsed { limit }),
            Ok(e) => panic::resume_unwind(e),
            Err(p) => panic::resume_unwind(p),
        },
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}
