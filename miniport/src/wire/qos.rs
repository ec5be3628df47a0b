//! NDIS QoS for Data Center Bridging, as netvmini declares it: `*QOS`, the hardware and current
//! capabilities, `OID_QOS_PARAMETERS` (a method request the DCB component issues), and the
//! operational parameters the adapter indicates (`NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE`).
//!
//! A virtual wire has no bandwidth to divide and no pause frames to send, so ETS and PFC are
//! accepted, checked and reported as operational, and shape nothing. The classification is what a
//! software NIC can honour: a send whose NBL carries no 802.1p priority gets the priority of the
//! first rule its first frame matches (EtherType, TCP or UDP port, or the default rule), which the
//! wire then puts in the frame's 802.1Q tag. There is no DCBX peer on a virtual wire: the local
//! parameters are the operational ones, whether or not they are willing.

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

use crate::oid::{Refused, le16, le32};

/// Classification rules the adapter enforces (the first ones given; the rest are not enforced,
/// and the operational parameters say so).
pub const MAX_RULES: usize = 8;
/// Traffic classes, ETS-capable classes and PFC-enabled classes the adapter supports.
pub const TRAFFIC_CLASSES: u32 = 8;

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// No rule (an empty slot).
    #[default]
    None,
    /// Every frame no other rule matches.
    Default,
    /// The TCP destination port.
    TcpPort,
    /// The UDP destination port.
    UdpPort,
    /// The TCP or UDP destination port.
    TcpOrUdpPort,
    /// The EtherType.
    EtherType,
}

/// One enforced rule: frames matching `condition` on `field` get `priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rule {
    /// What the rule compares.
    pub condition: Condition,
    /// The port or EtherType.
    pub field: u16,
    /// The 802.1p priority (0 to 7).
    pub priority: u8,
}

/// The classification in effect: what the wire reads to give a send its priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes {
    rules: [Rule; MAX_RULES],
    len: usize,
}

impl Classes {
    /// Whether any rule is in effect.
    #[must_use]
    pub const fn is_active(&self) -> bool {
        self.len != 0
    }

    /// The rules in effect.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules[..self.len]
    }

    /// The priority of the first rule `frame` (an Ethernet frame) matches, a specific rule before
    /// the default one; `None` if none does.
    #[must_use]
    pub fn priority(&self, frame: &[u8]) -> Option<u8> {
        let ethertype = match frame.get(12..14)? {
            [0x81, 0x00] => u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?),
            t => u16::from_be_bytes([t[0], t[1]]),
        };
        let ports = transport(frame);
        let matches = |r: &Rule| match r.condition {
            Condition::EtherType => r.field == ethertype,
            Condition::TcpPort => ports == Some((6, r.field)),
            Condition::UdpPort => ports == Some((17, r.field)),
            Condition::TcpOrUdpPort => matches!(ports, Some((6 | 17, port)) if port == r.field),
            Condition::Default | Condition::None => false,
        };
        self.rules()
            .iter()
            .find(|r| matches(r))
            .or_else(|| self.rules().iter().find(|r| r.condition == Condition::Default))
            .map(|r| r.priority)
    }
}

/// The transport protocol and destination port of an unfragmented IP packet (`packet::parse`:
/// IPv4 options and IPv6 extension headers walked, fragments refused).
fn transport(frame: &[u8]) -> Option<(u8, u16)> {
    let headers = super::packet::parse(frame).ok()?;
    let port = frame.get(headers.l4 + 2..headers.l4 + 4)?;
    Some((headers.protocol, u16::from_be_bytes([port[0], port[1]])))
}

/// The QoS state: the last parameters `OID_QOS_PARAMETERS` provisioned (also the operational
/// ones), and the classification they configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qos {
    /// The parameters, as received (without their classification elements).
    pub parameters: NDIS_QOS_PARAMETERS,
    /// The rules enforced, which the operational parameters list.
    pub classes: Classes,
}

/// The capabilities rvnic reports: eight traffic classes, all ETS-capable, all PFC-capable, strict
/// priority supported. With `enabled` false (`*QOS` 0) the current capabilities are all off.
#[must_use]
pub fn capabilities(enabled: bool) -> NDIS_QOS_CAPABILITIES {
    let (flags, classes) = if enabled {
        (NDIS_QOS_CAPABILITIES_STRICT_TSA_SUPPORTED, TRAFFIC_CLASSES)
    } else {
        (0, 0)
    };
    NDIS_QOS_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_QOS_CAPABILITIES,
            NDIS_QOS_CAPABILITIES_REVISION_1,
            NDIS_SIZEOF_QOS_CAPABILITIES_REVISION_1,
        ),
        Flags: flags,
        MaxNumTrafficClasses: classes,
        MaxNumEtsCapableTrafficClasses: classes,
        MaxNumPfcEnabledTrafficClasses: classes,
    }
}

