//! rvnic-helpers: the safe NDIS layer the driver is written against, components that have no NDIS
//! handle of their own, and the lock-free rings of the datapath.
//!
//! The layer: [`driver`] (registration), [`adapter`] (the adapter handle's NDIS calls, configuration), [`nbl`] (owned NBLs
//! and views of their `NET_BUFFER`s and MDLs), [`oid`] (OID requests), [`log`], and [`seats`] (the
//! table that owns the adapters on a wire). Every unsafe block of the driver's logic is here (or in
//! its trampolines), each with the invariant it relies on.
//!
//! Each component obtains an NDIS generic object (`NdisAllocateGenericObject`) and uses it as the
//! handle for what it allocates ([`generic_object`]), keeping its own state in the object's trailing
//! bytes. Components: [`timer_pool`] (pre-allocated NDIS timers), [`dpc`] (DPC objects targeted at
//! processors), [`receive`] (the receive
//! descriptors: NBLs over buffers the component owns, lent through owned tokens), [`memory`]
//! (fallible pool boxes and slices). The [`ring`] module has the bounded SPSC and per-CPU MPSC
//! rings (built in pool memory by [`lanes`]) the datapath moves NBLs and descriptors through at
//! `DISPATCH_LEVEL`.
//!
//! Everything here runs at IRQL <= `DISPATCH_LEVEL` unless an item says otherwise, never blocks on the
//! datapath, and allocates only in constructors.

#![no_std]

#[cfg(not(rvnic_loom))]
pub mod adapter;
#[cfg(not(rvnic_loom))]
pub mod dpc;
#[cfg(not(rvnic_loom))]
pub mod driver;
pub mod generic_object;
pub mod in_flight;
#[cfg(not(rvnic_loom))]
pub mod irql;
#[cfg(not(rvnic_loom))]
pub mod lanes;
#[cfg(not(rvnic_loom))]
pub mod log;
#[cfg(not(rvnic_loom))]
pub mod memory;
#[cfg(not(rvnic_loom))]
pub mod nbl;
#[cfg(not(rvnic_loom))]
pub mod oid;
#[cfg(not(rvnic_loom))]
pub mod receive;
pub mod reset;
pub mod ring;
#[cfg(not(rvnic_loom))]
pub mod seats;
#[cfg(not(rvnic_loom))]
pub mod spin;
mod sync;
#[cfg(not(rvnic_loom))]
pub mod timer_pool;
