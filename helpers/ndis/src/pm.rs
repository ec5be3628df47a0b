//! Power-management capabilities (ntddndis.h).

use crate::basic::ULONG;
use crate::object::NDIS_OBJECT_HEADER;

/// `NDIS_DEVICE_POWER_STATE` (`NdisDeviceStateD0` ... `NdisDeviceStateD3`).
pub type NDIS_DEVICE_POWER_STATE = i32;

/// `NDIS_PM_WAKE_UP_CAPABILITIES` (ntddndis.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_PM_WAKE_UP_CAPABILITIES {
    pub MinMagicPacketWakeUp: NDIS_DEVICE_POWER_STATE,
    pub MinPatternWakeUp: NDIS_DEVICE_POWER_STATE,
    pub MinLinkChangeWakeUp: NDIS_DEVICE_POWER_STATE,
}

/// `NDIS_PNP_CAPABILITIES` (ntddndis.h): the legacy `OID_PNP_CAPABILITIES` payload.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_PNP_CAPABILITIES {
    pub Flags: ULONG,
    pub WakeUpCapabilities: NDIS_PM_WAKE_UP_CAPABILITIES,
}
pub type PNDIS_PNP_CAPABILITIES = *mut NDIS_PNP_CAPABILITIES;

/// `NDIS_PM_CAPABILITIES` (ntddndis.h), revision 2 (NDIS 6.30).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NDIS_PM_CAPABILITIES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: ULONG,
    pub SupportedWoLPacketPatterns: ULONG,
    pub NumTotalWoLPatterns: ULONG,
    pub MaxWoLPatternSize: ULONG,
    pub MaxWoLPatternOffset: ULONG,
    pub MaxWoLPacketSaveBuffer: ULONG,
    pub SupportedProtocolOffloads: ULONG,
    pub NumArpOffloadIPv4Addresses: ULONG,
    pub NumNSOffloadIPv6Addresses: ULONG,
    pub MinMagicPacketWakeUp: NDIS_DEVICE_POWER_STATE,
    pub MinPatternWakeUp: NDIS_DEVICE_POWER_STATE,
    pub MinLinkChangeWakeUp: NDIS_DEVICE_POWER_STATE,
    pub SupportedWakeUpEvents: ULONG,
    pub MediaSpecificWakeUpEvents: ULONG,
}
pub type PNDIS_PM_CAPABILITIES = *mut NDIS_PM_CAPABILITIES;
