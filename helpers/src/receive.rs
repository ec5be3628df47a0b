//! The receive descriptor pool: an adapter's receive descriptors (pre-allocated NBLs over buffers
//! the pool owns) and the lock-free free list they cycle through.
//!
//! [`RxPool`] is a helper component: it owns an NDIS generic object and uses it as the handle of its
//! NBL pool and MDLs. Each descriptor is one NBL with one `NET_BUFFER` and one MDL over its slice of
//! one pool block; the NBL's `MiniportReserved[0]` holds the descriptor's index + 1. A taker (the
//! wire, the free list's only consumer) gets a [`Taken`]: one descriptor, or several chained for a
//! frame longer than one buffer. The token is the ownership: it lends the buffers
//! ([`RxPool::buffer`]), and is consumed to indicate them ([`RxPool::prepare`]) or give them back
//! ([`RxPool::give_back`]). Returns push descriptors back from any CPU onto that CPU's lane
//! ([`RxPool::recycle`]). Nothing here allocates after [`RxPool::new`].

use core::marker::PhantomData;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU16, Ordering};

use ndis::{NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_RESOURCES, PMDL, PNET_BUFFER_LIST};

use crate::adapter::AdapterHandle;
use crate::generic_object::{self, DriverObject, GenericObject, ObjectHandle, State};
use crate::lanes::{self, Lanes, push_from_on};
use crate::memory::{PoolBlock, PoolBox, PoolSlice};
use crate::nbl::{self, Nbl};
use crate::ring::Dispatch;

/// Free descriptor indices, one lane per CPU.
type FreeList = Lanes<u16>;

/// One receive descriptor: an NBL (with its NB) and the MDL over its buffer. A frame longer than
/// one buffer (a coalesced unit) spans several descriptors: the first one's NBL carries it, and
/// the others' MDLs are chained after its MDL (`next` links them, for [`RxPool::buffer`] and
/// [`RxPool::recycle`]).
#[derive(Debug)]
struct Descriptor {
    nbl: PNET_BUFFER_LIST,
    mdl: PMDL,
    /// The next descriptor of a chained frame, or [`NO_NEXT`]. Changed only by the descriptor's
    /// owner (Relaxed: ownership passes through the free list, which orders it).
    next: AtomicU16,
}

/// No next descriptor.
const NO_NEXT: u16 = u16::MAX;

/// The component's state, in its generic object's trailing bytes. Everything in it was allocated
/// through the object's handle (`'obj`) or from pool with the driver's tag.
#[derive(Debug)]
pub struct Receive<'obj> {
    /// The NBL pool (allocated with the object's handle).
    pool: NDIS_HANDLE,
    /// Filled in by `new` as it goes, so a failure half-way frees exactly what exists.
    descriptors: PoolSlice<Descriptor>,
    buffers: PoolBlock,
    buffer_size: usize,
    free: PoolBox<FreeList>,
    /// Lanes of the free list in use (one per processor).
    cpus: usize,
    _brand: PhantomData<ObjectHandle<'obj>>,
}

/// The state family of the receive component's generic object.
#[derive(Debug)]
pub struct Family;

impl State for Family {
    type In<'obj> = Receive<'obj>;
}

// SAFETY: the raw NDIS handles are owned by the component and used from any CPU (NDIS allows
// these calls at IRQL <= DISPATCH_LEVEL); descriptors are handed between threads only through the
// free list, which gives each one a single owner at a time.
unsafe impl Send for Receive<'_> {}
// SAFETY: as above; shared access only pushes to and pops from the lock-free free list.
unsafe impl Sync for Receive<'_> {}

/// An adapter's receive descriptors. See the module documentation.
#[derive(Debug)]
pub struct RxPool(GenericObject<Family>);

