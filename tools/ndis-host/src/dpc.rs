//! DPC objects (`KeInitializeDpc`, `KeSetTargetProcessorDpcEx`, `KeInsertQueueDpc`,
//! `KeRemoveQueueDpc`) and processor numbers (`KeGetProcessorIndexFromNumber`).
//!
//! A queued DPC runs at `DISPATCH_LEVEL` on its target processor (or, untargeted, on the processor
//! that queued it), once however often it was queued before it ran: "Introduction to DPC Objects"
//! and `KeInsertQueueDpc`. Deterministic mode runs queued DPCs when the host's own thread gets
//! control back from the driver (an outermost call returns, a wait, `KeFlushQueuedDpcs`), as a
//! processor runs its DPC queue when it drops below `DISPATCH_LEVEL`; concurrent mode runs them at
//! once on DPC threads (several, so DPCs aimed at different processors run at the same time; two
//! aimed at one processor take turns, as that processor's `DISPATCH_LEVEL` is one thread's at a
//! time). The verifier refuses a DPC queued uninitialized, initialized again
//! while queued, or freed (its memory) while queued or while its routine runs.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use ndis::*;

use crate::host::{CPUS_PER_GROUP, Inner, Mode, State, current};
use crate::irql::{self, with_thread};
use crate::verifier::Rule;

/// `DpcObject` in `KOBJECTS` (the value `KeInitializeDpc` stores in `Type`).
const DPC_OBJECT: u32 = 19;

#[derive(Debug)]
pub(crate) struct DpcObject {
    routine: PKDEFERRED_ROUTINE,
    context: usize,
    /// The systemwide index `KeSetTargetProcessorDpcEx` chose.
    target: Option<usize>,
    /// When queued: the processor it runs on, its arguments and the order of queueing.
    queued: Option<(usize, usize, usize, u64)>,
    /// Routines of this DPC running now.
    running: u32,
    owner: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct DpcTable {
    dpcs: HashMap<usize, DpcObject>,
    sequence: u64,
}

impl DpcTable {
    /// Whether a DPC is queued or its routine runs.
    pub(crate) fn busy(&self) -> bool {
        self.dpcs.values().any(|d| d.running > 0 || d.queued.is_some())
    }

    /// Whether a DPC is queued.
    pub(crate) fn any_queued(&self) -> bool {
        self.dpcs.values().any(|d| d.queued.is_some())
    }

