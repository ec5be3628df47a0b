//! The adapter's registry keywords: read once in `MiniportInitializeEx`, validated here.
//!
//! [`KEYWORDS`] is the single source of truth: the INF's advanced properties are checked against it
//! (`rvnic check-inf`). A missing keyword takes its default; a present but invalid one also takes the
//! default and is reported ([`Fallback`]), never failing initialize: a typo in the registry must not
//! take the adapter down.
#![forbid(unsafe_code)]

use crate::offload::{Both, CHECKSUM_VALUES, Offloads, SWITCH_VALUES};
use crate::wire::vlan::{MAX_VLAN_ID, Tagging, Vlan};
pub use crate::wire::vmq::VmqConfig;

/// How a keyword's value is checked (and how the INF presents it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of these numbers (INF `enum`), with the text the user sees.
    Enum(&'static [(u32, &'static str)]),
    /// A number in `min..=max` (INF `int`); `step` is the INF's step.
    Int {
        /// The smallest value.
        min: u32,
        /// The largest value.
        max: u32,
        /// The INF's step between values.
        step: u32,
    },
    /// A MAC address as 12 hex digits (INF `edit`, `NetworkAddress`); empty means "not set".
    MacAddress,
}

/// One registry keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    /// The registry value's name, as the INF writes it.
    pub name: &'static str,
    /// The INF's `ParamDesc`.
    pub description: &'static str,
    /// What values it takes.
    pub kind: Kind,
    /// The default (for `MacAddress`: 0, meaning "use the permanent address").
    pub default: u32,
}

/// Where a sent frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Back to the sending adapter itself.
    Loopback,
    /// To the other adapter of a pair (adapters pair up in the order they start, per segment).
    Pair,
    /// To every other adapter on the segment, as netvmini's hub does.
    Hub,
}

impl Topology {
    /// The `Topology` keyword's enumeration: registry value and the name the INF shows.
    pub const VALUES: [(u32, &'static str); 3] = [(0, "Loopback"), (1, "Pair"), (2, "Hub")];

    /// The topology a registry value selects, if any.
    #[must_use]
    pub const fn from_value(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Loopback),
            1 => Some(Self::Pair),
            2 => Some(Self::Hub),
            _ => None,
        }
    }

    /// The registry value that selects this topology (the inverse of the keyword's check).
    #[must_use]
    pub const fn value(self) -> u32 {
        match self {
            Self::Loopback => Self::VALUES[0].0,
            Self::Pair => Self::VALUES[1].0,
            Self::Hub => Self::VALUES[2].0,
        }
    }
}

/// `*JumboPacket` values: the frame size including the 14-byte Ethernet header (the standard
/// enumeration certification expects).
pub const JUMBO_PACKET: [(u32, &str); 3] = [(1514, "Disabled"), (4088, "4088 Bytes"), (9014, "9014 Bytes")];

/// `*QOS` values, with Microsoft's descriptions.
pub const QOS_VALUES: [(u32, &str); 2] = [(0, "QoS Disabled"), (1, "QoS Enabled")];

