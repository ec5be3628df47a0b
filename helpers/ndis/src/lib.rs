//! The NDIS 6.30 miniport ABI, written by hand: types, constants and imported functions.
//!
//! `wdk-sys` has no NDIS bindings, so this crate declares what rvnic, its helpers and `ndis-host`
//! need, with the C spelling of every name (`NET_BUFFER_LIST`, `NdisMIndicateReceiveNetBufferLists`)
//! so that these declarations line up with the WDK headers and Microsoft's documentation.
//!
//! # Where the numbers come from
//! - Every struct's size, alignment and field offsets are pinned by `tests/layout.rs` against
//!   `oracle/ndis-layout-x64.txt` (clang's MSVC x64 layout of the WDK 10.0.22000 headers with
//!   `NDIS630_MINIPORT`). Structures the oracle lacks cite the documentation they follow.
//! - Every constant is checked by `tests/constants.rs` against `oracle/ndis-constants-x64.txt`,
//!   except the few the WDK headers do not define, which cite their documentation page.
//!
//! # Two worlds
//! With the `kernel` feature, imported functions are `raw-dylib` imports of `ndis.sys`,
//! `ntoskrnl.exe` and `hal.dll`, so the kernel image needs no import libraries. Without it they are
//! ordinary `extern "system"` declarations, which the `ndis-host` crate defines: the driver code
//! under test on Linux is the code that ships.
//!
//! Raw bindings only: nothing here allocates, and nothing here is safe to call without reading the
//! documentation of the NDIS function or structure it mirrors.

#![no_std]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
#![allow(
    missing_docs,
    clippy::doc_markdown,
    reason = "a binding: every item has the C name of ndis.h and the meaning its Microsoft page gives; \
              each type's own documentation names its header"
)]
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::unreadable_literal,
    reason = "constants are written as the WDK headers write them (NTSTATUS values as u32 bit \
              patterns, hexadecimal codes without separators), which tests/constants.rs compares"
)]

mod basic;
mod config;
mod constants;
mod dpc;
mod functions;
mod miniport;
mod nbl;
mod object;
mod offload;
mod oid;
mod pm;
mod qos;
mod rss;
mod status;
mod timer;
mod vmq;

pub use ndis_macros::kernel_abi;

pub use basic::*;
pub use config::*;
pub use constants::*;
pub use dpc::*;
pub use functions::*;
pub use miniport::*;
pub use nbl::*;
pub use object::*;
pub use offload::*;
pub use oid::*;
pub use pm::*;
pub use qos::*;
pub use rss::*;
pub use status::*;
pub use timer::*;
pub use vmq::*;
