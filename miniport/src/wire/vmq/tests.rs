use super::*;
use ndis::NDIS_RECEIVE_FILTER_LOOKAHEAD_SPLIT_SUPPORTED;

const EXISTS: fn(PROCESSOR_NUMBER) -> bool = |n| n.Group == 0 && n.Number < 4;
const ON: Option<VmqConfig> = Some(VmqConfig { vlan_filtering: true });

/// `NDIS_RECEIVE_QUEUE_PARAMETERS` (revision 1) of VM queue `id` on processor 0.
fn queue(id: u32) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_1);
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(&[
        NDIS_OBJECT_TYPE_DEFAULT,
        1,
        size.to_le_bytes()[0],
        size.to_le_bytes()[1],
    ]);
    b[8..12].copy_from_slice(&(NdisReceiveQueueTypeVMQueue).to_le_bytes());
    b[12..16].copy_from_slice(&id.to_le_bytes());
    b[24] = 1;
    b
}

/// A filter `id` on `queue` for `mac`, with a VLAN field if `vlan`.
fn filter(queue: u32, id: u32, mac: [u8; 6], vlan: Option<u16>) -> Vec<u8> {
    let count = 1 + usize::from(vlan.is_some());
    let mut b = vec![0u8; 40 + 56 * count];
    b[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 36, 0]);
    let words = [
        (8, NdisReceiveFilterTypeVMQueue),
        (12, queue),
        (16, id),
        (20, 40),
        (24, u32::try_from(count).unwrap()),
        (28, 56),
    ];
    for (at, v) in words {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    for k in 0..count {
        let f = &mut b[40 + 56 * k..96 + 56 * k];
        f[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 56, 0]);
        f[8..12].copy_from_slice(&NdisFrameHeaderMac.to_le_bytes());
        f[12..16].copy_from_slice(&NdisReceiveFilterTestEqual.to_le_bytes());
        if k == 0 {
            f[16..20].copy_from_slice(&NdisMacHeaderFieldDestinationAddress.to_le_bytes());
            f[24..30].copy_from_slice(&mac);
        } else {
            f[16..20].copy_from_slice(&NdisMacHeaderFieldVlanId.to_le_bytes());
            f[24..26].copy_from_slice(&vlan.unwrap_or(0).to_be_bytes());
        }
    }
    b
}

fn complete(vmq: &mut VmQueues, id: u32) -> u32 {
    let mut b = vec![0u8; 40];
    b[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 20, 0]);
    for (at, v) in [(8, 1u32), (12, 24), (16, 16)] {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    b[24..28].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 16, 0]);
    b[32..36].copy_from_slice(&id.to_le_bytes());
    assert_eq!(vmq.complete_allocation(&mut b), Ok(40));
    u32::from_le_bytes(b[36..40].try_into().unwrap())
}

fn clear(vmq: &mut VmQueues, queue: u32, id: u32) -> Result<usize, Refused> {
    let mut b = vec![0u8; 16];
    b[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 16, 0]);
    b[8..12].copy_from_slice(&queue.to_le_bytes());
    b[12..16].copy_from_slice(&id.to_le_bytes());
    vmq.clear_filter(&b)
}

fn free(vmq: &mut VmQueues, queue: u32) -> Result<(usize, Freed), Refused> {
    let mut b = vec![0u8; 12];
    b[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 1, 12, 0]);
    b[8..12].copy_from_slice(&queue.to_le_bytes());
    vmq.free(&b)
}

fn state(vmq: &VmQueues, id: u32) -> Option<State> {
    vmq.queue(id).map(|(_, q)| q.state)
}

#[test]
fn a_queue_goes_through_the_documented_states() {
    let mut vmq = VmQueues::new(ON);
    let mac = [2, 0, 0, 0, 0, 1];
    assert!(vmq.allocate(&mut queue(3), EXISTS).is_ok());
    assert_eq!(state(&vmq, 3), Some(State::Allocated));
    assert!(vmq.set_filter(&filter(3, 1, mac, None)).is_ok());
    assert_eq!(state(&vmq, 3), Some(State::Set));
    assert!(
        vmq.routes().is_empty(),
        "not running before the allocation completes"
    );
    assert_eq!(complete(&mut vmq, 3), NDIS_STATUS_SUCCESS.cast_unsigned());
    assert_eq!(state(&vmq, 3), Some(State::Running));
    assert_eq!(
        vmq.routes()
            .lookup(&mac, Some(7))
            .map(|r| (r.slot, r.queue, r.filter)),
        Some((1, 3, 1))
    );
    assert_eq!(
        free(&mut vmq, 3),
        Err(INVALID),
        "a queue with a filter is not freed"
    );
    assert_eq!(clear(&mut vmq, 3, 1), Ok(16));
    assert_eq!(state(&vmq, 3), Some(State::Paused));
    assert!(vmq.routes().is_empty());
    assert!(vmq.set_filter(&filter(3, 2, mac, Some(9))).is_ok());
    assert_eq!(state(&vmq, 3), Some(State::Running), "a paused queue runs again");
    assert_eq!(vmq.routes().lookup(&mac, None), None, "VLAN 9 only");
    assert!(vmq.routes().lookup(&mac, Some(9)).is_some());
    assert_eq!(clear(&mut vmq, 3, 2), Ok(16));
    assert_eq!(free(&mut vmq, 3), Ok((12, Freed { slot: 1, id: 3 })));
    assert_eq!(state(&vmq, 3), Some(State::Freeing));
    assert!(
        vmq.set_filter(&filter(3, 4, mac, None)).is_err(),
        "no filter on a stopping queue"
    );
    vmq.freed(1);
    assert_eq!(state(&vmq, 3), None);
}

