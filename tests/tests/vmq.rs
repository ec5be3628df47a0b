//! VM queues (VMQ) through the real driver on ndis-host, with ndis-host's virtual switch: the
//! capabilities follow the keywords (and the hidden RSS-or-VMQ preference); a switch allocates a
//! queue per virtual NIC, and frames to that NIC's MAC (and VLAN) are indicated on its queue, from
//! its own buffers, with its identifiers on the NBL; freeing a queue whose frames the switch
//! still holds stops its DMA, says so, and completes once they are back; bad input to every VMQ
//! request is refused with its status.

use ndis::*;
use ndis_host::vswitch::{self, VmQueue, VmQueueSpec};
use ndis_host::{Adapter, Host, OidRequest, OidResult, QueueState, ReturnMode, SendOptions};
use rvnic_tests::{address, config, finish, loaded, set_filter};

/// The keywords of an adapter with VM queues (and VLAN tags handled by the NIC).
const VMQ: [(&str, &str); 3] = [
    ("*RssOrVmqPreference", "1"),
    ("*VMQ", "1"),
    ("*PriorityVLANTag", "3"),
];

fn spec(mac: [u8; 6], vlan: Option<u16>) -> VmQueueSpec {
    VmQueueSpec {
        mac,
        vlan,
        untagged_only: false,
        processor: 0,
    }
}

fn method(host: &Host, a: Adapter, oid: NDIS_OID, input: Vec<u8>) -> OidResult {
    let output_len = input.len();
    host.oid(
        a,
        OidRequest::Method {
            oid,
            method_id: 0,
            input,
            output_len,
        },
    )
}

/// A 60-byte frame from `from` to `to`.
fn frame(to: [u8; 6], from: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&to);
    f[6..12].copy_from_slice(&from);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

#[test]
fn the_capabilities_follow_the_keywords() {
    let host = loaded(Host::builder().build());
    let mut adapters = Vec::new();
    let mut caps = |keywords: &[(&str, &str)]| {
        let a = host.start_adapter(config(keywords)).expect("starts");
        adapters.push(a);
        let (hw, current) = host.receive_filter_capabilities(a).expect("always reported");
        let rss = host.attributes(a).and_then(|g| g.rss_capabilities).is_some();
        (
            (hw.NumQueues, hw.SupportedMacHeaderFields),
            (current.NumQueues, current.SupportedMacHeaderFields),
            rss,
        )
    };
    let all =
        NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED | NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED;
    let hardware = (4, all);
    assert_eq!(
        caps(&[]),
        (hardware, (0, 0), true),
        "RSS preferred: no VMQ enabled"
    );
    assert_eq!(
        caps(&VMQ),
        (hardware, (4, all), false),
        "VMQ preferred: RSS not read"
    );
    assert_eq!(
        caps(&[("*RssOrVmqPreference", "1"), ("*VMQVlanFiltering", "0")]),
        (
            hardware,
            (4, NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED),
            false
        )
    );
    assert_eq!(
        caps(&[("*RssOrVmqPreference", "1"), ("*VMQ", "0")]),
        (hardware, (0, 0), false)
    );
    assert_eq!(
        caps(&[("*RssOrVmqPreference", "7"), ("*VMQ", "1")]),
        (hardware, (0, 0), true),
        "a bad preference is refused: RSS, its default"
    );
    // NDIS answers the capability queries from the attributes.
    let a = adapters[1];
    let r = host.oid_query(a, OID_RECEIVE_FILTER_CURRENT_CAPABILITIES, 256);
    assert_eq!((r.status, r.data.len()), (NDIS_STATUS_SUCCESS, 84));
    assert_eq!(
        u32::from_le_bytes(r.data[16..20].try_into().unwrap()),
        4,
        "NumQueues"
    );
    finish(host, &adapters);
}

