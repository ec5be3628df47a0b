//! Task offloads through the real driver on ndis-host: large sends segmented or coalesced,
//! checksums filled in or vouched for, per receiver configuration, checked byte for byte against
//! an independent parser and checksummer (etherparse), never against the driver's own code.

#![allow(
    clippy::similar_names,
    clippy::many_single_char_names,
    clippy::too_many_lines,
    reason = "packet tests: a, b for the pair, received/receiver, and one long table of cases"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use ndis::*;
use ndis_host::{Adapter, Host, LargeSend, OidRequest, Received, SendOptions};
use rvnic_tests::{address, config, finish, loaded, set_filter};

/// A TCP flow's shape: IP version, TCP options (raw bytes, a multiple of 4) and the flags of the
/// large send.
#[derive(Debug, Clone)]
struct Flow {
    v6: bool,
    options: Vec<u8>,
    fin: bool,
    psh: bool,
}

impl Flow {
    fn v4() -> Self {
        Self {
            v6: false,
            options: Vec::new(),
            fin: false,
            psh: true,
        }
    }

    fn v6() -> Self {
        Self {
            v6: true,
            ..Self::v4()
        }
    }
}

const SEQ: u32 = 0xffff_f000; // wraps within the send: sequence arithmetic is modular
const IP_ID: u16 = 0x7ff0; // wraps past 0x7fff to 0 within the send

/// The payload of a send: bytes that identify their position.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

/// A TCP/IP frame from `src` to `dst` carrying `data` with sequence number `seq`, built by
/// etherparse (checksums and lengths correct). For a large send (`lso`), the IP length field is
/// what the transport leaves (the large packet's, or 0 when it does not fit) and the TCP checksum
/// holds the pseudo-header sum without the length, as the LSO page describes.
fn tcp_frame(flow: &Flow, dst: [u8; 6], src: [u8; 6], seq: u32, data: &[u8], lso: bool) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(src, dst);
    let ip = if flow.v6 {
        builder.ipv6(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
    } else {
        builder.ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
    };
    let mut tcp = ip.tcp(40_000, 5201, seq, 1024).ack(77);
    if flow.psh {
        tcp = tcp.psh();
    }
    if flow.fin {
        tcp = tcp.fin();
    }
    let tcp = tcp.options_raw(&flow.options).expect("options");
    let mut out = Vec::new();
    // The headers with no payload, then the payload: etherparse refuses an IPv4 datagram over
    // 64 KiB, which a large send's template may describe.
    tcp.write(&mut out, &[]).expect("headers");
    let l3 = 14;
    let l4 = if flow.v6 { l3 + 40 } else { l3 + 20 };
    out.extend_from_slice(data);
    if !flow.v6 {
        out[l3 + 4..l3 + 6].copy_from_slice(&IP_ID.to_be_bytes());
    }
    let ip_len = out.len() - l3 - if flow.v6 { 40 } else { 0 };
    let ip_len = u16::try_from(ip_len).unwrap_or(0);
    if flow.v6 {
        out[l3 + 4..l3 + 6].copy_from_slice(&ip_len.to_be_bytes());
    } else {
        out[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
        out[l3 + 10..l3 + 12].fill(0);
        let sum = ones_sum(&out[l3..l4]);
        out[l3 + 10..l3 + 12].copy_from_slice(&(!sum).to_be_bytes());
    }
    // The TCP checksum: for a large send the transport's pseudo-header sum (addresses and
    // protocol); otherwise the real one.
    let (src_ip, dst_ip) = if flow.v6 {
        (l3 + 8, l3 + 40)
    } else {
        (l3 + 12, l3 + 20)
    };
    let mut pseudo = out[src_ip..dst_ip].to_vec();
    pseudo.extend_from_slice(&[0, 6]);
    out[l4 + 16..l4 + 18].fill(0);
    if lso {
        let sum = ones_sum(&pseudo);
        out[l4 + 16..l4 + 18].copy_from_slice(&sum.to_be_bytes());
    } else {
        let len = (out.len() - l4) as u32;
        pseudo.extend_from_slice(&len.to_be_bytes());
        pseudo.extend_from_slice(&out[l4..]);
        let sum = ones_sum(&pseudo);
        out[l4 + 16..l4 + 18].copy_from_slice(&(!sum).to_be_bytes());
    }
    out
}

/// RFC 1071, written plainly for the tests' own frames (what is checked is checked by etherparse).
fn ones_sum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = bytes
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn tcp_offset(flow: &Flow) -> u32 {
    if flow.v6 { 54 } else { 34 }
}

/// The receiver's keywords.
#[derive(Debug, Clone, Copy)]
struct Receiver {
    rx_checksum: bool,
    rsc: bool,
}

impl Receiver {
    fn keywords(self) -> Vec<(&'static str, &'static str)> {
        let checksum = if self.rx_checksum { "3" } else { "1" };
        let rsc = if self.rsc { "1" } else { "0" };
        vec![
            ("*IPChecksumOffloadIPv4", checksum),
            ("*TCPChecksumOffloadIPv4", checksum),
            ("*TCPChecksumOffloadIPv6", checksum),
            ("*UDPChecksumOffloadIPv4", checksum),
            ("*UDPChecksumOffloadIPv6", checksum),
            ("*RscIPv4", rsc),
            ("*RscIPv6", rsc),
        ]
    }
}

/// A running pair: `a` sends with every offload on, `b` receives as `receiver` says; both have
/// their offloads activated (`OID_OFFLOAD_ENCAPSULATION`, as TCP/IP sets it after binding).
fn pair(receiver: Receiver) -> (Host, Adapter, Adapter) {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host.start_adapter(config(&[("Topology", "1")])).expect("a");
    let mut keywords = receiver.keywords();
    keywords.push(("Topology", "1"));
    let b = host.start_adapter(config(&keywords)).expect("b");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
        assert_eq!(host.set_encapsulation(x, true, true).status, NDIS_STATUS_SUCCESS);
    }
    (host, a, b)
}

