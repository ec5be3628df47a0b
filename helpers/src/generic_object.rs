//! `GenericObject`: an NDIS generic object that carries its owner's state and serves as the NDIS
//! handle for what the owner allocates.
//!
//! `NdisAllocateGenericObject(DriverObject, Tag, Size)` returns an `NDIS_GENERIC_OBJECT` followed by
//! `Size` bytes for the caller. A component with no NDIS handle of its own (a timer pool, the
//! receive descriptor pool) allocates one, keeps its state in those bytes, and passes the object as the
//! `NdisHandle` of NBL pools and timer objects. Everything allocated through the object must be freed
//! before the object, and every object must be freed before `MiniportHaltEx` returns.
//!
//! # How the types keep that order
//! What is allocated through the object's handle ([`ObjectHandle`]) carries the handle's *brand*, a
//! lifetime `'obj` unique to the object. The state type is a family over that brand
//! ([`State::In<'obj>`]), so such things can be stored in the object's own state, and nowhere else:
//! - the constructor's `init` closure works for every brand, so nothing branded can leave it except
//!   inside the state it returns;
//! - the state is reached only through [`GenericObject::with`] and [`GenericObject::with_mut`], whose
//!   closures also work for every brand, so two objects' states never share one and nothing branded
//!   moves from one object to another or out;
//! - dropping the object drops its state first (which frees what it holds), then frees the object.
//!
//! ```compile_fail,E0521
//! # use rvnic_helpers::generic_object::*;
//! # use rvnic_helpers::timer_pool::Timer;
//! # struct Holds; impl State for Holds { type In<'obj> = Option<Timer<'obj>>; }
//! # fn f() {
//! let mut escaped = None;
//! let object = GenericObject::<Holds>::new(None, 0, |handle| {
//!     escaped = Some(handle.allocate_timer(0, None).ok());   // error: the timer cannot leave `init`
//!     Ok::<_, ()>(None)
//! });
//! # }
//! ```
//!
//! ```compile_fail,E0521
//! # use rvnic_helpers::generic_object::*;
//! # use rvnic_helpers::timer_pool::Timer;
//! # struct Holds; impl State for Holds { type In<'obj> = Option<Timer<'obj>>; }
//! # fn f(a: &mut GenericObject<Holds>, b: &mut GenericObject<Holds>) {
//! a.with_mut(|sa, _| b.with_mut(|sb, _| core::mem::swap(sa, sb)));  // error: different brands
//! # }
//! ```
//!
//! IRQL: create and drop at IRQL <= `DISPATCH_LEVEL` (`NdisAllocateGenericObject`,
//! `NdisFreeGenericObject`), unless the state's own drop needs less (a timer pool needs `PASSIVE_LEVEL`).

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use ndis::{MEMORY_ALLOCATION_ALIGNMENT, NDIS_GENERIC_OBJECT, NDIS_HANDLE, PDRIVER_OBJECT};

/// Offset of the caller's bytes from the start of the object.
pub const TRAILING_OFFSET: usize = size_of::<NDIS_GENERIC_OBJECT>();

/// The alignment the trailing bytes are guaranteed to have.
pub const TRAILING_ALIGN: usize = {
    // The largest power of two dividing both the pool alignment and the header size.
    let mut a = MEMORY_ALLOCATION_ALIGNMENT;
    while !TRAILING_OFFSET.is_multiple_of(a) {
        a /= 2;
    }
    a
};

/// Why a type cannot live in a generic object's trailing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// `size_of::<T>()` does not fit the `USHORT` `Size` parameter.
    TooLarge {
        /// `size_of::<T>()`.
        size: usize,
    },
    /// `T` needs more alignment than the trailing bytes have.
    OverAligned {
        /// `align_of::<T>()`.
        align: usize,
        /// The alignment the trailing bytes have.
        available: usize,
    },
}

/// The `Size` to pass to `NdisAllocateGenericObject` to hold a `T`, or why it cannot.
///
/// # Errors
/// Why `T` cannot live in the trailing bytes.
#[allow(
    clippy::cast_possible_truncation,
    reason = "checked against u16::MAX first (try_from is not const)"
)]
pub const fn trailing_bytes<T>() -> Result<u16, LayoutError> {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    if align > TRAILING_ALIGN {
        return Err(LayoutError::OverAligned {
            align,
            available: TRAILING_ALIGN,
        });
    }
    if size > u16::MAX as usize {
        return Err(LayoutError::TooLarge { size });
    }
    Ok(size as u16)
}