#[test]
fn frames_matching_a_queue_filter_arrive_on_that_queue() {
    let host = loaded(Host::builder().cpus(4).capture_frames(true).build());
    let sender = host
        .start_adapter(config(&[("Topology", "1"), ("*PriorityVLANTag", "3")]))
        .expect("sender");
    let mut keywords = VMQ.to_vec();
    keywords.push(("Topology", "1"));
    let nic = host.start_adapter(config(&keywords)).expect("vmq");
    // Directed only: the queues' filters add their addresses.
    set_filter(&host, nic, NDIS_PACKET_TYPE_DIRECTED);
    let (vm1, vm2) = ([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2]);
    let q1 = host
        .allocate_vm_queue(
            nic,
            &VmQueueSpec {
                processor: 2,
                ..spec(vm1, None)
            },
        )
        .expect("q1");
    let q2 = host
        .allocate_vm_queue(
            nic,
            &VmQueueSpec {
                processor: 3,
                ..spec(vm2, Some(5))
            },
        )
        .expect("q2");
    assert_eq!(host.vm_queue_state(nic, q1.id), Some(QueueState::Running));
    let from = address(&host, sender);
    let own = address(&host, nic);
    let send = |to: [u8; 6], vlan: u16| {
        let options = SendOptions {
            ieee8021q: (0, vlan),
            ..SendOptions::default()
        };
        host.send(sender, &[&frame(to, from)], options).expect("running");
        host.take_completions(sender);
        let got = host.take_received_with_info(nic);
        assert!(got.len() <= 1, "one frame to {to:x?} in VLAN {vlan}");
        got.first().map(|r| (r.info.queue, r.cpu))
    };
    // Each queue's frames are indicated on the processor of its affinity.
    assert_eq!(send(vm1, 0), Some(((1, 1), 2)), "vm1's queue and filter");
    assert_eq!(
        send(vm1, 9),
        Some(((1, 1), 2)),
        "a MAC filter alone takes any VLAN"
    );
    assert_eq!(send(vm2, 5), Some(((2, 2), 3)), "vm2's queue, in its VLAN");
    assert_eq!(
        send(vm2, 0),
        None,
        "vm2's address outside its VLAN: no filter takes it"
    );
    assert_eq!(
        send(own, 0).map(|(queue, _)| queue),
        Some((0, 0)),
        "the adapter's own frames: the default queue"
    );
    // In promiscuous mode the frame no queue's filter takes goes to the default queue.
    set_filter(
        &host,
        nic,
        NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_PROMISCUOUS,
    );
    assert_eq!(send(vm2, 0).map(|(queue, _)| queue), Some((0, 0)));
    assert_eq!(send(vm2, 5), Some(((2, 2), 3)));
    // A new affinity moves the queue's DPC.
    let moved = vswitch::queue_parameters(q2.id, 1);
    let mut moved = moved;
    moved[4..8].copy_from_slice(&NDIS_RECEIVE_QUEUE_PARAMETERS_PROCESSOR_AFFINITY_CHANGED.to_le_bytes());
    assert_eq!(
        host.oid_set(nic, OID_RECEIVE_FILTER_QUEUE_PARAMETERS, &moved)
            .status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(send(vm2, 5), Some(((2, 2), 1)));
    set_filter(&host, nic, NDIS_PACKET_TYPE_DIRECTED);
    for q in [q1, q2] {
        assert_eq!(host.free_vm_queue(nic, &q).status, NDIS_STATUS_SUCCESS);
        assert_eq!(host.vm_queue_state(nic, q.id), None);
    }
    // Filters gone, the addresses are not the adapter's any more.
    host.send(sender, &[&frame(vm1, from)], SendOptions::default())
        .expect("running");
    host.take_completions(sender);
    assert!(host.take_received_with_info(nic).is_empty());
    finish(host, &[sender, nic]);
}

#[test]
fn a_free_stops_the_dma_and_waits_for_the_queues_frames() {
    let host = loaded(Host::builder().return_mode(ReturnMode::Deferred).build());
    let sender = host.start_adapter(config(&[("Topology", "1")])).expect("sender");
    let mut keywords = VMQ.to_vec();
    keywords.push(("Topology", "1"));
    let nic = host.start_adapter(config(&keywords)).expect("vmq");
    set_filter(&host, nic, NDIS_PACKET_TYPE_DIRECTED);
    let vm = [0x02, 0, 0, 0, 0, 7];
    let q = host.allocate_vm_queue(nic, &spec(vm, None)).expect("queue");
    let from = address(&host, sender);
    let frames: Vec<Vec<u8>> = (0..10).map(|_| frame(vm, from)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(sender, &refs, SendOptions::default()).expect("running");
    host.take_completions(sender);
    assert_eq!(
        host.held_indications(nic),
        10,
        "the switch holds the queue's frames"
    );
    host.take_status_indications(nic);
    let r = host.free_vm_queue(nic, &q);
    assert_eq!(r.status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        host.vm_queue_frees_pended(nic),
        1,
        "the free waited for the frames"
    );
    let stopped: Vec<(u32, u32)> = host
        .take_status_indications(nic)
        .into_iter()
        .filter(|s| s.code == NDIS_STATUS_RECEIVE_QUEUE_STATE)
        .map(|s| {
            let word = |at: usize| u32::from_le_bytes(s.buffer[at..at + 4].try_into().unwrap());
            (word(8), word(12))
        })
        .collect();
    assert_eq!(stopped, [(q.id, NdisReceiveQueueOperationalStateDmaStopped)]);
    assert_eq!(host.held_indications(nic), 0);
    // Its buffers serve the next queues: four at once, a fifth is refused.
    let queues: Vec<VmQueue> = (1..=4u8)
        .map(|i| {
            host.allocate_vm_queue(nic, &spec([0x02, 0, 0, 0, 1, i], None))
                .expect("a queue")
        })
        .collect();
    let fifth = host.allocate_vm_queue(nic, &spec([0x02, 0, 0, 0, 1, 5], None));
    assert_eq!(fifth.map_err(|r| r.status), Err(NDIS_STATUS_RESOURCES));
    for q in &queues {
        assert_eq!(host.free_vm_queue(nic, q).status, NDIS_STATUS_SUCCESS);
    }
    assert_eq!(
        host.vm_queue_frees_pended(nic),
        1,
        "nothing held: the others freed at once"
    );
    finish(host, &[sender, nic]);
}

/// Sets `bytes[at..]` to `value` (little-endian).
fn patch(mut bytes: Vec<u8>, at: usize, value: u32) -> Vec<u8> {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    bytes
}

/// A host with an adapter with VM queues and one queue on it.
fn with_a_queue() -> (Host, Adapter, VmQueue) {
    let host = loaded(Host::builder().build());
    let nic = host.start_adapter(config(&VMQ)).expect("vmq");
    let q = host
        .allocate_vm_queue(nic, &spec([0x02, 0, 0, 0, 0, 1], None))
        .expect("a queue");
    (host, nic, q)
}

fn done(host: Host, nic: Adapter, q: &VmQueue) {
    assert_eq!(host.free_vm_queue(nic, q).status, NDIS_STATUS_SUCCESS);
    finish(host, &[nic]);
}

const INVALID: NDIS_STATUS = NDIS_STATUS_INVALID_PARAMETER;
const LENGTH: NDIS_STATUS = NDIS_STATUS_INVALID_LENGTH;

#[test]
fn bad_queue_allocations_are_refused() {
    let (host, nic, q) = with_a_queue();
    let good = vswitch::queue_parameters(9, 0);
    let allocate = [
        ("short", good[..100].to_vec(), LENGTH, 0x43C),
        ("not a VM queue", patch(good.clone(), 8, 2), INVALID, 0),
        ("the default queue", patch(good.clone(), 12, 0), INVALID, 0),
        ("an identifier in use", patch(good.clone(), 12, q.id), INVALID, 0),
        ("a lookahead split", patch(good.clone(), 48, 128), INVALID, 0),
        (
            "no processor",
            patch(patch(good.clone(), 24, 0), 28, 0),
            INVALID,
            0,
        ),
        (
            "a processor that does not exist",
            patch(patch(good.clone(), 24, 0), 28, 0x100),
            INVALID,
            0,
        ),
        ("an unknown flag", patch(good.clone(), 4, 0x80), INVALID, 0),
    ];
    for (what, input, status, needed) in allocate {
        let r = method(&host, nic, OID_RECEIVE_FILTER_ALLOCATE_QUEUE, input);
        assert_eq!((r.status, r.bytes_needed), (status, needed), "allocate: {what}");
    }
    // A change of affinity to a processor that exists is taken; an unknown queue or change not.
    let moved = patch(patch(vswitch::queue_parameters(q.id, 0), 4, 0x20000), 24, 1);
    let parameters = [
        (moved, NDIS_STATUS_SUCCESS, "an affinity change"),
        (
            patch(vswitch::queue_parameters(55, 0), 4, 0x20000),
            INVALID,
            "an unknown queue",
        ),
        (
            patch(vswitch::queue_parameters(q.id, 0), 4, 0x0100_0000),
            INVALID,
            "an unknown change",
        ),
    ];
    for (input, status, what) in parameters {
        let r = host.oid_set(nic, OID_RECEIVE_FILTER_QUEUE_PARAMETERS, &input);
        assert_eq!(r.status, status, "queue parameters: {what}");
    }
    done(host, nic, &q);
}

#[test]
fn bad_filters_are_refused() {
    let (host, nic, q) = with_a_queue();
    let vm = spec([0x02, 0, 0, 0, 0, 2], Some(7));
    let filter = vswitch::filter_parameters(q.id, 50, &vm);
    let mut vlan_4095 = filter.clone();
    vlan_4095[104 + 24..104 + 26].copy_from_slice(&4095u16.to_be_bytes());
    let cases = [
        ("short", filter[..20].to_vec(), LENGTH, 36),
        ("fields cut off", filter[..100].to_vec(), LENGTH, 160),
        ("an unknown queue", patch(filter.clone(), 12, 77), INVALID, 0),
        ("filter identifier 0", patch(filter.clone(), 16, 0), INVALID, 0),
        (
            "a used filter identifier",
            patch(filter.clone(), 16, q.filters[0]),
            INVALID,
            0,
        ),
        ("not a VMQ filter", patch(filter.clone(), 8, 2), INVALID, 0),
        (
            "a test other than equality",
            patch(filter.clone(), 48 + 12, 3),
            INVALID,
            0,
        ),
        (
            "an IPv4 header field",
            patch(filter.clone(), 48 + 8, 3),
            INVALID,
            0,
        ),
        (
            "two VLAN fields and no address",
            patch(filter.clone(), 48 + 16, 4),
            INVALID,
            0,
        ),
        ("VLAN 4095", vlan_4095, INVALID, 0),
        ("three fields", patch(filter.clone(), 24, 3), INVALID, 0),
        ("a bad field header", patch(filter.clone(), 48, 0), INVALID, 0),
    ];
    for (what, input, status, needed) in cases {
        let r = method(&host, nic, OID_RECEIVE_FILTER_SET_FILTER, input);
        assert_eq!((r.status, r.bytes_needed), (status, needed), "set filter: {what}");
    }
    assert_eq!(
        host.oid_set(nic, OID_RECEIVE_FILTER_SET_FILTER, &filter).status,
        NDIS_STATUS_NOT_SUPPORTED,
        "a method, not a set"
    );
    let mut no_vlan = VMQ.to_vec();
    no_vlan.push(("*VMQVlanFiltering", "0"));
    let plain = host.start_adapter(config(&no_vlan)).expect("no VLAN filters");
    let pq = host
        .allocate_vm_queue(plain, &spec([0x02, 0, 0, 0, 0, 3], None))
        .expect("a queue");
    let r = method(
        &host,
        plain,
        OID_RECEIVE_FILTER_SET_FILTER,
        vswitch::filter_parameters(pq.id, 60, &vm),
    );
    assert_eq!(r.status, INVALID, "a VLAN field without *VMQVlanFiltering");
    assert_eq!(host.free_vm_queue(plain, &pq).status, NDIS_STATUS_SUCCESS);
    done(host, nic, &q);
}

#[test]
fn bad_completions_clears_and_frees_are_refused_and_without_vmq_everything_is() {
    let (host, nic, q) = with_a_queue();
    // Completion of a queue not waiting for it: the element says so, the request succeeds.
    let complete = vswitch::allocation_complete(&[q.id]);
    let r = method(
        &host,
        nic,
        OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE,
        complete.clone(),
    );
    assert_eq!(r.status, NDIS_STATUS_SUCCESS);
    assert_eq!(r.data[36..40], INVALID.to_le_bytes(), "already complete");
    for (what, input, status, needed) in [
        ("short", complete[..10].to_vec(), LENGTH, 20),
        ("elements cut off", complete[..30].to_vec(), LENGTH, 40),
        ("no elements", patch(complete.clone(), 8, 0), INVALID, 0),
    ] {
        let r = method(&host, nic, OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE, input);
        assert_eq!((r.status, r.bytes_needed), (status, needed), "complete: {what}");
    }
    let sets = [
        (
            OID_RECEIVE_FILTER_CLEAR_FILTER,
            vswitch::clear_parameters(q.id, 999),
            INVALID,
            "clear: unknown filter",
        ),
        (
            OID_RECEIVE_FILTER_CLEAR_FILTER,
            vswitch::clear_parameters(q.id, 1)[..8].to_vec(),
            LENGTH,
            "clear: short",
        ),
        (
            OID_RECEIVE_FILTER_FREE_QUEUE,
            vswitch::free_parameters(q.id),
            INVALID,
            "free: a queue with a filter",
        ),
        (
            OID_RECEIVE_FILTER_FREE_QUEUE,
            vswitch::free_parameters(0),
            INVALID,
            "free: the default queue",
        ),
        (
            OID_RECEIVE_FILTER_FREE_QUEUE,
            vswitch::free_parameters(55),
            INVALID,
            "free: an unknown queue",
        ),
        (
            OID_RECEIVE_FILTER_FREE_QUEUE,
            vswitch::free_parameters(q.id)[..6].to_vec(),
            LENGTH,
            "free: short",
        ),
    ];
    for (oid, input, status, what) in sets {
        assert_eq!(host.oid_set(nic, oid, &input).status, status, "{what}");
    }
    assert_eq!(
        host.oid_query(nic, OID_RECEIVE_FILTER_FREE_QUEUE, 64).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    // Without VMQ every request is refused.
    let off = host.start_adapter(config(&[])).expect("no VMQ");
    let unsupported = NDIS_STATUS_NOT_SUPPORTED;
    let good = vswitch::queue_parameters(9, 0);
    assert_eq!(
        method(&host, off, OID_RECEIVE_FILTER_ALLOCATE_QUEUE, good).status,
        unsupported
    );
    assert_eq!(
        method(&host, off, OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE, complete).status,
        unsupported
    );
    for oid in [
        OID_RECEIVE_FILTER_FREE_QUEUE,
        OID_RECEIVE_FILTER_CLEAR_FILTER,
        OID_RECEIVE_FILTER_QUEUE_PARAMETERS,
    ] {
        assert_eq!(
            host.oid_set(off, oid, &vswitch::free_parameters(1)).status,
            unsupported
        );
    }
    assert_eq!(
        host.oid_query(off, OID_RECEIVE_FILTER_CURRENT_CAPABILITIES, 256)
            .data[16..20],
        [0; 4]
    );
    finish_with(host, nic, &q, off);
}

fn finish_with(host: Host, nic: Adapter, q: &VmQueue, off: Adapter) {
    assert_eq!(host.free_vm_queue(nic, q).status, NDIS_STATUS_SUCCESS);
    finish(host, &[nic, off]);
}

#[test]
fn queues_come_and_go_under_concurrent_traffic_and_nothing_is_misrouted() {
    const ROUNDS: usize = 100;
    let host = loaded(
        Host::builder()
            .cpus(4)
            .mode(ndis_host::Mode::Concurrent)
            .capture_frames(true)
            .wait_limit(std::time::Duration::from_secs(10))
            .build(),
    );
    let sender = host.start_adapter(config(&[("Topology", "1")])).expect("sender");
    let mut keywords = VMQ.to_vec();
    keywords.push(("Topology", "1"));
    let nic = host.start_adapter(config(&keywords)).expect("vmq");
    for x in [sender, nic] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    let (vm1, vm2) = ([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2]);
    let q1 = host.allocate_vm_queue(nic, &spec(vm1, None)).expect("q1");
    let from = address(&host, sender);
    let own = address(&host, nic);
    let frames: Vec<Vec<u8>> = [vm1, vm2, own].iter().map(|to| frame(*to, from)).collect();
    host.parallel(4, |cpu| {
        if cpu == 3 {
            // The switch's virtual NIC for vm2 comes and goes while frames cross.
            for _ in 0..ROUNDS / 4 {
                let q2 = host.allocate_vm_queue(nic, &spec(vm2, None)).expect("q2");
                std::thread::yield_now();
                assert_eq!(host.free_vm_queue(nic, &q2).status, NDIS_STATUS_SUCCESS);
            }
            return;
        }
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        for _ in 0..ROUNDS {
            let _ = host.send(sender, &refs, SendOptions::default());
        }
    });
    let got = host.take_received_with_info(nic);
    let q1_tag = (
        u16::try_from(q1.id).unwrap(),
        u16::try_from(q1.filters[0]).unwrap(),
    );
    let to = |r: &ndis_host::Received| <[u8; 6]>::try_from(&r.frame[..6]).unwrap();
    for r in &got {
        let queue = r.info.queue;
        if to(r) == vm1 {
            assert_eq!(queue, q1_tag, "vm1's queue");
        } else if to(r) == vm2 {
            assert!(
                queue.0 != 0 && queue.0 != q1_tag.0,
                "vm2's frames only on a vm2 queue: {queue:?}"
            );
        } else {
            assert_eq!(queue, (0, 0), "the adapter's own frames on the default queue");
        }
    }
    // Frames to vm1 and to the adapter always have a taker: each arrived, or was counted.
    let discarded = rvnic_tests::counter(&host, nic, OID_GEN_RCV_DISCARDS);
    let failed: u64 = host
        .take_completions(sender)
        .iter()
        .filter(|c| c.status != NDIS_STATUS_SUCCESS)
        .map(ndis_host::Completion::frame_count)
        .sum();
    let taken = got.iter().filter(|r| to(r) != vm2).count() as u64;
    assert!(
        taken + discarded + failed >= (2 * 3 * ROUNDS) as u64,
        "{taken} + {discarded} + {failed}"
    );
    assert_eq!(host.free_vm_queue(nic, &q1).status, NDIS_STATUS_SUCCESS);
    finish(host, &[sender, nic]);
}