/// Every keyword rvnic reads, with its checks and default.
pub const KEYWORDS: [Keyword; 25] = [
    Keyword {
        name: "NetworkAddress",
        description: "Network Address",
        kind: Kind::MacAddress,
        default: 0,
    },
    Keyword {
        name: "*JumboPacket",
        description: "Jumbo Packet",
        kind: Kind::Enum(&JUMBO_PACKET),
        default: 1514,
    },
    Keyword {
        name: "*ReceiveBuffers",
        description: "Receive Buffers",
        kind: Kind::Int {
            min: 64,
            max: 4096,
            step: 64,
        },
        default: 256,
    },
    Keyword {
        name: "*TransmitBuffers",
        description: "Transmit Buffers",
        kind: Kind::Int {
            min: 64,
            max: 4096,
            step: 64,
        },
        default: 256,
    },
    Keyword {
        name: "LinkSpeed",
        description: "Link Speed (Gbit/s)",
        kind: Kind::Int {
            min: 1,
            max: 100,
            step: 1,
        },
        default: 10,
    },
    Keyword {
        name: "Topology",
        description: "Topology",
        kind: Kind::Enum(&Topology::VALUES),
        default: 2,
    },
    Keyword {
        name: "SegmentId",
        description: "Segment (adapters on one segment share a wire)",
        kind: Kind::Int {
            min: 0,
            max: 255,
            step: 1,
        },
        default: 0,
    },
    // The standardized TCP/IP offload keywords ("Using Registry Values to Enable and Disable Task
    // Offloading"), with Microsoft's enumerations and defaults (all on).
    Keyword {
        name: "*IPChecksumOffloadIPv4",
        description: "IPv4 Checksum Offload",
        kind: Kind::Enum(&CHECKSUM_VALUES),
        default: 3,
    },
    Keyword {
        name: "*TCPChecksumOffloadIPv4",
        description: "TCP Checksum Offload (IPv4)",
        kind: Kind::Enum(&CHECKSUM_VALUES),
        default: 3,
    },
    Keyword {
        name: "*TCPChecksumOffloadIPv6",
        description: "TCP Checksum Offload (IPv6)",
        kind: Kind::Enum(&CHECKSUM_VALUES),
        default: 3,
    },
    Keyword {
        name: "*UDPChecksumOffloadIPv4",
        description: "UDP Checksum Offload (IPv4)",
        kind: Kind::Enum(&CHECKSUM_VALUES),
        default: 3,
    },
    Keyword {
        name: "*UDPChecksumOffloadIPv6",
        description: "UDP Checksum Offload (IPv6)",
        kind: Kind::Enum(&CHECKSUM_VALUES),
        default: 3,
    },
    Keyword {
        name: "*LsoV2IPv4",
        description: "Large Send Offload V2 (IPv4)",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    Keyword {
        name: "*LsoV2IPv6",
        description: "Large Send Offload V2 (IPv6)",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    Keyword {
        name: "*RscIPv4",
        description: "Recv Segment Coalescing (IPv4)",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    Keyword {
        name: "*RscIPv6",
        description: "Recv Segment Coalescing (IPv6)",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    // 802.1Q: the standardized keyword ("Standardized INF Keywords for NDIS QoS": default 3,
    // priority and VLAN), and the VLAN the adapter is in, which `OID_GEN_VLAN_ID`'s page names
    // ("VlanId, REG_DWORD"; 0 for none, 4095 is reserved).
    Keyword {
        name: "*PriorityVLANTag",
        description: "Packet Priority & VLAN",
        kind: Kind::Enum(&Tagging::VALUES),
        default: 3,
    },
    Keyword {
        name: "VlanId",
        description: "VLAN ID",
        kind: Kind::Int {
            min: 0,
            max: MAX_VLAN_ID as u32,
            step: 1,
        },
        default: 0,
    },
    // Receive-side scaling ("Standardized INF Keywords for RSS"): *RSS on by default, and the
    // editable counts; *NumRSSQueues' range is the device's (rvnic's queues are DPCs, up to
    // sixteen), *MaxRssProcessors' runs to MAXIMUM_PROC_PER_SYSTEM.
    Keyword {
        name: "*RSS",
        description: "Receive Side Scaling",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    Keyword {
        name: "*NumRSSQueues",
        description: "Maximum Number of RSS Queues",
        kind: Kind::Int {
            min: 1,
            // rss::MAX_QUEUES (a test checks they agree).
            max: 16,
            step: 1,
        },
        default: 4,
    },
    // NDIS QoS ("Standardized INF Keywords for NDIS QoS"): on by default; absent, no QoS
    // capabilities are reported at all.
    Keyword {
        name: "*QOS",
        description: "NDIS QoS",
        kind: Kind::Enum(&QOS_VALUES),
        default: 1,
    },
    Keyword {
        name: "*MaxRssProcessors",
        description: "Maximum Number of RSS Processors",
        kind: Kind::Int {
            min: 1,
            max: 2048,
            step: 1,
        },
        default: 8,
    },
    // Virtual machine queues ("Standardized INF Keywords for VMQ"): read only with the hidden
    // *RssOrVmqPreference at 1. Lookahead split is not supported since NDIS 6.30: its one value
    // says so.
    Keyword {
        name: "*VMQ",
        description: "Virtual Machine Queues",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
    Keyword {
        name: "*VMQLookaheadSplit",
        description: "VMQ Lookahead Split",
        kind: Kind::Enum(&[(0, "Disabled")]),
        default: 0,
    },
    Keyword {
        name: "*VMQVlanFiltering",
        description: "VMQ VLAN Filtering",
        kind: Kind::Enum(&SWITCH_VALUES),
        default: 1,
    },
];

/// `*RssOrVmqPreference`: the hidden keyword ("must not be specified in the INF file") that
/// chooses which of RSS (0, or absent) and VMQ (1) is enabled; the other's keywords are not read.
pub const RSS_OR_VMQ_PREFERENCE: Keyword = Keyword {
    name: "*RssOrVmqPreference",
    description: "",
    kind: Kind::Enum(&[(0, "RSS"), (1, "VMQ")]),
    default: 0,
};

/// A keyword whose registry value was rejected, so its default applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback {
    /// The keyword's name.
    pub keyword: &'static str,
    /// Why its value was refused.
    pub reason: Reason,
}

/// Why a value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not one of the enumeration's values.
    NotAllowed(u32),
    /// Outside `min..=max`.
    OutOfRange(u32),
    /// A MAC address of the wrong length.
    AddressLength(usize),
    /// A multicast (group) address; an adapter's own address must be unicast.
    MulticastAddress,
    /// A universally administered address; configured addresses must be locally administered.
    NotLocallyAdministered,
    /// The all-zero address.
    ZeroAddress,
}

/// The validated configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// `NetworkAddress`: the current address, if one was configured (else the permanent one).
    pub network_address: Option<[u8; 6]>,
    /// `*JumboPacket`: the largest frame, header included.
    pub max_frame: u32,
    /// `*ReceiveBuffers`, rounded up to a power of two (the descriptor rings need one).
    pub receive_buffers: u32,
    /// `*TransmitBuffers`, rounded up to a power of two.
    pub transmit_buffers: u32,
    /// `LinkSpeed`, in bits per second.
    pub link_speed: u64,
    /// `Topology`: how adapters with the same `SegmentId` are wired.
    pub topology: Topology,
    /// `SegmentId`: which adapters share a wire.
    pub segment: u32,
    /// The task offloads the adapter starts with (the standardized offload keywords).
    pub offloads: Offloads,
    /// `*PriorityVLANTag` and `VlanId` (ignored, 0, when VLANs are not enabled).
    pub vlan: Vlan,
    /// Receive queues for RSS: `*NumRSSQueues`, at most `*MaxRssProcessors` (each queue has a
    /// processor); 0 when `*RSS` is off.
    pub rss_queues: u32,
    /// `*QOS`: `None` when the keyword is absent (no QoS capabilities reported), else whether QoS
    /// is enabled (with it, priority tagging is on whatever `*PriorityVLANTag` says).
    pub qos: Option<bool>,
    /// VM queues: enabled by `*RssOrVmqPreference` 1 and `*VMQ` 1, with VLAN filters if
    /// `*VMQVlanFiltering` is 1. `None` otherwise.
    pub vmq: Option<VmqConfig>,
}

/// Bytes of an Ethernet header, which `*JumboPacket` includes and the MTU does not.
pub const ETHERNET_HEADER: u32 = 14;

impl Config {
    /// The MTU NDIS reports (frame size without the Ethernet header).
    #[must_use]
    pub const fn mtu(&self) -> u32 {
        self.max_frame - ETHERNET_HEADER
    }
}

/// Up to one fallback per keyword (the hidden preference included), without allocating.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fallbacks {
    items: [Option<Fallback>; KEYWORDS.len() + 1],
    len: usize,
}

impl Fallbacks {
    fn push(&mut self, f: Fallback) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = Some(f);
            self.len += 1;
        }
    }

    /// The refused keywords, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &Fallback> {
        self.items[..self.len].iter().flatten()
    }

    #[must_use]
    /// How many keywords were refused.
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    /// Whether every keyword was accepted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn keyword(name: &str) -> &'static Keyword {
    KEYWORDS.iter().find(|k| k.name == name).unwrap_or(&KEYWORDS[0])
}

