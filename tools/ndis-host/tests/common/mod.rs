//! A small loopback miniport for testing the host, written with the `ndis` crate like a real one.
//!
//! By default it behaves: it sets its attributes, keeps its receive NBLs in a generic object's pool,
//! echoes each sent frame back as a receive indication and completes the send, pauses when nothing is
//! in flight, and frees everything in halt. Each [`Behavior`] switch breaks exactly one NDIS rule, so a
//! test can prove the verifier reports it.

#![allow(
    clippy::cast_possible_truncation,
    reason = "the test driver's sizes are small constants, as a C driver writes them"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a driver's MiniportInitializeEx, step by step"
)]
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the test driver"
)]
#![allow(non_upper_case_globals, reason = "C enumerator names in patterns")]

use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ndis::*;

/// One NDIS rule the test driver breaks (each variant exactly one), so a test can prove the
/// verifier reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    FailInitialize,
    SkipGeneralAttributes,
    LeakGenericObject,
    LeakPool,
    FreeObjectWithChildren,
    DoubleFree,
    WriteAfterFree,
    PendPause,
    HoldSends,
    PauseWithOutstanding,
    DoubleComplete,
    TouchAfterComplete,
    IndicateTwice,
    WrongCount,
    DispatchFlagAtPassive,
    IndicateWhenPaused,
    UnexpectedPauseComplete,
    PendOidForever,
    PauseReturnsFailure,
    LeaveSpinLockHeld,
    ReturnAtDispatch,
    FreeArmedTimer,
    OidOverrun,
    LeaveConfigOpen,
    BadPoolParameters,
    AllocateAtHighIrql,
    ResourcesFlag,
    LeakOnInitFailure,
    /// Queues sends that arrive while pausing or paused instead of completing them at once.
    HoldSendsWhilePaused,
    /// Completes sends that arrive while pausing or paused with `NDIS_STATUS_SUCCESS`.
    SucceedSendsWhilePaused,
    /// Leaves `PowerManagementCapabilitiesEx` NULL (mandatory for NDIS 6.20 and later).
    NoPmCapabilities,
    /// Sets revision 1 of the registration attributes (NDIS 6.0) instead of 2.
    RegistrationRevision1,
    /// Leaves `SourceHandle` NULL on the receive NBLs.
    NoSourceHandle,
    /// Indicates the link state before setting the registration attributes.
    StatusBeforeRegistration,
}

/// What the test driver does: the rule it breaks (`None`: none), and the values some tests set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behavior {
    /// The rule broken, if any.
    pub broken: Option<Broken>,
    /// The registration attributes' flags instead of `NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND`.
    pub attribute_flags: Option<u32>,
    /// `SupportedStatistics` in the general attributes (0 by default).
    pub supported_statistics: u32,
    /// The `NDIS_STATISTICS_FLAGS_VALID`_* flags of the `OID_GEN_STATISTICS` answer.
    pub statistics_valid: u32,
    /// Bytes of stack `MiniportCheckForHangEx` uses (in 1 KiB frames).
    pub hang_check_stack: usize,
}

impl Behavior {
    /// Breaking `rule`, everything else as by default.
    #[must_use]
    pub const fn breaking(rule: Broken) -> Self {
        Self {
            broken: Some(rule),
            ..Self::DEFAULT
        }
    }

    /// Whether the driver breaks `rule`.
    #[must_use]
    pub fn breaks(&self, rule: Broken) -> bool {
        self.broken == Some(rule)
    }

    const DEFAULT: Self = Self {
        broken: None,
        attribute_flags: None,
        supported_statistics: 0,
        statistics_valid: 0,
        hang_check_stack: 0,
    };
}

pub static BEHAVIOR: Mutex<Behavior> = Mutex::new(Behavior::DEFAULT);

