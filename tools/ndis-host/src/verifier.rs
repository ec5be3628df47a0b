//! The verifier: what the driver owns, and the rules it broke.
//!
//! Every allocation the driver makes through the host is tracked with its tag, size, the API that made
//! it, the adapter it belongs to and where in the driver it was made. Rules are checked where NDIS or
//! Driver Verifier would check them: when a handle is freed, when `MiniportHaltEx` returns, when the
//! driver unloads, when NBLs change hands. Each violation names the rule, the API, the adapter and
//! the IRQL; a host whose violations were not examined fails the test when it is dropped.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ndis::KIRQL;

use crate::irql;

/// The rules the verifier enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A function called above (or not at) its documented IRQL.
    Irql,
    /// A callback returned at a different IRQL than it was called at.
    IrqlNotRestored,
    /// Pool memory, a pool handle, a timer, an MDL, a generic object or a configuration handle still
    /// allocated when the driver unloaded.
    Leak,
    /// A generic object still allocated when `MiniportHaltEx` (or a failed `MiniportInitializeEx`)
    /// of its adapter returned. rvnic's design rule, not NDIS's: checked only when a test opts in
    /// ([`crate::HostBuilder::design_rule`]); see [`Rule::source`].
    GenericObjectOutlivesHalt,
    /// A generic object freed while pools or timers allocated through it were alive.
    GenericObjectFreedWithChildren,
    /// A free of something not allocated, already freed, or with the wrong tag or length.
    BadFree,
    /// Memory written after it was freed (its poison pattern changed).
    UseAfterFree,
    /// A handle or parameter NDIS does not accept (wrong object header, foreign handle, ...).
    BadParameter,
    /// A send completion for an NBL the driver does not own (never sent, or already completed).
    NblNotOwned,
    /// An NBL written by the driver after it completed it (its poison pattern changed).
    NblTouchedAfterCompletion,
    /// An NBL indicated while it was still indicated (not yet returned).
    NblIndicatedTwice,
    /// `NumberOfNetBufferLists` differs from the chain's length.
    NblCountMismatch,
    /// A datapath flag that claims `DISPATCH_LEVEL` when the IRQL is not (or the reverse).
    FlagIrqlMismatch,
    /// An indication or send completion while the adapter was paused, pausing done, or halted.
    ActivityWhilePaused,
    /// Pause completed, or halt returned, with sends or indications still outstanding.
    OutstandingAtPause,
    /// A completion call (`NdisMPauseComplete`, `NdisMResetComplete`, `NdisMOidRequestComplete`,
    /// `NdisMRestartComplete`) with no matching pending operation.
    UnexpectedCompletion,
    /// A pending operation that never completed.
    NeverCompleted,
    /// A callback returned a status NDIS does not allow there.
    BadStatus,
    /// Spin lock misuse: release of a lock not held, recursive acquire, a lock held when a callback
    /// returned.
    SpinLock,
    /// Adapter attributes missing or malformed in `MiniportInitializeEx`.
    Attributes,
    /// A timer freed while queued or while its callback runs.
    TimerMisuse,
    /// An OID request answered outside the rules (bytes beyond the buffer, written past its end).
    OidBuffer,
    /// A configuration handle still open when `MiniportHaltEx` (or a failed
    /// `MiniportInitializeEx`) of its adapter returned.
    ConfigNotClosed,
    /// A send NDIS gave the driver before a reset still not completed when the reset completed.
    SendHeldPastReset,
    /// A send to a pausing or paused adapter not completed at once with `NDIS_STATUS_PAUSED`.
    SendWhilePaused,
    /// `NdisMIndicateStatusEx` before the registration attributes were set, or after
    /// `MiniportHaltEx` returned.
    StatusOutsideLifetime,
    /// Task offload configuration broken: offload attributes (default beyond the hardware, `LSOv2`
    /// without checksums, RSC outside NDIS 6.30), a current configuration beyond the hardware, or
    /// no `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` after an offload OID changed it.
    OffloadConfig,
    /// Offload information on an NBL broken: a completed large send without
    /// `LsoV2TransmitComplete`, receive checksum results or coalesced segments the adapter's
    /// configuration and activation do not allow, a coalesced segment without its checksum flags.
    OffloadInfo,
    /// A driver call touched the guard page below its 24 KiB kernel stack.
    StackOverflow,
    /// A DPC object queued or retargeted uninitialized, initialized again while queued or
    /// running, or freed while queued or while its routine runs.
    DpcMisuse,
    /// VM queues broken: receive filter capabilities that contradict themselves, a receive on a
    /// queue that is not running (or NBLs of several queues in one indication), a DMA-stopped
    /// state for a queue not being freed, or a free completed before the DMA-stopped indication
    /// or with the queue's frames still out.
    ReceiveQueue,
}

