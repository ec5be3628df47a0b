//! Task offloads: which ones the adapter has on ([`Offloads`], from the standardized keywords and
//! then `OID_TCP_OFFLOAD_PARAMETERS`), whether the protocol activated them
//! (`OID_OFFLOAD_ENCAPSULATION`), and how both are reported to NDIS (`NDIS_OFFLOAD`).
//!
//! What rvnic offers, as an NDIS 6.30 miniport declares it ("Reporting a NIC's ... Capabilities"):
//! IPv4 header checksum, TCP and UDP checksums over IPv4 and IPv6 in both directions, `LSOv2` over
//! IPv4 and IPv6 (which "must also be able to calculate IP checksums for send packets that contain
//! IP options [and] TCP checksums for send packets that contain TCP options": it can), and RSC over
//! IPv4 and IPv6. All with IEEE 802.3 encapsulation, options and extension headers supported. No
//! `LSOv1`, `IPsec`, TCP chimney or encapsulated-packet (NVGRE) offload.
//!
//! NDIS answers `OID_TCP_OFFLOAD_CURRENT_CONFIG`, `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` and the
//! `OID_OFFLOAD_ENCAPSULATION` query itself, from the offload attributes and the
//! `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` indications ("Querying and Changing RSC State",
//! `OID_OFFLOAD_ENCAPSULATION`'s page); the miniport handles the two sets and
//! `OID_TCP_RSC_STATISTICS`.
#![forbid(unsafe_code)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "NDIS_OFFLOAD_PARAMETERS members are UCHARs holding the small NDIS_OFFLOAD_* codes, which the \
              headers declare as ULONG constants"
)]

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

/// `MaxOffLoadSize` of `LSOv2`: the most TCP payload one large send may carry. A coalesced unit the
/// wire makes of it is cut to fit one IP datagram ([`crate::wire::packet::MAX_DATAGRAM`]).
pub const MAX_OFFLOAD_SIZE: u32 = 65_535;
/// `MinSegmentCount` of `LSOv2`: the TCP/IP transport offloads sends of at least two segments.
pub const MIN_SEGMENT_COUNT: u32 = 2;

/// The enumeration of the checksum keywords ("Standardized INF Keywords for TCP/IP Offload").
pub const CHECKSUM_VALUES: [(u32, &str); 4] = [
    (0, "Disabled"),
    (1, "Tx Enabled"),
    (2, "Rx Enabled"),
    (3, "Rx & Tx Enabled"),
];
/// The enumeration of the `LSOv2` and RSC keywords.
pub const SWITCH_VALUES: [(u32, &str); 2] = [(0, "Disabled"), (1, "Enabled")];

/// One checksum offload's two directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Both {
    /// Transmit: the sender asks for the checksum.
    pub tx: bool,
    /// Receive: the adapter vouches for the checksum.
    pub rx: bool,
}

impl Both {
    /// From a checksum keyword's value (0 off, 1 transmit, 2 receive, 3 both).
    #[must_use]
    pub const fn from_keyword(value: u32) -> Self {
        Self {
            tx: value & 1 != 0,
            rx: value & 2 != 0,
        }
    }

    /// As `NDIS_OFFLOAD_PARAMETERS` would set it, or `Err` for a value outside the enumeration.
    fn apply(&mut self, parameter: u8) -> Result<(), ()> {
        *self = match parameter {
            NDIS_OFFLOAD_PARAMETERS_NO_CHANGE => return Ok(()),
            NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED => Self { tx: false, rx: false },
            NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED => Self { tx: true, rx: false },
            NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED => Self { tx: false, rx: true },
            NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED => Self { tx: true, rx: true },
            _ => return Err(()),
        };
        Ok(())
    }
}

