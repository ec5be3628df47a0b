//! NDIS timer objects and the host's clock.
//!
//! Deterministic mode fires a timer only when time advances ([`crate::Host::advance`], `NdisMSleep`,
//! or a wait for a pending completion), earliest first, on a CPU the seeded generator picks, at
//! `DISPATCH_LEVEL`. Concurrent mode fires them from a timer thread in real time.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use ndis::*;

use crate::host::{Inner, State, current};
use crate::irql::{self, with_thread};
use crate::verifier::{Kind, Rule};

/// 100 ns ticks from 1601-01-01 to the host's time zero (2024-01-01), so absolute due times work.
pub const SYSTEM_TIME_AT_START: u64 = 133_485_408_000_000_000;

#[derive(Debug)]
pub(crate) struct TimerObject {
    function: TimerFunction,
    default_context: usize,
    /// When queued: the due time (host ticks) and the context to pass.
    due: Option<u64>,
    context: usize,
    /// Period in ticks (0: one-shot).
    period: u64,
    /// Whether the last set was periodic (cancelling then needs `PASSIVE_LEVEL`).
    periodic: bool,
    /// Callbacks running now.
    running: u32,
    owner: Option<usize>,
    /// Order of arming, to break ties between equal due times deterministically.
    sequence: u64,
}

#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    timers: HashMap<usize, TimerObject>,
    sequence: u64,
}

