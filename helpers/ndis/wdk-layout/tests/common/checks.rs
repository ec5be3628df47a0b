// The WDK comparisons, shared by `wdk_layout.rs` (Windows: `wdk` is bindgen's ndis.h, `wdk_sys`
// the wdk-sys crate) and `stand_in.rs` (every host: both are `ndis` itself, which proves each line
// names real `ndis` members and that a difference is reported). The includer provides `wdk`,
// `wdk_sys` and the `std::mem` functions.

/// Compares `ndis::$r` with the C type `$c`: records its name in `seen` and
/// every difference in `diffs`.
macro_rules! same {
    ($c:ty => $r:ident { $($f:ident),* $(,)? }) => {
        |seen: &mut Vec<&'static str>, diffs: &mut Vec<String>| {
            seen.push(stringify!($r));
            let name = stringify!($r);
            if size_of::<$c>() != size_of::<ndis::$r>() {
                diffs.push(format!("{name}: size {} in the WDK, {} in ndis", size_of::<$c>(), size_of::<ndis::$r>()));
            }
            if align_of::<$c>() != align_of::<ndis::$r>() {
                diffs.push(format!("{name}: align {} in the WDK, {} in ndis", align_of::<$c>(), align_of::<ndis::$r>()));
            }
            $(
                let (c, r) = (offset_of!($c, $f), offset_of!(ndis::$r, $f));
                if c != r {
                    diffs.push(format!("{name}.{}: offset {c} in the WDK, {r} in ndis", stringify!($f)));
                }
            )*
        }
    };
}

