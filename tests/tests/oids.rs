//! Every OID through the real `MiniportOidRequest` on ndis-host (which guards each information
//! buffer and checks BytesWritten): good input, short buffers, bad data, unknown OIDs, at PASSIVE
//! and DISPATCH level; and `OID_GEN_STATISTICS` exact after known traffic.

use ndis::*;
use ndis_host::{Host, OidRequest, SendOptions};
use rvnic_tests::{address, config, finish, frame, loaded, set_filter};

fn sweep_every_supported_oid(host: &Host, a: ndis_host::Adapter) {
    for oid in rvnic::oid::SUPPORTED {
        if rvnic::oid::SET_ONLY.contains(&oid) || rvnic::oid::METHODS.contains(&oid) {
            // Queries of these are NDIS's or unsupported: tests/offload.rs covers them.
            continue;
        }
        let full = host.oid_query(a, oid, 600);
        assert_eq!(full.status, NDIS_STATUS_SUCCESS, "query {oid:#010x}");
        let n = full.bytes_written as usize;
        if n == 0 {
            continue;
        }
        let empty = host.oid_query(a, oid, 0);
        assert_eq!(
            empty.status, NDIS_STATUS_BUFFER_TOO_SHORT,
            "{oid:#010x} with no buffer"
        );
        assert_eq!(empty.bytes_needed as usize, n, "{oid:#010x} BytesNeeded");
        assert_eq!(empty.bytes_written, 0);
        let short = host.oid_query(a, oid, n - 1);
        if n == 8 && short.status == NDIS_STATUS_SUCCESS {
            // A 64-bit statistics counter into a shorter buffer: its low 32 bits, BytesNeeded 8.
            assert_eq!((short.bytes_written, short.bytes_needed), (4, 8), "{oid:#010x}");
            assert_eq!(short.data, full.data[..4]);
        } else {
            assert_eq!(
                short.status, NDIS_STATUS_BUFFER_TOO_SHORT,
                "{oid:#010x} one byte short"
            );
            assert_eq!(short.bytes_needed as usize, n);
        }
    }
}

#[test]
fn every_supported_oid_answers_and_refuses_short_buffers_exactly() {
    let host = loaded(Host::new());
    let a = host.add_adapter(config(&[])).expect("initialize");
    sweep_every_supported_oid(&host, a);
    let list = host.oid_query(a, OID_GEN_SUPPORTED_LIST, 600);
    let oids: Vec<u32> = list
        .data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(oids, rvnic::oid::SUPPORTED);
    finish(host, &[a]);
}

#[test]
fn oids_work_at_dispatch_level_too() {
    let host = loaded(Host::builder().oid_irql(DISPATCH_LEVEL).build());
    let a = host.add_adapter(config(&[])).expect("initialize");
    sweep_every_supported_oid(&host, a);
    finish(host, &[a]);
}

