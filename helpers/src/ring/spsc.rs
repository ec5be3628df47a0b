//! A bounded single-producer single-consumer ring.

use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use super::{RingError, Slot, Storage};
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// A bounded SPSC ring over storage its owner provides. Use it through [`Spsc::split`]: one
/// [`Producer`] and one [`Consumer`], each usable from one thread at a time, at any IRQL up to
/// DISPATCH_LEVEL (nothing blocks or allocates).
#[derive(Debug)]
pub struct Spsc<T, S: Storage<T>> {
    storage: S,
    /// `capacity - 1`; the capacity is a power of two, so `index & mask` is `index % capacity`.
    mask: usize,
    /// The next position the consumer reads. A wrapping counter: `tail - head` (wrapping) is always
    /// in `0..=capacity`. Written only by the consumer; read by the producer when its view runs out.
    head: CachePadded<AtomicUsize>,
    /// The next position the producer writes. Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    /// The producer's private indices: `own` is `tail` (kept here so pushing never reads the shared
    /// line), `seen` its last view of `head`. Touched only by the producer.
    producer: CachePadded<UnsafeCell<Local>>,
    /// The consumer's private indices: `own` is `head`, `seen` its last view of `tail`.
    consumer: CachePadded<UnsafeCell<Local>>,
    _items: PhantomData<T>,
}

/// One side's private copy of its own index and its last view of the other side's. The other
/// index only grows, so a stale view only under-reports free slots (producer) or items (consumer).
#[derive(Debug, Clone, Copy, Default)]
struct Local {
    own: usize,
    seen: usize,
}

// SAFETY: items move between the producer's and the consumer's threads, so `T: Send` is needed and
// enough; the storage is owned by the ring.
unsafe impl<T: Send, S: Storage<T> + Send> Send for Spsc<T, S> {}
// SAFETY: shared use is split into one producer side and one consumer side, each touching only its
// own private indices and the slots the indices give it; the shared indices are atomics.
unsafe impl<T: Send, S: Storage<T> + Sync> Sync for Spsc<T, S> {}

impl<T, S: Storage<T>> Spsc<T, S> {
    /// A ring over `storage`, whose length must be a power of two.
    pub fn new(storage: S) -> Result<Self, RingError> {
        let capacity = storage.slots().len();
        if !capacity.is_power_of_two() {
            return Err(RingError::NotPowerOfTwo { capacity });
        }
        Ok(Self {
            storage,
            mask: capacity - 1,
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            producer: CachePadded::new(UnsafeCell::new(Local::default())),
            consumer: CachePadded::new(UnsafeCell::new(Local::default())),
            _items: PhantomData,
        })
    }

    #[must_use]
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Items in the ring at some moment during the call (exact only when neither side is running).
    #[must_use]
    pub fn len(&self) -> usize {
        // Acquire on both: a count that is at least as new as any item the caller saw.
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity())
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The producer and the consumer. The `&mut` borrow makes them the only ones.
    pub fn split(&mut self) -> (Producer<'_, T, S>, Consumer<'_, T, S>) {
        (Producer { ring: self }, Consumer { ring: self })
    }

    fn slot(&self, index: usize) -> &Slot<T> {
        &self.storage.slots()[index & self.mask]
    }

