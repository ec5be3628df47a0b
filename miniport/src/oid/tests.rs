//! The OID control path's unit tests: every answer, status and `BytesNeeded`, against the
//! reference pages.
#![allow(
    clippy::cast_possible_truncation,
    reason = "test values from a PRNG, truncated on purpose"
)]

use core::mem::offset_of;

use rvnic_helpers::oid::OwnedRequest;

use super::*;

const PERMANENT: Address = [0x02, 0x52, 0x56, 0, 0, 1];
const GROUP: Address = [0x01, 0x00, 0x5e, 0, 0, 7];

fn control() -> Control {
    Control::new(Config::default(), PERMANENT)
}

fn live() -> Live {
    let stats = crate::stats::zeros(2);
    stats.cpu(0).sent(crate::wire::Class::Unicast, 100);
    stats.cpu(1).sent(crate::wire::Class::Broadcast, 60);
    stats.cpu(1).received(crate::wire::Class::Multicast, 70);
    stats
        .cpu(0)
        .in_discards
        .fetch_add(3, core::sync::atomic::Ordering::Relaxed);
    Live {
        connected: true,
        queued_sends: 5,
        statistics: stats.snapshot(),
        rsc: RscCounts {
            coalesced_packets: 44,
            coalesced_octets: 64_240,
            coalesce_events: 1,
            aborts: 2,
        },
    }
}

fn query(c: &mut Control, oid: NDIS_OID, len: usize) -> (Reply, Vec<u8>) {
    let mut buffer = vec![0xAA; len];
    let reply = c.query(oid, &mut buffer, live);
    (reply, buffer)
}

fn answer(c: &mut Control, oid: NDIS_OID) -> Vec<u8> {
    let (reply, mut buffer) = query(c, oid, 512);
    assert_eq!(reply.status, NDIS_STATUS_SUCCESS, "query {oid:#x}");
    buffer.truncate(reply.bytes as usize);
    buffer
}

fn u32_of(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"))
}

/// A small deterministic generator, so failures reproduce.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_listed_oid_answers_and_short_buffers_get_bytes_needed() {
    let mut c = control();
    for oid in SUPPORTED {
        if SET_ONLY.contains(&oid) || METHODS.contains(&oid) {
            assert_eq!(query(&mut c, oid, 512).0.status, NDIS_STATUS_NOT_SUPPORTED);
            continue;
        }
        let full = answer(&mut c, oid);
        let (reply, buffer) = query(&mut c, oid, full.len().saturating_sub(1));
        if full.is_empty() {
            continue; // OID_PNP_QUERY_POWER: nothing to return, never too short.
        }
        if counter(oid, &live().statistics).is_some() {
            assert_eq!(full.len(), 8, "{oid:#x} is a 64-bit counter");
            assert_eq!(
                (reply.status, reply.bytes, reply.needed),
                (NDIS_STATUS_SUCCESS, 4, 8)
            );
            assert_eq!(buffer[..4], full[..4], "{oid:#x}: the low 32 bits");
            let (reply, _) = query(&mut c, oid, 3);
            assert_eq!((reply.status, reply.needed), (NDIS_STATUS_BUFFER_TOO_SHORT, 8));
        } else {
            assert_eq!(
                (reply.status, reply.bytes, reply.needed as usize),
                (NDIS_STATUS_BUFFER_TOO_SHORT, 0, full.len()),
                "{oid:#x}"
            );
            assert!(
                buffer.iter().all(|&b| b == 0xAA),
                "{oid:#x}: a refused query writes nothing"
            );
        }
    }
}

