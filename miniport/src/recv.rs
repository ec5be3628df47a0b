//! The receive side of an adapter: taking receive descriptors for the wire, indicating them, and
//! `MiniportReturnNetBufferLists`.
//!
//! The descriptors themselves are the safe layer's [`rvnic_helpers::receive::RxPool`] (pre-allocated NBLs over buffers it
//! owns, and their lock-free free list). Every descriptor the wire takes holds an in-flight
//! reference of the adapter (see [`crate::adapter`]) until it is back on the free list, so a pause
//! completes only once the protocol has returned everything.
//!
//! When the protocol holds on to receives, free descriptors run low. Frames taken at the low-water
//! mark or below it (`Adapter::low_water`, the one definition of the mark) are indicated with
//! `NDIS_RECEIVE_FLAGS_RESOURCES`: NDIS copies
//! them during the call and the descriptors come straight back, so nothing is dropped however long
//! the protocol holds the others.

#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicBool, Ordering, fence};

use ndis::{
    NDIS_OBJECT_HEADER, NDIS_OBJECT_TYPE_DEFAULT, NDIS_RECEIVE_FLAGS_RESOURCES, NDIS_RECEIVE_QUEUE_STATE,
    NDIS_RECEIVE_QUEUE_STATE_REVISION_1, NDIS_SIZEOF_NDIS_RECEIVE_QUEUE_STATE_REVISION_1, NDIS_STATUS,
    NDIS_STATUS_PENDING, NDIS_STATUS_RECEIVE_QUEUE_STATE, NDIS_STATUS_SUCCESS,
    NdisReceiveQueueOperationalStateDmaStopped,
};
use rvnic_helpers::adapter::AdapterHandle;
use rvnic_helpers::generic_object::DriverObject;
use rvnic_helpers::irql::Raised;
use rvnic_helpers::memory::PoolBox;
use rvnic_helpers::oid::PendedRequest;
use rvnic_helpers::receive::{RxPool, Taken};
use rvnic_helpers::ring::Dispatch;
use rvnic_helpers::spin::SpinLock;

use crate::adapter::Adapter;
use crate::dbg_print;
use crate::nbl::{Chain, Nbl, Split};
use crate::wire::scaling::{MAX_QUEUES, Scaling};
use crate::wire::vmq::{Freed, VM_QUEUES};
use crate::{LANES, POOL_TAG};

/// The receive buffers of the VM queues (none with VMQ off), and a free request waiting for a
/// queue's frames to come back. Its descriptors hold the adapter's in-flight references as the
/// default queue's do.
#[derive(Debug)]
pub struct VmPools {
    pools: [Option<RxPool>; VM_QUEUES],
    /// `OID_RECEIVE_FILTER_FREE_QUEUE` pended until the slot's frames are back.
    freeing: SpinLock<Option<(usize, PendedRequest)>>,
    /// Whether `freeing` holds a request (read without the lock on every return).
    waiting: AtomicBool,
}

impl VmPools {
    /// A pool of `count` descriptors of `buffer_size` bytes per VM queue if `enabled`, else none.
    /// `PASSIVE_LEVEL`. Not inlined: building the pools has a frame of its own, not the
    /// adapter's.
    ///
    /// # Errors
    /// What allocating a pool returned; the pools built so far are freed.
    #[inline(never)]
    pub fn new(
        enabled: bool,
        driver: Option<DriverObject>,
        handle: &AdapterHandle,
        (count, buffer_size): (usize, usize),
    ) -> Result<PoolBox<Self>, NDIS_STATUS> {
        let mut pools: [Option<RxPool>; VM_QUEUES] = Default::default();
        if enabled {
            let cpus = rvnic_helpers::adapter::active_processors().clamp(1, LANES);
            for pool in &mut pools {
                *pool = Some(RxPool::new(driver, handle, count, buffer_size, cpus, POOL_TAG)?);
            }
        }
        // In pool memory of its own: the adapter stays small to build.
        PoolBox::new_in_place(POOL_TAG, |place| {
            Ok::<_, core::convert::Infallible>(place.write(Self {
                pools,
                freeing: SpinLock::new(None),
                waiting: AtomicBool::new(false),
            }))
        })
        .map_err(|_| ndis::NDIS_STATUS_RESOURCES)
    }

