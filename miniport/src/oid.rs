//! OID requests: what a protocol may ask the adapter (query) and tell it (set).
//!
//! [`Control`] is the part of an adapter that OIDs read and write. NDIS serialises OID requests
//! for one adapter, so a request borrows it mutably; what a set changes comes back as a
//! [`Change`] for the adapter to publish to its datapath. Every answer is built in a small
//! stack buffer and then copied, whole or not at all, into the caller's buffer: nothing here
//! allocates, and nothing reads or writes outside the buffers it is given.
//!
//! Status codes follow the OID reference pages and netvmini's `ctrlpath.c`:
//! a query buffer that is too short gives `NDIS_STATUS_BUFFER_TOO_SHORT` and a set buffer
//! `NDIS_STATUS_INVALID_LENGTH`, both with `BytesNeeded`; an OID rvnic does not handle
//! `NDIS_STATUS_NOT_SUPPORTED`. Each refusal is counted in [`Refusals`].
#![forbid(unsafe_code)]

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;
use rvnic_helpers::oid::OidRequest;

use crate::config::Config;
use crate::offload::{self, Encapsulation, Offloads, RscCounts};
use crate::wire::qos::{self, Qos};
use crate::wire::scaling::{self, Scaling};
use crate::wire::vlan::{MAX_VLAN_ID, Tagging, Vlan};
use crate::wire::vmq::{Freed, VmQueues};
use crate::wire::{Address, Filter, ListError, MAX_MULTICAST, SUPPORTED_FILTERS};

/// Every OID rvnic answers (`OID_GEN_SUPPORTED_LIST`). The tests check that each one is
/// handled and that every other OID is `NOT_SUPPORTED`.
pub const SUPPORTED: [NDIS_OID; 76] = [
    OID_GEN_SUPPORTED_LIST,
    OID_GEN_HARDWARE_STATUS,
    OID_GEN_MEDIA_SUPPORTED,
    OID_GEN_MEDIA_IN_USE,
    OID_GEN_PHYSICAL_MEDIUM,
    OID_GEN_MAXIMUM_LOOKAHEAD,
    OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_MAXIMUM_FRAME_SIZE,
    OID_GEN_MAXIMUM_TOTAL_SIZE,
    OID_GEN_TRANSMIT_BLOCK_SIZE,
    OID_GEN_RECEIVE_BLOCK_SIZE,
    OID_GEN_LINK_SPEED,
    OID_GEN_LINK_SPEED_EX,
    OID_GEN_MEDIA_CONNECT_STATUS,
    OID_GEN_TRANSMIT_BUFFER_SPACE,
    OID_GEN_RECEIVE_BUFFER_SPACE,
    OID_GEN_VENDOR_ID,
    OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_VENDOR_DRIVER_VERSION,
    OID_GEN_DRIVER_VERSION,
    OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_MAC_OPTIONS,
    OID_GEN_MAXIMUM_SEND_PACKETS,
    OID_GEN_INTERRUPT_MODERATION,
    OID_GEN_STATISTICS,
    OID_GEN_XMIT_OK,
    OID_GEN_RCV_OK,
    OID_GEN_XMIT_ERROR,
    OID_GEN_RCV_ERROR,
    OID_GEN_RCV_NO_BUFFER,
    OID_GEN_RCV_DISCARDS,
    OID_GEN_XMIT_DISCARDS,
    OID_GEN_DIRECTED_BYTES_XMIT,
    OID_GEN_DIRECTED_FRAMES_XMIT,
    OID_GEN_MULTICAST_BYTES_XMIT,
    OID_GEN_MULTICAST_FRAMES_XMIT,
    OID_GEN_BROADCAST_BYTES_XMIT,
    OID_GEN_BROADCAST_FRAMES_XMIT,
    OID_GEN_DIRECTED_BYTES_RCV,
    OID_GEN_DIRECTED_FRAMES_RCV,
    OID_GEN_MULTICAST_BYTES_RCV,
    OID_GEN_MULTICAST_FRAMES_RCV,
    OID_GEN_BROADCAST_BYTES_RCV,
    OID_GEN_BROADCAST_FRAMES_RCV,
    OID_GEN_BYTES_RCV,
    OID_GEN_BYTES_XMIT,
    OID_GEN_RCV_CRC_ERROR,
    OID_GEN_TRANSMIT_QUEUE_LENGTH,
    OID_GEN_VLAN_ID,
    OID_802_3_PERMANENT_ADDRESS,
    OID_802_3_CURRENT_ADDRESS,
    OID_802_3_MULTICAST_LIST,
    OID_802_3_MAXIMUM_LIST_SIZE,
    OID_802_3_MAC_OPTIONS,
    OID_802_3_RCV_ERROR_ALIGNMENT,
    OID_802_3_XMIT_ONE_COLLISION,
    OID_802_3_XMIT_MORE_COLLISIONS,
    OID_802_3_XMIT_DEFERRED,
    OID_802_3_XMIT_MAX_COLLISIONS,
    OID_802_3_RCV_OVERRUN,
    OID_802_3_XMIT_UNDERRUN,
    OID_802_3_XMIT_HEARTBEAT_FAILURE,
    OID_802_3_XMIT_TIMES_CRS_LOST,
    OID_802_3_XMIT_LATE_COLLISIONS,
    OID_PNP_QUERY_POWER,
    OID_TCP_OFFLOAD_PARAMETERS,
    OID_OFFLOAD_ENCAPSULATION,
    OID_TCP_RSC_STATISTICS,
    OID_GEN_RECEIVE_SCALE_PARAMETERS,
    OID_QOS_PARAMETERS,
    OID_RECEIVE_FILTER_ALLOCATE_QUEUE,
    OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE,
    OID_RECEIVE_FILTER_SET_FILTER,
    OID_RECEIVE_FILTER_CLEAR_FILTER,
    OID_RECEIVE_FILTER_FREE_QUEUE,
    OID_RECEIVE_FILTER_QUEUE_PARAMETERS,
];

