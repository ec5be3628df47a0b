//! Fuzzes the OID control path with sequences of queries and sets on one adapter.
//!
//! Input: one byte choosing the configured frame size (and with bit 7, NDIS QoS enabled), then
//! requests, each `[kind] [oid: selector byte, or 0xFF and 4 raw bytes] [length] [buffer bytes]`.
//! Bit 0 of `kind` picks query or set; bit 1 sends the request as an `NDIS_OID_REQUEST` through
//! `oid::handle`, the path `MiniportOidRequest` takes, instead of calling `Control` directly; bit 2
//! makes it a method request (through `oid::handle`).
//! Every request must stay inside its buffer, a refused set or method must change nothing, what a
//! successful set stored must read back, and RSS parameters that were taken must be usable (a
//! power-of-two table whose entries name queues that exist).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndis::*;
use rvnic::config::{Config, JUMBO_PACKET, VmqConfig};
use rvnic::oid::{Change, Control, Live, Reply, SUPPORTED, UNLISTED, handle};
use rvnic_helpers::oid::OwnedRequest;

fn live() -> Live {
    Live {
        connected: true,
        queued_sends: 0,
        statistics: NDIS_STATISTICS_INFO::default(),
        rsc: rvnic::offload::RscCounts::default(),
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn oid(&mut self) -> Option<NDIS_OID> {
        let known: Vec<NDIS_OID> = SUPPORTED.iter().chain(&UNLISTED).copied().collect();
        match self.byte()? {
            0xFF => Some(u32::from_le_bytes(self.bytes(4).try_into().ok()?)),
            i => Some(known[usize::from(i) % known.len()]),
        }
    }
}

/// One request through `oid::handle`, as NDIS would make it, with the reply read back from it.
fn through_request(control: &mut Control, set: bool, oid: NDIS_OID, buffer: &mut [u8]) -> (Reply, Change) {
    let kind = if set {
        NdisRequestSetInformation
    } else {
        NdisRequestQueryInformation
    };
    let mut request = OwnedRequest::new(kind, oid, buffer);
    let (status, change) = handle(control, request.view(), live);
    (
        Reply {
            status,
            bytes: request.bytes_done(),
            needed: request.bytes_needed(),
        },
        change,
    )
}

/// A method request through `oid::handle`: it reads and writes within its buffer, and a refusal
/// changes nothing.
fn method(control: &mut Control, oid: NDIS_OID, buffer: &mut [u8]) {
    let before = (control.qos, control.scaling, control.vmq);
    let len = buffer.len();
    let mut request = OwnedRequest::method(oid, buffer, len);
    let (status, change) = handle(control, request.view(), live);
    let (read, written, _) = request.method_sizes().expect("a method");
    assert!(
        read as usize <= len && written as usize <= len,
        "method {oid:#x} past its buffer"
    );
    if status != NDIS_STATUS_SUCCESS {
        assert_eq!(change, Change::Nothing);
        assert_eq!((control.qos, control.scaling, control.vmq), before);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(choice) = input.byte() else { return };
    let config = Config {
        max_frame: JUMBO_PACKET[usize::from(choice & 0x3f) % JUMBO_PACKET.len()].0,
        qos: Some(choice & 0x80 != 0),
        vmq: (choice & 0x40 != 0).then_some(VmqConfig {
            vlan_filtering: choice & 1 != 0,
        }),
        ..Config::default()
    };
    let mut control = Control::new(config, [0x02, 0, 0, 0, 0, 1]);
    // Eight processors in group 0.
    control.processor_exists = |n| n.Group == 0 && n.Number < 8;
    while let (Some(kind), Some(oid), Some(len)) = (input.byte(), input.oid(), input.byte()) {
        let mut buffer = input.bytes(usize::from(len)).to_vec();
        if kind & 4 != 0 {
            method(&mut control, oid, &mut buffer);
            continue;
        }
        let via_request = kind & 2 != 0;
        if kind & 1 == 0 {
            let reply = if via_request {
                through_request(&mut control, false, oid, &mut buffer).0
            } else {
                control.query(oid, &mut buffer, live)
            };
            assert!(
                reply.bytes as usize <= buffer.len(),
                "query {oid:#x} wrote past its buffer"
            );
            if reply.status == NDIS_STATUS_BUFFER_TOO_SHORT {
                assert!(reply.needed as usize > buffer.len(), "BytesNeeded {oid:#x}");
            }
        } else {
            let before = (
                control.filter,
                control.lookahead,
                control.power,
                control.vlan,
                control.scaling,
                control.vmq,
            );
            let (reply, change) = if via_request {
                through_request(&mut control, true, oid, &mut buffer)
            } else {
                control.set(oid, &buffer)
            };
            assert!(
                reply.bytes as usize <= buffer.len(),
                "set {oid:#x} read past its buffer"
            );
            if reply.status != NDIS_STATUS_SUCCESS {
                assert_eq!(change, Change::Nothing);
                assert_eq!(
                    (
                        control.filter,
                        control.lookahead,
                        control.power,
                        control.vlan,
                        control.scaling,
                        control.vmq
                    ),
                    before
                );
                continue;
            }
            let s = &control.scaling;
            if s.is_on() {
                assert!(s.entries.is_power_of_two() && s.entries <= rvnic::wire::scaling::TABLE_ENTRIES);
                assert!((1..=control.config.rss_queues as usize).contains(&s.queues));
                assert!(s.table[..s.entries].iter().all(|q| usize::from(*q) < s.queues));
            }
            // What was stored reads back.
            let mut out = [0u8; 256];
            let echoed = control.query(oid, &mut out, live);
            match oid {
                OID_GEN_CURRENT_PACKET_FILTER | OID_GEN_CURRENT_LOOKAHEAD | OID_GEN_VLAN_ID => {
                    assert_eq!(out[..4], buffer[..4], "{oid:#x} reads back");
                }
                OID_802_3_MULTICAST_LIST => {
                    assert_eq!(&out[..echoed.bytes as usize], &buffer[..], "the list reads back");
                }
                _ => {}
            }
        }
    }
});
