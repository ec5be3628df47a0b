//! The commands that run the driver on ndis-host. They live under `rvnic::cli` so that a profile
//! tells the tool's functions (`rvnic::cli::...`) from the driver's (`rvnic::...`, the miniport
//! crate has no `cli` module): `rvnic bench --instructions` splits instructions by those names.

pub mod bench;
pub mod instructions;
pub mod oid;
pub mod run;
pub mod tap;