    /// Runs `f` on the producer's private indices (copied out, written back).
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's producer.
    unsafe fn as_producer<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        // SAFETY: `producer` is touched only by the producer, which the caller is.
        let mut local = self.producer.with(|p| unsafe { *p });
        let r = f(&mut local);
        // SAFETY: as above.
        self.producer.with_mut(|p| unsafe { *p = local });
        r
    }

    /// Runs `f` on the consumer's private indices.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's consumer.
    unsafe fn as_consumer<R>(&self, f: impl FnOnce(&mut Local) -> R) -> R {
        // SAFETY: `consumer` is touched only by the consumer, which the caller is.
        let mut local = self.consumer.with(|p| unsafe { *p });
        let r = f(&mut local);
        // SAFETY: as above.
        self.consumer.with_mut(|p| unsafe { *p = local });
        r
    }

    /// Free slots from the producer's side, refreshing its view of `head` only when it needs more
    /// than it knows of.
    fn free(&self, producer: &mut Local, wanted: usize) -> usize {
        if self.capacity() - producer.own.wrapping_sub(producer.seen) < wanted {
            // Acquire: the consumer's reads of the slots it released happen before we overwrite them.
            producer.seen = self.head.load(Ordering::Acquire);
        }
        self.capacity() - producer.own.wrapping_sub(producer.seen)
    }

    /// Items available to the consumer, refreshing its view of `tail` only when it needs more.
    fn ready(&self, consumer: &mut Local, wanted: usize) -> usize {
        if consumer.seen.wrapping_sub(consumer.own) < wanted {
            // Acquire: the producer's writes of the slots it published happen before we read them.
            consumer.seen = self.tail.load(Ordering::Acquire);
        }
        consumer.seen.wrapping_sub(consumer.own)
    }

    /// Publishes `n` slots the producer has written.
    fn publish(&self, producer: &mut Local, n: usize) {
        if n > 0 {
            producer.own = producer.own.wrapping_add(n);
            // Release: one store publishes all `n` slot writes to the consumer's Acquire load.
            self.tail.store(producer.own, Ordering::Release);
        }
    }

    /// Releases `n` slots the consumer has read.
    fn release(&self, consumer: &mut Local, n: usize) {
        if n > 0 {
            consumer.own = consumer.own.wrapping_add(n);
            // Release: our reads of the `n` slots happen before the producer reuses them.
            self.head.store(consumer.own, Ordering::Release);
        }
    }

    /// Pushes one item, or hands it back if the ring is full.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's producer.
    pub(crate) unsafe fn push_unchecked(&self, item: T) -> Result<(), T> {
        let op = |p: &mut Local| {
            if self.free(p, 1) == 0 {
                return Err(item);
            }
            // SAFETY: the slot at `own` (= tail) is free (the consumer released it:
            // `tail - head < capacity`), and only the producer writes free slots.
            self.slot(p.own).0.with_mut(|s| unsafe { (*s).write(item) });
            self.publish(p, 1);
            Ok(())
        };
        // SAFETY: the caller is the only producer.
        unsafe { self.as_producer(op) }
    }

    /// Pushes as many of `items` as fit, in order; returns how many.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's producer.
    pub(crate) unsafe fn push_slice_unchecked(&self, items: &[T]) -> usize
    where
        T: Copy,
    {
        // SAFETY: the caller is the only producer.
        unsafe { self.push_with_unchecked(items.len(), |i| items[i]) }
    }

    /// Writes up to `max` items made by `make(i)` straight into free slots, in order; returns how
    /// many (as many as fit). One Release store publishes them all.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's producer.
    pub(crate) unsafe fn push_with_unchecked(&self, max: usize, mut make: impl FnMut(usize) -> T) -> usize {
        let op = |p: &mut Local| {
            let n = self.free(p, max).min(max);
            for i in 0..n {
                let item = make(i);
                // SAFETY: slots `tail .. tail + n` are free and the producer's alone (as in `push`).
                self.slot(p.own.wrapping_add(i))
                    .0
                    .with_mut(|s| unsafe { (*s).write(item) });
            }
            self.publish(p, n);
            n
        };
        // SAFETY: the caller is the only producer.
        unsafe { self.as_producer(op) }
    }

    /// Moves up to `max` of the oldest items into `take`, in order; returns how many. One Release
    /// store releases them all.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's consumer.
    pub(crate) unsafe fn pop_with_unchecked(&self, max: usize, mut take: impl FnMut(T)) -> usize {
        let op = |c: &mut Local| {
            let n = self.ready(c, max).min(max);
            for i in 0..n {
                // SAFETY: slots `head .. head + n` are full and the consumer's alone (as in `pop`).
                let slot = self.slot(c.own.wrapping_add(i)).0.with(|s| unsafe { s.read() });
                // SAFETY: a full slot holds an initialised item, moved out once (`head` moves past it).
                take(unsafe { slot.assume_init() });
            }
            self.release(c, n);
            n
        };
        // SAFETY: the caller is the only consumer.
        unsafe { self.as_consumer(op) }
    }

    /// Pops the oldest item.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's consumer.
    pub(crate) unsafe fn pop_unchecked(&self) -> Option<T> {
        let op = |c: &mut Local| {
            if self.ready(c, 1) == 0 {
                return None;
            }
            // SAFETY: only the consumer reads full slots, and the slot at `own` (= head) is full
            // (published by the producer's Release store of `tail`, acquired in `ready`).
            let slot = self.slot(c.own).0.with(|s| unsafe { s.read() });
            self.release(c, 1);
            // SAFETY: a full slot holds an initialised item; reading moves it out once.
            Some(unsafe { slot.assume_init() })
        };
        // SAFETY: the caller is the only consumer.
        unsafe { self.as_consumer(op) }
    }

    /// Pops up to `out.len()` items, oldest first; returns how many.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's consumer.
    pub(crate) unsafe fn pop_slice_unchecked(&self, out: &mut [MaybeUninit<T>]) -> usize {
        let mut dst = out.iter_mut();
        // SAFETY: the caller is the only consumer.
        unsafe {
            self.pop_with_unchecked(dst.len(), |item| {
                if let Some(d) = dst.next() {
                    d.write(item);
                }
            })
        }
    }
}

