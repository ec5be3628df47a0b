//! Lock-free rings for the datapath: a bounded single-producer single-consumer ring ([`Spsc`]), a
//! multi-producer ring built from one SPSC lane per CPU ([`Mpsc`]), and an unbounded intrusive
//! [`Mailbox`] that hands lists of NBLs to whoever collects them.
//!
//! Both run at `DISPATCH_LEVEL`: they never block, never spin waiting for the other side, and never
//! allocate after construction; a full ring hands the item back. Their storage comes from the
//! component that owns them ([`Storage`]): an inline array (for example in a generic object's
//! trailing bytes), a slice of pool memory, or a `Box` on the host.

mod baton;
mod mailbox;
mod mpsc;
mod spsc;

pub use baton::{Baton, Held};
pub use mailbox::{Linked, Mailbox};
pub use mpsc::{Dispatch, Mpsc, MpscConsumer};
pub use spsc::{Consumer, Producer, Spsc};

use core::mem::MaybeUninit;

use crate::sync::UnsafeCell;

/// One cell of a ring. Written only by the producer while free, read only by the consumer while full
/// (the ring's indices say which).
#[derive(Debug)]
pub struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: a slot is written by the producer only while free and read by the consumer only while
// full, as the ring's atomic indices decide, so shared slots never see two accesses at once; items
// cross threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// An empty slot.
    #[must_use]
    pub fn new() -> Self {
        Self(UnsafeCell::new(MaybeUninit::uninit()))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Memory a ring keeps its slots in, provided by the ring's owner.
///
/// # Safety
/// `slots` must return the same slice (same address and length) for the storage's whole life, and
/// nothing but the ring may touch the slots while the ring owns the storage.
pub unsafe trait Storage<T> {
    /// The slots, in ring order.
    fn slots(&self) -> &[Slot<T>];
}

// SAFETY: an array is owned by value; its address is stable while the ring (which holds it) does not move,
// and rings are only used through shared references after construction.
unsafe impl<T, const N: usize> Storage<T> for [Slot<T>; N] {
    fn slots(&self) -> &[Slot<T>] {
        self
    }
}

// SAFETY: the exclusive borrow keeps the slice stable and untouched by others for `'a`.
unsafe impl<T> Storage<T> for &mut [Slot<T>] {
    fn slots(&self) -> &[Slot<T>] {
        self
    }
}

extern crate alloc;

// SAFETY: a boxed slice never moves and is owned by the ring.
unsafe impl<T> Storage<T> for alloc::boxed::Box<[Slot<T>]> {
    fn slots(&self) -> &[Slot<T>] {
        self
    }
}

/// Why a ring cannot be built on some storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// The capacity is not a power of two (or is zero).
    NotPowerOfTwo {
        /// The capacity asked for.
        capacity: usize,
    },
    /// The storage of lane `lane` could not be had (its allocation failed).
    NoStorage {
        /// The lane without storage.
        lane: usize,
    },
}

/// Makes `n` empty slots in a box (host code and tests; the kernel uses arrays or pool memory).
#[must_use]
pub fn boxed_slots<T>(n: usize) -> alloc::boxed::Box<[Slot<T>]> {
    (0..n).map(|_| Slot::new()).collect()
}