fn behavior() -> Behavior {
    *BEHAVIOR.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the behaviour for the next host run (tests in one binary are serialised by the host).
pub fn set(b: Behavior) {
    *BEHAVIOR.lock().unwrap_or_else(PoisonError::into_inner) = b;
}

pub const TAG: u32 = u32::from_le_bytes(*b"Test");
const RX_NBLS: usize = 8;
const RX_BUFFER: usize = 2048;
const OIDS: [NDIS_OID; 5] = [
    OID_GEN_SUPPORTED_LIST,
    OID_GEN_MAXIMUM_FRAME_SIZE,
    OID_GEN_LINK_SPEED,
    OID_GEN_STATISTICS,
    OID_GEN_DIRECTED_FRAMES_RCV,
];

struct Rx {
    nbl: PNET_BUFFER_LIST,
    buffer: *mut u8,
    mdl: PMDL,
}

struct State {
    free_rx: Vec<Rx>,
    all_rx: Vec<PNET_BUFFER_LIST>,
    held_sends: Vec<PNET_BUFFER_LIST>,
    in_flight: usize,
    pausing: bool,
    paused: bool,
}

pub struct TestAdapter {
    handle: NDIS_HANDLE,
    object: PNDIS_GENERIC_OBJECT,
    pool: NDIS_HANDLE,
    timer: NDIS_HANDLE,
    memory: PVOID,
    state: Mutex<State>,
}

// SAFETY: the raw pointers are NDIS handles and pool memory valid from any thread; the mutable state
// is behind a mutex.
unsafe impl Send for TestAdapter {}
// SAFETY: as above.
unsafe impl Sync for TestAdapter {}

impl TestAdapter {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static DRIVER: Mutex<usize> = Mutex::new(0);
static OBJECT: Mutex<usize> = Mutex::new(0);

fn adapter<'a>(context: NDIS_HANDLE) -> &'a TestAdapter {
    // SAFETY: the context is the Box<TestAdapter> leaked in initialize, freed only in halt.
    unsafe { &*context.cast::<TestAdapter>() }
}

#[ndis::kernel_abi]
pub unsafe extern "system" fn driver_entry(object: PDRIVER_OBJECT, path: PUNICODE_STRING) -> NTSTATUS {
    *OBJECT.lock().unwrap_or_else(PoisonError::into_inner) = object as usize;
    let mut chars = NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: 6,
        MinorNdisVersion: 30,
        InitializeHandlerEx: Some(initialize),
        HaltHandlerEx: Some(halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(pause),
        RestartHandler: Some(restart),
        OidRequestHandler: Some(oid),
        SendNetBufferListsHandler: Some(send),
        ReturnNetBufferListsHandler: Some(return_nbls),
        CancelSendHandler: Some(cancel),
        CheckForHangHandlerEx: Some(check_for_hang),
        ResetHandlerEx: Some(reset),
        DevicePnPEventNotifyHandler: Some(pnp),
        ShutdownHandlerEx: Some(shutdown),
        CancelOidRequestHandler: Some(cancel_oid),
        ..Default::default()
    };
    let mut handle = null_mut();
    let (c, h) = (&raw mut chars, &raw mut handle);
    // SAFETY: PASSIVE_LEVEL DriverEntry; pointers from the host and locals that outlive the call.
    let status = unsafe { NdisMRegisterMiniportDriver(object, path, null_mut(), c, h) };
    if status == NDIS_STATUS_SUCCESS {
        *DRIVER.lock().unwrap_or_else(PoisonError::into_inner) = handle as usize;
    }
    status
}

#[ndis::kernel_abi]
unsafe extern "system" fn unload(_: PDRIVER_OBJECT) {
    let handle = std::mem::take(&mut *DRIVER.lock().unwrap_or_else(PoisonError::into_inner));
    // SAFETY: the registration handle from DriverEntry, deregistered once at PASSIVE_LEVEL.
    unsafe { NdisMDeregisterMiniportDriver(handle as NDIS_HANDLE) };
}

#[ndis::kernel_abi]
unsafe extern "system" fn timer_callback(_: PVOID, context: PVOID, _: PVOID, _: PVOID) {
    // Completes a pending pause once nothing is in flight.
    let a = adapter(context);
    if behavior().breaks(Broken::IndicateWhenPaused) && a.state().paused {
        let rx = a.state().free_rx.pop().expect("a receive NBL");
        // SAFETY: deliberately indicating while paused; RESOURCES gives the NBL back at once.
        unsafe {
            NdisMIndicateReceiveNetBufferLists(
                a.handle,
                rx.nbl,
                NDIS_DEFAULT_PORT_NUMBER,
                1,
                NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL | NDIS_RECEIVE_FLAGS_RESOURCES,
            );
        };
        a.state().free_rx.push(rx);
        return;
    }
    let complete = {
        let mut s = a.state();
        let done = s.pausing && s.in_flight == 0 && s.free_rx.len() == RX_NBLS;
        if done {
            s.pausing = false;
            s.paused = true;
        }
        done
    };
    if complete {
        // SAFETY: the adapter's handle; a pause is pending; DISPATCH_LEVEL is allowed.
        unsafe { NdisMPauseComplete(a.handle) };
    } else if a.state().pausing {
        let due = LARGE_INTEGER { QuadPart: -10_000 };
        // SAFETY: the adapter's timer, re-armed from its own callback.
        unsafe { NdisSetTimerObject(a.timer, due, 0, context) };
    }
}

#[ndis::kernel_abi]
unsafe extern "system" fn initialize(
    handle: NDIS_HANDLE,
    _: NDIS_HANDLE,
    _: PNDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    let b = behavior();
    let driver_object = *OBJECT.lock().unwrap_or_else(PoisonError::into_inner) as PDRIVER_OBJECT;
    // SAFETY: PASSIVE_LEVEL; the driver object DriverEntry received.
    let object = unsafe { NdisAllocateGenericObject(driver_object, TAG, 64) };
    if object.is_null() {
        return NDIS_STATUS_RESOURCES;
    }
    // Configuration: read one keyword, close the handle (unless told not to).
    let mut config = NDIS_CONFIGURATION_OBJECT {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            NDIS_CONFIGURATION_OBJECT_REVISION_1,
            NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
        ),
        NdisHandle: handle,
        Flags: 0,
    };
    let mut config_handle = null_mut();
    let (co, ch) = (&raw mut config, &raw mut config_handle);
    // SAFETY: PASSIVE_LEVEL; the configuration object and out-variable live across the call.
    let status = unsafe { NdisOpenConfigurationEx(co, ch) };
    let opened = status == NDIS_STATUS_SUCCESS;
    if opened && !b.breaks(Broken::LeaveConfigOpen) {
        // SAFETY: the handle just opened, closed once.
        unsafe { NdisCloseConfiguration(config_handle) };
    }
    let mut pool_params = NET_BUFFER_LIST_POOL_PARAMETERS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        ProtocolId: NDIS_PROTOCOL_ID_DEFAULT,
        fAllocateNetBuffer: TRUE,
        ContextSize: if b.breaks(Broken::BadPoolParameters) { 3 } else { 0 },
        PoolTag: TAG,
        DataSize: 0,
    };
    let pp = &raw mut pool_params;
    // SAFETY: the generic object is the documented handle for NBL pools; parameters live for the call.
    let pool = unsafe { NdisAllocateNetBufferListPool(object.cast(), pp) };
    let mut timer_chars = NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: TAG,
        TimerFunction: Some(timer_callback),
        FunctionContext: null_mut(),
    };
    let mut timer = null_mut();
    let (tc, t) = (&raw mut timer_chars, &raw mut timer);
    // SAFETY: the generic object as handle; characteristics and out-variable live for the call.
    let timer_status = unsafe { NdisAllocateTimerObject(object.cast(), tc, t) };
    let rx_bytes = RX_NBLS * RX_BUFFER;
    // SAFETY: non-paged pool at PASSIVE_LEVEL.
    let memory = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, rx_bytes, TAG) };
    let adapter_box = Box::new(TestAdapter {
        handle,
        object,
        pool,
        timer,
        memory,
        state: Mutex::new(State {
            free_rx: Vec::new(),
            all_rx: Vec::new(),
            held_sends: Vec::new(),
            in_flight: 0,
            pausing: false,
            paused: true,
        }),
    });
    let failed = pool.is_null() || timer_status != NDIS_STATUS_SUCCESS || memory.is_null();
    let mut ok = !failed;
    if ok {
        let mut s = adapter_box.state();
        for i in 0..RX_NBLS {
            // SAFETY: `memory` has RX_NBLS * RX_BUFFER bytes.
            let buffer = unsafe { memory.cast::<u8>().add(i * RX_BUFFER) };
            // SAFETY: an MDL over pool memory the adapter owns.
            let mdl = unsafe { NdisAllocateMdl(handle, buffer.cast(), RX_BUFFER as u32) };
            if mdl.is_null() {
                ok = false;
                break;
            }
            // SAFETY: the pool has fAllocateNetBuffer; the MDL is ours.
            let nbl = unsafe { NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, 0, 0) };
            if nbl.is_null() {
                // SAFETY: the MDL just allocated, not used by anything.
                unsafe { NdisFreeMdl(mdl) };
                ok = false;
                break;
            }
            if !b.breaks(Broken::NoSourceHandle) {
                // SAFETY: the NBL just allocated, ours until indicated.
                unsafe { (*nbl).SourceHandle = handle };
            }
            s.free_rx.push(Rx { nbl, buffer, mdl });
            s.all_rx.push(nbl);
        }
    }
    let context = Box::into_raw(adapter_box);
    if !ok || b.breaks(Broken::FailInitialize) {
        // Leaking on a failed initialize is leaking the generic object there.
        let on_error = if b.breaks(Broken::LeakOnInitFailure) {
            Behavior {
                broken: Some(Broken::LeakGenericObject),
                ..b
            }
        } else {
            b
        };
        release(context, on_error);
        return NDIS_STATUS_RESOURCES;
    }
    if b.breaks(Broken::StatusBeforeRegistration) {
        indicate_link(handle);
    }
    let mut reg = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: if b.breaks(Broken::RegistrationRevision1) {
            NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
                NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1,
            )
        } else {
            NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
                NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
            )
        },
        MiniportAdapterContext: context.cast(),
        AttributeFlags: b
            .attribute_flags
            .unwrap_or(NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND),
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NdisInterfaceInternal,
    };
    let r = (&raw mut reg).cast::<NDIS_MINIPORT_ADAPTER_ATTRIBUTES>();
    // SAFETY: PASSIVE_LEVEL, inside initialize; the attributes live for the call.
    unsafe { NdisMSetMiniportAttributes(handle, r) };
    if !b.breaks(Broken::SkipGeneralAttributes) {
        let mut oids = OIDS;
        // Power managed, no wake-up of any kind (as netvmini reports).
        let mut pm = NDIS_PM_CAPABILITIES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_PM_CAPABILITIES_REVISION_2,
                NDIS_SIZEOF_NDIS_PM_CAPABILITIES_REVISION_2,
            ),
            MinMagicPacketWakeUp: NdisDeviceStateUnspecified,
            MinPatternWakeUp: NdisDeviceStateUnspecified,
            MinLinkChangeWakeUp: NdisDeviceStateUnspecified,
            ..NDIS_PM_CAPABILITIES::default()
        };
        let mut general = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
                NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            ),
            Flags: 0,
            MediaType: NdisMedium802_3,
            PhysicalMediumType: NdisPhysicalMediumUnspecified,
            MtuSize: 1500,
            MaxXmitLinkSpeed: 1_000_000_000,
            XmitLinkSpeed: 1_000_000_000,
            MaxRcvLinkSpeed: 1_000_000_000,
            RcvLinkSpeed: 1_000_000_000,
            MediaConnectState: MediaConnectStateConnected,
            MediaDuplexState: MediaDuplexStateFull,
            LookaheadSize: 1500,
            PowerManagementCapabilities: null_mut(),
            MacOptions: NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_NO_LOOPBACK,
            SupportedPacketFilters: NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST,
            MaxMulticastListSize: 32,
            MacAddressLength: 6,
            PermanentMacAddress: [
                0x02, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0,
            ],
            CurrentMacAddress: [
                0x02, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0,
            ],
            RecvScaleCapabilities: null_mut(),
            AccessType: NET_IF_ACCESS_BROADCAST,
            DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
            ConnectionType: NET_IF_CONNECTION_DEDICATED,
            IfType: IF_TYPE_ETHERNET_CSMACD,
            IfConnectorPresent: FALSE,
            SupportedStatistics: b.supported_statistics,
            SupportedPauseFunctions: NdisPauseFunctionsUnsupported as u32,
            DataBackFillSize: 0,
            ContextBackFillSize: 0,
            SupportedOidList: oids.as_mut_ptr(),
            SupportedOidListLength: (OIDS.len() * 4) as u32,
            AutoNegotiationFlags: 0,
            PowerManagementCapabilitiesEx: if b.breaks(Broken::NoPmCapabilities) {
                null_mut()
            } else {
                &raw mut pm
            },
        };
        let g = (&raw mut general).cast::<NDIS_MINIPORT_ADAPTER_ATTRIBUTES>();
        // SAFETY: as above.
        unsafe { NdisMSetMiniportAttributes(handle, g) };
    }
    if b.breaks(Broken::LeakPool) {
        // SAFETY: non-paged pool at PASSIVE_LEVEL, deliberately never freed.
        unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, u32::from_le_bytes(*b"Leak")) };
    }
    NDIS_STATUS_SUCCESS
}

