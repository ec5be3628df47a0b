//! `OID_GEN_RECEIVE_SCALE_PARAMETERS` parsing: every refusal the page and the structure allow, and
//! the spreading of the indirection table over the queues.
#![allow(
    clippy::cast_possible_truncation,
    reason = "test buffers of a few hundred bytes: their offsets and sizes fit their fields"
)]

use super::*;

/// The key of "Verifying the RSS Hash Calculation".
const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0,
    0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42,
    0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// A revision 2 request: header, flags, hash information, the table of `cpus` (processor
/// numbers of group 0) and the key, in that order after the structure.
fn request(flags: u16, hash_information: u32, cpus: &[u8], key: &[u8]) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2);
    let table_offset = size;
    let key_offset = size + cpus.len() * 4;
    let mut b = vec![0u8; key_offset + key.len()];
    b[0] = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
    b[1] = NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2;
    b[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    b[4..6].copy_from_slice(&flags.to_le_bytes());
    b[8..12].copy_from_slice(&hash_information.to_le_bytes());
    b[12..14].copy_from_slice(&((cpus.len() * 4) as u16).to_le_bytes());
    b[16..20].copy_from_slice(&(table_offset as u32).to_le_bytes());
    b[20..22].copy_from_slice(&(key.len() as u16).to_le_bytes());
    b[24..28].copy_from_slice(&(key_offset as u32).to_le_bytes());
    for (i, cpu) in cpus.iter().enumerate() {
        b[table_offset + i * 4 + 2] = *cpu;
    }
    b[key_offset..].copy_from_slice(key);
    b
}

const ALL: u32 = HASH_TYPES | NdisHashFunctionToeplitz;

/// Processors 0 to 7 exist.
fn eight(n: PROCESSOR_NUMBER) -> bool {
    n.Group == 0 && n.Number < 8
}

fn set(buffer: &[u8], queues: usize) -> Result<(usize, Scaling), Refused> {
    apply_parameters(&Scaling::OFF, buffer, queues, eight)
}

#[test]
fn a_table_of_as_many_processors_as_queues_gives_each_its_own_queue() {
    let b = request(0, ALL, &[2, 3, 2, 3], &KEY);
    let (read, s) = set(&b, 4).expect("valid");
    assert_eq!(read, b.len());
    assert!(s.is_on());
    assert_eq!((s.entries, s.queues, s.key), (4, 2, KEY));
    assert_eq!(&s.table[..4], &[0, 1, 0, 1]);
    assert_eq!((s.processors[0].Number, s.processors[1].Number), (2, 3));
    assert_eq!(s.queue_of(0x1234_5677), 1, "entry 3 of 4");
    assert_eq!(s.queue_of(0), 0, "no hash: entry 0");
}

