//! `rvnic oid`: status and byte counts exactly as the driver returns them, decoded values, and
//! precise refusals of bad input.

use std::process::Command;

fn rvnic(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(args)
        .output()
        .expect("run the rvnic binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn queries_and_sets_print_status_bytes_and_the_decoded_value() {
    let (ok, out, _) = rvnic(&["oid", "query", "OID_GEN_LINK_SPEED_EX", "--set", "LinkSpeed=25"]);
    assert!(ok, "{out}");
    assert!(out.contains("status:  NDIS_STATUS_SUCCESS"), "{out}");
    assert!(out.contains("written 16, needed 0"), "{out}");
    assert!(out.contains("transmit 25000000000 bit/s"), "{out}");

    let (ok, out, _) = rvnic(&["oid", "set", "OID_GEN_CURRENT_PACKET_FILTER", "0x0b"]);
    assert!(ok, "{out}");
    assert!(out.contains("read 4, needed 0"), "{out}");
    assert!(
        out.contains("now:     0x000b (DIRECTED | MULTICAST | BROADCAST)"),
        "{out}"
    );

    let (ok, out, _) = rvnic(&["oid", "query", "0x00020106", "--buffer", "10"]);
    assert!(!ok, "a refused request exits non-zero");
    assert!(out.contains("NDIS_STATUS_BUFFER_TOO_SHORT"), "{out}");
    assert!(out.contains("written 0, needed 152"), "{out}");

    let (ok, out, _) = rvnic(&["oid", "set", "OID_GEN_CURRENT_PACKET_FILTER", "0x8000"]);
    assert!(!ok);
    assert!(out.contains("NDIS_STATUS_NOT_SUPPORTED"), "{out}");
}

#[test]
fn bad_oids_and_values_are_refused_before_the_driver_loads() {
    for (args, expected) in [
        (
            &["oid", "query", "OID_GEN_LINK_SPEEDY"][..],
            "did you mean OID_GEN_LINK_SPEED",
        ),
        (
            &["oid", "set", "OID_GEN_CURRENT_PACKET_FILTER", "fast"][..],
            "not a number",
        ),
        (
            &["oid", "set", "OID_GEN_CURRENT_PACKET_FILTER", "0x1ffffffff"][..],
            "does not fit in 4 bytes",
        ),
        (
            &["oid", "set", "OID_802_3_MULTICAST_LIST", "01-00-5e-00-00"][..],
            "is not a MAC address",
        ),
        (
            &["oid", "query", "OID_GEN_MAC_OPTIONS", "--set", "Colour=blue"][..],
            "unknown keyword",
        ),
    ] {
        let (ok, out, err) = rvnic(args);
        assert!(!ok, "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

/// Text that is not ASCII where hex digits belong is refused with one line, never a panic.
#[test]
fn non_ascii_values_are_refused_not_panicked_on() {
    let (ok, out, err) = rvnic(&["oid", "set", "OID_802_3_MULTICAST_LIST", "hex:aéb"]);
    assert!(!ok, "{out}");
    assert!(err.contains("'é' at position 1 is not a hex digit"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `oid` reports a keyword the driver refuses, as every command does.
#[test]
fn a_refused_keyword_is_reported() {
    let (ok, out, err) = rvnic(&[
        "oid",
        "query",
        "OID_GEN_MAXIMUM_FRAME_SIZE",
        "--set",
        "*JumboPacket=99999",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        err.contains(
            "the driver refuses *JumboPacket (99999 is not one of 1514, 4088, 9014) and uses 1514 instead"
        ),
        "{err}"
    );
    assert!(out.contains("value:   1500"), "{out}");
}
