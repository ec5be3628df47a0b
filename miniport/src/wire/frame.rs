//! Ethernet frames as the wire sees them: their sizes, the destination's class, and the receive
//! filter each adapter applies (`OID_GEN_CURRENT_PACKET_FILTER`, `OID_802_3_MULTICAST_LIST`). The
//! wire reads a frame's destination (its first six bytes) and nothing else of the Ethernet header;
//! the offloads parse the rest ([`super::packet`]).
#![forbid(unsafe_code)]

use ndis::{
    NDIS_PACKET_TYPE_ALL_MULTICAST, NDIS_PACKET_TYPE_BROADCAST, NDIS_PACKET_TYPE_DIRECTED,
    NDIS_PACKET_TYPE_MULTICAST, NDIS_PACKET_TYPE_PROMISCUOUS,
};

/// A MAC address.
pub type Address = [u8; 6];

/// The broadcast address.
pub const BROADCAST: Address = [0xff; 6];

/// The shortest frame on the wire without its FCS; shorter sends are padded to it.
pub const MIN_FRAME: usize = 60;
/// The Ethernet header every frame must have: destination, source, `EtherType`.
pub const HEADER: usize = 14;

/// Who a frame is addressed to, as the statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// To one station.
    Unicast,
    /// To a group (the group bit of the first byte).
    Multicast,
    /// To every station (`ff:ff:ff:ff:ff:ff`).
    Broadcast,
}

impl Class {
    #[must_use]
    /// The class of a frame sent to `destination`.
    #[inline]
    pub fn of(destination: &Address) -> Self {
        // The group bit first: most frames are unicast, and need no comparison of all six bytes.
        if destination[0] & 0x01 == 0 {
            Self::Unicast
        } else if *destination == BROADCAST {
            Self::Broadcast
        } else {
            Self::Multicast
        }
    }
}

/// The largest multicast list an adapter keeps (`OID_802_3_MAXIMUM_LIST_SIZE`), as netvmini.
pub const MAX_MULTICAST: usize = 32;

/// The packet filters rvnic supports (`SupportedPacketFilters`); other bits are `NOT_SUPPORTED`.
pub const SUPPORTED_FILTERS: u32 = NDIS_PACKET_TYPE_DIRECTED
    | NDIS_PACKET_TYPE_MULTICAST
    | NDIS_PACKET_TYPE_ALL_MULTICAST
    | NDIS_PACKET_TYPE_BROADCAST
    | NDIS_PACKET_TYPE_PROMISCUOUS;

/// What an adapter accepts: its packet filter, its multicast list and its current address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// `NDIS_PACKET_TYPE_*` bits (0 until the protocol sets it: an adapter receives nothing).
    pub packet_filter: u32,
    /// The adapter's current address (directed frames go to it).
    pub address: Address,
    multicast: [Address; MAX_MULTICAST],
    multicast_len: usize,
}

/// Why a multicast list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListError {
    /// The byte count is not a multiple of 6 (`NDIS_STATUS_INVALID_LENGTH`).
    Length(usize),
    /// More than [`MAX_MULTICAST`] addresses (`NDIS_STATUS_MULTICAST_FULL`).
    Full(usize),
    /// An entry that is not a multicast address (`NDIS_STATUS_INVALID_DATA`).
    NotMulticast,
}

impl Filter {
    #[must_use]
    /// A filter that accepts nothing yet (packet filter 0), for `address`.
    pub const fn new(address: Address) -> Self {
        Self {
            packet_filter: 0,
            address,
            multicast: [[0; 6]; MAX_MULTICAST],
            multicast_len: 0,
        }
    }

    /// Replaces the multicast list with the addresses in `bytes` (6 bytes each).
    ///
    /// # Errors
    /// [`ListError`]; the list is unchanged.
    pub fn set_multicast_list(&mut self, bytes: &[u8]) -> Result<(), ListError> {
        if !bytes.len().is_multiple_of(6) {
            return Err(ListError::Length(bytes.len()));
        }
        let count = bytes.len() / 6;
        if count > MAX_MULTICAST {
            return Err(ListError::Full(count));
        }
        let mut list = [[0u8; 6]; MAX_MULTICAST];
        for (slot, chunk) in list.iter_mut().zip(bytes.chunks_exact(6)) {
            slot.copy_from_slice(chunk);
            if slot[0] & 0x01 == 0 {
                return Err(ListError::NotMulticast);
            }
        }
        self.multicast = list;
        self.multicast_len = count;
        Ok(())
    }

