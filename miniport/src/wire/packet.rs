//! IPv4, IPv6, TCP and UDP headers as the offloads need them: where they are, the one's complement
//! sums of RFC 1071, and the arithmetic of cutting a large TCP send into segments (`LSOv2`) or into
//! coalesced units (RSC).
//!
//! Everything here works on byte slices the wire owns (a copy of a send's headers, or a receive
//! buffer) and checks every length before it reads: a malformed frame is an [`Malformed`] value,
//! never a panic. The rules come from "Offloading the Segmentation of Large TCP Packets" (`LSOv2`),
//! "Rules for Coalescing TCP/IP Segments", "Exception Conditions that Terminate Coalescing" and
//! "Updating the IP Headers for Coalesced Segments" (RSC), in the NDIS documentation.
#![forbid(unsafe_code)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "header fields are written from lengths `LargeSend::check` bounded: a unit is at most \
              MAX_DATAGRAM bytes and its headers at most MAX_HEADER"
)]

/// `EtherType` of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// `EtherType` of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// `EtherType` of an 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IP protocol number of TCP.
pub const PROTOCOL_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;

/// TCP FIN (the flag bits are byte 13 of the header).
pub const TCP_FIN: u8 = 0x01;
/// TCP SYN.
pub const TCP_SYN: u8 = 0x02;
/// TCP RST.
pub const TCP_RST: u8 = 0x04;
/// TCP PSH.
pub const TCP_PSH: u8 = 0x08;
/// TCP ACK.
pub const TCP_ACK: u8 = 0x10;
/// TCP URG.
pub const TCP_URG: u8 = 0x20;

/// The largest IP datagram (RFC 791 3.1), and the largest IPv6 payload.
pub const MAX_DATAGRAM: usize = 65_535;

/// IPv6 extension headers rvnic follows (RFC 8200 4.1).
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION_OPTIONS: u8 = 60;

/// Why bytes are not the frame an offload request says they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The headers run past the bytes there are.
    Truncated,
    /// Neither IPv4 nor IPv6 (after at most one 802.1Q tag).
    NotIp,
    /// An IP header whose version or length field is impossible.
    IpHeader,
    /// A fragment: checksums and segmentation need the whole datagram.
    Fragment,
    /// An IPv6 extension header rvnic does not follow (ESP, AH, an unknown one, or a routing
    /// header other than type 2 with segments left).
    Extension,
    /// Not the transport protocol the request names (a large send must be TCP).
    Transport,
    /// A TCP data offset under five words.
    TcpHeader,
    /// The header offset the sender gave is not where the TCP header is.
    Offset,
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Where a frame's IP and transport headers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    /// The IP version.
    pub version: Version,
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the transport header.
    pub l4: usize,
    /// The transport protocol (the last next-header of an IPv6 chain).
    pub protocol: u8,
    /// Where the datagram ends by its own length field (IPv4 total length, IPv6 payload length).
    /// A large send's template may leave it zero (`LSOv2` takes the length from the `NET_BUFFER`).
    pub end: usize,
    /// IPv4 options or IPv6 extension headers are present.
    pub options: bool,
    /// The one's complement sum of the pseudo-header's addresses and protocol (RFC 793, RFC 8200
    /// 8.1: the final destination of a routing header), without the transport length.
    pub pseudo: Sum,
}

fn be16(bytes: &[u8], at: usize) -> Result<u16, Malformed> {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Malformed::Truncated),
    }
}

fn byte(bytes: &[u8], at: usize) -> Result<u8, Malformed> {
    bytes.get(at).copied().ok_or(Malformed::Truncated)
}

fn range(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], Malformed> {
    bytes.get(at..at + len).ok_or(Malformed::Truncated)
}

