//! Model checking of the rings with loom: every interleaving (within the preemption bound CI sets
//! with `LOOM_MAX_PREEMPTIONS`) of a producer and a consumer, or two producers and a consumer.
//!
//! `RUSTFLAGS="--cfg rvnic_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p rvnic-helpers --test loom --release`
#![cfg(rvnic_loom)]

use loom::thread;
use rvnic_helpers::ring::{Dispatch, Mpsc, Spsc, boxed_slots};

/// A ring that lives for the model's execution (loom threads need `'static` borrows).
fn leaked<T: Send + 'static>(capacity: usize) -> &'static mut Spsc<T, Box<[rvnic_helpers::ring::Slot<T>]>> {
    Box::leak(Box::new(Spsc::new(boxed_slots(capacity)).expect("power of two")))
}

fn push_all(
    tx: &mut rvnic_helpers::ring::Producer<'_, u32, Box<[rvnic_helpers::ring::Slot<u32>]>>,
    items: impl Iterator<Item = u32>,
) {
    for mut item in items {
        while let Err(back) = tx.push(item) {
            item = back;
            thread::yield_now();
        }
    }
}

#[test]
fn spsc_push_pop_in_order_through_wrap_around() {
    loom::model(|| {
        let (mut tx, mut rx) = leaked::<u32>(2).split();
        let producer = thread::spawn(move || push_all(&mut tx, 0..4));
        for expected in 0..4 {
            loop {
                if let Some(v) = rx.pop() {
                    assert_eq!(v, expected);
                    break;
                }
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert!(rx.pop().is_none());
    });
}

#[test]
fn spsc_batches_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = leaked::<u32>(2).split();
        let producer = thread::spawn(move || {
            let items = [0, 1, 2];
            let mut sent = 0;
            while sent < items.len() {
                sent += tx.push_slice(&items[sent..]);
                thread::yield_now();
            }
        });
        let mut got = Vec::new();
        let mut out = [0u32; 2];
        while got.len() < 3 {
            let n = rx.pop_slice(&mut out);
            got.extend_from_slice(&out[..n]);
            thread::yield_now();
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn spsc_full_and_empty_race_never_loses_an_item() {
    loom::model(|| {
        let (mut tx, mut rx) = leaked::<u32>(2).split();
        // The producer fills the ring and tries once more, racing one pop.
        let producer = thread::spawn(move || {
            assert!(tx.push(1).is_ok());
            assert!(tx.push(2).is_ok());
            tx.push(3).is_ok()
        });
        let popped = rx.pop();
        let third_went_in = producer.join().unwrap();
        let mut rest = Vec::new();
        while let Some(v) = rx.pop() {
            rest.push(v);
        }
        match popped {
            Some(first) => {
                assert_eq!(first, 1);
                let expected: &[u32] = if third_went_in { &[2, 3] } else { &[2] };
                assert_eq!(rest, expected);
            }
            None => {
                assert!(
                    !third_went_in,
                    "a full ring with nothing popped refuses the third item"
                );
                assert_eq!(rest, [1, 2]);
            }
        }
    });
}

type Lanes = Mpsc<u32, Box<[rvnic_helpers::ring::Slot<u32>]>, 2>;

#[test]
fn mpsc_two_producers_keep_their_order_and_lose_nothing() {
    loom::model(|| {
        let ring: &'static Lanes = Box::leak(Box::new(Mpsc::new(|_| boxed_slots(2)).expect("power of two")));
        let producers: Vec<_> = (0..2u32)
            .map(|cpu| {
                thread::spawn(move || {
                    // SAFETY: each model thread claims its own CPU number.
                    let on = unsafe { Dispatch::assume(cpu as usize) };
                    for i in 0..2 {
                        let mut item = cpu * 10 + i;
                        while let Err(back) = ring.push(&on, item) {
                            item = back;
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut consumer = ring.consumer().expect("consumer");
        let mut seen = Vec::new();
        while seen.len() < 4 {
            match consumer.pop() {
                Some(v) => seen.push(v),
                None => thread::yield_now(),
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        let lane0: Vec<u32> = seen.iter().copied().filter(|v| *v < 10).collect();
        let lane1: Vec<u32> = seen.iter().copied().filter(|v| *v >= 10).collect();
        assert_eq!((lane0, lane1), (vec![0, 1], vec![10, 11]));
    });
}

#[test]
fn mpsc_batches_and_a_full_lane_hands_items_back() {
    loom::model(|| {
        let ring: &'static Lanes = Box::leak(Box::new(Mpsc::new(|_| boxed_slots(2)).expect("power of two")));
        let producer = thread::spawn(move || {
            // SAFETY: the only thread on CPU 1.
            let on = unsafe { Dispatch::assume(1) };
            ring.push_slice(&on, &[5, 6, 7])
        });
        let mut consumer = ring.consumer().expect("consumer");
        let mut out = [0u32; 4];
        let first = consumer.pop_slice(&mut out, 4);
        let pushed = producer.join().unwrap();
        assert_eq!(pushed, 2, "a lane of two takes two");
        let second = consumer.pop_slice(&mut out[first..], 4);
        assert_eq!(&out[..first + second], &[5, 6]);
    });
}

#[test]
fn only_one_mpsc_consumer_at_a_time() {
    loom::model(|| {
        let ring: &'static Lanes = Box::leak(Box::new(Mpsc::new(|_| boxed_slots(2)).expect("power of two")));
        let other = thread::spawn(move || ring.consumer().map(drop).is_some());
        let mine = ring.consumer();
        let theirs = other.join().unwrap();
        assert!(mine.is_some() || theirs, "one of the two got it");
        if mine.is_some() {
            // If both got it, theirs was released before mine was taken, never at the same time.
            drop(mine);
        }
        assert!(ring.consumer().is_some(), "released again");
    });
}

#[test]
fn spsc_in_place_batches_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = leaked::<u32>(2).split();
        let producer = thread::spawn(move || {
            let mut sent = 0;
            while sent < 3 {
                sent += tx.push_with(3 - sent, |i| (sent + i) as u32);
                thread::yield_now();
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            rx.pop_with(2, |v| got.push(v));
            thread::yield_now();
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// Pushing from an iterator (a send's chain) while the consumer pops: every item once, in order,
/// none taken from the iterator without a slot for it.
#[test]
fn spsc_pushes_from_an_iterator_in_order() {
    loom::model(|| {
        let (mut tx, mut rx) = leaked::<u32>(2).split();
        let producer = thread::spawn(move || {
            let mut items = 0..3u32;
            while items.len() > 0 {
                tx.push_from(&mut items);
                thread::yield_now();
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            rx.pop_with(2, |v| got.push(v));
            thread::yield_now();
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// Two producers queue an item each and signal; whoever gets the baton drains. However the
/// signals and releases interleave, only one thread drains at a time, and every item is drained
/// before the last holder lets go.
#[test]
fn baton_never_strands_work() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use rvnic_helpers::ring::Baton;

    loom::model(|| {
        let baton = Arc::new(Baton::new());
        let queued = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(AtomicUsize::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        let producer = |baton: Arc<Baton>,
                        queued: Arc<AtomicUsize>,
                        drained: Arc<AtomicUsize>,
                        inside: Arc<AtomicUsize>| {
            move || {
                for _ in 0..2 {
                    queued.fetch_add(1, Ordering::Relaxed);
                    if let Some(held) = baton.signal() {
                        held.run(|| {
                            assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0, "two holders at once");
                            // Drain everything queued so far (Relaxed: the baton orders it).
                            let now = queued.load(Ordering::Relaxed);
                            drained.store(now, Ordering::Relaxed);
                            inside.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                }
            }
        };
        let a = thread::spawn(producer(
            baton.clone(),
            queued.clone(),
            drained.clone(),
            inside.clone(),
        ));
        let b = thread::spawn(producer(
            baton.clone(),
            queued.clone(),
            drained.clone(),
            inside.clone(),
        ));
        a.join().unwrap();
        b.join().unwrap();
        assert!(!baton.is_held());
        assert_eq!(drained.load(Ordering::Relaxed), 4, "a queued item was stranded");
    });
}

/// A holder that stops at its budget defers to a timer ([`Held::defer`]) while a producer signals
/// and the timer may fire (once) at any point: in every interleaving, either all queued work was
/// drained, or the timer is still armed to drain it. (Arming and then dropping the baton fails
/// this: the timer's own signal can be lost.) The flag is changed only by read-modify-writes: loom
/// 0.7 can give a plain store and a concurrent RMW an impossible history (tokio-rs/loom#254).
#[test]
fn a_deferred_drain_is_never_lost() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use rvnic_helpers::ring::Baton;

    loom::model(|| {
        let baton = Arc::new(Baton::new());
        let queued = Arc::new(AtomicUsize::new(1));
        let drained = Arc::new(AtomicUsize::new(0));
        let armed = Arc::new(AtomicBool::new(false));
        let held = baton.signal().expect("nobody else holds it yet");
        let drain = |baton: &Baton, queued: &AtomicUsize, drained: &AtomicUsize| {
            if let Some(h) = baton.signal() {
                h.run(|| drained.store(queued.load(Ordering::Relaxed), Ordering::Relaxed));
            }
        };
        let timer = {
            let (baton, queued, drained, armed) =
                (baton.clone(), queued.clone(), drained.clone(), armed.clone());
            thread::spawn(move || {
                if armed
                    .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    drain(&baton, &queued, &drained);
                }
            })
        };
        let producer = {
            let (baton, queued, drained) = (baton.clone(), queued.clone(), drained.clone());
            thread::spawn(move || {
                queued.fetch_add(1, Ordering::Relaxed);
                drain(&baton, &queued, &drained);
            })
        };
        held.defer(|_| {
            let _ = armed.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire);
        });
        timer.join().unwrap();
        producer.join().unwrap();
        let armed_now = armed
            .compare_exchange(true, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        assert!(
            drained.load(Ordering::Relaxed) == queued.load(Ordering::Relaxed) || armed_now,
            "queued work neither drained nor left to the timer"
        );
    });
}

/// A ring of one lane per CPU (here one) plus the shared lane.
type OneLane = Mpsc<u32, Box<[rvnic_helpers::ring::Slot<u32>]>, 1>;

fn one_lane() -> &'static OneLane {
    Box::leak(Box::new(Mpsc::new(|_| boxed_slots(4)).expect("power of two")))
}

/// `len` from a third thread while a producer pushes one item and the consumer pops it: the count
/// never exceeds what was ever in the ring. (With `tail` read before `head`, a push and a pop
/// between the two loads wrapped the difference, and a ring that held at most one item reported
/// itself full: 4.)
#[test]
fn len_never_wraps_to_full() {
    loom::model(|| {
        let ring = one_lane();
        let producer = thread::spawn(move || {
            // SAFETY: the only thread on CPU 0.
            let on = unsafe { Dispatch::assume(0) };
            ring.push(&on, 7).expect("room");
        });
        let observer = thread::spawn(move || ring.len());
        let mut consumer = ring.consumer().expect("consumer");
        while consumer.pop().is_none() {
            thread::yield_now();
        }
        producer.join().unwrap();
        let seen = observer.join().unwrap();
        assert!(
            seen <= 1,
            "len reported {seen} for a ring that never held more than one item"
        );
    });
}

/// Two threads take the consumer one after the other and each pops: the second must see the
/// first's consumer-side indices. (With the single-consumer flag Relaxed, loom reports the two
/// accesses to the consumer's private indices as a race.)
#[test]
fn successive_consumers_on_two_threads_see_each_other() {
    loom::model(|| {
        let ring = one_lane();
        {
            // SAFETY: set-up on the only thread there is yet.
            let on = unsafe { Dispatch::assume(0) };
            ring.push(&on, 1).expect("room");
            ring.push(&on, 2).expect("room");
        }
        let take_one = move || ring.consumer().and_then(|mut c| c.pop());
        let other = thread::spawn(take_one);
        let mine = take_one();
        let theirs = other.join().unwrap();
        let mut got: Vec<u32> = mine.into_iter().chain(theirs).collect();
        // Whoever did not get the consumer got nothing; the rest is still there.
        while let Some(v) = ring.consumer().and_then(|mut c| c.pop()) {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2], "each item popped exactly once");
    });
}

/// Two CPUs without a lane of their own (numbered past the lanes) push through the shared lane at
/// once: nothing is lost and each keeps its order. (With the shared lane's flag Relaxed, loom
/// reports the producers' private indices as raced.)
#[test]
fn cpus_without_a_lane_share_one_without_losing_anything() {
    loom::model(|| {
        let ring = one_lane();
        let producers: Vec<_> = [5usize, 9]
            .into_iter()
            .map(|cpu| {
                thread::spawn(move || {
                    // SAFETY: each model thread claims its own CPU number.
                    let on = unsafe { Dispatch::assume(cpu) };
                    for i in 0..2 {
                        ring.push(&on, (cpu * 10 + i) as u32).expect("room for four");
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut consumer = ring.consumer().expect("consumer");
        let mut seen = Vec::new();
        while let Some(v) = consumer.pop() {
            seen.push(v);
        }
        let five: Vec<u32> = seen.iter().copied().filter(|v| *v < 90).collect();
        let nine: Vec<u32> = seen.iter().copied().filter(|v| *v >= 90).collect();
        assert_eq!((five, nine), (vec![50, 51], vec![90, 91]));
    });
}

/// A drain that stops at its budget arms the resume timer of an adapter on the wire while another
/// thread detaches that adapter (taking the baton, as `wire::detach` does) and frees it. The timer
/// must be armed while the baton is still held, so the detacher cannot free the adapter in between.
/// (Arming after the release reads the adapter concurrently with its free: loom reports the race.)
#[test]
fn the_resume_timer_is_armed_before_the_adapter_can_leave_the_wire() {
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use rvnic_helpers::ring::Baton;

    struct Adapter {
        /// What the timer arming reads, and what freeing the adapter writes.
        alive: UnsafeCell<bool>,
    }
    // SAFETY: every access goes through the baton in this model (that is what it checks).
    unsafe impl Sync for Adapter {}

    loom::model(|| {
        let baton = Arc::new(Baton::new());
        let adapter = Arc::new(Adapter {
            alive: UnsafeCell::new(true),
        });
        let held = baton.signal().expect("the drainer holds it first");
        let detacher = {
            let (baton, adapter) = (baton.clone(), adapter.clone());
            thread::spawn(move || {
                let held = loop {
                    if let Some(h) = baton.try_take() {
                        break h;
                    }
                    thread::yield_now();
                };
                // Off the wire, then freed; loom checks no other access overlaps this one.
                // SAFETY: a plain write through loom's cell, exclusive while the baton is held.
                adapter.alive.with_mut(|a| unsafe { *a = false });
                held.run(|| {});
            })
        };
        held.defer(|_| {
            // The arm touches the adapter (its timer lives in it).
            // SAFETY: a plain read through loom's cell, which checks it does not race the free.
            let alive = adapter.alive.with(|a| unsafe { *a });
            assert!(alive, "armed the timer of a freed adapter");
        });
        detacher.join().unwrap();
    });
}

/// A send handler completes the NBL it refused while a pause is pending, then runs the wire
/// (`kick`, which reads the adapter), while NDIS waits for the pause to complete and then halts and
/// frees the adapter. The handler holds its own in-flight reference from first touch to last, so
/// the pause completes only after `kick`. (Without it, the refused NBL's completion completed the
/// pause, the halt freed the adapter, and `kick` read freed memory: loom reports the race.)
#[test]
fn a_send_racing_pause_and_halt_never_touches_a_freed_adapter() {
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use rvnic_helpers::in_flight::InFlight;

    struct Adapter {
        in_flight: InFlight,
        /// The fields `kick` reads; halt frees them.
        fields: UnsafeCell<u32>,
        /// NdisMPauseComplete was called.
        pause_completed: AtomicBool,
    }
    // SAFETY: `fields` is read by the handler and written by halt; the model checks they never race.
    unsafe impl Sync for Adapter {}

    impl Adapter {
        fn leave(&self) {
            if self.in_flight.leave() {
                self.pause_completed.store(true, Ordering::Release);
            }
        }
    }

    loom::model(|| {
        let adapter = Arc::new(Adapter {
            in_flight: InFlight::new(),
            fields: UnsafeCell::new(1),
            pause_completed: AtomicBool::new(false),
        });
        adapter.in_flight.restart();
        // NDIS called MiniportSendNetBufferLists before MiniportPause, and the handler's first act
        // is to take its own reference (`Adapter::send`).
        adapter.in_flight.enter();
        let send = {
            let adapter = adapter.clone();
            thread::spawn(move || {
                adapter.in_flight.enter(); // the NBL's
                let _ = adapter.in_flight.is_running(); // refused or queued: completed either way
                adapter.leave(); // NdisMSendNetBufferListsComplete
                // wire::kick reads the adapter.
                // SAFETY: a plain read through loom's cell, which checks it does not race the free.
                adapter.fields.with(|f| assert_eq!(unsafe { *f }, 1));
                adapter.leave(); // the handler's last touch
            })
        };
        // NDIS: MiniportPause, then wait for NdisMPauseComplete, then MiniportHaltEx frees.
        if !adapter.in_flight.pause() {
            while !adapter.pause_completed.load(Ordering::Acquire) {
                thread::yield_now();
            }
        }
        // SAFETY: a plain write through loom's cell (the halt's free), checked against the read.
        adapter.fields.with_mut(|f| unsafe { *f = 0 });
        send.join().unwrap();
    });
}

/// A reset handler and a drain settle a reset exactly once, whatever the interleaving: the handler
/// records the reset and signals the wire's baton (running a pass itself if the baton was free)
/// before it decides; every pass the baton runs reports the lanes empty. Either the handler's
/// decision is "done" and no pass completes the reset, or it pends and exactly one pass completes it.
#[test]
fn a_reset_is_settled_exactly_once() {
    use rvnic_helpers::reset::{ResetGate, Settled};
    use rvnic_helpers::ring::Baton;
    use std::sync::atomic::{AtomicUsize, Ordering};
    loom::model(|| {
        let gate: &'static ResetGate = Box::leak(Box::new(ResetGate::default()));
        let baton: &'static Baton = Box::leak(Box::new(Baton::new()));
        let completions: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        // A drain pass: the lanes are empty (NDIS sends nothing during a reset).
        let pass = move || {
            if gate.lanes_empty() == Settled::Complete {
                completions.fetch_add(1, Ordering::SeqCst);
            }
        };
        let drain = thread::spawn(move || {
            if let Some(held) = baton.signal() {
                held.run(pass);
            }
        });
        gate.begin();
        if let Some(held) = baton.signal() {
            held.run(pass);
        }
        let done = gate.decide();
        drain.join().unwrap();
        assert_eq!(
            usize::from(done) + completions.load(Ordering::SeqCst),
            1,
            "settled by the handler ({done}) or by exactly one pass"
        );
    });
}

/// A node for the mailbox model: its link in loom's cell, so loom checks every access to it.
struct Node {
    value: u32,
    next: loom::cell::UnsafeCell<*mut Node>,
}

// SAFETY: only the link is touched, through loom's cell.
unsafe impl rvnic_helpers::ring::Linked for Node {
    unsafe fn next(node: *mut Self) -> *mut Self {
        // SAFETY: a live node (the trait's contract).
        unsafe { (*node).next.with(|p| *p) }
    }
    unsafe fn set_next(node: *mut Self, next: *mut Self) {
        // SAFETY: a live node nobody else reads meanwhile (the trait's contract).
        unsafe { (*node).next.with_mut(|p| *p = next) };
    }
}

/// A list of leaked nodes with `values`, linked in order; returns its first node.
fn list(values: &[u32]) -> *mut Node {
    let mut first = std::ptr::null_mut();
    for &value in values.iter().rev() {
        let node = Box::leak(Box::new(Node {
            value,
            next: loom::cell::UnsafeCell::new(first),
        }));
        first = node;
    }
    first
}

/// Reads the values of a collected list.
fn values(mut node: *mut Node) -> Vec<u32> {
    let mut out = Vec::new();
    while !node.is_null() {
        // SAFETY: collected nodes are the collector's; leaked, so live.
        unsafe {
            out.push((*node).value);
            node = <Node as rvnic_helpers::ring::Linked>::next(node);
        }
    }
    out
}

#[test]
fn mailbox_loses_nothing_and_keeps_each_posters_order() {
    use rvnic_helpers::ring::Mailbox;
    use std::sync::atomic::{AtomicUsize, Ordering};
    loom::model(|| {
        let mailbox: &'static Mailbox<Node> = Box::leak(Box::new(Mailbox::new()));
        let wakes: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let poster = |first: u32| {
            thread::spawn(move || {
                // SAFETY: the nodes are this thread's until posted.
                if unsafe { mailbox.post(list(&[first, first + 1])) } {
                    wakes.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let a = poster(10);
        let b = poster(20);
        // A collection racing the posts, then one after them.
        let mut got = values(mailbox.collect());
        a.join().unwrap();
        b.join().unwrap();
        got.extend(values(mailbox.collect()));
        assert!(mailbox.is_empty());
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [10, 11, 20, 21], "nothing lost or duplicated: {got:?}");
        for first in [10, 20] {
            let at = |v| got.iter().position(|g| *g == v).unwrap();
            assert!(at(first) < at(first + 1), "a poster's order is kept: {got:?}");
        }
        // The first post finds the mailbox empty; the second does only if a collection came
        // between them.
        assert!((1..=2).contains(&wakes.load(Ordering::SeqCst)));
    });
}
