//! `rvnic`: the project's tool. `rvnic run` (the default) loads the driver into ndis-host, pushes
//! traffic through its adapters and reports statistics and the verifier's verdict; `rvnic check-sys
//! PATH` checks a built rvnic.sys is a loadable kernel driver image.

#![allow(
    clippy::cast_precision_loss,
    reason = "rates, ratios and means for people: counts far below 2^52 convert exactly"
)]
#![allow(
    clippy::wildcard_imports,
    reason = "ndis.h's names, as C code includes the header, and each split module's parent"
)]

// The driver's imports are defined by ndis-host; naming the crate links it.
extern crate ndis_host;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use rvnic_cli::{inf, input, sys};

mod cli;

use cli::{bench, oid, run, tap};

#[derive(Debug, Parser)]
#[command(
    name = "rvnic",
    version,
    about = "Run and check the rvnic virtual NIC miniport driver"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the driver into ndis-host, push traffic through its adapters, and report statistics and
    /// the verifier's verdict (the default).
    Run(run::RunArgs),
    /// Measure the driver across frame sizes and topologies against memcpy and channel anchors.
    Bench(bench::BenchArgs),
    /// Bridge adapters to TAP devices in their own network namespaces (Linux, root), so real TCP/IP
    /// stacks exchange traffic through the driver.
    Tap(tap::TapArgs),
    /// Query or set an OID on an adapter of the loaded driver, decoded.
    Oid {
        #[command(subcommand)]
        command: oid::OidCommand,
    },
    /// Check rvnic's INF (inf/rvnic.inx or the stamped .inf) against NDIS's rules and the driver's
    /// keyword table.
    CheckInf {
        /// The INF to check (UTF-8 or UTF-16LE with BOM).
        path: PathBuf,
        /// The built image whose imports the INF's target OS must provide (default: every
        /// function the driver can import).
        #[arg(long)]
        image: Option<PathBuf>,
    },
    /// Check that PATH is a kernel driver image Windows will load (rvnic.sys).
    CheckSys {
        /// The image to check.
        path: PathBuf,
        /// Directory of the mingw-w64 import libraries that list each module's exports.
        #[arg(long, default_value = sys::DEFAULT_LIB_DIR)]
        lib_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(run::RunArgs::default())) {
        Command::Run(args) => run::run(&args),
        Command::Oid { command } => oid::run(&command),
        Command::Bench(args) => bench::run(&args),
        Command::Tap(args) => tap::run(&args),
        Command::CheckInf { path, image } => inf::run(&path, image.as_deref()),
        Command::CheckSys { path, lib_dir } => check_sys(&path, &lib_dir),
    }
}

fn check_sys(path: &std::path::Path, lib_dir: &std::path::Path) -> ExitCode {
    let data = match input::read_bounded(path, input::MAX_IMAGE) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rvnic check-sys: {e}");
            return ExitCode::from(2);
        }
    };
    let exports = match sys::Exports::from_mingw(lib_dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rvnic check-sys: {e}");
            return ExitCode::from(2);
        }
    };
    let violations = sys::check(&data, &exports);
    if violations.is_empty() {
        println!(
            "{}: ok (PE32+ x86-64 NATIVE driver; headers, sections, directories, imports, relocations, unwind data, checksum all valid; largest stack frame {} bytes, limit {})",
            path.display(),
            sys::largest_frame(&data)
                .ok()
                .flatten()
                .map_or(0, |(bytes, _)| bytes),
            sys::MAX_FRAME
        );
        return ExitCode::SUCCESS;
    }
    for v in &violations {
        println!("{}: {v}", path.display());
    }
    ExitCode::FAILURE
}