#[test]
fn the_supported_list_is_what_is_handled_and_nothing_else() {
    let mut c = control();
    let list = answer(&mut c, OID_GEN_SUPPORTED_LIST);
    let decoded: Vec<u32> = list.chunks_exact(4).map(u32_of).collect();
    assert_eq!(decoded, SUPPORTED);
    let mut unique = decoded.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), SUPPORTED.len(), "no OID listed twice");

    let mut seed = 0x5eed_u64;
    let mut unknown = 0;
    while unknown < 20_000 {
        // Half near the real OID ranges (where typos would land), half anywhere.
        let r = xorshift(&mut seed);
        let oid = if r & 1 == 0 {
            (r >> 8) as u32
        } else {
            SUPPORTED[(r >> 8) as usize % SUPPORTED.len()] ^ (1 << ((r >> 40) % 24))
        };
        if SUPPORTED.contains(&oid) || UNLISTED.contains(&oid) {
            continue;
        }
        unknown += 1;
        let (reply, _) = query(&mut c, oid, 64);
        assert_eq!(
            reply,
            Reply::refused(NDIS_STATUS_NOT_SUPPORTED, 0),
            "query {oid:#x}"
        );
        let (reply, change) = c.set(oid, &[0; 64]);
        assert_eq!(
            (reply.status, change),
            (NDIS_STATUS_NOT_SUPPORTED, Change::Nothing),
            "set {oid:#x}"
        );
    }
    assert_eq!(c.refusals.unsupported, 40_000);
}

#[test]
fn configuration_is_reported_in_the_units_each_oid_uses() {
    let config = Config {
        max_frame: 9014,
        link_speed: 25_000_000_000,
        transmit_buffers: 512,
        receive_buffers: 1024,
        ..Config::default()
    };
    let mut c = Control::new(config, PERMANENT);
    let mut one = |oid| u32_of(&answer(&mut c, oid));
    assert_eq!(one(OID_GEN_MAXIMUM_FRAME_SIZE), 9000);
    assert_eq!(one(OID_GEN_MAXIMUM_LOOKAHEAD), 9000);
    assert_eq!(one(OID_GEN_CURRENT_LOOKAHEAD), 9000);
    assert_eq!(one(OID_GEN_MAXIMUM_TOTAL_SIZE), 9014);
    assert_eq!(one(OID_GEN_LINK_SPEED), 250_000_000, "units of 100 bit/s");
    assert_eq!(one(OID_GEN_TRANSMIT_BUFFER_SPACE), 9014 * 512);
    assert_eq!(one(OID_GEN_RECEIVE_BUFFER_SPACE), 9014 * 1024);
    assert_eq!(one(OID_GEN_MAXIMUM_SEND_PACKETS), 512);
    assert_eq!(one(OID_GEN_MEDIA_CONNECT_STATUS), NdisMediaStateConnected);
    assert_eq!(one(OID_802_3_MAXIMUM_LIST_SIZE), 32);
    assert_eq!(
        one(OID_GEN_MAC_OPTIONS),
        MAC_OPTIONS | NDIS_MAC_OPTION_8021P_PRIORITY | NDIS_MAC_OPTION_8021Q_VLAN,
        "*PriorityVLANTag's default: the NIC tags priority and VLAN"
    );
    assert_eq!(one(OID_GEN_TRANSMIT_QUEUE_LENGTH), 5);
    let ex = answer(&mut c, OID_GEN_LINK_SPEED_EX);
    assert_eq!((u64_at(&ex, 0), u64_at(&ex, 8)), (25_000_000_000, 25_000_000_000));
    assert_eq!(
        answer(&mut c, OID_GEN_DRIVER_VERSION),
        0x061E_u16.to_le_bytes(),
        "NDIS 6.30"
    );
    assert_eq!(
        answer(&mut c, OID_GEN_VENDOR_DESCRIPTION).last(),
        Some(&0),
        "NUL-terminated"
    );
    assert_eq!(answer(&mut c, OID_802_3_PERMANENT_ADDRESS), PERMANENT);
    assert_eq!(answer(&mut c, OID_802_3_CURRENT_ADDRESS), PERMANENT);

    let configured = [0x06, 1, 2, 3, 4, 5];
    let config = Config {
        network_address: Some(configured),
        ..Config::default()
    };
    let mut c = Control::new(config, PERMANENT);
    assert_eq!(answer(&mut c, OID_802_3_CURRENT_ADDRESS), configured);
    assert_eq!(answer(&mut c, OID_802_3_PERMANENT_ADDRESS), PERMANENT);
    let disconnected = c.query(OID_GEN_MEDIA_CONNECT_STATUS, &mut [0; 4], || Live {
        connected: false,
        ..live()
    });
    assert_eq!(disconnected.status, NDIS_STATUS_SUCCESS);
}

