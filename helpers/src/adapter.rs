//! The adapter's NDIS handle as a type whose methods are the calls a miniport makes with it:
//! attributes, status and receive indications, send, pause and reset completions, and reading its
//! configuration ([`Configuration`]).
//!
//! Each method builds the structure NDIS wants from safe arguments (references, slices, chains of
//! owned NBLs), so the driver's modules never touch a raw pointer to call NDIS.

use core::ptr::null_mut;

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

use crate::nbl::{Chain, Split};

/// The `MiniportAdapterHandle` NDIS gave `MiniportInitializeEx`.
///
/// # Invariants
/// The handle is the one NDIS passed to this adapter's `MiniportInitializeEx`; it stays valid from
/// then until `MiniportHaltEx` returns (or until a failed initialize returns), which outlives every
/// value of this type the driver keeps (they live in the adapter).
#[derive(Debug, Clone, Copy)]
pub struct AdapterHandle(NDIS_HANDLE);

// SAFETY: an opaque NDIS handle, valid from any CPU for the adapter's life (the invariant); NDIS
// synchronizes what it does with it.
unsafe impl Send for AdapterHandle {}
// SAFETY: as above; the type only passes the handle to NDIS.
unsafe impl Sync for AdapterHandle {}

impl AdapterHandle {
    /// # Safety
    /// `handle` is the `MiniportAdapterHandle` NDIS passed to the `MiniportInitializeEx` call in
    /// progress, and the value is dropped (with the adapter) before `MiniportHaltEx` returns or the
    /// failed initialize returns.
    #[must_use]
    pub unsafe fn from_raw(handle: NDIS_HANDLE) -> Self {
        Self(handle)
    }

    /// The raw handle, for a structure NDIS reads it from (an NBL's `SourceHandle`).
    #[must_use]
    pub fn as_raw(&self) -> NDIS_HANDLE {
        self.0
    }

