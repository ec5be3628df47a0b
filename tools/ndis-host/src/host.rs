//! The host: one simulated NDIS with its driver, adapters, clock, CPUs and verifier.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ndis::*;

use crate::fault::Faults;
use crate::irql::{self, with_thread};
use crate::nbl::NblTracker;
use crate::timer::TimerTable;
use crate::verifier::{Findings, Kind, Owner, Rule, Tracker, Violation};

/// How the host runs the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread and a manual clock: timers fire only when the test advances time (or when the host
    /// waits for a pending completion); the same seed gives the same run.
    Deterministic,
    /// Real time: timers fire on a timer thread; [`Host::parallel`] runs callers on several CPUs.
    Concurrent,
}

/// When the host, as the protocol, returns NBLs the driver indicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnMode {
    /// From inside `NdisMIndicateReceiveNetBufferLists`, before it returns (as a protocol may).
    Inline,
    /// Only when the test calls [`Host::return_indicated`].
    Deferred,
}

/// Settings of a host.
#[derive(Debug, Clone)]
pub struct HostBuilder {
    pub(crate) mode: Mode,
    pub(crate) cpus: usize,
    pub(crate) seed: u64,
    pub(crate) return_mode: ReturnMode,
    pub(crate) capture_frames: bool,
    pub(crate) oid_irql: KIRQL,
    pub(crate) wait_limit: Duration,
    pub(crate) lock_spins: usize,
    pub(crate) design_rules: Vec<Rule>,
    pub(crate) verifier: bool,
    pub(crate) trace: bool,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            mode: Mode::Deterministic,
            cpus: 4,
            seed: 1,
            return_mode: ReturnMode::Inline,
            capture_frames: true,
            oid_irql: PASSIVE_LEVEL,
            wait_limit: Duration::from_secs(30),
            lock_spins: 0,
            design_rules: Vec::new(),
            verifier: true,
            trace: false,
        }
    }
}

impl HostBuilder {
    #[must_use]
    /// Deterministic (one thread, manual clock) or concurrent (real threads and time).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Number of CPUs the host reports and schedules on (1..=[`MAX_CPUS`]), numbered by their
    /// systemwide index: CPU 70 is processor 6 of group 1 (`KeGetCurrentProcessorNumberEx`).
    /// [`Host::add_processors`] adds more after the driver has started.
    #[must_use]
    pub fn cpus(mut self, cpus: usize) -> Self {
        self.cpus = cpus.clamp(1, MAX_CPUS);
        self
    }
    /// Seed of the host's choices (timer CPUs, the CPU of each send).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed.max(1);
        self
    }
    #[must_use]
    /// When the protocol side returns indicated NBLs.
    pub fn return_mode(mut self, mode: ReturnMode) -> Self {
        self.return_mode = mode;
        self
    }
    /// Keep a copy of every received frame (default) or only count them (for long runs).
    #[must_use]
    pub fn capture_frames(mut self, capture: bool) -> Self {
        self.capture_frames = capture;
        self
    }
    /// The IRQL OID requests are issued at (`PASSIVE_LEVEL` or `DISPATCH_LEVEL`; both are documented).
    #[must_use]
    pub fn oid_irql(mut self, irql: KIRQL) -> Self {
        self.oid_irql = irql.min(DISPATCH_LEVEL);
        self
    }
    /// Attempts to take the host's state lock before a thread parks on it (default 0: the standard
    /// mutex's own short spin only). A few thousand suit throughput runs with one busy thread per
    /// real core, where parking and waking costs more than waiting; with more busy threads than
    /// cores (a TAP bridge next to iperf3) spinning only takes time from the lock's holder.
    #[must_use]
    pub fn lock_spins(mut self, spins: usize) -> Self {
        self.lock_spins = spins;
        self
    }

    /// Also checks `rule`, a rule of a driver's own design ([`Rule::is_design_rule`]); the rules
    /// Windows has are always checked.
    #[must_use]
    pub fn design_rule(mut self, rule: Rule) -> Self {
        if !self.design_rules.contains(&rule) {
            self.design_rules.push(rule);
        }
        self
    }

    /// Driver Verifier's per-object checks on (the default) or off, as Windows runs without it.
    /// Off, the host keeps no per-NBL ownership records (double completions, NBLs touched after
    /// completion or indicated twice go unseen), poisons and quarantines nothing the driver frees,
    /// captures no allocation backtraces and measures no kernel stack peaks. IRQL rules, the
    /// lifecycle's rules, the kernel stack's guard page and the leak check at halt stay.
    #[must_use]
    pub fn verifier(mut self, on: bool) -> Self {
        self.verifier = on;
        self
    }

    /// Records every driver entry the host calls and every NDIS function the driver calls
    /// ([`Host::trace`]); the `NDIS_HOST_TRACE` environment variable turns it on too and echoes
    /// each line to stderr. Off by default.
    #[must_use]
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// How long (virtual time in deterministic mode, real time otherwise) the host waits for a
    /// pending operation before reporting it never completed.
    #[must_use]
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = limit;
        self
    }

    /// Creates the host. Only one host exists in a process at a time (real NDIS loads a driver once,
    /// and drivers keep global state): this waits for any other to finish.
    #[must_use]
    pub fn build(self) -> Host {
        let exclusive = HOST_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        crate::trace::configure(self.trace);
        let inner = Arc::new(Inner {
            cpu_owner: (0..MAX_CPUS).map(|_| AtomicU64::new(0)).collect(),
            active_cpus: AtomicUsize::new(self.cpus),
            mapping_plan: AtomicBool::new(false),
            state: Mutex::new(State::new(self.seed, self.design_rules.clone(), self.verifier)),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            timers_changed: Condvar::new(),
            dpcs_changed: Condvar::new(),
            manual_clock: AtomicU64::new(0),
            started: Instant::now(),
            stop: AtomicBool::new(false),
            config: self,
        });
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&inner));
        crate::dpc::reset();
        with_thread(|t| {
            t.cpu = 0;
            t.irql = PASSIVE_LEVEL;
            t.adapter = None;
            t.held_locks.clear();
        });
        let threads = if inner.config.mode == Mode::Concurrent {
            // The timer thread, and a DPC thread per processor (up to eight): each processor runs
            // its own DPC queue, so DPCs aimed at different processors run at once.
            let mut threads = vec![crate::timer::spawn_timer_thread(&inner)];
            threads.extend((0..inner.cpus().min(8)).map(|i| crate::dpc::spawn_dpc_thread(&inner, i)));
            threads
        } else {
            Vec::new()
        };
        Host {
            inner,
            threads,
            finished: false,
            _exclusive: exclusive,
        }
    }
}

