//! The send side: `MiniportSendNetBufferLists` and the transmit queue the wire drains.
//!
//! A send raises to `DISPATCH_LEVEL`, takes each NBL of the chain, and either queues it on this CPU's
//! lane of the adapter's [`TxQueue`] or completes it at once with the reason it cannot go (paused,
//! no link, queue full). Then it signals the wire: if no other CPU is draining it, this one does.
//! Frames are copied exactly once, by the wire, from the sender's buffers straight into the
//! receiver's descriptors; the queue holds only the (owned) NBLs.
#![forbid(unsafe_code)]

use ndis::{NDIS_STATUS, NDIS_STATUS_RESOURCES};
use rvnic_helpers::generic_object::{self, DriverObject, GenericObject, Plain};
use rvnic_helpers::irql::Raised;
use rvnic_helpers::memory::PoolBox;
use rvnic_helpers::ring::Dispatch;

use crate::POOL_TAG;
use crate::adapter::Adapter;
use crate::nbl::{Chain, Nbl};

/// Queued NBLs, one lane per CPU.
pub(crate) type Lanes = rvnic_helpers::lanes::Lanes<Nbl>;

/// The transmit queue component: a generic object owning the lanes.
#[derive(Debug)]
pub struct TxQueue(GenericObject<Plain<Transmit>>);

/// The state in the transmit queue's generic object.
#[derive(Debug)]
pub struct Transmit {
    lanes: PoolBox<Lanes>,
    /// Processors when the lanes were built: a CPU numbered this or more (added since, or beyond
    /// the lanes) sends through the shared lane.
    cpus: usize,
}

impl TxQueue {
    /// Lanes of `capacity` NBLs for `cpus` processors. `PASSIVE_LEVEL`.
    ///
    /// # Errors
    /// What allocating the queue's object or lanes returned (`NDIS_STATUS_RESOURCES`).
    pub fn new(driver: Option<DriverObject>, capacity: usize, cpus: usize) -> Result<Self, NDIS_STATUS> {
        let object = GenericObject::<Plain<Transmit>>::new(driver, POOL_TAG, |_| {
            rvnic_helpers::lanes::build(capacity, cpus, POOL_TAG).map(|lanes| Transmit { lanes, cpus })
        });
        match object {
            Ok(object) => Ok(Self(object)),
            Err(generic_object::Error::Init(status)) => Err(status),
            Err(_) => Err(NDIS_STATUS_RESOURCES),
        }
    }

    /// Queues NBLs from `nbls` on `on`'s CPU lane (or the shared lane) while they fit, published
    /// together. Returns one taken from `nbls` that did not fit; the rest stay in `nbls`.
    pub(crate) fn push_from(&self, on: &Dispatch, nbls: &mut impl Iterator<Item = Nbl>) -> Option<Nbl> {
        let state = self.0.get();
        rvnic_helpers::lanes::push_from_on(&state.lanes, state.cpus, on, nbls)
    }

    /// Takes up to `max` queued NBLs, oldest first per lane, 16 from a lane at a time round-robin,
    /// continuing where the last call stopped (so no lane starves however the calls are cut). Only
    /// the holder of the adapter's wire baton calls this (the lanes' single consumer).
    pub(crate) fn pop(&self, max: usize, mut take: impl FnMut(Nbl)) -> usize {
        let state = self.0.get();
        let Some(mut consumer) = state.lanes.consumer() else {
            return 0;
        };
        // Only the CPUs the lanes were built for push onto their own; the rest use the shared
        // lane (`push_from_on`): the others are always empty.
        consumer.pop_with_among(max, 16, state.cpus, &mut take)
    }

    #[must_use]
    /// NBLs queued and not yet taken by the wire.
    pub fn len(&self) -> usize {
        self.0.get().lanes.len()
    }

    #[must_use]
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Adapter {
    /// `MiniportSendNetBufferLists`: takes ownership of `nbls`, queues what can go, completes the
    /// rest with its reason, and kicks the wire. Any CPU, IRQL <= `DISPATCH_LEVEL`, concurrently.
    /// While pausing or paused, every NBL completes at once with `NDIS_STATUS_PAUSED`
    /// (`MiniportPause`'s reference page).
    pub fn send(&self, nbls: crate::nbl::Split) {
        let raised = Raised::to_dispatch();
        let on = raised.dispatch();
        // One in-flight reference for the whole handler, taken first and dropped last: a pause
        // cannot complete, so NDIS cannot halt and free the adapter, until this returns, even after
        // every NBL below has been completed (the per-NBL references alone would let the last
        // completion complete the pause while `kick` still had to run).
        self.enter();
        // Each NBL holds a reference of its own from the moment it is taken from the chain, before
        // the wire can see (and complete) it.
        let mut nbls = nbls.inspect(|_| self.enter());
        // The whole chain is queued with one publish, as far as this CPU's lane has room; what is
        // left completes at once with the reason.
        let (status, left) = if !self.is_running() {
            (ndis::NDIS_STATUS_PAUSED, None)
        } else if !self.is_connected() {
            (ndis::NDIS_STATUS_MEDIA_DISCONNECTED, None)
        } else {
            (NDIS_STATUS_RESOURCES, self.tx.push_from(on, &mut nbls))
        };
        let mut refused = Chain::new();
        let counters = self.stats.cpu(on.cpu());
        for mut nbl in left.into_iter().chain(nbls) {
            counters.discard_out(nbl.frame_count());
            nbl.set_status(status);
            refused.push(nbl);
        }
        self.complete_sends(&mut refused);
        crate::wire::kick(self.port(), on);
        // The last touch of the adapter in this handler: it may complete a pending pause.
        self.leave();
    }

    /// Completes a chain of this adapter's sends (statuses already set) and leaves each. At
    /// `DISPATCH_LEVEL`.
    pub(crate) fn complete_sends(&self, chain: &mut Chain) {
        // Every NBL of the chain was given to this adapter by NDIS and completes once, here.
        let count = self.handle().complete_sends(chain);
        for _ in 0..count {
            self.leave();
        }
    }
}
