//! The real INF passes; each planted mistake is caught with a message that names it.

use super::*;

const INX: &str = include_str!("../../../../inf/rvnic.inx");

fn problems(text: &str) -> Vec<String> {
    check(&Inf::parse(text).expect("parses"), &Imports::Declared)
}

/// The INF with `from` replaced by `to` (which must occur).
fn planted(from: &str, to: &str) -> String {
    assert!(INX.contains(from), "the INF has no {from:?}");
    INX.replacen(from, to, 1)
}

#[test]
fn the_shipped_inf_passes_in_utf8_and_in_utf16le() {
    assert_eq!(problems(INX), Vec::<String>::new());
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(INX.encode_utf16().flat_map(u16::to_le_bytes));
    let decoded = decode(&utf16).expect("UTF-16LE with BOM");
    assert_eq!(problems(&decoded), Vec::<String>::new());
    let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
    utf8_bom.extend(INX.as_bytes());
    assert_eq!(decode(&utf8_bom).as_deref(), Ok(INX));
}

#[test]
fn bad_encodings_and_syntax_are_refused() {
    assert!(decode(&[0xFE, 0xFF, 0, 0x41]).unwrap_err().contains("UTF-16BE"));
    assert!(decode(&[0xFF, 0xFE, 0x41]).unwrap_err().contains("odd number"));
    assert!(decode(&[0xC3, 0x28]).unwrap_err().contains("neither"));
    assert!(Inf::parse("[Version\nClass=Net").unwrap_err().contains("line 1"));
    assert!(
        Inf::parse("Class=Net")
            .unwrap_err()
            .contains("before any section")
    );
    assert!(
        Inf::parse("[Version]\nClass=Net \\")
            .unwrap_err()
            .contains("continuation")
    );
}

#[test]
fn parsing_follows_inf_rules() {
    let inf = Inf::parse(
        "[A] ; comment\nkey = \"a;b\", \"say \"\"hi\"\"\" ; trailing\nHKR, x, \\\n  y, 0, %S%\n[Strings]\nS = \"str\"\n",
    )
    .expect("parses");
    let a = inf.section("a").expect("case-insensitive section");
    assert_eq!(a[0].fields, ["a;b", "say \"hi\""]);
    assert_eq!(a[1].fields, ["HKR", "x", "y", "0", "%S%"]);
    assert_eq!(inf.substitute("%S% %13%\\x %%", 1), Ok("str %13%\\x %".into()));
    assert!(inf.substitute("%Nope%", 7).unwrap_err().contains("line 7"));
}