fn send_large(host: &Host, from: Adapter, frame: &[u8], flow: &Flow, mss: u32) -> NDIS_STATUS {
    let options = SendOptions {
        large_send: Some(LargeSend {
            mss,
            tcp_header_offset: tcp_offset(flow),
            ipv6: flow.v6,
        }),
        mdl_split: Some(1000),
        ..SendOptions::default()
    };
    host.send(from, &[frame], options).expect("running");
    let completions = host.take_completions(from);
    assert_eq!(completions.len(), 1);
    completions[0].status
}

/// Checks every received frame of one TCP flow with etherparse and returns the payload they carry,
/// in sequence order, with the number of frames and how many were coalesced.
fn reassemble(received: &[Received], flow: &Flow, receiver: Receiver, mss: usize) -> (Vec<u8>, usize, usize) {
    let mut data = Vec::new();
    let mut coalesced = 0;
    let mut expected_seq = SEQ;
    for (k, r) in received.iter().enumerate() {
        let last = k + 1 == received.len();
        let p = SlicedPacket::from_ethernet(&r.frame).unwrap_or_else(|e| panic!("frame {k}: {e:?}"));
        let Some(TransportSlice::Tcp(tcp)) = p.transport else {
            panic!("frame {k} is not TCP")
        };
        let c = r.info.checksum;
        let checksum_ok = match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                assert!(!flow.v6);
                assert_eq!(
                    h.to_header().calc_header_checksum(),
                    h.header_checksum(),
                    "frame {k}: IPv4 header checksum"
                );
                assert_eq!(h.ttl(), 64);
                let index = tcp.sequence_number().wrapping_sub(SEQ) as usize / mss;
                assert_eq!(
                    h.identification(),
                    (IP_ID as usize + index) as u16 & 0x7fff,
                    "frame {k}: IP ID"
                );
                tcp.calc_checksum_ipv4(h.source(), h.destination())
                    .expect("length")
                    == tcp.checksum()
            }
            Some(NetSlice::Ipv6(ip)) => {
                assert!(flow.v6);
                let h = ip.header();
                tcp.calc_checksum_ipv6(h.source(), h.destination())
                    .expect("length")
                    == tcp.checksum()
            }
            _ => panic!("frame {k} is not IP"),
        };
        let segments = usize::from(r.info.coalesced_segments);
        if segments > 0 {
            coalesced += 1;
            assert!(receiver.rsc, "frame {k}: coalesced for a receiver with RSC off");
            assert_eq!(
                segments,
                tcp.payload().len().div_ceil(mss),
                "frame {k}: segment count"
            );
            assert!(
                c & CHECKSUM_RX_TCP_SUCCEEDED != 0 && c & CHECKSUM_RX_TCP_VALUE_INVALID != 0,
                "{c:#x}"
            );
            assert_eq!(c & CHECKSUM_RX_IP_SUCCEEDED != 0, !flow.v6, "{c:#x}");
            assert_eq!((r.info.dup_acks, r.info.timestamp_delta), (0, 0));
        } else {
            assert!(
                tcp.payload().len() <= mss,
                "frame {k}: {} bytes, MSS {mss}",
                tcp.payload().len()
            );
            if receiver.rx_checksum {
                assert!(
                    c & CHECKSUM_RX_TCP_SUCCEEDED != 0,
                    "frame {k}: marked verified ({c:#x})"
                );
            } else {
                assert_eq!(c, 0, "frame {k}: nothing to vouch for");
                assert!(checksum_ok, "frame {k}: TCP checksum");
            }
        }
        assert_eq!(tcp.sequence_number(), expected_seq, "frame {k}: sequence");
        assert_eq!(
            tcp.options(),
            flow.options.as_slice(),
            "frame {k}: options copied unaltered"
        );
        assert!(tcp.ack() && tcp.acknowledgment_number() == 77);
        assert_eq!(tcp.fin(), flow.fin && last, "frame {k}: FIN only on the last");
        assert_eq!(tcp.psh(), flow.psh && last, "frame {k}: PSH only on the last");
        expected_seq = expected_seq.wrapping_add(tcp.payload().len() as u32);
        data.extend_from_slice(tcp.payload());
    }
    (data, received.len(), coalesced)
}

