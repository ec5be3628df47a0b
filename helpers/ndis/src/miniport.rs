//! Miniport driver characteristics, adapter lifecycle parameters and adapter attributes (ndis.h).

use crate::basic::{BOOLEAN, NET_LUID, PDRIVER_OBJECT, PVOID, UCHAR, ULONG, ULONG64, USHORT};
use crate::nbl::PNET_BUFFER_LIST;
use crate::object::NDIS_OBJECT_HEADER;
use crate::oid::{NDIS_OID, PNDIS_OID_REQUEST};
use crate::pm::{PNDIS_PM_CAPABILITIES, PNDIS_PNP_CAPABILITIES};
use crate::{NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS};

pub type NDIS_MEDIUM = i32;
pub type NDIS_PHYSICAL_MEDIUM = i32;
pub type NDIS_MEDIA_CONNECT_STATE = i32;
pub type NDIS_MEDIA_DUPLEX_STATE = i32;
pub type NDIS_SUPPORTED_PAUSE_FUNCTIONS = i32;
pub type NDIS_INTERFACE_TYPE = i32;
pub type NDIS_HALT_ACTION = i32;
pub type NDIS_SHUTDOWN_ACTION = i32;
pub type NDIS_DEVICE_PNP_EVENT = i32;
pub type NET_IF_ACCESS_TYPE = i32;
pub type NET_IF_DIRECTION_TYPE = i32;
pub type NET_IF_CONNECTION_TYPE = i32;
pub type NET_IFTYPE = USHORT;
pub type NET_IFINDEX = ULONG;

// Handler signatures (ndis.h, "MINIPORT_*" function typedefs). NDIS calls them with the documented
// IRQL noted on each; `Option` because unused slots are NULL in the characteristics.
#[crate::kernel_abi]
pub type SET_OPTIONS_HANDLER = Option<
    unsafe extern "system" fn(NdisDriverHandle: NDIS_HANDLE, DriverContext: NDIS_HANDLE) -> NDIS_STATUS,
>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_INITIALIZE_HANDLER = Option<
    unsafe extern "system" fn(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportInitParameters: PNDIS_MINIPORT_INIT_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_HALT_HANDLER =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, HaltAction: NDIS_HALT_ACTION)>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_DRIVER_UNLOAD = Option<unsafe extern "system" fn(DriverObject: PDRIVER_OBJECT)>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_PAUSE_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        PauseParameters: PNDIS_MINIPORT_PAUSE_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_RESTART_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        RestartParameters: PNDIS_MINIPORT_RESTART_PARAMETERS,
    ) -> NDIS_STATUS,
>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_OID_REQUEST_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        OidRequest: PNDIS_OID_REQUEST,
    ) -> NDIS_STATUS,
>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        NetBufferList: PNET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        SendFlags: ULONG,
    ),
>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        NetBufferLists: PNET_BUFFER_LIST,
        ReturnFlags: ULONG,
    ),
>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_CANCEL_SEND_HANDLER =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, CancelId: PVOID)>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_CHECK_FOR_HANG_HANDLER =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE) -> BOOLEAN>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_RESET_HANDLER = Option<
    unsafe extern "system" fn(
        MiniportAdapterContext: NDIS_HANDLE,
        AddressingReset: *mut BOOLEAN,
    ) -> NDIS_STATUS,
>;
/// PASSIVE_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER = Option<
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, NetDevicePnPEvent: PNET_DEVICE_PNP_EVENT),
>;
/// Any IRQL (PASSIVE_LEVEL on a power-off shutdown, HIGH_LEVEL on a bug check).
#[crate::kernel_abi]
pub type MINIPORT_SHUTDOWN_HANDLER = Option<
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, ShutdownAction: NDIS_SHUTDOWN_ACTION),
>;
/// IRQL <= DISPATCH_LEVEL.
#[crate::kernel_abi]
pub type MINIPORT_CANCEL_OID_REQUEST_HANDLER =
    Option<unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, RequestId: PVOID)>;
