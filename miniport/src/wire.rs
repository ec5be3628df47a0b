//! The wire: the medium frames cross between adapters.
//!
//! [`frame`] has the frames as the wire sees them and each adapter's receive filter; [`job`]
//! what each sent frame asks of the wire (a copy, checksums, a large send) or why it is refused.
//! This module has the segments: adapters with the same topology and `SegmentId` share a
//! [`Wire`] (loopback: one adapter, its frames come back to it; pair: two, each hears the other;
//! hub: up to [`MAX_PORTS`], each hears all others, as netvmini's hub). A full pair or hub starts
//! a new wire with the same key, so adapters pair up in the order they start.
//!
//! One CPU at a time drains a wire: whoever holds its [`Baton`]. Senders queue NBLs on their own
//! lock-free lanes and signal; the holder takes queued NBLs from every port, copies each frame
//! once into a free receive descriptor of every port whose filter accepts it, indicates receives
//! and completes sends in batches, and drains again if anyone signalled meanwhile. Nobody waits,
//! no lock is held across a copy, nothing is allocated.

#![forbid(unsafe_code)]

mod frame;
mod job;
pub mod packet;
mod published;
pub mod qos;
pub mod rss;
pub mod scaling;
mod unit;
pub mod vlan;
pub mod vmq;

pub use frame::*;
use ndis::NDIS_STATUS;
pub use published::Published;
use rvnic_helpers::irql::Raised;
use rvnic_helpers::memory::PoolBox;
use rvnic_helpers::receive::Taken;
use rvnic_helpers::ring::{Dispatch, Held};
use rvnic_helpers::seats::{Occupant, Seats};
use rvnic_helpers::spin::SpinLock;

use job::{Job, Refused, checksums, job};
use packet::{LargeSend, MAX_HEADER, Unit, Version};

use crate::adapter::Adapter;
use crate::config::Topology;
use crate::nbl::{Chain, LargeSendRequest, Nbl, NetBuffer, Reader};
use crate::offload::Active;
use crate::stats::Counters;
use qos::Classes;
use scaling::Scaling;
use vlan::{Admit, Delivery, Tag, Vlan};
use vmq::Route;

/// Wires the driver can have at once (every loopback adapter has its own).
pub const MAX_WIRES: usize = 64;
/// Adapters on one hub.
pub const MAX_PORTS: usize = 8;
/// NBLs per indication or completion, and per sender per turn (netvmini's 64).
pub const BATCH: usize = 64;
/// NBLs one drain moves before it hands the rest to a timer: a CPU never stays at `DISPATCH_LEVEL`
/// for an unbounded time however fast others send (Windows bug-checks a CPU that does, 0x133).
pub const BUDGET: usize = 16 * BATCH;

/// One segment: a seat per port, each holding the adapter on it and the wire's copy of what it
/// applies for that adapter, all used only by the holder of the wire's baton. An adapter joins by
/// moving into its seat ([`attach`]) and leaves by moving out ([`detach`]), both under the baton,
/// so whoever holds it can use every adapter it finds.
pub type Wire = Seats<Adapter, Published, MAX_PORTS>;

/// An adapter in pool memory, with the wire's copy of what it publishes: what moves into a seat.
pub type Seated = PoolBox<Occupant<Adapter, Published>>;

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

static WIRES: [Wire; MAX_WIRES] = [const { Seats::new() }; MAX_WIRES];
/// Which wire has which key and free ports. Taken at `PASSIVE_LEVEL` by initialize and halt only.
static REGISTRY: SpinLock<[Entry; MAX_WIRES]> = SpinLock::new([Entry::FREE; MAX_WIRES]);

/// An adapter's place on a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// Which wire (an index of the wire table).
    pub wire: usize,
    /// Which seat of the wire.
    pub slot: usize,
    /// The wire's topology.
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
/// or a fresh wire. `None` when every wire is in use. `PASSIVE_LEVEL`.
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

