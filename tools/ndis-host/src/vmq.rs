//! VM queues as NDIS and a Hyper-V virtual switch see them: the receive filter capabilities a
//! miniport reports, the queues and filters the switch allocated through it (with the
//! identifiers NDIS assigns), and the rules of "Queue States and Operations" and "Freeing a VM
//! Queue" the miniport's receives and status indications must keep.

use std::collections::BTreeMap;

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

/// A queue's state, as the switch's requests and their results made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Allocated, no filter yet.
    Allocated,
    /// A filter set, allocation not complete.
    Set,
    /// Filters set, allocation complete: receives may come on it.
    Running,
    /// No filter left after the allocation completed.
    Paused,
    /// `OID_RECEIVE_FILTER_FREE_QUEUE` issued, not completed.
    Freeing,
}

/// One queue of the model.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueueModel {
    pub state: Option<QueueState>,
    pub filters: Vec<u32>,
    /// `NDIS_STATUS_RECEIVE_QUEUE_STATE` with `NdisReceiveQueueOperationalStateDmaStopped` came.
    pub dma_stopped: bool,
    /// A request that makes it run is in progress: the miniport "can start indications" once it
    /// has received it (`OID_RECEIVE_FILTER_SET_FILTER`'s and the allocation-complete pages).
    pub opening: bool,
}

/// An adapter's receive filtering, as NDIS knows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    /// The capabilities of the hardware assist attributes: hardware, current.
    pub caps: Option<(NDIS_RECEIVE_FILTER_CAPABILITIES, NDIS_RECEIVE_FILTER_CAPABILITIES)>,
    /// Allocated queues, by identifier.
    pub queues: BTreeMap<u32, QueueModel>,
    /// The last filter identifier NDIS assigned (unique on the adapter).
    pub last_filter: u32,
    /// Free requests that pended (the miniport waited for the queue's frames).
    pub frees_pended: u32,
}

impl Model {
    /// The identifier NDIS assigns to the next queue: the lowest unused one above the default.
    pub fn next_queue(&self) -> u32 {
        (1..=u32::MAX)
            .find(|id| !self.queues.contains_key(id))
            .unwrap_or(u32::MAX)
    }

    /// The identifier NDIS assigns to the next filter.
    pub fn next_filter(&mut self) -> u32 {
        self.last_filter += 1;
        self.last_filter
    }
}

/// Checks the receive filter capabilities of the hardware assist attributes: both or neither,
/// headers, and nothing current that the hardware lacks ("the miniport driver must always report
/// the complete RSS and VMQ hardware capabilities"; the current ones are what is enabled).
pub(crate) fn check_capabilities(
    hardware: &NDIS_RECEIVE_FILTER_CAPABILITIES,
    current: &NDIS_RECEIVE_FILTER_CAPABILITIES,
) -> Result<(), String> {
    for c in [hardware, current] {
        if c.Header.Type != NDIS_OBJECT_TYPE_DEFAULT
            || c.Header.Revision < NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_1
            || c.Header.Size < NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_1
        {
            return Err(format!("NDIS_RECEIVE_FILTER_CAPABILITIES header {:?}", c.Header));
        }
        let queues = c.EnabledQueueTypes & NDIS_RECEIVE_FILTER_VM_QUEUES_ENABLED != 0;
        if queues
            && (c.NumQueues == 0
                || c.SupportedQueueProperties & NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED == 0
                || c.MaxMacHeaderFilters == 0
                || c.SupportedMacHeaderFields & NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED == 0)
        {
            return Err(format!(
                "VM queues enabled without queues, VM queue support, MAC filters or destination \
                 address tests: {c:?}"
            ));
        }
    }
    let subset = |cur: u32, hw: u32| cur & !hw == 0;
    let fields = [
        (current.EnabledFilterTypes, hardware.EnabledFilterTypes),
        (current.EnabledQueueTypes, hardware.EnabledQueueTypes),
        (
            current.SupportedQueueProperties,
            hardware.SupportedQueueProperties,
        ),
        (current.SupportedFilterTests, hardware.SupportedFilterTests),
        (current.SupportedHeaders, hardware.SupportedHeaders),
        (
            current.SupportedMacHeaderFields,
            hardware.SupportedMacHeaderFields,
        ),
    ];
    if !fields.iter().all(|&(c, h)| subset(c, h))
        || current.NumQueues > hardware.NumQueues
        || current.MaxMacHeaderFilters > hardware.MaxMacHeaderFilters
    {
        return Err("current receive filter capabilities beyond the hardware's".into());
    }
    Ok(())
}

