//! Kernel services of the host: the IRQL table (every row fires), fault injection (every kind fires
//! and stays silent without a plan, and a systematic sweep), bug checks, CPU exclusivity, timers and
//! configuration.

#![allow(
    clippy::items_after_statements,
    reason = "flags sit by the test that uses them"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]
#![allow(non_upper_case_globals, reason = "C enumerator names in patterns")]

mod common;

use std::ptr::null_mut;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Behavior, Broken, driver_entry, set};
use ndis::*;
use ndis_host::irql::{Limit, RULES};
use ndis_host::*;

/// A host with the (behaving) test driver loaded and one running adapter.
fn host_with_adapter(builder: HostBuilder, config: Config) -> (Host, Adapter) {
    let host = builder.build();
    set(Behavior::default());
    host.load(driver_entry).expect("DriverEntry");
    let a = host.start_adapter(config).expect("initialize");
    (host, a)
}

/// Calls the export `name` with arguments it never gets to use (the IRQL check refuses the call
/// first); pointers it writes even when refusing are valid. False if the name is unknown here.
#[allow(clippy::too_many_lines, reason = "one arm per export of the IRQL table")]
fn call_refused(name: &str) -> bool {
    let null = null_mut();
    let mut status: NDIS_STATUS = 0;
    let mut pointer: PVOID = null;
    let mut length: UINT = 0;
    let mut parameter: PNDIS_CONFIGURATION_PARAMETER = null_mut();
    let s = &raw mut status;
    {
        match name {
            "NdisMRegisterMiniportDriver" => {
                // SAFETY: refused at this IRQL before its 5 NULL pointers are read.
                unsafe { NdisMRegisterMiniportDriver(null_mut(), null_mut(), null, null_mut(), null_mut()) };
            }
            "NdisMDeregisterMiniportDriver" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisMDeregisterMiniportDriver(null) };
            }
            "NdisMSetMiniportAttributes" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisMSetMiniportAttributes(null, null_mut()) };
            }
            "NdisAllocateGenericObject" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisAllocateGenericObject(null_mut(), 1, 0) };
            }
            "NdisFreeGenericObject" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeGenericObject(null_mut()) };
            }
            "NdisAllocateMemoryWithTagPriority" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisAllocateMemoryWithTagPriority(null, 1, 1, 0) };
            }
            "NdisFreeMemory" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeMemory(null, 1, 0) };
            }
            "NdisAllocateMdl" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisAllocateMdl(null, null, 1) };
            }
            "NdisFreeMdl" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeMdl(null_mut()) };
            }
            "NdisAllocateNetBufferListPool" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisAllocateNetBufferListPool(null, null_mut()) };
            }
            "NdisFreeNetBufferListPool" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeNetBufferListPool(null) };
            }
            "NdisAllocateNetBufferPool" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisAllocateNetBufferPool(null, null_mut()) };
            }
            "NdisFreeNetBufferPool" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeNetBufferPool(null) };
            }
            "NdisAllocateNetBufferList" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisAllocateNetBufferList(null, 0, 0) };
            }
            "NdisFreeNetBufferList" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeNetBufferList(null_mut()) };
            }
            "NdisAllocateNetBuffer" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisAllocateNetBuffer(null, null_mut(), 0, 0) };
            }
            "NdisFreeNetBuffer" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeNetBuffer(null_mut()) };
            }
            "NdisAllocateNetBufferAndNetBufferList" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisAllocateNetBufferAndNetBufferList(null, 0, 0, null_mut(), 0, 0) };
            }
            "NdisGetDataBuffer" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisGetDataBuffer(null_mut(), 0, null, 0, 0) };
            }
            "NdisMSendNetBufferListsComplete" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisMSendNetBufferListsComplete(null, null_mut(), 0) };
            }
            "NdisMIndicateReceiveNetBufferLists" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisMIndicateReceiveNetBufferLists(null, null_mut(), 0, 0, 0) };
            }
            "NdisMIndicateStatusEx" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisMIndicateStatusEx(null, null_mut()) };
            }
            "NdisMOidRequestComplete" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisMOidRequestComplete(null, null_mut(), 0) };
            }
            "NdisMPauseComplete" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisMPauseComplete(null) };
            }
            "NdisMRestartComplete" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisMRestartComplete(null, 0) };
            }
            "NdisMResetComplete" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisMResetComplete(null, 0, 0) };
            }
            "NdisOpenConfigurationEx" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisOpenConfigurationEx(null_mut(), null_mut()) };
            }
            "NdisCloseConfiguration" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisCloseConfiguration(null) };
            }
            "NdisReadConfiguration" => {
                // The out-pointers are locals that outlive the call.
                // SAFETY: refused before its 2 NULL pointers are read; writes `status`, `parameter`.
                unsafe { NdisReadConfiguration(s, &raw mut parameter, null, null_mut(), 0) };
            }
            "NdisReadNetworkAddress" => {
                // The out-pointers are locals that outlive the call.
                // SAFETY: refused before its NULL pointer is read; writes `status`, `pointer`, `length`.
                unsafe { NdisReadNetworkAddress(s, &raw mut pointer, &raw mut length, null) };
            }
            "NdisAllocateTimerObject" => {
                // SAFETY: refused at this IRQL before its 3 NULL pointers are read.
                unsafe { NdisAllocateTimerObject(null, null_mut(), null_mut()) };
            }
            "NdisSetTimerObject" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { NdisSetTimerObject(null, LARGE_INTEGER::default(), 0, null) };
            }
            "NdisCancelTimerObject" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisCancelTimerObject(null) };
            }
            "NdisFreeTimerObject" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisFreeTimerObject(null) };
            }
            "NdisAcquireSpinLock" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisAcquireSpinLock(null_mut()) };
            }
            "NdisReleaseSpinLock" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisReleaseSpinLock(null_mut()) };
            }
            "NdisDprAcquireSpinLock" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisDprAcquireSpinLock(null_mut()) };
            }
            "NdisDprReleaseSpinLock" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisDprReleaseSpinLock(null_mut()) };
            }
            "NdisInitializeEvent" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisInitializeEvent(null_mut()) };
            }
            "NdisSetEvent" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisSetEvent(null_mut()) };
            }
            "NdisResetEvent" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisResetEvent(null_mut()) };
            }
            "NdisWaitEvent" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { NdisWaitEvent(null_mut(), 0) };
            }
            "NdisMSleep" => {
                // SAFETY: no pointer argument; refused at this IRQL, it only records the violation.
                unsafe { NdisMSleep(1) };
            }
            "ExAllocatePool2" => {
                // SAFETY: no pointer argument; refused at this IRQL, it only records the violation.
                unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 1, 1) };
            }
            "ExFreePoolWithTag" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { ExFreePoolWithTag(null, 1) };
            }
            "KeRaiseIrqlToDpcLevel" => {
                // SAFETY: no pointer argument; refused at this IRQL, it only records the violation.
                unsafe { KeRaiseIrqlToDpcLevel() };
            }
            "KeAcquireSpinLockRaiseToDpc" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { KeAcquireSpinLockRaiseToDpc(null_mut()) };
            }
            "KeReleaseSpinLock" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { KeReleaseSpinLock(null_mut(), 0) };
            }
            "KeAcquireSpinLockAtDpcLevel" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { KeAcquireSpinLockAtDpcLevel(null_mut()) };
            }
            "KeReleaseSpinLockFromDpcLevel" => {
                // SAFETY: refused at this IRQL before its NULL pointer is read.
                unsafe { KeReleaseSpinLockFromDpcLevel(null_mut()) };
            }
            "KeFlushQueuedDpcs" => {
                // SAFETY: no pointer argument; refused at this IRQL, it only records the violation.
                unsafe { KeFlushQueuedDpcs() };
            }
            "MmMapLockedPagesSpecifyCache" => {
                // SAFETY: refused at this IRQL before its 2 NULL pointers are read.
                unsafe { MmMapLockedPagesSpecifyCache(null_mut(), KernelMode, MmCached, null, 0, 0) };
            }
            "DbgPrint" => {
                // SAFETY: two static C strings, read at most; refused at this IRQL.
                unsafe { DbgPrint(c"%s".as_ptr(), c"refused".as_ptr()) };
            }
            _ => return false,
        }
    }
    true
}

