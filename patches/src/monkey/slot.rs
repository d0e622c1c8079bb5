//! [`Slot`]: one patchable item, and its type-erased view [`AnySlot`].
//!
//! # Model
//!
//! A slot is a `static` holding three function pointers of one type `F`:
//! the original (std, blocking) implementation, the green one, and the
//! *current* one, which is what callers get. The facade function is a thin
//! wrapper:
//!
//! ```text
//! pub fn sleep(d: Duration) { (SLEEP.get())(d) }   // one atomic load + an indirect call
//! ```
//!
//! The registry switches `current` (to `green` on patch, to `original` on
//! unpatch, to another module's green on `patch_module`, back to a saved
//! value on rollback) while other threads may be calling through the slot.
//!
//! # Why `F` must be a function pointer, and how that is enforced
//!
//! `current` is one `AtomicPtr<()>` so that switching is a single atomic
//! store. `F` is converted to and from that raw pointer bit for bit, which is
//! sound only when `F` is a function pointer type: pointer-sized, no padding,
//! every bit pattern produced by the conversion a valid `F`. Two ways to
//! build a slot guarantee it:
//!
//! - [`Slot::new`] requires `F: FnPtr`, a sealed trait implemented for
//!   `fn(A, ...) -> R` with up to four arguments whose types do not borrow
//!   from the call (`fn(Duration)`, `fn() -> u64`, `fn(u32, String) -> bool`).
//! - [`slot!`](crate::slot) accepts any signature, including borrowing
//!   ones such as `fn(&TcpStream, &mut [u8]) -> io::Result<usize>` (a type
//!   no blanket impl can cover, because `for<'a>` function pointer types are
//!   distinct from every `fn(A)`). The macro only matches literal
//!   `fn(..) -> ..` type syntax, so the type it passes to the `unsafe`
//!   constructor [`Slot::new_unchecked`] is a function pointer by
//!   construction.
//!
//! # Memory ordering
//!
//! [`Slot::get`] loads with `Acquire` and every switch stores with
//! `Release`. The pointer itself needs no ordering (code is immutable), but
//! the green implementation may rely on state that `patch_all` set up before
//! switching the slot (plugin setup done in will-events, runtime
//! configuration); `Acquire` makes that state visible to any thread that
//! sees the green pointer. On x86-64 an `Acquire` load is a plain load, on
//! AArch64 an `ldar`: the cost is nil or a few cycles on a path that makes an
//! indirect call anyway.

use std::any::{type_name, Any, TypeId};
use std::error::Error;
use std::fmt;
use std::mem::size_of;
use std::sync::atomic::{AtomicPtr, Ordering};

pub(crate) mod sealed {
    /// Seals [`super::FnPtr`]: only the function pointer types listed in
    /// this module implement it.
    pub trait Sealed {}

    /// Seals [`super::AnySlot`] and carries what only the registry may do.
    pub trait SlotInternals {
        /// The current implementation as a raw pointer (for rollback).
        fn raw_current(&self) -> *mut ();
        /// The green implementation as a raw pointer (to tell whether a copy
        /// would change anything).
        fn raw_green(&self) -> *mut ();
        /// Restores a value saved with [`SlotInternals::raw_current`].
        ///
        /// # Safety
        ///
        /// `raw` must come from `raw_current` of this same slot.
        unsafe fn restore_raw(&self, raw: *mut ());
    }
}

/// Function pointer types that [`Slot::new`] accepts: `fn(A, ..) -> R` with
/// up to four arguments (sealed: it cannot be implemented outside this
/// crate). For signatures with borrowed arguments use [`slot!`](crate::slot).
///
/// # Example
///
/// ```
/// use greenpatch::monkey::FnPtr;
/// use std::time::Duration;
///
/// fn takes<F: FnPtr>(_f: F) {}
/// takes(std::thread::sleep as fn(Duration));
/// takes(std::process::id as fn() -> u32);
/// ```
pub trait FnPtr: sealed::Sealed + Copy + Send + Sync + 'static {}

/// Implements [`FnPtr`] for `fn` pointers with the given argument types.
macro_rules! impl_fn_ptr {
    ($($arg:ident),*) => {
        impl<R: 'static, $($arg: 'static),*> sealed::Sealed for fn($($arg),*) -> R {}
        impl<R: 'static, $($arg: 'static),*> FnPtr for fn($($arg),*) -> R {}
    };
}

