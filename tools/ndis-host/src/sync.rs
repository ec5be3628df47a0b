//! Spin locks, IRQL functions, processors, events, sleeping and bug checks.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ndis::*;

use crate::host::{CPUS_PER_GROUP, Mode, current};
use crate::irql::{self, with_thread};
use crate::verifier::Rule;

/// A spin lock spun on this long is a deadlock: report it and stop rather than hang CI.
const DEADLOCK: Duration = Duration::from_secs(20);

/// The lock word as an atomic.
///
/// # Safety
/// `lock` points to a live, 8-byte aligned `KSPIN_LOCK` that is only accessed atomically while
/// shared (the driver's contract for a spin lock).
unsafe fn word<'a>(lock: PKSPIN_LOCK) -> &'a AtomicUsize {
    // SAFETY: as the function's contract states; AtomicUsize has the layout of usize.
    unsafe { AtomicUsize::from_ptr(lock) }
}

/// Takes a lock word for this thread; false (and a violation) for a recursive acquire.
fn acquire(api: &'static str, lock: PKSPIN_LOCK) -> bool {
    let token = irql::token() as usize;
    // SAFETY: the driver passes a spin lock it initialised (see `word`).
    let w = unsafe { word(lock) };
    if w.load(Ordering::Relaxed) == token {
        current().violate(
            Rule::SpinLock,
            api,
            with_thread(|t| t.adapter),
            format!(
                "recursive acquire of spin lock {:#x} (deadlocks in Windows)",
                lock as usize
            ),
        );
        return false;
    }
    let start = Instant::now();
    // Acquire: what the previous holder wrote under the lock is visible to this holder.
    while w
        .compare_exchange_weak(0, token, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        if start.elapsed() > DEADLOCK {
            crate::fatal(&format!(
                "{api}: spin lock {:#x} held for {DEADLOCK:?}: deadlock",
                lock as usize
            ));
        }
        std::hint::spin_loop();
        std::thread::yield_now();
    }
    with_thread(|t| t.held_locks.push(lock as usize));
    true
}

/// Gives a lock word back; false (and a violation) if this thread does not hold it.
fn release(api: &'static str, lock: PKSPIN_LOCK) -> bool {
    let token = irql::token() as usize;
    // SAFETY: as in `acquire`.
    let w = unsafe { word(lock) };
    if w.load(Ordering::Relaxed) != token {
        current().violate(
            Rule::SpinLock,
            api,
            with_thread(|t| t.adapter),
            format!(
                "release of spin lock {:#x}, which this thread does not hold",
                lock as usize
            ),
        );
        return false;
    }
    // Release: publishes the holder's writes to the next acquirer.
    w.store(0, Ordering::Release);
    with_thread(|t| {
        if let Some(i) = t.held_locks.iter().rposition(|l| *l == lock as usize) {
            t.held_locks.remove(i);
        }
    });
    true
}

/// Releases a lock a callback left held (after the violation was reported).
pub(crate) fn force_release(lock: usize) {
    // SAFETY: `lock` is a spin lock this thread acquired through the host.
    unsafe { word(lock as PKSPIN_LOCK) }.store(0, Ordering::Release);
}