#[test]
fn every_row_of_the_irql_table_is_enforced_by_its_export() {
    let host = Host::new();
    let mut unknown = Vec::new();
    let mut checked = 0;
    for rule in RULES {
        let bad = match rule.limit {
            Limit::AtMost(max) if max < HIGH_LEVEL => HIGH_LEVEL,
            Limit::AtLeast(min) if min > PASSIVE_LEVEL => PASSIVE_LEVEL,
            Limit::Exactly(PASSIVE_LEVEL) => DISPATCH_LEVEL,
            Limit::Exactly(_) => PASSIVE_LEVEL,
            // Any IRQL, or anything up to HIGH_LEVEL: nothing to violate.
            Limit::Any | Limit::AtMost(_) | Limit::AtLeast(_) => continue,
        };
        if !host.at_irql(bad, || call_refused(rule.api)) {
            unknown.push(rule.api);
            continue;
        }
        let violations = host.take_violations();
        assert_eq!(violations.len(), 1, "{}: {violations:?}", rule.api);
        let v = &violations[0];
        assert_eq!((v.rule, v.api, v.irql), (Rule::Irql, rule.api, bad), "{v}");
        assert!(
            v.detail.contains("learn.microsoft.com"),
            "{v} cites its documentation"
        );
        checked += 1;
    }
    assert!(unknown.is_empty(), "rows with no refusal test: {unknown:?}");
    assert!(checked > 45, "only {checked} rows checked");
    assert!(host.finish().is_clean());
}