    /// `NdisMSetMiniportAttributes` with the registration attributes: `context` is what NDIS
    /// passes back to every handler. Only inside `MiniportInitializeEx` (`PASSIVE_LEVEL`).
    ///
    /// # Errors
    /// The status `NdisMSetMiniportAttributes` returned.
    pub fn set_registration_attributes<T>(
        &self,
        context: *const T,
        flags: u32,
        interface: NDIS_INTERFACE_TYPE,
    ) -> Result<(), NDIS_STATUS> {
        let mut attributes = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
                NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
            ),
            MiniportAdapterContext: context.cast_mut().cast(),
            AttributeFlags: flags,
            CheckForHangTimeInSeconds: 0,
            InterfaceType: interface,
        };
        self.set_attributes((&raw mut attributes).cast())
    }

    /// `NdisMSetMiniportAttributes` with the general attributes. The pointer members are filled in
    /// here from `oids`, `power` and `rss` (the receive-side scaling capabilities, `None` without
    /// RSS); whatever `attributes` has in them is ignored, and no NDIS 6.0 power capabilities are
    /// given. Only inside `MiniportInitializeEx`.
    ///
    /// # Errors
    /// The status `NdisMSetMiniportAttributes` returned, or `NDIS_STATUS_INVALID_LENGTH` for an OID
    /// list longer than a `ULONG` can say.
    pub fn set_general_attributes(
        &self,
        mut attributes: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
        oids: &[NDIS_OID],
        power: &NDIS_PM_CAPABILITIES,
        rss: Option<&NDIS_RECEIVE_SCALE_CAPABILITIES>,
    ) -> Result<(), NDIS_STATUS> {
        attributes.SupportedOidList = oids.as_ptr().cast_mut();
        attributes.SupportedOidListLength =
            u32::try_from(size_of_val(oids)).map_err(|_| NDIS_STATUS_INVALID_LENGTH)?;
        attributes.PowerManagementCapabilitiesEx = core::ptr::from_ref(power).cast_mut();
        attributes.PowerManagementCapabilities = null_mut();
        attributes.RecvScaleCapabilities =
            rss.map_or(null_mut(), |c| core::ptr::from_ref(c).cast_mut().cast());
        self.set_attributes((&raw mut attributes).cast())
    }

    /// `NdisMSetMiniportAttributes` with the offload attributes: the configuration in effect and
    /// what the adapter can do. No TCP chimney (its two pointers stay NULL). Only inside
    /// `MiniportInitializeEx`.
    ///
    /// # Errors
    /// The status `NdisMSetMiniportAttributes` returned.
    pub fn set_offload_attributes(
        &self,
        default: &NDIS_OFFLOAD,
        hardware: &NDIS_OFFLOAD,
    ) -> Result<(), NDIS_STATUS> {
        let mut attributes = NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
                NDIS_SIZEOF_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1,
            ),
            DefaultOffloadConfiguration: core::ptr::from_ref(default).cast_mut(),
            HardwareOffloadCapabilities: core::ptr::from_ref(hardware).cast_mut(),
            DefaultTcpConnectionOffloadConfiguration: null_mut(),
            TcpConnectionOffloadHardwareCapabilities: null_mut(),
        };
        self.set_attributes((&raw mut attributes).cast())
    }

    /// `NdisMSetMiniportAttributes` with the hardware assist attributes (revision 3): the NDIS
    /// QoS capabilities (hardware, current) and the receive filter (VMQ) capabilities (hardware,
    /// current), each pair given or left out. `PASSIVE_LEVEL`, from `MiniportInitializeEx`.
    ///
    /// # Errors
    /// The status `NdisMSetMiniportAttributes` returned.
    pub fn set_hardware_assist_attributes(
        &self,
        qos: Option<(&NDIS_QOS_CAPABILITIES, &NDIS_QOS_CAPABILITIES)>,
        filters: Option<(
            &NDIS_RECEIVE_FILTER_CAPABILITIES,
            &NDIS_RECEIVE_FILTER_CAPABILITIES,
        )>,
    ) -> Result<(), NDIS_STATUS> {
        fn pointers<T>(pair: Option<(&T, &T)>) -> (PVOID, PVOID) {
            pair.map_or((null_mut(), null_mut()), |(hardware, current)| {
                (
                    core::ptr::from_ref(hardware).cast_mut().cast(),
                    core::ptr::from_ref(current).cast_mut().cast(),
                )
            })
        }
        let (hardware_qos, current_qos) = pointers(qos);
        let (hardware_filters, current_filters) = pointers(filters);
        let mut attributes = NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
                NDIS_SIZEOF_MINIPORT_ADAPTER_HARDWARE_ASSIST_ATTRIBUTES_REVISION_3,
            ),
            HDSplitAttributes: null_mut(),
            HardwareReceiveFilterCapabilities: hardware_filters,
            CurrentReceiveFilterCapabilities: current_filters,
            HardwareNicSwitchCapabilities: null_mut(),
            CurrentNicSwitchCapabilities: null_mut(),
            HardwareSriovCapabilities: null_mut(),
            CurrentSriovCapabilities: null_mut(),
            HardwareQosCapabilities: hardware_qos,
            CurrentQosCapabilities: current_qos,
        };
        self.set_attributes((&raw mut attributes).cast())
    }

    /// `NdisMOidRequestComplete` for a request the handler answered `NDIS_STATUS_PENDING` to.
    /// IRQL <= `DISPATCH_LEVEL`.
    pub fn complete_request(&self, request: crate::oid::PendedRequest, status: NDIS_STATUS) {
        let request = request.into_raw();
        // The handle is live (the invariant); the request is the pended one NDIS still keeps
        // (the token's invariant), completed once: the token is consumed. Any IRQL <= DISPATCH_LEVEL.
        // SAFETY: a valid handle and a pended request of this adapter.
        unsafe { NdisMOidRequestComplete(self.0, request, status) };
    }

    fn set_attributes(&self, attributes: *mut NDIS_MINIPORT_ADAPTER_ATTRIBUTES) -> Result<(), NDIS_STATUS> {
        // The handle is live (the invariant); the attributes and everything they point to are
        // borrowed by the caller for this call, and NDIS copies what it keeps. PASSIVE_LEVEL, as
        // the callers' contract says.
        // SAFETY: a valid handle and attributes for the duration of the call.
        let status = unsafe { NdisMSetMiniportAttributes(self.0, attributes) };
        if status == NDIS_STATUS_SUCCESS {
            Ok(())
        } else {
            Err(status)
        }
    }

    /// `NdisMIndicateStatusEx` from the default port with `buffer` as the status buffer (NDIS
    /// reads `size_of::<T>()` bytes of it during the call). IRQL <= `DISPATCH_LEVEL`.
    pub fn indicate_status<T>(&self, code: NDIS_STATUS, buffer: &T) {
        let mut indication = NDIS_STATUS_INDICATION {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_STATUS_INDICATION,
                NDIS_STATUS_INDICATION_REVISION_1,
                NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
            ),
            SourceHandle: self.0,
            PortNumber: NDIS_DEFAULT_PORT_NUMBER,
            StatusCode: code,
            Flags: 0,
            DestinationHandle: null_mut(),
            RequestId: null_mut(),
            StatusBuffer: core::ptr::from_ref(buffer).cast_mut().cast(),
            StatusBufferSize: u32::try_from(size_of::<T>()).unwrap_or(u32::MAX),
            Guid: GUID::default(),
            NdisReserved: [null_mut(); 4],
        };
        // The handle is live (the invariant); the indication and the buffer it points to are
        // borrowed for the call, and NDIS only reads them. IRQL <= DISPATCH_LEVEL (caller).
        // SAFETY: a valid handle and indication for the duration of the call.
        unsafe { NdisMIndicateStatusEx(self.0, &raw mut indication) };
    }

    /// `NdisMIndicateReceiveNetBufferLists` from the default port at `DISPATCH_LEVEL` (the flag is
    /// added here) with every NBL of `chain`, which is empty after. With
    /// `NDIS_RECEIVE_FLAGS_RESOURCES` in `flags` the NBLs are the driver's again when the call
    /// returns, and come back as `Some`; otherwise NDIS owns them until
    /// `MiniportReturnNetBufferLists`, and this returns `None`. Nothing is indicated for an empty
    /// chain.
    pub fn indicate_receive(&self, chain: &mut Chain, flags: u32) -> Option<Split> {
        let (head, count) = chain.take()?;
        let flags = flags | NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL;
        // The chain's NBLs are owned by the driver (a `Chain` holds only owned NBLs) and are handed
        // to NDIS here with their exact count; the handle is live (the invariant). The caller runs
        // at DISPATCH_LEVEL, as the flag says.
        // SAFETY: owned NBLs, given to NDIS until returned (or until this call returns, below).
        unsafe {
            NdisMIndicateReceiveNetBufferLists(
                self.0,
                head,
                NDIS_DEFAULT_PORT_NUMBER,
                u32::try_from(count).unwrap_or(u32::MAX),
                flags,
            );
        };
        if flags & NDIS_RECEIVE_FLAGS_RESOURCES == 0 {
            return None;
        }
        // With NDIS_RECEIVE_FLAGS_RESOURCES the chain is the driver's again once the call returns
        // ("the miniport driver can reclaim the NBLs immediately", NdisMIndicateReceiveNetBufferLists).
        // SAFETY: the chain indicated above, owned again.
        Some(unsafe { Chain::split(head) })
    }

    /// `NdisMSendNetBufferListsComplete` at `DISPATCH_LEVEL` with every NBL of `chain` (statuses set
    /// by the caller), which is empty after. Returns how many NBLs were completed.
    pub fn complete_sends(&self, chain: &mut Chain) -> usize {
        let Some((head, count)) = chain.take() else {
            return 0;
        };
        // Every NBL of the chain is owned by the driver (NDIS gave it to this adapter's send
        // handler) and goes back once, here; the handle is live (the invariant). The caller runs at
        // DISPATCH_LEVEL, as the flag says.
        // SAFETY: owned NBLs handed back to NDIS once, with the adapter that received them.
        unsafe { NdisMSendNetBufferListsComplete(self.0, head, NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL) };
        count
    }

    /// `NdisMPauseComplete`: completes the pause `MiniportPause` pended. Call it once per pended
    /// pause, when nothing is in flight any more. IRQL <= `DISPATCH_LEVEL`.
    pub fn pause_complete(&self) {
        // The handle is live (the invariant: halt follows the completed pause); NDIS reads nothing
        // else.
        // SAFETY: a valid handle.
        unsafe { NdisMPauseComplete(self.0) };
    }

    /// `NdisMResetComplete` with `status`, addressing kept: completes the reset `MiniportResetEx`
    /// pended. Once per pended reset. IRQL <= `DISPATCH_LEVEL`.
    pub fn reset_complete(&self, status: NDIS_STATUS) {
        // The handle is live (the invariant); NDIS reads nothing else.
        // SAFETY: a valid handle.
        unsafe { NdisMResetComplete(self.0, status, FALSE) };
    }
}

