//! `OID_QOS_PARAMETERS` validation against `NDIS_QOS_PARAMETERS`' page, the classification of
//! frames, and the operational parameters the adapter indicates.
#![allow(
    clippy::cast_possible_truncation,
    reason = "test buffers of a few hundred bytes: their offsets and counts fit their fields"
)]

use super::*;

/// An element: condition, field, priority.
type Element = (u16, u16, u16);

/// An `NDIS_QOS_PARAMETERS` input with `flags`, eight classes mapped one to one, ETS bandwidths
/// `bandwidth` (TSA ETS where non-zero, strict where zero), PFC `pfc`, and `elements`.
fn input(flags: u32, bandwidth: [u8; 8], pfc: u32, elements: &[Element]) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1);
    let mut b = vec![0u8; size + 16 * elements.len()];
    b[0] = NDIS_OBJECT_TYPE_QOS_PARAMETERS;
    b[1] = NDIS_QOS_PARAMETERS_REVISION_1;
    b[2..4].copy_from_slice(&(size as u16).to_le_bytes());
    b[4..8].copy_from_slice(&flags.to_le_bytes());
    b[8..12].copy_from_slice(&8u32.to_le_bytes());
    for i in 0..8 {
        b[12 + i] = i as u8;
        b[20 + i] = bandwidth[i];
        b[28 + i] = if bandwidth[i] == 0 {
            NDIS_QOS_TSA_STRICT
        } else {
            NDIS_QOS_TSA_ETS
        };
    }
    b[36..40].copy_from_slice(&pfc.to_le_bytes());
    b[40..44].copy_from_slice(&(elements.len() as u32).to_le_bytes());
    b[44..48].copy_from_slice(&16u32.to_le_bytes());
    b[48..52].copy_from_slice(&(size as u32).to_le_bytes());
    for (i, (condition, field, priority)) in elements.iter().enumerate() {
        let e = &mut b[size + 16 * i..size + 16 * (i + 1)];
        e[0] = NDIS_OBJECT_TYPE_QOS_CLASSIFICATION_ELEMENT;
        e[1] = NDIS_QOS_CLASSIFICATION_ELEMENT_REVISION_1;
        e[2..4].copy_from_slice(&16u16.to_le_bytes());
        e[8..10].copy_from_slice(&condition.to_le_bytes());
        e[10..12].copy_from_slice(&field.to_le_bytes());
        e[12..14].copy_from_slice(&NDIS_QOS_ACTION_PRIORITY.to_le_bytes());
        e[14..16].copy_from_slice(&priority.to_le_bytes());
    }
    b
}

const ALL: u32 = NDIS_QOS_PARAMETERS_ETS_CONFIGURED
    | NDIS_QOS_PARAMETERS_PFC_CONFIGURED
    | NDIS_QOS_PARAMETERS_CLASSIFICATION_CONFIGURED;
const EVEN: [u8; 8] = [12, 13, 12, 13, 12, 13, 12, 13];

/// An Ethernet frame of EtherType `ethertype` whose IPv4 packet (if 0x0800) is `protocol` to
/// destination port `port`.
fn frame(ethertype: u16, protocol: u8, port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    f[14] = 0x45;
    f[23] = protocol;
    f[36..38].copy_from_slice(&port.to_be_bytes());
    f
}