#[test]
fn each_structural_mistake_is_caught() {
    let cases = [
        (
            "Class       = Net",
            "Class       = Display",
            "Class is \"Display\"",
        ),
        (
            NET_CLASS_GUID,
            "{4d36e968-e325-11ce-bfc1-08002be10318}",
            "ClassGUID",
        ),
        ("PnpLockdown = 1", "PnpLockdown = 0", "PnpLockdown"),
        (
            "Characteristics     = 0x1",
            "Characteristics     = 0x84",
            "Characteristics is \"0x84\"",
        ),
        ("*IfType             = 6", "*IfType             = 71", "*IfType"),
        (
            "*MediaType          = 0",
            "*MediaType          = 16",
            "*MediaType",
        ),
        (
            "*PhysicalMediaType  = 14",
            "*PhysicalMediaType  = 0",
            "*PhysicalMediaType",
        ),
        (
            "*HardwareLoopback   = 0",
            "NumberOfInterfaces = 1",
            "NumberOfInterfaces",
        ),
        (
            r"rvnic.ndi, root\rvnic",
            r"rvnic.ndi, root\netvmini",
            r"root\rvnic",
        ),
        ("StartType      = 3", "StartType      = 2", "StartType"),
        (
            "LoadOrderGroup = NDIS",
            "LoadOrderGroup = PNP_TDI",
            "LoadOrderGroup",
        ),
        (r"%13%\rvnic.sys", r"%12%\rvnic.sys", "ServiceBinary"),
        ("rvnic.CopyFiles = 13", "rvnic.CopyFiles = 12", "DIRID 12"),
        (
            "AddService = rvnic, 2,",
            "AddService = rvnic, 0,",
            "SPSVCINST_ASSOCSERVICE",
        ),
        (
            "UpperRange, 0, \"ndis5\"",
            "UpperRange, 0, \"ndis4\"",
            "upperrange",
        ),
        ("Provider    = %ProviderString%\r\n", "", "no Provider"),
        (
            "rvnic.DeviceDesc        = ",
            "rvnic.DeviceDescription = ",
            "rvnic.DeviceDesc% is not in [Strings]",
        ),
    ];
    for (from, to, expected) in cases {
        let found = problems(&planted(from, to));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "planting {to:?} should report {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn each_keyword_mismatch_with_the_driver_is_caught() {
    let cases = [
        // A keyword the driver reads is missing from the INF.
        (
            "HKR, Ndi\\params\\SegmentId,             ParamDesc, 0, %SegmentId%",
            "",
            "SegmentId ParamDesc is missing",
        ),
        // A property the driver does not read.
        (
            "HKR, Ndi\\params\\LinkSpeed,             ParamDesc",
            "HKR, Ndi\\params\\LinkSpeedy,            ParamDesc",
            "LinkSpeedy is not a keyword the driver reads",
        ),
        // Wrong default, range, step, type.
        (
            "HKR, Ndi\\params\\*ReceiveBuffers,       default,   0, \"256\"",
            "HKR, Ndi\\params\\*ReceiveBuffers,       default,   0, \"512\"",
            "*ReceiveBuffers default is \"512\"",
        ),
        (
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"100\"",
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"400\"",
            "LinkSpeed max is \"400\"",
        ),
        (
            "HKR, Ndi\\params\\SegmentId,             step,      0, \"1\"",
            "HKR, Ndi\\params\\SegmentId,             step,      0, \"2\"",
            "SegmentId step",
        ),
        (
            "HKR, Ndi\\params\\Topology,              type,      0, \"enum\"",
            "HKR, Ndi\\params\\Topology,              type,      0, \"int\"",
            "Topology type is \"int\"",
        ),
        // An enumeration value the driver refuses, and a changed display text.
        (
            "HKR, Ndi\\params\\*JumboPacket\\enum,     \"4088\"",
            "HKR, Ndi\\params\\*JumboPacket\\enum,     \"4096\"",
            "*JumboPacket enumeration",
        ),
        (
            "TopologyHub             = \"Hub\"",
            "TopologyHub             = \"Switch\"",
            "Topology enumeration",
        ),
        (
            "LinkSpeed               = \"Link Speed (Gbit/s)\"",
            "LinkSpeed               = \"Speed\"",
            "LinkSpeed ParamDesc is \"Speed\"",
        ),
        (
            "HKR, Ndi\\params\\NetworkAddress,        LimitText, 0, \"12\"",
            "HKR, Ndi\\params\\NetworkAddress,        LimitText, 0, \"17\"",
            "NetworkAddress LimitText",
        ),
    ];
    for (from, to, expected) in cases {
        let found = problems(&planted(from, to));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "planting {to:?} should report {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn a_target_os_older_than_the_newest_import_is_refused() {
    // Windows 10 1709 (16299) installs the package but lacks ExAllocatePool2 (2004, 19041).
    let old = INX.replace("NT$ARCH$.10.0...19041", "NT$ARCH$.10.0...16299");
    let found = problems(&old);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("ExAllocatePool2") && found[0].contains("19041"),
        "{}",
        found[0]
    );
    // Judged by an image's imports, only what it really imports counts.
    let ndis_only = Imports::Image(vec![("ndis.sys".into(), "NdisMPauseComplete".into())]);
    assert!(check(&Inf::parse(&old).expect("parses"), &ndis_only).is_empty());
    let pool2 = Imports::Image(vec![("ntoskrnl.exe".into(), "ExAllocatePool2".into())]);
    assert_eq!(check(&Inf::parse(&old).expect("parses"), &pool2).len(), 1);
}
