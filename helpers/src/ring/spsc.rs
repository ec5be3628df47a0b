//! A bounded single-producer single-consumer ring.

use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use super::{RingError, Slot, Storage};
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// A bounded SPSC ring over storage its owner provides. Use it through [`Spsc::split`]: one
/// [`Producer`] and one [`Consumer`], each usable from one thread at a time, at any IRQL up to
/// `DISPATCH_LEVEL` (nothing blocks or allocates).
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
    ///
    /// # Errors
    /// [`RingError::NotPowerOfTwo`] if the storage's capacity is not a power of two.
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
    /// Items the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Items in the ring around the time of the call (exact only when neither side is running;
    /// otherwise at most the items that were in it plus those pushed during the call, and never
    /// more than the capacity).
    #[must_use]
    pub fn len(&self) -> usize {
        // `head` first: it never passes `tail`, so a `tail` read after it is at least as large and
        // the difference cannot wrap. (Read the other way round, a push and a pop between the two
        // loads wrapped it, and a ring holding one item reported itself full.) Acquire on both: a
        // count at least as new as any item the caller saw.
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity())
    }

    #[must_use]
    /// Whether the ring is empty (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The producer and the consumer. The `&mut` borrow makes them the only ones.
    pub fn split(&mut self) -> (Producer<'_, T, S>, Consumer<'_, T, S>) {
        let (producer, consumer) = self.synced();
        (
            Producer {
                ring: self,
                local: producer,
            },
            Consumer {
                ring: self,
                local: consumer,
            },
        )
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

    /// Both sides' private indices as the shared ones give them. Exact when neither side runs
    /// (`&mut self`), which is when [`Spsc::split`] and drop call it.
    fn synced(&mut self) -> (Local, Local) {
        // Relaxed: `&mut self` means no other thread touches the ring now.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        (
            Local {
                own: tail,
                seen: head,
            },
            Local {
                own: head,
                seen: tail,
            },
        )
    }

    /// Pushes one item with producer indices `p`, or hands it back if the ring is full.
    ///
    /// # Safety
    /// The caller is the ring's only producer and `p` its indices.
    unsafe fn push_at(&self, p: &mut Local, item: T) -> Result<(), T> {
        if self.free(p, 1) == 0 {
            return Err(item);
        }
        // The slot at `own` (= tail) is free (the consumer released it:
        // `tail - head < capacity`), and only the producer writes free slots.
        // SAFETY: a free slot, written only by the producer.
        self.slot(p.own).0.with_mut(|s| unsafe { (*s).write(item) });
        self.publish(p, 1);
        Ok(())
    }

    /// Writes up to `max` items made by `make(i)` straight into free slots, in order; returns how
    /// many (as many as fit). One Release store publishes them all.
    ///
    /// # Safety
    /// The caller is the ring's only producer and `p` its indices.
    unsafe fn push_with_at(&self, p: &mut Local, max: usize, mut make: impl FnMut(usize) -> T) -> usize {
        let n = self.free(p, max).min(max);
        for i in 0..n {
            let item = make(i);
            // Slots `tail .. tail + n` are free and the producer's alone (as in `push_at`).
            self.slot(p.own.wrapping_add(i))
                .0
                // SAFETY: free slots, written only by the producer.
                .with_mut(|s| unsafe { (*s).write(item) });
        }
        self.publish(p, n);
        n
    }

    /// Writes items taken from `items` into free slots, in order, while there is room and `items`
    /// yields; returns how many. An item is taken only when a slot is free for it, so none is
    /// lost; one Release store publishes them all.
    ///
    /// # Safety
    /// The caller is the ring's only producer and `p` its indices.
    unsafe fn push_from_at(&self, p: &mut Local, items: &mut impl Iterator<Item = T>) -> usize {
        let room = self.free(p, self.capacity());
        let mut n = 0;
        while n < room {
            let Some(item) = items.next() else {
                break;
            };
            // Slots `tail .. tail + room` are free and the producer's alone (as in `push_at`).
            self.slot(p.own.wrapping_add(n))
                .0
                // SAFETY: a free slot, written only by the producer.
                .with_mut(|s| unsafe { (*s).write(item) });
            n += 1;
        }
        self.publish(p, n);
        n
    }

    /// Pops the oldest item with consumer indices `c`.
    ///
    /// # Safety
    /// The caller is the ring's only consumer and `c` its indices.
    #[inline]
    unsafe fn pop_at(&self, c: &mut Local) -> Option<T> {
        if self.ready(c, 1) == 0 {
            return None;
        }
        // Only the consumer reads full slots, and the slot at `own` (= head) is full
        // (published by the producer's Release store of `tail`, acquired in `ready`).
        // SAFETY: a full slot, read only by the consumer.
        let slot = self.slot(c.own).0.with(|s| unsafe { s.read() });
        self.release(c, 1);
        // SAFETY: a full slot holds an initialised item; reading moves it out once.
        Some(unsafe { slot.assume_init() })
    }

    /// Moves up to `max` of the oldest items into `take`, in order; returns how many. One Release
    /// store releases them all.
    ///
    /// # Safety
    /// The caller is the ring's only consumer and `c` its indices.
    unsafe fn pop_with_at(&self, c: &mut Local, max: usize, mut take: impl FnMut(T)) -> usize {
        let n = self.ready(c, max).min(max);
        for i in 0..n {
            // SAFETY: slots `head .. head + n` are full and the consumer's alone (as in `pop_at`).
            let slot = self.slot(c.own.wrapping_add(i)).0.with(|s| unsafe { s.read() });
            // SAFETY: a full slot holds an initialised item, moved out once (`head` moves past it).
            take(unsafe { slot.assume_init() });
        }
        self.release(c, n);
        n
    }

    /// Pushes one item, or hands it back if the ring is full (the MPSC lanes' entry: indices kept
    /// in the ring, as no lane has a `Producer`).
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's producer, and the ring is never split.
    pub(crate) unsafe fn push_unchecked(&self, item: T) -> Result<(), T> {
        // SAFETY: the caller is the only producer and `p` the ring's stored producer indices.
        let op = |p: &mut Local| unsafe { self.push_at(p, item) };
        // SAFETY: as above.
        unsafe { self.as_producer(op) }
    }

    /// Pushes as many of `items` as fit, in order; returns how many.
    ///
    /// # Safety
    /// As for [`Spsc::push_unchecked`].
    pub(crate) unsafe fn push_slice_unchecked(&self, items: &[T]) -> usize
    where
        T: Copy,
    {
        // SAFETY: the caller's contract.
        unsafe { self.push_with_unchecked(items.len(), |i| items[i]) }
    }

    /// [`Spsc::push_with_at`] with the ring's stored producer indices.
    ///
    /// # Safety
    /// As for [`Spsc::push_unchecked`].
    pub(crate) unsafe fn push_with_unchecked(&self, max: usize, make: impl FnMut(usize) -> T) -> usize {
        // SAFETY: the caller is the only producer and `p` the ring's stored producer indices.
        let op = |p: &mut Local| unsafe { self.push_with_at(p, max, make) };
        // SAFETY: as above.
        unsafe { self.as_producer(op) }
    }

    /// [`Spsc::push_from_at`] with the ring's stored producer indices.
    ///
    /// # Safety
    /// As for [`Spsc::push_unchecked`].
    pub(crate) unsafe fn push_from_unchecked(&self, items: &mut impl Iterator<Item = T>) -> usize {
        // SAFETY: the caller is the only producer and `p` the ring's stored producer indices.
        let op = |p: &mut Local| unsafe { self.push_from_at(p, items) };
        // SAFETY: as above.
        unsafe { self.as_producer(op) }
    }

    /// [`Spsc::pop_with_at`] with the ring's stored consumer indices.
    ///
    /// # Safety
    /// Only one thread at a time may act as this ring's consumer, and the ring is never split.
    pub(crate) unsafe fn pop_with_unchecked(&self, max: usize, take: impl FnMut(T)) -> usize {
        // SAFETY: the caller is the only consumer and `c` the ring's stored consumer indices.
        let op = |c: &mut Local| unsafe { self.pop_with_at(c, max, take) };
        // SAFETY: as above.
        unsafe { self.as_consumer(op) }
    }

    /// Pops the oldest item with the ring's stored consumer indices.
    ///
    /// # Safety
    /// As for [`Spsc::pop_with_unchecked`].
    pub(crate) unsafe fn pop_unchecked(&self) -> Option<T> {
        // SAFETY: the caller is the only consumer and `c` the ring's stored consumer indices.
        let op = |c: &mut Local| unsafe { self.pop_at(c) };
        // SAFETY: as above.
        unsafe { self.as_consumer(op) }
    }

    /// Pops up to `out.len()` items, oldest first; returns how many.
    ///
    /// # Safety
    /// As for [`Spsc::pop_with_unchecked`].
    pub(crate) unsafe fn pop_slice_unchecked(&self, out: &mut [MaybeUninit<T>]) -> usize {
        let max = out.len();
        let mut dst = out.iter_mut();
        let take = |item| {
            if let Some(d) = dst.next() {
                d.write(item);
            }
        };
        // SAFETY: the caller's contract.
        unsafe { self.pop_with_unchecked(max, take) }
    }
}

