//! Build script of the `rvnic` crate: the kernel image's link arguments, and the WDK on Windows.
//!
//! On every host, a build of the `rvnic-sys` kernel image (feature `kernel`, an MSVC Windows target)
//! gets its linker arguments from here, one list for Linux (`tools/cross/build-sys.sh`, lld-link) and
//! Windows (the MSVC linker). Every other build (the host library the tests load) gets nothing.
//!
//! On a Windows host, `wdk-build` (a Windows-only build dependency) also runs: it reads
//! `[package.metadata.wdk.driver-model]` (WDM), finds the WDK (`WDKContentRoot`, or the registry),
//! refuses a build without the static C runtime, and emits its link search paths and `cfg` settings,
//! which keeps the crate inside the windows-drivers-rs conventions. Its `rustc-cdylib-link-arg`
//! lines do not apply to a binary, so the arguments below are the ones that reach the linker.
//! Packaging (stampinf, inf2cat, infverif, signtool) is the workspace's `Makefile.toml` (cargo-make).

use std::env;

/// The kernel image's linker arguments, as link.exe and lld-link spell them. From the WDK's
/// `WindowsDriver.KernelMode.props`/`WDM.props` plus what a NATIVE driver image needs: no default
/// libraries (every import is `raw-dylib`), `DriverEntry` as the entry point, subsystem 10.0, a PE
/// checksum (`/RELEASE`, which the kernel loader checks on drivers), no manifest.
const KERNEL_LINK_ARGS: &[&str] = &[
    "/DRIVER",
    "/KERNEL",
    "/NODEFAULTLIB",
    "/SUBSYSTEM:NATIVE,10.00",
    "/ENTRY:DriverEntry",
    "/NXCOMPAT",
    "/DYNAMICBASE",
    "/TSAWARE:NO",
    "/OPT:REF,ICF",
    "/MANIFEST:NO",
    "/RELEASE",
    // LNK4257 "object file was not compiled for kernel mode": rustc has no /kernel switch.
    "/IGNORE:4257",
];

/// The binary target that is the kernel image (`[[bin]]` in Cargo.toml).
const KERNEL_BIN: &str = "rvnic-sys";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let kernel = env::var_os("CARGO_FEATURE_KERNEL").is_some();
    let msvc = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc");
    if !(kernel && msvc) {
        return;
    }
    for arg in KERNEL_LINK_ARGS {
        println!("cargo::rustc-link-arg-bin={KERNEL_BIN}={arg}");
    }
    #[cfg(windows)]
    if let Err(e) = wdk::configure() {
        // A build script's way to fail with one clear line.
        eprintln!("rvnic build: the WDK configuration failed: {e}");
        std::process::exit(1);
    }
}

/// Windows hosts only (the `wdk-build` dependency exists only there).
#[cfg(windows)]
mod wdk {
    /// Finds the WDK and checks the driver model and C runtime; emits link search paths and the
    /// `DRIVER_MODEL` cfg settings.
    pub fn configure() -> Result<(), wdk_build::ConfigError> {
        let config = wdk_build::Config::from_env_auto()?;
        config.configure_binary_build()
    }
}
