//! `rvnic bench --instructions`: instructions per frame, counted by valgrind's callgrind, which is
//! exact and deterministic on a shared machine where wall-clock figures are not.
//!
//! Each configuration (64 and 1514 bytes, pair, one sending CPU, verifier on and off) runs twice
//! under callgrind, `rvnic run --frames SHORT` and `--frames LONG`: loading, starting, halting and
//! unloading cost the same in both, so the difference divided by the difference in frames received
//! is the cost of one frame. Each function's own instructions (callgrind's self cost) go to one of
//! three parts, by the function's name:
//!
//! - **driver**: functions of the driver crate (`rvnic::`, but not this tool's `rvnic::cli::` and
//!   `rvnic::main`) and of its helpers (`rvnic_helpers::`), their trait impls (`<rvnic::...`),
//!   with everything the compiler inlined into them; and functions of the `ndis` ABI crate, by
//!   inclusive cost, when the driver called them. (Names, not source files: callgrind gives a
//!   function the file of the code just before it, often an inlined `core` file.)
//! - **copy**: the C library's `memcpy`, `memmove` and `memset`, whoever called them;
//! - **host**: everything else: ndis-host, the tool's sending loop, the Rust and C runtimes.
//!
//! `--baseline FILE` compares each driver and host figure with the committed one and fails when
//! one is more than [`TOLERANCE`] above it (CI runs this; the baseline changes only deliberately,
//! with the reason in its commit). The host is guarded too: ndis-host's cost decides what the
//! throughput figures of `rvnic bench` can show, and it slid back unnoticed when only the driver
//! was guarded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rvnic_cli::outln;

/// Frames of the short and the long run of each configuration.
const SHORT: u64 = 10_000;
const LONG: u64 = 30_000;
/// How far a driver or host figure may rise above its baseline before the comparison fails.
pub const TOLERANCE: f64 = 0.10;
/// The issue's budgets at 64 B (pair, one sending CPU), reported beside the figures.
const DRIVER_BUDGET: f64 = 120.0;
const HOST_BUDGET_VERIFIER_ON: f64 = 500.0;
const HOST_BUDGET_VERIFIER_OFF: f64 = 150.0;

/// One configuration's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub frame_size: usize,
    pub verifier: bool,
    pub driver: f64,
    pub copy: f64,
    pub host: f64,
}

/// Instructions of one callgrind profile, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Split {
    pub driver: u64,
    pub copy: u64,
    pub host: u64,
}

/// Set by SIGINT, SIGTERM or SIGHUP: the running valgrind is stopped and the files removed.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The profiles of this run, in a directory this run made; removed on every exit path.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("rvnic-instructions-{}-{nanos}", std::process::id()));
        // `create_dir`, not `create_dir_all`: a directory that already exists is not ours.
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Only the files this run wrote (each run's profile), then the directory if empty.
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name.to_string_lossy().starts_with("callgrind.") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A function's crate path, without the `<` of a trait impl (`<rvnic::x::Y as Drop>::drop`).
fn path_of(name: &str) -> &str {
    name.trim_start_matches('<')
}

/// Whether a function is the driver's or its helpers'.
fn is_driver(name: &str) -> bool {
    let path = path_of(name);
    path.starts_with("rvnic_helpers::")
        || (path.starts_with("rvnic::")
            && !path.starts_with("rvnic::cli::")
            && !path.starts_with("rvnic::main"))
}

/// Whether a function belongs to the `ndis` ABI crate (charged to whoever calls it).
fn is_abi(name: &str) -> bool {
    path_of(name).starts_with("ndis::")
}

/// `rvnic bench --instructions`.
pub fn run(json: bool, baseline: Option<&Path>, image: Option<&Path>) -> ExitCode {
    if image.is_some() {
        eprintln!(
            "rvnic bench: --instructions measures the driver built into the tool: a kernel image \
             loaded natively has no symbols valgrind can attribute"
        );
        return ExitCode::from(2);
    }
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed)) {
        eprintln!("rvnic bench: cannot handle signals: {e}");
        return ExitCode::from(2);
    }
    let expected = match baseline.map(read_baseline).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("rvnic bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rows = match measure_all(!json) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("rvnic bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let rows: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        outln!("{:#}", serde_json::Value::Array(rows));
    } else {
        print_table(&rows);
    }
    let status = match expected {
        Some(expected) => match compare(&rows, &expected) {
            Ok(lines) => {
                for line in lines {
                    eprintln!("rvnic bench: {line}");
                }
                ExitCode::SUCCESS
            }
            Err(lines) => {
                for line in lines {
                    eprintln!("rvnic bench: {line}");
                }
                ExitCode::FAILURE
            }
        },
        None => ExitCode::SUCCESS,
    };
    rvnic_cli::out::finish("bench", status)
}

