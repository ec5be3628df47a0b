//! A large send delivered to a receiver: its units (segments, or coalesced units) written into
//! receive descriptors. Safe code only, as its parent module `wire` requires of its children.

use super::vlan::{self, Tag};
use super::{
    Adapter, BATCH, Class, Drain, LargeSend, MAX_CHAIN, MIN_FRAME, NetBuffer, Reader, Taken, Unit, Version,
};
use ndis::{CHECKSUM_RX_IP_SUCCEEDED, CHECKSUM_RX_TCP_SUCCEEDED, CHECKSUM_RX_TCP_VALUE_INVALID};

impl<'w> Drain<'w> {
    /// Delivers a large send to `receiver`: coalesced units if its RSC is on for the IP version
    /// and the send may be coalesced, else the segments an `LSOv2` NIC puts on the wire. Each unit
    /// is copied once from the sender, its headers made from the template.
    #[inline(never)]
    pub(super) fn deliver_large(
        &mut self,
        to: usize,
        receiver: &'w Adapter,
        nb: &NetBuffer<'_>,
        send: &LargeSend,
        (template, tag): (&[u8], Option<Tag>),
        class: Class,
    ) -> bool {
        let counters = receiver.stats.cpu(self.on.cpu());
        let active = self.offload(to);
        // Every unit has the template's addresses, ports and tag: one queue for all, and on the
        // default queue one hash for all (zeros: none).
        let scaling = self.scaling(to);
        let Ok(route) = self.route_units(to, template, tag) else {
            return true;
        };
        let slot = route.map_or(0, |r| usize::from(r.slot));
        let pool = receiver.pool(slot);
        let (hash, info) = scaling.map_or((0, 0), |s| s.hash(template));
        let v4 = send.headers.version == Version::V4;
        let (rsc, rx_tcp) = if v4 {
            (active.rsc4, active.rx_tcp4)
        } else {
            (active.rsc6, active.rx_tcp6)
        };
        let buffer_size = pool.buffer_size();
        // A coalesced unit spans at most MAX_CHAIN buffers and a quarter of the queue's.
        let chain_limit = MAX_CHAIN.min(pool.count() / 4).max(1) * buffer_size;
        let per_unit = if rsc && send.coalescible {
            send.segments_per_unit(chain_limit)
        } else {
            if rsc {
                counters.coalesce_aborted();
            }
            1
        };
        let mut reader = nb.reader();
        if !reader.skip(send.header_len) {
            return false;
        }
        for unit in send.units(per_unit) {
            let coalesced = unit.count > 1;
            let frame_len = send.header_len + unit.len;
            let wire_len = frame_len.max(MIN_FRAME);
            let needed = wire_len.div_ceil(buffer_size);
            if (!coalesced && frame_len > receiver.max_frame()) || needed > MAX_CHAIN {
                counters.error_in();
                if !reader.skip(unit.len) {
                    return false;
                }
                continue;
            }
            // Frames queued for this receiver hold descriptors until they are indicated: indicate
            // them first if the pool could not take this unit otherwise.
            if pool.free() < needed {
                self.indicate_queue(to, slot);
            }
            let Some(mut taken) = self.reserve(to, receiver, slot, needed) else {
                counters.discard_in();
                if !reader.skip(unit.len) {
                    return false;
                }
                continue;
            };
            let compute = !coalesced && !rx_tcp;
            let filled = fill_unit(receiver, &mut taken, send, template, &unit, &mut reader, compute);
            if !filled {
                receiver.cancel_receive(self.on, slot, taken);
                return false;
            }
            let mut flags = 0;
            if coalesced {
                // "The NIC and miniport driver must always set the IpChecksumSucceeded and
                // TcpChecksumSucceeded flags" of a coalesced segment; its TCP checksum is not
                // recomputed, which TcpChecksumValueInvalid says ("Indicating Coalesced
                // Segments"). The IPv4 header checksum is (write_headers).
                flags |= CHECKSUM_RX_TCP_SUCCEEDED | CHECKSUM_RX_TCP_VALUE_INVALID;
                if v4 {
                    flags |= CHECKSUM_RX_IP_SUCCEEDED;
                }
                counters.coalesced(unit.count, unit.len);
            } else {
                if rx_tcp {
                    flags |= CHECKSUM_RX_TCP_SUCCEEDED;
                }
                if v4 && active.rx_ip4 {
                    flags |= CHECKSUM_RX_IP_SUCCEEDED;
                }
            }
            // The buffers are chained in the token: one NET_BUFFER's data.
            let Some(mut indicated) = pool.prepare(taken, wire_len) else {
                continue;
            };
            let count = if coalesced {
                u16::try_from(unit.count).unwrap_or(u16::MAX)
            } else {
                0
            };
            indicated.set_receive_offload(flags, count);
            indicated.set_hash(hash, info);
            vlan::set_tag(&mut indicated, tag);
            if let Some(route) = route {
                indicated.set_receive_queue(route.queue, route.filter);
            }
            counters.received_many(class, unit.count, unit.len + unit.count * send.header_len);
            if slot != 0 {
                self.push_vm(to, slot, indicated);
                continue;
            }
            self.receives[to].push(indicated);
            if self.receives[to].len() >= BATCH || self.receive_low(to) {
                self.indicate(to);
            }
        }
        true
    }
}

/// Writes one unit of a large send into the buffers of `taken` (in order): its headers from the
/// template, then its payload read from the sender, and (when `compute`) its TCP checksum.
/// `false` if the sender's bytes could not be read.
#[inline(never)]
pub(super) fn fill_unit(
    receiver: &Adapter,
    taken: &mut Taken,
    send: &LargeSend,
    template: &[u8],
    unit: &Unit,
    reader: &mut Reader<'_>,
    compute: bool,
) -> bool {
    let size = receiver.rx.buffer_size();
    let frame_len = send.header_len + unit.len;
    let mut sum = send.pseudo_sum(unit);
    {
        let Some(first) = receiver.rx.buffer(taken, 0).get_mut(..send.header_len) else {
            return false;
        };
        send.write_headers(template, unit, first);
        if compute {
            sum.add(&first[send.headers.l4..]);
        }
    }
    let mut at = send.header_len;
    while at < frame_len {
        let (k, offset) = (at / size, at % size);
        let n = (size - offset).min(frame_len - at);
        let Some(piece) = receiver.rx.buffer(taken, k).get_mut(offset..offset + n) else {
            return false;
        };
        if !reader.read(piece) {
            return false;
        }
        if compute {
            sum.add(piece);
        }
        at += n;
    }
    let first = receiver.rx.buffer(taken, 0);
    if frame_len < MIN_FRAME
        && let Some(pad) = first.get_mut(frame_len..MIN_FRAME)
    {
        pad.fill(0);
    }
    if compute && let Some(field) = first.get_mut(send.checksum_at()..send.checksum_at() + 2) {
        field.copy_from_slice(&sum.checksum().to_be_bytes());
    }
    true
}