pub type MINIPORT_DIRECT_OID_REQUEST_HANDLER = MINIPORT_OID_REQUEST_HANDLER;
pub type MINIPORT_CANCEL_DIRECT_OID_REQUEST_HANDLER = MINIPORT_CANCEL_OID_REQUEST_HANDLER;

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` (ndis.h), revision 2 (NDIS 6.1 to 6.70 layout).
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MajorNdisVersion: UCHAR,
    pub MinorNdisVersion: UCHAR,
    pub MajorDriverVersion: UCHAR,
    pub MinorDriverVersion: UCHAR,
    pub Flags: ULONG,
    pub SetOptionsHandler: SET_OPTIONS_HANDLER,
    pub InitializeHandlerEx: MINIPORT_INITIALIZE_HANDLER,
    pub HaltHandlerEx: MINIPORT_HALT_HANDLER,
    pub UnloadHandler: MINIPORT_DRIVER_UNLOAD,
    pub PauseHandler: MINIPORT_PAUSE_HANDLER,
    pub RestartHandler: MINIPORT_RESTART_HANDLER,
    pub OidRequestHandler: MINIPORT_OID_REQUEST_HANDLER,
    pub SendNetBufferListsHandler: MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER,
    pub ReturnNetBufferListsHandler: MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER,
    pub CancelSendHandler: MINIPORT_CANCEL_SEND_HANDLER,
    pub CheckForHangHandlerEx: MINIPORT_CHECK_FOR_HANG_HANDLER,
    pub ResetHandlerEx: MINIPORT_RESET_HANDLER,
    pub DevicePnPEventNotifyHandler: MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER,
    pub ShutdownHandlerEx: MINIPORT_SHUTDOWN_HANDLER,
    pub CancelOidRequestHandler: MINIPORT_CANCEL_OID_REQUEST_HANDLER,
    pub DirectOidRequestHandler: MINIPORT_DIRECT_OID_REQUEST_HANDLER,
    pub CancelDirectOidRequestHandler: MINIPORT_CANCEL_DIRECT_OID_REQUEST_HANDLER,
}
pub type PNDIS_MINIPORT_DRIVER_CHARACTERISTICS = *mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS;

/// `NDIS_PORT_AUTHENTICATION_PARAMETERS` (ntddndis.h); rvnic only passes the pointer along.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_PORT_AUTHENTICATION_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub SendControlState: i32,
    pub RcvControlState: i32,
    pub SendAuthorizationState: i32,
    pub RcvAuthorizationState: i32,
}

/// `NDIS_MINIPORT_INIT_PARAMETERS` (ndis.h), given to `MiniportInitializeEx`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_INIT_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    /// `PNDIS_RESOURCE_LIST`: hardware resources; a virtual miniport has none (NULL or empty).
    pub AllocatedResources: PVOID,
    pub IMDeviceInstanceContext: NDIS_HANDLE,
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    pub IfIndex: NET_IFINDEX,
    pub NetLuid: NET_LUID,
    pub DefaultPortAuthStates: *mut NDIS_PORT_AUTHENTICATION_PARAMETERS,
    /// `PNDIS_PCI_DEVICE_CUSTOM_PROPERTIES`: NULL for a root-enumerated device.
    pub PciDeviceCustomProperties: PVOID,
}
pub type PNDIS_MINIPORT_INIT_PARAMETERS = *mut NDIS_MINIPORT_INIT_PARAMETERS;

/// `NDIS_MINIPORT_PAUSE_PARAMETERS` (ndis.h).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_PAUSE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    /// `NDIS_PAUSE_*` bits.
    pub PauseReason: ULONG,
}
pub type PNDIS_MINIPORT_PAUSE_PARAMETERS = *mut NDIS_MINIPORT_PAUSE_PARAMETERS;

/// `NDIS_RESTART_ATTRIBUTES` (ndis.h): a list of (OID, data) entries describing what changed.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct NDIS_RESTART_ATTRIBUTES {
    pub Next: *mut NDIS_RESTART_ATTRIBUTES,
    pub Oid: NDIS_OID,
    pub DataLength: ULONG,
    /// Variable-length data; `DataLength` bytes start here.
    pub Data: [UCHAR; 1],
}
pub type PNDIS_RESTART_ATTRIBUTES = *mut NDIS_RESTART_ATTRIBUTES;

/// `NDIS_MINIPORT_RESTART_PARAMETERS` (ndis.h).
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_RESTART_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub RestartAttributes: PNDIS_RESTART_ATTRIBUTES,
    pub Flags: ULONG,
}
pub type PNDIS_MINIPORT_RESTART_PARAMETERS = *mut NDIS_MINIPORT_RESTART_PARAMETERS;

/// `NDIS_RESTART_GENERAL_ATTRIBUTES` (ndis.h), revision 2: the `Data` of a restart attribute whose
/// `Oid` is `OID_GEN_MINIPORT_RESTART_ATTRIBUTES`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_RESTART_GENERAL_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub MtuSize: ULONG,
    pub MaxXmitLinkSpeed: ULONG64,
    pub MaxRcvLinkSpeed: ULONG64,
    pub LookaheadSize: ULONG,
    pub MacOptions: ULONG,
    pub SupportedPacketFilters: ULONG,
    pub MaxMulticastListSize: ULONG,
    pub RecvScaleCapabilities: PVOID,
    pub AccessType: NET_IF_ACCESS_TYPE,
    pub Flags: ULONG,
    pub ConnectionType: NET_IF_CONNECTION_TYPE,
    pub SupportedStatistics: ULONG,
    pub DataBackFillSize: ULONG,
    pub ContextBackFillSize: ULONG,
    pub SupportedOidList: *mut NDIS_OID,
    pub SupportedOidListLength: ULONG,
    pub MaxLookaheadSizeAccessed: ULONG,
}

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES` (ndis.h): set first in `MiniportInitializeEx`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub MiniportAdapterContext: NDIS_HANDLE,
    /// `NDIS_MINIPORT_ATTRIBUTES_*` bits.
    pub AttributeFlags: ULONG,
    /// 0 means the NDIS default (2 seconds for NDIS 6.x).
    pub CheckForHangTimeInSeconds: u32,
    pub InterfaceType: NDIS_INTERFACE_TYPE,
}