/// Finds the IP and transport headers of an Ethernet frame (at most one 802.1Q tag).
///
/// # Errors
/// Where the frame stops being a frame this parser reads.
pub fn parse(frame: &[u8]) -> Result<Headers, Malformed> {
    let mut l3 = 14;
    let mut ethertype = be16(frame, 12)?;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame, 16)?;
        l3 = 18;
    }
    match ethertype {
        ETHERTYPE_IPV4 => parse_v4(frame, l3),
        ETHERTYPE_IPV6 => parse_v6(frame, l3),
        _ => Err(Malformed::NotIp),
    }
}

fn parse_v4(frame: &[u8], l3: usize) -> Result<Headers, Malformed> {
    let first = byte(frame, l3)?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return Err(Malformed::IpHeader);
    }
    range(frame, l3, ihl)?;
    let fragment = be16(frame, l3 + 6)?;
    // More Fragments, or a non-zero fragment offset.
    if fragment & 0x3fff != 0 {
        return Err(Malformed::Fragment);
    }
    let total = usize::from(be16(frame, l3 + 2)?);
    let protocol = byte(frame, l3 + 9)?;
    let mut pseudo = Sum::new();
    pseudo.add(range(frame, l3 + 12, 8)?);
    pseudo.add_u16(u16::from(protocol));
    Ok(Headers {
        version: Version::V4,
        l3,
        l4: l3 + ihl,
        protocol,
        end: l3 + total,
        options: ihl > 20,
        pseudo,
    })
}

fn parse_v6(frame: &[u8], l3: usize) -> Result<Headers, Malformed> {
    if byte(frame, l3)? >> 4 != 6 {
        return Err(Malformed::IpHeader);
    }
    let payload = usize::from(be16(frame, l3 + 4)?);
    let mut next = byte(frame, l3 + 6)?;
    let mut at = l3 + 40;
    range(frame, l3, 40)?;
    let source = range(frame, l3 + 8, 16)?;
    let mut destination = range(frame, l3 + 24, 16)?;
    // Each extension header is at least 8 bytes, so the walk ends within the frame's length.
    while matches!(next, HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS | FRAGMENT) {
        if next == FRAGMENT {
            return Err(Malformed::Fragment);
        }
        let len = (usize::from(byte(frame, at + 1)?) + 1) * 8;
        let header = range(frame, at, len)?;
        if next == ROUTING && header[3] != 0 {
            // Segments left: the pseudo-header names the final destination. Type 2 (Mobile IPv6,
            // RFC 6275 6.4) carries exactly one address; other types are refused.
            if header[2] != 2 || len != 24 {
                return Err(Malformed::Extension);
            }
            destination = &header[8..24];
        }
        next = header[0];
        at += len;
    }
    let mut pseudo = Sum::new();
    pseudo.add(source);
    pseudo.add(destination);
    pseudo.add_u16(u16::from(next));
    Ok(Headers {
        version: Version::V6,
        l3,
        l4: at,
        protocol: next,
        end: l3 + 40 + payload,
        options: at > l3 + 40,
        pseudo,
    })
}

/// A one's complement sum (RFC 1071) of 16-bit big-endian words, fed in pieces of any length: a
/// piece that ends on an odd byte leaves the next piece's first byte as the low half of a word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum {
    acc: u64,
    odd: bool,
}

impl Sum {
    #[must_use]
    /// An empty sum.
    pub const fn new() -> Self {
        Self { acc: 0, odd: false }
    }

