//! The host's side of the lifecycle and datapath: callbacks at their documented IRQL, status
//! indications, large frames through split MDLs, spin locks and events.

mod common;

use std::ptr::null_mut;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Behavior, LAST_FRAME, SEEN, driver_entry, set};
use ndis::*;
use ndis_host::*;

fn host_with_adapter(builder: HostBuilder) -> (Host, Adapter) {
    let host = builder.build();
    set(Behavior::default());
    SEEN.lock().unwrap().clear();
    host.load(driver_entry).expect("DriverEntry");
    let a = host.start_adapter(Config::new()).expect("initialize");
    (host, a)
}

fn seen() -> Vec<(&'static str, KIRQL, i32)> {
    std::mem::take(&mut *SEEN.lock().unwrap())
}

#[test]
fn reset_check_for_hang_pnp_and_shutdown_run_at_their_documented_irql() {
    let (host, a) = host_with_adapter(Host::builder());
    assert_eq!(host.reset(a), (NDIS_STATUS_SUCCESS, true));
    assert!(!host.check_for_hang(a));
    host.shutdown(a, NdisShutdownPowerOff);
    host.shutdown(a, NdisShutdownBugCheck);
    host.surprise_remove(a);
    assert_eq!(host.adapter_phase(a), Phase::Halted);
    assert_eq!(
        seen(),
        [
            ("reset", DISPATCH_LEVEL, 0),
            ("check_for_hang", PASSIVE_LEVEL, 0),
            ("shutdown", PASSIVE_LEVEL, NdisShutdownPowerOff),
            ("shutdown", HIGH_LEVEL, NdisShutdownBugCheck),
            ("pnp", PASSIVE_LEVEL, NdisDevicePnPEventSurpriseRemoved),
        ]
    );
    assert!(host.finish().is_clean());
}

#[test]
fn link_state_indications_are_checked_and_decoded() {
    let (host, a) = host_with_adapter(Host::builder());
    let indications = host.take_status_indications(a);
    assert_eq!(indications.len(), 1, "restart indicates the link state");
    let link = indications[0].link_state().expect("NDIS_LINK_STATE");
    assert_eq!(
        (link.MediaConnectState, link.XmitLinkSpeed),
        (MediaConnectStateConnected, 1_000_000_000)
    );
    assert!(host.finish().is_clean());
}

#[test]
fn a_64_kib_frame_crosses_split_mdls_intact_and_chains_of_any_length_are_built() {
    let (host, a) = host_with_adapter(Host::builder());
    let big: Vec<u8> = (0..65_535u32).map(|i| (i * 7 % 251) as u8).collect();
    host.send(
        a,
        &[&big],
        SendOptions {
            mdl_split: Some(4096),
            data_offset: 3,
            ..SendOptions::default()
        },
    )
    .expect("running");
    assert_eq!(
        *LAST_FRAME.lock().unwrap(),
        big,
        "NdisGetDataBuffer reassembles the MDL chain"
    );
    let small: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; 60]).collect();
    let refs: Vec<&[u8]> = small.iter().map(Vec::as_slice).collect();
    let ids = host
        .send(
            a,
            &refs,
            SendOptions {
                nbs_per_nbl: 3,
                ..SendOptions::default()
            },
        )
        .expect("running");
    assert_eq!(ids.len(), 300);
    assert_eq!(
        host.send_counts(a),
        (1 + 100, 0),
        "100 NBLs of 3 NBs, all completed"
    );
    assert!(host.finish().is_clean());
}

#[test]
fn oid_status_and_byte_counts_pass_through_as_ndis_returns_them() {
    let (host, a) = host_with_adapter(Host::builder().oid_irql(DISPATCH_LEVEL));
    let set_result = host.oid_set(a, OID_GEN_CURRENT_PACKET_FILTER, &[1, 0, 0, 0]);
    assert_eq!(
        (set_result.status, set_result.bytes_read),
        (NDIS_STATUS_NOT_SUPPORTED, 0)
    );
    let q = host.oid_query(a, OID_GEN_LINK_SPEED, 8);
    assert_eq!(
        (q.status, q.bytes_written, q.data.len()),
        (NDIS_STATUS_SUCCESS, 4, 4)
    );
    let method = host.oid(
        a,
        OidRequest::Method {
            oid: OID_GEN_STATISTICS,
            method_id: 1,
            input: vec![1, 2],
            output_len: 8,
        },
    );
    assert_eq!(method.status, NDIS_STATUS_NOT_SUPPORTED);
    assert!(host.finish().is_clean());
}

