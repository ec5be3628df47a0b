//! `DriverEntry`, the miniport driver characteristics, and unload.
//!
//! NDIS learns what rvnic can do from one structure, `NDIS_MINIPORT_DRIVER_CHARACTERISTICS`, which
//! `DriverEntry` fills with the `extern "system"` trampolines of [`callbacks`] and hands to
//! `NdisMRegisterMiniportDriver`. NDIS then calls `MiniportInitializeEx` once per adapter, and the
//! unload handler after the last adapter has halted.

#![forbid(unsafe_code)]

use ndis::{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_OBJECT_HEADER, NDIS_STATUS, NDIS_STATUS_SUCCESS, NTSTATUS,
};
use rvnic_helpers::driver::Registration;
use rvnic_helpers::generic_object::DriverObject;
use rvnic_helpers::spin::SpinLock;

use crate::{DRIVER_VERSION, dbg_print};

use crate::callbacks;
pub use crate::callbacks::driver_entry;

/// The registration `DriverEntry` made, with the driver object; `None` while the driver is not
/// registered. Written at `PASSIVE_LEVEL` by `DriverEntry` and unload, which NDIS never runs
/// concurrently, and read by initialize.
static REGISTRATION: SpinLock<Option<Registration>> = SpinLock::new(None);

/// The driver object, for `NdisAllocateGenericObject`.
pub(crate) fn driver_object() -> Option<DriverObject> {
    REGISTRATION.lock().as_ref().and_then(Registration::driver_object)
}

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

/// What `DriverEntry` does once NDIS has answered its registration: keep it, or report why not.
pub(crate) fn registered(registration: Result<Registration, NDIS_STATUS>) -> NTSTATUS {
    match registration {
        Ok(registration) => {
            *REGISTRATION.lock() = Some(registration);
            dbg_print!(
                "registered NDIS {}.{} miniport, driver version {}.{}",
                ndis::NDIS_MINIPORT_MAJOR_VERSION,
                ndis::NDIS_MINIPORT_MINOR_VERSION,
                DRIVER_VERSION.0,
                DRIVER_VERSION.1
            );
            NDIS_STATUS_SUCCESS
        }
        Err(status) => {
            dbg_print!("NdisMRegisterMiniportDriver failed: {status:#010x}");
            status
        }
    }
}

/// The logic of `MiniportDriverUnload`: deregister. `PASSIVE_LEVEL`, after every adapter has halted.
pub(crate) fn unload() {
    // Taken out first: deregistration runs at PASSIVE_LEVEL, not under the lock.
    let registration = REGISTRATION.lock().take();
    if let Some(registration) = registration {
        registration.deregister();
        dbg_print!("deregistered");
    }
}
