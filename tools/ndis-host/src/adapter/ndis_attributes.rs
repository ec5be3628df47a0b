//! `NdisMSetMiniportAttributes`: the registration, general and offload attributes, checked as
//! NDIS checks them.

use super::*;

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMSetMiniportAttributes(
    NdisMiniportAdapterHandle: NDIS_HANDLE,
    MiniportAttributes: PNDIS_MINIPORT_ADAPTER_ATTRIBUTES,
) -> NDIS_STATUS {
    const API: &str = "NdisMSetMiniportAttributes";
    let host = current();
    if !host.check_irql(API) {
        return NDIS_STATUS_FAILURE;
    }
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, API, NdisMiniportAdapterHandle) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    if st.adapters[adapter].phase != Phase::Initializing {
        st.violate(
            Rule::Attributes,
            API,
            Some(adapter),
            "called outside MiniportInitializeEx",
        );
        return NDIS_STATUS_FAILURE;
    }
    // SAFETY: the driver passes an attribute structure valid for the call.
    let attributes = unsafe { &*MiniportAttributes };
    // SAFETY: every member of the union starts with an NDIS_OBJECT_HEADER.
    let header = unsafe { attributes.Header };
    let result = match header.Type {
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES => {
            // SAFETY: the header says this is the registration member.
            let r = unsafe { &attributes.RegistrationAttributes };
            registration(&mut st, adapter, r)
        }
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => {
            // SAFETY: the header says this is the general member.
            let g = unsafe { &attributes.GeneralAttributes };
            general(&mut st, adapter, g)
        }
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES => {
            if st.adapters[adapter].registered {
                let minor = minor_version(&st);
                // SAFETY: the header says this is the offload member.
                let o = unsafe { &attributes.OffloadAttributes };
                match crate::offload::attributes(&mut st.adapters[adapter].offload, o, minor) {
                    Ok(()) => Ok(()),
                    Err(why) => {
                        st.violate(Rule::OffloadConfig, API, Some(adapter), why);
                        return NDIS_STATUS_INVALID_PARAMETER;
                    }
                }
            } else {
                Err("set before the registration attributes".to_string())
            }
        }
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES if st.adapters[adapter].registered => {
            // SAFETY: the header says this is the hardware assist member.
            let h = unsafe { &attributes.HardwareAssistAttributes };
            hardware_assist(&mut st, adapter, h)
        }
        NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES
        | NDIS_OBJECT_TYPE_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES => {
            if st.adapters[adapter].registered {
                Ok(())
            } else {
                Err("set before the registration attributes".to_string())
            }
        }
        other => Err(format!("unknown attribute header type {other}")),
    };
    match result {
        Ok(()) => NDIS_STATUS_SUCCESS,
        Err(why) => {
            st.violate(Rule::Attributes, API, Some(adapter), why);
            NDIS_STATUS_INVALID_PARAMETER
        }
    }
}

#[allow(
    clippy::items_after_statements,
    reason = "the flags sit by the check that uses them"
)]
pub(super) fn registration(
    st: &mut State,
    adapter: usize,
    r: &NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
) -> Result<(), String> {
    let h = r.Header;
    if h.Revision < NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1
        || h.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1
    {
        return Err(format!(
            "registration attributes revision {} size {}",
            h.Revision, h.Size
        ));
    }
    if r.MiniportAdapterContext.is_null() {
        return Err("registration attributes with a NULL MiniportAdapterContext".into());
    }
    // NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES: revision 2 "added AttributeFlags flags for
    // NDIS 6.30"; flags beyond the documented ones are refused.
    const KNOWN: u32 = NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE
        | NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM
        | NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK
        | NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS
        | NDIS_MINIPORT_ATTRIBUTES_DO_NOT_BIND_TO_ALL_CO
        | NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND
        | NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER
        | NDIS_MINIPORT_ATTRIBUTES_CONTROLS_DEFAULT_PORT
        | NDIS_630_ATTRIBUTES;
    let flags = r.AttributeFlags;
    if flags & !KNOWN != 0 {
        return Err(format!("unknown AttributeFlags {:#x}", flags & !KNOWN));
    }
    if flags & NDIS_630_ATTRIBUTES != 0
        && h.Revision < NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2
    {
        return Err(format!(
            "AttributeFlags {:#x} are NDIS 6.30 flags, which need revision 2 of the attributes",
            flags & NDIS_630_ATTRIBUTES
        ));
    }
    let slot = &mut st.adapters[adapter];
    if slot.registered {
        return Err("registration attributes set twice".into());
    }
    slot.registered = true;
    slot.context = r.MiniportAdapterContext as usize;
    slot.registration = RegistrationAttributes {
        revision: h.Revision,
        flags,
        check_for_hang_seconds: r.CheckForHangTimeInSeconds,
    };
    Ok(())
}

