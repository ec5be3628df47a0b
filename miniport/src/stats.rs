//! Statistics: every counter of `NDIS_STATISTICS_INFO`, kept per CPU without locks and summed when
//! `OID_GEN_STATISTICS` asks.
//!
//! The datapath adds to its own CPU's block (Relaxed: each counter is independent and only ever
//! grows; a query sums a consistent-enough snapshot, as NDIS statistics are).
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;
use rvnic_helpers::memory::PoolSlice;

use crate::wire::Class;

/// One CPU's counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames received, by [`Class`] (unicast, multicast, broadcast).
    pub in_packets: [AtomicU64; 3],
    /// Octets received, by class.
    pub in_octets: [AtomicU64; 3],
    /// Frames sent, by class.
    pub out_packets: [AtomicU64; 3],
    /// Octets sent, by class.
    pub out_octets: [AtomicU64; 3],
    /// Frames for this adapter it could not take (paused, no descriptor).
    pub in_discards: AtomicU64,
    /// Frames received that were not frames (too long for the adapter).
    pub in_errors: AtomicU64,
    /// Sends refused (paused, no link, queue full, LSO off).
    pub out_discards: AtomicU64,
    /// Sends that were malformed or could not be read.
    pub out_errors: AtomicU64,
    /// `OID_TCP_RSC_STATISTICS`: coalesced segments, their payload octets, coalesced units, and
    /// large sends that a receiver with RSC on got as single segments.
    pub rsc: [AtomicU64; 4],
}

const fn class_index(class: Class) -> usize {
    match class {
        Class::Unicast => 0,
        Class::Multicast => 1,
        Class::Broadcast => 2,
    }
}