impl<T, S: Storage<T>> Drop for Spsc<T, S> {
    fn drop(&mut self) {
        // `&mut self`: neither side runs. Drop what is still in the ring.
        // SAFETY: exclusive access makes this thread the only consumer.
        while unsafe { self.pop_unchecked() }.is_some() {}
    }
}

/// The producing side of an [`Spsc`].
#[derive(Debug)]
pub struct Producer<'r, T, S: Storage<T>> {
    ring: &'r Spsc<T, S>,
}

impl<T, S: Storage<T>> Producer<'_, T, S> {
    /// Pushes one item, or hands it back if the ring is full. Never blocks.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        // SAFETY: `Producer` is unique (made once by `split`) and `&mut self` keeps it on one thread.
        unsafe { self.ring.push_unchecked(item) }
    }

    /// Writes up to `max` items, the `i`th made by `make(i)` directly in its slot, in order; returns
    /// how many fit. No copy through a buffer, one publish for the batch.
    pub fn push_with(&mut self, max: usize, make: impl FnMut(usize) -> T) -> usize {
        // SAFETY: as in `push`.
        unsafe { self.ring.push_with_unchecked(max, make) }
    }

    /// Pushes as many of `items` as fit, in order; returns how many (the rest stay the caller's).
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        // SAFETY: as in `push`.
        unsafe { self.ring.push_slice_unchecked(items) }
    }
}

/// The consuming side of an [`Spsc`].
#[derive(Debug)]
pub struct Consumer<'r, T, S: Storage<T>> {
    ring: &'r Spsc<T, S>,
}

impl<T, S: Storage<T>> Consumer<'_, T, S> {
    /// Pops the oldest item, if any. Never blocks.
    pub fn pop(&mut self) -> Option<T> {
        // SAFETY: `Consumer` is unique (made once by `split`) and `&mut self` keeps it on one thread.
        unsafe { self.ring.pop_unchecked() }
    }

    /// Hands up to `max` of the oldest items to `take`, in order, straight from their slots; returns
    /// how many. One release for the batch.
    pub fn pop_with(&mut self, max: usize, take: impl FnMut(T)) -> usize {
        // SAFETY: as in `pop`.
        unsafe { self.ring.pop_with_unchecked(max, take) }
    }

    /// Pops up to `out.len()` items into `out`; returns how many (the first `n` of `out`).
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize
    where
        T: Copy,
    {
        // SAFETY: `T: Copy` has no drop glue and `MaybeUninit<T>` has `T`'s layout; every slot written
        // is a valid `T`, and the ones not written keep their old valid values.
        let out = unsafe { &mut *(core::ptr::from_mut(out) as *mut [MaybeUninit<T>]) };
        // SAFETY: as in `pop`.
        unsafe { self.ring.pop_slice_unchecked(out) }
    }
}
