//! Four CPUs send through a pair while the adapters pause, restart and finally halt: the verifier's
//! NBL accounting over more than a million NBLs finds none lost and none completed twice, every
//! refused send is counted as a transmit discard, and every frame that went out is either received
//! or counted as a discard by its receiver. (This test found the baton's eager-`then_some` bug,
//! which the loom model now covers.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ndis::*;
use ndis_host::{Host, Mode, SendOptions};
use rvnic_tests::{address, config, counter, frame, loaded, set_filter};

/// NBLs each of the four threads sends (4 x 262,144 = 1,048,576 in all).
const PER_THREAD: u64 = 1 << 18;
const CHAIN: usize = 64;

#[test]
fn four_cpus_send_a_million_nbls_through_pause_restart_and_halt_with_none_lost() {
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
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            host.parallel(4, |cpu| {
                let (adapter, frames, side) = if cpu % 2 == 0 {
                    (a, &to_b, 0)
                } else {
                    (b, &to_a, 1)
                };
                let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                let mut mine = 0;
                while mine < PER_THREAD {
                    let options = SendOptions {
                        dispatch: cpu < 2,
                        ..SendOptions::default()
                    };
                    if host.send(adapter, &refs, options).is_some() {
                        mine += CHAIN as u64;
                        sent[side].fetch_add(CHAIN as u64, Ordering::Relaxed);
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
            done.store(true, Ordering::Release);
        });
        // Meanwhile: pause and restart each adapter, over and over, while the senders run.
        let mut cycles = 0;
        while !done.load(Ordering::Acquire) {
            for x in [a, b] {
                let status = host.pause(x);
                assert!(status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING);
                assert_eq!(host.restart(x), NDIS_STATUS_SUCCESS);
            }
            cycles += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(cycles > 0);
    });
    let total: u64 = sent.iter().map(|s| s.load(Ordering::Relaxed)).sum();
    assert!(total >= 1_000_000, "{total} NBLs");
    for (side, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
        let completions = host.take_completions(from);
        let (completed, outstanding) = host.send_counts(from);
        assert_eq!(outstanding, 0, "sends not completed");
        assert_eq!(
            completed,
            sent[side].load(Ordering::Relaxed),
            "every NBL completed once"
        );
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
        assert_eq!(
            ok + paused + full,
            completions.len() as u64,
            "only success, paused or resources"
        );
        assert_eq!(counter(&host, from, OID_GEN_XMIT_DISCARDS), paused + full);
        let went_out = counter(&host, from, OID_GEN_DIRECTED_FRAMES_XMIT);
        assert_eq!(
            went_out, ok,
            "each successful NBL carried one frame that went out"
        );
        let arrived = counter(&host, to, OID_GEN_DIRECTED_FRAMES_RCV);
        let discarded = counter(&host, to, OID_GEN_RCV_DISCARDS);
        assert_eq!(
            arrived + discarded,
            went_out,
            "every frame received or counted as discarded"
        );
        assert_eq!(host.receive_counts(to).0, arrived);
    }
    for x in [a, b] {
        let status = host.pause(x);
        assert!(status == NDIS_STATUS_SUCCESS || status == NDIS_STATUS_PENDING);
        host.halt(x, NdisHaltDeviceDisabled);
    }
    host.unload();
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}
