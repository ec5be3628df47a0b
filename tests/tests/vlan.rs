//! IEEE 802.1Q through the real driver on ndis-host: a send's `NDIS_NET_BUFFER_LIST_8021Q_INFO`
//! crosses the wire as its tag would, a receiver strips tags (out of band or in the frame's bytes)
//! into that information, an adapter in a VLAN takes only its VLAN, and frames it does not take
//! are counted as receive discards. `*PriorityVLANTag` and `VlanId` (registry) and
//! `OID_GEN_VLAN_ID` (at run time) configure it.

use ndis::*;
use ndis_host::{Adapter, Host, SendOptions};
use rvnic_tests::{address, config, counter, finish, frame, loaded, set_filter};

/// A running pair: `a` and `b` with their own keywords, both receiving directed frames.
fn pair(a: &[(&str, &str)], b: &[(&str, &str)]) -> (Host, Adapter, Adapter) {
    let host = loaded(Host::builder().capture_frames(true).build());
    let start = |keywords: &[(&str, &str)]| {
        let mut keywords = keywords.to_vec();
        keywords.push(("Topology", "1"));
        host.start_adapter(config(&keywords)).expect("starts")
    };
    let (a, b) = (start(a), start(b));
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    (host, a, b)
}

/// Sends `bytes` from `from` with the 802.1Q information `tag`; the send must succeed (a frame
/// the receiver does not take is still sent).
fn send(host: &Host, from: Adapter, bytes: &[u8], tag: (u8, u16)) {
    let options = SendOptions {
        ieee8021q: tag,
        ..SendOptions::default()
    };
    host.send(from, &[bytes], options).expect("running");
    let completions = host.take_completions(from);
    assert_eq!(completions.len(), 1);
    assert_eq!(completions[0].status, NDIS_STATUS_SUCCESS);
}

/// What `b` received since the last call: each frame with its 802.1Q information.
fn received(host: &Host, b: Adapter) -> Vec<(Vec<u8>, (u8, u16))> {
    host.take_received_with_info(b)
        .into_iter()
        .map(|r| (r.frame, r.info.ieee8021q))
        .collect()
}

/// A directed frame from `a` to `b` of 100 bytes.
fn frame_for(host: &Host, a: Adapter, b: Adapter, seq: u32) -> Vec<u8> {
    frame(address(host, b), address(host, a), 100, seq)
}

/// `plain` with an 802.1Q tag in its bytes after the addresses.
fn tagged_bytes(plain: &[u8], priority: u8, vlan: u16) -> Vec<u8> {
    let tci = (u16::from(priority) << 13) | vlan;
    let mut out = plain[..12].to_vec();
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(&plain[12..]);
    out
}

fn discards(host: &Host, b: Adapter) -> u64 {
    counter(host, b, OID_GEN_RCV_DISCARDS)
}

#[test]
fn a_sends_tag_crosses_the_wire_out_of_band() {
    let (host, a, b) = pair(&[], &[]);
    let bytes = frame_for(&host, a, b, 1);
    send(&host, a, &bytes, (5, 12));
    send(&host, a, &bytes, (0, 0));
    send(&host, a, &bytes, (3, 0));
    assert_eq!(
        received(&host, b),
        [
            (bytes.clone(), (5, 12)),
            (bytes.clone(), (0, 0)),
            (bytes.clone(), (3, 0))
        ],
        "the frame's bytes as sent, its tag out of band"
    );
    assert_eq!(discards(&host, b), 0);
    finish(host, &[a, b]);
}

#[test]
fn an_adapter_in_a_vlan_takes_only_its_vlan_and_counts_the_rest() {
    let (host, a, b) = pair(&[], &[("VlanId", "12")]);
    let bytes = frame_for(&host, a, b, 2);
    send(&host, a, &bytes, (1, 12));
    send(&host, a, &bytes, (1, 13));
    send(&host, a, &bytes, (0, 0));
    send(&host, a, &bytes, (6, 0));
    assert_eq!(received(&host, b), [(bytes.clone(), (1, 12))]);
    assert_eq!(discards(&host, b), 3, "another VLAN, untagged, priority only");
    finish(host, &[a, b]);
}

#[test]
fn a_sender_in_a_vlan_tags_its_frames_with_it() {
    let (host, a, b) = pair(&[("VlanId", "40")], &[("VlanId", "40")]);
    let bytes = frame_for(&host, a, b, 3);
    send(&host, a, &bytes, (2, 0));
    send(&host, b, &frame_for(&host, b, a, 4), (0, 0));
    assert_eq!(received(&host, b), [(bytes, (2, 40))], "the adapter's VLAN");
    assert_eq!(received(&host, a).len(), 1, "and back");
    finish(host, &[a, b]);
}