/// The attribute flags NDIS 6.30 added.
const NDIS_630_ATTRIBUTES: u32 = NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND
    | NDIS_MINIPORT_ATTRIBUTES_NO_OID_INTERCEPT_ON_NONDEFAULT_PORTS
    | NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK;

/// Each `NDIS_STATISTICS_*_SUPPORTED` bit of the general attributes' `SupportedStatistics`, and
/// the OID that reports the counter (`NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES`' page).
pub const SUPPORTED_STATISTICS: [(u32, NDIS_OID); 24] = [
    (NDIS_STATISTICS_XMIT_OK_SUPPORTED, OID_GEN_XMIT_OK),
    (NDIS_STATISTICS_RCV_OK_SUPPORTED, OID_GEN_RCV_OK),
    (NDIS_STATISTICS_XMIT_ERROR_SUPPORTED, OID_GEN_XMIT_ERROR),
    (NDIS_STATISTICS_RCV_ERROR_SUPPORTED, OID_GEN_RCV_ERROR),
    (NDIS_STATISTICS_RCV_NO_BUFFER_SUPPORTED, OID_GEN_RCV_NO_BUFFER),
    (
        NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED,
        OID_GEN_DIRECTED_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED,
        OID_GEN_DIRECTED_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED,
        OID_GEN_MULTICAST_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED,
        OID_GEN_MULTICAST_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED,
        OID_GEN_BROADCAST_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED,
        OID_GEN_BROADCAST_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED,
        OID_GEN_DIRECTED_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED,
        OID_GEN_DIRECTED_FRAMES_RCV,
    ),
    (
        NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED,
        OID_GEN_MULTICAST_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED,
        OID_GEN_MULTICAST_FRAMES_RCV,
    ),
    (
        NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED,
        OID_GEN_BROADCAST_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED,
        OID_GEN_BROADCAST_FRAMES_RCV,
    ),
    (NDIS_STATISTICS_RCV_CRC_ERROR_SUPPORTED, OID_GEN_RCV_CRC_ERROR),
    (
        NDIS_STATISTICS_TRANSMIT_QUEUE_LENGTH_SUPPORTED,
        OID_GEN_TRANSMIT_QUEUE_LENGTH,
    ),
    (NDIS_STATISTICS_BYTES_RCV_SUPPORTED, OID_GEN_BYTES_RCV),
    (NDIS_STATISTICS_BYTES_XMIT_SUPPORTED, OID_GEN_BYTES_XMIT),
    (NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED, OID_GEN_RCV_DISCARDS),
    (NDIS_STATISTICS_GEN_STATISTICS_SUPPORTED, OID_GEN_STATISTICS),
    (NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED, OID_GEN_XMIT_DISCARDS),
];

