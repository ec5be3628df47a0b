//! The `extern "system"` functions NDIS calls: the only place raw NDIS pointers enter the driver.
//!
//! Each trampoline turns its raw arguments into safe values and calls safe driver logic. Until the
//! adapter logic lands (the miniport issue), `MiniportInitializeEx` declines every adapter with
//! `NDIS_STATUS_NOT_SUPPORTED`, so NDIS never calls the per-adapter handlers; they still answer as
//! NDIS documents for an adapter that cannot do the operation.

use ndis::{
    BOOLEAN, FALSE, NDIS_HALT_ACTION, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_SHUTDOWN_ACTION, NDIS_STATUS,
    NDIS_STATUS_NOT_SUPPORTED, PDRIVER_OBJECT, PNDIS_MINIPORT_INIT_PARAMETERS,
    PNDIS_MINIPORT_PAUSE_PARAMETERS, PNDIS_MINIPORT_RESTART_PARAMETERS, PNDIS_OID_REQUEST, PNET_BUFFER_LIST,
    PNET_DEVICE_PNP_EVENT, PVOID, ULONG,
};

use crate::dbg_print;

/// `MiniportInitializeEx`, PASSIVE_LEVEL.
pub(super) extern "system" fn initialize(
    _miniport_adapter_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
    _init_parameters: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    dbg_print!("MiniportInitializeEx: adapters are not implemented in this build");
    NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportHaltEx`, PASSIVE_LEVEL.
pub(super) extern "system" fn halt(_adapter: NDIS_HANDLE, _action: NDIS_HALT_ACTION) {}

/// `MiniportDriverUnload`, PASSIVE_LEVEL.
pub(super) extern "system" fn unload(_driver_object: PDRIVER_OBJECT) {
    super::unload();
}

/// `MiniportPause`, PASSIVE_LEVEL.
pub(super) extern "system" fn pause(
    _adapter: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportRestart`, PASSIVE_LEVEL.
pub(super) extern "system" fn restart(
    _adapter: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportOidRequest`, IRQL <= DISPATCH_LEVEL.
pub(super) extern "system" fn oid_request(_adapter: NDIS_HANDLE, _request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportSendNetBufferLists`, IRQL <= DISPATCH_LEVEL. Unreachable without an adapter.
pub(super) extern "system" fn send_net_buffer_lists(
    _adapter: NDIS_HANDLE,
    _nbls: PNET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    _flags: ULONG,
) {
}

/// `MiniportReturnNetBufferLists`, IRQL <= DISPATCH_LEVEL. Unreachable without an adapter.
pub(super) extern "system" fn return_net_buffer_lists(
    _adapter: NDIS_HANDLE,
    _nbls: PNET_BUFFER_LIST,
    _flags: ULONG,
) {
}

/// `MiniportCancelSend`, IRQL <= DISPATCH_LEVEL.
pub(super) extern "system" fn cancel_send(_adapter: NDIS_HANDLE, _cancel_id: PVOID) {}

/// `MiniportCheckForHangEx`, IRQL <= DISPATCH_LEVEL: never hung.
pub(super) extern "system" fn check_for_hang(_adapter: NDIS_HANDLE) -> BOOLEAN {
    FALSE
}

/// `MiniportResetEx`, IRQL <= DISPATCH_LEVEL.
pub(super) extern "system" fn reset(_adapter: NDIS_HANDLE, _addressing_reset: *mut BOOLEAN) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}

/// `MiniportDevicePnPEventNotify`, PASSIVE_LEVEL.
pub(super) extern "system" fn device_pnp_event_notify(_adapter: NDIS_HANDLE, _event: PNET_DEVICE_PNP_EVENT) {}

/// `MiniportShutdownEx`, any IRQL.
pub(super) extern "system" fn shutdown(_adapter: NDIS_HANDLE, _action: NDIS_SHUTDOWN_ACTION) {}

/// `MiniportCancelOidRequest`, IRQL <= DISPATCH_LEVEL.
pub(super) extern "system" fn cancel_oid_request(_adapter: NDIS_HANDLE, _request_id: PVOID) {}