/// The most processors Windows supports: 32 groups of 64 (`MAXIMUM_PROC_PER_GROUP`).
pub const MAX_CPUS: usize = 2048;
/// Processors per group (`MAXIMUM_PROC_PER_GROUP`).
pub const CPUS_PER_GROUP: usize = 64;

static HOST_LOCK: Mutex<()> = Mutex::new(());
static CURRENT: RwLock<Option<Arc<Inner>>> = RwLock::new(None);

/// The live host, for the exports. A driver calling NDIS with no host alive is a broken test
/// harness, not a driver bug: report and stop.
pub(crate) fn current() -> Arc<Inner> {
    let guard = CURRENT.read().unwrap_or_else(PoisonError::into_inner);
    match guard.as_ref() {
        Some(inner) => Arc::clone(inner),
        None => crate::fatal("an NDIS function was called while no ndis-host Host is alive"),
    }
}

/// The loaded driver as NDIS knows it: the driver object and registry path `DriverEntry` got
/// (boxed here, alive until the host drops), what it registered, the kernel image it runs from,
/// and whether it was unloaded. A load starts afresh; an unload is final for that load.
#[derive(Default)]
pub(crate) struct LoadedDriver {
    registration: Option<crate::exports::Registration>,
    object: Option<Box<DRIVER_OBJECT>>,
    registry_path: Option<(Box<[u16]>, Box<UNICODE_STRING>)>,
    unloaded: bool,
    /// The kernel image the driver runs from, when it is not the linked one: kept mapped until the
    /// host finishes.
    #[cfg(target_arch = "x86_64")]
    image: Option<crate::image::Image>,
}

impl LoadedDriver {
    /// A driver is loaded and not unloaded.
    pub fn is_loaded(&self) -> bool {
        self.object.is_some() && !self.unloaded
    }

    /// Its unload ran (or its `DriverEntry` failed).
    pub fn is_unloaded(&self) -> bool {
        self.unloaded
    }

