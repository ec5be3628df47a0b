//! ndis-host: a user-mode NDIS that runs the unmodified rvnic driver, with a built-in verifier.
//!
//! It defines, with `#[no_mangle] extern "system"` (the Windows x64 convention on x86-64, through
//! `#[ndis::kernel_abi]`), every function the `ndis` crate imports, so the driver links against it
//! exactly as it links against `ndis.sys` in Windows, and it calls the driver's real entry points at
//! their documented IRQL. A test binary must name this crate
//! (`extern crate ndis_host;` or any `use`), otherwise rustc does not link it.
//!
//! # Writing a test
//! ```no_run
//! # use ndis_host::*;
//! # #[ndis::kernel_abi]
//! # unsafe extern "system" fn driver_entry(_: *mut ndis::DRIVER_OBJECT, _: *mut ndis::UNICODE_STRING) -> i32 { 0 }
//! let host = Host::builder().cpus(2).build();            // deterministic, manual clock
//! host.load(driver_entry).expect("DriverEntry");
//! let a = host.start_adapter(Config::new().with("*JumboPacket", "9014")).expect("initialize");
//! host.send(a, &[&[0xff; 60]], SendOptions::default());  // as a protocol would
//! let frames = host.take_received(a);                   // what the driver indicated
//! let speed = host.oid_query(a, ndis::OID_GEN_LINK_SPEED_EX, 16);
//! host.advance(std::time::Duration::from_secs(1));      // fire due timers
//! let verdict = host.finish();                          // halt, unload, leak check
//! assert!(verdict.is_clean(), "{}", verdict.report());
//! ```
//! Fault injection: [`Host::inject`] fails the nth allocation of a kind; [`sweep`] runs a scenario
//! once per allocation with that allocation failing. See `docs/TESTING.md` for the whole guide.
//!
//! # What it models
//! - IRQL per thread; CPUs are exclusive at `DISPATCH_LEVEL` ([`irql`]); every export checks its
//!   documented IRQL from one table ([`irql::RULES`]).
//! - The verifier ([`verifier::Rule`]): leaks by tag, size and site; NBL ownership; spin lock
//!   balance; pause/reset/OID completion rules; poisoned freed and completed memory. Each rule cites
//!   its source ([`Rule::source`]); rules of a driver's own design, such as rvnic's "no generic
//!   object outlives `MiniportHaltEx`", are checked only when a test opts in
//!   ([`HostBuilder::design_rule`]).
//! - Deterministic mode (one thread, manual clock, seeded choices) and concurrent mode (real time,
//!   timer thread, [`Host::parallel`]).

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_ptr_alignment,
    reason = "the host implements C functions: values cross between ULONG, SIZE_T, KIRQL and \
              pointer-sized slots as the WDK's prototypes and structures have them"
)]
#![allow(
    clippy::must_use_candidate,
    clippy::missing_panics_doc,
    reason = "a test harness: tests call many methods for their effect, and a method panics only \
              when the test misuses it (an adapter it never got), which fails that test"
)]
#![allow(
    clippy::wildcard_imports,
    reason = "ndis.h's names, as C code includes the header, and each split module's parent"
)]

mod adapter;
mod config;
mod dpc;
mod exports;
mod fault;
mod host;
#[cfg(target_arch = "x86_64")]
pub mod image;
pub mod irql;
mod memory;
mod nbl;
mod offload;
mod power;
pub mod protocol;
#[cfg(target_arch = "x86_64")]
pub mod stack;
#[cfg(not(target_arch = "x86_64"))]
pub mod stack {
    //! Kernel stacks are an x86-64 feature of the host: elsewhere a driver call runs on the
    //! caller's stack.
    pub fn on_host_stack<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// [`on_host_stack`] for the host export `name`, traced.
    pub fn on_host_stack_named<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
        let _traced = crate::trace::ndis_call(name);
        f()
    }
}
mod sync;
mod timer;
mod trace;
pub mod verifier;
mod vmq;

pub use adapter::{
    Adapter, Completion, GeneralAttributes, OidRequest, OidResult, Phase, Power, ProtocolNbls, ReceiveSink,
    Received, RegistrationAttributes, STATISTICS_INFO, SUPPORTED_STATISTICS, Sleep, StatusIndication,
    encapsulation_bytes, vswitch,
};
pub use config::{Config, Value, parse_network_address};
pub use exports::{Registration, registration_failure};
pub use fault::{FaultPlan, Sweep, SweepRun, sweep};
pub use host::{
    CPUS_PER_GROUP, Driver, Host, HostBuilder, LoadError, MAX_CPUS, Mode, REGISTRY_PATH, ReturnMode, Verdict,
};
pub use nbl::{LargeSend, SendOptions};
pub use offload::ReceiveInfo;
pub use protocol::ethernet_frame;
pub use verifier::{Kind, Rule, Source, Violation};
pub use vmq::QueueState;

/// The host cannot go on (a bug check, a deadlock, a driver calling NDIS with no host): report and
/// end the process. A panic cannot unwind out of an `extern "system"` function, so tests that expect
/// this run the scenario in a child process.
pub(crate) fn fatal(message: &str) -> ! {
    eprintln!("ndis-host: FATAL: {message}");
    eprintln!("{}", std::backtrace::Backtrace::force_capture());
    std::process::abort()
}