/// Each row cites the reference page of its own function, in the folder of the header the page
/// names as the function's declaring header: `<stem>/nf-<stem>-<function>` (the MDL functions are
/// declared in `ndis/mdlapi.h`, the NBL functions in `ndis/nblapi.h`, not in `ndis.h`).
#[test]
fn every_row_of_the_irql_table_cites_its_functions_own_page() {
    let mut wrong = Vec::new();
    for rule in RULES {
        let stem = rule
            .header
            .rsplit('/')
            .next()
            .and_then(|file| file.strip_suffix(".h"))
            .unwrap_or("?");
        let own = format!("{stem}/nf-{stem}-{}", rule.api.to_lowercase());
        if rule.doc != own {
            wrong.push(format!("{}: cites {}, its page is {own}", rule.api, rule.doc));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let apis: std::collections::HashSet<_> = RULES.iter().map(|r| r.api).collect();
    assert_eq!(apis.len(), RULES.len(), "one row per function");
}

/// The rows the documentation states differently from the common `<= DISPATCH_LEVEL`.
#[test]
fn the_irql_table_states_the_documented_exceptions() {
    let limit = |api: &str| RULES.iter().find(|r| r.api == api).map(|r| r.limit);
    assert_eq!(limit("DbgPrint"), Some(Limit::AtMost(ndis_host::irql::DIRQL_MAX)));
    assert_eq!(limit("NdisInitializeEvent"), Some(Limit::Any));
    assert_eq!(limit("NdisMSleep"), Some(Limit::AtMost(APC_LEVEL)));
    for api in ["KeAcquireSpinLockAtDpcLevel", "KeReleaseSpinLockFromDpcLevel"] {
        assert_eq!(limit(api), Some(Limit::AtLeast(DISPATCH_LEVEL)), "{api}");
    }
}

#[test]
fn paged_pool_is_freed_only_at_or_below_apc_level() {
    let host = Host::new();
    const POOL_FLAG_PAGED: u64 = 0x100;
    // SAFETY: paged pool at PASSIVE_LEVEL; freed below.
    let p = unsafe { ExAllocatePool2(POOL_FLAG_PAGED, 8, 1) };
    assert!(!p.is_null());
    // SAFETY: freeing the block just allocated: refused at DISPATCH_LEVEL (paged pool).
    host.at_irql(DISPATCH_LEVEL, || unsafe { ExFreePoolWithTag(p, 1) });
    let v = host.take_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].rule, v[0].api), (Rule::Irql, "ExFreePoolWithTag"));
    assert!(v[0].detail.contains("paged pool"), "{}", v[0]);
    // SAFETY: the block is still allocated (the free was refused); freed at PASSIVE_LEVEL.
    unsafe { ExFreePoolWithTag(p, 1) };
    assert!(host.finish().is_clean());
}

#[test]
fn allowed_irqls_raise_no_violation() {
    let (host, _a) = host_with_adapter(Host::builder(), Config::new());
    // SAFETY: non-paged pool at DISPATCH_LEVEL is allowed; freed at DISPATCH_LEVEL too.
    let p = host.at_irql(DISPATCH_LEVEL, || unsafe {
        ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 0x6b6f)
    });
    assert!(!p.is_null());
    // SAFETY: freeing the block just allocated.
    host.at_irql(DISPATCH_LEVEL, || unsafe { ExFreePoolWithTag(p, 0x6b6f) });
    // SAFETY: raising from PASSIVE_LEVEL and lowering back.
    let old = unsafe { KeRaiseIrqlToDpcLevel() };
    // SAFETY: the IRQL read at DISPATCH_LEVEL.
    assert_eq!(unsafe { KeGetCurrentIrql() }, DISPATCH_LEVEL);
    // SAFETY: restoring what the raise returned.
    unsafe { KeLowerIrql(old) };
    assert!(host.finish().is_clean());
}

#[test]
fn paged_pool_is_refused_above_apc_level() {
    let host = Host::new();
    const POOL_FLAG_PAGED: u64 = 0x100;
    // SAFETY: refused (paged pool at DISPATCH_LEVEL); nothing is allocated.
    let p = host.at_irql(DISPATCH_LEVEL, || unsafe {
        ExAllocatePool2(POOL_FLAG_PAGED, 8, 1)
    });
    assert!(p.is_null());
    let v = host.take_violations();
    assert_eq!(
        (v.len(), v[0].rule, v[0].detail.as_str()),
        (1, Rule::Irql, "paged pool allocated above APC_LEVEL")
    );
    assert!(host.finish().is_clean());
}

#[test]
fn cancelling_a_periodic_timer_needs_passive_level() {
    let (host, a) = host_with_adapter(Host::builder(), Config::new());
    let timer = allocate_timer(host.adapter_handle(a));
    set_timer(timer, 10, 10);
    // SAFETY: the test's timer; the call is the violation under test (periodic, at DISPATCH_LEVEL).
    let cancel = || unsafe { NdisCancelTimerObject(timer) };
    assert_eq!(host.at_irql(DISPATCH_LEVEL, cancel), TRUE);
    let v = host.take_violations();
    assert_eq!(v.len(), 1);
    assert!(
        v[0].detail
            .contains("cancelled a periodic timer at DISPATCH_LEVEL"),
        "{}",
        v[0]
    );
    free_timer(timer);
    assert!(host.finish().is_clean());
}

fn adapter_pool(handle: NDIS_HANDLE, nbl: bool) -> NDIS_HANDLE {
    if nbl {
        let mut p = NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                1,
                NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            fAllocateNetBuffer: TRUE,
            PoolTag: 7,
            ..Default::default()
        };
        // SAFETY: an adapter handle and parameters valid for the call.
        unsafe { NdisAllocateNetBufferListPool(handle, &raw mut p) }
    } else {
        let mut p = NET_BUFFER_POOL_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                1,
                NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
            ),
            PoolTag: 7,
            DataSize: 0,
        };
        // SAFETY: as above.
        unsafe { NdisAllocateNetBufferPool(handle, &raw mut p) }
    }
}

