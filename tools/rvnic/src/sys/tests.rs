use std::path::Path;

use super::testimage::{Image, Import};
use super::{DEFAULT_LIB_DIR, Exports, check};

fn exports() -> Exports {
    Exports::from_lists([
        (
            "ntoskrnl.exe",
            &["KeBugCheckEx", "KeGetCurrentIrql", "DbgPrint"][..],
        ),
        ("ndis.sys", &["NdisMRegisterMiniportDriver"][..]),
        ("hal.dll", &["KeStallExecutionProcessor"][..]),
    ])
}

/// The rules broken by an image: exactly one each, for each deliberate mistake below.
fn rules(image: &Image) -> Vec<&'static str> {
    check(&image.build(), &exports())
        .into_iter()
        .map(|v| v.rule)
        .collect()
}

#[test]
fn a_well_formed_driver_image_passes() {
    let violations = check(&Image::driver().build(), &exports());
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn each_mistake_is_reported_once_under_its_own_rule() {
    type Mistake = Box<dyn Fn(&mut Image)>;
    let cases: Vec<(&str, Mistake)> = vec![
        ("dll", Box::new(|i| i.characteristics |= 0x2000)),
        ("subsystem", Box::new(|i| i.subsystem = 2)),
        ("machine", Box::new(|i| i.machine = 0xAA64)),
        ("nx", Box::new(|i| i.dll_characteristics &= !0x0100)),
        ("dynamic-base", Box::new(|i| i.dll_characteristics &= !0x0040)),
        ("wx-section", Box::new(|i| i.text_characteristics |= 0x8000_0000)),
        ("relocations", Box::new(|i| i.relocations = false)),
        ("entry", Box::new(|i| i.entry_in_data = true)),
        ("checksum", Box::new(|i| i.valid_checksum = false)),
        (
            "import-module",
            Box::new(|i| i.imports.push(("kernel32.dll", vec![Import::Name("Sleep")]))),
        ),
        // The trap from the kernel-build notes: KeGetCurrentIrql is an ntoskrnl export, not a HAL one.
        (
            "import-name",
            Box::new(|i| i.imports[2].1.push(Import::Name("KeGetCurrentIrql"))),
        ),
        (
            "import-ordinal",
            Box::new(|i| i.imports[1].1.push(Import::Ordinal(7))),
        ),
    ];
    for (rule, mistake) in cases {
        let mut image = Image::driver();
        mistake(&mut image);
        assert_eq!(rules(&image), vec![rule], "mistake for rule {rule}");
    }
}

#[test]
fn violations_name_the_culprit() {
    let mut image = Image::driver();
    image.imports[2].1.push(Import::Name("KeGetCurrentIrql"));
    let lines: Vec<String> = check(&image.build(), &exports())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        ["import-name: hal.dll!KeGetCurrentIrql is not an export of hal.dll"]
    );
}

#[test]
fn garbage_and_non_pe_files_are_rejected_not_panicked_on() {
    assert_eq!(check(b"not an image at all", &exports())[0].rule, "format");
    let mut truncated = Image::driver().build();
    truncated.truncate(300);
    assert_eq!(check(&truncated, &exports())[0].rule, "format");
    assert_eq!(check(&[], &exports())[0].rule, "format");
}

#[test]
fn newer_exports_are_allowed_without_being_in_the_import_libraries() {
    // ExAllocatePool2 is in Image::driver()'s imports and not in `exports()`'s lists.
    assert!(check(&Image::driver().build(), &exports()).is_empty());
}