const RECEIVERS: [Receiver; 4] = [
    Receiver {
        rx_checksum: false,
        rsc: false,
    },
    Receiver {
        rx_checksum: true,
        rsc: false,
    },
    Receiver {
        rx_checksum: false,
        rsc: true,
    },
    Receiver {
        rx_checksum: true,
        rsc: true,
    },
];

#[test]
fn a_large_send_arrives_whole_for_every_receiver_configuration() {
    let sack_permitted_and_timestamp = vec![4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 1, 0];
    let timestamp = vec![1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0];
    let flows = [
        Flow::v4(),
        Flow::v6(),
        Flow {
            options: timestamp.clone(),
            fin: true,
            ..Flow::v4()
        },
        Flow {
            options: timestamp,
            ..Flow::v6()
        },
        Flow {
            options: sack_permitted_and_timestamp,
            psh: false,
            ..Flow::v4()
        },
    ];
    for receiver in RECEIVERS {
        for flow in &flows {
            for (len, mss) in [(30_000, 1448), (65_535, 1460), (4_000, 536), (100, 1460)] {
                // The MSS of a 1,500-byte MTU for this flow's headers, at most.
                let mss = mss.min(1514 - tcp_offset(flow) - 20 - flow.options.len() as u32);
                let (host, a, b) = pair(receiver);
                let data = payload(len);
                let frame = tcp_frame(flow, address(&host, b), address(&host, a), SEQ, &data, true);
                assert_eq!(send_large(&host, a, &frame, flow, mss), NDIS_STATUS_SUCCESS);
                let received = host.take_received_with_info(b);
                let (got, frames, coalesced) = reassemble(&received, flow, receiver, mss as usize);
                assert_eq!(got, data, "{receiver:?} {flow:?} {len}/{mss}");
                let segments = len.div_ceil(mss as usize);
                let coalescible = !flow.options.starts_with(&[4, 2]);
                if receiver.rsc && coalescible && segments > 1 {
                    // One unit per datagram's worth, and a FIN segment on its own.
                    assert!(
                        coalesced >= 1 && frames < segments,
                        "{frames} frames of {segments} segments"
                    );
                    assert!(frames <= 2 + usize::from(flow.fin), "{frames} frames");
                } else {
                    assert_eq!((frames, coalesced), (segments, 0), "{receiver:?} {flow:?}");
                }
                finish(host, &[a, b]);
            }
        }
    }
}

#[test]
fn a_coalesced_unit_spans_chained_receive_buffers_and_counts_in_rsc_statistics() {
    let (host, a, b) = pair(Receiver {
        rx_checksum: true,
        rsc: true,
    });
    let flow = Flow::v4();
    let data = payload(60_000);
    let frame = tcp_frame(&flow, address(&host, b), address(&host, a), SEQ, &data, true);
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_SUCCESS);
    let received = host.take_received_with_info(b);
    assert_eq!(received.len(), 1, "60,000 bytes fit one datagram: one unit");
    assert_eq!(
        received[0].frame.len(),
        54 + 60_000,
        "one NET_BUFFER over 40 chained 1,536-byte buffers"
    );
    assert_eq!(received[0].info.coalesced_segments, 42);
    let stats = host.oid_query(b, OID_TCP_RSC_STATISTICS, 40);
    assert_eq!(stats.status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        (
            stats.data[0],
            stats.data[1],
            u16::from_le_bytes([stats.data[2], stats.data[3]])
        ),
        (
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_RSC_STATISTICS_REVISION_1,
            NDIS_SIZEOF_RSC_STATISTICS_REVISION_1
        )
    );
    let word = |i: usize| u64::from_le_bytes(stats.data[8 + 8 * i..16 + 8 * i].try_into().expect("8"));
    assert_eq!((word(0), word(1), word(2), word(3)), (42, 60_000, 1, 0));
    let short = host.oid_query(b, OID_TCP_RSC_STATISTICS, 39);
    assert_eq!(
        (short.status, short.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 40)
    );
    // The wire counts the segments a real link would carry, on both sides.
    let sent = rvnic_tests::counter(&host, a, OID_GEN_DIRECTED_FRAMES_XMIT);
    let got = rvnic_tests::counter(&host, b, OID_GEN_DIRECTED_FRAMES_RCV);
    assert_eq!((sent, got), (42, 42));
    finish(host, &[a, b]);
}