/// A family of state types, one per object brand. `In<'obj>` may hold things allocated through the
/// object's handle (which carry `'obj`); its size and alignment must not depend on `'obj` (they
/// cannot: lifetimes do not change layout).
pub trait State {
    /// The state, for the lifetime of the object's handle.
    type In<'obj>;
}

/// State that holds nothing allocated through the handle.
#[derive(Debug)]
pub struct Plain<T>(PhantomData<T>);

impl<T> State for Plain<T> {
    type In<'obj> = T;
}

/// The driver's `DRIVER_OBJECT`, as `DriverEntry` received it: the owner NDIS records for generic
/// objects (optional: `None` passes NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverObject(NonNull<ndis::DRIVER_OBJECT>);

// SAFETY: the driver object lives as long as the driver and NDIS accepts it from any thread.
unsafe impl Send for DriverObject {}
// SAFETY: as above; it is only passed to NDIS, never dereferenced here.
unsafe impl Sync for DriverObject {}

impl DriverObject {
    /// Wraps the pointer `DriverEntry` received.
    ///
    /// # Safety
    /// `object` is the driver's own `DRIVER_OBJECT`, valid until the driver unloads, and every
    /// `DriverObject` made from it is gone by then.
    #[must_use]
    pub unsafe fn from_raw(object: NonNull<ndis::DRIVER_OBJECT>) -> Self {
        Self(object)
    }

    fn as_raw(driver: Option<Self>) -> PDRIVER_OBJECT {
        driver.map_or(core::ptr::null_mut(), |d| d.0.as_ptr())
    }
}

/// The object's NDIS handle, branded with the object: pass it as the `NdisHandle` of allocations
/// the object's state will own. `Copy`, but only usable inside the closures that receive it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectHandle<'obj> {
    handle: NDIS_HANDLE,
    /// Invariant in `'obj`, so one object's brand never unifies with another's.
    _brand: PhantomData<fn(&'obj ()) -> &'obj ()>,
}

impl ObjectHandle<'_> {
    /// The raw handle, for an NDIS allocation whose result the state will own.
    #[must_use]
    pub fn as_raw(self) -> NDIS_HANDLE {
        self.handle
    }
}

/// Why a [`GenericObject`] could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The state does not fit the trailing bytes.
    Layout(LayoutError),
    /// `NdisAllocateGenericObject` returned NULL.
    Allocation,
    /// The state's constructor failed (the object was freed again).
    Init(E),
}

/// An NDIS generic object holding a `S::In` in its trailing bytes. See the module documentation.
#[derive(Debug)]
pub struct GenericObject<S: State> {
    object: NonNull<NDIS_GENERIC_OBJECT>,
    _state: PhantomData<S::In<'static>>,
}

// SAFETY: the object owns its state; moving the owner between threads moves the state, which is
// `Send` (checked at its 'static instance, since lifetimes do not change auto traits).
unsafe impl<S: State> Send for GenericObject<S> where S::In<'static>: Send {}
// SAFETY: shared access gives `&S::In`, so sharing the object shares the state, which is `Sync`.
unsafe impl<S: State> Sync for GenericObject<S> where S::In<'static>: Sync {}