#[test]
fn an_allocation_completed_without_filters_pauses_and_a_clear_before_it_returns_to_allocated() {
    let mut vmq = VmQueues::new(ON);
    assert!(vmq.allocate(&mut queue(1), EXISTS).is_ok());
    assert!(vmq.allocate(&mut queue(2), EXISTS).is_ok());
    assert_eq!(complete(&mut vmq, 1), NDIS_STATUS_SUCCESS.cast_unsigned());
    assert_eq!(state(&vmq, 1), Some(State::Paused));
    assert_eq!(
        complete(&mut vmq, 1),
        NDIS_STATUS_INVALID_PARAMETER.cast_unsigned(),
        "once only"
    );
    assert!(vmq.set_filter(&filter(2, 5, [2, 0, 0, 0, 0, 2], None)).is_ok());
    assert_eq!(clear(&mut vmq, 2, 5), Ok(16));
    assert_eq!(state(&vmq, 2), Some(State::Allocated));
    assert_eq!(clear(&mut vmq, 2, 5), Err(INVALID), "cleared already");
}

#[test]
fn a_filter_on_the_default_queue_routes_there_and_vlan_tests_follow_the_flags() {
    let mut vmq = VmQueues::new(ON);
    let mac = [2, 0, 0, 0, 0, 8];
    let mut untagged = filter(0, 3, mac, None);
    untagged[44..48]
        .copy_from_slice(&NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO.to_le_bytes());
    assert!(vmq.set_filter(&untagged).is_ok());
    let routes = vmq.routes();
    assert_eq!(
        routes.lookup(&mac, None).map(|r| (r.slot, r.queue, r.filter)),
        Some((0, 0, 3))
    );
    assert!(
        routes.lookup(&mac, Some(0)).is_some(),
        "VLAN 0 counts as untagged"
    );
    assert!(routes.lookup(&mac, Some(2)).is_none());
}

#[test]
fn capabilities_report_the_hardware_always_and_the_current_as_configured() {
    let hardware = capabilities(None, true);
    assert_eq!(hardware.NumQueues, QUEUES_REPORTED);
    assert_eq!(
        hardware.SupportedQueueProperties & NDIS_RECEIVE_FILTER_LOOKAHEAD_SPLIT_SUPPORTED,
        0
    );
    assert_eq!(capabilities(None, false).NumQueues, 0);
    let plain = capabilities(
        Some(VmqConfig {
            vlan_filtering: false,
        }),
        false,
    );
    assert_eq!(
        plain.SupportedMacHeaderFields,
        NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED
    );
    assert_eq!(capabilities(ON, false), hardware);
}

#[test]
fn every_slot_and_filter_taken_is_refused_for_resources() {
    let mut vmq = VmQueues::new(ON);
    for id in 1..=QUEUES_REPORTED {
        assert!(vmq.allocate(&mut queue(id), EXISTS).is_ok());
    }
    assert_eq!(
        vmq.allocate(&mut queue(99), EXISTS),
        Err((NDIS_STATUS_RESOURCES, 0))
    );
    for id in 1..=FILTERS_REPORTED {
        assert!(
            vmq.set_filter(&filter(1, id, [2, 0, 0, 0, 1, u8::try_from(id).unwrap()], None))
                .is_ok()
        );
    }
    assert_eq!(
        vmq.set_filter(&filter(1, 99, [2; 6], None)),
        Err((NDIS_STATUS_RESOURCES, 0))
    );
}

#[test]
fn the_preference_picks_rss_or_vmq_and_lookahead_split_is_refused() {
    use crate::config::{Config, Reason};
    let read = |pairs: &'static [(&'static str, u32)]| {
        Config::from_registry(
            |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            None,
        )
    };
    let (c, f) = read(&[("*RssOrVmqPreference", 1), ("*RSS", 1), ("*VMQLookaheadSplit", 1)]);
    assert_eq!(
        (c.rss_queues, c.vmq),
        (0, ON),
        "VMQ preferred: RSS's keywords are not read"
    );
    let refused: Vec<_> = f.iter().map(|f| (f.keyword, f.reason)).collect();
    assert_eq!(refused, [("*VMQLookaheadSplit", Reason::NotAllowed(1))]);
    let (c, _) = read(&[("*RssOrVmqPreference", 0), ("*VMQ", 1)]);
    assert_eq!(
        (c.rss_queues > 0, c.vmq),
        (true, None),
        "RSS preferred: VMQ's are not"
    );
    let (c, f) = read(&[("*RssOrVmqPreference", 2), ("*VMQ", 1)]);
    assert_eq!(
        (c.vmq, f.len()),
        (None, 1),
        "a bad preference falls back to RSS, counted"
    );
    let (c, _) = read(&[("*RssOrVmqPreference", 1), ("*VMQVlanFiltering", 0)]);
    assert_eq!(
        c.vmq,
        Some(VmqConfig {
            vlan_filtering: false
        })
    );
}
