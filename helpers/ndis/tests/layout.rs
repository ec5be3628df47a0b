//! Layout tests: every struct and union of the `ndis` crate against clang's MSVC x64 layout of the
//! WDK headers (`oracle/ndis-layout-x64.txt`).
//!
//! Each check lists the Rust fields of one type. A field whose C access path differs from its Rust
//! path (C anonymous members, which Rust must name) is written `"C.path" => rust.path`. Then:
//! - size and alignment must equal the oracle's;
//! - every listed field must exist in the oracle with the same offset and size;
//! - every oracle row must be covered: listed, reached through a listed field whose own type is
//!   checked here (so `Header.Type` is covered by `Header` plus the `NDIS_OBJECT_HEADER` check), or
//!   omitted with a reason (`omit "C.path": "why"`);
//! - types the oracle names only as members (`DATA.QUERY_INFORMATION`) are checked against their
//!   parent's rows (`nested NDIS_OID_REQUEST_QUERY in NDIS_OID_REQUEST at "DATA.QUERY_INFORMATION"`);
//! - types absent from the oracle cite the documentation their numbers come from;
//! - finally, every `pub struct`/`pub union` in `src/` must have a check here.

#![allow(
    clippy::too_many_lines,
    clippy::single_match_else,
    reason = "one list of every structure checked, and a check per source of truth"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::mem::{align_of, offset_of, size_of};

use common::{Layout, layouts};
use ndis::*;

/// Where a check's expected numbers come from.
enum Source {
    /// A top-level STRUCT block of the oracle.
    Oracle,
    /// The rows under `prefix` of the oracle's `parent` block.
    Nested {
        parent: &'static str,
        prefix: &'static str,
    },
    /// Not in the oracle: expected size and alignment, and the documentation they come from.
    Documented {
        size: usize,
        align: usize,
        cite: &'static str,
    },
}

struct Check {
    name: &'static str,
    size: usize,
    align: usize,
    source: Source,
    fields: Vec<(String, usize, usize)>,
    omitted: Vec<(&'static str, &'static str)>,
}

/// Size of a field, from a raw pointer to it (no value is read).
fn pointee_size<F>(_: *const F) -> usize {
    size_of::<F>()
}

macro_rules! field_size {
    ($t:ty, $($p:ident).+) => {{
        let place = std::mem::MaybeUninit::<$t>::uninit();
        let base = place.as_ptr();
        // `&raw const` computes the address of a field inside `place` (alive for this block).
        // SAFETY: nothing is read and no reference is created, so uninitialised memory is fine.
        pointee_size(unsafe { &raw const (*base).$($p).+ })
    }};
}

macro_rules! check {
    ($t:ident $(, $src:expr)? ; { $($body:tt)* }) => {{
        #[allow(unused_mut)]
        let mut c = Check {
            name: stringify!($t),
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            source: check!(@src $($src)?),
            fields: Vec::new(),
            omitted: Vec::new(),
        };
        check!(@f c, $t, $($body)*);
        c
    }};
    (@src) => { Source::Oracle };
    (@src $src:expr) => { $src };
    (@f $c:ident, $t:ty, ) => {};
    (@f $c:ident, $t:ty, omit $cp:literal : $why:literal, $($rest:tt)*) => {
        $c.omitted.push(($cp, $why));
        check!(@f $c, $t, $($rest)*);
    };
    (@f $c:ident, $t:ty, $cp:literal => $($p:ident).+, $($rest:tt)*) => {
        $c.fields.push(($cp.to_string(), offset_of!($t, $($p).+), field_size!($t, $($p).+)));
        check!(@f $c, $t, $($rest)*);
    };
    (@f $c:ident, $t:ty, $($p:ident).+, $($rest:tt)*) => {
        $c.fields.push((
            stringify!($($p).+).replace(' ', ""),
            offset_of!($t, $($p).+),
            field_size!($t, $($p).+),
        ));
        check!(@f $c, $t, $($rest)*);
    };
}