/// Every configuration, in the order of the table.
fn measure_all(progress: bool) -> Result<Vec<Row>, String> {
    let valgrind = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !valgrind.is_ok_and(|s| s.success()) {
        return Err("--instructions needs valgrind (apt-get install valgrind)".into());
    }
    let scratch = Scratch::new()?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut rows = Vec::new();
    for frame_size in [64usize, 1514] {
        for verifier in [true, false] {
            let mut runs = [(0u64, Split::default()); 2];
            for (run, frames) in runs.iter_mut().zip([SHORT, LONG]) {
                *run = profile(&exe, &scratch.0, frame_size, verifier, frames)?;
                if progress {
                    eprint!(".");
                }
            }
            let [(short_frames, short), (long_frames, long)] = runs;
            let frames = long_frames.saturating_sub(short_frames);
            if frames == 0 {
                return Err(format!(
                    "{frame_size} B: the long run received no more frames than the short one"
                ));
            }
            let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / frames as f64;
            rows.push(Row {
                frame_size,
                verifier,
                driver: per(short.driver, long.driver),
                copy: per(short.copy, long.copy),
                host: per(short.host, long.host),
            });
        }
    }
    if progress {
        eprintln!();
    }
    Ok(rows)
}

/// One `rvnic run` under callgrind: the frames it received, and its instructions by part.
fn profile(
    exe: &Path,
    dir: &Path,
    frame_size: usize,
    verifier: bool,
    frames: u64,
) -> Result<(u64, Split), String> {
    let out = dir.join(format!(
        "callgrind.{frame_size}.{}.{frames}",
        if verifier { "on" } else { "off" }
    ));
    let mut child = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .args(["--compress-strings=no", "--compress-pos=no"])
        .arg(exe)
        .args([
            "run",
            "--topology",
            "pair",
            "--adapters",
            "2",
            "--cpus",
            "1",
            "--json",
        ])
        .args(["--frame-size", &frame_size.to_string()])
        .args(["--frames", &frames.to_string()])
        .args(["--verifier", if verifier { "on" } else { "off" }])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let what = format!(
        "{frame_size} B, verifier {}, {frames} frames",
        if verifier { "on" } else { "off" }
    );
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stdout {
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
        }
        text
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
        }
        text
    });
    let status = loop {
        if INTERRUPTED.load(Ordering::Relaxed) {
            // Our own child: stopped and reaped before the scratch directory goes.
            let _ = child.kill();
            let _ = child.wait();
            return Err("interrupted".into());
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = errors.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "{what}: rvnic run under valgrind failed ({status}): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let report: serde_json::Value =
        serde_json::from_str(&stdout).map_err(|e| format!("{what}: unreadable rvnic run output: {e}"))?;
    let received = report["frames_received"]
        .as_u64()
        .ok_or_else(|| format!("{what}: rvnic run reported no frames_received"))?;
    let file = std::fs::File::open(&out).map_err(|e| format!("{what}: {}: {e}", out.display()))?;
    let split = split(BufReader::new(file)).map_err(|e| format!("{what}: {}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    Ok((received, split))
}

/// Whether a function is the C library's copy (`memcpy`, `memmove`, `memset` and their variants).
fn is_copy(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    ["memcpy", "memmove", "memset", "mempcpy"]
        .iter()
        .any(|m| name.starts_with(m))
}

/// Splits a callgrind profile (written with `--compress-strings=no --compress-pos=no`, event `Ir`
/// first) into driver, copy and host instructions.
///
/// # Errors
/// A line that is not callgrind's format.
pub fn split(profile: impl BufRead) -> Result<Split, String> {
    // Self cost per function, and the inclusive cost of each call edge.
    let mut own: HashMap<String, u64> = HashMap::new();
    let mut edges: Vec<(String, String, u64)> = Vec::new();
    let mut function = String::new();
    let mut callee: Option<String> = None;
    let mut after_calls = false;
    for (number, line) in profile.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.chars().all(|c| c.is_ascii_lowercase())
        {
            match key {
                "fn" => function = value.to_string(),
                "cfn" => callee = Some(value.to_string()),
                "calls" => after_calls = true,
                _ => {}
            }
            continue;
        }
        let first = line.as_bytes()[0];
        if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'*')) {
            // Header lines (`events: Ir`, `summary: ...`, `totals: ...`).
            if line.contains(':') {
                continue;
            }
            return Err(format!("line {}: not callgrind's format: {line}", number + 1));
        }
        let cost: u64 = match line.split_whitespace().nth(1) {
            Some(c) => c
                .parse()
                .map_err(|_| format!("line {}: bad cost {c}", number + 1))?,
            None => 0,
        };
        if after_calls {
            after_calls = false;
            if let Some(callee) = callee.take() {
                edges.push((function.clone(), callee, cost));
            }
        } else {
            *own.entry(function.clone()).or_default() += cost;
        }
    }
    let mut out = Split::default();
    for (function, cost) in &own {
        if is_copy(function) {
            out.copy += cost;
        } else if is_driver(function) {
            out.driver += cost;
        } else {
            out.host += cost;
        }
    }
    // The ABI crate's functions the driver called (not inlined) are the driver's, with what they
    // call; their self cost was counted as the host's above.
    for (caller, callee, cost) in &edges {
        if is_driver(caller) && is_abi(callee) {
            out.driver += cost;
            out.host = out.host.saturating_sub(*cost);
        }
    }
    Ok(out)
}

