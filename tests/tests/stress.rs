//! Four CPUs send through a pair while the adapters pause, restart and finally halt: the verifier's
//! NBL accounting over more than a million NBLs finds none lost and none completed twice, every
//! refused send is counted as a transmit discard, and every frame that went out is either received
//! or counted as a discard by its receiver. Sends keep arriving while the adapters pause and once
//! they are paused (NDIS does not hold them back): the driver completes those with
//! `NDIS_STATUS_PAUSED`. (This test found the baton's eager-`then_some` bug, which the loom model now
//! covers.)

#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use ndis::*;
use ndis_host::{Host, Mode, SendOptions};
use rvnic_tests::{address, config, counter, frame, loaded, set_filter};

/// NBLs the four threads send at least, together.
const TARGET: u64 = 1 << 20;
const CHAIN: usize = 64;

#[test]
fn four_cpus_send_a_million_nbls_through_pause_restart_and_a_halt_with_none_lost() {
    let host = loaded(
        Host::builder()
            .mode(Mode::Concurrent)
            .cpus(4)
            .capture_frames(false)
            .wait_limit(std::time::Duration::from_secs(10))
            .build(),
    );
    let pair = config(&[("Topology", "1"), ("SegmentId", "40")]);
    let a = host.start_adapter(pair.clone()).expect("a");
    let b = host.start_adapter(pair).expect("b");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
    }
    let (ma, mb) = (address(&host, a), address(&host, b));
    let to_b: Vec<Vec<u8>> = (0..CHAIN).map(|i| frame(mb, ma, 60 + i * 20, i as u32)).collect();
    let to_a: Vec<Vec<u8>> = (0..CHAIN).map(|i| frame(ma, mb, 60 + i * 20, i as u32)).collect();
    let sent = [AtomicU64::new(0), AtomicU64::new(0)];
    let stop = AtomicBool::new(false);
    // While `hold` is set the senders start no new send, so the books can be read at rest.
    let hold = AtomicBool::new(false);
    let sending = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            host.parallel(4, |cpu| {
                let (adapter, frames, side) = if cpu % 2 == 0 {
                    (a, &to_b, 0)
                } else {
                    (b, &to_a, 1)
                };
                let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                // Half the CPUs send at DISPATCH_LEVEL, half at PASSIVE_LEVEL.
                let options = SendOptions {
                    dispatch: cpu < 2,
                    ..SendOptions::default()
                };
                while !stop.load(Ordering::Acquire) {
                    sending.fetch_add(1, Ordering::SeqCst);
                    if hold.load(Ordering::SeqCst) {
                        sending.fetch_sub(1, Ordering::SeqCst);
                        std::thread::yield_now();
                        continue;
                    }
                    if host.send(adapter, &refs, options).is_some() {
                        sent[side].fetch_add(CHAIN as u64, Ordering::Relaxed);
                    } else {
                        std::thread::yield_now();
                    }
                    sending.fetch_sub(1, Ordering::SeqCst);
                }
            });
        });
        // Meanwhile: pause and restart each adapter, over and over, while the senders run.
        let total = || sent.iter().map(|s| s.load(Ordering::Relaxed)).sum::<u64>();
        let mut cycles = 0;
        while total() < TARGET {
            for x in [a, b] {
                let status = host.pause(x);
                assert!(status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING);
                assert_eq!(host.restart(x), NDIS_STATUS_SUCCESS);
            }
            cycles += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(cycles > 0);
        // Pause both adapters while the four CPUs send; check the books at rest; then let the
        // senders at the paused adapters again and halt them meanwhile.
        for x in [a, b] {
            let status = host.pause(x);
            assert!(status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING);
        }
        hold.store(true, Ordering::SeqCst);
        while sending.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
        assert!(total() >= 1_000_000, "{} NBLs", total());
        for (from, to) in [(a, b), (b, a)] {
            check_books(&host, from, to);
        }
        let before = [a, b].map(|x| host.send_counts(x).0);
        hold.store(false, Ordering::SeqCst);
        while [a, b]
            .iter()
            .zip(before)
            .any(|(x, n)| host.send_counts(*x).0 == n)
        {
            std::thread::yield_now();
        }
        for x in [a, b] {
            host.halt(x, NdisHaltDeviceDisabled);
        }
        stop.store(true, Ordering::Release);
    });
    for x in [a, b] {
        let late = host.take_completions(x);
        assert!(!late.is_empty(), "sends reached the paused adapter");
        assert!(
            late.iter().all(|c| c.status == NDIS_STATUS_PAUSED),
            "a paused adapter completes every send with NDIS_STATUS_PAUSED"
        );
        assert_eq!(host.send_counts(x).1, 0, "none held past halt");
    }
    host.unload();
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

/// Every NBL the host sent `from` completed exactly once with an accounted status, and every frame
/// that went out was received by `to` or counted as its discard.
fn check_books(host: &Host, from: ndis_host::Adapter, to: ndis_host::Adapter) {
    let completions = host.take_completions(from);
    let (completed, outstanding) = host.send_counts(from);
    assert_eq!(outstanding, 0, "sends not completed");
    assert_eq!(completed, completions.len() as u64, "every NBL completed once");
    let ok = completions
        .iter()
        .filter(|c| c.status == NDIS_STATUS_SUCCESS)
        .count() as u64;
    let paused = completions
        .iter()
        .filter(|c| c.status == NDIS_STATUS_PAUSED)
        .count() as u64;
    // A sender that outruns the wire finds its CPU's transmit lane full: refused, not lost.
    let full = completions
        .iter()
        .filter(|c| c.status == NDIS_STATUS_RESOURCES)
        .count() as u64;
    assert_eq!(ok + paused + full, completed, "only success, paused or resources");
    assert_eq!(counter(host, from, OID_GEN_XMIT_DISCARDS), paused + full);
    let went_out = counter(host, from, OID_GEN_DIRECTED_FRAMES_XMIT);
    assert_eq!(
        went_out, ok,
        "each successful NBL carried one frame that went out"
    );
    let arrived = counter(host, to, OID_GEN_DIRECTED_FRAMES_RCV);
    let discarded = counter(host, to, OID_GEN_RCV_DISCARDS);
    assert_eq!(
        arrived + discarded,
        went_out,
        "every frame received or counted as discarded"
    );
    assert_eq!(host.receive_counts(to).0, arrived);
}