/// The 18 `NDIS_STATISTICS_INFO` counters: the `SupportedStatistics` bit that claims each in the
/// general attributes, and the `NDIS_STATISTICS_FLAGS_VALID_*` bit that marks it valid in an
/// `OID_GEN_STATISTICS` answer (`OID_GEN_STATISTICS`' page).
pub const STATISTICS_INFO: [(u32, u32); 18] = [
    (
        NDIS_STATISTICS_DIRECTED_FRAMES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV,
    ),
    (
        NDIS_STATISTICS_MULTICAST_FRAMES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV,
    ),
    (
        NDIS_STATISTICS_BROADCAST_FRAMES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV,
    ),
    (
        NDIS_STATISTICS_BYTES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_RCV_DISCARDS_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS,
    ),
    (
        NDIS_STATISTICS_RCV_ERROR_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR,
    ),
    (
        NDIS_STATISTICS_DIRECTED_FRAMES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_MULTICAST_FRAMES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_BROADCAST_FRAMES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT,
    ),
    (
        NDIS_STATISTICS_BYTES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_XMIT_ERROR_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR,
    ),
    (
        NDIS_STATISTICS_XMIT_DISCARDS_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS,
    ),
    (
        NDIS_STATISTICS_DIRECTED_BYTES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_MULTICAST_BYTES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_BROADCAST_BYTES_RCV_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV,
    ),
    (
        NDIS_STATISTICS_DIRECTED_BYTES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_MULTICAST_BYTES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT,
    ),
    (
        NDIS_STATISTICS_BROADCAST_BYTES_XMIT_SUPPORTED,
        NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT,
    ),
];

#[allow(
    clippy::too_many_lines,
    reason = "one check per member of the structure, in declaration order"
)]
pub(super) fn general(
    st: &mut State,
    adapter: usize,
    g: &NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
) -> Result<(), String> {
    if !st.adapters[adapter].registered {
        return Err("general attributes set before the registration attributes".into());
    }
    let h = g.Header;
    let size_ok = match h.Revision {
        NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 => {
            h.Size >= NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1
        }
        NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2 => {
            h.Size >= NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2
        }
        _ => false,
    };
    if !size_ok {
        return Err(format!(
            "general attributes revision {} size {}",
            h.Revision, h.Size
        ));
    }
    if g.MediaType != NdisMedium802_3 {
        return Err(format!(
            "MediaType {} (the host models NdisMedium802_3)",
            g.MediaType
        ));
    }
    if g.MtuSize == 0 {
        return Err("MtuSize 0".into());
    }
    if usize::from(g.MacAddressLength) != ETH_LENGTH_OF_ADDRESS {
        return Err(format!(
            "MacAddressLength {} for an 802.3 adapter",
            g.MacAddressLength
        ));
    }
    if g.SupportedOidList.is_null()
        || g.SupportedOidListLength == 0
        || !g.SupportedOidListLength.is_multiple_of(4)
    {
        return Err(format!(
            "SupportedOidList {:p} with length {}",
            g.SupportedOidList, g.SupportedOidListLength
        ));
    }
    if g.MaxXmitLinkSpeed != NDIS_LINK_SPEED_UNKNOWN
        && g.XmitLinkSpeed != NDIS_LINK_SPEED_UNKNOWN
        && g.XmitLinkSpeed > g.MaxXmitLinkSpeed
    {
        return Err(format!(
            "XmitLinkSpeed {} above MaxXmitLinkSpeed {}",
            g.XmitLinkSpeed, g.MaxXmitLinkSpeed
        ));
    }
    if !(1..=4).contains(&g.AccessType)
        || !(1..=3).contains(&g.ConnectionType)
        || !(0..=2).contains(&g.DirectionType)
    {
        return Err(format!(
            "AccessType {} ConnectionType {} DirectionType {}",
            g.AccessType, g.ConnectionType, g.DirectionType
        ));
    }
    if g.IfType == 0 {
        return Err("IfType 0".into());
    }
    let count = g.SupportedOidListLength as usize / 4;
    // SAFETY: the driver's list of `SupportedOidListLength` bytes, valid for the call (NDIS copies it).
    let oids = unsafe { std::slice::from_raw_parts(g.SupportedOidList, count) }.to_vec();
    // SupportedStatistics holds NDIS_STATISTICS_*_SUPPORTED bits, each a counter whose OID the
    // miniport answers (the general attributes' page).
    let known = SUPPORTED_STATISTICS.iter().fold(0, |all, (bit, _)| all | bit);
    if g.SupportedStatistics & !known != 0 {
        return Err(format!(
            "SupportedStatistics {:#x} has bits that are no NDIS_STATISTICS_*_SUPPORTED flag",
            g.SupportedStatistics & !known
        ));
    }
    if let Some((_, oid)) = SUPPORTED_STATISTICS
        .iter()
        .find(|(bit, oid)| g.SupportedStatistics & bit != 0 && !oids.contains(oid))
    {
        return Err(format!(
            "SupportedStatistics claims the counter of OID {oid:#010x}, which SupportedOidList lacks"
        ));
    }
    // PowerManagementCapabilitiesEx "is mandatory for NDIS 6.20 and later drivers".
    let pm = if g.PowerManagementCapabilitiesEx.is_null() {
        None
    } else {
        // SAFETY: the driver's structure, valid for the call (NDIS copies it).
        Some(unsafe { *g.PowerManagementCapabilitiesEx })
    };
    let minor = minor_version(st);
    match pm {
        None if minor >= 20 => {
            return Err(format!(
                "PowerManagementCapabilitiesEx is NULL (mandatory for an NDIS 6.{minor} miniport)"
            ));
        }
        Some(c)
            if c.Header.Type != NDIS_OBJECT_TYPE_DEFAULT
                || c.Header.Revision < NDIS_PM_CAPABILITIES_REVISION_1
                || c.Header.Size < NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_1 =>
        {
            return Err(format!("NDIS_PM_CAPABILITIES header {:?}", c.Header));
        }
        _ => {}
    }
    let rss = rss_capabilities(g, &oids, minor)?;
    let slot = &mut st.adapters[adapter];
    slot.general = Some(GeneralAttributes {
        media_type: g.MediaType,
        physical_medium: g.PhysicalMediumType,
        mtu: g.MtuSize,
        max_xmit_link_speed: g.MaxXmitLinkSpeed,
        xmit_link_speed: g.XmitLinkSpeed,
        max_rcv_link_speed: g.MaxRcvLinkSpeed,
        rcv_link_speed: g.RcvLinkSpeed,
        media_connect_state: g.MediaConnectState,
        media_duplex_state: g.MediaDuplexState,
        lookahead: g.LookaheadSize,
        mac_options: g.MacOptions,
        supported_packet_filters: g.SupportedPacketFilters,
        max_multicast_list_size: g.MaxMulticastListSize,
        permanent_address: g.PermanentMacAddress[..ETH_LENGTH_OF_ADDRESS].to_vec(),
        current_address: g.CurrentMacAddress[..ETH_LENGTH_OF_ADDRESS].to_vec(),
        if_type: g.IfType,
        connector_present: g.IfConnectorPresent != 0,
        supported_statistics: g.SupportedStatistics,
        supported_oids: oids,
        has_pnp_capabilities: !g.PowerManagementCapabilities.is_null(),
        pm_capabilities: pm,
        rss_capabilities: rss,
    });
    Ok(())
}