#[test]
fn a_small_receive_pool_gets_smaller_coalesced_units() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host.start_adapter(config(&[("Topology", "1")])).expect("a");
    let b = host
        .start_adapter(config(&[("Topology", "1"), ("*ReceiveBuffers", "64")]))
        .expect("b");
    for x in [a, b] {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED);
        assert_eq!(host.set_encapsulation(x, true, true).status, NDIS_STATUS_SUCCESS);
    }
    let flow = Flow::v4();
    let data = payload(60_000);
    let frame = tcp_frame(&flow, address(&host, b), address(&host, a), SEQ, &data, true);
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_SUCCESS);
    let received = host.take_received_with_info(b);
    let receiver = Receiver {
        rx_checksum: true,
        rsc: true,
    };
    let (got, frames, coalesced) = reassemble(&received, &flow, receiver, 1460);
    assert_eq!(got, data);
    // A quarter of 64 descriptors of 1,536 bytes: 16 buffers, 16 segments per unit.
    assert!(received.iter().all(|r| r.frame.len() <= 16 * 1536));
    assert_eq!((frames, coalesced), (3, 3));
    finish(host, &[a, b]);
}

#[test]
fn receive_offloads_wait_for_the_protocol_to_activate_them() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host.start_adapter(config(&[("Topology", "1")])).expect("a");
    let b = host.start_adapter(config(&[("Topology", "1")])).expect("b");
    set_filter(&host, b, NDIS_PACKET_TYPE_DIRECTED);
    let flow = Flow::v4();
    let data = payload(10_000);
    let frame = tcp_frame(&flow, address(&host, b), address(&host, a), SEQ, &data, true);
    // No OID_OFFLOAD_ENCAPSULATION on b yet: segments with computed checksums, nothing marked.
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_SUCCESS);
    let received = host.take_received_with_info(b);
    let off = Receiver {
        rx_checksum: false,
        rsc: false,
    };
    assert_eq!(reassemble(&received, &flow, off, 1460), (data.clone(), 7, 0));
    // IPv6 activated only: IPv4 stays unoffloaded.
    assert_eq!(host.set_encapsulation(b, false, true).status, NDIS_STATUS_SUCCESS);
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_SUCCESS);
    assert_eq!(
        reassemble(&host.take_received_with_info(b), &flow, off, 1460).1,
        7
    );
    assert_eq!(host.set_encapsulation(b, true, true).status, NDIS_STATUS_SUCCESS);
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_SUCCESS);
    let on = Receiver {
        rx_checksum: true,
        rsc: true,
    };
    assert_eq!(
        reassemble(&host.take_received_with_info(b), &flow, on, 1460),
        (data, 1, 1)
    );
    finish(host, &[a, b]);
}

