//! The wire: the medium frames cross between adapters.
//!
//! [`frame`] has the frames as the wire sees them and each adapter's receive filter. This module
//! has the segments: adapters with the same topology and `SegmentId` share a [`Wire`] (loopback:
//! one adapter, its frames come back to it; pair: two, each hears the other; hub: up to
//! [`MAX_PORTS`], each hears all others, as netvmini's hub). A full pair or hub starts a new wire
//! with the same key, so adapters pair up in the order they start.
//!
//! One CPU at a time drains a wire: whoever holds its [`Baton`]. Senders queue NBLs on their own
//! lock-free lanes and signal; the holder takes queued NBLs from every port, copies each frame
//! once into a free receive descriptor of every port whose filter accepts it, indicates receives
//! and completes sends in batches, and drains again if anyone signalled meanwhile. Nobody waits,
//! no lock is held across a copy, nothing is allocated.

mod frame;

use core::sync::atomic::{AtomicPtr, Ordering};

pub use frame::*;
use ndis::NDIS_STATUS;
use rvnic_helpers::irql::Raised;
use rvnic_helpers::ring::{Baton, Dispatch, Held};
use rvnic_helpers::spin::SpinLock;

use crate::adapter::Adapter;
use crate::config::Topology;
use crate::nbl::{Chain, Nbl};

/// Wires the driver can have at once (every loopback adapter has its own).
pub const MAX_WIRES: usize = 64;
/// Adapters on one hub.
pub const MAX_PORTS: usize = 8;
/// NBLs per indication or completion, and per sender per turn (netvmini's 64).
pub const BATCH: usize = 64;
/// NBLs one drain moves before it hands the rest to a timer: a CPU never stays at DISPATCH_LEVEL
/// for an unbounded time however fast others send (Windows bug-checks a CPU that does, 0x133).
pub const BUDGET: usize = 16 * BATCH;

/// One segment. `ports` change only while the baton is held (attach and detach take it), so the
/// holder can use every adapter it finds there: an adapter leaves only through [`detach`], which
/// needs the baton, before it is freed.
#[derive(Debug)]
pub struct Wire {
    baton: Baton,
    ports: [AtomicPtr<Adapter>; MAX_PORTS],
}

impl Wire {
    const fn new() -> Self {
        Self {
            baton: Baton::new(),
            ports: [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_PORTS],
        }
    }
}

/// Who uses a wire: its key and how many ports are taken. Guarded by [`REGISTRY`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Option<(Topology, u32)>,
    taken: [bool; MAX_PORTS],
}

impl Entry {
    const FREE: Self = Self {
        key: None,
        taken: [false; MAX_PORTS],
    };
}

static WIRES: [Wire; MAX_WIRES] = [const { Wire::new() }; MAX_WIRES];
/// Which wire has which key and free ports. Taken at PASSIVE_LEVEL by initialize and halt only.
static REGISTRY: SpinLock<[Entry; MAX_WIRES]> = SpinLock::new([Entry::FREE; MAX_WIRES]);

/// An adapter's place on a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub wire: usize,
    pub slot: usize,
    pub topology: Topology,
}

const fn capacity(topology: Topology) -> usize {
    match topology {
        Topology::Loopback => 1,
        Topology::Pair => 2,
        Topology::Hub => MAX_PORTS,
    }
}

/// Reserves a port for an adapter with `topology` on `segment`: on a wire with that key and room,
/// or a fresh wire. `None` when every wire is in use. PASSIVE_LEVEL.
#[must_use]
pub fn reserve(topology: Topology, segment: u32) -> Option<Port> {
    let mut registry = REGISTRY.lock();
    let key = Some((topology, segment));
    let room = |e: &Entry| e.taken[..capacity(topology)].iter().position(|t| !t);
    let wire = registry
        .iter()
        .position(|e| e.key == key && room(e).is_some())
        .or_else(|| registry.iter().position(|e| e.key.is_none()))?;
    let entry = &mut registry[wire];
    entry.key = key;
    let slot = room(entry)?;
    entry.taken[slot] = true;
    Some(Port { wire, slot, topology })
}