/// Where a rule comes from: what a test that trips it has shown about the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A requirement stated on a Microsoft page (relative to
    /// `https://learn.microsoft.com/windows-hardware/drivers/`): Windows enforces it, or NDIS
    /// relies on it.
    Documented(&'static str),
    /// A check of Driver Verifier (page as above): Windows makes it only when the option is on.
    DriverVerifier(&'static str),
    /// A rule of rvnic's own design, stricter than NDIS: checked only when a test opts in.
    Design(&'static str),
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: [Self; 31] = [
        Self::Irql,
        Self::IrqlNotRestored,
        Self::Leak,
        Self::GenericObjectOutlivesHalt,
        Self::GenericObjectFreedWithChildren,
        Self::BadFree,
        Self::UseAfterFree,
        Self::BadParameter,
        Self::NblNotOwned,
        Self::NblTouchedAfterCompletion,
        Self::NblIndicatedTwice,
        Self::NblCountMismatch,
        Self::FlagIrqlMismatch,
        Self::ActivityWhilePaused,
        Self::OutstandingAtPause,
        Self::UnexpectedCompletion,
        Self::NeverCompleted,
        Self::BadStatus,
        Self::SpinLock,
        Self::Attributes,
        Self::TimerMisuse,
        Self::OidBuffer,
        Self::ConfigNotClosed,
        Self::SendHeldPastReset,
        Self::SendWhilePaused,
        Self::StatusOutsideLifetime,
        Self::OffloadConfig,
        Self::OffloadInfo,
        Self::StackOverflow,
        Self::DpcMisuse,
        Self::ReceiveQueue,
    ];

    /// The page (or the design decision) each rule enforces. Every rule but the [`Source::Design`]
    /// ones is something Windows requires; a design rule is opt-in.
    #[must_use]
    pub const fn source(self) -> Source {
        use Source::{Design, Documented, DriverVerifier};
        match self {
            // Each export's row in `irql::RULES` cites the function's own reference page.
            Self::Irql => Documented("ddi/ (each function's page; see irql::RULES)"),
            Self::IrqlNotRestored => Documented("ddi/wdm/nf-wdm-keraiseirqltodpclevel"),
            Self::Leak => DriverVerifier("devtest/pool-tracking"),
            Self::GenericObjectOutlivesHalt => Design(
                "rvnic frees each adapter's generic objects before MiniportHaltEx returns; NDIS asks \
                 only that every generic object be freed with NdisFreeGenericObject \
                 (network/ndis-objects)",
            ),
            Self::GenericObjectFreedWithChildren => Documented("ddi/ndis/nf-ndis-ndisfreegenericobject"),
            Self::BadFree => Documented("ddi/wdm/nf-wdm-exfreepoolwithtag"),
            Self::UseAfterFree => DriverVerifier("devtest/special-pool"),
            Self::BadParameter => Documented("ddi/ (each function's parameters)"),
            Self::NblNotOwned | Self::NblTouchedAfterCompletion => {
                Documented("ddi/ndis/nf-ndis-ndismsendnetbufferlistscomplete")
            }
            Self::NblIndicatedTwice | Self::NblCountMismatch => {
                Documented("ddi/ndis/nf-ndis-ndismindicatereceivenetbufferlists")
            }
            Self::FlagIrqlMismatch => Documented("network/dispatch-irql-tracking"),
            Self::ActivityWhilePaused | Self::OutstandingAtPause | Self::SendWhilePaused => {
                Documented("ddi/ndis/nc-ndis-miniport_pause")
            }
            Self::UnexpectedCompletion | Self::NeverCompleted => {
                Documented("ddi/ndis/ (each callback's page: a pending status is completed once)")
            }
            Self::BadStatus => Documented("ddi/ndis/ (each callback's return values)"),
            Self::SpinLock => Documented("ddi/ndis/nf-ndis-ndisacquirespinlock"),
            Self::Attributes => Documented("ddi/ndis/nf-ndis-ndismsetminiportattributes"),
            Self::TimerMisuse => Documented("ddi/ndis/nf-ndis-ndisfreetimerobject"),
            Self::OidBuffer => DriverVerifier("devtest/ndis-wifi-verification"),
            Self::ConfigNotClosed => Documented("ddi/ndis/nf-ndis-ndisopenconfigurationex"),
            Self::SendHeldPastReset => Documented("ddi/ndis/nc-ndis-miniport_reset"),
            Self::StatusOutsideLifetime => Documented("ddi/ndis/nf-ndis-ndismindicatestatusex"),
            Self::OffloadConfig => Documented(
                "network/oid-tcp-offload-parameters, network/oid-offload-encapsulation, \
                 network/offloading-the-segmentation-of-large-tcp-packets",
            ),
            Self::StackOverflow => {
                Documented("kernel/managing-kernel-stack-usage (x64 kernel stacks are 24 KiB)")
            }
            Self::ReceiveQueue => Documented(
                "network/queue-states-and-operations, network/freeing-a-vm-queue, \
                 network/ndis-status-receive-queue-state, \
                 ddi/ntddndis/ns-ntddndis-_ndis_receive_queue_parameters",
            ),
            Self::DpcMisuse => Documented(
                "kernel/introduction-to-dpc-objects, ddi/wdm/nf-wdm-keinitializedpc, \
                 ddi/wdm/nf-wdm-keinsertqueuedpc",
            ),
            Self::OffloadInfo => Documented(
                "network/offloading-the-segmentation-of-large-tcp-packets, \
                 network/indicating-coalesced-segments, network/oid-offload-encapsulation",
            ),
        }
    }

    /// Whether a test must opt in to the rule ([`Source::Design`]).
    #[must_use]
    pub const fn is_design_rule(self) -> bool {
        matches!(self.source(), Source::Design(_))
    }

    /// The rule's stable name, as reports print it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Irql => "irql",
            Self::IrqlNotRestored => "irql-not-restored",
            Self::Leak => "leak",
            Self::GenericObjectOutlivesHalt => "generic-object-outlives-halt",
            Self::GenericObjectFreedWithChildren => "generic-object-freed-with-children",
            Self::BadFree => "bad-free",
            Self::UseAfterFree => "use-after-free",
            Self::BadParameter => "bad-parameter",
            Self::NblNotOwned => "nbl-not-owned",
            Self::NblTouchedAfterCompletion => "nbl-touched-after-completion",
            Self::NblIndicatedTwice => "nbl-indicated-twice",
            Self::NblCountMismatch => "nbl-count-mismatch",
            Self::FlagIrqlMismatch => "flag-irql-mismatch",
            Self::ActivityWhilePaused => "activity-while-paused",
            Self::OutstandingAtPause => "outstanding-at-pause",
            Self::UnexpectedCompletion => "unexpected-completion",
            Self::NeverCompleted => "never-completed",
            Self::BadStatus => "bad-status",
            Self::SpinLock => "spin-lock",
            Self::Attributes => "attributes",
            Self::TimerMisuse => "timer-misuse",
            Self::OidBuffer => "oid-buffer",
            Self::ConfigNotClosed => "config-not-closed",
            Self::SendHeldPastReset => "send-held-past-reset",
            Self::SendWhilePaused => "send-while-paused",
            Self::StatusOutsideLifetime => "status-outside-lifetime",
            Self::OffloadConfig => "offload-config",
            Self::OffloadInfo => "offload-info",
            Self::StackOverflow => "stack-overflow",
            Self::DpcMisuse => "dpc-misuse",
            Self::ReceiveQueue => "receive-queue",
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The NDIS or kernel function (or driver callback) where it was detected.
    pub api: &'static str,
    /// The adapter involved, by host index.
    pub adapter: Option<usize>,
    /// The IRQL at detection.
    pub irql: KIRQL,
    /// What happened, in words.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule.name(), self.api)?;
        if let Some(a) = self.adapter {
            write!(f, " adapter {a}")?;
        }
        write!(f, " at {}: {}", irql::name(self.irql), self.detail)
    }
}

/// Who an allocation belongs to: an adapter (made during its callbacks) or the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The driver (`DriverEntry`, unload, or outside any adapter's callback).
    Driver,
    /// An adapter, by host index.
    Adapter(usize),
}

