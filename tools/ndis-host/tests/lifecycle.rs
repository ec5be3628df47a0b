//! The host's side of the lifecycle and datapath: callbacks at their documented IRQL, status
//! indications, large frames through split MDLs, spin locks and events.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "test data and C constants, small or truncated on purpose"
)]

mod common;

use std::ptr::null_mut;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Behavior, Broken, LAST_FRAME, SEEN, driver_entry, set};
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
    assert!(host.shutdown(a, NdisShutdownPowerOff));
    assert!(
        !host.shutdown(a, NdisShutdownBugCheck),
        "an NDIS 6.30 miniport without REGISTER_BUGCHECK_CALLBACK is not called at a bug check"
    );
    host.surprise_remove(a);
    assert_eq!(host.adapter_phase(a), Phase::Halted);
    assert_eq!(
        seen(),
        [
            ("reset", DISPATCH_LEVEL, 0),
            ("check_for_hang", PASSIVE_LEVEL, 0),
            ("shutdown", PASSIVE_LEVEL, NdisShutdownPowerOff),
            ("pnp", PASSIVE_LEVEL, NdisDevicePnPEventSurpriseRemoved),
        ]
    );
    assert!(host.finish().is_clean());
}

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES`: "Starting with NDIS 6.30 miniports, NDIS will
/// not invoke the miniport's `MiniportShutdownEx` handler during a `BugCheck` unless this flag is set."
#[test]
fn a_bug_check_shutdown_reaches_only_an_adapter_that_registered_for_it() {
    let host = Host::new();
    SEEN.lock().unwrap().clear();
    set(Behavior {
        attribute_flags: Some(NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK),
        ..Behavior::default()
    });
    host.load(driver_entry).expect("DriverEntry");
    let a = host.start_adapter(Config::new()).expect("initialize");
    assert_eq!(
        host.registration_attributes(a).flags,
        NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK
    );
    assert!(host.shutdown(a, NdisShutdownBugCheck));
    assert_eq!(seen(), [("shutdown", HIGH_LEVEL, NdisShutdownBugCheck)]);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// Attribute flags NDIS does not define, and NDIS 6.30 flags in revision 1 of the attributes (which
/// predates them), are refused.
#[test]
fn unknown_or_misplaced_attribute_flags_are_refused() {
    for (flags, text) in [
        (0x8000, "unknown AttributeFlags 0x8000"),
        (
            NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND,
            "AttributeFlags 0x100 are NDIS 6.30 flags, which need revision 2",
        ),
    ] {
        let host = Host::new();
        set(Behavior {
            broken: Some(Broken::RegistrationRevision1),
            attribute_flags: Some(flags),
            ..Behavior::default()
        });
        host.load(driver_entry).expect("DriverEntry");
        assert!(host.add_adapter(Config::new()).is_err());
        set(Behavior::default());
        let v = host.take_violations();
        assert!(
            v.iter()
                .any(|v| v.rule == Rule::Attributes && v.detail.contains(text)),
            "{v:?}"
        );
        drop(host.finish());
    }
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
        (NDIS_STATUS_SUCCESS, 4)
    );
    let refused = host.oid_set(a, OID_GEN_MAXIMUM_FRAME_SIZE, &[1, 0, 0, 0]);
    assert_eq!(
        (refused.status, refused.bytes_read),
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
        NdisDprReleaseSpinLock(&raw mut lock);
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

#[ndis::kernel_abi]
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

/// Loads the test driver with `b` and starts an adapter.
fn started(b: Behavior) -> (Host, Adapter) {
    let host = Host::new();
    SEEN.lock().unwrap().clear();
    set(b);
    host.load(driver_entry).expect("DriverEntry");
    let a = host.start_adapter(Config::new()).expect("initialize");
    (host, a)
}

fn frame() -> Vec<u8> {
    let mut f = vec![7u8; 80];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f
}

/// A power-managed miniport sleeps in D3 without being halted: paused, asked `OID_PNP_QUERY_POWER`,
/// set to D3; woken with D0 and restarted. Nothing is sent while the system sleeps.
#[test]
fn a_power_managed_adapter_is_paused_and_set_to_d3_then_d0_and_restarted() {
    let (host, a) = started(Behavior::default());
    seen();
    assert_eq!(
        host.sleep(a),
        Sleep::SetPower {
            paused: true,
            was_running: true
        }
    );
    assert_eq!(host.adapter_phase(a), Phase::Paused);
    assert_eq!(host.power(a).state, NdisDeviceStateD3);
    assert!(host.send(a, &[&frame()], SendOptions::default()).is_none());
    assert_eq!(host.wake(a), NDIS_STATUS_SUCCESS);
    assert_eq!(
        (host.adapter_phase(a), host.power(a).state),
        (Phase::Running, NdisDeviceStateD0)
    );
    assert_eq!(
        seen(),
        [
            ("query_power", PASSIVE_LEVEL, NdisDeviceStateD3),
            ("set_power", PASSIVE_LEVEL, NdisDeviceStateD3),
            ("set_power", PASSIVE_LEVEL, NdisDeviceStateD0),
        ]
    );
    host.send(a, &[&frame()], SendOptions::default())
        .expect("running again");
    assert_eq!(host.take_received(a), [frame()]);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// With power management turned off for the device, a miniport without `NO_HALT_ON_SUSPEND` is halted
/// for the sleep and initialized again on wake, and NDIS restores the protocol's settings with OID
/// requests; with `NO_HALT_ON_SUSPEND` it is set to D3 instead, as when it manages power.
#[test]
fn without_power_management_an_adapter_is_halted_unless_it_asked_not_to_be() {
    let (host, a) = started(Behavior {
        attribute_flags: Some(0),
        ..Behavior::default()
    });
    assert_eq!(
        host.oid_set(
            a,
            OID_GEN_CURRENT_PACKET_FILTER,
            &NDIS_PACKET_TYPE_DIRECTED.to_le_bytes()
        )
        .status,
        NDIS_STATUS_SUCCESS
    );
    host.disable_power_management(a);
    seen();
    assert_eq!(host.sleep(a), Sleep::Halted { was_running: true });
    assert_eq!(host.adapter_phase(a), Phase::Halted);
    assert!(seen().is_empty(), "no power OID reaches a miniport NDIS halts");
    assert_eq!(host.wake(a), NDIS_STATUS_SUCCESS);
    assert_eq!(host.adapter_phase(a), Phase::Running);
    assert_eq!(
        seen(),
        [("packet_filter", PASSIVE_LEVEL, NDIS_PACKET_TYPE_DIRECTED as i32)],
        "the filter is restored after the new initialize"
    );
    host.send(a, &[&frame()], SendOptions::default())
        .expect("running again");
    assert_eq!(host.take_received(a), [frame()]);
    set(Behavior::default());
    assert!(host.finish().is_clean());

    let (host, a) = started(Behavior::default());
    host.disable_power_management(a);
    assert!(
        matches!(host.sleep(a), Sleep::SetPower { .. }),
        "NO_HALT_ON_SUSPEND keeps the adapter"
    );
    assert_eq!(host.wake(a), NDIS_STATUS_SUCCESS);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// `NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND` (NDIS 6.30): set to D3 while running, no pause and
/// no restart.
#[test]
fn no_pause_on_suspend_goes_to_d3_while_running() {
    let (host, a) = started(Behavior {
        attribute_flags: Some(NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND),
        ..Behavior::default()
    });
    assert_eq!(
        host.sleep(a),
        Sleep::SetPower {
            paused: false,
            was_running: true
        }
    );
    assert_eq!(host.adapter_phase(a), Phase::Running);
    assert_eq!(host.wake(a), NDIS_STATUS_SUCCESS);
    assert_eq!(host.adapter_phase(a), Phase::Running);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// `PowerManagementCapabilitiesEx` "is mandatory for NDIS 6.20 and later drivers"; NDIS answers the
/// PM capability OIDs from it without asking the miniport.
#[test]
fn pm_capabilities_are_mandatory_and_ndis_answers_their_oids() {
    let host = Host::new();
    set(Behavior::breaking(Broken::NoPmCapabilities));
    host.load(driver_entry).expect("DriverEntry");
    assert!(host.add_adapter(Config::new()).is_err());
    let v = host.take_violations();
    assert!(
        v.iter().any(|v| v.rule == Rule::Attributes
            && v.detail
                .contains("PowerManagementCapabilitiesEx is NULL (mandatory for an NDIS 6.30 miniport)")),
        "{v:?}"
    );
    drop(host.finish());

    let (host, a) = started(Behavior::default());
    for oid in [OID_PM_HARDWARE_CAPABILITIES, OID_PM_CURRENT_CAPABILITIES] {
        let short = host.oid_query(a, oid, 8);
        assert_eq!(
            (short.status, short.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 60)
        );
        let r = host.oid_query(a, oid, 64);
        assert_eq!((r.status, r.bytes_written), (NDIS_STATUS_SUCCESS, 60));
        assert_eq!(&r.data[..4], &[NDIS_OBJECT_TYPE_DEFAULT, 2, 60, 0], "the header");
    }
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// `SupportedStatistics` holds `NDIS_STATISTICS`_*_SUPPORTED flags (the general attributes' page), one
/// per statistics OID the miniport answers: bits outside that family, or a counter whose OID the
/// supported list lacks, are refused.
#[test]
fn supported_statistics_are_the_supported_family_and_match_the_oid_list() {
    for (claimed, text) in [
        (0x0400_0000, "SupportedStatistics 0x4000000 has bits that are no"),
        (
            NDIS_STATISTICS_XMIT_OK_SUPPORTED,
            "claims the counter of OID 0x00020101, which SupportedOidList lacks",
        ),
    ] {
        let host = Host::new();
        set(Behavior {
            supported_statistics: claimed,
            ..Behavior::default()
        });
        host.load(driver_entry).expect("DriverEntry");
        assert!(host.add_adapter(Config::new()).is_err());
        set(Behavior::default());
        let v = host.take_violations();
        assert!(
            v.iter()
                .any(|v| v.rule == Rule::Attributes && v.detail.contains(text)),
            "{v:?}"
        );
        drop(host.finish());
    }
    assert_eq!(SUPPORTED_STATISTICS.len(), 24);
    assert_eq!(STATISTICS_INFO.len(), 18);
    for (supported, _) in STATISTICS_INFO {
        assert!(
            SUPPORTED_STATISTICS.iter().any(|(bit, _)| *bit == supported),
            "every NDIS_STATISTICS_INFO counter has its *_SUPPORTED bit"
        );
    }
}

/// An `OID_GEN_STATISTICS` answer marks valid (`NDIS_STATISTICS_FLAGS_VALID`_*) exactly the counters
/// the general attributes claimed (`NDIS_STATISTICS`_*_SUPPORTED); the host compares them on every
/// successful query.
#[test]
fn statistics_answers_mark_valid_exactly_the_counters_the_attributes_claim() {
    let claimed = NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED;
    let (host, a) = started(Behavior {
        supported_statistics: claimed,
        statistics_valid: NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV,
        ..Behavior::default()
    });
    assert_eq!(
        host.oid_query(a, OID_GEN_STATISTICS, 256).status,
        NDIS_STATUS_SUCCESS
    );
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    set(Behavior {
        supported_statistics: claimed,
        statistics_valid: NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV
            | NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV,
        ..Behavior::default()
    });
    assert_eq!(
        host.oid_query(a, OID_GEN_STATISTICS, 256).status,
        NDIS_STATUS_SUCCESS
    );
    let v = host.take_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].rule, Rule::Attributes);
    assert!(v[0].detail.contains("pairs that differ: 0x80000/0x8"), "{}", v[0]);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

/// A protocol cancels an OID request that pends: NDIS calls `MiniportCancelOidRequest` with its
/// `RequestId`, and the miniport completes it with `NDIS_STATUS_REQUEST_ABORTED`.
#[test]
fn a_pending_oid_request_the_protocol_cancels_is_aborted() {
    let (host, a) = started(Behavior::breaking(Broken::PendOidForever));
    seen();
    let r = host.oid_cancelled(
        a,
        OidRequest::Query {
            oid: OID_GEN_LINK_SPEED,
            buffer_len: 4,
        },
    );
    assert_eq!(r.status, NDIS_STATUS_REQUEST_ABORTED);
    assert_eq!(seen(), [("cancel_oid", DISPATCH_LEVEL, 0)]);
    set(Behavior::default());
    assert!(host.finish().is_clean());
}
