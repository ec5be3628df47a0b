//! The `extern "system"` functions NDIS calls: the only place raw NDIS pointers enter the driver.
//!
//! Each trampoline turns its raw arguments into safe values once (the adapter handle into an
//! [`AdapterHandle`], the adapter context into `&Adapter`, NBL chains into owned
//! [`crate::nbl::Split`]s, an OID request into an [`OidRequest`]) and calls the adapter's safe
//! method. IRQLs are NDIS's: initialize, halt, pause, restart and `PnP` at `PASSIVE_LEVEL`; the rest at
//! IRQL <= `DISPATCH_LEVEL` (shutdown at any IRQL).

use ndis::{
    BOOLEAN, FALSE, NDIS_HALT_ACTION, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_SHUTDOWN_ACTION, NDIS_STATUS,
    NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_SUCCESS, NTSTATUS, PDRIVER_OBJECT, PKDPC,
    PNDIS_MINIPORT_INIT_PARAMETERS, PNDIS_MINIPORT_PAUSE_PARAMETERS, PNDIS_MINIPORT_RESTART_PARAMETERS,
    PNDIS_OID_REQUEST, PNET_BUFFER_LIST, PNET_DEVICE_PNP_EVENT, PUNICODE_STRING, PVOID, TRUE, ULONG,
};

use rvnic_helpers::adapter::AdapterHandle;
use rvnic_helpers::driver::Registration;
use rvnic_helpers::oid::{OidRequest, PendedRequest};

use crate::adapter::Adapter;
use crate::nbl::Chain;

/// The adapter behind a context NDIS passes back.
///
/// # Safety
/// `context` is the `MiniportAdapterContext` an [`Adapter`] registered, and the adapter is not
/// halted (NDIS calls per-adapter handlers only between initialize and halt).
unsafe fn adapter<'a>(context: NDIS_HANDLE) -> &'a Adapter {
    // The caller's contract: a live adapter, shared (handlers run concurrently, all take `&Adapter`).
    // SAFETY: a live adapter for `'a`.
    unsafe { &*context.cast::<Adapter>() }
}

/// `DriverEntry`'s logic: register the miniport with NDIS. `PASSIVE_LEVEL`.
///
/// The kernel image exports this as `DriverEntry` (`src/kernel.rs`); on the host, `ndis-host` calls
/// it.
///
/// # Safety
/// `driver_object` and `registry_path` are the pointers the I/O manager passes to `DriverEntry`:
/// valid for the lifetime of the driver.
#[ndis::kernel_abi]
pub unsafe extern "system" fn driver_entry(
    driver_object: PDRIVER_OBJECT,
    registry_path: PUNICODE_STRING,
) -> NTSTATUS {
    // The I/O manager's pointers (this function's contract), deregistered at unload.
    let characteristics = crate::driver::characteristics();
    // SAFETY: PASSIVE_LEVEL (DriverEntry); valid pointers for the driver's life.
    let registration = unsafe { Registration::register(driver_object, registry_path, &characteristics) };
    crate::driver::registered(registration)
}

/// `MiniportInitializeEx`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn initialize(
    miniport_adapter_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
    init_parameters: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    // NDIS passes valid init parameters for the call (or NULL, which we refuse).
    // SAFETY: valid for the call, read only.
    let Some(parameters) = (unsafe { init_parameters.as_ref() }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // NDIS's handle for the adapter being initialized; the adapter (which keeps it) is freed
    // before halt returns, or before this returns if initialize fails.
    // SAFETY: the handle of this MiniportInitializeEx call.
    let handle = unsafe { AdapterHandle::from_raw(miniport_adapter_handle) };
    match Adapter::initialize(handle, crate::driver::driver_object(), parameters.IfIndex) {
        Ok(_) => NDIS_STATUS_SUCCESS,
        Err(status) => status,
    }
}

/// `MiniportHaltEx`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn halt(context: NDIS_HANDLE, action: NDIS_HALT_ACTION) {
    if context.is_null() {
        return;
    }
    // The adapter is live until halt frees it: copy its port out, then let go of the borrow.
    // SAFETY: NDIS's adapter context, between initialize and halt.
    let port = unsafe { adapter(context) }.port();
    // The wire owns the adapter; halt takes it back from there and frees it.
    Adapter::halt(port, action);
}

/// `MiniportDriverUnload`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn unload(_driver_object: PDRIVER_OBJECT) {
    crate::driver::unload();
}

/// `MiniportPause`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn pause(
    context: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.pause()
}