#[test]
fn a_tag_in_the_frames_bytes_is_stripped_into_the_information() {
    let (host, a, b) = pair(&[], &[]);
    let plain = frame_for(&host, a, b, 5);
    send(&host, a, &tagged_bytes(&plain, 4, 300), (0, 0));
    assert_eq!(received(&host, b), [(plain.clone(), (4, 300))]);
    // The NIC's own tag goes outside one already in the bytes, which stays.
    let inner = tagged_bytes(&plain, 0, 9);
    send(&host, a, &inner, (1, 7));
    assert_eq!(received(&host, b), [(inner, (1, 7))]);
    finish(host, &[a, b]);
}

#[test]
fn priority_and_vlan_tagging_follow_the_keyword() {
    let expected = [
        // (sender's *PriorityVLANTag, receiver's, what the receiver indicates or None if dropped)
        ("1", "3", Some((5, 0))),
        ("2", "3", Some((0, 12))),
        ("0", "3", Some((0, 0))),
        ("3", "2", Some((0, 12))),
        ("3", "1", None),
        ("1", "1", Some((5, 0))),
        ("3", "0", None),
        ("1", "0", Some((0, 0))),
    ];
    for (sender, receiver, outcome) in expected {
        let (host, a, b) = pair(&[("*PriorityVLANTag", sender)], &[("*PriorityVLANTag", receiver)]);
        let bytes = frame_for(&host, a, b, 6);
        send(&host, a, &bytes, (5, 12));
        let got = received(&host, b);
        let case = format!("sender {sender}, receiver {receiver}");
        if let Some(tag) = outcome {
            assert_eq!(got, [(bytes, tag)], "{case}");
        } else {
            assert!(got.is_empty(), "{case}: {got:?}");
            assert_eq!(discards(&host, b), 1, "{case}");
        }
        finish(host, &[a, b]);
    }
}

#[test]
fn an_adapter_outside_vlans_passes_a_priority_tag_in_the_bytes_and_drops_a_vlans_frame() {
    let (host, a, b) = pair(&[], &[("*PriorityVLANTag", "0")]);
    let plain = frame_for(&host, a, b, 7);
    let priority_only = tagged_bytes(&plain, 3, 0);
    send(&host, a, &priority_only, (0, 0));
    send(&host, a, &tagged_bytes(&plain, 3, 8), (0, 0));
    assert_eq!(received(&host, b), [(priority_only, (0, 0))], "left as it came");
    assert_eq!(discards(&host, b), 1);
    finish(host, &[a, b]);
}

#[test]
fn oid_gen_vlan_id_moves_an_adapter_between_vlans_at_once() {
    let (host, a, b) = pair(&[], &[]);
    let bytes = frame_for(&host, a, b, 8);
    let query = |x| {
        let r = host.oid_query(x, OID_GEN_VLAN_ID, 4);
        assert_eq!(r.status, NDIS_STATUS_SUCCESS);
        u32::from_le_bytes(r.data[..4].try_into().expect("4 bytes"))
    };
    assert_eq!(query(b), 0);
    let set = host.oid_set(b, OID_GEN_VLAN_ID, &7u32.to_le_bytes());
    assert_eq!(set.status, NDIS_STATUS_SUCCESS);
    assert_eq!(query(b), 7);
    send(&host, a, &bytes, (0, 12));
    send(&host, a, &bytes, (0, 7));
    assert_eq!(received(&host, b), [(bytes.clone(), (0, 7))]);
    for bad in [4095u32, 0x1_0007] {
        let r = host.oid_set(b, OID_GEN_VLAN_ID, &bad.to_le_bytes());
        assert_eq!(r.status, NDIS_STATUS_INVALID_DATA, "{bad:#x}");
    }
    assert_eq!(
        host.oid_set(b, OID_GEN_VLAN_ID, &[7, 0]).status,
        NDIS_STATUS_INVALID_LENGTH
    );
    assert_eq!(query(b), 7, "refused sets change nothing");
    assert_eq!(
        host.oid_set(b, OID_GEN_VLAN_ID, &0u32.to_le_bytes()).status,
        NDIS_STATUS_SUCCESS
    );
    send(&host, a, &bytes, (0, 12));
    assert_eq!(
        received(&host, b),
        [(bytes, (0, 12))],
        "out of the VLAN: every VLAN again"
    );
    finish(host, &[a, b]);
}