/// The RSS capabilities, checked as `NDIS_RECEIVE_SCALE_CAPABILITIES` documents them: its header
/// (revision 2 for an NDIS 6.30 miniport), a hash function, queues, an indirection table of a
/// power of two entries up to 128, and, as `OID_GEN_RECEIVE_SCALE_PARAMETERS` says, "the set is
/// required for drivers that support RSS": the OID is in the supported list.
fn rss_capabilities(
    g: &NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    oids: &[NDIS_OID],
    minor: u8,
) -> Result<Option<NDIS_RECEIVE_SCALE_CAPABILITIES>, String> {
    if g.RecvScaleCapabilities.is_null() {
        return Ok(None);
    }
    // SAFETY: the driver's structure, valid for the call (NDIS copies it).
    let c = unsafe { *g.RecvScaleCapabilities.cast::<NDIS_RECEIVE_SCALE_CAPABILITIES>() };
    let (revision, size) = if minor >= 30 {
        (
            NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
            NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
        )
    } else {
        (1, 16)
    };
    if c.Header.Type != NDIS_OBJECT_TYPE_RSS_CAPABILITIES
        || c.Header.Revision < revision
        || c.Header.Size < size
    {
        return Err(format!("NDIS_RECEIVE_SCALE_CAPABILITIES header {:?}", c.Header));
    }
    if c.CapabilitiesFlags & NDIS_HASH_FUNCTION_MASK == 0 {
        return Err("RSS capabilities name no hash function".into());
    }
    if c.NumberOfReceiveQueues == 0 || c.NumberOfInterruptMessages == 0 {
        return Err("RSS capabilities with no receive queue or interrupt message".into());
    }
    let entries = c.NumberOfIndirectionTableEntries;
    if minor >= 30 && (!entries.is_power_of_two() || entries > 128) {
        return Err(format!(
            "NumberOfIndirectionTableEntries {entries} (a power of two up to 128)"
        ));
    }
    if !oids.contains(&OID_GEN_RECEIVE_SCALE_PARAMETERS) {
        return Err("RSS capabilities without OID_GEN_RECEIVE_SCALE_PARAMETERS in SupportedOidList".into());
    }
    Ok(Some(c))
}

