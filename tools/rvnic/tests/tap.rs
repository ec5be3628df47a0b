//! `rvnic tap` end to end: a ping between two network namespaces crosses the driver, the verifier is
//! silent, and nothing is left behind. Skipped, with a message, when not root or without
//! /dev/net/tun. Traffic only goes to addresses inside the namespaces the command creates.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn can_run() -> Result<(), String> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_err()
    {
        return Err("no usable /dev/net/tun (needs root and the tun module)".into());
    }
    for tool in ["ip", "ping"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    // Network namespaces may be forbidden (an unprivileged container) even with /dev/net/tun.
    static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("rvprobe{}-{n}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if !made {
        return Err("cannot create network namespaces here".into());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    Ok(())
}

fn namespaces() -> String {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Runs `rvnic tap` (plus `extra` arguments) for a few seconds, pings 198.18.0.2 from the first
/// namespace three times, and returns the tool's output after `ready:` once it exited cleanly.
fn ping_through_the_bridge(extra: &[&str]) -> Vec<String> {
    // Tests run in parallel: each call has its own namespaces.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let prefix = format!("rvt{}x{call}", std::process::id() % 100_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix, "--duration", "4"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rvnic tap");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut ready = false;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if line.starts_with("ready:") {
            ready = true;
            break;
        }
    }
    assert!(ready, "rvnic tap never became ready");
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{prefix}-0"),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
        ])
        .arg("198.18.0.2")
        .output()
        .expect("run ping");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("rvnic tap exits");
    let ping_out = String::from_utf8_lossy(&ping.stdout);
    assert!(ping.status.success(), "ping failed: {ping_out}");
    assert!(ping_out.contains("3 received"), "{ping_out}");
    assert!(status.success(), "rvnic tap failed: {rest:?}");
    assert!(
        !namespaces().contains(&prefix),
        "namespaces left behind: {}",
        namespaces()
    );
    rest
}

/// The frame count that follows `label` at the start of one of `lines` ("adapter 0: 12 frames").
fn count_after(lines: &[String], label: &str) -> u64 {
    let line = lines
        .iter()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no summary line for {label}: {lines:?}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count: {line}"))
}

#[test]
fn a_ping_between_namespaces_crosses_the_driver_and_everything_is_cleaned_up() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP bridge test: {why}");
        return;
    }
    let rest = ping_through_the_bridge(&[]);
    let report = rest.join("\n");
    assert!(report.contains("verifier: no violations, no leaks"), "{report}");
    // Each adapter moved at least the three requests or replies (and the ARP exchange).
    for adapter in ["adapter 0", "adapter 1"] {
        assert!(count_after(&rest, adapter) >= 4, "{report}");
    }
}

/// `--direct`, the anchor `tools/iperf.sh` measures the bridge alone with, really forwards.
#[test]
fn the_direct_anchor_forwards_between_the_devices_without_the_driver() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP --direct test: {why}");
        return;
    }
    let rest = ping_through_the_bridge(&["--direct"]);
    for device in ["device 0", "device 1"] {
        assert!(count_after(&rest, device) >= 4, "{rest:?}");
    }
    assert!(!rest.iter().any(|l| l.starts_with("adapter ")), "{rest:?}");
}

/// Runs `rvnic tap ARGS`, which must refuse with exit code 2 and one line; returns that line.
fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .arg("tap")
        .args(args)
        .output()
        .expect("run rvnic tap");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn direct_mode_needs_exactly_two_devices() {
    let err = refused(&["--direct", "--adapters", "4"]);
    assert!(
        err.contains("--direct forwards between exactly two TAP devices, not 4"),
        "{err}"
    );
}

#[test]
fn missing_root_or_bad_arguments_get_one_line_and_leave_nothing() {
    let err = refused(&["--prefix", "this-prefix-is-too-long"]);
    assert!(
        err.contains("must be 1 to 12") || err.contains("needs root") || err.contains("/dev/net/tun"),
        "{err}"
    );
    assert!(!namespaces().contains("this-prefix"));
}

#[test]
fn ctrl_c_stops_the_bridge_and_removes_what_it_created() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP Ctrl-C test: {why}");
        return;
    }
    let prefix = format!("rvc{}", std::process::id() % 100_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rvnic tap");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("ready:")),
        "rvnic tap never became ready"
    );
    assert!(namespaces().contains(&format!("{prefix}-0")), "{}", namespaces());
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(sent.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("rvnic tap exits");
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l == "verifier: no violations, no leaks"),
        "{rest:?}"
    );
    assert!(
        !namespaces().contains(&prefix),
        "namespaces left behind: {}",
        namespaces()
    );
}