/// Checks the queue identifiers of one receive indication's NBLs: one queue per indication (the
/// switch allocates its queues with `NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION`),
/// and that queue the default one or a running one ("A miniport driver can only indicate receive
/// packets for a queue that is in the Running state").
pub(crate) fn check_receive(model: &Model, queues: impl IntoIterator<Item = u16>) -> Result<(), String> {
    let mut queues = queues.into_iter();
    let Some(first) = queues.next() else {
        return Ok(());
    };
    if let Some(other) = queues.find(|q| *q != first) {
        return Err(format!("one receive indication mixes queues {first} and {other}"));
    }
    if first == 0 {
        return Ok(());
    }
    match model.queues.get(&u32::from(first)) {
        Some(q) if q.state == Some(QueueState::Running) || q.opening => Ok(()),
        q => Err(format!(
            "receive on queue {first}, which is {:?}, not running",
            q.and_then(|q| q.state)
        )),
    }
}

/// Records an `NDIS_STATUS_RECEIVE_QUEUE_STATE` indication: a 16-byte `NDIS_RECEIVE_QUEUE_STATE`
/// of a known queue; `DmaStopped` only for a queue being freed ("The change to the DMA Stopped
/// state is the only queue state change indication that is required. A miniport driver must
/// indicate this state after it receives an `OID_RECEIVE_FILTER_FREE_QUEUE` set request").
pub(crate) fn queue_state(model: &mut Model, buffer: &[u8]) -> Result<(), String> {
    let size = usize::from(NDIS_SIZEOF_NDIS_RECEIVE_QUEUE_STATE_REVISION_1);
    if buffer.len() < size
        || buffer[0] != NDIS_OBJECT_TYPE_DEFAULT
        || buffer[1] < NDIS_RECEIVE_QUEUE_STATE_REVISION_1
        || usize::from(u16::from_le_bytes([buffer[2], buffer[3]])) < size
    {
        return Err(format!(
            "NDIS_STATUS_RECEIVE_QUEUE_STATE with a {}-byte buffer that is not an NDIS_RECEIVE_QUEUE_STATE",
            buffer.len()
        ));
    }
    let (id, state) = (word(buffer, 8), word(buffer, 12));
    let Some(queue) = model.queues.get_mut(&id) else {
        return Err(format!(
            "queue state {state} of queue {id}, which is not allocated"
        ));
    };
    if state == NdisReceiveQueueOperationalStateDmaStopped {
        if queue.state != Some(QueueState::Freeing) {
            return Err(format!(
                "DMA stopped on queue {id} in state {:?}: only a free request stops it",
                queue.state
            ));
        }
        queue.dma_stopped = true;
    }
    Ok(())
}