type Compare = fn(&mut Vec<&'static str>, &mut Vec<String>);

/// Every comparison; each names one type of `ndis_wdk_layout::COMPARED`.
fn checks() -> Vec<Compare> {
    vec![
    same!(wdk_sys::LARGE_INTEGER => LARGE_INTEGER { QuadPart, }),
    same!(wdk_sys::UNICODE_STRING => UNICODE_STRING { Length, MaximumLength, Buffer, }),
    same!(wdk_sys::LIST_ENTRY => LIST_ENTRY { Flink, Blink, }),
    same!(wdk_sys::SINGLE_LIST_ENTRY => SINGLE_LIST_ENTRY { Next, }),
    same!(wdk_sys::SLIST_HEADER => SLIST_HEADER {}),
    same!(wdk_sys::GUID => GUID { Data1, Data2, Data3, Data4, }),
    same!(wdk_sys::PROCESSOR_NUMBER => PROCESSOR_NUMBER { Group, Number, Reserved, }),
    same!(wdk_sys::DRIVER_OBJECT => DRIVER_OBJECT {}),
    same!(wdk_sys::KEVENT => KEVENT {}),
    same!(wdk_sys::KDPC => KDPC {
        DpcListEntry, ProcessorHistory, DeferredRoutine, DeferredContext, SystemArgument1,
        SystemArgument2, DpcData,
    }),
    same!(wdk_sys::MDL => MDL {
        Next, Size, MdlFlags, Process, MappedSystemVa, StartVa, ByteCount, ByteOffset,
    }),
    same!(wdk::NDIS_EVENT => NDIS_EVENT { Event, }),
    same!(wdk::NDIS_SPIN_LOCK => NDIS_SPIN_LOCK { SpinLock, OldIrql, }),
    same!(wdk::NET_LUID => NET_LUID { Value, }),
    same!(wdk::NDIS_OBJECT_HEADER => NDIS_OBJECT_HEADER { Type, Revision, Size, }),
    same!(wdk::NDIS_GENERIC_OBJECT => NDIS_GENERIC_OBJECT {
        Header, Caller, CallersCaller, DriverObject,
    }),
    same!(wdk::NDIS_MINIPORT_DRIVER_CHARACTERISTICS => NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header, MajorNdisVersion, MinorNdisVersion, MajorDriverVersion, MinorDriverVersion, Flags,
        SetOptionsHandler, InitializeHandlerEx, HaltHandlerEx, UnloadHandler, PauseHandler,
        RestartHandler, OidRequestHandler, SendNetBufferListsHandler, ReturnNetBufferListsHandler,
        CancelSendHandler, CheckForHangHandlerEx, ResetHandlerEx, DevicePnPEventNotifyHandler,
        ShutdownHandlerEx, CancelOidRequestHandler, DirectOidRequestHandler,
        CancelDirectOidRequestHandler,
    }),
    same!(wdk::NDIS_PORT_AUTHENTICATION_PARAMETERS => NDIS_PORT_AUTHENTICATION_PARAMETERS {
        Header, SendControlState, RcvControlState, SendAuthorizationState, RcvAuthorizationState,
    }),
    same!(wdk::NDIS_MINIPORT_INIT_PARAMETERS => NDIS_MINIPORT_INIT_PARAMETERS {
        Header, Flags, AllocatedResources, IMDeviceInstanceContext, MiniportAddDeviceContext, IfIndex,
        NetLuid, DefaultPortAuthStates, PciDeviceCustomProperties,
    }),
    same!(wdk::NDIS_MINIPORT_PAUSE_PARAMETERS => NDIS_MINIPORT_PAUSE_PARAMETERS {
        Header, Flags, PauseReason,
    }),
    same!(wdk::NDIS_RESTART_ATTRIBUTES => NDIS_RESTART_ATTRIBUTES { Next, Oid, DataLength, Data, }),
    same!(wdk::NDIS_MINIPORT_RESTART_PARAMETERS => NDIS_MINIPORT_RESTART_PARAMETERS {
        Header, RestartAttributes, Flags,
    }),
    same!(wdk::NDIS_RESTART_GENERAL_ATTRIBUTES => NDIS_RESTART_GENERAL_ATTRIBUTES {
        Header, MtuSize, MaxXmitLinkSpeed, MaxRcvLinkSpeed, LookaheadSize, MacOptions,
        SupportedPacketFilters, MaxMulticastListSize, RecvScaleCapabilities, AccessType, Flags,
        ConnectionType, SupportedStatistics, DataBackFillSize, ContextBackFillSize, SupportedOidList,
        SupportedOidListLength,
    }),
    same!(wdk::NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES => NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header, MiniportAdapterContext, AttributeFlags, CheckForHangTimeInSeconds, InterfaceType,
    }),
    same!(wdk::NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES => NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES {
        Header, MiniportAddDeviceContext, Flags,
    }),
    same!(wdk::NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES => NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header, Flags, MediaType, PhysicalMediumType, MtuSize, MaxXmitLinkSpeed, XmitLinkSpeed,
        MaxRcvLinkSpeed, RcvLinkSpeed, MediaConnectState, MediaDuplexState, LookaheadSize,
        PowerManagementCapabilities, MacOptions, SupportedPacketFilters, MaxMulticastListSize,
        MacAddressLength, PermanentMacAddress, CurrentMacAddress, RecvScaleCapabilities, AccessType,
        DirectionType, ConnectionType, IfType, IfConnectorPresent, SupportedStatistics,
        SupportedPauseFunctions, DataBackFillSize, ContextBackFillSize, SupportedOidList,
        SupportedOidListLength, AutoNegotiationFlags,
    }),
    same!(wdk::NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES => NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
        Header, DefaultOffloadConfiguration, HardwareOffloadCapabilities,
        DefaultTcpConnectionOffloadConfiguration, TcpConnectionOffloadHardwareCapabilities,
    }),
    same!(wdk::NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES => NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
        Header, HDSplitAttributes, HardwareReceiveFilterCapabilities, CurrentReceiveFilterCapabilities,
        HardwareNicSwitchCapabilities, CurrentNicSwitchCapabilities, HardwareSriovCapabilities,
        CurrentSriovCapabilities, HardwareQosCapabilities, CurrentQosCapabilities,
    }),
    same!(wdk::NDIS_MINIPORT_ADAPTER_ATTRIBUTES => NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
        Header, AddDeviceRegistrationAttributes, RegistrationAttributes, GeneralAttributes,
        OffloadAttributes, HardwareAssistAttributes,
    }),
    same!(wdk::NET_DEVICE_PNP_EVENT => NET_DEVICE_PNP_EVENT {
        Header, PortNumber, DevicePnPEvent, InformationBuffer, InformationBufferLength, NdisReserved,
    }),
    same!(wdk::NET_BUFFER_DATA => NET_BUFFER_DATA {
        Next, CurrentMdl, CurrentMdlOffset, MdlChain, DataOffset,
    }),
    same!(wdk::NET_BUFFER_HEADER => NET_BUFFER_HEADER { Link, }),
    same!(wdk::NET_BUFFER_SHARED_MEMORY => NET_BUFFER_SHARED_MEMORY {
        NextSharedMemorySegment, SharedMemoryFlags, SharedMemoryHandle, SharedMemoryOffset,
        SharedMemoryLength,
    }),
    same!(wdk::NET_BUFFER => NET_BUFFER {
        ChecksumBias, Reserved, NdisPoolHandle, NdisReserved, ProtocolReserved, MiniportReserved,
        DataPhysicalAddress,
    }),
    same!(wdk::NET_BUFFER_LIST_DATA => NET_BUFFER_LIST_DATA { Next, FirstNetBuffer, }),
    same!(wdk::NET_BUFFER_LIST_HEADER => NET_BUFFER_LIST_HEADER { Link, }),
    same!(wdk::NET_BUFFER_LIST_CONTEXT => NET_BUFFER_LIST_CONTEXT { Next, Size, Offset, ContextData, }),
    same!(wdk::NET_BUFFER_LIST => NET_BUFFER_LIST {
        Context, ParentNetBufferList, NdisPoolHandle, NdisReserved, ProtocolReserved, MiniportReserved,
        Scratch, SourceHandle, NblFlags, ChildRefCount, Flags, NetBufferListInfo,
    }),
    same!(wdk::NET_BUFFER_LIST_POOL_PARAMETERS => NET_BUFFER_LIST_POOL_PARAMETERS {
        Header, ProtocolId, fAllocateNetBuffer, ContextSize, PoolTag, DataSize,
    }),
    same!(wdk::NET_BUFFER_POOL_PARAMETERS => NET_BUFFER_POOL_PARAMETERS { Header, PoolTag, DataSize, }),
    same!(wdk::NDIS_OID_REQUEST => NDIS_OID_REQUEST {
        Header, RequestType, PortNumber, Timeout, RequestId, RequestHandle, DATA, NdisReserved,
        MiniportReserved, SourceReserved, SupportedRevision, Reserved1, Reserved2,
    }),
    same!(wdk::NDIS_INTERRUPT_MODERATION_PARAMETERS => NDIS_INTERRUPT_MODERATION_PARAMETERS {
        Header, Flags, InterruptModeration,
    }),
    same!(wdk::NDIS_STATISTICS_INFO => NDIS_STATISTICS_INFO {
        Header, SupportedStatistics, ifInDiscards, ifInErrors, ifHCInOctets, ifHCInUcastPkts,
        ifHCInMulticastPkts, ifHCInBroadcastPkts, ifHCOutOctets, ifHCOutUcastPkts, ifHCOutMulticastPkts,
        ifHCOutBroadcastPkts, ifOutErrors, ifOutDiscards, ifHCInUcastOctets, ifHCInMulticastOctets,
        ifHCInBroadcastOctets, ifHCOutUcastOctets, ifHCOutMulticastOctets, ifHCOutBroadcastOctets,
    }),
    same!(wdk::NDIS_LINK_STATE => NDIS_LINK_STATE {
        Header, MediaConnectState, MediaDuplexState, XmitLinkSpeed, RcvLinkSpeed, PauseFunctions,
        AutoNegotiationFlags,
    }),
    same!(wdk::NDIS_LINK_PARAMETERS => NDIS_LINK_PARAMETERS {
        Header, MediaDuplexState, XmitLinkSpeed, RcvLinkSpeed, PauseFunctions, AutoNegotiationFlags,
    }),
    same!(wdk::NDIS_STATUS_INDICATION => NDIS_STATUS_INDICATION {
        Header, SourceHandle, PortNumber, StatusCode, Flags, DestinationHandle, RequestId, StatusBuffer,
        StatusBufferSize, Guid, NdisReserved,
    }),
    same!(wdk::NDIS_PM_WAKE_UP_CAPABILITIES => NDIS_PM_WAKE_UP_CAPABILITIES {
        MinMagicPacketWakeUp, MinPatternWakeUp, MinLinkChangeWakeUp,
    }),
    same!(wdk::NDIS_PNP_CAPABILITIES => NDIS_PNP_CAPABILITIES { Flags, WakeUpCapabilities, }),
    same!(wdk::NDIS_PM_CAPABILITIES => NDIS_PM_CAPABILITIES {
        Header, Flags, SupportedWoLPacketPatterns, NumTotalWoLPatterns, MaxWoLPatternSize,
        MaxWoLPatternOffset, MaxWoLPacketSaveBuffer, SupportedProtocolOffloads,
        NumArpOffloadIPv4Addresses, NumNSOffloadIPv6Addresses, MinMagicPacketWakeUp, MinPatternWakeUp,
        MinLinkChangeWakeUp,
    }),
    same!(wdk::NDIS_CONFIGURATION_OBJECT => NDIS_CONFIGURATION_OBJECT { Header, NdisHandle, Flags, }),
    same!(wdk::BINARY_DATA => BINARY_DATA { Length, Buffer, }),
    same!(wdk::NDIS_CONFIGURATION_PARAMETER => NDIS_CONFIGURATION_PARAMETER {
        ParameterType, ParameterData,
    }),
    same!(wdk::NDIS_TIMER_CHARACTERISTICS => NDIS_TIMER_CHARACTERISTICS {
        Header, AllocationTag, TimerFunction, FunctionContext,
    }),
    same!(wdk::NDIS_TCP_IP_CHECKSUM_OFFLOAD => NDIS_TCP_IP_CHECKSUM_OFFLOAD {
        IPv4Transmit, IPv4Receive, IPv6Transmit, IPv6Receive,
    }),
    same!(wdk::NDIS_TCP_LARGE_SEND_OFFLOAD_V1 => NDIS_TCP_LARGE_SEND_OFFLOAD_V1 { IPv4, }),
    same!(wdk::NDIS_IPSEC_OFFLOAD_V1 => NDIS_IPSEC_OFFLOAD_V1 { Supported, IPv4AH, IPv4ESP, }),
    same!(wdk::NDIS_TCP_LARGE_SEND_OFFLOAD_V2 => NDIS_TCP_LARGE_SEND_OFFLOAD_V2 { IPv4, IPv6, }),
    same!(wdk::NDIS_IPSEC_OFFLOAD_V2 => NDIS_IPSEC_OFFLOAD_V2 {
        Encapsulation, IPv6Supported, IPv4Options, IPv6NonIPsecExtensionHeaders, Ah, Esp, AhEspCombined,
        Transport, Tunnel, TransportTunnelCombined, LsoSupported, ExtendedSequenceNumbers, UdpEsp,
        AuthenticationAlgorithms, EncryptionAlgorithms, SaOffloadCapacity,
    }),
    same!(wdk::NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD => NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD { IPv4, IPv6, }),
    same!(wdk::NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD => NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD {
        MaxHeaderSizeSupported,
    }),
    same!(wdk::NDIS_OFFLOAD => NDIS_OFFLOAD {
        Header, Checksum, LsoV1, IPsecV1, LsoV2, Flags, IPsecV2, Rsc, EncapsulatedPacketTaskOffloadGre,
    }),
    same!(wdk::NDIS_OFFLOAD_PARAMETERS => NDIS_OFFLOAD_PARAMETERS {
        Header, IPv4Checksum, TCPIPv4Checksum, UDPIPv4Checksum, TCPIPv6Checksum, UDPIPv6Checksum, LsoV1,
        IPsecV1, LsoV2IPv4, LsoV2IPv6, TcpConnectionIPv4, TcpConnectionIPv6, Flags, IPsecV2, IPsecV2IPv4,
    }),
    same!(wdk::NDIS_OFFLOAD_ENCAPSULATION => NDIS_OFFLOAD_ENCAPSULATION { Header, IPv4, IPv6, }),
    same!(wdk::NDIS_RSC_STATISTICS_INFO => NDIS_RSC_STATISTICS_INFO {
        Header, CoalescedPkts, CoalescedOctets, CoalesceEvents, Aborts,
    }),
    same!(wdk::NDIS_TCP_CONNECTION_OFFLOAD => NDIS_TCP_CONNECTION_OFFLOAD {
        Header, Encapsulation, TcpConnectionOffloadCapacity, Flags,
    }),
    same!(wdk::NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO => NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO {}),
    same!(wdk::NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO => NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO {}),
    same!(wdk::NDIS_RSC_NBL_INFO => NDIS_RSC_NBL_INFO { Value, }),
    same!(wdk::NDIS_RECEIVE_SCALE_CAPABILITIES => NDIS_RECEIVE_SCALE_CAPABILITIES {
        Header, CapabilitiesFlags, NumberOfInterruptMessages, NumberOfReceiveQueues,
        NumberOfIndirectionTableEntries,
    }),
    same!(wdk::NDIS_RECEIVE_SCALE_PARAMETERS => NDIS_RECEIVE_SCALE_PARAMETERS {
        Header, Flags, BaseCpuNumber, HashInformation, IndirectionTableSize, IndirectionTableOffset,
        HashSecretKeySize, HashSecretKeyOffset, ProcessorMasksOffset, NumberOfProcessorMasks,
        ProcessorMasksEntrySize,
    }),
    same!(wdk::NDIS_QOS_CAPABILITIES => NDIS_QOS_CAPABILITIES {
        Header, Flags, MaxNumTrafficClasses, MaxNumEtsCapableTrafficClasses,
        MaxNumPfcEnabledTrafficClasses,
    }),
    same!(wdk::NDIS_QOS_PARAMETERS => NDIS_QOS_PARAMETERS {
        Header, Flags, NumTrafficClasses, PriorityAssignmentTable, TcBandwidthAssignmentTable,
        TsaAssignmentTable, PfcEnable, NumClassificationElements, ClassificationElementSize,
        FirstClassificationElementOffset,
    }),
    same!(wdk::NDIS_QOS_CLASSIFICATION_ELEMENT => NDIS_QOS_CLASSIFICATION_ELEMENT {
        Header, Flags, ConditionSelector, ConditionField, ActionSelector, ActionField,
    }),
    same!(wdk::NDIS_RECEIVE_FILTER_CAPABILITIES => NDIS_RECEIVE_FILTER_CAPABILITIES {
        Header, Flags, EnabledFilterTypes, EnabledQueueTypes, NumQueues, SupportedQueueProperties,
        SupportedFilterTests, SupportedHeaders, SupportedMacHeaderFields, MaxMacHeaderFilters,
        MaxQueueGroups, MaxQueuesPerQueueGroup, MinLookaheadSplitSize, MaxLookaheadSplitSize,
        SupportedARPHeaderFields, SupportedIPv4HeaderFields, SupportedIPv6HeaderFields,
        SupportedUdpHeaderFields, MaxFieldTestsPerPacketCoalescingFilter, MaxPacketCoalescingFilters,
        NdisReserved,
    }),
    same!(wdk::GROUP_AFFINITY => GROUP_AFFINITY { Mask, Group, Reserved, }),
    same!(wdk::NDIS_QUEUE_NAME => NDIS_QUEUE_NAME { Length, String, }),
    same!(wdk::NDIS_RECEIVE_QUEUE_PARAMETERS => NDIS_RECEIVE_QUEUE_PARAMETERS {
        Header, Flags, QueueType, QueueId, QueueGroupId, ProcessorAffinity, NumSuggestedReceiveBuffers,
        MSIXTableEntry, LookaheadSize, VmName, QueueName, PortId, InterruptCoalescingDomainId,
    }),
    same!(wdk::NDIS_RECEIVE_FILTER_PARAMETERS => NDIS_RECEIVE_FILTER_PARAMETERS {
        Header, Flags, FilterType, QueueId, FilterId, FieldParametersArrayOffset,
        FieldParametersArrayNumElements, FieldParametersArrayElementSize, RequestedFilterIdBitCount,
        MaxCoalescingDelay, VPortId,
    }),
    same!(wdk::NDIS_RECEIVE_FILTER_FIELD_PARAMETERS => NDIS_RECEIVE_FILTER_FIELD_PARAMETERS {
        Header, Flags, FrameHeader, ReceiveFilterTest, HeaderField, FieldValue, ResultValue,
    }),
    same!(wdk::NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS => NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS {
        Header, Flags, QueueId, FilterId,
    }),
    same!(wdk::NDIS_RECEIVE_QUEUE_FREE_PARAMETERS => NDIS_RECEIVE_QUEUE_FREE_PARAMETERS {
        Header, Flags, QueueId,
    }),
    same!(wdk::NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY => NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY {
        Header, Flags, NumElements, FirstElementOffset, ElementSize,
    }),
    same!(wdk::NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS => NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS {
        Header, Flags, QueueId, CompletionStatus,
    }),
    same!(wdk::NDIS_RECEIVE_QUEUE_STATE => NDIS_RECEIVE_QUEUE_STATE {
        Header, Flags, QueueId, QueueState,
    }),
    ]
}

/// Runs every comparison: the names compared and the differences found.
fn compare_all() -> (BTreeSet<&'static str>, Vec<String>) {
    let mut seen = Vec::new();
    let mut diffs = Vec::new();
    for check in checks() {
        check(&mut seen, &mut diffs);
    }
    (seen.into_iter().collect(), diffs)
}
