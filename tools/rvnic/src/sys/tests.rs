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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../miniport/ndis/src/functions.rs");
    let text = std::fs::read_to_string(&path).expect("ndis functions.rs");
    let mut module = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("link(name = \"").nth(1) {
            module = rest.split('"').next().map(str::to_string);
        }
        if line.starts_with("unsafe extern") && module.is_none() {
            panic!("an extern block in functions.rs has no link attribute");
        }
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