#[test]
fn ndis_spin_locks_raise_and_restore_irql_and_exclude_each_other() {
    let host = Host::builder().mode(Mode::Concurrent).cpus(4).build();
    let mut lock = NDIS_SPIN_LOCK::default();
    // SAFETY: storage for a spin lock that outlives every use below.
    unsafe { NdisAllocateSpinLock(&raw mut lock) };
    let lock_ptr = &raw mut lock as usize;
    let counter = AtomicU64::new(0);
    host.parallel(4, |_| {
        for _ in 0..500 {
            let l = lock_ptr as PNDIS_SPIN_LOCK;
            // SAFETY: the shared, initialised spin lock; PASSIVE_LEVEL.
            unsafe { NdisAcquireSpinLock(l) };
            // SAFETY: a plain query.
            assert_eq!(unsafe { KeGetCurrentIrql() }, DISPATCH_LEVEL);
            // A non-atomic read-modify-write, made safe only by the lock.
            let v = counter.load(Ordering::Relaxed);
            std::hint::spin_loop();
            counter.store(v + 1, Ordering::Relaxed);
            // SAFETY: released by the thread that holds it.
            unsafe { NdisReleaseSpinLock(l) };
            // SAFETY: a plain query.
            assert_eq!(unsafe { KeGetCurrentIrql() }, PASSIVE_LEVEL);
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed), 2000);
    // SAFETY: the lock is free.
    unsafe { NdisFreeSpinLock(&raw mut lock) };
    assert!(host.finish().is_clean());
}

#[test]
fn ke_spin_locks_and_the_dpr_variants_keep_irql_rules() {
    let host = Host::new();
    let mut word: KSPIN_LOCK = 0;
    // SAFETY: a zeroed KSPIN_LOCK; raise, release and restore in order.
    let old = unsafe { KeAcquireSpinLockRaiseToDpc(&raw mut word) };
    assert_eq!(old, PASSIVE_LEVEL);
    // SAFETY: released by its holder, back to the saved IRQL.
    unsafe { KeReleaseSpinLock(&raw mut word, old) };
    let mut lock = NDIS_SPIN_LOCK::default();
    host.at_irql(DISPATCH_LEVEL, || {
        // SAFETY: the Dpr variants at DISPATCH_LEVEL, acquire then release.
        unsafe { NdisDprAcquireSpinLock(&raw mut lock) };
        // SAFETY: as above.
        unsafe { NdisDprReleaseSpinLock(&raw mut lock) };
    });
    // Releasing a lock nobody holds is a violation.
    // SAFETY: the misuse under test; the host refuses it.
    host.at_irql(DISPATCH_LEVEL, || unsafe {
        NdisDprReleaseSpinLock(&raw mut lock)
    });
    let v = host.take_violations();
    assert_eq!((v.len(), v[0].rule), (1, Rule::SpinLock));
    assert!(
        v[0].detail.contains("which this thread does not hold"),
        "{}",
        v[0]
    );
    assert!(host.finish().is_clean());
}

static EVENT: AtomicU64 = AtomicU64::new(0);

unsafe extern "system" fn set_event(_: PVOID, _: PVOID, _: PVOID, _: PVOID) {
    // SAFETY: the test's initialised event (address stored before the timer was armed).
    unsafe { NdisSetEvent(EVENT.load(Ordering::SeqCst) as PNDIS_EVENT) };
}

#[test]
fn events_wait_for_a_timer_that_sets_them() {
    let (host, a) = host_with_adapter(Host::builder());
    let mut event = NDIS_EVENT {
        Event: KEVENT { Header: [0; 3] },
    };
    // SAFETY: storage for an event that outlives the waits below; PASSIVE_LEVEL.
    unsafe { NdisInitializeEvent(&raw mut event) };
    EVENT.store(&raw mut event as u64, Ordering::SeqCst);
    // SAFETY: not signalled: a 5 ms wait times out.
    assert_eq!(unsafe { NdisWaitEvent(&raw mut event, 5) }, FALSE);
    let mut chars = NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: 1,
        TimerFunction: Some(set_event),
        FunctionContext: null_mut(),
    };
    let mut timer = null_mut();
    let handle = host.adapter_handle(a);
    // SAFETY: an adapter handle; characteristics and out-variable valid for the call.
    let status = unsafe { NdisAllocateTimerObject(handle, &raw mut chars, &raw mut timer) };
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    // SAFETY: the live timer, one-shot in 20 ms.
    unsafe { NdisSetTimerObject(timer, LARGE_INTEGER { QuadPart: -200_000 }, 0, null_mut()) };
    // SAFETY: the wait runs the timer (deterministic), which sets the event.
    assert_eq!(unsafe { NdisWaitEvent(&raw mut event, 0) }, TRUE);
    // SAFETY: the timer fired (one-shot) and is not running: free it.
    unsafe { NdisFreeTimerObject(timer) };
    assert!(host.finish().is_clean());
}