fn spin_lock_word(lock: PNDIS_SPIN_LOCK) -> PKSPIN_LOCK {
    // SAFETY: the driver passes an NDIS_SPIN_LOCK; only the address of its first field is taken.
    unsafe { &raw mut (*lock).SpinLock }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    if current().check_irql("NdisAllocateSpinLock") {
        // SAFETY: the driver passes storage for an NDIS_SPIN_LOCK it owns.
        unsafe { SpinLock.write(NDIS_SPIN_LOCK::default()) };
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    const API: &str = "NdisFreeSpinLock";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    // SAFETY: the driver passes an initialised NDIS_SPIN_LOCK.
    if unsafe { word(spin_lock_word(SpinLock)) }.load(Ordering::Relaxed) != 0 {
        host.violate(
            Rule::SpinLock,
            API,
            with_thread(|t| t.adapter),
            "freed a spin lock that is held",
        );
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAcquireSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    const API: &str = "NdisAcquireSpinLock";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let old = irql::current();
    host.set_irql(DISPATCH_LEVEL);
    if acquire(API, spin_lock_word(SpinLock)) {
        // SAFETY: the lock is held by this thread, so its OldIrql field is ours to write.
        unsafe { (*SpinLock).OldIrql = old };
    } else {
        host.set_irql(old);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisReleaseSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    const API: &str = "NdisReleaseSpinLock";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    // SAFETY: read while this thread still holds the lock (checked by `release` below).
    let old = unsafe { (*SpinLock).OldIrql };
    if release(API, spin_lock_word(SpinLock)) {
        host.set_irql(old);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisDprAcquireSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    if current().check_irql("NdisDprAcquireSpinLock") {
        acquire("NdisDprAcquireSpinLock", spin_lock_word(SpinLock));
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisDprReleaseSpinLock(SpinLock: PNDIS_SPIN_LOCK) {
    if current().check_irql("NdisDprReleaseSpinLock") {
        release("NdisDprReleaseSpinLock", spin_lock_word(SpinLock));
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeAcquireSpinLockRaiseToDpc(SpinLock: PKSPIN_LOCK) -> KIRQL {
    const API: &str = "KeAcquireSpinLockRaiseToDpc";
    let host = current();
    let old = irql::current();
    if !host.check_irql(API) {
        return old;
    }
    host.set_irql(DISPATCH_LEVEL);
    if !acquire(API, SpinLock) {
        host.set_irql(old);
    }
    old
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeReleaseSpinLock(SpinLock: PKSPIN_LOCK, NewIrql: KIRQL) {
    const API: &str = "KeReleaseSpinLock";
    let host = current();
    if host.check_irql(API) && release(API, SpinLock) {
        host.set_irql(NewIrql.min(DISPATCH_LEVEL));
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeAcquireSpinLockAtDpcLevel(SpinLock: PKSPIN_LOCK) {
    if current().check_irql("KeAcquireSpinLockAtDpcLevel") {
        acquire("KeAcquireSpinLockAtDpcLevel", SpinLock);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeReleaseSpinLockFromDpcLevel(SpinLock: PKSPIN_LOCK) {
    if current().check_irql("KeReleaseSpinLockFromDpcLevel") {
        release("KeReleaseSpinLockFromDpcLevel", SpinLock);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeGetCurrentIrql() -> KIRQL {
    irql::current()
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeRaiseIrqlToDpcLevel() -> KIRQL {
    let host = current();
    let old = irql::current();
    if host.check_irql("KeRaiseIrqlToDpcLevel") {
        host.set_irql(DISPATCH_LEVEL);
    }
    old
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeLowerIrql(NewIrql: KIRQL) {
    let host = current();
    let now = irql::current();
    if NewIrql > now {
        host.violate(
            Rule::Irql,
            "KeLowerIrql",
            with_thread(|t| t.adapter),
            format!("lowering to {} from {}", irql::name(NewIrql), irql::name(now)),
        );
        return;
    }
    host.set_irql(NewIrql);
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeGetCurrentProcessorNumberEx(ProcNumber: PPROCESSOR_NUMBER) -> ULONG {
    let cpu = irql::current_cpu();
    if !ProcNumber.is_null() {
        // The systemwide index of processor `Number` of group `Group` is Group * 64 + Number when
        // every group is full, as the host's groups are.
        let number = PROCESSOR_NUMBER {
            Group: u16::try_from(cpu / CPUS_PER_GROUP).unwrap_or(u16::MAX),
            Number: u8::try_from(cpu % CPUS_PER_GROUP).unwrap_or(u8::MAX),
            Reserved: 0,
        };
        // SAFETY: the caller passes storage for a PROCESSOR_NUMBER or NULL (checked).
        unsafe { ProcNumber.write(number) };
    }
    u32::try_from(cpu).unwrap_or(u32::MAX)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeQueryActiveProcessorCountEx(GroupNumber: USHORT) -> ULONG {
    let active = current().cpus();
    let count = if GroupNumber == ALL_PROCESSOR_GROUPS {
        active
    } else {
        active
            .saturating_sub(usize::from(GroupNumber) * CPUS_PER_GROUP)
            .min(CPUS_PER_GROUP)
    };
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Busy-waits (capped at 50 ms: the documentation asks for waits under 50 µs).
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeStallExecutionProcessor(MicroSeconds: ULONG) {
    let end = Instant::now() + Duration::from_micros(u64::from(MicroSeconds).min(50_000));
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeFlushQueuedDpcs() {
    let host = current();
    if host.check_irql("KeFlushQueuedDpcs") {
        crate::dpc::flush(&host);
        crate::timer::flush(&host);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMSleep(MicrosecondsToSleep: ULONG) {
    let host = current();
    if !host.check_irql("NdisMSleep") {
        return;
    }
    match host.config.mode {
        Mode::Deterministic => {
            let target = host.now() + u64::from(MicrosecondsToSleep) * 10;
            while crate::timer::fire_next(&host, target) {}
            host.set_manual_clock(target);
        }
        Mode::Concurrent => std::thread::sleep(Duration::from_micros(u64::from(MicrosecondsToSleep))),
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisInitializeEvent(Event: PNDIS_EVENT) {
    let host = current();
    if host.check_irql("NdisInitializeEvent") {
        host.lock().events.initialize(Event as usize);
    }
}

fn set_event(api: &'static str, event: PNDIS_EVENT, value: bool) {
    let host = current();
    if !host.check_irql(api) {
        return;
    }
    let mut st = host.lock();
    if !st.events.set(event as usize, value) {
        st.violate(
            Rule::BadParameter,
            api,
            with_thread(|t| t.adapter),
            "event was never initialised with NdisInitializeEvent",
        );
    }
    drop(st);
    host.notify();
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisSetEvent(Event: PNDIS_EVENT) {
    set_event("NdisSetEvent", Event, true);
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisResetEvent(Event: PNDIS_EVENT) {
    set_event("NdisResetEvent", Event, false);
}

/// `NdisWaitEvent`: TRUE once signalled; `MsToWait` 0 waits as long as the host's wait limit.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisWaitEvent(Event: PNDIS_EVENT, MsToWait: UINT) -> BOOLEAN {
    const API: &str = "NdisWaitEvent";
    let host = current();
    if !host.check_irql(API) {
        return FALSE;
    }
    let key = Event as usize;
    if !host.lock().events.is_initialized(key) {
        host.violate(
            Rule::BadParameter,
            API,
            with_thread(|t| t.adapter),
            "event was never initialised with NdisInitializeEvent",
        );
        return FALSE;
    }
    let limit = if MsToWait == 0 {
        None
    } else {
        Some(Duration::from_millis(u64::from(MsToWait)))
    };
    let signalled = host.wait_for_limited(limit, |st| st.events.is_signalled(key));
    if !signalled && MsToWait == 0 {
        host.violate(
            Rule::NeverCompleted,
            API,
            with_thread(|t| t.adapter),
            "waited forever for an event nothing sets",
        );
    }
    BOOLEAN::from(signalled)
}

/// `KeBugCheckEx`: the system stops. Reports the code, parameters and the call stack, then ends the
/// process (tests that expect a bug check run it in a child process).
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn KeBugCheckEx(
    BugCheckCode: ULONG,
    P1: ULONG_PTR,
    P2: ULONG_PTR,
    P3: ULONG_PTR,
    P4: ULONG_PTR,
) -> ! {
    crate::fatal(&format!(
        "KeBugCheckEx({BugCheckCode:#010x}, {P1:#x}, {P2:#x}, {P3:#x}, {P4:#x})"
    ))
}

/// The `NDIS_EVENT`s the driver initialised, by address, and whether each is signalled. Only
/// `NdisInitializeEvent` adds one; setting or waiting on one it never saw is the driver's error.
#[derive(Debug, Default)]
pub(crate) struct Events(std::collections::HashMap<usize, bool>);

impl Events {
    /// `NdisInitializeEvent`: not signalled.
    pub fn initialize(&mut self, event: usize) {
        self.0.insert(event, false);
    }

    /// Signals or resets an initialised event; false if it was never initialised.
    pub fn set(&mut self, event: usize, signalled: bool) -> bool {
        match self.0.get_mut(&event) {
            Some(v) => {
                *v = signalled;
                true
            }
            None => false,
        }
    }

    pub fn is_initialized(&self, event: usize) -> bool {
        self.0.contains_key(&event)
    }

    pub fn is_signalled(&self, event: usize) -> bool {
        self.0.get(&event).copied().unwrap_or(false)
    }
}