impl_fn_ptr!();
impl_fn_ptr!(A);
impl_fn_ptr!(A, B);
impl_fn_ptr!(A, B, C);
impl_fn_ptr!(A, B, C, D);

/// Reinterprets a function pointer as a raw pointer and back.
#[derive(Clone, Copy)]
union Pun<F: Copy> {
    f: F,
    raw: *mut (),
}

/// The bits of `f` as a raw pointer.
///
/// # Safety
///
/// `F` must be a function pointer type.
const unsafe fn to_raw<F: Copy>(f: F) -> *mut () {
    // SAFETY: the caller guarantees `F` is a function pointer type, so it
    // has the size of `*mut ()` and no padding: every byte of `raw` was
    // written by `f`, and a function pointer's bits are a valid raw pointer.
    unsafe { Pun { f }.raw }
}

/// The function pointer whose bits `raw` holds.
///
/// # Safety
///
/// `raw` must have come from [`to_raw::<F>`].
unsafe fn from_raw<F: Copy>(raw: *mut ()) -> F {
    // SAFETY: `raw` holds the unchanged bits of a valid `F` (caller), and
    // `F` is pointer-sized, so reading the whole union as `F` yields it back.
    unsafe { Pun::<F> { raw }.f }
}

/// One patchable item: the original implementation, the green one, and the
/// current one, switched atomically by the registry.
///
/// Declare it as a `static` (with [`Slot::new`] or [`slot!`](crate::slot)),
/// list it in a [`patchable_module!`](crate::patchable_module), and call it
/// through [`Slot::get`].
///
/// # Example
///
/// ```
/// use greenpatch::monkey::Slot;
///
/// fn blocking_pause(ms: u64) -> u64 { ms }
/// fn green_pause(ms: u64) -> u64 { ms + 1_000 }
///
/// pub static PAUSE: Slot<fn(u64) -> u64> = Slot::new("pause", blocking_pause, green_pause);
///
/// /// The facade function callers use.
/// pub fn pause(ms: u64) -> u64 {
///     (PAUSE.get())(ms)
/// }
///
/// assert_eq!(pause(5), 5); // not patched yet: the original runs
/// assert!(!PAUSE.is_patched());
/// ```
pub struct Slot<F> {
    name: &'static str,
    original: F,
    green: F,
    /// The current implementation.
    ///
    /// # Invariant
    ///
    /// `F` is a function pointer type (checked by the constructors), and
    /// `current` always holds `to_raw::<F>(f)` for some `f: F`: it starts as
    /// the original and is only ever stored from `to_raw::<F>` or from a
    /// value previously loaded from it.
    current: AtomicPtr<()>,
}

impl<F: FnPtr> Slot<F> {
    /// A slot for item `name` whose current implementation starts as
    /// `original`. `const`, so it can initialise a `static`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    /// use std::time::Duration;
    ///
    /// fn green_sleep(_d: Duration) {}
    /// static SLEEP: Slot<fn(Duration)> = Slot::new("sleep", std::thread::sleep, green_sleep);
    /// assert_eq!(SLEEP.name(), "sleep");
    /// ```
    pub const fn new(name: &'static str, original: F, green: F) -> Self {
        // SAFETY: `F: FnPtr`, which is sealed and implemented only for
        // function pointer types.
        unsafe { Self::new_unchecked(name, original, green) }
    }
}