/// The little-endian `u32` at `at` of a request buffer (0 past its end).
fn word(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// What a receive filter request is about to change, before the miniport sees it: a queue being
/// freed enters *Freeing* (its DMA-stopped indication comes during the request). Returns the
/// state to restore if the request fails.
pub(crate) fn before_request(model: &mut Model, oid: NDIS_OID, input: &[u8]) -> Option<(u32, QueueState)> {
    match oid {
        OID_RECEIVE_FILTER_SET_FILTER => {
            if let Some(q) = model.queues.get_mut(&word(input, 12))
                && q.state == Some(QueueState::Paused)
            {
                q.opening = true;
            }
            return None;
        }
        OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE => {
            let (count, first, size) = (word(input, 8), word(input, 12), word(input, 16));
            for k in 0..count.min(64) {
                let at = first.saturating_add(k.saturating_mul(size)) as usize;
                if let Some(q) = model.queues.get_mut(&word(input, at + 8))
                    && q.state == Some(QueueState::Set)
                {
                    q.opening = true;
                }
            }
            return None;
        }
        OID_RECEIVE_FILTER_FREE_QUEUE => {}
        _ => return None,
    }
    let id = word(input, 8);
    let queue = model.queues.get_mut(&id)?;
    let before = queue.state?;
    queue.state = Some(QueueState::Freeing);
    queue.dma_stopped = false;
    Some((id, before))
}

/// What a receive filter request changed, once the miniport completed it with `status`: the
/// queue states of "Queue States and Operations". `output` is the information buffer as the
/// miniport left it. An error is a broken rule (a free completed before the DMA-stopped
/// indication).
pub(crate) fn after_request(
    model: &mut Model,
    oid: NDIS_OID,
    (input, output): (&[u8], &[u8]),
    status: NDIS_STATUS,
    before: Option<(u32, QueueState)>,
) -> Result<(), String> {
    for q in model.queues.values_mut() {
        q.opening = false;
    }
    if status != NDIS_STATUS_SUCCESS {
        if let Some((id, state)) = before
            && let Some(q) = model.queues.get_mut(&id)
        {
            q.state = Some(state);
        }
        return Ok(());
    }
    match oid {
        OID_RECEIVE_FILTER_ALLOCATE_QUEUE => {
            model.queues.insert(
                word(input, 12),
                QueueModel {
                    state: Some(QueueState::Allocated),
                    ..QueueModel::default()
                },
            );
        }
        OID_RECEIVE_FILTER_SET_FILTER => {
            if let Some(q) = model.queues.get_mut(&word(input, 12)) {
                q.filters.push(word(input, 16));
                q.state = match q.state {
                    Some(QueueState::Allocated | QueueState::Set) => Some(QueueState::Set),
                    _ => Some(QueueState::Running),
                };
            }
        }
        OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE => {
            let (count, first, size) = (word(output, 8), word(output, 12), word(output, 16));
            for k in 0..count {
                let at = (first + k * size) as usize;
                if word(output, at + 12) != NDIS_STATUS_SUCCESS as u32 {
                    continue;
                }
                if let Some(q) = model.queues.get_mut(&word(output, at + 8)) {
                    q.state = match q.state {
                        Some(QueueState::Set) => Some(QueueState::Running),
                        _ => Some(QueueState::Paused),
                    };
                }
            }
        }
        OID_RECEIVE_FILTER_CLEAR_FILTER => {
            if let Some(q) = model.queues.get_mut(&word(input, 8)) {
                q.filters.retain(|f| *f != word(input, 12));
                if q.filters.is_empty() {
                    q.state = match q.state {
                        Some(QueueState::Set) => Some(QueueState::Allocated),
                        _ => Some(QueueState::Paused),
                    };
                }
            }
        }
        OID_RECEIVE_FILTER_FREE_QUEUE => {
            let id = word(input, 8);
            if let Some(q) = model.queues.remove(&id)
                && !q.dma_stopped
            {
                return Err(format!(
                    "OID_RECEIVE_FILTER_FREE_QUEUE of queue {id} completed without NDIS_STATUS_RECEIVE_QUEUE_STATE \
                     (DMA stopped) first"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(states: &[(u32, QueueState)]) -> Model {
        let mut m = Model::default();
        for &(id, state) in states {
            m.queues.insert(
                id,
                QueueModel {
                    state: Some(state),
                    ..QueueModel::default()
                },
            );
        }
        m
    }

    fn queue_state_buffer(id: u32, state: u32) -> Vec<u8> {
        let mut b = vec![NDIS_OBJECT_TYPE_DEFAULT, 1, 16, 0];
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&state.to_le_bytes());
        b
    }

    #[test]
    fn receives_only_on_the_default_or_a_running_queue_one_queue_an_indication() {
        let m = model(&[(1, QueueState::Running), (2, QueueState::Paused)]);
        assert!(check_receive(&m, [0, 0]).is_ok());
        assert!(check_receive(&m, [1, 1]).is_ok());
        assert!(check_receive(&m, [2]).is_err(), "paused");
        assert!(check_receive(&m, [3]).is_err(), "never allocated");
        assert!(check_receive(&m, [1, 0]).is_err(), "two queues in one indication");
        // A paused queue being given a filter may receive while the request is in progress.
        let mut m = m;
        let mut filter = vec![0u8; 16];
        filter[12] = 2;
        assert_eq!(
            before_request(&mut m, OID_RECEIVE_FILTER_SET_FILTER, &filter),
            None
        );
        assert!(check_receive(&m, [2]).is_ok());
        let refused = after_request(
            &mut m,
            OID_RECEIVE_FILTER_SET_FILTER,
            (&filter, &[]),
            NDIS_STATUS_FAILURE,
            None,
        );
        assert!(
            refused.is_ok() && check_receive(&m, [2]).is_err(),
            "refused: paused again"
        );
    }

    /// `OID_RECEIVE_FILTER_FREE_QUEUE` of queue 1 through the model: before the request, the DMA
    /// stopped indication if `indicated`, and the request completed with `status`.
    fn free_queue_1(m: &mut Model, indicated: bool, status: NDIS_STATUS) -> Result<(), String> {
        let free = [0u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        let before = before_request(m, OID_RECEIVE_FILTER_FREE_QUEUE, &free);
        if indicated {
            let dma_stopped = NdisReceiveQueueOperationalStateDmaStopped;
            queue_state(m, &queue_state_buffer(1, dma_stopped))?;
        }
        after_request(m, OID_RECEIVE_FILTER_FREE_QUEUE, (&free, &[]), status, before)
    }

    #[test]
    fn dma_stopped_only_while_freeing_and_a_free_needs_it() {
        let dma_stopped = NdisReceiveQueueOperationalStateDmaStopped;
        let mut m = model(&[(1, QueueState::Running)]);
        assert!(queue_state(&mut m, &queue_state_buffer(1, dma_stopped)).is_err());
        assert!(queue_state(&mut m, &queue_state_buffer(9, dma_stopped)).is_err());
        assert!(queue_state(&mut m, &queue_state_buffer(1, dma_stopped)[..12]).is_err());
        // Completed without the indication: broken.
        assert!(free_queue_1(&mut m, false, NDIS_STATUS_SUCCESS).is_err());
        let mut m = model(&[(1, QueueState::Paused)]);
        assert!(free_queue_1(&mut m, true, NDIS_STATUS_SUCCESS).is_ok() && m.queues.is_empty());
        // A refused free leaves the queue as it was.
        let mut m = model(&[(1, QueueState::Paused)]);
        assert!(free_queue_1(&mut m, false, NDIS_STATUS_FAILURE).is_ok());
        assert_eq!(m.queues[&1].state, Some(QueueState::Paused));
    }

    #[test]
    fn current_capabilities_beyond_the_hardware_are_refused() {
        let mut hardware = NDIS_RECEIVE_FILTER_CAPABILITIES {
            Header: NDIS_OBJECT_HEADER::new(NDIS_OBJECT_TYPE_DEFAULT, 2, 84),
            EnabledQueueTypes: NDIS_RECEIVE_FILTER_VM_QUEUES_ENABLED,
            NumQueues: 4,
            SupportedQueueProperties: NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED,
            SupportedMacHeaderFields: NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED,
            MaxMacHeaderFilters: 8,
            ..NDIS_RECEIVE_FILTER_CAPABILITIES::default()
        };
        assert!(check_capabilities(&hardware, &hardware).is_ok());
        let more = NDIS_RECEIVE_FILTER_CAPABILITIES {
            NumQueues: 5,
            ..hardware
        };
        assert!(check_capabilities(&hardware, &more).is_err());
        let vlan = NDIS_RECEIVE_FILTER_CAPABILITIES {
            SupportedMacHeaderFields: hardware.SupportedMacHeaderFields
                | NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED,
            ..hardware
        };
        assert!(check_capabilities(&hardware, &vlan).is_err());
        hardware.NumQueues = 0;
        assert!(
            check_capabilities(&hardware, &hardware).is_err(),
            "queues enabled, none there"
        );
    }
}
