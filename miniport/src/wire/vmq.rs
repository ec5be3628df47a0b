//! Virtual machine queues (VMQ, NDIS 6.20 receive filtering): the queues a Hyper-V virtual switch
//! allocates on the adapter, the MAC (and VLAN) filters it sets on them, and the routes the wire
//! follows from them.
//!
//! The state of each queue follows "Queue States and Operations": `OID_RECEIVE_FILTER_ALLOCATE_QUEUE`
//! makes it *Allocated*; a filter makes it *Set* (or *Running* once
//! `OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE` came, which makes an unfiltered queue *Paused*);
//! clearing its last filter pauses it; `OID_RECEIVE_FILTER_FREE_QUEUE` (only of an *Allocated* or
//! *Paused* queue) stops it, and the adapter frees it once its frames are back ([`VmQueues::freed`]).
//! Frames are indicated on a queue only while it runs: the wire's [`Routes`] hold the filters of
//! running queues (and of the default queue, which always runs), nothing else.
//!
//! Each queue has receive buffers of its own, set aside when the adapter starts (a pool per
//! queue, [`VM_QUEUES`] of them): allocating a queue cannot fail for memory, and the datapath
//! never allocates.

use ndis::{
    GROUP_AFFINITY, NDIS_DEFAULT_RECEIVE_QUEUE_ID, NDIS_OBJECT_HEADER, NDIS_OBJECT_TYPE_DEFAULT,
    NDIS_RECEIVE_FILTER_CAPABILITIES, NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
    NDIS_RECEIVE_FILTER_DYNAMIC_PROCESSOR_AFFINITY_CHANGE_SUPPORTED,
    NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO,
    NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED, NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED,
    NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED, NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_EQUAL_SUPPORTED,
    NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED, NDIS_RECEIVE_FILTER_VM_QUEUES_ENABLED,
    NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED, NDIS_RECEIVE_QUEUE_PARAMETERS_CHANGE_MASK,
    NDIS_RECEIVE_QUEUE_PARAMETERS_FLAGS_CHANGED,
    NDIS_RECEIVE_QUEUE_PARAMETERS_INTERRUPT_COALESCING_DOMAIN_ID_CHANGED,
    NDIS_RECEIVE_QUEUE_PARAMETERS_LOOKAHEAD_SPLIT_REQUIRED, NDIS_RECEIVE_QUEUE_PARAMETERS_NAME_CHANGED,
    NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION,
    NDIS_RECEIVE_QUEUE_PARAMETERS_PROCESSOR_AFFINITY_CHANGED,
    NDIS_RECEIVE_QUEUE_PARAMETERS_SUGGESTED_RECV_BUFFER_NUMBERS_CHANGED,
    NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
    NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1, NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY_REVISION_1,
    NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1,
    NDIS_SIZEOF_RECEIVE_QUEUE_FREE_PARAMETERS_REVISION_1, NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_1,
    NDIS_STATUS, NDIS_STATUS_INVALID_LENGTH, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_RESOURCES,
    NDIS_STATUS_SUCCESS, NdisFrameHeaderMac, NdisMacHeaderFieldDestinationAddress, NdisMacHeaderFieldVlanId,
    NdisReceiveFilterTestEqual, NdisReceiveFilterTypeVMQueue, NdisReceiveQueueTypeVMQueue, PROCESSOR_NUMBER,
};

use super::vlan::{MAX_VLAN_ID, Tag};
use super::{BATCH, Drain, Published};
use crate::nbl::{Nbl, NetBuffer};
use crate::oid::{Refused, le16, le32};

/// The VMQ keywords, when VMQ is enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmqConfig {
    /// `*VMQVlanFiltering`: filters may test the VLAN identifier.
    pub vlan_filtering: bool,
}

/// Queues besides the default one (`NumQueues`).
pub const VM_QUEUES: usize = 4;
/// MAC header filters over all queues (`MaxMacHeaderFilters`).
pub const MAX_FILTERS: usize = 8;
/// [`VM_QUEUES`] and [`MAX_FILTERS`] as the capabilities carry them.
#[allow(clippy::cast_possible_truncation, reason = "small constants")]
const QUEUES_REPORTED: u32 = VM_QUEUES as u32;
#[allow(clippy::cast_possible_truncation, reason = "small constants")]
const FILTERS_REPORTED: u32 = MAX_FILTERS as u32;