#[test]
fn parameters_configure_ets_pfc_and_the_rules_the_wire_applies() {
    let elements = [
        (NDIS_QOS_CONDITION_TCP_PORT, 3260, 4),
        (NDIS_QOS_CONDITION_UDP_PORT, 5000, 2),
        (NDIS_QOS_CONDITION_ETHERTYPE, 0x8906, 3),
        (NDIS_QOS_CONDITION_DEFAULT, 0, 1),
        (NDIS_QOS_CONDITION_NETDIRECT_PORT, 445, 5),
    ];
    let q = apply_parameters(&input(ALL, EVEN, 0b1000, &elements)).expect("valid");
    assert_eq!(q.parameters.NumTrafficClasses, 8);
    assert_eq!(q.parameters.PfcEnable, 0b1000);
    assert_eq!(
        q.classes.rules().len(),
        4,
        "NetworkDirect is valid and not enforced"
    );
    assert_eq!(q.classes.priority(&frame(0x0800, 6, 3260)), Some(4), "iSCSI");
    assert_eq!(q.classes.priority(&frame(0x0800, 17, 5000)), Some(2));
    assert_eq!(
        q.classes.priority(&frame(0x0800, 17, 3260)),
        Some(1),
        "UDP is not TCP: default"
    );
    assert_eq!(q.classes.priority(&frame(0x8906, 0, 0)), Some(3), "FCoE");
    let mut tagged = frame(0x0800, 6, 3260);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
    assert_eq!(q.classes.priority(&tagged), Some(4), "after a tag in the bytes");
    let mut fragment = frame(0x0800, 6, 3260);
    fragment[20] = 0x20;
    assert_eq!(q.classes.priority(&fragment), Some(1), "a fragment has no ports");
    let op = q.operational();
    assert_eq!(op.parameters.NumClassificationElements, 4);
    assert_eq!(op.parameters.FirstClassificationElementOffset, 52);
    assert_eq!(op.parameters.Flags & ALL, ALL);
    assert!(
        op.elements[..4]
            .iter()
            .all(|e| e.Flags == NDIS_QOS_CLASSIFICATION_ENFORCED_BY_MINIPORT)
    );
    assert_eq!(
        (op.elements[0].ConditionField, op.elements[0].ActionField),
        (3260, 4)
    );
}

#[test]
fn no_classification_leaves_the_priorities_alone() {
    let q = apply_parameters(&input(
        ALL & !NDIS_QOS_PARAMETERS_CLASSIFICATION_CONFIGURED,
        EVEN,
        0,
        &[(NDIS_QOS_CONDITION_DEFAULT, 0, 6)],
    ))
    .expect("valid");
    assert!(!q.classes.is_active());
    assert_eq!(q.classes.priority(&frame(0x0800, 6, 80)), None);
    let q = apply_parameters(&input(0, [0; 8], 0, &[])).expect("nothing configured is valid");
    assert_eq!(q.operational().parameters.NumClassificationElements, 0);
}

#[test]
fn every_invalid_parameter_is_refused_with_its_status() {
    let good = input(ALL, EVEN, 0, &[(NDIS_QOS_CONDITION_TCP_PORT, 80, 1)]);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let invalid = (NDIS_STATUS_INVALID_PARAMETER, 0);
    let cases: [(&str, Vec<u8>, Refused); 14] = [
        ("short", good[..40].to_vec(), (NDIS_STATUS_INVALID_LENGTH, 52)),
        ("type", with(&|b| b[0] = 0), invalid),
        ("size", with(&|b| b[2] = 40), invalid),
        ("nine classes", with(&|b| b[8] = 9), invalid),
        ("no class", with(&|b| b[8] = 0), invalid),
        ("priority to class 8", with(&|b| b[15] = 8), invalid),
        (
            "bandwidth 99",
            input(ALL, [12, 13, 12, 13, 12, 13, 12, 12], 0, &[]),
            invalid,
        ),
        (
            "bandwidth on strict",
            with(&|b| b[28] = NDIS_QOS_TSA_STRICT),
            invalid,
        ),
        ("unknown TSA", with(&|b| b[29] = 7), invalid),
        ("PFC reserved bits", input(ALL, EVEN, 0x100, &[]), invalid),
        (
            "element past the end",
            good[..60].to_vec(),
            (NDIS_STATUS_INVALID_LENGTH, 68),
        ),
        ("element size", with(&|b| b[44] = 8), invalid),
        (
            "priority 8",
            input(ALL, EVEN, 0, &[(NDIS_QOS_CONDITION_TCP_PORT, 80, 8)]),
            invalid,
        ),
        ("unknown condition", input(ALL, EVEN, 0, &[(9, 80, 1)]), invalid),
    ];
    for (what, b, refused) in cases {
        assert_eq!(apply_parameters(&b).map(|_| ()), Err(refused), "{what}");
    }
}

#[test]
fn capabilities_are_all_or_nothing_with_the_keyword() {
    let on = capabilities(true);
    assert_eq!(
        (
            on.MaxNumTrafficClasses,
            on.MaxNumEtsCapableTrafficClasses,
            on.MaxNumPfcEnabledTrafficClasses
        ),
        (8, 8, 8)
    );
    assert_eq!(capabilities(false).MaxNumTrafficClasses, 0);
}