/// Descriptors taken from the pool's free list for one frame, owned by the holder: one, or several
/// chained in order. Consumed by [`RxPool::prepare`] or [`RxPool::give_back`]; dropping it loses
/// its descriptors to receives until the pool is freed.
///
/// # Invariants
/// The descriptors from `first` along `next` (`count` of them) were popped from the free list of
/// the pool at `pool` and are neither indicated nor back on the list; no other `Taken` names them.
#[derive(Debug)]
#[must_use = "a taken descriptor is indicated (prepare) or given back"]
pub struct Taken {
    first: u16,
    count: u16,
    /// The last buffer lent, as (position in the chain, descriptor index): a walk to a later
    /// buffer starts there, so lending the buffers in order costs one link each.
    cursor: (u16, u16),
    /// The identity of the pool's state (its address), checked by every method.
    pool: *const (),
}

impl Taken {
    /// Descriptors (buffers) in the frame.
    #[must_use]
    #[inline]
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }
}

/// Rounds buffers up so each starts on a cache line.
const BUFFER_ALIGN: usize = 64;

impl RxPool {
    /// `count` descriptors (at most 65534) of `buffer_size` bytes for the adapter `adapter` (the
    /// NBLs' `SourceHandle`), with free-list lanes for `cpus` processors, allocated with `tag`.
    /// `PASSIVE_LEVEL`.
    ///
    /// # Errors
    /// What allocating the object, the buffers, the NBL pool or a descriptor's MDL and NBL
    /// returned (`NDIS_STATUS_RESOURCES` for the pool); whatever was allocated is freed.
    pub fn new(
        driver: Option<DriverObject>,
        adapter: &AdapterHandle,
        count: usize,
        buffer_size: usize,
        cpus: usize,
        tag: u32,
    ) -> Result<Self, NDIS_STATUS> {
        let object = GenericObject::<Family>::new(driver, tag, |handle| {
            Receive::new(handle, adapter.as_raw(), count, buffer_size, cpus, tag)
        });
        match object {
            Ok(object) => Ok(Self(object)),
            Err(generic_object::Error::Init(status)) => Err(status),
            Err(_) => Err(NDIS_STATUS_RESOURCES),
        }
    }

    /// Descriptors on the free list now.
    #[must_use]
    #[inline]
    pub fn free(&self) -> usize {
        self.0.with(|rx, _| rx.free.len_of_lanes(rx.cpus))
    }

    #[must_use]
    /// Descriptors in the pool (free or not).
    pub fn count(&self) -> usize {
        self.0.with(|rx, _| rx.descriptors.len())
    }

    /// The bytes of one descriptor's buffer (every buffer has this size).
    #[must_use]
    #[inline]
    pub fn buffer_size(&self) -> usize {
        self.0.with(|rx, _| rx.buffer_size)
    }

    /// Takes `count` (at least one) free descriptors for one frame, chained in order, or none
    /// (`None`) if the free list has fewer or another consumer is active. Only the free list's
    /// single consumer (the wire's baton holder) calls this; `on` is its CPU, for putting back
    /// what a short list gave.
    #[must_use]
    #[inline]
    pub fn take(&self, on: &Dispatch, count: usize) -> Option<Taken> {
        self.0.with(|rx, _| {
            let count = u16::try_from(count.max(1)).ok()?;
            let mut consumer = rx.free.consumer()?;
            let first = consumer.pop()?;
            let mut last = first;
            for _ in 1..count {
                let Some(index) = consumer.pop() else {
                    drop(consumer);
                    // Back where they came from: the `got` descriptors chained so far.
                    rx.release(on, first);
                    return None;
                };
                rx.link(last, index);
                last = index;
            }
            Some(Taken {
                first,
                count,
                cursor: (0, first),
                pool: rx.identity(),
            })
        })
    }

