//! The bookkeeping that lets an adapter pause without locks: how much work is in flight, and who
//! completes a pending pause.
//!
//! In flight means: an NBL NDIS sent that the driver has not completed, an NBL the driver indicated
//! that the protocol has not returned, or a handler that is still running on the adapter. Each holds
//! one reference; a running adapter holds one more. [`InFlight::pause`] drops that one; whoever drops
//! the last reference while a pause is pending completes it (the caller of [`InFlight::leave`] that
//! returns `true` calls `NdisMPauseComplete`). After that call NDIS may halt and free the adapter, so
//! the code that dropped the last reference must not touch the adapter again: a handler holds its own
//! reference from its first touch of the adapter to its last.
//!
//! Loom-checked (`tests/loom.rs`): a send handler racing a pause and the halt that frees the adapter.

use crate::sync::{AtomicBool, AtomicUsize, Ordering};

/// Where the adapter is in NDIS's state machine, as the datapath sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Initialized, paused, or shut down: sends are refused, nothing is indicated.
    Paused,
    /// Accepting work.
    Running,
    /// Pause called: new sends are refused, in-flight work drains.
    Pausing,
}

/// See the module documentation. Any IRQL <= `DISPATCH_LEVEL`; never blocks.
///
/// # Invariants
/// - `busy` counts the references described above; it is 0 only when paused with nothing in flight.
/// - `pause_pending` is set by `pause` and cleared exactly once, by whoever completes the pause.
/// - `running` and `pausing` together give [`Run`]; `running` is false while pausing or paused.
#[derive(Debug, Default)]
pub struct InFlight {
    busy: AtomicUsize,
    pause_pending: AtomicBool,
    running: AtomicBool,
    pausing: AtomicBool,
}

impl InFlight {
    /// A paused adapter with nothing in flight (what `MiniportInitializeEx` leaves).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a reference: before looking at the state, so a pause cannot miss it.
    #[inline]
    pub fn enter(&self) {
        // AcqRel: orders this reference with the pause's drop of its own (both are RMWs).
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops a reference. Returns `true` when it was the last one while a pause was pending: the
    /// caller must then complete the pause (`NdisMPauseComplete`), and must not touch the adapter
    /// after that.
    #[must_use = "true means this caller must complete the pending pause"]
    #[inline]
    pub fn leave(&self) -> bool {
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 && self.pause_pending.swap(false, Ordering::AcqRel) {
            self.pausing.store(false, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// `MiniportPause`: new work is refused from now on; drops the running reference. Returns `true`
    /// if nothing was in flight (the pause is complete), `false` if it pends until the last
    /// [`Self::leave`].
    #[must_use = "false means the pause pends"]
    pub fn pause(&self) -> bool {
        self.pause_pending.store(true, Ordering::SeqCst);
        self.pausing.store(true, Ordering::SeqCst);
        self.running.store(false, Ordering::SeqCst);
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 && self.pause_pending.swap(false, Ordering::AcqRel) {
            self.pausing.store(false, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// `MiniportRestart`: takes the running reference and accepts work again.
    pub fn restart(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.running.store(true, Ordering::SeqCst);
    }

    /// `MiniportShutdownEx` (possibly at `HIGH_LEVEL` after a bug check): refuse work from now on,
    /// touching nothing but this state.
    pub fn shut_down(&self) {
        self.running.store(false, Ordering::SeqCst);
    }

    #[must_use]
    /// Whether the adapter accepts work (neither pausing nor paused nor shut down).
    #[inline]
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    #[must_use]
    /// The state now (running, pausing, paused or shut down).
    pub fn run(&self) -> Run {
        if self.running.load(Ordering::SeqCst) {
            Run::Running
        } else if self.pausing.load(Ordering::SeqCst) {
            Run::Pausing
        } else {
            Run::Paused
        }
    }

    /// References held now (diagnostics: a halted adapter must have none).
    #[must_use]
    pub fn references(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }
}
