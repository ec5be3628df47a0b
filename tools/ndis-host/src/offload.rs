//! Task offloads as NDIS keeps them for a miniport, and the rules for the offload information an
//! NBL carries.
//!
//! NDIS records the offload attributes (`NdisMSetMiniportAttributes`) and every
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indication, answers `OID_TCP_OFFLOAD_CURRENT_CONFIG`,
//! `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` and the `OID_OFFLOAD_ENCAPSULATION` query from them,
//! and updates the standardized keywords before it passes `OID_TCP_OFFLOAD_PARAMETERS` down. The
//! verifier checks, each against its page (relative to learn.microsoft.com/windows-hardware/drivers/):
//!
//! - attributes: the default configuration within the hardware capabilities, an `LSOv2` NIC able to
//!   compute IP and TCP checksums with options (network/offloading-the-segmentation-of-large-tcp-packets),
//!   RSC only in an NDIS 6.30 `NDIS_OFFLOAD` revision 3 (ddi/ntddndis/ns-ntddndis-_`ndis_offload`);
//! - after a successful `OID_TCP_OFFLOAD_PARAMETERS` or `OID_OFFLOAD_ENCAPSULATION` set, the
//!   miniport "must report the current task offload capabilities with the
//!   `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` status indication" (both OIDs' pages);
//! - a completed `LSOv2` send carries `LsoV2TransmitComplete` with `Reserved` 0 and `Type`
//!   `NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE` (the LSO page);
//! - receive checksum results only after the protocol set `OID_OFFLOAD_ENCAPSULATION`
//!   (network/oid-offload-encapsulation), only for offloads the current configuration has on,
//!   and never "succeeded" and "failed" for one protocol;
//! - a coalesced segment only while RSC is on and activated, with `IpChecksumSucceeded` (IPv4) and
//!   `TcpChecksumSucceeded`, no duplicate ACKs ("NDIS will disable RSC on the interface"), within
//!   one IP datagram (network/indicating-coalesced-segments, network/rules-for-coalescing-tcp-ip-packets).

use ndis::*;

use crate::config::Config;

/// What NDIS knows of an adapter's offloads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OffloadState {
    pub hardware: Option<NDIS_OFFLOAD>,
    pub current: Option<NDIS_OFFLOAD>,
    /// The last successful `OID_OFFLOAD_ENCAPSULATION` set: (IPv4 on, IPv6 on) and its bytes.
    pub encapsulation: Option<((bool, bool), [u8; 28])>,
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indications so far.
    pub indications: u64,
}

/// Reads an `NDIS_OFFLOAD` of `size` bytes (at most the structure; the rest zero).
fn read_offload(bytes: &[u8]) -> NDIS_OFFLOAD {
    let mut out = NDIS_OFFLOAD::default();
    let n = bytes.len().min(size_of::<NDIS_OFFLOAD>());
    // NDIS_OFFLOAD is plain integers: any bytes are a valid value; `n` bytes fit both.
    // SAFETY: copies `n` bytes into our own value.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (&raw mut out).cast::<u8>(), n) };
    out
}

/// The bytes of an `NDIS_OFFLOAD`, as long as its header says (at most the structure).
pub(crate) fn offload_bytes(offload: &NDIS_OFFLOAD) -> Vec<u8> {
    let n = usize::from(offload.Header.Size).min(size_of::<NDIS_OFFLOAD>());
    // SAFETY: reads `n <= size_of` bytes of a plain-integer structure.
    unsafe { std::slice::from_raw_parts((&raw const *offload).cast::<u8>(), n) }.to_vec()
}