/// `MiniportRestart`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn restart(
    context: NDIS_HANDLE,
    _params: PNDIS_MINIPORT_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.restart()
}

/// `MiniportOidRequest`, IRQL <= `DISPATCH_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn oid_request(
    context: NDIS_HANDLE,
    request: PNDIS_OID_REQUEST,
) -> NDIS_STATUS {
    let Some(raw) = core::ptr::NonNull::new(request) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    // NDIS lends the request (and its information buffer, of the stated length) until it
    // completes: this call, or a later NdisMOidRequestComplete if the handler pends it.
    // SAFETY: the request of this call, one token for it.
    let pended = unsafe { PendedRequest::from_raw(raw) };
    // SAFETY: a valid request, exclusively ours for the call (the token is used only after it).
    let request = unsafe { &mut *raw.as_ptr() };
    // SAFETY: NDIS's buffer contract for the request, as above.
    let request = unsafe { OidRequest::from_raw(request) };
    // The adapter lives from initialize to halt and NDIS issues no request outside that; shared
    // (every handler takes it so); PASSIVE_LEVEL, as NDIS calls MiniportOidRequest.
    // SAFETY: NDIS's adapter context, alive for the call; the request and its token are ours.
    unsafe { adapter(context) }.oid_request(request, pended)
}

/// `MiniportSendNetBufferLists`, IRQL <= `DISPATCH_LEVEL`, any CPU, concurrently.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn send_net_buffer_lists(
    context: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    _flags: ULONG,
) {
    // NDIS gives the chain to the driver until it completes each NBL.
    // SAFETY: the whole chain is ours from now on.
    let nbls = unsafe { Chain::split(nbls) };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.send(nbls);
}

/// `MiniportReturnNetBufferLists`, IRQL <= `DISPATCH_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn return_net_buffer_lists(
    context: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _flags: ULONG,
) {
    // The protocol returns NBLs this adapter indicated: they are the driver's again.
    // SAFETY: the whole chain is ours from now on.
    let nbls = unsafe { Chain::split(nbls) };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.return_nbls(nbls);
}

/// `MiniportCancelSend`, IRQL <= `DISPATCH_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn cancel_send(context: NDIS_HANDLE, cancel_id: PVOID) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.cancel_send(cancel_id as usize);
}

/// `MiniportResetEx`, IRQL <= `DISPATCH_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn reset(
    context: NDIS_HANDLE,
    addressing_reset: *mut BOOLEAN,
) -> NDIS_STATUS {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    let (status, addressing) = unsafe { adapter(context) }.reset();
    // NDIS passes an out-variable valid for the call (NULL tolerated).
    // SAFETY: a valid out-variable, or NULL.
    if let Some(out) = unsafe { addressing_reset.as_mut() } {
        *out = if addressing { TRUE } else { FALSE };
    }
    status
}

/// `MiniportDevicePnPEventNotify`, `PASSIVE_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn device_pnp_event_notify(
    context: NDIS_HANDLE,
    event: PNET_DEVICE_PNP_EVENT,
) {
    // NDIS passes a notification valid for the call.
    // SAFETY: valid for the call, read only.
    let Some(event) = (unsafe { event.as_ref() }) else {
        return;
    };
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.pnp_event(event.DevicePnPEvent);
}

/// `MiniportShutdownEx`, any IRQL.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn shutdown(context: NDIS_HANDLE, action: NDIS_SHUTDOWN_ACTION) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.shutdown(action);
}

/// `MiniportCancelOidRequest`, IRQL <= `DISPATCH_LEVEL`.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn cancel_oid_request(context: NDIS_HANDLE, request_id: PVOID) {
    // SAFETY: NDIS's adapter context, between initialize and halt.
    unsafe { adapter(context) }.cancel_oid_request(request_id as usize);
}

/// The DPC of an RSS receive queue ([`crate::wire::scaling::Queues`]), `DISPATCH_LEVEL` on the queue's
/// processor: `context` is the adapter, `queue` (`SystemArgument1`) the queue's index.
#[ndis::kernel_abi]
pub(crate) unsafe extern "system" fn receive_queue(_dpc: PKDPC, context: PVOID, queue: PVOID, _: PVOID) {
    // The adapter bound its DPCs to its own address and closes them (dequeue and flush) in halt
    // before it is freed, so a queued or running DPC always finds it alive.
    // SAFETY: a live adapter; shared, as every handler takes it.
    unsafe { adapter(context) }.indicate_queue(queue as usize);
}
