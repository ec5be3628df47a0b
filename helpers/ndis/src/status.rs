//! Statistics, link state and status indications (ntddndis.h, ndis.h).

use crate::basic::{GUID, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS, PVOID, ULONG, ULONG64};
use crate::miniport::{NDIS_MEDIA_CONNECT_STATE, NDIS_MEDIA_DUPLEX_STATE, NDIS_SUPPORTED_PAUSE_FUNCTIONS};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_STATISTICS_INFO` (ntddndis.h): the `OID_GEN_STATISTICS` payload. `SupportedStatistics`
/// holds `NDIS_STATISTICS_FLAGS_VALID_*` bits for the counters that follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_STATISTICS_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub SupportedStatistics: ULONG,
    pub ifInDiscards: ULONG64,
    pub ifInErrors: ULONG64,
    pub ifHCInOctets: ULONG64,
    pub ifHCInUcastPkts: ULONG64,
    pub ifHCInMulticastPkts: ULONG64,
    pub ifHCInBroadcastPkts: ULONG64,
    pub ifHCOutOctets: ULONG64,
    pub ifHCOutUcastPkts: ULONG64,
    pub ifHCOutMulticastPkts: ULONG64,
    pub ifHCOutBroadcastPkts: ULONG64,
    pub ifOutErrors: ULONG64,
    pub ifOutDiscards: ULONG64,
    pub ifHCInUcastOctets: ULONG64,
    pub ifHCInMulticastOctets: ULONG64,
    pub ifHCInBroadcastOctets: ULONG64,
    pub ifHCOutUcastOctets: ULONG64,
    pub ifHCOutMulticastOctets: ULONG64,
    pub ifHCOutBroadcastOctets: ULONG64,
}

/// `NDIS_LINK_STATE` (ntddndis.h): the `NDIS_STATUS_LINK_STATE` indication payload and the
/// `OID_GEN_LINK_STATE` answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_LINK_STATE {
    pub Header: NDIS_OBJECT_HEADER,
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    pub XmitLinkSpeed: ULONG64,
    pub RcvLinkSpeed: ULONG64,
    pub PauseFunctions: NDIS_SUPPORTED_PAUSE_FUNCTIONS,
    pub AutoNegotiationFlags: ULONG,
}

/// `NDIS_LINK_PARAMETERS` (ntddndis.h): the `OID_GEN_LINK_PARAMETERS` set payload.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_LINK_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    pub XmitLinkSpeed: ULONG64,
    pub RcvLinkSpeed: ULONG64,
    pub PauseFunctions: NDIS_SUPPORTED_PAUSE_FUNCTIONS,
    pub AutoNegotiationFlags: ULONG,
}

/// `NDIS_STATUS_INDICATION` (ndis.h), for `NdisMIndicateStatusEx`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_STATUS_INDICATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub SourceHandle: NDIS_HANDLE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub StatusCode: NDIS_STATUS,
    pub Flags: ULONG,
    pub DestinationHandle: NDIS_HANDLE,
    pub RequestId: PVOID,
    pub StatusBuffer: PVOID,
    pub StatusBufferSize: ULONG,
    pub Guid: GUID,
    pub NdisReserved: [PVOID; 4],
}
pub type PNDIS_STATUS_INDICATION = *mut NDIS_STATUS_INDICATION;
