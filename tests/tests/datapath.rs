//! The datapath end to end on ndis-host: frames sent on one adapter arrive on its peers, per
//! topology and receive filter, with exact statistics and a silent verifier.

#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use ndis::*;
use ndis_host::{Host, SendOptions};
use rvnic_tests::{address, config, finish, frame, loaded, set_filter};

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
    finish(host, &[a]);
}

/// ndis-host recycles its own NBLs like a protocol's NBL cache once their completion was checked.
/// A reused NBL must carry exactly its new frame, whatever the length and data offset of its last
/// use: 8,192 frames of changing sizes and offsets through a pair, each received intact.
#[test]
fn reused_host_nbls_carry_exactly_their_new_frames() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let pair = config(&[("Topology", "1"), ("SegmentId", "5")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let (ma, mb) = (address(&host, a), address(&host, b));
    let sizes = [1514, 60, 777, 64, 1500, 61];
    let mut sequence = 0u32;
    for round in 0..128usize {
        let frames: Vec<Vec<u8>> = (0..64)
            .map(|i| {
                sequence += 1;
                frame(mb, ma, sizes[(round + i) % sizes.len()], sequence)
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let options = SendOptions {
            data_offset: (round % 3) * 40,
            ..SendOptions::default()
        };
        host.send(a, &refs, options).expect("running");
        assert!(
            host.take_completions(a)
                .iter()
                .all(|c| c.status == NDIS_STATUS_SUCCESS)
        );
        assert_eq!(host.take_received(b), frames, "round {round}");
    }
    let nbls = host.protocol_nbls();
    assert_eq!(nbls.allocated + nbls.reused, 128 * 64);
    assert!(
        nbls.reused >= 4000,
        "{nbls:?}: the host should have reused its NBLs"
    );
    finish(host, &[a, b]);
}

/// A receive sink (the protocol's receive handler `rvnic tap` uses) gets each indicated frame once,
/// in order, whether or not the host also captures frames.
#[test]
fn a_receive_sink_gets_every_indicated_frame_once() {
    for capture in [false, true] {
        let host = loaded(Host::builder().capture_frames(capture).build());
        let pair = config(&[("Topology", "1"), ("SegmentId", "6")]);
        let a = host.start_adapter(pair.clone()).expect("a");
        let b = host.start_adapter(pair).expect("b");
        set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = std::sync::Arc::clone(&seen);
        host.set_receive_sink(
            b,
            std::sync::Arc::new(move |r: ndis_host::Received| into.lock().expect("sink").push(r.frame)),
        );
        let (ma, mb) = (address(&host, a), address(&host, b));
        let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(mb, ma, 60 + 70 * i, i as u32)).collect();
        assert_eq!(send(&host, a, &frames), [NDIS_STATUS_SUCCESS; 20]);
        assert_eq!(*seen.lock().expect("sink"), frames, "capture {capture}");
        let captured = host.take_received(b);
        assert_eq!(captured.is_empty(), !capture);
        finish(host, &[a, b]);
    }
}

/// Sends `frames` on `from` and returns the completion statuses.
fn send(host: &Host, from: ndis_host::Adapter, frames: &[Vec<u8>]) -> Vec<NDIS_STATUS> {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(from, &refs, SendOptions::default()).expect("running");
    host.take_completions(from).iter().map(|c| c.status).collect()
}

#[test]
fn a_pair_delivers_each_way_and_never_back_to_the_sender() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "3")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
    }
    let (ma, mb) = (address(&host, a), address(&host, b));
    let to_b = vec![frame(mb, ma, 200, 1), frame([0xff; 6], ma, 60, 2)];
    assert_eq!(send(&host, a, &to_b), [NDIS_STATUS_SUCCESS; 2]);
    assert_eq!(host.take_received(b), to_b);
    assert!(host.take_received(a).is_empty(), "a pair does not loop back");
    let to_a = vec![frame(ma, mb, 1514, 3)];
    assert_eq!(send(&host, b, &to_a), [NDIS_STATUS_SUCCESS]);
    assert_eq!(host.take_received(a), to_a);
    // A frame for an address nobody has crosses the wire and is filtered.
    assert_eq!(
        send(&host, a, &[frame([0x02, 9, 9, 9, 9, 9], ma, 100, 4)]),
        [NDIS_STATUS_SUCCESS]
    );
    assert!(host.take_received(b).is_empty());
    finish(host, &[a, b]);
}