    /// Starts a load: a fresh driver object and registry path for `DriverEntry`, nothing
    /// registered. Returns the pointers `DriverEntry` gets (alive as long as this part).
    pub fn begin(&mut self, registry_path: &str) -> (*mut DRIVER_OBJECT, *mut UNICODE_STRING) {
        let mut object = Box::new(DRIVER_OBJECT { Opaque: [0; 42] });
        let mut text: Box<[u16]> = registry_path.encode_utf16().collect();
        let bytes = u16::try_from(text.len() * 2).expect("registry path fits a UNICODE_STRING");
        let mut path = Box::new(UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: text.as_mut_ptr(),
        });
        let pointers = (&raw mut *object, &raw mut *path);
        self.object = Some(object);
        self.registry_path = Some((text, path));
        self.unloaded = false;
        self.registration = None;
        pointers
    }

    /// The load ended: `DriverEntry` failed or the unload handler ran.
    pub fn mark_unloaded(&mut self) {
        self.unloaded = true;
    }

    /// The driver object's address (what the driver must pass back), if any.
    pub fn object_address(&self) -> Option<usize> {
        self.object.as_ref().map(|o| std::ptr::from_ref(&**o) as usize)
    }

    /// What the driver registered.
    pub fn registration(&self) -> Option<&crate::exports::Registration> {
        self.registration.as_ref()
    }

    pub fn registration_mut(&mut self) -> Option<&mut crate::exports::Registration> {
        self.registration.as_mut()
    }

    /// Records a registration (`NdisMRegisterMiniportDriver`).
    pub fn register(&mut self, registration: crate::exports::Registration) {
        self.registration = Some(registration);
    }

    /// Keeps the kernel image mapped for this load.
    #[cfg(target_arch = "x86_64")]
    pub fn set_image(&mut self, image: crate::image::Image) {
        self.image = Some(image);
    }

    #[cfg(target_arch = "x86_64")]
    pub fn image(&self) -> Option<&crate::image::Image> {
        self.image.as_ref()
    }

    /// Unmaps the kernel image (when no thread runs its code any more).
    #[cfg(target_arch = "x86_64")]
    pub fn drop_image(&mut self) {
        drop(self.image.take());
    }
}

/// Everything behind the host's lock: one part per concern, each a type that keeps its own
/// invariant behind its methods (a load starts afresh and an unload is final; a handle always
/// names its adapter; violations only accumulate until taken; a freed block is checked before it
/// is returned; live allocations and fault counts change only as allocations happen). The one
/// record with open fields is an adapter's own (`AdapterSlot`), NDIS's per-adapter state
/// machine, which the adapter module and its exports drive.
pub(crate) struct State {
    /// The driver: its object, registration and image (`exports.rs`, `host/handle.rs`).
    pub driver: LoadedDriver,
    /// The most kernel stack each driver entry point used (outermost calls), in bytes.
    pub stack_peaks: crate::verifier::Peaks,
    /// The adapters and their handles (`adapter.rs` and its exports).
    pub adapters: crate::adapter::Adapters,
    /// Live driver allocations, by address (`memory.rs`, `nbl.rs`, `timer.rs`).
    pub tracker: Tracker,
    /// Violations, design rules and the per-object switch: the verifier's own part.
    pub findings: Findings,
    /// The fault plan and what it failed (`fault.rs`).
    pub faults: Faults,
    /// `DbgPrint` output, in order.
    pub debug: Vec<String>,
    /// NDIS timer objects (`timer.rs`).
    pub timers: TimerTable,
    /// DPC objects (`dpc.rs`).
    pub dpcs: crate::dpc::DpcTable,
    /// `NDIS_EVENT`s (`sync.rs`).
    pub events: crate::sync::Events,
    /// Open configuration handles and the values read through them (`config.rs`).
    pub configs: crate::config::Configs,
    /// NBL pools, the host's sends and the driver's indications (`nbl.rs`).
    pub nbls: NblTracker,
    /// Freed driver memory held poisoned (`memory.rs`).
    pub quarantine: crate::memory::Quarantine,
    /// The host's only source of choices ([`State::random`]).
    rng: u64,
}

// SAFETY: the raw pointers in the state (the boxed driver object and registry path, the adapters'
// init parameters, configuration values) point to memory the state itself owns, or to driver memory
// NDIS may touch from any thread; every access goes through the host's mutex. Moving the state between
// threads moves only the ownership of those boxes.
unsafe impl Send for State {}

