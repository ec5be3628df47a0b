//! Every host: the Windows-only WDK comparison (`tests/wdk_layout.rs`) cannot run here, so this
//! checks what can be checked without the WDK. `COMPARED` and `NOT_COMPARED` together name every
//! `pub struct`/`pub union` of the `ndis` crate exactly once, and the Windows test (`common/checks.rs`) has a `same!`
//! line for every name in `COMPARED` (and no other), so a structure added to `ndis` without a
//! WDK comparison fails on Linux CI already.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use ndis_wdk_layout::{COMPARED, NOT_COMPARED};

/// Names declared as `pub struct NAME` / `pub union NAME` in Rust source text.
fn declared(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start();
            let rest = rest
                .strip_prefix("pub struct ")
                .or_else(|| rest.strip_prefix("pub union "))?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// The `ndis::NAME` types the Windows test compares: the `=> NAME {` of each `same!(` line.
fn compared_by_windows_test(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("same!(")?;
            let (_, after) = rest.split_once("=> ")?;
            Some(after.split_whitespace().next()?.to_string())
        })
        .collect()
}

fn unique(names: impl IntoIterator<Item = String>, what: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for name in names {
        assert!(set.insert(name.clone()), "{name} is named twice in {what}");
    }
    set
}

#[test]
fn every_ndis_structure_is_compared_with_the_wdk_or_excused() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let mut in_ndis = Vec::new();
    for entry in fs::read_dir(&src).expect("read ndis/src") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            in_ndis.extend(declared(&fs::read_to_string(&path).expect("read a source file")));
        }
    }
    let in_ndis = unique(in_ndis, "ndis/src");
    let listed = unique(
        COMPARED
            .iter()
            .chain(NOT_COMPARED.iter().map(|(name, _)| name))
            .map(|n| n.to_string()),
        "COMPARED and NOT_COMPARED",
    );
    let unlisted: Vec<_> = in_ndis.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&in_ndis).collect();
    assert!(
        unlisted.is_empty(),
        "ndis structures in neither COMPARED nor NOT_COMPARED: {unlisted:?}"
    );
    assert!(stale.is_empty(), "listed but not declared in ndis/src: {stale:?}");
    for (name, why) in NOT_COMPARED {
        assert!(!why.trim().is_empty(), "{name} is not compared without a reason");
    }
}

#[test]
fn the_windows_test_compares_exactly_the_listed_types() {
    let test = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/checks.rs");
    let source = fs::read_to_string(test).expect("read tests/common/checks.rs");
    let in_test = unique(compared_by_windows_test(&source), "tests/common/checks.rs");
    let listed = unique(COMPARED.iter().map(|n| n.to_string()), "COMPARED");
    assert_eq!(
        in_test, listed,
        "tests/common/checks.rs and COMPARED must name the same types"
    );
}

#[test]
fn the_scanners_see_what_they_should() {
    // The two text scanners above, on planted input: a missed declaration or a `same!` line read
    // wrongly would make the real checks pass vacuously.
    let src = "pub struct A {\n    x: u8,\n}\n#[repr(C)]\npub union B_C { y: u8 }\nstruct Private;\n";
    assert_eq!(declared(src), ["A", "B_C"]);
    let test = "        same!(wdk::X => X { a, b, }),\n        same!(wdk_sys::Y => Y {}),\n// same as\n";
    assert_eq!(compared_by_windows_test(test), ["X", "Y"]);
}
