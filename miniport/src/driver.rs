//! `DriverEntry`, the miniport driver characteristics, and unload.
//!
//! NDIS learns what rvnic can do from one structure, `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`, which
//! `DriverEntry` fills with the `extern "system"` trampolines of [`callbacks`] and hands to
//! `NdisMRegisterMiniportDriver`. NDIS then calls `MiniportInitializeEx` once per adapter, and the
//! unload handler after the last adapter has halted.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use ndis::{
    NDIS_HANDLE, NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_OBJECT_HEADER, NDIS_STATUS_SUCCESS, NTSTATUS,
    PDRIVER_OBJECT, PUNICODE_STRING,
};

use crate::{DRIVER_VERSION, dbg_print};

mod callbacks;

/// The `DRIVER_OBJECT` `DriverEntry` received: the owner of the adapters' generic objects.
static DRIVER_OBJECT: AtomicPtr<ndis::DRIVER_OBJECT> = AtomicPtr::new(null_mut());

/// The driver object, for `NdisAllocateGenericObject`.
pub(crate) fn driver_object() -> Option<rvnic_helpers::generic_object::DriverObject> {
    let object = core::ptr::NonNull::new(DRIVER_OBJECT.load(Ordering::Acquire))?;
    // Stored by `driver_entry` from the I/O manager's pointer, valid until unload clears it, and
    // adapters (which use it) are all halted before unload.
    // SAFETY: the driver's own DRIVER_OBJECT, valid while any adapter exists.
    Some(unsafe { rvnic_helpers::generic_object::DriverObject::from_raw(object) })
}

/// The handle `NdisMRegisterMiniportDriver` returned; NULL while the driver is not registered.
/// Written at PASSIVE_LEVEL by `DriverEntry` and unload, which NDIS never runs concurrently.
static DRIVER_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

/// The characteristics rvnic registers: NDIS 6.30, revision 2, every handler a trampoline.
#[must_use]
pub fn characteristics() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            ndis::NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            ndis::NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            ndis::NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: ndis::NDIS_MINIPORT_MAJOR_VERSION,
        MinorNdisVersion: ndis::NDIS_MINIPORT_MINOR_VERSION,
        MajorDriverVersion: DRIVER_VERSION.0,
        MinorDriverVersion: DRIVER_VERSION.1,
        Flags: 0,
        SetOptionsHandler: None,
        InitializeHandlerEx: Some(callbacks::initialize),
        HaltHandlerEx: Some(callbacks::halt),
        UnloadHandler: Some(callbacks::unload),
        PauseHandler: Some(callbacks::pause),
        RestartHandler: Some(callbacks::restart),
        OidRequestHandler: Some(callbacks::oid_request),
        SendNetBufferListsHandler: Some(callbacks::send_net_buffer_lists),
        ReturnNetBufferListsHandler: Some(callbacks::return_net_buffer_lists),
        CancelSendHandler: Some(callbacks::cancel_send),
        // None: MiniportCheckForHangEx is optional and discouraged from NDIS 6.83 on. A virtual NIC
        // has no hardware to hang, and a send never waits for anything but the next drain, which
        // the wire's baton guarantees; NDIS's own OID and send timeouts still apply.
        CheckForHangHandlerEx: None,
        ResetHandlerEx: Some(callbacks::reset),
        DevicePnPEventNotifyHandler: Some(callbacks::device_pnp_event_notify),
        ShutdownHandlerEx: Some(callbacks::shutdown),
        CancelOidRequestHandler: Some(callbacks::cancel_oid_request),
        DirectOidRequestHandler: None,
        CancelDirectOidRequestHandler: None,
    }
}

/// The logic of `DriverEntry`: register the miniport with NDIS. PASSIVE_LEVEL.
///
/// The kernel image exports this as `DriverEntry` (`src/kernel.rs`); on the host, `ndis-host` calls it.
///
/// # Safety
/// `driver_object` and `registry_path` are the pointers the I/O manager passes to `DriverEntry`:
/// valid for the lifetime of the driver.
#[ndis::kernel_abi]
pub unsafe extern "system" fn driver_entry(
    driver_object: PDRIVER_OBJECT,
    registry_path: PUNICODE_STRING,
) -> NTSTATUS {
    let mut chars = characteristics();
    let mut handle: NDIS_HANDLE = null_mut();
    // `driver_object` and `registry_path` come straight from the I/O manager (caller's contract);
    // `chars` and `handle` live on this stack for the whole call; NDIS copies the characteristics.
    // SAFETY: PASSIVE_LEVEL (DriverEntry); every pointer is valid and owned as described above.
    let status = unsafe {
        ndis::NdisMRegisterMiniportDriver(
            driver_object,
            registry_path,
            null_mut(),
            &raw mut chars,
            &raw mut handle,
        )
    };
    if status != NDIS_STATUS_SUCCESS {
        dbg_print!("NdisMRegisterMiniportDriver failed: {status:#010x}");
        return status;
    }
    DRIVER_HANDLE.store(handle, Ordering::Release); // Release: unload reads it after registration.
    DRIVER_OBJECT.store(driver_object, Ordering::Release); // Release: adapters read it later.
    dbg_print!(
        "registered NDIS {}.{} miniport, driver version {}.{}",
        ndis::NDIS_MINIPORT_MAJOR_VERSION,
        ndis::NDIS_MINIPORT_MINOR_VERSION,
        DRIVER_VERSION.0,
        DRIVER_VERSION.1
    );
    NDIS_STATUS_SUCCESS
}

/// The logic of `MiniportDriverUnload`: deregister. PASSIVE_LEVEL, after every adapter has halted.
pub(crate) fn unload() {
    // Acquire: pairs with the Release store in `driver_entry`.
    let handle = DRIVER_HANDLE.swap(null_mut(), Ordering::Acquire);
    DRIVER_OBJECT.store(null_mut(), Ordering::Release);
    if handle.is_null() {
        return;
    }
    // `handle` is the live registration from `driver_entry`, taken out of `DRIVER_HANDLE` above.
    // SAFETY: PASSIVE_LEVEL (unload); the handle is valid and deregistered exactly once.
    unsafe { ndis::NdisMDeregisterMiniportDriver(handle) };
    dbg_print!("deregistered");
}
