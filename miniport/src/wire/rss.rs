//! Receive-side scaling's hash: `NdisHashFunctionToeplitz` over a frame's addresses and ports, as
//! the pages "RSS Hashing Functions" and "RSS Hashing Types" define it, checked against the
//! verification data of "Verifying the RSS Hash Calculation".
//!
//! The parameters and the receive queues that indicate on the processor the indirection table
//! names are in `crate::wire::scaling`.

use super::packet::{self, Version};

/// The longest secret key: 40 bytes (`NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1`).
pub const MAX_KEY: usize = 40;

/// `NdisHashFunctionToeplitz` of `input` under `key`: for every bit of the input that is set (most
/// significant bit of the first byte first), the 32 bits of the key that start at that bit's
/// position are added (XOR) to the result. Key bits past the key's end are zero.
///
/// A byte at a time: a 64-bit register holds the 40 key bits from the byte's position, which
/// contain the eight windows its bits select, each a shift away, and a set bit costs a shift and an
/// XOR; one key byte shifts in per input byte (the hash is computed for every receive with RSS
/// on: this takes half the instructions of a bit-serial window).
#[must_use]
pub fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
    let key_byte = |n: usize| u64::from(key.get(n).copied().unwrap_or(0));
    // Key bytes 0 to 4 in the top 40 bits.
    let mut window = (0..5).fold(0u64, |w, n| w | (key_byte(n) << (56 - 8 * n)));
    let mut hash = 0;
    for (i, &byte) in input.iter().enumerate() {
        // The set bits only, most significant first.
        let mut rest = byte;
        while rest != 0 {
            let bit = rest.leading_zeros();
            // The window of this bit: key bits 8i + bit to 8i + bit + 31.
            hash ^= u32::try_from((window << bit) >> 32).unwrap_or(0);
            rest &= !(0x80 >> bit);
        }
        // Key bits from 8(i + 1): the next key byte joins below the other four.
        window = (window << 8) | (key_byte(i + 5) << 24);
    }
    hash
}

/// Which fields a hash may cover: `NDIS_HASH_IPV4`, `NDIS_HASH_TCP_IPV4`, `NDIS_HASH_IPV6` and
/// `NDIS_HASH_TCP_IPV6` bits, as `HashInformation` carries them (the `_EX` types, which read
/// extension headers, are not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashTypes(pub u32);

impl HashTypes {
    fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// The hash type a frame was hashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    /// Addresses only, IPv4.
    Ipv4,
    /// Addresses and TCP ports, IPv4.
    TcpIpv4,
    /// Addresses only, IPv6.
    Ipv6,
    /// Addresses and TCP ports, IPv6.
    TcpIpv6,
}

/// The hash of `frame` (an Ethernet frame, its 802.1Q tag in its bytes or not) under `key`, with
/// the most specific of `types` that applies: TCP's 4-tuple when the frame is TCP, not a fragment
/// and that type is enabled, else the addresses ("RSS Hashing Types": a NIC that cannot hash a
/// packet's 4-tuple uses the addresses' type if it is enabled). `None` when no enabled type
/// applies, or the frame is not IP: it is then indicated without a hash.
#[must_use]
pub fn hash_frame(key: &[u8], types: HashTypes, frame: &[u8]) -> Option<(u32, HashType)> {
    let (version, addresses) = addresses(frame)?;
    let (address_type, tcp_type, address_enabled, tcp_enabled) = match version {
        Version::V4 => (
            HashType::Ipv4,
            HashType::TcpIpv4,
            types.has(ndis::NDIS_HASH_IPV4),
            types.has(ndis::NDIS_HASH_TCP_IPV4),
        ),
        Version::V6 => (
            HashType::Ipv6,
            HashType::TcpIpv6,
            types.has(ndis::NDIS_HASH_IPV6),
            types.has(ndis::NDIS_HASH_TCP_IPV6),
        ),
    };
    let mut input = [0u8; 36];
    input[..addresses.len()].copy_from_slice(addresses);
    // The transport header, for a whole (unfragmented) TCP packet: `packet::parse` refuses
    // fragments, and walks IPv6 extension headers to the transport.
    let ports = packet::parse(frame)
        .ok()
        .filter(|h| h.protocol == packet::PROTOCOL_TCP)
        .and_then(|h| frame.get(h.l4..h.l4 + 4));
    if tcp_enabled && let Some(ports) = ports {
        let len = addresses.len() + 4;
        input[addresses.len()..len].copy_from_slice(ports);
        return Some((toeplitz(key, &input[..len]), tcp_type));
    }
    address_enabled.then(|| (toeplitz(key, &input[..addresses.len()]), address_type))
}