/// Performs one allocation of `kind` (after any setup of other kinds); true if it succeeded. Frees
/// everything it made.
fn allocate_one(handle: NDIS_HANDLE, kind: Kind) -> bool {
    // Every call below runs at PASSIVE_LEVEL on the test thread, with `handle` the live adapter's
    // handle; what it allocates is freed once, with its matching free, before this returns.
    match kind {
        Kind::Pool => {
            // SAFETY: flags, size and tag only.
            let p = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 9) };
            if p.is_null() {
                return false;
            }
            // SAFETY: `p` is the block just allocated with tag 9, freed once.
            unsafe { ExFreePoolWithTag(p, 9) };
            true
        }
        Kind::Memory => {
            // SAFETY: the adapter's handle, a size, a tag and a priority.
            let p = unsafe { NdisAllocateMemoryWithTagPriority(handle, 16, 9, NormalPoolPriority) };
            if p.is_null() {
                return false;
            }
            // SAFETY: `p` is the 16-byte block just allocated, freed once.
            unsafe { NdisFreeMemory(p, 16, 0) };
            true
        }
        Kind::GenericObject => {
            // SAFETY: no driver object (NULL is allowed), a tag and a size.
            let o = unsafe { NdisAllocateGenericObject(null_mut(), 9, 8) };
            if o.is_null() {
                return false;
            }
            // SAFETY: `o` is the object just allocated, freed once.
            unsafe { NdisFreeGenericObject(o) };
            true
        }
        Kind::NblPool | Kind::NbPool => {
            let nbl = kind == Kind::NblPool;
            let p = adapter_pool(handle, nbl);
            let ok = !p.is_null();
            if ok && nbl {
                // SAFETY: `p` is the NBL pool just allocated, empty, freed once.
                unsafe { NdisFreeNetBufferListPool(p) };
            } else if ok {
                // SAFETY: `p` is the NB pool just allocated, empty, freed once.
                unsafe { NdisFreeNetBufferPool(p) };
            }
            ok
        }
        Kind::Nbl => {
            let pool = adapter_pool(handle, true);
            // SAFETY: `pool` is a live NBL pool (or NULL after an injected failure, refused).
            let n = unsafe { NdisAllocateNetBufferList(pool, 0, 0) };
            let ok = !n.is_null();
            if ok {
                // SAFETY: `n` is the NBL just allocated from `pool`, freed once.
                unsafe { NdisFreeNetBufferList(n) };
            }
            // SAFETY: `pool`, now empty, freed once.
            unsafe { NdisFreeNetBufferListPool(pool) };
            ok
        }
        Kind::Nb => {
            let pool = adapter_pool(handle, false);
            // SAFETY: `pool` is a live NB pool; no MDL (NULL is allowed).
            let n = unsafe { NdisAllocateNetBuffer(pool, null_mut(), 0, 0) };
            let ok = !n.is_null();
            if ok {
                // SAFETY: `n` is the NB just allocated from `pool`, freed once.
                unsafe { NdisFreeNetBuffer(n) };
            }
            // SAFETY: `pool`, now empty, freed once.
            unsafe { NdisFreeNetBufferPool(pool) };
            ok
        }
        Kind::Mdl => {
            // NdisAllocateMdl describes non-paged pool the driver allocated (not the stack).
            // SAFETY: flags, size and tag only.
            let memory = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 9) };
            // SAFETY: `memory` is 64 bytes of live non-paged pool, outliving the MDL.
            let m = unsafe { NdisAllocateMdl(handle, memory, 64) };
            let ok = !m.is_null();
            if ok {
                // SAFETY: `m` is the MDL just allocated, freed once.
                unsafe { NdisFreeMdl(m) };
            }
            // SAFETY: `memory`, no longer described by an MDL, freed once with its tag.
            unsafe { ExFreePoolWithTag(memory, 9) };
            ok
        }
        Kind::Timer => {
            let mut c = timer_characteristics();
            let mut t = null_mut();
            // `c` is a valid characteristics block and `t` a local out-pointer, both live for
            // the call.
            // SAFETY: as stated, with the adapter's handle.
            let status = unsafe { NdisAllocateTimerObject(handle, &raw mut c, &raw mut t) };
            let ok = status == NDIS_STATUS_SUCCESS;
            if ok {
                // SAFETY: `t` is the timer just allocated, never set, freed once.
                unsafe { NdisFreeTimerObject(t) };
            }
            ok
        }
        Kind::Mapping => {
            // One contiguous MDL: NdisGetDataBuffer may still fail to map it.
            let pool = adapter_pool(handle, true);
            // SAFETY: flags, size and tag only.
            let memory = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 9) };
            // SAFETY: `memory` is 64 bytes of live non-paged pool, outliving the MDL.
            let mdl = unsafe { NdisAllocateMdl(handle, memory, 64) };
            // SAFETY: `pool` allocates NBs with its NBLs; `mdl` describes the 64 bytes.
            let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, 0, 64) };
            // SAFETY: `nbl` is the NBL just allocated, with its one NB.
            let nb = unsafe { NET_BUFFER_LIST_FIRST_NB(nbl) };
            // SAFETY: `nb` describes 64 bytes; 16 are asked for, contiguous, so no storage.
            let ok = !unsafe { NdisGetDataBuffer(nb, 16, null_mut(), 1, 0) }.is_null();
            // SAFETY: `nbl` (with its NB), freed once, before the MDL it uses.
            unsafe { NdisFreeNetBufferList(nbl) };
            // SAFETY: `mdl`, no longer in an NB, freed once.
            unsafe { NdisFreeMdl(mdl) };
            // SAFETY: `memory`, no longer described by an MDL, freed once with its tag.
            unsafe { ExFreePoolWithTag(memory, 9) };
            // SAFETY: `pool`, now empty, freed once.
            unsafe { NdisFreeNetBufferListPool(pool) };
            ok
        }
        Kind::Configuration => {
            let mut o = config_object(handle);
            let mut c = null_mut();
            // `o` names the adapter's handle, `c` is a local out-pointer; both outlive the call.
            // SAFETY: as stated.
            let status = unsafe { NdisOpenConfigurationEx(&raw mut o, &raw mut c) };
            let ok = status == NDIS_STATUS_SUCCESS;
            if ok {
                // SAFETY: `c` is the handle just opened, closed once.
                unsafe { NdisCloseConfiguration(c) };
            }
            ok
        }
    }
}