/// The export lists read from Debian's mingw-w64 import libraries. CI installs them before the tests
/// (see .ci/run); on a machine without them this says so and checks nothing else.
#[test]
fn mingw_import_libraries_give_real_export_lists() {
    let dir = Path::new(DEFAULT_LIB_DIR);
    if !dir.join("libndis.a").exists() {
        eprintln!("SKIPPED: {DEFAULT_LIB_DIR}/libndis.a missing (apt-get install mingw-w64-x86-64-dev)");
        return;
    }
    let exports = Exports::from_mingw(dir).expect("import libraries");
    assert!(exports.exports("ndis.sys", "NdisMRegisterMiniportDriver"));
    assert!(exports.exports("ndis.sys", "NdisAllocateGenericObject"));
    assert!(exports.exports("ntoskrnl.exe", "KeGetCurrentIrql"));
    assert!(!exports.exports("hal.dll", "KeGetCurrentIrql"));
    assert!(
        exports.exports("ntoskrnl.exe", "ExAllocatePool2"),
        "from NEWER_EXPORTS"
    );
    assert!(!exports.exports("ndis.sys", "NdisMRegisterMiniportDriverEx"));
    assert!(
        Exports::from_mingw(Path::new("/nonexistent"))
            .unwrap_err()
            .contains("mingw-w64-x86-64-dev")
    );
}

/// Every function the `ndis` crate declares, by the module its `link` attribute names: read from the
/// source, so a declaration nothing calls yet is checked too.
fn declared_imports() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helpers/ndis/src/functions.rs");
    let text = std::fs::read_to_string(&path).expect("ndis functions.rs");
    let mut module = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("link(name = \"").nth(1) {
            module = rest.split('"').next().map(str::to_string);
        }
        assert!(
            !(line.starts_with("unsafe extern") && module.is_none()),
            "an extern block in functions.rs has no link attribute"
        );
        if let (Some(m), Some(rest)) = (&module, line.strip_prefix("pub fn ")) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((m.clone(), name));
        }
        if line == "}" {
            module = None;
        }
    }
    out
}

#[test]
fn every_import_the_ndis_crate_declares_is_a_real_export_of_its_module() {
    let dir = Path::new(DEFAULT_LIB_DIR);
    if !dir.join("libndis.a").exists() {
        eprintln!("SKIPPED: {DEFAULT_LIB_DIR}/libndis.a missing (apt-get install mingw-w64-x86-64-dev)");
        return;
    }
    let exports = Exports::from_mingw(dir).expect("import libraries");
    let declared = declared_imports();
    assert!(declared.len() > 50, "parsed only {} declarations", declared.len());
    let wrong: Vec<_> = declared.iter().filter(|(m, n)| !exports.exports(m, n)).collect();
    assert!(
        wrong.is_empty(),
        "declared imports that are not exports of their module: {wrong:?}"
    );
}