/// A hub of four adapters with different filters: every frame reaches exactly the adapters whose
/// filter accepts it, never its sender, and each adapter's statistics count exactly that.
#[test]
fn a_hub_delivers_each_frame_to_exactly_the_adapters_whose_filter_accepts_it() {
    let host = loaded(Host::new());
    let hub = config(&[("Topology", "2"), ("SegmentId", "9")]);
    let adapters: Vec<_> = (0..4)
        .map(|_| host.start_adapter(hub.clone()).expect("hub port"))
        .collect();
    // A loopback adapter on the same segment id shares nothing with the hub.
    let other = host
        .start_adapter(config(&[("Topology", "0"), ("SegmentId", "9")]))
        .expect("loopback");
    let group = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x42];
    let filters = [
        NDIS_PACKET_TYPE_DIRECTED,
        NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_MULTICAST,
        NDIS_PACKET_TYPE_ALL_MULTICAST,
        NDIS_PACKET_TYPE_PROMISCUOUS,
    ];
    for (&a, &f) in adapters.iter().zip(&filters) {
        set_filter(&host, a, f);
    }
    set_filter(&host, other, NDIS_PACKET_TYPE_PROMISCUOUS);
    let r = host.oid_set(adapters[1], OID_802_3_MULTICAST_LIST, &group);
    assert_eq!(r.status, NDIS_STATUS_SUCCESS);
    let macs: Vec<[u8; 6]> = adapters.iter().map(|&a| address(&host, a)).collect();
    let destinations = [
        macs[0],
        macs[1],
        macs[2],
        macs[3],
        [0xff; 6],
        group,
        [0x01, 0, 0x5e, 0, 0, 7],
    ];
    let mut expected = vec![Vec::new(); 4];
    let mut seq = 0;
    for sender in 0..4 {
        for (d, dest) in destinations.iter().enumerate() {
            let f = frame(*dest, macs[sender], 64 + d * 10, seq);
            seq += 1;
            for receiver in (0..4).filter(|&r| r != sender) {
                let accepted = match receiver {
                    0 => *dest == macs[0],
                    1 => *dest == macs[1] || *dest == [0xff; 6] || *dest == group,
                    2 => dest[0] & 1 == 1 && *dest != [0xff; 6],
                    _ => true,
                };
                if accepted {
                    expected[receiver].push(f.clone());
                }
            }
            assert_eq!(send(&host, adapters[sender], &[f]), [NDIS_STATUS_SUCCESS]);
        }
    }
    for (r, &a) in adapters.iter().enumerate() {
        assert_eq!(host.take_received(a), expected[r], "adapter {r}");
        let received = rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_RCV)
            + rvnic_tests::counter(&host, a, OID_GEN_MULTICAST_FRAMES_RCV)
            + rvnic_tests::counter(&host, a, OID_GEN_BROADCAST_FRAMES_RCV);
        assert_eq!(
            received,
            expected[r].len() as u64,
            "adapter {r} counts what it received"
        );
        let sent = rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT)
            + rvnic_tests::counter(&host, a, OID_GEN_MULTICAST_FRAMES_XMIT)
            + rvnic_tests::counter(&host, a, OID_GEN_BROADCAST_FRAMES_XMIT);
        assert_eq!(sent, destinations.len() as u64);
    }
    assert!(
        host.take_received(other).is_empty(),
        "another topology on the same segment id"
    );
    let mut all = adapters.clone();
    all.push(other);
    finish(host, &all);
}

#[test]
fn jumbo_frames_runts_and_oversize_frames() {
    let host = loaded(Host::new());
    let jumbo = host
        .start_adapter(config(&[("Topology", "0"), ("*JumboPacket", "9014")]))
        .expect("jumbo");
    let plain = host.start_adapter(config(&[("Topology", "0")])).expect("plain");
    for x in [jumbo, plain] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    let mj = address(&host, jumbo);
    let big = vec![frame(mj, mj, 9014, 1), frame(mj, mj, 4088, 2)];
    assert_eq!(send(&host, jumbo, &big), [NDIS_STATUS_SUCCESS; 2]);
    assert_eq!(host.take_received(jumbo), big);
    // One byte over the configured maximum: dropped, counted, the NBL fails.
    assert_eq!(
        send(&host, jumbo, &[frame(mj, mj, 9015, 3)]),
        [NDIS_STATUS_INVALID_LENGTH]
    );
    assert!(host.take_received(jumbo).is_empty());
    assert_eq!(rvnic_tests::counter(&host, jumbo, OID_GEN_XMIT_ERROR), 1);

    let mp = address(&host, plain);
    assert_eq!(
        send(&host, plain, &[frame(mp, mp, 1515, 4)]),
        [NDIS_STATUS_INVALID_LENGTH]
    );
    let headless = frame(mp, mp, 14, 5)[..13].to_vec();
    assert_eq!(
        send(&host, plain, &[headless]),
        [NDIS_STATUS_INVALID_LENGTH],
        "no header"
    );
    assert_eq!(rvnic_tests::counter(&host, plain, OID_GEN_XMIT_ERROR), 2);
    // A runt is padded with zeros to the 60-byte minimum.
    let runt = frame(mp, mp, 20, 6);
    assert_eq!(
        send(&host, plain, std::slice::from_ref(&runt)),
        [NDIS_STATUS_SUCCESS]
    );
    let mut padded = runt;
    padded.resize(60, 0);
    assert_eq!(host.take_received(plain), [padded]);
    assert_eq!(rvnic_tests::counter(&host, plain, OID_GEN_BYTES_RCV), 60);
    finish(host, &[jumbo, plain]);
}

