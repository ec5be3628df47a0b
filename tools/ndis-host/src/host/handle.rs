//! The `Host` handle a test or tool holds: loading a driver (linked or the image), running code as
//! NDIS would on its CPUs, and finishing with the verifier's verdict.

use super::*;

/// The simulated NDIS. Create it with [`Host::builder`]; load a driver; add adapters; finish it to
/// read the verifier's verdict (dropping an unfinished host finishes it and fails the test on any
/// violation).
pub struct Host {
    pub(crate) inner: Arc<Inner>,
    /// Concurrent mode: the timer thread and the DPC threads.
    pub(super) threads: Vec<std::thread::JoinHandle<()>>,
    pub(super) finished: bool,
    pub(super) _exclusive: MutexGuard<'static, ()>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("mode", &self.inner.config.mode)
            .field("cpus", &self.cpus())
            .finish_non_exhaustive()
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
    /// The `DriverEntry` of a driver linked into this process.
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
    /// Every broken rule, in the order found.
    pub violations: Vec<Violation>,
    /// Allocations made during the whole run, by kind.
    pub allocations: HashMap<Kind, u64>,
    /// The most pool bytes (`ExAllocatePool2` + `NdisAllocateMemoryWithTagPriority`) live at once.
    pub peak_pool_bytes: usize,
}

impl Verdict {
    #[must_use]
    /// Whether nothing was broken.
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
    /// A builder for a host other than the default one.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A deterministic host with 4 CPUs.
    #[must_use]
    pub fn new() -> Self {
        HostBuilder::default().build()
    }

    #[must_use]
    /// Deterministic or concurrent.
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

    /// Loads a driver: calls its `DriverEntry` at `PASSIVE_LEVEL` with a host-made driver object and
    /// registry path, as the I/O manager does.
    /// Loads `driver`: calls the linked `DriverEntry`, or maps the kernel image, binds its imports
    /// to this host and calls its `DriverEntry`.
    ///
    /// # Errors
    /// Why the image did not load, or `DriverEntry` failed or registered nothing.
    pub fn load_driver(&self, driver: &Driver) -> Result<(), LoadError> {
        match driver {
            Driver::Linked(entry) => self.load(*entry),
            #[cfg(target_arch = "x86_64")]
            Driver::Image(path) => {
                {
                    if self.inner.lock().driver.is_loaded() {
                        return Err(LoadError::AlreadyLoaded);
                    }
                }
                let image = crate::image::Image::load(path).map_err(LoadError::Image)?;
                let entry = image.entry();
                self.inner.lock().driver.set_image(image);
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
            self.inner.lock().driver.image().map(crate::image::Image::range)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// Calls a linked driver's `DriverEntry` (see [`Self::load_driver`]).
    ///
    /// # Errors
    /// `DriverEntry` failed, or returned success without registering a miniport driver.
    pub fn load(&self, entry: DRIVER_INITIALIZE) -> Result<(), LoadError> {
        let (object, path): (*mut DRIVER_OBJECT, *mut UNICODE_STRING) = {
            let mut st = self.inner.lock();
            if st.driver.is_loaded() {
                return Err(LoadError::AlreadyLoaded);
            }
            st.driver.begin(REGISTRY_PATH)
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
            self.inner.lock().driver.mark_unloaded();
            return Err(LoadError::DriverEntryFailed(status));
        }
        if self.inner.lock().driver.registration().is_none() {
            return Err(LoadError::NotRegistered);
        }
        Ok(())
    }

    /// The characteristics the driver registered.
    pub fn with_registration<R>(&self, f: impl FnOnce(&crate::exports::Registration) -> R) -> Option<R> {
        self.inner.lock().driver.registration().map(f)
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
            if st.driver.is_unloaded() {
                return;
            }
            let object = st
                .driver
                .object_address()
                .map_or(std::ptr::null_mut(), |o| o as *mut DRIVER_OBJECT);
            (
                st.driver
                    .registration()
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
                    unload(object);
                });
        }
        let mut st = self.inner.lock();
        st.driver.mark_unloaded();
        if st.driver.registration().is_some_and(|r| !r.deregistered) {
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
        st.findings.add_design_rule(rule);
    }

    /// The most kernel stack each driver entry point has used so far (its outermost calls), in
    /// bytes, largest first: what the painted 24 KiB kernel stacks measured ([`crate::stack`]).
    /// Empty on hosts other than x86-64, where driver calls run on the caller's stack.
    #[must_use]
    pub fn stack_peaks(&self) -> Vec<(&'static str, usize)> {
        self.inner.lock().stack_peaks.sorted()
    }

    /// The trace since the last call (or since the host was built), one line per call: `-> Entry
    /// (adapter n, IRQL)` for each driver entry point the host called, the name of each NDIS or
    /// kernel function the driver called, each line with its CPU and indented by nesting. Empty
    /// unless [`crate::HostBuilder::trace`] or `NDIS_HOST_TRACE` turned tracing on.
    #[must_use]
    pub fn trace(&self) -> Vec<String> {
        crate::trace::take()
    }

    /// Violations found so far (the host keeps them).
    #[must_use]
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.lock().findings.violations().to_vec()
    }

    /// Removes and returns the violations found so far (for tests that expect some).
    pub fn take_violations(&self) -> Vec<Violation> {
        self.inner.lock().findings.take()
    }

    /// `DbgPrint` output since the last call.
    pub fn take_debug_output(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().debug)
    }

    /// Allocations the driver has made, by kind.
    #[must_use]
    pub fn allocations_made(&self) -> HashMap<Kind, u64> {
        self.inner.lock().tracker.made().clone()
    }

    /// What the driver holds now, allocation by allocation.
    #[must_use]
    pub fn live_allocations(&self) -> Vec<crate::verifier::Allocation> {
        self.inner.lock().tracker.live().cloned().collect()
    }

    /// Pool bytes (`ExAllocatePool2` and `NdisAllocateMemoryWithTagPriority`) the driver holds now.
    #[must_use]
    pub fn pool_bytes(&self) -> usize {
        self.inner.lock().tracker.pool_bytes()
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

    /// Runs `f` with this thread raised to `irql` (taking its CPU at `DISPATCH_LEVEL` and above), as
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
        let loaded = self.inner.lock().driver.is_loaded();
        if loaded {
            self.unload();
        }
        self.inner.stop.store(true, Ordering::Release);
        self.inner.timers_changed.notify_all();
        self.inner.dpcs_changed.notify_all();
        self.inner.notify();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let mut st = self.inner.lock();
        // The driver is unloaded and its timers stopped: no thread runs its code any more.
        #[cfg(target_arch = "x86_64")]
        st.driver.drop_image();
        crate::memory::check_quarantine_all(&mut st);
        let leaks: Vec<String> = {
            let mut v: Vec<_> = st
                .tracker
                .live()
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
            violations: st.findings.take(),
            allocations: st.tracker.made().clone(),
            peak_pool_bytes: st.tracker.peak_pool_bytes(),
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
        assert!(
            verdict.is_clean() || std::thread::panicking(),
            "ndis-host verifier found {} violation(s):\n{}",
            verdict.violations.len(),
            verdict.report()
        );
    }
}