/// Frees what initialize allocated (halt, or a failed initialize).
fn release(context: *mut TestAdapter, b: Behavior) {
    // SAFETY: the adapter box leaked in initialize; taken back exactly once.
    let a = unsafe { Box::from_raw(context) };
    let rx: Vec<Rx> = std::mem::take(&mut a.state().free_rx);
    for r in rx {
        // SAFETY: the adapter's own NBLs and MDLs, all returned by the protocol by now.
        unsafe { NdisFreeNetBufferList(r.nbl) };
        // SAFETY: as above.
        unsafe { NdisFreeMdl(r.mdl) };
        let _ = r.buffer;
    }
    if b.breaks(Broken::FreeObjectWithChildren) {
        // SAFETY: deliberately freeing the object while its timer and pool are alive.
        unsafe { NdisFreeGenericObject(a.object) };
    }
    if !a.timer.is_null() {
        if b.breaks(Broken::FreeArmedTimer) {
            let due = LARGE_INTEGER {
                QuadPart: -10_000_000,
            };
            // SAFETY: the adapter's timer.
            unsafe { NdisSetTimerObject(a.timer, due, 0, null_mut()) };
        } else {
            // SAFETY: the adapter's timer, cancelled before it is freed.
            unsafe { NdisCancelTimerObject(a.timer) };
        }
        // SAFETY: the adapter's timer, freed once.
        unsafe { NdisFreeTimerObject(a.timer) };
    }
    if !a.pool.is_null() {
        // SAFETY: every NBL of the pool was freed above.
        unsafe { NdisFreeNetBufferListPool(a.pool) };
    }
    if !a.memory.is_null() {
        // SAFETY: the receive buffers' pool memory, freed once with its tag.
        unsafe { ExFreePoolWithTag(a.memory, TAG) };
        if b.breaks(Broken::DoubleFree) {
            // SAFETY: deliberately freeing it twice.
            unsafe { ExFreePoolWithTag(a.memory, TAG) };
        }
        if b.breaks(Broken::WriteAfterFree) {
            // SAFETY: deliberately writing to freed memory (the host keeps it mapped, poisoned).
            unsafe { a.memory.cast::<u8>().write(7) };
        }
    }
    if !b.breaks(Broken::LeakGenericObject) && !b.breaks(Broken::FreeObjectWithChildren) {
        // SAFETY: the adapter's generic object, freed last, once.
        unsafe { NdisFreeGenericObject(a.object) };
    }
}