    /// Buffer `k` of the frame `taken` (in chain order), lent for as long as the token is
    /// borrowed: empty if there is no such buffer or the token is another pool's.
    #[inline]
    pub fn buffer<'a>(&'a self, taken: &'a mut Taken, k: usize) -> &'a mut [u8] {
        self.0.with(|rx, _| {
            let Some(index) = rx.nth(&mut *taken, k) else {
                return &mut [][..];
            };
            let start = rx
                .buffers
                .as_ptr()
                .wrapping_add(usize::from(index) * rx.buffer_size);
            // Descriptor `index` belongs to `taken` (checked: this pool's token, within its
            // chain), which the caller borrows mutably for `'a`: nobody else can reach this buffer
            // meanwhile. The buffer lies inside the block the pool owns for its whole life.
            // SAFETY: valid bytes, exclusively the caller's for `'a`.
            unsafe { core::slice::from_raw_parts_mut(start, rx.buffer_size) }
        })
    }

    /// One free descriptor for a frame that fits one buffer, the common case, without a token:
    /// `fill` gets the descriptor's whole buffer, writes the frame and returns its length (with
    /// whatever else the caller wants back), or an error, and the descriptor goes back to the free
    /// list. On success the NBL comes back with that data length, ready to indicate. `None` if no
    /// descriptor is free (or another consumer is active). Only the free list's single consumer
    /// (the wire's baton holder) calls this; `on` is its CPU.
    #[inline]
    pub fn take_one<T, E>(
        &self,
        on: &Dispatch,
        fill: impl FnOnce(&mut [u8]) -> Result<(usize, T), E>,
    ) -> Option<Result<(Nbl, T), E>> {
        self.0.with(|rx, _| {
            let index = rx.free.consumer()?.pop()?;
            let descriptor = rx.descriptors.get(usize::from(index))?;
            let start = rx
                .buffers
                .as_ptr()
                .wrapping_add(usize::from(index) * rx.buffer_size);
            // Descriptor `index` was just popped from the free list by its single consumer: its
            // buffer (inside the block the pool owns for its whole life) is this call's alone
            // until the descriptor is pushed back or its NBL handed out below.
            // SAFETY: valid bytes, exclusively ours for the call.
            let buffer = unsafe { core::slice::from_raw_parts_mut(start, rx.buffer_size) };
            match fill(buffer) {
                Err(e) => {
                    rx.release(on, index);
                    Some(Err(e))
                }
                Ok((len, extra)) => {
                    // Popped, so the descriptor's NBL is ours; it goes to the caller.
                    // SAFETY: a live NBL of this pool, owned by this call.
                    let mut nbl = unsafe { Nbl::from_raw(descriptor.nbl) }?;
                    nbl::set_data_length(&mut nbl, len.min(rx.buffer_size));
                    Some(Ok((nbl, extra)))
                }
            }
        })
    }

    /// The frame's NBL (its first descriptor's), its data length set to `len`, ready to indicate;
    /// `None` (and the descriptors lost to receives) if the token is another pool's.
    #[must_use]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "consuming the token is the point: it cannot be used again"
    )]
    #[inline]
    pub fn prepare(&self, taken: Taken, len: usize) -> Option<Nbl> {
        self.0.with(|rx, _| {
            if taken.pool != rx.identity() {
                return None;
            }
            let nbl = rx.descriptors.get(usize::from(taken.first))?.nbl;
            // The token owns its first descriptor (its invariant), so it owns that NBL; consuming
            // the token hands the ownership to the `Nbl`.
            // SAFETY: a live NBL of this pool, owned by the caller.
            let mut nbl = unsafe { Nbl::from_raw(nbl) }?;
            nbl::set_data_length(&mut nbl, len);
            Some(nbl)
        })
    }

    /// Puts the descriptors of a frame that will not be indicated back on the free list from `on`'s
    /// CPU. Returns how many went back (0 for another pool's token).
    #[must_use]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "consuming the token is the point: it cannot be used again"
    )]
    #[inline]
    pub fn give_back(&self, on: &Dispatch, taken: Taken) -> usize {
        self.0.with(|rx, _| {
            if taken.pool != rx.identity() {
                return 0;
            }
            rx.release(on, taken.first)
        })
    }

    /// Puts an indicated frame's descriptors back on the free list from `on`'s CPU (a return, or
    /// the end of an indication with `NDIS_RECEIVE_FLAGS_RESOURCES`). Returns how many descriptors
    /// went back: 0 if the NBL is not one of this pool's.
    #[must_use]
    #[inline]
    pub fn recycle(&self, on: &Dispatch, nbl: &Nbl) -> usize {
        self.0
            .with(|rx, _| rx.index_of(nbl).map_or(0, |first| rx.release(on, first)))
    }
}