/// The hardware assist attributes, as far as NDIS QoS goes: a revision that has the QoS members
/// (3, NDIS 6.30), and either both QoS capability pointers or neither, each with the
/// `NDIS_QOS_CAPABILITIES` header; current capabilities within the hardware's
/// ("Registering NDIS QoS Capabilities").
fn hardware_assist(
    st: &mut State,
    adapter: usize,
    h: &NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
) -> Result<(), String> {
    if h.Header.Revision >= NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2
        && h.Header.Size >= NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_2
    {
        receive_filters(st, adapter, h)?;
    }
    if h.Header.Revision < NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3
        || h.Header.Size < NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3
    {
        // Earlier revisions end before the QoS members.
        return Ok(());
    }
    let read = |p: PVOID| {
        // SAFETY: the driver's structure, valid for the call (NDIS copies it); NULL checked.
        (!p.is_null()).then(|| unsafe { *p.cast::<NDIS_QOS_CAPABILITIES>() })
    };
    let qos = match (read(h.HardwareQosCapabilities), read(h.CurrentQosCapabilities)) {
        (None, None) => return Ok(()),
        (Some(hardware), Some(current)) => (hardware, current),
        _ => return Err("one NDIS QoS capabilities pointer set without the other".into()),
    };
    for c in [qos.0, qos.1] {
        if c.Header.Type != NDIS_OBJECT_TYPE_QOS_CAPABILITIES
            || c.Header.Revision < NDIS_QOS_CAPABILITIES_REVISION_1
            || c.Header.Size < NDIS_SIZEOF_QOS_CAPABILITIES_REVISION_1
        {
            return Err(format!("NDIS_QOS_CAPABILITIES header {:?}", c.Header));
        }
        if c.MaxNumTrafficClasses > NDIS_QOS_MAXIMUM_TRAFFIC_CLASSES
            || c.MaxNumEtsCapableTrafficClasses > c.MaxNumTrafficClasses
            || c.MaxNumPfcEnabledTrafficClasses > c.MaxNumTrafficClasses
        {
            return Err(format!(
                "NDIS QoS capabilities beyond eight traffic classes: {c:?}"
            ));
        }
    }
    if qos.1.MaxNumTrafficClasses > qos.0.MaxNumTrafficClasses {
        return Err("current NDIS QoS capabilities beyond the hardware's".into());
    }
    st.adapters[adapter].qos = Some(qos);
    Ok(())
}

/// The receive filter (VMQ) capabilities of the hardware assist attributes (revision 2 and
/// later): both pointers or neither, each checked ([`crate::vmq::check_capabilities`]) and kept
/// for the queries NDIS answers.
fn receive_filters(
    st: &mut State,
    adapter: usize,
    h: &NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
) -> Result<(), String> {
    let read = |p: PVOID| {
        // SAFETY: the driver's structure, valid for the call (NDIS copies it); NULL checked.
        (!p.is_null()).then(|| unsafe { *p.cast::<NDIS_RECEIVE_FILTER_CAPABILITIES>() })
    };
    match (
        read(h.HardwareReceiveFilterCapabilities),
        read(h.CurrentReceiveFilterCapabilities),
    ) {
        (None, None) => Ok(()),
        (Some(hardware), Some(current)) => {
            crate::vmq::check_capabilities(&hardware, &current)?;
            st.adapters[adapter].vmq.caps = Some((hardware, current));
            Ok(())
        }
        _ => Err("one receive filter capabilities pointer set without the other".into()),
    }
}
