//! Each verifier rule, triggered once by the misbehaving test driver, with the exact report; and the
//! same driver behaving, with a clean verdict.

mod common;

use std::time::Duration;

use common::{Behavior, Broken, driver_entry, set};
use ndis::*;
use ndis_host::*;

/// Loads the test driver with `b`, starts one adapter, runs `scenario`, and finishes. The behaviour
/// is set only while this test's host exists (hosts are one at a time), never after: a later reset
/// would land in another test's run.
fn run(b: Behavior, builder: HostBuilder, scenario: impl FnOnce(&Host, Adapter)) -> Verdict {
    let host = builder.build();
    set(b);
    host.load(driver_entry).expect("DriverEntry");
    let adapter = host.start_adapter(Config::new()).expect("initialize");
    scenario(&host, adapter);
    host.finish()
}

fn reports(verdict: &Verdict) -> Vec<String> {
    verdict.violations.iter().map(ToString::to_string).collect()
}

/// Exactly these violations, each matching (rule, api, adapter, text it contains).
fn assert_exactly(verdict: &Verdict, expected: &[(Rule, &str, Option<usize>, &str)]) {
    let got = &verdict.violations;
    assert_eq!(got.len(), expected.len(), "violations:\n{}", verdict.report());
    for (v, (rule, api, adapter, text)) in got.iter().zip(expected) {
        assert_eq!((v.rule, v.api, v.adapter), (*rule, *api, *adapter), "{v}");
        assert!(v.detail.contains(text), "{v}\ndoes not contain: {text}");
    }
}

