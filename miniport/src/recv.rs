//! The receive side: an adapter's receive descriptors (pre-allocated NBLs over buffers it owns), the
//! lock-free free list they cycle through, and `MiniportReturnNetBufferLists`.
//!
//! [`RxPool`] is a helper component: it owns an NDIS generic object and uses it as the handle of its
//! NBL pool and MDLs. Each descriptor is one NBL with one NET_BUFFER and one MDL over its slice of
//! one pool block; the NBL's `MiniportReserved[0]` holds the descriptor's index + 1. The wire takes
//! free descriptors (it is the free list's only consumer, under its baton), fills and indicates
//! them; returns push them back from any CPU onto that CPU's lane. Nothing here allocates after
//! [`RxPool::new`].

use core::marker::PhantomData;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU16, Ordering};

use ndis::{NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_RESOURCES, PMDL, PNET_BUFFER_LIST};
use rvnic_helpers::generic_object::{self, DriverObject, GenericObject, ObjectHandle, State};
use rvnic_helpers::memory::{PoolBlock, PoolBox, PoolSlice};
use rvnic_helpers::ring::{Dispatch, Mpsc, Slot};

use crate::nbl::Nbl;
use crate::{LANES, POOL_TAG};

/// A ring of one lane per CPU in pool memory.
pub(crate) type Lanes<T> = Mpsc<T, PoolSlice<Slot<T>>, LANES>;

/// Free descriptor indices, one lane per CPU.
pub(crate) type FreeList = Lanes<u16>;

/// One receive descriptor: an NBL (with its NB) and the MDL over its buffer. A frame longer than
/// one buffer (a coalesced unit) spans several descriptors: the first one's NBL carries it, and
/// the others' MDLs are chained after its MDL (`next` links them, for [`RxPool::recycle`]).
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

/// Rounds buffers up so each starts on a cache line.
const BUFFER_ALIGN: usize = 64;

impl RxPool {
    /// `count` descriptors (at most 65535) of `buffer_size` bytes, for the adapter `adapter`
    /// (the NBLs' `SourceHandle`), with free-list lanes for `cpus` processors. PASSIVE_LEVEL.
    pub fn new(
        driver: Option<DriverObject>,
        adapter: NDIS_HANDLE,
        count: usize,
        buffer_size: usize,
        cpus: usize,
    ) -> Result<Self, NDIS_STATUS> {
        let object = GenericObject::<Family>::new(driver, POOL_TAG, |handle| {
            Receive::new(handle, adapter, count, buffer_size, cpus)
        });
        match object {
            Ok(object) => Ok(Self(object)),
            Err(generic_object::Error::Init(status)) => Err(status),
            Err(_) => Err(NDIS_STATUS_RESOURCES),
        }
    }

    /// Descriptors on the free list now.
    #[must_use]
    pub fn free(&self) -> usize {
        self.0.with(|rx, _| rx.free.len_of_lanes(rx.cpus))
    }

    #[must_use]
    pub fn count(&self) -> usize {
        self.0.with(|rx, _| rx.descriptors.len())
    }

    /// Takes a free descriptor. Only the holder of the adapter's wire baton calls this (the free
    /// list's single consumer).
    pub(crate) fn take(&self) -> Option<u16> {
        self.0.with(|rx, _| rx.free.consumer()?.pop())
    }

    /// Takes `out.len()` free descriptors into `out`, or none: `false` (and nothing taken) if the
    /// free list has fewer. Only the wire's baton holder calls this.
    pub(crate) fn take_all(&self, on: &Dispatch, out: &mut [u16]) -> bool {
        self.0.with(|rx, _| {
            let Some(mut consumer) = rx.free.consumer() else {
                return false;
            };
            for got in 0..out.len() {
                match consumer.pop() {
                    Some(index) => out[got] = index,
                    None => {
                        drop(consumer);
                        // Back where they came from; as in `recycle`, the push cannot fail.
                        for &index in &out[..got] {
                            let _ = push_on(&rx.free, rx.cpus, on, index);
                        }
                        return false;
                    }
                }
            }
            true
        })
    }

