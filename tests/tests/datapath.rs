//! The datapath end to end on ndis-host: frames sent on one adapter arrive on its peers, per
//! topology and receive filter, with exact statistics and a silent verifier.

use ndis::*;
use ndis_host::{Host, SendOptions};
use rvnic_tests::{address, config, frame, loaded, set_filter};

#[test]
fn loopback_returns_each_frame_to_its_sender() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host
        .start_adapter(config(&[("Topology", "0")]))
        .expect("initialize and restart");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(me, me, 100 + i, i as u32)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(a, &refs, SendOptions::default()).expect("running");
    let completions = host.take_completions(a);
    assert_eq!(completions.len(), 10);
    assert!(completions.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
    assert_eq!(host.take_received(a), frames);
    assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
    host.halt(a, NdisHaltDeviceDisabled);
    host.unload();
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}