impl<F: Copy + Send + Sync + 'static> Slot<F> {
    /// Like [`Slot::new`] for any `F`; what [`slot!`](crate::slot) expands
    /// to. Prefer the macro, which proves the requirement below.
    ///
    /// # Safety
    ///
    /// `F` must be a function pointer type (`fn(..) -> ..` with any
    /// arguments, including `for<'a>` ones). A type that is not
    /// pointer-sized fails to compile (the check runs in the `static`'s
    /// initialiser); any other type that is not a function pointer is
    /// undefined behaviour.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    ///
    /// fn count(s: &str) -> usize { s.len() }
    /// fn green_count(s: &str) -> usize { s.chars().count() }
    /// // SAFETY: `fn(&str) -> usize` is a function pointer type.
    /// static COUNT: Slot<fn(&str) -> usize> =
    ///     unsafe { Slot::new_unchecked("count", count, green_count) };
    /// assert_eq!((COUNT.get())("héllo"), 6);
    /// ```
    pub const unsafe fn new_unchecked(name: &'static str, original: F, green: F) -> Self {
        assert!(size_of::<F>() == size_of::<*mut ()>(), "Slot: F must be a function pointer type");
        Self {
            name,
            original,
            green,
            // SAFETY: `F` is a function pointer type (caller).
            current: AtomicPtr::new(unsafe { to_raw(original) }),
        }
    }

    /// The current implementation: one `Acquire` load (see the module docs
    /// for why `Acquire`). Call the result.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// assert_eq!((N.get())(), 1);
    /// ```
    #[inline]
    pub fn get(&self) -> F {
        let raw = self.current.load(Ordering::Acquire);
        // SAFETY: by the invariant on `current`, `raw` came from `to_raw::<F>`.
        unsafe { from_raw(raw) }
    }

    /// The item's name within its module.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// assert_eq!(F.name(), "f");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The original (std) implementation, whatever is patched.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// assert_eq!((N.original())(), 1);
    /// ```
    pub fn original(&self) -> F {
        self.original
    }

    /// The green implementation this slot switches to when patched.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::Slot;
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// assert_eq!((N.green())(), 2);
    /// ```
    pub fn green(&self) -> F {
        self.green
    }

    /// Whether the current implementation is the green one: one `Acquire`
    /// load and a compare. A facade whose green function is `#[inline]`
    /// uses it to call that function directly — so that it inlines — and
    /// every other implementation through [`Slot::get`]:
    ///
    /// ```text
    /// pub fn yield_now() {
    ///     if YIELD_NOW.is_green() { greenpatch_runtime::yield_now() } else { (YIELD_NOW.get())() }
    /// }
    /// ```
    ///
    /// (Added for the facades: an indirect call cannot inline the runtime's
    /// few-nanosecond functions, which alone costs more than the 1.05x
    /// dispatch budget.)
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// assert!(!N.is_green());
    /// N.patch(); // low level: prefer greenpatch::monkey::patch_all
    /// assert!(N.is_green());
    /// N.unpatch();
    /// ```
    #[inline]
    pub fn is_green(&self) -> bool {
        // SAFETY: `F` is a function pointer type (invariant on `current`).
        self.current.load(Ordering::Acquire) == unsafe { to_raw(self.green) }
    }

    /// Whether the current implementation is not the original one. (A slot
    /// declared with the same function as original and green never reports
    /// patched.)
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// assert!(!N.is_patched());
    /// N.patch(); // low level: prefer greenpatch::monkey::patch_all
    /// assert!(N.is_patched());
    /// N.unpatch();
    /// ```
    pub fn is_patched(&self) -> bool {
        // Relaxed: only the value is compared, nothing is read through it.
        // SAFETY: `F` is a function pointer type (invariant on `current`).
        self.current.load(Ordering::Relaxed) != unsafe { to_raw(self.original) }
    }

    /// Makes `f` the current implementation.
    fn set(&self, f: F) {
        // SAFETY: `F` is a function pointer type (invariant on `current`).
        self.current.store(unsafe { to_raw(f) }, Ordering::Release);
    }
}

impl<F> fmt::Debug for Slot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("name", &self.name).field("type", &type_name::<F>()).finish_non_exhaustive()
    }
}

/// [`AnySlot::set_from`] was given a slot of another function type.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{AnySlot, Slot};
/// fn a() -> u32 { 1 }
/// fn b() -> u64 { 2 }
/// static A: Slot<fn() -> u32> = Slot::new("a", a, a);
/// static B: Slot<fn() -> u64> = Slot::new("a", b, b);
/// let error = A.set_from(&B).unwrap_err();
/// assert_eq!(error.target_type, "fn() -> u32");
/// assert_eq!(error.source_type, "fn() -> u64");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotTypeMismatch {
    /// The item name of the slot being set.
    pub item: &'static str,
    /// Its function type.
    pub target_type: &'static str,
    /// The item name of the slot copied from.
    pub source_item: &'static str,
    /// Its function type.
    pub source_type: &'static str,
}

