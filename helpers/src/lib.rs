//! rvnic-helpers: components that have no NDIS handle of their own, and the lock-free rings of the
//! datapath.
//!
//! Each component obtains an NDIS generic object (`NdisAllocateGenericObject`) and uses it as the
//! handle for what it allocates ([`generic_object`]), keeping its own state in the object's trailing
//! bytes. Components: [`timer_pool`] (pre-allocated NDIS timers), [`descriptor`] (NIC-style TX and
//! RX descriptor rings over buffers the component owns), [`memory`] (fallible pool boxes and
//! slices). The [`ring`] module has the bounded SPSC
//! and per-CPU MPSC rings the datapath moves descriptors through at DISPATCH_LEVEL.
//!
//! Everything here runs at IRQL <= DISPATCH_LEVEL unless an item says otherwise, never blocks on the
//! datapath, and allocates only in constructors.

#![no_std]

#[cfg(not(rvnic_loom))]
pub mod adapter;
#[cfg(not(rvnic_loom))]
pub mod descriptor;
pub mod generic_object;
pub mod in_flight;
#[cfg(not(rvnic_loom))]
pub mod irql;
#[cfg(not(rvnic_loom))]
pub mod log;
#[cfg(not(rvnic_loom))]
pub mod memory;
#[cfg(not(rvnic_loom))]
pub mod nbl;
#[cfg(not(rvnic_loom))]
pub mod oid;
pub mod reset;
pub mod ring;
#[cfg(not(rvnic_loom))]
pub mod seats;
#[cfg(not(rvnic_loom))]
pub mod spin;
mod sync;
#[cfg(not(rvnic_loom))]
pub mod timer_pool;
