//! `NdisMRegisterMiniportDriver` refuses what NDIS refuses: misbehaving test drivers, written with the
//! `ndis` crate, each break one rule.

use std::ptr::null_mut;
use std::sync::Mutex;

use ndis::*;
use ndis_host::{Host, LoadError, registration_failure};

#[ndis::kernel_abi]
unsafe extern "system" fn init(
    _: NDIS_HANDLE,
    _: NDIS_HANDLE,
    _: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    NDIS_STATUS_FAILURE
}
#[ndis::kernel_abi]
unsafe extern "system" fn halt(_: NDIS_HANDLE, _: NDIS_HALT_ACTION) {}
#[ndis::kernel_abi]
unsafe extern "system" fn unload(_: PDRIVER_OBJECT) {
    let handle = HANDLE.lock().unwrap().take();
    if let Some(h) = handle {
        // SAFETY: the handle this test driver's DriverEntry received; PASSIVE_LEVEL.
        unsafe { NdisMDeregisterMiniportDriver(h as NDIS_HANDLE) };
    }
}
#[ndis::kernel_abi]
unsafe extern "system" fn pause(_: NDIS_HANDLE, _: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}
#[ndis::kernel_abi]
unsafe extern "system" fn restart(_: NDIS_HANDLE, _: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}
#[ndis::kernel_abi]
unsafe extern "system" fn oid(_: NDIS_HANDLE, _: PNDIS_OID_REQUEST) -> NDIS_STATUS {
    NDIS_STATUS_NOT_SUPPORTED
}
#[ndis::kernel_abi]
unsafe extern "system" fn send(_: NDIS_HANDLE, _: PNET_BUFFER_LIST, _: NDIS_PORT_NUMBER, _: ULONG) {}
#[ndis::kernel_abi]
unsafe extern "system" fn ret(_: NDIS_HANDLE, _: PNET_BUFFER_LIST, _: ULONG) {}
#[ndis::kernel_abi]
unsafe extern "system" fn cancel(_: NDIS_HANDLE, _: PVOID) {}
#[ndis::kernel_abi]
unsafe extern "system" fn pnp(_: NDIS_HANDLE, _: PNET_DEVICE_PNP_EVENT) {}
#[ndis::kernel_abi]
unsafe extern "system" fn shutdown(_: NDIS_HANDLE, _: NDIS_SHUTDOWN_ACTION) {}

fn good() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: 6,
        MinorNdisVersion: 30,
        InitializeHandlerEx: Some(init),
        HaltHandlerEx: Some(halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(pause),
        RestartHandler: Some(restart),
        OidRequestHandler: Some(oid),
        SendNetBufferListsHandler: Some(send),
        ReturnNetBufferListsHandler: Some(ret),
        CancelSendHandler: Some(cancel),
        DevicePnPEventNotifyHandler: Some(pnp),
        ShutdownHandlerEx: Some(shutdown),
        CancelOidRequestHandler: Some(cancel),
        ..Default::default()
    }
}

/// A change that breaks one rule of the characteristics.
type Mutation = fn(&mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS);

/// The characteristics the next test `DriverEntry` registers, and the handle it got.
static NEXT: Mutex<Option<Mutation>> = Mutex::new(None);
static HANDLE: Mutex<Option<usize>> = Mutex::new(None);

#[ndis::kernel_abi]
unsafe extern "system" fn test_driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
    let mut c = good();
    if let Some(mutate) = *NEXT.lock().unwrap() {
        mutate(&mut c);
    }
    let mut handle = null_mut();
    let (chars, out) = (&raw mut c, &raw mut handle);
    // SAFETY: the host's driver object and path, forwarded; `c` and `handle` outlive the call.
    let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), chars, out) };
    if status == NDIS_STATUS_SUCCESS {
        *HANDLE.lock().unwrap() = Some(handle as usize);
    }
    status
}

fn load_with(host: &Host, mutate: Mutation) -> Result<(), LoadError> {
    *NEXT.lock().unwrap() = Some(mutate);
    host.load(test_driver_entry)
}

#[test]
fn well_formed_characteristics_register_and_unload_deregisters() {
    let host = Host::new();
    load_with(&host, |_| {}).expect("registers");
    host.unload();
    assert_eq!(host.with_registration(|r| r.deregistered), Some(true));
    assert!(host.finish().is_clean());
}

#[test]
fn each_malformed_characteristic_is_refused_with_ndis_status() {
    let cases: [(Mutation, NDIS_STATUS, &str); 6] = [
        (
            |c| c.Header.Type = NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_STATUS_BAD_CHARACTERISTICS,
            "header type 128",
        ),
        (
            |c| c.Header.Size = 136,
            NDIS_STATUS_BAD_CHARACTERISTICS,
            "revision 2 size 136 for NDIS 6.30",
        ),
        (
            |c| c.Header.Revision = 1,
            NDIS_STATUS_BAD_CHARACTERISTICS,
            "revision 1 size 152",
        ),
        (|c| c.MajorNdisVersion = 5, NDIS_STATUS_BAD_VERSION, "NDIS 5.30"),
        (
            |c| c.PauseHandler = None,
            NDIS_STATUS_BAD_CHARACTERISTICS,
            "PauseHandler is NULL",
        ),
        (
            |c| c.CancelOidRequestHandler = None,
            NDIS_STATUS_BAD_CHARACTERISTICS,
            "CancelOidRequestHandler is NULL",
        ),
    ];
    for (mutate, status, why) in cases {
        let mut c = good();
        mutate(&mut c);
        let failure = registration_failure(&c).expect("refused");
        assert_eq!(failure.0, status, "{why}");
        assert!(failure.1.contains(why), "{} does not mention {why}", failure.1);
        // Through the real export, as the driver sees it.
        let host = Host::new();
        assert_eq!(
            load_with(&host, mutate).unwrap_err(),
            LoadError::DriverEntryFailed(status)
        );
        let log = host.take_debug_output();
        assert!(log.iter().any(|l| l.contains(why)), "{log:?}");
        assert!(host.finish().is_clean());
    }
}

#[test]
fn ndis_60_drivers_may_use_revision_1() {
    let mut c = good();
    c.MinorNdisVersion = 0;
    c.Header.Revision = NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    c.Header.Size = NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    assert_eq!(registration_failure(&c), None);
}

#[test]
fn debug_print_formats_like_printf() {
    let host = Host::new();
    // SAFETY: a format with one %s and one %d, given a NUL-terminated string and an int.
    unsafe { DbgPrint(c"%s=%d\n".as_ptr(), c"answer".as_ptr(), 42) };
    let log = host.take_debug_output();
    assert!(log.iter().any(|l| l == "answer=42"), "{log:?}");
}
