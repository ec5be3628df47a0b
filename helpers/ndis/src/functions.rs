//! Every function rvnic imports, with the signature of its WDK prototype.
//!
//! In the kernel build (`kernel` feature) these are `raw-dylib` imports, so the image links without
//! import libraries; `rvnic check-sys` then verifies each name against the real export lists. In host
//! builds they are plain declarations that `ndis-host` defines with `#[no_mangle]`.
//!
//! The IRQL at which each may be called is noted on it; `ndis-host` enforces the same table.

use core::ffi::c_char;

use crate::basic::{
    BOOLEAN, KIRQL, LARGE_INTEGER, LONG, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS, NTSTATUS,
    PDRIVER_OBJECT, PKSPIN_LOCK, PNDIS_EVENT, PNDIS_SPIN_LOCK, PNDIS_STATUS, PNDIS_STRING, PPROCESSOR_NUMBER,
    PUNICODE_STRING, PVOID, SIZE_T, UINT, ULONG, ULONG_PTR, USHORT,
};
use crate::config::{NDIS_PARAMETER_TYPE, PNDIS_CONFIGURATION_OBJECT, PNDIS_CONFIGURATION_PARAMETER};
use crate::dpc::{PKDEFERRED_ROUTINE, PKDPC};
use crate::miniport::{PNDIS_MINIPORT_ADAPTER_ATTRIBUTES, PNDIS_MINIPORT_DRIVER_CHARACTERISTICS};
use crate::nbl::{
    PMDL, PNET_BUFFER, PNET_BUFFER_LIST, PNET_BUFFER_LIST_POOL_PARAMETERS, PNET_BUFFER_POOL_PARAMETERS,
};
use crate::object::PNDIS_GENERIC_OBJECT;
use crate::oid::PNDIS_OID_REQUEST;
use crate::status::PNDIS_STATUS_INDICATION;
use crate::timer::PNDIS_TIMER_CHARACTERISTICS;

#[cfg_attr(
    feature = "kernel",
    link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[crate::kernel_abi]