/// The kinds of things the driver allocates through the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `ExAllocatePool2`.
    Pool,
    /// `NdisAllocateMemoryWithTagPriority`.
    Memory,
    /// `NdisAllocateGenericObject`.
    GenericObject,
    /// `NdisAllocateNetBufferListPool`.
    NblPool,
    /// `NdisAllocateNetBufferPool`.
    NbPool,
    /// `NdisAllocateNetBufferList` and `NdisAllocateNetBufferAndNetBufferList`.
    Nbl,
    /// `NdisAllocateNetBuffer`.
    Nb,
    /// `NdisAllocateMdl`.
    Mdl,
    /// `NdisAllocateTimerObject`.
    Timer,
    /// `NdisOpenConfigurationEx`.
    Configuration,
    /// Mapping an NB's data in `NdisGetDataBuffer`, which "can also be NULL due to a low resource
    /// condition where a data buffer cannot be mapped ... even if the data is contiguous" (its
    /// page). Not an allocation: a plan for every kind (`kind: None`) leaves it alone.
    Mapping,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Self; 11] = [
        Self::Pool,
        Self::Memory,
        Self::GenericObject,
        Self::NblPool,
        Self::NbPool,
        Self::Nbl,
        Self::Nb,
        Self::Mdl,
        Self::Timer,
        Self::Configuration,
        Self::Mapping,
    ];

    /// The kind as reports name it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pool => "pool memory",
            Self::Memory => "NDIS memory",
            Self::GenericObject => "generic object",
            Self::NblPool => "NBL pool",
            Self::NbPool => "NB pool",
            Self::Nbl => "NBL",
            Self::Nb => "NB",
            Self::Mdl => "MDL",
            Self::Timer => "timer object",
            Self::Configuration => "configuration handle",
            Self::Mapping => "data mapping",
        }
    }
}