impl RxPool {
    /// Puts the frames of `nbls` (returned, or back from an indication with
    /// `NDIS_RECEIVE_FLAGS_RESOURCES`) on the free list from `on`'s CPU, their descriptors
    /// published together. An NBL that is not one of this pool's is handed to `foreign` and left
    /// alone. Returns how many descriptors went back.
    pub fn recycle_all(
        &self,
        on: &Dispatch,
        nbls: impl Iterator<Item = Nbl>,
        mut foreign: impl FnMut(&Nbl),
    ) -> usize {
        self.0.with(|rx, _| {
            let mut freed = 0;
            let mut nbls = nbls;
            // The descriptor to yield next: the rest of a frame's chain, before the next NBL.
            let mut chained: Option<u16> = None;
            let mut indices = core::iter::from_fn(|| {
                loop {
                    if let Some(index) = chained {
                        chained = rx.unlink(index);
                        freed += 1;
                        return Some(index);
                    }
                    let nbl = nbls.next()?;
                    chained = rx.index_of(&nbl);
                    if chained.is_none() {
                        foreign(&nbl);
                    }
                    // Ours again (or never ours): the descriptor table owns what it describes.
                    let _ = nbl.into_raw();
                }
            });
            rx.push_free(on, &mut indices);
            freed
        })
    }
}

impl<'obj> Receive<'obj> {
    fn new(
        handle: ObjectHandle<'obj>,
        adapter: NDIS_HANDLE,
        count: usize,
        buffer_size: usize,
        cpus: usize,
        tag: u32,
    ) -> Result<Self, NDIS_STATUS> {
        // Indices fit a u16 below NO_NEXT.
        let count = count.min(usize::from(u16::MAX - 1));
        let buffer_size = buffer_size.next_multiple_of(BUFFER_ALIGN);
        let free = lanes::build(count, cpus, tag)?;
        let buffers = PoolBlock::new(count * buffer_size, BUFFER_ALIGN, tag).ok_or(NDIS_STATUS_RESOURCES)?;
        let descriptors = PoolSlice::new(count, tag, |_| Descriptor {
            nbl: null_mut(),
            mdl: null_mut(),
            next: AtomicU16::new(NO_NEXT),
        })
        .ok_or(NDIS_STATUS_RESOURCES)?;
        let mut pool_parameters = ndis::NET_BUFFER_LIST_POOL_PARAMETERS {
            Header: ndis::NDIS_OBJECT_HEADER::new(
                ndis::NDIS_OBJECT_TYPE_DEFAULT,
                ndis::NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
                ndis::NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            ),
            ProtocolId: ndis::NDIS_PROTOCOL_ID_DEFAULT,
            fAllocateNetBuffer: ndis::TRUE,
            ContextSize: 0,
            PoolTag: tag,
            DataSize: 0,
        };
        // The object's handle is a valid NdisHandle for NBL pools ("Obtaining Pool Handles");
        // the parameters live for the call; PASSIVE_LEVEL (initialize).
        // SAFETY: valid handle and parameters; the pool is freed in `drop` before the object.
        let pool = unsafe { ndis::NdisAllocateNetBufferListPool(handle.as_raw(), &raw mut pool_parameters) };
        if pool.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        let mut rx = Self {
            pool,
            descriptors,
            buffers,
            buffer_size,
            free,
            cpus,
            _brand: PhantomData,
        };
        rx.fill(handle, adapter)?;
        Ok(rx)
    }

    /// The pool's identity for [`Taken`]: the state's address (stable: it lives in the generic
    /// object until the pool is freed).
    #[inline]
    fn identity(&self) -> *const () {
        core::ptr::from_ref(self).cast()
    }