impl Counters {
    /// Counts a frame of `bytes` received.
    pub fn received(&self, class: Class, bytes: usize) {
        let i = class_index(class);
        self.in_packets[i].fetch_add(1, Ordering::Relaxed);
        self.in_octets[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a frame of `bytes` sent.
    pub fn sent(&self, class: Class, bytes: usize) {
        self.sent_many(class, 1, bytes);
    }

    /// `packets` frames of `bytes` in all on the wire (the segments of a large send).
    pub fn sent_many(&self, class: Class, packets: usize, bytes: usize) {
        let i = class_index(class);
        self.out_packets[i].fetch_add(packets as u64, Ordering::Relaxed);
        self.out_octets[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// `packets` frames of `bytes` in all received (the segments a coalesced unit stands for).
    pub fn received_many(&self, class: Class, packets: usize, bytes: usize) {
        let i = class_index(class);
        self.in_packets[i].fetch_add(packets as u64, Ordering::Relaxed);
        self.in_octets[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// One coalesced unit of `segments` segments carrying `payload` TCP bytes.
    pub fn coalesced(&self, segments: usize, payload: usize) {
        self.rsc[0].fetch_add(segments as u64, Ordering::Relaxed);
        self.rsc[1].fetch_add(payload as u64, Ordering::Relaxed);
        self.rsc[2].fetch_add(1, Ordering::Relaxed);
    }

    /// A large send that RSC could not coalesce.
    pub fn coalesce_aborted(&self) {
        self.rsc[3].fetch_add(1, Ordering::Relaxed);
    }

    /// A frame too long for this receiver's buffers: `ifInErrors`.
    pub fn error_in(&self) {
        self.in_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Outbound frames refused before transmission (paused, no link, queue full): `ifOutDiscards`.
    pub fn discard_out(&self, frames: usize) {
        self.out_discards.fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// Outbound frames that are malformed (shorter than a header, longer than the maximum, or
    /// unreadable): `ifOutErrors`.
    pub fn error_out(&self) {
        self.out_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter now, in the order [`Statistics::snapshot`] sums them: packets and octets in,
    /// then out, each by class (unicast, multicast, broadcast), then in discards, in errors, out
    /// discards, out errors.
    #[allow(
        clippy::many_single_char_names,
        reason = "sixteen counters in table order, named by position"
    )]
    fn values(&self) -> [u64; 16] {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let [a, b, c] = self.in_packets.each_ref().map(load);
        let [d, e, f] = self.in_octets.each_ref().map(load);
        let [g, h, i] = self.out_packets.each_ref().map(load);
        let [j, k, l] = self.out_octets.each_ref().map(load);
        [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            l,
            load(&self.in_discards),
            load(&self.in_errors),
            load(&self.out_discards),
            load(&self.out_errors),
        ]
    }

    /// Frames for this adapter it could not take (paused, no free receive descriptor):
    /// `ifInDiscards`.
    pub fn discard_in(&self) {
        self.in_discards.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every counter rvnic reports, as the general attributes' `SupportedStatistics` (the
/// `NDIS_STATISTICS_*_SUPPORTED` flags, one per statistics OID the driver answers; not the
/// `NDIS_STATISTICS_FLAGS_VALID_*` flags of an `OID_GEN_STATISTICS` answer, which are [`VALID`]).
pub const SUPPORTED: u32 = NDIS_STATISTICS_XMIT_OK_SUPPORTED
    | NDIS_STATISTICS_RCV_OK_SUPPORTED
    | NDIS_STATISTICS_XMIT_ERROR_SUPPORTED
    | NDIS_STATISTICS_RCV_ERROR_SUPPORTED
    | NDIS_STATISTICS_RCV_NO_BUFFER_SUPPORTED
    | NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED
    | NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED
    | NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED
    | NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED
    | NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED
    | NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED
    | NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED
    | NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED
    | NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED
    | NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED
    | NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED
    | NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED
    | NDIS_STATISTICS_RCV_CRC_ERROR_SUPPORTED
    | NDIS_STATISTICS_TRANSMIT_QUEUE_LENGTH_SUPPORTED
    | NDIS_STATISTICS_BYTES_RCV_SUPPORTED
    | NDIS_STATISTICS_BYTES_XMIT_SUPPORTED
    | NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED
    | NDIS_STATISTICS_GEN_STATISTICS_SUPPORTED
    | NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED;

/// The 18 `NDIS_STATISTICS_INFO` counters rvnic keeps, as that structure's own
/// `SupportedStatistics` (`NDIS_STATISTICS_FLAGS_VALID_*`) in an `OID_GEN_STATISTICS` answer.
pub const VALID: u32 = NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS
    | NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR
    | NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT;

/// Counters for a number of processors (a CPU beyond them shares the last block, with atomic
/// adds), in pool memory: 64 cache-padded blocks are 8 KiB, too much for a kernel stack.
/// `B` holds the blocks: pool memory in the driver, any slice owner in tests.
#[derive(Debug)]
pub struct Statistics<B = PoolSlice<CachePadded<Counters>>> {
    per_cpu: B,
}

impl Statistics {
    /// Zero counters for `cpus` processors (at least one), or `None` if the pool is exhausted.
    /// Built block by block in place. IRQL <= `DISPATCH_LEVEL`.
    #[must_use]
    pub fn new(cpus: usize) -> Option<Self> {
        let per_cpu = PoolSlice::new(cpus.max(1), crate::POOL_TAG, |_| {
            CachePadded::new(Counters::default())
        })?;
        Some(Self { per_cpu })
    }
}

impl<B: core::ops::Deref<Target = [CachePadded<Counters>]>> Statistics<B> {
    /// Counters over `blocks` (at least one).
    #[must_use]
    pub fn over(blocks: B) -> Option<Self> {
        (!blocks.is_empty()).then_some(Self { per_cpu: blocks })
    }

    /// The block of `cpu` (its own cache lines, so CPUs never contend).
    #[must_use]
    pub fn cpu(&self, cpu: usize) -> &Counters {
        &self.per_cpu[cpu.min(self.per_cpu.len() - 1)]
    }

    /// The RSC counters summed over all CPUs (`OID_TCP_RSC_STATISTICS`).
    #[must_use]
    pub fn rsc(&self) -> crate::offload::RscCounts {
        let mut sums = [0u64; 4];
        for c in self.per_cpu.iter() {
            for (sum, value) in sums.iter_mut().zip(&c.rsc) {
                *sum = sum.wrapping_add(value.load(Ordering::Relaxed));
            }
        }
        let [coalesced_packets, coalesced_octets, coalesce_events, aborts] = sums;
        crate::offload::RscCounts {
            coalesced_packets,
            coalesced_octets,
            coalesce_events,
            aborts,
        }
    }

    /// The sum over all CPUs, as `OID_GEN_STATISTICS` returns it.
    #[must_use]
    #[allow(
        clippy::similar_names,
        reason = "io_u, oo_u, ...: in/out, packets/octets, by class, as the sums are laid out"
    )]
    pub fn snapshot(&self) -> NDIS_STATISTICS_INFO {
        // One pass over the blocks into sixteen sums (a closure per counter, inlined 18 times,
        // made a 2.6 KiB kernel stack frame).
        let mut sums = [0u64; 16];
        for c in self.per_cpu.iter() {
            for (sum, value) in sums.iter_mut().zip(c.values()) {
                *sum = sum.wrapping_add(value);
            }
        }
        let [
            ip_u,
            ip_m,
            ip_b,
            io_u,
            io_m,
            io_b,
            op_u,
            op_m,
            op_b,
            oo_u,
            oo_m,
            oo_b,
            in_discards,
            in_errors,
            out_discards,
            out_errors,
        ] = sums;
        NDIS_STATISTICS_INFO {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_STATISTICS_INFO_REVISION_1,
                NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
            ),
            SupportedStatistics: VALID,
            ifInDiscards: in_discards,
            ifInErrors: in_errors,
            ifHCInOctets: io_u.wrapping_add(io_m).wrapping_add(io_b),
            ifHCInUcastPkts: ip_u,
            ifHCInMulticastPkts: ip_m,
            ifHCInBroadcastPkts: ip_b,
            ifHCOutOctets: oo_u.wrapping_add(oo_m).wrapping_add(oo_b),
            ifHCOutUcastPkts: op_u,
            ifHCOutMulticastPkts: op_m,
            ifHCOutBroadcastPkts: op_b,
            ifOutErrors: out_errors,
            ifOutDiscards: out_discards,
            ifHCInUcastOctets: io_u,
            ifHCInMulticastOctets: io_m,
            ifHCInBroadcastOctets: io_b,
            ifHCOutUcastOctets: oo_u,
            ifHCOutMulticastOctets: oo_m,
            ifHCOutBroadcastOctets: oo_b,
        }
    }
}

#[cfg(test)]
pub(crate) fn zeros(cpus: usize) -> Statistics<Vec<CachePadded<Counters>>> {
    Statistics::over((0..cpus).map(|_| CachePadded::default()).collect()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_statistics_are_zero() {
        let s = zeros(4).snapshot();
        assert_eq!((s.ifHCInOctets, s.ifHCOutOctets, s.ifInDiscards), (0, 0, 0));
    }

    #[test]
    fn eighteen_counters_are_valid_and_every_statistics_oid_is_supported() {
        assert_eq!(VALID.count_ones(), 18);
        assert_eq!(SUPPORTED.count_ones(), 24);
        for oid in [
            OID_GEN_XMIT_OK,
            OID_GEN_RCV_CRC_ERROR,
            OID_GEN_TRANSMIT_QUEUE_LENGTH,
            OID_GEN_STATISTICS,
        ] {
            assert!(crate::oid::SUPPORTED.contains(&oid), "{oid:#x}");
        }
    }

    #[test]
    fn per_cpu_counts_sum_exactly_by_class() {
        let s = zeros(4);
        s.cpu(0).received(Class::Unicast, 100);
        s.cpu(1).received(Class::Unicast, 60);
        s.cpu(2).received(Class::Broadcast, 64);
        s.cpu(3).sent(Class::Multicast, 1514);
        s.cpu(9).sent(Class::Unicast, 60);
        s.cpu(1).in_discards.fetch_add(2, Ordering::Relaxed);
        s.cpu(0).out_errors.fetch_add(1, Ordering::Relaxed);
        let i = s.snapshot();
        assert_eq!(
            (
                i.ifHCInUcastPkts,
                i.ifHCInUcastOctets,
                i.ifHCInBroadcastPkts,
                i.ifHCInOctets
            ),
            (2, 160, 1, 224)
        );
        assert_eq!(
            (i.ifHCOutMulticastPkts, i.ifHCOutUcastPkts, i.ifHCOutOctets),
            (1, 1, 1574)
        );
        assert_eq!(
            (i.ifInDiscards, i.ifOutErrors, i.ifInErrors, i.ifOutDiscards),
            (2, 1, 0, 0)
        );
        assert_eq!(i.SupportedStatistics, VALID);
        assert_eq!(i.Header.Size, NDIS_SIZEOF_STATISTICS_INFO_REVISION_1);
    }

    #[test]
    fn concurrent_cpus_lose_no_count() {
        let s = zeros(2);
        std::thread::scope(|scope| {
            for cpu in 0..2 {
                let s = &s;
                scope.spawn(move || {
                    for _ in 0..10_000 {
                        s.cpu(cpu).received(Class::Unicast, 60);
                    }
                });
            }
        });
        assert_eq!(s.snapshot().ifHCInUcastPkts, 20_000);
    }
}
