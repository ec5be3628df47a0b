//! `NET_BUFFER_LIST`, `NET_BUFFER`, `MDL` and their pools (nbl.h, nblapi.h, wdm.h), with the nbl.h
//! accessor macros as `unsafe fn`s of the same names.

use crate::basic::{
    BOOLEAN, CSHORT, LARGE_INTEGER, LONG, NDIS_HANDLE, NDIS_STATUS, PVOID, SIZE_T, SLIST_HEADER, UCHAR,
    ULONG, USHORT,
};
use crate::object::NDIS_OBJECT_HEADER;

/// `DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT)` on a member: the C headers align some NBL and NB
/// members to 16 bytes; this wrapper reproduces that placement.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct MEMORY_ALIGNED<T>(pub T);

/// `MDL` (wdm.h): describes the physical pages of a virtually contiguous buffer. `MappedSystemVa`
/// is valid only when `MdlFlags` has `MDL_MAPPED_TO_SYSTEM_VA` or `MDL_SOURCE_IS_NONPAGED_POOL`;
/// otherwise [`MmGetSystemAddressForMdlSafe`] maps it. rvnic's own MDLs describe non-paged pool.
#[repr(C)]
#[derive(Debug)]
pub struct MDL {
    pub Next: *mut MDL,
    pub Size: CSHORT,
    pub MdlFlags: CSHORT,
    /// `struct _EPROCESS *`: opaque.
    pub Process: PVOID,
    pub MappedSystemVa: PVOID,
    pub StartVa: PVOID,
    pub ByteCount: ULONG,
    pub ByteOffset: ULONG,
}
pub type PMDL = *mut MDL;

/// `union _NET_BUFFER_DATA_LENGTH` (anonymous in C, `NbDataLength` in C++).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_DATA_LENGTH {
    pub DataLength: ULONG,
    pub stDataLength: SIZE_T,
}

impl NET_BUFFER_DATA_LENGTH {
    /// The `ULONG` view, which NDIS keeps valid for miniports.
    #[must_use]
    pub const fn get(&self) -> ULONG {
        // Both members are plain integers sharing the low bytes (x64 is little-endian).
        // SAFETY: every bit pattern is a valid `ULONG`, and nothing borrowed outlives `self`.
        unsafe { self.DataLength }
    }
}

impl core::fmt::Debug for NET_BUFFER_DATA_LENGTH {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NET_BUFFER_DATA_LENGTH { .. }")
    }
}

/// `NET_BUFFER_DATA` (nbl.h): where a `NET_BUFFER`'s data lies in its MDL chain.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_DATA {
    pub Next: *mut NET_BUFFER,
    pub CurrentMdl: PMDL,
    pub CurrentMdlOffset: ULONG,
    pub NbDataLength: NET_BUFFER_DATA_LENGTH,
    pub MdlChain: PMDL,
    pub DataOffset: ULONG,
}

/// `NET_BUFFER_HEADER` (nbl.h): the data description, or the SList link NDIS uses for free buffers.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_HEADER {
    pub NetBufferData: NET_BUFFER_DATA,
    pub Link: SLIST_HEADER,
}

impl NET_BUFFER_HEADER {
    /// The `NET_BUFFER_DATA` view (the one in use while the NB belongs to a driver).
    #[must_use]
    pub const fn data(&self) -> &NET_BUFFER_DATA {
        // Both views are plain data (pointers and integers).
        // SAFETY: any bit pattern is a valid `NET_BUFFER_DATA`; the reference borrows `self`.
        unsafe { &self.NetBufferData }
    }

    /// The mutable `NET_BUFFER_DATA` view.
    pub const fn data_mut(&mut self) -> &mut NET_BUFFER_DATA {
        // SAFETY: as for `data`; the exclusive borrow of `self` makes the write exclusive.
        unsafe { &mut self.NetBufferData }
    }
}

impl core::fmt::Debug for NET_BUFFER_HEADER {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NET_BUFFER_HEADER { .. }")
    }
}

/// `NET_BUFFER_SHARED_MEMORY` (nbl.h).
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER_SHARED_MEMORY {
    pub NextSharedMemorySegment: *mut NET_BUFFER_SHARED_MEMORY,
    pub SharedMemoryFlags: ULONG,
    pub SharedMemoryHandle: NDIS_HANDLE,
    pub SharedMemoryOffset: ULONG,
    pub SharedMemoryLength: ULONG,
}

