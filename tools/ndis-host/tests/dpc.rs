//! The host's DPC objects, called as a driver calls them: a queued DPC runs once, at
//! `DISPATCH_LEVEL`, on the processor `KeSetTargetProcessorDpcEx` chose, with its arguments;
//! dequeued it does not run; invalid processor numbers are refused; and freeing the memory of a
//! queued DPC is a violation.

use std::ptr::null_mut;
use std::sync::Mutex;

use ndis::*;
use ndis_host::{Host, Mode, Rule};

/// What each run of [`record`] saw: processor, IRQL, context and first argument.
static RUNS: Mutex<Vec<(u32, KIRQL, usize, usize)>> = Mutex::new(Vec::new());

#[ndis::kernel_abi]
unsafe extern "system" fn record(_dpc: PKDPC, context: PVOID, argument: PVOID, _: PVOID) {
    // SAFETY: a plain query; NULL asks for the index only.
    let cpu = unsafe { KeGetCurrentProcessorNumberEx(null_mut()) };
    // SAFETY: a plain query.
    let irql = unsafe { KeGetCurrentIrql() };
    RUNS.lock()
        .unwrap()
        .push((cpu, irql, context as usize, argument as usize));
}

fn number(group: u16, number: u8) -> PROCESSOR_NUMBER {
    PROCESSOR_NUMBER {
        Group: group,
        Number: number,
        Reserved: 0,
    }
}

// The exports, called at PASSIVE_LEVEL on a KDPC the test owns for the whole test.
fn init(dpc: PKDPC, context: usize) {
    // SAFETY: a KDPC the test owns, not queued.
    unsafe { KeInitializeDpc(dpc, Some(record), context as PVOID) };
}
fn target(dpc: PKDPC, group: u16, cpu: u8) -> NTSTATUS {
    // SAFETY: an initialized KDPC; the number lives across the call.
    unsafe { KeSetTargetProcessorDpcEx(dpc, &mut number(group, cpu)) }
}
fn insert(dpc: PKDPC, argument: usize) -> BOOLEAN {
    // SAFETY: an initialized KDPC that lives until the test ends.
    unsafe { KeInsertQueueDpc(dpc, argument as PVOID, null_mut()) }
}
fn remove(dpc: PKDPC) -> BOOLEAN {
    // SAFETY: an initialized KDPC.
    unsafe { KeRemoveQueueDpc(dpc) }
}
fn flush() {
    // SAFETY: PASSIVE_LEVEL.
    unsafe { KeFlushQueuedDpcs() };
}
fn index(group: u16, cpu: u8) -> ULONG {
    // SAFETY: the number lives across the call.
    unsafe { KeGetProcessorIndexFromNumber(&mut number(group, cpu)) }
}

#[test]
fn a_queued_dpc_runs_once_at_dispatch_level_on_its_target_processor() {
    let host = Host::builder().cpus(4).build();
    assert_eq!(host.mode(), Mode::Deterministic);
    RUNS.lock().unwrap().clear();
    let mut storage = Box::new(KDPC::zeroed());
    let dpc: PKDPC = &raw mut *storage;
    init(dpc, 0x5a5a);
    assert_eq!(target(dpc, 0, 2), STATUS_SUCCESS);
    assert_eq!(insert(dpc, 7), TRUE);
    assert_eq!(
        insert(dpc, 8),
        FALSE,
        "queued already: runs once, with the first arguments"
    );
    assert!(
        RUNS.lock().unwrap().is_empty(),
        "nothing runs behind the test's back"
    );
    flush();
    assert_eq!(*RUNS.lock().unwrap(), [(2, DISPATCH_LEVEL, 0x5a5a, 7)]);
    assert_eq!(insert(dpc, 9), TRUE);
    assert_eq!(remove(dpc), TRUE, "it was queued");
    assert_eq!(remove(dpc), FALSE, "not any more");
    flush();
    assert_eq!(RUNS.lock().unwrap().len(), 1, "a dequeued DPC does not run");
    assert!(host.finish().is_clean());
    drop(storage);
}

#[test]
fn processor_numbers_outside_the_system_are_refused() {
    let host = Host::builder().cpus(4).build();
    let mut storage = Box::new(KDPC::zeroed());
    let dpc: PKDPC = &raw mut *storage;
    init(dpc, 0);
    assert_eq!(index(0, 3), 3);
    assert_eq!(index(0, 4), INVALID_PROCESSOR_INDEX);
    assert_eq!(index(1, 0), INVALID_PROCESSOR_INDEX);
    assert_eq!(target(dpc, 0, 4), STATUS_INVALID_PARAMETER);
    assert!(host.finish().is_clean());
    drop(storage);
}

#[test]
fn freeing_a_queued_dpc_is_a_violation() {
    const TAG: u32 = u32::from_le_bytes(*b"tDpc");
    let host = Host::new();
    // SAFETY: a plain allocation, freed below.
    let memory = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, size_of::<KDPC>() as SIZE_T, TAG) };
    assert!(!memory.is_null());
    let dpc = memory.cast::<KDPC>();
    init(dpc, 0);
    assert_eq!(insert(dpc, 0), TRUE);
    // SAFETY: the allocation above, freed once (with its DPC still queued: the broken rule).
    unsafe { ExFreePoolWithTag(memory, TAG) };
    let verdict = host.finish();
    let misuse = verdict.of(Rule::DpcMisuse);
    assert_eq!(misuse.len(), 1, "{}", verdict.report());
    assert!(misuse[0].detail.contains("while it is queued"), "{}", misuse[0]);
}