fn all_checks() -> Vec<Check> {
    vec![
        // ---- basic.rs ----
        check!(LARGE_INTEGER; { QuadPart,
            omit "LowPart": "32-bit halves of QuadPart (anonymous struct view)",
            omit "HighPart": "32-bit halves of QuadPart (anonymous struct view)",
            omit "u": "32-bit halves of QuadPart (named struct view)", }),
        check!(UNICODE_STRING; { Length, MaximumLength, Buffer, }),
        check!(NDIS_STRING; { Length, MaximumLength, Buffer, }),
        check!(LIST_ENTRY; { Flink, Blink, }),
        check!(SINGLE_LIST_ENTRY; { Next, }),
        check!(SLIST_HEADER; { Alignment, Region,
            omit "HeaderX64": "bit-field view (Depth, Sequence, NextEntry) that only the kernel's SList routines decode", }),
        check!(GUID; { Data1, Data2, Data3, Data4, }),
        check!(PROCESSOR_NUMBER, Source::Documented { size: 4, align: 2,
            cite: "https://learn.microsoft.com/windows/win32/api/winnt/ns-winnt-processor_number (USHORT Group; UCHAR Number; UCHAR Reserved)" };
            { Group, Number, Reserved, }),
        check!(DRIVER_OBJECT; { }),
        check!(KEVENT; { omit "Header": "DISPATCHER_HEADER is kernel-private; events are used only through Ke*/Ndis*Event", }),
        check!(NDIS_EVENT; { Event, }),
        check!(NDIS_SPIN_LOCK; { SpinLock, OldIrql, }),
        check!(NET_LUID, Source::Nested { parent: "NDIS_MINIPORT_INIT_PARAMETERS", prefix: "NetLuid" };
            { Value, omit "Info": "bit-field view (Reserved:24, NetLuidIndex:24, IfType:16) of Value", }),
        // ---- object.rs ----
        check!(NDIS_OBJECT_HEADER; { Type, Revision, Size, }),
        check!(NDIS_GENERIC_OBJECT; { Header, Caller, CallersCaller, DriverObject, }),
        // ---- miniport.rs ----
        check!(NDIS_MINIPORT_DRIVER_CHARACTERISTICS; {
            Header, MajorNdisVersion, MinorNdisVersion, MajorDriverVersion, MinorDriverVersion, Flags,
            SetOptionsHandler, InitializeHandlerEx, HaltHandlerEx, UnloadHandler, PauseHandler, RestartHandler,
            OidRequestHandler, SendNetBufferListsHandler, ReturnNetBufferListsHandler, CancelSendHandler,
            CheckForHangHandlerEx, ResetHandlerEx, DevicePnPEventNotifyHandler, ShutdownHandlerEx,
            CancelOidRequestHandler, DirectOidRequestHandler, CancelDirectOidRequestHandler, }),
        check!(NDIS_PORT_AUTHENTICATION_PARAMETERS; {
            Header, SendControlState, RcvControlState, SendAuthorizationState, RcvAuthorizationState, }),
        check!(NDIS_MINIPORT_INIT_PARAMETERS; {
            Header, Flags, AllocatedResources, IMDeviceInstanceContext, MiniportAddDeviceContext, IfIndex,
            NetLuid, DefaultPortAuthStates, PciDeviceCustomProperties, }),
        check!(NDIS_MINIPORT_PAUSE_PARAMETERS; { Header, Flags, PauseReason, }),
        check!(NDIS_RESTART_ATTRIBUTES; { Next, Oid, DataLength, Data, }),
        check!(NDIS_MINIPORT_RESTART_PARAMETERS; { Header, RestartAttributes, Flags, }),
        check!(NDIS_RESTART_GENERAL_ATTRIBUTES; {
            Header, MtuSize, MaxXmitLinkSpeed, MaxRcvLinkSpeed, LookaheadSize, MacOptions, SupportedPacketFilters,
            MaxMulticastListSize, RecvScaleCapabilities, AccessType, Flags, ConnectionType, SupportedStatistics,
            DataBackFillSize, ContextBackFillSize, SupportedOidList, SupportedOidListLength,
            MaxLookaheadSizeAccessed, }),
        check!(NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES; {
            Header, MiniportAdapterContext, AttributeFlags, CheckForHangTimeInSeconds, InterfaceType, }),
        check!(NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES; { Header, MiniportAddDeviceContext, Flags, }),
        check!(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES; {
            Header, Flags, MediaType, PhysicalMediumType, MtuSize, MaxXmitLinkSpeed, XmitLinkSpeed,
            MaxRcvLinkSpeed, RcvLinkSpeed, MediaConnectState, MediaDuplexState, LookaheadSize,
            PowerManagementCapabilities, MacOptions, SupportedPacketFilters, MaxMulticastListSize,
            MacAddressLength, PermanentMacAddress, CurrentMacAddress, RecvScaleCapabilities, AccessType,
            DirectionType, ConnectionType, IfType, IfConnectorPresent, SupportedStatistics,
            SupportedPauseFunctions, DataBackFillSize, ContextBackFillSize, SupportedOidList,
            SupportedOidListLength, AutoNegotiationFlags, PowerManagementCapabilitiesEx, }),
        check!(NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES; {
            Header, DefaultOffloadConfiguration, HardwareOffloadCapabilities,
            DefaultTcpConnectionOffloadConfiguration, TcpConnectionOffloadHardwareCapabilities, }),
        check!(NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES; {
            Header, HDSplitAttributes, HardwareReceiveFilterCapabilities, CurrentReceiveFilterCapabilities,
            HardwareNicSwitchCapabilities, CurrentNicSwitchCapabilities, HardwareSriovCapabilities,
            CurrentSriovCapabilities, HardwareQosCapabilities, CurrentQosCapabilities, }),
        check!(NDIS_MINIPORT_ADAPTER_ATTRIBUTES; {
            Header, AddDeviceRegistrationAttributes, RegistrationAttributes, GeneralAttributes, OffloadAttributes,
            HardwareAssistAttributes,
            omit "Native_802_11_Attributes": "native 802.11 miniports only (64 bytes, smaller than GeneralAttributes)",
            omit "NDKAttributes": "NDK (RDMA) miniports only (16 bytes)", }),
        check!(NET_DEVICE_PNP_EVENT; {
            Header, PortNumber, DevicePnPEvent, InformationBuffer, InformationBufferLength, NdisReserved, }),
        // ---- nbl.rs ----
        check!(MDL; { Next, Size, MdlFlags, Process, MappedSystemVa, StartVa, ByteCount, ByteOffset, }),
        check!(NET_BUFFER_DATA_LENGTH, Source::Documented { size: 8, align: 8,
            cite: "oracle NET_BUFFER_DATA: anonymous union _NET_BUFFER_DATA_LENGTH (C++ name NbDataLength) at 24, size 8; its members are checked through NET_BUFFER_DATA" };
            { DataLength, stDataLength, }),
        check!(NET_BUFFER_DATA; {
            Next, CurrentMdl, CurrentMdlOffset, "DataLength" => NbDataLength.DataLength,
            "stDataLength" => NbDataLength.stDataLength, MdlChain, DataOffset, }),
        check!(NET_BUFFER_HEADER; {
            "Next" => NetBufferData.Next, "CurrentMdl" => NetBufferData.CurrentMdl,
            "CurrentMdlOffset" => NetBufferData.CurrentMdlOffset,
            "DataLength" => NetBufferData.NbDataLength.DataLength,
            "stDataLength" => NetBufferData.NbDataLength.stDataLength,
            "MdlChain" => NetBufferData.MdlChain, "DataOffset" => NetBufferData.DataOffset, Link, }),
        check!(NET_BUFFER_SHARED_MEMORY; {
            NextSharedMemorySegment, SharedMemoryFlags, SharedMemoryHandle, SharedMemoryOffset,
            SharedMemoryLength, }),
        check!(NET_BUFFER; {
            "Next" => NetBufferHeader.NetBufferData.Next,
            "CurrentMdl" => NetBufferHeader.NetBufferData.CurrentMdl,
            "CurrentMdlOffset" => NetBufferHeader.NetBufferData.CurrentMdlOffset,
            "DataLength" => NetBufferHeader.NetBufferData.NbDataLength.DataLength,
            "stDataLength" => NetBufferHeader.NetBufferData.NbDataLength.stDataLength,
            "MdlChain" => NetBufferHeader.NetBufferData.MdlChain,
            "DataOffset" => NetBufferHeader.NetBufferData.DataOffset,
            "Link" => NetBufferHeader.Link,
            NetBufferHeader, ChecksumBias, Reserved, NdisPoolHandle, NdisReserved, ProtocolReserved,
            MiniportReserved, DataPhysicalAddress, SharedMemoryInfo,
            omit "ScatterGatherList": "shares the pointer slot of SharedMemoryInfo (anonymous union)", }),
        check!(NET_BUFFER_LIST_DATA; { Next, FirstNetBuffer, }),
        check!(NET_BUFFER_LIST_HEADER; {
            "Next" => NetBufferListData.Next, "FirstNetBuffer" => NetBufferListData.FirstNetBuffer, Link, }),
        check!(NET_BUFFER_LIST_CONTEXT; { Next, Size, Offset, ContextData, }),
        check!(NET_BUFFER_LIST; {
            "Next" => NetBufferListHeader.NetBufferListData.Next,
            "FirstNetBuffer" => NetBufferListHeader.NetBufferListData.FirstNetBuffer,
            "Link" => NetBufferListHeader.Link,
            NetBufferListHeader, Context, ParentNetBufferList, NdisPoolHandle, NdisReserved, ProtocolReserved,
            MiniportReserved, Scratch, SourceHandle, NblFlags, ChildRefCount, Flags, Status, NetBufferListInfo,
            omit "NdisReserved2": "ULONG sharing the Status slot (anonymous union)", }),
        check!(NET_BUFFER_LIST_POOL_PARAMETERS; {
            Header, ProtocolId, fAllocateNetBuffer, ContextSize, PoolTag, DataSize, }),
        check!(NET_BUFFER_POOL_PARAMETERS; { Header, PoolTag, DataSize, }),
        // ---- oid.rs ----
        check!(NDIS_OID_REQUEST_QUERY, Source::Nested { parent: "NDIS_OID_REQUEST", prefix: "DATA.QUERY_INFORMATION" };
            { Oid, InformationBuffer, InformationBufferLength, BytesWritten, BytesNeeded, }),
        check!(NDIS_OID_REQUEST_SET, Source::Nested { parent: "NDIS_OID_REQUEST", prefix: "DATA.SET_INFORMATION" };
            { Oid, InformationBuffer, InformationBufferLength, BytesRead, BytesNeeded, }),
        check!(NDIS_OID_REQUEST_METHOD, Source::Nested { parent: "NDIS_OID_REQUEST", prefix: "DATA.METHOD_INFORMATION" };
            { Oid, InformationBuffer, InputBufferLength, OutputBufferLength, MethodId, BytesWritten, BytesRead,
              BytesNeeded, }),
        check!(NDIS_OID_REQUEST_DATA, Source::Nested { parent: "NDIS_OID_REQUEST", prefix: "DATA" };
            { Oid, QUERY_INFORMATION, SET_INFORMATION, METHOD_INFORMATION, }),
        check!(NDIS_OID_REQUEST; {
            Header, RequestType, PortNumber, Timeout, RequestId, RequestHandle, DATA, NdisReserved,
            MiniportReserved, SourceReserved, SupportedRevision, Reserved1, Reserved2, }),
        check!(NDIS_INTERRUPT_MODERATION_PARAMETERS; { Header, Flags, InterruptModeration, }),
        // ---- status.rs ----
        check!(NDIS_STATISTICS_INFO; {
            Header, SupportedStatistics, ifInDiscards, ifInErrors, ifHCInOctets, ifHCInUcastPkts,
            ifHCInMulticastPkts, ifHCInBroadcastPkts, ifHCOutOctets, ifHCOutUcastPkts, ifHCOutMulticastPkts,
            ifHCOutBroadcastPkts, ifOutErrors, ifOutDiscards, ifHCInUcastOctets, ifHCInMulticastOctets,
            ifHCInBroadcastOctets, ifHCOutUcastOctets, ifHCOutMulticastOctets, ifHCOutBroadcastOctets, }),
        check!(NDIS_LINK_STATE; {
            Header, MediaConnectState, MediaDuplexState, XmitLinkSpeed, RcvLinkSpeed, PauseFunctions,
            AutoNegotiationFlags, }),
        check!(NDIS_LINK_PARAMETERS; {
            Header, MediaDuplexState, XmitLinkSpeed, RcvLinkSpeed, PauseFunctions, AutoNegotiationFlags, }),
        check!(NDIS_STATUS_INDICATION; {
            Header, SourceHandle, PortNumber, StatusCode, Flags, DestinationHandle, RequestId, StatusBuffer,
            StatusBufferSize, Guid, NdisReserved, }),
        // ---- pm.rs ----
        check!(NDIS_PM_WAKE_UP_CAPABILITIES; { MinMagicPacketWakeUp, MinPatternWakeUp, MinLinkChangeWakeUp, }),
        check!(NDIS_PNP_CAPABILITIES; { Flags, WakeUpCapabilities, }),
        check!(NDIS_PM_CAPABILITIES; {
            Header, Flags, SupportedWoLPacketPatterns, NumTotalWoLPatterns, MaxWoLPatternSize,
            MaxWoLPatternOffset, MaxWoLPacketSaveBuffer, SupportedProtocolOffloads, NumArpOffloadIPv4Addresses,
            NumNSOffloadIPv6Addresses, MinMagicPacketWakeUp, MinPatternWakeUp, MinLinkChangeWakeUp,
            SupportedWakeUpEvents, MediaSpecificWakeUpEvents, }),
        // ---- offload.rs ----
        check!(NDIS_CHECKSUM_OFFLOAD_IPV4,
            Source::Nested { parent: "NDIS_TCP_IP_CHECKSUM_OFFLOAD", prefix: "IPv4Transmit" }; {
            Encapsulation, "IpOptionsSupported" => Bits, "TcpOptionsSupported" => Bits,
            "TcpChecksum" => Bits, "UdpChecksum" => Bits, "IpChecksum" => Bits, }),
        check!(NDIS_CHECKSUM_OFFLOAD_IPV6,
            Source::Nested { parent: "NDIS_TCP_IP_CHECKSUM_OFFLOAD", prefix: "IPv6Transmit" }; {
            Encapsulation, "IpExtensionHeadersSupported" => Bits, "TcpOptionsSupported" => Bits,
            "TcpChecksum" => Bits, "UdpChecksum" => Bits, }),
        check!(NDIS_TCP_IP_CHECKSUM_OFFLOAD; {
            IPv4Transmit, IPv4Receive, IPv6Transmit, IPv6Receive,
            "IPv4Receive.IpOptionsSupported" => IPv4Receive.Bits,
            "IPv4Receive.TcpOptionsSupported" => IPv4Receive.Bits,
            "IPv4Receive.TcpChecksum" => IPv4Receive.Bits, "IPv4Receive.UdpChecksum" => IPv4Receive.Bits,
            "IPv4Receive.IpChecksum" => IPv4Receive.Bits,
            "IPv4Receive.Encapsulation" => IPv4Receive.Encapsulation,
            "IPv6Receive.IpExtensionHeadersSupported" => IPv6Receive.Bits,
            "IPv6Receive.TcpOptionsSupported" => IPv6Receive.Bits,
            "IPv6Receive.TcpChecksum" => IPv6Receive.Bits, "IPv6Receive.UdpChecksum" => IPv6Receive.Bits,
            "IPv6Receive.Encapsulation" => IPv6Receive.Encapsulation, }),
        check!(NDIS_LSO_V1_IPV4, Source::Nested { parent: "NDIS_TCP_LARGE_SEND_OFFLOAD_V1", prefix: "IPv4" }; {
            Encapsulation, MaxOffLoadSize, MinSegmentCount, "TcpOptions" => Bits, "IpOptions" => Bits, }),
        check!(NDIS_TCP_LARGE_SEND_OFFLOAD_V1; { IPv4, }),
        check!(NDIS_IPSEC_V1_SUPPORTED, Source::Nested { parent: "NDIS_IPSEC_OFFLOAD_V1", prefix: "Supported" }; {
            Encapsulation, AhEspCombined, TransportTunnelCombined, IPv4Options, Flags, }),
        check!(NDIS_IPSEC_OFFLOAD_V1; {
            Supported, IPv4AH, IPv4ESP,
            "IPv4AH.Md5" => IPv4AH, "IPv4AH.Sha_1" => IPv4AH, "IPv4AH.Transport" => IPv4AH,
            "IPv4AH.Tunnel" => IPv4AH, "IPv4AH.Send" => IPv4AH, "IPv4AH.Receive" => IPv4AH,
            "IPv4ESP.Des" => IPv4ESP, "IPv4ESP.Reserved" => IPv4ESP, "IPv4ESP.TripleDes" => IPv4ESP,
            "IPv4ESP.NullEsp" => IPv4ESP, "IPv4ESP.Transport" => IPv4ESP, "IPv4ESP.Tunnel" => IPv4ESP,
            "IPv4ESP.Send" => IPv4ESP, "IPv4ESP.Receive" => IPv4ESP, }),
        check!(NDIS_LSO_V2_IPV4, Source::Nested { parent: "NDIS_TCP_LARGE_SEND_OFFLOAD_V2", prefix: "IPv4" }; {
            Encapsulation, MaxOffLoadSize, MinSegmentCount, }),
        check!(NDIS_LSO_V2_IPV6, Source::Nested { parent: "NDIS_TCP_LARGE_SEND_OFFLOAD_V2", prefix: "IPv6" }; {
            Encapsulation, MaxOffLoadSize, MinSegmentCount, "IpExtensionHeadersSupported" => Bits,
            "TcpOptionsSupported" => Bits, }),
        check!(NDIS_TCP_LARGE_SEND_OFFLOAD_V2; { IPv4, IPv6, }),
        check!(NDIS_IPSEC_OFFLOAD_V2; {
            Encapsulation, IPv6Supported, IPv4Options, IPv6NonIPsecExtensionHeaders, Ah, Esp, AhEspCombined,
            Transport, Tunnel, TransportTunnelCombined, LsoSupported, ExtendedSequenceNumbers, UdpEsp,
            AuthenticationAlgorithms, EncryptionAlgorithms, SaOffloadCapacity, }),
        check!(NDIS_RSC_ENABLED, Source::Nested { parent: "NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD", prefix: "IPv4" }; {
            Enabled, }),
        check!(NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD; { IPv4, IPv6, "IPv6.Enabled" => IPv6.Enabled, }),
        check!(NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD; {
            "TransmitChecksumOffloadSupported" => Bits, "ReceiveChecksumOffloadSupported" => Bits,
            "LsoV2Supported" => Bits, "RssSupported" => Bits, "VmqSupported" => Bits, MaxHeaderSizeSupported, }),
        check!(NDIS_OFFLOAD; {
            Header, Checksum, LsoV1, IPsecV1, LsoV2, Flags, IPsecV2, Rsc, EncapsulatedPacketTaskOffloadGre, }),
        check!(NDIS_OFFLOAD_PARAMETERS; {
            Header, IPv4Checksum, TCPIPv4Checksum, UDPIPv4Checksum, TCPIPv6Checksum, UDPIPv6Checksum, LsoV1,
            IPsecV1, LsoV2IPv4, LsoV2IPv6, TcpConnectionIPv4, TcpConnectionIPv6, Flags, IPsecV2, IPsecV2IPv4,
            RscIPv4, RscIPv6, EncapsulatedPacketTaskOffload, EncapsulationTypes, }),
        check!(NDIS_ENCAPSULATION_SETTING, Source::Documented { size: 12, align: 4,
            cite: "NDIS_OFFLOAD_ENCAPSULATION (ndis.h): IPv4 and IPv6 are each { ULONG Enabled; ULONG EncapsulationType; ULONG HeaderSize; }" };
            { Enabled, EncapsulationType, HeaderSize, }),
        check!(NDIS_OFFLOAD_ENCAPSULATION, Source::Documented { size: 28, align: 4,
            cite: "NDIS_OFFLOAD_ENCAPSULATION (ndis.h); NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1 = 28 in the constants oracle" };
            { Header, IPv4, IPv6, }),
        check!(NDIS_RSC_STATISTICS_INFO, Source::Documented { size: 40, align: 8,
            cite: "NDIS_RSC_STATISTICS_INFO (ntddndis.h): header, then four ULONG64 counters; NDIS_SIZEOF_RSC_STATISTICS_REVISION_1 = 40 in the constants oracle" };
            { Header, CoalescedPkts, CoalescedOctets, CoalesceEvents, Aborts, }),
        check!(NDIS_TCP_CONNECTION_OFFLOAD; {
            Header, Encapsulation, "SupportIPv4" => Bits, "SupportIPv6" => Bits,
            "SupportIPv6ExtensionHeaders" => Bits, "SupportSack" => Bits, "CongestionAlgorithm" => Bits,
            TcpConnectionOffloadCapacity, Flags, }),
        check!(NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO; {
            Value,
            omit "Transmit": "bit-field view of Value's low ULONG on a send (CHECKSUM_TX_* constants)",
            omit "Receive": "bit-field view of Value's low ULONG on a receive (CHECKSUM_RX_* constants)", }),
        check!(NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO; {
            Value,
            omit "Transmit": "bit-field view of Value's low ULONG (LSO_* constants)",
            omit "LsoV1Transmit": "LSOv1, which rvnic does not offer (bit-field view of Value)",
            omit "LsoV1TransmitComplete": "LSOv1, which rvnic does not offer (bit-field view of Value)",
            omit "LsoV2Transmit": "bit-field view of Value's low ULONG on a send (LSO_* constants)",
            omit "LsoV2TransmitComplete": "bit-field view of Value's low ULONG once completed (LSO_* constants)", }),
        check!(NDIS_RSC_NBL_INFO, Source::Documented { size: 8, align: 8,
            cite: "NDIS_RSC_NBL_INFO (nblrsc.h): union { struct { USHORT CoalescedSegCount; USHORT DupAckCount; } Info; PVOID Value; }" };
            { Value, }),
        // ---- config.rs ----
        check!(NDIS_CONFIGURATION_OBJECT; { Header, NdisHandle, Flags, }),
        check!(BINARY_DATA, Source::Nested { parent: "NDIS_CONFIGURATION_PARAMETER", prefix: "ParameterData.BinaryData" };
            { Length, Buffer, }),
        check!(NDIS_CONFIGURATION_PARAMETER_DATA,
            Source::Nested { parent: "NDIS_CONFIGURATION_PARAMETER", prefix: "ParameterData" };
            { IntegerData, StringData, BinaryData, }),
        check!(NDIS_CONFIGURATION_PARAMETER; { ParameterType, ParameterData, }),
        // ---- dpc.rs ----
        check!(KDPC; { TargetInfoAsUlong, DpcListEntry, ProcessorHistory, DeferredRoutine, DeferredContext,
            SystemArgument1, SystemArgument2, DpcData,
            omit "Type": "byte of the TargetInfoAsUlong union, written only by KeInitializeDpc",
            omit "Importance": "byte of the TargetInfoAsUlong union, written only by KeSetImportanceDpc",
            omit "Number": "half of the TargetInfoAsUlong union, written only by KeSetTargetProcessorDpcEx",
            "DpcListEntry.Next" => DpcListEntry.Next, }),
        // ---- qos.rs ----
        check!(NDIS_QOS_CAPABILITIES, Source::Documented { size: 20, align: 4,
            cite: "NDIS_QOS_CAPABILITIES (ntddndis.h): header, then four ULONGs; NDIS_SIZEOF_QOS_CAPABILITIES_REVISION_1 = 20 in the constants oracle" };
            { Header, Flags, MaxNumTrafficClasses, MaxNumEtsCapableTrafficClasses, MaxNumPfcEnabledTrafficClasses, }),
        check!(NDIS_QOS_PARAMETERS, Source::Documented { size: 52, align: 4,
            cite: "NDIS_QOS_PARAMETERS (ntddndis.h): header, Flags, NumTrafficClasses, three UCHAR[8] tables, four ULONGs; NDIS_SIZEOF_QOS_PARAMETERS_REVISION_1 = 52 in the constants oracle" };
            { Header, Flags, NumTrafficClasses, PriorityAssignmentTable, TcBandwidthAssignmentTable,
              TsaAssignmentTable, PfcEnable, NumClassificationElements, ClassificationElementSize,
              FirstClassificationElementOffset, }),
        check!(NDIS_QOS_CLASSIFICATION_ELEMENT, Source::Documented { size: 16, align: 4,
            cite: "NDIS_QOS_CLASSIFICATION_ELEMENT (ntddndis.h): header, ULONG Flags, four USHORTs; NDIS_SIZEOF_QOS_CLASSIFICATION_ELEMENT_REVISION_1 = 16 in the constants oracle" };
            { Header, Flags, ConditionSelector, ConditionField, ActionSelector, ActionField, }),
        // ---- rss.rs ----
        check!(NDIS_RECEIVE_SCALE_CAPABILITIES; {
            Header, CapabilitiesFlags, NumberOfInterruptMessages, NumberOfReceiveQueues,
            NumberOfIndirectionTableEntries, }),
        check!(NDIS_RECEIVE_SCALE_PARAMETERS; {
            Header, Flags, BaseCpuNumber, HashInformation, IndirectionTableSize, IndirectionTableOffset,
            HashSecretKeySize, HashSecretKeyOffset, ProcessorMasksOffset, NumberOfProcessorMasks,
            ProcessorMasksEntrySize, }),
        // ---- vmq.rs ----
        check!(NDIS_RECEIVE_FILTER_CAPABILITIES, Source::Documented { size: 84, align: 4,
            cite: "NDIS_RECEIVE_FILTER_CAPABILITIES (ntddndis.h): header, then twenty ULONGs; NDIS_SIZEOF_RECEIVE_FILTER_CAPABILITIES_REVISION_2 = 84 in the constants oracle" };
            { Header, Flags, EnabledFilterTypes, EnabledQueueTypes, NumQueues, SupportedQueueProperties,
              SupportedFilterTests, SupportedHeaders, SupportedMacHeaderFields, MaxMacHeaderFilters,
              MaxQueueGroups, MaxQueuesPerQueueGroup, MinLookaheadSplitSize, MaxLookaheadSplitSize,
              SupportedARPHeaderFields, SupportedIPv4HeaderFields, SupportedIPv6HeaderFields,
              SupportedUdpHeaderFields, MaxFieldTestsPerPacketCoalescingFilter, MaxPacketCoalescingFilters,
              NdisReserved, }),
        check!(GROUP_AFFINITY, Source::Documented { size: 16, align: 8,
            cite: "GROUP_AFFINITY (ntdef.h/winnt.h): KAFFINITY Mask, WORD Group, WORD Reserved[3]" };
            { Mask, Group, Reserved, }),
        check!(NDIS_QUEUE_NAME, Source::Documented { size: 516, align: 2,
            cite: "NDIS_VM_NAME and NDIS_QUEUE_NAME (ntddndis.h): USHORT Length, WCHAR String[256 + 1]; two of them make NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_1 (0x43C) end at 52 + 2 * 516" };
            { Length, String, }),
        check!(NDIS_RECEIVE_QUEUE_PARAMETERS, Source::Documented { size: 1096, align: 8,
            cite: "NDIS_RECEIVE_QUEUE_PARAMETERS (ntddndis.h): header, four ULONGs, GROUP_AFFINITY at 24, three ULONGs, two 516-byte names, two ULONGs; NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_2 = 0x444 (through InterruptCoalescingDomainId) in the constants oracle, sizeof rounds to 8" };
            { Header, Flags, QueueType, QueueId, QueueGroupId, ProcessorAffinity, NumSuggestedReceiveBuffers,
              MSIXTableEntry, LookaheadSize, VmName, QueueName, PortId, InterruptCoalescingDomainId, }),
        check!(NDIS_RECEIVE_FILTER_PARAMETERS, Source::Documented { size: 44, align: 4,
            cite: "NDIS_RECEIVE_FILTER_PARAMETERS (ntddndis.h): header, ten ULONGs; NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2 = 44 in the constants oracle" };
            { Header, Flags, FilterType, QueueId, FilterId, FieldParametersArrayOffset,
              FieldParametersArrayNumElements, FieldParametersArrayElementSize, RequestedFilterIdBitCount,
              MaxCoalescingDelay, VPortId, }),
        check!(NDIS_RECEIVE_FILTER_FIELD_PARAMETERS, Source::Documented { size: 56, align: 8,
            cite: "NDIS_RECEIVE_FILTER_FIELD_PARAMETERS (ntddndis.h): header, four ULONGs, two 16-byte unions holding a ULONG64; NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_2 = 56 in the constants oracle" };
            { Header, Flags, FrameHeader, ReceiveFilterTest, HeaderField, FieldValue, ResultValue, }),
        check!(NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS, Source::Documented { size: 16, align: 4,
            cite: "NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS (ntddndis.h): header, three ULONGs; NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1 = 16 in the constants oracle" };
            { Header, Flags, QueueId, FilterId, }),
        check!(NDIS_RECEIVE_QUEUE_FREE_PARAMETERS, Source::Documented { size: 12, align: 4,
            cite: "NDIS_RECEIVE_QUEUE_FREE_PARAMETERS (ntddndis.h): header, two ULONGs; NDIS_SIZEOF_RECEIVE_QUEUE_FREE_PARAMETERS_REVISION_1 = 12 in the constants oracle" };
            { Header, Flags, QueueId, }),
        check!(NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY, Source::Documented { size: 20, align: 4,
            cite: "NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY (ntddndis.h): header, four ULONGs; NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY_REVISION_1 = 20 in the constants oracle" };
            { Header, Flags, NumElements, FirstElementOffset, ElementSize, }),
        check!(NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS, Source::Documented { size: 16, align: 4,
            cite: "NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS (ntddndis.h): header, Flags, QueueId, NDIS_STATUS CompletionStatus; NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1 = 16 in the constants oracle" };
            { Header, Flags, QueueId, CompletionStatus, }),
        check!(NDIS_RECEIVE_QUEUE_STATE, Source::Documented { size: 16, align: 4,
            cite: "NDIS_RECEIVE_QUEUE_STATE (ndis.h): header, Flags, QueueId, QueueState; NDIS_SIZEOF_NDIS_RECEIVE_QUEUE_STATE_REVISION_1 = 16 in the constants oracle" };
            { Header, Flags, QueueId, QueueState, }),
        // ---- timer.rs ----
        check!(NDIS_TIMER_CHARACTERISTICS; { Header, AllocationTag, TimerFunction, FunctionContext, }),
    ]
}