fn row_json(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "frame_size": r.frame_size,
        "topology": "pair",
        "cpus": 1,
        "verifier": r.verifier,
        "driver_instructions_per_frame": r.driver,
        "copy_instructions_per_frame": r.copy,
        "host_instructions_per_frame": r.host,
    })
}

fn print_table(rows: &[Row]) {
    outln!(
        "{:<28} {:>8} {:>8} {:>8} {:>8}",
        "instructions per frame",
        "driver",
        "copy",
        "host",
        "total"
    );
    for r in rows {
        outln!(
            "{:<28} {:>8.0} {:>8.0} {:>8.0} {:>8.0}",
            format!(
                "{} B pair, verifier {}",
                r.frame_size,
                if r.verifier { "on" } else { "off" }
            ),
            r.driver,
            r.copy,
            r.host,
            r.driver + r.copy + r.host
        );
    }
    outln!(
        "budgets at 64 B: driver <= {DRIVER_BUDGET:.0}; host <= {HOST_BUDGET_VERIFIER_ON:.0} (verifier on), \
         <= {HOST_BUDGET_VERIFIER_OFF:.0} (off)"
    );
}

/// The committed figures of one configuration, instructions per frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub driver: f64,
    pub host: f64,
}

/// A baseline file: `(frame_size, verifier) -> figures`.
fn read_baseline(path: &Path) -> Result<HashMap<(usize, bool), Baseline>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_baseline(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a baseline (the JSON array `--instructions --json` prints).
///
/// # Errors
/// Not such an array, or a row without its four keys, or a figure that is not positive.
pub fn parse_baseline(text: &str) -> Result<HashMap<(usize, bool), Baseline>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let rows = value.as_array().ok_or("not a JSON array of rows")?;
    let mut out = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let size = row["frame_size"].as_u64().and_then(|s| usize::try_from(s).ok());
        let verifier = row["verifier"].as_bool();
        let driver = row["driver_instructions_per_frame"].as_f64();
        let host = row["host_instructions_per_frame"].as_f64();
        let (Some(size), Some(verifier), Some(driver), Some(host)) = (size, verifier, driver, host) else {
            return Err(format!(
                "row {i} lacks frame_size, verifier, driver_instructions_per_frame or \
                 host_instructions_per_frame"
            ));
        };
        for (key, figure) in [("driver", driver), ("host", host)] {
            if !(figure.is_finite() && figure > 0.0) {
                return Err(format!(
                    "row {i}: {key}_instructions_per_frame {figure} is not positive"
                ));
            }
        }
        out.insert((size, verifier), Baseline { driver, host });
    }
    Ok(out)
}

