//! Receive-side scaling through the real driver on ndis-host: the capabilities follow `*RSS`,
//! `*NumRSSQueues` and `*MaxRssProcessors`; after `OID_GEN_RECEIVE_SCALE_PARAMETERS` every frame
//! carries the Toeplitz hash of Microsoft's verification data and is indicated on the processor its
//! indirection-table entry names; disabling stops both; bad parameters are refused; and under
//! concurrent traffic pause and halt leave no DPC behind.

use ndis::*;
use ndis_host::{Adapter, Host, Mode, SendOptions};
use rvnic_tests::{address, config, counter, finish, loaded, set_filter};

/// The secret key of "Verifying the RSS Hash Calculation".
const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0,
    0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42,
    0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// An IPv4 address and a TCP port.
type Endpoint = ([u8; 4], u16);

/// The page's IPv4 rows: destination, source, and the hash with the TCP ports.
const V4: [(Endpoint, Endpoint, u32); 5] = [
    (
        ([161, 142, 100, 80], 1766),
        ([66, 9, 149, 187], 2794),
        0x51cc_c178,
    ),
    (([65, 69, 140, 83], 4739), ([199, 92, 111, 2], 14230), 0xc626_b0ea),
    (
        ([12, 22, 207, 184], 38024),
        ([24, 19, 198, 95], 12898),
        0x5c2b_394a,
    ),
    (
        ([209, 142, 163, 6], 2217),
        ([38, 27, 205, 30], 48228),
        0xafc7_327f,
    ),
    (
        ([202, 188, 127, 2], 1303),
        ([153, 39, 163, 191], 44251),
        0x10e8_28a2,
    ),
];

const ALL_TYPES: u32 = NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

/// A TCP/IPv4 frame from `src` to `dst` (Ethernet addresses `to`, `from`) with 20 payload bytes.
fn tcp4(
    to: [u8; 6],
    from: [u8; 6],
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    seq: u8,
) -> Vec<u8> {
    let mut f = vec![seq; 14 + 20 + 20 + 20];
    f[..6].copy_from_slice(&to);
    f[6..12].copy_from_slice(&from);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14..34].fill(0);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&60u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
    f[34..54].fill(0);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f
}

/// An `OID_GEN_RECEIVE_SCALE_PARAMETERS` set (revision 2) with `flags`, `hash_information`, a
/// table of `cpus` (group 0) and `key`.
fn parameters(flags: u16, hash_information: u32, cpus: &[u8], key: &[u8]) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2);
    let key_offset = size + cpus.len() * 4;
    let mut b = vec![0u8; key_offset + key.len()];
    b[0] = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
    b[1] = NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2;
    b[2..4].copy_from_slice(&NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2.to_le_bytes());
    b[4..6].copy_from_slice(&flags.to_le_bytes());
    b[8..12].copy_from_slice(&hash_information.to_le_bytes());
    b[12..14].copy_from_slice(&u16::try_from(cpus.len() * 4).unwrap().to_le_bytes());
    b[16..20].copy_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
    b[20..22].copy_from_slice(&u16::try_from(key.len()).unwrap().to_le_bytes());
    b[24..28].copy_from_slice(&u32::try_from(key_offset).unwrap().to_le_bytes());
    for (i, cpu) in cpus.iter().enumerate() {
        b[size + i * 4 + 2] = *cpu;
    }
    b[key_offset..].copy_from_slice(key);
    b
}

/// A table of 128 entries: entry `i` names processor `i % cpus`.
fn round_robin(cpus: u8) -> Vec<u8> {
    (0..128u8).map(|i| i % cpus).collect()
}

/// A running pair on a host of `cpus` processors; `b` has `keywords`.
fn pair(cpus: usize, mode: Mode, keywords: &[(&str, &str)]) -> (Host, Adapter, Adapter) {
    let host = loaded(
        Host::builder()
            .cpus(cpus)
            .mode(mode)
            .capture_frames(true)
            .wait_limit(std::time::Duration::from_secs(10))
            .build(),
    );
    let a = host
        .start_adapter(config(&[("Topology", "1")]))
        .expect("a starts");
    let mut b_keywords = keywords.to_vec();
    b_keywords.push(("Topology", "1"));
    let b = host.start_adapter(config(&b_keywords)).expect("b starts");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    (host, a, b)
}

fn send(host: &Host, from: Adapter, frames: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    host.send(from, &refs, SendOptions::default()).expect("running");
    for c in host.take_completions(from) {
        assert_eq!(c.status, NDIS_STATUS_SUCCESS);
    }
}

/// The five verification flows from `a` to `b`, each frame tagged with its row.
fn flows(host: &Host, a: Adapter, b: Adapter) -> Vec<Vec<u8>> {
    let (to, from) = (address(host, b), address(host, a));
    V4.iter()
        .enumerate()
        .map(|(i, (dst, src, _))| tcp4(to, from, *src, *dst, u8::try_from(i).unwrap()))
        .collect()
}