    /// The buffer of descriptor `index` (empty if there is no such descriptor).
    ///
    /// # Safety
    /// The caller took descriptor `index` from the free list and has not indicated or recycled it,
    /// and holds no other reference to its buffer: the buffer is exclusively the caller's.
    #[expect(
        clippy::mut_from_ref,
        reason = "ownership of a descriptor passes through the free list, not through &mut self"
    )]
    pub(crate) unsafe fn buffer(&self, index: u16) -> &mut [u8] {
        self.0.with(|rx, _| {
            if usize::from(index) >= rx.descriptors.len() {
                return &mut [][..];
            }
            let start = rx
                .buffers
                .as_ptr()
                .wrapping_add(usize::from(index) * rx.buffer_size);
            // In bounds (checked), inside the block that lives as long as the pool, and the
            // caller's alone (this function's contract).
            // SAFETY: valid, exclusively borrowed bytes.
            unsafe { core::slice::from_raw_parts_mut(start, rx.buffer_size) }
        })
    }

    /// The bytes of one descriptor's buffer (every buffer has this size).
    #[must_use]
    pub fn buffer_size(&self) -> usize {
        self.0.with(|rx, _| rx.buffer_size)
    }

    /// Chains the buffers of `indices` (in order) behind the first one, so its NBL carries one
    /// frame across all of them: each MDL links to the next. Done before [`Self::prepare`].
    ///
    /// # Safety
    /// The caller took every descriptor of `indices` from the free list and has not indicated or
    /// recycled any of them; they are distinct.
    pub(crate) unsafe fn link(&self, indices: &[u16]) {
        self.0.with(|rx, _| {
            for pair in indices.windows(2) {
                let (Some(this), Some(next)) = (
                    rx.descriptors.get(usize::from(pair[0])),
                    rx.descriptors.get(usize::from(pair[1])),
                ) else {
                    continue;
                };
                // The caller owns both descriptors, so their MDLs are ours to relink; nothing
                // reads this MDL until the frame is indicated.
                // SAFETY: a live MDL of this pool, exclusively the caller's.
                unsafe { (*this.mdl).Next = next.mdl };
                this.next.store(pair[1], Ordering::Relaxed);
            }
        });
    }

    /// Descriptor `index`'s NBL, its frame length set, ready to indicate.
    pub(crate) fn prepare(&self, index: u16, len: usize) -> Nbl {
        self.0.with(|rx, _| {
            let nbl = rx.descriptors[usize::from(index)].nbl;
            // The caller owns descriptor `index` (took it from the free list), so it owns its NBL.
            // SAFETY: a live NBL of this pool, owned by the caller.
            let mut nbl = unsafe { Nbl::from_raw(nbl) }.unwrap_or_else(|| unreachable!());
            crate::nbl::set_data_length(&mut nbl, len);
            nbl
        })
    }

    /// Puts a descriptor, and those chained behind it, back on the free list from `on`'s CPU (a
    /// return, or a drop after an indication with `NDIS_RECEIVE_FLAGS_RESOURCES`). Returns how
    /// many descriptors went back: 0 if the NBL is not one of ours.
    pub(crate) fn recycle(&self, on: &Dispatch, nbl: &Nbl) -> usize {
        self.0.with(|rx, _| {
            let Some(index) = nbl.reserved().checked_sub(1) else {
                return 0;
            };
            let Some(d) = rx.descriptors.get(index) else {
                return 0;
            };
            if d.nbl != nbl.as_ptr() {
                return 0;
            }
            let mut freed = 0;
            let mut next = index as u16;
            // A chain is at most every descriptor long, so the walk ends.
            while let Some(d) = rx
                .descriptors
                .get(usize::from(next))
                .filter(|_| freed < rx.descriptors.len())
            {
                let this = next;
                next = d.next.swap(NO_NEXT, Ordering::Relaxed);
                // The protocol returned the frame, so every descriptor of its chain is ours again.
                // SAFETY: a live MDL of this pool, owned by this call.
                unsafe { (*d.mdl).Next = null_mut() };
                // Each lane of a CPU that existed at initialization, and the shared lane every
                // other CPU uses, holds every descriptor, and an index is on the list at most once,
                // so the push cannot fail; if it somehow did, the descriptor would only be lost to
                // receives.
                let _ = push_on(&rx.free, rx.cpus, on, this);
                freed += 1;
            }
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
    ) -> Result<Self, NDIS_STATUS> {
        // Indices fit a u16 below NO_NEXT.
        let count = count.min(usize::from(u16::MAX - 1));
        let buffer_size = buffer_size.next_multiple_of(BUFFER_ALIGN);
        let free = build_free_list(count, cpus)?;
        let buffers =
            PoolBlock::new(count * buffer_size, BUFFER_ALIGN, POOL_TAG).ok_or(NDIS_STATUS_RESOURCES)?;
        let descriptors = PoolSlice::new(count, POOL_TAG, |_| Descriptor {
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
            PoolTag: POOL_TAG,
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

    /// Allocates each descriptor's MDL and NBL and puts it on the free list, at PASSIVE_LEVEL (up to
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
                .push_exclusive(0, index as u16)
                .map_err(|_| NDIS_STATUS_RESOURCES)?;
        }
        Ok(())
    }
}

/// The free list, built in pool memory (64 lanes do not fit a kernel stack). A lane of a CPU that
/// exists holds every descriptor (all may come back on one CPU), and so does the shared lane that
/// every other CPU returns through; the other lanes hold one.
pub(crate) fn build_free_list(count: usize, cpus: usize) -> Result<PoolBox<FreeList>, NDIS_STATUS> {
    build_lanes(count, cpus)
}

/// An MPSC ring in pool memory whose lanes for `cpus` processors, and its shared lane, hold
/// `capacity` items each. The lanes of CPUs that did not exist then hold one item: such a CPU
/// (added later, or numbered `LANES` or more) pushes onto the shared lane instead ([`push_on`]).
/// Each lane's storage is allocated as the ring is built in place, so nothing the size of the
/// lanes is ever on the kernel stack.
#[inline(never)]
pub(crate) fn build_lanes<T>(capacity: usize, cpus: usize) -> Result<PoolBox<Lanes<T>>, NDIS_STATUS> {
    PoolBox::new_in_place(POOL_TAG, |place| {
        Mpsc::init_in_place(place, |lane| {
            let capacity = if lane < cpus || lane == LANES {
                capacity.next_power_of_two()
            } else {
                1
            };
            PoolSlice::new(capacity, POOL_TAG, |_| Slot::new())
        })
    })
    .map_err(|_| NDIS_STATUS_RESOURCES)
}

/// Pushes onto `on`'s CPU lane if the CPU existed when the lanes were built for `cpus` processors,
/// and onto the shared lane otherwise: every processor can push, whatever its number and whenever
/// it came.
pub(crate) fn push_on<T>(lanes: &Lanes<T>, cpus: usize, on: &Dispatch, item: T) -> Result<(), T> {
    if on.cpu() < cpus {
        lanes.push(on, item)
    } else {
        lanes.push_shared(on, item)
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
