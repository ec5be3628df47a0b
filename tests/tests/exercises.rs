//! The exercises of `exercises/README.md`. Each test fails until its exercise is done, so all are
//! ignored in the default run; run one with
//! `cargo test -p rvnic-tests --test exercises -- --ignored exercise_1`. CI checks each against the
//! reference solution in `exercises/solutions/` (`exercises/check.sh`): it fails on the code as it
//! is and passes once the solution is applied.

use std::time::Duration;

use ndis::*;
use ndis_host::{Host, Rule, SendOptions};
use rvnic_tests::{address, config, finish, frame, loaded, set_filter};

/// Exercise 1: one drain moves at most one batch of 64 NBLs; the resume timer moves the rest.
#[test]
#[ignore = "exercise 1 of exercises/README.md"]
fn exercise_1_a_drain_moves_one_batch_and_a_timer_the_rest() {
    let host = loaded(Host::builder().cpus(1).trace(true).build());
    let a = host
        .start_adapter(config(&[("Topology", "0"), ("*TransmitBuffers", "512")]))
        .expect("a loopback adapter");
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let frames: Vec<Vec<u8>> = (0..200).map(|i| frame(me, me, 60, i)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let _setup = host.trace();
    host.send(a, &refs, SendOptions::default()).expect("running");
    let first = host.take_completions(a).len();
    assert_eq!(
        first, 64,
        "the send call's drain should move exactly one batch (64 NBLs)"
    );
    host.advance(Duration::from_millis(1));
    host.advance(Duration::from_millis(1));
    host.advance(Duration::from_millis(1));
    let trace = host.trace();
    println!("{}", trace.join("\n"));
    assert!(
        trace.iter().any(|l| l.contains("-> NetTimerCallback")),
        "the resume timer should have fired"
    );
    assert_eq!(
        first + host.take_completions(a).len(),
        200,
        "the timer moved the rest"
    );
    assert_eq!(host.take_received(a), frames);
    finish(host, &[a]);
}

/// Exercise 2: a returned receive that never drops its in-flight reference. Passes when the
/// verifier reports the pause that can then never complete; read its report.
#[test]
#[ignore = "exercise 2 of exercises/README.md"]
fn exercise_2_a_missing_leave_and_the_verifiers_report() {
    let host = loaded(Host::new());
    let pair = config(&[("Topology", "1"), ("SegmentId", "11")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let one = frame(address(&host, b), address(&host, a), 64, 1);
    host.send(a, &[&one], SendOptions::default()).expect("running");
    assert_eq!(
        host.take_received(b),
        [one],
        "b received the frame and returned it"
    );
    let _ = host.pause(b);
    let _ = host.pause(a);
    host.halt(a, NdisHaltDeviceDisabled);
    host.halt(b, NdisHaltDeviceDisabled);
    host.unload();
    let verdict = host.finish();
    println!("the verifier's report:\n{}", verdict.report());
    assert!(
        verdict
            .of(Rule::NeverCompleted)
            .iter()
            .any(|v| v.api == "MiniportPause" && v.adapter == Some(b.0)),
        "the verifier should report that b's pause never completed; it reported:\n{}",
        verdict.report()
    );
}

/// Exercise 3: `MiniportRestart` pends, and the driver completes it later from its timer with
/// `NdisMRestartComplete`.
#[test]
#[ignore = "exercise 3 of exercises/README.md"]
fn exercise_3_a_restart_that_pends_and_completes_later() {
    let host = loaded(Host::builder().trace(true).build());
    let a = host
        .start_adapter(config(&[("Topology", "0")]))
        .expect("initialize, and a restart that completes");
    let trace = host.trace();
    println!("{}", trace.join("\n"));
    let restart = trace
        .iter()
        .position(|l| l.contains("-> MiniportRestart"))
        .expect("a restart");
    let timer = trace[restart..]
        .iter()
        .position(|l| l.contains("-> NetTimerCallback"))
        .map(|i| restart + i)
        .expect("a timer callback after MiniportRestart returned");
    assert!(
        trace[timer..]
            .iter()
            .any(|l| l.trim_end().ends_with("NdisMRestartComplete")),
        "the timer callback should complete the restart with NdisMRestartComplete"
    );
    set_filter(&host, a, NDIS_PACKET_TYPE_DIRECTED);
    let me = address(&host, a);
    let one = frame(me, me, 64, 1);
    host.send(a, &[&one], SendOptions::default())
        .expect("running after the restart");
    assert_eq!(host.take_received(a), [one]);
    finish(host, &[a]);
}
