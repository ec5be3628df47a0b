//! Every host: the Windows test's comparisons (`common/checks.rs`) with `ndis` standing in for
//! the WDK. Nothing can differ then, so this proves what Linux can: every listed member exists in
//! `ndis` under that name, every comparison runs, the names equal `COMPARED`, and a real
//! difference is reported (a planted pair of unequal types).

use std::collections::BTreeSet;
use std::mem::{align_of, offset_of, size_of};

/// Stand-in for bindgen's ndis.h bindings.
mod wdk {
    pub use ndis::*;
}

/// Stand-in for the wdk-sys crate.
mod wdk_sys {
    pub use ndis::*;
}

include!("common/checks.rs");

#[test]
fn every_comparison_runs_against_ndis_itself() {
    let (seen, diffs) = compare_all();
    assert!(diffs.is_empty(), "ndis differs from itself: {diffs:?}");
    let listed: BTreeSet<&str> = ndis_wdk_layout::COMPARED.iter().copied().collect();
    assert_eq!(seen, listed);
}

#[test]
fn a_difference_is_reported_with_its_numbers() {
    // NDIS_LINK_PARAMETERS lacks NDIS_LINK_STATE's MediaConnectState, so sizes and offsets differ.
    let planted: Compare = same!(ndis::NDIS_LINK_PARAMETERS => NDIS_LINK_STATE { Header, XmitLinkSpeed, });
    let (mut seen, mut diffs) = (Vec::new(), Vec::new());
    planted(&mut seen, &mut diffs);
    assert_eq!(seen, ["NDIS_LINK_STATE"]);
    assert!(
        diffs.iter().any(|d| d.starts_with("NDIS_LINK_STATE: size ")),
        "{diffs:?}"
    );
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("NDIS_LINK_STATE.XmitLinkSpeed: offset ")),
        "{diffs:?}"
    );
    assert!(!diffs.iter().any(|d| d.contains(".Header")), "{diffs:?}");
}