fn frame(n: u8, len: usize) -> Vec<u8> {
    let mut f = vec![n; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f
}

#[test]
fn a_well_behaved_driver_leaves_the_verifier_silent_through_a_whole_lifecycle() {
    let verdict = run(Behavior::default(), Host::builder(), |host, a| {
        let frames: Vec<Vec<u8>> = (0..6).map(|i| frame(i, 60 + usize::from(i) * 100)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        host.send(a, &refs[..3], SendOptions::default()).expect("running");
        host.send(
            a,
            &refs[3..],
            SendOptions {
                nbs_per_nbl: 2,
                mdl_split: Some(7),
                dispatch: false,
                data_offset: 5,
                cancel_id: None,
                ..SendOptions::default()
            },
        )
        .expect("running");
        assert_eq!(
            host.take_received(a),
            frames,
            "every frame echoed intact, in order"
        );
        let completions = host.take_completions(a);
        assert_eq!(
            completions
                .iter()
                .map(ndis_host::Completion::frame_count)
                .sum::<u64>(),
            6
        );
        assert!(completions.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
        let q = host.oid_query(a, OID_GEN_MAXIMUM_FRAME_SIZE, 4);
        assert_eq!(
            (q.status, q.bytes_written, q.data.as_slice()),
            (NDIS_STATUS_SUCCESS, 4, &1500u32.to_le_bytes()[..])
        );
        let short = host.oid_query(a, OID_GEN_LINK_SPEED, 2);
        assert_eq!(
            (short.status, short.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 4)
        );
        assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
        assert_eq!(host.restart(a), NDIS_STATUS_SUCCESS);
        let attributes = host.attributes(a).expect("general attributes");
        assert_eq!(
            (attributes.mtu, attributes.permanent_address.as_slice()),
            (1500, &[2, 0, 0, 0, 0, 1][..])
        );
    });
    assert!(verdict.is_clean(), "{}", verdict.report());
    assert!(verdict.allocations[&Kind::GenericObject] >= 1);
}

#[test]
fn pending_pause_completed_by_a_timer_is_clean_and_waits_for_returns() {
    let verdict = run(
        Behavior::breaking(Broken::PendPause),
        Host::builder().return_mode(ReturnMode::Deferred),
        |host, a| {
            host.send(a, &[&frame(1, 100)], SendOptions::default())
                .expect("running");
            assert_eq!(host.held_indications(a), 1);
            // Return the indication only once the pause is under way: the pause waits for it.
            host.return_indicated(a);
            assert_eq!(host.pause(a), NDIS_STATUS_PENDING);
            assert_eq!(host.adapter_phase(a), Phase::Paused);
        },
    );
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn irql_rule_a_passive_only_call_at_dispatch() {
    let verdict = run(
        Behavior::breaking(Broken::AllocateAtHighIrql),
        Host::builder(),
        |host, a| {
            host.oid_query(a, OID_GEN_LINK_SPEED, 4);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::Irql,
            "NdisMSleep",
            Some(0),
            "called at DISPATCH_LEVEL; documented limit IRQL <= APC_LEVEL",
        )],
    );
}

#[test]
fn irql_not_restored_when_a_callback_returns_raised() {
    let verdict = run(
        Behavior::breaking(Broken::ReturnAtDispatch),
        Host::builder(),
        |host, a| {
            host.oid_query(a, OID_GEN_LINK_SPEED, 4);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::IrqlNotRestored,
            "MiniportOidRequest",
            Some(0),
            "called at PASSIVE_LEVEL, returned at DISPATCH_LEVEL",
        )],
    );
}

#[test]
fn leak_reported_by_tag_size_and_site() {
    let verdict = run(Behavior::breaking(Broken::LeakPool), Host::builder(), |_, _| {});
    assert_exactly(
        &verdict,
        &[(
            Rule::Leak,
            "MiniportDriverUnload",
            None,
            "pool memory 'Leak' (100 bytes) from ExAllocatePool2 at ",
        )],
    );
    assert!(
        verdict.violations[0].detail.contains("initialize"),
        "the site names the driver function: {}",
        verdict.report()
    );
}

#[test]
fn generic_object_outliving_halt_is_a_design_rule_checked_when_a_test_opts_in() {
    let leak = Behavior::breaking(Broken::LeakGenericObject);
    let opted_in = run(
        leak,
        Host::builder().design_rule(Rule::GenericObjectOutlivesHalt),
        |_, _| {},
    );
    assert_exactly(
        &opted_in,
        &[
            (
                Rule::GenericObjectOutlivesHalt,
                "MiniportHaltEx",
                Some(0),
                "still allocated when MiniportHaltEx returned: generic object 'Test' (96 bytes)",
            ),
            (
                Rule::Leak,
                "MiniportDriverUnload",
                None,
                "generic object 'Test' (96 bytes)",
            ),
        ],
    );
    // NDIS itself asks only that the object be freed at some point: without the opt-in, the same
    // driver is reported for the leak at unload and nothing else.
    let ndis_only = run(leak, Host::builder(), |_, _| {});
    assert_exactly(
        &ndis_only,
        &[(
            Rule::Leak,
            "MiniportDriverUnload",
            None,
            "generic object 'Test' (96 bytes)",
        )],
    );
}

#[test]
fn every_rule_names_its_source_and_only_design_rules_are_opt_in() {
    for rule in Rule::ALL {
        let page = match rule.source() {
            Source::Documented(page) | Source::DriverVerifier(page) => page,
            Source::Design(why) => {
                assert!(why.len() > 40, "{rule:?} explains its design: {why}");
                continue;
            }
        };
        assert!(
            ["ddi/", "network/", "devtest/", "kernel/"]
                .iter()
                .any(|p| page.starts_with(p)),
            "{rule:?} cites a page of the driver documentation: {page}"
        );
    }
    let design: Vec<Rule> = Rule::ALL.into_iter().filter(|r| r.is_design_rule()).collect();
    assert_eq!(design, [Rule::GenericObjectOutlivesHalt]);
    let names: std::collections::HashSet<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names.len(), Rule::ALL.len(), "names are unique");
}

#[test]
fn generic_object_freed_before_what_was_allocated_through_it() {
    let verdict = run(
        Behavior::breaking(Broken::FreeObjectWithChildren),
        Host::builder(),
        |_, _| {},
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::GenericObjectFreedWithChildren,
            "NdisFreeGenericObject",
            Some(0),
            "freed while 2 allocated through it",
        )],
    );
}

#[test]
fn double_free_is_a_bad_free() {
    let verdict = run(Behavior::breaking(Broken::DoubleFree), Host::builder(), |_, _| {});
    assert_exactly(
        &verdict,
        &[(
            Rule::BadFree,
            "ExFreePoolWithTag",
            Some(0),
            "is not allocated pool (never allocated, or freed already)",
        )],
    );
}