/// The receive filtering rvnic can do (`hardware`), or does now: the same with VMQ enabled
/// (less VLAN filters without `*VMQVlanFiltering`), nothing without (netvmini's rule; "the
/// miniport driver must always report the complete RSS and VMQ hardware capabilities").
#[must_use]
pub fn capabilities(config: Option<VmqConfig>, hardware: bool) -> NDIS_RECEIVE_FILTER_CAPABILITIES {
    let mut caps = NDIS_RECEIVE_FILTER_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
            NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2,
        ),
        ..NDIS_RECEIVE_FILTER_CAPABILITIES::default()
    };
    let vlan = match (hardware, config) {
        (true, _) => true,
        (false, Some(config)) => config.vlan_filtering,
        (false, None) => return caps,
    };
    caps.EnabledFilterTypes = NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED;
    caps.EnabledQueueTypes = NDIS_RECEIVE_FILTER_VM_QUEUES_ENABLED;
    caps.NumQueues = QUEUES_REPORTED;
    // No lookahead split: NDIS 6.30 no longer supports it.
    caps.SupportedQueueProperties = NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED
        | NDIS_RECEIVE_FILTER_DYNAMIC_PROCESSOR_AFFINITY_CHANGE_SUPPORTED;
    caps.SupportedFilterTests = NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_EQUAL_SUPPORTED;
    caps.SupportedHeaders = NDIS_RECEIVE_FILTER_MAC_HEADER_SUPPORTED;
    caps.SupportedMacHeaderFields = NDIS_RECEIVE_FILTER_MAC_HEADER_DEST_ADDR_SUPPORTED;
    if vlan {
        caps.SupportedMacHeaderFields |= NDIS_RECEIVE_FILTER_MAC_HEADER_VLAN_ID_SUPPORTED;
    }
    caps.MaxMacHeaderFilters = FILTERS_REPORTED;
    caps
}

/// What a filter asks of a frame's VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VlanTest {
    /// Any VLAN, or none (a MAC filter alone, since NDIS 6.30).
    #[default]
    Any,
    /// Untagged, or VLAN 0 (`NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO`).
    UntaggedOrZero,
    /// This VLAN (a VLAN identifier field).
    Id(u16),
}

/// Where frames a filter matches go: the queue's slot (0: the default queue) and the
/// identifiers the NBL carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    /// The destination address.
    pub mac: [u8; 6],
    /// The VLAN test.
    pub vlan: VlanTest,
    /// The queue's receive buffers: 0 for the default queue's, `1..=VM_QUEUES` for a VM queue's.
    pub slot: u8,
    /// The queue identifier NDIS assigned.
    pub queue: u16,
    /// The filter identifier NDIS assigned.
    pub filter: u16,
}

impl Route {
    /// Whether a frame to `destination` in `vlan` (`None`: untagged) matches.
    #[must_use]
    pub fn matches(&self, destination: &[u8; 6], vlan: Option<u16>) -> bool {
        self.mac == *destination
            && match self.vlan {
                VlanTest::Any => true,
                VlanTest::UntaggedOrZero => matches!(vlan, None | Some(0)),
                VlanTest::Id(id) => vlan == Some(id),
            }
    }
}

/// The routes of the running queues' filters, as the wire follows them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Routes {
    table: [Route; MAX_FILTERS],
    count: usize,
    /// The processor each VM queue (by slot, less one) is affinitized to: its DPC's target.
    pub processors: [PROCESSOR_NUMBER; VM_QUEUES],
    /// The adapter's own packet filter, when the wire's takes every frame for the queues
    /// (`Published`): what decides the frames no route takes.
    pub own_filter: Option<u32>,
}

impl Routes {
    /// No filter routes anything: every frame goes to the default queue.
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The route of a frame to `destination` in `vlan`, if a running queue's filter matches it.
    #[must_use]
    pub fn lookup(&self, destination: &[u8; 6], vlan: Option<u16>) -> Option<Route> {
        self.table[..self.count]
            .iter()
            .find(|r| r.matches(destination, vlan))
            .copied()
    }
}

/// A queue's place in "Queue States and Operations".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Allocated, no filter, allocation not complete.
    Allocated,
    /// Filters set, allocation not complete.
    Set,
    /// Filters set, allocation complete: frames are indicated on it.
    Running,
    /// Allocation complete, no filter.
    Paused,
    /// Being freed: DMA stopped, waiting for its frames to come back.
    Freeing,
}