/// The offloads that are on (the current configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one switch per offload and direction, as NDIS_OFFLOAD_PARAMETERS has"
)]
pub struct Offloads {
    /// IPv4 header checksum.
    pub ip4: Both,
    /// TCP checksum over IPv4.
    pub tcp4: Both,
    /// UDP checksum over IPv4.
    pub udp4: Both,
    /// TCP checksum over IPv6.
    pub tcp6: Both,
    /// UDP checksum over IPv6.
    pub udp6: Both,
    /// `LSOv2` over IPv4.
    pub lso4: bool,
    /// `LSOv2` over IPv6.
    pub lso6: bool,
    /// RSC over IPv4.
    pub rsc4: bool,
    /// RSC over IPv6.
    pub rsc6: bool,
}

/// Whether the protocol activated the offloads of each IP version (`OID_OFFLOAD_ENCAPSULATION`
/// with IEEE 802.3). Until it does, the miniport "must not start checksum ... offload services"
/// on receive, and indicates no coalesced segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encapsulation {
    /// IPv4 offloads activated.
    pub ipv4: bool,
    /// IPv6 offloads activated.
    pub ipv6: bool,
}

/// What the wire applies for one adapter: the current configuration, with the receive offloads
/// only where the encapsulation is active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one switch per offload the wire applies"
)]
pub struct Active {
    /// Receive: mark these as verified.
    pub rx_ip4: bool,
    /// Receive: TCP over IPv4 verified.
    pub rx_tcp4: bool,
    /// Receive: UDP over IPv4 verified.
    pub rx_udp4: bool,
    /// Receive: TCP over IPv6 verified.
    pub rx_tcp6: bool,
    /// Receive: UDP over IPv6 verified.
    pub rx_udp6: bool,
    /// Receive: coalesce TCP segments.
    pub rsc4: bool,
    /// Receive: coalesce TCP over IPv6.
    pub rsc6: bool,
    /// Transmit: accept large sends (a large send while LSO is off is dropped, as the LSO page
    /// requires once `OID_TCP_OFFLOAD_PARAMETERS` turned it off).
    pub lso4: bool,
    /// Transmit: accept large sends over IPv6.
    pub lso6: bool,
}

impl Offloads {
    /// Everything off.
    pub const NONE: Self = Self {
        ip4: Both { tx: false, rx: false },
        tcp4: Both { tx: false, rx: false },
        udp4: Both { tx: false, rx: false },
        tcp6: Both { tx: false, rx: false },
        udp6: Both { tx: false, rx: false },
        lso4: false,
        lso6: false,
        rsc4: false,
        rsc6: false,
    };

    /// What the wire applies under `encapsulation`.
    #[must_use]
    pub const fn active(&self, encapsulation: Encapsulation) -> Active {
        let (v4, v6) = (encapsulation.ipv4, encapsulation.ipv6);
        Active {
            rx_ip4: v4 && self.ip4.rx,
            rx_tcp4: v4 && self.tcp4.rx,
            rx_udp4: v4 && self.udp4.rx,
            rx_tcp6: v6 && self.tcp6.rx,
            rx_udp6: v6 && self.udp6.rx,
            rsc4: v4 && self.rsc4,
            rsc6: v6 && self.rsc6,
            lso4: self.lso4,
            lso6: self.lso6,
        }
    }

    /// The `NDIS_OFFLOAD` that reports this configuration (the offload attributes' default
    /// configuration, and `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`).
    #[must_use]
    pub fn configuration(&self) -> NDIS_OFFLOAD {
        report(|tx_or_rx| match tx_or_rx {
            Family::Ip4Tx => [self.ip4.tx, self.tcp4.tx, self.udp4.tx],
            Family::Ip4Rx => [self.ip4.rx, self.tcp4.rx, self.udp4.rx],
            Family::Ip6Tx => [false, self.tcp6.tx, self.udp6.tx],
            Family::Ip6Rx => [false, self.tcp6.rx, self.udp6.rx],
            Family::Lso => [self.lso4, self.lso6, false],
            Family::Rsc => [self.rsc4, self.rsc6, false],
        })
    }