#[test]
fn write_after_free_is_found_in_the_poison() {
    let verdict = run(
        Behavior::breaking(Broken::WriteAfterFree),
        Host::builder(),
        |_, _| {},
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::UseAfterFree,
            "ExFreePoolWithTag",
            None,
            "was written after it was freed (byte 0 is 0x07)",
        )],
    );
}

#[test]
fn never_completed_pending_oid() {
    let verdict = run(
        Behavior::breaking(Broken::PendOidForever),
        Host::builder().wait_limit(Duration::from_secs(1)),
        |host, a| {
            let r = host.oid_query(a, OID_GEN_LINK_SPEED, 4);
            assert_eq!(r.status, NDIS_STATUS_REQUEST_ABORTED);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::NeverCompleted,
            "MiniportOidRequest",
            Some(0),
            "never called NdisMOidRequestComplete",
        )],
    );
}

#[test]
fn pause_completed_with_sends_outstanding() {
    let verdict = run(
        Behavior::breaking(Broken::PauseWithOutstanding),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
            assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
            // Behave from now on: restart, and pause again properly (which completes the held send).
            set(Behavior::default());
            assert_eq!(host.restart(a), NDIS_STATUS_SUCCESS);
            host.pause(a);
            assert_eq!(host.send_counts(a), (1, 0));
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::OutstandingAtPause,
            "MiniportPause",
            Some(0),
            "pause completed with 1 send(s) not completed",
        )],
    );
}

#[test]
fn completing_an_nbl_twice() {
    let verdict = run(
        Behavior::breaking(Broken::DoubleComplete),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::NblNotOwned,
            "NdisMSendNetBufferListsComplete",
            Some(0),
            "(frames [0]) completed twice",
        )],
    );
}

#[test]
fn touching_an_nbl_after_completing_it() {
    let verdict = run(
        Behavior::breaking(Broken::TouchAfterComplete),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::NblTouchedAfterCompletion,
            "NdisMSendNetBufferListsComplete",
            Some(0),
            "was written after the driver completed it",
        )],
    );
}

#[test]
fn indicating_an_nbl_the_protocol_still_holds() {
    let verdict = run(
        Behavior::breaking(Broken::IndicateTwice),
        Host::builder().return_mode(ReturnMode::Deferred),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
            host.return_indicated(a);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::NblIndicatedTwice,
            "NdisMIndicateReceiveNetBufferLists",
            Some(0),
            "indicated again before the protocol returned it",
        )],
    );
}

#[test]
fn wrong_number_of_nbls() {
    let verdict = run(
        Behavior::breaking(Broken::WrongCount),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::NblCountMismatch,
            "NdisMIndicateReceiveNetBufferLists",
            Some(0),
            "NumberOfNetBufferLists 2, chain of 1",
        )],
    );
}

#[test]
fn dispatch_flag_at_passive_level() {
    let verdict = run(
        Behavior::breaking(Broken::DispatchFlagAtPassive),
        Host::builder(),
        |host, a| {
            host.send(
                a,
                &[&frame(1, 80)],
                SendOptions {
                    dispatch: false,
                    ..SendOptions::default()
                },
            )
            .expect("running");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::FlagIrqlMismatch,
            "NdisMSendNetBufferListsComplete",
            Some(0),
            "the DISPATCH_LEVEL flag is set at PASSIVE_LEVEL",
        )],
    );
}

#[test]
fn indicating_while_paused() {
    let verdict = run(
        Behavior::breaking(Broken::IndicateWhenPaused),
        Host::builder(),
        |host, a| {
            assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
            host.advance(Duration::from_millis(5));
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::ActivityWhilePaused,
            "NdisMIndicateReceiveNetBufferLists",
            Some(0),
            "receive indication while the adapter is Paused",
        )],
    );
}

#[test]
fn completing_a_pause_nobody_asked_for() {
    let verdict = run(Behavior::default(), Host::builder(), |host, a| {
        host.pause(a);
        set(Behavior::breaking(Broken::UnexpectedPauseComplete));
        host.restart(a);
        set(Behavior::default());
    });
    assert_exactly(
        &verdict,
        &[(
            Rule::UnexpectedCompletion,
            "NdisMPauseComplete",
            Some(0),
            "no pause is pending",
        )],
    );
}

