//! What a drain does besides moving frames: sends NDIS cancelled, and a reset waiting for the sends
//! queued before it.
//!
//! Both are requests from another CPU about NBLs only the wire's drain can reach (the transmit lanes
//! have one consumer, the baton holder). The requester records its request here and kicks the wire;
//! the drain honours it as it pops, and settles it when a pass finds the adapter's lanes empty.
//! Nothing here costs the datapath more than one relaxed load per adapter per pass while no request
//! is pending.
//!
//! **Cancel** (`MiniportCancelSend`): an NBL whose cancel identifier is pending completes with
//! `NDIS_STATUS_SEND_ABORTED` instead of going out. An identifier is retired by the first pass that
//! began after it was recorded and found the lanes empty: every NBL queued before the cancel was
//! popped (and aborted) by then. An NBL with the identifier sent after the cancel may be aborted
//! too, until then; one already being copied when the cancel came goes out. Both are within the
//! page's contract ("cancels the transmission of all `NET_BUFFER_LIST` structures that are marked with
//! a specified cancellation identifier" that the driver still queues).
//!
//! **Reset** (`MiniportResetEx`): "starting with NDIS 6.30, the miniport driver must not hold
//! pending OID or send requests until after the reset operation is complete" and, completing
//! asynchronously, "must complete pending OID and send requests before the driver calls
//! `NdisMResetComplete`" (its page). NDIS sends nothing during a reset, so the reset is done when a
//! drain pass, after completing what it moved, finds the lanes empty. The handler records the reset
//! and kicks the wire, so at least one such pass runs after it; who settles it is decided by
//! [`Reset`] (`rvnic_helpers::reset`, loom-checked): the handler (it returns `NDIS_STATUS_SUCCESS`)
//! or a drain after the handler returned `NDIS_STATUS_PENDING` (it calls `NdisMResetComplete`).

#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub use rvnic_helpers::reset::{ResetGate as Reset, Settled};
use rvnic_helpers::spin::SpinLock;

/// Cancel identifiers pending at once per adapter; more are counted in [`Cancels::overflowed`] and
/// their NBLs complete normally (a cancel is a request to hurry, never needed for correctness).
pub const MAX_CANCELS: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// 0: a free slot (NDIS cancel identifiers are never NULL).
    id: usize,
    /// The current pass began after this entry was recorded: a pass that finds the lanes empty
    /// may retire it.
    seen: bool,
}

/// Pending cancel identifiers of one adapter.
#[derive(Debug)]
pub struct Cancels {
    /// Live entries: the drain reads only this while there are none.
    live: AtomicUsize,
    entries: SpinLock<[Entry; MAX_CANCELS]>,
    /// Cancels that found every slot taken.
    overflowed: AtomicU64,
}

impl Default for Cancels {
    fn default() -> Self {
        Self {
            live: AtomicUsize::new(0),
            entries: SpinLock::new([Entry { id: 0, seen: false }; MAX_CANCELS]),
            overflowed: AtomicU64::new(0),
        }
    }
}

impl Cancels {
    /// Records `id` for the drain. False if every slot is taken (counted). IRQL <= `DISPATCH_LEVEL`.
    pub fn add(&self, id: usize) -> bool {
        if id == 0 {
            return true;
        }
        let mut entries = self.entries.lock();
        if let Some(e) = entries.iter_mut().find(|e| e.id == id) {
            // Cancelled again: it must survive one more pass that starts from now.
            e.seen = false;
            return true;
        }
        let Some(free) = entries.iter_mut().find(|e| e.id == 0) else {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        *free = Entry { id, seen: false };
        // Release: a drain that sees the count sees the entry (it also takes the lock to read it).
        self.live.fetch_add(1, Ordering::Release);
        true
    }

    fn pending(&self) -> bool {
        self.live.load(Ordering::Acquire) != 0
    }

    /// A drain pass begins: every entry recorded so far may be retired by it.
    pub fn begin_pass(&self) {
        if self.pending() {
            for e in self.entries.lock().iter_mut() {
                e.seen = true;
            }
        }
    }

    /// Whether an NBL marked `id` is to be aborted.
    #[must_use]
    #[inline]
    pub fn cancelled(&self, id: usize) -> bool {
        id != 0 && self.pending() && self.entries.lock().iter().any(|e| e.id == id)
    }

    /// This pass found the lanes empty: retire the entries it began with.
    pub fn retire_seen(&self) {
        if !self.pending() {
            return;
        }
        let mut entries = self.entries.lock();
        for e in entries.iter_mut().filter(|e| e.id != 0 && e.seen) {
            *e = Entry::default();
            self.live.fetch_sub(1, Ordering::Release);
        }
    }

    /// Cancels refused for want of a slot, so far.
    #[must_use]
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}