/// `KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS)`: the processors of every group. Any IRQL.
#[must_use]
pub fn active_processors() -> usize {
    /// `ALL_PROCESSOR_GROUPS` (winnt.h).
    const ALL_PROCESSOR_GROUPS: u16 = 0xffff;
    // No pointers; callable at any IRQL.
    // SAFETY: a plain query.
    unsafe { KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) as usize }
}

/// The systemwide index of processor `number` (`KeGetProcessorIndexFromNumber`), or `None` if it
/// names no processor of this system. Any IRQL.
#[must_use]
pub fn processor_index(number: PROCESSOR_NUMBER) -> Option<usize> {
    let mut number = number;
    // The number lives across the call; callable at any IRQL.
    // SAFETY: a plain query with a valid pointer.
    let index = unsafe { KeGetProcessorIndexFromNumber(&raw mut number) };
    (index != INVALID_PROCESSOR_INDEX).then_some(index as usize)
}

/// Longest keyword name [`Configuration::read_integer`] takes, in UTF-16 units.
pub const KEYWORD_UNITS: usize = 32;

/// An open configuration (`NdisOpenConfigurationEx`) of one adapter: its registry keywords. Closed
/// on drop. `PASSIVE_LEVEL` throughout.
///
/// # Invariants
/// `handle` is an open configuration handle, closed only by `drop`; what NDIS returns from it
/// stays valid until then, so values borrowed from `&self` are valid.
#[derive(Debug)]
pub struct Configuration(NDIS_HANDLE);