/// A control whose `*PriorityVLANTag` is `tagging` and `VlanId` `id`.
fn tagged(tagging: u32, id: u16) -> Control {
    let tagging = Tagging::from_keyword(tagging);
    let config = Config {
        vlan: Vlan {
            tagging,
            id: if tagging.vlan { id } else { 0 },
        },
        ..Config::default()
    };
    Control::new(config, PERMANENT)
}

#[test]
fn mac_options_name_the_802_1q_fields_the_nic_tags() {
    for (tagging, extra) in [
        (0, 0),
        (1, NDIS_MAC_OPTION_8021P_PRIORITY),
        (2, NDIS_MAC_OPTION_8021Q_VLAN),
        (3, NDIS_MAC_OPTION_8021P_PRIORITY | NDIS_MAC_OPTION_8021Q_VLAN),
    ] {
        let options = u32_of(&answer(&mut tagged(tagging, 0), OID_GEN_MAC_OPTIONS));
        assert_eq!(options, MAC_OPTIONS | extra, "*PriorityVLANTag {tagging}");
    }
}

#[test]
fn the_vlan_id_is_queried_and_set_as_twelve_bits_when_vlans_are_on() {
    let mut c = tagged(3, 12);
    assert_eq!(u32_of(&answer(&mut c, OID_GEN_VLAN_ID)), 12, "from VlanId");
    let (reply, change) = c.set(OID_GEN_VLAN_ID, &4094u32.to_le_bytes());
    assert_eq!(
        (reply.status, reply.bytes, change),
        (NDIS_STATUS_SUCCESS, 4, Change::Filter)
    );
    assert_eq!(
        (u32_of(&answer(&mut c, OID_GEN_VLAN_ID)), c.vlan.id),
        (4094, 4094)
    );
    let (reply, change) = c.set(OID_GEN_VLAN_ID, &0u32.to_le_bytes());
    assert_eq!(
        (reply.status, change),
        (NDIS_STATUS_SUCCESS, Change::Filter),
        "0 leaves the VLAN"
    );
    assert_eq!(c.vlan.id, 0);
    let before = c.refusals;
    for bad in [4095u32, 4096, 0x1_0005, u32::MAX] {
        let (reply, change) = c.set(OID_GEN_VLAN_ID, &bad.to_le_bytes());
        assert_eq!(
            (reply.status, change),
            (NDIS_STATUS_INVALID_DATA, Change::Nothing),
            "{bad:#x}"
        );
    }
    let (reply, _) = c.set(OID_GEN_VLAN_ID, &[7, 0]);
    assert_eq!((reply.status, reply.needed), (NDIS_STATUS_INVALID_LENGTH, 4));
    let (reply, _) = query(&mut c, OID_GEN_VLAN_ID, 3);
    assert_eq!((reply.status, reply.needed), (NDIS_STATUS_BUFFER_TOO_SHORT, 4));
    assert_eq!(c.vlan.id, 0, "refused sets change nothing");
    assert_eq!(
        (c.refusals.data - before.data, c.refusals.length - before.length),
        (4, 2),
        "each refusal counted"
    );
}

#[test]
fn an_adapter_without_vlans_has_no_vlan_id() {
    for tagging in [0, 1] {
        let mut c = tagged(tagging, 12);
        let (reply, _) = query(&mut c, OID_GEN_VLAN_ID, 4);
        assert_eq!(
            reply.status, NDIS_STATUS_NOT_SUPPORTED,
            "query, *PriorityVLANTag {tagging}"
        );
        let (reply, change) = c.set(OID_GEN_VLAN_ID, &5u32.to_le_bytes());
        assert_eq!(
            (reply.status, change),
            (NDIS_STATUS_NOT_SUPPORTED, Change::Nothing)
        );
        assert_eq!(c.vlan.id, 0);
    }
}

