//! The `virtio_net_hdr` that a TAP device opened with `IFF_VNET_HDR` puts before every frame
//! (`linux/virtio_net.h`, the virtio 1.x specification 5.1.6), and its translation to and from the
//! NDIS offload information of an NBL.
//!
//! From the stack (a TAP read): a GSO frame (`gso_type` TCPV4/TCPV6) becomes an `LSOv2` send with
//! the header's `gso_size` as MSS and `csum_start` as the TCP header offset; a frame whose checksum
//! the stack left to the device (`NEEDS_CSUM`) becomes a checksum-offload send. To the stack (a TAP
//! write): a coalesced segment becomes a GSO frame with `NEEDS_CSUM` (its TCP checksum field
//! holding the pseudo-header sum, as Linux expects of a partial checksum), and so does a segment
//! whose checksum the driver vouched for (a TAP device ignores `DATA_VALID` from its writer: a
//! partial checksum is how a writer says "not to be verified"). UDP segmentation (`gso_type` UDP, `UDP_L4`) has
//! no NDIS counterpart and is refused; the TAP devices are opened without it.

#![allow(
    clippy::cast_possible_truncation,
    reason = "virtio-net header fields are u16 lengths and offsets within one frame of at most 64 KiB"
)]
#![forbid(unsafe_code)]

use rvnic::wire::packet::{self, PROTOCOL_TCP, Sum, Version};

/// Bytes of the header (without `num_buffers`: the TAP devices keep the default header size).
pub const LEN: usize = 10;
/// The most bytes of a frame's start [`to_stack`] needs: its Ethernet, IP and TCP headers.
pub const HEAD: usize = 256;

/// `flags`.
pub const NEEDS_CSUM: u8 = 1;
/// `flags`: the checksums are known good.
pub const DATA_VALID: u8 = 2;
/// `gso_type`.
pub const GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4.
pub const GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP fragmentation offload.
pub const GSO_UDP: u8 = 3;
/// `gso_type`: TCP over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation.
pub const GSO_UDP_L4: u8 = 5;
/// `gso_type`: the TCP segments carry ECN (CWR).
pub const GSO_ECN: u8 = 0x80;

/// The header's fields (little-endian on the wire: the TAP devices are little-endian here, x86 and
/// arm64, which is what a legacy virtio header uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`.
    pub gso_type: u8,
    /// Bytes of headers before the payload (a hint).
    pub hdr_len: u16,
    /// The segment size (the MSS).
    pub gso_size: u16,
    /// Where checksumming starts.
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl Header {
    /// The header at the start of `bytes`, if there are enough.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..LEN)?;
        let word = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: b[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        })
    }

    #[must_use]
    /// The header as it precedes a frame on the device.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }
}

/// What a frame from the stack asks of the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// Nothing: send it as it is.
    Plain,
    /// Checksum offload: the `Transmit` bits of `TcpIpChecksumNetBufferListInfo`.
    Checksum(u32),
    /// `LSOv2`: the MSS and TCP header offset.
    Large {
        /// The MSS.
        mss: u32,
        /// Where the TCP header starts in the frame.
        tcp_offset: u32,
        /// Whether the frame is IPv6 (else IPv4).
        ipv6: bool,
    },
}

/// Why a frame from the stack cannot be sent with its header's offloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// UDP segmentation, or ECN-marked TCP segmentation: NDIS has no such large send.
    Segmentation(u8),
    /// A checksum request for something other than TCP or UDP over IPv4 or IPv6.
    Checksum,
}