impl Configuration {
    /// Opens the adapter's configuration. Inside `MiniportInitializeEx` (`PASSIVE_LEVEL`).
    ///
    /// # Errors
    /// The status `NdisOpenConfigurationEx` returned.
    pub fn open(adapter: &AdapterHandle) -> Result<Self, NDIS_STATUS> {
        let mut object = NDIS_CONFIGURATION_OBJECT {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
                NDIS_CONFIGURATION_OBJECT_REVISION_1,
                NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
            ),
            NdisHandle: adapter.as_raw(),
            Flags: 0,
        };
        let mut handle: NDIS_HANDLE = null_mut();
        // A live adapter handle (its invariant); both structures live on this stack for the call.
        // PASSIVE_LEVEL (caller).
        // SAFETY: valid object and out-variable for the call.
        let status = unsafe { NdisOpenConfigurationEx(&raw mut object, &raw mut handle) };
        if status != NDIS_STATUS_SUCCESS {
            return Err(status);
        }
        Ok(Self(handle))
    }

    /// `NdisReadConfiguration(..., NdisParameterInteger)`: a decimal `REG_SZ` (what an INF writes) or
    /// a `REG_DWORD`. `None` if missing, not a number, or a name longer than [`KEYWORD_UNITS`].
    #[must_use]
    pub fn read_integer(&self, name: &str) -> Option<u32> {
        let mut units = [0u16; KEYWORD_UNITS];
        let mut len = 0;
        for unit in name.encode_utf16() {
            *units.get_mut(len)? = unit;
            len += 1;
        }
        let bytes = u16::try_from(len * 2).ok()?;
        let mut keyword = NDIS_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: units.as_mut_ptr(),
        };
        let mut status: NDIS_STATUS = NDIS_STATUS_FAILURE;
        let mut parameter: PNDIS_CONFIGURATION_PARAMETER = null_mut();
        // An open handle (the invariant); the keyword and out-variables live on this stack.
        // SAFETY: valid arguments for the call.
        unsafe {
            NdisReadConfiguration(
                &raw mut status,
                &raw mut parameter,
                self.0,
                &raw mut keyword,
                NdisParameterInteger,
            );
        };
        if status != NDIS_STATUS_SUCCESS {
            return None;
        }
        // On success NDIS points `parameter` at a value it keeps until the handle is closed, which
        // `&self` prevents for this borrow.
        // SAFETY: valid until drop.
        let parameter = unsafe { parameter.as_ref() }?;
        if parameter.ParameterType != NdisParameterInteger {
            return None;
        }
        // SAFETY: an integer parameter's data is the `IntegerData` member (type checked above).
        Some(unsafe { parameter.ParameterData.IntegerData })
    }

    /// `NdisReadNetworkAddress`: the bytes of the `NetworkAddress` keyword as NDIS parsed them (any
    /// length: the caller validates it), valid while the configuration is open.
    #[must_use]
    pub fn network_address(&self) -> Option<&[u8]> {
        let mut status: NDIS_STATUS = NDIS_STATUS_FAILURE;
        let mut address: PVOID = null_mut();
        let mut length: UINT = 0;
        // An open handle (the invariant); out-variables on this stack.
        // SAFETY: valid arguments for the call.
        unsafe { NdisReadNetworkAddress(&raw mut status, &raw mut address, &raw mut length, self.0) };
        if status != NDIS_STATUS_SUCCESS || address.is_null() {
            return None;
        }
        // NDIS returned `length` bytes at `address`, valid until the handle is closed, which the
        // borrow of `self` prevents.
        // SAFETY: `length` readable bytes for the returned lifetime.
        Some(unsafe { core::slice::from_raw_parts(address.cast::<u8>(), length as usize) })
    }
}

impl Drop for Configuration {
    fn drop(&mut self) {
        // The handle opened in `open`, closed once; nothing borrowed from it outlives `self`.
        // SAFETY: a live configuration handle; PASSIVE_LEVEL.
        unsafe { NdisCloseConfiguration(self.0) };
    }
}
