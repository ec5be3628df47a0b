//! `rvnic run`: load the driver into ndis-host and say what happened.

use std::process::ExitCode;

use ndis_host::Driver;

pub fn run() -> ExitCode {
    let driver = match Driver::load(rvnic::driver::driver_entry) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rvnic run: {e}");
            for line in ndis_host::take_debug_output() {
                eprintln!("  {line}");
            }
            return ExitCode::FAILURE;
        }
    };
    let (major, minor, revision, size) = driver.with_registration(|r| {
        let c = &r.characteristics;
        (
            c.MajorNdisVersion,
            c.MinorNdisVersion,
            c.Header.Revision,
            c.Header.Size,
        )
    });
    println!("loaded rvnic into ndis-host: DriverEntry registered an NDIS {major}.{minor} miniport");
    println!("  characteristics revision {revision}, {size} bytes, every mandatory handler present");
    let report = driver.unload();
    println!(
        "unloaded: {}",
        if report.deregistered {
            "deregistered cleanly"
        } else {
            "NOT deregistered"
        }
    );
    println!("driver debug output:");
    for line in ndis_host::take_debug_output() {
        println!("  {line}");
    }
    if report.deregistered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