/// Each row's driver and host figures against the baseline: lines to print, `Err` when one rose
/// more than [`TOLERANCE`] or has no baseline.
///
/// # Errors
/// The report, when a figure rose too far or is missing from the baseline.
pub fn compare(
    rows: &[Row],
    baseline: &HashMap<(usize, bool), Baseline>,
) -> Result<Vec<String>, Vec<String>> {
    let mut lines = Vec::new();
    let mut failed = false;
    for r in rows {
        let name = format!(
            "{} B, verifier {}",
            r.frame_size,
            if r.verifier { "on" } else { "off" }
        );
        let Some(base) = baseline.get(&(r.frame_size, r.verifier)) else {
            failed = true;
            lines.push(format!("{name}: no baseline row"));
            continue;
        };
        for (part, figure, base) in [("driver", r.driver, base.driver), ("host", r.host, base.host)] {
            let change = figure / base - 1.0;
            let verdict = if change > TOLERANCE {
                failed = true;
                "FAIL: more than 10% above the baseline"
            } else {
                "ok"
            };
            lines.push(format!(
                "{name}: {part} {figure:.0} instructions per frame, baseline {base:.0} ({:+.1}%): {verdict}",
                change * 100.0
            ));
        }
    }
    if failed { Err(lines) } else { Ok(lines) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "\
# callgrind format
version: 1
events: Ir
summary: 1000

fl=/ws/miniport/src/wire.rs
fn=rvnic::wire::run
10 100
cfl=/ws/helpers/ndis/src/nbl.rs
cfn=ndis::nbl::NET_BUFFER_LIST_INFO
calls=2 5
11 40
cfn=__memcpy_avx_unaligned_erms
calls=1 0
12 30
fi=/rust/core/src/ptr.rs
13 7

fl=/ws/helpers/ndis/src/nbl.rs
fn=ndis::nbl::NET_BUFFER_LIST_INFO
5 60

fl=/ws/tools/ndis-host/src/adapter.rs
fn=ndis_host::adapter::send
20 200
cfn=ndis::nbl::NET_BUFFER_LIST_INFO
calls=1 5
21 20

fl=???
fn=__memcpy_avx_unaligned_erms
0 30

fl=/ws/tools/rvnic/src/cli/run.rs
fn=rvnic::cli::run::traffic::{{closure}}
30 9
fn=<rvnic_helpers::ring::Ring as core::ops::Drop>::drop
31 3
totals: 509
";

    fn split_of(text: &str) -> Split {
        split(text.as_bytes()).expect("a valid profile")
    }

    #[test]
    fn self_costs_go_to_their_part_and_calls_into_the_abi_to_the_caller() {
        // Driver: its own 100 + 7 (inlined from core), the helper's Drop impl's 3, plus the 40 of
        // the ABI call it made. Host: its own 200, the tool's 9, plus the ABI function's 60 less
        // the 40 the driver called.
        let s = split_of(PROFILE);
        assert_eq!(
            s,
            Split {
                driver: 150,
                copy: 30,
                host: 229
            }
        );
        assert_eq!(s.driver + s.copy + s.host, 409, "every self cost counted once");
    }

    #[test]
    fn a_line_that_is_not_callgrind_is_refused() {
        let bad = PROFILE.replace("10 100", "ten hundred");
        let err = split(bad.as_bytes()).expect_err("refused");
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn the_tools_own_rvnic_paths_are_not_the_drivers() {
        assert!(is_driver("rvnic::wire::Drain::transmit"));
        assert!(is_driver("<rvnic::adapter::Adapter as core::ops::Drop>::drop"));
        assert!(is_driver("rvnic_helpers::ring::mpsc::Mpsc<T,S,_>::push"));
        assert!(!is_driver("rvnic::cli::run::traffic"));
        assert!(!is_driver("rvnic::main"));
        assert!(!is_driver("rvnic_cli::values::frames"));
        assert!(!is_driver("ndis_host::nbl::sends::build_chain"));
        assert!(is_abi("ndis::nbl::NET_BUFFER_LIST_INFO"));
        assert!(!is_abi("ndis_host::irql::rule"));
    }

    #[test]
    fn copies_are_the_mem_functions_only() {
        assert!(is_copy("__memcpy_avx_unaligned_erms"));
        assert!(is_copy("__memset_avx2_unaligned_erms"));
        assert!(is_copy("memmove"));
        assert!(!is_copy("__memcmp_avx2_movbe"));
        assert!(!is_copy("rvnic::wire::run"));
    }

    fn row(driver: f64, host: f64) -> Row {
        Row {
            frame_size: 64,
            verifier: false,
            driver,
            copy: 0.0,
            host,
        }
    }

    #[test]
    fn the_baseline_fails_a_rise_of_more_than_ten_percent() {
        let baseline = parse_baseline(
            r#"[{"frame_size": 64, "verifier": false, "driver_instructions_per_frame": 1000.0,
                 "host_instructions_per_frame": 500.0}]"#,
        )
        .expect("a baseline");
        assert!(compare(&[row(1099.0, 549.0)], &baseline).is_ok());
        assert!(compare(&[row(800.0, 300.0)], &baseline).is_ok(), "a fall passes");
        let err = compare(&[row(1101.0, 500.0)], &baseline).expect_err("a driver rise of 10.1%");
        assert!(err[0].contains("driver") && err[0].contains("FAIL"), "{err:?}");
        assert!(!err[1].contains("FAIL"), "{err:?}");
        let err = compare(&[row(1000.0, 551.0)], &baseline).expect_err("a host rise of 10.2%");
        assert!(err[1].contains("host") && err[1].contains("FAIL"), "{err:?}");
        let missing = compare(
            &[Row {
                frame_size: 1514,
                ..row(10.0, 10.0)
            }],
            &baseline,
        )
        .expect_err("no row");
        assert!(missing[0].contains("no baseline"), "{missing:?}");
    }

    #[test]
    fn a_malformed_baseline_is_refused() {
        assert!(parse_baseline("{}").is_err());
        assert!(parse_baseline(r#"[{"frame_size": 64}]"#).is_err());
        assert!(
            parse_baseline(r#"[{"frame_size": 64, "verifier": true, "driver_instructions_per_frame": 9}]"#)
                .is_err(),
            "no host figure"
        );
        assert!(
            parse_baseline(
                r#"[{"frame_size": 64, "verifier": true, "driver_instructions_per_frame": -1,
                     "host_instructions_per_frame": 9}]"#
            )
            .is_err()
        );
        assert!(
            parse_baseline(
                r#"[{"frame_size": 64, "verifier": true, "driver_instructions_per_frame": 9,
                     "host_instructions_per_frame": 0}]"#
            )
            .is_err()
        );
    }
}
