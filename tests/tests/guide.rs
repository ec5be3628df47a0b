//! docs/GUIDE.md, run and checked: the one frame its section "One frame, end to end" follows,
//! traced by ndis-host as it crosses the driver; and every `path:line` reference of the guide,
//! checked against the source it names, so the walk-through cannot drift from the code.

use ndis::*;
use ndis_host::{Host, SendOptions};
use rvnic_tests::{address, config, finish, frame, loaded, set_filter};

/// The calls one frame makes through a pair, in order, inside the send call (the wire runs in the
/// sender's call): the completion of the send (port 0's batch is flushed first), the indication on
/// the peer, and its return, which the host's protocol makes at once, inside the indication. Run it
/// with `cargo test -p rvnic-tests --test guide -- --nocapture` to see the whole trace.
#[test]
fn one_frame_end_to_end() {
    let host = loaded(Host::builder().cpus(1).trace(true).build());
    let pair = config(&[("Topology", "1"), ("SegmentId", "3")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let one = frame(address(&host, b), address(&host, a), 64, 1);
    let _setup = host.trace();
    host.send(a, &[&one], SendOptions::default()).expect("running");
    let trace = host.trace();
    println!("{}", trace.join("\n"));
    // Each line is "cpu N", then two spaces per level of nesting, then the call.
    let parsed: Vec<(usize, &str)> = trace
        .iter()
        .filter_map(|line| line.strip_prefix("cpu ")?.split_once(' '))
        .map(|(_, rest)| {
            let call = rest.trim_start();
            ((rest.len() - call.len()) / 2, call)
        })
        .collect();
    let expected = [
        (0, "-> MiniportSendNetBufferLists (adapter 0, DISPATCH_LEVEL)"),
        (1, "NdisMSendNetBufferListsComplete"),
        (1, "NdisMIndicateReceiveNetBufferLists"),
        (2, "-> MiniportReturnNetBufferLists (adapter 1, DISPATCH_LEVEL)"),
    ];
    let mut calls = parsed.iter();
    for step in expected {
        assert!(
            calls.any(|call| *call == step),
            "{step:?} missing or out of order in the trace:\n{}",
            trace.join("\n")
        );
    }
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/GUIDE.md")).expect("the guide");
    let shown = guide
        .split_once("see the trace ndis-host prints:\n\n```text\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(block, _)| block)
        .expect("the guide shows the trace");
    assert_eq!(
        shown,
        trace.join("\n"),
        "the trace in docs/GUIDE.md is this test's"
    );
    assert_eq!(host.take_received(b), [one]);
    assert_eq!(host.take_completions(a).len(), 1);
    finish(host, &[a, b]);
}

/// Every `` `path:line` `` followed by `` `item` `` in the guide names a line of that file that
/// contains the item.
#[test]
fn the_guides_references_point_at_what_they_name() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let guide = std::fs::read_to_string(format!("{root}/docs/GUIDE.md")).expect("the guide");
    let mut checked = 0;
    for (at, _) in guide.match_indices(".rs:") {
        let start = guide[..at].rfind('`').map_or(0, |i| i + 1);
        let rest = &guide[at + 4..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let Ok(line) = rest[..digits].parse::<usize>() else {
            continue;
        };
        let path = &guide[start..at + 3];
        let after = &rest[digits..];
        // The item follows in its own backticks, after a space or a line break.
        let Some(item) = after
            .strip_prefix('`')
            .map(str::trim_start)
            .and_then(|s| s.strip_prefix('`'))
            .and_then(|s| s.split_once('`'))
            .map(|(item, _)| item)
        else {
            panic!("{path}:{line} is not followed by the item it names (`path:line` `item`)");
        };
        let source = std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_default();
        let text = source.lines().nth(line.saturating_sub(1)).unwrap_or_default();
        assert!(
            text.contains(item),
            "docs/GUIDE.md: {path}:{line} should show `{item}`, but the line is {text:?}"
        );
        checked += 1;
    }
    assert!(
        checked >= 8,
        "the walk-through names its steps ({checked} references found)"
    );
}

/// The trace shows what the driver printed where it printed it, and records nothing unless asked
/// (or `NDIS_HOST_TRACE` is set, which this test then cannot tell from being asked).
#[test]
fn the_trace_shows_debug_output_in_place_and_is_off_by_default() {
    let host = loaded(Host::builder().trace(true).build());
    let a = host
        .add_adapter(config(&[("*JumboPacket", "5000")]))
        .expect("a bad keyword never fails initialize");
    let trace = host.trace();
    let entry = trace
        .iter()
        .position(|l| l.ends_with("-> MiniportInitializeEx (adapter 0, PASSIVE_LEVEL)"))
        .unwrap_or_else(|| panic!("no initialize in {trace:#?}"));
    let printed = trace
        .iter()
        .position(|l| l.contains("DbgPrint: ") && l.contains("keyword *JumboPacket refused"))
        .unwrap_or_else(|| panic!("no DbgPrint in {trace:#?}"));
    assert!(entry < printed, "printed inside initialize");
    finish(host, &[a]);
    if std::env::var_os("NDIS_HOST_TRACE").is_none() {
        let host = loaded(Host::new());
        let a = host.start_adapter(config(&[])).expect("initialize");
        assert!(host.trace().is_empty(), "tracing is off by default");
        finish(host, &[a]);
    }
}