impl State {
    fn new(seed: u64, design_rules: Vec<Rule>, verifier: bool) -> Self {
        Self {
            driver: LoadedDriver::default(),
            stack_peaks: crate::verifier::Peaks::default(),
            adapters: crate::adapter::Adapters::default(),
            tracker: Tracker::default(),
            findings: Findings::new(design_rules, verifier),
            faults: Faults::default(),
            debug: Vec::new(),
            timers: TimerTable::default(),
            dpcs: crate::dpc::DpcTable::default(),
            events: crate::sync::Events::default(),
            configs: crate::config::Configs::default(),
            nbls: NblTracker::default(),
            quarantine: crate::memory::Quarantine::default(),
            rng: seed,
        }
    }

    /// Records a violation, at the calling thread's IRQL; without an explicit adapter, it names the
    /// adapter whose callback the thread is in.
    pub fn violate(
        &mut self,
        rule: Rule,
        api: &'static str,
        adapter: Option<usize>,
        detail: impl Into<String>,
    ) {
        let adapter = adapter.or_else(|| with_thread(|t| t.adapter));
        self.findings.record(Violation {
            rule,
            api,
            adapter,
            irql: irql::current(),
            detail: detail.into(),
        });
    }

    /// xorshift64: the host's only source of choices.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// The owner of something allocated now on this thread.
    pub fn owner() -> Owner {
        with_thread(|t| t.adapter).map_or(Owner::Driver, Owner::Adapter)
    }

    /// Tracks a new driver allocation (owned by the adapter whose callback runs, or the driver).
    pub fn track(
        &mut self,
        address: usize,
        kind: Kind,
        api: &'static str,
        tag: u32,
        size: usize,
        parent: Option<usize>,
    ) {
        self.track_pool(address, kind, api, tag, size, parent, false);
    }

    /// [`Self::track`], saying whether the memory is paged pool.
    #[allow(clippy::too_many_arguments, reason = "one field of the record each")]
    pub fn track_pool(
        &mut self,
        address: usize,
        kind: Kind,
        api: &'static str,
        tag: u32,
        size: usize,
        parent: Option<usize>,
        paged: bool,
    ) {
        let allocation = crate::verifier::Allocation {
            kind,
            api,
            tag,
            size,
            owner: Self::owner(),
            parent,
            paged,
            irql: irql::current(),
            site: if self.findings.per_object() {
                crate::verifier::Site::here()
            } else {
                crate::verifier::Site::unknown()
            },
        };
        self.tracker.insert(address, allocation);
    }

    /// Checks a versioned structure's header (type, and at least `revision` and `size`); records a
    /// `BadParameter` violation and returns false when it is not what NDIS requires.
    pub fn check_header(
        &mut self,
        api: &'static str,
        header: NDIS_OBJECT_HEADER,
        ty: u8,
        revision: u8,
        size: u16,
    ) -> bool {
        let ok = header.Type == ty && header.Revision >= revision && header.Size >= size;
        if !ok {
            self.violate(
                Rule::BadParameter,
                api,
                None,
                format!("bad header {header:?} (need type {ty}, revision >= {revision}, size >= {size})"),
            );
        }
        ok
    }

    /// The adapter index of a miniport adapter handle.
    pub fn adapter_of(&self, handle: NDIS_HANDLE) -> Option<usize> {
        self.adapters.of_handle(handle)
    }
}

/// A registered waiter of [`Inner::notify`]; unregisters on drop.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) struct Inner {
    pub config: HostBuilder,
    /// The thread that holds each CPU at `DISPATCH_LEVEL` (0: none), for every CPU there may be.
    pub cpu_owner: Box<[AtomicU64]>,
    /// Active processors: the builder's count, plus any added since ([`Host::add_processors`]).
    pub active_cpus: AtomicUsize,
    /// A fault plan for [`Kind::Mapping`] is in force: only then does `NdisGetDataBuffer` take the
    /// state lock to count itself (it runs twice per frame on the datapath).
    pub mapping_plan: AtomicBool,
    pub state: Mutex<State>,
    /// Signalled (through [`Inner::notify`]) whenever a completion arrives or a timer changes state.
    changed: Condvar,
    /// Threads waiting on `changed`: a notification with none is skipped (a futex wake is a system
    /// call, and the datapath notifies on every send and completion).
    waiters: AtomicUsize,
    /// Signalled when a timer is set, cancelled or freed, or the host stops: the timer thread's
    /// wake-up, kept apart so the datapath's notifications do not wake it.
    pub timers_changed: Condvar,
    /// Signalled when a DPC is queued or the host stops: the DPC threads' wake-up.
    pub dpcs_changed: Condvar,
    manual_clock: AtomicU64,
    started: Instant,
    pub stop: AtomicBool,
}