/// `NdisAllocateMdl`'s page: the buffer must be non-paged pool from `ExAllocatePool`* or
/// `NdisAllocateMemoryWithTagPriority`, "not ... the stack, paged pool, driver global data".
#[test]
fn an_mdl_describes_only_non_paged_pool_the_driver_allocated() {
    static IMAGE_DATA: [u8; 64] = [0; 64];
    let (host, a) = host_with_adapter(Host::builder(), Config::new());
    let handle = host.adapter_handle(a);
    let mut stack = [0u8; 64];
    const POOL_FLAG_PAGED: u64 = 0x100;
    // SAFETY: flags, size and tag only (at PASSIVE_LEVEL, where paged pool may be allocated).
    let paged = unsafe { ExAllocatePool2(POOL_FLAG_PAGED, 64, 9) };
    // SAFETY: as above.
    let pool = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 9) };
    let refused: [(&str, PVOID, u32); 4] = [
        ("the stack", stack.as_mut_ptr().cast(), 64),
        ("image data", IMAGE_DATA.as_ptr().cast_mut().cast(), 64),
        ("paged pool", paged, 64),
        ("past the end of a pool block", pool, 65),
    ];
    for (what, va, length) in refused {
        // Each address is live memory of `length` bytes (the refused one past its end is
        // refused before anything is described).
        // SAFETY: the adapter's handle and an address NdisAllocateMdl refuses without reading.
        let m = unsafe { NdisAllocateMdl(handle, va, length) };
        assert!(m.is_null(), "{what}: refused");
        let v = host.take_violations();
        assert_eq!(v.len(), 1, "{what}: {v:?}");
        assert_eq!(
            (v[0].rule, v[0].api),
            (Rule::BadParameter, "NdisAllocateMdl"),
            "{what}"
        );
        assert!(v[0].detail.contains("not inside non-paged pool"), "{}", v[0]);
    }
    // The tail of a block is fine; so is a block freed and reallocated (the range is live again).
    let tail = pool.cast::<u8>().wrapping_add(60).cast();
    // SAFETY: the last 4 bytes of the live 64-byte block `pool`.
    let m = unsafe { NdisAllocateMdl(handle, tail, 4) };
    assert!(!m.is_null());
    // SAFETY: `m` is the MDL just allocated, freed once.
    unsafe { NdisFreeMdl(m) };
    // SAFETY: `pool`, no longer described by an MDL, freed once with its tag.
    unsafe { ExFreePoolWithTag(pool, 9) };
    // SAFETY: the host refuses freed pool without reading it.
    let m = unsafe { NdisAllocateMdl(handle, pool, 64) };
    assert!(m.is_null(), "freed pool is refused");
    assert_eq!(host.take_violations().len(), 1);
    // SAFETY: `paged`, never described, freed once with its tag.
    unsafe { ExFreePoolWithTag(paged, 9) };
    assert!(host.finish().is_clean());
}

#[test]
fn each_fault_kind_fails_exactly_the_nth_allocation_and_nothing_without_a_plan() {
    for kind in Kind::ALL {
        let (host, a) = host_with_adapter(Host::builder(), Config::new());
        let handle = host.adapter_handle(a);
        assert!(allocate_one(handle, kind), "{kind:?} without a plan must succeed");
        host.inject(FaultPlan {
            kind: Some(kind),
            nth: 2,
        });
        assert!(allocate_one(handle, kind), "{kind:?}: the first succeeds");
        assert!(!allocate_one(handle, kind), "{kind:?}: the second fails");
        let (failed_kind, _, n) = host.injected_failure().expect("reached");
        assert_eq!((failed_kind, n), (kind, 2));
        assert!(allocate_one(handle, kind), "{kind:?}: the third succeeds again");
        let verdict = host.finish();
        assert!(verdict.is_clean(), "{kind:?}: {}", verdict.report());
    }
}