    /// Applies an `NDIS_OFFLOAD_PARAMETERS` (`OID_TCP_OFFLOAD_PARAMETERS`). Returns the bytes
    /// read, or the status and `BytesNeeded` of a refusal; on refusal nothing changes.
    ///
    /// # Errors
    /// The status for the OID (`NDIS_STATUS_INVALID_LENGTH` or `NDIS_STATUS_INVALID_DATA`) and
    /// the `BytesNeeded`; nothing is changed.
    pub fn apply_parameters(&mut self, buffer: &[u8]) -> Result<usize, (NDIS_STATUS, usize)> {
        let rev1 = usize::from(NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1);
        let Some(&[ty, revision, s0, s1]) = buffer.first_chunk::<4>() else {
            return Err((NDIS_STATUS_INVALID_LENGTH, rev1));
        };
        let size = usize::from(u16::from_le_bytes([s0, s1]));
        let needed = usize::from(match revision {
            1 => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1,
            2 => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2,
            _ => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3,
        });
        if ty != NDIS_OBJECT_TYPE_DEFAULT || revision == 0 || size < needed {
            return Err((NDIS_STATUS_INVALID_DATA, 0));
        }
        let Some(p) = buffer.get(..needed) else {
            return Err((NDIS_STATUS_INVALID_LENGTH, needed));
        };
        let at = |offset: usize| {
            p.get(offset)
                .copied()
                .unwrap_or(NDIS_OFFLOAD_PARAMETERS_NO_CHANGE)
        };
        let invalid = (NDIS_STATUS_INVALID_DATA, 0);
        let mut next = *self;
        for (both, offset) in [
            (&mut next.ip4, 4),
            (&mut next.tcp4, 5),
            (&mut next.udp4, 6),
            (&mut next.tcp6, 7),
            (&mut next.udp6, 8),
        ] {
            both.apply(at(offset)).map_err(|()| invalid)?;
        }
        // What rvnic does not offer may be left alone or turned off, never on.
        let off_only = |value: u8, off: u8| value == NDIS_OFFLOAD_PARAMETERS_NO_CHANGE || value == off;
        let refused = !off_only(at(9), NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED)
            || !off_only(at(10), NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED)
            || !off_only(at(13), NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_DISABLED)
            || !off_only(at(14), NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_DISABLED)
            || !off_only(at(20), NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED)
            || !off_only(at(21), NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED)
            || !off_only(at(24), NDIS_OFFLOAD_SET_OFF as u8);
        if refused {
            return Err(invalid);
        }
        for (flag, offset, on, off) in [
            (
                &mut next.lso4,
                11,
                NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
                NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED,
            ),
            (
                &mut next.lso6,
                12,
                NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
                NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED,
            ),
            (
                &mut next.rsc4,
                22,
                NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED,
                NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED,
            ),
            (
                &mut next.rsc6,
                23,
                NDIS_OFFLOAD_PARAMETERS_RSC_ENABLED,
                NDIS_OFFLOAD_PARAMETERS_RSC_DISABLED,
            ),
        ] {
            match at(offset) {
                NDIS_OFFLOAD_PARAMETERS_NO_CHANGE => {}
                v if v == on => *flag = true,
                v if v == off => *flag = false,
                _ => return Err(invalid),
            }
        }
        *self = next;
        Ok(needed)
    }
}

/// The hardware capabilities: everything rvnic can do (the offload attributes'
/// `HardwareOffloadCapabilities`).
#[must_use]
pub fn capabilities() -> NDIS_OFFLOAD {
    report(|family| match family {
        Family::Ip6Tx | Family::Ip6Rx => [false, true, true],
        Family::Lso | Family::Rsc => [true, true, false],
        Family::Ip4Tx | Family::Ip4Rx => [true, true, true],
    })
}

