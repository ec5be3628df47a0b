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

use ndis::NDIS_RECEIVE_FLAGS_RESOURCES;
use rvnic_helpers::irql::Raised;
use rvnic_helpers::receive::Taken;
use rvnic_helpers::ring::Dispatch;

use crate::adapter::Adapter;
use crate::dbg_print;
use crate::nbl::{Chain, Nbl, Split};
use crate::wire::scaling::{MAX_QUEUES, Scaling};

impl Adapter {
    /// Free receive descriptors for one frame of `count` buffers (chained), each with an in-flight
    /// reference, if the adapter runs and has that many; all or none. Only the wire's baton holder
    /// calls this (the free list's single consumer).
    pub(crate) fn reserve_receive(&self, on: &Dispatch, count: usize) -> Option<Taken> {
        self.enter();
        if self.is_running()
            && let Some(taken) = self.rx.take(on, count)
        {
            for _ in 1..taken.count() {
                self.enter();
            }
            return Some(taken);
        }
        self.leave();
        None
    }

    /// One free descriptor for a frame of one buffer, filled by `fill`, with an in-flight
    /// reference, if the adapter runs: see [`rvnic_helpers::receive::RxPool::take_one`]. Only the
    /// wire's baton holder calls this.
    #[inline]
    pub(crate) fn receive_one<T, E>(
        &self,
        on: &Dispatch,
        fill: impl FnOnce(&mut [u8]) -> Result<(usize, T), E>,
    ) -> Option<Result<(Nbl, T), E>> {
        self.enter();
        let taken = if self.is_running() {
            self.rx.take_one(on, fill)
        } else {
            None
        };
        if !matches!(taken, Some(Ok(_))) {
            self.leave();
        }
        taken
    }

    /// Gives back descriptors taken with [`Self::reserve_receive`] and not indicated.
    pub(crate) fn cancel_receive(&self, on: &Dispatch, taken: Taken) {
        let freed = self.rx.give_back(on, taken);
        self.leave_many(freed.max(1));
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
        let resources = self.rx.free() < self.low_water();
        let flags = if resources {
            NDIS_RECEIVE_FLAGS_RESOURCES
        } else {
            0
        };
        // Each NBL holds an in-flight reference taken while the adapter ran.
        if let Some(back) = self.handle().indicate_receive(chain, flags) {
            let mut foreign = 0;
            let freed = self.rx.recycle_all(on, back, |_| foreign += 1);
            self.leave_many(freed + foreign);
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
        self.indicate(raised.dispatch(), &mut chain);
    }

    /// `MiniportReturnNetBufferLists`: the protocol gives indicated NBLs back.
    pub fn return_nbls(&self, nbls: Split) {
        let raised = Raised::to_dispatch();
        let mut foreign = 0;
        let freed = self.rx.recycle_all(raised.dispatch(), nbls, |nbl| {
            dbg_print!("returned NBL {:p} is not one of this adapter's", nbl.as_ptr());
            foreign += 1;
        });
        // Each NBL held a reference per descriptor (a foreign one is counted as one, as before).
        self.leave_many(freed + foreign);
    }
}
