//! Fuzzes large-send requests: the checks the wire makes of an LSOv2 NBL (MSS, TCP header offset,
//! the frame's headers, its length) and the arithmetic that cuts an accepted one into segments or
//! coalesced units, plus the virtio-net header translation `rvnic tap` does around it.
//!
//! Input: MSS (3 bytes, little-endian), TCP header offset (2 bytes), a byte choosing the frame
//! limit of coalesced units, then the frame. Nothing may panic; every accepted send must be cut
//! into units that cover its payload exactly, in order, each segment at most an MSS and only the
//! last shorter, each coalesced unit within one IP datagram; and every unit's headers must carry
//! the lengths, sequence number and (IPv4) a valid header checksum, and its TCP checksum must
//! verify once computed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvnic::wire::packet::{self, LargeSend, MAX_DATAGRAM, MAX_HEADER, Sum, Version};
use rvnic_cli::vnet;

fuzz_target!(|data: &[u8]| {
    let Some((head, frame)) = data.split_first_chunk::<6>() else {
        return;
    };
    let mss = u32::from_le_bytes([head[0], head[1], head[2], 0]);
    let offset = u32::from(u16::from_le_bytes([head[3], head[4]]));
    let limit = usize::from(head[5]) * 512;
    // The wire's checks, on the headers it copies (at most MAX_HEADER bytes).
    let headers = &frame[..frame.len().min(MAX_HEADER)];
    let _ = packet::parse(frame);
    if let Ok(send) = LargeSend::check(headers, frame.len(), mss, offset, 65_535) {
        units_cover_the_payload(&send, headers, frame, limit);
    }
    // The TAP translation in both directions never panics, whatever the header says.
    if let Some(h) = vnet::Header::parse(frame) {
        let _ = vnet::from_stack(&h, &frame[vnet::LEN.min(frame.len())..]);
    }
    let mut copy = frame.to_vec();
    let info = u32::from(head[5]) << 3;
    let len = copy.len() + usize::from(head[3]);
    let _ = vnet::to_stack(info, u16::from(head[4]), &mut copy, len, 1500);
});

fn units_cover_the_payload(send: &LargeSend, template: &[u8], frame: &[u8], limit: usize) {
    let mut next = 0;
    let segments: Vec<_> = send.units(1).collect();
    assert_eq!(segments.len(), send.segments());
    for (k, u) in segments.iter().enumerate() {
        assert_eq!((u.first, u.count, u.offset), (k, 1, next));
        assert!(u.len <= send.mss);
        assert!(u.len == send.mss || k + 1 == segments.len() || send.payload == 0);
        assert_eq!(u.last, k + 1 == segments.len());
        next += u.len;
    }
    assert_eq!(next, send.payload);
    let per = send.segments_per_unit(limit.max(send.header_len));
    let mut covered = 0;
    for u in send.units(per) {
        assert_eq!(u.offset, covered);
        assert!(u.count >= 1);
        covered += u.len;
        let ip = match send.headers.version {
            Version::V4 => send.header_len - send.headers.l3 + u.len,
            Version::V6 => send.header_len - send.headers.l3 - 40 + u.len,
        };
        assert!(
            u.count == 1 || ip <= MAX_DATAGRAM,
            "a coalesced unit of {ip} bytes"
        );
        check_unit(send, template, frame, &u);
    }
    assert_eq!(covered, send.payload);
}

/// Builds the unit as the wire does and checks its headers and checksum.
fn check_unit(send: &LargeSend, template: &[u8], frame: &[u8], u: &packet::Unit) {
    let mut out = vec![0u8; send.header_len + u.len];
    send.write_headers(template, u, &mut out);
    let start = send.header_len + u.offset;
    out[send.header_len..].copy_from_slice(&frame[start..start + u.len]);
    let h = &send.headers;
    match h.version {
        Version::V4 => {
            let total = u16::from_be_bytes([out[h.l3 + 2], out[h.l3 + 3]]);
            assert_eq!(usize::from(total), out.len() - h.l3);
            let ihl = usize::from(out[h.l3] & 0x0f) * 4;
            let mut sum = Sum::new();
            sum.add(&out[h.l3..h.l3 + ihl]);
            assert_eq!(sum.fold(), 0xffff, "IPv4 header checksum");
            let id = u16::from_be_bytes([out[h.l3 + 4], out[h.l3 + 5]]);
            assert!(id <= 0x7fff);
        }
        Version::V6 => {
            let payload = u16::from_be_bytes([out[h.l3 + 4], out[h.l3 + 5]]);
            assert_eq!(usize::from(payload), out.len() - h.l3 - 40);
        }
    }
    let seq = u32::from_be_bytes([out[h.l4 + 4], out[h.l4 + 5], out[h.l4 + 6], out[h.l4 + 7]]);
    assert_eq!(seq, send.sequence.wrapping_add(u.offset as u32));
    let mut sum = send.pseudo_sum(u);
    sum.add(&out[h.l4..]);
    let at = send.checksum_at();
    out[at..at + 2].copy_from_slice(&sum.checksum().to_be_bytes());
    let mut parsed = packet::parse(&out).expect("the unit parses");
    parsed.end = out.len();
    assert!(packet::transport_checksum_ok(&out, &parsed), "TCP checksum");
}