    /// A block of driver memory is being freed: a DPC object in it must be neither queued nor
    /// running; its record goes.
    pub(crate) fn freed(st: &mut State, address: usize, size: usize, api: &'static str) {
        let end = address.saturating_add(size);
        let inside: Vec<usize> = st
            .dpcs
            .dpcs
            .keys()
            .copied()
            .filter(|&d| d >= address && d < end)
            .collect();
        for dpc in inside {
            let Some(object) = st.dpcs.dpcs.remove(&dpc) else {
                continue;
            };
            if object.queued.is_some() {
                QUEUED.fetch_sub(1, Ordering::Relaxed);
            }
            if object.queued.is_some() || object.running > 0 {
                st.violate(
                    Rule::DpcMisuse,
                    api,
                    object.owner,
                    format!(
                        "freed the DPC object at {dpc:#x} while it is {} (dequeue it and \
                         KeFlushQueuedDpcs first)",
                        if object.running > 0 { "running" } else { "queued" }
                    ),
                );
            }
        }
    }
}

/// A DPC taken off its queue to run.
struct Job {
    dpc: usize,
    routine: PKDEFERRED_ROUTINE,
    context: usize,
    arguments: (usize, usize),
    cpu: usize,
    owner: Option<usize>,
}

/// Takes the DPC queued first, marking it running.
fn take_queued(st: &mut State) -> Option<Job> {
    let (&dpc, _) = st
        .dpcs
        .dpcs
        .iter()
        .filter(|(_, d)| d.queued.is_some())
        .min_by_key(|(_, d)| d.queued.map(|q| q.3))?;
    let object = st.dpcs.dpcs.get_mut(&dpc).expect("present");
    let (cpu, a1, a2, _) = object.queued.take().expect("queued");
    object.running += 1;
    QUEUED.fetch_sub(1, Ordering::Relaxed);
    Some(Job {
        dpc,
        routine: object.routine,
        context: object.context,
        arguments: (a1, a2),
        cpu,
        owner: object.owner,
    })
}

/// Runs one DPC routine on its processor at `DISPATCH_LEVEL`, then marks it finished.
fn run(host: &Inner, job: &Job) {
    let routine = job.routine;
    let saved = with_thread(|t| std::mem::replace(&mut t.cpu, job.cpu));
    let (dpc, context) = (job.dpc as PKDPC, job.context as PVOID);
    let (a1, a2) = (job.arguments.0 as PVOID, job.arguments.1 as PVOID);
    // The DPC's memory cannot be freed meanwhile without a violation (it is marked running).
    // The driver's deferred routine (KeInitializeDpc refused a NULL one) with the DPC, context
    // and arguments it gave, at DISPATCH_LEVEL on the DPC's processor.
    let callback = || {
        if let Some(routine) = routine {
            // SAFETY: as above.
            unsafe { routine(dpc, context, a1, a2) };
        }
    };
    host.call("DeferredRoutine", job.owner, DISPATCH_LEVEL, callback);
    with_thread(|t| t.cpu = saved);
    if let Some(d) = host.lock().dpcs.dpcs.get_mut(&job.dpc) {
        d.running -= 1;
    }
    host.notify();
}

/// Runs one queued DPC; false when none is queued.
pub(crate) fn run_next(host: &Inner) -> bool {
    let Some(job) = take_queued(&mut host.lock()) else {
        return false;
    };
    run(host, &job);
    true
}

/// Concurrent mode: DPC thread `index`, which runs queued DPCs until the host stops.
pub(crate) fn spawn_dpc_thread(host: &Arc<Inner>, index: usize) -> std::thread::JoinHandle<()> {
    let host = Arc::clone(host);
    std::thread::Builder::new()
        .name(format!("ndis-host-dpc{index}"))
        .spawn(move || {
            while !host.stop.load(Ordering::Acquire) {
                if run_next(&host) {
                    continue;
                }
                let st = host.lock();
                if st.dpcs.any_queued() {
                    continue;
                }
                // KeInsertQueueDpc queues under the lock and notifies after: either the check above
                // saw the DPC, or this thread is waiting when the notification comes.
                drop(
                    host.dpcs_changed
                        .wait_timeout(st, Duration::from_millis(20))
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
        })
        .expect("spawn a DPC thread")
}

thread_local! {
    /// Set while this thread runs queued DPCs (deterministic mode), so a routine's own calls into
    /// the host do not start another round.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// DPCs queued now, in any host (one host lives at a time): read without the host's lock after
/// every driver call ([`run_queued`]), changed under it.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// A new host starts with no DPC queued (a previous one may have ended with some).
pub(crate) fn reset() {
    QUEUED.store(0, Ordering::Relaxed);
}

/// Deterministic mode: the host's thread has control back below `DISPATCH_LEVEL` (an outermost
/// driver call returned): run what was queued meanwhile, as the processors would by now.
pub(crate) fn run_queued(host: &Inner) {
    // Relaxed: a hint; the DPCs themselves are taken under the lock.
    if QUEUED.load(Ordering::Relaxed) == 0
        || host.config.mode != Mode::Deterministic
        || RUNNING.with(Cell::get)
    {
        return;
    }
    RUNNING.with(|r| r.set(true));
    while run_next(host) {}
    RUNNING.with(|r| r.set(false));
}

/// The systemwide index of `number` if the host has that processor.
fn index_of(host: &Inner, number: PROCESSOR_NUMBER) -> Option<usize> {
    let index = usize::from(number.Group) * CPUS_PER_GROUP + usize::from(number.Number);
    (usize::from(number.Number) < CPUS_PER_GROUP && number.Reserved == 0 && index < host.cpus())
        .then_some(index)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeInitializeDpc(
    Dpc: PKDPC,
    DeferredRoutine: PKDEFERRED_ROUTINE,
    DeferredContext: PVOID,
) {
    const API: &str = "KeInitializeDpc";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let owner = with_thread(|t| t.adapter);
    if DeferredRoutine.is_none() || Dpc.is_null() {
        st.violate(Rule::BadParameter, API, owner, "NULL DPC or DeferredRoutine");
        return;
    }
    let key = Dpc as usize;
    if st
        .dpcs
        .dpcs
        .get(&key)
        .is_some_and(|d| d.queued.is_some() || d.running > 0)
    {
        st.violate(
            Rule::DpcMisuse,
            API,
            owner,
            format!("initialized the DPC object at {key:#x} while it is queued or running"),
        );
        return;
    }
    // SAFETY: the driver passes storage for a KDPC it owns (not queued: checked above).
    unsafe {
        Dpc.write(KDPC {
            TargetInfoAsUlong: DPC_OBJECT,
            DeferredRoutine,
            DeferredContext,
            ..KDPC::zeroed()
        });
    }
    st.dpcs.dpcs.insert(
        key,
        DpcObject {
            routine: DeferredRoutine,
            context: DeferredContext as usize,
            target: None,
            queued: None,
            running: 0,
            owner,
        },
    );
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeSetTargetProcessorDpcEx(Dpc: PKDPC, ProcNumber: PPROCESSOR_NUMBER) -> NTSTATUS {
    const API: &str = "KeSetTargetProcessorDpcEx";
    let host = current();
    if !host.check_irql(API) {
        return STATUS_INVALID_PARAMETER;
    }
    let owner = with_thread(|t| t.adapter);
    if ProcNumber.is_null() {
        host.violate(Rule::BadParameter, API, owner, "NULL ProcNumber");
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null; the caller passes a PROCESSOR_NUMBER for the call.
    let number = unsafe { ProcNumber.read() };
    let Some(index) = index_of(&host, number) else {
        // Documented: STATUS_INVALID_PARAMETER for a number that names no processor.
        return STATUS_INVALID_PARAMETER;
    };
    let mut st = host.lock();
    // A call after the DPC was queued does not move that queueing (the page's remarks).
    if let Some(d) = st.dpcs.dpcs.get_mut(&(Dpc as usize)) {
        d.target = Some(index);
        return STATUS_SUCCESS;
    }
    st.violate(
        Rule::DpcMisuse,
        API,
        owner,
        "a DPC object KeInitializeDpc did not initialize",
    );
    STATUS_INVALID_PARAMETER
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeInsertQueueDpc(
    Dpc: PKDPC,
    SystemArgument1: PVOID,
    SystemArgument2: PVOID,
) -> BOOLEAN {
    const API: &str = "KeInsertQueueDpc";
    let host = current();
    if !host.check_irql(API) {
        return FALSE;
    }
    let owner = with_thread(|t| t.adapter);
    let here = irql::current_cpu();
    let mut st = host.lock();
    let sequence = st.dpcs.sequence;
    let Some(d) = st.dpcs.dpcs.get_mut(&(Dpc as usize)) else {
        st.violate(
            Rule::DpcMisuse,
            API,
            owner,
            "a DPC object KeInitializeDpc did not initialize",
        );
        return FALSE;
    };
    if d.queued.is_some() {
        return FALSE;
    }
    let cpu = d.target.unwrap_or(here);
    d.queued = Some((cpu, SystemArgument1 as usize, SystemArgument2 as usize, sequence));
    QUEUED.fetch_add(1, Ordering::Relaxed);
    st.dpcs.sequence += 1;
    drop(st);
    host.dpcs_changed.notify_all();
    TRUE
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeRemoveQueueDpc(Dpc: PKDPC) -> BOOLEAN {
    const API: &str = "KeRemoveQueueDpc";
    let host = current();
    if !host.check_irql(API) {
        return FALSE;
    }
    let mut st = host.lock();
    if let Some(d) = st.dpcs.dpcs.get_mut(&(Dpc as usize)) {
        if d.queued.take().is_some() {
            QUEUED.fetch_sub(1, Ordering::Relaxed);
            return TRUE;
        }
        return FALSE;
    }
    st.violate(
        Rule::DpcMisuse,
        API,
        with_thread(|t| t.adapter),
        "a DPC object KeInitializeDpc did not initialize",
    );
    FALSE
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeGetProcessorIndexFromNumber(ProcNumber: PPROCESSOR_NUMBER) -> ULONG {
    let host = current();
    if !host.check_irql("KeGetProcessorIndexFromNumber") || ProcNumber.is_null() {
        return INVALID_PROCESSOR_INDEX;
    }
    // SAFETY: non-null; the caller passes a PROCESSOR_NUMBER for the call.
    let number = unsafe { ProcNumber.read() };
    index_of(&host, number)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(INVALID_PROCESSOR_INDEX)
}

/// `KeFlushQueuedDpcs`' part for DPCs: deterministic mode runs every queued DPC now (they would
/// have run on their processors); concurrent mode waits until none is queued or running.
pub(crate) fn flush(host: &Inner) {
    match host.config.mode {
        Mode::Deterministic => while run_next(host) {},
        Mode::Concurrent => {
            if !host.wait_for(|st| !st.dpcs.busy()) {
                host.violate(
                    Rule::NeverCompleted,
                    "KeFlushQueuedDpcs",
                    with_thread(|t| t.adapter),
                    "DPCs kept being queued past the wait limit",
                );
            }
        }
    }
}
