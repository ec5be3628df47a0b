//! Who settles an adapter's reset: the `MiniportResetEx` handler or the drain that empties the
//! transmit lanes.
//!
//! Since NDIS 6.30 a miniport must complete every send it holds before its reset completes
//! (`MiniportResetEx`'s page). A reset handler records the reset ([`ResetGate::begin`]), makes sure a
//! drain pass runs after that (it signals the wire's baton), and asks [`ResetGate::decide`]. A pass
//! that completed what it moved and found the lanes empty reports it ([`ResetGate::lanes_empty`]).
//! Exactly one of them settles the reset: the handler, which then returns `NDIS_STATUS_SUCCESS`, if
//! such a pass came before it decided; otherwise the first such pass after, which calls
//! `NdisMResetComplete` for the `NDIS_STATUS_PENDING` the handler returned. Lock-free, any IRQL <=
//! `DISPATCH_LEVEL`; loom-checked with the baton (`tests/loom.rs`).

use crate::sync::{AtomicUsize, Ordering};

/// No reset in progress.
const IDLE: usize = 0;
/// `MiniportResetEx` is running and has not decided yet.
const RESETTING: usize = 1;
/// `MiniportResetEx` returned `NDIS_STATUS_PENDING`: the drain that empties the lanes completes it.
const PENDING: usize = 2;
/// A drain found the lanes empty while the handler still ran: the handler returns success.
const DRAINED: usize = 3;

/// The reset state of one adapter (see the module documentation).
#[derive(Debug)]
pub struct ResetGate(AtomicUsize);

impl Default for ResetGate {
    fn default() -> Self {
        Self(AtomicUsize::new(IDLE))
    }
}

/// What a drain that found an adapter's lanes empty must do about its reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Nothing (no reset, or the handler settles it itself).
    Nothing,
    /// Call `NdisMResetComplete`.
    Complete,
}

impl ResetGate {
    /// `MiniportResetEx` begins (before it kicks the wire).
    pub fn begin(&self) {
        self.0.store(RESETTING, Ordering::SeqCst);
    }

    /// `MiniportResetEx`, after its kick (which made sure a drain pass runs after [`Self::begin`]):
    /// true if the reset is done (a pass found the lanes empty meanwhile), false if it pends (the
    /// pass that empties the lanes completes it).
    #[must_use]
    pub fn decide(&self) -> bool {
        if self
            .0
            .compare_exchange(RESETTING, PENDING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            false
        } else {
            // DRAINED: a pass found the lanes empty while this handler ran.
            self.0.store(IDLE, Ordering::SeqCst);
            true
        }
    }

    /// A drain pass completed everything it moved and found the adapter's lanes empty.
    #[must_use]
    pub fn lanes_empty(&self) -> Settled {
        match self.0.load(Ordering::SeqCst) {
            RESETTING => {
                // The handler still runs: tell it, unless it has just decided to pend (then the
                // compare-exchange fails and this pass completes the reset as PENDING).
                if self
                    .0
                    .compare_exchange(RESETTING, DRAINED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return Settled::Nothing;
                }
                self.settle_pending()
            }
            PENDING => self.settle_pending(),
            _ => Settled::Nothing,
        }
    }

    fn settle_pending(&self) -> Settled {
        if self
            .0
            .compare_exchange(PENDING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            Settled::Complete
        } else {
            Settled::Nothing
        }
    }

    /// Whether a reset is in progress (a drain checks the lanes only then).
    #[must_use]
    pub fn in_progress(&self) -> bool {
        matches!(self.0.load(Ordering::Relaxed), RESETTING | PENDING)
    }
}
