//! Fuzzes `rvnic check-sys` with mutations of a PE image (CI seeds the corpus with the real
//! rvnic.sys): it must never panic or read out of bounds, and an image it passes must really have
//! every section inside the file and an import table that reads.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvnic_cli::sys::{Exports, check, imports, largest_frame, pe};

fuzz_target!(|data: &[u8]| {
    // Every name the real image imports: this target is about structure, not export lists.
    let exports = Exports::from_lists([
        (
            "ntoskrnl.exe",
            &[
                "DbgPrint",
                "ExAllocatePool2",
                "ExFreePoolWithTag",
                "KeAcquireSpinLockRaiseToDpc",
                "KeBugCheckEx",
                "KeFlushQueuedDpcs",
                "KeGetCurrentProcessorNumberEx",
                "KeLowerIrql",
                "KeQueryActiveProcessorCountEx",
                "KeRaiseIrqlToDpcLevel",
                "KeReleaseSpinLock",
            ][..],
        ),
        (
            "ndis.sys",
            &["NdisMRegisterMiniportDriver", "NdisAllocateGenericObject"][..],
        ),
    ]);
    let found = check(data, &exports);
    for v in &found {
        assert!(!v.detail.is_empty(), "a finding without a message: {}", v.rule);
    }
    let _ = largest_frame(data);
    if found.is_empty() {
        let h = pe::headers(data).expect("a passed image has readable headers");
        for s in &h.sections {
            assert!(
                s.raw_pointer as usize + s.raw_size as usize <= data.len(),
                "{} is outside the file",
                s.name
            );
        }
        imports(data).expect("a passed image has a readable import table");
    }
});
