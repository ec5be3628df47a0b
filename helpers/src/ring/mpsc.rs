//! A multi-producer single-consumer ring made of one SPSC lane per CPU, and one shared lane.
//!
//! A producer raises to `DISPATCH_LEVEL`, which makes it the only code running on its CPU, and so the
//! only producer of that CPU's lane: no atomic read-modify-write, no shared producer index. A CPU
//! without a lane of its own (its systemwide index is `LANES` or more, or its owner gave its lane no
//! room because the CPU did not exist yet) pushes onto the shared lane instead, whose producers take
//! turns through a spin flag held for one push. The consumer drains the lanes round-robin, a bounded
//! number from each, the shared lane included, and the round-robin position survives from one
//! consumer to the next, so no CPU starves another however the drains are cut.

use core::marker::PhantomData;

use super::{RingError, Spsc, Storage};
use crate::sync::{AtomicBool, AtomicUsize, Ordering, spin};

/// Proof that the current thread runs at `DISPATCH_LEVEL` on [`Dispatch::cpu`]: nothing else runs on
/// that CPU while the token lives. Not `Send`: it belongs to the thread that made it. Get one from
/// [`crate::irql::Raised::dispatch`], or with [`Dispatch::assume`] where the caller knows.
#[derive(Debug)]
pub struct Dispatch {
    cpu: usize,
    _this_thread: PhantomData<*const ()>,
}

impl Dispatch {
    /// A token for `cpu`.
    ///
    /// # Safety
    /// While the token lives, no other code uses `cpu`'s lane of any ring: the caller runs at
    /// `DISPATCH_LEVEL` on `cpu` and stays there, or (in a test) it is the only thread that claims `cpu`.
    #[must_use]
    pub unsafe fn assume(cpu: usize) -> Self {
        Self {
            cpu,
            _this_thread: PhantomData,
        }
    }

    #[must_use]
    /// The CPU this token was made on (its lane).
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

/// An MPSC ring of `LANES` per-CPU SPSC lanes and one shared lane (see the module documentation).
///
/// # Invariants
/// - Lane `i` has at most one producer at a time: the thread running at `DISPATCH_LEVEL` on CPU `i`
///   ([`Dispatch`] proves it). The shared lane has at most one producer at a time: the holder of
///   `shared_busy`.
/// - At most one [`MpscConsumer`] exists (`consumer_taken`); it is the only consumer of every lane.
/// - `next` is in `0..=LANES` (index `LANES` is the shared lane); only the consumer writes it.
#[derive(Debug)]
pub struct Mpsc<T, S: Storage<T>, const LANES: usize> {
    lanes: [Spsc<T, S>; LANES],
    /// The lane of the CPUs without one of their own.
    shared: Spsc<T, S>,
    /// Held by the shared lane's producer for the duration of one push.
    shared_busy: AtomicBool,
    /// Whether an [`MpscConsumer`] exists.
    consumer_taken: AtomicBool,
    /// Where the next consumer starts its round (the last one's position).
    next: AtomicUsize,
}

impl<T, S: Storage<T>, const LANES: usize> Mpsc<T, S, LANES> {
    /// Builds the lanes, lane `i` on `storage(i)` and the shared lane on `storage(LANES)` (each a
    /// power of two long).
    ///
    /// # Errors
    /// [`RingError`] for a lane whose storage `storage` could not give, or whose capacity is not a
    /// power of two.
    pub fn new(mut storage: impl FnMut(usize) -> S) -> Result<Self, RingError> {
        let mut error = None;
        let lanes = core::array::from_fn(|i| {
            let lane = Spsc::new(storage(i));
            if let Err(e) = &lane {
                error.get_or_insert(*e);
            }
            lane
        });
        if let Some(e) = error {
            return Err(e);
        }
        let shared = Spsc::new(storage(LANES))?;
        // Every lane is Ok (checked above).
        let lanes = lanes.map(|lane| lane.unwrap_or_else(|_| unreachable!()));
        Ok(Self {
            lanes,
            shared,
            shared_busy: AtomicBool::new(false),
            consumer_taken: AtomicBool::new(false),
            next: AtomicUsize::new(0),
        })
    }

