//! The source tree keeps the shape the README describes: the driver's logic is unsafe-free by
//! construction (every module but the trampolines and the kernel glue forbids unsafe code), and no
//! source file outside tests grows past 800 lines.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules of the driver crate where unsafe code may live: the `extern "system"` trampolines
/// NDIS calls, the kernel image's glue, and the crate root that declares the modules.
const MAY_BE_UNSAFE: [&str; 3] = ["callbacks.rs", "kernel.rs", "lib.rs"];

#[test]
fn every_driver_module_but_the_trampolines_forbids_unsafe_code() {
    let src = root().join("miniport/src");
    let mut checked = 0;
    for entry in fs::read_dir(&src).expect("miniport/src").flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if path.extension().is_none_or(|e| e != "rs") || MAY_BE_UNSAFE.contains(&name.as_str()) {
            continue;
        }
        // A top-level module's inner `forbid` binds its submodules (`wire/`, `oid/`) too.
        let text = fs::read_to_string(&path).expect("readable");
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{name} does not forbid unsafe code"
        );
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} driver modules found");
    let callbacks = fs::read_to_string(src.join("callbacks.rs")).expect("callbacks.rs");
    assert!(
        callbacks.contains("unsafe"),
        "the trampolines are where raw pointers enter"
    );
}

/// Whether `path` is test code (a `tests` directory, or a `tests.rs` unit-test module).
fn is_test(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests") || path.file_name().is_some_and(|n| n == "tests.rs")
}

#[test]
fn no_source_file_outside_tests_is_longer_than_800_lines() {
    let mut files = Vec::new();
    for dir in ["miniport", "helpers", "tools"] {
        sources(&root().join(dir), &mut files);
    }
    assert!(files.len() > 40, "found only {} source files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter(|path| !is_test(path))
        .filter_map(|path| {
            let lines = fs::read_to_string(path).ok()?.lines().count();
            (lines > 800).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}