    /// Chains descriptor `next` behind `this` (its MDL after `this`'s, and the `next` link). Both
    /// were just popped by the caller, the free list's single consumer, and are not in any frame
    /// yet.
    #[inline]
    fn link(&self, this: u16, next: u16) {
        let (Some(d), Some(n)) = (
            self.descriptors.get(usize::from(this)),
            self.descriptors.get(usize::from(next)),
        ) else {
            return;
        };
        // Popped from the free list by the caller and not yet handed out: the MDL is the
        // caller's to relink, and nothing reads it until the frame is indicated.
        // SAFETY: a live MDL of this pool, exclusively the caller's.
        unsafe { (*d.mdl).Next = n.mdl };
        d.next.store(next, Ordering::Relaxed);
    }

    /// The index of buffer `k` of `taken`, if the token is this pool's and has one. Walks from the
    /// token's cursor when `k` is at or past it (from the first buffer otherwise), and leaves the
    /// cursor on `k`.
    #[inline]
    fn nth(&self, taken: &mut Taken, k: usize) -> Option<u16> {
        if taken.pool != self.identity() || k >= taken.count() {
            return None;
        }
        let (mut at, mut index) = match taken.cursor {
            (at, index) if usize::from(at) <= k => (usize::from(at), index),
            _ => (0, taken.first),
        };
        while at < k {
            index = self
                .descriptors
                .get(usize::from(index))?
                .next
                .load(Ordering::Relaxed);
            if index == NO_NEXT {
                return None;
            }
            at += 1;
        }
        // `k < count <= u16::MAX`.
        taken.cursor = (u16::try_from(k).ok()?, index);
        Some(index)
    }

    /// Unchains the frame starting at descriptor `first` and pushes each of its descriptors onto
    /// `on`'s lane of the free list. The caller owns the frame (a token, or an NBL returned or
    /// reclaimed). Returns how many descriptors went back.
    #[inline]
    fn release(&self, on: &Dispatch, first: u16) -> usize {
        let mut freed = 0;
        self.push_free(on, &mut self.unchain(first).inspect(|_| freed += 1));
        freed
    }

    /// The descriptor index an NBL of this pool names (its `MiniportReserved[0]` is the index + 1),
    /// or `None` for any other NBL.
    #[inline]
    fn index_of(&self, nbl: &Nbl) -> Option<u16> {
        let index = nbl.reserved().checked_sub(1)?;
        match self.descriptors.get(index) {
            Some(d) if d.nbl == nbl.as_ptr() => u16::try_from(index).ok(),
            _ => None,
        }
    }

