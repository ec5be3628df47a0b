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
/// The large sends an adapter's summary line counts ("... (N large sends; ...").
fn large_sends(lines: &[String], label: &str) -> u64 {
    let line = lines
        .iter()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no summary line for {label}: {lines:?}"));
    line.split_once(" large sends")
        .and_then(|(before, _)| before.rsplit(['(', ' ']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no large-send count: {line}"))
}

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
    // With ndis-host's verifier on (the default) and off (as Windows runs without it).
    for extra in [&[][..], &["--verifier", "off"][..]] {
        let rest = ping_through_the_bridge(extra);
        let report = rest.join("\n");
        assert!(
            report.contains("verifier: no violations, no leaks"),
            "{extra:?}: {report}"
        );
        // Each adapter moved at least the three requests or replies (and the ARP exchange).
        for adapter in ["adapter 0", "adapter 1"] {
            assert!(count_after(&rest, adapter) >= 4, "{extra:?}: {report}");
        }
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

/// Starts `rvnic tap` with `prefix` (and `extra` arguments) and waits until it is ready; returns
/// the child and the rest of its output lines.
fn start_ready(
    prefix: &str,
    extra: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
    Vec<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", prefix])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rvnic tap");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut before = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let ready = line.starts_with("ready:");
        before.push(line);
        if ready {
            return (child, lines, before);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("rvnic tap never became ready: {before:?}");
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("send a signal");
    assert!(sent.success());
}

fn left_behind(prefix: &str) -> Vec<String> {
    namespaces()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|ns| ns.starts_with(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}

/// SIGINT, SIGTERM and SIGHUP each stop the bridge, print the summary and remove what it made.
#[test]
fn every_catchable_signal_stops_the_bridge_and_removes_what_it_created() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP signal test: {why}");
        return;
    }
    for (n, name) in ["INT", "TERM", "HUP"].into_iter().enumerate() {
        let prefix = format!("rvs{}x{n}", std::process::id() % 100_000);
        let (mut child, lines, _) = start_ready(&prefix, &[]);
        assert_eq!(left_behind(&prefix).len(), 2, "{}", namespaces());
        signal(&child, name);
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().expect("rvnic tap exits");
        assert!(status.success(), "SIG{name}: {rest:?}");
        assert!(
            rest.iter().any(|l| l == "verifier: no violations, no leaks"),
            "SIG{name}: {rest:?}"
        );
        assert_eq!(
            left_behind(&prefix),
            Vec::<String>::new(),
            "SIG{name} left namespaces"
        );
    }
}

/// After SIGKILL the namespaces stay; the next run with the same names proves them its tool's
/// (the record of a process that is gone, the same namespace inode), removes them and runs.
#[test]
fn a_set_left_by_sigkill_is_recognised_and_removed_by_the_next_run() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP SIGKILL test: {why}");
        return;
    }
    let prefix = format!("rvk{}", std::process::id() % 100_000);
    let (mut child, _lines, _) = start_ready(&prefix, &[]);
    let killed = child.id();
    signal(&child, "KILL");
    let _ = child.wait();
    assert_eq!(
        left_behind(&prefix).len(),
        2,
        "SIGKILL cannot clean up: {}",
        namespaces()
    );
    let (mut again, lines, before) = start_ready(&prefix, &[]);
    assert!(
        before.iter().any(|l| l.contains(&format!(
            "left by an rvnic tap run (pid {killed}) that was killed"
        ))),
        "{before:?}"
    );
    signal(&again, "INT");
    let _rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(again.wait().expect("exits").success());
    assert_eq!(left_behind(&prefix), Vec::<String>::new());
}

/// A namespace with one of its names that this tool did not make (or whose maker still runs) is
/// refused, and left exactly as it was.
#[test]
fn a_namespace_it_did_not_make_is_refused_and_left_alone() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP ownership test: {why}");
        return;
    }
    let prefix = format!("rvf{}", std::process::id() % 100_000);
    let foreign = format!("{prefix}-1");
    assert!(
        Command::new("ip")
            .args(["netns", "add", &foreign])
            .status()
            .expect("ip")
            .success()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix, "--duration", "1"])
        .output()
        .expect("run rvnic tap");
    let err = String::from_utf8_lossy(&out.stderr);
    let kept = namespaces().contains(&foreign);
    let _ = Command::new("ip").args(["netns", "del", &foreign]).status();
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "network namespace {foreign} already exists and is not this tool's to remove"
        )),
        "{err}"
    );
    assert!(kept, "the foreign namespace was deleted");
    assert_eq!(left_behind(&prefix), Vec::<String>::new());

    // And while a run holds its namespaces, a second run with the same names is refused.
    let (mut first, lines, _) = start_ready(&prefix, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix, "--duration", "1"])
        .output()
        .expect("run rvnic tap");
    let err = String::from_utf8_lossy(&out.stderr);
    signal(&first, "INT");
    let _rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(first.wait().expect("exits").success());
    assert!(err.contains("is still running"), "{err}");
}

