//! Fuzzes the OID control path with sequences of queries and sets on one adapter.
//!
//! Input: one byte choosing the configured frame size, then requests, each
//! `[kind] [oid: selector byte, or 0xFF and 4 raw bytes] [length] [buffer bytes]`.
//! Every request must stay inside its buffer, a refused set must change nothing, and what a
//! successful set stored must read back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndis::*;
use rvnic::config::{Config, JUMBO_PACKET};
use rvnic::oid::{Change, Control, Live, SUPPORTED, UNLISTED};

fn live() -> Live {
    Live {
        connected: true,
        queued_sends: 0,
        statistics: NDIS_STATISTICS_INFO::default(),
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
        if kind & 1 == 0 {
            let reply = control.query(oid, &mut buffer, live);
            assert!(
                reply.bytes as usize <= buffer.len(),
                "query {oid:#x} wrote past its buffer"
            );
            if reply.status == NDIS_STATUS_BUFFER_TOO_SHORT {
                assert!(reply.needed as usize > buffer.len(), "BytesNeeded {oid:#x}");
            }
        } else {
            let before = (control.filter, control.lookahead, control.power);
            let (reply, change) = control.set(oid, &buffer);
            assert!(
                reply.bytes as usize <= buffer.len(),
                "set {oid:#x} read past its buffer"
            );
            if reply.status != NDIS_STATUS_SUCCESS {
                assert_eq!(change, Change::Nothing);
                assert_eq!((control.filter, control.lookahead, control.power), before);
                continue;
            }
            // What was stored reads back.
            let mut out = [0u8; 256];
            let echoed = control.query(oid, &mut out, live);
            match oid {
                OID_GEN_CURRENT_PACKET_FILTER | OID_GEN_CURRENT_LOOKAHEAD => {
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
