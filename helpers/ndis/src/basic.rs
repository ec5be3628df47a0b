//! Base Windows types: integer typedefs, strings, lists, and the kernel objects NDIS hands out.

use core::ffi::c_void;

pub type UCHAR = u8;
pub type CHAR = i8;
pub type USHORT = u16;
pub type CSHORT = i16;
pub type ULONG = u32;
pub type LONG = i32;
pub type UINT = u32;
pub type ULONG64 = u64;
pub type ULONGLONG = u64;
pub type LONGLONG = i64;
pub type ULONG_PTR = usize;
pub type SIZE_T = usize;
pub type BOOLEAN = u8;
pub type WCHAR = u16;
pub type PWCH = *mut WCHAR;
pub type PVOID = *mut c_void;
pub type PCSTR = *const i8;
pub type NTSTATUS = i32;
/// `KIRQL`: an interrupt request level (PASSIVE_LEVEL 0 ... HIGH_LEVEL 15).
pub type KIRQL = UCHAR;
/// `KSPIN_LOCK` is a `ULONG_PTR`; `KeInitializeSpinLock` is an inline store of zero on x64.
pub type KSPIN_LOCK = ULONG_PTR;
pub type PKSPIN_LOCK = *mut KSPIN_LOCK;
pub type KAFFINITY = ULONG_PTR;

pub const TRUE: BOOLEAN = 1;
pub const FALSE: BOOLEAN = 0;

/// `LARGE_INTEGER` (ntdef.h): a union of a 64-bit integer and its two halves. Rust keeps the
/// `QuadPart` view only; the halves are `QuadPart as u32` and `QuadPart >> 32`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LARGE_INTEGER {
    pub QuadPart: LONGLONG,
}

/// `UNICODE_STRING` (ntdef.h). `Length` and `MaximumLength` count bytes, not characters, and
/// `Buffer` is not NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    pub Length: USHORT,
    pub MaximumLength: USHORT,
    pub Buffer: PWCH,
}
pub type PUNICODE_STRING = *mut UNICODE_STRING;
/// `NDIS_STRING` is a `UNICODE_STRING` (ndis.h).
pub type NDIS_STRING = UNICODE_STRING;
pub type PNDIS_STRING = *mut NDIS_STRING;

/// `LIST_ENTRY` (ntdef.h): a node of a doubly linked, circular list.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LIST_ENTRY {
    pub Flink: *mut LIST_ENTRY,
    pub Blink: *mut LIST_ENTRY,
}

/// `SINGLE_LIST_ENTRY` (ntdef.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SINGLE_LIST_ENTRY {
    pub Next: *mut SINGLE_LIST_ENTRY,
}

/// `SLIST_HEADER` (wdm.h, x64): the head of an interlocked singly linked list. The C union also has a
/// bit-field view (`HeaderX64`: Depth, Sequence, Reserved, NextEntry) over the same two words; only
/// the kernel's `Interlocked*SList` routines interpret it, so Rust keeps the two plain words.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SLIST_HEADER {
    pub Alignment: ULONGLONG,
    pub Region: ULONGLONG,
}

/// `GUID` (guiddef.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}

/// `PROCESSOR_NUMBER` (ntdef.h / winnt.h): group and number of a logical processor.
/// Not in the layout oracle as a top-level struct; its size (4) appears there as the
/// `DefaultProcessorNumber` member of `NDIS_RECEIVE_SCALE_PARAMETERS` (NDIS 6.60+ variant), and the
/// fields follow <https://learn.microsoft.com/windows/win32/api/winnt/ns-winnt-processor_number>.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PROCESSOR_NUMBER {
    pub Group: USHORT,
    pub Number: UCHAR,
    pub Reserved: UCHAR,
}
pub type PPROCESSOR_NUMBER = *mut PROCESSOR_NUMBER;

/// `DRIVER_OBJECT` (wdm.h): owned by the I/O manager. A miniport only passes its address around
/// (to `NdisMRegisterMiniportDriver` and `NdisAllocateGenericObject`) and never reads a field, so the
/// body is opaque; size and alignment are pinned by the layout test.
#[repr(C)]
#[derive(Debug)]
pub struct DRIVER_OBJECT {
    pub Opaque: [u64; 42],
}
pub type PDRIVER_OBJECT = *mut DRIVER_OBJECT;

/// `KEVENT` (wdm.h): a dispatcher object. Its `DISPATCHER_HEADER` is kernel-private; drivers
/// manipulate it only through `Ke*Event`/`Ndis*Event`, so the body is opaque.
#[repr(C)]
#[derive(Debug)]
pub struct KEVENT {
    pub Header: [u64; 3],
}

/// `NDIS_EVENT` (ndis.h): a `KEVENT` used through `NdisInitializeEvent`, `NdisSetEvent`,
/// `NdisResetEvent` and `NdisWaitEvent` (IRQL rules on each of those functions).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_EVENT {
    pub Event: KEVENT,
}
pub type PNDIS_EVENT = *mut NDIS_EVENT;

/// `NDIS_SPIN_LOCK` (ndis.h): a `KSPIN_LOCK` plus the IRQL saved by `NdisAcquireSpinLock`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    pub SpinLock: KSPIN_LOCK,
    pub OldIrql: KIRQL,
}
pub type PNDIS_SPIN_LOCK = *mut NDIS_SPIN_LOCK;

/// `DRIVER_INITIALIZE`: the signature of `DriverEntry`.
#[crate::kernel_abi]
pub type DRIVER_INITIALIZE =
    unsafe extern "system" fn(DriverObject: PDRIVER_OBJECT, RegistryPath: PUNICODE_STRING) -> NTSTATUS;

/// `NDIS_HANDLE`: an opaque handle NDIS or the driver owns (adapter handle, pool handle, context).
pub type NDIS_HANDLE = PVOID;
/// `NDIS_STATUS` is an `int` holding `NTSTATUS`-style codes; the `NDIS_STATUS_*` constants are the
/// 32-bit patterns of the headers, stored as `i32`.
pub type NDIS_STATUS = i32;
pub type PNDIS_STATUS = *mut NDIS_STATUS;
pub type NDIS_PORT_NUMBER = ULONG;

/// `NET_LUID_LH` (ifdef.h): a locally unique interface identifier. The C union also has a bit-field
/// view (`Info`: Reserved:24, NetLuidIndex:24, IfType:16) of the same 64 bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NET_LUID {
    pub Value: ULONG64,
}
