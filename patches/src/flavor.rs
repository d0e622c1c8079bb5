//! [`Flavor`]: which implementation a facade object has, and when it is
//! chosen.
//!
//! # Model
//!
//! Every facade type is an enum over a *blocking* implementation (std's, or
//! for gevent's primitives a std `Mutex` + `Condvar` one) and a *green* one
//! (greenpatch-runtime's). Which one an object gets is read from a registry
//! [`Slot`] of type `fn() -> Flavor` (the type's *flavor item*, e.g.
//! `thread.Mutex`), once, and never changes afterwards:
//!
//! - types whose std constructor is a plain `fn` (sockets, queues,
//!   channels, threads) read it in the constructor;
//! - types whose std constructor is a `const fn` (`Mutex`, `RwLock`,
//!   `Event`, `Semaphore`, `Local`), so that `static` ones work as with std,
//!   read it at their *first use* and remember where that was. A lock made
//!   before `patch_all()` but first used after it is therefore green, which
//!   is what the program meant.
//!
//! The two implementations live in one generic type, `Flavored`: every
//! facade holds a `Flavored<Blocking, Green>` and runs a method on whichever
//! it has with `both!`. `flavor()`, `AsFd`/`AsRawFd` and the descriptor
//! conversions are written once, here and in `socket`.
//!
//! # Invariant
//!
//! A `Decided` cell is written once (by `OnceLock`), so every use of an
//! object after its first one sees the same flavor and the same site.

use std::fmt;
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::panic::Location;
use std::sync::OnceLock;

use crate::monkey::Slot;

/// Which implementation a facade object uses: chosen when the object is
/// made (or, for `const`-constructible locks, first used), from whether its
/// module was patched at that moment.
///
/// # Example
///
/// ```
/// use greenpatch::{thread::Mutex, Flavor};
///
/// let m = Mutex::new(0);
/// assert_eq!(m.flavor(), Flavor::Blocking); // patch_all() was not called
///
/// let forced = Mutex::with_flavor(Flavor::Green, 0);
/// assert_eq!(forced.flavor(), Flavor::Green);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// std's behaviour: blocks the whole OS thread.
    Blocking,
    /// greenpatch-runtime's behaviour: blocks only the calling green thread.
    Green,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Blocking => "blocking",
            Flavor::Green => "green",
        })
    }
}

/// The original implementation of every flavor item.
pub(crate) fn blocking() -> Flavor {
    Flavor::Blocking
}

/// The green implementation of every flavor item.
pub(crate) fn green() -> Flavor {
    Flavor::Green
}

/// A facade object's implementation: the blocking one (std's, or an OS
/// thread's) or the green one (the runtime's). Every facade type holds one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Flavored<B, G> {
    /// Blocks the OS thread.
    Blocking(B),
    /// Blocks only the green thread.
    Green(G),
}

/// Runs the same expression on whichever implementation a [`Flavored`]
/// holds (the two have the same method names): `both!(&self.imp, s =>
/// s.peek(buf))`.
macro_rules! both {
    ($imp:expr, $s:pat => $e:expr) => {
        match $imp {
            $crate::flavor::Flavored::Blocking($s) => $e,
            $crate::flavor::Flavored::Green($s) => $e,
        }
    };
}
pub(crate) use both;

impl<B, G> Flavored<B, G> {
    /// The implementation of `flavor`, made by `b` or `g`.
    #[inline]
    pub(crate) fn of(flavor: Flavor, b: impl FnOnce() -> B, g: impl FnOnce() -> G) -> Self {
        match flavor {
            Flavor::Blocking => Flavored::Blocking(b()),
            Flavor::Green => Flavored::Green(g()),
        }
    }

    /// Which of the two it is.
    #[inline]
    pub(crate) fn flavor(&self) -> Flavor {
        match self {
            Flavored::Blocking(_) => Flavor::Blocking,
            Flavored::Green(_) => Flavor::Green,
        }
    }

    /// The same flavor, borrowed.
    #[inline]
    pub(crate) fn as_ref(&self) -> Flavored<&B, &G> {
        match self {
            Flavored::Blocking(b) => Flavored::Blocking(b),
            Flavored::Green(g) => Flavored::Green(g),
        }
    }

    /// Maps each flavor to its counterpart (e.g. a socket to its clone),
    /// keeping the flavor.
    #[inline]
    pub(crate) fn try_map<B2, G2, E>(
        self,
        b: impl FnOnce(B) -> Result<B2, E>,
        g: impl FnOnce(G) -> Result<G2, E>,
    ) -> Result<Flavored<B2, G2>, E> {
        Ok(match self {
            Flavored::Blocking(x) => Flavored::Blocking(b(x)?),
            Flavored::Green(x) => Flavored::Green(g(x)?),
        })
    }
}

#[cfg(unix)]
impl<B: AsFd, G: AsFd> AsFd for Flavored<B, G> {
    #[inline]
    fn as_fd(&self) -> BorrowedFd<'_> {
        both!(self, s => s.as_fd())
    }
}

#[cfg(unix)]
impl<B: AsRawFd, G: AsRawFd> AsRawFd for Flavored<B, G> {
    #[inline]
    fn as_raw_fd(&self) -> RawFd {
        both!(self, s => s.as_raw_fd())
    }
}

/// Declares the flavor items of a facade module:
/// `flavor_items!(pub(crate) static MUTEX = "Mutex"; ...)`.
macro_rules! flavor_items {
    ($($(#[$attr:meta])* $vis:vis static $name:ident = $item:literal;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::monkey::Slot<fn() -> $crate::Flavor> =
            $crate::monkey::Slot::new($item, $crate::flavor::blocking, $crate::flavor::green);
    )+};
}
pub(crate) use flavor_items;

/// A lazily decided implementation plus the site that decided it.
pub(crate) struct Decided<I> {
    cell: OnceLock<(I, &'static Location<'static>)>,
}

impl<I> Decided<I> {
    /// Not decided yet.
    pub(crate) const fn new() -> Self {
        Decided { cell: OnceLock::new() }
    }

    /// Already decided (explicit-flavor constructors).
    pub(crate) fn with(imp: I, site: &'static Location<'static>) -> Self {
        Decided { cell: OnceLock::from((imp, site)) }
    }

    /// The implementation, deciding it now from `slot` if this is the first
    /// use; `make` builds it for the flavor read.
    #[inline]
    pub(crate) fn get(
        &self,
        slot: &Slot<fn() -> Flavor>,
        site: &'static Location<'static>,
        make: impl FnOnce(Flavor) -> I,
    ) -> (&I, &'static Location<'static>) {
        let (imp, site) = self.cell.get_or_init(|| (make((slot.get())()), site));
        (imp, site)
    }

    /// The implementation if decided.
    pub(crate) fn peek(&self) -> Option<&I> {
        self.cell.get().map(|(imp, _)| imp)
    }
}