/// The offload a frame from the stack asks for, from its header.
///
/// # Errors
/// [`Refused`]: what the header asks that NDIS cannot carry, or a frame that contradicts it.
pub fn from_stack(header: &Header, frame: &[u8]) -> Result<Offload, Refused> {
    match header.gso_type {
        GSO_NONE => {}
        GSO_TCPV4 | GSO_TCPV6 => {
            return Ok(Offload::Large {
                mss: u32::from(header.gso_size),
                tcp_offset: u32::from(header.csum_start),
                ipv6: header.gso_type == GSO_TCPV6,
            });
        }
        other => return Err(Refused::Segmentation(other)),
    }
    if header.flags & NEEDS_CSUM == 0 {
        return Ok(Offload::Plain);
    }
    let headers = packet::parse(frame).map_err(|_| Refused::Checksum)?;
    if usize::from(header.csum_start) != headers.l4 {
        return Err(Refused::Checksum);
    }
    let family = match headers.version {
        Version::V4 => ndis::CHECKSUM_TX_IS_IPV4,
        Version::V6 => ndis::CHECKSUM_TX_IS_IPV6,
    };
    let transport = match (headers.protocol, header.csum_offset) {
        (PROTOCOL_TCP, 16) => ndis::CHECKSUM_TX_TCP,
        (packet::PROTOCOL_UDP, 6) => ndis::CHECKSUM_TX_UDP,
        _ => return Err(Refused::Checksum),
    };
    let offset = (u32::from(header.csum_start) & ndis::CHECKSUM_TX_TCP_HEADER_OFFSET_MASK)
        << ndis::CHECKSUM_TX_TCP_HEADER_OFFSET_SHIFT;
    Ok(Offload::Checksum(family | transport | offset))
}

