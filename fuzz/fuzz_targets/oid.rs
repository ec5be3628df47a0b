//! Fuzzes the OID control path with sequences of queries and sets on one adapter.
//!
//! Input: one byte choosing the configured frame size, then requests, each
//! `[kind] [oid: selector byte, or 0xFF and 4 raw bytes] [length] [buffer bytes]`. Bit 0 of `kind`
//! picks query or set; bit 1 sends the request as an `NDIS_OID_REQUEST` through `oid::handle`, the
//! path `MiniportOidRequest` takes, instead of calling `Control` directly.
//! Every request must stay inside its buffer, a refused set must change nothing, and what a
//! successful set stored must read back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndis::*;
use rvnic::config::{Config, JUMBO_PACKET};
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

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(choice) = input.byte() else { return };
    let config = Config {
        max_frame: JUMBO_PACKET[usize::from(choice) % JUMBO_PACKET.len()].0,
        ..Config::default()
    };
    let mut control = Control::new(config, [0x02, 0, 0, 0, 0, 1]);
    while let (Some(kind), Some(oid), Some(len)) = (input.byte(), input.oid(), input.byte()) {
        let mut buffer = input.bytes(usize::from(len)).to_vec();
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
            let before = (control.filter, control.lookahead, control.power, control.vlan);
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
                    (control.filter, control.lookahead, control.power, control.vlan),
                    before
                );
                continue;
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