/// One VM queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// The identifier NDIS assigned.
    pub id: u32,
    /// Where it is in its life.
    pub state: State,
    /// `NDIS_RECEIVE_QUEUE_PARAMETERS_*` flags.
    pub flags: u32,
    /// The processors it may be associated with: its frames are indicated on the first.
    pub affinity: GROUP_AFFINITY,
    /// `NumSuggestedReceiveBuffers` (the pool set aside is used whatever it says).
    pub suggested_buffers: u32,
}

/// The queues and filters of one adapter, as OIDs see and change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmQueues {
    config: Option<VmqConfig>,
    queues: [Option<Queue>; VM_QUEUES],
    /// The filters, each as the route it makes (its queue and filter identifiers in it).
    filters: [Option<Route>; MAX_FILTERS],
}

/// What a freed queue leaves for the adapter: the slot of its buffers and its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    /// The queue's buffers (`1..=VM_QUEUES`).
    pub slot: usize,
    /// Its identifier, for `NDIS_STATUS_RECEIVE_QUEUE_STATE`.
    pub id: u32,
}

const INVALID: Refused = (NDIS_STATUS_INVALID_PARAMETER, 0);

/// The structure at the start of `b`, as long as its header says: `NDIS_OBJECT_TYPE_DEFAULT`, a
/// revision, and a size of at least `size` (the revision 1 structure). `INVALID_LENGTH` (with the
/// size needed) for a shorter buffer, `INVALID_PARAMETER` for a bad header.
fn structure(b: &[u8], size: u16) -> Result<&[u8], Refused> {
    let size = usize::from(size);
    let Some(head) = b.get(..size) else {
        return Err((NDIS_STATUS_INVALID_LENGTH, size));
    };
    let declared = usize::from(le16(head, 2));
    if head[0] != NDIS_OBJECT_TYPE_DEFAULT || head[1] == 0 || declared < size {
        return Err(INVALID);
    }
    b.get(..declared).ok_or((NDIS_STATUS_INVALID_LENGTH, declared))
}

/// The first processor of an affinity (its lowest set bit).
fn first_processor(affinity: &GROUP_AFFINITY) -> PROCESSOR_NUMBER {
    PROCESSOR_NUMBER {
        Group: affinity.Group,
        Number: u8::try_from(affinity.Mask.trailing_zeros()).unwrap_or(0),
        Reserved: 0,
    }
}

/// The `GROUP_AFFINITY` at `at`: a non-empty mask whose lowest processor exists.
fn affinity(b: &[u8], at: usize, exists: fn(PROCESSOR_NUMBER) -> bool) -> Result<GROUP_AFFINITY, Refused> {
    let mask = u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32;
    let group = le16(b, at + 8);
    let first = mask.trailing_zeros();
    let number = PROCESSOR_NUMBER {
        Group: group,
        Number: u8::try_from(first).map_err(|_| INVALID)?,
        Reserved: 0,
    };
    if mask == 0 || !exists(number) {
        return Err(INVALID);
    }
    Ok(GROUP_AFFINITY {
        Mask: mask,
        Group: group,
        Reserved: [0; 3],
    })
}

impl VmQueues {
    /// No queues, VMQ as `config` says (`None`: every request is refused).
    #[must_use]
    pub const fn new(config: Option<VmqConfig>) -> Self {
        Self {
            config,
            queues: [None; VM_QUEUES],
            filters: [None; MAX_FILTERS],
        }
    }

    /// Whether VMQ is enabled.
    #[must_use]
    pub const fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// The queue with identifier `id` and its slot (`1..=VM_QUEUES`).
    #[must_use]
    pub fn queue(&self, id: u32) -> Option<(usize, &Queue)> {
        self.queues
            .iter()
            .enumerate()
            .find_map(|(i, q)| q.as_ref().filter(|q| q.id == id).map(|q| (i + 1, q)))
    }

    fn queue_mut(&mut self, id: u32) -> Option<&mut Queue> {
        self.queues.iter_mut().flatten().find(|q| q.id == id)
    }