    /// Builds the ring directly in `place`, lane by lane, asking `storage` for each lane's storage
    /// as it goes (`None`: it could not be had): a ring of many lanes, or the storages of all its
    /// lanes at once, are too large to build on a kernel stack and move. On error the lanes built
    /// so far are dropped and `place` is left uninitialised.
    ///
    /// # Errors
    /// As for [`Self::new`]; the lanes built so far are dropped.
    pub fn init_in_place(
        place: &mut core::mem::MaybeUninit<Self>,
        mut storage: impl FnMut(usize) -> Option<S>,
    ) -> Result<&mut Self, RingError> {
        let this = place.as_mut_ptr();
        // A field projection of `place` (valid, exclusively borrowed); nothing is read.
        // SAFETY: `this` points to `place`, live for the call.
        let lanes = unsafe { &raw mut (*this).lanes }.cast::<Spsc<T, S>>();
        for i in 0..LANES {
            match storage(i)
                .ok_or(RingError::NoStorage { lane: i })
                .and_then(Spsc::new)
            {
                Ok(lane) => {
                    // Lane `i` of the array in `place`: in bounds, uninitialised, written once.
                    // SAFETY: in bounds of `place`, aligned, written once.
                    unsafe { lanes.wrapping_add(i).write(lane) };
                }
                Err(e) => {
                    let built = core::ptr::slice_from_raw_parts_mut(lanes, i);
                    // Lanes `0..i` were written above and are dropped once, here.
                    // SAFETY: initialised lanes, dropped exactly once; `place` stays uninitialised.
                    unsafe { built.drop_in_place() };
                    return Err(e);
                }
            }
        }
        let shared = match storage(LANES)
            .ok_or(RingError::NoStorage { lane: LANES })
            .and_then(Spsc::new)
        {
            Ok(shared) => shared,
            Err(e) => {
                let built = core::ptr::slice_from_raw_parts_mut(lanes, LANES);
                // Every lane was written above and is dropped once, here.
                // SAFETY: initialised lanes, dropped exactly once; `place` stays uninitialised.
                unsafe { built.drop_in_place() };
                return Err(e);
            }
        };
        // SAFETY: as for `lanes`: a field projection of `place`.
        let shared_slot = unsafe { &raw mut (*this).shared };
        // SAFETY: an uninitialised field of `place`, written once.
        unsafe { shared_slot.write(shared) };
        // SAFETY: as for `lanes`: a field projection of `place`.
        let busy = unsafe { &raw mut (*this).shared_busy };
        // SAFETY: an uninitialised field of `place`, written once.
        unsafe { busy.write(AtomicBool::new(false)) };
        // SAFETY: as for `lanes`: a field projection of `place`.
        let flag = unsafe { &raw mut (*this).consumer_taken };
        // SAFETY: an uninitialised field of `place`, written once.
        unsafe { flag.write(AtomicBool::new(false)) };
        // SAFETY: as for `lanes`: a field projection of `place`.
        let next = unsafe { &raw mut (*this).next };
        // SAFETY: the last uninitialised field of `place`, written once.
        unsafe { next.write(AtomicUsize::new(0)) };
        // Every field is initialised now.
        // SAFETY: fully initialised above.
        Ok(unsafe { place.assume_init_mut() })
    }

    /// Total capacity of all lanes, the shared one included.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.lanes.iter().map(Spsc::capacity).sum::<usize>() + self.shared.capacity()
    }