/// Offsets in a [`Image::driver`] image: the PE header at 0x40, then COFF, optional header, data
/// directories and the section table (.text, .rdata, .data, .reloc).
mod at {
    pub const PE: usize = 0x40;
    pub const COFF: usize = PE + 4;
    pub const OPT: usize = COFF + 20;
    pub const DIRS: usize = OPT + 112;
    pub const SECTIONS: usize = OPT + 240;
    pub const fn section(i: usize) -> usize {
        SECTIONS + i * 40
    }
    pub const fn dir(i: usize) -> usize {
        DIRS + i * 8
    }
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
/// The file offset of `rva` (through the section table).
fn offset(b: &[u8], rva: u32) -> usize {
    (0..4)
        .map(at::section)
        .find(|&s| rva >= get32(b, s + 12) && rva < get32(b, s + 12) + get32(b, s + 16))
        .map(|s| (get32(b, s + 20) + rva - get32(b, s + 12)) as usize)
        .expect("rva in a section")
}
/// The offset of import descriptor `i` and of its module's first lookup-table entry.
fn descriptor(b: &[u8], i: usize) -> usize {
    offset(b, get32(b, at::dir(1))) + i * 20
}
fn lookup(b: &[u8], i: usize) -> usize {
    offset(b, get32(b, descriptor(b, i)))
}
fn reloc(b: &[u8]) -> usize {
    offset(b, get32(b, at::dir(5)))
}
fn pdata(b: &[u8]) -> usize {
    offset(b, get32(b, at::dir(3)))
}
/// Recomputes the checksum, so a planted defect is the only thing wrong.
fn reseal(b: &mut [u8]) {
    let sum = super::pe_checksum(b, at::OPT + 64);
    put32(b, at::OPT + 64, sum);
}

type Plant = Box<dyn Fn(&mut Vec<u8>)>;

/// Each loader rule refuses each of a family of planted defects, with a message naming it; a
/// structural defect is never blamed on the checksum (every image here is resealed).
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a table of planted defects, one row per loader rule"
)]
#[allow(clippy::if_not_else, reason = "the checksum rule is the exception")]
fn each_loader_rule_refuses_a_family_of_planted_defects() {
    let cases: Vec<(&str, &str, Plant)> = vec![
        ("format", "no MZ", Box::new(|b| b[0] = b'X')),
        ("format", "8-byte aligned", Box::new(|b| put32(b, 0x3c, 0x41))),
        (
            "format",
            "no PE signature",
            Box::new(|b| put32(b, 0x3c, 0x0fff_fff0)),
        ),
        ("format", "no PE signature", Box::new(|b| b[at::PE + 1] = b'X')),
        ("format", "not PE32+", Box::new(|b| put16(b, at::OPT, 0x10b))),
        (
            "format",
            "smaller than a PE32+",
            Box::new(|b| put16(b, at::COFF + 16, 100)),
        ),
        (
            "format",
            "inside the section table",
            Box::new(|b| b.truncate(at::section(2))),
        ),
        (
            "header",
            "NumberOfSections 0",
            Box::new(|b| put16(b, at::COFF + 2, 0)),
        ),
        (
            "header",
            "NumberOfSections 97",
            Box::new(|b| put16(b, at::COFF + 2, 97)),
        ),
        (
            "header",
            "FileAlignment 0x100",
            Box::new(|b| put32(b, at::OPT + 36, 0x100)),
        ),
        (
            "header",
            "FileAlignment 0x300",
            Box::new(|b| put32(b, at::OPT + 36, 0x300)),
        ),
        (
            "header",
            "SectionAlignment 0x100",
            Box::new(|b| put32(b, at::OPT + 32, 0x100)),
        ),
        (
            "header",
            "64 KiB",
            Box::new(|b| put64(b, at::OPT + 24, 0x1_4000_1000)),
        ),
        (
            "header",
            "more than 16",
            Box::new(|b| put32(b, at::OPT + 108, 17)),
        ),
        (
            "header",
            "does not match 15 data directories",
            Box::new(|b| put32(b, at::OPT + 108, 15)),
        ),
        (
            "header",
            "SizeOfHeaders 0x300",
            Box::new(|b| put32(b, at::OPT + 60, 0x300)),
        ),
        (
            "header",
            "SizeOfHeaders 0x10000",
            Box::new(|b| put32(b, at::OPT + 60, 0x1_0000)),
        ),
        (
            "header",
            "not a multiple of SectionAlignment",
            Box::new(|b| put32(b, at::OPT + 56, 0x5800)),
        ),
        (
            "header",
            "not where the last section ends",
            Box::new(|b| put32(b, at::OPT + 56, 0x7000)),
        ),
        (
            "section",
            ".rdata: VirtualAddress 0x2100 is not a multiple",
            Box::new(|b| put32(b, at::section(1) + 12, 0x2100)),
        ),
        (
            "section",
            ".rdata: VirtualAddress 0x1000 overlaps",
            Box::new(|b| put32(b, at::section(1) + 12, 0x1000)),
        ),
        (
            "section",
            ".rdata: VirtualAddress 0x2000 overlaps",
            Box::new(|b| put32(b, at::section(0) + 8, 0x1800)),
        ),
        (
            "section",
            "leaves a gap",
            Box::new(|b| {
                put32(b, at::section(3) + 12, 0x5000);
                put32(b, at::OPT + 56, 0x6000);
            }),
        ),
        (
            "section",
            "past SizeOfImage",
            Box::new(|b| put32(b, at::section(3) + 8, 0x2000)),
        ),
        (
            "section",
            "is not a FileAlignment multiple",
            Box::new(|b| {
                let raw = get32(b, at::section(2) + 20);
                put32(b, at::section(2) + 20, raw + 0x10);
            }),
        ),
        (
            "section",
            "truncated",
            Box::new(|b| {
                let len = b.len();
                b.truncate(len - 0x100);
            }),
        ),
        (
            "code-section",
            "holds code but is not executable",
            Box::new(|b| {
                let flags = get32(b, at::section(0) + 36);
                put32(b, at::section(0) + 36, flags & !0x2000_0000);
            }),
        ),
        (
            "code-section",
            "discardable",
            Box::new(|b| {
                let flags = get32(b, at::section(0) + 36);
                put32(b, at::section(0) + 36, flags | 0x0200_0000);
            }),
        ),
        (
            "directory",
            "runs past SizeOfImage",
            Box::new(|b| put32(b, at::dir(1), 0x9000)),
        ),
        (
            "directory",
            "one without the other",
            Box::new(|b| put32(b, at::dir(1) + 4, 0)),
        ),
        (
            "directory",
            "not inside one section",
            Box::new(|b| {
                put32(b, at::dir(1), 0x2ff0);
                put32(b, at::dir(1) + 4, 0x100);
            }),
        ),
        (
            "directory",
            "28-byte",
            Box::new(|b| {
                put32(b, at::dir(6), 0x2000);
                put32(b, at::dir(6) + 4, 27);
            }),
        ),
        (
            "directory",
            "past the end of the file",
            Box::new(|b| {
                put32(b, at::dir(4), 0x1_0000);
                put32(b, at::dir(4) + 4, 10);
            }),
        ),
        (
            "import-table",
            "module name",
            Box::new(|b| {
                let d = descriptor(b, 0);
                put32(b, d + 12, 0x9000);
            }),
        ),
        (
            "import-table",
            "no terminating null descriptor",
            Box::new(|b| put32(b, at::dir(1) + 4, 20)),
        ),
        (
            "import-table",
            "not 8-byte aligned",
            Box::new(|b| {
                let d = descriptor(b, 0);
                let iat = get32(b, d + 16);
                put32(b, d + 16, iat + 4);
            }),
        ),
        (
            "import-table",
            "is not a terminated string",
            Box::new(|b| {
                let l = lookup(b, 1);
                put64(b, l, 0x2ffe);
            }),
        ),
        (
            "import-table",
            "bits set beside the ordinal",
            Box::new(|b| {
                let l = lookup(b, 1);
                put64(b, l, 0x8000_0001_0000_0007);
            }),
        ),
        (
            "import-table",
            "neither an ordinal",
            Box::new(|b| {
                let l = lookup(b, 1);
                put64(b, l, 0x0000_0001_0000_0000);
            }),
        ),
        (
            "relocation-table",
            "not 4 KiB aligned",
            Box::new(|b| {
                let r = reloc(b);
                put32(b, r, 0x3004);
            }),
        ),
        (
            "relocation-table",
            "SizeOfBlock 6",
            Box::new(|b| {
                let r = reloc(b);
                put32(b, r + 4, 6);
            }),
        ),
        (
            "relocation-table",
            "runs past the directory",
            Box::new(|b| {
                let r = reloc(b);
                put32(b, r + 4, 0x100);
            }),
        ),
        (
            "relocation-table",
            "fixup type 3",
            Box::new(|b| {
                let r = reloc(b);
                put16(b, r + 8, 0x3000);
            }),
        ),
        (
            "relocation-table",
            "outside every section",
            Box::new(|b| {
                let r = reloc(b);
                put32(b, r, 0x5000);
            }),
        ),
        (
            "relocations",
            "IMAGE_FILE_RELOCS_STRIPPED",
            Box::new(|b| {
                let c = u16::from_le_bytes([b[at::COFF + 18], b[at::COFF + 19]]);
                put16(b, at::COFF + 18, c | 1);
            }),
        ),
        (
            "relocations",
            "no base relocation directory",
            Box::new(|b| {
                put32(b, at::dir(5), 0);
                put32(b, at::dir(5) + 4, 0);
            }),
        ),
        (
            "relocations",
            "applies no fixup",
            Box::new(|b| {
                let r = reloc(b);
                put16(b, r + 8, 0);
            }),
        ),
        (
            "exception-table",
            "multiple of 12",
            Box::new(|b| put32(b, at::dir(3) + 4, 13)),
        ),
        (
            "exception-table",
            "not a range of executable code",
            Box::new(|b| {
                let p = pdata(b);
                put32(b, p + 4, 0x1000);
            }),
        ),
        (
            "exception-table",
            "unwind information",
            Box::new(|b| {
                let p = pdata(b);
                put32(b, p + 8, 0x9000);
            }),
        ),
        (
            "checksum",
            "changed after linking",
            Box::new(|b| {
                let at = offset(b, 0x3000);
                b[at] ^= 1;
                let sum = get32(b, at::OPT + 64);
                put32(b, at::OPT + 64, sum);
            }),
        ),
    ];
    let clean = Image::driver().build();
    assert!(
        check(&clean, &exports()).is_empty(),
        "{:?}",
        check(&clean, &exports())
    );
    for (rule, says, plant) in cases {
        let mut image = clean.clone();
        plant(&mut image);
        if rule != "checksum" {
            if image.len() > at::OPT + 68 {
                reseal(&mut image);
            }
        } else {
            // The plant flips a byte after reading the stored sum: leave it stale.
        }
        let found = check(&image, &exports());
        assert!(
            found.iter().any(|v| v.rule == rule && v.detail.contains(says)),
            "planted {rule} ({says}) not reported: {found:?}"
        );
        if rule != "checksum" {
            assert!(
                !found.iter().any(|v| v.rule == "checksum"),
                "planted {rule} ({says}) was blamed on the checksum: {found:?}"
            );
        }
    }
}