/// `NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES` (ndis.h); only for drivers with an
/// `MiniportAddDevice` handler, which rvnic does not have. Present so the attributes union is whole.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    pub Flags: ULONG,
}

/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES` (ndis.h), revision 2 (NDIS 6.20+): set second in
/// `MiniportInitializeEx`.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub MediaType: NDIS_MEDIUM,
    pub PhysicalMediumType: NDIS_PHYSICAL_MEDIUM,
    pub MtuSize: ULONG,
    pub MaxXmitLinkSpeed: ULONG64,
    pub XmitLinkSpeed: ULONG64,
    pub MaxRcvLinkSpeed: ULONG64,
    pub RcvLinkSpeed: ULONG64,
    pub MediaConnectState: NDIS_MEDIA_CONNECT_STATE,
    pub MediaDuplexState: NDIS_MEDIA_DUPLEX_STATE,
    pub LookaheadSize: ULONG,
    pub PowerManagementCapabilities: PNDIS_PNP_CAPABILITIES,
    pub MacOptions: ULONG,
    pub SupportedPacketFilters: ULONG,
    pub MaxMulticastListSize: ULONG,
    pub MacAddressLength: USHORT,
    pub PermanentMacAddress: [UCHAR; 32],
    pub CurrentMacAddress: [UCHAR; 32],
    /// `PNDIS_RECEIVE_SCALE_CAPABILITIES`: NULL when RSS is not supported.
    pub RecvScaleCapabilities: PVOID,
    pub AccessType: NET_IF_ACCESS_TYPE,
    pub DirectionType: NET_IF_DIRECTION_TYPE,
    pub ConnectionType: NET_IF_CONNECTION_TYPE,
    pub IfType: NET_IFTYPE,
    pub IfConnectorPresent: BOOLEAN,
    pub SupportedStatistics: ULONG,
    pub SupportedPauseFunctions: ULONG,
    pub DataBackFillSize: ULONG,
    pub ContextBackFillSize: ULONG,
    pub SupportedOidList: *mut NDIS_OID,
    pub SupportedOidListLength: ULONG,
    pub AutoNegotiationFlags: ULONG,
    pub PowerManagementCapabilitiesEx: PNDIS_PM_CAPABILITIES,
}

/// `NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES` (ndis.h): the task offload configuration an adapter
/// starts with and what its hardware can do.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub DefaultOffloadConfiguration: crate::offload::PNDIS_OFFLOAD,
    pub HardwareOffloadCapabilities: crate::offload::PNDIS_OFFLOAD,
    pub DefaultTcpConnectionOffloadConfiguration: crate::offload::PNDIS_TCP_CONNECTION_OFFLOAD,
    pub TcpConnectionOffloadHardwareCapabilities: crate::offload::PNDIS_TCP_CONNECTION_OFFLOAD,
}

/// `NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES` (ndis.h), revision 3; pointees opaque.
#[repr(C)]
#[derive(Debug)]
pub struct NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub HDSplitAttributes: PVOID,
    pub HardwareReceiveFilterCapabilities: PVOID,
    pub CurrentReceiveFilterCapabilities: PVOID,
    pub HardwareNicSwitchCapabilities: PVOID,
    pub CurrentNicSwitchCapabilities: PVOID,
    pub HardwareSriovCapabilities: PVOID,
    pub CurrentSriovCapabilities: PVOID,
    pub HardwareQosCapabilities: PVOID,
    pub CurrentQosCapabilities: PVOID,
}

/// `NDIS_MINIPORT_ADAPTER_ATTRIBUTES` (ndis.h): the union `NdisMSetMiniportAttributes` takes; NDIS
/// reads `Header.Type` to learn which member it was given. The native 802.11 and NDK members are left
/// out (an Ethernet miniport never sets them; neither is the largest member, so the size is the C one).
#[repr(C)]
pub union NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub AddDeviceRegistrationAttributes:
        core::mem::ManuallyDrop<NDIS_MINIPORT_ADD_DEVICE_REGISTRATION_ATTRIBUTES>,
    pub RegistrationAttributes: core::mem::ManuallyDrop<NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>,
    pub GeneralAttributes: core::mem::ManuallyDrop<NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>,
    pub OffloadAttributes: core::mem::ManuallyDrop<NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES>,
    pub HardwareAssistAttributes: core::mem::ManuallyDrop<NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES>,
}
pub type PNDIS_MINIPORT_ADAPTER_ATTRIBUTES = *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES;

impl core::fmt::Debug for NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NDIS_MINIPORT_ADAPTER_ATTRIBUTES { .. }")
    }
}

/// `NET_DEVICE_PNP_EVENT` (ndis.h), given to `MiniportDevicePnPEventNotify`.
#[repr(C)]
#[derive(Debug)]
pub struct NET_DEVICE_PNP_EVENT {
    pub Header: NDIS_OBJECT_HEADER,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub DevicePnPEvent: NDIS_DEVICE_PNP_EVENT,
    pub InformationBuffer: PVOID,
    pub InformationBufferLength: ULONG,
    pub NdisReserved: [UCHAR; 16],
}
pub type PNET_DEVICE_PNP_EVENT = *mut NET_DEVICE_PNP_EVENT;