    /// Items in all lanes around the time of the call.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lanes.iter().map(Spsc::len).sum::<usize>() + self.shared.len()
    }

    /// Items in the first `lanes` lanes and the shared lane: cheaper than [`Self::len`] for an owner
    /// that knows only those lanes are used (one per CPU that existed when it built the ring).
    #[must_use]
    pub fn len_of_lanes(&self, lanes: usize) -> usize {
        self.lanes[..lanes.min(LANES)]
            .iter()
            .map(Spsc::len)
            .sum::<usize>()
            + self.shared.len()
    }

    #[must_use]
    /// Whether every lane is empty (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes onto the caller's CPU lane, or hands the item back if that lane is full. A CPU
    /// numbered `LANES` or more uses the shared lane ([`Self::push_shared`]). Never blocks.
    ///
    /// # Errors
    /// `item`, back, if the lane is full.
    pub fn push(&self, on: &Dispatch, item: T) -> Result<(), T> {
        match self.lanes.get(on.cpu) {
            // `on` proves this thread is the only one on its CPU, so the only producer of
            // that CPU's lane while it holds the token.
            // SAFETY: the only producer of this CPU's lane while `on` lives.
            Some(lane) => unsafe { lane.push_unchecked(item) },
            None => self.push_shared(on, item),
        }
    }

    /// Pushes onto the shared lane, for a CPU without a lane of its own (its index is `LANES` or
    /// more, or its lane was given no room). Waits only for another CPU's single push to the same
    /// lane, which holds the flag for a bounded, short time at `DISPATCH_LEVEL` as a spin lock does.
    ///
    /// # Errors
    /// `item`, back, if the shared lane is full.
    pub fn push_shared(&self, _on: &Dispatch, item: T) -> Result<(), T> {
        // Acquire: see the producer-side indices the previous holder left.
        while self
            .shared_busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin();
        }
        // The flag makes this thread the shared lane's only producer until it is cleared below.
        // SAFETY: the only producer of the shared lane while the flag is held.
        let result = unsafe { self.shared.push_unchecked(item) };
        // Release: the next holder sees this push's producer-side indices.
        self.shared_busy.store(false, Ordering::Release);
        result
    }

    /// Pushes onto lane `lane` (`LANES` for the shared lane) while the ring is still exclusively
    /// its builder's (`&mut self`: no other producer or consumer can exist), without a
    /// [`Dispatch`] token: how an owner fills a ring before it shares it, at `PASSIVE_LEVEL`.
    ///
    /// # Errors
    /// `item`, back, if the lane is full or does not exist.
    pub fn push_exclusive(&mut self, lane: usize, item: T) -> Result<(), T> {
        let ring = if lane == LANES {
            &self.shared
        } else {
            match self.lanes.get(lane) {
                Some(ring) => ring,
                None => return Err(item),
            }
        };
        // `&mut self` excludes every other producer and consumer.
        // SAFETY: the only producer of the lane for the borrow.
        unsafe { ring.push_unchecked(item) }
    }

    /// Pushes as many of `items` as fit onto the caller's CPU lane; returns how many.
    pub fn push_slice(&self, on: &Dispatch, items: &[T]) -> usize
    where
        T: Copy,
    {
        self.lanes
            .get(on.cpu)
            // SAFETY: the only producer of this CPU's lane while `on` lives.
            .map_or(0, |lane| unsafe { lane.push_slice_unchecked(items) })
    }

    /// Pushes items from `items` onto the caller's CPU lane while they fit, with one publish (a
    /// CPU numbered `LANES` or more uses the shared lane, one item at a time). Returns an item
    /// taken from `items` that did not fit (only the shared lane can leave one); the rest stay in
    /// the iterator.
    pub fn push_from(&self, on: &Dispatch, items: &mut impl Iterator<Item = T>) -> Option<T> {
        match self.lanes.get(on.cpu) {
            Some(lane) => {
                // SAFETY: the only producer of this CPU's lane while `on` lives.
                unsafe { lane.push_from_unchecked(items) };
                None
            }
            None => self.push_shared_from(on, items),
        }
    }

    /// Pushes items from `items` onto the shared lane, one at a time, while they fit; returns the
    /// item that did not fit, if one was taken.
    pub fn push_shared_from(&self, on: &Dispatch, items: &mut impl Iterator<Item = T>) -> Option<T> {
        for item in items {
            if let Err(back) = self.push_shared(on, item) {
                return Some(back);
            }
        }
        None
    }

    /// Writes up to `max` items made by `make(i)` straight into the caller's CPU lane; returns how
    /// many fit.
    pub fn push_with(&self, on: &Dispatch, max: usize, make: impl FnMut(usize) -> T) -> usize {
        self.lanes
            .get(on.cpu)
            // SAFETY: the only producer of this CPU's lane while `on` lives.
            .map_or(0, |lane| unsafe { lane.push_with_unchecked(max, make) })
    }

    /// The consumer, if no other exists. It is released when dropped, and starts its round where
    /// the last one stopped.
    pub fn consumer(&self) -> Option<MpscConsumer<'_, T, S, LANES>> {
        // Acquire: pairs with the Release in `MpscConsumer::drop`, so a new consumer sees the lanes as
        // the last one left them (and its round-robin position).
        if self
            .consumer_taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // Relaxed: written only by consumers, ordered by `consumer_taken` above. Always in
        // `0..=LANES` (the invariant); clamped rather than divided.
        let next = self.next.load(Ordering::Relaxed).min(LANES);
        Some(MpscConsumer { ring: self, next })
    }

    /// Lane `index`, the shared one at `LANES`.
    fn lane(&self, index: usize) -> &Spsc<T, S> {
        self.lanes.get(index).unwrap_or(&self.shared)
    }
}

/// The single consumer of an [`Mpsc`].
#[derive(Debug)]
pub struct MpscConsumer<'r, T, S: Storage<T>, const LANES: usize> {
    ring: &'r Mpsc<T, S, LANES>,
    /// The lane the next pop starts at (round-robin, in `0..=LANES`; `LANES` is the shared lane).
    next: usize,
}