/// `MEMORY_ALIGNED<T>` is generic; its placement rule (16-byte aligned, no size change for 16-byte
/// multiples) is what the NBL and NB checks above rely on, and is asserted directly.
#[test]
fn memory_aligned_wrapper_matches_declspec_align_16() {
    assert_eq!(
        align_of::<MEMORY_ALIGNED<[usize; 2]>>(),
        MEMORY_ALLOCATION_ALIGNMENT
    );
    assert_eq!(size_of::<MEMORY_ALIGNED<[usize; 2]>>(), 16);
    assert_eq!(size_of::<MEMORY_ALIGNED<[usize; 6]>>(), 48);
    assert_eq!(size_of::<MEMORY_ALIGNED<[u8; 0]>>(), 0);
}

/// The rows of `layout` under `prefix`, re-based so the prefix's own offset is 0.
fn nested_rows(layout: &Layout, prefix: &str) -> (usize, Layout) {
    if prefix.is_empty() {
        return (layout.size, layout.clone());
    }
    let base = layout
        .rows
        .iter()
        .find(|r| r.path == prefix)
        .unwrap_or_else(|| panic!("no row {prefix}"));
    let lead = format!("{prefix}.");
    let rows = layout
        .rows
        .iter()
        .filter_map(|r| {
            let rel = r.path.strip_prefix(&lead)?;
            let mut r = r.clone();
            r.path = rel.to_string();
            r.offset -= base.offset;
            Some(r)
        })
        .collect();
    (
        base.size,
        Layout {
            size: base.size,
            align: 0,
            tag: base.ty.clone(),
            rows,
        },
    )
}