/// Checks a number against its keyword; `Err` says why it was refused.
fn check(k: &Keyword, value: u32) -> Result<u32, Reason> {
    match k.kind {
        Kind::Enum(values) if values.iter().any(|(v, _)| *v == value) => Ok(value),
        Kind::Enum(_) => Err(Reason::NotAllowed(value)),
        Kind::Int { min, max, .. } if (min..=max).contains(&value) => Ok(value),
        Kind::Int { .. } | Kind::MacAddress => Err(Reason::OutOfRange(value)),
    }
}

/// Checks a configured MAC address: six bytes, unicast, locally administered, not zero.
///
/// # Errors
/// The [`Reason`] the address is refused.
pub fn check_address(bytes: &[u8]) -> Result<[u8; 6], Reason> {
    let address: [u8; 6] = bytes.try_into().map_err(|_| Reason::AddressLength(bytes.len()))?;
    if address == [0; 6] {
        Err(Reason::ZeroAddress)
    } else if address[0] & 0x01 != 0 {
        Err(Reason::MulticastAddress)
    } else if address[0] & 0x02 == 0 {
        Err(Reason::NotLocallyAdministered)
    } else {
        Ok(address)
    }
}

impl Config {
    /// Validates what the registry holds: `number(name)` is the keyword read as a decimal integer
    /// (`None` if missing or not a number), `address` what `NdisReadNetworkAddress` returned.
    pub fn from_registry(
        mut number: impl FnMut(&'static str) -> Option<u32>,
        address: Option<&[u8]>,
    ) -> (Self, Fallbacks) {
        let mut fallbacks = Fallbacks::default();
        // Absent is not the default for *QOS ("must not report any NDIS QoS hardware
        // capabilities"); a present value is validated below like any other.
        let qos_present = number("*QOS").is_some();
        let vmq_preferred = number(RSS_OR_VMQ_PREFERENCE.name).map(|v| check(&RSS_OR_VMQ_PREFERENCE, v));
        let vmq_preferred = match vmq_preferred {
            None => false,
            Some(Ok(v)) => v == 1,
            Some(Err(reason)) => {
                fallbacks.push(Fallback {
                    keyword: RSS_OR_VMQ_PREFERENCE.name,
                    reason,
                });
                false
            }
        };
        let mut read = |name: &'static str| -> u32 {
            let k = keyword(name);
            match number(k.name).map(|v| check(k, v)) {
                None => k.default,
                Some(Ok(v)) => v,
                Some(Err(reason)) => {
                    fallbacks.push(Fallback {
                        keyword: k.name,
                        reason,
                    });
                    k.default
                }
            }
        };
        let max_frame = read("*JumboPacket");
        let receive_buffers = read("*ReceiveBuffers").next_power_of_two();
        let transmit_buffers = read("*TransmitBuffers").next_power_of_two();
        let link_speed = u64::from(read("LinkSpeed")) * 1_000_000_000;
        let topology = Topology::from_value(read("Topology")).unwrap_or(Topology::Hub);
        let segment = read("SegmentId");
        let offloads = Offloads {
            ip4: Both::from_keyword(read("*IPChecksumOffloadIPv4")),
            tcp4: Both::from_keyword(read("*TCPChecksumOffloadIPv4")),
            tcp6: Both::from_keyword(read("*TCPChecksumOffloadIPv6")),
            udp4: Both::from_keyword(read("*UDPChecksumOffloadIPv4")),
            udp6: Both::from_keyword(read("*UDPChecksumOffloadIPv6")),
            lso4: read("*LsoV2IPv4") == 1,
            lso6: read("*LsoV2IPv6") == 1,
            rsc4: read("*RscIPv4") == 1,
            rsc6: read("*RscIPv6") == 1,
        };
        let qos = qos_present.then(|| read("*QOS") == 1);
        let mut tagging = Tagging::from_keyword(read("*PriorityVLANTag"));
        // With *QOS 1, packet priority is enabled whatever *PriorityVLANTag says (the page's
        // table of the two keywords).
        tagging.priority |= qos == Some(true);
        let vlan_id = u16::try_from(read("VlanId")).unwrap_or(0);
        let vlan = Vlan {
            tagging,
            id: if tagging.vlan { vlan_id } else { 0 },
        };
        // RSS or VMQ: each side's keywords are read only when the preference picks it.
        let rss_queues = if !vmq_preferred && read("*RSS") == 1 {
            read("*NumRSSQueues").min(read("*MaxRssProcessors"))
        } else {
            0
        };
        let vmq = (vmq_preferred && read("*VMQ") == 1).then(|| {
            // Validated, and nothing to apply: split is never supported.
            let _ = read("*VMQLookaheadSplit");
            VmqConfig {
                vlan_filtering: read("*VMQVlanFiltering") == 1,
            }
        });
        let network_address = match address.map(check_address) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(reason)) => {
                fallbacks.push(Fallback {
                    keyword: "NetworkAddress",
                    reason,
                });
                None
            }
        };
        let config = Self {
            network_address,
            max_frame,
            receive_buffers,
            transmit_buffers,
            link_speed,
            topology,
            segment,
            offloads,
            vlan,
            rss_queues,
            qos,
            vmq,
        };
        (config, fallbacks)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from_registry(|_| None, None).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, u32)], address: Option<&[u8]>) -> (Config, Vec<Fallback>) {
        let (c, f) = Config::from_registry(
            |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
            address,
        );
        (c, f.iter().copied().collect())
    }

    #[test]
    fn every_topology_value_reads_back_as_itself() {
        for (value, _) in Topology::VALUES {
            assert_eq!(Topology::from_value(value).map(Topology::value), Some(value));
        }
    }

    #[test]
    fn a_missing_keyword_takes_its_documented_default() {
        let (c, f) = from(&[], None);
        assert!(f.is_empty());
        assert_eq!(
            c,
            Config {
                network_address: None,
                max_frame: 1514,
                receive_buffers: 256,
                transmit_buffers: 256,
                link_speed: 10_000_000_000,
                topology: Topology::Hub,
                segment: 0,
                offloads: Offloads {
                    ip4: Both { tx: true, rx: true },
                    tcp4: Both { tx: true, rx: true },
                    udp4: Both { tx: true, rx: true },
                    tcp6: Both { tx: true, rx: true },
                    udp6: Both { tx: true, rx: true },
                    lso4: true,
                    lso6: true,
                    rsc4: true,
                    rsc6: true,
                },
                vlan: Vlan {
                    tagging: Tagging {
                        priority: true,
                        vlan: true
                    },
                    id: 0
                },
                rss_queues: 4,
                qos: None,
                vmq: None,
            }
        );
        assert_eq!(c.mtu(), 1500);
    }

    #[test]
    fn qos_is_absent_without_its_keyword_and_turns_priority_on() {
        assert_eq!(from(&[], None).0.qos, None);
        for (qos, tag, priority, vlan) in [
            (0, 0, false, false),
            (1, 0, true, false),
            (1, 2, true, true),
            (0, 2, false, true),
        ] {
            let (c, f) = from(&[("*QOS", qos), ("*PriorityVLANTag", tag)], None);
            assert!(f.is_empty(), "{f:?}");
            assert_eq!(c.qos, Some(qos == 1));
            assert_eq!(
                (c.vlan.tagging.priority, c.vlan.tagging.vlan),
                (priority, vlan),
                "*QOS {qos}, *PriorityVLANTag {tag}"
            );
        }
        let (c, f) = from(&[("*QOS", 2)], None);
        assert_eq!(
            (c.qos, f.len()),
            (Some(true), 1),
            "an invalid value falls back to enabled"
        );
    }

    #[test]
    fn the_queue_keyword_allows_every_queue_the_driver_has() {
        let k = keyword("*NumRSSQueues");
        assert!(matches!(k.kind, Kind::Int { max, .. } if max as usize == crate::wire::scaling::MAX_QUEUES));
    }

    #[test]
    fn rss_queues_are_the_smaller_count_and_none_with_rss_off() {
        for (rss, queues, processors, expected) in
            [(1, 8, 2, 2), (1, 3, 8, 3), (0, 8, 8, 0), (1, 16, 2048, 16)]
        {
            let (c, f) = from(
                &[
                    ("*RSS", rss),
                    ("*NumRSSQueues", queues),
                    ("*MaxRssProcessors", processors),
                ],
                None,
            );
            assert!(f.is_empty(), "{f:?}");
            assert_eq!(
                c.rss_queues, expected,
                "*RSS {rss}, {queues} queues, {processors} processors"
            );
        }
        let (c, f) = from(&[("*NumRSSQueues", 17), ("*MaxRssProcessors", 0)], None);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(c.rss_queues, 4, "both fall back: 4 queues, 8 processors");
    }

    #[test]
    fn valid_values_are_taken_and_buffer_counts_round_up_to_a_power_of_two() {
        let (c, f) = from(
            &[
                ("*JumboPacket", 9014),
                ("*ReceiveBuffers", 1000),
                ("*TransmitBuffers", 64),
                ("LinkSpeed", 100),
                ("Topology", 1),
                ("SegmentId", 7),
                ("*TCPChecksumOffloadIPv4", 2),
                ("*UDPChecksumOffloadIPv6", 1),
                ("*IPChecksumOffloadIPv4", 0),
                ("*LsoV2IPv6", 0),
                ("*RscIPv4", 0),
                ("*PriorityVLANTag", 2),
                ("VlanId", 4094),
            ],
            Some(&[0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]),
        );
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            (c.max_frame, c.mtu(), c.receive_buffers, c.transmit_buffers),
            (9014, 9000, 1024, 64)
        );
        assert_eq!(
            (c.link_speed, c.topology, c.segment),
            (100_000_000_000, Topology::Pair, 7)
        );
        assert_eq!(c.network_address, Some([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]));
        let o = c.offloads;
        assert_eq!(
            (o.tcp4, o.udp6, o.ip4, o.tcp6),
            (
                Both { tx: false, rx: true },
                Both { tx: true, rx: false },
                Both { tx: false, rx: false },
                Both { tx: true, rx: true }
            )
        );
        assert_eq!((o.lso4, o.lso6, o.rsc4, o.rsc6), (true, false, false, true));
        assert_eq!((c.vlan.tagging, c.vlan.id), (Tagging::from_keyword(2), 4094));
    }

    #[test]
    fn a_vlan_id_is_kept_only_when_vlans_are_enabled() {
        for (tagging, id) in [(0, 0), (1, 0), (2, 12), (3, 12)] {
            let (c, f) = from(&[("*PriorityVLANTag", tagging), ("VlanId", 12)], None);
            assert!(f.is_empty(), "{f:?}");
            assert_eq!(c.vlan.id, id, "*PriorityVLANTag {tagging}");
        }
    }

    #[test]
    fn every_invalid_value_falls_back_to_the_default_and_says_why() {
        let (c, f) = from(
            &[
                ("*JumboPacket", 9000),
                ("*ReceiveBuffers", 8),
                ("*TransmitBuffers", 5000),
                ("LinkSpeed", 0),
                ("Topology", 3),
                ("SegmentId", 256),
                ("*TCPChecksumOffloadIPv6", 4),
                ("*RscIPv6", 2),
                ("*PriorityVLANTag", 4),
                ("VlanId", 4095),
            ],
            Some(&[0x01, 0, 0, 0, 0, 1]),
        );
        assert_eq!(c, Config::default());
        assert_eq!(
            f,
            [
                Fallback {
                    keyword: "*JumboPacket",
                    reason: Reason::NotAllowed(9000)
                },
                Fallback {
                    keyword: "*ReceiveBuffers",
                    reason: Reason::OutOfRange(8)
                },
                Fallback {
                    keyword: "*TransmitBuffers",
                    reason: Reason::OutOfRange(5000)
                },
                Fallback {
                    keyword: "LinkSpeed",
                    reason: Reason::OutOfRange(0)
                },
                Fallback {
                    keyword: "Topology",
                    reason: Reason::NotAllowed(3)
                },
                Fallback {
                    keyword: "SegmentId",
                    reason: Reason::OutOfRange(256)
                },
                Fallback {
                    keyword: "*TCPChecksumOffloadIPv6",
                    reason: Reason::NotAllowed(4)
                },
                Fallback {
                    keyword: "*RscIPv6",
                    reason: Reason::NotAllowed(2)
                },
                Fallback {
                    keyword: "*PriorityVLANTag",
                    reason: Reason::NotAllowed(4)
                },
                Fallback {
                    keyword: "VlanId",
                    reason: Reason::OutOfRange(4095)
                },
                Fallback {
                    keyword: "NetworkAddress",
                    reason: Reason::MulticastAddress
                },
            ]
        );
    }

    #[test]
    fn configured_addresses_must_be_locally_administered_unicast() {
        assert_eq!(check_address(&[0x02, 1, 2, 3, 4, 5]), Ok([0x02, 1, 2, 3, 4, 5]));
        assert_eq!(
            check_address(&[0x00, 1, 2, 3, 4, 5]),
            Err(Reason::NotLocallyAdministered)
        );
        assert_eq!(
            check_address(&[0x03, 1, 2, 3, 4, 5]),
            Err(Reason::MulticastAddress)
        );
        assert_eq!(check_address(&[0; 6]), Err(Reason::ZeroAddress));
        assert_eq!(check_address(&[0x02, 1, 2]), Err(Reason::AddressLength(3)));
    }

    #[test]
    fn every_default_passes_its_own_check() {
        for k in &KEYWORDS {
            if k.kind != Kind::MacAddress {
                assert_eq!(check(k, k.default), Ok(k.default), "{}", k.name);
            }
        }
    }
}
