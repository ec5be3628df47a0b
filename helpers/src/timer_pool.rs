//! A pool of NDIS timer objects owned by the pool's generic object.
//!
//! The pool pre-allocates its timers (through its generic object's handle) when it is created, so
//! arming, re-arming and cancelling never allocate. [`TimerRef`] borrows the pool: it cannot be used
//! once the pool is gone. Dropping the pool refuses further arming, cancels every timer, waits for
//! callbacks already running (`KeFlushQueuedDpcs`, as NDIS requires before `NdisFreeTimerObject`),
//! frees the timers, then the object: drop it at `PASSIVE_LEVEL`.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::null_mut;
use core::time::Duration;

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

use crate::generic_object::{self, DriverObject, GenericObject, ObjectHandle, State};
use crate::sync::{AtomicBool, AtomicU32, Ordering};

/// An NDIS timer object allocated through a generic object's handle: it lives in that object's
/// state. Dropping it cancels it, waits for a running callback and frees it (`PASSIVE_LEVEL`).
#[derive(Debug)]
pub struct Timer<'obj> {
    handle: NDIS_HANDLE,
    _brand: PhantomData<fn(&'obj ()) -> &'obj ()>,
}

// SAFETY: a timer object handle may be used from any thread (NDIS synchronises timer calls).
unsafe impl Send for Timer<'_> {}
// SAFETY: as above; `&Timer` only arms or cancels through NDIS.
unsafe impl Sync for Timer<'_> {}

impl<'obj> ObjectHandle<'obj> {
    /// Allocates an NDIS timer object through this object (`NdisAllocateTimerObject`) whose callback
    /// is `function`. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// The status `NdisAllocateTimerObject` returned.
    pub fn allocate_timer(self, tag: u32, function: NDIS_TIMER_FUNCTION) -> Result<Timer<'obj>, NDIS_STATUS> {
        let mut characteristics = NDIS_TIMER_CHARACTERISTICS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
                NDIS_TIMER_CHARACTERISTICS_REVISION_1,
                NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
            ),
            AllocationTag: tag,
            TimerFunction: function,
            FunctionContext: null_mut(),
        };
        let mut handle = null_mut();
        // A generic object is a documented NdisHandle for timer objects; the characteristics
        // and the out-variable live across the call; IRQL <= DISPATCH_LEVEL (this function's contract).
        let status =
            // SAFETY: IRQL <= DISPATCH_LEVEL; the handle and arguments live across the call.
            unsafe { NdisAllocateTimerObject(self.as_raw(), &raw mut characteristics, &raw mut handle) };
        if status == NDIS_STATUS_SUCCESS {
            Ok(Timer {
                handle,
                _brand: PhantomData,
            })
        } else {
            Err(status)
        }
    }
}

impl Timer<'_> {
    /// Queues the timer to fire after `due`, then every `period` (if given), passing `context`.
    /// Returns whether it was already queued. IRQL <= `DISPATCH_LEVEL`.
    #[must_use]
    pub fn set(&self, due: Duration, period: Option<Duration>, context: *const c_void) -> bool {
        let ticks = i64::try_from(due.as_nanos() / 100).unwrap_or(i64::MAX).max(1);
        let period_ms = period.map_or(0, |p| i32::try_from(p.as_millis()).unwrap_or(i32::MAX).max(1));
        // SAFETY: a live timer of this object; a negative due time is relative; IRQL <= DISPATCH.
        let queued = unsafe {
            NdisSetTimerObject(
                self.handle,
                LARGE_INTEGER { QuadPart: -ticks },
                period_ms,
                context.cast_mut(),
            )
        };
        queued != FALSE
    }

    /// Dequeues the timer; true if it was queued. A callback already running runs to completion.
    /// IRQL <= `DISPATCH_LEVEL`, or `PASSIVE_LEVEL` if it was set periodic.
    #[must_use]
    pub fn cancel(&self) -> bool {
        // SAFETY: a live timer of this object.
        unsafe { NdisCancelTimerObject(self.handle) != FALSE }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        let _ = self.cancel();
        // SAFETY: PASSIVE_LEVEL (documented on the type); waits until no callback of this timer runs.
        unsafe { KeFlushQueuedDpcs() };
        // Cancelled, no callback running, freed once, before the object it was allocated
        // through (it lives in that object's state).
        // SAFETY: cancelled, idle timer, freed once, before its object.
        unsafe { NdisFreeTimerObject(self.handle) };
    }
}