/// Type tags (`struct _NDIS_OBJECT_HEADER`) of the oracle types checked here: members of these types
/// are covered by their own check.
fn checked_tags(checks: &[Check], oracle: &BTreeMap<String, Layout>) -> BTreeSet<String> {
    checks
        .iter()
        .filter(|c| matches!(c.source, Source::Oracle))
        .filter_map(|c| oracle.get(c.name).map(|l| l.tag.clone()))
        .collect()
}

/// (parent, prefix) of every nested check: members at that place are covered by that check.
fn nested_keys(checks: &[Check]) -> BTreeSet<(String, String)> {
    checks
        .iter()
        .filter_map(|c| match c.source {
            Source::Nested { parent, prefix } => Some((parent.to_string(), prefix.to_string())),
            _ => None,
        })
        .collect()
}

struct Covered {
    tags: BTreeSet<String>,
    nested: BTreeSet<(String, String)>,
}

fn verify(check: &Check, oracle: &BTreeMap<String, Layout>, known: &Covered) -> Vec<String> {
    let mut errors = Vec::new();
    let name = check.name;
    let layout = match &check.source {
        Source::Documented { size, align, cite } => {
            assert!(
                !oracle.contains_key(name),
                "{name} is in the oracle: check it there, not against {cite}"
            );
            if (check.size, check.align) != (*size, *align) {
                errors.push(format!(
                    "{name}: size/align {}/{} != documented {size}/{align} ({cite})",
                    check.size, check.align
                ));
            }
            return errors;
        }
        Source::Oracle => match oracle.get(name) {
            Some(l) => {
                if (check.size, check.align) != (l.size, l.align) {
                    errors.push(format!(
                        "{name}: size/align {}/{} != oracle {}/{}",
                        check.size, check.align, l.size, l.align
                    ));
                }
                l.clone()
            }
            None => {
                errors.push(format!(
                    "{name}: not in the oracle; give a Source::Documented with a citation"
                ));
                return errors;
            }
        },
        Source::Nested { parent, prefix } => {
            let parent_layout = oracle
                .get(*parent)
                .unwrap_or_else(|| panic!("no oracle block {parent}"));
            let (size, l) = nested_rows(parent_layout, prefix);
            if check.size != size {
                errors.push(format!(
                    "{name}: size {} != {size} ({parent}.{prefix})",
                    check.size
                ));
            }
            l
        }
    };
    // Every listed field: present, same offset and size. A C bit-field is listed against the Rust
    // integer that holds its unit (`"TcpChecksum" => Bits`): the row's offset and size are the unit's.
    for (path, off, size) in &check.fields {
        let row = layout
            .rows
            .iter()
            .find(|r| &r.path == path && !r.bitfield)
            .or_else(|| layout.rows.iter().find(|r| &r.path == path));
        match row {
            Some(r) if (r.offset, r.size) == (*off, *size) => {}
            Some(r) => errors.push(format!(
                "{name}.{path}: offset/size {off}/{size} != oracle {}/{}",
                r.offset, r.size
            )),
            None => errors.push(format!("{name}.{path}: no such row in the oracle")),
        }
    }
    for (path, _) in &check.omitted {
        if !layout.rows.iter().any(|r| &r.path == path) {
            errors.push(format!("{name}: omitted {path} is not an oracle row"));
        }
    }
    // Every oracle row: covered.
    let listed: BTreeSet<&str> = check.fields.iter().map(|(p, _, _)| p.as_str()).collect();
    let covers = |row_path: &str| -> bool {
        if listed.contains(row_path) {
            return true;
        }
        // An ancestor that is omitted, or listed with a type checked on its own.
        let mut prefix = row_path;
        while let Some((head, _)) = prefix.rsplit_once('.') {
            prefix = head;
            if check.omitted.iter().any(|(o, _)| *o == prefix) {
                return true;
            }
            if listed.contains(prefix) {
                let ty = layout
                    .rows
                    .iter()
                    .find(|r| r.path == prefix)
                    .map(|r| r.ty.clone())
                    .unwrap_or_default();
                if known.tags.contains(&ty) {
                    return true;
                }
                let (parent, base) = match check.source {
                    Source::Nested { parent, prefix } => (parent, prefix),
                    _ => (check.name, ""),
                };
                let absolute = if base.is_empty() {
                    prefix.to_string()
                } else {
                    format!("{base}.{prefix}")
                };
                if known.nested.contains(&(parent.to_string(), absolute)) {
                    return true;
                }
            }
        }
        check.omitted.iter().any(|(o, _)| *o == row_path)
    };
    for row in &layout.rows {
        if row.is_anonymous_descriptor() {
            continue;
        }
        let ok = if row.bitfield {
            // A bit-field is covered when an enclosing member is, or a listed field spans its unit.
            covers(&row.path)
                || check
                    .fields
                    .iter()
                    .any(|(_, o, s)| *o <= row.offset && row.offset + row.size <= o + s)
        } else {
            covers(&row.path)
        };
        if !ok {
            errors.push(format!(
                "{name}: oracle row {} (offset {}, size {}) is not covered",
                row.path, row.offset, row.size
            ));
        }
    }
    errors
}

