//! Integration tests of the rvnic driver on ndis-host live in `tests/tests/`. This library holds
//! what they share.

#![allow(
    clippy::missing_panics_doc,
    reason = "test helpers: a panic is the failure of the test that called them"
)]

// The driver's imports are defined by ndis-host: naming it makes rustc link it into every test.
extern crate ndis_host;

use ndis::NDIS_OID;
use ndis_host::{Adapter, Config, Host};

/// The driver the tests run: the one linked into the test binary, or, when `RVNIC_IMAGE` names a
/// file, the kernel image built for Windows (`tools/cross/build-sys.sh`), loaded natively.
#[must_use]
pub fn driver() -> ndis_host::Driver {
    match std::env::var_os("RVNIC_IMAGE") {
        Some(path) if !path.is_empty() => ndis_host::Driver::Image(path.into()),
        _ => ndis_host::Driver::Linked(rvnic::driver::driver_entry),
    }
}

/// A host with the driver loaded ([`driver`]), checking rvnic's design rules as well as NDIS's: no
/// generic object outlives its adapter's `MiniportHaltEx` (`docs/DESIGN.md`).
#[must_use]
pub fn loaded(host: Host) -> Host {
    host.enforce_design_rule(ndis_host::Rule::GenericObjectOutlivesHalt);
    host.load_driver(&driver()).expect("DriverEntry succeeds");
    host
}

/// Sets the packet filter of `adapter` (the protocol's first step before it can receive).
pub fn set_filter(host: &Host, adapter: Adapter, filter: u32) {
    let r = host.oid_set(
        adapter,
        ndis::OID_GEN_CURRENT_PACKET_FILTER,
        &filter.to_le_bytes(),
    );
    assert_eq!(r.status, ndis::NDIS_STATUS_SUCCESS, "packet filter {filter:#x}");
}

/// A configuration of keywords as an INF would install them (strings).
#[must_use]
pub fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().fold(Config::new(), |c, (k, v)| c.with(k, *v))
}

/// An Ethernet frame of `len` bytes (at least 14) from `source` to `destination`, with a payload
/// that identifies `seq` (the harness's, shared with the `rvnic` tool).
pub use ndis_host::ethernet_frame as frame;

/// Reads a little-endian u64 counter OID.
#[must_use]
pub fn counter(host: &Host, adapter: Adapter, oid: NDIS_OID) -> u64 {
    let r = host.oid_query(adapter, oid, 8);
    assert_eq!(r.status, ndis::NDIS_STATUS_SUCCESS, "OID {oid:#x}");
    u64::from_le_bytes(r.data[..8].try_into().expect("8 bytes"))
}

/// The adapter's current MAC address.
#[must_use]
pub fn address(host: &Host, adapter: Adapter) -> [u8; 6] {
    host.current_address(adapter).expect("OID_802_3_CURRENT_ADDRESS")
}

/// Ends a test as NDIS ends a driver's life: pauses each adapter that runs, halts each that is not
/// halted, unloads, and asserts the verifier found nothing.
pub fn finish(host: Host, adapters: &[Adapter]) {
    for &a in adapters {
        if host.adapter_phase(a) == ndis_host::Phase::Running {
            assert_eq!(
                host.pause(a),
                ndis::NDIS_STATUS_SUCCESS,
                "pause of adapter {}",
                a.0
            );
        }
        if host.adapter_phase(a) != ndis_host::Phase::Halted {
            host.halt(a, ndis::NdisHaltDeviceDisabled);
        }
    }
    host.unload();
    assert_stack_budget(&host);
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

/// rvnic's budget for one entry point's kernel stack use: a quarter of the 24 KiB an x64 kernel
/// stack has (the rest is NDIS's, the protocols' and the interrupt frames').
pub const STACK_BUDGET: usize = 6 * 1024;

/// Every driver entry point the host called stayed within [`STACK_BUDGET`] (the peaks ndis-host
/// measured on its painted kernel stacks; set `RVNIC_STACK_REPORT` to print them). Checked for the
/// kernel image, whose frames are the shipped ones: the linked driver of a test build is only
/// lightly optimized (`opt-level = 1`, the workspace's dev profile), and its frames larger.
pub fn assert_stack_budget(host: &Host) {
    let peaks = host.stack_peaks();
    if std::env::var_os("RVNIC_STACK_REPORT").is_some() {
        for (entry, used) in &peaks {
            eprintln!("stack: {entry} {used}");
        }
    }
    if !matches!(driver(), ndis_host::Driver::Image(_)) {
        return;
    }
    for (entry, used) in peaks {
        assert!(
            used < STACK_BUDGET,
            "{entry} used {used} bytes of its kernel stack (budget {STACK_BUDGET})"
        );
    }
}