/// Checks an `NDIS_OFFLOAD` the driver reported (header, and RSC only in revision 3 of NDIS 6.30).
fn check_offload(what: &str, bytes: &[u8], minor: u8) -> Result<NDIS_OFFLOAD, String> {
    if bytes.len() < usize::from(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1) {
        return Err(format!("{what}: {} bytes, not an NDIS_OFFLOAD", bytes.len()));
    }
    let o = read_offload(bytes);
    let h = o.Header;
    let needed = match h.Revision {
        1 => NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1,
        2 => NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2,
        _ => NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
    };
    if h.Type != NDIS_OBJECT_TYPE_OFFLOAD
        || h.Revision == 0
        || h.Size < needed
        || bytes.len() < usize::from(needed)
    {
        return Err(format!(
            "{what}: header type {} revision {} size {} ({} bytes given)",
            h.Type,
            h.Revision,
            h.Size,
            bytes.len()
        ));
    }
    let rsc = o.Rsc.IPv4.Enabled != 0 || o.Rsc.IPv6.Enabled != 0;
    if rsc && (h.Revision < NDIS_OFFLOAD_REVISION_3 || minor < 30) {
        return Err(format!(
            "{what}: RSC needs NDIS_OFFLOAD revision 3 of an NDIS 6.30 miniport (revision {}, NDIS 6.{minor})",
            h.Revision
        ));
    }
    Ok(o)
}

/// Every 2-bit field and flag of the checksum, `LSOv2` and RSC parts, as (name, value).
fn fields(o: &NDIS_OFFLOAD) -> Vec<(&'static str, u32)> {
    let c = &o.Checksum;
    let two = |bits: u32, shift: u32| (bits >> shift) & 3;
    let v4 = |b: u32| {
        [
            two(b, CHECKSUM_IP_OPTIONS_SHIFT),
            two(b, CHECKSUM_TCP_OPTIONS_SHIFT),
            two(b, CHECKSUM_TCP_SHIFT),
            two(b, CHECKSUM_UDP_SHIFT),
            two(b, CHECKSUM_IP_SHIFT),
        ]
    };
    let mut out = Vec::new();
    for (name, part) in [
        ("IPv4Transmit", v4(c.IPv4Transmit.Bits)),
        ("IPv4Receive", v4(c.IPv4Receive.Bits)),
        ("IPv6Transmit", v4(c.IPv6Transmit.Bits)),
        ("IPv6Receive", v4(c.IPv6Receive.Bits)),
    ] {
        for value in part {
            out.push((name, value));
        }
    }
    out.push(("LsoV2.IPv4", u32::from(o.LsoV2.IPv4.Encapsulation != 0)));
    out.push(("LsoV2.IPv6", u32::from(o.LsoV2.IPv6.Encapsulation != 0)));
    out.push(("Rsc.IPv4", u32::from(o.Rsc.IPv4.Enabled)));
    out.push(("Rsc.IPv6", u32::from(o.Rsc.IPv6.Enabled)));
    out
}

/// Whether everything `config` has on, `hardware` supports.
fn within(config: &NDIS_OFFLOAD, hardware: &NDIS_OFFLOAD) -> Result<(), String> {
    for ((name, on), (_, supported)) in fields(config).into_iter().zip(fields(hardware)) {
        if on != 0 && supported == 0 {
            return Err(format!(
                "{name} is on but the hardware capabilities do not support it"
            ));
        }
    }
    for (name, size, max) in [
        (
            "LsoV2.IPv4",
            config.LsoV2.IPv4.MaxOffLoadSize,
            hardware.LsoV2.IPv4.MaxOffLoadSize,
        ),
        (
            "LsoV2.IPv6",
            config.LsoV2.IPv6.MaxOffLoadSize,
            hardware.LsoV2.IPv6.MaxOffLoadSize,
        ),
    ] {
        if size > max {
            return Err(format!(
                "{name} MaxOffLoadSize {size} exceeds the hardware's {max}"
            ));
        }
    }
    Ok(())
}

