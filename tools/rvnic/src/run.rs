//! `rvnic run`: load the driver into ndis-host and say what happened.

use std::process::ExitCode;

use ndis_host::Host;

pub fn run() -> ExitCode {
    let host = Host::builder().build();
    if let Err(e) = host.load(rvnic::driver::driver_entry) {
        eprintln!("rvnic run: {e}");
        for line in host.take_debug_output() {
            eprintln!("  {line}");
        }
        return ExitCode::FAILURE;
    }
    let (major, minor, revision, size) = host
        .with_registration(|r| {
            let c = &r.characteristics;
            (
                c.MajorNdisVersion,
                c.MinorNdisVersion,
                c.Header.Revision,
                c.Header.Size,
            )
        })
        .unwrap_or_default();
    println!("loaded rvnic into ndis-host: DriverEntry registered an NDIS {major}.{minor} miniport");
    println!("  characteristics revision {revision}, {size} bytes, every mandatory handler present");
    host.unload();
    let output = host.take_debug_output();
    let verdict = host.finish();
    println!(
        "unloaded; verifier: {}",
        if verdict.is_clean() {
            "no violations".to_string()
        } else {
            verdict.report()
        }
    );
    println!("driver debug output:");
    for line in output {
        println!("  {line}");
    }
    if verdict.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