    /// The descriptors of the frame starting at `first`, each unchained as it is yielded. The
    /// caller owns the frame (a token, or an NBL returned or reclaimed).
    #[inline]
    fn unchain(&self, first: u16) -> impl Iterator<Item = u16> + '_ {
        let mut next = Some(first);
        core::iter::from_fn(move || {
            let this = next?;
            next = self.unlink(this);
            Some(this)
        })
    }

    /// Unchains descriptor `index` from the one after it in its frame (its `next` link and its
    /// MDL's) and returns that one, if any. The caller owns the frame. A link is cleared as it is
    /// followed, so a walk ends even on a chain that loops.
    #[inline]
    fn unlink(&self, index: u16) -> Option<u16> {
        let d = self.descriptors.get(usize::from(index))?;
        // A single-buffer frame (the usual one) has no link to clear.
        if d.next.load(Ordering::Relaxed) == NO_NEXT {
            return None;
        }
        let next = d.next.swap(NO_NEXT, Ordering::Relaxed);
        // The caller owns every descriptor of the frame, so their MDLs are its to unlink.
        // SAFETY: a live MDL of this pool, owned by this call.
        unsafe { (*d.mdl).Next = null_mut() };
        (usize::from(next) < self.descriptors.len()).then_some(next)
    }

    /// Pushes the descriptor indices `indices` yields onto `on`'s lane of the free list. Each lane
    /// of a CPU that existed at initialization, and the shared lane every other CPU uses, holds
    /// every descriptor, and an index is on the list at most once, so every push fits; if one
    /// somehow did not, its descriptor (and any after it) would only be lost to receives.
    #[inline]
    fn push_free(&self, on: &Dispatch, indices: &mut impl Iterator<Item = u16>) {
        let _ = push_from_on(&self.free, self.cpus, on, indices);
        indices.for_each(drop);
    }

    /// Allocates each descriptor's MDL and NBL and puts it on the free list, at `PASSIVE_LEVEL` (up to
    /// 8,192 pairs: nothing here raises the IRQL). On failure, what was allocated so far is recorded
    /// in `descriptors` and freed by `drop`.
    fn fill(&mut self, handle: ObjectHandle<'obj>, adapter: NDIS_HANDLE) -> Result<(), NDIS_STATUS> {
        let Ok(length) = u32::try_from(self.buffer_size) else {
            return Err(NDIS_STATUS_RESOURCES);
        };
        for index in 0..self.descriptors.len() {
            let va = self.buffers.as_ptr().wrapping_add(index * self.buffer_size);
            // The buffer slice is inside the block this state owns and outlives the MDL (freed in
            // `drop` first); the object's handle is accepted for MDLs; IRQL <= DISPATCH_LEVEL.
            // SAFETY: valid handle, non-paged memory of `length` bytes owned by this state.
            let mdl = unsafe { ndis::NdisAllocateMdl(handle.as_raw(), va.cast(), length) };
            if mdl.is_null() {
                return Err(NDIS_STATUS_RESOURCES);
            }
            self.descriptors[index].mdl = mdl;
            // The pool was allocated above with fAllocateNetBuffer; the MDL is ours and outlives
            // the NBL (freed after it in `drop`).
            // SAFETY: valid pool and MDL; IRQL <= DISPATCH_LEVEL.
            let nbl = unsafe { ndis::NdisAllocateNetBufferAndNetBufferList(self.pool, 0, 0, mdl, 0, 0) };
            if nbl.is_null() {
                return Err(NDIS_STATUS_RESOURCES);
            }
            self.descriptors[index].nbl = nbl;
            // Freshly allocated and ours until freed in `drop`.
            // SAFETY: a live NBL this state owns.
            let mut owned = unsafe { Nbl::from_raw(nbl) }.ok_or(NDIS_STATUS_RESOURCES)?;
            owned.set_reserved(index + 1);
            // SAFETY: as above; a plain write of the field NDIS reads as the indicating adapter.
            unsafe { (*nbl).SourceHandle = adapter };
            let _ = owned.into_raw();
            // The free list is not shared yet (the component is being built): no IRQL needed.
            self.free
                .push_exclusive(0, u16::try_from(index).map_err(|_| NDIS_STATUS_RESOURCES)?)
                .map_err(|_| NDIS_STATUS_RESOURCES)?;
        }
        Ok(())
    }
}

impl Drop for Receive<'_> {
    fn drop(&mut self) {
        for d in self.descriptors.iter() {
            if !d.nbl.is_null() {
                // Allocated from `pool` in `fill` and owned by this state: the adapter is halted or
                // initialize failed, so no descriptor is indicated. IRQL <= DISPATCH_LEVEL.
                // SAFETY: a live NBL of ours, freed once.
                unsafe { ndis::NdisFreeNetBufferList(d.nbl) };
            }
            if !d.mdl.is_null() {
                // SAFETY: the MDL from `fill`, no longer used by its (freed) NBL; freed once.
                unsafe { ndis::NdisFreeMdl(d.mdl) };
            }
        }
        // Every NBL of the pool is freed above; the pool goes before the generic object.
        // SAFETY: the pool from `new`, freed once, empty.
        unsafe { ndis::NdisFreeNetBufferListPool(self.pool) };
    }
}