/// `NET_BUFFER` (nbl.h, NDIS 6.30 layout): one frame.
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER {
    /// C: an anonymous union of the `NET_BUFFER_DATA` members, `Link` and `NetBufferHeader`; all three
    /// views are this one field.
    pub NetBufferHeader: NET_BUFFER_HEADER,
    pub ChecksumBias: USHORT,
    pub Reserved: USHORT,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: MEMORY_ALIGNED<[PVOID; 2]>,
    pub ProtocolReserved: MEMORY_ALIGNED<[PVOID; 6]>,
    pub MiniportReserved: MEMORY_ALIGNED<[PVOID; 4]>,
    pub DataPhysicalAddress: LARGE_INTEGER,
    /// C: an anonymous union of `SharedMemoryInfo` and `ScatterGatherList` (`SCATTER_GATHER_LIST *`),
    /// two pointers in one slot; rvnic uses neither.
    pub SharedMemoryInfo: *mut NET_BUFFER_SHARED_MEMORY,
}
pub type PNET_BUFFER = *mut NET_BUFFER;

/// `NET_BUFFER_LIST_DATA` (nbl.h; anonymous in C, `NetBufferListData` in C++).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NET_BUFFER_LIST_DATA {
    pub Next: *mut NET_BUFFER_LIST,
    pub FirstNetBuffer: *mut NET_BUFFER,
}

/// `NET_BUFFER_LIST_HEADER` (nbl.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub union NET_BUFFER_LIST_HEADER {
    pub NetBufferListData: NET_BUFFER_LIST_DATA,
    pub Link: SLIST_HEADER,
}

impl NET_BUFFER_LIST_HEADER {
    /// The `{Next, FirstNetBuffer}` view (the one in use while the NBL belongs to a driver).
    #[must_use]
    pub const fn data(&self) -> &NET_BUFFER_LIST_DATA {
        // Both views are plain data (pointers and integers).
        // SAFETY: any bit pattern is a valid `NET_BUFFER_LIST_DATA`; the reference borrows `self`.
        unsafe { &self.NetBufferListData }
    }

    /// The mutable `{Next, FirstNetBuffer}` view.
    pub const fn data_mut(&mut self) -> &mut NET_BUFFER_LIST_DATA {
        // SAFETY: as for `data`; the exclusive borrow of `self` makes the write exclusive.
        unsafe { &mut self.NetBufferListData }
    }
}

impl core::fmt::Debug for NET_BUFFER_LIST_HEADER {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NET_BUFFER_LIST_HEADER { .. }")
    }
}

/// `NET_BUFFER_LIST_CONTEXT` (nbl.h): a block of context space ahead of an NBL.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct NET_BUFFER_LIST_CONTEXT {
    pub Next: *mut NET_BUFFER_LIST_CONTEXT,
    pub Size: USHORT,
    pub Offset: USHORT,
    pub ContextData: MEMORY_ALIGNED<[UCHAR; 0]>,
}

/// An index of `NET_BUFFER_LIST::NetBufferListInfo` (`NetBufferListCancelId`, ...).
pub type NDIS_NET_BUFFER_LIST_INFO = i32;

/// Entries of `NET_BUFFER_LIST::NetBufferListInfo` for NDIS 6.30 (`MaxNetBufferListInfo`).
pub const MaxNetBufferListInfo: usize = 24;

/// `NET_BUFFER_LIST` (nbl.h, NDIS 6.30 layout: 336 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct NET_BUFFER_LIST {
    /// C: an anonymous union of `{Next, FirstNetBuffer}`, `Link` and `NetBufferListHeader`.
    pub NetBufferListHeader: NET_BUFFER_LIST_HEADER,
    pub Context: *mut NET_BUFFER_LIST_CONTEXT,
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: MEMORY_ALIGNED<[PVOID; 2]>,
    pub ProtocolReserved: MEMORY_ALIGNED<[PVOID; 4]>,
    pub MiniportReserved: MEMORY_ALIGNED<[PVOID; 2]>,
    pub Scratch: PVOID,
    pub SourceHandle: NDIS_HANDLE,
    pub NblFlags: ULONG,
    pub ChildRefCount: LONG,
    pub Flags: ULONG,
    /// C: an anonymous union of `Status` and `NdisReserved2` (a ULONG in the same slot).
    pub Status: NDIS_STATUS,
    pub NetBufferListInfo: [PVOID; MaxNetBufferListInfo],
}
pub type PNET_BUFFER_LIST = *mut NET_BUFFER_LIST;

/// `NET_BUFFER_LIST_POOL_PARAMETERS` (nblapi.h), for `NdisAllocateNetBufferListPool`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub ProtocolId: UCHAR,
    pub fAllocateNetBuffer: BOOLEAN,
    pub ContextSize: USHORT,
    pub PoolTag: ULONG,
    pub DataSize: ULONG,
}
pub type PNET_BUFFER_LIST_POOL_PARAMETERS = *mut NET_BUFFER_LIST_POOL_PARAMETERS;