/// What a pool's timers call when they fire: at `DISPATCH_LEVEL`, on any CPU, possibly on several CPUs
/// at once for different timers.
pub trait TimerCallback: Sync {
    /// Runs when timer `timer` of the pool expires, at `DISPATCH_LEVEL`.
    fn fire(&self, timer: usize);
}

/// One timer of a pool, and what its callback needs.
#[derive(Debug)]
struct Slot<'obj> {
    timer: Timer<'obj>,
    index: usize,
    /// Callbacks of this timer running now.
    in_flight: AtomicU32,
}

/// The pool's state, in its generic object's trailing bytes.
struct Pool<'obj, C, const N: usize> {
    slots: [Slot<'obj>; N],
    callback: C,
    /// Set when the pool is being dropped: no more arming.
    closing: AtomicBool,
}

struct PoolState<C, const N: usize>(PhantomData<C>);

impl<C, const N: usize> State for PoolState<C, N> {
    type In<'obj> = Pool<'obj, C, N>;
}

/// Why a [`TimerPool`] could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerPoolError {
    /// The pool's generic object could not be made.
    Object(generic_object::Error<()>),
    /// `NdisAllocateTimerObject` failed for timer `index` with `status`.
    Timer {
        /// The timer that could not be allocated.
        index: usize,
        /// What `NdisAllocateTimerObject` returned.
        status: NDIS_STATUS,
    },
}

/// `N` timers that call `C::fire(index)`.
pub struct TimerPool<C: TimerCallback, const N: usize> {
    object: GenericObject<PoolState<C, N>>,
}

impl<C: TimerCallback, const N: usize> core::fmt::Debug for TimerPool<C, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimerPool")
            .field("timers", &N)
            .field("object", &self.object.as_ptr())
            .finish()
    }
}