#[test]
fn more_processors_than_queues_share_the_first_ones_queues() {
    let b = request(0, ALL, &[0, 1, 2, 3, 4, 5, 6, 7], &KEY);
    let (_, s) = set(&b, 3).expect("valid");
    assert_eq!(s.queues, 3);
    assert_eq!(&s.table[..8], &[0, 1, 2, 0, 1, 2, 0, 1]);
    assert_eq!(
        s.processors[..3].iter().map(|p| p.Number).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn disabling_by_flag_or_by_a_zero_hash_function_turns_rss_off() {
    let (_, on) = set(&request(0, ALL, &[1], &KEY), 4).expect("valid");
    for b in [
        request(NDIS_RSS_PARAM_FLAG_DISABLE_RSS, ALL, &[1], &KEY),
        request(0, HASH_TYPES, &[1], &KEY),
        // With DISABLE_RSS the rest is ignored, even nonsense.
        request(NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 0xdead_beef, &[9, 9, 9], &[1]),
    ] {
        let (_, s) = apply_parameters(&on, &b, 4, eight).expect("disabling always succeeds");
        assert!(!s.is_on());
        assert_eq!(s.hash(&[0; 64]), (0, 0));
    }
}

#[test]
fn unchanged_flags_keep_the_current_parts() {
    let (_, on) = set(&request(0, ALL, &[1, 2], &KEY), 4).expect("valid");
    let unchanged = NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED
        | NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED
        | NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED;
    // The parts the flags call unchanged are not even read: an empty table and key pass.
    let b = request(unchanged, ALL, &[], &[]);
    let (_, s) = apply_parameters(&on, &b, 4, eight).expect("valid");
    assert_eq!(s, on);
    let b = request(NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED, ALL, &[5], &[]);
    let (_, s) = apply_parameters(&on, &b, 4, eight).expect("a new table, the same key");
    assert_eq!((s.key, s.entries, s.processors[0].Number), (KEY, 1, 5));
}

#[test]
fn every_malformed_request_is_refused_with_its_status() {
    let good = request(0, ALL, &[1, 2], &KEY);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: [(&str, Vec<u8>, Refused); 13] = [
        ("empty", vec![], (NDIS_STATUS_INVALID_LENGTH, 28)),
        (
            "no structure",
            good[..30].to_vec(),
            (NDIS_STATUS_INVALID_LENGTH, 40),
        ),
        (
            "type",
            with(&|b| b[0] = NDIS_OBJECT_TYPE_DEFAULT),
            (NDIS_STATUS_INVALID_DATA, 0),
        ),
        ("revision 0", with(&|b| b[1] = 0), (NDIS_STATUS_INVALID_DATA, 0)),
        ("size", with(&|b| b[2] = 20), (NDIS_STATUS_INVALID_DATA, 0)),
        (
            "function",
            request(0, HASH_TYPES | 2, &[1], &KEY),
            (NDIS_STATUS_NOT_SUPPORTED, 0),
        ),
        (
            "type not offered",
            request(0, ALL | 0x800, &[1], &KEY),
            (NDIS_STATUS_NOT_SUPPORTED, 0),
        ),
        (
            "no type",
            request(0, NdisHashFunctionToeplitz, &[1], &KEY),
            (NDIS_STATUS_NOT_SUPPORTED, 0),
        ),
        (
            "short key",
            request(0, ALL, &[1], &KEY[..16]),
            (NDIS_STATUS_INVALID_DATA, 0),
        ),
        (
            "3 entries",
            request(0, ALL, &[1, 2, 3], &KEY),
            (NDIS_STATUS_INVALID_DATA, 0),
        ),
        (
            "no processor 8",
            request(0, ALL, &[1, 8], &KEY),
            (NDIS_STATUS_INVALID_DATA, 0),
        ),
        (
            "key past the end: BytesNeeded covers it",
            good[..good.len() - 41].to_vec(),
            (NDIS_STATUS_INVALID_LENGTH, 88),
        ),
        (
            "table inside the structure",
            with(&|b| b[16..20].copy_from_slice(&8u32.to_le_bytes())),
            (NDIS_STATUS_INVALID_DATA, 0),
        ),
    ];
    for (what, b, refused) in cases {
        assert_eq!(set(&b, 4).map(|_| ()), Err(refused), "{what}");
    }
    let too_big = request(0, ALL, &[1; 256], &KEY);
    assert_eq!(
        set(&too_big, 4).map(|_| ()),
        Err((NDIS_STATUS_INVALID_DATA, 0)),
        "256 entries"
    );
}

#[test]
fn the_capabilities_offer_toeplitz_over_tcp_and_the_queues() {
    let c = capabilities(4);
    assert_eq!(
        c.CapabilitiesFlags & NDIS_HASH_FUNCTION_MASK,
        NdisHashFunctionToeplitz
    );
    assert_ne!(c.CapabilitiesFlags & NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4, 0);
    assert_ne!(c.CapabilitiesFlags & NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6, 0);
    assert_eq!((c.NumberOfReceiveQueues, c.NumberOfInterruptMessages), (4, 4));
    assert_eq!(usize::from(c.NumberOfIndirectionTableEntries), TABLE_ENTRIES);
}