impl<S: State> GenericObject<S> {
    /// Allocates the object (tag `tag`, owned by `driver`, which may be NULL), builds the state with
    /// `init` given the object's handle, and places it in the trailing bytes. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// [`Error::Layout`] or [`Error::Allocation`] before `init` runs, or what `init` returned
    /// ([`Error::Init`]); the object is freed either way.
    pub fn new<E>(
        driver: Option<DriverObject>,
        tag: u32,
        init: impl for<'obj> FnOnce(ObjectHandle<'obj>) -> Result<S::In<'obj>, E>,
    ) -> Result<Self, Error<E>> {
        let size = trailing_bytes::<S::In<'static>>().map_err(Error::Layout)?;
        // IRQL <= DISPATCH_LEVEL (this function's contract); the object is ours until freed
        // in `drop` or below.
        // SAFETY: IRQL <= DISPATCH_LEVEL; the object is ours until freed.
        let object = unsafe { ndis::NdisAllocateGenericObject(DriverObject::as_raw(driver), tag, size) };
        let object = NonNull::new(object).ok_or(Error::Allocation)?;
        let handle = ObjectHandle {
            handle: object.as_ptr().cast(),
            _brand: PhantomData,
        };
        match init(handle) {
            Ok(state) => {
                let this = Self {
                    object,
                    _state: PhantomData,
                };
                // The trailing bytes are `size_of::<S::In>()` bytes, aligned enough
                // (`trailing_bytes` checked both), uninitialised and ours.
                // SAFETY: ours, uninitialised, sized and aligned for the state.
                unsafe { this.state_ptr().cast::<S::In<'_>>().write(state) };
                Ok(this)
            }
            Err(e) => {
                // Nothing was allocated through the object that is still alive: whatever
                // `init` allocated was dropped (and freed) when it returned its error.
                // SAFETY: nothing allocated through the object is alive; freed once.
                unsafe { ndis::NdisFreeGenericObject(object.as_ptr()) };
                Err(Error::Init(e))
            }
        }
    }

    /// Where the state lives: right after the header.
    fn state_ptr(&self) -> *mut S::In<'static> {
        self.object
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(TRAILING_OFFSET)
            .cast()
    }

    /// Runs `f` on the state and the handle, under a brand no other access shares.
    #[inline]
    pub fn with<R>(&self, f: impl for<'obj> FnOnce(&S::In<'obj>, ObjectHandle<'obj>) -> R) -> R {
        let handle = ObjectHandle {
            handle: self.object.as_ptr().cast(),
            _brand: PhantomData,
        };
        // The state was initialised in `new` and lives until `drop`; `&self` keeps it alive
        // and shared for the call; its layout does not depend on the brand.
        // SAFETY: initialised state, alive and shared for the call.
        f(unsafe { &*self.state_ptr().cast::<S::In<'_>>() }, handle)
    }

    /// Runs `f` on the state mutably, under a fresh brand.
    pub fn with_mut<R>(&mut self, f: impl for<'obj> FnOnce(&mut S::In<'obj>, ObjectHandle<'obj>) -> R) -> R {
        let handle = ObjectHandle {
            handle: self.object.as_ptr().cast(),
            _brand: PhantomData,
        };
        // SAFETY: as in `with`; `&mut self` makes the access exclusive.
        f(unsafe { &mut *self.state_ptr().cast::<S::In<'_>>() }, handle)
    }

    /// The state, for this crate's own components, which never move branded values between objects
    /// (the brand guard is for code that stores arbitrary branded values in its state).
    pub(crate) fn state_ref(&self) -> &S::In<'_> {
        // SAFETY: as in `with`.
        unsafe { &*self.state_ptr().cast::<S::In<'_>>() }
    }

    /// The object's address (for diagnostics and for NDIS calls that take the object itself).
    #[must_use]
    pub fn as_ptr(&self) -> *mut NDIS_GENERIC_OBJECT {
        self.object.as_ptr()
    }
}

impl<T> GenericObject<Plain<T>> {
    /// The state. `Plain` state holds nothing branded, so no brand guard is needed.
    #[must_use]
    #[inline]
    pub fn get(&self) -> &T {
        self.state_ref()
    }

    /// The state, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: initialised in `new`, alive until `drop`; `&mut self` makes the access exclusive.
        unsafe { &mut *self.state_ptr() }
    }
}

impl<S: State> Drop for GenericObject<S> {
    fn drop(&mut self) {
        // The state was initialised in `new` and is dropped exactly once, here; dropping it
        // frees what was allocated through the object (its drop glue does not depend on the brand).
        // SAFETY: initialised state, dropped exactly once.
        unsafe { self.state_ptr().drop_in_place() };
        // The object came from NdisAllocateGenericObject, nothing allocated through it is
        // alive any more (it all lived in the state), and it is freed once. IRQL <= DISPATCH_LEVEL.
        // SAFETY: nothing allocated through the object is alive; freed once.
        unsafe { ndis::NdisFreeGenericObject(self.object.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_leaves_16_byte_aligned_trailing_bytes() {
        assert_eq!(TRAILING_OFFSET, 32);
        assert_eq!(TRAILING_ALIGN, 16);
    }

    #[test]
    fn small_types_fit_exactly() {
        assert_eq!(trailing_bytes::<()>(), Ok(0));
        assert_eq!(trailing_bytes::<u64>(), Ok(8));
        assert_eq!(trailing_bytes::<[u8; 65535]>(), Ok(65535));
    }

    #[test]
    fn too_large_and_over_aligned_types_are_refused() {
        #[repr(align(64))]
        struct CacheLine(#[allow(dead_code, reason = "only its layout matters")] [u8; 64]);
        #[repr(align(16))]
        struct Sixteen(#[allow(dead_code, reason = "only its layout matters")] u8);
        assert_eq!(
            trailing_bytes::<[u8; 65536]>(),
            Err(LayoutError::TooLarge { size: 65536 })
        );
        assert_eq!(
            trailing_bytes::<CacheLine>(),
            Err(LayoutError::OverAligned {
                align: 64,
                available: 16
            })
        );
        assert_eq!(trailing_bytes::<Sixteen>(), Ok(16));
    }
}
