//! The host: one simulated NDIS with its driver, adapters, clock, CPUs and verifier.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ndis::*;

use crate::adapter::AdapterSlot;
use crate::fault::Faults;
use crate::irql::{self, with_thread};
use crate::nbl::NblTracker;
use crate::timer::TimerTable;
use crate::verifier::{Kind, Owner, Rule, Tracker, Violation};

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
        }
    }
}

impl HostBuilder {
    #[must_use]
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
    /// The IRQL OID requests are issued at (PASSIVE_LEVEL or DISPATCH_LEVEL; both are documented).
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
        let inner = Arc::new(Inner {
            cpu_owner: (0..MAX_CPUS).map(|_| AtomicU64::new(0)).collect(),
            active_cpus: AtomicUsize::new(self.cpus),
            mapping_plan: AtomicBool::new(false),
            state: Mutex::new(State::new(self.seed, self.design_rules.clone())),
            changed: Condvar::new(),
            waiters: AtomicUsize::new(0),
            timers_changed: Condvar::new(),
            manual_clock: AtomicU64::new(0),
            started: Instant::now(),
            stop: AtomicBool::new(false),
            config: self,
        });
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&inner));
        with_thread(|t| {
            t.cpu = 0;
            t.irql = PASSIVE_LEVEL;
            t.adapter = None;
            t.held_locks.clear();
        });
        let timer_thread =
            (inner.config.mode == Mode::Concurrent).then(|| crate::timer::spawn_timer_thread(&inner));
        Host {
            inner,
            timer_thread,
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

/// Everything behind the host's lock.
pub(crate) struct State {
    pub registration: Option<crate::exports::Registration>,
    pub driver_object: Option<Box<DRIVER_OBJECT>>,
    /// The most kernel stack each driver entry point used (outermost calls), in bytes.
    pub stack_peaks: HashMap<&'static str, usize>,
    /// The kernel image the driver runs from, when it is not the linked one: kept mapped until the
    /// host finishes.
    #[cfg(target_arch = "x86_64")]
    pub image: Option<crate::image::Image>,
    pub registry_path: Option<(Box<[u16]>, Box<UNICODE_STRING>)>,
    pub driver_unloaded: bool,
    pub adapters: Vec<AdapterSlot>,
    pub handles: HashMap<usize, usize>,
    pub tracker: Tracker,
    pub violations: Vec<Violation>,
    pub faults: Faults,
    pub debug: Vec<String>,
    pub timers: TimerTable,
    pub events: HashMap<usize, bool>,
    pub configs: crate::config::Configs,
    pub nbls: NblTracker,
    pub quarantine: VecDeque<crate::memory::Quarantined>,
    pub rng: u64,
    /// The design rules this host checks besides NDIS's ([`HostBuilder::design_rule`]).
    pub design_rules: Vec<Rule>,
}

// SAFETY: the raw pointers in the state (the boxed driver object and registry path, the adapters'
// init parameters, configuration values) point to memory the state itself owns, or to driver memory
// NDIS may touch from any thread; every access goes through the host's mutex. Moving the state between
// threads moves only the ownership of those boxes.
unsafe impl Send for State {}

impl State {
    fn new(seed: u64, design_rules: Vec<Rule>) -> Self {
        Self {
            registration: None,
            driver_object: None,
            stack_peaks: HashMap::new(),
            #[cfg(target_arch = "x86_64")]
            image: None,
            registry_path: None,
            driver_unloaded: false,
            adapters: Vec::new(),
            handles: HashMap::new(),
            tracker: Tracker::default(),
            violations: Vec::new(),
            faults: Faults::default(),
            debug: Vec::new(),
            timers: TimerTable::default(),
            events: HashMap::new(),
            configs: crate::config::Configs::default(),
            nbls: NblTracker::default(),
            quarantine: VecDeque::new(),
            rng: seed,
            design_rules,
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
        self.violations.push(Violation {
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
            site: crate::verifier::Site::here(),
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
        self.handles.get(&(handle as usize)).copied()
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
    /// The thread that holds each CPU at DISPATCH_LEVEL (0: none), for every CPU there may be.
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

    /// Moves this thread to `new` IRQL, taking or giving up its CPU at the DISPATCH_LEVEL boundary.
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
        let result = self.on_kernel_stack(callback, adapter, f);
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
        result
    }

    /// Runs a driver call on the thread's kernel stack ([`crate::stack`]), records the outermost
    /// call's stack use for its entry point, and turns an overflow into a violation and a panic.
    #[cfg(target_arch = "x86_64")]
    fn on_kernel_stack<R>(&self, callback: &'static str, adapter: Option<usize>, f: impl FnOnce() -> R) -> R {
        let peak = |used: usize| {
            let mut st = self.lock();
            let entry = st.stack_peaks.entry(callback).or_default();
            *entry = (*entry).max(used);
        };
        match crate::stack::on_kernel_stack(f, peak) {
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
                    if !crate::timer::fire_next(self, deadline) {
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

/// The simulated NDIS. Create it with [`Host::builder`]; load a driver; add adapters; finish it to
/// read the verifier's verdict (dropping an unfinished host finishes it and fails the test on any
/// violation).
pub struct Host {
    pub(crate) inner: Arc<Inner>,
    timer_thread: Option<std::thread::JoinHandle<()>>,
    finished: bool,
    _exclusive: MutexGuard<'static, ()>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("mode", &self.inner.config.mode)
            .field("cpus", &self.cpus())
            .finish()
    }
}

/// Why a driver did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// `DriverEntry` returned this failure status.
    DriverEntryFailed(NTSTATUS),
    /// `DriverEntry` returned success without registering a miniport driver.
    NotRegistered,
    /// A driver is already loaded in this host.
    AlreadyLoaded,
    /// The kernel image could not be loaded.
    #[cfg(target_arch = "x86_64")]
    Image(crate::image::ImageError),
}

/// A driver to run: the one linked into this process (its `DriverEntry`), or a kernel image loaded
/// from a file (`rvnic.sys`, see [`crate::image`]). Either runs behind the same host API.
#[derive(Debug, Clone)]
pub enum Driver {
    Linked(DRIVER_INITIALIZE),
    /// x86-64 only: the image's code runs natively.
    Image(std::path::PathBuf),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DriverEntryFailed(s) => write!(f, "DriverEntry failed with {:#010x}", *s as u32),
            Self::NotRegistered => f.write_str("DriverEntry succeeded but registered no miniport driver"),
            Self::AlreadyLoaded => f.write_str("a driver is already loaded in this host"),
            #[cfg(target_arch = "x86_64")]
            Self::Image(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The registry path NDIS passes for a service named `rvnic`.
pub const REGISTRY_PATH: &str = r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\rvnic";

/// What the verifier found, once the host is finished.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    /// Allocations made during the whole run, by kind.
    pub allocations: HashMap<Kind, u64>,
    /// The most pool bytes (ExAllocatePool2 + NdisAllocateMemoryWithTagPriority) live at once.
    pub peak_pool_bytes: usize,
}

impl Verdict {
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
    /// The violations of one rule.
    #[must_use]
    pub fn of(&self, rule: Rule) -> Vec<&Violation> {
        self.violations.iter().filter(|v| v.rule == rule).collect()
    }
    /// One line per violation.
    #[must_use]
    pub fn report(&self) -> String {
        self.violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Host {
    #[must_use]
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A deterministic host with 4 CPUs.
    #[must_use]
    pub fn new() -> Self {
        HostBuilder::default().build()
    }

    #[must_use]
    pub fn mode(&self) -> Mode {
        self.inner.config.mode
    }

    /// Active processors now.
    #[must_use]
    pub fn cpus(&self) -> usize {
        self.inner.cpus()
    }

    /// Adds `n` processors (up to [`MAX_CPUS`] in all), as Windows does when a processor is
    /// hot-added: drivers see them in `KeQueryActiveProcessorCountEx` and code runs on them
    /// ([`Self::on_cpu`]) from now on. Returns the new count.
    pub fn add_processors(&self, n: usize) -> usize {
        let new = (self.cpus() + n).min(MAX_CPUS);
        self.inner.active_cpus.store(new, Ordering::Release);
        new
    }

    /// Loads a driver: calls its `DriverEntry` at PASSIVE_LEVEL with a host-made driver object and
    /// registry path, as the I/O manager does.
    /// Loads `driver`: calls the linked `DriverEntry`, or maps the kernel image, binds its imports
    /// to this host and calls its `DriverEntry`.
    pub fn load_driver(&self, driver: &Driver) -> Result<(), LoadError> {
        match driver {
            Driver::Linked(entry) => self.load(*entry),
            #[cfg(target_arch = "x86_64")]
            Driver::Image(path) => {
                {
                    let st = self.inner.lock();
                    if st.driver_object.is_some() && !st.driver_unloaded {
                        return Err(LoadError::AlreadyLoaded);
                    }
                }
                let image = crate::image::Image::load(path).map_err(LoadError::Image)?;
                let entry = image.entry();
                self.inner.lock().image = Some(image);
                self.load(entry)
            }
            #[cfg(not(target_arch = "x86_64"))]
            Driver::Image(path) => panic!("{}: a kernel image runs only on x86-64 hosts", path.display()),
        }
    }

    /// Where the loaded kernel image is mapped (address, bytes), if the driver is one.
    #[must_use]
    pub fn image_range(&self) -> Option<(usize, usize)> {
        #[cfg(target_arch = "x86_64")]
        {
            self.inner.lock().image.as_ref().map(crate::image::Image::range)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// Calls a linked driver's `DriverEntry` (see [`Self::load_driver`]).
    pub fn load(&self, entry: DRIVER_INITIALIZE) -> Result<(), LoadError> {
        let (object, path): (*mut DRIVER_OBJECT, *mut UNICODE_STRING) = {
            let mut st = self.inner.lock();
            if st.driver_object.is_some() && !st.driver_unloaded {
                return Err(LoadError::AlreadyLoaded);
            }
            let mut object = Box::new(DRIVER_OBJECT { Opaque: [0; 42] });
            let mut text: Box<[u16]> = REGISTRY_PATH.encode_utf16().collect();
            let bytes = u16::try_from(text.len() * 2).expect("registry path fits a UNICODE_STRING");
            let mut path = Box::new(UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes,
                Buffer: text.as_mut_ptr(),
            });
            let pointers = (&raw mut *object, &raw mut *path);
            st.driver_object = Some(object);
            st.registry_path = Some((text, path));
            st.driver_unloaded = false;
            st.registration = None;
            pointers
        };
        // The driver object and path are boxed in the host state and stay there until the host drops.
        // `entry` is a DriverEntry; it is called once, at PASSIVE_LEVEL, with valid pointers.
        let status = self
            .inner
            // SAFETY: the driver's handler with arguments alive for the call, at PASSIVE_LEVEL.
            .call("DriverEntry", None, irql::callback::PASSIVE, || unsafe {
                entry(object, path)
            });
        if status != STATUS_SUCCESS {
            self.inner.lock().driver_unloaded = true;
            return Err(LoadError::DriverEntryFailed(status));
        }
        if self.inner.lock().registration.is_none() {
            return Err(LoadError::NotRegistered);
        }
        Ok(())
    }

    /// The characteristics the driver registered.
    pub fn with_registration<R>(&self, f: impl FnOnce(&crate::exports::Registration) -> R) -> Option<R> {
        self.inner.lock().registration.as_ref().map(f)
    }

    /// Halts what is still running and unloads the driver (as NDIS does when the last adapter goes).
    pub fn unload(&self) {
        let live: Vec<usize> = {
            let st = self.inner.lock();
            st.adapters.iter().filter(|a| a.is_live()).map(|a| a.id).collect()
        };
        for id in live {
            let adapter = crate::Adapter(id);
            if self.adapter_phase(adapter) == crate::Phase::Running {
                self.pause(adapter);
            }
            self.halt(adapter, NdisHaltDeviceDisabled);
        }
        let (unload, object) = {
            let st = self.inner.lock();
            if st.driver_unloaded {
                return;
            }
            let object = st
                .driver_object
                .as_ref()
                .map_or(std::ptr::null_mut(), |o| std::ptr::from_ref(&**o).cast_mut());
            (
                st.registration
                    .as_ref()
                    .and_then(|r| r.characteristics.UnloadHandler),
                object,
            )
        };
        if let Some(unload) = unload {
            // The driver's registered unload handler, called once at PASSIVE_LEVEL with the
            // driver object it was loaded with (alive in the host state).
            self.inner
                // SAFETY: the driver's handler with arguments alive for the call, at PASSIVE_LEVEL.
                .call("MiniportDriverUnload", None, irql::callback::PASSIVE, || unsafe {
                    unload(object)
                });
        }
        let mut st = self.inner.lock();
        st.driver_unloaded = true;
        if st.registration.as_ref().is_some_and(|r| !r.deregistered) {
            st.violate(
                Rule::Leak,
                "MiniportDriverUnload",
                None,
                "the driver did not call NdisMDeregisterMiniportDriver",
            );
        }
    }

    /// Also checks `rule` from now on (see [`HostBuilder::design_rule`]).
    pub fn enforce_design_rule(&self, rule: Rule) {
        let mut st = self.inner.lock();
        if !st.design_rules.contains(&rule) {
            st.design_rules.push(rule);
        }
    }

    /// The most kernel stack each driver entry point has used so far (its outermost calls), in
    /// bytes, largest first: what the painted 24 KiB kernel stacks measured ([`crate::stack`]).
    /// Empty on hosts other than x86-64, where driver calls run on the caller's stack.
    #[must_use]
    pub fn stack_peaks(&self) -> Vec<(&'static str, usize)> {
        let mut peaks: Vec<(&'static str, usize)> = self
            .inner
            .lock()
            .stack_peaks
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        peaks
    }

    /// Violations found so far (the host keeps them).
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.lock().violations.clone()
    }

    /// Removes and returns the violations found so far (for tests that expect some).
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.inner.lock().violations)
    }

    /// `DbgPrint` output since the last call.
    pub fn take_debug_output(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().debug)
    }

    /// Allocations the driver has made, by kind.
    #[must_use]
    pub fn allocations_made(&self) -> HashMap<Kind, u64> {
        self.inner.lock().tracker.made.clone()
    }

    /// What the driver holds now, allocation by allocation.
    #[must_use]
    pub fn live_allocations(&self) -> Vec<crate::verifier::Allocation> {
        self.inner.lock().tracker.live.values().cloned().collect()
    }

    /// Pool bytes (ExAllocatePool2 and NdisAllocateMemoryWithTagPriority) the driver holds now.
    #[must_use]
    pub fn pool_bytes(&self) -> usize {
        self.inner.lock().tracker.pool_bytes
    }

    /// Runs `f` with this thread on `cpu` (so `KeGetCurrentProcessorNumberEx` reports it).
    pub fn on_cpu<R>(&self, cpu: usize, f: impl FnOnce() -> R) -> R {
        let saved = with_thread(|t| {
            assert!(
                t.irql < DISPATCH_LEVEL,
                "cannot migrate a thread at DISPATCH_LEVEL"
            );
            std::mem::replace(&mut t.cpu, cpu % self.cpus())
        });
        let result = f();
        with_thread(|t| t.cpu = saved);
        result
    }

    /// Runs `f` with this thread raised to `irql` (taking its CPU at DISPATCH_LEVEL and above), as
    /// driver code running at that IRQL would.
    pub fn at_irql<R>(&self, irql: KIRQL, f: impl FnOnce() -> R) -> R {
        let saved = irql::current();
        self.inner.set_irql(irql);
        let result = f();
        self.inner.set_irql(saved);
        result
    }

    /// Runs `f(i)` on `threads` threads at once, thread i on CPU `i % cpus` (concurrent stress).
    /// Each thread calls into the host like the test thread does.
    pub fn parallel<R: Send>(&self, threads: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
        let cpus = self.cpus();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let f = &f;
                    s.spawn(move || {
                        with_thread(|t| t.cpu = i % cpus);
                        f(i)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// Waits until `done()` holds: deterministic mode fires due timers (advancing the clock) while it
    /// waits, concurrent mode waits in real time; both give up after the host's wait limit.
    pub fn wait_until(&self, mut done: impl FnMut() -> bool) -> bool {
        let limit = self.inner.config.wait_limit;
        match self.mode() {
            Mode::Deterministic => {
                let deadline = self.inner.now() + u64::try_from(limit.as_nanos() / 100).unwrap_or(u64::MAX);
                loop {
                    if done() {
                        return true;
                    }
                    if !crate::timer::fire_next(&self.inner, deadline) {
                        return done();
                    }
                }
            }
            Mode::Concurrent => {
                let end = Instant::now() + limit;
                let _waiting = self.inner.waiting();
                while !done() {
                    if Instant::now() >= end {
                        return false;
                    }
                    let state = self.inner.lock();
                    drop(self.inner.wait_changed(state, Duration::from_millis(5)));
                }
                true
            }
        }
    }

    /// Advances the manual clock by `by`, firing every timer that falls due on the way
    /// (deterministic mode); in concurrent mode it sleeps.
    pub fn advance(&self, by: Duration) {
        match self.mode() {
            Mode::Deterministic => {
                let target = self.inner.now() + u64::try_from(by.as_nanos() / 100).unwrap_or(u64::MAX);
                while crate::timer::fire_next(&self.inner, target) {}
                self.inner.set_manual_clock(target);
            }
            Mode::Concurrent => std::thread::sleep(by),
        }
    }

    /// Finishes the run: halts and unloads what is loaded, checks for leaks and late writes, and
    /// returns the verdict.
    pub fn finish(mut self) -> Verdict {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Verdict {
        self.finished = true;
        let loaded = {
            let st = self.inner.lock();
            st.driver_object.is_some() && !st.driver_unloaded
        };
        if loaded {
            self.unload();
        }
        self.inner.stop.store(true, Ordering::Release);
        self.inner.timers_changed.notify_all();
        self.inner.notify();
        if let Some(t) = self.timer_thread.take() {
            let _ = t.join();
        }
        let mut st = self.inner.lock();
        // The driver is unloaded and its timers stopped: no thread runs its code any more.
        #[cfg(target_arch = "x86_64")]
        drop(st.image.take());
        crate::memory::check_quarantine_all(&mut st);
        let leaks: Vec<String> = {
            let mut v: Vec<_> = st
                .tracker
                .live
                .values()
                .map(crate::verifier::Allocation::describe)
                .collect();
            v.sort();
            v
        };
        for leak in leaks {
            st.violate(
                Rule::Leak,
                "MiniportDriverUnload",
                None,
                format!("still allocated at unload: {leak}"),
            );
        }
        crate::nbl::release_all(&mut st);
        Verdict {
            violations: std::mem::take(&mut st.violations),
            allocations: st.tracker.made.clone(),
            peak_pool_bytes: st.tracker.peak_pool_bytes,
        }
    }
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let verdict = if self.finished {
            Verdict::default()
        } else {
            self.finish_inner()
        };
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = None;
        if !verdict.is_clean() && !std::thread::panicking() {
            panic!(
                "ndis-host verifier found {} violation(s):\n{}",
                verdict.violations.len(),
                verdict.report()
            );
        }
    }
}