/// The IP version of `frame` and its source and destination addresses (one slice, source first),
/// if it holds a whole IPv4 or IPv6 header.
fn addresses(frame: &[u8]) -> Option<(Version, &[u8])> {
    let (l3, ethertype) = match frame.get(12..14)? {
        [0x81, 0x00] => (18, frame.get(16..18)?),
        ethertype => (14, ethertype),
    };
    let first = *frame.get(l3)?;
    match (ethertype, first >> 4) {
        ([0x08, 0x00], 4) if first & 0x0f >= 5 => Some((Version::V4, frame.get(l3 + 12..l3 + 20)?)),
        ([0x86, 0xdd], 6) => Some((Version::V6, frame.get(l3 + 8..l3 + 40)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use ndis::{NDIS_HASH_IPV4, NDIS_HASH_IPV6, NDIS_HASH_TCP_IPV4, NDIS_HASH_TCP_IPV6};

    use super::*;

    /// One row of the verification tables: destination and source (address, port), the hash of
    /// the addresses, the hash with the TCP ports.
    type Row<const N: usize> = (([u8; N], u16), ([u8; N], u16), u32, u32);

    /// The secret key of "Verifying the RSS Hash Calculation".
    const KEY: [u8; MAX_KEY] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0,
        0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42,
        0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// The page's IPv4 table: destination, source, "IPv4 only", "IPv4 with TCP".
    const V4: [Row<4>; 5] = [
        (
            ([161, 142, 100, 80], 1766),
            ([66, 9, 149, 187], 2794),
            0x323e_8fc2,
            0x51cc_c178,
        ),
        (
            ([65, 69, 140, 83], 4739),
            ([199, 92, 111, 2], 14230),
            0xd718_262a,
            0xc626_b0ea,
        ),
        (
            ([12, 22, 207, 184], 38024),
            ([24, 19, 198, 95], 12898),
            0xd2d0_a5de,
            0x5c2b_394a,
        ),
        (
            ([209, 142, 163, 6], 2217),
            ([38, 27, 205, 30], 48228),
            0x8298_9176,
            0xafc7_327f,
        ),
        (
            ([202, 188, 127, 2], 1303),
            ([153, 39, 163, 191], 44251),
            0x5d18_09c5,
            0x10e8_28a2,
        ),
    ];

    fn v6(text: &str) -> [u8; 16] {
        text.parse::<std::net::Ipv6Addr>()
            .expect("an IPv6 address")
            .octets()
    }

    /// The page's IPv6 table.
    fn v6_table() -> [Row<16>; 3] {
        [
            (
                (v6("3ffe:2501:200:3::1"), 1766),
                (v6("3ffe:2501:200:1fff::7"), 2794),
                0x2cc1_8cd5,
                0x4020_7d3d,
            ),
            (
                (v6("ff02::1"), 4739),
                (v6("3ffe:501:8::260:97ff:fe40:efab"), 14230),
                0x0f0c_461c,
                0xdde5_1bbf,
            ),
            (
                (v6("fe80::200:f8ff:fe21:67cf"), 38024),
                (v6("3ffe:1900:4545:3:200:f8ff:fe21:67cf"), 44251),
                0x4b61_e985,
                0x02d1_feef,
            ),
        ]
    }

    /// Toeplitz input: source address, destination address, source port, destination port.
    fn input(source: &[u8], destination: &[u8], ports: Option<(u16, u16)>) -> Vec<u8> {
        let mut out = [source, destination].concat();
        if let Some((s, d)) = ports {
            out.extend_from_slice(&s.to_be_bytes());
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn the_hash_matches_microsofts_ipv4_verification_data() {
        for ((dst, dport), (src, sport), addresses, tcp) in V4 {
            assert_eq!(toeplitz(&KEY, &input(&src, &dst, None)), addresses, "{dst:?}");
            assert_eq!(
                toeplitz(&KEY, &input(&src, &dst, Some((sport, dport)))),
                tcp,
                "{dst:?}"
            );
        }
    }

    #[test]
    fn the_hash_matches_microsofts_ipv6_verification_data() {
        for ((dst, dport), (src, sport), addresses, tcp) in v6_table() {
            assert_eq!(toeplitz(&KEY, &input(&src, &dst, None)), addresses, "{dst:?}");
            assert_eq!(
                toeplitz(&KEY, &input(&src, &dst, Some((sport, dport)))),
                tcp,
                "{dst:?}"
            );
        }
    }

    /// An Ethernet frame of a TCP (protocol 6) or UDP (17) IPv4 packet with these endpoints.
    fn frame_v4(
        protocol: u8,
        (src, sport): ([u8; 4], u16),
        (dst, dport): ([u8; 4], u16),
        flags: u16,
    ) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&40u16.to_be_bytes());
        f[20..22].copy_from_slice(&flags.to_be_bytes());
        f[23] = protocol;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f[46] = 0x50;
        f
    }

    #[test]
    fn a_frame_is_hashed_by_the_most_specific_enabled_type() {
        let ((dst, dport), (src, sport), addresses, tcp) = V4[0];
        let all = HashTypes(NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6);
        let tcp_frame = frame_v4(6, (src, sport), (dst, dport), 0);
        assert_eq!(hash_frame(&KEY, all, &tcp_frame), Some((tcp, HashType::TcpIpv4)));
        let addresses_only = HashTypes(all.0 & !NDIS_HASH_TCP_IPV4);
        assert_eq!(
            hash_frame(&KEY, addresses_only, &tcp_frame),
            Some((addresses, HashType::Ipv4))
        );
        let udp = frame_v4(17, (src, sport), (dst, dport), 0);
        assert_eq!(
            hash_frame(&KEY, all, &udp),
            Some((addresses, HashType::Ipv4)),
            "UDP: addresses"
        );
        let fragment = frame_v4(6, (src, sport), (dst, dport), 0x2000);
        assert_eq!(
            hash_frame(&KEY, all, &fragment),
            Some((addresses, HashType::Ipv4))
        );
        let tcp_only = HashTypes(NDIS_HASH_TCP_IPV4);
        assert_eq!(hash_frame(&KEY, tcp_only, &udp), None, "no enabled type applies");
        assert_eq!(
            hash_frame(&KEY, all, &tcp_frame[..20]),
            None,
            "not a whole IP header"
        );
        let mut tagged = tcp_frame[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&tcp_frame[12..]);
        assert_eq!(
            hash_frame(&KEY, all, &tagged),
            Some((tcp, HashType::TcpIpv4)),
            "802.1Q in the bytes"
        );
        let mut arp = tcp_frame.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(hash_frame(&KEY, all, &arp), None, "not IP");
    }

    #[test]
    fn an_ipv6_frame_is_hashed_by_its_addresses_and_tcp_ports() {
        let ((dst, dport), (src, sport), addresses, tcp) = v6_table()[0];
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[18..20].copy_from_slice(&20u16.to_be_bytes());
        f[20] = 6;
        f[22..38].copy_from_slice(&src);
        f[38..54].copy_from_slice(&dst);
        f[54..56].copy_from_slice(&sport.to_be_bytes());
        f[56..58].copy_from_slice(&dport.to_be_bytes());
        f[66] = 0x50;
        let both = HashTypes(NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6);
        assert_eq!(hash_frame(&KEY, both, &f), Some((tcp, HashType::TcpIpv6)));
        let addresses_only = HashTypes(NDIS_HASH_IPV6);
        assert_eq!(
            hash_frame(&KEY, addresses_only, &f),
            Some((addresses, HashType::Ipv6))
        );
    }

    /// The definition, a bit at a time: the reference the byte-wise hash must equal.
    fn toeplitz_bitwise(key: &[u8], input: &[u8]) -> u32 {
        let key_bit = |n: usize| -> u32 { key.get(n / 8).map_or(0, |b| u32::from(b >> (7 - n % 8)) & 1) };
        let mut hash = 0;
        for n in 0..input.len() * 8 {
            if input[n / 8] & (0x80 >> (n % 8)) != 0 {
                hash ^= (0..32).fold(0u32, |w, k| (w << 1) | key_bit(n + k));
            }
        }
        hash
    }

    #[test]
    fn the_bytewise_hash_is_the_bitwise_definition_for_any_key_and_input() {
        // A fixed xorshift sequence: keys of every length to 40 bytes, inputs to 36.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let key: Vec<u8> = (0..next() % 41).map(|_| next().to_le_bytes()[0]).collect();
            let input: Vec<u8> = (0..next() % 37).map(|_| next().to_le_bytes()[0]).collect();
            assert_eq!(
                toeplitz(&key, &input),
                toeplitz_bitwise(&key, &input),
                "{key:?} {input:?}"
            );
        }
    }

    #[test]
    fn a_key_shorter_than_the_input_reads_zeros_past_its_end() {
        assert_eq!(toeplitz(&[], &[0xff; 8]), 0);
        assert_eq!(toeplitz(&[0x80, 0, 0, 0], &[0x80]), 0x8000_0000);
        assert_eq!(
            toeplitz(&[0x80, 0, 0, 0], &[0x40]),
            0,
            "the window moved past the key's one bit"
        );
    }
}