/// Applies an `NDIS_OFFLOAD_ENCAPSULATION` (`OID_OFFLOAD_ENCAPSULATION`): returns the bytes read,
/// or a refusal. "If a miniport driver supports any offload type that supports the requested
/// encapsulation type, the driver must return `NDIS_STATUS_SUCCESS` ... Otherwise, the miniport
/// driver should return `NDIS_STATUS_INVALID_PARAMETER"`: rvnic supports IEEE 802.3 only.
///
/// # Errors
/// The status for the OID and the `BytesNeeded`; nothing is changed.
pub fn apply_encapsulation(
    current: &mut Encapsulation,
    buffer: &[u8],
) -> Result<usize, (NDIS_STATUS, usize)> {
    let size = usize::from(NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1);
    let Some(e) = buffer.get(..size) else {
        return Err((NDIS_STATUS_INVALID_LENGTH, size));
    };
    let word = |at: usize| u32::from_le_bytes([e[at], e[at + 1], e[at + 2], e[at + 3]]);
    let header_size = usize::from(u16::from_le_bytes([e[2], e[3]]));
    if e[0] != NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION
        || e[1] < NDIS_OFFLOAD_ENCAPSULATION_REVISION_1
        || header_size < size
    {
        return Err((NDIS_STATUS_INVALID_PARAMETER, 0));
    }
    let mut next = *current;
    for (active, at) in [(&mut next.ipv4, 4), (&mut next.ipv6, 16)] {
        match word(at) {
            NDIS_OFFLOAD_SET_NO_CHANGE => {}
            NDIS_OFFLOAD_SET_ON if word(at + 4) & NDIS_ENCAPSULATION_IEEE_802_3 != 0 => *active = true,
            NDIS_OFFLOAD_SET_OFF => *active = false,
            _ => return Err((NDIS_STATUS_INVALID_PARAMETER, 0)),
        }
    }
    *current = next;
    Ok(size)
}

/// The rows of an `NDIS_OFFLOAD`: each gives `[ip, tcp, udp]` for the checksum families and
/// `[ipv4, ipv6, -]` for `LSOv2` and RSC.
#[derive(Clone, Copy)]
enum Family {
    Ip4Tx,
    Ip4Rx,
    Ip6Tx,
    Ip6Rx,
    Lso,
    Rsc,
}

/// Builds an `NDIS_OFFLOAD` revision 3 from what is on per family.
fn report(on: impl Fn(Family) -> [bool; 3]) -> NDIS_OFFLOAD {
    let bit = |b: bool, shift: u32| if b { NDIS_OFFLOAD_SUPPORTED << shift } else { 0 };
    let encapsulation = |any: bool| {
        if any {
            NDIS_ENCAPSULATION_IEEE_802_3
        } else {
            NDIS_ENCAPSULATION_NOT_SUPPORTED
        }
    };
    let v4 = |family| {
        let [ip, tcp, udp] = on(family);
        NDIS_CHECKSUM_OFFLOAD_IPV4 {
            Encapsulation: encapsulation(ip || tcp || udp),
            Bits: bit(ip, CHECKSUM_IP_OPTIONS_SHIFT)
                | bit(tcp, CHECKSUM_TCP_OPTIONS_SHIFT)
                | bit(tcp, CHECKSUM_TCP_SHIFT)
                | bit(udp, CHECKSUM_UDP_SHIFT)
                | bit(ip, CHECKSUM_IP_SHIFT),
        }
    };
    let v6 = |family| {
        let [_, tcp, udp] = on(family);
        NDIS_CHECKSUM_OFFLOAD_IPV6 {
            Encapsulation: encapsulation(tcp || udp),
            Bits: bit(tcp || udp, CHECKSUM_IP_OPTIONS_SHIFT)
                | bit(tcp, CHECKSUM_TCP_OPTIONS_SHIFT)
                | bit(tcp, CHECKSUM_TCP_SHIFT)
                | bit(udp, CHECKSUM_UDP_SHIFT),
        }
    };
    let [lso4, lso6, _] = on(Family::Lso);
    let [rsc4, rsc6, _] = on(Family::Rsc);
    let lso = |b: bool| {
        (
            encapsulation(b),
            if b { MAX_OFFLOAD_SIZE } else { 0 },
            if b { MIN_SEGMENT_COUNT } else { 0 },
        )
    };
    let (e4, max4, min4) = lso(lso4);
    let (e6, max6, min6) = lso(lso6);
    NDIS_OFFLOAD {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OFFLOAD,
            NDIS_OFFLOAD_REVISION_3,
            NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3,
        ),
        Checksum: NDIS_TCP_IP_CHECKSUM_OFFLOAD {
            IPv4Transmit: v4(Family::Ip4Tx),
            IPv4Receive: v4(Family::Ip4Rx),
            IPv6Transmit: v6(Family::Ip6Tx),
            IPv6Receive: v6(Family::Ip6Rx),
        },
        LsoV2: NDIS_TCP_LARGE_SEND_OFFLOAD_V2 {
            IPv4: NDIS_LSO_V2_IPV4 {
                Encapsulation: e4,
                MaxOffLoadSize: max4,
                MinSegmentCount: min4,
            },
            IPv6: NDIS_LSO_V2_IPV6 {
                Encapsulation: e6,
                MaxOffLoadSize: max6,
                MinSegmentCount: min6,
                Bits: bit(lso6, LSO_V2_IPV6_EXTENSION_HEADERS_SHIFT)
                    | bit(lso6, LSO_V2_IPV6_TCP_OPTIONS_SHIFT),
            },
        },
        Rsc: NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD {
            IPv4: NDIS_RSC_ENABLED { Enabled: rsc4.into() },
            IPv6: NDIS_RSC_ENABLED { Enabled: rsc6.into() },
        },
        ..NDIS_OFFLOAD::default()
    }
}