impl<T, S: Storage<T>, const LANES: usize> MpscConsumer<'_, T, S, LANES> {
    /// Pops one item from the first lane that has one, starting at the lane the last pop took from:
    /// a lane is drained before the next is looked at, so a run of pops costs one look per item
    /// when the items sit in a few lanes (a free list, whose order does not matter). The fair
    /// way to take from every lane is [`Self::pop_slice`] or [`Self::pop_with`].
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        // Lanes in order from the last one popped, wrapping after the shared lane (no division).
        let mut lane = self.next;
        for _ in 0..=LANES {
            // This consumer is the only one (`consumer_taken`), and `&mut self` keeps it on
            // one thread.
            // SAFETY: the only consumer, on one thread.
            if let Some(item) = unsafe { self.ring.lane(lane).pop_unchecked() } {
                self.next = lane;
                return Some(item);
            }
            lane = if lane == LANES { 0 } else { lane + 1 };
        }
        None
    }

    /// Pops up to `out.len()` items, taking at most `per_lane` from a lane before moving to the next,
    /// round-robin (continuing where the last call stopped); returns how many (the first `n` of
    /// `out`). Stops when `out` is full or a whole round found nothing.
    pub fn pop_slice(&mut self, out: &mut [T], per_lane: usize) -> usize
    where
        T: Copy,
    {
        let per_lane = per_lane.max(1);
        let mut filled = 0;
        // Lanes visited in a row that had nothing; a whole round of them means all are empty.
        let mut idle = 0;
        while filled < out.len() && idle <= LANES {
            let lane = self.next;
            self.next = (self.next + 1) % (LANES + 1);
            let room = (out.len() - filled).min(per_lane);
            let dst = &mut out[filled..filled + room];
            // SAFETY: `T: Copy` has no drop glue and `MaybeUninit<T>` has `T`'s layout.
            let dst = unsafe { &mut *(core::ptr::from_mut(dst) as *mut [core::mem::MaybeUninit<T>]) };
            // SAFETY: the single consumer, as in `pop`.
            let got = unsafe { self.ring.lane(lane).pop_slice_unchecked(dst) };
            filled += got;
            idle = if got == 0 { idle + 1 } else { 0 };
        }
        filled
    }
}

impl<T, S: Storage<T>, const LANES: usize> MpscConsumer<'_, T, S, LANES> {
    /// Hands up to `max` items to `take`, at most `per_lane` from a lane before moving on
    /// round-robin, straight from the slots; returns how many. Stops after a whole round of empty
    /// lanes.
    pub fn pop_with(&mut self, max: usize, per_lane: usize, take: impl FnMut(T)) -> usize {
        self.pop_with_among(max, per_lane, LANES, take)
    }

    /// [`Self::pop_with`] over the first `lanes` lanes and the shared one only: the lanes a
    /// producer can push onto when only CPUs below `lanes` push onto their own (the others use the
    /// shared lane). A round then looks at `lanes + 1` lanes instead of `LANES + 1`; with one CPU,
    /// two.
    pub fn pop_with_among(
        &mut self,
        max: usize,
        per_lane: usize,
        lanes: usize,
        mut take: impl FnMut(T),
    ) -> usize {
        let lanes = lanes.min(LANES);
        let per_lane = per_lane.max(1);
        let mut taken = 0;
        let mut idle = 0;
        // A position left by a consumer that looked at more lanes: start at the shared lane.
        if self.next >= lanes {
            self.next = LANES;
        }
        while taken < max && idle <= lanes {
            let lane = self.next;
            // Lanes 0..lanes, then the shared lane, then round again.
            self.next = if lane == LANES && lanes > 0 {
                0
            } else if lane == LANES || lane + 1 >= lanes {
                LANES
            } else {
                lane + 1
            };
            let budget = (max - taken).min(per_lane);
            // SAFETY: the single consumer, as in `pop`.
            let got = unsafe { self.ring.lane(lane).pop_with_unchecked(budget, &mut take) };
            taken += got;
            idle = if got == 0 { idle + 1 } else { 0 };
        }
        taken
    }
}

impl<T, S: Storage<T>, const LANES: usize> Drop for MpscConsumer<'_, T, S, LANES> {
    fn drop(&mut self) {
        // Relaxed: published by the Release store below.
        self.ring.next.store(self.next, Ordering::Relaxed);
        // Release: the next consumer's Acquire sees everything this one did.
        self.ring.consumer_taken.store(false, Ordering::Release);
    }
}
