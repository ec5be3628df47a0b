//! The first example of docs/TESTING.md, compiled and run: the example there is the text between
//! the markers below, and `the_testing_guide_shows_this_file` keeps the two the same.

// docs/TESTING.md example begins
// The driver's imports are defined by ndis-host: a test binary must name it, or it is not linked.
extern crate ndis_host;

use ndis::*;
use ndis_host::*;

#[test]
fn a_frame_crosses_a_pair() {
    let host = Host::builder().cpus(4).build(); // deterministic mode, seed 1
    host.load(rvnic::driver::driver_entry).expect("DriverEntry");
    // Two adapters with the same topology and segment are a pair: each hears the other.
    let pair = Config::new().with("Topology", "1").with("SegmentId", "7");
    let a = host.start_adapter(pair.clone()).expect("initialize and restart");
    let b = host.start_adapter(pair).expect("initialize and restart");
    // Like a protocol, ask for the frames sent to b's own address (a NIC's filter starts at 0).
    let filter = host.oid_set(
        b,
        OID_GEN_CURRENT_PACKET_FILTER,
        &NDIS_PACKET_TYPE_DIRECTED.to_le_bytes(),
    );
    assert_eq!(filter.status, NDIS_STATUS_SUCCESS);
    let to_b = host.current_address(b).expect("b's address");
    let from_a = host.current_address(a).expect("a's address");
    let frame = ethernet_frame(to_b, from_a, 64, 1); // 64 bytes, sequence number 1
    host.send(a, &[&frame], SendOptions::default()).expect("a runs"); // an NBL chain, as a protocol sends it
    assert_eq!(host.take_received(b), [frame]); // the frames b indicated
    let done = host.take_completions(a); // the NBLs a completed, with their status
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, NDIS_STATUS_SUCCESS);
    for adapter in [a, b] {
        assert_eq!(host.pause(adapter), NDIS_STATUS_SUCCESS); // NDIS halts only paused adapters
        host.halt(adapter, NdisHaltDeviceDisabled);
    }
    host.unload();
    let verdict = host.finish(); // leak, ownership, IRQL and poison checks
    assert!(verdict.is_clean(), "{}", verdict.report());
}
// docs/TESTING.md example ends

/// docs/TESTING.md shows the example above exactly.
#[test]
fn the_testing_guide_shows_this_file() {
    let this = include_str!("first_test.rs");
    let example = this
        .split_once("// docs/TESTING.md example begins\n")
        .and_then(|(_, rest)| rest.split_once("// docs/TESTING.md example ends"))
        .map(|(example, _)| example)
        .expect("the markers");
    let guide = include_str!("../../docs/TESTING.md");
    assert!(
        guide.contains(&format!("```rust\n{example}```\n")),
        "docs/TESTING.md's first example is not tests/tests/first_test.rs's:\n{example}"
    );
}
