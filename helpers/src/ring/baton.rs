//! A baton: at most one thread at a time does a piece of work (draining rings), and work that
//! arrives while it runs is never left behind.
//!
//! Producers queue items on lock-free rings, then [`Baton::signal`]. If nobody holds the baton the
//! signaller takes it and drains; otherwise the signal is recorded and the holder drains once more
//! before letting go ([`Held::release`]). Nobody waits: a signaller that finds the baton taken
//! returns at once, which is what `DISPATCH_LEVEL` code needs.

use crate::sync::{AtomicUsize, Ordering};

const IDLE: usize = 0;
/// Held; nothing signalled since the holder last looked.
const HELD: usize = 1;
/// Held, and somebody signalled since the holder last looked: it must drain again.
const AGAIN: usize = 2;

/// See the module documentation. Any IRQL <= `DISPATCH_LEVEL`; never blocks.
#[derive(Debug, Default)]
pub struct Baton {
    /// `IDLE`, `HELD` or `AGAIN`; every change is one read-modify-write, so a signal and a release
    /// cannot miss each other.
    state: AtomicUsize,
}

impl Baton {
    #[cfg(not(rvnic_loom))]
    #[must_use]
    /// A free baton.
    pub const fn new() -> Self {
        Self {
            state: AtomicUsize::new(IDLE),
        }
    }

    /// Loom's atomics cannot be made in a `const fn`.
    #[cfg(rvnic_loom)]
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: AtomicUsize::new(IDLE),
        }
    }

    /// Records that work was queued. Returns the baton if it was free: the caller must then do the
    /// work and [`Held::release`] it. Otherwise the holder will see the work.
    pub fn signal(&self) -> Option<Held<'_>> {
        // AcqRel: Release publishes the work the caller queued before signalling to whoever holds
        // the baton (its next read-modify-write acquires it); Acquire makes a new holder see what
        // the previous holder did.
        let before = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(if s == IDLE { HELD } else { AGAIN })
            })
            .unwrap_or(IDLE);
        // `then`, not `then_some`: a `Held` made eagerly and dropped would set the baton free.
        (before == IDLE).then(|| Held { baton: self })
    }

    /// Takes the baton only if nobody holds it (for code that must exclude the drainer, such as
    /// changing what it drains). Does not record a signal.
    pub fn try_take(&self) -> Option<Held<'_>> {
        // Acquire: see everything the previous holder did.
        self.state
            .compare_exchange(IDLE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| Held { baton: self })
    }

    /// Whether somebody holds the baton at this moment (diagnostics and tests).
    #[must_use]
    pub fn is_held(&self) -> bool {
        self.state.load(Ordering::Relaxed) != IDLE
    }
}

/// The baton, held: exclusive right to do the work.
#[derive(Debug)]
#[must_use = "a held baton must be released, or signals are lost"]
pub struct Held<'b> {
    baton: &'b Baton,
}

impl Held<'_> {
    /// Whether this is `baton`, held (for types whose contents the baton guards).
    #[must_use]
    pub fn is_of(&self, baton: &Baton) -> bool {
        core::ptr::eq(self.baton, baton)
    }

    /// Lets the baton go if nothing was signalled since the work was last done (returns `None`);
    /// otherwise keeps it and returns it: the caller must do the work again, then release again.
    #[must_use]
    pub fn release(self) -> Option<Self> {
        let baton = self.baton;
        core::mem::forget(self);
        // Release: the next holder sees what this one did. On failure the state was AGAIN: set it
        // back to HELD with Acquire, so this holder sees the work that was signalled.
        if baton
            .state
            .compare_exchange(HELD, IDLE, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            None
        } else {
            baton.state.swap(HELD, Ordering::AcqRel);
            Some(Held { baton })
        }
    }

    /// Lets the baton go with work left to a deferred drain that `arm` schedules (a timer whose
    /// callback signals). `arm` runs while the baton is still held, and again whenever a signal came
    /// in before the release succeeded (the deferred drain itself may already have fired and
    /// signalled), so the release that succeeds always leaves it scheduled. `arm` sees the held
    /// baton, to reach what it guards.
    pub fn defer(self, mut arm: impl FnMut(&Self)) {
        let mut held = self;
        loop {
            arm(&held);
            match held.release() {
                Some(again) => held = again,
                None => return,
            }
        }
    }

    /// Drains with `work` until a release succeeds: the usual way to use a held baton.
    pub fn run(self, mut work: impl FnMut()) {
        let mut held = self;
        loop {
            work();
            match held.release() {
                Some(again) => held = again,
                None => return,
            }
        }
    }
}

impl Drop for Held<'_> {
    /// A held baton dropped without `release` still lets go (so a bug cannot wedge the datapath),
    /// but a signal recorded meanwhile is dropped with it: always `release` or `run`.
    fn drop(&mut self) {
        self.baton.state.store(IDLE, Ordering::Release);
    }
}
