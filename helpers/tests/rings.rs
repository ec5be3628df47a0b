//! The rings on real threads (model checking is in tests/loom.rs).

#![allow(
    clippy::items_after_statements,
    reason = "helper types sit by the test that uses them"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]
#![cfg(not(rvnic_loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rvnic_helpers::ring::{Dispatch, Mpsc, RingError, Slot, Spsc, boxed_slots};

#[test]
fn capacity_must_be_a_power_of_two() {
    assert_eq!(
        Spsc::<u8, _>::new(boxed_slots(6)).err(),
        Some(RingError::NotPowerOfTwo { capacity: 6 })
    );
    assert_eq!(
        Spsc::<u8, _>::new(boxed_slots(0)).err(),
        Some(RingError::NotPowerOfTwo { capacity: 0 })
    );
    assert_eq!(
        Spsc::<u8, _>::new(boxed_slots(8)).map(|r| r.capacity()).ok(),
        Some(8)
    );
    let inline: [Slot<u64>; 4] = Default::default();
    assert_eq!(Spsc::new(inline).map(|r| r.capacity()).ok(), Some(4));
}

#[test]
fn a_full_ring_hands_the_item_back_and_order_survives_wrap_around() {
    let mut ring = Spsc::new(boxed_slots::<u32>(4)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    let mut next_in = 0u32;
    let mut next_out = 0u32;
    for round in 0..1000 {
        let burst = round % 5 + 1;
        for _ in 0..burst {
            match tx.push(next_in) {
                Ok(()) => next_in += 1,
                Err(item) => {
                    assert_eq!(item, next_in, "the refused item comes back unchanged");
                    break;
                }
            }
        }
        for _ in 0..=(round % 3) {
            if let Some(v) = rx.pop() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        assert!(next_in - next_out <= 4);
    }
    while let Some(v) = rx.pop() {
        assert_eq!(v, next_out);
        next_out += 1;
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 1000, "many wrap-arounds");
}

#[test]
fn batches_take_what_fits_and_return_in_order() {
    let mut ring = Spsc::new(boxed_slots::<u16>(8)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    let items: Vec<u16> = (0..20).collect();
    assert_eq!(tx.push_slice(&items), 8);
    assert_eq!(tx.push_slice(&items[8..]), 0, "full");
    let mut out = [0u16; 5];
    assert_eq!(rx.pop_slice(&mut out), 5);
    assert_eq!(out, [0, 1, 2, 3, 4]);
    assert_eq!(tx.push_slice(&items[8..]), 5, "wraps around");
    let mut rest = [0u16; 32];
    assert_eq!(rx.pop_slice(&mut rest), 8);
    assert_eq!(&rest[..8], &[5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(rx.pop_slice(&mut rest), 0);
}

#[test]
fn items_left_in_a_ring_are_dropped_with_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    {
        let mut ring = Spsc::new(boxed_slots::<Counted>(4)).expect("power of two");
        let (mut tx, mut rx) = ring.split();
        for _ in 0..3 {
            assert!(tx.push(Counted(Arc::clone(&drops))).is_ok());
        }
        drop(rx.pop());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "the two left were dropped with the ring"
    );
}

#[test]
fn spsc_across_threads_delivers_everything_in_order() {
    const N: u64 = 200_000;
    let mut ring = Spsc::new(boxed_slots::<u64>(64)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut i = 0;
            while i < N {
                if tx.push(i).is_ok() {
                    i += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let mut expected = 0;
        let mut batch = [0u64; 16];
        while expected < N {
            let n = rx.pop_slice(&mut batch);
            for v in &batch[..n] {
                assert_eq!(*v, expected);
                expected += 1;
            }
        }
    });
}

#[test]
fn mpsc_lanes_keep_each_producers_order_and_drain_fairly() {
    let ring: Mpsc<u64, _, 4> = Mpsc::new(|_| boxed_slots(8)).expect("power of two");
    assert_eq!(ring.capacity(), 40, "four lanes and the shared one");
    // SAFETY: each CPU number is claimed by one thread at a time in this test.
    let cpu0 = unsafe { Dispatch::assume(0) };
    // SAFETY: as above.
    let cpu1 = unsafe { Dispatch::assume(1) };
    for i in 0..3 {
        assert!(ring.push(&cpu0, i).is_ok());
        assert!(ring.push(&cpu1, 100 + i).is_ok());
    }
    // SAFETY: no thread is on CPU 9; the ring has no lane for it.
    let outside = unsafe { Dispatch::assume(9) };
    assert_eq!(
        ring.push(&outside, 7),
        Ok(()),
        "no lane of its own: the shared lane"
    );
    let mut consumer = ring.consumer().expect("first consumer");
    assert!(ring.consumer().is_none(), "only one consumer at a time");
    let mut out = [0u64; 6];
    assert_eq!(consumer.pop_slice(&mut out, 1), 6);
    assert_eq!(
        out,
        [0, 100, 7, 1, 101, 2],
        "one from each lane per round, the shared one last"
    );
    drop(consumer);
    assert!(ring.consumer().is_some(), "released on drop");
}

#[test]
fn mpsc_with_concurrent_producers_loses_and_duplicates_nothing() {
    const PER: u64 = 50_000;
    let ring: Mpsc<u64, _, 2> = Mpsc::new(|_| boxed_slots(64)).expect("power of two");
    std::thread::scope(|s| {
        for cpu in 0..2u64 {
            let ring = &ring;
            s.spawn(move || {
                // SAFETY: each producer thread claims its own CPU number.
                let on = unsafe { Dispatch::assume(cpu as usize) };
                let mut i = 0;
                while i < PER {
                    if ring.push(&on, cpu << 32 | i).is_ok() {
                        i += 1;
                    }
                }
            });
        }
        let mut consumer = ring.consumer().expect("consumer");
        let mut next = [0u64; 2];
        let mut got = 0;
        let mut out = [0u64; 32];
        while got < 2 * PER {
            let n = consumer.pop_slice(&mut out, 8);
            for v in &out[..n] {
                let lane = (v >> 32) as usize;
                assert_eq!(v & 0xffff_ffff, next[lane], "per-producer order");
                next[lane] += 1;
            }
            got += n as u64;
        }
    });
}

#[test]
fn in_place_batches_make_and_take_items_in_order_without_a_buffer() {
    let mut ring = Spsc::new(boxed_slots::<u64>(8)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    assert_eq!(tx.push_with(5, |i| 10 + i as u64), 5);
    assert_eq!(tx.push_with(10, |i| 20 + i as u64), 3, "only three fit");
    let mut got = Vec::new();
    assert_eq!(rx.pop_with(6, |v| got.push(v)), 6);
    assert_eq!(got, [10, 11, 12, 13, 14, 20]);
    assert_eq!(rx.pop_with(100, |v| got.push(v)), 2);
    assert_eq!(&got[6..], &[21, 22]);
    assert_eq!(rx.pop_with(1, |_| unreachable!()), 0);

    let lanes: Mpsc<u64, _, 2> = Mpsc::new(|_| boxed_slots(4)).expect("power of two");
    // SAFETY: one thread per CPU number.
    let (a, b) = (unsafe { Dispatch::assume(0) }, unsafe { Dispatch::assume(1) });
    assert_eq!(lanes.push_with(&a, 3, |i| i as u64), 3);
    assert_eq!(lanes.push_with(&b, 9, |i| 100 + i as u64), 4);
    let mut consumer = lanes.consumer().expect("consumer");
    let mut out = Vec::new();
    assert_eq!(consumer.pop_with(10, 2, |v| out.push(v)), 7);
    assert_eq!(out, [0, 1, 100, 101, 2, 102, 103], "two from each lane per turn");
}

/// Pushing from an iterator takes only what fits (the rest stay in the iterator, in order), wraps
/// around, and publishes the batch; on the shared lane it hands back the one item that did not fit.
#[test]
fn pushes_from_an_iterator_take_only_what_fits() {
    let mut ring = Spsc::new(boxed_slots::<u64>(4)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    let mut items = 10..20u64;
    assert_eq!(tx.push_from(&mut items), 4);
    assert_eq!(items.clone().next(), Some(14), "nothing taken that did not fit");
    assert_eq!(tx.push_from(&mut items), 0, "full");
    assert_eq!(rx.pop(), Some(10));
    assert_eq!(rx.pop(), Some(11));
    assert_eq!(tx.push_from(&mut (14..15u64)), 1, "the iterator ends first");
    assert_eq!(tx.push_from(&mut items), 1, "wraps into the one slot left");
    let mut got = Vec::new();
    assert_eq!(rx.pop_with(10, |v| got.push(v)), 4);
    assert_eq!(got, [12, 13, 14, 14]);

    let lanes: Mpsc<u64, _, 2> = Mpsc::new(|_| boxed_slots(2)).expect("power of two");
    // SAFETY: one thread per CPU number.
    let (a, outside) = (unsafe { Dispatch::assume(0) }, unsafe { Dispatch::assume(7) });
    let mut items = 0..5u64;
    assert_eq!(
        lanes.push_from(&a, &mut items),
        None,
        "an own lane takes none it cannot hold"
    );
    assert_eq!(items.clone().next(), Some(2));
    assert_eq!(
        lanes.push_from(&outside, &mut items),
        Some(4),
        "the shared lane hands one back"
    );
    assert_eq!(items.next(), None);
    let mut consumer = lanes.consumer().expect("consumer");
    let mut out = Vec::new();
    assert_eq!(consumer.pop_with(10, 8, |v| out.push(v)), 4);
    assert_eq!(out, [0, 1, 2, 3]);
}

/// Draining only the lanes of the CPUs that exist (and the shared lane) takes the same items in
/// the same round-robin, and a consumer that looked at every lane hands over to one that does not.
#[test]
fn a_drain_among_the_first_lanes_and_the_shared_one() {
    type Eight = Mpsc<u64, Box<[Slot<u64>]>, 8>;
    let lanes: Eight = Mpsc::new(|_| boxed_slots(8)).expect("power of two");
    // SAFETY: one thread per CPU number.
    let (a, b) = (unsafe { Dispatch::assume(0) }, unsafe { Dispatch::assume(1) });
    assert_eq!(lanes.push_with(&a, 3, |i| i as u64), 3);
    assert_eq!(lanes.push_with(&b, 3, |i| 100 + i as u64), 3);
    assert!(lanes.push_shared(&a, 500).is_ok());
    let mut out = Vec::new();
    let mut consumer = lanes.consumer().expect("consumer");
    assert_eq!(consumer.pop_with_among(3, 1, 2, |v| out.push(v)), 3);
    drop(consumer);
    assert_eq!(out, [0, 100, 500], "lane 0, lane 1, then the shared lane");
    // A consumer over all lanes takes from lanes 0, 1 and 5 and stops at lane 6; the next, over
    // two lanes, resumes at the shared lane and goes round.
    // SAFETY: as above.
    let five = unsafe { Dispatch::assume(5) };
    assert!(lanes.push(&five, 555).is_ok());
    let mut consumer = lanes.consumer().expect("consumer");
    assert_eq!(consumer.pop_with(3, 1, |v| out.push(v)), 3);
    drop(consumer);
    let mut consumer = lanes.consumer().expect("consumer");
    assert_eq!(consumer.pop_with_among(10, 1, 2, |v| out.push(v)), 2);
    assert_eq!(out, [0, 100, 500, 1, 101, 555, 2, 102]);
    assert_eq!(
        consumer.pop_with_among(10, 1, 0, |_| unreachable!()),
        0,
        "the shared lane is empty"
    );
}

/// Lanes 0-3 are always full while lanes 4-7 hold work; every drain takes 64 items, 16 per lane,
/// through a fresh consumer (as the wire makes one per drain). The round-robin position carries
/// over from one consumer to the next, so lanes 4-7 are served within a few drains. (A fresh
/// consumer that started at lane 0 took all 64 from lanes 0-3 every time: 64,000 items in 1,000
/// drains, none from lanes 4-7.)
#[test]
fn no_lane_starves_however_the_drains_are_cut() {
    type Eight = Mpsc<u32, Box<[Slot<u32>]>, 8>;
    let ring: Eight = Mpsc::new(|_| boxed_slots(64)).expect("power of two");
    let on = |cpu: usize| {
        // SAFETY: this test is the only thread, and claims each CPU number in turn.
        unsafe { Dispatch::assume(cpu) }
    };
    for cpu in 4..8 {
        for i in 0..16 {
            ring.push(&on(cpu), (cpu * 100 + i) as u32).expect("room");
        }
    }
    let mut from_late_lanes = 0;
    for _ in 0..8 {
        for cpu in 0..4 {
            while ring.push(&on(cpu), cpu as u32).is_ok() {}
        }
        let mut consumer = ring.consumer().expect("consumer");
        consumer.pop_with(64, 16, |v| {
            if v >= 400 {
                from_late_lanes += 1;
            }
        });
    }
    assert_eq!(from_late_lanes, 64, "lanes 4-7 were starved by busy lanes 0-3");
}

/// A CPU numbered past the lanes pushes through the shared lane, and a consumer takes its items
/// with the others'.
#[test]
fn a_cpu_past_the_lanes_pushes_through_the_shared_lane() {
    type Two = Mpsc<u32, Box<[Slot<u32>]>, 2>;
    let ring: Two = Mpsc::new(|_| boxed_slots(4)).expect("power of two");
    // SAFETY: the only thread, claiming CPU 70 and then CPU 1.
    let far = unsafe { Dispatch::assume(70) };
    for v in 0..4 {
        ring.push(&far, v).expect("the shared lane has room");
    }
    assert_eq!(
        ring.push(&far, 4),
        Err(4),
        "a full shared lane hands the item back"
    );
    // SAFETY: as above.
    let near = unsafe { Dispatch::assume(1) };
    ring.push(&near, 9).expect("its own lane");
    assert_eq!(ring.len(), 5);
    let mut consumer = ring.consumer().expect("consumer");
    let mut got = Vec::new();
    while let Some(v) = consumer.pop() {
        got.push(v);
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 9]);
}
