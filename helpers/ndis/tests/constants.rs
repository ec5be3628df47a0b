//! Every constant of the `ndis` crate against clang's evaluation of the WDK headers
//! (`oracle/ndis-constants-x64.txt`), and the oracle copies against `../shared/` when it is present.

mod common;

use common::{constants, oracle_path};

#[test]
fn every_checked_constant_equals_the_oracle() {
    let oracle = constants();
    let mut errors = Vec::new();
    for (name, value) in ndis::ORACLE_CHECKED_CONSTANTS {
        match oracle.get(*name) {
            Some(expected) if expected == value => {}
            Some(expected) => errors.push(format!("{name} = {value:#x}, oracle says {expected:#x}")),
            None => errors.push(format!(
                "{name} is not in the oracle: move it to `documented` with a citation"
            )),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(
        ndis::ORACLE_CHECKED_CONSTANTS.len() > 300,
        "the table lost its entries"
    );
}

#[test]
fn documented_constants_are_really_absent_from_the_oracle_and_cite_a_source() {
    let oracle = constants();
    for (name, _, cite) in ndis::DOCUMENTED_CONSTANTS {
        assert!(
            !oracle.contains_key(*name),
            "{name} is in the oracle: check it there"
        );
        assert!(
            cite.starts_with("https://learn.microsoft.com/"),
            "{name}: cite Microsoft's documentation"
        );
    }
}

#[test]
fn constant_names_are_unique() {
    let mut names: Vec<&str> = ndis::ORACLE_CHECKED_CONSTANTS.iter().map(|(n, _)| *n).collect();
    names.extend(ndis::DOCUMENTED_CONSTANTS.iter().map(|(n, _, _)| *n));
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
}

/// The oracle is copied into the repository so a fresh clone tests on its own; when the project's
/// shared directory sits beside the checkout (as on CI), the copies must not have drifted.
#[test]
fn committed_oracle_copies_match_shared_when_present() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if !shared.is_dir() {
        eprintln!("no {} beside the checkout: drift check skipped", shared.display());
        return;
    }
    for name in ["ndis-layout-x64.txt", "ndis-constants-x64.txt"] {
        let ours = std::fs::read(oracle_path(name)).expect("committed oracle");
        let theirs = std::fs::read(shared.join(name)).expect("shared oracle");
        assert!(
            ours == theirs,
            "oracle/{name} differs from shared/{name}: copy the new one in"
        );
    }
}
