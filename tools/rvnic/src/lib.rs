//! The parts of the `rvnic` tool that need no driver running: the parsers of its command-line
//! values ([`values`]), `check-sys` ([`sys`]), `check-inf` ([`inf`]), bounded file reading ([`input`]) and the
//! virtio-net header `rvnic tap` translates ([`vnet`]). A library so that property tests and the fuzz targets reach them; the binary
//! (`src/main.rs`) adds the commands that run the driver on ndis-host.

#![allow(
    clippy::cast_precision_loss,
    reason = "rates, ratios and means for people: counts far below 2^52 convert exactly"
)]
#![allow(
    clippy::wildcard_imports,
    reason = "ndis.h's names, as C code includes the header, and each split module's parent"
)]

pub mod inf;
#[macro_use]
pub mod out;
pub mod input;
pub mod sys;
pub mod values;
pub mod vnet;