#[test]
fn a_systematic_sweep_fails_each_allocation_of_initialize_in_turn_and_finds_no_leak() {
    let builder = Host::builder();
    let sweep = sweep(&builder, None, |host| {
        set(Behavior::default());
        host.load(driver_entry).expect("DriverEntry allocates nothing");
        if let Ok(a) = host.add_adapter(Config::new()) {
            host.restart(a);
        }
    });
    assert!(
        sweep.allocations >= 20,
        "initialize makes {} allocations",
        sweep.allocations
    );
    assert_eq!(sweep.runs.len() as u64, sweep.allocations);
    assert!(
        sweep.runs.iter().all(|r| r.failed.is_some()),
        "every run reached its failing allocation"
    );
    let failures = sweep.failures();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_sweep_finds_a_leak_that_only_an_error_path_has() {
    // The driver leaks its generic object only when an allocation after it fails: the run without
    // faults is clean, and exactly the runs that fail a later MDL allocation report it.
    let builder = Host::builder().design_rule(Rule::GenericObjectOutlivesHalt);
    let sweep = sweep(&builder, Some(Kind::Mdl), |host| {
        set(Behavior::breaking(Broken::LeakOnInitFailure));
        host.load(driver_entry).expect("DriverEntry");
        let _ = host.add_adapter(Config::new());
    });
    assert_eq!(sweep.allocations, 8, "one MDL per receive buffer");
    assert_eq!(
        sweep.failures().len(),
        8,
        "every failed MDL allocation leaks the object"
    );
    for run in &sweep.runs {
        let outlives = run.verdict.of(Rule::GenericObjectOutlivesHalt);
        assert_eq!(outlives.len(), 1, "{}", run.verdict.report());
        assert!(
            outlives[0]
                .detail
                .starts_with("failed initialize left: generic object 'Test'"),
            "{}",
            outlives[0]
        );
    }
}

#[test]
fn bug_check_ends_the_process_with_code_and_parameters() {
    if std::env::var_os("NDIS_HOST_BUGCHECK_CHILD").is_some() {
        let _host = Host::new();
        // SAFETY: the bug check under test; it does not return.
        unsafe { KeBugCheckEx(0xE2, 1, 2, 3, 4) };
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "bug_check_ends_the_process_with_code_and_parameters",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NDIS_HOST_BUGCHECK_CHILD", "1")
        .output()
        .expect("child runs");
    assert!(!output.status.success(), "a bug check must end the process");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FATAL: KeBugCheckEx(0x000000e2, 0x1, 0x2, 0x3, 0x4)"),
        "{stderr}"
    );
}

#[test]
fn dispatch_level_owns_the_cpu_so_two_threads_never_overlap_there() {
    let host = Host::builder().mode(Mode::Concurrent).cpus(1).build();
    let inside = AtomicBool::new(false);
    let overlaps = AtomicUsize::new(0);
    host.parallel(2, |_| {
        for _ in 0..300 {
            host.at_irql(DISPATCH_LEVEL, || {
                if inside.swap(true, Ordering::AcqRel) {
                    overlaps.fetch_add(1, Ordering::Relaxed);
                }
                std::hint::spin_loop();
                std::thread::yield_now();
                inside.store(false, Ordering::Release);
            });
        }
    });
    assert_eq!(overlaps.load(Ordering::Relaxed), 0);
    assert!(host.finish().is_clean());
}

#[test]
fn processor_numbers_follow_the_threads_cpu() {
    let host = Host::builder().cpus(3).build();
    // SAFETY: querying the processor number; NULL is allowed for the out-parameter.
    let on = |cpu| host.on_cpu(cpu, || unsafe { KeGetCurrentProcessorNumberEx(null_mut()) });
    assert_eq!((on(0), on(1), on(2), on(4)), (0, 1, 2, 1));
    // SAFETY: a plain query.
    assert_eq!(unsafe { KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) }, 3);
    assert!(host.finish().is_clean());
}

#[test]
fn concurrent_senders_on_four_cpus_lose_and_duplicate_nothing() {
    let (host, a) = host_with_adapter(
        Host::builder()
            .mode(Mode::Concurrent)
            .cpus(4)
            .capture_frames(false),
        Config::new(),
    );
    let frames_per_thread = 2_000u64;
    let sent = host.parallel(4, |i| {
        let frame = [i as u8; 128];
        let mut n = 0;
        for _ in 0..frames_per_thread {
            n += host
                .send(a, &[&frame], SendOptions::default())
                .map_or(0, |ids| ids.len() as u64);
        }
        n
    });
    let total: u64 = sent.iter().sum();
    assert_eq!(total, 4 * frames_per_thread);
    assert!(
        host.wait_until(|| host.send_counts(a) == (total, 0)),
        "{:?}",
        host.send_counts(a)
    );
    let mut completed = host
        .take_completions(a)
        .into_iter()
        .flat_map(|c| c.frames)
        .collect::<Vec<_>>();
    completed.sort_unstable();
    completed.dedup();
    assert_eq!(completed.len() as u64, total, "each frame completed exactly once");
    let (received, _) = host.receive_counts(a);
    assert!(received <= total && received > 0);
    let verdict = host.finish();
    assert!(verdict.is_clean(), "{}", verdict.report());
}

static FIRED: AtomicU32 = AtomicU32::new(0);
static FIRED_AT: Mutex<Vec<(KIRQL, u32)>> = Mutex::new(Vec::new());

#[ndis::kernel_abi]
unsafe extern "system" fn count_fires(_: PVOID, _: PVOID, _: PVOID, _: PVOID) {
    FIRED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: a plain query of the calling thread's state.
    let irql = unsafe { KeGetCurrentIrql() };
    // SAFETY: as above; NULL is allowed for the out-parameter.
    let state = (irql, unsafe { KeGetCurrentProcessorNumberEx(null_mut()) });
    FIRED_AT.lock().unwrap().push(state);
}

fn timer_characteristics() -> NDIS_TIMER_CHARACTERISTICS {
    NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: 0x7469_6d72,
        TimerFunction: Some(count_fires),
        FunctionContext: null_mut(),
    }
}