/// Where in the driver an allocation was made: captured at allocation, resolved only for reports;
/// not captured with the verifier off ([`crate::HostBuilder::verifier`]).
#[derive(Clone)]
pub struct Site(Option<Arc<Backtrace>>);

impl Site {
    #[must_use]
    /// The caller's site (a backtrace, resolved only if a report needs it).
    pub fn here() -> Self {
        Self(Some(Arc::new(Backtrace::force_capture())))
    }

    /// A site not captured (the verifier is off).
    #[must_use]
    pub fn unknown() -> Self {
        Self(None)
    }

    /// The first frame outside the host, the standard library and the Rust runtime: the driver code
    /// that called the API.
    #[must_use]
    pub fn caller(&self) -> String {
        let Some(backtrace) = &self.0 else {
            return "an unknown caller (the verifier was off)".to_string();
        };
        let text = backtrace.to_string();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            let Some((_, symbol)) = line.split_once(": ") else {
                continue;
            };
            let host_or_runtime = [
                "ndis_host::",
                "std::",
                "core::",
                "alloc::",
                "backtrace",
                "__rust",
                "<ndis_host",
                "<core::",
                "<std::",
                "<alloc::",
                "ndis_host_",
            ]
            .iter()
            .any(|p| symbol.starts_with(p))
                || !symbol.contains("::");
            if host_or_runtime {
                continue;
            }
            let location = lines.next().and_then(|l| l.strip_prefix("at ")).unwrap_or("");
            let location = location.rsplit("/src/").next().unwrap_or(location);
            let symbol = symbol.rsplit_once("::h").map_or(symbol, |(s, _)| s);
            return format!("{symbol} ({location})");
        }
        "an unknown caller".to_string()
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.caller())
    }
}

/// One live allocation.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// What was allocated.
    pub kind: Kind,
    /// The function that allocated it.
    pub api: &'static str,
    /// The pool tag.
    pub tag: u32,
    /// Bytes (0 for handles).
    pub size: usize,
    /// Who it belongs to.
    pub owner: Owner,
    /// The generic object it was allocated through, if any.
    pub parent: Option<usize>,
    /// Paged pool (`POOL_FLAG_PAGED`): freed only at IRQL <= `APC_LEVEL`, never under an MDL.
    pub paged: bool,
    /// The IRQL the driver allocated it at.
    pub irql: KIRQL,
    /// Where it was allocated.
    pub site: Site,
}

/// Formats a pool tag as its four characters ('`RvNc`').
#[must_use]
pub fn tag_str(tag: u32) -> String {
    let bytes = tag.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("'{}'", String::from_utf8_lossy(&bytes))
    } else {
        format!("{tag:#010x}")
    }
}

impl Allocation {
    /// "NDIS memory '`RvNc`' (64 bytes) from `NdisAllocateMemoryWithTagPriority` at `rvnic::x` (<file:line>)".
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} {} ({} bytes) from {} at {}",
            self.kind.name(),
            tag_str(self.tag),
            self.size,
            self.api,
            self.site.caller()
        )
    }
}

/// Everything the driver holds, by address or handle value.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Live allocations, by address or handle value.
    live: HashMap<usize, Allocation>,
    /// Allocations made, by kind (steady-state "allocations per frame" come from these).
    made: HashMap<Kind, u64>,
    /// Bytes of pool and NDIS memory live now, and the most ever live.
    pool_bytes: usize,
    /// The most pool and NDIS memory bytes ever live at once.
    peak_pool_bytes: usize,
    /// Live non-paged pool and NDIS memory blocks, by start address: their sizes (what an MDL may
    /// describe).
    non_paged: std::collections::BTreeMap<usize, usize>,
}

