//! `rvnic bench`: the rows it promises, with anchors measured in the same run, zero pool
//! allocations per frame and a clean verifier (figures themselves are not asserted: the machines are
//! shared and noisy).

use std::process::Command;

#[test]
fn a_quick_bench_reports_every_size_against_its_anchors() {
    let svg = std::env::temp_dir().join(format!("rvnic-bench-{}.svg", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["bench", "--quick", "--frames", "5000", "--json", "--svg"])
        .arg(&svg)
        .output()
        .expect("run rvnic bench");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let rows = rows.as_array().expect("array");
    let (large, rows): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
        rows.iter().partition(|r| r.get("large_send").is_some());
    let sizes: Vec<&str> = rows.iter().filter_map(|r| r["frame_size"].as_str()).collect();
    assert_eq!(sizes, ["64", "512", "1514", "4088", "9014", "imix"]);
    // The large-send rows: 64 KiB TCP sends through a pair, the receiver with RSC on (one
    // coalesced unit per send) and off (44 segments per send), against memcpy.
    assert_eq!(
        large.iter().map(|r| r["rsc"].as_bool()).collect::<Vec<_>>(),
        [Some(true), Some(false)]
    );
    for (r, frames) in large.iter().zip([1.0, 44.0]) {
        for field in ["sends_per_sec", "gbps", "memcpy_gbps", "ratio_vs_memcpy"] {
            assert!(r[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {r}");
        }
        assert_eq!(r["indicated_per_send"], frames, "{r}");
        assert_eq!(r["clean"], true);
    }
    for r in rows {
        for field in [
            "frames_per_sec",
            "gbps",
            "memcpy_frames_per_sec",
            "ratio_vs_memcpy",
            "channel_frames_per_sec",
            "pool_bytes_per_adapter",
        ] {
            assert!(r[field].as_f64().is_some_and(|v| v > 0.0), "{field} in {r}");
        }
        assert_eq!(r["topology"], "pair");
        assert_eq!(r["allocations_per_frame"], 0.0, "{r}");
        assert_eq!(r["frames_lost"], 0);
        assert_eq!(r["clean"], true);
    }
    let plot = std::fs::read_to_string(&svg).expect("the SVG plot");
    assert!(plot.starts_with("<svg") && plot.contains("memcpy (1 core)") && plot.contains("rvnic pair"));
    let _ = std::fs::remove_file(&svg);
}