/// Validates an `OID_QOS_PARAMETERS` input (`NDIS_QOS_PARAMETERS` and its classification
/// elements) against the structure's page and rvnic's capabilities, and returns the QoS state it
/// provisions.
///
/// # Errors
/// `NDIS_STATUS_INVALID_LENGTH` (with `BytesNeeded`) for an input shorter than the structure or
/// than the elements it says follow; `NDIS_STATUS_INVALID_PARAMETER` for a bad header, more
/// traffic classes than the capabilities, a priority mapped to a class that does not exist, an
/// unknown transmission selection algorithm, ETS bandwidths that do not add up to 100 or are given
/// to a class that is not ETS, PFC on reserved bits or on more priorities than the capabilities, or
/// a malformed element (header, size, selector, priority above 7).
pub fn apply_parameters(input: &[u8]) -> Result<Qos, Refused> {
    let size = usize::from(NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1);
    let invalid = (NDIS_STATUS_INVALID_PARAMETER, 0);
    let Some(b) = input.get(..size) else {
        return Err((NDIS_STATUS_INVALID_LENGTH, size));
    };
    if b[0] != NDIS_OBJECT_TYPE_QOS_PARAMETERS || b[1] == 0 || usize::from(le16(b, 2)) < size {
        return Err(invalid);
    }
    let mut p = NDIS_QOS_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(b[0], b[1], le16(b, 2)),
        Flags: le32(b, 4),
        NumTrafficClasses: le32(b, 8),
        PfcEnable: le32(b, 36),
        NumClassificationElements: le32(b, 40),
        ClassificationElementSize: le32(b, 44),
        FirstClassificationElementOffset: le32(b, 48),
        ..NDIS_QOS_PARAMETERS::default()
    };
    p.PriorityAssignmentTable.copy_from_slice(&b[12..20]);
    p.TcBandwidthAssignmentTable.copy_from_slice(&b[20..28]);
    p.TsaAssignmentTable.copy_from_slice(&b[28..36]);
    if p.Flags & NDIS_QOS_PARAMETERS_ETS_CONFIGURED != 0 {
        check_ets(&p).map_err(|()| invalid)?;
    }
    if p.Flags & NDIS_QOS_PARAMETERS_PFC_CONFIGURED != 0
        && (p.PfcEnable & !0xff != 0 || p.PfcEnable.count_ones() > TRAFFIC_CLASSES)
    {
        return Err(invalid);
    }
    let mut classes = Classes::default();
    if p.Flags & NDIS_QOS_PARAMETERS_CLASSIFICATION_CONFIGURED != 0 {
        classes = classification(input, &p, size)?;
    }
    Ok(Qos {
        parameters: p,
        classes,
    })
}

/// The ETS tables: classes within the capabilities, every priority mapped to one of them, known
/// algorithms, and bandwidth only for ETS classes, 100 in all.
fn check_ets(p: &NDIS_QOS_PARAMETERS) -> Result<(), ()> {
    let classes = p.NumTrafficClasses;
    if classes == 0 || classes > TRAFFIC_CLASSES {
        return Err(());
    }
    if p.PriorityAssignmentTable
        .iter()
        .any(|tc| u32::from(*tc) >= classes)
    {
        return Err(());
    }
    let mut total = 0u32;
    for (tsa, bandwidth) in p.TsaAssignmentTable.iter().zip(p.TcBandwidthAssignmentTable) {
        match *tsa {
            NDIS_QOS_TSA_ETS => total += u32::from(bandwidth),
            NDIS_QOS_TSA_STRICT | NDIS_QOS_TSA_CBS if bandwidth == 0 => {}
            _ => return Err(()),
        }
    }
    if total == 100 || p.TsaAssignmentTable.iter().all(|t| *t != NDIS_QOS_TSA_ETS) {
        Ok(())
    } else {
        Err(())
    }
}