/// A persistent TAP device whose name the bridge also uses stays where it is: the bridge makes its
/// own device inside its own namespace.
#[test]
fn a_persistent_tap_device_with_the_same_name_is_not_adopted() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP adoption test: {why}");
        return;
    }
    let prefix = format!("rvp{}", std::process::id() % 100_000);
    let theirs = format!("{prefix}0");
    assert!(
        Command::new("ip")
            .args(["tuntap", "add", "dev", &theirs, "mode", "tap"])
            .status()
            .expect("ip")
            .success()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix, "--duration", "1"])
        .output()
        .expect("run rvnic tap");
    let still_there = Command::new("ip")
        .args(["link", "show", &theirs])
        .output()
        .expect("ip")
        .status
        .success();
    let _ = Command::new("ip")
        .args(["tuntap", "del", "dev", &theirs, "mode", "tap"])
        .status();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        still_there,
        "the pre-existing TAP device {theirs} was moved or deleted"
    );
    assert_eq!(left_behind(&prefix), Vec::<String>::new());
}

/// An interrupt during set-up says what it interrupted and leaves nothing behind.
#[test]
fn an_interrupt_during_set_up_says_what_it_interrupted() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP set-up interrupt test: {why}");
        return;
    }
    let prefix = format!("rvi{}", std::process::id() % 100_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
        .args(["tap", "--prefix", &prefix, "--adapters", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rvnic tap");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("setting up"), "{first}");
    signal(&child, "INT");
    let out = child.wait_with_output().expect("exits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("interrupted during set-up, before "), "{err}");
    assert!(!err.contains("said nothing") && !err.contains(": \n"), "{err}");
    assert_eq!(left_behind(&prefix), Vec::<String>::new());
}

#[test]
fn a_hub_of_one_adapter_is_refused_as_run_refuses_it() {
    let err = refused(&["--topology", "hub", "--adapters", "1"]);
    assert!(err.contains("a hub needs at least 2 adapters"), "{err}");
    let err = refused(&["--topology", "pair", "--set", "Topology=0"]);
    assert!(err.contains("contradicts"), "{err}");
}

/// Bytes iperf3 reports the client sent (its JSON report's `end.sum_sent.bytes`).
fn iperf3_bytes(json: &str) -> u64 {
    let at = json.find("\"sum_sent\"").expect("sum_sent in the report");
    let rest = &json[at..];
    let at = rest.find("\"bytes\":").expect("bytes") + "\"bytes\":".len();
    rest[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a byte count")
}

/// A TCP transfer (iperf3) through `rvnic tap` with offloads on and off: with them the stack hands
/// the driver large sends (far fewer frames than MTU-sized segments would be) and gets coalesced
/// units back, every frame's offload translates, and the verifier stays silent; without them
/// every frame is at most an MTU.
#[test]
fn iperf3_with_offloads_moves_large_sends_and_the_verifier_stays_silent() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP offload test: {why}");
        return;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v iperf3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping the TAP offload test: iperf3 is not installed");
        return;
    }
    for offload in ["on", "off"] {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!(
            "rvo{}x{}",
            std::process::id() % 100_000,
            CALLS.fetch_add(1, Ordering::Relaxed)
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_rvnic"))
            .args([
                "tap",
                "--prefix",
                &prefix,
                "--duration",
                "6",
                "--offload",
                offload,
            ])
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
        let mut server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("{prefix}-1"),
                "iperf3",
                "-s",
                "-1",
                "-p",
                "5201",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 server");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let client = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("{prefix}-0"),
                "iperf3",
                "-c",
                "198.18.0.2",
                "-p",
                "5201",
                "-t",
                "2",
                "-J",
            ])
            .output()
            .expect("iperf3 client");
        let _ = server.wait();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().expect("rvnic tap exits");
        let report = rest.join("\n");
        assert!(
            client.status.success(),
            "iperf3: {}",
            String::from_utf8_lossy(&client.stdout)
        );
        assert!(status.success(), "rvnic tap failed: {report}");
        assert!(report.contains("verifier: no violations, no leaks"), "{report}");
        assert!(
            report.contains("0 malformed, 0 with offloads NDIS has not"),
            "{report}"
        );
        let bytes = iperf3_bytes(&String::from_utf8_lossy(&client.stdout));
        let frames = count_after(&rest, "adapter 0");
        let per_frame = bytes / frames.max(1);
        let large = large_sends(&rest, "adapter 0");
        if offload == "on" {
            // How large the stack makes its sends depends on how much CPU TCP gets (a loaded
            // machine sends smaller ones), so the test counts them instead of averaging bytes.
            assert!(
                large > 0,
                "{bytes} bytes in {frames} frames ({per_frame} per frame), no large send ({report})"
            );
        } else {
            assert_eq!(large, 0, "large sends with offloads off ({report})");
            assert!(
                per_frame <= 1514,
                "{bytes} bytes in {frames} frames with offloads off ({report})"
            );
        }
        assert!(
            !namespaces().contains(&prefix),
            "namespaces left behind: {}",
            namespaces()
        );
    }
}

/// Receives, in namespace `ns` on device `device`, the first frame carrying `MARK` and prints its
/// 802.1Q tag as Linux reports it (`PACKET_AUXDATA`: the kernel takes the tag out of the bytes on
/// receive): "tci <value> valid <0|1>". Prints "ready" once listening.
const RECEIVE_TAGGED: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.setsockopt(263, 8, 1)
s.settimeout(8)
print("ready", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, 256)
    if b"rvnic-vlan" not in data:
        continue
    for level, kind, aux in anc:
        if (level, kind) == (263, 8):
            status, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", aux[:20])
            print("tci %d valid %d" % (tci, 1 if status & 0x10 else 0), flush=True)
            sys.exit(0)
"#;

/// Sends, in namespace `ns` on device `device`, three broadcast frames carrying `MARK` with the
/// 802.1Q tag priority 3, VLAN 5 in their bytes.
const SEND_TAGGED: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x81\x00" + (3 << 13 | 5).to_bytes(2, "big")
frame += b"\x88\xb5" + b"rvnic-vlan".ljust(46, b".")
for _ in range(3):
    s.send(frame)
    time.sleep(0.2)
"#;

/// A frame tagged in its bytes by one namespace's stack arrives tagged in the other: the sending
/// adapter's peer strips the tag into `NDIS_NET_BUFFER_LIST_8021Q_INFO`, and the bridge puts it back
/// when it writes the frame to the other TAP device. Both paths of the bridge: in place (offloads
/// on) and copied (`--offload off`). Only the tool's own namespaces and devices are used.
#[test]
fn a_vlan_tag_crosses_the_driver_between_the_namespaces() {
    if let Err(why) = can_run() {
        eprintln!("skipping the TAP VLAN test: {why}");
        return;
    }
    for (k, offload) in ["on", "off"].into_iter().enumerate() {
        let prefix = format!("rvv{}x{k}", std::process::id() % 100_000);
        let (mut child, lines, _) = start_ready(&prefix, &["--duration", "5", "--offload", offload]);
        let python = |i: usize, script: &str| {
            let mut command = Command::new("ip");
            command
                .args(["netns", "exec", &format!("{prefix}-{i}"), "python3", "-c", script])
                .arg(format!("{prefix}{i}"));
            command
        };
        let mut receiver = python(1, RECEIVE_TAGGED)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the receiver");
        let mut heard = BufReader::new(receiver.stdout.take().expect("stdout")).lines();
        assert_eq!(heard.next().and_then(Result::ok).as_deref(), Some("ready"));
        let sent = python(0, SEND_TAGGED).status().expect("run the sender");
        let got = heard.next().and_then(Result::ok);
        let _ = receiver.wait();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().expect("rvnic tap exits");
        assert!(sent.success(), "offload {offload}: the sender failed");
        assert_eq!(
            got.as_deref(),
            Some(format!("tci {} valid 1", 3 << 13 | 5).as_str()),
            "offload {offload}: priority 3, VLAN 5 as sent"
        );
        assert!(status.success(), "rvnic tap failed: {rest:?}");
        let report = rest.join("\n");
        assert!(report.contains("verifier: no violations, no leaks"), "{report}");
        assert!(
            left_behind(&prefix).is_empty(),
            "left behind: {:?}",
            left_behind(&prefix)
        );
    }
}
