//! TCP/IP task offload (ntddndis.h, ndis.h, nblchecksum.h, nbllso.h, nblrsc.h): the capability and
//! configuration structures a miniport reports, the OID payloads that change them, and the
//! per-NET_BUFFER_LIST out-of-band information of checksum, large-send and receive-coalescing
//! offload.
//!
//! C bit-fields are one `ULONG` (`Bits`) here; the `*_SHIFT` constants and the accessor functions
//! name each field's position, as the layout oracle gives it (`tests/layout.rs` maps every C
//! bit-field row onto its unit).

use crate::basic::{BOOLEAN, PVOID, UCHAR, ULONG, USHORT};
use crate::object::NDIS_OBJECT_HEADER;

/// One direction of IPv4 checksum offload (`IPv4Transmit`, `IPv4Receive`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_CHECKSUM_OFFLOAD_IPV4 {
    pub Encapsulation: ULONG,
    /// `IpOptionsSupported:2, TcpOptionsSupported:2, TcpChecksum:2, UdpChecksum:2, IpChecksum:2`.
    pub Bits: ULONG,
}

/// One direction of IPv6 checksum offload (`IPv6Transmit`, `IPv6Receive`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_CHECKSUM_OFFLOAD_IPV6 {
    pub Encapsulation: ULONG,
    /// `IpExtensionHeadersSupported:2, TcpOptionsSupported:2, TcpChecksum:2, UdpChecksum:2`.
    pub Bits: ULONG,
}

/// Bit positions of the 2-bit fields of [`NDIS_CHECKSUM_OFFLOAD_IPV4::Bits`] and
/// [`NDIS_CHECKSUM_OFFLOAD_IPV6::Bits`] (the IPv6 unit has no `IpChecksum`; its bits 0..1 are
/// `IpExtensionHeadersSupported`).
pub const CHECKSUM_IP_OPTIONS_SHIFT: u32 = 0;
pub const CHECKSUM_TCP_OPTIONS_SHIFT: u32 = 2;
pub const CHECKSUM_TCP_SHIFT: u32 = 4;
pub const CHECKSUM_UDP_SHIFT: u32 = 6;
pub const CHECKSUM_IP_SHIFT: u32 = 8;

/// `NDIS_TCP_IP_CHECKSUM_OFFLOAD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_TCP_IP_CHECKSUM_OFFLOAD {
    pub IPv4Transmit: NDIS_CHECKSUM_OFFLOAD_IPV4,
    pub IPv4Receive: NDIS_CHECKSUM_OFFLOAD_IPV4,
    pub IPv6Transmit: NDIS_CHECKSUM_OFFLOAD_IPV6,
    pub IPv6Receive: NDIS_CHECKSUM_OFFLOAD_IPV6,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1::IPv4`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_LSO_V1_IPV4 {
    pub Encapsulation: ULONG,
    pub MaxOffLoadSize: ULONG,
    pub MinSegmentCount: ULONG,
    /// `TcpOptions:2, IpOptions:2`.
    pub Bits: ULONG,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_TCP_LARGE_SEND_OFFLOAD_V1 {
    pub IPv4: NDIS_LSO_V1_IPV4,
}

/// `NDIS_IPSEC_OFFLOAD_V1::Supported`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_IPSEC_V1_SUPPORTED {
    pub Encapsulation: ULONG,
    pub AhEspCombined: ULONG,
    pub TransportTunnelCombined: ULONG,
    pub IPv4Options: ULONG,
    pub Flags: ULONG,
}

/// `NDIS_IPSEC_OFFLOAD_V1` (rvnic offers no IPsec offload; the bit-field units stay zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_IPSEC_OFFLOAD_V1 {
    pub Supported: NDIS_IPSEC_V1_SUPPORTED,
    /// `IPv4AH`: `Md5:2, Sha_1:2, Transport:2, Tunnel:2, Send:2, Receive:2`.
    pub IPv4AH: ULONG,
    /// `IPv4ESP`: `Des:2, Reserved:2, TripleDes:2, NullEsp:2, Transport:2, Tunnel:2, Send:2,
    /// Receive:2`.
    pub IPv4ESP: ULONG,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2::IPv4`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_LSO_V2_IPV4 {
    pub Encapsulation: ULONG,
    pub MaxOffLoadSize: ULONG,
    pub MinSegmentCount: ULONG,
}

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2::IPv6`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_LSO_V2_IPV6 {
    pub Encapsulation: ULONG,
    pub MaxOffLoadSize: ULONG,
    pub MinSegmentCount: ULONG,
    /// `IpExtensionHeadersSupported:2, TcpOptionsSupported:2`.
    pub Bits: ULONG,
}

/// Bit positions in [`NDIS_LSO_V2_IPV6::Bits`].
pub const LSO_V2_IPV6_EXTENSION_HEADERS_SHIFT: u32 = 0;
pub const LSO_V2_IPV6_TCP_OPTIONS_SHIFT: u32 = 2;

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_TCP_LARGE_SEND_OFFLOAD_V2 {
    pub IPv4: NDIS_LSO_V2_IPV4,
    pub IPv6: NDIS_LSO_V2_IPV6,
}