#[test]
fn bad_set_requests_get_the_documented_status_and_change_nothing() {
    let host = loaded(Host::new());
    let a = host.start_adapter(config(&[])).expect("start");
    // Unknown OIDs, both ways; a method request.
    assert_eq!(
        host.oid_query(a, 0x00ff_0001, 16).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        host.oid_set(a, 0x00ff_0001, &[0; 4]).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    let method = host.oid(
        a,
        OidRequest::Method {
            oid: OID_GEN_STATISTICS,
            method_id: 1,
            input: vec![0; 8],
            output_len: 64,
        },
    );
    assert_eq!(method.status, NDIS_STATUS_NOT_SUPPORTED);
    // Packet filter: too short, unsupported bits.
    let short = host.oid_set(a, OID_GEN_CURRENT_PACKET_FILTER, &[1, 0, 0]);
    assert_eq!(
        (short.status, short.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 4)
    );
    let bits = host.oid_set(
        a,
        OID_GEN_CURRENT_PACKET_FILTER,
        &NDIS_PACKET_TYPE_SMT.to_le_bytes(),
    );
    assert_eq!(bits.status, NDIS_STATUS_NOT_SUPPORTED);
    let filter = host.oid_query(a, OID_GEN_CURRENT_PACKET_FILTER, 4);
    assert_eq!(filter.data, 0u32.to_le_bytes(), "refused sets change nothing");
    // Multicast list: not a multiple of 6, too many, not multicast; then a good one reads back.
    let odd = host.oid_set(a, OID_802_3_MULTICAST_LIST, &[1; 7]);
    assert_eq!(odd.status, NDIS_STATUS_INVALID_LENGTH);
    let many: Vec<u8> = (0..33u8).flat_map(|i| [0x01, 0, 0x5e, 0, 0, i]).collect();
    assert_eq!(
        host.oid_set(a, OID_802_3_MULTICAST_LIST, &many).status,
        NDIS_STATUS_MULTICAST_FULL
    );
    let unicast = host.oid_set(a, OID_802_3_MULTICAST_LIST, &[0x02, 0, 0, 0, 0, 1]);
    assert_eq!(unicast.status, NDIS_STATUS_INVALID_DATA);
    let good: Vec<u8> = (0..32u8).flat_map(|i| [0x01, 0, 0x5e, 0, 0, i]).collect();
    let set = host.oid_set(a, OID_802_3_MULTICAST_LIST, &good);
    assert_eq!((set.status, set.bytes_read), (NDIS_STATUS_SUCCESS, 192));
    assert_eq!(host.oid_query(a, OID_802_3_MULTICAST_LIST, 600).data, good);
    // Interrupt moderation: reported as not supported; a set is invalid data.
    let moderation = host.oid_query(a, OID_GEN_INTERRUPT_MODERATION, 64);
    assert_eq!(moderation.status, NDIS_STATUS_SUCCESS);
    let mode = u32::from_le_bytes(moderation.data[8..12].try_into().unwrap());
    assert_eq!(mode, NdisInterruptModerationNotSupported as u32);
    let mut params = moderation.data.clone();
    params[8..12].copy_from_slice(&(NdisInterruptModerationEnabled as u32).to_le_bytes());
    assert_eq!(
        host.oid_set(a, OID_GEN_INTERRUPT_MODERATION, &params).status,
        NDIS_STATUS_INVALID_DATA
    );
    // Power: a valid state is accepted, an invalid one refused.
    let d3 = (NdisDeviceStateD3 as u32).to_le_bytes();
    assert_eq!(
        host.oid_query(a, OID_PNP_QUERY_POWER, 4).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(
        host.oid_set(a, OID_PNP_SET_POWER, &99u32.to_le_bytes()).status,
        NDIS_STATUS_INVALID_DATA
    );
    assert_eq!(
        host.oid_set(a, OID_PNP_SET_POWER, &d3).status,
        NDIS_STATUS_SUCCESS
    );
    let d0 = (NdisDeviceStateD0 as u32).to_le_bytes();
    assert_eq!(
        host.oid_set(a, OID_PNP_SET_POWER, &d0).status,
        NDIS_STATUS_SUCCESS
    );
    finish(host, &[a]);
}

/// All 18 counters of `OID_GEN_STATISTICS`, exact, after a known mix of traffic through a pair.
#[test]
fn statistics_count_every_frame_and_byte_exactly() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "21")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(
        &host,
        b,
        NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST,
    );
    let (ma, mb) = (address(&host, a), address(&host, b));
    let group = [0x01, 0, 0x5e, 1, 2, 3];
    // 3 unicast of 100 B, 2 multicast of 200 B, 1 broadcast of 30 B (padded to 60), 1 oversize.
    let mut frames = vec![
        frame(mb, ma, 100, 0),
        frame(mb, ma, 100, 1),
        frame(mb, ma, 100, 2),
    ];
    frames.extend([
        frame(group, ma, 200, 3),
        frame(group, ma, 200, 4),
        frame([0xff; 6], ma, 30, 5),
    ]);
    frames.push(frame(mb, ma, 1515, 6));
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(a, &refs, SendOptions::default()).expect("running");
    let stats = |x| {
        let r = host.oid_query(x, OID_GEN_STATISTICS, 200);
        assert_eq!(r.status, NDIS_STATUS_SUCCESS);
        assert_eq!(r.bytes_written as usize, size_of::<NDIS_STATISTICS_INFO>());
        // SAFETY: the host returned exactly an NDIS_STATISTICS_INFO's bytes.
        unsafe { r.data.as_ptr().cast::<NDIS_STATISTICS_INFO>().read_unaligned() }
    };
    let sa = stats(a);
    assert_eq!(sa.SupportedStatistics, rvnic::stats::VALID);
    assert_eq!((sa.ifHCOutUcastPkts, sa.ifHCOutUcastOctets), (3, 300));
    assert_eq!((sa.ifHCOutMulticastPkts, sa.ifHCOutMulticastOctets), (2, 400));
    assert_eq!((sa.ifHCOutBroadcastPkts, sa.ifHCOutBroadcastOctets), (1, 60));
    assert_eq!(sa.ifHCOutOctets, 760);
    assert_eq!((sa.ifOutErrors, sa.ifOutDiscards), (1, 0));
    assert_eq!(
        (
            sa.ifHCInUcastPkts,
            sa.ifHCInOctets,
            sa.ifInDiscards,
            sa.ifInErrors
        ),
        (0, 0, 0, 0)
    );
    let sb = stats(b);
    assert_eq!((sb.ifHCInUcastPkts, sb.ifHCInUcastOctets), (3, 300));
    assert_eq!((sb.ifHCInMulticastPkts, sb.ifHCInMulticastOctets), (2, 400));
    assert_eq!((sb.ifHCInBroadcastPkts, sb.ifHCInBroadcastOctets), (1, 60));
    assert_eq!(sb.ifHCInOctets, 760);
    assert_eq!((sb.ifInDiscards, sb.ifInErrors, sb.ifHCOutOctets), (0, 0, 0));
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_XMIT_OK), 6);
    assert_eq!(rvnic_tests::counter(&host, b, OID_GEN_RCV_OK), 6);
    finish(host, &[a, b]);
}
