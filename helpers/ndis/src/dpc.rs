//! Deferred procedure calls (wdm.h): the kernel object a driver queues to run a routine at
//! `DISPATCH_LEVEL` on a chosen processor.

use crate::basic::{PVOID, SINGLE_LIST_ENTRY, ULONG};

/// `PKDEFERRED_ROUTINE`: runs at `DISPATCH_LEVEL` on the processor the DPC was queued to, with
/// the context `KeInitializeDpc` stored and the arguments `KeInsertQueueDpc` passed.
#[crate::kernel_abi]
pub type PKDEFERRED_ROUTINE = Option<
    unsafe extern "system" fn(
        Dpc: *mut KDPC,
        DeferredContext: PVOID,
        SystemArgument1: PVOID,
        SystemArgument2: PVOID,
    ),
>;

/// `KDPC` (wdm.h): a DPC object. Opaque to drivers: storage they own, initialized by
/// `KeInitializeDpc` and changed only by the `Ke*Dpc*` routines; it must not move or be freed
/// while it is queued or its routine runs.
#[repr(C)]
#[derive(Debug)]
pub struct KDPC {
    /// `Type`, `Importance` and the target processor `Number` (a union in wdm.h).
    pub TargetInfoAsUlong: ULONG,
    pub DpcListEntry: SINGLE_LIST_ENTRY,
    pub ProcessorHistory: usize,
    pub DeferredRoutine: PKDEFERRED_ROUTINE,
    pub DeferredContext: PVOID,
    pub SystemArgument1: PVOID,
    pub SystemArgument2: PVOID,
    pub DpcData: PVOID,
}
pub type PKDPC = *mut KDPC;

impl KDPC {
    /// Zeroed storage, for `KeInitializeDpc` to initialize.
    #[must_use]
    pub const fn zeroed() -> Self {
        Self {
            TargetInfoAsUlong: 0,
            DpcListEntry: SINGLE_LIST_ENTRY {
                Next: core::ptr::null_mut(),
            },
            ProcessorHistory: 0,
            DeferredRoutine: None,
            DeferredContext: core::ptr::null_mut(),
            SystemArgument1: core::ptr::null_mut(),
            SystemArgument2: core::ptr::null_mut(),
            DpcData: core::ptr::null_mut(),
        }
    }
}

/// `INVALID_PROCESSOR_INDEX` (wdm.h): what `KeGetProcessorIndexFromNumber` returns for a number
/// that names no processor. Not in the NDIS oracle; value from
/// <https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kegetprocessorindexfromnumber>.
pub const INVALID_PROCESSOR_INDEX: ULONG = 0xffff_ffff;