/// `NDIS_IPSEC_OFFLOAD_V2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_IPSEC_OFFLOAD_V2 {
    pub Encapsulation: ULONG,
    pub IPv6Supported: BOOLEAN,
    pub IPv4Options: BOOLEAN,
    pub IPv6NonIPsecExtensionHeaders: BOOLEAN,
    pub Ah: BOOLEAN,
    pub Esp: BOOLEAN,
    pub AhEspCombined: BOOLEAN,
    pub Transport: BOOLEAN,
    pub Tunnel: BOOLEAN,
    pub TransportTunnelCombined: BOOLEAN,
    pub LsoSupported: BOOLEAN,
    pub ExtendedSequenceNumbers: BOOLEAN,
    pub UdpEsp: ULONG,
    pub AuthenticationAlgorithms: ULONG,
    pub EncryptionAlgorithms: ULONG,
    pub SaOffloadCapacity: ULONG,
}

/// `NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD::IPv4` / `IPv6`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RSC_ENABLED {
    pub Enabled: BOOLEAN,
}

/// `NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD` (NDIS 6.30).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD {
    pub IPv4: NDIS_RSC_ENABLED,
    pub IPv6: NDIS_RSC_ENABLED,
}

/// `NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD` (NVGRE; rvnic offers none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD {
    /// `TransmitChecksumOffloadSupported:4, ReceiveChecksumOffloadSupported:4, LsoV2Supported:4,
    /// RssSupported:4, VmqSupported:4`.
    pub Bits: ULONG,
    pub MaxHeaderSizeSupported: ULONG,
}

/// `NDIS_OFFLOAD`, revision 3 (NDIS 6.30): a miniport's task offload capabilities or current
/// configuration.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OFFLOAD {
    pub Header: NDIS_OBJECT_HEADER,
    pub Checksum: NDIS_TCP_IP_CHECKSUM_OFFLOAD,
    pub LsoV1: NDIS_TCP_LARGE_SEND_OFFLOAD_V1,
    pub IPsecV1: NDIS_IPSEC_OFFLOAD_V1,
    pub LsoV2: NDIS_TCP_LARGE_SEND_OFFLOAD_V2,
    pub Flags: ULONG,
    pub IPsecV2: NDIS_IPSEC_OFFLOAD_V2,
    pub Rsc: NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD,
    pub EncapsulatedPacketTaskOffloadGre: NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD,
}
pub type PNDIS_OFFLOAD = *mut NDIS_OFFLOAD;

/// `NDIS_OFFLOAD_PARAMETERS`, revision 3 (NDIS 6.30): the payload of `OID_TCP_OFFLOAD_PARAMETERS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OFFLOAD_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub IPv4Checksum: UCHAR,
    pub TCPIPv4Checksum: UCHAR,
    pub UDPIPv4Checksum: UCHAR,
    pub TCPIPv6Checksum: UCHAR,
    pub UDPIPv6Checksum: UCHAR,
    pub LsoV1: UCHAR,
    pub IPsecV1: UCHAR,
    pub LsoV2IPv4: UCHAR,
    pub LsoV2IPv6: UCHAR,
    pub TcpConnectionIPv4: UCHAR,
    pub TcpConnectionIPv6: UCHAR,
    pub Flags: ULONG,
    /// Revision 2 (NDIS 6.1) and later.
    pub IPsecV2: UCHAR,
    pub IPsecV2IPv4: UCHAR,
    /// Revision 3 (NDIS 6.30) and later.
    pub RscIPv4: UCHAR,
    pub RscIPv6: UCHAR,
    pub EncapsulatedPacketTaskOffload: UCHAR,
    pub EncapsulationTypes: UCHAR,
}

/// `NDIS_OFFLOAD_ENCAPSULATION::IPv4` / `IPv6`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_ENCAPSULATION_SETTING {
    /// `NDIS_OFFLOAD_SET_NO_CHANGE`, `NDIS_OFFLOAD_SET_ON` or `NDIS_OFFLOAD_SET_OFF`.
    pub Enabled: ULONG,
    pub EncapsulationType: ULONG,
    pub HeaderSize: ULONG,
}

/// `NDIS_OFFLOAD_ENCAPSULATION`: the payload of `OID_OFFLOAD_ENCAPSULATION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_OFFLOAD_ENCAPSULATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub IPv4: NDIS_ENCAPSULATION_SETTING,
    pub IPv6: NDIS_ENCAPSULATION_SETTING,
}

/// `NDIS_RSC_STATISTICS_INFO` (NDIS 6.30): the answer to `OID_TCP_RSC_STATISTICS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_RSC_STATISTICS_INFO {
    pub Header: NDIS_OBJECT_HEADER,
    pub CoalescedPkts: u64,
    pub CoalescedOctets: u64,
    pub CoalesceEvents: u64,
    pub Aborts: u64,
}