#[test]
fn statistics_have_the_layout_and_sums_of_ndis_statistics_info() {
    let mut c = control();
    let s = live().statistics;
    let bytes = answer(&mut c, OID_GEN_STATISTICS);
    assert_eq!(bytes.len(), size_of::<NDIS_STATISTICS_INFO>());
    assert_eq!(bytes[0], NDIS_OBJECT_TYPE_DEFAULT);
    assert_eq!(u32_of(&bytes[4..8]), crate::stats::VALID);
    let at = |offset| u64_at(&bytes, offset);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutUcastOctets)), 100);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutBroadcastPkts)), 1);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutOctets)), 160);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifHCInMulticastOctets)), 70);
    assert_eq!(at(offset_of!(NDIS_STATISTICS_INFO, ifInDiscards)), 3);
    assert_eq!(
        at(offset_of!(NDIS_STATISTICS_INFO, ifHCOutBroadcastOctets)),
        s.ifHCOutBroadcastOctets
    );

    let mut counter = |oid| u64_at(&answer(&mut c, oid), 0);
    assert_eq!(counter(OID_GEN_XMIT_OK), 2);
    assert_eq!(counter(OID_GEN_RCV_OK), 1);
    assert_eq!(counter(OID_GEN_BYTES_XMIT), 160);
    assert_eq!(counter(OID_GEN_MULTICAST_FRAMES_RCV), 1);
    assert_eq!(counter(OID_GEN_RCV_NO_BUFFER), 3);
    assert_eq!(counter(OID_GEN_DIRECTED_FRAMES_XMIT), 1);
}

