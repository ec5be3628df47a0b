//! The adapter's lifecycle on ndis-host: initialize (attributes, configuration), restart and the
//! link, pause (immediate and pending), reset, hang check, `PnP`, shutdown, halt; and systematic fault
//! injection over `MiniportInitializeEx`.

#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use ndis::*;
use ndis_host::{Host, Phase, ReturnMode, SendOptions, sweep};
use rvnic_tests::{address, config, finish, frame, loaded, set_filter};

#[test]
fn initialize_reports_the_configured_nic_to_ndis() {
    let host = loaded(Host::new());
    let a = host
        .add_adapter(config(&[
            ("*JumboPacket", "9014"),
            ("LinkSpeed", "25"),
            ("Topology", "2"),
            ("NetworkAddress", "06-11-22-33-44-55"),
        ]))
        .expect("initialize");
    assert_eq!(host.adapter_phase(a), Phase::Paused);
    let g = host.attributes(a).expect("general attributes");
    assert_eq!(g.media_type, NdisMedium802_3);
    assert_eq!(g.physical_medium, NdisPhysicalMedium802_3);
    assert_eq!(g.mtu, 9000);
    assert_eq!(g.lookahead, 9000);
    assert_eq!(
        (g.xmit_link_speed, g.rcv_link_speed),
        (25_000_000_000, 25_000_000_000)
    );
    assert_eq!(g.max_xmit_link_speed, 25_000_000_000);
    assert_eq!(
        g.media_connect_state, MediaConnectStateConnected,
        "a hub port is always connected"
    );
    assert_eq!(g.media_duplex_state, MediaDuplexStateFull);
    assert_eq!(g.current_address, [0x06, 0x11, 0x22, 0x33, 0x44, 0x55]);
    assert_eq!(g.permanent_address, rvnic::adapter::permanent_address(1));
    assert_eq!(g.supported_oids, rvnic::oid::SUPPORTED);
    assert_eq!(
        g.supported_statistics,
        rvnic::stats::SUPPORTED,
        "the NDIS_STATISTICS_*_SUPPORTED family, one bit per statistics OID"
    );
    let pm = g
        .pm_capabilities
        .expect("PowerManagementCapabilitiesEx (mandatory from NDIS 6.20)");
    assert_eq!(
        (
            pm.MinMagicPacketWakeUp,
            pm.MinPatternWakeUp,
            pm.MinLinkChangeWakeUp
        ),
        (
            NdisDeviceStateUnspecified,
            NdisDeviceStateUnspecified,
            NdisDeviceStateUnspecified
        ),
        "power managed, with no wake-up of any kind (as netvmini)"
    );
    assert_eq!(g.supported_packet_filters, rvnic::wire::SUPPORTED_FILTERS);
    assert_eq!(g.max_multicast_list_size, 32);
    assert_eq!(
        g.mac_options,
        rvnic::oid::mac_options(rvnic::wire::vlan::Tagging::from_keyword(3)),
        "*PriorityVLANTag's default: priority and VLAN"
    );
    assert_eq!(g.if_type, IF_TYPE_ETHERNET_CSMACD);
    assert!(!g.connector_present, "a virtual NIC has no connector");
    finish(host, &[a]);
}

/// `MiniportInitializeEx` builds up to 8,192 receive descriptors: each MDL and NBL is allocated at
/// `PASSIVE_LEVEL`, never with the CPU held at `DISPATCH_LEVEL` for the whole loop.
#[test]
fn receive_descriptors_are_allocated_at_passive_level() {
    let host = loaded(Host::new());
    let a = host
        .add_adapter(config(&[("*ReceiveBuffers", "4096")]))
        .expect("initialize");
    let descriptors: Vec<_> = host
        .live_allocations()
        .into_iter()
        .filter(|a| matches!(a.kind, ndis_host::Kind::Mdl | ndis_host::Kind::Nbl))
        .collect();
    assert_eq!(
        descriptors.len(),
        2 * 4096,
        "an MDL and an NBL per receive buffer"
    );
    assert!(
        descriptors.iter().all(|a| a.irql == PASSIVE_LEVEL),
        "allocated at PASSIVE_LEVEL"
    );
    finish(host, &[a]);
}

#[test]
fn invalid_keywords_fall_back_to_defaults_and_are_logged() {
    let host = loaded(Host::new());
    let a = host
        .add_adapter(config(&[
            ("*JumboPacket", "5000"),
            ("LinkSpeed", "0"),
            ("*ReceiveBuffers", "not a number"),
            ("NetworkAddress", "01-00-5E-00-00-01"),
        ]))
        .expect("a bad keyword never fails initialize");
    let g = host.attributes(a).expect("attributes");
    assert_eq!(g.mtu, 1500, "*JumboPacket 5000 is not an allowed value");
    assert_eq!(
        g.xmit_link_speed, 10_000_000_000,
        "LinkSpeed 0 is below the range"
    );
    assert_eq!(
        g.current_address, g.permanent_address,
        "a multicast NetworkAddress is refused"
    );
    let log = host.take_debug_output();
    for keyword in ["*JumboPacket", "LinkSpeed", "NetworkAddress"] {
        assert!(
            log.iter()
                .any(|l| l.contains(&format!("keyword {keyword} refused"))),
            "{keyword} not logged: {log:?}"
        );
    }
    finish(host, &[a]);
}