/// `NET_BUFFER_POOL_PARAMETERS` (nblapi.h), for `NdisAllocateNetBufferPool`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NET_BUFFER_POOL_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub PoolTag: ULONG,
    pub DataSize: ULONG,
}
pub type PNET_BUFFER_POOL_PARAMETERS = *mut NET_BUFFER_POOL_PARAMETERS;

// ---- The nbl.h accessor macros ------------------------------------------------------------------
// Each reads or writes one field through a raw pointer. Callers own the NBL/NB for the duration
// (NDIS gave it to them and they have not completed/returned it yet); any IRQL.

/// `NET_BUFFER_LIST_INFO(nbl, id)`: one out-of-band value of the NBL (NULL for an index this NDIS
/// version does not have).
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_LIST_INFO(nbl: PNET_BUFFER_LIST, id: NDIS_NET_BUFFER_LIST_INFO) -> PVOID {
    let Some(index) = usize::try_from(id).ok().filter(|i| *i < MaxNetBufferListInfo) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the caller guarantees `nbl` is live and owned; the index is in bounds.
    unsafe { (*nbl).NetBufferListInfo[index] }
}

/// `NET_BUFFER_LIST_INFO(nbl, id) = value`: sets one out-of-band value (ignored for an index this
/// NDIS version does not have).
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[inline]
pub unsafe fn NET_BUFFER_LIST_SET_INFO(nbl: PNET_BUFFER_LIST, id: NDIS_NET_BUFFER_LIST_INFO, value: PVOID) {
    if let Some(index) = usize::try_from(id).ok().filter(|i| *i < MaxNetBufferListInfo) {
        // SAFETY: the caller guarantees `nbl` is live and owned; the index is in bounds.
        unsafe { (*nbl).NetBufferListInfo[index] = value };
    }
}

/// `NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(nbl)`: the cancel identifier the sender set (NULL: none).
///
/// # Safety
/// As [`NET_BUFFER_LIST_INFO`].
#[must_use]
#[inline]
pub unsafe fn NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(nbl: PNET_BUFFER_LIST) -> PVOID {
    // SAFETY: forwarded from the caller.
    unsafe { NET_BUFFER_LIST_INFO(nbl, crate::NetBufferListCancelId) }
}

/// `NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(nbl, id)`, for the sender (a protocol, or a test host).
///
/// # Safety
/// As [`NET_BUFFER_LIST_INFO`].
#[inline]
pub unsafe fn NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(nbl: PNET_BUFFER_LIST, id: PVOID) {
    // SAFETY: forwarded from the caller; index 5 is within every NDIS 6 NetBufferListInfo.
    unsafe { (*nbl).NetBufferListInfo[crate::NetBufferListCancelId as usize] = id };
}

/// `NET_BUFFER_LIST_NEXT_NBL(nbl)`.
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_LIST_NEXT_NBL(nbl: PNET_BUFFER_LIST) -> PNET_BUFFER_LIST {
    // SAFETY: the caller guarantees `nbl` is live and owned; both union views start with `Next`.
    unsafe { (*nbl).NetBufferListHeader.data().Next }
}

/// Assignment through `NET_BUFFER_LIST_NEXT_NBL(nbl)`.
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[inline]
pub unsafe fn NET_BUFFER_LIST_SET_NEXT_NBL(nbl: PNET_BUFFER_LIST, next: PNET_BUFFER_LIST) {
    // SAFETY: the caller guarantees `nbl` is live and owned, so writing its link is exclusive.
    unsafe { (*nbl).NetBufferListHeader.data_mut().Next = next }
}

/// `NET_BUFFER_LIST_FIRST_NB(nbl)`.
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_LIST_FIRST_NB(nbl: PNET_BUFFER_LIST) -> PNET_BUFFER {
    // SAFETY: the caller guarantees `nbl` is live and owned.
    unsafe { (*nbl).NetBufferListHeader.data().FirstNetBuffer }
}