#[ndis::kernel_abi]
unsafe extern "system" fn halt(context: NDIS_HANDLE, _: NDIS_HALT_ACTION) {
    release(context.cast(), behavior());
}

#[ndis::kernel_abi]
unsafe extern "system" fn pause(context: NDIS_HANDLE, _: PNDIS_MINIPORT_PAUSE_PARAMETERS) -> NDIS_STATUS {
    let b = behavior();
    let a = adapter(context);
    if b.breaks(Broken::PauseReturnsFailure) {
        return NDIS_STATUS_FAILURE;
    }
    let held: Vec<PNET_BUFFER_LIST> = if b.breaks(Broken::PauseWithOutstanding) {
        Vec::new()
    } else {
        std::mem::take(&mut a.state().held_sends)
    };
    for nbl in held {
        complete_sends(a, nbl, 0);
    }
    let idle = {
        let s = a.state();
        s.in_flight == 0 && s.free_rx.len() == RX_NBLS
    };
    if (idle || b.breaks(Broken::PauseWithOutstanding)) && !b.breaks(Broken::PendPause) {
        a.state().paused = true;
        if b.breaks(Broken::IndicateWhenPaused) {
            let due = LARGE_INTEGER { QuadPart: -10_000 };
            // SAFETY: the adapter's timer; its callback misbehaves after the pause.
            unsafe { NdisSetTimerObject(a.timer, due, 0, context) };
        }
        return NDIS_STATUS_SUCCESS;
    }
    a.state().pausing = true;
    let due = LARGE_INTEGER { QuadPart: -10_000 };
    // SAFETY: the adapter's timer; its callback completes the pause.
    unsafe { NdisSetTimerObject(a.timer, due, 0, context) };
    NDIS_STATUS_PENDING
}

