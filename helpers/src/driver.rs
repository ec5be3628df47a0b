//! The miniport driver's registration with NDIS (`NdisMRegisterMiniportDriver`) and its end
//! (`NdisMDeregisterMiniportDriver`).

use core::ptr::{NonNull, null_mut};

use ndis::{
    NDIS_HANDLE, NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_STATUS, NDIS_STATUS_SUCCESS, PDRIVER_OBJECT,
    PUNICODE_STRING,
};

use crate::generic_object::DriverObject;

/// A registered miniport driver: the handle NDIS returned, and the driver object it was
/// registered for.
///
/// # Invariants
/// `handle` is the live registration `NdisMRegisterMiniportDriver` returned, deregistered only by
/// [`Registration::deregister`] (which consumes the value); `object` is the driver's own
/// `DRIVER_OBJECT`, valid until the driver unloads, which follows the deregistration.
#[derive(Debug)]
pub struct Registration {
    handle: NDIS_HANDLE,
    object: Option<DriverObject>,
}

// SAFETY: an opaque NDIS handle and the driver object, valid from any thread for the driver's life
// (the invariant); NDIS serializes registration and unload itself.
unsafe impl Send for Registration {}
// SAFETY: as above; shared access only reads the driver object.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers the miniport driver with `characteristics` (NDIS copies them). `PASSIVE_LEVEL`, in
    /// `DriverEntry`.
    ///
    /// # Safety
    /// `object` and `path` are the pointers the I/O manager passed to `DriverEntry`, valid for the
    /// life of the driver; the value is deregistered before the driver unloads.
    ///
    /// # Errors
    /// The status `NdisMRegisterMiniportDriver` returned.
    pub unsafe fn register(
        object: PDRIVER_OBJECT,
        path: PUNICODE_STRING,
        characteristics: &NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    ) -> Result<Self, NDIS_STATUS> {
        let mut handle: NDIS_HANDLE = null_mut();
        // The I/O manager's pointers (this function's contract); the characteristics are borrowed
        // for the call and only read (NDIS copies them); `handle` is an out-variable on this stack.
        // SAFETY: PASSIVE_LEVEL (DriverEntry); every pointer valid for the call.
        let status = unsafe {
            ndis::NdisMRegisterMiniportDriver(
                object,
                path,
                null_mut(),
                core::ptr::from_ref(characteristics).cast_mut(),
                &raw mut handle,
            )
        };
        if status != NDIS_STATUS_SUCCESS {
            return Err(status);
        }
        // The driver's own object, valid until unload (this function's contract), which comes
        // after every adapter, and so every user of this `DriverObject`, is gone.
        // SAFETY: a driver object valid for every copy's life.
        let object = NonNull::new(object).map(|o| unsafe { DriverObject::from_raw(o) });
        Ok(Self { handle, object })
    }

    /// The driver object, for `NdisAllocateGenericObject`.
    #[must_use]
    pub fn driver_object(&self) -> Option<DriverObject> {
        self.object
    }

    /// `NdisMDeregisterMiniportDriver`: after every adapter has halted. `PASSIVE_LEVEL` (unload).
    pub fn deregister(self) {
        // The live registration (the invariant), deregistered once: `self` is consumed.
        // SAFETY: a valid handle; PASSIVE_LEVEL (caller).
        unsafe { ndis::NdisMDeregisterMiniportDriver(self.handle) };
    }
}