unsafe extern "system" {
    // ---- Driver and adapter registration ----
    /// PASSIVE_LEVEL, from `DriverEntry`.
    pub fn NdisMRegisterMiniportDriver(
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: PUNICODE_STRING,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportDriverCharacteristics: PNDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        NdisMiniportDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// PASSIVE_LEVEL, from `MiniportDriverUnload` or a failing `DriverEntry`.
    pub fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE);
    /// PASSIVE_LEVEL, from `MiniportInitializeEx`.
    pub fn NdisMSetMiniportAttributes(
        NdisMiniportAdapterHandle: NDIS_HANDLE,
        MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
    ) -> NDIS_STATUS;

    // ---- Generic objects ----
    /// IRQL <= DISPATCH_LEVEL. Returns NULL on failure.
    pub fn NdisAllocateGenericObject(
        DriverObject: PDRIVER_OBJECT,
        Tag: ULONG,
        Size: USHORT,
    ) -> PNDIS_GENERIC_OBJECT;
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisFreeGenericObject(NdisObject: PNDIS_GENERIC_OBJECT);

    // ---- Memory ----
    /// IRQL <= DISPATCH_LEVEL. `Priority` is an `EX_POOL_PRIORITY`.
    pub fn NdisAllocateMemoryWithTagPriority(
        NdisHandle: NDIS_HANDLE,
        Length: UINT,
        Tag: ULONG,
        Priority: i32,
    ) -> PVOID;
    /// IRQL <= DISPATCH_LEVEL. `MemoryFlags` is 0 for memory from `NdisAllocateMemoryWithTagPriority`.
    pub fn NdisFreeMemory(VirtualAddress: PVOID, Length: UINT, MemoryFlags: UINT);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisAllocateMdl(NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Length: UINT) -> PMDL;
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisFreeMdl(Mdl: PMDL);

    // ---- NET_BUFFER_LIST and NET_BUFFER pools ----
    /// IRQL <= DISPATCH_LEVEL. `NdisHandle` may be a generic object.
    pub fn NdisAllocateNetBufferListPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: PNET_BUFFER_LIST_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// IRQL <= DISPATCH_LEVEL; every NBL of the pool must have been freed.
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    /// IRQL <= DISPATCH_LEVEL. `NdisHandle` may be a generic object.
    pub fn NdisAllocateNetBufferPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: PNET_BUFFER_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// IRQL <= DISPATCH_LEVEL; every NB of the pool must have been freed.
    pub fn NdisFreeNetBufferPool(PoolHandle: NDIS_HANDLE);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisAllocateNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: USHORT,
        ContextBackFill: USHORT,
    ) -> PNET_BUFFER_LIST;
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisFreeNetBufferList(NetBufferList: PNET_BUFFER_LIST);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisAllocateNetBuffer(
        PoolHandle: NDIS_HANDLE,
        MdlChain: PMDL,
        DataOffset: ULONG,
        DataLength: SIZE_T,
    ) -> PNET_BUFFER;
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisFreeNetBuffer(NetBuffer: PNET_BUFFER);
    /// IRQL <= DISPATCH_LEVEL; the pool must have been created with `fAllocateNetBuffer`.
    pub fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: USHORT,
        ContextBackFill: USHORT,
        MdlChain: PMDL,
        DataOffset: ULONG,
        DataLength: SIZE_T,
    ) -> PNET_BUFFER_LIST;
    /// Any IRQL at which the data is resident; returns a pointer to `BytesNeeded` contiguous bytes
    /// (the MDL memory itself, or `Storage` after a copy), or NULL.
    pub fn NdisGetDataBuffer(
        NetBuffer: PNET_BUFFER,
        BytesNeeded: ULONG,
        Storage: PVOID,
        AlignMultiple: UINT,
        AlignOffset: UINT,
    ) -> PVOID;

    // ---- Datapath and status indications ----
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMSendNetBufferListsComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: PNET_BUFFER_LIST,
        SendCompleteFlags: ULONG,
    );
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMIndicateReceiveNetBufferLists(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: PNET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: ULONG,
        ReceiveFlags: ULONG,
    );
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMIndicateStatusEx(
        MiniportAdapterHandle: NDIS_HANDLE,
        StatusIndication: PNDIS_STATUS_INDICATION,
    );
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMOidRequestComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        OidRequest: PNDIS_OID_REQUEST,
        Status: NDIS_STATUS,
    );
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMRestartComplete(MiniportAdapterHandle: NDIS_HANDLE, Status: NDIS_STATUS);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisMResetComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        Status: NDIS_STATUS,
        AddressingReset: BOOLEAN,
    );

    // ---- Configuration ----
    /// PASSIVE_LEVEL.
    pub fn NdisOpenConfigurationEx(
        ConfigObject: PNDIS_CONFIGURATION_OBJECT,
        ConfigurationHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// PASSIVE_LEVEL.
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);
    /// PASSIVE_LEVEL. `Status` receives `NDIS_STATUS_SUCCESS` or `NDIS_STATUS_FAILURE` (missing keyword).
    pub fn NdisReadConfiguration(
        Status: PNDIS_STATUS,
        ParameterValue: *mut PNDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: PNDIS_STRING,
        ParameterType: NDIS_PARAMETER_TYPE,
    );
    /// PASSIVE_LEVEL. Reads the `NetworkAddress` keyword as a MAC address.
    pub fn NdisReadNetworkAddress(
        Status: PNDIS_STATUS,
        NetworkAddress: *mut PVOID,
        NetworkAddressLength: *mut UINT,
        ConfigurationHandle: NDIS_HANDLE,
    );

    // ---- Timers ----
    /// IRQL <= DISPATCH_LEVEL. `NdisHandle` may be a generic object.
    pub fn NdisAllocateTimerObject(
        NdisHandle: NDIS_HANDLE,
        TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS,
        pTimerObject: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// IRQL <= DISPATCH_LEVEL. `DueTime` is negative (relative, 100 ns units) or absolute;
    /// `MillisecondsPeriod` (<= MAXLONG) re-arms it periodically; `FunctionContext` NULL means the
    /// characteristics' context. Returns TRUE if the timer was already queued.
    pub fn NdisSetTimerObject(
        TimerObject: NDIS_HANDLE,
        DueTime: LARGE_INTEGER,
        MillisecondsPeriod: LONG,
        FunctionContext: PVOID,
    ) -> BOOLEAN;
    /// IRQL <= DISPATCH_LEVEL, or PASSIVE_LEVEL if the timer was set periodic. Returns TRUE if the
    /// timer was in the queue; a callback already running runs to completion.
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    /// IRQL <= DISPATCH_LEVEL. Free only a cancelled timer whose callback is not running (cancel,
    /// then `KeFlushQueuedDpcs` at PASSIVE_LEVEL).
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);

    // ---- Spin locks and events ----
    /// Any IRQL.
    pub fn NdisAllocateSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// Any IRQL.
    pub fn NdisFreeSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// IRQL <= DISPATCH_LEVEL; raises to DISPATCH_LEVEL.
    pub fn NdisAcquireSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// DISPATCH_LEVEL; restores the IRQL saved by `NdisAcquireSpinLock`.
    pub fn NdisReleaseSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// DISPATCH_LEVEL.
    pub fn NdisDprAcquireSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// DISPATCH_LEVEL.
    pub fn NdisDprReleaseSpinLock(SpinLock: PNDIS_SPIN_LOCK);
    /// PASSIVE_LEVEL.
    pub fn NdisInitializeEvent(Event: PNDIS_EVENT);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisSetEvent(Event: PNDIS_EVENT);
    /// IRQL <= DISPATCH_LEVEL.
    pub fn NdisResetEvent(Event: PNDIS_EVENT);
    /// PASSIVE_LEVEL. `MsToWait` 0 waits forever; returns TRUE if the event was signalled.
    pub fn NdisWaitEvent(Event: PNDIS_EVENT, MsToWait: UINT) -> BOOLEAN;
    /// PASSIVE_LEVEL.
    pub fn NdisMSleep(MicrosecondsToSleep: ULONG);
}