#[test]
fn restart_indicates_the_link_and_pause_completes_at_once_when_idle() {
    let host = loaded(Host::new());
    let a = host.start_adapter(config(&[])).expect("start");
    let status = host.take_status_indications(a);
    let link = status
        .iter()
        .find_map(ndis_host::StatusIndication::link_state)
        .expect("a link state indication on restart");
    assert_eq!(link.MediaConnectState, MediaConnectStateConnected);
    assert_eq!(link.XmitLinkSpeed, 10_000_000_000);
    assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
    assert_eq!(host.restart(a), NDIS_STATUS_SUCCESS);
    assert_eq!(host.reset(a), (NDIS_STATUS_SUCCESS, false));
    assert!(
        host.with_registration(|r| r.characteristics.CheckForHangHandlerEx.is_none())
            .expect("registered"),
        "no MiniportCheckForHangEx: optional, and a virtual NIC has nothing to hang"
    );
    host.pnp_event(a, NdisDevicePnPEventPowerProfileChanged, &[0, 0, 0, 0]);
    host.shutdown(a, NdisShutdownPowerOff);
    host.surprise_remove(a);
    assert_eq!(host.adapter_phase(a), Phase::Halted);
    finish(host, &[a]);
}

#[test]
fn pause_pends_while_the_protocol_holds_indications_and_completes_when_they_return() {
    let host = loaded(
        Host::builder()
            .return_mode(ReturnMode::Deferred)
            .mode(ndis_host::Mode::Concurrent)
            .build(),
    );
    let a = host.start_adapter(config(&[("Topology", "0")])).expect("start");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..5).map(|i| frame(me, me, 64, i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(a, &refs, SendOptions::default()).expect("running");
    assert_eq!(host.held_indications(a), 5);
    // Pause from another thread: it must not complete while the protocol holds the NBLs.
    let paused = std::thread::scope(|s| {
        let pausing = s.spawn(|| host.pause(a));
        while host.adapter_phase(a) != Phase::Pausing {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            host.adapter_phase(a),
            Phase::Pausing,
            "paused with indications held"
        );
        host.return_indicated(a);
        pausing.join().expect("pause thread")
    });
    assert_eq!(paused, NDIS_STATUS_PENDING);
    assert_eq!(host.adapter_phase(a), Phase::Paused);
    finish(host, &[a]);
}

/// `MiniportPause`'s page: while pausing and once paused, every new send completes at once with
/// `NDIS_STATUS_PAUSED` (counted as a transmit discard); nothing is queued, nothing reaches the wire,
/// and the pause still completes when the protocol returns what it holds.
#[test]
fn sends_while_pausing_and_paused_complete_at_once_with_paused() {
    let host = loaded(Host::builder().return_mode(ReturnMode::Deferred).build());
    let a = host.start_adapter(config(&[("Topology", "0")])).expect("start");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..5).map(|i| frame(me, me, 64, i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(a, &refs, SendOptions::default()).expect("running");
    assert_eq!(host.held_indications(a), 5);
    host.take_completions(a);
    assert_eq!(host.start_pause(a), NDIS_STATUS_PENDING);
    let mut discards = 0;
    for phase in [Phase::Pausing, Phase::Paused] {
        if phase == Phase::Paused {
            host.return_indicated(a);
            assert!(host.wait_pause(a), "the last return completes the pause");
        }
        assert_eq!(host.adapter_phase(a), phase);
        host.send(a, &refs[..3], SendOptions::default()).expect("sent");
        let statuses: Vec<NDIS_STATUS> = host.take_completions(a).iter().map(|c| c.status).collect();
        assert_eq!(statuses, [NDIS_STATUS_PAUSED; 3], "{phase:?}");
        discards += 3;
        assert_eq!(
            host.held_indications(a),
            if phase == Phase::Pausing { 5 } else { 0 }
        );
        assert_eq!(
            rvnic_tests::counter(&host, a, OID_GEN_XMIT_DISCARDS),
            discards,
            "{phase:?}"
        );
    }
    assert_eq!(
        host.take_received(a).len(),
        5,
        "only the frames sent while running arrived"
    );
    assert_eq!(host.restart(a), NDIS_STATUS_SUCCESS);
    host.send(a, &refs[..1], SendOptions::default()).expect("running");
    assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
    host.return_indicated(a);
    finish(host, &[a]);
}

/// A system sleep: rvnic reports power-management capabilities, so NDIS pauses it and sets it to
/// D3 rather than halting it, even with power management turned off for the device (rvnic sets
/// `NO_HALT_ON_SUSPEND`); on wake it is set to D0 and restarted with its filter, multicast list and
/// address as they were, and frames flow again.
#[test]
fn a_sleep_keeps_the_adapter_and_its_settings() {
    for disabled in [false, true] {
        let host = loaded(Host::new());
        let a = host.start_adapter(config(&[("Topology", "0")])).expect("start");
        set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST);
        let group = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x07];
        let r = host.oid_set(a, OID_802_3_MULTICAST_LIST, &group);
        assert_eq!(r.status, NDIS_STATUS_SUCCESS);
        if disabled {
            host.disable_power_management(a);
        }
        assert_eq!(
            host.sleep(a),
            ndis_host::Sleep::SetPower {
                paused: true,
                was_running: true
            },
            "power management off for the device: {disabled}"
        );
        assert_eq!(host.power(a).state, NdisDeviceStateD3);
        assert_eq!(host.wake(a), NDIS_STATUS_SUCCESS);
        assert_eq!(host.adapter_phase(a), Phase::Running);
        let me = address(&host, a);
        let frames = [frame(me, me, 100, 1), frame(group, me, 100, 2)];
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        host.send(a, &refs, SendOptions::default()).expect("running");
        assert_eq!(
            host.take_received(a),
            frames,
            "the filter and multicast list survived"
        );
        let pm = host.oid_query(a, OID_PM_HARDWARE_CAPABILITIES, 64);
        assert_eq!(
            (pm.status, pm.bytes_written),
            (
                NDIS_STATUS_SUCCESS,
                u32::from(NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2)
            ),
            "NDIS answers from the attributes"
        );
        finish(host, &[a]);
    }
}

