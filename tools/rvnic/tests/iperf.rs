//! `tools/iperf.sh` as a user runs it: arguments it must refuse, and what it must never touch (a
//! namespace with one of its names it did not make, an iperf3 server it did not start). The full
//! run needs root, TAP devices, namespaces and iperf3, and skips with a message without them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../iperf.sh")
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("RVNIC", env!("CARGO_BIN_EXE_rvnic"))
        .output()
        .expect("run iperf.sh")
}

#[test]
fn bad_arguments_are_refused_with_one_line() {
    for (args, expected) in [
        (&["010"][..], "not '010'"),
        (&["0"][..], "not '0'"),
        (&["601"][..], "not '601'"),
        (&["99999999999999999999"][..], "not '99999999999999999999'"),
        (&["5s"][..], "not '5s'"),
        (&["1", "2"][..], "one argument at most"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

fn can_run() -> Result<(), String> {
    if !is_root() {
        return Err("not root".into());
    }
    for tool in ["ip", "iperf3", "ethtool", "python3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    let probe = format!("rvprobe-i{}", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &probe])
        .status()
        .is_ok_and(|s| s.success())
    {
        return Err("cannot create network namespaces here".into());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A namespace named as the script's own, made by someone else, is refused and kept; an iperf3
/// server the script did not start is still running after a whole run.
#[test]
fn the_script_touches_only_what_it_creates() {
    if let Err(why) = can_run() {
        eprintln!("skipping the iperf.sh ownership test: {why}");
        return;
    }
    assert!(
        Command::new("ip")
            .args(["netns", "add", "rvperf-va"])
            .status()
            .expect("ip")
            .success()
    );
    let out = run(&["1"]);
    let kept = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip")
        .stdout;
    let _ = Command::new("ip").args(["netns", "del", "rvperf-va"]).status();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rvperf-va already exists"));
    assert!(
        String::from_utf8_lossy(&kept).contains("rvperf-va"),
        "the foreign namespace was deleted"
    );

    // Someone else's iperf3 server in the root namespace (a port the script does not use).
    let mut theirs = Command::new("iperf3")
        .args(["-s", "-p", "5399", "-B", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iperf3");
    let out = run(&["1"]);
    let alive = theirs.try_wait().expect("try_wait").is_none();
    let _ = theirs.kill();
    let _ = theirs.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alive, "iperf.sh stopped an iperf3 server it did not start");
    let last: Vec<&str> = stdout.lines().rev().take(2).collect();
    assert!(
        last.len() == 2
            && last[1].starts_with("tcp_ratio_vs_veth_offload=")
            && last[0].starts_with("tcp_ratio_vs_veth="),
        "{stdout}"
    );
    let left = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    )
    .into_owned();
    assert!(!left.contains("rvperf"), "namespaces left behind: {left}");
}
