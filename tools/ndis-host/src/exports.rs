//! Driver registration, and the Rust side of `DbgPrint`.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use ndis::*;

use crate::host::current;
use crate::verifier::Rule;

/// What the driver registered with `NdisMRegisterMiniportDriver`.
#[derive(Debug)]
pub struct Registration {
    /// A copy of the characteristics (NDIS copies them too).
    pub characteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    /// The `MiniportDriverContext` the driver passed.
    pub driver_context: usize,
    /// The handle NDIS returned; deregistration must pass it back.
    pub handle: usize,
    /// Whether `NdisMDeregisterMiniportDriver` was called.
    pub deregistered: bool,
}

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

/// `NdisMRegisterMiniportDriver`.
///
/// # Safety
/// The pointers are those `DriverEntry` received, and `chars`/`handle` are valid for the call.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub unsafe extern "system" fn NdisMRegisterMiniportDriver(
    DriverObject: PDRIVER_OBJECT,
    _RegistryPath: PUNICODE_STRING,
    MiniportDriverContext: NDIS_HANDLE,
    MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NdisMiniportDriverHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const API: &str = "NdisMRegisterMiniportDriver";
    let host = current();
    if !host.check_irql(API) {
        return NDIS_STATUS_FAILURE;
    }
    let mut st = host.lock();
    let ours = st.driver.object_address();
    if Some(DriverObject as usize) != ours
        || MiniportDriverCharacteristics.is_null()
        || NdisMiniportDriverHandle.is_null()
    {
        st.violate(
            Rule::BadParameter,
            API,
            None,
            "DriverObject is not the one DriverEntry received, or a NULL pointer",
        );
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null and valid for the call (caller's contract); the copy is plain data.
    let c = unsafe { core::ptr::read(MiniportDriverCharacteristics) };
    if let Some((status, why)) = registration_failure(&c) {
        st.debug
            .push(format!("ndis-host: NdisMRegisterMiniportDriver refused: {why}"));
        return status;
    }
    if st.driver.registration().is_some_and(|r| !r.deregistered) {
        st.violate(Rule::BadParameter, API, None, "the driver registered twice");
        return NDIS_STATUS_FAILURE;
    }
    let handle = crate::memory::raw_alloc(8, 0) as usize;
    st.driver.register(Registration {
        characteristics: c,
        driver_context: MiniportDriverContext as usize,
        handle,
        deregistered: false,
    });
    // SAFETY: checked non-null above; the caller owns this out-parameter for the call.
    unsafe { NdisMiniportDriverHandle.write(handle as NDIS_HANDLE) };
    NDIS_STATUS_SUCCESS
}

/// `NdisMDeregisterMiniportDriver`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE) {
    const API: &str = "NdisMDeregisterMiniportDriver";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let handle = NdisMiniportDriverHandle as usize;
    match st.driver.registration_mut() {
        Some(r) if r.handle == handle && !r.deregistered => {
            r.deregistered = true;
            crate::memory::raw_free(handle, 8);
        }
        _ => st.violate(
            Rule::BadFree,
            API,
            None,
            format!("{handle:#x} is not the live driver registration"),
        ),
    }
}

/// Called by the C `DbgPrint` shim with the formatted text.
#[unsafe(no_mangle)]
extern "C" fn ndis_host_dbg_print(text: *const u8, len: usize) {
    crate::stack::on_host_stack(|| dbg_print(text, len));
}

fn dbg_print(text: *const u8, len: usize) {
    // SAFETY: the shim passes a buffer of `len` initialised bytes that lives until this returns.
    let bytes = unsafe { std::slice::from_raw_parts(text, len) };
    let line = String::from_utf8_lossy(bytes).trim_end_matches('\n').to_string();
    let host = current();
    // DbgPrint runs at IRQL <= DIRQL; above that (CLOCK_LEVEL to HIGH_LEVEL) it may not be called.
    if !host.check_irql("DbgPrint") {
        return;
    }
    if std::env::var_os("NDIS_HOST_ECHO").is_some() {
        eprintln!("{line}");
    }
    crate::trace::message(&line);
    host.lock().debug.push(line);
}

