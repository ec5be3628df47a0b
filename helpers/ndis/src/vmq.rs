//! Receive filtering for virtual machine queues (VMQ, ntddndis.h, NDIS 6.20 and 6.30): the
//! capabilities a miniport reports in its hardware assist attributes, and the payloads of the
//! `OID_RECEIVE_FILTER_*` requests a Hyper-V virtual switch sends. The layout oracle lacks these
//! structures: each is pinned to its documented fields and to its `NDIS_SIZEOF_*` constant.

use crate::basic::{ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_RECEIVE_FILTER_CAPABILITIES` (revision 2): the receive filtering a NIC can do (hardware)
/// or does (current).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_FILTER_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    /// `NDIS_RECEIVE_FILTER_VMQ_FILTERS_ENABLED` and the like.
    pub EnabledFilterTypes: ULONG,
    /// `NDIS_RECEIVE_FILTER_VM_QUEUES_ENABLED`.
    pub EnabledQueueTypes: ULONG,
    /// Queues besides the default one.
    pub NumQueues: ULONG,
    /// `NDIS_RECEIVE_FILTER_VM_QUEUE_SUPPORTED` and the like.
    pub SupportedQueueProperties: ULONG,
    /// `NDIS_RECEIVE_FILTER_TEST_HEADER_FIELD_*_SUPPORTED`.
    pub SupportedFilterTests: ULONG,
    /// `NDIS_RECEIVE_FILTER_*_HEADER_SUPPORTED`.
    pub SupportedHeaders: ULONG,
    /// `NDIS_RECEIVE_FILTER_MAC_HEADER_*_SUPPORTED`.
    pub SupportedMacHeaderFields: ULONG,
    /// MAC header filters over all queues.
    pub MaxMacHeaderFilters: ULONG,
    pub MaxQueueGroups: ULONG,
    pub MaxQueuesPerQueueGroup: ULONG,
    pub MinLookaheadSplitSize: ULONG,
    pub MaxLookaheadSplitSize: ULONG,
    pub SupportedARPHeaderFields: ULONG,
    pub SupportedIPv4HeaderFields: ULONG,
    pub SupportedIPv6HeaderFields: ULONG,
    pub SupportedUdpHeaderFields: ULONG,
    pub MaxFieldTestsPerPacketCoalescingFilter: ULONG,
    pub MaxPacketCoalescingFilters: ULONG,
    pub NdisReserved: ULONG,
}

/// `GROUP_AFFINITY` (ntdef.h): processors of one group.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GROUP_AFFINITY {
    /// `KAFFINITY`: a bit per processor of the group.
    pub Mask: u64,
    pub Group: USHORT,
    pub Reserved: [USHORT; 3],
}

/// Characters of `NDIS_VM_NAME` and `NDIS_QUEUE_NAME` (`NDIS_VM_NAME_MAX_LENGTH` and
/// `NDIS_QUEUE_NAME_MAX_LENGTH`, 256, plus the terminator).
pub const NDIS_NAME_CHARS: usize = 257;

/// `NDIS_VM_NAME` and `NDIS_QUEUE_NAME`: a counted UTF-16 string (`Length` in bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NDIS_QUEUE_NAME {
    pub Length: USHORT,
    pub String: [USHORT; NDIS_NAME_CHARS],
}

impl Default for NDIS_QUEUE_NAME {
    fn default() -> Self {
        Self {
            Length: 0,
            String: [0; NDIS_NAME_CHARS],
        }
    }
}

/// `NDIS_RECEIVE_QUEUE_PARAMETERS` (revision 2): a queue's configuration, in
/// `OID_RECEIVE_FILTER_ALLOCATE_QUEUE` and `OID_RECEIVE_FILTER_QUEUE_PARAMETERS`. 1,092 bytes:
/// drivers read it in place, field by field, rather than copy it to a kernel stack.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_QUEUE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RECEIVE_QUEUE_PARAMETERS_*`.
    pub Flags: ULONG,
    /// `NdisReceiveQueueTypeVMQueue`.
    pub QueueType: ULONG,
    /// Assigned by NDIS.
    pub QueueId: ULONG,
    pub QueueGroupId: ULONG,
    pub ProcessorAffinity: GROUP_AFFINITY,
    pub NumSuggestedReceiveBuffers: ULONG,
    pub MSIXTableEntry: ULONG,
    pub LookaheadSize: ULONG,
    pub VmName: NDIS_QUEUE_NAME,
    pub QueueName: NDIS_QUEUE_NAME,
    pub PortId: ULONG,
    pub InterruptCoalescingDomainId: ULONG,
}