impl TimerTable {
    /// Whether any callback runs now or is due at `now`.
    fn busy(&self, now: u64) -> bool {
        self.timers
            .values()
            .any(|t| t.running > 0 || t.due.is_some_and(|d| d <= now))
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateTimerObject(
    NdisHandle: NDIS_HANDLE,
    TimerCharacteristics: PNDIS_TIMER_CHARACTERISTICS,
    pTimerObject: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const API: &str = "NdisAllocateTimerObject";
    let host = current();
    if !host.check_irql(API) {
        return NDIS_STATUS_FAILURE;
    }
    let adapter = with_thread(|t| t.adapter);
    let mut st = host.lock();
    let parent = match crate::memory::handle_kind(&st, NdisHandle) {
        Some("generic object") => Some(NdisHandle as usize),
        Some(_) => None,
        None => {
            st.violate(
                Rule::BadParameter,
                API,
                adapter,
                format!("NdisHandle {:#x} is not an NDIS handle", NdisHandle as usize),
            );
            return NDIS_STATUS_INVALID_PARAMETER;
        }
    };
    if TimerCharacteristics.is_null() || pTimerObject.is_null() {
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            "NULL characteristics or output pointer",
        );
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null, and the driver passes valid characteristics for the call.
    let c = unsafe { &*TimerCharacteristics };
    if !st.check_header(
        API,
        c.Header,
        NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
        NDIS_TIMER_CHARACTERISTICS_REVISION_1,
        NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
    ) {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let Some(function) = c.TimerFunction else {
        st.violate(Rule::BadParameter, API, adapter, "TimerFunction is NULL");
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    if st.faults.should_fail(Kind::Timer, API) {
        return NDIS_STATUS_RESOURCES;
    }
    let handle = crate::memory::raw_alloc(8, 0) as usize;
    st.timers.timers.insert(
        handle,
        TimerObject {
            function,
            default_context: c.FunctionContext as usize,
            due: None,
            context: 0,
            period: 0,
            periodic: false,
            running: 0,
            owner: adapter,
            sequence: 0,
        },
    );
    st.track(handle, Kind::Timer, API, c.AllocationTag, 0, parent);
    // SAFETY: checked non-null; the driver owns the output variable for the call.
    unsafe { pTimerObject.write(handle as NDIS_HANDLE) };
    NDIS_STATUS_SUCCESS
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisSetTimerObject(
    TimerObject: NDIS_HANDLE,
    DueTime: LARGE_INTEGER,
    MillisecondsPeriod: LONG,
    FunctionContext: PVOID,
) -> BOOLEAN {
    const API: &str = "NdisSetTimerObject";
    let host = current();
    if !host.check_irql(API) {
        return FALSE;
    }
    let now = host.now();
    let adapter = with_thread(|t| t.adapter);
    let mut st = host.lock();
    st.timers.sequence += 1;
    let sequence = st.timers.sequence;
    let Some(timer) = st.timers.timers.get_mut(&(TimerObject as usize)) else {
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            format!("{:#x} is not a live timer object", TimerObject as usize),
        );
        return FALSE;
    };
    if MillisecondsPeriod < 0 {
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            format!("MillisecondsPeriod {MillisecondsPeriod} is negative"),
        );
        return FALSE;
    }
    let was_queued = timer.due.is_some();
    let due = if DueTime.QuadPart < 0 {
        now.saturating_add(DueTime.QuadPart.unsigned_abs())
    } else {
        u64::try_from(DueTime.QuadPart)
            .unwrap_or(0)
            .saturating_sub(SYSTEM_TIME_AT_START)
            .max(now)
    };
    timer.due = Some(due);
    timer.context = if FunctionContext.is_null() {
        timer.default_context
    } else {
        FunctionContext as usize
    };
    timer.period = u64::try_from(MillisecondsPeriod).unwrap_or(0) * 10_000;
    timer.periodic = MillisecondsPeriod > 0;
    timer.sequence = sequence;
    drop(st);
    host.timers_changed.notify_all();
    host.notify();
    BOOLEAN::from(was_queued)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN {
    const API: &str = "NdisCancelTimerObject";
    let host = current();
    if !host.check_irql(API) {
        return FALSE;
    }
    let adapter = with_thread(|t| t.adapter);
    let mut st = host.lock();
    let Some(timer) = st.timers.timers.get_mut(&(TimerObject as usize)) else {
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            format!("{:#x} is not a live timer object", TimerObject as usize),
        );
        return FALSE;
    };
    let periodic = timer.periodic;
    let was_queued = timer.due.take().is_some();
    if periodic && irql::current() != PASSIVE_LEVEL {
        st.violate(
            Rule::Irql,
            API,
            adapter,
            format!(
                "cancelled a periodic timer at {}; the documentation requires PASSIVE_LEVEL",
                irql::name(irql::current())
            ),
        );
    }
    drop(st);
    host.timers_changed.notify_all();
    host.notify();
    BOOLEAN::from(was_queued)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE) {
    const API: &str = "NdisFreeTimerObject";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let adapter = with_thread(|t| t.adapter);
    let mut st = host.lock();
    let key = TimerObject as usize;
    let Some(timer) = st.timers.timers.remove(&key) else {
        st.violate(
            Rule::BadFree,
            API,
            adapter,
            format!("{key:#x} is not a live timer object (never allocated, or freed already)"),
        );
        return;
    };
    if timer.due.is_some() {
        st.violate(
            Rule::TimerMisuse,
            API,
            adapter,
            "freed a timer that is still queued (cancel it first)",
        );
    }
    if timer.running > 0 {
        st.violate(
            Rule::TimerMisuse,
            API,
            adapter,
            "freed a timer whose callback is running (cancel, then KeFlushQueuedDpcs)",
        );
    }
    st.tracker.remove(key);
    crate::memory::raw_free(key, 8);
}

/// `NDIS_TIMER_FUNCTION`, in the drivers' calling convention.
#[ndis::kernel_abi]
type TimerFunction = unsafe extern "system" fn(PVOID, PVOID, PVOID, PVOID);

/// A timer callback to run.
#[derive(Clone, Copy)]
#[allow(
    clippy::struct_field_names,
    reason = "`due`: when it is due, as the timer table says it"
)]
struct Due {
    handle: usize,
    function: TimerFunction,
    context: usize,
    owner: Option<usize>,
    due: u64,
}

/// Takes the earliest timer due at or before `deadline` (ties by arming order) and re-queues a
/// periodic one.
fn take_due(st: &mut State, deadline: u64) -> Option<Due> {
    let (&handle, _) = st
        .timers
        .timers
        .iter()
        .filter(|(_, t)| t.due.is_some_and(|d| d <= deadline))
        .min_by_key(|(_, t)| (t.due, t.sequence))?;
    let timer = st.timers.timers.get_mut(&handle).expect("present");
    let due = timer.due.expect("due");
    timer.due = (timer.period > 0).then(|| due + timer.period);
    timer.running += 1;
    Some(Due {
        handle,
        function: timer.function,
        context: timer.context,
        owner: timer.owner,
        due,
    })
}

/// Runs one timer callback on `cpu` at `DISPATCH_LEVEL`, then marks it finished.
fn run(host: &Inner, job: Due, cpu: usize) {
    let saved = with_thread(|t| std::mem::replace(&mut t.cpu, cpu));
    let (function, context) = (job.function, job.context as PVOID);
    let null = std::ptr::null_mut();
    // The timer object cannot be freed meanwhile without a violation (its callback is marked running).
    // SAFETY: the driver's NetTimerCallback with the context it gave, at DISPATCH_LEVEL.
    let callback = || unsafe { function(null, context, null, null) };
    host.call("NetTimerCallback", job.owner, irql::callback::TIMER, callback);
    with_thread(|t| t.cpu = saved);
    let mut st = host.lock();
    if let Some(t) = st.timers.timers.get_mut(&job.handle) {
        t.running -= 1;
    }
    drop(st);
    host.notify();
}

/// Deterministic mode: fires the earliest timer due by `deadline` (moving the clock to its due
/// time). False when none is due.
pub(crate) fn fire_next(host: &Inner, deadline: u64) -> bool {
    let (job, cpu) = {
        let mut st = host.lock();
        let Some(job) = take_due(&mut st, deadline) else {
            return false;
        };
        let cpu = (st.random() % host.cpus() as u64) as usize;
        (job, cpu)
    };
    host.set_manual_clock(job.due);
    run(host, job, cpu);
    true
}

/// `KeFlushQueuedDpcs`: returns when no timer callback runs or is due (concurrent mode; in
/// deterministic mode nothing runs behind the caller's back).
pub(crate) fn flush(host: &Inner) {
    if host.config.mode == crate::Mode::Concurrent {
        let done = host.wait_for(|st| !st.timers.busy(host.now()));
        if !done {
            host.violate(
                Rule::NeverCompleted,
                "KeFlushQueuedDpcs",
                with_thread(|t| t.adapter),
                "timer callbacks kept running past the wait limit",
            );
        }
    }
}

/// Concurrent mode: the thread that fires timers in real time.
#[allow(
    clippy::single_match_else,
    reason = "a due timer to run, or how long to sleep: the loop's two outcomes"
)]
pub(crate) fn spawn_timer_thread(host: &Arc<Inner>) -> std::thread::JoinHandle<()> {
    let host = Arc::clone(host);
    std::thread::Builder::new()
        .name("ndis-host-timers".into())
        .spawn(move || {
            while !host.stop.load(Ordering::Acquire) {
                let job = {
                    let mut st = host.lock();
                    let now = host.now();
                    match take_due(&mut st, now) {
                        Some(job) => Some((job, (st.random() % host.cpus() as u64) as usize)),
                        None => {
                            let next = st.timers.timers.values().filter_map(|t| t.due).min();
                            let wait = next
                                .map_or(Duration::from_millis(20), |d| {
                                    Duration::from_nanos(d.saturating_sub(now) * 100)
                                })
                                .min(Duration::from_millis(20));
                            drop(
                                host.timers_changed
                                    .wait_timeout(st, wait)
                                    .unwrap_or_else(PoisonError::into_inner),
                            );
                            None
                        }
                    }
                };
                if let Some((job, cpu)) = job {
                    run(&host, job, cpu);
                }
            }
        })
        .expect("spawn the timer thread")
}

/// Frees what is left of the timer table at unload (leaks are reported from the tracker).
pub(crate) fn release_all(st: &mut State) {
    for (handle, _) in st.timers.timers.drain() {
        crate::memory::raw_free(handle, 8);
    }
}