#[cfg_attr(
    feature = "kernel",
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[crate::kernel_abi]
unsafe extern "system" {
    /// IRQL <= DISPATCH_LEVEL for non-paged pool. Returns NULL on failure (without
    /// `POOL_FLAG_RAISE_ON_FAILURE`). Windows 10 2004 and later.
    pub fn ExAllocatePool2(Flags: u64, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
    /// IRQL <= DISPATCH_LEVEL for non-paged pool.
    pub fn ExFreePoolWithTag(P: PVOID, Tag: ULONG);
    /// Any IRQL. Never returns.
    pub fn KeBugCheckEx(
        BugCheckCode: ULONG,
        BugCheckParameter1: ULONG_PTR,
        BugCheckParameter2: ULONG_PTR,
        BugCheckParameter3: ULONG_PTR,
        BugCheckParameter4: ULONG_PTR,
    ) -> !;
    /// Any IRQL.
    pub fn KeGetCurrentIrql() -> KIRQL;
    /// IRQL <= DISPATCH_LEVEL; returns the previous IRQL.
    pub fn KeRaiseIrqlToDpcLevel() -> KIRQL;
    /// Restores an IRQL returned by a raise; `NewIrql` <= the current IRQL.
    pub fn KeLowerIrql(NewIrql: KIRQL);
    /// Any IRQL. Returns the system-wide processor index; fills `ProcNumber` when not NULL.
    pub fn KeGetCurrentProcessorNumberEx(ProcNumber: PPROCESSOR_NUMBER) -> ULONG;
    /// Any IRQL. `GroupNumber` `ALL_PROCESSOR_GROUPS` (0xffff) counts every group.
    pub fn KeQueryActiveProcessorCountEx(GroupNumber: USHORT) -> ULONG;
    /// IRQL <= DISPATCH_LEVEL; returns the previous IRQL.
    pub fn KeAcquireSpinLockRaiseToDpc(SpinLock: PKSPIN_LOCK) -> KIRQL;
    /// DISPATCH_LEVEL.
    pub fn KeReleaseSpinLock(SpinLock: PKSPIN_LOCK, NewIrql: KIRQL);
    /// DISPATCH_LEVEL.
    pub fn KeAcquireSpinLockAtDpcLevel(SpinLock: PKSPIN_LOCK);
    /// DISPATCH_LEVEL.
    pub fn KeReleaseSpinLockFromDpcLevel(SpinLock: PKSPIN_LOCK);
    /// PASSIVE_LEVEL: returns once every queued DPC (timer callbacks included) has run.
    pub fn KeFlushQueuedDpcs();
    /// Any IRQL. Sets the routine and context of a DPC object the caller owns (not queued).
    pub fn KeInitializeDpc(Dpc: PKDPC, DeferredRoutine: PKDEFERRED_ROUTINE, DeferredContext: PVOID);
    /// Any IRQL. The processor the DPC runs on the next time it is queued (STATUS_SUCCESS, or
    /// STATUS_INVALID_PARAMETER for a number that names no processor).
    pub fn KeSetTargetProcessorDpcEx(Dpc: PKDPC, ProcNumber: PPROCESSOR_NUMBER) -> NTSTATUS;
    /// Any IRQL. Queues the DPC; FALSE (and the arguments ignored) if it is queued already.
    pub fn KeInsertQueueDpc(Dpc: PKDPC, SystemArgument1: PVOID, SystemArgument2: PVOID) -> BOOLEAN;
    /// Any IRQL. Dequeues the DPC; TRUE if it was queued (a routine already running goes on).
    pub fn KeRemoveQueueDpc(Dpc: PKDPC) -> BOOLEAN;
    /// Any IRQL. The systemwide index of a processor, or `INVALID_PROCESSOR_INDEX`.
    pub fn KeGetProcessorIndexFromNumber(ProcNumber: PPROCESSOR_NUMBER) -> ULONG;
    /// IRQL <= DISPATCH_LEVEL for `KernelMode`. Maps the locked pages an MDL describes into system
    /// space and records the mapping in the MDL; NULL on failure (`BugCheckOnFailure` FALSE).
    /// Called through [`crate::MmGetSystemAddressForMdlSafe`].
    pub fn MmMapLockedPagesSpecifyCache(
        MemoryDescriptorList: crate::nbl::PMDL,
        AccessMode: KPROCESSOR_MODE,
        CacheType: MEMORY_CACHING_TYPE,
        RequestedAddress: PVOID,
        BugCheckOnFailure: ULONG,
        Priority: ULONG,
    ) -> PVOID;
}

/// `KPROCESSOR_MODE` (wdm.h): `KernelMode` 0, `UserMode` 1.
pub type KPROCESSOR_MODE = i8;
pub const KernelMode: KPROCESSOR_MODE = 0;
/// `MEMORY_CACHING_TYPE` (wdm.h): `MmCached` 1.
pub type MEMORY_CACHING_TYPE = i32;
pub const MmCached: MEMORY_CACHING_TYPE = 1;
/// `MM_PAGE_PRIORITY` (wdm.h) `NormalPagePriority`, with `MdlMappingNoExecute` (Windows 8 and
/// later: the mapping is data, never code).
pub const NormalPagePriority: ULONG = 16;
pub const MdlMappingNoExecute: ULONG = 0x4000_0000;

#[cfg_attr(
    feature = "kernel",
    link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[crate::kernel_abi]
unsafe extern "system" {
    /// IRQL <= DIRQL. Variadic (the Windows x64 convention on x86-64 in both worlds): rvnic always
    /// calls it as `DbgPrint("%s", text)` with text it formatted itself.
    pub fn DbgPrint(Format: *const c_char, ...) -> ULONG;
}

#[cfg_attr(
    feature = "kernel",
    link(name = "hal.dll", kind = "raw-dylib", modifiers = "+verbatim")
)]
#[crate::kernel_abi]
unsafe extern "system" {
    /// Any IRQL: busy-waits for the given number of microseconds (for short waits only).
    pub fn KeStallExecutionProcessor(MicroSeconds: ULONG);
}

/// `ALL_PROCESSOR_GROUPS` for `KeQueryActiveProcessorCountEx` (wdm.h; not in the NDIS oracle).
pub const ALL_PROCESSOR_GROUPS: USHORT = 0xffff;