#[test]
fn a_pair_links_up_when_its_peer_arrives_and_down_when_it_leaves() {
    let host = loaded(Host::new());
    let a = host
        .start_adapter(config(&[("Topology", "1"), ("SegmentId", "7")]))
        .expect("a");
    let first = host.take_status_indications(a);
    assert_eq!(
        first
            .iter()
            .find_map(ndis_host::StatusIndication::link_state)
            .map(|l| l.MediaConnectState),
        Some(MediaConnectStateDisconnected),
        "alone, a pair has no link"
    );
    let b = host
        .start_adapter(config(&[("Topology", "1"), ("SegmentId", "7")]))
        .expect("b");
    let up = host.take_status_indications(a);
    assert_eq!(
        up.iter()
            .find_map(ndis_host::StatusIndication::link_state)
            .map(|l| l.MediaConnectState),
        Some(MediaConnectStateConnected)
    );
    assert_eq!(
        host.attributes(b).expect("b").media_connect_state,
        MediaConnectStateConnected
    );
    assert_eq!(host.pause(b), NDIS_STATUS_SUCCESS);
    host.halt(b, NdisHaltDeviceDisabled);
    let down = host.take_status_indications(a);
    assert_eq!(
        down.iter()
            .find_map(ndis_host::StatusIndication::link_state)
            .map(|l| l.MediaConnectState),
        Some(MediaConnectStateDisconnected)
    );
    // A send with no link completes with NDIS_STATUS_MEDIA_DISCONNECTED and is counted.
    let f = frame([0xff; 6], address(&host, a), 64, 0);
    host.send(a, &[&f], SendOptions::default()).expect("running");
    let c = host.take_completions(a);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, NDIS_STATUS_MEDIA_DISCONNECTED);
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_XMIT_DISCARDS), 1);
    finish(host, &[a]);
}

/// Every allocation `MiniportInitializeEx` makes, failing in turn: initialize fails with a failure
/// status, and nothing leaks (no pool, no generic object, no NBL pool, MDL or configuration handle).
#[test]
fn initialize_survives_every_allocation_failing_in_turn() {
    let builder = Host::builder().design_rule(ndis_host::Rule::GenericObjectOutlivesHalt);
    let sweep = sweep(&builder, None, |host| {
        if host.load_driver(&rvnic_tests::driver()).is_err() {
            return;
        }
        match host.add_adapter(config(&[("*ReceiveBuffers", "64"), ("*TransmitBuffers", "64")])) {
            Ok(a) => host.halt(a, NdisHaltDeviceDisabled),
            Err(status) => assert!(
                status != NDIS_STATUS_SUCCESS && status != NDIS_STATUS_PENDING,
                "initialize failed with {status:#x}"
            ),
        }
        host.unload();
    });
    assert!(
        sweep.allocations > 100,
        "64 descriptors need more than 100 allocations"
    );
    let failures = sweep.failures();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let injected = sweep.runs.iter().filter(|r| r.failed.is_some()).count() as u64;
    assert_eq!(injected, sweep.allocations, "every allocation was failed once");
}