/// Takes the wire's baton, waiting for the current holder to finish its pass. At `DISPATCH_LEVEL`
/// (the caller raised), from initialize, halt and the VM queue requests only: the datapath never
/// waits.
fn take(wire: &Wire) -> Held<'_> {
    loop {
        if let Some(held) = wire.baton().try_take() {
            return held;
        }
        core::hint::spin_loop();
    }
}

/// Runs `work` on `port`'s wire with its baton, then drains it (whoever signalled meanwhile is
/// served) and lets the baton go. Raises to `DISPATCH_LEVEL`; from initialize or halt only.
fn with_baton<R>(port: Port, work: impl FnOnce(&Wire, &mut Held<'_>) -> R) -> R {
    let wire = &WIRES[port.wire];
    let raised = Raised::to_dispatch();
    let mut held = take(wire);
    let result = work(wire, &mut held);
    run(wire, held, port.topology, raised.dispatch());
    result
}

/// Whether an adapter attached to `port` now would have a link: always, except for a pair's first
/// adapter (for the general attributes, which come before [`attach`]). `PASSIVE_LEVEL`.
#[must_use]
pub fn will_connect(port: Port) -> bool {
    port.topology != Topology::Pair || with_baton(port, |wire, held| peer_of(wire, held, port.slot).is_some())
}

/// Moves `adapter` into its seat, so the wire delivers to it and drains its sends, and updates the
/// link of a pair. Gives it back if the seat is taken. `PASSIVE_LEVEL`.
///
/// # Errors
/// The adapter, back, if its seat is taken.
pub fn attach(adapter: Seated) -> Result<(), Seated> {
    let port = adapter.port();
    with_baton(port, |wire, held| {
        if port.topology == Topology::Pair {
            let peer = peer_of(wire, held, port.slot);
            adapter.set_connected(peer.is_some());
            if let Some(peer) = peer {
                peer.link_changed(true);
            }
        } else {
            adapter.set_connected(true);
        }
        wire.occupy(held, port.slot, adapter)
    })
}

/// Moves the adapter on `port` out of its seat; when this returns the wire no longer uses it.
/// `PASSIVE_LEVEL`.
#[must_use]
pub fn detach(port: Port) -> Option<Seated> {
    with_baton(port, |wire, held| {
        let adapter = wire.vacate(held, port.slot);
        if port.topology == Topology::Pair
            && let Some(peer) = peer_of(wire, held, port.slot)
        {
            peer.link_changed(false);
        }
        adapter
    })
}

/// Brings the wire's copy of what the adapter on `port` publishes up to date now, under the
/// baton: when this returns, no drain follows an older copy. The baton goes with the adapter's
/// resume timer armed rather than after a drain here: an OID request's stack does not carry a
/// drain and the indications it makes. IRQL <= `DISPATCH_LEVEL`.
pub fn follow(port: Port) {
    let wire = &WIRES[port.wire];
    let _raised = Raised::to_dispatch();
    let mut held = take(wire);
    if let Some((adapter, copy)) = wire.get_mut(&mut held, port.slot) {
        adapter.refresh(copy);
    }
    defer(wire, held, Some(port.slot));
}

/// The other adapter of a pair, while the baton is held.
fn peer_of<'h>(wire: &'h Wire, held: &'h Held<'_>, slot: usize) -> Option<&'h Adapter> {
    wire.get(held, 1 - slot.min(1))
}

/// Signals the wire of the adapter on `port` that it queued sends, and drains it if nobody else
/// is. At `DISPATCH_LEVEL` (`on`).
pub fn kick(port: Port, on: &Dispatch) {
    let wire = &WIRES[port.wire];
    if let Some(held) = wire.baton().signal() {
        run(wire, held, port.topology, on);
    }
}

