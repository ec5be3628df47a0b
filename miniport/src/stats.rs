//! Statistics: every counter of `NDIS_STATISTICS_INFO`, kept per CPU without locks and summed when
//! `OID_GEN_STATISTICS` asks.
//!
//! The datapath adds to its own CPU's block (Relaxed: each counter is independent and only ever
//! grows; a query sums a consistent-enough snapshot, as NDIS statistics are).
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use ndis::*;

use crate::wire::Class;

/// One CPU's counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub in_packets: [AtomicU64; 3],
    pub in_octets: [AtomicU64; 3],
    pub out_packets: [AtomicU64; 3],
    pub out_octets: [AtomicU64; 3],
    pub in_discards: AtomicU64,
    pub in_errors: AtomicU64,
    pub out_discards: AtomicU64,
    pub out_errors: AtomicU64,
}

const fn class_index(class: Class) -> usize {
    match class {
        Class::Unicast => 0,
        Class::Multicast => 1,
        Class::Broadcast => 2,
    }
}

impl Counters {
    pub fn received(&self, class: Class, bytes: usize) {
        let i = class_index(class);
        self.in_packets[i].fetch_add(1, Ordering::Relaxed);
        self.in_octets[i].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, class: Class, bytes: usize) {
        let i = class_index(class);
        self.out_packets[i].fetch_add(1, Ordering::Relaxed);
        self.out_octets[i].fetch_add(bytes as u64, Ordering::Relaxed);
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

    /// Frames for this adapter it could not take (paused, no free receive descriptor):
    /// `ifInDiscards`.
    pub fn discard_in(&self) {
        self.in_discards.fetch_add(1, Ordering::Relaxed);
    }
}

/// The 18 counters rvnic keeps, as `NDIS_STATISTICS_INFO::SupportedStatistics` flags.
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

/// Counters for `CPUS` processors (a CPU beyond that shares the last block, with atomic adds).
///
/// Made only of `AtomicU64`s: all-zero bytes are a valid, empty `Statistics` (the adapter relies
/// on this to build one in pool memory; a test below checks it).
#[derive(Debug)]
pub struct Statistics<const CPUS: usize> {
    per_cpu: [CachePadded<Counters>; CPUS],
}

impl<const CPUS: usize> Default for Statistics<CPUS> {
    fn default() -> Self {
        Self {
            per_cpu: core::array::from_fn(|_| CachePadded::new(Counters::default())),
        }
    }
}

impl<const CPUS: usize> Statistics<CPUS> {
    /// The block of `cpu` (its own cache lines, so CPUs never contend).
    #[must_use]
    pub fn cpu(&self, cpu: usize) -> &Counters {
        &self.per_cpu[cpu.min(CPUS - 1)]
    }

    /// The sum over all CPUs, as `OID_GEN_STATISTICS` returns it.
    #[must_use]
    pub fn snapshot(&self) -> NDIS_STATISTICS_INFO {
        let sum = |f: &dyn Fn(&Counters) -> &AtomicU64| {
            self.per_cpu
                .iter()
                .map(|c| f(c).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        let in_packets = |i: usize| sum(&|c| &c.in_packets[i]);
        let in_octets = |i: usize| sum(&|c| &c.in_octets[i]);
        let out_packets = |i: usize| sum(&|c| &c.out_packets[i]);
        let out_octets = |i: usize| sum(&|c| &c.out_octets[i]);
        NDIS_STATISTICS_INFO {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_STATISTICS_INFO_REVISION_1,
                NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
            ),
            SupportedStatistics: VALID,
            ifInDiscards: sum(&|c| &c.in_discards),
            ifInErrors: sum(&|c| &c.in_errors),
            ifHCInOctets: (0..3).map(in_octets).sum(),
            ifHCInUcastPkts: in_packets(0),
            ifHCInMulticastPkts: in_packets(1),
            ifHCInBroadcastPkts: in_packets(2),
            ifHCOutOctets: (0..3).map(out_octets).sum(),
            ifHCOutUcastPkts: out_packets(0),
            ifHCOutMulticastPkts: out_packets(1),
            ifHCOutBroadcastPkts: out_packets(2),
            ifOutErrors: sum(&|c| &c.out_errors),
            ifOutDiscards: sum(&|c| &c.out_discards),
            ifHCInUcastOctets: in_octets(0),
            ifHCInMulticastOctets: in_octets(1),
            ifHCInBroadcastOctets: in_octets(2),
            ifHCOutUcastOctets: out_octets(0),
            ifHCOutMulticastOctets: out_octets(1),
            ifHCOutBroadcastOctets: out_octets(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_zero_bytes_are_empty_statistics() {
        // The layout has no field other than counters: zeroed and default snapshots agree.
        let zeroed: Statistics<4> = Statistics::default();
        let s = zeroed.snapshot();
        assert_eq!((s.ifHCInOctets, s.ifHCOutOctets, s.ifInDiscards), (0, 0, 0));
        assert_eq!(
            size_of::<Statistics<4>>(),
            4 * size_of::<CachePadded<Counters>>(),
            "Statistics holds only the per-CPU counter blocks"
        );
    }

    #[test]
    fn eighteen_counters_are_valid() {
        assert_eq!(VALID.count_ones(), 18);
    }

    #[test]
    fn per_cpu_counts_sum_exactly_by_class() {
        let s = Statistics::<4>::default();
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
        let s = Statistics::<2>::default();
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