impl fmt::Display for SlotTypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot copy `{}` ({}) over `{}` ({}): the function types differ; copy only items \
             declared with the same signature",
            self.source_item, self.source_type, self.item, self.target_type
        )
    }
}

impl Error for SlotTypeMismatch {}

/// A [`Slot`] of any function type, as modules list them.
///
/// `patch`, `unpatch` and `set_from` switch the slot directly, without
/// events and without the registry's bookkeeping (`is_module_patched`);
/// applications use [`patch_all`](super::patch_all) and
/// [`patch_module`](super::patch_module) instead. Sealed: only [`Slot`]
/// implements it.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::{AnySlot, Slot};
/// use std::any::TypeId;
///
/// fn one() -> u32 { 1 }
/// fn two() -> u32 { 2 }
/// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
///
/// let any: &dyn AnySlot = &N;
/// assert_eq!(any.name(), "n");
/// assert_eq!(any.fn_type_id(), TypeId::of::<fn() -> u32>());
/// let original = any.original_any().downcast_ref::<fn() -> u32>().unwrap();
/// assert_eq!(original(), 1);
/// ```
pub trait AnySlot: sealed::SlotInternals + Send + Sync + 'static {
    /// The item's name within its module.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// assert_eq!((&F as &dyn AnySlot).name(), "f");
    /// ```
    fn name(&self) -> &'static str;

    /// The `TypeId` of the slot's function type `F`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// use std::any::TypeId;
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// assert_eq!((&F as &dyn AnySlot).fn_type_id(), TypeId::of::<fn()>());
    /// ```
    fn fn_type_id(&self) -> TypeId;

    /// The name of the slot's function type, for messages.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn f(_: u8) {}
    /// static F: Slot<fn(u8)> = Slot::new("f", f, f);
    /// assert_eq!((&F as &dyn AnySlot).fn_type_name(), "fn(u8)");
    /// ```
    fn fn_type_name(&self) -> &'static str;

    /// Whether the current implementation is not the original.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn f() {}
    /// static F: Slot<fn()> = Slot::new("f", f, f);
    /// assert!(!(&F as &dyn AnySlot).is_patched());
    /// ```
    fn is_patched(&self) -> bool;

    /// Makes the green implementation current.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// N.patch();
    /// assert_eq!((N.get())(), 2);
    /// ```
    fn patch(&self);

    /// Makes the original implementation current.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// N.patch();
    /// N.unpatch();
    /// assert_eq!((N.get())(), 1);
    /// ```
    fn unpatch(&self);

    /// Makes `source`'s green implementation this slot's current one
    /// (`patch_module`'s building block). Fails, changing nothing, when the
    /// function types differ.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn three() -> u32 { 3 }
    /// static TARGET: Slot<fn() -> u32> = Slot::new("n", one, one);
    /// static SOURCE: Slot<fn() -> u32> = Slot::new("n", one, three);
    /// TARGET.set_from(&SOURCE).unwrap();
    /// assert_eq!((TARGET.get())(), 3);
    /// ```
    fn set_from(&self, source: &dyn AnySlot) -> Result<(), SlotTypeMismatch>;

    /// The original implementation, as `&F` behind `dyn Any`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, one);
    /// let f = (&N as &dyn AnySlot).original_any().downcast_ref::<fn() -> u32>().copied();
    /// assert_eq!(f.map(|f| f()), Some(1));
    /// ```
    fn original_any(&self) -> &dyn Any;

    /// The green implementation, as `&F` behind `dyn Any`.
    ///
    /// # Example
    ///
    /// ```
    /// use greenpatch::monkey::{AnySlot, Slot};
    /// fn one() -> u32 { 1 }
    /// fn two() -> u32 { 2 }
    /// static N: Slot<fn() -> u32> = Slot::new("n", one, two);
    /// let f = (&N as &dyn AnySlot).green_any().downcast_ref::<fn() -> u32>().copied();
    /// assert_eq!(f.map(|f| f()), Some(2));
    /// ```
    fn green_any(&self) -> &dyn Any;
}