/// The combination rule of the LSO page: "A NIC that supports the segmentation of large TCP packets
/// must also be able to calculate IP checksums for send packets that contain IP options [and] TCP
/// checksums for send packets that contain TCP options."
fn lso_needs_checksums(hardware: &NDIS_OFFLOAD) -> Result<(), String> {
    let two = |bits: u32, shift: u32| (bits >> shift) & 3 == NDIS_OFFLOAD_SUPPORTED;
    let t4 = hardware.Checksum.IPv4Transmit.Bits;
    let t6 = hardware.Checksum.IPv6Transmit.Bits;
    if hardware.LsoV2.IPv4.Encapsulation != 0
        && !(two(t4, CHECKSUM_IP_SHIFT)
            && two(t4, CHECKSUM_IP_OPTIONS_SHIFT)
            && two(t4, CHECKSUM_TCP_SHIFT)
            && two(t4, CHECKSUM_TCP_OPTIONS_SHIFT))
    {
        return Err("LSOv2 over IPv4 without IPv4 transmit IP and TCP checksums with options".into());
    }
    if hardware.LsoV2.IPv6.Encapsulation != 0
        && !(two(t6, CHECKSUM_TCP_SHIFT) && two(t6, CHECKSUM_TCP_OPTIONS_SHIFT))
    {
        return Err("LSOv2 over IPv6 without IPv6 transmit TCP checksums with options".into());
    }
    for (name, lso) in [
        ("IPv4", hardware.LsoV2.IPv4),
        (
            "IPv6",
            NDIS_LSO_V2_IPV4 {
                Encapsulation: hardware.LsoV2.IPv6.Encapsulation,
                MaxOffLoadSize: hardware.LsoV2.IPv6.MaxOffLoadSize,
                MinSegmentCount: hardware.LsoV2.IPv6.MinSegmentCount,
            },
        ),
    ] {
        if lso.Encapsulation != 0 && (lso.MaxOffLoadSize == 0 || lso.MinSegmentCount == 0) {
            return Err(format!(
                "LSOv2 over {name} with MaxOffLoadSize {} and MinSegmentCount {}",
                lso.MaxOffLoadSize, lso.MinSegmentCount
            ));
        }
    }
    Ok(())
}

/// `NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES`: records the default configuration (the current one
/// until the driver indicates another) and the hardware capabilities.
pub(crate) fn attributes(
    state: &mut OffloadState,
    a: &NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
    minor: u8,
) -> Result<(), String> {
    let h = a.Header;
    if h.Revision < NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1
        || h.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1
    {
        return Err(format!(
            "offload attributes revision {} size {}",
            h.Revision, h.Size
        ));
    }
    if state.hardware.is_some() {
        return Err("offload attributes set twice".into());
    }
    if a.DefaultOffloadConfiguration.is_null() || a.HardwareOffloadCapabilities.is_null() {
        return Err(
            "offload attributes without DefaultOffloadConfiguration or HardwareOffloadCapabilities".into(),
        );
    }
    let read = |p: PNDIS_OFFLOAD| {
        // The driver's structures, valid for the call; at least a header is there (the pointer is
        // to an NDIS_OFFLOAD) and as many bytes as the header says, up to the structure.
        // SAFETY: reading the driver's NDIS_OFFLOAD for the call.
        let size = usize::from(unsafe { (*p).Header.Size }).min(size_of::<NDIS_OFFLOAD>());
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size) }.to_vec()
    };
    let default = check_offload(
        "DefaultOffloadConfiguration",
        &read(a.DefaultOffloadConfiguration),
        minor,
    )?;
    let hardware = check_offload(
        "HardwareOffloadCapabilities",
        &read(a.HardwareOffloadCapabilities),
        minor,
    )?;
    within(&default, &hardware)?;
    lso_needs_checksums(&hardware)?;
    state.hardware = Some(hardware);
    state.current = Some(default);
    Ok(())
}

/// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`: the new current configuration.
pub(crate) fn current_config(state: &mut OffloadState, buffer: &[u8], minor: u8) -> Result<(), String> {
    let Some(hardware) = state.hardware else {
        return Err("NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG without offload attributes".into());
    };
    let current = check_offload("NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG", buffer, minor)?;
    within(&current, &hardware)?;
    state.current = Some(current);
    state.indications += 1;
    Ok(())
}