/// The NDIS callback of every pool timer: `context` is the slot's pool state pointer set when armed.
#[ndis::kernel_abi]
unsafe extern "system" fn fire<C: TimerCallback, const N: usize>(
    _: PVOID,
    context: PVOID,
    _: PVOID,
    _: PVOID,
) {
    let (pool, index) = decode::<C, N>(context);
    // `context` was made by `TimerRef::arm` from a pool that is alive: the pool's drop cancels
    // and flushes every timer before its state goes away.
    // SAFETY: the pool outlives every callback of its timers.
    let pool = unsafe { &*pool };
    let slot = &pool.slots[index];
    // Relaxed: a counter of running callbacks, read after KeFlushQueuedDpcs (a full barrier).
    slot.in_flight.fetch_add(1, Ordering::Relaxed);
    pool.callback.fire(slot.index);
    slot.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// The context a pool timer fires with: its slot's address. The slot knows its index, and the pool
/// is found back from the start of its slot array (`decode`).
fn encode<C, const N: usize>(pool: &Pool<'_, C, N>, index: usize) -> *const c_void {
    core::ptr::from_ref(&pool.slots[index]).cast()
}

fn decode<C, const N: usize>(context: PVOID) -> (*const Pool<'static, C, N>, usize) {
    let slot = context.cast::<Slot<'static>>();
    // `context` is a slot's address (see `encode`); its index field is read-only after
    // creation.
    // SAFETY: a live slot's read-only index.
    let index = unsafe { (*slot).index };
    let first = slot.wrapping_sub(index);
    let offset = core::mem::offset_of!(Pool<'static, C, N>, slots);
    (first.cast::<u8>().wrapping_sub(offset).cast(), index)
}

impl<C: TimerCallback, const N: usize> TimerPool<C, N> {
    /// Allocates the pool's generic object (tag `tag`) and its `N` timers. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// [`TimerPoolError`]: the object or the timer that could not be allocated (nothing stays
    /// allocated).
    pub fn new(driver: Option<DriverObject>, tag: u32, callback: C) -> Result<Self, TimerPoolError> {
        let mut failed = None;
        let object = GenericObject::new(driver, tag, |handle| {
            let mut timers = [const { None }; N];
            for (index, timer) in timers.iter_mut().enumerate() {
                match handle.allocate_timer(tag, Some(fire::<C, N>)) {
                    Ok(t) => *timer = Some(t),
                    Err(status) => {
                        failed = Some(TimerPoolError::Timer { index, status });
                        // Dropping `timers` frees the ones already allocated.
                        return Err(());
                    }
                }
            }
            let mut index = 0;
            let slots = timers.map(|t| {
                let slot = Slot {
                    timer: t.unwrap_or_else(|| unreachable!()),
                    index,
                    in_flight: AtomicU32::new(0),
                };
                index += 1;
                slot
            });
            Ok(Pool {
                slots,
                callback,
                closing: AtomicBool::new(false),
            })
        });
        match object {
            Ok(object) => Ok(Self { object }),
            Err(generic_object::Error::Init(())) => {
                Err(failed.unwrap_or(TimerPoolError::Object(generic_object::Error::Init(()))))
            }
            Err(e) => Err(TimerPoolError::Object(e)),
        }
    }

    /// Timer `index` of the pool, usable while the pool lives.
    #[must_use]
    pub fn timer(&self, index: usize) -> Option<TimerRef<'_, C, N>> {
        (index < N).then_some(TimerRef {
            pool: self.object.state_ref(),
            index,
        })
    }

    /// The callback the pool calls.
    #[must_use]
    pub fn callback(&self) -> &C {
        &self.object.state_ref().callback
    }
}

impl<C: TimerCallback, const N: usize> Drop for TimerPool<C, N> {
    fn drop(&mut self) {
        let pool = self.object.state_ref();
        // Release: a callback that sees `closing` (Acquire in `arm`) cannot re-arm.
        pool.closing.store(true, Ordering::Release);
        for slot in &pool.slots {
            let _ = slot.timer.cancel();
        }
        // PASSIVE_LEVEL (documented on the type): every callback queued or running finishes,
        // and none can re-arm (`closing`).
        // SAFETY: PASSIVE_LEVEL; no timer can be re-armed.
        unsafe { KeFlushQueuedDpcs() };
        debug_assert!(
            pool.slots
                .iter()
                .all(|s| s.in_flight.load(Ordering::Relaxed) == 0)
        );
        // Dropping `object` drops the state (each Timer frees itself), then frees the object.
    }
}

/// A timer of a [`TimerPool`]; borrows the pool, so it cannot outlive it.
pub struct TimerRef<'p, C, const N: usize> {
    pool: &'p Pool<'p, C, N>,
    index: usize,
}

impl<C, const N: usize> core::fmt::Debug for TimerRef<'_, C, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimerRef").field("index", &self.index).finish()
    }
}

impl<C, const N: usize> TimerRef<'_, C, N> {
    fn arm(&self, due: Duration, period: Option<Duration>) -> Option<bool> {
        // Acquire: pairs with the Release in the pool's drop.
        if self.pool.closing.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.pool.slots[self.index]
                .timer
                .set(due, period, encode(self.pool, self.index)),
        )
    }

    /// Fires once after `due`. Returns whether the timer was already queued (re-arming replaces it),
    /// or `None` if the pool is closing. IRQL <= `DISPATCH_LEVEL`.
    #[must_use]
    pub fn arm_once(&self, due: Duration) -> Option<bool> {
        self.arm(due, None)
    }

    /// Fires after `due`, then every `period` (at least 1 ms) until cancelled.
    #[must_use]
    pub fn arm_periodic(&self, due: Duration, period: Duration) -> Option<bool> {
        self.arm(due, Some(period))
    }

    /// Dequeues the timer; true if it was queued. `PASSIVE_LEVEL` for a periodic timer.
    #[must_use]
    pub fn cancel(&self) -> bool {
        self.pool.slots[self.index].timer.cancel()
    }

    /// Callbacks of this timer running right now (for diagnostics).
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.pool.slots[self.index].in_flight.load(Ordering::Relaxed)
    }
}