    #[must_use]
    /// The multicast addresses the adapter accepts.
    pub fn multicast_list(&self) -> &[Address] {
        &self.multicast[..self.multicast_len]
    }

    /// Does this adapter receive a frame sent to `destination`?
    #[must_use]
    #[inline]
    pub fn accepts(&self, destination: &Address) -> bool {
        let f = self.packet_filter;
        if f & NDIS_PACKET_TYPE_PROMISCUOUS != 0 {
            return true;
        }
        match Class::of(destination) {
            Class::Broadcast => f & NDIS_PACKET_TYPE_BROADCAST != 0,
            Class::Multicast => {
                f & NDIS_PACKET_TYPE_ALL_MULTICAST != 0
                    || (f & NDIS_PACKET_TYPE_MULTICAST != 0 && self.multicast_list().contains(destination))
            }
            Class::Unicast => f & NDIS_PACKET_TYPE_DIRECTED != 0 && *destination == self.address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Address = [0x02, 0, 0, 0, 0, 1];
    const OTHER: Address = [0x02, 0, 0, 0, 0, 2];
    const GROUP: Address = [0x01, 0x00, 0x5e, 0, 0, 1];
    const OTHER_GROUP: Address = [0x01, 0x00, 0x5e, 0, 0, 2];

    #[test]
    fn a_destination_has_one_class() {
        assert_eq!(Class::of(&GROUP), Class::Multicast);
        assert_eq!(Class::of(&BROADCAST), Class::Broadcast);
        assert_eq!(Class::of(&OTHER), Class::Unicast);
        assert_eq!(
            Class::of(&[0x03, 0, 0, 0, 0, 0]),
            Class::Multicast,
            "the group bit alone decides"
        );
    }

    #[test]
    fn the_filter_follows_ndis_packet_filter_semantics() {
        let mut f = Filter::new(ME);
        assert!(!f.accepts(&ME), "filter 0 receives nothing");
        f.packet_filter = NDIS_PACKET_TYPE_DIRECTED;
        assert!(f.accepts(&ME) && !f.accepts(&OTHER) && !f.accepts(&BROADCAST) && !f.accepts(&GROUP));
        f.packet_filter |= NDIS_PACKET_TYPE_BROADCAST;
        assert!(f.accepts(&BROADCAST));
        f.packet_filter |= NDIS_PACKET_TYPE_MULTICAST;
        assert!(!f.accepts(&GROUP), "not in the list");
        f.set_multicast_list(&GROUP).expect("one address");
        assert!(f.accepts(&GROUP) && !f.accepts(&OTHER_GROUP));
        f.packet_filter = NDIS_PACKET_TYPE_ALL_MULTICAST;
        assert!(f.accepts(&OTHER_GROUP) && !f.accepts(&ME));
        f.packet_filter = NDIS_PACKET_TYPE_PROMISCUOUS;
        assert!(f.accepts(&OTHER) && f.accepts(&GROUP) && f.accepts(&BROADCAST));
    }

    #[test]
    fn multicast_lists_are_checked_like_ndis_does() {
        let mut f = Filter::new(ME);
        assert_eq!(f.set_multicast_list(&[1; 7]), Err(ListError::Length(7)));
        assert_eq!(f.set_multicast_list(&[0x01; 6 * 33]), Err(ListError::Full(33)));
        assert_eq!(f.set_multicast_list(&OTHER), Err(ListError::NotMulticast));
        assert!(f.multicast_list().is_empty(), "a refused list changes nothing");
        f.set_multicast_list(&[0x01; 6 * 32]).expect("32 fit");
        assert_eq!(f.multicast_list().len(), 32);
        f.set_multicast_list(&[]).expect("empty clears");
        assert!(f.multicast_list().is_empty());
    }
}