/// Listed OIDs that are method requests only (a query or set of them is `NOT_SUPPORTED`).
pub const METHODS: [NDIS_OID; 4] = [
    OID_QOS_PARAMETERS,
    OID_RECEIVE_FILTER_ALLOCATE_QUEUE,
    OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE,
    OID_RECEIVE_FILTER_SET_FILTER,
];

/// Listed OIDs that are set only: a query of them is `NOT_SUPPORTED` (`OID_TCP_OFFLOAD_PARAMETERS`'
/// page: "Query requests are not supported"; NDIS answers the `OID_OFFLOAD_ENCAPSULATION` query,
/// and `OID_GEN_RECEIVE_SCALE_PARAMETERS`': "the query is not requested ... NDIS handles the
/// query for miniport drivers"; so does it the `OID_RECEIVE_FILTER_QUEUE_PARAMETERS` method, and
/// the free and clear requests are sets only).
pub const SET_ONLY: [NDIS_OID; 6] = [
    OID_TCP_OFFLOAD_PARAMETERS,
    OID_OFFLOAD_ENCAPSULATION,
    OID_GEN_RECEIVE_SCALE_PARAMETERS,
    OID_RECEIVE_FILTER_CLEAR_FILTER,
    OID_RECEIVE_FILTER_FREE_QUEUE,
    OID_RECEIVE_FILTER_QUEUE_PARAMETERS,
];

/// OIDs answered but not listed. `OID_PNP_SET_POWER`: NDIS sends it to a miniport that reported
/// power-management capabilities (`PowerManagementCapabilitiesEx` in the general attributes), not
/// because the supported list names it; netvmini does not list it either. A protocol never sets
/// it, so it stays out of the list protocols read. (`OID_PNP_CAPABILITIES` is not answered: NDIS
/// 6.20 and later never request it of a miniport, and answer `OID_PM_*_CAPABILITIES` themselves
/// from those attributes.)
pub const UNLISTED: [NDIS_OID; 1] = [OID_PNP_SET_POWER];

/// `OID_GEN_VENDOR_ID`: no IEEE OUI (`0xFFFFFF`, as the reference page asks), NIC byte 0.
pub const VENDOR_ID: u32 = 0x00FF_FFFF;

/// `OID_GEN_VENDOR_DESCRIPTION`: a NUL-terminated ANSI string.
pub const VENDOR_DESCRIPTION: &[u8] = b"rvnic virtual NIC\0";

/// `OID_GEN_MAC_OPTIONS`, as netvmini: lookahead data may be copied, sends never pend on
/// transfer, and NDIS loops back frames for other bindings on this adapter itself. The wire never
/// returns a frame to its sender in a pair or a hub; the loopback topology does, by design (a cable
/// from the port to itself), so there a binding sees its own frame from the wire as well as any
/// copy NDIS loops back to other bindings.
pub const MAC_OPTIONS: u32 =
    NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND | NDIS_MAC_OPTION_NO_LOOPBACK;

/// The adapter's MAC options: [`MAC_OPTIONS`], and `NDIS_MAC_OPTION_8021P_PRIORITY` and
/// `NDIS_MAC_OPTION_8021Q_VLAN` for the 802.1Q fields `*PriorityVLANTag` enables (the NIC inserts
/// and strips them: `OID_GEN_MAC_OPTIONS`' page).
#[must_use]
pub const fn mac_options(tagging: Tagging) -> u32 {
    let priority = if tagging.priority {
        NDIS_MAC_OPTION_8021P_PRIORITY
    } else {
        0
    };
    let vlan = if tagging.vlan {
        NDIS_MAC_OPTION_8021Q_VLAN
    } else {
        0
    };
    MAC_OPTIONS | priority | vlan
}