impl<T, S: Storage<T>> Drop for Spsc<T, S> {
    fn drop(&mut self) {
        // `&mut self`: neither side runs. Drop what is still in the ring, from the shared indices
        // (a `Consumer` kept its own copy, which may have been newer than the ring's stored one).
        let (_, mut consumer) = self.synced();
        // SAFETY: exclusive access makes this thread the only consumer, with exact indices.
        while unsafe { self.pop_at(&mut consumer) }.is_some() {}
    }
}

/// The producing side of an [`Spsc`]. It keeps its indices itself, on the producer's own stack
/// or structure, so a push touches the shared `tail` only to publish.
#[derive(Debug)]
pub struct Producer<'r, T, S: Storage<T>> {
    ring: &'r Spsc<T, S>,
    local: Local,
}

impl<T, S: Storage<T>> Producer<'_, T, S> {
    /// Pushes one item, or hands it back if the ring is full. Never blocks.
    ///
    /// # Errors
    /// `item`, back, if the ring is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        // `Producer` is unique (made once by `split`, with indices synced from the ring),
        // and `&mut self` keeps it on one thread.
        // SAFETY: the ring's only producer, with its own indices.
        unsafe { self.ring.push_at(&mut self.local, item) }
    }

    /// Writes up to `max` items, the `i`th made by `make(i)` directly in its slot, in order; returns
    /// how many fit. No copy through a buffer, one publish for the batch.
    pub fn push_with(&mut self, max: usize, make: impl FnMut(usize) -> T) -> usize {
        // SAFETY: the ring's only producer (this handle, borrowed mutably), with its own indices.
        unsafe { self.ring.push_with_at(&mut self.local, max, make) }
    }

    /// Pushes items from `items` while they fit, in order, with one publish; returns how many.
    /// Nothing is taken from `items` that does not fit: the rest stay in the iterator.
    pub fn push_from(&mut self, items: &mut impl Iterator<Item = T>) -> usize {
        // SAFETY: the ring's only producer (this handle, borrowed mutably), with its own indices.
        unsafe { self.ring.push_from_at(&mut self.local, items) }
    }

    /// Pushes as many of `items` as fit, in order; returns how many (the rest stay the caller's).
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        self.push_with(items.len(), |i| items[i])
    }
}