/// The classification elements after the structure: each checked, the first [`MAX_RULES`] with a
/// condition rvnic can match enforced.
fn classification(input: &[u8], p: &NDIS_QOS_PARAMETERS, size: usize) -> Result<Classes, Refused> {
    let invalid = (NDIS_STATUS_INVALID_PARAMETER, 0);
    let element = usize::from(NDIS_SIZEOF_QOS_CLASSIFICATION_ELEMENT_REVISION_1);
    let count = usize::try_from(p.NumClassificationElements).unwrap_or(usize::MAX);
    let first = usize::try_from(p.FirstClassificationElementOffset).unwrap_or(usize::MAX);
    if count == 0 {
        return Ok(Classes::default());
    }
    if p.ClassificationElementSize as usize != element || first < size {
        return Err(invalid);
    }
    let end = count
        .checked_mul(element)
        .and_then(|n| n.checked_add(first))
        .ok_or(invalid)?;
    let elements = input.get(first..end).ok_or((NDIS_STATUS_INVALID_LENGTH, end))?;
    let mut classes = Classes::default();
    for e in elements.chunks_exact(element) {
        if e[0] != NDIS_OBJECT_TYPE_QOS_CLASSIFICATION_ELEMENT
            || e[1] == 0
            || usize::from(le16(e, 2)) < element
        {
            return Err(invalid);
        }
        let (selector, field, action, priority) = (le16(e, 8), le16(e, 10), le16(e, 12), le16(e, 14));
        if action != NDIS_QOS_ACTION_PRIORITY || priority > 7 {
            return Err(invalid);
        }
        let condition = match selector {
            NDIS_QOS_CONDITION_DEFAULT => Condition::Default,
            NDIS_QOS_CONDITION_TCP_PORT => Condition::TcpPort,
            NDIS_QOS_CONDITION_UDP_PORT => Condition::UdpPort,
            NDIS_QOS_CONDITION_TCP_OR_UDP_PORT => Condition::TcpOrUdpPort,
            NDIS_QOS_CONDITION_ETHERTYPE => Condition::EtherType,
            // NetworkDirect traffic never crosses this NIC: valid, not enforced.
            NDIS_QOS_CONDITION_NETDIRECT_PORT => continue,
            _ => return Err(invalid),
        };
        if classes.len < MAX_RULES {
            classes.rules[classes.len] = Rule {
                condition,
                field,
                priority: u8::try_from(priority).unwrap_or(0),
            };
            classes.len += 1;
        }
    }
    Ok(classes)
}

/// The operational parameters as `NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE` carries them:
/// the structure, then the enforced rules as classification elements.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Operational {
    /// The parameters; `FirstClassificationElementOffset` points at `elements`.
    pub parameters: NDIS_QOS_PARAMETERS,
    /// The enforced rules, `NumClassificationElements` of them.
    pub elements: [NDIS_QOS_CLASSIFICATION_ELEMENT; MAX_RULES],
}

impl Qos {
    /// The operational parameters: the local ones (no DCBX peer on a virtual wire), with the
    /// `CHANGED` flags of what `OID_QOS_PARAMETERS` configured and every rule enforced.
    #[must_use]
    pub fn operational(&self) -> Operational {
        let mut parameters = self.parameters;
        let configured = parameters.Flags;
        let mut flags = configured
            & (NDIS_QOS_PARAMETERS_ETS_CONFIGURED
                | NDIS_QOS_PARAMETERS_PFC_CONFIGURED
                | NDIS_QOS_PARAMETERS_CLASSIFICATION_CONFIGURED);
        flags |= NDIS_QOS_PARAMETERS_ETS_CHANGED | NDIS_QOS_PARAMETERS_PFC_CHANGED;
        flags |= NDIS_QOS_PARAMETERS_CLASSIFICATION_CHANGED;
        parameters.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_QOS_PARAMETERS,
            NDIS_QOS_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1,
        );
        parameters.Flags = flags;
        let mut elements = [NDIS_QOS_CLASSIFICATION_ELEMENT::default(); MAX_RULES];
        for (e, r) in elements.iter_mut().zip(self.classes.rules()) {
            *e = NDIS_QOS_CLASSIFICATION_ELEMENT {
                Header: NDIS_OBJECT_HEADER::new(
                    NDIS_OBJECT_TYPE_QOS_CLASSIFICATION_ELEMENT,
                    NDIS_QOS_CLASSIFICATION_ELEMENT_REVISION_1,
                    NDIS_SIZEOF_QOS_CLASSIFICATION_ELEMENT_REVISION_1,
                ),
                Flags: NDIS_QOS_CLASSIFICATION_ENFORCED_BY_MINIPORT,
                ConditionSelector: selector(r.condition),
                ConditionField: r.field,
                ActionSelector: NDIS_QOS_ACTION_PRIORITY,
                ActionField: u16::from(r.priority),
            };
        }
        parameters.NumClassificationElements = u32::try_from(self.classes.len).unwrap_or(0);
        parameters.ClassificationElementSize = u32::from(NDIS_SIZEOF_QOS_CLASSIFICATION_ELEMENT_REVISION_1);
        parameters.FirstClassificationElementOffset =
            u32::try_from(core::mem::offset_of!(Operational, elements)).unwrap_or(0);
        Operational { parameters, elements }
    }
}

const fn selector(condition: Condition) -> u16 {
    match condition {
        Condition::None | Condition::Default => NDIS_QOS_CONDITION_DEFAULT,
        Condition::TcpPort => NDIS_QOS_CONDITION_TCP_PORT,
        Condition::UdpPort => NDIS_QOS_CONDITION_UDP_PORT,
        Condition::TcpOrUdpPort => NDIS_QOS_CONDITION_TCP_OR_UDP_PORT,
        Condition::EtherType => NDIS_QOS_CONDITION_ETHERTYPE,
    }
}

#[cfg(test)]
mod tests;