/// The outcome of one request, as `MiniportOidRequest` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The request's status.
    pub status: NDIS_STATUS,
    /// `BytesWritten` (query) or `BytesRead` (set).
    pub bytes: u32,
    /// `BytesNeeded`: set when the buffer was too short, and for 64-bit counters always 8.
    pub needed: u32,
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "answers are at most a few hundred bytes"
)]
impl Reply {
    const fn success(bytes: usize) -> Self {
        Self {
            status: NDIS_STATUS_SUCCESS,
            bytes: bytes as u32,
            needed: 0,
        }
    }

    const fn refused(status: NDIS_STATUS, needed: usize) -> Self {
        Self {
            status,
            bytes: 0,
            needed: needed as u32,
        }
    }
}

/// What a successful set changed, for the adapter to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing the adapter applies (a query, or a set of a value only OIDs read).
    Nothing,
    /// The packet filter, the multicast list, the VLAN or the RSS parameters: republish
    /// [`Control::filter`], [`Control::vlan`] and [`Control::scaling`] to the wire.
    Filter,
    /// The device power state: stop the datapath before a low state, start it again in D0.
    Power(Power),
    /// The NDIS QoS parameters: republish the classification, then indicate the operational
    /// parameters (`NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE`).
    Qos,
    /// The task offload configuration or its activation: republish [`Control::offloads`] and
    /// [`Control::encapsulation`] to the wire, then indicate
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`.
    Offload,
    /// The VM queues' routes or processors: republish them, and make sure the wire follows them
    /// (and the queues' DPCs have indicated what it posted) before the request completes.
    Routes,
    /// A VM queue is stopping: indicate that its DMA stopped, and free it once its frames are
    /// back (the request pends until then).
    FreeQueue(Freed),
}

/// The device power states `OID_PNP_SET_POWER` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Working.
    D0,
    /// Light sleep.
    D1,
    /// Deeper sleep.
    D2,
    /// Off (what NDIS sets for a system sleep).
    D3,
}

impl Power {
    /// From `NDIS_DEVICE_POWER_STATE`; `NdisDeviceStateUnspecified` and anything else is invalid.
    #[must_use]
    #[allow(non_upper_case_globals, reason = "C enumerator names in patterns")]
    pub const fn from_raw(raw: NDIS_DEVICE_POWER_STATE) -> Option<Self> {
        match raw {
            NdisDeviceStateD0 => Some(Self::D0),
            NdisDeviceStateD1 => Some(Self::D1),
            NdisDeviceStateD2 => Some(Self::D2),
            NdisDeviceStateD3 => Some(Self::D3),
            _ => None,
        }
    }
}

/// Refused requests, by reason (bad input is counted, never silently dropped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// `BUFFER_TOO_SHORT` or `INVALID_LENGTH`.
    pub length: u64,
    /// `INVALID_DATA`, `MULTICAST_FULL`.
    pub data: u64,
    /// `NOT_SUPPORTED`: an unknown OID, a query of a set-only OID or the reverse, filter bits.
    pub unsupported: u64,
}

/// What the adapter knows at the moment of a query and does not keep in [`Control`].
#[derive(Debug, Clone, Copy)]
pub struct Live {
    /// Whether the adapter has a link.
    pub connected: bool,
    /// Sends accepted and not yet completed (`OID_GEN_TRANSMIT_QUEUE_LENGTH`).
    pub queued_sends: u32,
    /// The counters summed over every CPU.
    pub statistics: NDIS_STATISTICS_INFO,
    /// `OID_TCP_RSC_STATISTICS`.
    pub rsc: RscCounts,
}

/// The OID-visible state of one adapter.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// The validated configuration.
    pub config: Config,
    /// The permanent address (`OID_802_3_PERMANENT_ADDRESS`).
    pub permanent: Address,
    /// Packet filter, multicast list and current address (the wire reads a published copy).
    pub filter: Filter,
    /// `OID_GEN_CURRENT_LOOKAHEAD` (rvnic always indicates whole frames; kept and reported).
    pub lookahead: u32,
    /// The device power state the last `OID_PNP_SET_POWER` set.
    pub power: Power,
    /// The task offloads that are on, and whether the protocol activated them.
    pub offloads: Offloads,
    /// Which IP versions' offloads the protocol activated.
    pub encapsulation: Encapsulation,
    /// 802.1Q: what `*PriorityVLANTag` enables and the VLAN `OID_GEN_VLAN_ID` set (the wire
    /// reads a published copy).
    pub vlan: Vlan,
    /// The RSS parameters `OID_GEN_RECEIVE_SCALE_PARAMETERS` set (the wire reads a published
    /// copy).
    pub scaling: Scaling,
    /// The NDIS QoS parameters `OID_QOS_PARAMETERS` provisioned (the wire reads a published copy
    /// of the classification).
    pub qos: Qos,
    /// The VM queues and their filters (the wire reads a published copy of the routes).
    pub vmq: VmQueues,
    /// Whether a processor number names a processor of this system, for the indirection table:
    /// none until the adapter says how to ask the kernel.
    pub processor_exists: fn(PROCESSOR_NUMBER) -> bool,
    /// Refused requests, by reason.
    pub refusals: Refusals,
}

/// A refused set or method: its status and `BytesNeeded`.
pub type Refused = (NDIS_STATUS, usize);

/// The little-endian `u16` at `at` of a request buffer, 0 past its end (the callers check the
/// length they need first, and refuse shorter buffers with `BytesNeeded`).
#[must_use]
pub fn le16(buffer: &[u8], at: usize) -> u16 {
    buffer
        .get(at..at + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian `u32` at `at` of a request buffer, 0 past its end (as [`le16`]).
#[must_use]
pub fn le32(buffer: &[u8], at: usize) -> u32 {
    buffer
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Longest answer: the supported list (4 bytes an OID).
const ANSWER: usize = SUPPORTED.len() * 4;

/// An answer under construction: little-endian fields appended to a stack buffer.
struct Answer {
    bytes: [u8; ANSWER],
    len: usize,
    /// A 64-bit statistics counter: 8 bytes, or its low 32 bits into a 4-byte buffer (the
    /// statistics-OID rule); `BytesNeeded` is always 8.
    counter: bool,
}

impl Answer {
    const fn new() -> Self {
        Self {
            bytes: [0; ANSWER],
            len: 0,
            counter: false,
        }
    }

    fn counter(v: u64) -> Self {
        Self {
            counter: true,
            ..Self::new().u64(v)
        }
    }

    fn put(mut self, field: &[u8]) -> Self {
        // Every answer is shorter than ANSWER by construction (tests query every OID).
        let end = (self.len + field.len()).min(ANSWER);
        self.bytes[self.len..end].copy_from_slice(&field[..end - self.len]);
        self.len = end;
        self
    }

    fn u16(self, v: u16) -> Self {
        self.put(&v.to_le_bytes())
    }

    fn u32(self, v: u32) -> Self {
        self.put(&v.to_le_bytes())
    }

    fn u64(self, v: u64) -> Self {
        self.put(&v.to_le_bytes())
    }

    fn header(self, ty: u8, revision: u8, size: u16) -> Self {
        self.put(&[ty, revision]).u16(size)
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Control {
    #[must_use]
    /// The control state of a new adapter: `config`, its permanent address, a packet filter of
    /// zero (it receives nothing until the protocol sets one), and the offloads the keywords chose.
    pub fn new(config: Config, permanent: Address) -> Self {
        Self {
            config,
            permanent,
            filter: Filter::new(config.network_address.unwrap_or(permanent)),
            lookahead: config.mtu(),
            power: Power::D0,
            offloads: config.offloads,
            encapsulation: Encapsulation::default(),
            vlan: config.vlan,
            scaling: Scaling::OFF,
            qos: Qos::default(),
            vmq: VmQueues::new(config.vmq),
            processor_exists: |_| false,
            refusals: Refusals::default(),
        }
    }

    /// `NdisRequestQueryInformation` / `NdisRequestQueryStatistics`: answers `oid` into `buffer`.
    pub fn query(&mut self, oid: NDIS_OID, buffer: &mut [u8], live: impl FnOnce() -> Live) -> Reply {
        let answer = match self.value(oid, live) {
            Ok(answer) => answer,
            Err(status) => return self.refuse(status, 0),
        };
        let needed = answer.as_slice().len();
        let written = if let Some(out) = buffer.get_mut(..needed) {
            out.copy_from_slice(answer.as_slice());
            needed
        } else if let (true, Some(out)) = (answer.counter, buffer.get_mut(..4)) {
            out.copy_from_slice(&answer.as_slice()[..4]);
            4
        } else {
            return self.refuse(NDIS_STATUS_BUFFER_TOO_SHORT, needed);
        };
        Reply {
            needed: if answer.counter { 8 } else { 0 },
            ..Reply::success(written)
        }
    }

    /// `NdisRequestSetInformation`: applies `buffer` to `oid`. On failure nothing changes.
    pub fn set(&mut self, oid: NDIS_OID, buffer: &[u8]) -> (Reply, Change) {
        match self.apply(oid, buffer) {
            Ok((read, change)) => (Reply::success(read), change),
            Err((status, needed)) => (self.refuse(status, needed), Change::Nothing),
        }
    }

    fn refuse(&mut self, status: NDIS_STATUS, needed: usize) -> Reply {
        let r = &mut self.refusals;
        match status {
            NDIS_STATUS_BUFFER_TOO_SHORT | NDIS_STATUS_INVALID_LENGTH => r.length += 1,
            NDIS_STATUS_NOT_SUPPORTED => r.unsupported += 1,
            _ => r.data += 1,
        }
        Reply::refused(status, needed)
    }

    fn value(&self, oid: NDIS_OID, live: impl FnOnce() -> Live) -> Result<Answer, NDIS_STATUS> {
        let c = &self.config;
        let one = |v: u32| Answer::new().u32(v);
        let value = match oid {
            OID_GEN_SUPPORTED_LIST => SUPPORTED.iter().fold(Answer::new(), |a, &o| a.u32(o)),
            OID_GEN_HARDWARE_STATUS => one(NdisHardwareStatusReady as u32),
            OID_GEN_MEDIA_SUPPORTED | OID_GEN_MEDIA_IN_USE => one(NdisMedium802_3 as u32),
            OID_GEN_PHYSICAL_MEDIUM => one(NdisPhysicalMedium802_3 as u32),
            OID_GEN_MAXIMUM_LOOKAHEAD | OID_GEN_MAXIMUM_FRAME_SIZE => one(c.mtu()),
            OID_GEN_CURRENT_LOOKAHEAD => one(self.lookahead),
            OID_GEN_MAXIMUM_TOTAL_SIZE | OID_GEN_TRANSMIT_BLOCK_SIZE | OID_GEN_RECEIVE_BLOCK_SIZE => {
                one(c.max_frame)
            }
            // In units of 100 bit/s; 100 Gbit/s is 1e9, which fits.
            OID_GEN_LINK_SPEED => one(u32::try_from(c.link_speed / 100).unwrap_or(u32::MAX)),
            // NDIS_LINK_SPEED { ULONG64 XmitLinkSpeed; ULONG64 RcvLinkSpeed; } in bit/s
            // (learn.microsoft.com/windows-hardware/drivers/ddi/ntddndis/ns-ntddndis-_ndis_link_speed).
            OID_GEN_LINK_SPEED_EX => Answer::new().u64(c.link_speed).u64(c.link_speed),
            OID_GEN_MEDIA_CONNECT_STATUS => one(if live().connected {
                NdisMediaStateConnected
            } else {
                NdisMediaStateDisconnected
            }),
            OID_GEN_TRANSMIT_BUFFER_SPACE => one(c.max_frame.saturating_mul(c.transmit_buffers)),
            OID_GEN_RECEIVE_BUFFER_SPACE => one(c.max_frame.saturating_mul(c.receive_buffers)),
            OID_GEN_VENDOR_ID => one(VENDOR_ID),
            OID_GEN_VENDOR_DESCRIPTION => Answer::new().put(VENDOR_DESCRIPTION),
            OID_GEN_VENDOR_DRIVER_VERSION => {
                let (major, minor) = crate::DRIVER_VERSION;
                one(u32::from(major) << 16 | u32::from(minor))
            }
            OID_GEN_DRIVER_VERSION => Answer::new()
                .u16(u16::from(NDIS_MINIPORT_MAJOR_VERSION) << 8 | u16::from(NDIS_MINIPORT_MINOR_VERSION)),
            OID_GEN_CURRENT_PACKET_FILTER => one(self.filter.packet_filter),
            OID_GEN_MAC_OPTIONS => one(mac_options(self.vlan.tagging)),
            OID_GEN_MAXIMUM_SEND_PACKETS => one(c.transmit_buffers),
            OID_GEN_INTERRUPT_MODERATION => Answer::new()
                .header(
                    NDIS_OBJECT_TYPE_DEFAULT,
                    NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
                    NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
                )
                .u32(0)
                .u32(NdisInterruptModerationNotSupported as u32),
            OID_GEN_STATISTICS => statistics(&live().statistics),
            OID_GEN_TRANSMIT_QUEUE_LENGTH => one(live().queued_sends),
            // An adapter that does not tag VLANs has no VLAN to report (as NetKVM answers).
            OID_GEN_VLAN_ID if !self.vlan.tagging.vlan => return Err(NDIS_STATUS_NOT_SUPPORTED),
            OID_GEN_VLAN_ID => one(u32::from(self.vlan.id)),
            OID_802_3_PERMANENT_ADDRESS => Answer::new().put(&self.permanent),
            OID_802_3_CURRENT_ADDRESS => Answer::new().put(&self.filter.address),
            OID_802_3_MULTICAST_LIST => self
                .filter
                .multicast_list()
                .iter()
                .fold(Answer::new(), |a, m| a.put(m)),
            OID_802_3_MAXIMUM_LIST_SIZE => one(u32::try_from(MAX_MULTICAST).unwrap_or(u32::MAX)),
            // "The underlying driver returns zero, indicating that it supports no options" (the
            // OID's page, which calls it obsolete for NDIS 6: 802.1Q is in OID_GEN_MAC_OPTIONS).
            #[allow(
                clippy::match_same_arms,
                reason = "a zero for another reason than the error counters'"
            )]
            OID_802_3_MAC_OPTIONS => one(0),
            // A virtual wire has no alignment errors, collisions, deferrals, overruns or carrier loss
            // (netvmini lists the same mandatory and optional 802.3 error counters).
            OID_802_3_RCV_ERROR_ALIGNMENT
            | OID_802_3_XMIT_ONE_COLLISION
            | OID_802_3_XMIT_MORE_COLLISIONS
            | OID_802_3_XMIT_DEFERRED
            | OID_802_3_XMIT_MAX_COLLISIONS
            | OID_802_3_RCV_OVERRUN
            | OID_802_3_XMIT_UNDERRUN
            | OID_802_3_XMIT_HEARTBEAT_FAILURE
            | OID_802_3_XMIT_TIMES_CRS_LOST
            | OID_802_3_XMIT_LATE_COLLISIONS => one(0),
            // Must always succeed: the adapter can enter any state (NDIS-NOTES).
            OID_PNP_QUERY_POWER => Answer::new(),
            // NDIS_RSC_STATISTICS_INFO, required of an RSC-capable miniport ("Querying RSC
            // Statistics").
            OID_TCP_RSC_STATISTICS => {
                let r = live().rsc;
                Answer::new()
                    .header(
                        NDIS_OBJECT_TYPE_DEFAULT,
                        NDIS_RSC_STATISTICS_REVISION_1,
                        NDIS_SIZEOF_RSC_STATISTICS_REVISION_1,
                    )
                    .u32(0)
                    .u64(r.coalesced_packets)
                    .u64(r.coalesced_octets)
                    .u64(r.coalesce_events)
                    .u64(r.aborts)
            }
            oid => Answer::counter(counter(oid, &live().statistics).ok_or(NDIS_STATUS_NOT_SUPPORTED)?),
        };
        Ok(value)
    }

    /// `NdisRequestMethod`: runs `oid` on `buffer` (the input, its output written over it):
    /// `OID_QOS_PARAMETERS` (with `*QOS` 1), and with VMQ enabled the queue allocation and filter
    /// methods.
    pub fn method(&mut self, oid: NDIS_OID, buffer: &mut [u8]) -> (Reply, Change) {
        let vmq = self.vmq.enabled();
        let exists = self.processor_exists;
        let applied = match oid {
            OID_QOS_PARAMETERS if self.config.qos == Some(true) => qos::apply_parameters(buffer).map(|qos| {
                self.qos = qos;
                (buffer.len(), Change::Qos)
            }),
            OID_RECEIVE_FILTER_ALLOCATE_QUEUE if vmq => {
                self.vmq.allocate(buffer, exists).map(|n| (n, Change::Nothing))
            }
            OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE if vmq => {
                self.vmq.complete_allocation(buffer).map(|n| (n, Change::Routes))
            }
            OID_RECEIVE_FILTER_SET_FILTER if vmq => self.vmq.set_filter(buffer).map(|n| (n, Change::Routes)),
            _ => Err((NDIS_STATUS_NOT_SUPPORTED, 0)),
        };
        match applied {
            Ok((done, change)) => (Reply::success(done), change),
            Err((status, needed)) => (self.refuse(status, needed), Change::Nothing),
        }
    }

    fn apply(&mut self, oid: NDIS_OID, buffer: &[u8]) -> Result<(usize, Change), (NDIS_STATUS, usize)> {
        let u32_at_start = || {
            buffer
                .first_chunk::<4>()
                .map(|b| u32::from_le_bytes(*b))
                .ok_or((NDIS_STATUS_INVALID_LENGTH, 4))
        };
        match oid {
            OID_GEN_CURRENT_PACKET_FILTER => {
                let filter = u32_at_start()?;
                if filter & !SUPPORTED_FILTERS != 0 {
                    return Err((NDIS_STATUS_NOT_SUPPORTED, 0));
                }
                self.filter.packet_filter = filter;
                Ok((4, Change::Filter))
            }
            OID_802_3_MULTICAST_LIST => match self.filter.set_multicast_list(buffer) {
                Ok(()) => Ok((buffer.len(), Change::Filter)),
                // BytesNeeded: the next whole number of addresses.
                Err(ListError::Length(n)) => Err((NDIS_STATUS_INVALID_LENGTH, n.div_ceil(6) * 6)),
                Err(ListError::Full(_)) => Err((NDIS_STATUS_MULTICAST_FULL, MAX_MULTICAST * 6)),
                Err(ListError::NotMulticast) => Err((NDIS_STATUS_INVALID_DATA, 0)),
            },
            OID_GEN_CURRENT_LOOKAHEAD => {
                let lookahead = u32_at_start()?;
                if lookahead > self.config.mtu() {
                    return Err((NDIS_STATUS_INVALID_DATA, 0));
                }
                self.lookahead = lookahead;
                Ok((4, Change::Nothing))
            }
            OID_GEN_INTERRUPT_MODERATION => {
                let size = usize::from(NDIS_SIZEOF_INTERRUPT_MODERATION_PARAMETERS_REVISION_1);
                if buffer.len() < size {
                    return Err((NDIS_STATUS_INVALID_LENGTH, size));
                }
                // The query reported NdisInterruptModerationNotSupported, so every set is
                // INVALID_DATA (OID_GEN_INTERRUPT_MODERATION reference page).
                Err((NDIS_STATUS_INVALID_DATA, 0))
            }
            OID_PNP_SET_POWER => {
                // A value beyond i32 is no device state at all.
                let raw = NDIS_DEVICE_POWER_STATE::try_from(u32_at_start()?).unwrap_or(-1);
                let power = Power::from_raw(raw).ok_or((NDIS_STATUS_INVALID_DATA, 0))?;
                self.power = power;
                Ok((4, Change::Power(power)))
            }
            OID_GEN_VLAN_ID => {
                let id = u32_at_start()?;
                if !self.vlan.tagging.vlan {
                    return Err((NDIS_STATUS_NOT_SUPPORTED, 0));
                }
                // The 12 low bits; "higher order bits ... are reserved and must be set to 0"
                // (OID_GEN_VLAN_ID), and 0xFFF is reserved by IEEE 802.1Q.
                let id = u16::try_from(id)
                    .ok()
                    .filter(|id| *id <= MAX_VLAN_ID)
                    .ok_or((NDIS_STATUS_INVALID_DATA, 0))?;
                self.vlan.id = id;
                Ok((4, Change::Filter))
            }
            OID_TCP_OFFLOAD_PARAMETERS => {
                let read = self.offloads.apply_parameters(buffer)?;
                Ok((read, Change::Offload))
            }
            OID_OFFLOAD_ENCAPSULATION => {
                let read = offload::apply_encapsulation(&mut self.encapsulation, buffer)?;
                Ok((read, Change::Offload))
            }
            // With `*RSS` off the adapter reported no RSS capabilities.
            OID_GEN_RECEIVE_SCALE_PARAMETERS if self.config.rss_queues == 0 => {
                Err((NDIS_STATUS_NOT_SUPPORTED, 0))
            }
            OID_GEN_RECEIVE_SCALE_PARAMETERS => {
                let queues = self.config.rss_queues as usize;
                let exists = self.processor_exists;
                let (read, scaling) = scaling::apply_parameters(&self.scaling, buffer, queues, exists)?;
                self.scaling = scaling;
                Ok((read, Change::Filter))
            }
            OID_RECEIVE_FILTER_CLEAR_FILTER
            | OID_RECEIVE_FILTER_FREE_QUEUE
            | OID_RECEIVE_FILTER_QUEUE_PARAMETERS
                if !self.vmq.enabled() =>
            {
                Err((NDIS_STATUS_NOT_SUPPORTED, 0))
            }
            OID_RECEIVE_FILTER_CLEAR_FILTER => Ok((self.vmq.clear_filter(buffer)?, Change::Routes)),
            OID_RECEIVE_FILTER_FREE_QUEUE => {
                let (read, freed) = self.vmq.free(buffer)?;
                Ok((read, Change::FreeQueue(freed)))
            }
            OID_RECEIVE_FILTER_QUEUE_PARAMETERS => Ok((
                self.vmq.set_parameters(buffer, self.processor_exists)?,
                Change::Routes,
            )),
            _ => Err((NDIS_STATUS_NOT_SUPPORTED, 0)),
        }
    }
}

/// `MiniportOidRequest`'s work on one request: answers it through `control` and records
/// `BytesWritten`/`BytesRead` and `BytesNeeded`. Never pends.
pub fn handle(
    control: &mut Control,
    request: OidRequest<'_>,
    live: impl FnOnce() -> Live,
) -> (NDIS_STATUS, Change) {
    match request {
        OidRequest::Query(mut query) => {
            let reply = control.query(query.oid(), query.buffer(), live);
            query.finish(reply.bytes, reply.needed);
            (reply.status, Change::Nothing)
        }
        OidRequest::Set(set) => {
            let (reply, change) = control.set(set.oid(), set.buffer());
            set.finish(reply.bytes, reply.needed);
            (reply.status, change)
        }
        OidRequest::Method(mut method) => {
            let input = method.input().len();
            let (reply, change) = control.method(method.oid(), &mut method.buffer()[..input]);
            // What was read goes back, with what the method writes into it (QoS parameters as
            // they came: "must not modify any data"): written = read.
            let done = if reply.status == NDIS_STATUS_SUCCESS {
                reply.bytes
            } else {
                0
            };
            method.finish(done, done, reply.needed);
            (reply.status, change)
        }
        OidRequest::Other(_) => (
            control.refuse(NDIS_STATUS_NOT_SUPPORTED, 0).status,
            Change::Nothing,
        ),
    }
}

/// `NDIS_STATISTICS_INFO`, field by field in declaration order (a test pins the offsets).
fn statistics(s: &NDIS_STATISTICS_INFO) -> Answer {
    [
        s.ifInDiscards,
        s.ifInErrors,
        s.ifHCInOctets,
        s.ifHCInUcastPkts,
        s.ifHCInMulticastPkts,
        s.ifHCInBroadcastPkts,
        s.ifHCOutOctets,
        s.ifHCOutUcastPkts,
        s.ifHCOutMulticastPkts,
        s.ifHCOutBroadcastPkts,
        s.ifOutErrors,
        s.ifOutDiscards,
        s.ifHCInUcastOctets,
        s.ifHCInMulticastOctets,
        s.ifHCInBroadcastOctets,
        s.ifHCOutUcastOctets,
        s.ifHCOutMulticastOctets,
        s.ifHCOutBroadcastOctets,
    ]
    .iter()
    .fold(
        Answer::new()
            .header(s.Header.Type, s.Header.Revision, s.Header.Size)
            .u32(s.SupportedStatistics),
        |a, &v| a.u64(v),
    )
}

/// The per-counter statistics OIDs, from the same snapshot `OID_GEN_STATISTICS` returns.
fn counter(oid: NDIS_OID, s: &NDIS_STATISTICS_INFO) -> Option<u64> {
    Some(match oid {
        OID_GEN_XMIT_OK => s.ifHCOutUcastPkts + s.ifHCOutMulticastPkts + s.ifHCOutBroadcastPkts,
        OID_GEN_RCV_OK => s.ifHCInUcastPkts + s.ifHCInMulticastPkts + s.ifHCInBroadcastPkts,
        OID_GEN_XMIT_ERROR => s.ifOutErrors,
        OID_GEN_RCV_ERROR => s.ifInErrors,
        OID_GEN_RCV_NO_BUFFER | OID_GEN_RCV_DISCARDS => s.ifInDiscards,
        OID_GEN_XMIT_DISCARDS => s.ifOutDiscards,
        OID_GEN_DIRECTED_BYTES_XMIT => s.ifHCOutUcastOctets,
        OID_GEN_DIRECTED_FRAMES_XMIT => s.ifHCOutUcastPkts,
        OID_GEN_MULTICAST_BYTES_XMIT => s.ifHCOutMulticastOctets,
        OID_GEN_MULTICAST_FRAMES_XMIT => s.ifHCOutMulticastPkts,
        OID_GEN_BROADCAST_BYTES_XMIT => s.ifHCOutBroadcastOctets,
        OID_GEN_BROADCAST_FRAMES_XMIT => s.ifHCOutBroadcastPkts,
        OID_GEN_DIRECTED_BYTES_RCV => s.ifHCInUcastOctets,
        OID_GEN_DIRECTED_FRAMES_RCV => s.ifHCInUcastPkts,
        OID_GEN_MULTICAST_BYTES_RCV => s.ifHCInMulticastOctets,
        OID_GEN_MULTICAST_FRAMES_RCV => s.ifHCInMulticastPkts,
        OID_GEN_BROADCAST_BYTES_RCV => s.ifHCInBroadcastOctets,
        OID_GEN_BROADCAST_FRAMES_RCV => s.ifHCInBroadcastPkts,
        OID_GEN_BYTES_RCV => s.ifHCInOctets,
        OID_GEN_BYTES_XMIT => s.ifHCOutOctets,
        // Frames are copied in memory, never corrupted on the wire.
        OID_GEN_RCV_CRC_ERROR => 0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
