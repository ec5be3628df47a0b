//! The IRQL model: each thread's current IRQL and CPU, per-CPU exclusion at `DISPATCH_LEVEL`, and the
//! one table of documented IRQL limits that every export enforces.
//!
//! `DISPATCH_LEVEL` means "not preemptible on this CPU": per-CPU data guarded only by raising IRQL is
//! safe in Windows because no other thread runs on that CPU meanwhile. Here two OS threads could
//! claim the same CPU number at once, so raising to `DISPATCH_LEVEL` on CPU n takes CPU n exclusively
//! until the thread lowers below `DISPATCH_LEVEL` again.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use ndis::{APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, KIRQL, PASSIVE_LEVEL};

/// Where a function may be called, from its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// IRQL <= the level.
    AtMost(KIRQL),
    /// IRQL >= the level.
    AtLeast(KIRQL),
    /// IRQL == the level.
    Exactly(KIRQL),
    /// Any IRQL.
    Any,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::AtMost(level) => write!(f, "IRQL <= {}", name(level)),
            Self::AtLeast(level) => write!(f, "IRQL >= {}", name(level)),
            Self::Exactly(level) => write!(f, "IRQL == {}", name(level)),
            Self::Any => f.write_str("any IRQL"),
        }
    }
}

/// The highest device IRQL (DIRQL) on x64: device interrupts use levels 3 to 12; 13 is
/// `CLOCK_LEVEL`, 14 `IPI_LEVEL` and `POWER_LEVEL`, 15 `HIGH_LEVEL` (wdm.h's x64 IRQL definitions).
pub const DIRQL_MAX: KIRQL = 12;

/// One row of the table: an imported function, its limit, the header that declares it (the
/// page's "Header" requirement) and the page that documents it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The function's name.
    pub api: &'static str,
    /// The IRQLs it may be called at.
    pub limit: Limit,
    /// The header that declares it.
    pub header: &'static str,
    /// The page, relative to the DDI reference (`<folder>/nf-<header>-<function>`).
    pub doc: &'static str,
    /// What the page adds to the limit, if anything.
    pub note: &'static str,
}

const DDI: &str = "https://learn.microsoft.com/windows-hardware/drivers/ddi/";

macro_rules! rules {
    ($($api:literal => $limit:expr, $header:literal, $page:literal $(, $note:literal)?;)*) => {
        /// Every imported function's documented IRQL (the IRQL row of its reference page).
        pub static RULES: &[Rule] = &[$(Rule {
            api: $api,
            limit: $limit,
            header: $header,
            doc: $page,
            note: rules!(@note $($note)?),
        }),*];
    };
    (@note) => { "" };
    (@note $note:literal) => { $note };
}

use Limit::{Any, AtLeast, AtMost, Exactly};

