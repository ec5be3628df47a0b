//! IEEE 802.1Q on the wire: the tag a sending adapter puts on a frame, and what a receiving adapter
//! does with it.
//!
//! rvnic is a NIC that inserts and strips the tag itself, as Microsoft describes such a miniport on
//! the `NDIS_NET_BUFFER_LIST_8021Q_INFO` page: a send's tag comes from the NBL's out-of-band
//! `Ieee8021QNetBufferListInfo`, and a receive has its tag removed from the frame and mapped into
//! that information. `*PriorityVLANTag` (Microsoft's page of standardized INF keywords for NDIS
//! quality of service) says which of the tag's two fields the adapter handles; `VlanId`
//! (`OID_GEN_VLAN_ID`) is the VLAN it belongs to.
//!
//! On the wire a frame carries its tag beside its bytes, as the four bytes after the addresses
//! would carry it. A frame the sender built with the tag already in its bytes (type 0x8100 after
//! the addresses) is treated the same way: a receiver that handles tags strips that tag too, one
//! that does not keeps it (and then takes a frame 4 bytes longer than its largest, as an 802.1Q
//! frame is). Two choices are rvnic's, as a NIC's hardware would make them:
//!
//! - an adapter with VLANs off is in no VLAN: it drops a VLAN's frames (a priority tag passes);
//!   the NIC does not write a tag into the bytes of a frame it receives;
//! - a frame that asks for checksum or large-send offload keeps a tag in its bytes (its header
//!   offsets and checksums are the sender's, with the tag): the tag decides which ports take the
//!   frame but is not stripped. TCP/IP puts tags out of band when the NIC handles them.

use super::qos::Classes;
use crate::nbl::{Nbl, NetBuffer};

/// What `*PriorityVLANTag` enables: inserting and stripping the 802.1p priority, the VLAN
/// identifier, both, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tagging {
    /// The tag's priority is sent and indicated.
    pub priority: bool,
    /// The tag's VLAN identifier is sent, filtered and indicated.
    pub vlan: bool,
}

impl Tagging {
    /// The keyword's enumeration, with Microsoft's descriptions.
    pub const VALUES: [(u32, &'static str); 4] = [
        (0, "Packet Priority & VLAN Disabled"),
        (1, "Packet Priority Enabled"),
        (2, "VLAN Enabled"),
        (3, "Packet Priority & VLAN Enabled"),
    ];

    /// What a (validated) keyword value enables: bit 0 the priority, bit 1 the VLAN.
    #[must_use]
    pub const fn from_keyword(value: u32) -> Self {
        Self {
            priority: value & 1 != 0,
            vlan: value & 2 != 0,
        }
    }

    /// Whether the adapter handles tags at all (inserts and strips them).
    #[must_use]
    pub const fn any(self) -> bool {
        self.priority || self.vlan
    }
}

/// The largest VLAN identifier: 0xFFF is reserved by IEEE 802.1Q, and 0 means "no VLAN".
pub const MAX_VLAN_ID: u16 = 4094;

/// One adapter's 802.1Q settings, as the wire applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vlan {
    /// What `*PriorityVLANTag` enables.
    pub tagging: Tagging,
    /// The adapter's VLAN (`VlanId`, `OID_GEN_VLAN_ID`); 0 for none. Always 0 when VLANs are not
    /// enabled.
    pub id: u16,
}

/// An 802.1Q tag as a frame carries it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The 802.1p priority (0-7).
    pub priority: u8,
    /// The VLAN identifier (0: a priority-only tag).
    pub vlan: u16,
}

impl Tag {
    /// The tag in a frame's bytes: the tag control information after type 0x8100 at offset 12.
    #[must_use]
    pub fn in_frame(head: &[u8]) -> Option<Self> {
        match head.get(12..16)? {
            [0x81, 0x00, high, low] => Some(Self {
                priority: high >> 5,
                vlan: u16::from_be_bytes([high & 0x0f, *low]),
            }),
            _ => None,
        }
    }
}

