//! The NDIS and kernel functions the driver imports, defined for the host.
#![allow(
    non_snake_case,
    reason = "exports keep the C names of the WDK prototypes, parameters included"
)]

use ndis::*;

use crate::{Registration, debug_line, new_handle, state};

/// Why `NdisMRegisterMiniportDriver` refuses a set of characteristics, with NDIS's status; `None`
/// when it accepts them. The same checks NDIS makes: header type, revision and size for the
/// requested NDIS version, a 6.x version, and every mandatory handler present.
#[must_use]
pub fn registration_failure(c: &NDIS_MINIPORT_DRIVER_CHARACTERISTICS) -> Option<(NDIS_STATUS, String)> {
    if c.Header.Type != NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS {
        return Some((
            NDIS_STATUS_BAD_CHARACTERISTICS,
            format!("header type {}", c.Header.Type),
        ));
    }
    if c.MajorNdisVersion != 6 || c.MinorNdisVersion > 86 {
        return Some((
            NDIS_STATUS_BAD_VERSION,
            format!("NDIS {}.{}", c.MajorNdisVersion, c.MinorNdisVersion),
        ));
    }
    // NDIS 6.0 drivers use revision 1; 6.1 and later revision 2 (the direct-OID handlers).
    let (revision, size) = if c.MinorNdisVersion == 0 {
        (
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1,
        )
    } else {
        (
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        )
    };
    if c.Header.Revision < revision || c.Header.Size < size {
        return Some((
            NDIS_STATUS_BAD_CHARACTERISTICS,
            format!(
                "revision {} size {} for NDIS 6.{} (need {revision}/{size})",
                c.Header.Revision, c.Header.Size, c.MinorNdisVersion
            ),
        ));
    }
    let mandatory = [
        ("InitializeHandlerEx", c.InitializeHandlerEx.is_some()),
        ("HaltHandlerEx", c.HaltHandlerEx.is_some()),
        ("UnloadHandler", c.UnloadHandler.is_some()),
        ("PauseHandler", c.PauseHandler.is_some()),
        ("RestartHandler", c.RestartHandler.is_some()),
        ("OidRequestHandler", c.OidRequestHandler.is_some()),
        ("SendNetBufferListsHandler", c.SendNetBufferListsHandler.is_some()),
        (
            "ReturnNetBufferListsHandler",
            c.ReturnNetBufferListsHandler.is_some(),
        ),
        ("CancelSendHandler", c.CancelSendHandler.is_some()),
        (
            "DevicePnPEventNotifyHandler",
            c.DevicePnPEventNotifyHandler.is_some(),
        ),
        ("ShutdownHandlerEx", c.ShutdownHandlerEx.is_some()),
        ("CancelOidRequestHandler", c.CancelOidRequestHandler.is_some()),
    ];
    mandatory
        .iter()
        .find(|(_, present)| !present)
        .map(|(name, _)| (NDIS_STATUS_BAD_CHARACTERISTICS, format!("{name} is NULL")))
}

/// `NdisMRegisterMiniportDriver` (PASSIVE_LEVEL).
///
/// # Safety
/// The pointers are those `DriverEntry` received, and `chars`/`handle` are valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn NdisMRegisterMiniportDriver(
    DriverObject: PDRIVER_OBJECT,
    _RegistryPath: PUNICODE_STRING,
    MiniportDriverContext: NDIS_HANDLE,
    MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NdisMiniportDriverHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    if DriverObject.is_null() || MiniportDriverCharacteristics.is_null() || NdisMiniportDriverHandle.is_null()
    {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null and valid for the call (caller's contract); the copy is plain data.
    let c = unsafe { core::ptr::read(MiniportDriverCharacteristics) };
    if let Some((status, why)) = registration_failure(&c) {
        debug_line(format!("ndis-host: NdisMRegisterMiniportDriver refused: {why}"));
        return status;
    }
    let mut st = state();
    let handle = new_handle(&mut st);
    st.registrations.push(Registration {
        driver_object: DriverObject as usize,
        characteristics: c,
        driver_context: MiniportDriverContext as usize,
        handle: handle as usize,
        deregistered: false,
    });
    // SAFETY: checked non-null above; the caller owns this out-parameter for the call.
    unsafe { NdisMiniportDriverHandle.write(handle) };
    NDIS_STATUS_SUCCESS
}

/// `NdisMDeregisterMiniportDriver` (PASSIVE_LEVEL).
#[unsafe(no_mangle)]
pub extern "system" fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE) {
    let handle = NdisMiniportDriverHandle as usize;
    let mut st = state();
    if let Some(reg) = st
        .registrations
        .iter_mut()
        .find(|r| r.handle == handle && !r.deregistered)
    {
        reg.deregistered = true;
    } else {
        drop(st);
        debug_line(format!(
            "ndis-host: NdisMDeregisterMiniportDriver with unknown handle {handle:#x}"
        ));
    }
}