/// NDIS updates the standardized keywords before it passes `OID_TCP_OFFLOAD_PARAMETERS` to the
/// miniport (the OID's page), unless `NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE` is set.
pub(crate) fn update_keywords(config: &mut Config, p: &[u8]) {
    let flags = p
        .get(16..20)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if p.len() < usize::from(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1)
        || flags & NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE != 0
    {
        return;
    }
    let revision = p[1];
    // A checksum field's 1..=4 is keyword value 0..=3; LSOv2 and RSC's 1..=2 are 0..=1.
    let mut fields = vec![
        ("*IPChecksumOffloadIPv4", 4, 4),
        ("*TCPChecksumOffloadIPv4", 5, 4),
        ("*UDPChecksumOffloadIPv4", 6, 4),
        ("*TCPChecksumOffloadIPv6", 7, 4),
        ("*UDPChecksumOffloadIPv6", 8, 4),
        ("*LsoV2IPv4", 11, 2),
        ("*LsoV2IPv6", 12, 2),
    ];
    if revision >= NDIS_OFFLOAD_PARAMETERS_REVISION_3
        && p.len() >= usize::from(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3)
    {
        fields.extend([("*RscIPv4", 22, 2), ("*RscIPv6", 23, 2)]);
    }
    for (keyword, at, max) in fields {
        let v = p[at];
        if (1..=max).contains(&v) {
            config.set(keyword, (u32::from(v) - 1).to_string());
        }
    }
}

/// Reads the encapsulation a successful `OID_OFFLOAD_ENCAPSULATION` set made: (IPv4, IPv6) on.
pub(crate) fn encapsulation(previous: Option<(bool, bool)>, data: &[u8]) -> Option<((bool, bool), [u8; 28])> {
    let bytes: [u8; 28] = data.get(..28)?.try_into().ok()?;
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (mut v4, mut v6) = previous.unwrap_or((false, false));
    for (on, at) in [(&mut v4, 4), (&mut v6, 16)] {
        match word(at) {
            NDIS_OFFLOAD_SET_ON => *on = true,
            NDIS_OFFLOAD_SET_OFF => *on = false,
            _ => {}
        }
    }
    Some(((v4, v6), bytes))
}

/// The out-of-band offload values of a received NBL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveInfo {
    /// `NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Receive` (`CHECKSUM_RX_*` bits).
    pub checksum: u32,
    /// `NDIS_RSC_NBL_INFO`: coalesced segments (0: not coalesced) and duplicate ACKs.
    pub coalesced_segments: u16,
    /// `NDIS_RSC_NBL_INFO`: duplicate ACKs coalesced.
    pub dup_acks: u16,
    /// `RscTcpTimestampDelta`.
    pub timestamp_delta: u32,
    /// `NDIS_NET_BUFFER_LIST_8021Q_INFO`: the `UserPriority` and `VlanId` of the tag the
    /// miniport stripped (zeros: none).
    pub ieee8021q: (u8, u16),
    /// `NetBufferListHashValue` and `NetBufferListHashInfo` (hash type and function): what RSS
    /// computed (zeros: no hash).
    pub hash: (u32, u32),
    /// `NetBufferListFilteringInfo`: the receive queue and filter (zeros: the default queue, no
    /// filter).
    pub queue: (u16, u16),
}

impl ReceiveInfo {
    pub(crate) fn of(nbl: PNET_BUFFER_LIST) -> Self {
        // SAFETY: the driver indicates NBLs it owns; plain reads of out-of-band values.
        let info = |id| unsafe { NET_BUFFER_LIST_INFO(nbl, id) } as usize;
        let (coalesced_segments, dup_acks) = rsc_nbl_info(info(TcpRecvSegCoalesceInfo));
        Self {
            checksum: info(TcpIpChecksumNetBufferListInfo) as u32,
            coalesced_segments,
            dup_acks,
            timestamp_delta: info(RscTcpTimestampDelta) as u32,
            ieee8021q: ieee8021q_fields(info(Ieee8021QNetBufferListInfo)),
            hash: (
                info(NetBufferListHashValue) as u32,
                info(NetBufferListHashInfo) as u32,
            ),
            queue: {
                let filtering = info(NetBufferListFilteringInfo);
                (filtering_queue(filtering), filtering as u16)
            },
        }
    }

    /// Whether it says anything about offloads (checksums, coalescing): what the receive rules
    /// check. The 802.1Q information and the RSS hash are not an offload's and may come with any
    /// frame.
    pub(crate) fn has_offload(&self) -> bool {
        Self {
            ieee8021q: (0, 0),
            hash: (0, 0),
            queue: (0, 0),
            ..*self
        } != Self::default()
    }
}

