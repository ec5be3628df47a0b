//! `NDIS_OID_REQUEST` (oidrequest.h) and the small OID payload structures rvnic handles.

use crate::basic::{NDIS_HANDLE, NDIS_PORT_NUMBER, PVOID, UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_OID`: an object identifier (`OID_*`).
pub type NDIS_OID = ULONG;
pub type PNDIS_OID = *mut NDIS_OID;
/// `NDIS_REQUEST_TYPE` (`NdisRequestQueryInformation`, `NdisRequestSetInformation`, ...).
pub type NDIS_REQUEST_TYPE = i32;

/// `_NDIS_OID_REQUEST::_REQUEST_DATA::_QUERY` (member `DATA.QUERY_INFORMATION`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_QUERY {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: u32,
    pub BytesWritten: u32,
    pub BytesNeeded: u32,
}

/// `_NDIS_OID_REQUEST::_REQUEST_DATA::_SET` (member `DATA.SET_INFORMATION`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_SET {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: u32,
    pub BytesRead: u32,
    pub BytesNeeded: u32,
}

/// `_NDIS_OID_REQUEST::_REQUEST_DATA::_METHOD` (member `DATA.METHOD_INFORMATION`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_OID_REQUEST_METHOD {
    pub Oid: NDIS_OID,
    pub InformationBuffer: PVOID,
    pub InputBufferLength: ULONG,
    pub OutputBufferLength: ULONG,
    pub MethodId: ULONG,
    pub BytesWritten: u32,
    pub BytesRead: u32,
    pub BytesNeeded: u32,
}

/// `_NDIS_OID_REQUEST::_REQUEST_DATA`: which member is valid follows `RequestType`; `Oid` is the
/// first field of every member.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    pub Oid: NDIS_OID,
    pub QUERY_INFORMATION: NDIS_OID_REQUEST_QUERY,
    pub SET_INFORMATION: NDIS_OID_REQUEST_SET,
    pub METHOD_INFORMATION: NDIS_OID_REQUEST_METHOD,
}

impl core::fmt::Debug for NDIS_OID_REQUEST_DATA {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NDIS_OID_REQUEST_DATA { .. }")
    }
}

/// `NDIS_OID_REQUEST` (oidrequest.h, NDIS 6.30 layout). `Header.Size` is
/// `NDIS_SIZEOF_OID_REQUEST_REVISION_1` (236), not `size_of` (240).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_OID_REQUEST {
    pub Header: NDIS_OBJECT_HEADER,
    pub RequestType: NDIS_REQUEST_TYPE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub Timeout: u32,
    pub RequestId: PVOID,
    pub RequestHandle: NDIS_HANDLE,
    pub DATA: NDIS_OID_REQUEST_DATA,
    pub NdisReserved: [UCHAR; 128],
    pub MiniportReserved: [UCHAR; 16],
    pub SourceReserved: [UCHAR; 16],
    pub SupportedRevision: UCHAR,
    pub Reserved1: UCHAR,
    pub Reserved2: USHORT,
}
pub type PNDIS_OID_REQUEST = *mut NDIS_OID_REQUEST;

impl Default for NDIS_OID_REQUEST {
    /// A revision 1 request of type 0 (`NdisRequestQueryInformation`), every other member zero or
    /// NULL, as a caller starts one.
    fn default() -> Self {
        Self {
            Header: NDIS_OBJECT_HEADER::new(
                crate::NDIS_OBJECT_TYPE_OID_REQUEST,
                crate::NDIS_OID_REQUEST_REVISION_1,
                crate::NDIS_SIZEOF_OID_REQUEST_REVISION_1,
            ),
            RequestType: 0,
            PortNumber: 0,
            Timeout: 0,
            RequestId: core::ptr::null_mut(),
            RequestHandle: core::ptr::null_mut(),
            DATA: NDIS_OID_REQUEST_DATA {
                QUERY_INFORMATION: NDIS_OID_REQUEST_QUERY {
                    Oid: 0,
                    InformationBuffer: core::ptr::null_mut(),
                    InformationBufferLength: 0,
                    BytesWritten: 0,
                    BytesNeeded: 0,
                },
            },
            NdisReserved: [0; 128],
            MiniportReserved: [0; 16],
            SourceReserved: [0; 16],
            SupportedRevision: 0,
            Reserved1: 0,
            Reserved2: 0,
        }
    }
}

/// `NDIS_INTERRUPT_MODERATION` (`NdisInterruptModeration*`).
pub type NDIS_INTERRUPT_MODERATION = i32;

/// `NDIS_INTERRUPT_MODERATION_PARAMETERS` (ntddndis.h), the payload of `OID_GEN_INTERRUPT_MODERATION`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_INTERRUPT_MODERATION_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub InterruptModeration: NDIS_INTERRUPT_MODERATION,
}
