//! Integration tests of the rvnic driver on ndis-host live in `tests/tests/`. This library holds
//! what they share.

// The driver's imports are defined by ndis-host: naming it makes rustc link it into every test.
extern crate ndis_host;