impl Inner {
    /// Active processors now.
    pub fn cpus(&self) -> usize {
        self.active_cpus.load(Ordering::Acquire)
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // The state is held for microseconds at a time: with a thread per core, spinning that long
        // costs less than parking the thread and waking it (see `HostBuilder::lock_spins`).
        for _ in 0..self.config.lock_spins {
            match self.state.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a violation (takes the lock: never call with it held).
    pub fn violate(&self, rule: Rule, api: &'static str, adapter: Option<usize>, detail: impl Into<String>) {
        self.lock().violate(rule, api, adapter, detail);
    }

    /// Checks the calling thread's IRQL against `api`'s documented limit; false (and a violation) when
    /// the call must not proceed.
    pub fn check_irql(&self, api: &'static str) -> bool {
        let Some(rule) = irql::rule(api) else {
            crate::fatal(&format!("{api} has no row in the IRQL table"));
        };
        let now = irql::current();
        if irql::allowed(rule.limit, now) {
            return true;
        }
        let adapter = with_thread(|t| t.adapter);
        self.violate(
            Rule::Irql,
            api,
            adapter,
            format!(
                "called at {}; documented limit {}{} ({})",
                irql::name(now),
                rule.limit,
                if rule.note.is_empty() {
                    String::new()
                } else {
                    format!(", {}", rule.note)
                },
                irql::doc_url(rule)
            ),
        );
        false
    }

    /// Time since the host started, in 100 ns units (manual in deterministic mode).
    pub fn now(&self) -> u64 {
        match self.config.mode {
            Mode::Deterministic => self.manual_clock.load(Ordering::Acquire),
            Mode::Concurrent => u64::try_from(self.started.elapsed().as_nanos() / 100).unwrap_or(u64::MAX),
        }
    }

    pub fn set_manual_clock(&self, ticks: u64) {
        self.manual_clock.fetch_max(ticks, Ordering::AcqRel);
    }

    /// Moves this thread to `new` IRQL, taking or giving up its CPU at the `DISPATCH_LEVEL` boundary.
    pub fn set_irql(&self, new: KIRQL) {
        let (old, cpu, token) = with_thread(|t| (t.irql, t.cpu, t.token));
        if old < DISPATCH_LEVEL && new >= DISPATCH_LEVEL {
            let owner = &self.cpu_owner[cpu % self.cpu_owner.len()];
            // Acquire: pairs with the Release below, so this thread sees what the previous owner of
            // the CPU wrote while it had it (as a real CPU would).
            while owner
                .compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                std::thread::yield_now();
            }
        } else if old >= DISPATCH_LEVEL && new < DISPATCH_LEVEL {
            self.cpu_owner[cpu % self.cpu_owner.len()].store(0, Ordering::Release);
        }
        with_thread(|t| t.irql = new);
    }

    /// Calls into the driver as NDIS does: at `irql`, on this thread's CPU, on behalf of `adapter`;
    /// afterwards checks the callback returned at the IRQL it was called at and holds no spin lock.
    pub fn call<R>(
        &self,
        callback: &'static str,
        adapter: Option<usize>,
        irql: KIRQL,
        f: impl FnOnce() -> R,
    ) -> R {
        let (saved_irql, saved_adapter, locks_before) =
            with_thread(|t| (t.irql, t.adapter, t.held_locks.len()));
        self.set_irql(irql);
        with_thread(|t| t.adapter = adapter);
        let entered = crate::trace::driver_entry(callback, adapter, irql);
        let result = self.on_kernel_stack(callback, adapter, f);
        drop(entered);
        let (after, held) = with_thread(|t| {
            (
                t.irql,
                t.held_locks.split_off(locks_before.min(t.held_locks.len())),
            )
        });
        if !held.is_empty() {
            self.violate(
                Rule::SpinLock,
                callback,
                adapter,
                format!("returned holding {} spin lock(s) at {held:#x?}", held.len()),
            );
            for lock in held {
                crate::sync::force_release(lock);
            }
        }
        if after != irql {
            self.violate(
                Rule::IrqlNotRestored,
                callback,
                adapter,
                format!(
                    "called at {}, returned at {}",
                    irql::name(irql),
                    irql::name(after)
                ),
            );
        }
        with_thread(|t| t.irql = after);
        self.set_irql(saved_irql);
        with_thread(|t| t.adapter = saved_adapter);
        if saved_irql < DISPATCH_LEVEL {
            // Back below DISPATCH_LEVEL: the DPCs the call queued run (deterministic mode).
            crate::dpc::run_queued(self);
        }
        result
    }

    /// Runs a driver call on the thread's kernel stack ([`crate::stack`]), records the outermost
    /// call's stack use for its entry point, and turns an overflow into a violation and a panic.
    #[cfg(target_arch = "x86_64")]
    #[allow(
        clippy::single_match_else,
        reason = "a call that returned, or one that overflowed: two outcomes of one call"
    )]
    fn on_kernel_stack<R>(&self, callback: &'static str, adapter: Option<usize>, f: impl FnOnce() -> R) -> R {
        let peak = |used: usize| {
            self.lock().stack_peaks.record(callback, used);
        };
        match crate::stack::on_kernel_stack(f, self.config.verifier.then_some(peak)) {
            Ok(result) => result,
            Err(crate::stack::Overflow) => {
                let detail = format!(
                    "{callback} overflowed its {} KiB kernel stack (touched the guard page below it)",
                    crate::stack::KERNEL_STACK / 1024
                );
                self.violate(Rule::StackOverflow, callback, adapter, detail.clone());
                panic!("ndis-host: {detail}");
            }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn on_kernel_stack<R>(
        &self,
        _callback: &'static str,
        _adapter: Option<usize>,
        f: impl FnOnce() -> R,
    ) -> R {
        f()
    }

    /// Wakes the threads waiting for a change ([`Self::wait_for`]), if there are any. Call it after
    /// the change, with the state unlocked.
    pub fn notify(&self) {
        // `wait_for` registers while holding the state lock and checks its condition under it, so it
        // either saw the change already or is counted here (the notifier locked after it). The
        // host's own polling waits check without the lock and so wake at least every 5 ms anyway.
        if self.waiters.load(Ordering::Relaxed) > 0 {
            self.changed.notify_all();
        }
    }

    /// Registers the calling thread as a waiter for the guard's lifetime.
    fn waiting(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.waiters)
    }

    /// Waits on `changed` for at most `limit` (the caller holds a [`Waiting`] guard).
    fn wait_changed<'a>(&self, state: MutexGuard<'a, State>, limit: Duration) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(state, limit)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Waits until `done` holds. Deterministic mode runs due timers, advancing the clock, up to the
    /// wait limit of virtual time; concurrent mode waits up to the limit of real time. False if the
    /// condition never held.
    pub fn wait_for(&self, done: impl FnMut(&State) -> bool) -> bool {
        self.wait_for_limited(None, done)
    }

    /// [`Self::wait_for`] with a shorter limit than the host's (`None`: the host's).
    pub fn wait_for_limited(&self, limit: Option<Duration>, mut done: impl FnMut(&State) -> bool) -> bool {
        let limit = limit.map_or(self.config.wait_limit, |l| l.min(self.config.wait_limit));
        match self.config.mode {
            Mode::Deterministic => {
                let deadline = self.now() + u64::try_from(limit.as_nanos() / 100).unwrap_or(u64::MAX);
                loop {
                    if done(&self.lock()) {
                        return true;
                    }
                    if !crate::dpc::run_next(self) && !crate::timer::fire_next(self, deadline) {
                        return done(&self.lock());
                    }
                }
            }
            Mode::Concurrent => {
                let end = Instant::now() + limit;
                let mut state = self.lock();
                let _waiting = self.waiting();
                while !done(&state) {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    state = self.wait_changed(state, left.min(Duration::from_millis(50)));
                }
                true
            }
        }
    }
}

mod handle;
#[allow(unused_imports, reason = "the parts' items, under the module's old paths")]
pub use handle::*;