#[test]
fn checksum_offload_is_vouched_for_or_computed_per_receiver() {
    for receiver in RECEIVERS {
        for v6 in [false, true] {
            let (host, a, b) = pair(receiver);
            let flow = Flow { v6, ..Flow::v4() };
            let (ma, mb) = (address(&host, a), address(&host, b));
            // A TCP frame whose checksum the sender left to the NIC: the pseudo-header sum only,
            // and (IPv4) a zero header checksum, as the transport leaves them.
            let mut tcp = tcp_frame(&flow, mb, ma, SEQ, &payload(1000), true);
            if !v6 {
                tcp[24..26].fill(0);
            }
            let sent_checksum = tcp[tcp_offset(&flow) as usize + 16..][..2].to_vec();
            let family = if v6 {
                CHECKSUM_TX_IS_IPV6
            } else {
                CHECKSUM_TX_IS_IPV4 | CHECKSUM_TX_IP_HEADER
            };
            let request =
                family | CHECKSUM_TX_TCP | (tcp_offset(&flow) << CHECKSUM_TX_TCP_HEADER_OFFSET_SHIFT);
            let options = SendOptions {
                checksum: request,
                ..SendOptions::default()
            };
            host.send(a, &[&tcp], options).expect("running");
            assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
            let got = host.take_received_with_info(b);
            assert_eq!(got.len(), 1);
            let r = &got[0];
            let p = SlicedPacket::from_ethernet(&r.frame).expect("frame");
            let Some(TransportSlice::Tcp(seg)) = p.transport else {
                panic!("TCP")
            };
            let valid = match &p.net {
                Some(NetSlice::Ipv4(ip)) => {
                    let h = ip.header();
                    let header_ok = h.to_header().calc_header_checksum() == h.header_checksum();
                    assert_eq!(
                        header_ok, !receiver.rx_checksum,
                        "IPv4 header checksum computed only when not vouched for"
                    );
                    seg.calc_checksum_ipv4(h.source(), h.destination()).expect("len") == seg.checksum()
                }
                Some(NetSlice::Ipv6(ip)) => {
                    let h = ip.header();
                    seg.calc_checksum_ipv6(h.source(), h.destination()).expect("len") == seg.checksum()
                }
                _ => panic!("IP"),
            };
            if receiver.rx_checksum {
                let ip = if v6 { 0 } else { CHECKSUM_RX_IP_SUCCEEDED };
                assert_eq!(r.info.checksum, CHECKSUM_RX_TCP_SUCCEEDED | ip);
                assert_eq!(
                    seg.checksum().to_be_bytes().to_vec(),
                    sent_checksum,
                    "no checksum computed"
                );
                assert!(!valid);
            } else {
                assert_eq!(r.info.checksum, 0);
                assert!(
                    valid,
                    "computed in software for a receiver without receive offload"
                );
            }
            assert_eq!(seg.payload(), payload(1000));
            // UDP the same way.
            let builder = PacketBuilder::ethernet2(ma, mb);
            let mut udp = Vec::new();
            if v6 {
                builder
                    .ipv6([1; 16], [2; 16], 9)
                    .udp(53, 5353)
                    .write(&mut udp, &payload(333))
                    .expect("udp");
            } else {
                builder
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 9)
                    .udp(53, 5353)
                    .write(&mut udp, &payload(333))
                    .expect("udp");
            }
            let l4 = if v6 { 54 } else { 34 };
            udp[l4 + 6..l4 + 8].fill(0xee);
            let family = if v6 {
                CHECKSUM_TX_IS_IPV6
            } else {
                CHECKSUM_TX_IS_IPV4
            };
            host.send(
                a,
                &[&udp],
                SendOptions {
                    checksum: family | CHECKSUM_TX_UDP,
                    ..SendOptions::default()
                },
            )
            .expect("running");
            assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
            let r = host.take_received_with_info(b).remove(0);
            let p = SlicedPacket::from_ethernet(&r.frame).expect("frame");
            let Some(TransportSlice::Udp(u)) = p.transport else {
                panic!("UDP")
            };
            let expected = match &p.net {
                Some(NetSlice::Ipv4(ip)) => u
                    .to_header()
                    .calc_checksum_ipv4_raw(ip.header().source(), ip.header().destination(), u.payload())
                    .expect("len"),
                Some(NetSlice::Ipv6(ip)) => u
                    .to_header()
                    .calc_checksum_ipv6_raw(ip.header().source(), ip.header().destination(), u.payload())
                    .expect("len"),
                _ => panic!("IP"),
            };
            if receiver.rx_checksum {
                assert_eq!(
                    (r.info.checksum, u.checksum()),
                    (CHECKSUM_RX_UDP_SUCCEEDED, 0xeeee)
                );
            } else {
                assert_eq!((r.info.checksum, u.checksum()), (0, expected));
            }
            finish(host, &[a, b]);
        }
    }
}