#[test]
fn pause_must_not_fail() {
    let verdict = run(
        Behavior::breaking(Broken::PauseReturnsFailure),
        Host::builder(),
        |host, a| {
            host.pause(a);
            set(Behavior::default());
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::BadStatus,
            "MiniportPause",
            Some(0),
            "returned 0xc0000001; pause must succeed or pend",
        )],
    );
}

#[test]
fn spin_lock_held_when_a_callback_returns() {
    let verdict = run(
        Behavior::breaking(Broken::LeaveSpinLockHeld),
        Host::builder(),
        |host, a| {
            host.oid_query(a, OID_GEN_LINK_SPEED, 4);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::SpinLock,
            "MiniportOidRequest",
            Some(0),
            "returned holding 1 spin lock(s)",
        )],
    );
}

#[test]
fn missing_general_attributes_fail_initialize_and_the_adapter_is_halted() {
    let host = Host::new();
    set(Behavior::breaking(Broken::SkipGeneralAttributes));
    host.load(driver_entry).expect("DriverEntry");
    assert_eq!(host.add_adapter(Config::new()), Err(NDIS_STATUS_FAILURE));
    set(Behavior::default());
    let verdict = host.finish();
    assert_exactly(
        &verdict,
        &[(
            Rule::Attributes,
            "MiniportInitializeEx",
            Some(0),
            "returned success without setting the general attributes",
        )],
    );
}

#[test]
fn freeing_a_timer_that_is_still_queued() {
    let verdict = run(
        Behavior::breaking(Broken::FreeArmedTimer),
        Host::builder(),
        |_, _| {},
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::TimerMisuse,
            "NdisFreeTimerObject",
            Some(0),
            "freed a timer that is still queued",
        )],
    );
}

#[test]
fn oid_answers_that_overrun_the_buffer() {
    let verdict = run(
        Behavior::breaking(Broken::OidOverrun),
        Host::builder(),
        |host, a| {
            host.oid_query(a, OID_GEN_LINK_SPEED, 2);
        },
    );
    assert_exactly(
        &verdict,
        &[
            (
                Rule::OidBuffer,
                "MiniportOidRequest",
                Some(0),
                "wrote past the end of its 2-byte information buffer",
            ),
            (
                Rule::OidBuffer,
                "MiniportOidRequest",
                Some(0),
                "reported BytesWritten 4 for a 2-byte buffer",
            ),
        ],
    );
}

#[test]
fn configuration_handle_left_open_past_halt() {
    // NdisOpenConfigurationEx: an adapter's handle may be used until MiniportHaltEx returns, so a
    // handle kept open across the adapter's life is fine until then.
    let verdict = run(
        Behavior::breaking(Broken::LeaveConfigOpen),
        Host::builder(),
        |host, a| {
            assert!(host.violations().is_empty(), "open after initialize is allowed");
            assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
            host.halt(a, NdisHaltDeviceDisabled);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::ConfigNotClosed,
            "MiniportHaltEx",
            Some(0),
            "still open when MiniportHaltEx returned",
        )],
    );
}

#[test]
fn bad_pool_parameters_are_refused() {
    let host = Host::new();
    set(Behavior::breaking(Broken::BadPoolParameters));
    host.load(driver_entry).expect("DriverEntry");
    assert_eq!(host.add_adapter(Config::new()), Err(NDIS_STATUS_RESOURCES));
    set(Behavior::default());
    let verdict = host.finish();
    assert_exactly(
        &verdict,
        &[(
            Rule::BadParameter,
            "NdisAllocateNetBufferListPool",
            Some(0),
            "ContextSize 3 is not a multiple of MEMORY_ALLOCATION_ALIGNMENT",
        )],
    );
}

#[test]
fn failed_initialize_that_frees_everything_is_clean_and_reports_its_status() {
    let host = Host::new();
    set(Behavior::breaking(Broken::FailInitialize));
    host.load(driver_entry).expect("DriverEntry");
    assert_eq!(host.add_adapter(Config::new()), Err(NDIS_STATUS_RESOURCES));
    set(Behavior::default());
    assert!(host.finish().is_clean());
}