    /// Adds the next `bytes` of the summed stream.
    pub fn add(&mut self, mut bytes: &[u8]) {
        if self.odd
            && let Some((low, rest)) = bytes.split_first()
        {
            self.acc += u64::from(*low);
            self.odd = false;
            bytes = rest;
        }
        // Two 32-bit halves of each 64-bit word: a 64-bit accumulator takes 2^31 such words before
        // it could carry out, far more than any frame has (2^16 = 1 mod 0xffff, so the halves can
        // be added as they are and folded at the end).
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            let w = u64::from_be_bytes(*word);
            self.acc += (w >> 32) + (w & 0xffff_ffff);
        }
        let (pairs, last) = rest.as_chunks::<2>();
        for pair in pairs {
            self.acc += u64::from(u16::from_be_bytes(*pair));
        }
        if let Some(high) = last.first() {
            self.acc += u64::from(*high) << 8;
            self.odd = true;
        }
    }

    /// Adds one word (at an even position of the stream).
    pub fn add_u16(&mut self, word: u16) {
        self.acc += u64::from(word);
    }

    /// Adds a 32-bit length as two words (the pseudo-header's TCP length is 16 bits for IPv4 and
    /// 32 for IPv6; both sum the same way).
    pub fn add_u32(&mut self, value: u32) {
        self.acc += u64::from(value >> 16) + u64::from(value & 0xffff);
    }

    /// Adds another sum of the bytes that follow (which started at an even position).
    pub fn add_sum(&mut self, other: Sum) {
        self.acc += other.acc;
        self.odd = other.odd;
    }

    /// The sum folded to 16 bits.
    #[must_use]
    pub fn fold(self) -> u16 {
        let mut acc = self.acc;
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    /// The checksum to store: the complement of the folded sum.
    #[must_use]
    pub fn checksum(self) -> u16 {
        !self.fold()
    }
}

/// Writes the IPv4 header checksum of the header at `l3` (the field is zeroed first).
///
/// # Errors
/// [`Malformed`] if the header is not inside `frame`.
pub fn fill_ipv4_checksum(frame: &mut [u8], l3: usize) -> Result<(), Malformed> {
    let ihl = usize::from(byte(frame, l3)? & 0x0f) * 4;
    let header = frame.get_mut(l3..l3 + ihl).ok_or(Malformed::Truncated)?;
    header[10..12].fill(0);
    let mut sum = Sum::new();
    sum.add(header);
    header[10..12].copy_from_slice(&sum.checksum().to_be_bytes());
    Ok(())
}

/// The offset of the checksum field in a transport header.
#[must_use]
pub const fn checksum_field(protocol: u8) -> usize {
    if protocol == PROTOCOL_UDP { 6 } else { 16 }
}

/// Computes and writes the TCP or UDP checksum of the datagram described by `headers`, whose
/// transport segment is `frame[headers.l4..headers.end]` (its own length fields).
///
/// # Errors
/// [`Malformed`] if the transport header is not inside `frame`.
pub fn fill_transport_checksum(frame: &mut [u8], headers: &Headers) -> Result<(), Malformed> {
    let field = checksum_field(headers.protocol);
    if !matches!(headers.protocol, PROTOCOL_TCP | PROTOCOL_UDP) {
        return Err(Malformed::Transport);
    }
    let segment = frame
        .get_mut(headers.l4..headers.end)
        .ok_or(Malformed::Truncated)?;
    let minimum = if headers.protocol == PROTOCOL_UDP { 8 } else { 20 };
    if segment.len() < minimum {
        return Err(Malformed::Truncated);
    }
    segment[field..field + 2].fill(0);
    let mut sum = headers.pseudo;
    sum.add_u32(segment.len() as u32);
    sum.add(segment);
    let mut checksum = sum.checksum();
    // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none").
    if checksum == 0 && headers.protocol == PROTOCOL_UDP {
        checksum = 0xffff;
    }
    segment[field..field + 2].copy_from_slice(&checksum.to_be_bytes());
    Ok(())
}

/// Whether the TCP or UDP checksum of a datagram is right (receive-side verification, and tests).
#[must_use]
pub fn transport_checksum_ok(frame: &[u8], headers: &Headers) -> bool {
    let Some(segment) = frame.get(headers.l4..headers.end) else {
        return false;
    };
    let mut sum = headers.pseudo;
    sum.add_u32(segment.len() as u32);
    sum.add(segment);
    sum.fold() == 0xffff
}