/// Frames split over many MDLs, several `NET_BUFFERs` per NBL, and data offsets arrive intact.
#[test]
fn scattered_frames_and_multi_frame_nbls_arrive_intact() {
    let host = loaded(Host::new());
    let a = host
        .start_adapter(config(&[("Topology", "0"), ("*JumboPacket", "4088")]))
        .expect("a");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..12).map(|i| frame(me, me, 60 + i * 337, i as u32)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let options = SendOptions {
        nbs_per_nbl: 4,
        mdl_split: Some(7),
        dispatch: false,
        data_offset: 3,
        cancel_id: None,
        unmapped_mdls: true,
        ..SendOptions::default()
    };
    host.send(a, &refs, options).expect("running");
    let completions = host.take_completions(a);
    assert_eq!(completions.len(), 3);
    assert!(completions.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
    assert_eq!(host.take_received(a), frames);
    finish(host, &[a]);
}

/// With the protocol holding receives, the driver switches to `NDIS_RECEIVE_FLAGS_RESOURCES` when
/// its descriptors run low: NDIS copies those, so descriptors come straight back and nothing is
/// dropped however long the protocol holds the others.
#[test]
fn low_receive_descriptors_switch_to_resources_indications() {
    let host = loaded(
        Host::builder()
            .return_mode(ndis_host::ReturnMode::Deferred)
            .build(),
    );
    let a = host
        .start_adapter(config(&[("Topology", "0"), ("*ReceiveBuffers", "64")]))
        .expect("a");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(me, me, 64, i)).collect();
    let statuses = send(&host, a, &frames);
    assert!(statuses.iter().all(|s| *s == NDIS_STATUS_SUCCESS));
    assert_eq!(host.take_received(a).len(), 100, "all 100 were indicated");
    let held = host.held_indications(a);
    assert!(
        held < 64,
        "RESOURCES indications are not held by the protocol ({held} held)"
    );
    assert_eq!(held, 56, "normal indications until 8 of 64 descriptors are left");
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_RCV_DISCARDS), 0);
    host.return_indicated(a);
    finish(host, &[a]);
}

/// In steady state the datapath makes no pool allocation (and no NDIS allocation) per frame.
#[test]
fn steady_state_makes_no_allocation_per_frame() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "11")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let mb = address(&host, b);
    let frames: Vec<Vec<u8>> = (0..64).map(|i| frame(mb, [2, 0, 0, 0, 0, 1], 1514, i)).collect();
    send(&host, a, &frames); // warm up
    let before = host.allocations_made();
    let pool_before = host.pool_bytes();
    for _ in 0..50 {
        send(&host, a, &frames);
    }
    assert_eq!(host.receive_counts(b).0, 51 * 64);
    let after = host.allocations_made();
    // Only the host's own NBLs for the protocol's sends are allocated; the driver allocates nothing.
    let driver_made: u64 = after
        .iter()
        .filter(|(k, _)| !matches!(k, ndis_host::Kind::Nbl | ndis_host::Kind::Mdl))
        .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
        .sum();
    assert_eq!(driver_made, 0, "before {before:?} after {after:?}");
    assert_eq!(host.pool_bytes(), pool_before);
    finish(host, &[a, b]);
}

/// Frames for a paused receiver are dropped and counted as its receive discards; the sender's sends
/// still succeed (the frame went out on the wire).
#[test]
fn frames_for_a_paused_receiver_are_counted_as_its_discards() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "12")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let mb = address(&host, b);
    assert_eq!(host.pause(b), NDIS_STATUS_SUCCESS);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(mb, [2, 0, 0, 0, 0, 1], 100, i)).collect();
    assert_eq!(send(&host, a, &frames), [NDIS_STATUS_SUCCESS; 3]);
    assert_eq!(host.receive_counts(b).0, 0);
    assert_eq!(host.restart(b), NDIS_STATUS_SUCCESS);
    assert_eq!(rvnic_tests::counter(&host, b, OID_GEN_RCV_DISCARDS), 3);
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT), 3);
    finish(host, &[a, b]);
}