#[test]
fn receive_with_resources_flag_needs_no_return() {
    let verdict = run(
        Behavior::breaking(Broken::ResourcesFlag),
        Host::builder().return_mode(ReturnMode::Deferred),
        |host, a| {
            host.send(a, &[&frame(3, 64)], SendOptions::default())
                .expect("running");
            assert_eq!(
                host.held_indications(a),
                0,
                "NDIS_RECEIVE_FLAGS_RESOURCES: nothing is held"
            );
            assert_eq!(host.take_received(a), vec![frame(3, 64)]);
        },
    );
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn an_unexamined_violation_fails_the_test_when_the_host_drops() {
    let result = std::panic::catch_unwind(|| {
        let host = Host::new();
        set(Behavior::breaking(Broken::LeakPool));
        host.load(driver_entry).expect("DriverEntry");
        host.start_adapter(Config::new()).expect("initialize");
        set(Behavior::default());
        drop(host);
    });
    let message = result.expect_err("dropping a host with violations panics");
    let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("[leak] MiniportDriverUnload"), "{text}");
}

#[test]
fn reports_name_the_rule_the_api_the_adapter_and_the_irql() {
    let verdict = run(
        Behavior::breaking(Broken::DoubleComplete),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
        },
    );
    let lines = reports(&verdict);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(
            "[nbl-not-owned] NdisMSendNetBufferListsComplete adapter 0 at DISPATCH_LEVEL: NBL 0x"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(" (frames [0]) completed twice"),
        "{}",
        lines[0]
    );
}

/// `MiniportPause`'s page: a pausing or paused miniport rejects each new send at once, completing it
/// with `NDIS_STATUS_PAUSED`. The host sends in both states (a protocol's send can race a pause).
#[test]
fn sends_while_pausing_and_paused_complete_at_once_with_paused() {
    let verdict = run(
        Behavior::default(),
        Host::builder().return_mode(ReturnMode::Deferred),
        |host, a| {
            host.send(a, &[&frame(1, 100)], SendOptions::default())
                .expect("running");
            assert_eq!(host.held_indications(a), 1);
            assert_eq!(host.start_pause(a), NDIS_STATUS_PENDING, "an indication is out");
            assert_eq!(host.adapter_phase(a), Phase::Pausing);
            host.take_completions(a);
            for phase in [Phase::Pausing, Phase::Paused] {
                if phase == Phase::Paused {
                    host.return_indicated(a);
                    assert!(host.wait_pause(a));
                }
                assert_eq!(host.adapter_phase(a), phase);
                host.send(a, &[&frame(2, 100), &frame(3, 60)], SendOptions::default())
                    .expect("NDIS sends to a pausing or paused miniport");
                let statuses: Vec<NDIS_STATUS> = host.take_completions(a).iter().map(|c| c.status).collect();
                assert_eq!(statuses, [NDIS_STATUS_PAUSED; 2], "{phase:?}");
                assert!(host.take_received(a).len() <= 1, "nothing new is echoed");
            }
            assert_eq!(host.restart(a), NDIS_STATUS_SUCCESS);
            host.send(a, &[&frame(4, 100)], SendOptions::default())
                .expect("running");
            assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
            host.return_indicated(a);
        },
    );
    assert!(verdict.is_clean(), "{}", verdict.report());
}

#[test]
fn a_send_held_while_paused_is_reported() {
    let verdict = run(
        Behavior::breaking(Broken::HoldSendsWhilePaused),
        Host::builder(),
        |host, a| {
            assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
            host.send(a, &[&frame(1, 100)], SendOptions::default())
                .expect("sent to the paused adapter");
            host.halt(a, NdisHaltDeviceDisabled);
        },
    );
    assert_exactly(
        &verdict,
        &[
            (
                Rule::SendWhilePaused,
                "MiniportSendNetBufferLists",
                Some(0),
                "returned holding 1 NBL(s) sent while the adapter paused",
            ),
            (
                Rule::OutstandingAtPause,
                "MiniportHaltEx",
                Some(0),
                "returned with 1 send(s) not completed",
            ),
        ],
    );
}