#[ndis::kernel_abi]
unsafe extern "system" fn restart(context: NDIS_HANDLE, _: PNDIS_MINIPORT_RESTART_PARAMETERS) -> NDIS_STATUS {
    adapter(context).state().paused = false;
    indicate_link(adapter(context).handle);
    if behavior().breaks(Broken::UnexpectedPauseComplete) {
        // SAFETY: deliberately completing a pause nobody asked for.
        unsafe { NdisMPauseComplete(adapter(context).handle) };
    }
    NDIS_STATUS_SUCCESS
}

fn complete_sends(a: &TestAdapter, nbl: PNET_BUFFER_LIST, flags: ULONG) {
    // SAFETY: NBLs the host sent and this driver owns, completed once.
    unsafe { NdisMSendNetBufferListsComplete(a.handle, nbl, flags) };
}

#[ndis::kernel_abi]
unsafe extern "system" fn send(
    context: NDIS_HANDLE,
    nbls: PNET_BUFFER_LIST,
    _: NDIS_PORT_NUMBER,
    flags: ULONG,
) {
    let b = behavior();
    let a = adapter(context);
    let dispatch = flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0;
    let paused = {
        let s = a.state();
        s.paused || s.pausing
    };
    if paused {
        refuse_while_paused(a, nbls, dispatch, b);
        return;
    }
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: the host's NBL chain, owned by this driver until completed.
        let next = unsafe { NET_BUFFER_LIST_NEXT_NBL(nbl) };
        // SAFETY: as above; unlinking before completing it alone.
        unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(nbl, null_mut()) };
        // SAFETY: as above.
        let mut nb = unsafe { NET_BUFFER_LIST_FIRST_NB(nbl) };
        while !nb.is_null() {
            echo(a, nb, dispatch, b);
            // SAFETY: as above.
            nb = unsafe { NET_BUFFER_NEXT_NB(nb) };
        }
        // SAFETY: as above.
        unsafe { NET_BUFFER_LIST_SET_STATUS(nbl, NDIS_STATUS_SUCCESS) };
        if b.breaks(Broken::HoldSends) || b.breaks(Broken::PauseWithOutstanding) {
            a.state().held_sends.push(nbl);
        } else {
            let f = if b.breaks(Broken::DispatchFlagAtPassive) || dispatch {
                NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
            } else {
                0
            };
            complete_sends(a, nbl, f);
            if b.breaks(Broken::DoubleComplete) {
                complete_sends(a, nbl, f);
            }
            if b.breaks(Broken::TouchAfterComplete) {
                // SAFETY: deliberately writing to an NBL after completing it (host memory, poisoned).
                unsafe { (*nbl).MiniportReserved.0[0] = 1 as PVOID };
            }
        }
        nbl = next;
    }
}