/// Gives a reserved port back (after [`detach`], or when initialize fails before attaching).
pub fn release(port: Port) {
    let mut registry = REGISTRY.lock();
    let entry = &mut registry[port.wire];
    entry.taken[port.slot] = false;
    if !entry.taken.iter().any(|t| *t) {
        *entry = Entry::FREE;
    }
}

/// Takes the wire's baton, waiting for the current holder to finish its pass. At DISPATCH_LEVEL
/// (the caller raised), from initialize or halt only: the datapath never waits.
fn take(wire: &Wire) -> Held<'_> {
    loop {
        if let Some(held) = wire.baton.try_take() {
            return held;
        }
        core::hint::spin_loop();
    }
}

/// Puts `adapter` on its port, so the wire delivers to it and drains its sends, and updates the
/// link of a pair. PASSIVE_LEVEL; `adapter` stays valid until [`detach`].
pub fn attach(adapter: &Adapter) {
    let port = adapter.port();
    let wire = &WIRES[port.wire];
    let raised = Raised::to_dispatch();
    let held = take(wire);
    wire.ports[port.slot].store(core::ptr::from_ref(adapter).cast_mut(), Ordering::Release);
    if port.topology == Topology::Pair {
        let peer = peer_of(wire, port.slot);
        adapter.set_connected(peer.is_some());
        if let Some(peer) = peer {
            peer.link_changed(true);
        }
    } else {
        adapter.set_connected(true);
    }
    run(wire, held, port.topology, raised.dispatch());
}

/// Takes `adapter` off its port; when this returns the wire no longer uses it. PASSIVE_LEVEL.
pub fn detach(adapter: &Adapter) {
    let port = adapter.port();
    let wire = &WIRES[port.wire];
    let raised = Raised::to_dispatch();
    let held = take(wire);
    wire.ports[port.slot].store(core::ptr::null_mut(), Ordering::Release);
    if port.topology == Topology::Pair
        && let Some(peer) = peer_of(wire, port.slot)
    {
        peer.link_changed(false);
    }
    run(wire, held, port.topology, raised.dispatch());
}

/// The other adapter of a pair, while the baton is held.
fn peer_of(wire: &Wire, slot: usize) -> Option<&Adapter> {
    let other = wire.ports[1 - slot.min(1)].load(Ordering::Acquire);
    // Ports change only under the baton, which the caller holds, and an adapter on a port is live.
    // SAFETY: a live adapter, borrowed while the baton is held.
    unsafe { other.as_ref() }
}

/// Signals `adapter`'s wire that it queued sends, and drains it if nobody else is. At
/// DISPATCH_LEVEL (`on`).
pub fn kick(adapter: &Adapter, on: &Dispatch) {
    let port = adapter.port();
    let wire = &WIRES[port.wire];
    if let Some(held) = wire.baton.signal() {
        run(wire, held, port.topology, on);
    }
}

/// Drains until a release succeeds (nobody signalled during the last pass), or until the budget is
/// spent: then it hands the rest to a timer (see [`defer`]).
fn run(wire: &Wire, mut held: Held<'_>, topology: Topology, on: &Dispatch) {
    let mut moved = 0;
    loop {
        let mut drain = Drain::new(wire, &held, topology, on);
        moved += drain.all(BUDGET - moved.min(BUDGET));
        if moved >= BUDGET {
            let slot = drain.ports.iter().position(Option::is_some);
            return defer(wire, held, slot);
        }
        match held.release() {
            Some(again) => held = again,
            None => return,
        }
    }
}