/// Drains until a release succeeds (nobody signalled during the last pass), or until the budget is
/// spent: then it hands the rest to a timer (see [`defer`]).
fn run(wire: &Wire, mut held: Held<'_>, topology: Topology, on: &Dispatch) {
    let mut moved = 0;
    loop {
        for seat in 0..MAX_PORTS {
            if let Some((adapter, copy)) = wire.get_mut(&mut held, seat) {
                adapter.refresh(copy);
            }
        }
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
    held.defer(|held| {
        if let Some(adapter) = slot.and_then(|s| wire.get(held, s)) {
            adapter.resume_soon();
        }
    });
}

/// Why a receive descriptor was not filled with a frame.
enum Unfilled {
    /// The frame is longer than the descriptor's buffer.
    TooLong,
    /// The sender's pages could not be read (mapped).
    Unreadable,
}

/// One drain of a wire, with the baton held (the borrows of the seats hang on it).
struct Drain<'w> {
    ports: [Option<&'w Adapter>; MAX_PORTS],
    /// What the wire applies for each port's adapter.
    published: [Option<&'w Published>; MAX_PORTS],
    /// Per port, its QoS classification if it has one (looked up once per drain, not per send).
    classes: [Option<&'w Classes>; MAX_PORTS],
    /// Receives of one VM queue (`vm_queue`: port and slot), to indicate together.
    vm_batch: Chain,
    vm_queue: (usize, usize),
    topology: Topology,
    on: &'w Dispatch,
    /// Receives per port, to indicate.
    receives: [Chain; MAX_PORTS],
    /// Completed sends per port.
    completions: [Chain; MAX_PORTS],
    /// Per port, a lower bound of its free receive descriptors (only the wire takes them; returns
    /// only add). The exact count sums every CPU's lane of the free list, so it is read only when
    /// this bound is down to the low-water mark, not for every frame.
    free_at_least: [usize; MAX_PORTS],
}

impl<'w> Drain<'w> {
    fn new(wire: &'w Wire, held: &'w Held<'_>, topology: Topology, on: &'w Dispatch) -> Self {
        let seats: [Option<(&Adapter, &Published)>; MAX_PORTS] =
            core::array::from_fn(|i| wire.get_with(held, i));
        Self {
            ports: seats.map(|s| s.map(|(adapter, _)| adapter)),
            published: seats.map(|s| s.map(|(_, published)| published)),
            classes: seats.map(|s| s.map(|(_, p)| &p.qos).filter(|c| c.is_active())),
            vm_batch: Chain::default(),
            vm_queue: (0, 0),
            topology,
            on,
            receives: Default::default(),
            completions: Default::default(),
            free_at_least: [0; MAX_PORTS],
        }
    }

    /// The 802.1Q settings of port `port`'s adapter.
    fn vlan(&self, port: usize) -> Vlan {
        self.published[port].map(|p| p.vlan).unwrap_or_default()
    }

    /// Counts a frame port `to` does not take (another VLAN's) as a receive discard.
    fn discard(&self, to: usize) {
        if let Some(receiver) = self.ports[to] {
            receiver.stats.cpu(self.on.cpu()).discard_in();
        }
    }

    /// The offloads the wire applies for port `port`'s adapter.
    fn offload(&self, port: usize) -> Active {
        self.published[port].map(|p| p.offload).unwrap_or_default()
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
                // Looked up once per batch, not per NBL.
                let counters = adapter.stats.cpu(self.on.cpu());
                for nbl in taken[..n].iter_mut().filter_map(Option::take) {
                    self.transmit(sender, adapter, counters, nbl);
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

    /// Delivers every frame of one NBL that port `sender` (adapter `from`, this CPU's `counters`)
    /// sent, and queues its completion.
    #[inline(never)]
    fn transmit(&mut self, sender: usize, from: &Adapter, counters: &Counters, mut nbl: Nbl) {
        if from.cancels.cancelled(nbl.cancel_id()) {
            counters.discard_out(nbl.frame_count());
            nbl.set_status(ndis::NDIS_STATUS_SEND_ABORTED);
            self.complete(sender, from, nbl);
            return;
        }
        let large = nbl.large_send();
        let checksum = nbl.checksum_request();
        // The 802.1Q tag the sender's NIC puts on every frame of the NBL (vlan.rs).
        let asked = vlan::send_info(&nbl, self.classes[sender]);
        let tag = self.vlan(sender).send_tag(asked);
        let status = if large == LargeSendRequest::None && checksum == 0 {
            self.transmit_plain(sender, from, counters, &nbl, tag)
        } else {
            let status = self.transmit_offloaded(sender, from, counters, &nbl, tag, (large, checksum));
            if matches!(large, LargeSendRequest::V2 { .. }) {
                nbl.set_large_send_complete();
            }
            status
        };
        nbl.set_status(status);
        self.complete(sender, from, nbl);
    }

    /// The frames of an NBL that asks for no offload (the common case, kept short): each is
    /// copied as it is, tagged `tag`, to every port that accepts its destination and VLAN (a tag
    /// in its bytes is taken off by a receiver that strips tags). Returns the NBL's status.
    fn transmit_plain(
        &mut self,
        sender: usize,
        from: &Adapter,
        counters: &Counters,
        nbl: &Nbl,
        tag: Option<Tag>,
    ) -> NDIS_STATUS {
        let mut status = ndis::NDIS_STATUS_SUCCESS;
        for nb in nbl.frames() {
            let len = nb.len();
            // As `job` refuses a plain frame: too short to be one, or longer than the adapter's
            // (by an 802.1Q tag's bytes at most, if it holds one: checked below).
            if len < HEADER || len > from.max_frame() + vlan::TAG_LEN {
                counters.error_out();
                status = ndis::NDIS_STATUS_INVALID_LENGTH;
                continue;
            }
            // The whole frame in one mapped piece (the usual case): read in place, copied once.
            let (whole, destination) = match nb.first_piece() {
                Some(bytes) if bytes.len() == len => (Some(bytes), bytes.first_chunk::<6>().copied()),
                Some(_) => (None, nb.reader().read_array::<6>()),
                None => (None, None),
            };
            let Some(destination) = destination else {
                counters.error_out();
                status = ndis::NDIS_STATUS_FAILURE;
                continue;
            };
            let class = Class::of(&destination);
            let in_bytes = vlan::tag_in(&nb, whole);
            if len > from.max_frame() && in_bytes.is_none() {
                counters.error_out();
                status = ndis::NDIS_STATUS_INVALID_LENGTH;
                continue;
            }
            // A tag in the frame's bytes counts when the NIC adds none of its own.
            let in_frame = if tag.is_some() { None } else { in_bytes };
            if tag.is_some() || in_frame.is_some() {
                if !self.transmit_tagged(sender, &nb, (whole, destination), class, (tag, in_frame)) {
                    counters.error_out();
                    status = ndis::NDIS_STATUS_FAILURE;
                }
                counters.sent(class, len.max(MIN_FRAME));
                continue;
            }
            for to in self.targets(sender) {
                let Some(published) = self.published[to] else {
                    continue;
                };
                if !published.filter.accepts(&destination) {
                    continue;
                }
                if published.vlan.in_a_vlan() {
                    // An untagged frame is in no VLAN.
                    self.discard(to);
                    continue;
                }
                if !self.copy_frame(to, &nb, whole, class, Delivery::UNTAGGED, |_| 0) {
                    // The sender's pages could not be read (mapped): the frame is lost.
                    counters.error_out();
                    status = ndis::NDIS_STATUS_FAILURE;
                    break;
                }
                self.indicate_if_full(to);
            }
            counters.sent(class, len.max(MIN_FRAME));
        }
        status
    }

    /// Delivers one frame of a plain send that carries an 802.1Q tag (`tags`: the sender NIC's,
    /// and the one in its bytes) to every port that accepts its destination and VLAN. Not inlined:
    /// the untagged frames' path stays short. `false` if the sender's bytes could not be read.
    #[inline(never)]
    fn transmit_tagged(
        &mut self,
        sender: usize,
        nb: &NetBuffer<'_>,
        (whole, destination): (Option<&[u8]>, [u8; 6]),
        class: Class,
        (tag, in_frame): (Option<Tag>, Option<Tag>),
    ) -> bool {
        for to in self.targets(sender) {
            let Some(published) = self.published[to] else {
                continue;
            };
            if !published.filter.accepts(&destination) {
                continue;
            }
            let Admit::Deliver(delivery) = published.vlan.admit(tag.or(in_frame), in_frame.is_some()) else {
                self.discard(to);
                continue;
            };
            if !self.copy_frame(to, nb, whole, class, delivery, |_| 0) {
                return false;
            }
            self.indicate_if_full(to);
        }
        true
    }

    /// The frames of an NBL that asks for checksums or a large send: each frame's headers are
    /// read and checked ([`job`]) before it is delivered. Returns the NBL's status. Not inlined:
    /// its header buffer and jobs stay off the stack of the plain path.
    ///
    /// A tag in such a frame's bytes stays there (the headers' offsets and checksums are the
    /// sender's, with it): it decides which ports take the frame, but is not stripped or indicated
    /// out of band; the NIC's own tag (`tag`) is.
    #[inline(never)]
    fn transmit_offloaded(
        &mut self,
        sender: usize,
        from: &Adapter,
        counters: &Counters,
        nbl: &Nbl,
        tag: Option<Tag>,
        (large, checksum): (LargeSendRequest, u32),
    ) -> NDIS_STATUS {
        // "Any NET_BUFFER_LIST structure that contains the LSOv1 or LSOv2 OOB data also contains a
        // single NET_BUFFER structure" (the LSO page).
        let single = large == LargeSendRequest::None || nbl.frame_count() == 1;
        let mut status = ndis::NDIS_STATUS_SUCCESS;
        for nb in nbl.frames() {
            let len = nb.len();
            if len < HEADER {
                counters.error_out();
                status = ndis::NDIS_STATUS_INVALID_LENGTH;
                continue;
            }
            let mut headers = [0u8; MAX_HEADER];
            let head = &mut headers[..len.min(MAX_HEADER)];
            if !nb.copy_to(head) {
                counters.error_out();
                status = ndis::NDIS_STATUS_FAILURE;
                continue;
            }
            let job = match job(from, self.offload(sender), large, checksum, head, len, single) {
                Ok(job) => job,
                Err(Refused::Malformed(why)) => {
                    counters.error_out();
                    status = why;
                    continue;
                }
                Err(Refused::Dropped) => {
                    counters.discard_out(1);
                    status = ndis::NDIS_STATUS_FAILURE;
                    continue;
                }
            };
            let mut destination = [0u8; 6];
            destination.copy_from_slice(&head[..6]);
            let class = Class::of(&destination);
            let in_frame = if tag.is_some() { None } else { Tag::in_frame(head) };
            for to in self.targets(sender) {
                let Some(published) = self.published[to] else {
                    continue;
                };
                if !published.filter.accepts(&destination) {
                    continue;
                }
                let Admit::Deliver(Delivery { oob, .. }) =
                    published.vlan.admit(tag.or(in_frame), in_frame.is_some())
                else {
                    self.discard(to);
                    continue;
                };
                let oob = if in_frame.is_some() { None } else { oob };
                if !self.deliver(to, &nb, &job, head, class, oob) {
                    counters.error_out();
                    status = ndis::NDIS_STATUS_FAILURE;
                    break;
                }
                self.indicate_if_full(to);
            }
            match job {
                Job::Large(send) => counters.sent_many(class, send.segments(), send.wire_bytes()),
                _ => counters.sent(class, len.max(MIN_FRAME)),
            }
        }
        status
    }

    /// Queues a completion, completing a full batch.
    fn complete(&mut self, sender: usize, from: &Adapter, nbl: Nbl) {
        self.completions[sender].push(nbl);
        if self.completions[sender].len() >= BATCH {
            from.complete_sends(&mut self.completions[sender]);
        }
    }

    /// Indicates port `to`'s batch (the port a frame was just delivered to) when it is full, or
    /// when its adapter is down to its low-water mark of free descriptors: what it holds goes up
    /// normally, and what comes next with `NDIS_RECEIVE_FLAGS_RESOURCES`.
    #[inline]
    fn indicate_if_full(&mut self, to: usize) {
        let pending = self.receives[to].len();
        if pending >= BATCH || (pending > 0 && self.receive_low(to)) {
            self.indicate(to);
        }
    }

    /// Whether port `to`'s free receive descriptors are down to its low-water mark.
    fn receive_low(&mut self, to: usize) -> bool {
        let Some(receiver) = self.ports[to] else {
            return false;
        };
        if self.free_at_least[to] > receiver.low_water() {
            return false;
        }
        let free = receiver.rx.free();
        self.free_at_least[to] = free;
        free <= receiver.low_water()
    }

    /// Takes `count` receive descriptors of port `to` for one frame (see
    /// [`Adapter::reserve_receive`]), keeping the port's lower bound of free ones.
    fn reserve(&mut self, to: usize, receiver: &Adapter, slot: usize, count: usize) -> Option<Taken> {
        let taken = receiver.reserve_receive(self.on, slot, count)?;
        if slot == 0 {
            self.free_at_least[to] = self.free_at_least[to].saturating_sub(taken.count());
        }
        Some(taken)
    }

    /// Delivers one frame (or a large send's units) of an offload job to port `to`. `false` if
    /// the sender's bytes could not be read.
    fn deliver(
        &mut self,
        to: usize,
        nb: &NetBuffer<'_>,
        job: &Job,
        template: &[u8],
        class: Class,
        tag: Option<Tag>,
    ) -> bool {
        match *job {
            Job::Large(send) => {
                let Some(receiver) = self.ports[to] else {
                    return true;
                };
                self.deliver_large(to, receiver, nb, &send, (template, tag), class)
            }
            Job::Plain => self.copy_frame(to, nb, None, class, Delivery::tagged(tag), |_| 0),
            Job::Checksum { request, headers } => {
                let active = self.offload(to);
                self.copy_frame(to, nb, None, class, Delivery::tagged(tag), |frame| {
                    checksums(frame, request, &headers, active)
                })
            }
        }
    }

    /// Copies one frame (from `whole`, its bytes in one piece, if the caller has them, else through
    /// its MDLs) into a receive descriptor of port `to` (zero-padded to the minimum frame),
    /// lets `finish` fill in what the frame's job asks of the copy (it returns the receive
    /// checksum flags), and queues it for indication as `delivery` says (802.1Q information, a
    /// tag in its bytes stripped or kept). `false` if the sender's bytes could not be read; a
    /// frame the receiver cannot take is counted there and `true`.
    #[allow(
        clippy::inline_always,
        reason = "the per-frame copy of both paths: inlined, the plain path costs 17 instructions \
                  a frame less (rvnic bench --instructions)"
    )]
    #[inline(always)]
    fn copy_frame(
        &mut self,
        to: usize,
        nb: &NetBuffer<'_>,
        whole: Option<&[u8]>,
        class: Class,
        delivery: Delivery,
        finish: impl FnOnce(&mut [u8]) -> u32,
    ) -> bool {
        let Some(receiver) = self.ports[to] else {
            return true;
        };
        let counters = receiver.stats.cpu(self.on.cpu());
        // Hashed for RSS (never on with VMQ, its alternative); with VMQ, the route of the queue
        // whose filter matches it (slot 0: the default queue).
        let scaling = self.scaling(to);
        let (route, pool) = match self.with_queues(to) {
            None => (None, &receiver.rx),
            Some(published) => {
                let Some(route) = vmq::route_frame(published, nb, whole, delivery.oob) else {
                    return true;
                };
                (Some(route), receiver.pool(usize::from(route.slot)))
            }
        };
        let len = delivery.length(nb.len());
        let wire_len = len.max(MIN_FRAME);
        if len > delivery.limit(receiver.max_frame()) {
            // Longer than this adapter's frames (its *JumboPacket is smaller than the sender's).
            counters.error_in();
            return true;
        }
        let filled = receiver.receive_one(self.on, pool, |buffer| {
            let buffer = buffer.get_mut(..wire_len).ok_or(Unfilled::TooLong)?;
            let frame = &mut buffer[..len];
            match whole {
                _ if delivery.strip => {
                    if !vlan::read_stripped(nb, whole, frame) {
                        return Err(Unfilled::Unreadable);
                    }
                }
                Some(bytes) if bytes.len() == len => frame.copy_from_slice(bytes),
                _ if nb.reader().read(frame) => {}
                _ => return Err(Unfilled::Unreadable),
            }
            if len < wire_len {
                buffer[len..].fill(0);
            }
            let flags = finish(buffer);
            Ok((
                wire_len,
                (flags, scaling.map_or((0, 0), |s| s.hash(&buffer[..len]))),
            ))
        });
        let indicated = match filled {
            Some(Ok((mut nbl, (flags, (hash, info))))) => {
                nbl.set_receive_offload(flags, 0);
                // Always written: a descriptor may carry the hash of its last frame.
                nbl.set_hash(hash, info);
                vlan::set_tag(&mut nbl, delivery.oob);
                if let Some(route) = route {
                    nbl.set_receive_queue(route.queue, route.filter);
                }
                nbl
            }
            None => {
                counters.discard_in();
                return true;
            }
            Some(Err(Unfilled::TooLong)) => {
                counters.error_in();
                return true;
            }
            Some(Err(Unfilled::Unreadable)) => return false,
        };
        counters.received(class, wire_len);
        match route {
            Some(Route { slot, .. }) if slot != 0 => self.push_vm(to, usize::from(slot), indicated),
            _ => {
                self.free_at_least[to] = self.free_at_least[to].saturating_sub(1);
                self.receives[to].push(indicated);
            }
        }
        true
    }

    /// The ports a frame from `sender` goes to.
    fn targets(&self, sender: usize) -> impl Iterator<Item = usize> + use<> {
        // A range and a port to skip, rather than a test of every port per frame: the sender
        // itself (loopback), its peer (pair), or every other port (hub).
        let (ports, skip) = match self.topology {
            Topology::Loopback => (sender..sender + 1, usize::MAX),
            Topology::Pair => (1 - sender.min(1)..2 - sender.min(1), usize::MAX),
            Topology::Hub => (0..capacity(Topology::Hub), sender),
        };
        ports.filter(move |&p| p != skip)
    }

    /// Indicates port `to`'s pending receives: from here, or with RSS on through the receive
    /// queues, on the processors their indirection-table entries name (`crate::wire::scaling`).
    fn indicate(&mut self, to: usize) {
        let Some(receiver) = self.ports[to] else {
            return;
        };
        match self.published[to] {
            Some(p) if p.scaling.is_on() => receiver.indicate_scaled(&mut self.receives[to], &p.scaling),
            _ => receiver.indicate(self.on, &mut self.receives[to]),
        }
    }

    /// The RSS parameters of port `to`'s adapter, if RSS is on for it.
    fn scaling(&self, to: usize) -> Option<&'w Scaling> {
        self.published[to].map(|p| &p.scaling).filter(|s| s.is_on())
    }

    fn flush(&mut self) {
        self.indicate_vm();
        for port in 0..MAX_PORTS {
            self.indicate(port);
            if let Some(adapter) = self.ports[port] {
                adapter.complete_sends(&mut self.completions[port]);
            }
        }
    }
}

/// Descriptors one frame may span: a coalesced unit of 64 KiB in 1,536-byte buffers needs 43.
const MAX_CHAIN: usize = 48;
