//! Windows hosts only (the WDK is needed): every structure in `ndis_wdk_layout::COMPARED` against
//! the installed WDK. Base kernel types come from `wdk-sys`; NDIS types from `build.rs`'s bindgen
//! bindings of ndis.h. Compared: size, alignment, and the offset of every listed member (members
//! that C reaches through an anonymous struct or union are named differently by bindgen and are
//! left to the oracle test, `ndis/tests/layout.rs`). All differences are reported together.
#![cfg(windows)]

use std::collections::BTreeSet;
use std::mem::{align_of, offset_of, size_of};

/// bindgen's view of ndis.h (types only). Names follow C, so the usual Rust lints do not apply.
#[allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::unnecessary_safety_doc,
    clippy::missing_safety_doc,
    missing_debug_implementations,
    reason = "generated bindings with C names"
)]
mod wdk {
    pub use wdk_sys::*;
    include!(concat!(env!("OUT_DIR"), "/ndis.rs"));
}

include!("common/checks.rs");

#[test]
fn ndis_crate_layouts_equal_the_installed_wdk() {
    let (seen, diffs) = compare_all();
    assert!(
        diffs.is_empty(),
        "the ndis crate differs from the installed WDK:\n{}",
        diffs.join("\n")
    );
    let listed: BTreeSet<&str> = ndis_wdk_layout::COMPARED.iter().copied().collect();
    assert_eq!(
        seen, listed,
        "common/checks.rs and ndis_wdk_layout::COMPARED must name the same types"
    );
}