#[test]
fn every_struct_matches_the_oracle() {
    let oracle = layouts();
    let checks = all_checks();
    let known = Covered {
        tags: checked_tags(&checks, &oracle),
        nested: nested_keys(&checks),
    };
    let errors: Vec<String> = checks.iter().flat_map(|c| verify(c, &oracle, &known)).collect();
    assert!(
        errors.is_empty(),
        "{} layout mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// The checker itself must reject a wrong table, or every pass above means nothing.
#[test]
fn the_checker_rejects_wrong_offsets_missing_rows_and_wrong_sizes() {
    let oracle = layouts();
    let checks = all_checks();
    let known = Covered {
        tags: checked_tags(&checks, &oracle),
        nested: nested_keys(&checks),
    };
    let mut wrong = check!(NDIS_OBJECT_HEADER; { Type, Revision, Size, });
    wrong.fields[2].1 = 3;
    assert!(
        verify(&wrong, &oracle, &known)
            .iter()
            .any(|e| e.contains("Size: offset/size 3/2"))
    );
    let missing = check!(NDIS_OBJECT_HEADER; { Type, Revision, });
    assert!(
        verify(&missing, &oracle, &known)
            .iter()
            .any(|e| e.contains("row Size"))
    );
    let mut big = check!(NDIS_OBJECT_HEADER; { Type, Revision, Size, });
    big.size = 8;
    assert!(
        verify(&big, &oracle, &known)
            .iter()
            .any(|e| e.contains("size/align 8/2"))
    );
    // A nested member is only covered transitively if its type is itself checked.
    let nothing = Covered {
        tags: BTreeSet::new(),
        nested: BTreeSet::new(),
    };
    let generic = check!(NDIS_GENERIC_OBJECT; { Header, Caller, CallersCaller, DriverObject, });
    assert!(
        verify(&generic, &oracle, &nothing)
            .iter()
            .any(|e| e.contains("Header.Type"))
    );
}

/// Every `pub struct` and `pub union` declared in `src/` has a check above.
#[test]
fn every_declared_type_has_a_layout_check() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut declared = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("src dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for line in text.lines() {
            let line = line.trim_start();
            for kw in ["pub struct ", "pub union "] {
                if let Some(rest) = line.strip_prefix(kw) {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    declared.insert(name);
                }
            }
        }
    }
    declared.remove("MEMORY_ALIGNED"); // generic; see memory_aligned_wrapper_matches_declspec_align_16
    let checked: BTreeSet<String> = all_checks().iter().map(|c| c.name.to_string()).collect();
    let unchecked: Vec<_> = declared.difference(&checked).collect();
    assert!(
        unchecked.is_empty(),
        "types without a layout check: {unchecked:?}"
    );
}