/// What a receiving adapter does with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Not for this adapter: another VLAN's frame, or a VLAN's frame at an adapter outside VLANs.
    /// Counted as a receive discard.
    Drop,
    /// Indicated as [`Delivery`] says.
    Deliver(Delivery),
}

/// How a receiver indicates a frame it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The 802.1Q information to indicate out of band (`None`: none).
    pub oob: Option<Tag>,
    /// The frame's bytes hold a tag to remove first.
    pub strip: bool,
    /// The frame's bytes hold a tag that stays: the frame may then be [`TAG_LEN`] bytes longer
    /// than the adapter's largest (as an 802.1Q frame on the wire is).
    pub kept: bool,
}

impl Delivery {
    /// An untagged frame's.
    pub const UNTAGGED: Self = Self {
        oob: None,
        strip: false,
        kept: false,
    };

    /// A frame indicated with the NIC's tag `oob` and its bytes as they are.
    #[must_use]
    #[inline]
    pub const fn tagged(oob: Option<Tag>) -> Self {
        Self {
            oob,
            strip: false,
            kept: false,
        }
    }

    /// The frame's length once delivered, from its length `len` as sent.
    #[must_use]
    #[inline]
    pub const fn length(self, len: usize) -> usize {
        if self.strip {
            len.saturating_sub(TAG_LEN)
        } else {
            len
        }
    }

    /// The longest frame a receiver whose largest is `max_frame` takes this way.
    #[must_use]
    #[inline]
    pub const fn limit(self, max_frame: usize) -> usize {
        if self.kept { max_frame + TAG_LEN } else { max_frame }
    }
}

impl Vlan {
    /// Whether the adapter is in a VLAN: it takes only that VLAN's frames.
    #[must_use]
    #[inline]
    pub const fn in_a_vlan(&self) -> bool {
        self.tagging.vlan && self.id != 0
    }

    /// The tag the adapter's NIC puts on a frame whose NBL asks for `(priority, vlan)` (zeros: the
    /// NBL asks for nothing): the priority if priority tagging is on; the NBL's VLAN, or the
    /// adapter's own when the NBL names none, if VLANs are on. `None` when that leaves nothing.
    #[must_use]
    #[inline]
    pub fn send_tag(&self, (priority, vlan): (u8, u16)) -> Option<Tag> {
        let priority = if self.tagging.priority { priority } else { 0 };
        let vlan = match (self.tagging.vlan, vlan) {
            (false, _) => 0,
            (true, 0) => self.id,
            (true, id) => id,
        };
        (priority != 0 || vlan != 0).then_some(Tag { priority, vlan })
    }

    /// What the adapter does with a frame tagged `tag` (on the wire, or in its bytes when
    /// `in_frame`). An adapter in a VLAN takes only that VLAN's frames; one with VLANs off takes no
    /// VLAN's frames (it is in none); one with tagging on strips the tag and indicates what it
    /// handles of it; one with tagging off passes a priority tag in the bytes through unchanged.
    #[must_use]
    #[inline]
    pub fn admit(&self, tag: Option<Tag>, in_frame: bool) -> Admit {
        let in_a_vlan = self.in_a_vlan();
        // An untagged frame (the common case, first): only an adapter in a VLAN refuses it.
        let Some(tag) = tag else {
            return if in_a_vlan {
                Admit::Drop
            } else {
                Admit::Deliver(Delivery::UNTAGGED)
            };
        };
        let member = if in_a_vlan {
            tag.vlan == self.id
        } else {
            tag.vlan == 0 || self.tagging.vlan
        };
        if !member {
            return Admit::Drop;
        }
        if !self.tagging.any() {
            return Admit::Deliver(Delivery {
                kept: in_frame,
                ..Delivery::UNTAGGED
            });
        }
        let oob = Tag {
            priority: if self.tagging.priority { tag.priority } else { 0 },
            vlan: if self.tagging.vlan { tag.vlan } else { 0 },
        };
        Admit::Deliver(Delivery {
            oob: (oob.priority != 0 || oob.vlan != 0).then_some(oob),
            strip: in_frame,
            kept: false,
        })
    }
}

