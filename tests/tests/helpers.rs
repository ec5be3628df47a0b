//! The helper components on ndis-host: generic objects, the timer pool, the receive pool, seats and the
//! per-CPU ring token, with their failure paths swept by fault injection.

#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ndis::*;
use ndis_host::{FaultPlan, Host, Kind, Rule, sweep};
use rvnic_helpers::adapter::AdapterHandle;
use rvnic_helpers::generic_object::{self, GenericObject, LayoutError, Plain, State};
use rvnic_helpers::irql::Raised;
use rvnic_helpers::receive::RxPool;
use rvnic_helpers::ring::{Mpsc, boxed_slots};
use rvnic_helpers::timer_pool::{Timer, TimerCallback, TimerPool, TimerPoolError};

const TAG: u32 = u32::from_le_bytes(*b"Help");

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Counted(u64);
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_generic_object_carries_its_state_and_drops_it_before_freeing_itself() {
    let host = Host::new();
    DROPS.store(0, Ordering::SeqCst);
    let object =
        GenericObject::<Plain<Counted>>::new(None, TAG, |_| Ok::<_, ()>(Counted(42))).expect("allocated");
    assert_eq!(object.get().0, 42);
    assert_eq!(
        object.with(|state, handle| (state.0, handle.as_raw() as usize)),
        (42, object.as_ptr() as usize)
    );
    assert_eq!(host.allocations_made().get(&Kind::GenericObject), Some(&1));
    drop(object);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the state was dropped");
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

/// A state holding a timer allocated through the object's handle.
struct WithTimer;
impl State for WithTimer {
    type In<'obj> = (Timer<'obj>, u32);
}

#[ndis::kernel_abi]
unsafe extern "system" fn never(_: PVOID, _: PVOID, _: PVOID, _: PVOID) {}

#[test]
fn what_was_allocated_through_the_object_is_freed_before_it() {
    let host = Host::new();
    let object = GenericObject::<WithTimer>::new(None, TAG, |handle| {
        Ok::<_, NDIS_STATUS>((handle.allocate_timer(TAG, Some(never))?, 7))
    })
    .expect("allocated");
    assert_eq!(object.with(|(_, n), _| *n), 7);
    drop(object);
    let verdict = host.finish();
    assert!(
        verdict.is_clean(),
        "a timer freed after its object would be generic-object-freed-with-children:\n{}",
        verdict.report()
    );
}

#[test]
fn failures_are_typed_and_leave_nothing_behind() {
    let host = Host::new();
    // The state's constructor fails: the object is freed again.
    let failed = GenericObject::<Plain<u8>>::new(None, TAG, |_| Err::<u8, _>("no"));
    assert_eq!(failed.err(), Some(generic_object::Error::Init("no")));
    // NDIS cannot allocate the object.
    host.inject(FaultPlan {
        kind: Some(Kind::GenericObject),
        nth: 1,
    });
    let failed = GenericObject::<Plain<u8>>::new(None, TAG, |_| Ok::<_, ()>(1));
    assert_eq!(failed.err(), Some(generic_object::Error::Allocation));
    // The state does not fit: refused before anything is allocated.
    let before = host.allocation_attempts();
    #[allow(
        clippy::large_stack_arrays,
        reason = "the type is the point: too large for a generic object; no value is ever made"
    )]
    let failed = GenericObject::<Plain<[u8; 70_000]>>::new(None, TAG, |_| Ok::<_, ()>([0; 70_000]));
    assert_eq!(
        failed.err(),
        Some(generic_object::Error::Layout(LayoutError::TooLarge {
            size: 70_000
        }))
    );
    assert_eq!(host.allocation_attempts(), before);
    assert!(host.finish().is_clean());
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, KIRQL)>>);

impl TimerCallback for Recorder {
    fn fire(&self, timer: usize) {
        // SAFETY: a plain query of the calling thread's IRQL.
        let irql = unsafe { KeGetCurrentIrql() };
        self.0.lock().unwrap().push((timer, irql));
    }
}

fn fired(pool: &TimerPool<Recorder, 4>) -> Vec<usize> {
    std::mem::take(&mut *pool.callback().0.lock().unwrap())
        .into_iter()
        .map(|(t, irql)| {
            assert_eq!(irql, DISPATCH_LEVEL);
            t
        })
        .collect()
}