/// `NET_BUFFER_LIST_STATUS(nbl) = status`.
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST` the caller owns.
#[inline]
pub unsafe fn NET_BUFFER_LIST_SET_STATUS(nbl: PNET_BUFFER_LIST, status: NDIS_STATUS) {
    // SAFETY: the caller guarantees `nbl` is live and owned, so the write is exclusive.
    unsafe { (*nbl).Status = status }
}

/// `NET_BUFFER_LIST_STATUS(nbl)`.
///
/// # Safety
/// `nbl` points to a live `NET_BUFFER_LIST`.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_LIST_STATUS(nbl: PNET_BUFFER_LIST) -> NDIS_STATUS {
    // SAFETY: the caller guarantees `nbl` is live.
    unsafe { (*nbl).Status }
}

/// `NET_BUFFER_NEXT_NB(nb)`.
///
/// # Safety
/// `nb` points to a live `NET_BUFFER` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_NEXT_NB(nb: PNET_BUFFER) -> PNET_BUFFER {
    // SAFETY: the caller guarantees `nb` is live; both union views start with `Next`.
    unsafe { (*nb).NetBufferHeader.data().Next }
}

/// `NET_BUFFER_DATA_LENGTH(nb)`.
///
/// # Safety
/// `nb` points to a live `NET_BUFFER` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_DATA_LENGTH(nb: PNET_BUFFER) -> ULONG {
    // SAFETY: the caller guarantees `nb` is live; NDIS keeps `DataLength` valid while it is in use.
    unsafe { (*nb).NetBufferHeader.data().NbDataLength.get() }
}

/// `NET_BUFFER_DATA_OFFSET(nb)`.
///
/// # Safety
/// `nb` points to a live `NET_BUFFER` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_DATA_OFFSET(nb: PNET_BUFFER) -> ULONG {
    // SAFETY: the caller guarantees `nb` is live.
    unsafe { (*nb).NetBufferHeader.data().DataOffset }
}

/// `NET_BUFFER_CURRENT_MDL(nb)`.
///
/// # Safety
/// `nb` points to a live `NET_BUFFER` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_CURRENT_MDL(nb: PNET_BUFFER) -> PMDL {
    // SAFETY: the caller guarantees `nb` is live.
    unsafe { (*nb).NetBufferHeader.data().CurrentMdl }
}

/// `NET_BUFFER_CURRENT_MDL_OFFSET(nb)`.
///
/// # Safety
/// `nb` points to a live `NET_BUFFER` the caller owns.
#[must_use]
#[inline]
pub unsafe fn NET_BUFFER_CURRENT_MDL_OFFSET(nb: PNET_BUFFER) -> ULONG {
    // SAFETY: the caller guarantees `nb` is live.
    unsafe { (*nb).NetBufferHeader.data().CurrentMdlOffset }
}

/// `MdlFlags` bits (wdm.h; not in the NDIS constants oracle): the MDL's pages are mapped at
/// `MappedSystemVa`, or they are non-paged pool (always mapped there).
pub const MDL_MAPPED_TO_SYSTEM_VA: CSHORT = 0x0001;
pub const MDL_SOURCE_IS_NONPAGED_POOL: CSHORT = 0x0004;

/// `MmGetSystemAddressForMdlSafe(mdl, priority)` (wdm.h, a macro): the system address of the MDL's
/// buffer, mapping it if it is not mapped yet (the mapping stays until the MDL's owner unlocks
/// it); NULL when the system is out of mapping space. IRQL <= DISPATCH_LEVEL.
///
/// # Safety
/// `mdl` points to a live MDL describing locked pages, which the caller may read for the call.
#[must_use]
#[inline]
pub unsafe fn MmGetSystemAddressForMdlSafe(mdl: PMDL, priority: ULONG) -> PVOID {
    // SAFETY: the caller guarantees a live MDL; a plain borrow of its header for two reads.
    let header = unsafe { &*mdl };
    let (flags, mapped) = (header.MdlFlags, header.MappedSystemVa);
    if flags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
        return mapped;
    }
    // As the wdm.h macro does: kernel mode, cached, anywhere, no bug check on failure.
    // SAFETY: a live MDL of locked pages (the caller's contract); IRQL <= DISPATCH_LEVEL.
    unsafe {
        crate::MmMapLockedPagesSpecifyCache(
            mdl,
            crate::KernelMode,
            crate::MmCached,
            core::ptr::null_mut(),
            0,
            priority,
        )
    }
}

/// An `NDIS_NET_BUFFER_LIST_8021Q_INFO` value (`Ieee8021QNetBufferListInfo`): the `TagHeader` bit
/// field, `UserPriority` in bits 0-2, `CanonicalFormatId` (zero) in bit 3, `VlanId` in bits 4-15
/// (MSVC allocates bit fields from the low bit; ndis/nbl8021q.h).
#[must_use]
pub const fn ieee8021q_value(priority: u8, vlan_id: u16) -> usize {
    (priority as usize & 0x7) | ((vlan_id as usize & 0xfff) << 4)
}

/// The `UserPriority` and `VlanId` of an `NDIS_NET_BUFFER_LIST_8021Q_INFO` value.
#[must_use]
#[allow(clippy::cast_possible_truncation, reason = "masked to the bit fields' widths")]
pub const fn ieee8021q_fields(value: usize) -> (u8, u16) {
    ((value & 0x7) as u8, ((value >> 4) & 0xfff) as u16)
}