/// Why a large send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LsoError {
    /// An MSS of zero.
    Mss,
    /// The headers are not what a large send must be (`Malformed::Transport`: not TCP).
    Headers(Malformed),
    /// More TCP payload than the advertised `MaxOffLoadSize`, or headers longer than rvnic keeps.
    TooLong,
}

/// A checked large send: the TCP header template and the arithmetic of its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargeSend {
    /// Where its headers are.
    pub headers: Headers,
    /// Bytes before the TCP payload (Ethernet, IP and TCP headers with their options).
    pub header_len: usize,
    /// Bytes of TCP payload.
    pub payload: usize,
    /// The largest TCP payload of one segment.
    pub mss: usize,
    /// The TCP sequence number of the first segment.
    pub sequence: u32,
    /// The TCP flags of the template.
    pub flags: u8,
    /// The IPv4 identification of the first segment.
    pub ip_id: u16,
    /// RSC may coalesce its segments: no IP options or extension headers, no TCP option but a
    /// timestamp, no flag but ACK, PSH and FIN, no ECN marks ("Exception Conditions that
    /// Terminate Coalescing").
    pub coalescible: bool,
}

/// Headers longer than this are refused (`NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH` is 128;
/// rvnic keeps twice that).
pub const MAX_HEADER: usize = 256;

/// One piece of a large send as the wire delivers it: `count` segments starting with segment
/// `first`, `len` payload bytes from payload offset `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// The first segment's index.
    pub first: usize,
    /// Segments in the unit.
    pub count: usize,
    /// Where the unit's payload starts in the send's payload.
    pub offset: usize,
    /// Payload bytes of the unit.
    pub len: usize,
    /// The unit that carries the last segment (FIN and PSH go on it).
    pub last: bool,
}

impl LargeSend {
    /// Checks a large send whose first `headers.len()` bytes (up to [`MAX_HEADER`]) are given, of
    /// `frame_len` bytes in all, with the sender's `mss` and `tcp_offset`, allowing `max_payload`
    /// bytes of TCP payload.
    ///
    /// # Errors
    /// [`LsoError`]: what the request gets wrong.
    pub fn check(
        headers: &[u8],
        frame_len: usize,
        mss: u32,
        tcp_offset: u32,
        max_payload: usize,
    ) -> Result<Self, LsoError> {
        if mss == 0 {
            return Err(LsoError::Mss);
        }
        let h = parse(headers).map_err(LsoError::Headers)?;
        if h.protocol != PROTOCOL_TCP {
            return Err(LsoError::Headers(Malformed::Transport));
        }
        if h.l4 != tcp_offset as usize {
            return Err(LsoError::Headers(Malformed::Offset));
        }
        let data_offset =
            usize::from(byte(headers, h.l4 + 12).map_err(|_| too_long_or_truncated(frame_len))? >> 4);
        if data_offset < 5 {
            return Err(LsoError::Headers(Malformed::TcpHeader));
        }
        let header_len = h.l4 + data_offset * 4;
        if header_len > frame_len {
            return Err(LsoError::Headers(Malformed::Truncated));
        }
        if header_len > headers.len() {
            return Err(too_long_or_truncated(frame_len));
        }
        let payload = frame_len - header_len;
        if payload > max_payload {
            return Err(LsoError::TooLong);
        }
        let tcp = &headers[h.l4..header_len];
        let flags = tcp[13];
        let sequence = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        let (ip_id, ecn) = match h.version {
            Version::V4 => (
                u16::from_be_bytes([headers[h.l3 + 4], headers[h.l3 + 5]]),
                headers[h.l3 + 1] & 0x03,
            ),
            Version::V6 => (
                0,
                (u16::from_be_bytes([headers[h.l3], headers[h.l3 + 1]]) >> 4) as u8 & 0x03,
            ),
        };
        let coalescible = !h.options
            && flags & !(TCP_ACK | TCP_PSH | TCP_FIN) == 0
            && flags & TCP_ACK != 0
            && ecn == 0
            && only_timestamp(&tcp[20..]);
        Ok(Self {
            headers: h,
            header_len,
            payload,
            mss: mss as usize,
            sequence,
            flags,
            ip_id,
            coalescible,
        })
    }

