//! A set of DPC objects owned by the set's generic object: work queued to run at `DISPATCH_LEVEL`
//! on a chosen processor (RSS indicates each receive queue's frames from its processor this way).
//!
//! The `KDPC`s live in the object's trailing bytes, which never move. [`DpcSet::bind`] initializes
//! them once, with the routine and context every DPC of the set runs with; [`DpcSet::target`]
//! chooses a DPC's processor and [`DpcSet::queue`] queues it with its index as the first system
//! argument. [`DpcSet::close`] (and dropping the set) refuses further queueing, dequeues every DPC
//! and waits for routines already running (`KeFlushQueuedDpcs`), so no routine runs once it
//! returns: call it at `PASSIVE_LEVEL` before whatever the context names goes away.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::marker::PhantomData;

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

use crate::generic_object::{self, DriverObject, GenericObject, State};
use crate::sync::{AtomicBool, Ordering};

/// The set's state, in its generic object's trailing bytes.
struct Dpcs<const N: usize> {
    objects: [UnsafeCell<KDPC>; N],
    /// Initialized by `bind`: queueing before that is refused.
    bound: AtomicBool,
    /// Set by `close`: no more queueing.
    closing: AtomicBool,
}

// SAFETY: the KDPCs are changed only through the Ke*Dpc* routines, which synchronize themselves
// (any IRQL, any processor), and by `bind` once, before any of them is queued.
unsafe impl<const N: usize> Sync for Dpcs<N> {}
// SAFETY: as above; the set owns the storage.
unsafe impl<const N: usize> Send for Dpcs<N> {}

struct DpcsState<const N: usize>(PhantomData<[(); N]>);

impl<const N: usize> State for DpcsState<N> {
    type In<'obj> = Dpcs<N>;
}

/// `N` DPC objects in a generic object.
pub struct DpcSet<const N: usize> {
    object: GenericObject<DpcsState<N>>,
}

impl<const N: usize> core::fmt::Debug for DpcSet<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DpcSet")
            .field("dpcs", &N)
            .field("object", &self.object.as_ptr())
            .finish()
    }
}

impl<const N: usize> DpcSet<N> {
    /// Allocates the set's generic object (tag `tag`) with `N` DPC objects, not yet bound. IRQL <=
    /// `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// The generic object could not be made.
    pub fn new(driver: Option<DriverObject>, tag: u32) -> Result<Self, generic_object::Error<()>> {
        let object = GenericObject::new(driver, tag, |_| {
            Ok::<_, ()>(Dpcs {
                objects: [const { UnsafeCell::new(KDPC::zeroed()) }; N],
                bound: AtomicBool::new(false),
                closing: AtomicBool::new(false),
            })
        })?;
        Ok(Self { object })
    }

    fn state(&self) -> &Dpcs<N> {
        self.object.state_ref()
    }

    /// Initializes every DPC of the set (`KeInitializeDpc`) to run `routine` with `context` (and
    /// its index as `SystemArgument1`). Once; a second call does nothing and returns false. Any
    /// IRQL.
    ///
    /// Whoever writes `routine` relies on `context` being alive while a DPC of the set can run:
    /// until [`Self::close`] returns.
    #[must_use]
    pub fn bind(&self, routine: PKDEFERRED_ROUTINE, context: *const c_void) -> bool {
        let state = self.state();
        // Relaxed: `bind` runs once, before the set is shared with anything that queues (the
        // caller's initialization), and Acquire in `queue` pairs with the Release below.
        if state.bound.load(Ordering::Relaxed) {
            return false;
        }
        for dpc in &state.objects {
            // The set owns the storage, which never moves; no DPC is queued yet (not bound).
            // SAFETY: an unqueued KDPC of this set, initialized once; any IRQL.
            unsafe { KeInitializeDpc(dpc.get(), routine, context.cast_mut()) };
        }
        state.bound.store(true, Ordering::Release);
        true
    }

    /// Makes DPC `index` run on processor `number` from its next queueing on
    /// (`KeSetTargetProcessorDpcEx`). False if the set is not bound, `index` is out of range, or
    /// the number names no processor. Any IRQL; the caller serializes it with [`Self::queue`] of
    /// the same DPC.
    #[must_use]
    pub fn target(&self, index: usize, number: PROCESSOR_NUMBER) -> bool {
        let state = self.state();
        let Some(dpc) = state.objects.get(index) else {
            return false;
        };
        if !state.bound.load(Ordering::Acquire) {
            return false;
        }
        let mut number = number;
        // An initialized KDPC of this set (bound); the number lives across the call.
        // SAFETY: a live, initialized DPC object; any IRQL.
        let status = unsafe { KeSetTargetProcessorDpcEx(dpc.get(), &raw mut number) };
        status == STATUS_SUCCESS
    }

    /// Queues DPC `index` (`KeInsertQueueDpc`) with `index` as `SystemArgument1`. False if it was
    /// queued already (it runs once for both), or the set is not bound, closing, or has no such
    /// DPC. Any IRQL.
    #[must_use]
    pub fn queue(&self, index: usize) -> bool {
        let state = self.state();
        let Some(dpc) = state.objects.get(index) else {
            return false;
        };
        // Acquire: pairs with `bind`'s Release and `close`'s Release.
        if !state.bound.load(Ordering::Acquire) || state.closing.load(Ordering::Acquire) {
            return false;
        }
        // An initialized KDPC of this set; `close` dequeues and flushes before the set goes.
        // SAFETY: a live, initialized DPC object; any IRQL.
        unsafe { KeInsertQueueDpc(dpc.get(), index as PVOID, core::ptr::null_mut()) != FALSE }
    }

    /// Refuses further queueing, dequeues every DPC and waits until none runs: no routine of the
    /// set runs after this returns, provided no [`Self::queue`] call is in progress when it starts
    /// (the caller has stopped whatever queues: a call already past its check could queue after the
    /// flush). `PASSIVE_LEVEL`. Idempotent.
    pub fn close(&self) {
        let state = self.state();
        // Release: a `queue` that sees `closing` (Acquire) does not queue.
        state.closing.store(true, Ordering::Release);
        if !state.bound.load(Ordering::Acquire) {
            return;
        }
        for dpc in &state.objects {
            // SAFETY: a live, initialized DPC object; any IRQL.
            let _ = unsafe { KeRemoveQueueDpc(dpc.get()) };
        }
        // PASSIVE_LEVEL (this function's contract): every routine queued or running finishes, and
        // a queue racing the store above has been dequeued or has run by now.
        // SAFETY: PASSIVE_LEVEL.
        unsafe { KeFlushQueuedDpcs() };
    }
}

impl<const N: usize> DpcSet<N> {
    /// Waits until every DPC queued so far (of this set, and any other: `KeFlushQueuedDpcs`) has
    /// run. The set stays open. `PASSIVE_LEVEL`.
    pub fn flush(&self) {
        if !self.state().bound.load(Ordering::Acquire) {
            return;
        }
        // PASSIVE_LEVEL (this function's contract); no argument, nothing of ours is touched.
        // SAFETY: PASSIVE_LEVEL.
        unsafe { KeFlushQueuedDpcs() };
    }
}

impl<const N: usize> Drop for DpcSet<N> {
    fn drop(&mut self) {
        self.close();
        // Dropping `object` frees the storage: no DPC of it is queued or running.
    }
}
