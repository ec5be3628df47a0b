//! What the tests and the tools do as a protocol would, in one place: build Ethernet frames and
//! ask an adapter for its address.

use ndis::{NDIS_STATUS_SUCCESS, OID_802_3_CURRENT_ADDRESS};

use crate::{Adapter, Host};

/// The IEEE local experimental `EtherType` the frames carry.
pub const ETHERTYPE: u16 = 0x88b5;

/// An Ethernet frame of `len` bytes (at least the 14-byte header) from `source` to `destination`,
/// with a payload that identifies `seq` (byte `i` of the payload is `seq * 31 + i`, mod 256).
#[must_use]
pub fn ethernet_frame(destination: [u8; 6], source: [u8; 6], len: usize, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(len.max(14));
    f.extend_from_slice(&destination);
    f.extend_from_slice(&source);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    let payload = len.saturating_sub(14);
    f.extend((0..payload).map(|i| (seq.wrapping_mul(31).wrapping_add(i as u32) & 0xff) as u8));
    f
}

impl Host {
    /// The adapter's current MAC address (`OID_802_3_CURRENT_ADDRESS`), or `None` if the query
    /// fails.
    #[must_use]
    pub fn current_address(&self, adapter: Adapter) -> Option<[u8; 6]> {
        let r = self.oid_query(adapter, OID_802_3_CURRENT_ADDRESS, 6);
        if r.status != NDIS_STATUS_SUCCESS {
            return None;
        }
        r.data.get(..6)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_has_its_header_length_and_sequence_pattern() {
        let f = ethernet_frame([1; 6], [2; 6], 64, 3);
        assert_eq!(
            (f.len(), &f[..6], &f[6..12], &f[12..14]),
            (64, &[1u8; 6][..], &[2u8; 6][..], &[0x88, 0xb5][..])
        );
        assert_eq!((f[14], f[15]), (93, 94));
        assert_eq!(
            ethernet_frame([1; 6], [2; 6], 5, 0).len(),
            14,
            "never shorter than its header"
        );
    }
}