/// Lets the baton go with work left, leaving the resume timer of the adapter on port `slot` armed
/// to drain it ([`Held::defer`]: armed while the baton is held, so the adapter cannot leave the
/// wire meanwhile, and armed again if a release fails).
fn defer(wire: &Wire, held: Held<'_>, slot: Option<usize>) {
    held.defer(|| {
        let adapter = slot.map_or(core::ptr::null_mut(), |s| wire.ports[s].load(Ordering::Acquire));
        // The baton is held while `defer` arms, so the adapter on the port (if any) is live.
        // SAFETY: a live adapter, borrowed while the baton is held.
        if let Some(adapter) = unsafe { adapter.as_ref() } {
            adapter.resume_soon();
        }
    });
}

/// One drain of a wire, with the baton held (`_held` proves it for the borrow).
struct Drain<'w> {
    ports: [Option<&'w Adapter>; MAX_PORTS],
    topology: Topology,
    on: &'w Dispatch,
    /// Receives per port, to indicate.
    receives: [Chain; MAX_PORTS],
    /// Completed sends per port.
    completions: [Chain; MAX_PORTS],
}

impl<'w> Drain<'w> {
    fn new(wire: &'w Wire, _held: &'w Held<'_>, topology: Topology, on: &'w Dispatch) -> Self {
        let ports = core::array::from_fn(|i| {
            let adapter = wire.ports[i].load(Ordering::Acquire);
            // The baton is held for `'w` and adapters leave their port only under it, so every
            // adapter found here stays live for `'w`.
            // SAFETY: a live adapter, shared for `'w`.
            unsafe { adapter.as_ref() }
        });
        for adapter in ports.iter().flatten() {
            adapter.refresh_filter();
        }
        Self {
            ports,
            topology,
            on,
            receives: Default::default(),
            completions: Default::default(),
        }
    }

    /// Moves what is queued, a batch per sender per turn, until a turn finds nothing or `budget`
    /// NBLs have moved; returns how many moved.
    fn all(&mut self, budget: usize) -> usize {
        let mut total = 0;
        loop {
            let mut moved = 0;
            // Senders whose lanes this pass found empty (it popped less than a batch).
            let mut emptied = [false; MAX_PORTS];
            for (sender, emptied) in emptied.iter_mut().enumerate() {
                let Some(adapter) = self.ports[sender] else {
                    continue;
                };
                adapter.cancels.begin_pass();
                let mut taken = [const { None }; BATCH];
                let mut n = 0;
                let popped = adapter.tx.pop(BATCH, |nbl| {
                    taken[n] = Some(nbl);
                    n += 1;
                });
                moved += popped;
                *emptied = popped < BATCH;
                for nbl in taken.iter_mut().filter_map(Option::take) {
                    self.transmit(sender, nbl);
                }
            }
            self.flush();
            // Everything popped is completed now: cancels and a reset may be settled.
            for (adapter, _) in self.ports.iter().zip(emptied).filter(|(_, e)| *e) {
                if let Some(adapter) = adapter {
                    adapter.lanes_empty();
                }
            }
            total += moved;
            if moved == 0 || total >= budget {
                return total;
            }
        }
    }