/// `OID_TCP_RSC_STATISTICS` counters ("`NDIS_RSC_STATISTICS_INFO`").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RscCounts {
    /// Segments that went into coalesced units.
    pub coalesced_packets: u64,
    /// Their TCP payload bytes.
    pub coalesced_octets: u64,
    /// Coalesced units indicated.
    pub coalesce_events: u64,
    /// Large sends a receiver with RSC on got as single segments (an exception to coalescing).
    pub aborts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(revision: u8, fields: &[(usize, u8)]) -> Vec<u8> {
        let size = match revision {
            1 => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1,
            2 => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2,
            _ => NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_3,
        };
        let mut b = vec![0u8; usize::from(size)];
        b[0] = NDIS_OBJECT_TYPE_DEFAULT;
        b[1] = revision;
        b[2..4].copy_from_slice(&size.to_le_bytes());
        for &(at, v) in fields {
            b[at] = v;
        }
        b
    }

    fn all_on() -> Offloads {
        let both = Both { tx: true, rx: true };
        Offloads {
            ip4: both,
            tcp4: both,
            udp4: both,
            tcp6: both,
            udp6: both,
            lso4: true,
            lso6: true,
            rsc4: true,
            rsc6: true,
        }
    }

    #[test]
    fn parameters_change_only_what_they_name() {
        let mut o = all_on();
        let p = parameters(
            3,
            &[
                (5, NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED),
                (12, 1),
                (22, 1),
            ],
        );
        assert_eq!(o.apply_parameters(&p), Ok(26));
        assert_eq!(o.tcp4, Both { tx: false, rx: true });
        assert!(!o.lso6 && !o.rsc4 && o.lso4 && o.rsc6 && o.udp4.tx);
        // Revision 1 has no RSC fields: reading it leaves RSC alone.
        let p = parameters(1, &[(11, NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED)]);
        assert_eq!(o.apply_parameters(&p), Ok(20));
        assert!(!o.lso4 && o.rsc6);
    }

    #[test]
    fn bad_parameters_are_refused_with_the_documented_status_and_change_nothing() {
        let mut o = all_on();
        assert_eq!(o.apply_parameters(&[0; 3]), Err((NDIS_STATUS_INVALID_LENGTH, 20)));
        let p = parameters(3, &[]);
        assert_eq!(
            o.apply_parameters(&p[..24]),
            Err((NDIS_STATUS_INVALID_LENGTH, 26))
        );
        for bad in [
            parameters(3, &[(4, 5)]),
            parameters(3, &[(9, NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED)]),
            parameters(3, &[(11, 3)]),
            parameters(3, &[(23, 3)]),
            parameters(3, &[(13, 2)]),
            parameters(3, &[(24, NDIS_OFFLOAD_SET_ON as u8)]),
            parameters(3, &[(0, NDIS_OBJECT_TYPE_OFFLOAD)]),
            parameters(3, &[(2, 20)]),
        ] {
            assert_eq!(
                o.apply_parameters(&bad),
                Err((NDIS_STATUS_INVALID_DATA, 0)),
                "{bad:?}"
            );
        }
        assert_eq!(o, all_on());
    }

    #[test]
    fn encapsulation_activates_receive_offloads_per_ip_version() {
        let o = all_on();
        let mut e = Encapsulation::default();
        assert!(!o.active(e).rx_tcp4 && !o.active(e).rsc6 && o.active(e).lso4);
        let mut b = vec![0u8; 28];
        b[0] = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
        b[1] = 1;
        b[2] = 28;
        b[4] = NDIS_OFFLOAD_SET_ON as u8;
        b[8] = NDIS_ENCAPSULATION_IEEE_802_3 as u8;
        assert_eq!(apply_encapsulation(&mut e, &b), Ok(28));
        assert_eq!(
            e,
            Encapsulation {
                ipv4: true,
                ipv6: false
            }
        );
        assert!(o.active(e).rx_tcp4 && o.active(e).rsc4 && !o.active(e).rsc6);
        b[8] = NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED as u8;
        assert_eq!(
            apply_encapsulation(&mut e, &b),
            Err((NDIS_STATUS_INVALID_PARAMETER, 0))
        );
        assert_eq!(
            apply_encapsulation(&mut e, &b[..27]),
            Err((NDIS_STATUS_INVALID_LENGTH, 28))
        );
        b[4] = NDIS_OFFLOAD_SET_OFF as u8;
        assert_eq!(apply_encapsulation(&mut e, &b), Ok(28));
        assert!(!e.ipv4);
    }

    #[test]
    fn the_report_says_what_is_on() {
        let mut o = Offloads::NONE;
        o.tcp4.tx = true;
        o.lso6 = true;
        let r = o.configuration();
        assert_eq!(
            r.Checksum.IPv4Transmit.Encapsulation,
            NDIS_ENCAPSULATION_IEEE_802_3
        );
        assert_eq!(
            r.Checksum.IPv4Transmit.Bits >> CHECKSUM_TCP_SHIFT & 3,
            NDIS_OFFLOAD_SUPPORTED
        );
        assert_eq!(r.Checksum.IPv4Transmit.Bits >> CHECKSUM_IP_SHIFT & 3, 0);
        assert_eq!(
            r.Checksum.IPv4Receive.Encapsulation,
            NDIS_ENCAPSULATION_NOT_SUPPORTED
        );
        assert_eq!(
            (r.LsoV2.IPv4.MaxOffLoadSize, r.LsoV2.IPv6.MaxOffLoadSize),
            (0, MAX_OFFLOAD_SIZE)
        );
        assert_eq!(
            (r.Rsc.IPv4.Enabled, r.Header.Size),
            (0, NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_3)
        );
        let caps = capabilities();
        assert_eq!(caps.LsoV2.IPv4.MinSegmentCount, MIN_SEGMENT_COUNT);
        assert_eq!((caps.Rsc.IPv4.Enabled, caps.Rsc.IPv6.Enabled), (1, 1));
        assert_eq!(
            caps.Checksum.IPv6Receive.Bits >> CHECKSUM_UDP_SHIFT & 3,
            NDIS_OFFLOAD_SUPPORTED
        );
    }
}