/// A drain stops after `wire::BUDGET` NBLs and a timer finishes the rest: no CPU stays at
/// `DISPATCH_LEVEL` for an unbounded time, and nothing is left behind.
#[test]
fn a_long_drain_hands_the_rest_to_a_timer() {
    let host = loaded(Host::new());
    let a = host
        .start_adapter(config(&[("Topology", "0"), ("*TransmitBuffers", "4096")]))
        .expect("a");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let total = rvnic::wire::BUDGET * 2 + 100;
    let frames: Vec<Vec<u8>> = (0..total).map(|i| frame(me, me, 60, i as u32)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(a, &refs, SendOptions::default()).expect("running");
    let first = host.take_completions(a).len();
    assert_eq!(first, rvnic::wire::BUDGET, "one drain moves exactly its budget");
    // Deterministic time: the resume timer fires when the clock moves.
    host.advance(std::time::Duration::from_millis(1));
    host.advance(std::time::Duration::from_millis(1));
    let rest = host.take_completions(a);
    assert_eq!(first + rest.len(), total, "the timer drained the rest");
    assert!(rest.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
    assert_eq!(host.receive_counts(a).0, total as u64);
    finish(host, &[a]);
}

/// Windows numbers processors systemwide past 63 (group 1 starts at 64) and can add processors
/// after a driver started. Every one of them sends, and returns receives, through the same queues:
/// nothing is refused and no receive descriptor is lost (1,280 frames cross 64 descriptors, each
/// returned on a processor the driver did not know at initialize or numbered 64 and up).
#[test]
fn processors_past_64_and_hot_added_ones_send_and_return_with_nothing_lost() {
    for (cpus, added) in [(80, 0), (2, 6)] {
        let host = loaded(
            Host::builder()
                .cpus(cpus)
                .return_mode(ndis_host::ReturnMode::Deferred)
                .build(),
        );
        let a = host
            .start_adapter(config(&[("Topology", "0"), ("*ReceiveBuffers", "64")]))
            .expect("a");
        set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
        assert_eq!(host.add_processors(added), cpus + added);
        let me = address(&host, a);
        // The processors the driver's lanes were not built for.
        let late: Vec<usize> = (cpus.min(64)..host.cpus())
            .chain(cpus.saturating_sub(16)..cpus)
            .collect();
        for round in 0..40u32 {
            let sender = late[round as usize % late.len()];
            let returner = late[(round as usize * 7 + 3) % late.len()];
            let frames: Vec<Vec<u8>> = (0..32)
                .map(|i| frame(me, me, 64 + i, round * 32 + i as u32))
                .collect();
            let statuses = host.on_cpu(sender, || send(&host, a, &frames));
            assert_eq!(
                statuses, [NDIS_STATUS_SUCCESS; 32],
                "{cpus}+{added} CPUs, sent on {sender}"
            );
            assert_eq!(host.take_received(a), frames, "round {round}");
            host.on_cpu(returner, || host.return_indicated(a));
        }
        for oid in [OID_GEN_RCV_DISCARDS, OID_GEN_XMIT_DISCARDS] {
            assert_eq!(
                rvnic_tests::counter(&host, a, oid),
                0,
                "{cpus}+{added} CPUs: {oid:#x}"
            );
        }
        assert_eq!(
            rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_RCV),
            40 * 32
        );
        finish(host, &[a]);
    }
}

/// A protocol's send may describe locked pages not mapped to system space, and mapping them can
/// fail (`MmGetSystemAddressForMdlSafe` then returns NULL): the frame
/// is not sent, its NBL completes with `NDIS_STATUS_FAILURE` and counts as a transmit error, and
/// the next frames go through.
#[test]
fn a_frame_whose_pages_cannot_be_mapped_fails_alone_and_is_counted() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "9")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let (ma, mb) = (address(&host, a), address(&host, b));
    host.inject(ndis_host::FaultPlan {
        kind: Some(ndis_host::Kind::Mapping),
        nth: 1,
    });
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(mb, ma, 200, i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let unmapped = SendOptions {
        unmapped_mdls: true,
        ..SendOptions::default()
    };
    host.send(a, &refs, unmapped).expect("running");
    let statuses: Vec<NDIS_STATUS> = host.take_completions(a).iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS, NDIS_STATUS_SUCCESS]
    );
    assert_eq!(
        host.injected_failure(),
        Some((ndis_host::Kind::Mapping, "MmMapLockedPagesSpecifyCache", 1))
    );
    assert_eq!(host.take_received(b), frames[1..]);
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_XMIT_ERROR), 1);
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT), 2);
    finish(host, &[a, b]);
}