/// Bytes of an 802.1Q tag in a frame (type 0x8100 and the tag control information).
pub const TAG_LEN: usize = 4;

/// The 802.1Q information a send asks for: its NBL's, except that a send without a priority from
/// an adapter with an NDIS QoS classification (`classes`, `None` without one: `crate::wire::qos`) gets
/// the priority its first frame's class maps to (the information is per NBL, so is the class).
#[inline]
pub(super) fn send_info(nbl: &Nbl, classes: Option<&Classes>) -> (u8, u16) {
    let (priority, vlan) = nbl.ieee8021q();
    match classes {
        Some(classes) if priority == 0 => (classified(nbl, classes), vlan),
        _ => (priority, vlan),
    }
}

/// The priority of the class the first frame of `nbl` falls in (0: none).
#[inline(never)]
fn classified(nbl: &Nbl, classes: &Classes) -> u8 {
    // Ethernet, 802.1Q, IPv6 and the first four bytes of TCP or UDP.
    let mut head = [0u8; 14 + TAG_LEN + 40 + 4];
    let Some(nb) = nbl.frames().next() else {
        return 0;
    };
    let n = nb.len().min(head.len());
    if !nb.reader().read(&mut head[..n]) {
        return 0;
    }
    classes.priority(&head[..n]).unwrap_or(0)
}

/// The tag in frame `nb`'s bytes (from `whole`, its bytes in one piece, when the caller has them).
#[inline]
pub(super) fn tag_in(nb: &NetBuffer<'_>, whole: Option<&[u8]>) -> Option<Tag> {
    match whole {
        Some(bytes) => Tag::in_frame(bytes),
        None => tag_in_pieces(nb),
    }
}

/// [`tag_in`] for a frame split over MDLs (rare: kept out of the common path).
#[cold]
#[inline(never)]
fn tag_in_pieces(nb: &NetBuffer<'_>) -> Option<Tag> {
    Tag::in_frame(&nb.reader().read_array::<16>()?)
}

/// Reads frame `nb` (from `whole`, its bytes in one piece, when the caller has them) into
/// `frame` without the 802.1Q tag after its addresses: `frame` is [`TAG_LEN`] bytes shorter than
/// the frame. `false` if the sender's pages could not be read.
pub(super) fn read_stripped(nb: &NetBuffer<'_>, whole: Option<&[u8]>, frame: &mut [u8]) -> bool {
    let Some((addresses, rest)) = frame.split_at_mut_checked(12) else {
        return false;
    };
    if let Some(bytes) = whole
        && bytes.len() == addresses.len() + TAG_LEN + rest.len()
    {
        addresses.copy_from_slice(&bytes[..12]);
        rest.copy_from_slice(&bytes[12 + TAG_LEN..]);
        return true;
    }
    let mut reader = nb.reader();
    reader.read(addresses) && reader.skip(TAG_LEN) && reader.read(rest)
}