/// `NDIS_RECEIVE_FILTER_PARAMETERS` (revision 2): a filter of `OID_RECEIVE_FILTER_SET_FILTER`,
/// its field tests following at `FieldParametersArrayOffset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_FILTER_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    /// `NdisReceiveFilterTypeVMQueue`.
    pub FilterType: ULONG,
    pub QueueId: ULONG,
    /// Assigned by NDIS.
    pub FilterId: ULONG,
    pub FieldParametersArrayOffset: ULONG,
    pub FieldParametersArrayNumElements: ULONG,
    pub FieldParametersArrayElementSize: ULONG,
    pub RequestedFilterIdBitCount: ULONG,
    pub MaxCoalescingDelay: ULONG,
    pub VPortId: ULONG,
}

/// `NDIS_RECEIVE_FILTER_FIELD_PARAMETERS` (revision 2): one field test of a filter. Multi-byte
/// values are in network byte order; a MAC address is `FieldValue[..6]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_FILTER_FIELD_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO`.
    pub Flags: ULONG,
    /// `NDIS_FRAME_HEADER`: `NdisFrameHeaderMac` and the like.
    pub FrameHeader: ULONG,
    /// `NDIS_RECEIVE_FILTER_TEST`.
    pub ReceiveFilterTest: ULONG,
    /// The field of that header (`NDIS_MAC_HEADER_FIELD` for a MAC header).
    pub HeaderField: ULONG,
    /// The `FieldValue` union (`UCHAR`, `USHORT`, `ULONG`, `ULONG64` or 16 bytes).
    pub FieldValue: [u64; 2],
    /// The `ResultValue` union, for `NdisReceiveFilterTestMaskEqual`.
    pub ResultValue: [u64; 2],
}

/// `NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS`: the filter `OID_RECEIVE_FILTER_CLEAR_FILTER` clears.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub QueueId: ULONG,
    pub FilterId: ULONG,
}

/// `NDIS_RECEIVE_QUEUE_FREE_PARAMETERS`: the queue `OID_RECEIVE_FILTER_FREE_QUEUE` frees.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_QUEUE_FREE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub QueueId: ULONG,
}

/// `NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY`: the payload of
/// `OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE`, its elements at `FirstElementOffset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub NumElements: ULONG,
    pub FirstElementOffset: ULONG,
    pub ElementSize: ULONG,
}

/// `NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS`: one queue whose allocation completes; the
/// miniport writes `CompletionStatus`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub QueueId: ULONG,
    pub CompletionStatus: i32,
}

/// `NDIS_RECEIVE_QUEUE_STATE`: the status buffer of `NDIS_STATUS_RECEIVE_QUEUE_STATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_QUEUE_STATE {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub QueueId: ULONG,
    /// `NDIS_RECEIVE_QUEUE_OPERATIONAL_STATE`.
    pub QueueState: ULONG,
}

/// `NDIS_NET_BUFFER_LIST_FILTERING_INFO` (`NetBufferListFilteringInfo`): the filter and queue a
/// received NBL matched, as the pointer-sized value NDIS stores (`FilterId` in the low 16 bits,
/// `QueueId` in the next 16).
#[must_use]
pub const fn filtering_info(filter: USHORT, queue: USHORT) -> usize {
    filter as usize | (queue as usize) << 16
}

/// The queue identifier of a `NetBufferListFilteringInfo` value (`NET_BUFFER_LIST_RECEIVE_QUEUE_ID`).
#[must_use]
pub const fn filtering_queue(info: usize) -> USHORT {
    (info >> 16) as USHORT
}

/// Bytes of a MAC address in a field value.
pub const MAC_FIELD_BYTES: usize = 6;
