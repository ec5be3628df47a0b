//! The driver's `DriverEntry` and unload, run unmodified on ndis-host.

use ndis::*;
use ndis_host::Host;

#[test]
fn driver_entry_registers_valid_ndis_630_characteristics_and_unload_deregisters() {
    let host = Host::new();
    host.load_driver(&rvnic_tests::driver())
        .expect("DriverEntry succeeds");
    host.with_registration(|r| {
        let c = &r.characteristics;
        assert_eq!(c.Header.Type, NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS);
        assert_eq!(c.Header.Revision, NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2);
        assert_eq!(
            c.Header.Size,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2
        );
        assert_eq!((c.MajorNdisVersion, c.MinorNdisVersion), (6, 30));
        assert_eq!(
            (c.MajorDriverVersion, c.MinorDriverVersion),
            rvnic::DRIVER_VERSION
        );
        assert_eq!(ndis_host::registration_failure(c), None);
        assert!(!r.deregistered);
    })
    .expect("registered");
    host.unload();
    assert_eq!(
        host.with_registration(|r| r.deregistered),
        Some(true),
        "unload must deregister"
    );
    let log = host.take_debug_output();
    assert!(
        log.iter()
            .any(|l| l == "rvnic: registered NDIS 6.30 miniport, driver version 0.1"),
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("rvnic: deregistered"));
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn a_second_load_after_unload_registers_again() {
    for _ in 0..2 {
        let host = Host::new();
        host.load_driver(&rvnic_tests::driver())
            .expect("DriverEntry succeeds");
        assert!(host.finish().is_clean());
    }
}