/// `MiniportPause`'s page: a pausing or paused miniport completes each send at once with
/// `NDIS_STATUS_PAUSED` (unless told to misbehave).
fn refuse_while_paused(a: &TestAdapter, nbls: PNET_BUFFER_LIST, dispatch: bool, b: Behavior) {
    if b.breaks(Broken::HoldSendsWhilePaused) {
        let mut nbl = nbls;
        while !nbl.is_null() {
            // SAFETY: the host's NBL chain, owned by this driver until completed.
            let next = unsafe { NET_BUFFER_LIST_NEXT_NBL(nbl) };
            // SAFETY: as above; unlinked to be completed alone later.
            unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(nbl, null_mut()) };
            a.state().held_sends.push(nbl);
            nbl = next;
        }
        return;
    }
    let status = if b.breaks(Broken::SucceedSendsWhilePaused) {
        NDIS_STATUS_SUCCESS
    } else {
        NDIS_STATUS_PAUSED
    };
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: the host's NBL chain, owned by this driver until completed below.
        unsafe { NET_BUFFER_LIST_SET_STATUS(nbl, status) };
        // SAFETY: as above.
        nbl = unsafe { NET_BUFFER_LIST_NEXT_NBL(nbl) };
    }
    let flags = if dispatch {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    complete_sends(a, nbls, flags);
}

/// Copies a sent frame into a free receive NBL and indicates it.
fn echo(a: &TestAdapter, nb: PNET_BUFFER, dispatch: bool, b: Behavior) {
    let Some(rx) = a.state().free_rx.pop() else { return };
    // SAFETY: the host's NB, owned by this driver during the send.
    let length = unsafe { NET_BUFFER_DATA_LENGTH(nb) } as usize;
    let mut storage = vec![0u8; length.max(1)];
    // SAFETY: `storage` has `length` bytes; NdisGetDataBuffer copies there if the data is split.
    let data = unsafe { NdisGetDataBuffer(nb, length as u32, storage.as_mut_ptr().cast(), 1, 0) };
    let copy = length.min(RX_BUFFER);
    if !data.is_null() {
        // SAFETY: `data` has `length` readable bytes.
        let whole = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) };
        *LAST_FRAME.lock().unwrap_or_else(PoisonError::into_inner) = whole.to_vec();
        // SAFETY: `data` has `length` readable bytes; the receive buffer has RX_BUFFER bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.cast::<u8>(), rx.buffer, copy) };
    }
    // SAFETY: the adapter's own NBL, owned by the driver until indicated.
    let rx_nb = unsafe { NET_BUFFER_LIST_FIRST_NB(rx.nbl) };
    // SAFETY: as above.
    unsafe {
        (*rx_nb).NetBufferHeader.data_mut().NbDataLength = NET_BUFFER_DATA_LENGTH { stDataLength: copy }
    };
    // SAFETY: as above.
    unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(rx.nbl, null_mut()) };
    let mut flags = if dispatch {
        NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    if b.breaks(Broken::ResourcesFlag) {
        flags |= NDIS_RECEIVE_FLAGS_RESOURCES;
    }
    let count = if b.breaks(Broken::WrongCount) { 2 } else { 1 };
    let nbl = rx.nbl;
    if !b.breaks(Broken::ResourcesFlag) {
        // Returned through MiniportReturnNetBufferLists, which puts it back on the free list.
        a.state().in_flight += 1;
    }
    // SAFETY: the adapter's NBL, indicated once; the protocol owns it until it returns it.
    unsafe { NdisMIndicateReceiveNetBufferLists(a.handle, nbl, NDIS_DEFAULT_PORT_NUMBER, count, flags) };
    if b.breaks(Broken::IndicateTwice) {
        // SAFETY: deliberately indicating an NBL the protocol may still hold.
        unsafe { NdisMIndicateReceiveNetBufferLists(a.handle, nbl, NDIS_DEFAULT_PORT_NUMBER, 1, flags) };
    }
    if b.breaks(Broken::ResourcesFlag) {
        // With NDIS_RECEIVE_FLAGS_RESOURCES the NBL is the driver's again when the call returns.
        a.state().free_rx.push(rx);
    }
}

#[ndis::kernel_abi]
unsafe extern "system" fn return_nbls(context: NDIS_HANDLE, nbls: PNET_BUFFER_LIST, _: ULONG) {
    let a = adapter(context);
    let mut nbl = nbls;
    while !nbl.is_null() {
        // SAFETY: NBLs this driver indicated, owned by it again.
        let next = unsafe { NET_BUFFER_LIST_NEXT_NBL(nbl) };
        {
            let mut s = a.state();
            s.in_flight = s.in_flight.saturating_sub(1);
            let index = s.all_rx.iter().position(|n| *n == nbl).expect("one of ours");
            let buffer = a.memory.cast::<u8>().wrapping_add(index * RX_BUFFER);
            // SAFETY: the NBL is ours again.
            let nb = unsafe { NET_BUFFER_LIST_FIRST_NB(nbl) };
            // SAFETY: its NB, allocated with it.
            let mdl = unsafe { &*nb }.NetBufferHeader.data().MdlChain;
            s.free_rx.push(Rx { nbl, buffer, mdl });
        }
        nbl = next;
    }
}