/// The header for a frame the adapter indicated with the receive offload values `checksum`
/// (`CHECKSUM_RX_*`) and `coalesced` segments, to write to a TAP device whose MTU is `mtu`; `head`
/// is the frame's start (its headers, up to [`HEAD`] bytes) and `len` the whole frame's length. May
/// complete the headers in `head` as Linux needs them: a coalesced segment's TCP checksum field gets the
/// pseudo-header sum (its value is "invalid" by RSC's rules), and an IPv4 header checksum that
/// was vouched for without being computed is computed (Linux verifies every IPv4 header).
pub fn to_stack(checksum: u32, coalesced: u16, frame: &mut [u8], len: usize, mtu: usize) -> Header {
    let vouched = ndis::CHECKSUM_RX_TCP_SUCCEEDED | ndis::CHECKSUM_RX_UDP_SUCCEEDED;
    if checksum & (vouched | ndis::CHECKSUM_RX_IP_SUCCEEDED) == 0 {
        return Header::default();
    }
    let Ok(headers) = packet::parse(frame) else {
        return Header::default();
    };
    if checksum & ndis::CHECKSUM_RX_IP_SUCCEEDED != 0 && headers.version == Version::V4 {
        let _ = packet::fill_ipv4_checksum(frame, headers.l3);
    }
    if coalesced > 0 && headers.protocol == PROTOCOL_TCP {
        let Some(tcp_len) = len.checked_sub(headers.l4) else {
            return Header::default();
        };
        let data_offset = frame.get(headers.l4 + 12).map_or(0, |b| usize::from(b >> 4) * 4);
        let hdr_len = headers.l4 + data_offset;
        // Linux's MSS for this link: the MTU less the IP and TCP headers, options included.
        let mss = mtu.saturating_sub(headers.l4 - headers.l3 + data_offset);
        let mut sum: Sum = headers.pseudo;
        sum.add_u32(tcp_len as u32);
        if let Some(field) = frame.get_mut(headers.l4 + 16..headers.l4 + 18) {
            field.copy_from_slice(&sum.fold().to_be_bytes());
        }
        let gso = data_offset >= 20 && mss > 0 && len > hdr_len + mss;
        return Header {
            flags: NEEDS_CSUM,
            gso_type: match (gso, headers.version) {
                (false, _) => GSO_NONE,
                (true, Version::V4) => GSO_TCPV4,
                (true, Version::V6) => GSO_TCPV6,
            },
            hdr_len: hdr_len as u16,
            gso_size: if gso { mss as u16 } else { 0 },
            csum_start: headers.l4 as u16,
            csum_offset: 16,
        };
    }
    let field = match headers.protocol {
        PROTOCOL_TCP if checksum & ndis::CHECKSUM_RX_TCP_SUCCEEDED != 0 => 16,
        packet::PROTOCOL_UDP if checksum & ndis::CHECKSUM_RX_UDP_SUCCEEDED != 0 => 6,
        _ => return Header::default(),
    };
    // A TAP device takes no DATA_VALID from a writer (only the virtio-net driver honours it):
    // a checksum the driver vouched for goes up as a partial one, which Linux accepts without
    // verifying, with the pseudo-header sum in its field as a partial checksum must have.
    let Some(segment) = headers.end.min(len).checked_sub(headers.l4) else {
        return Header::default();
    };
    let mut sum: Sum = headers.pseudo;
    sum.add_u32(segment as u32);
    let Some(slot) = frame.get_mut(headers.l4 + field..headers.l4 + field + 2) else {
        return Header::default();
    };
    slot.copy_from_slice(&sum.fold().to_be_bytes());
    Header {
        flags: NEEDS_CSUM,
        csum_start: headers.l4 as u16,
        csum_offset: field as u16,
        ..Header::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp4(payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 54 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[46] = 0x50;
        f
    }

    #[test]
    fn headers_round_trip() {
        let h = Header {
            flags: NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        assert_eq!(Header::parse(&h.to_bytes()), Some(h));
        assert_eq!(Header::parse(&[0; 9]), None);
    }

    #[test]
    fn the_stack_s_requests_become_ndis_offloads() {
        let f = tcp4(3000);
        let gso = Header {
            flags: NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
            ..Header::default()
        };
        assert_eq!(
            from_stack(&gso, &f),
            Ok(Offload::Large {
                mss: 1448,
                tcp_offset: 34,
                ipv6: false
            })
        );
        let csum = Header {
            gso_type: GSO_NONE,
            ..gso
        };
        let Ok(Offload::Checksum(bits)) = from_stack(&csum, &f) else {
            panic!("checksum")
        };
        assert_eq!(
            bits,
            ndis::CHECKSUM_TX_IS_IPV4
                | ndis::CHECKSUM_TX_TCP
                | (34 << ndis::CHECKSUM_TX_TCP_HEADER_OFFSET_SHIFT)
        );
        assert_eq!(from_stack(&Header::default(), &f), Ok(Offload::Plain));
        let uso = Header {
            gso_type: GSO_UDP_L4,
            ..gso
        };
        assert_eq!(from_stack(&uso, &f), Err(Refused::Segmentation(GSO_UDP_L4)));
        let wrong = Header {
            csum_offset: 6,
            ..csum
        };
        assert_eq!(from_stack(&wrong, &f), Err(Refused::Checksum));
    }

    #[test]
    fn indications_become_what_linux_expects() {
        let mut f = tcp4(2896);
        let c = ndis::CHECKSUM_RX_TCP_SUCCEEDED
            | ndis::CHECKSUM_RX_IP_SUCCEEDED
            | ndis::CHECKSUM_RX_TCP_VALUE_INVALID;
        let len = f.len();
        let h = to_stack(c, 2, &mut f, len, 1500);
        assert_eq!(
            (h.flags, h.gso_type, h.gso_size, h.csum_start, h.csum_offset),
            (NEEDS_CSUM, GSO_TCPV4, 1460, 34, 16)
        );
        // The TCP checksum field holds the pseudo-header sum: completing it over the segment with
        // the field as it is gives a valid checksum (what the device would have done).
        let mut sum = Sum::new();
        sum.add(&f[34..]);
        let complete = !sum.fold();
        let mut check = f.clone();
        check[50..52].copy_from_slice(&complete.to_be_bytes());
        let headers = packet::parse(&check).expect("ip");
        assert!(packet::transport_checksum_ok(&check, &headers));
        // One MTU's worth is not GSO.
        let mut small = tcp4(1000);
        let len = small.len();
        assert_eq!(to_stack(c, 2, &mut small, len, 1500).gso_type, GSO_NONE);
        let mut seg = tcp4(100);
        let len = seg.len();
        let h = to_stack(
            ndis::CHECKSUM_RX_TCP_SUCCEEDED | ndis::CHECKSUM_RX_IP_SUCCEEDED,
            0,
            &mut seg,
            len,
            1500,
        );
        assert_eq!(
            (h.flags, h.gso_type, h.csum_start, h.csum_offset),
            (NEEDS_CSUM, GSO_NONE, 34, 16)
        );
        let mut sum = Sum::new();
        sum.add(&seg[34..]);
        let mut check = seg.clone();
        check[50..52].copy_from_slice(&(!sum.fold()).to_be_bytes());
        assert!(packet::transport_checksum_ok(
            &check,
            &packet::parse(&check).expect("ip")
        ));
        let mut sum = Sum::new();
        sum.add(&seg[14..34]);
        assert_eq!(
            sum.fold(),
            0xffff,
            "the vouched-for IPv4 header checksum was computed"
        );
        assert_eq!(to_stack(0, 0, &mut seg, len, 1500), Header::default());
    }
}