#[test]
fn a_timer_pool_arms_rearms_and_cancels_without_allocating() {
    let host = Host::new();
    let pool = TimerPool::<Recorder, 4>::new(None, TAG, Recorder::default()).expect("pool");
    let made = host.allocations_made();
    assert_eq!(made.get(&Kind::Timer), Some(&4), "all timers up front");
    let two = pool.timer(2).expect("timer 2");
    assert_eq!(two.arm_once(Duration::from_millis(10)), Some(false));
    host.advance(Duration::from_millis(9));
    assert!(fired(&pool).is_empty());
    host.advance(Duration::from_millis(1));
    assert_eq!(fired(&pool), [2]);
    let one = pool.timer(1).expect("timer 1");
    assert_eq!(
        one.arm_periodic(Duration::from_millis(5), Duration::from_millis(5)),
        Some(false)
    );
    assert_eq!(
        one.arm_periodic(Duration::from_millis(5), Duration::from_millis(5)),
        Some(true),
        "re-arm replaces"
    );
    host.advance(Duration::from_millis(20));
    assert_eq!(fired(&pool), [1, 1, 1, 1]);
    assert!(one.cancel());
    host.advance(Duration::from_millis(50));
    assert!(fired(&pool).is_empty());
    assert!(pool.timer(4).is_none());
    assert_eq!(host.allocations_made(), made, "arming allocates nothing");
    drop(pool);
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn dropping_a_pool_with_periodic_timers_running_cancels_flushes_and_frees() {
    let host = Host::builder().mode(ndis_host::Mode::Concurrent).build();
    let pool = TimerPool::<Recorder, 4>::new(None, TAG, Recorder::default()).expect("pool");
    for i in 0..4 {
        let armed = pool
            .timer(i)
            .expect("timer")
            .arm_periodic(Duration::from_millis(1), Duration::from_millis(1));
        assert_eq!(armed, Some(false), "timer {i} was not queued before");
    }
    assert!(host.wait_until(|| pool.callback().0.lock().unwrap().len() >= 8));
    drop(pool);
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn every_allocation_failure_in_a_constructor_gives_a_typed_error_and_leaks_nothing() {
    let builder = Host::builder().design_rule(ndis_host::Rule::GenericObjectOutlivesHalt);
    let timer_pools = sweep(&builder, None, |_| {
        match TimerPool::<Recorder, 4>::new(None, TAG, Recorder::default()) {
            Ok(pool) => drop(pool),
            Err(
                TimerPoolError::Object(generic_object::Error::Allocation)
                | TimerPoolError::Timer {
                    status: NDIS_STATUS_RESOURCES,
                    ..
                },
            ) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    });
    assert_eq!(timer_pools.allocations, 5, "the object and four timers");
    let pools = sweep(&builder, None, |_| {
        match RxPool::new(None, &adapter(), 8, 1514, 1, TAG) {
            Ok(pool) => {
                assert_eq!((pool.count(), pool.free()), (8, 8));
                drop(pool);
            }
            Err(status) => assert_eq!(status, NDIS_STATUS_RESOURCES),
        }
    });
    assert!(
        pools.allocations > 3 * 8,
        "the object, the free list's lanes, the buffers, the pool, and an MDL and NBL per descriptor"
    );
    let objects = sweep(&builder, None, |_| {
        let result = GenericObject::<WithTimer>::new(None, TAG, |h| {
            Ok::<_, NDIS_STATUS>((h.allocate_timer(TAG, Some(never))?, 1))
        });
        assert!(matches!(
            result,
            Ok(_)
                | Err(generic_object::Error::Allocation | generic_object::Error::Init(NDIS_STATUS_RESOURCES))
        ));
    });
    assert_eq!(objects.allocations, 2);
    for s in [&timer_pools, &pools, &objects] {
        assert!(s.runs.iter().all(|r| r.failed.is_some()));
        assert!(s.failures().is_empty(), "{}", s.failures().join("\n"));
    }
}

/// An adapter handle for a receive pool's NBLs (their `SourceHandle`, which nothing here reads).
fn adapter() -> AdapterHandle {
    // SAFETY: no NDIS call is ever made with this handle; the pools only store it in their NBLs.
    unsafe { AdapterHandle::from_raw(core::ptr::null_mut()) }
}

#[test]
fn a_receive_pool_lends_buffers_only_through_the_frames_taken() {
    let host = Host::new();
    let pool = RxPool::new(None, &adapter(), 8, 100, 1, TAG).expect("pool");
    let other = RxPool::new(None, &adapter(), 2, 100, 1, TAG).expect("pool");
    assert_eq!((pool.count(), pool.buffer_size(), pool.free()), (8, 128, 8));
    let raised = Raised::to_dispatch();
    let on = raised.dispatch();
    let mut one = pool.take(on, 1).expect("one");
    pool.buffer(&mut one, 0)[..4].copy_from_slice(b"rvnc");
    assert!(
        pool.buffer(&mut one, 1).is_empty(),
        "a one-buffer frame has no buffer 1"
    );
    let mut three = pool.take(on, 3).expect("three chained");
    assert_eq!((three.count(), pool.free()), (3, 4));
    for k in 0..3 {
        pool.buffer(&mut three, k).fill(k as u8 + 1);
    }
    assert!((0..3).all(|k| pool.buffer(&mut three, k).iter().all(|&b| b == k as u8 + 1)));
    assert!(
        [2, 0, 1, 1, 2]
            .iter()
            .all(|&k| pool.buffer(&mut three, k).iter().all(|&b| b == k as u8 + 1)),
        "any order of lending finds each buffer"
    );
    assert!(
        other.buffer(&mut three, 0).is_empty(),
        "another pool's token lends nothing"
    );
    assert_eq!(
        other.give_back(on, pool.take(on, 1).expect("one")),
        0,
        "nor takes it back"
    );
    assert_eq!(
        pool.free(),
        3,
        "that descriptor is lost to receives, not to another pool"
    );
    assert!(pool.take(on, 4).is_none(), "all or none");
    assert_eq!(pool.free(), 3, "a short list gives back what it popped");
    assert_eq!(pool.give_back(on, three), 3);
    let nbl = pool.prepare(one, 60).expect("this pool's");
    assert_eq!(nbl.frames().next().map(|nb| nb.len()), Some(60));
    let mut head = [0u8; 4];
    assert!(nbl.frames().next().is_some_and(|nb| nb.copy_to(&mut head)));
    assert_eq!(&head, b"rvnc", "the NBL carries the buffer that was written");
    assert_eq!(other.recycle(on, &nbl), 0, "an NBL of another pool");
    assert_eq!(pool.recycle(on, &nbl), 1);
    let _ = nbl.into_raw();
    assert_eq!(pool.free(), 7);
    drop(raised);
    drop((pool, other));
    let v = host.finish();
    assert!(v.is_clean(), "{v:?}");
}

/// The fused take of the datapath: the closure fills the buffer or refuses (the descriptor goes
/// back), and an empty list never calls it. Returns go back together, chained frames whole, and an
/// NBL of another pool is reported and left alone.
#[test]
fn a_single_buffer_take_fills_or_gives_back_and_returns_go_back_together() {
    let host = Host::new();
    let pool = RxPool::new(None, &adapter(), 5, 100, 1, TAG).expect("pool");
    let other = RxPool::new(None, &adapter(), 2, 100, 1, TAG).expect("pool");
    let raised = Raised::to_dispatch();
    let on = raised.dispatch();
    let filled = pool.take_one(on, |buffer: &mut [u8]| {
        assert_eq!(buffer.len(), 128, "the whole buffer is lent");
        buffer[..4].copy_from_slice(b"rvnc");
        Ok::<_, ()>((60, 7u32))
    });
    let (nbl, extra) = filled.expect("a descriptor").expect("filled");
    assert_eq!((extra, pool.free()), (7, 4));
    assert_eq!(nbl.frames().next().map(|nb| nb.len()), Some(60));
    let mut head = [0u8; 4];
    assert!(nbl.frames().next().is_some_and(|nb| nb.copy_to(&mut head)));
    assert_eq!(&head, b"rvnc");
    let refused = pool.take_one(on, |_: &mut [u8]| Err::<(usize, ()), _>("unreadable"));
    assert!(matches!(refused, Some(Err("unreadable"))));
    assert_eq!(pool.free(), 4, "a refused descriptor is back on the list");
    let three = pool.take(on, 3).expect("three chained");
    let chained = pool.prepare(three, 300).expect("this pool's");
    let (last, ()) = pool
        .take_one(on, |_: &mut [u8]| Ok::<_, ()>((60, ())))
        .expect("the last one")
        .expect("filled");
    let mut called = false;
    let empty = pool.take_one(on, |_: &mut [u8]| {
        called = true;
        Ok::<_, ()>((60, ()))
    });
    assert!(
        empty.is_none() && !called,
        "no descriptor: the closure is not called"
    );
    let (foreign, ()) = other
        .take_one(on, |_: &mut [u8]| Ok::<_, ()>((60, ())))
        .expect("one")
        .expect("filled");
    let foreign_raw = foreign.as_ptr();
    let mut reported = Vec::new();
    let freed = pool.recycle_all(on, [nbl, foreign, chained, last].into_iter(), |n| {
        reported.push(n.as_ptr());
    });
    assert_eq!(freed, 5, "one + three chained + one");
    assert_eq!(reported, [foreign_raw], "the other pool's NBL is reported");
    assert_eq!(pool.free(), 5);
    assert_eq!(other.free(), 1, "and left alone");
    // SAFETY: the NBL recycle_all left alone, still the other pool's descriptor.
    let foreign = unsafe { rvnic_helpers::nbl::Nbl::from_raw(foreign_raw) }.expect("non-null");
    assert_eq!(other.recycle(on, &foreign), 1);
    let _ = foreign.into_raw();
    let again = pool
        .take(on, 3)
        .expect("the chain was taken apart and can be taken again");
    assert_eq!(pool.give_back(on, again), 3);
    drop(raised);
    drop((pool, other));
    let v = host.finish();
    assert!(v.is_clean(), "{v:?}");
}

#[test]
fn raising_to_dispatch_gives_the_cpus_lane_and_restores_irql() {
    let host = Host::builder().cpus(4).build();
    let ring: Mpsc<u32, _, 4> = Mpsc::new(|_| boxed_slots(4)).expect("power of two");
    for cpu in [2, 0, 3] {
        host.on_cpu(cpu, || {
            let raised = Raised::to_dispatch();
            // SAFETY: a plain query.
            assert_eq!(unsafe { KeGetCurrentIrql() }, DISPATCH_LEVEL);
            assert_eq!(raised.dispatch().cpu(), cpu);
            ring.push(raised.dispatch(), cpu as u32).expect("room");
        });
        // SAFETY: a plain query.
        assert_eq!(unsafe { KeGetCurrentIrql() }, PASSIVE_LEVEL, "restored on drop");
    }
    let mut consumer = ring.consumer().expect("consumer");
    let mut out = [0u32; 4];
    assert_eq!(consumer.pop_slice(&mut out, 1), 3);
    assert_eq!(&out[..3], &[0, 2, 3], "lanes in CPU order");
    drop(consumer);
    let v = host.finish();
    assert!(v.is_clean() && v.of(Rule::Irql).is_empty());
}

#[test]
fn seats_lend_occupants_only_to_their_own_baton_and_give_them_back_whole() {
    use rvnic_helpers::memory::PoolBox;
    use rvnic_helpers::seats::{Occupant, Seats};

    static GONE: AtomicUsize = AtomicUsize::new(0);
    struct Value(u64);
    impl Drop for Value {
        fn drop(&mut self) {
            GONE.fetch_add(1, Ordering::SeqCst);
        }
    }

    let host = Host::new();
    let seats: Seats<Value, u32, 2> = Seats::new();
    let other: Seats<Value, u32, 2> = Seats::new();
    {
        let mut held = seats.baton().try_take().expect("free");
        assert!(seats.baton().try_take().is_none(), "one holder at a time");
        let seated = |value, record| {
            PoolBox::new(Occupant::new(Value(value), record), TAG)
                .map_err(drop)
                .expect("pool")
        };
        assert!(seats.occupy(&mut held, 0, seated(7, 1)).is_ok());
        let two = seats
            .occupy(&mut held, 0, seated(8, 3))
            .expect_err("seat 0 is taken");
        assert_eq!(two.0, 8);
        let two = seats.occupy(&mut held, 2, two).expect_err("no seat 2");
        assert!(seats.occupy(&mut held, 1, two).is_ok());
        assert_eq!(seats.get(&held, 0).map(|c| c.0), Some(7));
        if let Some((_, record)) = seats.get_mut(&mut held, 1) {
            *record += 10;
        }
        assert_eq!(seats.get_with(&held, 1).map(|(c, r)| (c.0, *r)), Some((8, 13)));
        let mut foreign = other.baton().try_take().expect("free");
        assert!(
            seats.get(&foreign, 0).is_none(),
            "another table's baton reads nothing"
        );
        assert!(seats.get_mut(&mut foreign, 1).is_none());
        assert!(seats.vacate(&mut foreign, 0).is_none(), "nor moves anything out");
        assert!(foreign.release().is_none());
        let out = seats.vacate(&mut held, 0).expect("occupied");
        assert_eq!(out.0, 7);
        assert!(seats.get(&held, 0).is_none() && seats.vacate(&mut held, 0).is_none());
        drop(out);
        assert_eq!(
            GONE.load(Ordering::SeqCst),
            1,
            "vacating hands the occupant out, alive"
        );
        drop(seats.vacate(&mut held, 1));
        assert!(held.release().is_none());
    }
    assert_eq!(GONE.load(Ordering::SeqCst), 2);
    let v = host.finish();
    assert!(v.is_clean(), "{v:?}");
}
