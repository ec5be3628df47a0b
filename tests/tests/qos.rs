//! NDIS QoS through the real driver on ndis-host: the capabilities follow `*QOS` (absent, 0, 1),
//! restart indicates the operational parameters, `OID_QOS_PARAMETERS` is a method whose input
//! comes back unmodified, bad parameters are refused, and a classification gives the sends it
//! matches their 802.1p priority on the wire.

use ndis::*;
use ndis_host::{Adapter, Host, OidRequest, SendOptions};
use rvnic_tests::{address, config, finish, loaded, set_filter};

/// `NDIS_QOS_PARAMETERS` with ETS and PFC (eight classes, bandwidth 12/13) and the classification
/// `elements` (condition, field, priority).
fn parameters(elements: &[(u16, u16, u16)]) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1);
    let mut b = vec![0u8; size + 16 * elements.len()];
    b[0] = NDIS_OBJECT_TYPE_QOS_PARAMETERS;
    b[1] = NDIS_QOS_PARAMETERS_REVISION_1;
    b[2..4].copy_from_slice(&NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1.to_le_bytes());
    let flags = NDIS_QOS_PARAMETERS_ETS_CONFIGURED
        | NDIS_QOS_PARAMETERS_PFC_CONFIGURED
        | NDIS_QOS_PARAMETERS_CLASSIFICATION_CONFIGURED;
    b[4..8].copy_from_slice(&flags.to_le_bytes());
    b[8..12].copy_from_slice(&8u32.to_le_bytes());
    for i in 0..8u8 {
        b[12 + usize::from(i)] = i;
        b[20 + usize::from(i)] = if i % 2 == 0 { 12 } else { 13 };
        b[28 + usize::from(i)] = NDIS_QOS_TSA_ETS;
    }
    let count = u32::try_from(elements.len()).unwrap();
    b[40..44].copy_from_slice(&count.to_le_bytes());
    b[44..48].copy_from_slice(&16u32.to_le_bytes());
    b[48..52].copy_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
    for (i, (condition, field, priority)) in elements.iter().enumerate() {
        let e = &mut b[size + 16 * i..size + 16 * (i + 1)];
        e[0] = NDIS_OBJECT_TYPE_QOS_CLASSIFICATION_ELEMENT;
        e[1] = NDIS_QOS_CLASSIFICATION_ELEMENT_REVISION_1;
        e[2..4].copy_from_slice(&16u16.to_le_bytes());
        e[8..10].copy_from_slice(&condition.to_le_bytes());
        e[10..12].copy_from_slice(&field.to_le_bytes());
        e[14..16].copy_from_slice(&priority.to_le_bytes());
    }
    b
}

fn provision(host: &Host, a: Adapter, input: Vec<u8>) -> ndis_host::OidResult {
    let output_len = input.len();
    host.oid(
        a,
        OidRequest::Method {
            oid: OID_QOS_PARAMETERS,
            method_id: 0,
            input,
            output_len,
        },
    )
}

/// The operational parameters indicated since the last call: each indication's element count.
fn operational(host: &Host, a: Adapter) -> Vec<u32> {
    host.take_status_indications(a)
        .into_iter()
        .filter(|s| s.code == NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE)
        .map(|s| {
            assert!(s.buffer.len() >= 52, "an NDIS_QOS_PARAMETERS");
            assert_eq!(s.buffer[0], NDIS_OBJECT_TYPE_QOS_PARAMETERS);
            u32::from_le_bytes(s.buffer[40..44].try_into().unwrap())
        })
        .collect()
}

/// A TCP/IPv4 frame from `from` to `to` with destination port `port`.
fn tcp(to: [u8; 6], from: [u8; 6], port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&to);
    f[6..12].copy_from_slice(&from);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[23] = 6;
    f[36..38].copy_from_slice(&port.to_be_bytes());
    f[46] = 0x50;
    f
}

