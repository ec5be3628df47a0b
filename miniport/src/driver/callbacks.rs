//! The `extern "system"` functions NDIS calls: the only place raw NDIS pointers enter the driver.
//!
//! Each trampoline is generic over the adapter type ([`Miniport`]): it turns its raw arguments into
//! safe values once (the adapter context into `&M`, NBL chains into owned [`crate::nbl::Split`]s, an
//! OID request into [`crate::oid::Request`]) and calls the adapter's safe method.

use core::ptr::NonNull;

use ndis::{
    BOOLEAN, FALSE, NDIS_HALT_ACTION, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_SHUTDOWN_ACTION, NDIS_STATUS,
    NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_SUCCESS, PDRIVER_OBJECT, PNDIS_MINIPORT_INIT_PARAMETERS,
    PNDIS_MINIPORT_PAUSE_PARAMETERS, PNDIS_MINIPORT_RESTART_PARAMETERS, PNDIS_OID_REQUEST, PNET_BUFFER_LIST,
    PNET_DEVICE_PNP_EVENT, PVOID, TRUE, ULONG,
};
use rvnic_helpers::memory::PoolBox;

use super::Miniport;
use crate::POOL_TAG;
use crate::nbl::Chain;

/// The adapter behind a context NDIS passes back.
///
/// # Safety
/// `context` is the `MiniportAdapterContext` an adapter of type `M` registered, and the adapter is
/// not halted (NDIS calls per-adapter handlers only between initialize and halt).
unsafe fn adapter<'a, M: Miniport>(context: NDIS_HANDLE) -> &'a M {
    // SAFETY: the caller's contract: a live `M`, shared (handlers run concurrently, all take `&M`).
    unsafe { &*context.cast::<M>() }
}

/// `MiniportInitializeEx`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn initialize<M: Miniport>(
    miniport_adapter_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
    init_parameters: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    // NDIS passes valid init parameters for the call (or NULL, which we refuse).
    // SAFETY: valid for the call, read only.
    let Some(parameters) = (unsafe { init_parameters.as_ref() }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    match M::initialize(
        miniport_adapter_handle,
        super::driver_object(),
        parameters.IfIndex,
    ) {
        Ok(_) => NDIS_STATUS_SUCCESS,
        Err(status) => status,
    }
}

/// `MiniportHaltEx`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn halt<M: Miniport>(context: NDIS_HANDLE, action: NDIS_HALT_ACTION) {
    let Some(context) = NonNull::new(context.cast::<M>()) else {
        return;
    };
    // The context is the `PoolBox::into_raw` of `M::initialize`, halted once: ownership returns.
    // SAFETY: the adapter's box, taken back once, by halt.
    let adapter = unsafe { PoolBox::from_raw(context, POOL_TAG) };
    M::halt(adapter, action);
}

/// `MiniportDriverUnload`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn unload(_driver_object: PDRIVER_OBJECT) {
    super::unload();
}

/// `MiniportPause`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn pause<M: Miniport>(
    context: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.pause()
}

/// `MiniportRestart`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn restart<M: Miniport>(
    context: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.restart()
}

/// `MiniportOidRequest`, IRQL <= DISPATCH_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn oid_request<M: Miniport>(
    context: NDIS_HANDLE,
    request: PNDIS_OID_REQUEST,
) -> NDIS_STATUS {
    // NDIS lends the request (and its information buffer, of the stated length) until it
    // completes; it never pends here.
    // SAFETY: a valid request, exclusively ours for the call.
    let Some(request) = (unsafe { request.as_mut() }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // SAFETY: NDIS's buffer contract for the request, as above.
    let request = unsafe { crate::oid::Request::from_raw(request) };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.oid_request(request)
}

/// `MiniportSendNetBufferLists`, IRQL <= DISPATCH_LEVEL, any CPU, concurrently.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn send_net_buffer_lists<M: Miniport>(
    context: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    _flags: ULONG,
) {
    // NDIS gives the chain to the driver until it completes each NBL.
    // SAFETY: the whole chain is ours from now on.
    let nbls = unsafe { Chain::split(nbls) };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.send(nbls);
}

/// `MiniportReturnNetBufferLists`, IRQL <= DISPATCH_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn return_net_buffer_lists<M: Miniport>(
    context: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _flags: ULONG,
) {
    // The protocol returns NBLs this adapter indicated: they are the driver's again.
    // SAFETY: the whole chain is ours from now on.
    let nbls = unsafe { Chain::split(nbls) };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.return_nbls(nbls);
}

/// `MiniportCancelSend`, IRQL <= DISPATCH_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn cancel_send<M: Miniport>(context: NDIS_HANDLE, cancel_id: PVOID) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.cancel_send(cancel_id as usize);
}

/// `MiniportResetEx`, IRQL <= DISPATCH_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn reset<M: Miniport>(
    context: NDIS_HANDLE,
    addressing_reset: *mut BOOLEAN,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    let (status, addressing) = unsafe { adapter::<M>(context) }.reset();
    // NDIS passes an out-variable valid for the call (NULL tolerated).
    // SAFETY: a valid out-variable, or NULL.
    if let Some(out) = unsafe { addressing_reset.as_mut() } {
        *out = if addressing { TRUE } else { FALSE };
    }
    status
}

/// `MiniportDevicePnPEventNotify`, PASSIVE_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn device_pnp_event_notify<M: Miniport>(
    context: NDIS_HANDLE,
    event: PNET_DEVICE_PNP_EVENT,
) {
    // NDIS passes a notification valid for the call.
    // SAFETY: valid for the call, read only.
    let Some(event) = (unsafe { event.as_ref() }) else {
        return;
    };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.pnp_event(event.DevicePnPEvent);
}

/// `MiniportShutdownEx`, any IRQL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn shutdown<M: Miniport>(
    context: NDIS_HANDLE,
    action: NDIS_SHUTDOWN_ACTION,
) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.shutdown(action);
}

/// `MiniportCancelOidRequest`, IRQL <= DISPATCH_LEVEL.
#[ndis::kernel_abi]
pub(super) unsafe extern "system" fn cancel_oid_request<M: Miniport>(
    context: NDIS_HANDLE,
    request_id: PVOID,
) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter::<M>(context) }.cancel_oid_request(request_id as usize);
}
