//! Configuration (registry) access: `NDIS_CONFIGURATION_OBJECT` and `NDIS_CONFIGURATION_PARAMETER`.

use crate::basic::{NDIS_HANDLE, NDIS_STRING, PVOID, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_PARAMETER_TYPE` (`NdisParameterInteger`, `NdisParameterHexInteger`, `NdisParameterString`, ...).
pub type NDIS_PARAMETER_TYPE = i32;

/// `NDIS_CONFIGURATION_OBJECT` (ndis.h), for `NdisOpenConfigurationEx`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_CONFIGURATION_OBJECT {
    pub Header: NDIS_OBJECT_HEADER,
    /// The miniport adapter handle (or driver handle) whose configuration to open.
    pub NdisHandle: NDIS_HANDLE,
    pub Flags: ULONG,
}
pub type PNDIS_CONFIGURATION_OBJECT = *mut NDIS_CONFIGURATION_OBJECT;

/// `BINARY_DATA` (ndis.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BINARY_DATA {
    pub Length: USHORT,
    pub Buffer: PVOID,
}

/// The `ParameterData` union of `NDIS_CONFIGURATION_PARAMETER`; `ParameterType` says which member
/// is valid.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_CONFIGURATION_PARAMETER_DATA {
    pub IntegerData: ULONG,
    pub StringData: NDIS_STRING,
    pub BinaryData: BINARY_DATA,
}

impl core::fmt::Debug for NDIS_CONFIGURATION_PARAMETER_DATA {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NDIS_CONFIGURATION_PARAMETER_DATA { .. }")
    }
}

/// `NDIS_CONFIGURATION_PARAMETER` (ndis.h): what `NdisReadConfiguration` returns. NDIS owns the
/// memory; it stays valid until `NdisCloseConfiguration`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    pub ParameterType: NDIS_PARAMETER_TYPE,
    pub ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA,
}
pub type PNDIS_CONFIGURATION_PARAMETER = *mut NDIS_CONFIGURATION_PARAMETER;