impl Tracker {
    /// The live allocation at `address`.
    #[must_use]
    pub fn get(&self, address: usize) -> Option<&Allocation> {
        self.live.get(&address)
    }

    /// Every live allocation.
    pub fn live(&self) -> impl Iterator<Item = &Allocation> {
        self.live.values()
    }

    /// Allocations made so far, by kind.
    #[must_use]
    pub fn made(&self) -> &HashMap<Kind, u64> {
        &self.made
    }

    /// Bytes of pool and NDIS memory live now.
    #[must_use]
    pub fn pool_bytes(&self) -> usize {
        self.pool_bytes
    }

    /// The most pool and NDIS memory bytes ever live at once.
    #[must_use]
    pub fn peak_pool_bytes(&self) -> usize {
        self.peak_pool_bytes
    }

    /// Records a new allocation at `address`.
    pub fn insert(&mut self, address: usize, allocation: Allocation) {
        *self.made.entry(allocation.kind).or_default() += 1;
        if matches!(allocation.kind, Kind::Pool | Kind::Memory) {
            self.pool_bytes += allocation.size;
            self.peak_pool_bytes = self.peak_pool_bytes.max(self.pool_bytes);
            if !allocation.paged {
                self.non_paged.insert(address, allocation.size);
            }
        }
        self.live.insert(address, allocation);
    }

    /// Forgets the allocation at `address`, returning it (`None`: nothing lives there).
    pub fn remove(&mut self, address: usize) -> Option<Allocation> {
        let a = self.live.remove(&address)?;
        if matches!(a.kind, Kind::Pool | Kind::Memory) {
            self.pool_bytes -= a.size;
            self.non_paged.remove(&address);
        }
        Some(a)
    }

    /// Live allocations made through the generic object at `parent`.
    pub fn children(&self, parent: usize) -> impl Iterator<Item = (&usize, &Allocation)> {
        self.live.iter().filter(move |(_, a)| a.parent == Some(parent))
    }

    /// Whether `[start, start + length)` lies inside one live non-paged pool or NDIS memory block.
    #[must_use]
    pub fn in_non_paged(&self, start: usize, length: usize) -> bool {
        self.non_paged
            .range(..=start)
            .next_back()
            .is_some_and(|(&base, &size)| start.checked_add(length).is_some_and(|end| end <= base + size))
    }

    /// The total number of allocations made so far (all kinds).
    #[must_use]
    pub fn total_made(&self) -> u64 {
        self.made.values().sum()
    }
}

/// What the verifier has found and which checks it makes: the violations recorded so far (kept
/// in order until a test takes them), the design rules this host checks besides NDIS's, and
/// whether the per-object checks are on ([`crate::HostBuilder::verifier`]).
#[derive(Debug, Default)]
pub(crate) struct Findings {
    violations: Vec<Violation>,
    design_rules: Vec<Rule>,
    per_object: bool,
}

impl Findings {
    pub fn new(design_rules: Vec<Rule>, per_object: bool) -> Self {
        Self {
            violations: Vec::new(),
            design_rules,
            per_object,
        }
    }

    /// Records a violation.
    pub fn record(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// The violations so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Takes the violations so far.
    pub fn take(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }

    /// Whether the design rule `rule` is checked.
    pub fn checks(&self, rule: Rule) -> bool {
        self.design_rules.contains(&rule)
    }

    /// Checks the design rule `rule` from now on.
    pub fn add_design_rule(&mut self, rule: Rule) {
        if !self.checks(rule) {
            self.design_rules.push(rule);
        }
    }

    /// Whether Driver Verifier's per-object checks are on.
    pub fn per_object(&self) -> bool {
        self.per_object
    }
}

/// The most kernel stack each driver entry point used in its outermost calls, in bytes.
#[derive(Debug, Default)]
pub(crate) struct Peaks(std::collections::HashMap<&'static str, usize>);

impl Peaks {
    /// One outermost call of `entry` used `used` bytes.
    pub fn record(&mut self, entry: &'static str, used: usize) {
        let peak = self.0.entry(entry).or_default();
        *peak = (*peak).max(used);
    }

    /// (entry point, bytes), largest first, then by name.
    pub fn sorted(&self) -> Vec<(&'static str, usize)> {
        let mut peaks: Vec<(&'static str, usize)> = self.0.iter().map(|(k, v)| (*k, *v)).collect();
        peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        peaks
    }
}