    /// The routes of the running queues' filters and the default queue's.
    #[must_use]
    pub fn routes(&self) -> Routes {
        let mut routes = Routes::default();
        for (slot, queue) in self.queues.iter().enumerate() {
            if let Some(q) = queue {
                routes.processors[slot] = first_processor(&q.affinity);
            }
        }
        for f in self.filters.iter().flatten() {
            let running = f.slot == 0
                || self
                    .queue(u32::from(f.queue))
                    .is_some_and(|(_, q)| q.state == State::Running);
            if running {
                routes.table[routes.count] = *f;
                routes.count += 1;
            }
        }
        routes
    }

    /// `OID_RECEIVE_FILTER_ALLOCATE_QUEUE` (a method): `NDIS_RECEIVE_QUEUE_PARAMETERS` with the
    /// identifier NDIS assigned; the queue is *Allocated*. Writes the MSI-X table entry (0: no
    /// MSI-X) into the output. Returns the bytes read and written.
    ///
    /// # Errors
    /// `INVALID_LENGTH` for a short buffer; `INVALID_PARAMETER` for a bad header, a type other
    /// than a VM queue, the default or a used identifier, a lookahead size (none since NDIS
    /// 6.30), unknown flags or an affinity without an existing processor; `RESOURCES` when every
    /// queue is taken.
    pub fn allocate(
        &mut self,
        buffer: &mut [u8],
        exists: fn(PROCESSOR_NUMBER) -> bool,
    ) -> Result<usize, Refused> {
        let b = structure(buffer, NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_1)?;
        let (flags, kind, id) = (le32(b, 4), le32(b, 8), le32(b, 12));
        let known = NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION
            | NDIS_RECEIVE_QUEUE_PARAMETERS_LOOKAHEAD_SPLIT_REQUIRED;
        if kind != NdisReceiveQueueTypeVMQueue
            || id == NDIS_DEFAULT_RECEIVE_QUEUE_ID
            || self.queue(id).is_some()
            || flags & !known != 0
            || le32(b, 48) != 0
        {
            return Err(INVALID);
        }
        let affinity = affinity(b, 24, exists)?;
        let read = b.len();
        let slot = self
            .queues
            .iter()
            .position(Option::is_none)
            .ok_or((NDIS_STATUS_RESOURCES, 0))?;
        self.queues[slot] = Some(Queue {
            id,
            state: State::Allocated,
            // "Miniport drivers that support NDIS 6.30 or later versions must ignore" the split.
            flags: flags & NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION,
            affinity,
            suggested_buffers: le32(b, 40),
        });
        buffer[44..48].copy_from_slice(&0u32.to_le_bytes());
        Ok(read)
    }

    /// `OID_RECEIVE_FILTER_QUEUE_PARAMETERS` (a set): changes what has a change flag (flags,
    /// affinity, suggested buffers, name). Returns the bytes read.
    ///
    /// # Errors
    /// As [`Self::allocate`], and `INVALID_PARAMETER` for an unknown queue or a change flag that
    /// names nothing changeable.
    pub fn set_parameters(
        &mut self,
        buffer: &[u8],
        exists: fn(PROCESSOR_NUMBER) -> bool,
    ) -> Result<usize, Refused> {
        let b = structure(buffer, NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_1)?;
        let (flags, id) = (le32(b, 4), le32(b, 12));
        let changeable = NDIS_RECEIVE_QUEUE_PARAMETERS_FLAGS_CHANGED
            | NDIS_RECEIVE_QUEUE_PARAMETERS_PROCESSOR_AFFINITY_CHANGED
            | NDIS_RECEIVE_QUEUE_PARAMETERS_SUGGESTED_RECV_BUFFER_NUMBERS_CHANGED
            | NDIS_RECEIVE_QUEUE_PARAMETERS_NAME_CHANGED
            | NDIS_RECEIVE_QUEUE_PARAMETERS_INTERRUPT_COALESCING_DOMAIN_ID_CHANGED;
        let changed = flags & NDIS_RECEIVE_QUEUE_PARAMETERS_CHANGE_MASK;
        if changed & !changeable != 0 {
            return Err(INVALID);
        }
        let affinity = if changed & NDIS_RECEIVE_QUEUE_PARAMETERS_PROCESSOR_AFFINITY_CHANGED == 0 {
            None
        } else {
            Some(affinity(b, 24, exists)?)
        };
        let queue = self
            .queue_mut(id)
            .filter(|q| q.state != State::Freeing)
            .ok_or(INVALID)?;
        if changed & NDIS_RECEIVE_QUEUE_PARAMETERS_FLAGS_CHANGED != 0 {
            queue.flags = flags & NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION;
        }
        if let Some(affinity) = affinity {
            queue.affinity = affinity;
        }
        if changed & NDIS_RECEIVE_QUEUE_PARAMETERS_SUGGESTED_RECV_BUFFER_NUMBERS_CHANGED != 0 {
            queue.suggested_buffers = le32(b, 40);
        }
        Ok(b.len())
    }