#[test]
fn the_packet_filter_is_set_only_with_supported_bits_and_a_whole_ulong() {
    let mut c = control();
    let directed = NDIS_PACKET_TYPE_DIRECTED.to_le_bytes();
    assert_eq!(
        c.set(OID_GEN_CURRENT_PACKET_FILTER, &directed[..3]),
        (Reply::refused(NDIS_STATUS_INVALID_LENGTH, 4), Change::Nothing)
    );
    let unsupported = (NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_SOURCE_ROUTING).to_le_bytes();
    assert_eq!(
        c.set(OID_GEN_CURRENT_PACKET_FILTER, &unsupported).0.status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(c.filter.packet_filter, 0, "refused sets change nothing");
    let mut longer = directed.to_vec();
    longer.extend_from_slice(&[9, 9]);
    assert_eq!(
        c.set(OID_GEN_CURRENT_PACKET_FILTER, &longer),
        (Reply::success(4), Change::Filter)
    );
    assert_eq!(
        u32_of(&answer(&mut c, OID_GEN_CURRENT_PACKET_FILTER)),
        NDIS_PACKET_TYPE_DIRECTED
    );
    assert_eq!(
        c.refusals,
        Refusals {
            length: 1,
            data: 0,
            unsupported: 1
        }
    );
}

#[test]
fn multicast_lists_get_the_documented_statuses() {
    let mut c = control();
    assert_eq!(
        c.set(OID_802_3_MULTICAST_LIST, &[1; 7]).0,
        Reply::refused(NDIS_STATUS_INVALID_LENGTH, 12)
    );
    assert_eq!(
        c.set(OID_802_3_MULTICAST_LIST, &[1; 6 * 33]).0,
        Reply::refused(NDIS_STATUS_MULTICAST_FULL, 6 * 32)
    );
    assert_eq!(
        c.set(OID_802_3_MULTICAST_LIST, &PERMANENT).0.status,
        NDIS_STATUS_INVALID_DATA
    );
    assert!(answer(&mut c, OID_802_3_MULTICAST_LIST).is_empty());
    let mut two = GROUP.to_vec();
    two.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(
        c.set(OID_802_3_MULTICAST_LIST, &two),
        (Reply::success(12), Change::Filter)
    );
    assert_eq!(answer(&mut c, OID_802_3_MULTICAST_LIST), two);
    assert_eq!(
        c.refusals,
        Refusals {
            length: 1,
            data: 2,
            unsupported: 0
        }
    );
}

#[test]
fn lookahead_moderation_and_power_sets() {
    let mut c = control();
    let mtu = c.config.mtu();
    assert_eq!(
        c.set(OID_GEN_CURRENT_LOOKAHEAD, &(mtu + 1).to_le_bytes())
            .0
            .status,
        NDIS_STATUS_INVALID_DATA
    );
    assert_eq!(
        c.set(OID_GEN_CURRENT_LOOKAHEAD, &128u32.to_le_bytes()),
        (Reply::success(4), Change::Nothing)
    );
    assert_eq!(u32_of(&answer(&mut c, OID_GEN_CURRENT_LOOKAHEAD)), 128);

    let moderation = answer(&mut c, OID_GEN_INTERRUPT_MODERATION);
    assert_eq!(moderation.len(), 12);
    assert_eq!(
        moderation[..2],
        [
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1
        ]
    );
    assert_eq!(
        u32_of(&moderation[8..12]),
        NdisInterruptModerationNotSupported as u32
    );
    assert_eq!(
        c.set(OID_GEN_INTERRUPT_MODERATION, &moderation[..11]).0,
        Reply::refused(NDIS_STATUS_INVALID_LENGTH, 12)
    );
    assert_eq!(
        c.set(OID_GEN_INTERRUPT_MODERATION, &moderation).0.status,
        NDIS_STATUS_INVALID_DATA
    );

    let reply = c.query(OID_PNP_QUERY_POWER, &mut [], live);
    assert_eq!(reply, Reply::success(0), "QUERY_POWER always succeeds");
    let d3 = (NdisDeviceStateD3 as u32).to_le_bytes();
    assert_eq!(
        c.set(OID_PNP_SET_POWER, &d3),
        (Reply::success(4), Change::Power(Power::D3))
    );
    assert_eq!(c.power, Power::D3);
    for bad in [NdisDeviceStateUnspecified as u32, 5, u32::MAX] {
        assert_eq!(
            c.set(OID_PNP_SET_POWER, &bad.to_le_bytes()).0.status,
            NDIS_STATUS_INVALID_DATA
        );
    }
    let d0 = (NdisDeviceStateD0 as u32).to_le_bytes();
    assert_eq!(c.set(OID_PNP_SET_POWER, &d0).1, Change::Power(Power::D0));
    let mut buffer = [0u8; 16];
    assert_eq!(
        c.query(OID_PNP_CAPABILITIES, &mut buffer, live).status,
        NDIS_STATUS_NOT_SUPPORTED,
        "NDIS 6.20 and later never ask a miniport for OID_PNP_CAPABILITIES"
    );
}

#[test]
fn an_ndis_oid_request_is_answered_through_its_own_fields() {
    let mut c = control();
    let mut four = [0u8; 4];
    let mut r = OwnedRequest::new(NdisRequestQueryInformation, OID_GEN_MAXIMUM_TOTAL_SIZE, &mut four);
    let (status, _) = handle(&mut c, r.view(), live);
    let written = r.bytes_done();
    assert_eq!(
        (status, written, u32::from_le_bytes(four)),
        (NDIS_STATUS_SUCCESS, 4, 1514)
    );

    let mut r = OwnedRequest::new(NdisRequestQueryInformation, OID_GEN_STATISTICS, &mut []);
    let (status, _) = handle(&mut c, r.view(), live);
    assert_eq!((status, r.bytes_needed()), (NDIS_STATUS_BUFFER_TOO_SHORT, 152));

    let mut filter = NDIS_PACKET_TYPE_BROADCAST.to_le_bytes();
    let mut r = OwnedRequest::new(
        NdisRequestSetInformation,
        OID_GEN_CURRENT_PACKET_FILTER,
        &mut filter,
    );
    let (status, change) = handle(&mut c, r.view(), live);
    assert_eq!(
        (status, change, r.bytes_done()),
        (NDIS_STATUS_SUCCESS, Change::Filter, 4)
    );
    assert_eq!(c.filter.packet_filter, NDIS_PACKET_TYPE_BROADCAST);

    let mut r = OwnedRequest::method(OID_GEN_STATISTICS, &mut four, 4);
    let (status, _) = handle(&mut c, r.view(), live);
    assert_eq!(status, NDIS_STATUS_NOT_SUPPORTED, "not a method");
    assert_eq!(
        c.refusals,
        Refusals {
            length: 1,
            data: 0,
            unsupported: 1
        }
    );
}

#[test]
fn arbitrary_buffers_never_escape_their_bounds_or_half_apply() {
    let mut seed = 0xfeed_u64;
    let oids: Vec<NDIS_OID> = SUPPORTED
        .iter()
        .chain(&UNLISTED)
        .copied()
        .chain([0, u32::MAX])
        .collect();
    for round in 0..20_000 {
        let oid = oids[round % oids.len()];
        let len = (xorshift(&mut seed) % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
        let mut c = control();
        let before = (c.filter, c.lookahead, c.power);
        let (reply, change) = c.set(oid, &bytes);
        assert!(reply.bytes as usize <= len, "set {oid:#x} read past its buffer");
        if reply.status != NDIS_STATUS_SUCCESS {
            assert_eq!(
                (change, (c.filter, c.lookahead, c.power)),
                (Change::Nothing, before)
            );
        }
        let reply = c.query(oid, &mut bytes, live);
        assert!(
            reply.bytes as usize <= len,
            "query {oid:#x} wrote past its buffer"
        );
        assert_ne!(reply.status, NDIS_STATUS_PENDING, "nothing pends");
    }
}

/// A minimal `NDIS_QOS_PARAMETERS`: nothing configured.
fn qos_parameters() -> [u8; 52] {
    let mut b = [0u8; 52];
    b[0] = NDIS_OBJECT_TYPE_QOS_PARAMETERS;
    b[1] = NDIS_QOS_PARAMETERS_REVISION_1;
    b[2] = 52;
    b
}

#[test]
fn qos_parameters_are_a_method_returned_as_they_came_and_only_with_qos_enabled() {
    let enabled = Config {
        qos: Some(true),
        ..Config::default()
    };
    let mut c = Control::new(enabled, PERMANENT);
    let mut buffer = [0u8; 64];
    buffer[..52].copy_from_slice(&qos_parameters());
    let before = buffer;
    let mut r = OwnedRequest::method(OID_QOS_PARAMETERS, &mut buffer, 52);
    let (status, change) = handle(&mut c, r.view(), live);
    assert_eq!((status, change), (NDIS_STATUS_SUCCESS, Change::Qos));
    assert_eq!(
        r.method_sizes(),
        Some((52, 52, 0)),
        "read, written: the input, unmodified"
    );
    assert_eq!(buffer, before);

    let mut short = [0u8; 64];
    let mut r = OwnedRequest::method(OID_QOS_PARAMETERS, &mut short, 20);
    assert_eq!(handle(&mut c, r.view(), live).0, NDIS_STATUS_INVALID_LENGTH);
    assert_eq!(r.method_sizes(), Some((0, 0, 52)));

    let mut set = qos_parameters();
    let mut r = OwnedRequest::new(NdisRequestSetInformation, OID_QOS_PARAMETERS, &mut set);
    assert_eq!(
        handle(&mut c, r.view(), live).0,
        NDIS_STATUS_NOT_SUPPORTED,
        "a method, not a set"
    );

    for qos in [Some(false), None] {
        let config = Config {
            qos,
            ..Config::default()
        };
        let mut c = Control::new(config, PERMANENT);
        let mut input = qos_parameters();
        let mut r = OwnedRequest::method(OID_QOS_PARAMETERS, &mut input, 52);
        assert_eq!(
            handle(&mut c, r.view(), live).0,
            NDIS_STATUS_NOT_SUPPORTED,
            "*QOS {qos:?}"
        );
    }
}
