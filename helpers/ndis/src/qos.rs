//! NDIS QoS for IEEE 802.1 Data Center Bridging (ntddndis.h, NDIS 6.30): the capabilities a
//! miniport reports in its hardware assist attributes and the parameters `OID_QOS_PARAMETERS`
//! provisions. The layout oracle lacks these structures: each is pinned to its documented fields
//! and to its `NDIS_SIZEOF_QOS_*_REVISION_1` constant.

use crate::basic::{UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_QOS_CAPABILITIES`: what QoS the NIC can do (hardware) or does (current).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_QOS_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_QOS_CAPABILITIES_*`.
    pub Flags: ULONG,
    pub MaxNumTrafficClasses: ULONG,
    pub MaxNumEtsCapableTrafficClasses: ULONG,
    pub MaxNumPfcEnabledTrafficClasses: ULONG,
}

/// `NDIS_QOS_PARAMETERS`: the payload of `OID_QOS_PARAMETERS` and of the QoS status indications.
/// The classification elements follow it at `FirstClassificationElementOffset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_QOS_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_QOS_PARAMETERS_*` flags.
    pub Flags: ULONG,
    pub NumTrafficClasses: ULONG,
    /// The traffic class of each 802.1p priority.
    pub PriorityAssignmentTable: [UCHAR; 8],
    /// The bandwidth percentage of each traffic class.
    pub TcBandwidthAssignmentTable: [UCHAR; 8],
    /// The transmission selection algorithm of each traffic class (`NDIS_QOS_TSA_*`).
    pub TsaAssignmentTable: [UCHAR; 8],
    /// Priorities with priority-based flow control (low 8 bits).
    pub PfcEnable: ULONG,
    pub NumClassificationElements: ULONG,
    pub ClassificationElementSize: ULONG,
    pub FirstClassificationElementOffset: ULONG,
}

/// `NDIS_QOS_CLASSIFICATION_ELEMENT`: traffic that matches the condition gets the action (an
/// 802.1p priority).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_QOS_CLASSIFICATION_ELEMENT {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_QOS_CLASSIFICATION_*` flags; the miniport sets the high byte.
    pub Flags: ULONG,
    /// `NDIS_QOS_CONDITION_*`.
    pub ConditionSelector: USHORT,
    /// The port or EtherType the condition compares.
    pub ConditionField: USHORT,
    /// `NDIS_QOS_ACTION_*`.
    pub ActionSelector: USHORT,
    /// The 802.1p priority.
    pub ActionField: USHORT,
}