    /// Delivers every frame of one sent NBL and queues its completion.
    fn transmit(&mut self, sender: usize, mut nbl: Nbl) {
        let Some(from) = self.ports[sender] else {
            return;
        };
        let counters = from.stats.cpu(self.on.cpu());
        if from.cancels.cancelled(nbl.cancel_id()) {
            counters.discard_out(nbl.frame_count());
            nbl.set_status(ndis::NDIS_STATUS_SEND_ABORTED);
            self.completions[sender].push(nbl);
            if self.completions[sender].len() >= BATCH {
                from.complete_sends(&mut self.completions[sender]);
            }
            return;
        }
        let mut status: NDIS_STATUS = ndis::NDIS_STATUS_SUCCESS;
        for nb in nbl.frames() {
            let len = nb.len();
            if len < HEADER || len > from.max_frame() {
                counters.error_out();
                status = ndis::NDIS_STATUS_INVALID_LENGTH;
                continue;
            }
            let mut destination = [0u8; 6];
            if !nb.copy_to(&mut destination) {
                counters.error_out();
                status = ndis::NDIS_STATUS_FAILURE;
                continue;
            }
            let class = Class::of(&destination);
            let wire_len = len.max(MIN_FRAME);
            // The first receiver's copy comes from the sender's NET_BUFFER; the others copy that.
            let mut first: Option<(usize, u16)> = None;
            for to in self.targets(sender) {
                let Some(receiver) = self.ports[to] else {
                    continue;
                };
                if !receiver.filter().accepts(&destination) {
                    continue;
                }
                let Some(index) = receiver.reserve_receive() else {
                    receiver.stats.cpu(self.on.cpu()).discard_in();
                    continue;
                };
                // Descriptor `index` was just taken from the free list by this drain and is not
                // indicated yet: its buffer is ours alone.
                // SAFETY: an owned descriptor's buffer, borrowed until it is prepared below.
                let buffer = unsafe { receiver.rx.buffer(index) };
                let Some(buffer) = buffer.get_mut(..wire_len) else {
                    receiver.cancel_receive(self.on, index);
                    continue;
                };
                let copied = match (first, self.ports[first.map_or(0, |f| f.0)]) {
                    (None, _) => nb.copy_to(&mut buffer[..len]),
                    (Some((_, i)), Some(source)) => {
                        // The first receiver's descriptor `i` was filled by this drain and is not
                        // indicated yet (full batches are indicated only after the frame), and it
                        // is a different descriptor from `index`, so the borrows do not overlap.
                        // SAFETY: an owned descriptor's buffer, read only, disjoint from `buffer`.
                        let source = unsafe { source.rx.buffer(i) };
                        source.get(..len).is_some_and(|s| {
                            buffer[..len].copy_from_slice(s);
                            true
                        })
                    }
                    (Some(_), None) => false,
                };
                if !copied {
                    receiver.cancel_receive(self.on, index);
                    counters.error_out();
                    status = ndis::NDIS_STATUS_FAILURE;
                    break;
                }
                buffer[len..].fill(0);
                receiver.stats.cpu(self.on.cpu()).received(class, wire_len);
                self.receives[to].push(receiver.rx.prepare(index, wire_len));
                first = Some((to, index));
            }
            counters.sent(class, wire_len);
            // Indicate full batches only now (`first` may point into any of them), and a batch
            // whose adapter is down to its low-water mark of free descriptors: what it holds goes
            // up normally, and what comes next with NDIS_RECEIVE_FLAGS_RESOURCES.
            for to in 0..MAX_PORTS {
                let pending = self.receives[to].len();
                if pending >= BATCH || (pending > 0 && self.ports[to].is_some_and(Adapter::receive_low)) {
                    self.indicate(to);
                }
            }
        }
        nbl.set_status(status);
        self.completions[sender].push(nbl);
        if self.completions[sender].len() >= BATCH {
            from.complete_sends(&mut self.completions[sender]);
        }
    }

    /// The ports a frame from `sender` goes to.
    fn targets(&self, sender: usize) -> impl Iterator<Item = usize> + use<> {
        let (topology, ports) = (self.topology, capacity(self.topology));
        (0..ports).filter(move |&p| match topology {
            Topology::Loopback => p == sender,
            Topology::Pair | Topology::Hub => p != sender,
        })
    }

    fn indicate(&mut self, to: usize) {
        if let Some(receiver) = self.ports[to] {
            receiver.indicate(self.on, &mut self.receives[to]);
        }
    }

    fn flush(&mut self) {
        for port in 0..MAX_PORTS {
            self.indicate(port);
            if let Some(adapter) = self.ports[port] {
                adapter.complete_sends(&mut self.completions[port]);
            }
        }
    }
}