    /// `OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE` (a method): each element's queue completes
    /// its allocation (*Set* runs, *Allocated* pauses) and gets its `CompletionStatus` written:
    /// success, or `INVALID_PARAMETER` for a queue that is not waiting for it. Returns the bytes
    /// read and written.
    ///
    /// # Errors
    /// `INVALID_LENGTH` for a short buffer or elements past its end; `INVALID_PARAMETER` for a
    /// bad header, element size or element header.
    pub fn complete_allocation(&mut self, buffer: &mut [u8]) -> Result<usize, Refused> {
        let b = structure(
            buffer,
            NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY_REVISION_1,
        )?;
        let (count, first, size) = (le32(b, 8) as usize, le32(b, 12) as usize, le32(b, 16) as usize);
        let element = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1);
        if size < element || first < b.len() || count == 0 || count > VM_QUEUES {
            return Err(INVALID);
        }
        let end = first + count * size;
        if buffer.len() < end {
            return Err((NDIS_STATUS_INVALID_LENGTH, end));
        }
        for k in 0..count {
            let at = first + k * size;
            structure(
                &buffer[at..],
                NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1,
            )?;
        }
        for k in 0..count {
            let at = first + k * size;
            let id = le32(buffer, at + 8);
            let status: NDIS_STATUS = match self.queue_mut(id) {
                Some(q) if q.state == State::Set => {
                    q.state = State::Running;
                    NDIS_STATUS_SUCCESS
                }
                Some(q) if q.state == State::Allocated => {
                    q.state = State::Paused;
                    NDIS_STATUS_SUCCESS
                }
                _ => NDIS_STATUS_INVALID_PARAMETER,
            };
            buffer[at + 12..at + 16].copy_from_slice(&status.to_le_bytes());
        }
        Ok(end)
    }

    /// `OID_RECEIVE_FILTER_SET_FILTER` (a method): a VMQ filter on a queue (the default one
    /// included) of a destination address test and, with VLAN filtering, a VLAN identifier test.
    /// Returns the bytes read and written.
    ///
    /// # Errors
    /// `INVALID_LENGTH` for a short buffer or fields past its end; `INVALID_PARAMETER` for a bad
    /// header, a filter type other than VMQ, an unknown or stopping queue, the default or a used
    /// filter identifier, or fields other than one destination address and at most one VLAN
    /// identifier (tested for equality, VLAN only with `*VMQVlanFiltering`, below 0xFFF);
    /// `RESOURCES` when every filter is taken.
    pub fn set_filter(&mut self, buffer: &[u8]) -> Result<usize, Refused> {
        let b = structure(buffer, NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_1)?;
        let (kind, queue, id) = (le32(b, 8), le32(b, 12), le32(b, 16));
        let (first, count, size) = (le32(b, 20) as usize, le32(b, 24) as usize, le32(b, 28) as usize);
        let field = usize::from(NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1);
        let slot = if queue == NDIS_DEFAULT_RECEIVE_QUEUE_ID {
            0
        } else {
            match self.queue(queue) {
                Some((slot, q)) if q.state != State::Freeing => slot,
                _ => return Err(INVALID),
            }
        };
        let used = self.filters.iter().flatten().any(|f| u32::from(f.filter) == id);
        if kind != NdisReceiveFilterTypeVMQueue
            || id == 0
            || id > u32::from(u16::MAX)
            || used
            || size < field
            || first < b.len()
            || !(1..=2).contains(&count)
        {
            return Err(INVALID);
        }
        let end = first + count * size;
        if buffer.len() < end {
            return Err((NDIS_STATUS_INVALID_LENGTH, end));
        }
        let vlan_filters = self.config.is_some_and(|c| c.vlan_filtering);
        let mut route = Route {
            slot: u8::try_from(slot).map_err(|_| INVALID)?,
            queue: u16::try_from(queue).map_err(|_| INVALID)?,
            filter: u16::try_from(id).map_err(|_| INVALID)?,
            ..Route::default()
        };
        let (mut mac, mut vlan, mut untagged) = (None, None, false);
        for k in 0..count {
            let f = structure(
                &buffer[first + k * size..],
                NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_1,
            )?;
            let flags = le32(f, 4);
            if le32(f, 8) != NdisFrameHeaderMac
                || le32(f, 12) != NdisReceiveFilterTestEqual
                || flags & !NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO != 0
            {
                return Err(INVALID);
            }
            untagged |= flags != 0;
            match le32(f, 16) {
                x if x == NdisMacHeaderFieldDestinationAddress && mac.is_none() => {
                    let mut address = [0u8; 6];
                    address.copy_from_slice(&f[24..30]);
                    mac = Some(address);
                }
                x if x == NdisMacHeaderFieldVlanId && vlan.is_none() && vlan_filters => {
                    // Multi-byte values are in network byte order.
                    let id = u16::from_be_bytes([f[24], f[25]]);
                    if id > MAX_VLAN_ID {
                        return Err(INVALID);
                    }
                    vlan = Some(id);
                }
                _ => return Err(INVALID),
            }
        }
        route.mac = mac.ok_or(INVALID)?;
        route.vlan = match (vlan, untagged) {
            (Some(_), true) => return Err(INVALID),
            (Some(id), false) => VlanTest::Id(id),
            (None, true) => VlanTest::UntaggedOrZero,
            (None, false) => VlanTest::Any,
        };
        let place = self
            .filters
            .iter()
            .position(Option::is_none)
            .ok_or((NDIS_STATUS_RESOURCES, 0))?;
        self.filters[place] = Some(route);
        if let Some(q) = self.queue_mut(queue) {
            q.state = match q.state {
                State::Allocated | State::Set => State::Set,
                _ => State::Running,
            };
        }
        Ok(end)
    }

    /// `OID_RECEIVE_FILTER_CLEAR_FILTER` (a set): removes a filter; a queue whose last filter
    /// goes pauses (or is *Allocated* again before its allocation completed). Returns the bytes
    /// read.
    ///
    /// # Errors
    /// `INVALID_LENGTH` for a short buffer; `INVALID_PARAMETER` for a bad header or a filter
    /// that is not on the queue named.
    pub fn clear_filter(&mut self, buffer: &[u8]) -> Result<usize, Refused> {
        let b = structure(buffer, NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1)?;
        let (queue, id) = (le32(b, 8), le32(b, 12));
        let place = self
            .filters
            .iter()
            .position(|f| f.is_some_and(|f| u32::from(f.filter) == id && u32::from(f.queue) == queue))
            .ok_or(INVALID)?;
        self.filters[place] = None;
        let last = !self.filters.iter().flatten().any(|f| u32::from(f.queue) == queue);
        if let Some(q) = self.queue_mut(queue).filter(|_| last) {
            q.state = match q.state {
                State::Set => State::Allocated,
                _ => State::Paused,
            };
        }
        Ok(b.len())
    }

    /// `OID_RECEIVE_FILTER_FREE_QUEUE` (a set): a queue with no filter left stops (*Freeing*);
    /// the adapter indicates that its DMA stopped and frees it ([`Self::freed`]) once its frames
    /// are back. Returns the bytes read and the queue.
    ///
    /// # Errors
    /// `INVALID_LENGTH` for a short buffer; `INVALID_PARAMETER` for a bad header, the default
    /// queue, an unknown queue or one with filters ("An overlying driver must free all the filters
    /// that it sets on a queue before it frees the queue").
    pub fn free(&mut self, buffer: &[u8]) -> Result<(usize, Freed), Refused> {
        let b = structure(buffer, NDIS_SIZEOF_RECEIVE_QUEUE_FREE_PARAMETERS_REVISION_1)?;
        let id = le32(b, 8);
        let (slot, _) = self
            .queue(id)
            .filter(|(_, q)| matches!(q.state, State::Allocated | State::Paused))
            .ok_or(INVALID)?;
        if let Some(q) = self.queues[slot - 1].as_mut() {
            q.state = State::Freeing;
        }
        Ok((b.len(), Freed { slot, id }))
    }

    /// The queue in `slot` is freed: its frames came back.
    pub fn freed(&mut self, slot: usize) {
        if let Some(q) = slot.checked_sub(1).and_then(|i| self.queues.get_mut(i)) {
            *q = None;
        }
    }
}