#[test]
fn the_capabilities_follow_the_keywords() {
    let host = loaded(Host::builder().cpus(8).build());
    let queues = |keywords: &[(&str, &str)]| {
        let a = host.start_adapter(config(keywords)).expect("starts");
        let caps = host.attributes(a).expect("attributes").rss_capabilities;
        let supported = host
            .oid_set(
                a,
                OID_GEN_RECEIVE_SCALE_PARAMETERS,
                &parameters(0, ALL_TYPES | 1, &[0], &KEY),
            )
            .status;
        (caps.map(|c| c.NumberOfReceiveQueues), supported)
    };
    assert_eq!(queues(&[]), (Some(4), NDIS_STATUS_SUCCESS), "defaults: 4 queues");
    assert_eq!(
        queues(&[("*NumRSSQueues", "16")]),
        (Some(8), NDIS_STATUS_SUCCESS),
        "8 processors"
    );
    assert_eq!(
        queues(&[("*NumRSSQueues", "6"), ("*MaxRssProcessors", "2")]),
        (Some(2), NDIS_STATUS_SUCCESS)
    );
    assert_eq!(
        queues(&[("*RSS", "0")]),
        (None, NDIS_STATUS_NOT_SUPPORTED),
        "*RSS off"
    );
    let adapters: Vec<Adapter> = (0..4).map(Adapter).collect();
    finish(host, &adapters);
}

#[test]
fn each_frame_carries_its_hash_and_is_indicated_on_the_processor_its_entry_names() {
    let (host, a, b) = pair(4, Mode::Deterministic, &[]);
    let set = host.oid_set(
        b,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &parameters(0, ALL_TYPES | NdisHashFunctionToeplitz, &round_robin(4), &KEY),
    );
    assert_eq!(set.status, NDIS_STATUS_SUCCESS);
    let frames = flows(&host, a, b);
    for _ in 0..3 {
        send(&host, a, &frames);
    }
    let received = host.take_received_with_info(b);
    assert_eq!(received.len(), 15);
    let mut cpus = std::collections::BTreeSet::new();
    for r in &received {
        let row = usize::from(r.frame[60]);
        let hash = V4[row].2;
        assert_eq!(r.frame, frames[row]);
        assert_eq!(
            r.info.hash,
            (hash, NDIS_HASH_TCP_IPV4 | NdisHashFunctionToeplitz),
            "row {row}"
        );
        let entry = hash as usize & 127;
        assert_eq!(r.cpu, entry % 4, "row {row}: entry {entry}'s processor");
        cpus.insert(r.cpu);
    }
    assert!(cpus.len() > 1, "the flows spread over processors: {cpus:?}");
    // One flow's frames keep their order (each flow is one queue).
    for row in 0..V4.len() {
        let order: Vec<usize> = received
            .iter()
            .enumerate()
            .filter(|(_, r)| usize::from(r.frame[60]) == row)
            .map(|(i, _)| i)
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
    }
    // The sender has no RSS set: no hash.
    send(
        &host,
        b,
        &[tcp4(address(&host, a), address(&host, b), V4[0].1, V4[0].0, 0)],
    );
    assert_eq!(host.take_received_with_info(a)[0].info.hash, (0, 0));
    finish(host, &[a, b]);
}

#[test]
fn more_processors_than_queues_use_the_first_ones_named() {
    let (host, a, b) = pair(8, Mode::Deterministic, &[("*NumRSSQueues", "2")]);
    // The table names processors 5, 6, 7, 4, ...: 5 and 6 get the two queues.
    let table: Vec<u8> = (0..128u8).map(|i| 4 + (i + 1) % 4).collect();
    let set = host.oid_set(
        b,
        OID_GEN_RECEIVE_SCALE_PARAMETERS,
        &parameters(0, ALL_TYPES | 1, &table, &KEY),
    );
    assert_eq!(set.status, NDIS_STATUS_SUCCESS);
    send(&host, a, &flows(&host, a, b));
    let received = host.take_received_with_info(b);
    assert_eq!(received.len(), V4.len());
    for r in &received {
        assert!([5, 6].contains(&r.cpu), "processor {}", r.cpu);
    }
    finish(host, &[a, b]);
}

#[test]
fn disabling_rss_stops_the_hash_and_the_steering() {
    let (host, a, b) = pair(4, Mode::Deterministic, &[]);
    let on = parameters(0, ALL_TYPES | 1, &[3], &KEY);
    assert_eq!(
        host.oid_set(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, &on).status,
        NDIS_STATUS_SUCCESS
    );
    let frames = flows(&host, a, b);
    send(&host, a, &frames);
    assert!(
        host.take_received_with_info(b)
            .iter()
            .all(|r| r.cpu == 3 && r.info.hash.0 != 0)
    );
    for off in [
        parameters(NDIS_RSS_PARAM_FLAG_DISABLE_RSS, ALL_TYPES | 1, &[3], &KEY),
        parameters(0, ALL_TYPES, &[3], &KEY),
    ] {
        assert_eq!(
            host.oid_set(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, &off).status,
            NDIS_STATUS_SUCCESS
        );
        host.on_cpu(1, || send(&host, a, &frames));
        let received = host.take_received_with_info(b);
        assert_eq!(received.len(), V4.len());
        // The descriptors carried hashes before: none is left on them.
        assert!(
            received.iter().all(|r| r.info.hash == (0, 0)),
            "{:?}",
            received[0].info
        );
        assert!(
            received.iter().all(|r| r.cpu == 1),
            "indicated where the wire drains"
        );
        assert_eq!(
            host.oid_set(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, &on).status,
            NDIS_STATUS_SUCCESS
        );
    }
    finish(host, &[a, b]);
}