#[test]
fn a_sender_without_offloads_gets_the_same_payload_through() {
    // The transport segments and checksums itself (LSO and checksum offload off): frames cross
    // as they are, whatever the receiver has on.
    for receiver in RECEIVERS {
        let (host, a, b) = pair(receiver);
        let flow = Flow::v4();
        let data = payload(10_000);
        let frames: Vec<Vec<u8>> = data
            .chunks(1460)
            .enumerate()
            .map(|(i, chunk)| {
                let f = Flow {
                    psh: (i + 1) * 1460 >= data.len(),
                    ..flow.clone()
                };
                let mut frame = tcp_frame(
                    &f,
                    address(&host, b),
                    address(&host, a),
                    SEQ.wrapping_add((i * 1460) as u32),
                    chunk,
                    false,
                );
                let id = (IP_ID as usize + i) as u16 & 0x7fff;
                frame[18..20].copy_from_slice(&id.to_be_bytes());
                frame[24..26].fill(0);
                let sum = ones_sum(&frame[14..34]);
                frame[24..26].copy_from_slice(&(!sum).to_be_bytes());
                frame
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        host.send(a, &refs, SendOptions::default()).expect("running");
        assert!(
            host.take_completions(a)
                .iter()
                .all(|c| c.status == NDIS_STATUS_SUCCESS)
        );
        let received = host.take_received_with_info(b);
        assert!(
            received
                .iter()
                .all(|r| r.info.checksum == 0 && r.info.coalesced_segments == 0)
        );
        let plain = Receiver {
            rx_checksum: false,
            rsc: false,
        };
        assert_eq!(reassemble(&received, &flow, plain, 1460).0, data);
        finish(host, &[a, b]);
    }
}

#[test]
fn a_hub_delivers_each_receiver_what_its_configuration_asks() {
    let host = loaded(Host::builder().capture_frames(true).build());
    let a = host.start_adapter(config(&[])).expect("a");
    let receivers = [
        Receiver {
            rx_checksum: false,
            rsc: false,
        },
        Receiver {
            rx_checksum: true,
            rsc: true,
        },
    ];
    let ports: Vec<Adapter> = receivers
        .iter()
        .map(|r| host.start_adapter(config(&r.keywords())).expect("receiver"))
        .collect();
    for &x in std::iter::once(&a).chain(&ports) {
        set_filter(&host, x, NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST);
        assert_eq!(host.set_encapsulation(x, true, true).status, NDIS_STATUS_SUCCESS);
    }
    let flow = Flow::v4();
    let data = payload(20_000);
    let frame = tcp_frame(&flow, [0xff; 6], address(&host, a), SEQ, &data, true);
    assert_eq!(send_large(&host, a, &frame, &flow, 1000), NDIS_STATUS_SUCCESS);
    let plain = reassemble(&host.take_received_with_info(ports[0]), &flow, receivers[0], 1000);
    let offloaded = reassemble(&host.take_received_with_info(ports[1]), &flow, receivers[1], 1000);
    assert_eq!((plain.0.len(), plain.1, plain.2), (20_000, 20, 0));
    assert_eq!((offloaded.0.len(), offloaded.1, offloaded.2), (20_000, 1, 1));
    assert_eq!(plain.0, offloaded.0);
    let mut all = vec![a];
    all.extend(ports);
    finish(host, &all);
}

/// `OID_GEN_STATISTICS`' `ifOutErrors` and `ifOutDiscards`.
fn out_errors_and_discards(host: &Host, a: Adapter) -> (u64, u64) {
    let s = host.oid_query(a, OID_GEN_STATISTICS, 200);
    let at = |offset: usize| u64::from_le_bytes(s.data[offset..offset + 8].try_into().expect("8"));
    (at(88), at(96))
}

#[test]
fn malformed_large_sends_are_counted_and_completed_with_the_documented_status() {
    let (host, a, b) = pair(Receiver {
        rx_checksum: true,
        rsc: true,
    });
    let flow = Flow::v4();
    let (ma, mb) = (address(&host, a), address(&host, b));
    let good = tcp_frame(&flow, mb, ma, SEQ, &payload(5000), true);
    let send = |frame: &[u8], mss: u32, offset: u32| {
        let options = SendOptions {
            large_send: Some(LargeSend {
                mss,
                tcp_header_offset: offset,
                ipv6: false,
            }),
            ..SendOptions::default()
        };
        host.send(a, &[frame], options).expect("running");
        host.take_completions(a)[0].status
    };
    let mut udp = good.clone();
    udp[23] = 17;
    let too_long = tcp_frame(&flow, mb, ma, SEQ, &payload(65_536), true);
    let cases: [(&str, &[u8], u32, u32, NDIS_STATUS); 6] = [
        ("MSS 0", &good, 0, 34, NDIS_STATUS_FAILURE),
        (
            "header offset past the data",
            &good[..40],
            1460,
            34,
            NDIS_STATUS_FAILURE,
        ),
        (
            "offset not at the TCP header",
            &good,
            1460,
            38,
            NDIS_STATUS_FAILURE,
        ),
        ("not TCP", &udp, 1460, 34, NDIS_STATUS_FAILURE),
        (
            "longer than MaxOffLoadSize",
            &too_long,
            1460,
            34,
            NDIS_STATUS_INVALID_LENGTH,
        ),
        (
            "segments longer than the frame size",
            &good,
            1500,
            34,
            NDIS_STATUS_INVALID_LENGTH,
        ),
    ];
    for (n, (what, frame, mss, offset, status)) in cases.into_iter().enumerate() {
        assert_eq!(send(frame, mss, offset), status, "{what}");
        assert_eq!(
            out_errors_and_discards(&host, a),
            (n as u64 + 1, 0),
            "{what} is counted"
        );
    }
    assert!(host.take_received(b).is_empty(), "nothing malformed is indicated");
    // Two NET_BUFFERs in one large-send NBL.
    let options = SendOptions {
        large_send: Some(LargeSend {
            mss: 1460,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        nbs_per_nbl: 2,
        ..SendOptions::default()
    };
    host.send(a, &[&good, &good], options).expect("running");
    assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_FAILURE);
    assert_eq!(out_errors_and_discards(&host, a), (8, 0));
    assert!(host.take_received(b).is_empty());
    finish(host, &[a, b]);
}

/// An `NDIS_OFFLOAD_PARAMETERS` revision 3 with the given fields (offset, value).
fn parameters(fields: &[(usize, u8)]) -> Vec<u8> {
    let mut b = vec![0u8; usize::from(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3)];
    b[0] = NDIS_OBJECT_TYPE_DEFAULT;
    b[1] = NDIS_OFFLOAD_PARAMETERS_REVISION_3;
    b[2..4].copy_from_slice(&NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3.to_le_bytes());
    for &(at, v) in fields {
        b[at] = v;
    }
    b
}

#[test]
fn offload_parameters_change_the_configuration_indicate_it_and_drop_large_sends_once_off() {
    let (host, a, b) = pair(Receiver {
        rx_checksum: true,
        rsc: true,
    });
    let (hardware, current) = host.offloads(a);
    let (hardware, current) = (hardware.expect("attributes"), current.expect("attributes"));
    assert_eq!(hardware.LsoV2.IPv4.MaxOffLoadSize, 65_535);
    assert_eq!(current.LsoV2.IPv4.Encapsulation, NDIS_ENCAPSULATION_IEEE_802_3);
    assert_eq!((current.Rsc.IPv4.Enabled, current.Rsc.IPv6.Enabled), (1, 1));
    // NDIS answers the queries itself.
    let cfg = host.oid_query(a, OID_TCP_OFFLOAD_CURRENT_CONFIG, 200);
    assert_eq!(
        (cfg.status, cfg.bytes_written),
        (
            NDIS_STATUS_SUCCESS,
            u32::from(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3)
        )
    );
    let encapsulation = host.oid_query(a, OID_OFFLOAD_ENCAPSULATION, 28);
    assert_eq!(encapsulation.data, ndis_host::encapsulation_bytes(true, true));
    host.take_status_indications(a);
    // LSOv2 over IPv4 off.
    let off = parameters(&[(11, NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED)]);
    let r = host.oid_set(a, OID_TCP_OFFLOAD_PARAMETERS, &off);
    assert_eq!((r.status, r.bytes_read), (NDIS_STATUS_SUCCESS, 26));
    let indications = host.take_status_indications(a);
    assert_eq!(indications.len(), 1);
    assert_eq!(indications[0].code, NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG);
    assert_eq!(host.offloads(a).1.expect("current").LsoV2.IPv4.Encapsulation, 0);
    assert_eq!(
        host.config(a).get("*LsoV2IPv4"),
        Some(&ndis_host::Value::String("0".into())),
        "NDIS updated the keyword before passing the OID down"
    );
    // "The miniport shall drop all NET_BUFFER_LISTs which contain any non-zero LSO OOB data."
    let flow = Flow::v4();
    let frame = tcp_frame(
        &flow,
        address(&host, b),
        address(&host, a),
        SEQ,
        &payload(5000),
        true,
    );
    assert_eq!(send_large(&host, a, &frame, &flow, 1460), NDIS_STATUS_FAILURE);
    assert_eq!(out_errors_and_discards(&host, a), (0, 1));
    assert!(host.take_received(b).is_empty());
    // IPv6 still segments.
    let flow6 = Flow::v6();
    let frame6 = tcp_frame(
        &flow6,
        address(&host, b),
        address(&host, a),
        SEQ,
        &payload(5000),
        true,
    );
    assert_eq!(send_large(&host, a, &frame6, &flow6, 1440), NDIS_STATUS_SUCCESS);
    // RSC off on the receiver: segments from now on.
    let r = host.oid_set(b, OID_TCP_OFFLOAD_PARAMETERS, &parameters(&[(22, 1), (23, 1)]));
    assert_eq!(r.status, NDIS_STATUS_SUCCESS);
    host.take_received(b);
    assert_eq!(send_large(&host, a, &frame6, &flow6, 1440), NDIS_STATUS_SUCCESS);
    let received = host.take_received_with_info(b);
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|r| r.info.coalesced_segments == 0));
    finish(host, &[a, b]);
}

#[test]
fn bad_offload_oids_get_the_documented_status_and_change_nothing() {
    let (host, a, b) = pair(Receiver {
        rx_checksum: true,
        rsc: true,
    });
    host.take_status_indications(a);
    let before = host.offloads(a).1;
    let set = |oid, data: &[u8]| {
        let r = host.oid_set(a, oid, data);
        (r.status, r.bytes_needed)
    };
    let p = parameters(&[]);
    assert_eq!(
        set(OID_TCP_OFFLOAD_PARAMETERS, &p[..3]),
        (NDIS_STATUS_INVALID_LENGTH, 20)
    );
    assert_eq!(
        set(OID_TCP_OFFLOAD_PARAMETERS, &p[..25]),
        (NDIS_STATUS_INVALID_LENGTH, 26)
    );
    for bad in [
        parameters(&[(5, 9)]),
        parameters(&[(9, NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED)]),
        parameters(&[(22, 7)]),
        parameters(&[(0, 0)]),
    ] {
        assert_eq!(
            set(OID_TCP_OFFLOAD_PARAMETERS, &bad),
            (NDIS_STATUS_INVALID_DATA, 0),
            "{bad:?}"
        );
    }
    let mut e = ndis_host::encapsulation_bytes(true, true);
    assert_eq!(
        set(OID_OFFLOAD_ENCAPSULATION, &e[..20]),
        (NDIS_STATUS_INVALID_LENGTH, 28)
    );
    e[8] = NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED as u8;
    assert_eq!(
        set(OID_OFFLOAD_ENCAPSULATION, &e),
        (NDIS_STATUS_INVALID_PARAMETER, 0)
    );
    e[0] = NDIS_OBJECT_TYPE_DEFAULT;
    assert_eq!(
        set(OID_OFFLOAD_ENCAPSULATION, &e),
        (NDIS_STATUS_INVALID_PARAMETER, 0)
    );
    assert_eq!(host.offloads(a).1, before, "nothing changed");
    assert!(
        host.take_status_indications(a).is_empty(),
        "and nothing was indicated"
    );
    // Queries of the set-only OID are not supported.
    let q = host.oid(
        a,
        OidRequest::Query {
            oid: OID_TCP_OFFLOAD_PARAMETERS,
            buffer_len: 64,
        },
    );
    assert_eq!(q.status, NDIS_STATUS_NOT_SUPPORTED);
    finish(host, &[a, b]);
}

#[test]
fn unmapped_sender_pages_are_mapped_and_a_mapping_failure_is_counted() {
    let (host, a, b) = pair(Receiver {
        rx_checksum: false,
        rsc: true,
    });
    let flow = Flow::v4();
    let data = payload(30_000);
    let frame = tcp_frame(&flow, address(&host, b), address(&host, a), SEQ, &data, true);
    let options = SendOptions {
        large_send: Some(LargeSend {
            mss: 1460,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        mdl_split: Some(4096),
        unmapped_mdls: true,
        ..SendOptions::default()
    };
    host.send(a, &[&frame], options).expect("running");
    assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
    let receiver = Receiver {
        rx_checksum: false,
        rsc: true,
    };
    assert_eq!(
        reassemble(&host.take_received_with_info(b), &flow, receiver, 1460).0,
        data
    );
    // The third mapping fails (the header copy maps the first MDL, the payload's read maps it
    // again, then the second MDL): the send fails whole and is counted, nothing half is indicated.
    host.inject(ndis_host::FaultPlan {
        kind: Some(ndis_host::Kind::Mapping),
        nth: 3,
    });
    host.send(a, &[&frame], options).expect("running");
    assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_FAILURE);
    assert_eq!(
        host.injected_failure(),
        Some((ndis_host::Kind::Mapping, "MmMapLockedPagesSpecifyCache", 3))
    );
    assert!(host.take_received(b).is_empty());
    assert_eq!(rvnic_tests::counter(&host, a, OID_GEN_XMIT_ERROR), 1);
    host.send(a, &[&frame], options).expect("running");
    assert_eq!(host.take_completions(a)[0].status, NDIS_STATUS_SUCCESS);
    assert_eq!(
        reassemble(&host.take_received_with_info(b), &flow, receiver, 1460).0,
        data
    );
    finish(host, &[a, b]);
}
