//! rvnic-helpers: components that have no NDIS handle of their own.
//!
//! Each component obtains an NDIS generic object (`NdisAllocateGenericObject`) and uses it as the
//! handle for what it allocates, keeping its own state in the object's trailing bytes. This crate
//! starts with the rule that decides what may live there ([`generic_object::trailing_bytes`]).

#![no_std]
#![forbid(unsafe_code)]

pub mod generic_object;