fn allocate_timer(handle: NDIS_HANDLE) -> NDIS_HANDLE {
    FIRED.store(0, Ordering::SeqCst);
    FIRED_AT.lock().unwrap().clear();
    let mut c = timer_characteristics();
    let mut t = null_mut();
    // SAFETY: an adapter handle and characteristics valid for the call.
    let status = unsafe { NdisAllocateTimerObject(handle, &raw mut c, &raw mut t) };
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    t
}

fn set_timer(timer: NDIS_HANDLE, due_ms: i64, period_ms: i32) -> BOOLEAN {
    // SAFETY: a live timer.
    unsafe {
        NdisSetTimerObject(
            timer,
            LARGE_INTEGER {
                QuadPart: -due_ms * 10_000,
            },
            period_ms,
            null_mut(),
        )
    }
}

fn free_timer(timer: NDIS_HANDLE) {
    // SAFETY: a live timer, cancelled, then freed once (deterministic: no callback is running).
    unsafe { NdisCancelTimerObject(timer) };
    // SAFETY: as above.
    unsafe { NdisFreeTimerObject(timer) };
}

#[test]
fn one_shot_and_periodic_timers_fire_on_the_manual_clock_at_dispatch_level() {
    let (host, a) = host_with_adapter(Host::builder(), Config::new());
    let timer = allocate_timer(host.adapter_handle(a));
    assert_eq!(set_timer(timer, 10, 0), FALSE, "not queued before");
    host.advance(Duration::from_millis(9));
    assert_eq!(FIRED.load(Ordering::SeqCst), 0);
    host.advance(Duration::from_millis(1));
    assert_eq!(FIRED.load(Ordering::SeqCst), 1);
    host.advance(Duration::from_millis(100));
    assert_eq!(FIRED.load(Ordering::SeqCst), 1, "one-shot");
    assert!(
        FIRED_AT
            .lock()
            .unwrap()
            .iter()
            .all(|(irql, _)| *irql == DISPATCH_LEVEL)
    );
    assert_eq!(set_timer(timer, 10, 10), FALSE);
    assert_eq!(set_timer(timer, 10, 10), TRUE, "re-arming a queued timer says so");
    host.advance(Duration::from_millis(55));
    assert_eq!(
        FIRED.load(Ordering::SeqCst),
        1 + 5,
        "periodic: 10, 20, 30, 40, 50 ms"
    );
    // SAFETY: the live timer, at PASSIVE_LEVEL (periodic).
    assert_eq!(unsafe { NdisCancelTimerObject(timer) }, TRUE);
    host.advance(Duration::from_millis(100));
    assert_eq!(FIRED.load(Ordering::SeqCst), 6, "cancelled");
    // SAFETY: as above; not queued any more.
    assert_eq!(unsafe { NdisCancelTimerObject(timer) }, FALSE);
    free_timer(timer);
    assert!(host.finish().is_clean());
}

#[test]
fn sleeping_lets_time_pass_and_timers_fire() {
    let (host, a) = host_with_adapter(Host::builder(), Config::new());
    let timer = allocate_timer(host.adapter_handle(a));
    set_timer(timer, 3, 0);
    // SAFETY: PASSIVE_LEVEL sleep of 5 ms of manual time.
    unsafe { NdisMSleep(5_000) };
    assert_eq!(FIRED.load(Ordering::SeqCst), 1);
    free_timer(timer);
    assert!(host.finish().is_clean());
}

fn cpu_sequence(seed: u64) -> Vec<u32> {
    let (host, a) = host_with_adapter(Host::builder().seed(seed).cpus(4), Config::new());
    let timer = allocate_timer(host.adapter_handle(a));
    set_timer(timer, 1, 1);
    host.advance(Duration::from_millis(24));
    free_timer(timer);
    // Read before `finish`: once the host is gone, another test's host may start and reuse FIRED_AT.
    let cpus = FIRED_AT.lock().unwrap().iter().map(|(_, cpu)| *cpu).collect();
    assert!(host.finish().is_clean());
    cpus
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let (a, b, c) = (cpu_sequence(7), cpu_sequence(7), cpu_sequence(8));
    assert_eq!(a.len(), 24);
    assert_eq!(a, b, "same seed, same CPUs");
    assert_ne!(a, c, "another seed, other CPUs");
    assert!(a.iter().all(|cpu| *cpu < 4));
}

#[test]
fn concurrent_timers_fire_in_real_time_and_flush_waits_for_them() {
    let (host, a) = host_with_adapter(Host::builder().mode(Mode::Concurrent), Config::new());
    let timer = allocate_timer(host.adapter_handle(a));
    set_timer(timer, 1, 1);
    assert!(host.wait_until(|| FIRED.load(Ordering::SeqCst) >= 3));
    // SAFETY: the live timer, cancelled at PASSIVE_LEVEL, then DPCs flushed before the free.
    unsafe { NdisCancelTimerObject(timer) };
    // SAFETY: PASSIVE_LEVEL.
    unsafe { KeFlushQueuedDpcs() };
    let after = FIRED.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(
        FIRED.load(Ordering::SeqCst),
        after,
        "nothing fires after cancel + flush"
    );
    // SAFETY: cancelled and flushed: safe to free.
    unsafe { NdisFreeTimerObject(timer) };
    assert!(host.finish().is_clean());
}

fn config_object(handle: NDIS_HANDLE) -> NDIS_CONFIGURATION_OBJECT {
    NDIS_CONFIGURATION_OBJECT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            1,
            NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: handle,
        Flags: 0,
    }
}