#[test]
fn a_send_completed_while_paused_with_another_status_is_reported() {
    let verdict = run(
        Behavior::breaking(Broken::SucceedSendsWhilePaused),
        Host::builder(),
        |host, a| {
            assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
            host.send(a, &[&frame(1, 100)], SendOptions::default())
                .expect("sent to the paused adapter");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::SendWhilePaused,
            "MiniportSendNetBufferLists",
            Some(0),
            "with a status other than NDIS_STATUS_PAUSED (frame 0: 0x00000000)",
        )],
    );
}

#[test]
fn an_indicated_nbl_without_the_adapter_as_source_handle_is_reported() {
    let verdict = run(
        Behavior::breaking(Broken::NoSourceHandle),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80)], SendOptions::default())
                .expect("running");
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::BadParameter,
            "NdisMIndicateReceiveNetBufferLists",
            Some(0),
            "has SourceHandle 0x0, not the miniport adapter handle",
        )],
    );
}

/// `NdisMIndicateStatusEx`'s page: allowed once the registration attributes are set, even inside
/// `MiniportInitializeEx`; never after `MiniportHaltEx` returned.
#[test]
fn status_indications_before_registration_or_after_halt_are_reported() {
    let early = run(
        Behavior::breaking(Broken::StatusBeforeRegistration),
        Host::builder(),
        |_, _| {},
    );
    assert_exactly(
        &early,
        &[(
            Rule::StatusOutsideLifetime,
            "NdisMIndicateStatusEx",
            Some(0),
            "before the registration attributes were set",
        )],
    );
    let late = run(Behavior::default(), Host::builder(), |host, a| {
        let handle = host.adapter_handle(a);
        assert_eq!(host.pause(a), NDIS_STATUS_SUCCESS);
        host.halt(a, NdisHaltDeviceDisabled);
        common::indicate_link(handle);
    });
    assert_exactly(
        &late,
        &[(
            Rule::StatusOutsideLifetime,
            "NdisMIndicateStatusEx",
            Some(0),
            "after MiniportHaltEx returned",
        )],
    );
}

/// `NdisGetDataBuffer` "can also be NULL due to a low resource condition where a data buffer cannot
/// be mapped ... even if the data is contiguous": a mapping fault fails exactly the nth call, and a
/// plan for every kind of allocation leaves mappings alone.
#[test]
fn a_mapping_fault_fails_get_data_buffer_even_for_contiguous_data() {
    let verdict = run(Behavior::default(), Host::builder(), |host, a| {
        host.inject(FaultPlan {
            kind: Some(Kind::Mapping),
            nth: 2,
        });
        for n in 0..3 {
            host.send(a, &[&frame(n, 80)], SendOptions::default())
                .expect("running");
        }
        assert_eq!(
            host.injected_failure(),
            Some((Kind::Mapping, "NdisGetDataBuffer", 2))
        );
        let echoed = host.take_received(a);
        assert_eq!(
            echoed.len(),
            3,
            "the test driver echoes what it could not read as zeros"
        );
        assert_eq!(echoed[0], frame(0, 80));
        assert_ne!(echoed[1], frame(1, 80), "the second mapping failed");
        assert_eq!(echoed[2], frame(2, 80));
        host.inject(FaultPlan { kind: None, nth: 1 });
        host.send(a, &[&frame(4, 80)], SendOptions::default())
            .expect("running");
        assert_eq!(host.take_received(a), [frame(4, 80)], "not an allocation");
    });
    assert!(verdict.is_clean(), "{}", verdict.report());
}

/// `MiniportResetEx`'s page: "Starting with NDIS 6.30, the miniport driver must not hold pending OID
/// or send requests until after the reset operation is complete."
#[test]
fn a_reset_that_completes_while_the_driver_holds_sends_is_reported() {
    let verdict = run(
        Behavior::breaking(Broken::HoldSends),
        Host::builder(),
        |host, a| {
            host.send(a, &[&frame(1, 80), &frame(2, 80)], SendOptions::default())
                .expect("running");
            assert_eq!(host.reset(a), (NDIS_STATUS_SUCCESS, true));
            assert!(
                host.send(a, &[&frame(3, 80)], SendOptions::default()).is_some(),
                "sends resume after the reset"
            );
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::SendHeldPastReset,
            "MiniportResetEx",
            Some(0),
            "the reset completed with 2 send(s) given before it not completed",
        )],
    );
}