/// `NDIS_TCP_CONNECTION_OFFLOAD` (TCP chimney; rvnic offers none, and passes NULL for it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDIS_TCP_CONNECTION_OFFLOAD {
    pub Header: NDIS_OBJECT_HEADER,
    pub Encapsulation: ULONG,
    /// `SupportIPv4:2, SupportIPv6:2, SupportIPv6ExtensionHeaders:2, SupportSack:2,
    /// CongestionAlgorithm:4`.
    pub Bits: ULONG,
    pub TcpConnectionOffloadCapacity: ULONG,
    pub Flags: ULONG,
}
pub type PNDIS_TCP_CONNECTION_OFFLOAD = *mut NDIS_TCP_CONNECTION_OFFLOAD;

// ---- Per-NET_BUFFER_LIST information (NET_BUFFER_LIST::NetBufferListInfo) ----------------------

/// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO` (nblchecksum.h), at `TcpIpChecksumNetBufferListInfo`:
/// a pointer-sized value whose low 32 bits are the `Transmit` (on a send) or `Receive` (on an
/// indication) bit-fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO {
    pub Value: PVOID,
}

/// `Transmit` bits: `IsIPv4:1, IsIPv6:1, TcpChecksum:1, UdpChecksum:1, IpHeaderChecksum:1,
/// Reserved:11, TcpHeaderOffset:10`.
pub const CHECKSUM_TX_IS_IPV4: u32 = 1 << 0;
pub const CHECKSUM_TX_IS_IPV6: u32 = 1 << 1;
pub const CHECKSUM_TX_TCP: u32 = 1 << 2;
pub const CHECKSUM_TX_UDP: u32 = 1 << 3;
pub const CHECKSUM_TX_IP_HEADER: u32 = 1 << 4;
pub const CHECKSUM_TX_TCP_HEADER_OFFSET_SHIFT: u32 = 16;
pub const CHECKSUM_TX_TCP_HEADER_OFFSET_MASK: u32 = 0x3ff;

/// `Receive` bits: `TcpChecksumFailed:1, UdpChecksumFailed:1, IpChecksumFailed:1,
/// TcpChecksumSucceeded:1, UdpChecksumSucceeded:1, IpChecksumSucceeded:1, Loopback:1,
/// TcpChecksumValueInvalid:1, IpChecksumValueInvalid:1`.
pub const CHECKSUM_RX_TCP_FAILED: u32 = 1 << 0;
pub const CHECKSUM_RX_UDP_FAILED: u32 = 1 << 1;
pub const CHECKSUM_RX_IP_FAILED: u32 = 1 << 2;
pub const CHECKSUM_RX_TCP_SUCCEEDED: u32 = 1 << 3;
pub const CHECKSUM_RX_UDP_SUCCEEDED: u32 = 1 << 4;
pub const CHECKSUM_RX_IP_SUCCEEDED: u32 = 1 << 5;
pub const CHECKSUM_RX_LOOPBACK: u32 = 1 << 6;
pub const CHECKSUM_RX_TCP_VALUE_INVALID: u32 = 1 << 7;
pub const CHECKSUM_RX_IP_VALUE_INVALID: u32 = 1 << 8;

/// `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO` (nbllso.h), at
/// `TcpLargeSendNetBufferListInfo`: the low 32 bits are `LsoV2Transmit` (`MSS:20,
/// TcpHeaderOffset:10, Type:1, IPVersion:1`) on a send and `LsoV2TransmitComplete` (`Reserved:30,
/// Type:1`) once the miniport completes it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO {
    pub Value: PVOID,
}

pub const LSO_MSS_MASK: u32 = 0xf_ffff;
pub const LSO_TCP_HEADER_OFFSET_SHIFT: u32 = 20;
pub const LSO_TCP_HEADER_OFFSET_MASK: u32 = 0x3ff;
pub const LSO_TYPE_SHIFT: u32 = 30;
pub const LSO_IP_VERSION_SHIFT: u32 = 31;

/// `NDIS_RSC_NBL_INFO` (nblrsc.h), at `TcpRecvSegCoalesceInfo`: `Info.CoalescedSegCount` in the
/// low 16 bits, `Info.DupAckCount` in the next 16.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NDIS_RSC_NBL_INFO {
    pub Value: PVOID,
}

/// The `CoalescedSegCount` and `DupAckCount` of an `NDIS_RSC_NBL_INFO` value.
#[must_use]
pub const fn rsc_nbl_info(value: usize) -> (USHORT, USHORT) {
    ((value & 0xffff) as USHORT, ((value >> 16) & 0xffff) as USHORT)
}

/// An `NDIS_RSC_NBL_INFO` value.
#[must_use]
pub const fn rsc_nbl_value(coalesced: USHORT, dup_acks: USHORT) -> usize {
    coalesced as usize | ((dup_acks as usize) << 16)
}
