//! Receive-side scaling (ntddndis.h): the capabilities a miniport reports in its general
//! attributes and the parameters `OID_GEN_RECEIVE_SCALE_PARAMETERS` sets.

use crate::basic::{ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_RECEIVE_SCALE_CAPABILITIES` (revision 2, NDIS 6.30): what RSS the NIC offers, pointed to
/// by `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES::RecvScaleCapabilities`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_SCALE_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RSS_CAPS_*` bits and the hash function (`NdisHashFunctionToeplitz`) in the low byte.
    pub CapabilitiesFlags: ULONG,
    pub NumberOfInterruptMessages: ULONG,
    pub NumberOfReceiveQueues: ULONG,
    pub NumberOfIndirectionTableEntries: USHORT,
}

/// `NDIS_RECEIVE_SCALE_PARAMETERS` (revision 2, NDIS 6.20 to 6.51): the payload of
/// `OID_GEN_RECEIVE_SCALE_PARAMETERS`. The indirection table (`PROCESSOR_NUMBER`s) and the secret
/// key follow it in the same buffer, at the offsets it gives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RECEIVE_SCALE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_RSS_PARAM_FLAG_*`.
    pub Flags: USHORT,
    pub BaseCpuNumber: USHORT,
    /// Hash types (`NDIS_HASH_*`) and function (`NDIS_HASH_FUNCTION_MASK` bits).
    pub HashInformation: ULONG,
    /// Bytes of the indirection table.
    pub IndirectionTableSize: USHORT,
    pub IndirectionTableOffset: ULONG,
    pub HashSecretKeySize: USHORT,
    pub HashSecretKeyOffset: ULONG,
    pub ProcessorMasksOffset: ULONG,
    pub NumberOfProcessorMasks: ULONG,
    pub ProcessorMasksEntrySize: ULONG,
}