/// A driver call runs on a 24 KiB kernel stack: its peak use is recorded per entry point, and a
/// call that goes past the guard page below it is a violation naming the entry point (the call
/// panics) instead of a crash of the process.
#[cfg(target_arch = "x86_64")]
#[test]
fn kernel_stacks_record_peaks_and_turn_an_overflow_into_a_violation() {
    let verdict = run(
        Behavior {
            hang_check_stack: 12 * 1024,
            ..Behavior::default()
        },
        Host::builder(),
        |host, a| {
            assert!(!host.check_for_hang(a));
            let peaks = host.stack_peaks();
            let hang = peaks
                .iter()
                .find(|(entry, _)| *entry == "MiniportCheckForHangEx")
                .map(|(_, used)| *used)
                .expect("a peak for the hang check");
            assert!((12 * 1024..24 * 1024).contains(&hang), "{hang} bytes");
            assert!(peaks.iter().any(|(entry, _)| *entry == "MiniportInitializeEx"));
            // 40 KiB does not fit: the guard page stops it.
            set(Behavior {
                hang_check_stack: 40 * 1024,
                ..Behavior::default()
            });
            let overflow = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.check_for_hang(a)));
            let message = overflow.expect_err("the overflowing call panics");
            let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(
                message.contains("MiniportCheckForHangEx overflowed its 24 KiB kernel stack"),
                "{message}"
            );
            set(Behavior::default());
            // The thread goes on: the next call runs on a fresh stack top.
            assert!(!host.check_for_hang(a));
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::StackOverflow,
            "MiniportCheckForHangEx",
            Some(0),
            "overflowed its 24 KiB kernel stack",
        )],
    );
}

/// Without the verifier (`HostBuilder::verifier(false)`, as Windows runs without Driver
/// Verifier) the per-object checks are off, and only those: IRQL rules and leaks at unload are
/// still reported.
#[test]
fn without_the_verifier_only_the_per_object_checks_are_off() {
    let lean = || Host::builder().verifier(false);
    let send_one = |host: &Host, a: Adapter| {
        host.send(a, &[&frame(1, 80)], SendOptions::default())
            .expect("running");
    };
    let unseen = [
        // (A write after free is not tried: without the quarantine the memory really is freed.)
        (Broken::TouchAfterComplete, lean()),
        (Broken::IndicateTwice, lean().return_mode(ReturnMode::Deferred)),
    ];
    for (broken, builder) in unseen {
        let verdict = run(Behavior::breaking(broken), builder, |host, a| {
            send_one(host, a);
            host.return_indicated(a);
        });
        assert!(verdict.is_clean(), "{broken:?}: {}", verdict.report());
    }
    let verdict = run(
        Behavior::breaking(Broken::AllocateAtHighIrql),
        lean(),
        |host, a| {
            host.oid_query(a, OID_GEN_LINK_SPEED, 4);
        },
    );
    assert_exactly(
        &verdict,
        &[(
            Rule::Irql,
            "NdisMSleep",
            Some(0),
            "documented limit IRQL <= APC_LEVEL",
        )],
    );
    let verdict = run(Behavior::breaking(Broken::LeakPool), lean(), |_, _| {});
    assert_exactly(
        &verdict,
        &[(
            Rule::Leak,
            "MiniportDriverUnload",
            None,
            "pool memory 'Leak' (100 bytes) from ExAllocatePool2 at an unknown caller (the verifier was off)",
        )],
    );
    // No stack peaks are measured either; with the verifier they are.
    for (builder, measured) in [(lean(), false), (Host::builder(), true)] {
        let host = builder.build();
        set(Behavior::default());
        host.load(driver_entry).expect("DriverEntry");
        let a = host.start_adapter(Config::new()).expect("initialize");
        send_one(&host, a);
        assert_eq!(!host.stack_peaks().is_empty(), measured);
        assert!(host.finish().is_clean());
    }
}