    /// Whether every descriptor of `slot`'s pool is free (none is out with the protocol).
    fn all_back(&self, slot: usize) -> bool {
        self.pools[slot - 1]
            .as_ref()
            .is_none_or(|p| p.free() == p.count())
    }

    /// Puts a returned NBL of a VM queue back in its pool; how many descriptors went back (0:
    /// none of theirs).
    fn recycle(&self, on: &Dispatch, nbl: &Nbl) -> usize {
        self.pools
            .iter()
            .flatten()
            .map(|p| p.recycle(on, nbl))
            .find(|n| *n > 0)
            .unwrap_or(0)
    }
}

impl Adapter {
    /// Free receive descriptors for one frame of `count` buffers (chained), each with an in-flight
    /// reference, if the adapter runs and has that many; all or none. Only the wire's baton holder
    /// calls this (the free list's single consumer).
    pub(crate) fn reserve_receive(&self, on: &Dispatch, slot: usize, count: usize) -> Option<Taken> {
        self.enter();
        if self.is_running()
            && let Some(taken) = self.pool(slot).take(on, count)
        {
            for _ in 1..taken.count() {
                self.enter();
            }
            return Some(taken);
        }
        self.leave();
        None
    }

    /// One free descriptor of `pool` (the default queue's, or a VM queue's: [`Self::pool`]) for a
    /// frame of one buffer, filled by `fill`, with an in-flight reference, if the adapter runs:
    /// see [`rvnic_helpers::receive::RxPool::take_one`]. Only the wire's baton holder calls this.
    #[inline]
    pub(crate) fn receive_one<T, E>(
        &self,
        on: &Dispatch,
        pool: &RxPool,
        fill: impl FnOnce(&mut [u8]) -> Result<(usize, T), E>,
    ) -> Option<Result<(Nbl, T), E>> {
        self.enter();
        let taken = if self.is_running() {
            pool.take_one(on, fill)
        } else {
            None
        };
        if !matches!(taken, Some(Ok(_))) {
            self.leave();
        }
        taken
    }

    /// Gives back descriptors taken with [`Self::reserve_receive`] and not indicated.
    pub(crate) fn cancel_receive(&self, on: &Dispatch, slot: usize, taken: Taken) {
        let freed = self.pool(slot).give_back(on, taken);
        self.leave_many(freed.max(1));
    }

    /// The receive buffers of queue `slot`: the default queue's (0), or a VM queue's.
    pub(crate) fn pool(&self, slot: usize) -> &RxPool {
        match slot.checked_sub(1).and_then(|i| self.vmq.pools.get(i)) {
            Some(Some(pool)) => pool,
            _ => &self.rx,
        }
    }

    /// The low-water mark of free receive descriptors: an eighth of them.
    pub(crate) fn low_water(&self) -> usize {
        self.rx.count() / 8
    }

    /// Indicates a chain of filled receive descriptors. If free descriptors are below the
    /// low-water mark (so the last frame was taken at the mark or below), with
    /// `NDIS_RECEIVE_FLAGS_RESOURCES`: NDIS copies and the descriptors are ours again at once. At
    /// `DISPATCH_LEVEL` (`on`).
    pub(crate) fn indicate(&self, on: &Dispatch, chain: &mut Chain) {
        self.indicate_from(on, 0, chain);
    }

    /// Indicates a chain of filled receive descriptors of queue `slot`'s buffers, as
    /// [`Self::indicate`] does the default queue's.
    pub(crate) fn indicate_from(&self, on: &Dispatch, slot: usize, chain: &mut Chain) {
        let pool = self.pool(slot);
        let resources = pool.free() < pool.count() / 8;
        let flags = if resources {
            NDIS_RECEIVE_FLAGS_RESOURCES
        } else {
            0
        };
        // Each NBL holds an in-flight reference taken while the adapter ran.
        if let Some(back) = self.handle().indicate_receive(chain, flags) {
            self.recycle(on, back);
        }
    }