    /// How many segments an `LSOv2` NIC makes of it (one for an empty payload).
    #[must_use]
    pub fn segments(&self) -> usize {
        self.payload.div_ceil(self.mss).max(1)
    }

    /// Bytes on the wire of all its segments.
    #[must_use]
    pub fn wire_bytes(&self) -> usize {
        self.payload + self.segments() * self.header_len
    }

    /// The most segments one coalesced unit may hold: its IP datagram within [`MAX_DATAGRAM`]
    /// (IPv6: its payload), and its frame within `max_frame` bytes.
    #[must_use]
    pub fn segments_per_unit(&self, max_frame: usize) -> usize {
        let ip_overhead = match self.headers.version {
            Version::V4 => self.header_len - self.headers.l3,
            Version::V6 => self.header_len - self.headers.l3 - 40,
        };
        let by_ip = MAX_DATAGRAM.saturating_sub(ip_overhead) / self.mss;
        let by_frame = max_frame.saturating_sub(self.header_len) / self.mss;
        by_ip.min(by_frame).max(1)
    }

    /// The units it is delivered in: single segments (`per_unit` 1, as an `LSOv2` NIC sends them),
    /// or up to `per_unit` segments coalesced. A FIN segment is always a unit of its own (RSC
    /// indicates it separately).
    #[must_use]
    pub fn units(&self, per_unit: usize) -> Units {
        Units {
            send: *self,
            per_unit: per_unit.max(1),
            next: 0,
        }
    }

    /// Writes the headers of `unit` into `out` (at least [`Self::header_len`] bytes) from the
    /// sender's `template`: lengths, IPv4 identification (0..=0x7FFF, counting from the
    /// template's), sequence number, FIN and PSH only on the last unit, the IPv4 header checksum,
    /// and a zero TCP checksum.
    pub fn write_headers(&self, template: &[u8], unit: &Unit, out: &mut [u8]) {
        let (h, n) = (&self.headers, self.header_len);
        let (Some(template), Some(out)) = (template.get(..n), out.get_mut(..n)) else {
            return;
        };
        out.copy_from_slice(template);
        let tcp_len = n - h.l4 + unit.len;
        match h.version {
            Version::V4 => {
                let total = (h.l4 - h.l3 + tcp_len) as u16;
                out[h.l3 + 2..h.l3 + 4].copy_from_slice(&total.to_be_bytes());
                let id = (usize::from(self.ip_id) + unit.first) as u16 & 0x7fff;
                out[h.l3 + 4..h.l3 + 6].copy_from_slice(&id.to_be_bytes());
                let _ = fill_ipv4_checksum(out, h.l3);
            }
            Version::V6 => {
                let payload = (h.l4 - h.l3 - 40 + tcp_len) as u16;
                out[h.l3 + 4..h.l3 + 6].copy_from_slice(&payload.to_be_bytes());
            }
        }
        let tcp = &mut out[h.l4..];
        let sequence = self.sequence.wrapping_add(unit.offset as u32);
        tcp[4..8].copy_from_slice(&sequence.to_be_bytes());
        if !unit.last {
            tcp[13] &= !(TCP_FIN | TCP_PSH);
        }
        tcp[16..18].fill(0);
    }

    /// The start of `unit`'s TCP checksum: the pseudo-header with its TCP length. Add the TCP
    /// header (checksum zero) and the payload, then store [`Sum::checksum`] at [`Self::checksum_at`].
    #[must_use]
    pub fn pseudo_sum(&self, unit: &Unit) -> Sum {
        let mut sum = self.headers.pseudo;
        sum.add_u32((self.header_len - self.headers.l4 + unit.len) as u32);
        sum
    }

    /// Offset of the TCP checksum field.
    #[must_use]
    pub fn checksum_at(&self) -> usize {
        self.headers.l4 + 16
    }
}