/// Sets a receive's 802.1Q information (zeros for none: the NBL is reused, so it is always set).
#[inline]
pub(super) fn set_tag(nbl: &mut Nbl, tag: Option<Tag>) {
    let Tag { priority, vlan } = tag.unwrap_or(Tag { priority: 0, vlan: 0 });
    nbl.set_ieee8021q(priority, vlan);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Tagging = Tagging {
        priority: true,
        vlan: true,
    };

    fn vlan(tagging: u32, id: u16) -> Vlan {
        Vlan {
            tagging: Tagging::from_keyword(tagging),
            id,
        }
    }

    #[allow(
        clippy::unnecessary_wraps,
        reason = "compared with the Option that send_tag and Admit carry"
    )]
    fn tag(priority: u8, vlan: u16) -> Option<Tag> {
        Some(Tag { priority, vlan })
    }

    #[test]
    fn each_keyword_value_enables_its_fields() {
        let got: Vec<Tagging> = Tagging::VALUES
            .iter()
            .map(|(v, _)| Tagging::from_keyword(*v))
            .collect();
        assert_eq!(got[0], Tagging::default());
        assert_eq!((got[1].priority, got[1].vlan), (true, false));
        assert_eq!((got[2].priority, got[2].vlan), (false, true));
        assert_eq!(got[3], BOTH);
        assert!(!got[0].any() && got[1].any());
    }

    #[test]
    fn a_sender_tags_what_it_handles_with_its_own_vlan_by_default() {
        assert_eq!(vlan(3, 0).send_tag((5, 12)), tag(5, 12));
        assert_eq!(vlan(3, 7).send_tag((5, 0)), tag(5, 7), "the adapter's VLAN");
        assert_eq!(vlan(3, 7).send_tag((0, 12)), tag(0, 12), "the NBL's VLAN wins");
        assert_eq!(vlan(1, 0).send_tag((5, 12)), tag(5, 0), "priority only");
        assert_eq!(vlan(2, 0).send_tag((5, 12)), tag(0, 12), "VLAN only");
        assert_eq!(vlan(0, 0).send_tag((5, 12)), None, "tagging off");
        assert_eq!(vlan(3, 0).send_tag((0, 0)), None, "nothing asked, no VLAN");
    }

    #[test]
    fn a_receiver_in_a_vlan_takes_only_that_vlan() {
        let v = vlan(3, 7);
        let deliver = |oob, strip| {
            Admit::Deliver(Delivery {
                oob,
                strip,
                kept: false,
            })
        };
        assert_eq!(v.admit(tag(2, 7), false), deliver(tag(2, 7), false));
        assert_eq!(v.admit(tag(2, 8), false), Admit::Drop);
        assert_eq!(v.admit(None, false), Admit::Drop, "untagged");
        assert_eq!(v.admit(tag(2, 0), false), Admit::Drop, "priority only");
        assert_eq!(
            v.admit(tag(0, 7), true),
            deliver(tag(0, 7), true),
            "a tag in the bytes"
        );
    }

    #[test]
    fn a_receiver_outside_vlans_takes_untagged_and_priority_frames_only() {
        let deliver = |oob, strip| {
            Admit::Deliver(Delivery {
                oob,
                strip,
                kept: false,
            })
        };
        let any = vlan(3, 0);
        assert_eq!(
            any.admit(tag(1, 9), false),
            deliver(tag(1, 9), false),
            "every VLAN"
        );
        assert_eq!(any.admit(None, false), deliver(None, false));
        let priority = vlan(1, 0);
        assert_eq!(priority.admit(tag(1, 9), false), Admit::Drop);
        assert_eq!(priority.admit(tag(4, 0), true), deliver(tag(4, 0), true));
        let off = vlan(0, 0);
        assert_eq!(off.admit(tag(1, 9), true), Admit::Drop);
        let kept = Delivery {
            kept: true,
            ..Delivery::UNTAGGED
        };
        assert_eq!(
            off.admit(tag(4, 0), true),
            Admit::Deliver(kept),
            "left in the bytes"
        );
        assert_eq!(
            off.admit(tag(4, 0), false),
            deliver(None, false),
            "a wire tag is not kept"
        );
        assert_eq!((kept.length(1518), kept.limit(1514)), (1518, 1518));
        assert_eq!(vlan(2, 0).admit(tag(4, 3), false), deliver(tag(0, 3), false));
        assert_eq!(vlan(2, 0).admit(tag(4, 0), true), deliver(None, true));
    }

    #[test]
    fn a_stripped_frame_is_a_tag_shorter() {
        let strip = Delivery {
            strip: true,
            ..Delivery::UNTAGGED
        };
        assert_eq!((strip.length(1518), strip.limit(1514)), (1514, 1514));
        assert_eq!(Delivery::UNTAGGED.length(60), 60);
    }

    #[test]
    fn a_tag_in_the_bytes_is_read_after_the_addresses() {
        let mut frame = [0u8; 18];
        assert_eq!(Tag::in_frame(&frame), None);
        frame[12..16].copy_from_slice(&[0x81, 0x00, 0xa0 | 0x0f, 0xfe]);
        assert_eq!(Tag::in_frame(&frame), tag(5, 0xffe));
        assert_eq!(Tag::in_frame(&frame[..15]), None, "too short");
    }
}
