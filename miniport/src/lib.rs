//! rvnic: a virtual NIC, written as an NDIS 6.30 miniport driver in Rust.
//!
//! The same source runs in two worlds. In Windows it is `rvnic.sys`, built from the `rvnic-sys`
//! binary target (`src/kernel.rs`, the kernel-only module: `DriverEntry` export, panic handler,
//! pool allocator). On a development host it is this library, linked against `ndis-host`, which
//! defines every NDIS and kernel function the driver imports and calls the driver's real entry points.
//!
//! Read it in the order NDIS calls it: [`driver`] (`DriverEntry`, the characteristics, unload),
//! [`config`] (the registry keywords), [`wire`] (frames and receive filters), [`stats`],
//! [`adapter`] (initialize, pause, restart, halt), [`send`], [`wire`] (topologies, filters, the
//! drain), [`recv`], [`oid`] (queries and sets), [`nbl`] (owned `NET_BUFFER_LIST`s).

#![cfg_attr(not(test), no_std)]

pub mod adapter;
mod callbacks;
pub mod chores;
pub mod config;
pub mod driver;
pub mod log;
/// Owned `NET_BUFFER_LIST`s, from the safe NDIS layer.
pub use rvnic_helpers::nbl;
pub mod offload;
pub mod oid;
pub mod recv;
pub mod send;
pub mod stats;
pub mod wire;

/// Per-CPU lanes of the datapath's rings and statistics (the safe layer's); a CPU numbered beyond
/// them pushes onto the rings' shared lane and counts in the last statistics block.
pub use rvnic_helpers::lanes::LANES;

/// The pool tag of every allocation rvnic makes ('`RvNc`' in a pool dump).
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"RvNc");

/// The driver's version, reported in the characteristics (`MajorDriverVersion.MinorDriverVersion`).
pub const DRIVER_VERSION: (u8, u8) = (0, 1);
