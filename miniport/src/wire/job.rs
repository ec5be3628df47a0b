//! What one sent frame asks of the wire, decided once per frame before it is copied: a plain
//! copy, checksums to fill in or vouch for, or a large send to segment or coalesce; or why it is
//! refused, with the status its NBL completes with. And the checksum work a receiver's copy of a
//! checksum job gets.
#![forbid(unsafe_code)]

use ndis::{
    CHECKSUM_RX_IP_SUCCEEDED, CHECKSUM_RX_TCP_SUCCEEDED, CHECKSUM_RX_UDP_SUCCEEDED, CHECKSUM_TX_IP_HEADER,
    CHECKSUM_TX_IS_IPV4, CHECKSUM_TX_IS_IPV6, CHECKSUM_TX_TCP, CHECKSUM_TX_UDP, NDIS_STATUS,
};

use super::packet::{self, Headers, LargeSend, LsoError, Version};
use crate::adapter::Adapter;
use crate::nbl::LargeSendRequest;
use crate::offload::{Active, MAX_OFFLOAD_SIZE};

/// What a sent frame asks of the wire beyond a copy, decided once per frame.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    /// Copy it as it is.
    Plain,
    /// Fill in or vouch for the checksums `request` names (`CHECKSUM_TX_*`).
    Checksum { request: u32, headers: Headers },
    /// Segment or coalesce it.
    Large(LargeSend),
}

/// Why a frame is not delivered.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refused {
    /// A malformed request: counted as an output error, completed with this status.
    Malformed(NDIS_STATUS),
    /// A large send while LSO is off: dropped (an output discard).
    Dropped,
}

/// Checks what a frame of `len` bytes with headers `head` asks of the wire. Statuses are those
/// the `NET_BUFFER_LIST` page lists: `NDIS_STATUS_INVALID_LENGTH` for data "too large for the
/// underlying NIC", `NDIS_STATUS_FAILURE` for any other reason.
pub(super) fn job(
    from: &Adapter,
    active: Active,
    large: LargeSendRequest,
    checksum: u32,
    head: &[u8],
    len: usize,
    single: bool,
) -> Result<Job, Refused> {
    use Refused::{Dropped, Malformed};
    let failure = Malformed(ndis::NDIS_STATUS_FAILURE);
    let too_long = Malformed(ndis::NDIS_STATUS_INVALID_LENGTH);
    match large {
        // rvnic offers no LSOv1: a protocol never sends it one.
        LargeSendRequest::V1 => Err(Dropped),
        LargeSendRequest::V2 { mss, tcp_offset } => {
            if !single {
                return Err(failure);
            }
            let send = LargeSend::check(head, len, mss, tcp_offset, MAX_OFFLOAD_SIZE as usize).map_err(
                |e| match e {
                    LsoError::TooLong => too_long,
                    LsoError::Mss | LsoError::Headers(_) => failure,
                },
            )?;
            let on = match send.headers.version {
                Version::V4 => active.lso4,
                Version::V6 => active.lso6,
            };
            if !on {
                return Err(Dropped);
            }
            // Every segment must be a frame this adapter may send.
            if send.header_len + send.mss > from.max_frame() {
                return Err(too_long);
            }
            Ok(Job::Large(send))
        }
        LargeSendRequest::None => {
            if len > from.max_frame() {
                return Err(too_long);
            }
            if checksum & (CHECKSUM_TX_TCP | CHECKSUM_TX_UDP | CHECKSUM_TX_IP_HEADER) == 0 {
                return Ok(Job::Plain);
            }
            let headers = packet::parse(head).map_err(|_| failure)?;
            // The family the sender names is the one the frame has; an IP header checksum is IPv4's.
            let family = match headers.version {
                Version::V4 => CHECKSUM_TX_IS_IPV6,
                Version::V6 => CHECKSUM_TX_IS_IPV4 | CHECKSUM_TX_IP_HEADER,
            };
            let consistent = checksum & family == 0
                && (checksum & CHECKSUM_TX_TCP == 0 || headers.protocol == packet::PROTOCOL_TCP)
                && (checksum & CHECKSUM_TX_UDP == 0 || headers.protocol == packet::PROTOCOL_UDP)
                && headers.end <= len
                && headers.l4 < headers.end;
            if !consistent {
                return Err(failure);
            }
            Ok(Job::Checksum {
                request: checksum,
                headers,
            })
        }
    }
}

/// Fills in or vouches for the checksums a sender asked for, in a receiver's copy of the frame:
/// what the receiver's receive checksum offload covers is marked as verified and not computed,
/// the rest is computed. Returns the `CHECKSUM_RX_*` bits to indicate.
pub(super) fn checksums(frame: &mut [u8], request: u32, headers: &Headers, active: Active) -> u32 {
    let v4 = headers.version == Version::V4;
    let mut flags = 0;
    if request & CHECKSUM_TX_IP_HEADER != 0 && v4 {
        if active.rx_ip4 {
            flags |= CHECKSUM_RX_IP_SUCCEEDED;
        } else {
            // The headers were checked when the job was made: this cannot fail.
            let _ = packet::fill_ipv4_checksum(frame, headers.l3);
        }
    }
    let (rx, succeeded) = match headers.protocol {
        packet::PROTOCOL_TCP if request & CHECKSUM_TX_TCP != 0 => (
            if v4 { active.rx_tcp4 } else { active.rx_tcp6 },
            CHECKSUM_RX_TCP_SUCCEEDED,
        ),
        packet::PROTOCOL_UDP if request & CHECKSUM_TX_UDP != 0 => (
            if v4 { active.rx_udp4 } else { active.rx_udp6 },
            CHECKSUM_RX_UDP_SUCCEEDED,
        ),
        _ => return flags,
    };
    if rx {
        flags |= succeeded;
    } else {
        let _ = packet::fill_transport_checksum(frame, headers);
    }
    flags
}