/// Sends `n` 60-byte frames from `a` to `b` in one call (marked `cancel_id`), and returns how many
/// completed within the call and how many were still queued after it.
fn send_many(
    host: &Host,
    a: ndis_host::Adapter,
    b: ndis_host::Adapter,
    n: u32,
    cancel_id: Option<usize>,
) -> (u64, usize) {
    let (ma, mb) = (address(host, a), address(host, b));
    let frames: Vec<Vec<u8>> = (0..n).map(|i| frame(mb, ma, 60, i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let before = host.send_counts(a).0;
    let options = SendOptions {
        cancel_id,
        ..SendOptions::default()
    };
    host.send(a, &refs, options).expect("running");
    let (done, queued) = host.send_counts(a);
    (done - before, queued)
}

/// A pair whose sender can queue thousands of sends (one drain moves at most `wire::BUDGET` and
/// leaves the rest to a timer).
fn deep_pair(segment: &str) -> (Host, ndis_host::Adapter, ndis_host::Adapter) {
    let host = loaded(Host::builder().capture_frames(false).build());
    let pair = config(&[
        ("Topology", "1"),
        ("SegmentId", segment),
        ("*TransmitBuffers", "4096"),
    ]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    (host, a, b)
}

/// `MiniportResetEx`'s page: since NDIS 6.30 no send may stay pending past a reset, and a reset that
/// completes asynchronously completes the sends first. With 1,576 sends still queued behind the
/// drain's budget, the reset pends and completes once they are all sent (the host checks that no
/// send is outstanding when `NdisMResetComplete` comes); with none queued it succeeds at once.
#[test]
fn a_reset_completes_after_every_send_queued_before_it() {
    let (host, a, b) = deep_pair("21");
    let budget = rvnic::wire::BUDGET as u64;
    assert_eq!(
        send_many(&host, a, b, 2600, None),
        (budget, 2600 - budget as usize)
    );
    assert_eq!(host.reset(a), (NDIS_STATUS_SUCCESS, false));
    assert_eq!(
        host.send_counts(a),
        (2600, 0),
        "all sent, none held past the reset"
    );
    let completions = host.take_completions(a);
    assert!(completions.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT), 2600);
    assert_eq!(
        host.reset(a),
        (NDIS_STATUS_SUCCESS, false),
        "nothing queued: at once"
    );
    assert_eq!(
        send_many(&host, a, b, 10, None),
        (10, 0),
        "sends flow after the reset"
    );
    finish(host, &[a, b]);
}

/// `MiniportCancelSend`: the queued NBLs marked with the identifier complete with
/// `NDIS_STATUS_SEND_ABORTED` (counted as transmit discards) instead of going out; those already
/// sent are unaffected, and the identifier is retired once nothing marked with it is queued.
#[test]
fn cancelled_sends_still_queued_are_aborted() {
    let (host, a, b) = deep_pair("22");
    let budget = rvnic::wire::BUDGET;
    let (sent, queued) = send_many(&host, a, b, 2000, Some(0x77));
    assert_eq!((sent, queued), (budget as u64, 2000 - budget));
    host.take_completions(a);
    host.cancel_send(a, 0x77);
    assert_eq!(
        host.send_counts(a).1,
        0,
        "the cancel's drain settled every queued send"
    );
    let statuses: Vec<NDIS_STATUS> = host.take_completions(a).iter().map(|c| c.status).collect();
    assert_eq!(statuses.len(), queued);
    assert!(
        statuses.iter().all(|s| *s == NDIS_STATUS_SEND_ABORTED),
        "{:?}",
        &statuses[..4]
    );
    assert_eq!(
        rvnic_tests::counter(&host, a, OID_GEN_XMIT_DISCARDS),
        queued as u64
    );
    assert_eq!(
        rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT),
        budget as u64
    );
    // A cancel of another identifier aborts nothing: its kick sends what is queued.
    assert_eq!(send_many(&host, a, b, 2000, Some(0x88)).1, queued);
    host.take_completions(a);
    host.cancel_send(a, 0x1234);
    assert_eq!(host.send_counts(a).1, 0);
    assert!(
        host.take_completions(a)
            .iter()
            .all(|c| c.status == NDIS_STATUS_SUCCESS)
    );
    // Retired: a later send with the same identifier goes out.
    assert_eq!(send_many(&host, a, b, 5, Some(0x77)), (5, 0));
    assert!(
        host.take_completions(a)
            .iter()
            .all(|c| c.status == NDIS_STATUS_SUCCESS)
    );
    finish(host, &[a, b]);
}