#[test]
fn a_stack_frame_over_two_kib_is_refused_and_the_largest_is_reported() {
    let mut image = Image::driver();
    image.frame = Some(4096);
    let found = check(&image.build(), &exports());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].rule == "stack-frame" && found[0].detail.contains("4096-byte"),
        "{found:?}"
    );
    image.frame = Some(2048);
    assert!(check(&image.build(), &exports()).is_empty());
    assert_eq!(super::largest_frame(&image.build()), Ok(Some((2048, 0x1000))));
    image.frame = Some(40);
    assert_eq!(super::largest_frame(&image.build()), Ok(Some((40, 0x1000))));
    // Found by the check_sys fuzz target: sizes that overflow a 32-bit sum saturate.
    image.frame = Some(u32::MAX);
    assert_eq!(super::largest_frame(&image.build()), Ok(Some((u32::MAX, 0x1000))));
}

/// The shipped image, when CI built it: passes, and its largest frame is reported.
#[test]
fn the_built_kernel_image_passes_every_rule() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/x86_64-pc-windows-msvc/kernel/rvnic.sys");
    let Ok(data) = std::fs::read(&path) else {
        eprintln!(
            "SKIPPED: no {} (tools/cross/build-sys.sh builds it)",
            path.display()
        );
        return;
    };
    let found = check(&data, &exports_for_image(&data));
    assert!(found.is_empty(), "{found:?}");
    let (frame, _) = super::largest_frame(&data)
        .expect("unwind data")
        .expect("functions");
    assert!(frame <= super::MAX_FRAME, "largest frame {frame}");
}

/// An export list that knows every name the image imports (this test is about structure; the
/// import names are checked against the real lists elsewhere).
fn exports_for_image(data: &[u8]) -> Exports {
    let imports = super::imports(data).expect("imports");
    let mut lists: Vec<(String, Vec<&str>)> = Vec::new();
    for (m, n) in &imports {
        match lists.iter_mut().find(|(lm, _)| lm == m) {
            Some((_, names)) => names.push(n),
            None => lists.push((m.clone(), vec![n])),
        }
    }
    Exports::from_lists(lists.iter().map(|(m, n)| (m.as_str(), n.as_slice())))
}