#[test]
fn bad_parameters_are_refused_and_leave_rss_as_it_was() {
    let (host, a, b) = pair(4, Mode::Deterministic, &[]);
    let good = parameters(0, ALL_TYPES | 1, &[2], &KEY);
    assert_eq!(
        host.oid_set(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, &good).status,
        NDIS_STATUS_SUCCESS
    );
    let mut wrong_type = good.clone();
    wrong_type[0] = NDIS_OBJECT_TYPE_DEFAULT;
    let cases: [(&str, Vec<u8>, NDIS_STATUS, u32); 7] = [
        ("empty", vec![], NDIS_STATUS_INVALID_LENGTH, 28),
        ("short", good[..20].to_vec(), NDIS_STATUS_INVALID_LENGTH, 40),
        ("header", wrong_type, NDIS_STATUS_INVALID_DATA, 0),
        (
            "no such processor",
            parameters(0, ALL_TYPES | 1, &[4], &KEY),
            NDIS_STATUS_INVALID_DATA,
            0,
        ),
        (
            "3 entries",
            parameters(0, ALL_TYPES | 1, &[0, 1, 2], &KEY),
            NDIS_STATUS_INVALID_DATA,
            0,
        ),
        (
            "20-byte key",
            parameters(0, ALL_TYPES | 1, &[0], &KEY[..20]),
            NDIS_STATUS_INVALID_DATA,
            0,
        ),
        (
            "UDP hash",
            parameters(0, 0x4000 | 1, &[0], &KEY),
            NDIS_STATUS_NOT_SUPPORTED,
            0,
        ),
    ];
    for (what, buffer, status, needed) in cases {
        let r = host.oid_set(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, &buffer);
        assert_eq!((r.status, r.bytes_needed), (status, needed), "{what}");
    }
    assert_eq!(
        host.oid_query(b, OID_GEN_RECEIVE_SCALE_PARAMETERS, 1024).status,
        NDIS_STATUS_NOT_SUPPORTED,
        "NDIS answers the query for miniports"
    );
    send(&host, a, &flows(&host, a, b));
    assert!(
        host.take_received_with_info(b).iter().all(|r| r.cpu == 2),
        "the refused sets changed nothing"
    );
    finish(host, &[a, b]);
}

#[test]
fn concurrent_traffic_through_the_queues_drains_at_pause_and_halt() {
    const ROUNDS: usize = 200;
    let (host, a, b) = pair(4, Mode::Concurrent, &[]);
    for x in [a, b] {
        let set = host.oid_set(
            x,
            OID_GEN_RECEIVE_SCALE_PARAMETERS,
            &parameters(0, ALL_TYPES | 1, &round_robin(4), &KEY),
        );
        assert_eq!(set.status, NDIS_STATUS_SUCCESS);
    }
    let to_b = flows(&host, a, b);
    let (ma, mb) = (address(&host, a), address(&host, b));
    let to_a: Vec<Vec<u8>> = V4
        .iter()
        .map(|(dst, src, _)| tcp4(ma, mb, *dst, *src, 0))
        .collect();
    host.parallel(4, |cpu| {
        let (from, frames) = if cpu % 2 == 0 { (a, &to_b) } else { (b, &to_a) };
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        for _ in 0..ROUNDS {
            let _ = host.send(from, &refs, SendOptions::default());
        }
    });
    // Each pause waits for every indication to come back, those still in a queue included, and
    // halt (in `finish`) closes the queues: the verifier sees no DPC outlive its adapter.
    for x in [a, b] {
        let status = host.pause(x);
        assert!(status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING);
    }
    let at_b = host.take_received_with_info(b);
    let at_a = host.take_received_with_info(a);
    // A frame that finds no free receive descriptor is dropped and counted, as on a NIC; a send
    // that finds its lanes full fails.
    let discarded = counter(&host, a, OID_GEN_RCV_DISCARDS) + counter(&host, b, OID_GEN_RCV_DISCARDS);
    let failed: u64 = [a, b]
        .iter()
        .flat_map(|x| host.take_completions(*x))
        .filter(|c| c.status != NDIS_STATUS_SUCCESS)
        .map(|c| c.frame_count())
        .sum();
    let received = at_a.len() + at_b.len();
    assert_eq!(
        received as u64 + discarded + failed,
        (4 * ROUNDS * V4.len()) as u64,
        "every frame arrived, or was counted as a receive discard or a failed send"
    );
    assert!(!at_a.is_empty() && !at_b.is_empty());
    for r in at_b.iter().chain(&at_a) {
        assert_eq!(
            r.cpu,
            (r.info.hash.0 as usize & 127) % 4,
            "on its entry's processor"
        );
    }
    finish(host, &[a, b]);
}
