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

/// What installation needs: every referenced section, files that agree, no conflicting or
/// repeated directive. Each planted mistake is reported with its line.
#[test]
fn installation_needs_are_checked() {
    let cases = [
        // Missing source-disk sections.
        (
            "[SourceDisksNames]\r\n1 = %DiskDescription%,,,\"\"\r\n",
            "",
            "no [SourceDisksNames]",
        ),
        (
            "[SourceDisksFiles]\r\nrvnic.sys = 1,,\r\n",
            "",
            "no [SourceDisksFiles]",
        ),
        (
            "rvnic.sys = 1,,",
            "rvnic.sys = 2,,",
            "on disk \"2\", which [SourceDisksNames] does not define",
        ),
        // Files that disagree.
        (
            "[rvnic.CopyFiles]\r\nrvnic.sys,,,2",
            "[rvnic.CopyFiles]\r\nrvnic6.sys,,,2",
            "rvnic6.sys is copied but",
        ),
        (
            "[rvnic.CopyFiles]\r\nrvnic.sys,,,2",
            "[rvnic.CopyFiles]\r\nrvnic6.sys,,,2",
            "ServiceBinary %13%\\rvnic.sys names rvnic.sys, which no CopyFiles",
        ),
        (
            "rvnic.sys = 1,,",
            "rvnic.sys = 1,,\r\nextra.dll = 1,,",
            "extra.dll is listed in [SourceDisksFiles] but no CopyFiles",
        ),
        // Referenced sections that do not exist.
        (
            "[rvnic.EventLog]\r\nAddReg = rvnic.EventLog.Reg",
            "[rvnic.EventLogX]\r\nAddReg = rvnic.EventLog.Reg",
            "event log section [rvnic.EventLog], which does not exist",
        ),
        (
            "AddReg         = rvnic.TextModeFlags.Reg",
            "AddReg         = rvnic.TextMode.Reg",
            "AddReg names [rvnic.TextMode.Reg], which does not exist",
        ),
        (
            "CopyFiles           = rvnic.CopyFiles",
            "CopyFiles           = rvnic.Copy",
            "CopyFiles names [rvnic.Copy], which does not exist",
        ),
        // A directive twice, with different values and with the same.
        (
            "ErrorControl   = 1 ; SERVICE_ERROR_NORMAL",
            "ErrorControl   = 1\r\nErrorControl   = 3",
            "ErrorControl is given twice in [rvnic.service] with different values",
        ),
        (
            "*IfType             = 6   ; IF_TYPE_ETHERNET_CSMACD",
            "*IfType             = 6\r\n*IfType = 0x6",
            "*IfType is given twice in [rvnic.ndi] (first on line",
        ),
        (
            "JumboPacket             = \"Jumbo Packet\"",
            "JumboPacket             = \"Jumbo Packet\"\r\nJumboPacket = \"Jumbo\"",
            "JumboPacket is given twice in [strings] with different values",
        ),
        (
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"100\"",
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"100\"\r\nHKR, Ndi\\params\\LinkSpeed, max, 0, \"40\"",
            "writes HKR\\Ndi\\params\\LinkSpeed\\max twice with different data",
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

/// Spellings Windows reads the same are accepted: numbers compare as numbers, flags may be hex,
/// enumeration entries may come in any order.
#[test]
fn equivalent_spellings_are_accepted() {
    let equivalents = [
        ("Characteristics     = 0x1", "Characteristics     = 1"),
        ("*IfType             = 6", "*IfType             = 0x6"),
        ("AddService = rvnic, 2,", "AddService = rvnic, 0x00000002,"),
        ("StartType      = 3", "StartType      = 0x3"),
        (
            "HKR, Ndi\\params\\*JumboPacket\\enum,     \"1514\",    0, %JumboDisabled%\r\nHKR, Ndi\\params\\*JumboPacket\\enum,     \"4088\",    0, %Jumbo4088%",
            "HKR, Ndi\\params\\*JumboPacket\\enum,     \"4088\",    0, %Jumbo4088%\r\nHKR, Ndi\\params\\*JumboPacket\\enum,     \"1514\",    0, %JumboDisabled%",
        ),
        (
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"100\"",
            "HKR, Ndi\\params\\LinkSpeed,             max,       0, \"0x64\"",
        ),
    ];
    for (from, to) in equivalents {
        assert_eq!(
            problems(&planted(from, to)),
            Vec::<String>::new(),
            "{to:?} means the same as {from:?}"
        );
    }
}

#[test]
fn encodings_windows_misreads_get_a_message_that_says_so() {
    let utf16_no_bom: Vec<u8> = INX.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(
        decode(&utf16_no_bom)
            .unwrap_err()
            .contains("UTF-16LE without a byte-order mark")
    );
    let utf16be_no_bom: Vec<u8> = INX.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert!(
        decode(&utf16be_no_bom)
            .unwrap_err()
            .contains("UTF-16BE without a byte-order mark")
    );
    let lone_cr = INX.replace("\r\n", "\r");
    assert!(
        decode(lone_cr.as_bytes())
            .unwrap_err()
            .contains("line 1 ends with a lone CR")
    );
    let lf_only = INX.replace("\r\n", "\n");
    assert_eq!(decode(lf_only.as_bytes()).as_deref(), Ok(lf_only.as_str()));
}