#[test]
fn the_capabilities_follow_the_keyword() {
    let host = loaded(Host::builder().build());
    let caps = |keywords: &[(&str, &str)]| {
        let a = host.start_adapter(config(keywords)).expect("starts");
        host.qos_capabilities(a)
            .map(|(hw, current)| (hw.MaxNumTrafficClasses, current.MaxNumTrafficClasses))
    };
    assert_eq!(caps(&[]), None, "no *QOS: no capabilities at all");
    assert_eq!(caps(&[("*QOS", "1")]), Some((8, 8)));
    assert_eq!(
        caps(&[("*QOS", "0")]),
        Some((8, 0)),
        "disabled: reported, none current"
    );
    let adapters: Vec<Adapter> = (0..3).map(Adapter).collect();
    finish(host, &adapters);
}

#[test]
fn a_classification_gives_matching_sends_their_priority_on_the_wire() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host
        .start_adapter(config(&[("Topology", "1"), ("*QOS", "1")]))
        .expect("a");
    let b = host.start_adapter(config(&[("Topology", "1")])).expect("b");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    assert_eq!(
        operational(&host, a),
        [0],
        "restart indicates the operational parameters"
    );
    assert!(operational(&host, b).is_empty(), "no *QOS, no QoS indications");
    let input = parameters(&[
        (NDIS_QOS_CONDITION_TCP_PORT, 3260, 4),
        (NDIS_QOS_CONDITION_DEFAULT, 0, 1),
    ]);
    let r = provision(&host, a, input.clone());
    assert_eq!(r.status, NDIS_STATUS_SUCCESS);
    assert_eq!((r.bytes_read, r.bytes_written), (84, 84));
    assert_eq!(r.data, input, "the parameters come back unmodified");
    assert_eq!(operational(&host, a), [2], "both rules enforced");
    let (ma, mb) = (address(&host, a), address(&host, b));
    let send = |bytes: &[u8], ieee8021q: (u8, u16)| {
        let options = SendOptions {
            ieee8021q,
            ..SendOptions::default()
        };
        host.send(a, &[bytes], options).expect("running");
        host.take_completions(a);
        let got = host.take_received_with_info(b);
        assert_eq!(got.len(), 1);
        got[0].info.ieee8021q
    };
    assert_eq!(send(&tcp(mb, ma, 3260), (0, 0)), (4, 0), "iSCSI's class");
    assert_eq!(send(&tcp(mb, ma, 80), (0, 0)), (1, 0), "the default class");
    assert_eq!(
        send(&tcp(mb, ma, 3260), (6, 0)),
        (6, 0),
        "an NBL's own priority stands"
    );
    // Without classification, the sends keep theirs (none).
    let none = parameters(&[]);
    assert_eq!(provision(&host, a, none).status, NDIS_STATUS_SUCCESS);
    assert_eq!(send(&tcp(mb, ma, 3260), (0, 0)), (0, 0));
    finish(host, &[a, b]);
}

#[test]
fn bad_parameters_are_refused_and_the_method_needs_qos_enabled() {
    let host = loaded(Host::builder().build());
    let on = host.start_adapter(config(&[("*QOS", "1")])).expect("on");
    let off = host.start_adapter(config(&[("*QOS", "0")])).expect("off");
    let good = parameters(&[(NDIS_QOS_CONDITION_ETHERTYPE, 0x8906, 3)]);
    let mut nine_classes = good.clone();
    nine_classes[8] = 9;
    let mut unknown = good.clone();
    unknown[60] = 9;
    let cases = [
        ("short", good[..30].to_vec(), NDIS_STATUS_INVALID_LENGTH, 52),
        ("nine classes", nine_classes, NDIS_STATUS_INVALID_PARAMETER, 0),
        ("unknown condition", unknown, NDIS_STATUS_INVALID_PARAMETER, 0),
        (
            "element cut off",
            good[..60].to_vec(),
            NDIS_STATUS_INVALID_LENGTH,
            68,
        ),
    ];
    for (what, input, status, needed) in cases {
        let r = provision(&host, on, input);
        assert_eq!((r.status, r.bytes_needed), (status, needed), "{what}");
    }
    assert_eq!(
        provision(&host, off, good.clone()).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        host.oid_set(on, OID_QOS_PARAMETERS, &good).status,
        NDIS_STATUS_NOT_SUPPORTED,
        "a method, not a set"
    );
    finish(host, &[on, off]);
}