/// The route of a frame (`nb`, its bytes `whole` if in one piece) with the out-of-band tag
/// `oob` to an adapter that publishes `published` (with VMQ). `None`: not the adapter's frame.
/// Not inlined: the frames of adapters without VMQ never come here.
#[inline(never)]
pub(super) fn route_frame(
    published: &Published,
    nb: &NetBuffer<'_>,
    whole: Option<&[u8]>,
    oob: Option<Tag>,
) -> Option<Route> {
    let mut head = [0u8; 16];
    let head = if let Some(bytes) = whole {
        &bytes[..bytes.len().min(16)]
    } else {
        let n = nb.len().min(16);
        if !nb.copy_to(&mut head[..n]) {
            return Some(Route::default());
        }
        &head[..n]
    };
    route_headers(published, head, oob)
}

/// The route of a frame whose first bytes are `head` (with the out-of-band tag `oob`): the
/// running queue whose filter matches its destination and VLAN, or the default queue (a route of
/// zeros, so that a recycled descriptor does not keep another queue's identifiers) if the
/// adapter's own packet filter takes it; `None` if nothing does.
pub(super) fn route_headers(published: &Published, head: &[u8], oob: Option<Tag>) -> Option<Route> {
    let routes = published.vmq.as_ref()?;
    let destination = head.first_chunk::<6>()?;
    let vlan = oob.or_else(|| Tag::in_frame(head)).map(|t| t.vlan);
    if let Some(route) = routes.lookup(destination, vlan) {
        return Some(route);
    }
    let own = routes.own_filter.is_none_or(|bits| {
        let mut filter = published.filter;
        filter.packet_filter = bits;
        filter.accepts(destination)
    });
    own.then(Route::default)
}