rules! {
    "NdisMRegisterMiniportDriver" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndismregisterminiportdriver";
    "NdisMDeregisterMiniportDriver" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndismderegisterminiportdriver";
    "NdisMSetMiniportAttributes" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndismsetminiportattributes";
    "NdisAllocateGenericObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisallocategenericobject";
    "NdisFreeGenericObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisfreegenericobject";
    "NdisAllocateMemoryWithTagPriority" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisallocatememorywithtagpriority";
    "NdisFreeMemory" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisfreememory";
    "NdisAllocateMdl" => AtMost(DISPATCH_LEVEL), "ndis/mdlapi.h", "mdlapi/nf-mdlapi-ndisallocatemdl";
    "NdisFreeMdl" => AtMost(DISPATCH_LEVEL), "ndis/mdlapi.h", "mdlapi/nf-mdlapi-ndisfreemdl";
    "NdisAllocateNetBufferListPool" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisallocatenetbufferlistpool";
    "NdisFreeNetBufferListPool" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisfreenetbufferlistpool";
    "NdisAllocateNetBufferPool" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisallocatenetbufferpool";
    "NdisFreeNetBufferPool" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisfreenetbufferpool";
    "NdisAllocateNetBufferList" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisallocatenetbufferlist";
    "NdisFreeNetBufferList" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisfreenetbufferlist";
    "NdisAllocateNetBuffer" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisallocatenetbuffer";
    "NdisFreeNetBuffer" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisfreenetbuffer";
    "NdisAllocateNetBufferAndNetBufferList" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisallocatenetbufferandnetbufferlist";
    "NdisGetDataBuffer" => AtMost(DISPATCH_LEVEL), "ndis/nblapi.h", "nblapi/nf-nblapi-ndisgetdatabuffer";
    "NdisMSendNetBufferListsComplete" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismsendnetbufferlistscomplete";
    "NdisMIndicateReceiveNetBufferLists" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismindicatereceivenetbufferlists";
    "NdisMIndicateStatusEx" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismindicatestatusex";
    "NdisMOidRequestComplete" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismoidrequestcomplete";
    "NdisMPauseComplete" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismpausecomplete";
    "NdisMRestartComplete" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismrestartcomplete";
    "NdisMResetComplete" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndismresetcomplete";
    "NdisOpenConfigurationEx" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndisopenconfigurationex";
    "NdisCloseConfiguration" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndiscloseconfiguration";
    "NdisReadConfiguration" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndisreadconfiguration";
    "NdisReadNetworkAddress" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndisreadnetworkaddress";
    "NdisAllocateTimerObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisallocatetimerobject";
    "NdisSetTimerObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndissettimerobject";
    "NdisCancelTimerObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndiscanceltimerobject", "PASSIVE_LEVEL for a periodic timer";
    "NdisFreeTimerObject" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisfreetimerobject";
    "NdisAllocateSpinLock" => Any, "ndis.h", "ndis/nf-ndis-ndisallocatespinlock";
    "NdisFreeSpinLock" => Any, "ndis.h", "ndis/nf-ndis-ndisfreespinlock";
    "NdisAcquireSpinLock" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisacquirespinlock";
    "NdisReleaseSpinLock" => Exactly(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisreleasespinlock";
    "NdisDprAcquireSpinLock" => Exactly(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisdpracquirespinlock";
    "NdisDprReleaseSpinLock" => Exactly(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisdprreleasespinlock";
    "NdisInitializeEvent" => Any, "ndis.h", "ndis/nf-ndis-ndisinitializeevent";
    "NdisSetEvent" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndissetevent";
    "NdisResetEvent" => AtMost(DISPATCH_LEVEL), "ndis.h", "ndis/nf-ndis-ndisresetevent";
    "NdisWaitEvent" => Exactly(PASSIVE_LEVEL), "ndis.h", "ndis/nf-ndis-ndiswaitevent";
    "NdisMSleep" => AtMost(APC_LEVEL), "ndis.h", "ndis/nf-ndis-ndismsleep";
    "ExAllocatePool2" => AtMost(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-exallocatepool2", "<= APC_LEVEL for paged pool";
    "ExFreePoolWithTag" => AtMost(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-exfreepoolwithtag", "<= APC_LEVEL for paged pool";
    "KeBugCheckEx" => Any, "wdm.h", "wdm/nf-wdm-kebugcheckex";
    "KeGetCurrentIrql" => Any, "wdm.h", "wdm/nf-wdm-kegetcurrentirql";
    "KeRaiseIrqlToDpcLevel" => AtMost(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-keraiseirqltodpclevel";
    "KeLowerIrql" => Any, "wdm.h", "wdm/nf-wdm-kelowerirql";
    "KeGetCurrentProcessorNumberEx" => Any, "wdm.h", "wdm/nf-wdm-kegetcurrentprocessornumberex";
    "KeQueryActiveProcessorCountEx" => Any, "wdm.h", "wdm/nf-wdm-kequeryactiveprocessorcountex";
    "KeAcquireSpinLockRaiseToDpc" => AtMost(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-keacquirespinlockraisetodpc";
    "KeReleaseSpinLock" => Exactly(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-kereleasespinlock";
    "KeAcquireSpinLockAtDpcLevel" => AtLeast(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-keacquirespinlockatdpclevel";
    "KeReleaseSpinLockFromDpcLevel" => AtLeast(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-kereleasespinlockfromdpclevel";
    "KeFlushQueuedDpcs" => Exactly(PASSIVE_LEVEL), "wdm.h", "wdm/nf-wdm-keflushqueueddpcs";
    "KeInitializeDpc" => Any, "wdm.h", "wdm/nf-wdm-keinitializedpc";
    "KeSetTargetProcessorDpcEx" => Any, "wdm.h", "wdm/nf-wdm-kesettargetprocessordpcex";
    "KeInsertQueueDpc" => Any, "wdm.h", "wdm/nf-wdm-keinsertqueuedpc";
    "KeRemoveQueueDpc" => Any, "wdm.h", "wdm/nf-wdm-keremovequeuedpc";
    "KeGetProcessorIndexFromNumber" => Any, "wdm.h", "wdm/nf-wdm-kegetprocessorindexfromnumber";
    "MmMapLockedPagesSpecifyCache" => AtMost(DISPATCH_LEVEL), "wdm.h", "wdm/nf-wdm-mmmaplockedpagesspecifycache", "<= APC_LEVEL for UserMode";
    "KeStallExecutionProcessor" => Any, "wdm.h", "wdm/nf-wdm-kestallexecutionprocessor";
    "DbgPrint" => AtMost(DIRQL_MAX), "wdm.h", "wdm/nf-wdm-dbgprint";
}

/// The documented IRQL of each driver callback, which the host calls it at.
pub mod callback {
    use super::{DISPATCH_LEVEL, KIRQL, PASSIVE_LEVEL};
    /// `DriverEntry`, `MiniportInitializeEx`, `MiniportHaltEx`, `MiniportPause`, `MiniportRestart`,
    /// `MiniportDevicePnPEventNotify`, `MiniportDriverUnload`, `MiniportCheckForHangEx`.
    pub const PASSIVE: KIRQL = PASSIVE_LEVEL;
    /// Timer callbacks (`NetTimerCallback`) run at exactly `DISPATCH_LEVEL`.
    pub const TIMER: KIRQL = DISPATCH_LEVEL;
    /// `MiniportResetEx`: IRQL <= `DISPATCH_LEVEL`; the host uses the upper bound.
    pub const RESET: KIRQL = DISPATCH_LEVEL;
}

#[must_use]
/// The row of `api`, if the table has one.
pub fn rule(api: &str) -> Option<&'static Rule> {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Every host API call looks its row up (several per frame on the datapath). The names are
    // `&'static str` constants: a small cache keyed by the name's address answers most calls
    // without hashing the name; a miss hashes it. An entry packs the address (48 bits, x86-64
    // user space) with the row's index + 1; an address and a length name one string, whose row
    // never changes, so a stale or raced entry is only a miss.
    static BY_API: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, usize>> =
        std::sync::OnceLock::new();
    static CACHE: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];
    let address = api.as_ptr() as u64;
    let entry = &CACHE[((address >> 3) ^ (address >> 11)) as usize & 255];
    let cached = entry.load(Ordering::Relaxed);
    if cached != 0 && cached >> 16 == address {
        let row = &RULES[(cached & 0xffff) as usize - 1];
        if row.api.len() == api.len() {
            return Some(row);
        }
    }
    let index = *BY_API
        .get_or_init(|| RULES.iter().enumerate().map(|(i, r)| (r.api, i)).collect())
        .get(api)?;
    if address < 1 << 48 && index < 0xffff {
        entry.store(address << 16 | (index as u64 + 1), Ordering::Relaxed);
    }
    Some(&RULES[index])
}

/// The documentation URL of a rule.
#[must_use]
pub fn doc_url(rule: &Rule) -> String {
    format!("{DDI}{}", rule.doc)
}

/// A human name for an IRQL.
#[must_use]
pub fn name(irql: KIRQL) -> String {
    match irql {
        PASSIVE_LEVEL => "PASSIVE_LEVEL".into(),
        APC_LEVEL => "APC_LEVEL".into(),
        DISPATCH_LEVEL => "DISPATCH_LEVEL".into(),
        HIGH_LEVEL => "HIGH_LEVEL".into(),
        DIRQL_MAX => "DIRQL (12)".into(),
        n => format!("IRQL {n}"),
    }
}

/// Does `irql` satisfy `limit`?
#[must_use]
pub fn allowed(limit: Limit, irql: KIRQL) -> bool {
    match limit {
        Limit::AtMost(max) => irql <= max,
        Limit::AtLeast(min) => irql >= min,
        Limit::Exactly(level) => irql == level,
        Limit::Any => true,
    }
}

/// What a thread is doing in the host's model.
#[derive(Debug, Clone)]
pub struct ThreadState {
    /// Unique per thread; owner value of CPUs and spin locks.
    pub token: u64,
    /// The CPU this thread runs on.
    pub cpu: usize,
    /// The IRQL the thread runs at.
    pub irql: KIRQL,
    /// The adapter whose callback this thread is in (resources allocated now belong to it).
    pub adapter: Option<usize>,
    /// Spin locks this thread holds (their addresses).
    pub held_locks: Vec<usize>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD: RefCell<ThreadState> = RefCell::new(ThreadState {
        token: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
        cpu: 0,
        irql: PASSIVE_LEVEL,
        adapter: None,
        held_locks: Vec::new(),
    });
}

/// Reads this thread's state.
pub fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
    THREAD.with(|t| f(&mut t.borrow_mut()))
}

#[must_use]
/// This thread's IRQL.
pub fn current() -> KIRQL {
    with_thread(|t| t.irql)
}

#[must_use]
/// The CPU this thread runs on.
pub fn current_cpu() -> usize {
    with_thread(|t| t.cpu)
}

#[must_use]
/// This thread's token (owner of CPUs and spin locks).
pub fn token() -> u64 {
    with_thread(|t| t.token)
}
