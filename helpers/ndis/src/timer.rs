//! NDIS timer objects (ndis.h): `NDIS_TIMER_CHARACTERISTICS` and the callback signature.

use crate::basic::PVOID;
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_TIMER_FUNCTION`: runs at DISPATCH_LEVEL when a timer object fires.
#[crate::kernel_abi]
pub type NDIS_TIMER_FUNCTION = Option<
    unsafe extern "system" fn(
        SystemSpecific1: PVOID,
        FunctionContext: PVOID,
        SystemSpecific2: PVOID,
        SystemSpecific3: PVOID,
    ),
>;

/// `NDIS_TIMER_CHARACTERISTICS` (ndis.h), for `NdisAllocateTimerObject`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub AllocationTag: u32,
    pub TimerFunction: NDIS_TIMER_FUNCTION,
    pub FunctionContext: PVOID,
}
pub type PNDIS_TIMER_CHARACTERISTICS = *mut NDIS_TIMER_CHARACTERISTICS;