fn too_long_or_truncated(frame_len: usize) -> LsoError {
    if frame_len > MAX_HEADER {
        LsoError::TooLong
    } else {
        LsoError::Headers(Malformed::Truncated)
    }
}

/// Whether TCP options hold nothing but a timestamp (with NOP and EOL padding).
fn only_timestamp(mut options: &[u8]) -> bool {
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => return true,
            1 => options = rest,
            8 => match rest.first() {
                Some(&10) if options.len() >= 10 => options = &options[10..],
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

/// The units of a large send (see [`LargeSend::units`]).
#[derive(Debug, Clone)]
pub struct Units {
    send: LargeSend,
    per_unit: usize,
    next: usize,
}

impl Iterator for Units {
    type Item = Unit;

    fn next(&mut self) -> Option<Unit> {
        let s = &self.send;
        let total = s.segments();
        if self.next >= total {
            return None;
        }
        let first = self.next;
        let mut count = self.per_unit.min(total - first);
        // With FIN, the last segment goes alone: the unit before it stops one short.
        if s.flags & TCP_FIN != 0 && count > 1 && first + count == total {
            count -= 1;
        }
        self.next += count;
        let offset = first * s.mss;
        let len = (count * s.mss).min(s.payload - offset.min(s.payload));
        Some(Unit {
            first,
            count,
            offset,
            len,
            last: self.next == total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_frame(payload: &[u8], options: &[u8], tcp_options: &[u8]) -> Vec<u8> {
        let ihl = 20 + options.len();
        let thl = 20 + tcp_options.len();
        let mut f = vec![0u8; 14 + ihl + thl];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x40 | (ihl / 4) as u8;
        f[16..18].copy_from_slice(&((ihl + thl + payload.len()) as u16).to_be_bytes());
        f[18..20].copy_from_slice(&0x7ffeu16.to_be_bytes());
        f[22] = 64;
        f[23] = PROTOCOL_TCP;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..34 + options.len()].copy_from_slice(options);
        let t = 14 + ihl;
        f[t..t + 2].copy_from_slice(&1234u16.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&80u16.to_be_bytes());
        f[t + 4..t + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        f[t + 12] = ((thl / 4) as u8) << 4;
        f[t + 13] = TCP_ACK | TCP_PSH | TCP_FIN;
        f[t + 20..t + 20 + tcp_options.len()].copy_from_slice(tcp_options);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn sums_do_not_depend_on_how_the_bytes_are_cut() {
        let bytes: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = Sum::new();
        whole.add(&bytes);
        for cut in [1, 2, 3, 7, 8, 9, 500, 1000] {
            let mut pieces = Sum::new();
            pieces.add(&bytes[..cut]);
            pieces.add(&bytes[cut..]);
            assert_eq!(pieces.fold(), whole.fold(), "cut at {cut}");
        }
        // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2.
        let mut s = Sum::new();
        s.add(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(s.fold(), 0xddf2);
    }

    #[test]
    fn a_large_send_is_checked_before_it_is_cut() {
        let f = v4_frame(&[0; 3000], &[], &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        let len = f.len();
        let ok = LargeSend::check(&f, len, 1000, 34, 65_535).expect("valid");
        assert_eq!((ok.header_len, ok.payload, ok.segments()), (66, 3000, 3));
        assert!(ok.coalescible, "a timestamp option does not stop coalescing");
        assert_eq!(LargeSend::check(&f, len, 0, 34, 65_535), Err(LsoError::Mss));
        assert_eq!(
            LargeSend::check(&f, len, 1000, 38, 65_535),
            Err(LsoError::Headers(Malformed::Offset))
        );
        assert_eq!(LargeSend::check(&f, len, 1000, 34, 2999), Err(LsoError::TooLong));
        let mut udp = f.clone();
        udp[23] = PROTOCOL_UDP;
        assert_eq!(
            LargeSend::check(&udp, len, 1000, 34, 65_535),
            Err(LsoError::Headers(Malformed::Transport))
        );
        assert_eq!(
            LargeSend::check(&f[..40], 40, 1000, 34, 65_535),
            Err(LsoError::Headers(Malformed::Truncated))
        );
        let sack = v4_frame(&[0; 3000], &[], &[4, 2, 1, 1]);
        assert!(
            !LargeSend::check(&sack, sack.len(), 1000, 34, 65_535)
                .expect("valid")
                .coalescible
        );
        let options = v4_frame(&[0; 3000], &[1, 1, 1, 0], &[]);
        assert!(
            !LargeSend::check(&options, options.len(), 1000, 38, 65_535)
                .expect("valid")
                .coalescible
        );
    }

    #[test]
    fn units_follow_the_segment_rules() {
        let f = v4_frame(&[0; 2500], &[], &[]);
        let s = LargeSend::check(&f, f.len(), 1000, 34, 65_535).expect("valid");
        let segments: Vec<Unit> = s.units(1).collect();
        assert_eq!(
            segments
                .iter()
                .map(|u| (u.first, u.offset, u.len, u.last))
                .collect::<Vec<_>>(),
            [(0, 0, 1000, false), (1, 1000, 1000, false), (2, 2000, 500, true)]
        );
        // FIN is set: the last segment is indicated on its own after the coalesced ones.
        let coalesced: Vec<Unit> = s.units(10).collect();
        assert_eq!(
            coalesced
                .iter()
                .map(|u| (u.count, u.len, u.last))
                .collect::<Vec<_>>(),
            [(2, 2000, false), (1, 500, true)]
        );
        let mut out = vec![0u8; s.header_len];
        s.write_headers(&f, &segments[2], &mut out);
        assert_eq!(u16::from_be_bytes([out[18], out[19]]), 0, "0x7ffe + 2 wraps to 0");
        assert_eq!(
            u32::from_be_bytes([out[38], out[39], out[40], out[41]]),
            2000 - 16
        );
        assert_eq!(out[47], TCP_ACK | TCP_PSH | TCP_FIN);
        s.write_headers(&f, &segments[0], &mut out);
        assert_eq!(out[47], TCP_ACK, "FIN and PSH only on the last segment");
        assert_eq!(u16::from_be_bytes([out[16], out[17]]), 1040);
    }

    #[test]
    fn coalesced_units_stay_within_one_datagram() {
        let f = v4_frame(&vec![0; 65_000], &[], &[]);
        let s = LargeSend::check(&f, f.len(), 1460, 34, 65_535).expect("valid");
        let per = s.segments_per_unit(usize::MAX);
        assert_eq!(per, (65_535 - 40) / 1460);
        assert!(s.units(per).all(|u| 40 + u.len <= MAX_DATAGRAM));
        assert_eq!(s.units(per).map(|u| u.len).sum::<usize>(), 65_000);
        assert_eq!(s.segments_per_unit(66 + 3000), 2, "a frame limit of two segments");
    }

    #[test]
    fn ipv6_extension_headers_are_followed_and_fragments_refused() {
        let mut f = vec![0u8; 14 + 40 + 8 + 20];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        f[14] = 0x60;
        f[20] = DESTINATION_OPTIONS;
        f[54] = PROTOCOL_TCP;
        f[55] = 0;
        let h = parse(&f).expect("valid");
        assert_eq!((h.l4, h.protocol, h.options), (62, PROTOCOL_TCP, true));
        f[20] = FRAGMENT;
        assert_eq!(parse(&f), Err(Malformed::Fragment));
        f[20] = 50;
        assert_eq!(parse(&f).map(|h| h.protocol), Ok(50));
        assert_eq!(parse(&f[..30]), Err(Malformed::Truncated));
        f[12] = 0x12;
        assert_eq!(parse(&f), Err(Malformed::NotIp));
    }
}