impl<F: Copy + Send + Sync + 'static> sealed::SlotInternals for Slot<F> {
    fn raw_current(&self) -> *mut () {
        self.current.load(Ordering::Acquire)
    }

    fn raw_green(&self) -> *mut () {
        // SAFETY: `F` is a function pointer type (invariant on `current`).
        unsafe { to_raw(self.green) }
    }

    unsafe fn restore_raw(&self, raw: *mut ()) {
        // The caller passes a value loaded from `current` of this slot, so
        // the invariant on `current` keeps holding.
        self.current.store(raw, Ordering::Release);
    }
}

impl<F: Copy + Send + Sync + 'static> AnySlot for Slot<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn fn_type_id(&self) -> TypeId {
        TypeId::of::<F>()
    }

    fn fn_type_name(&self) -> &'static str {
        type_name::<F>()
    }

    fn is_patched(&self) -> bool {
        Slot::is_patched(self)
    }

    fn patch(&self) {
        self.set(self.green);
    }

    fn unpatch(&self) {
        self.set(self.original);
    }

    fn set_from(&self, source: &dyn AnySlot) -> Result<(), SlotTypeMismatch> {
        match source.green_any().downcast_ref::<F>() {
            Some(&green) => {
                self.set(green);
                Ok(())
            }
            None => Err(SlotTypeMismatch {
                item: self.name,
                target_type: type_name::<F>(),
                source_item: source.name(),
                source_type: source.fn_type_name(),
            }),
        }
    }

    fn original_any(&self) -> &dyn Any {
        &self.original
    }

    fn green_any(&self) -> &dyn Any {
        &self.green
    }
}

/// Declares slots for any function signature, including borrowing ones that
/// [`Slot::new`] does not accept.
///
/// ```text
/// slot! {
///     /// docs
///     VIS static NAME: fn(ARGS..) [-> RET] = ("item name", original, green);
///     ...
/// }
/// ```
///
/// The type must be written as `fn(..)` (optionally `for<'a> fn(..)`);
/// `unsafe fn` and `extern "C" fn` are not accepted. The macro expands to
/// [`Slot::new_unchecked`], whose requirement it proves by matching that
/// syntax.
///
/// # Example
///
/// ```
/// use greenpatch::monkey::AnySlot;
/// use std::io;
///
/// pub struct Conn(Vec<u8>);
///
/// fn blocking_read(conn: &Conn, buf: &mut [u8]) -> io::Result<usize> {
///     let n = conn.0.len().min(buf.len());
///     buf[..n].copy_from_slice(&conn.0[..n]);
///     Ok(n)
/// }
/// fn green_read(conn: &Conn, buf: &mut [u8]) -> io::Result<usize> {
///     blocking_read(conn, buf) // a real one would wait through the hub
/// }
///
/// greenpatch::slot! {
///     /// `Conn::read`'s implementation.
///     pub static READ: fn(&Conn, &mut [u8]) -> io::Result<usize> = ("read", blocking_read, green_read);
///     static CLOSE: for<'a> fn(&'a Conn) = ("close", |_| {}, |_| {});
/// }
///
/// let mut buf = [0; 2];
/// assert_eq!((READ.get())(&Conn(vec![1, 2, 3]), &mut buf).unwrap(), 2);
/// assert_eq!(CLOSE.name(), "close");
/// ```
#[macro_export]
macro_rules! slot {
    ($(
        $(#[$attr:meta])*
        $vis:vis static $name:ident :
            $(for<$($lt:lifetime),+ $(,)?>)? fn($($arg:ty),* $(,)?) $(-> $ret:ty)?
            = ($item:expr, $original:expr, $green:expr $(,)?);
    )+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::monkey::Slot<$(for<$($lt),+>)? fn($($arg),*) $(-> $ret)?> = {
            // The caller's expressions are evaluated outside the `unsafe`
            // block, so they cannot smuggle unsafe code in.
            let item: &'static str = $item;
            let original: $(for<$($lt),+>)? fn($($arg),*) $(-> $ret)? = $original;
            let green: $(for<$($lt),+>)? fn($($arg),*) $(-> $ret)? = $green;
            // SAFETY: the slot's type was matched as literal `fn(..)` pointer
            // syntax, so it is a function pointer type.
            unsafe { $crate::monkey::Slot::new_unchecked(item, original, green) }
        };
    )+};
}