/// What a frame is, as far as the receive rules need: IP version and transport protocol, and the
/// length of its IP datagram (IPv4 total length, IPv6 payload length).
fn classify(frame: &[u8]) -> Option<(bool, u8, usize)> {
    let (mut at, mut ty) = (14, u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]));
    if ty == 0x8100 {
        ty = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        at = 18;
    }
    match ty {
        0x0800 => Some((
            true,
            *frame.get(at + 9)?,
            usize::from(u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?])),
        )),
        0x86DD => Some((
            false,
            *frame.get(at + 6)?,
            usize::from(u16::from_be_bytes([*frame.get(at + 4)?, *frame.get(at + 5)?])),
        )),
        _ => None,
    }
}

/// The receive rules of the module documentation for one indicated NBL whose first frame starts
/// with `frame` (its headers at least) and is `len` bytes long; `Err` says which was broken.
pub(crate) fn check_receive(
    state: &OffloadState,
    info: &ReceiveInfo,
    frame: &[u8],
    len: usize,
) -> Result<(), String> {
    if *info == ReceiveInfo::default() {
        return Ok(());
    }
    let c = info.checksum;
    let Some(current) = state.current else {
        return Err(format!(
            "receive offload information {info:?} from an adapter that reported no offloads"
        ));
    };
    let (v4_on, v6_on) = state.encapsulation.map_or((false, false), |(e, _)| e);
    let Some((v4, protocol, _)) = classify(frame) else {
        return Err(format!(
            "receive offload information {info:?} on a frame that is not IP"
        ));
    };
    if !(if v4 { v4_on } else { v6_on }) {
        return Err(format!(
            "receive offload information {info:?} on an IPv{} frame before OID_OFFLOAD_ENCAPSULATION activated it",
            if v4 { 4 } else { 6 }
        ));
    }
    for (failed, succeeded, name) in [
        (CHECKSUM_RX_TCP_FAILED, CHECKSUM_RX_TCP_SUCCEEDED, "TCP"),
        (CHECKSUM_RX_UDP_FAILED, CHECKSUM_RX_UDP_SUCCEEDED, "UDP"),
        (CHECKSUM_RX_IP_FAILED, CHECKSUM_RX_IP_SUCCEEDED, "IP"),
    ] {
        if c & failed != 0 && c & succeeded != 0 {
            return Err(format!("{name} checksum both succeeded and failed ({c:#x})"));
        }
    }
    let tcp = c & (CHECKSUM_RX_TCP_FAILED | CHECKSUM_RX_TCP_SUCCEEDED) != 0;
    let udp = c & (CHECKSUM_RX_UDP_FAILED | CHECKSUM_RX_UDP_SUCCEEDED) != 0;
    let ip = c & (CHECKSUM_RX_IP_FAILED | CHECKSUM_RX_IP_SUCCEEDED) != 0;
    if (tcp && protocol != 6) || (udp && protocol != 17) || (ip && !v4) {
        return Err(format!(
            "checksum results {c:#x} for a protocol the frame does not have (IPv{}, protocol {protocol})",
            if v4 { 4 } else { 6 }
        ));
    }
    let rx = if v4 {
        current.Checksum.IPv4Receive.Bits
    } else {
        current.Checksum.IPv6Receive.Bits
    };
    let on = |shift: u32| (rx >> shift) & 3 == NDIS_OFFLOAD_SUPPORTED;
    let coalesced = info.coalesced_segments > 0;
    // A coalesced segment's checksum flags are RSC's, not receive checksum offload's.
    if !coalesced
        && ((tcp && !on(CHECKSUM_TCP_SHIFT))
            || (udp && !on(CHECKSUM_UDP_SHIFT))
            || (ip && !on(CHECKSUM_IP_SHIFT)))
    {
        return Err(format!(
            "checksum results {c:#x} for an IPv{} receive checksum offload the current configuration has off",
            if v4 { 4 } else { 6 }
        ));
    }
    if coalesced {
        let rsc = if v4 {
            current.Rsc.IPv4.Enabled
        } else {
            current.Rsc.IPv6.Enabled
        };
        if rsc == 0 || protocol != 6 {
            return Err(format!(
                "a coalesced segment ({} segments) while RSC is off for IPv{} (or not TCP)",
                info.coalesced_segments,
                if v4 { 4 } else { 6 }
            ));
        }
        if c & CHECKSUM_RX_TCP_SUCCEEDED == 0 || (v4 && c & CHECKSUM_RX_IP_SUCCEEDED == 0) {
            return Err(format!(
                "a coalesced segment without IpChecksumSucceeded and TcpChecksumSucceeded ({c:#x})"
            ));
        }
        if info.dup_acks != 0 {
            return Err(format!("a coalesced segment with DupAckCount {}", info.dup_acks));
        }
        let ip_header = if v4 { 0 } else { 40 };
        let datagram = len.saturating_sub(if frame.get(12..14) == Some(&[0x81, 0]) {
            18
        } else {
            14
        });
        if datagram > 65_535 + ip_header {
            return Err(format!(
                "a coalesced segment of {datagram} bytes, larger than an IP datagram"
            ));
        }
    } else if info.dup_acks != 0 || info.timestamp_delta != 0 {
        // "DupAckCount and RscTcpTimestampDelta are interpreted if and only if CoalescedSegCount
        // is greater than zero": harmless, but a sign of stale information.
        return Err(format!("RSC values {info:?} on a segment that is not coalesced"));
    }
    Ok(())
}

