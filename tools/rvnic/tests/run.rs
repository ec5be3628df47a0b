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

/// `--verifier off` runs the same traffic with the same books, without the per-object checks:
/// no stack peaks are measured; with the verifier on they are.
#[test]
fn the_verifier_can_be_turned_off_and_every_frame_is_still_accounted_for() {
    for (verifier, peaks) in [("off", false), ("on", true)] {
        let out = rvnic(&[
            "run",
            "--frames",
            "5000",
            "--frame-size",
            "64",
            "--json",
            "--verifier",
            verifier,
        ]);
        assert!(
            out.status.success(),
            "{verifier}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(report["frames_sent"], 5000, "{verifier}");
        assert_eq!(report["frames_received"], 5000, "{verifier}");
        assert_eq!(report["frames_lost"], 0, "{verifier}");
        assert_eq!(report["leaks"], serde_json::json!([]), "{verifier}");
        let measured = report["stack_peaks"].as_object().is_some_and(|p| !p.is_empty());
        let expected = peaks && cfg!(target_arch = "x86_64");
        assert_eq!(measured, expected, "{verifier}: {}", report["stack_peaks"]);
    }
    let out = rvnic(&["run", "--verifier", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: on, off"));
}

#[test]
fn bad_arguments_get_one_clear_line_and_a_non_zero_exit() {
    for (args, expected) in [
        (&["run", "--adapters", "3"][..], "even number of adapters"),
        (&["run", "--set", "Speed=1"][..], "unknown keyword 'Speed'"),
        (&["run", "--frame-size", "9014"][..], "--set '*JumboPacket=9014'"),
        (&["run", "--frame-size", "12"][..], "outside 60..=9014"),
        (&["run", "--duration", "-1"][..], "duration"),
        (&["run", "--duration", "0.001"][..], "outside 0.1..=3600"),
        (&["run", "--frames", "0"][..], "outside 1..=1000000000000"),
        (
            &["run", "--frames", "1000000000001"][..],
            "outside 1..=1000000000000",
        ),
        (
            &["run", "--topology", "hub", "--adapters", "1"][..],
            "a hub needs at least 2 adapters",
        ),
        // The driver refuses the keyword and runs with 1514: the frames asked for cannot cross.
        (
            &["run", "--frame-size", "9014", "--set", "*JumboPacket=99999"][..],
            "the driver refuses --set '*JumboPacket=99999' and uses 1514",
        ),
        // An option and a keyword that say different things.
        (
            &["run", "--topology", "pair", "--set", "Topology=0"][..],
            "contradicts --set Topology=0",
        ),
        (&["run", "--set", "LinkSpeed=fast"][..], "decimal number"),
    ] {
        let out = rvnic(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed results");
    }
}

/// A keyword the driver refuses is reported even when the run can go on.
#[test]
fn a_refused_keyword_is_reported_and_the_run_goes_on() {
    let out = rvnic(&["run", "--frames", "1000", "--set", "LinkSpeed=1000", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the driver refuses LinkSpeed (1000 is outside 1..=100) and uses 10 instead"),
        "{stderr}"
    );
}

/// `--set Topology=0` alone is the topology the run uses (and reports), not a silent override.
#[test]
fn the_topology_keyword_alone_chooses_the_topology() {
    let out = rvnic(&[
        "run",
        "--frames",
        "1000",
        "--adapters",
        "1",
        "--set",
        "Topology=0",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["topology"], "loopback");
    assert_eq!(report["frames_lost"], 0);
}

/// A report that cannot be written is a failure, said on stderr.
#[test]
fn output_to_a_full_device_fails_instead_of_reporting_success() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["run", "--frames", "1000"])
        .stdout(full)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the output: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// SIGINT stops the traffic, and the summary is still printed (with the exit status 130).
#[test]
fn sigint_during_a_run_prints_the_summary() {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["run", "--duration", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted after"), "{stdout}");
    assert!(
        stdout.contains("frames sent") && stdout.contains("verifier: no violations, no leaks"),
        "{stdout}"
    );
}

/// `--image` runs the shipped kernel image instead of the built-in driver, with the same books and
/// each entry point's peak kernel stack in the JSON; an image that cannot be loaded is one line and
/// exit 2. Skips with one line when no image is built (never in CI, which builds it first).
#[test]
fn the_image_runs_the_main_job_and_reports_its_stack_peaks() {
    let out = rvnic(&["run", "--frames", "1000", "--image", "/nonexistent/rvnic.sys"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the image") && err.lines().count() == 1,
        "{err}"
    );
    let image = std::env::var_os("RVNIC_IMAGE").map_or_else(
        || {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/x86_64-pc-windows-msvc/kernel/rvnic.sys")
        },
        std::path::PathBuf::from,
    );
    if !image.exists() {
        assert!(
            std::env::var_os("RVNIC_REQUIRE_IMAGE").is_none(),
            "no image at {}",
            image.display()
        );
        eprintln!("skipping the --image run: no kernel image at {}", image.display());
        return;
    }
    let path = image.to_string_lossy().into_owned();
    let out = rvnic(&["run", "--frames", "20000", "--json", "--image", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["driver"], path.as_str());
    assert_eq!(
        (report["frames_sent"].as_u64(), report["frames_lost"].as_u64()),
        (Some(20000), Some(0))
    );
    let peaks = report["stack_peaks"].as_object().expect("stack peaks");
    for entry in [
        "DriverEntry",
        "MiniportInitializeEx",
        "MiniportSendNetBufferLists",
        "MiniportHaltEx",
    ] {
        let used = peaks.get(entry).and_then(serde_json::Value::as_u64).unwrap_or(0);
        assert!(used > 0 && used < 6 * 1024, "{entry}: {used} bytes");
    }
}