/// `NDIS_NET_BUFFER_LIST_8021Q_INFO` has no Rust type: its `TagHeader` bit fields are packed by
/// `ieee8021q_value` and read by `ieee8021q_fields`. Both must put each field at the bits the
/// oracle gives (MSVC's allocation from the low bit).
#[test]
fn the_8021q_information_packs_its_fields_at_the_oracles_bits() {
    let text = common::read_oracle("ndis-layout-x64.txt");
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("STRUCT NDIS_NET_BUFFER_LIST_8021Q_INFO "))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(block[0].contains("size=8 align=8"), "{block:?}");
    let bits = |field: &str| -> (u32, u32) {
        let row = block
            .iter()
            .find(|l| l.split_whitespace().nth(2) == Some(field))
            .unwrap_or_else(|| panic!("no {field} in {block:?}"));
        let (low, high) = row
            .split_once("bits ")
            .and_then(|(_, r)| r.split_whitespace().next())
            .and_then(|r| r.split_once(".."))
            .unwrap_or_else(|| panic!("no bit range: {row}"));
        (low.parse().expect("low bit"), high.parse().expect("high bit"))
    };
    let mask = |(low, high): (u32, u32)| ((1usize << (high - low + 1)) - 1) << low;
    let priority = bits("TagHeader.UserPriority");
    let canonical = bits("TagHeader.CanonicalFormatId");
    let vlan = bits("TagHeader.VlanId");
    assert_eq!(ndis::ieee8021q_value(7, 0), mask(priority));
    assert_eq!(ndis::ieee8021q_value(0, 0x0fff), mask(vlan));
    assert_eq!(
        ndis::ieee8021q_value(7, 0x0fff) & mask(canonical),
        0,
        "CanonicalFormatId stays zero"
    );
    assert_eq!(ndis::ieee8021q_fields(mask(priority) | mask(vlan)), (7, 0x0fff));
    assert_eq!(ndis::ieee8021q_fields(5 << priority.0 | 300 << vlan.0), (5, 300));
}