/// Reads `keyword` as `kind`: (status, returned type, integer, string).
fn read(config: NDIS_HANDLE, keyword: &str, kind: NDIS_PARAMETER_TYPE) -> (NDIS_STATUS, i32, u32, String) {
    let mut units: Vec<u16> = keyword.encode_utf16().collect();
    let bytes = (units.len() * 2) as u16;
    let mut name = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_mut_ptr(),
    };
    let mut status = 0;
    let mut parameter = null_mut();
    // SAFETY: an open configuration handle; every pointer is valid for the call.
    unsafe { NdisReadConfiguration(&raw mut status, &raw mut parameter, config, &raw mut name, kind) };
    if status != NDIS_STATUS_SUCCESS {
        return (status, -1, 0, String::new());
    }
    // SAFETY: NDIS keeps the parameter valid until the handle is closed.
    let p = unsafe { &*parameter };
    match p.ParameterType {
        NdisParameterString | NdisParameterMultiString => {
            // SAFETY: a string parameter: StringData is the valid member.
            let s = unsafe { p.ParameterData.StringData };
            // SAFETY: `Length` bytes of UTF-16 that live until close.
            let text = String::from_utf16_lossy(unsafe {
                std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2)
            });
            (status, p.ParameterType, 0, text)
        }
        // SAFETY: an integer parameter: IntegerData is the valid member.
        t => (status, t, unsafe { p.ParameterData.IntegerData }, String::new()),
    }
}

#[test]
fn configuration_is_served_with_registry_types_and_ndis_conversions() {
    let config = Config::new()
        .with("*JumboPacket", "9014")
        .with("Hex", "ff")
        .with("Dword", 7u32)
        .with("Name", "hello")
        .with("Bad", "x9")
        .with("NetworkAddress", "02-11-22-33-44-55");
    let (host, a) = host_with_adapter(Host::builder(), config);
    let mut object = config_object(host.adapter_handle(a));
    let mut handle = null_mut();
    // SAFETY: PASSIVE_LEVEL; object and out-variable valid for the call.
    let status = unsafe { NdisOpenConfigurationEx(&raw mut object, &raw mut handle) };
    assert_eq!(status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        read(handle, "*JumboPacket", NdisParameterInteger),
        (NDIS_STATUS_SUCCESS, NdisParameterInteger, 9014, String::new())
    );
    assert_eq!(
        read(handle, "*jumbopacket", NdisParameterInteger).2,
        9014,
        "keywords match case-insensitively"
    );
    assert_eq!(read(handle, "Hex", NdisParameterHexInteger).2, 255);
    assert_eq!(
        read(handle, "Dword", NdisParameterString),
        (NDIS_STATUS_SUCCESS, NdisParameterInteger, 7, String::new())
    );
    assert_eq!(read(handle, "Name", NdisParameterString).3, "hello");
    assert_eq!(
        read(handle, "Bad", NdisParameterInteger).0,
        NDIS_STATUS_FAILURE,
        "not a number"
    );
    assert_eq!(
        read(handle, "Missing", NdisParameterInteger).0,
        NDIS_STATUS_FAILURE
    );
    let mut status = 0;
    let mut address: PVOID = null_mut();
    let mut length = 0;
    // SAFETY: an open handle and out-variables valid for the call.
    unsafe { NdisReadNetworkAddress(&raw mut status, &raw mut address, &raw mut length, handle) };
    assert_eq!((status, length), (NDIS_STATUS_SUCCESS, 6));
    // SAFETY: NDIS keeps the 6 bytes valid until close.
    let bytes = unsafe { std::slice::from_raw_parts(address.cast::<u8>(), 6) };
    assert_eq!(bytes, [2, 0x11, 0x22, 0x33, 0x44, 0x55]);
    // SAFETY: the handle opened above, closed once.
    unsafe { NdisCloseConfiguration(handle) };
    assert_eq!(parse_network_address("0211223344"), None);
    assert_eq!(parse_network_address("02:11:22:33:44:5G"), None);
    assert!(host.finish().is_clean());
}

/// Systemwide processor indexes past 63 and processors added after start: the numbers a driver
/// reads are Windows' (group = index / 64, number = index % 64, active counts per group).
#[test]
fn processors_are_numbered_systemwide_across_groups_and_can_be_added() {
    let host = Host::builder().cpus(80).build();
    // SAFETY: plain queries, any IRQL.
    let count = |group| unsafe { KeQueryActiveProcessorCountEx(group) };
    assert_eq!((count(0xffff), count(0), count(1), count(2)), (80, 64, 16, 0));
    let at = |cpu| {
        host.on_cpu(cpu, || {
            let mut number = PROCESSOR_NUMBER::default();
            // SAFETY: storage for one PROCESSOR_NUMBER on this stack.
            let index = unsafe { KeGetCurrentProcessorNumberEx(&raw mut number) };
            (index, number.Group, number.Number)
        })
    };
    assert_eq!(at(5), (5, 0, 5));
    assert_eq!(at(70), (70, 1, 6));
    assert_eq!(host.add_processors(100), 180);
    assert_eq!((count(0xffff), count(1), count(2)), (180, 64, 52));
    assert_eq!(at(179), (179, 2, 51));
    assert_eq!(host.add_processors(5000), MAX_CPUS, "at most 2,048 processors");
    assert!(host.finish().is_clean());
}