/// Frames no queue's filter and not the adapter's own packet filter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotTaken;

impl<'w> Drain<'w> {
    /// The route of a large send's units (`template`: their headers, `tag`: their out-of-band
    /// tag) to port `to`: `Ok(None)` without VMQ, [`NotTaken`] if the adapter does not take them.
    pub(super) fn route_units(
        &self,
        to: usize,
        template: &[u8],
        tag: Option<Tag>,
    ) -> Result<Option<Route>, NotTaken> {
        match self.with_queues(to) {
            None => Ok(None),
            Some(published) => route_headers(published, template, tag).map(Some).ok_or(NotTaken),
        }
    }

    /// What port `to`'s adapter publishes, if it has VMQ enabled.
    #[inline]
    pub(super) fn with_queues(&self, to: usize) -> Option<&'w Published> {
        self.published[to].filter(|p| p.vmq.is_some())
    }

    /// Queues a receive of port `to`'s VM queue `slot` (its own pool's descriptor): receives of
    /// one queue are indicated together, never mixed with another queue's
    /// (`NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION`).
    #[inline(never)]
    pub(super) fn push_vm(&mut self, to: usize, slot: usize, nbl: Nbl) {
        if self.vm_queue != (to, slot) {
            self.indicate_vm();
            self.vm_queue = (to, slot);
        }
        self.vm_batch.push(nbl);
        let low = self.ports[to].is_some_and(|r| {
            let pool = r.pool(slot);
            pool.free() <= pool.count() / 8
        });
        if self.vm_batch.len() >= BATCH || low {
            self.indicate_vm();
        }
    }

    /// Hands the VM queue receives waiting to their queue's DPC, which indicates them on the
    /// queue's processor.
    pub(super) fn indicate_vm(&mut self) {
        let (to, slot) = self.vm_queue;
        if let Some(receiver) = self.ports[to].filter(|_| !self.vm_batch.is_empty()) {
            receiver.rss.post(slot - 1, &mut self.vm_batch);
        }
    }

    /// Indicates what waits for port `to`'s queue `slot`, so that its descriptors come back.
    pub(super) fn indicate_queue(&mut self, to: usize, slot: usize) {
        if slot == 0 {
            if !self.receives[to].is_empty() {
                self.indicate(to);
            }
        } else if self.vm_queue == (to, slot) {
            self.indicate_vm();
        }
    }
}

#[cfg(test)]
mod tests;