/// The consuming side of an [`Spsc`], keeping its indices itself like [`Producer`].
#[derive(Debug)]
pub struct Consumer<'r, T, S: Storage<T>> {
    ring: &'r Spsc<T, S>,
    local: Local,
}

impl<T, S: Storage<T>> Consumer<'_, T, S> {
    /// Pops the oldest item, if any. Never blocks.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        // `Consumer` is unique (made once by `split`, with indices synced from the ring),
        // and `&mut self` keeps it on one thread.
        // SAFETY: the ring's only consumer, with its own indices.
        unsafe { self.ring.pop_at(&mut self.local) }
    }

    /// Hands up to `max` of the oldest items to `take`, in order, straight from their slots; returns
    /// how many. One release for the batch.
    pub fn pop_with(&mut self, max: usize, take: impl FnMut(T)) -> usize {
        // SAFETY: the ring's only consumer (this handle, borrowed mutably), with its own indices.
        unsafe { self.ring.pop_with_at(&mut self.local, max, take) }
    }

    /// Pops up to `out.len()` items into `out`; returns how many (the first `n` of `out`).
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize
    where
        T: Copy,
    {
        let max = out.len();
        let mut dst = out.iter_mut();
        self.pop_with(max, |item| {
            if let Some(d) = dst.next() {
                *d = item;
            }
        })
    }
}