/// Whether a completed `LSOv2` send's information is `LsoV2TransmitComplete` with `Reserved` 0 and
/// `Type` `NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE`.
pub(crate) fn large_send_completed(nbl: PNET_BUFFER_LIST) -> Result<(), u32> {
    // SAFETY: the host owns the completed NBL again; a plain read.
    let value = unsafe { NET_BUFFER_LIST_INFO(nbl, TcpLargeSendNetBufferListInfo) } as usize as u32;
    if value & 0x7fff_ffff == NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE << LSO_TYPE_SHIFT {
        Ok(())
    } else {
        Err(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything on, as rvnic reports its hardware.
    fn full() -> NDIS_OFFLOAD {
        let four = (1 << CHECKSUM_IP_OPTIONS_SHIFT)
            | (1 << CHECKSUM_TCP_OPTIONS_SHIFT)
            | (1 << CHECKSUM_TCP_SHIFT)
            | (1 << CHECKSUM_UDP_SHIFT)
            | (1 << CHECKSUM_IP_SHIFT);
        let six = four & !(3 << CHECKSUM_IP_SHIFT);
        let v4 = NDIS_CHECKSUM_OFFLOAD_IPV4 {
            Encapsulation: NDIS_ENCAPSULATION_IEEE_802_3,
            Bits: four,
        };
        let v6 = NDIS_CHECKSUM_OFFLOAD_IPV6 {
            Encapsulation: NDIS_ENCAPSULATION_IEEE_802_3,
            Bits: six,
        };
        NDIS_OFFLOAD {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_OFFLOAD,
                NDIS_OFFLOAD_REVISION_3,
                NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
            ),
            Checksum: NDIS_TCP_IP_CHECKSUM_OFFLOAD {
                IPv4Transmit: v4,
                IPv4Receive: v4,
                IPv6Transmit: v6,
                IPv6Receive: v6,
            },
            LsoV2: NDIS_TCP_LARGE_SEND_OFFLOAD_V2 {
                IPv4: NDIS_LSO_V2_IPV4 {
                    Encapsulation: NDIS_ENCAPSULATION_IEEE_802_3,
                    MaxOffLoadSize: 65_535,
                    MinSegmentCount: 2,
                },
                IPv6: NDIS_LSO_V2_IPV6 {
                    Encapsulation: NDIS_ENCAPSULATION_IEEE_802_3,
                    MaxOffLoadSize: 65_535,
                    MinSegmentCount: 2,
                    Bits: 5,
                },
            },
            Rsc: NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD {
                IPv4: NDIS_RSC_ENABLED { Enabled: 1 },
                IPv6: NDIS_RSC_ENABLED { Enabled: 1 },
            },
            ..NDIS_OFFLOAD::default()
        }
    }

    fn attributes_of(
        default: &mut NDIS_OFFLOAD,
        hardware: &mut NDIS_OFFLOAD,
    ) -> NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
        NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
                NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
            ),
            DefaultOffloadConfiguration: default,
            HardwareOffloadCapabilities: hardware,
            DefaultTcpConnectionOffloadConfiguration: std::ptr::null_mut(),
            TcpConnectionOffloadHardwareCapabilities: std::ptr::null_mut(),
        }
    }

    #[test]
    fn attributes_follow_the_combination_rules() {
        let (mut d, mut h) = (full(), full());
        let mut state = OffloadState::default();
        assert_eq!(attributes(&mut state, &attributes_of(&mut d, &mut h), 30), Ok(()));
        assert!(
            attributes(&mut state, &attributes_of(&mut d, &mut h), 30).is_err(),
            "set twice"
        );
        let try_with = |d: &mut NDIS_OFFLOAD, h: &mut NDIS_OFFLOAD, minor| {
            attributes(&mut OffloadState::default(), &attributes_of(d, h), minor)
        };
        // RSC needs NDIS 6.30 and revision 3.
        assert!(
            try_with(&mut full(), &mut full(), 20)
                .unwrap_err()
                .contains("RSC")
        );
        let mut old = full();
        old.Header.Revision = NDIS_OFFLOAD_REVISION_2;
        old.Header.Size = NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_2;
        // A revision 2 structure has no RSC fields: whatever follows its 144 bytes is not read.
        let mut state = OffloadState::default();
        attributes(&mut state, &attributes_of(&mut old, &mut full()), 30).expect("valid");
        assert_eq!(state.current.map(|c| c.Rsc.IPv4.Enabled), Some(0));
        // The default configuration beyond the hardware.
        let mut small = full();
        small.Checksum.IPv6Receive.Bits = 0;
        assert!(
            try_with(&mut full(), &mut small, 30)
                .unwrap_err()
                .contains("IPv6Receive")
        );
        // LSOv2 without the IP checksum of options.
        let mut no_ip = full();
        no_ip.Checksum.IPv4Transmit.Bits &= !(3 << CHECKSUM_IP_OPTIONS_SHIFT);
        let mut d = no_ip;
        assert!(
            try_with(&mut d, &mut no_ip, 30)
                .unwrap_err()
                .contains("LSOv2 over IPv4")
        );
        let mut header = full();
        header.Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
        assert!(
            try_with(&mut header, &mut full(), 30)
                .unwrap_err()
                .contains("header type")
        );
    }

    #[test]
    fn a_current_configuration_stays_within_the_hardware() {
        let mut h = full();
        h.Rsc.IPv6.Enabled = 0;
        let mut d = h;
        let mut state = OffloadState::default();
        attributes(&mut state, &attributes_of(&mut d, &mut h), 30).expect("valid");
        let mut beyond = h;
        beyond.Rsc.IPv6.Enabled = 1;
        let bytes = |o: &NDIS_OFFLOAD| offload_bytes(o);
        assert!(
            current_config(&mut state, &bytes(&beyond), 30)
                .unwrap_err()
                .contains("Rsc.IPv6")
        );
        assert!(
            current_config(&mut state, &bytes(&h)[..100], 30).is_err(),
            "short"
        );
        let mut off = h;
        off.Rsc.IPv4.Enabled = 0;
        assert_eq!(current_config(&mut state, &bytes(&off), 30), Ok(()));
        assert_eq!(
            (state.indications, state.current.map(|c| c.Rsc.IPv4.Enabled)),
            (1, Some(0))
        );
    }

    /// A minimal IPv4 TCP or UDP frame (headers only).
    fn frame(v4: bool, protocol: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len.max(60)];
        if v4 {
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[23] = protocol;
            f[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
        } else {
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            f[14] = 0x60;
            f[20] = protocol;
            f[18..20].copy_from_slice(&((len - 54) as u16).to_be_bytes());
        }
        f
    }

    fn activated() -> OffloadState {
        OffloadState {
            hardware: Some(full()),
            current: Some(full()),
            encapsulation: Some(((true, true), [0; 28])),
            indications: 0,
        }
    }

    #[test]
    fn receive_information_follows_the_rules() {
        let state = activated();
        let tcp = frame(true, 6, 100);
        let ok = |checksum, coalesced_segments| ReceiveInfo {
            checksum,
            coalesced_segments,
            ..ReceiveInfo::default()
        };
        let verified = CHECKSUM_RX_TCP_SUCCEEDED | CHECKSUM_RX_IP_SUCCEEDED;
        assert_eq!(check_receive(&state, &ok(verified, 0), &tcp, tcp.len()), Ok(()));
        assert_eq!(
            check_receive(
                &state,
                &ok(verified | CHECKSUM_RX_TCP_VALUE_INVALID, 5),
                &tcp,
                tcp.len()
            ),
            Ok(())
        );
        assert_eq!(
            check_receive(&state, &ReceiveInfo::default(), &[], 0),
            Ok(()),
            "nothing to check"
        );
        let broken = [
            (
                ok(CHECKSUM_RX_TCP_SUCCEEDED | CHECKSUM_RX_TCP_FAILED, 0),
                tcp.clone(),
                "both",
            ),
            (ok(CHECKSUM_RX_UDP_SUCCEEDED, 0), tcp.clone(), "protocol"),
            (ok(CHECKSUM_RX_IP_SUCCEEDED, 0), frame(false, 6, 100), "protocol"),
            (
                ok(CHECKSUM_RX_TCP_SUCCEEDED, 3),
                tcp.clone(),
                "without IpChecksumSucceeded",
            ),
            (ok(verified, 3), frame(true, 17, 100), "protocol"),
            (
                ReceiveInfo {
                    dup_acks: 1,
                    ..ok(verified, 2)
                },
                tcp.clone(),
                "DupAckCount",
            ),
            (
                ReceiveInfo {
                    timestamp_delta: 7,
                    ..ok(verified, 0)
                },
                tcp.clone(),
                "not coalesced",
            ),
            (
                ok(verified, 50),
                frame(true, 6, 70_000),
                "larger than an IP datagram",
            ),
            (ok(verified, 0), vec![0; 60], "not IP"),
        ];
        for (info, frame, why) in broken {
            let e = check_receive(&state, &info, &frame, frame.len()).expect_err(why);
            assert!(e.contains(why), "{why}: {e}");
        }
        let mut inactive = activated();
        inactive.encapsulation = Some(((false, true), [0; 28]));
        let e = check_receive(&inactive, &ok(verified, 0), &tcp, tcp.len()).expect_err("IPv4 not activated");
        assert!(e.contains("before OID_OFFLOAD_ENCAPSULATION"));
        let mut off = activated();
        if let Some(c) = off.current.as_mut() {
            c.Checksum.IPv4Receive.Bits = 0;
            c.Rsc.IPv4.Enabled = 0;
        }
        assert!(
            check_receive(&off, &ok(verified, 0), &tcp, tcp.len())
                .expect_err("rx off")
                .contains("has off")
        );
        assert!(
            check_receive(&off, &ok(verified, 4), &tcp, tcp.len())
                .expect_err("rsc off")
                .contains("RSC is off")
        );
    }

    #[test]
    fn ndis_updates_the_keywords_an_offload_parameters_set_names() {
        let mut p = vec![0u8; 26];
        p[..4].copy_from_slice(&[NDIS_OBJECT_TYPE_DEFAULT, 3, 26, 0]);
        p[5] = NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED;
        p[12] = NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED;
        p[23] = NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED;
        let mut config = Config::new().with("*TCPChecksumOffloadIPv4", "3");
        update_keywords(&mut config, &p);
        let get = |c: &Config, k| c.get(k).cloned();
        assert_eq!(get(&config, "*TCPChecksumOffloadIPv4"), Some("2".into()));
        assert_eq!(get(&config, "*LsoV2IPv6"), Some("0".into()));
        assert_eq!(get(&config, "*RscIPv6"), Some("1".into()));
        assert_eq!(
            get(&config, "*UDPChecksumOffloadIPv4"),
            None,
            "NO_CHANGE leaves a keyword alone"
        );
        let mut skipped = Config::new();
        p[16] = NDIS_OFFLOAD_PARAMETERS_SKIP_REGISTRY_UPDATE as u8;
        update_keywords(&mut skipped, &p);
        assert_eq!(skipped, Config::new());
    }
}