#[test]
fn a_vlan_keyword_out_of_range_falls_back_and_without_vlans_the_oid_is_not_supported() {
    let (host, a, b) = pair(
        &[("VlanId", "4095")],
        &[("*PriorityVLANTag", "1"), ("VlanId", "5")],
    );
    let r = host.oid_query(a, OID_GEN_VLAN_ID, 4);
    assert_eq!(
        (
            r.status,
            u32::from_le_bytes(r.data[..4].try_into().expect("4 bytes"))
        ),
        (NDIS_STATUS_SUCCESS, 0),
        "4095 refused: the default, no VLAN"
    );
    assert_eq!(
        host.oid_query(b, OID_GEN_VLAN_ID, 4).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        host.oid_set(b, OID_GEN_VLAN_ID, &5u32.to_le_bytes()).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    finish(host, &[a, b]);
}

/// Sends `bytes` from `from` without 802.1Q information and returns the completion status.
fn send_status(host: &Host, from: Adapter, bytes: &[u8]) -> NDIS_STATUS {
    host.send(from, &[bytes], SendOptions::default())
        .expect("running");
    let completions = host.take_completions(from);
    assert_eq!(completions.len(), 1);
    completions[0].status
}

#[test]
fn a_full_sized_frame_may_carry_a_tag_in_its_bytes() {
    let (host, a, b) = pair(&[], &[]);
    let (c, d) = (
        host.start_adapter(config(&[("Topology", "1"), ("SegmentId", "1")]))
            .expect("c"),
        host.start_adapter(config(&[
            ("Topology", "1"),
            ("SegmentId", "1"),
            ("*PriorityVLANTag", "0"),
        ]))
        .expect("d"),
    );
    for x in [c, d] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    let full = frame(address(&host, b), address(&host, a), 1514, 9);
    assert_eq!(
        send_status(&host, a, &tagged_bytes(&full, 2, 30)),
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(
        received(&host, b),
        [(full.clone(), (2, 30))],
        "stripped to 1514 bytes"
    );
    // An adapter with tagging off keeps a priority tag in the bytes: 1518 bytes arrive.
    let full = frame(address(&host, d), address(&host, c), 1514, 10);
    let priority_only = tagged_bytes(&full, 2, 0);
    assert_eq!(send_status(&host, c, &priority_only), NDIS_STATUS_SUCCESS);
    assert_eq!(received(&host, d), [(priority_only, (0, 0))]);
    // One byte more than a tagged frame may have, or than an untagged one may.
    let over = frame(address(&host, b), address(&host, a), 1515, 11);
    assert_eq!(
        send_status(&host, a, &tagged_bytes(&over, 2, 30)),
        NDIS_STATUS_INVALID_LENGTH
    );
    assert_eq!(send_status(&host, a, &over), NDIS_STATUS_INVALID_LENGTH);
    assert!(received(&host, b).is_empty());
    finish(host, &[a, b, c, d]);
}

/// A hub, as netvmini's: a broadcast from an adapter in VLAN 5 reaches the other adapter in VLAN 5
/// and one that takes every VLAN, and is a discard at the adapter in VLAN 6.
#[test]
fn a_broadcast_on_a_hub_reaches_only_its_vlan() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let start = |vlan: &str| {
        host.start_adapter(config(&[("Topology", "2"), ("VlanId", vlan)]))
            .expect("starts")
    };
    let ports = [start("5"), start("5"), start("6"), start("0")];
    for &x in &ports {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
    }
    let bytes = frame([0xff; 6], address(&host, ports[0]), 80, 12);
    send(&host, ports[0], &bytes, (4, 0));
    assert_eq!(received(&host, ports[1]), [(bytes.clone(), (4, 5))]);
    assert!(received(&host, ports[2]).is_empty());
    assert_eq!(received(&host, ports[3]), [(bytes, (4, 5))], "every VLAN");
    assert_eq!(
        ports.map(|p| discards(&host, p)),
        [0, 0, 1, 0],
        "the sender does not hear itself; VLAN 6 discards"
    );
    finish(host, &ports);
}

/// Without the verifier the host reuses a completed NBL for the next send, as a protocol's NBL
/// cache does: a send that asks for no 802.1Q information must not carry the last one's.
#[test]
fn a_reused_nbl_does_not_carry_the_last_sends_tag() {
    let host = loaded(Host::builder().capture_frames(true).verifier(false).build());
    let (a, b) = (
        host.start_adapter(config(&[("Topology", "1")])).expect("a"),
        host.start_adapter(config(&[("Topology", "1")])).expect("b"),
    );
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let bytes = frame_for(&host, a, b, 13);
    send(&host, a, &bytes, (6, 99));
    send(&host, a, &bytes, (0, 0));
    assert!(
        host.protocol_nbls().reused >= 1,
        "the second send reused the first's NBL"
    );
    assert_eq!(received(&host, b), [(bytes.clone(), (6, 99)), (bytes, (0, 0))]);
    finish(host, &[a, b]);
}