    /// Puts indicated NBLs back in their pools and drops their references; a VM queue being
    /// freed may be done then.
    fn recycle(&self, on: &Dispatch, nbls: Split) {
        let (mut foreign, mut queued) = (0, 0);
        let freed = self
            .rx
            .recycle_all(on, nbls, |nbl| match self.vmq.recycle(on, nbl) {
                0 => {
                    dbg_print!("returned NBL {:p} is not one of this adapter's", nbl.as_ptr());
                    foreign += 1;
                }
                n => queued += n,
            });
        if queued > 0 {
            // Ordered with `free_queue`'s flag before its count of the pool (either sees the other).
            fence(Ordering::SeqCst);
            if self.vmq.waiting.load(Ordering::Relaxed) {
                self.finish_free();
            }
        }
        // Each NBL held a reference per descriptor (a foreign one is counted as one, as before).
        self.leave_many(freed + queued + foreign);
    }

    /// `OID_RECEIVE_FILTER_FREE_QUEUE` accepted (its DMA is stopped: the wire routes nothing to
    /// it any more): indicates `NDIS_STATUS_RECEIVE_QUEUE_STATE` with the DMA stopped, then frees
    /// the queue if its frames are all back, or pends `request` until they are ("Freeing a VM
    /// Queue").
    pub(crate) fn free_queue(&self, freed: Freed, request: PendedRequest) -> NDIS_STATUS {
        let state = NDIS_RECEIVE_QUEUE_STATE {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_RECEIVE_QUEUE_STATE_REVISION_1,
                NDIS_SIZEOF_NDIS_RECEIVE_QUEUE_STATE_REVISION_1,
            ),
            Flags: 0,
            QueueId: freed.id,
            QueueState: NdisReceiveQueueOperationalStateDmaStopped,
        };
        self.handle()
            .indicate_status(NDIS_STATUS_RECEIVE_QUEUE_STATE, &state);
        let mut freeing = self.vmq.freeing.lock();
        self.vmq.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.vmq.all_back(freed.slot) {
            self.vmq.waiting.store(false, Ordering::Relaxed);
            drop(freeing);
            self.queue_freed(freed.slot);
            return NDIS_STATUS_SUCCESS;
        }
        *freeing = Some((freed.slot, request));
        NDIS_STATUS_PENDING
    }

    /// Completes the pended free request if its queue's frames are all back.
    fn finish_free(&self) {
        let mut freeing = self.vmq.freeing.lock();
        let Some((slot, _)) = *freeing else {
            return;
        };
        if !self.vmq.all_back(slot) {
            return;
        }
        let done = freeing.take();
        self.vmq.waiting.store(false, Ordering::Relaxed);
        drop(freeing);
        if let Some((slot, request)) = done {
            self.queue_freed(slot);
            self.handle().complete_request(request, NDIS_STATUS_SUCCESS);
        }
    }

    /// Hands a chain of filled receive descriptors, hashed (`Nbl::set_hash`), to the RSS receive
    /// queues their hashes map to; each queue's DPC indicates them on its processor
    /// ([`Self::indicate_queue`]). The wire's baton holder calls this. Not inlined: its chains
    /// would sit in the drain's frame, which check-sys keeps within 2 KiB.
    #[inline(never)]
    pub(crate) fn indicate_scaled(&self, chain: &mut Chain, scaling: &Scaling) {
        let mut queues: [Chain; MAX_QUEUES] = Default::default();
        for nbl in chain.drain() {
            let queue = scaling.queue_of(nbl.hash().0);
            queues[queue.min(MAX_QUEUES - 1)].push(nbl);
        }
        for (queue, chain) in queues.iter_mut().enumerate() {
            self.rss.post(queue, chain);
        }
    }

    /// The DPC of receive queue `queue`, on its processor at `DISPATCH_LEVEL`: indicates what was
    /// posted to it. The descriptors hold their in-flight references, so the adapter is alive, and
    /// a pause waits for them.
    pub fn indicate_queue(&self, queue: usize) {
        let raised = Raised::to_dispatch();
        let mut chain = self.rss.collect(queue);
        // With VMQ the queues are the VM queues' (slot = queue + 1), from their own buffers.
        let slot = if self.config().vmq.is_some() { queue + 1 } else { 0 };
        self.indicate_from(raised.dispatch(), slot, &mut chain);
    }

    /// `MiniportReturnNetBufferLists`: the protocol gives indicated NBLs back.
    pub fn return_nbls(&self, nbls: Split) {
        let raised = Raised::to_dispatch();
        self.recycle(raised.dispatch(), nbls);
    }
}