/// Every function ndis-host exports to a loaded kernel image, by module: the imports the `ndis`
/// crate declares (`helpers/ndis/src/functions.rs`), each the same definition the linked driver
/// calls. A test checks the table against that file.
macro_rules! export_table {
    ($($module:literal => [$($name:ident),* $(,)?]),* $(,)?) => {
        /// (module, name, address) of every export.
        pub(crate) fn table() -> Vec<(&'static str, &'static str, usize)> {
            vec![$($(($module, stringify!($name), ndis::$name as *const () as usize)),*),*]
        }
    };
}

export_table! {
    "ndis.sys" => [
        NdisMRegisterMiniportDriver, NdisMDeregisterMiniportDriver, NdisMSetMiniportAttributes,
        NdisAllocateGenericObject, NdisFreeGenericObject, NdisAllocateMemoryWithTagPriority,
        NdisFreeMemory, NdisAllocateMdl, NdisFreeMdl, NdisAllocateNetBufferListPool,
        NdisFreeNetBufferListPool, NdisAllocateNetBufferPool, NdisFreeNetBufferPool,
        NdisAllocateNetBufferList, NdisFreeNetBufferList, NdisAllocateNetBuffer, NdisFreeNetBuffer,
        NdisAllocateNetBufferAndNetBufferList, NdisGetDataBuffer, NdisMSendNetBufferListsComplete,
        NdisMIndicateReceiveNetBufferLists, NdisMIndicateStatusEx, NdisMOidRequestComplete,
        NdisMPauseComplete, NdisMRestartComplete, NdisMResetComplete, NdisOpenConfigurationEx,
        NdisCloseConfiguration, NdisReadConfiguration, NdisReadNetworkAddress,
        NdisAllocateTimerObject, NdisSetTimerObject, NdisCancelTimerObject, NdisFreeTimerObject,
        NdisAllocateSpinLock, NdisFreeSpinLock, NdisAcquireSpinLock, NdisReleaseSpinLock,
        NdisDprAcquireSpinLock, NdisDprReleaseSpinLock, NdisInitializeEvent, NdisSetEvent,
        NdisResetEvent, NdisWaitEvent, NdisMSleep,
    ],
    "ntoskrnl.exe" => [
        ExAllocatePool2, ExFreePoolWithTag, KeBugCheckEx, KeGetCurrentIrql, KeRaiseIrqlToDpcLevel,
        KeLowerIrql, KeGetCurrentProcessorNumberEx, KeQueryActiveProcessorCountEx,
        KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock, KeAcquireSpinLockAtDpcLevel,
        KeReleaseSpinLockFromDpcLevel, KeFlushQueuedDpcs, KeInitializeDpc, KeSetTargetProcessorDpcEx,
        KeInsertQueueDpc, KeRemoveQueueDpc, KeGetProcessorIndexFromNumber, MmMapLockedPagesSpecifyCache,
        DbgPrint,
    ],
    "hal.dll" => [KeStallExecutionProcessor],
}

/// The address of ndis-host's definition of `module!name` (the module compared without case, as
/// the loader does), if it defines it.
#[must_use]
pub fn export(module: &str, name: &str) -> Option<usize> {
    table()
        .into_iter()
        .find(|(m, n, _)| m.eq_ignore_ascii_case(module) && *n == name)
        .map(|(_, _, address)| address)
}

#[cfg(test)]
mod tests {
    /// The table holds exactly the functions the `ndis` crate imports, each under its module.
    #[test]
    fn the_table_is_every_import_of_the_ndis_crate() {
        let source = include_str!("../../../helpers/ndis/src/functions.rs");
        let mut declared = Vec::new();
        let mut module = "";
        for line in source.lines() {
            if let Some(rest) = line.trim().strip_prefix("link(name = \"") {
                module = rest.split('"').next().unwrap_or("");
            }
            if let Some(rest) = line.trim().strip_prefix("pub fn ") {
                let name = rest.split('(').next().unwrap_or("");
                declared.push((module.to_string(), name.to_string()));
            }
        }
        let mut table: Vec<(String, String)> = super::table()
            .into_iter()
            .map(|(m, n, _)| (m.to_string(), n.to_string()))
            .collect();
        declared.sort();
        table.sort();
        assert_eq!(table, declared);
        assert!(declared.len() > 60, "{declared:?}");
    }
}
