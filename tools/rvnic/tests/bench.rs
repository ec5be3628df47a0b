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
    // Every size twice: ndis-host's verifier on, then off.
    let sizes: Vec<(&str, bool)> = rows
        .iter()
        .filter_map(|r| Some((r["frame_size"].as_str()?, r["verifier"].as_bool()?)))
        .collect();
    let expected: Vec<(&str, bool)> = ["64", "512", "1514", "4088", "9014", "imix"]
        .into_iter()
        .flat_map(|s| [(s, true), (s, false)])
        .collect();
    assert_eq!(sizes, expected);
    // The large-send rows: 64 KiB TCP sends through a pair, the receiver with RSC on (one
    // coalesced unit per send) and off (44 segments per send), against memcpy.
    assert_eq!(
        large
            .iter()
            .map(|r| (r["rsc"].as_bool(), r["verifier"].as_bool()))
            .collect::<Vec<_>>(),
        [
            (Some(true), Some(true)),
            (Some(true), Some(false)),
            (Some(false), Some(true)),
            (Some(false), Some(false))
        ]
    );
    for (r, frames) in large.iter().zip([1.0, 1.0, 44.0, 44.0]) {
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
            "memcpy_inflight_frames_per_sec",
            "ratio_vs_memcpy_inflight",
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
    for label in [
        "memcpy, hot cache (1 core)",
        "memcpy, buffers in flight (1 core)",
        "crossbeam channel",
        "rvnic pair",
    ] {
        assert!(plot.starts_with("<svg") && plot.contains(label), "{label}");
    }
    let _ = std::fs::remove_file(&svg);
}

/// `--instructions` refuses what it cannot measure, and a baseline it cannot use, before it
/// starts valgrind.
#[test]
fn instruction_counts_refuse_an_image_and_a_bad_baseline() {
    let rvnic = env!("CARGO_BIN_EXE_rvnic");
    let out = Command::new(rvnic)
        .args(["bench", "--instructions", "--image", "/nonexistent/rvnic.sys"])
        .output()
        .expect("run rvnic bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no symbols valgrind"));

    let baseline = std::env::temp_dir().join(format!("rvnic-baseline-{}.json", std::process::id()));
    std::fs::write(&baseline, r#"[{"frame_size": 64, "verifier": true}]"#).expect("write");
    let out = Command::new(rvnic)
        .args(["bench", "--instructions", "--baseline"])
        .arg(&baseline)
        .output()
        .expect("run rvnic bench");
    let _ = std::fs::remove_file(&baseline);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 0 lacks"), "{stderr}");

    // A baseline is only for instruction counts.
    let out = Command::new(rvnic)
        .args(["bench", "--baseline", "x.json"])
        .output()
        .expect("run rvnic bench");
    assert_eq!(out.status.code(), Some(2));
}