/// The request `pend_oid_forever` holds, until `MiniportCancelOidRequest` completes it.
static PENDING_OID: Mutex<usize> = Mutex::new(0);

#[ndis::kernel_abi]
unsafe extern "system" fn oid(_context: NDIS_HANDLE, request: PNDIS_OID_REQUEST) -> NDIS_STATUS {
    let b = behavior();
    if b.breaks(Broken::PendOidForever) {
        *PENDING_OID.lock().unwrap_or_else(PoisonError::into_inner) = request as usize;
        return NDIS_STATUS_PENDING;
    }
    if b.breaks(Broken::LeaveSpinLockHeld) {
        let lock = Box::leak(Box::new(NDIS_SPIN_LOCK::default()));
        // SAFETY: raising to DISPATCH_LEVEL for the Dpr acquire; lowered again below.
        let old = unsafe { KeRaiseIrqlToDpcLevel() };
        // SAFETY: a spin lock deliberately left held when the callback returns.
        unsafe { NdisDprAcquireSpinLock(lock) };
        // SAFETY: back to the callback's IRQL, so only the held lock is wrong.
        unsafe { KeLowerIrql(old) };
        return NDIS_STATUS_SUCCESS;
    }
    if b.breaks(Broken::ReturnAtDispatch) {
        // SAFETY: deliberately raising without lowering again.
        unsafe { KeRaiseIrqlToDpcLevel() };
        return NDIS_STATUS_SUCCESS;
    }
    if b.breaks(Broken::AllocateAtHighIrql) {
        // SAFETY: raising to DISPATCH_LEVEL, lowered again below.
        let old = unsafe { KeRaiseIrqlToDpcLevel() };
        // SAFETY: deliberately calling a PASSIVE_LEVEL-only function at DISPATCH_LEVEL.
        unsafe { NdisMSleep(1) };
        // SAFETY: restoring the IRQL raised above.
        unsafe { KeLowerIrql(old) };
        return NDIS_STATUS_SUCCESS;
    }
    // SAFETY: the host's request, valid until completed.
    let r = unsafe { &mut *request };
    if r.RequestType == NdisRequestSetInformation {
        // SAFETY: a set request: the SET_INFORMATION member is the valid one.
        let set = unsafe { &mut r.DATA.SET_INFORMATION };
        let name = match set.Oid {
            OID_PNP_SET_POWER => "set_power",
            OID_GEN_CURRENT_PACKET_FILTER => "packet_filter",
            _ => return NDIS_STATUS_NOT_SUPPORTED,
        };
        if set.InformationBufferLength < 4 {
            set.BytesNeeded = 4;
            return NDIS_STATUS_INVALID_LENGTH;
        }
        // SAFETY: at least 4 bytes of the host's buffer (checked).
        let value = unsafe { set.InformationBuffer.cast::<i32>().read_unaligned() };
        seen(name, value);
        set.BytesRead = 4;
        return NDIS_STATUS_SUCCESS;
    }
    if r.RequestType != NdisRequestQueryInformation {
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    // SAFETY: a query request: the QUERY_INFORMATION member is the valid one.
    let query = unsafe { r.DATA.QUERY_INFORMATION };
    if query.Oid == OID_PNP_QUERY_POWER {
        // SAFETY: the host's buffer holds the device state asked about (4 bytes).
        let state = unsafe { query.InformationBuffer.cast::<i32>().read_unaligned() };
        seen("query_power", state);
        return NDIS_STATUS_SUCCESS;
    }
    // SAFETY: a query request: the QUERY_INFORMATION member is the valid one.
    let q = unsafe { &mut r.DATA.QUERY_INFORMATION };
    if q.Oid == OID_GEN_STATISTICS {
        let size = size_of::<NDIS_STATISTICS_INFO>();
        if (q.InformationBufferLength as usize) < size {
            q.BytesNeeded = size as u32;
            return NDIS_STATUS_BUFFER_TOO_SHORT;
        }
        let info = NDIS_STATISTICS_INFO {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_STATISTICS_INFO_REVISION_1,
                NDIS_SIZEOF_STATISTICS_INFO_REVISION_1,
            ),
            SupportedStatistics: b.statistics_valid,
            ..NDIS_STATISTICS_INFO::default()
        };
        // SAFETY: the buffer holds at least an NDIS_STATISTICS_INFO (checked).
        unsafe {
            q.InformationBuffer
                .cast::<NDIS_STATISTICS_INFO>()
                .write_unaligned(info);
        };
        q.BytesWritten = size as u32;
        return NDIS_STATUS_SUCCESS;
    }
    let value: u32 = match q.Oid {
        OID_GEN_MAXIMUM_FRAME_SIZE => 1500,
        OID_GEN_LINK_SPEED => 10_000_000,
        _ => return NDIS_STATUS_NOT_SUPPORTED,
    };
    if q.InformationBufferLength < 4 && !b.breaks(Broken::OidOverrun) {
        q.BytesNeeded = 4;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    // SAFETY: the buffer has at least 4 bytes, or (overrun) deliberately not.
    unsafe { q.InformationBuffer.cast::<u32>().write_unaligned(value) };
    q.BytesWritten = 4;
    NDIS_STATUS_SUCCESS
}

#[ndis::kernel_abi]
unsafe extern "system" fn cancel(_: NDIS_HANDLE, _: PVOID) {}

/// `MiniportCancelOidRequest`: completes the held request if its `RequestId` matches.
#[ndis::kernel_abi]
unsafe extern "system" fn cancel_oid(context: NDIS_HANDLE, request_id: PVOID) {
    let held = std::mem::take(&mut *PENDING_OID.lock().unwrap_or_else(PoisonError::into_inner));
    let request = held as PNDIS_OID_REQUEST;
    // SAFETY: the request NDIS gave `oid` and that is still pending (held), or NULL.
    if request.is_null() || unsafe { (*request).RequestId } != request_id {
        *PENDING_OID.lock().unwrap_or_else(PoisonError::into_inner) = held;
        return;
    }
    seen("cancel_oid", 0);
    // SAFETY: the adapter's handle and its pending request, completed once.
    unsafe { NdisMOidRequestComplete(adapter(context).handle, request, NDIS_STATUS_REQUEST_ABORTED) };
}

/// What the driver saw: (callback, IRQL, detail), for tests of the host's calling conventions.
pub static SEEN: Mutex<Vec<(&'static str, KIRQL, i32)>> = Mutex::new(Vec::new());

fn seen(callback: &'static str, detail: i32) {
    // SAFETY: a plain query of the calling thread's IRQL.
    let irql = unsafe { KeGetCurrentIrql() };
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((callback, irql, detail));
}

/// The last frame sent, read whole through `NdisGetDataBuffer`.
pub static LAST_FRAME: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[ndis::kernel_abi]
unsafe extern "system" fn pnp(_: NDIS_HANDLE, event: PNET_DEVICE_PNP_EVENT) {
    // SAFETY: the host's notification, valid for the call.
    seen("pnp", unsafe { (*event).DevicePnPEvent });
}

#[ndis::kernel_abi]
unsafe extern "system" fn shutdown(_: NDIS_HANDLE, action: NDIS_SHUTDOWN_ACTION) {
    seen("shutdown", action);
}

#[ndis::kernel_abi]
unsafe extern "system" fn check_for_hang(_: NDIS_HANDLE) -> BOOLEAN {
    seen("check_for_hang", 0);
    use_stack(behavior().hang_check_stack);
    FALSE
}

#[ndis::kernel_abi]
unsafe extern "system" fn reset(_: NDIS_HANDLE, addressing: *mut BOOLEAN) -> NDIS_STATUS {
    seen("reset", 0);
    // SAFETY: the host's out-variable, valid for the call.
    unsafe { addressing.write(TRUE) };
    NDIS_STATUS_SUCCESS
}

/// Indicates the link state (connected, 1 Gbit/s full duplex) for the adapter `handle`, as a
/// miniport does on restart.
pub fn indicate_link(handle: NDIS_HANDLE) {
    let mut state = NDIS_LINK_STATE {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NDIS_LINK_STATE_REVISION_1,
            NDIS_SIZEOF_LINK_STATE_REVISION_1,
        ),
        MediaConnectState: MediaConnectStateConnected,
        MediaDuplexState: MediaDuplexStateFull,
        XmitLinkSpeed: 1_000_000_000,
        RcvLinkSpeed: 1_000_000_000,
        PauseFunctions: NdisPauseFunctionsUnsupported,
        AutoNegotiationFlags: 0,
    };
    let mut indication = NDIS_STATUS_INDICATION {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_STATUS_INDICATION,
            NDIS_STATUS_INDICATION_REVISION_1,
            NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        ),
        SourceHandle: handle,
        PortNumber: NDIS_DEFAULT_PORT_NUMBER,
        StatusCode: NDIS_STATUS_LINK_STATE,
        Flags: 0,
        DestinationHandle: null_mut(),
        RequestId: null_mut(),
        StatusBuffer: (&raw mut state).cast(),
        StatusBufferSize: size_of::<NDIS_LINK_STATE>() as u32,
        Guid: GUID::default(),
        NdisReserved: [null_mut(); 4],
    };
    // SAFETY: the adapter's handle; the indication and its buffer live for the call.
    unsafe { NdisMIndicateStatusEx(handle, &raw mut indication) };
}

/// Uses about `bytes` of stack, a 1 KiB frame at a time.
#[inline(never)]
fn use_stack(bytes: usize) {
    if bytes == 0 {
        return;
    }
    let mut frame = [0u8; 1024];
    std::hint::black_box(&mut frame);
    use_stack(bytes.saturating_sub(1024));
    std::hint::black_box(&frame);
}
