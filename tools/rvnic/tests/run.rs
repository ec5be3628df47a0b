//! `rvnic run`, the main job, as a user runs it: the binary, its JSON, its exit codes.

use std::process::Command;

fn rvnic(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(args)
        .output()
        .expect("run the rvnic binary")
}

#[test]
fn a_counted_run_accounts_for_every_frame_and_reports_a_clean_verifier() {
    for topology in ["pair", "hub", "loopback"] {
        let adapters = if topology == "loopback" { "1" } else { "2" };
        let out = rvnic(&[
            "run",
            "--frames",
            "20000",
            "--topology",
            topology,
            "--adapters",
            adapters,
            "--frame-size",
            "imix",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{topology}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(report["frames_sent"], 20000, "{topology}");
        assert_eq!(report["frames_lost"], 0);
        let received = report["frames_received"].as_u64().expect("number");
        let dropped = report["frames_dropped"].as_u64().expect("number");
        assert_eq!(
            received + dropped,
            20000,
            "{topology}: every frame received or dropped"
        );
        assert!(received > 0);
        assert_eq!(report["verifier_violations"], serde_json::json!([]));
        assert_eq!(report["leaks"], serde_json::json!([]));
        let stats = report["statistics"].as_array().expect("per adapter");
        let rx: u64 = stats
            .iter()
            .map(|s| s["ReceivedUnicastPackets"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(
            rx, received,
            "{topology}: the driver's counters agree with the host's"
        );
        assert!(report["seconds"].as_f64().is_some_and(|s| s > 0.0));
    }
}

#[test]
fn bad_arguments_get_one_clear_line_and_a_non_zero_exit() {
    for (args, expected) in [
        (&["run", "--adapters", "3"][..], "even number of adapters"),
        (&["run", "--set", "Speed=1"][..], "unknown keyword 'Speed'"),
        (&["run", "--frame-size", "9014"][..], "--set '*JumboPacket=9014'"),
        (&["run", "--frame-size", "12"][..], "outside 60..=9014"),
        (&["run", "--duration", "-1"][..], "duration"),
    ] {
        let out = rvnic(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed results");
    }
}
