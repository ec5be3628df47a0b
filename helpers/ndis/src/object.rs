//! `NDIS_OBJECT_HEADER` and `NDIS_GENERIC_OBJECT`.

use crate::basic::{PDRIVER_OBJECT, PVOID, UCHAR, USHORT};

/// `NDIS_OBJECT_HEADER` (objectheader.h): type, revision and size of a versioned NDIS structure.
/// `Size` takes the `NDIS_SIZEOF_*_REVISION_n` value, which can be smaller than `size_of` (the
/// macro ends at the revision's last field, without tail padding); NDIS checks it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OBJECT_HEADER {
    pub Type: UCHAR,
    pub Revision: UCHAR,
    pub Size: USHORT,
}

impl NDIS_OBJECT_HEADER {
    /// A header with the given type, revision and `NDIS_SIZEOF_*` size.
    #[must_use]
    pub const fn new(Type: UCHAR, Revision: UCHAR, Size: USHORT) -> Self {
        Self { Type, Revision, Size }
    }
}

/// `NDIS_GENERIC_OBJECT` (ndis.h): returned by `NdisAllocateGenericObject`; its `Size` extra bytes
/// follow the structure. NDIS fills the header (type `NDIS_OBJECT_TYPE_GENERIC_OBJECT`, which the
/// WDK 10.0.22000 headers document but do not define, so this crate has no value for it).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_GENERIC_OBJECT {
    pub Header: NDIS_OBJECT_HEADER,
    pub Caller: PVOID,
    pub CallersCaller: PVOID,
    pub DriverObject: PDRIVER_OBJECT,
}
pub type PNDIS_GENERIC_OBJECT = *mut NDIS_GENERIC_OBJECT;
