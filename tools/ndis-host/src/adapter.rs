//! Adapters: `MiniportInitializeEx` and the attributes it sets, the pause/restart/reset/PnP/shutdown/
//! halt lifecycle with NDIS's pending/complete protocol, OID requests, sends and receives.
//!
//! This file has the types the harness hands out and the checks several parts share. The harness's
//! API is in [`lifecycle`], [`requests`] and [`traffic`]; the `NdisM*` functions the driver calls
//! are in [`ndis_attributes`], [`ndis_datapath`] and [`ndis_status`], each with the rules of its
//! Microsoft page.
#![allow(
    non_snake_case,
    non_upper_case_globals,
    reason = "exports and patterns keep the C names of the WDK"
)]

use std::sync::{Arc, Mutex, PoisonError};

use ndis::*;

use crate::config::Config;
use crate::host::{Host, ReturnMode, State, current};
use crate::irql::{self, with_thread};
use crate::nbl::{SendOptions, build_chain, poison_completed};
use crate::verifier::{Kind, Owner, Rule};

mod lifecycle;
mod ndis_attributes;
pub use ndis_attributes::{STATISTICS_INFO, SUPPORTED_STATISTICS};
mod ndis_datapath;
mod ndis_status;
mod requests;
mod traffic;
pub mod vswitch;

/// An adapter of a host, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Adapter(pub usize);

/// Where an adapter is in NDIS's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `MiniportInitializeEx` is running.
    Initializing,
    /// Initialized or paused: no sends, no indications.
    Paused,
    /// `MiniportRestart` returned pending.
    Restarting,
    /// Restarted: sends and indications flow.
    Running,
    /// `MiniportPause` returned pending.
    Pausing,
    /// `MiniportHaltEx` returned.
    Halted,
    /// `MiniportInitializeEx` failed.
    Failed,
}

/// What the general attributes told NDIS about an adapter.
#[derive(Debug, Clone, Default)]
pub struct GeneralAttributes {
    /// `MediaType`.
    pub media_type: NDIS_MEDIUM,
    /// `PhysicalMediumType`.
    pub physical_medium: NDIS_PHYSICAL_MEDIUM,
    /// `MtuSize`.
    pub mtu: u32,
    /// `MaxXmitLinkSpeed`, bits per second.
    pub max_xmit_link_speed: u64,
    /// `XmitLinkSpeed`.
    pub xmit_link_speed: u64,
    /// `MaxRcvLinkSpeed`.
    pub max_rcv_link_speed: u64,
    /// `RcvLinkSpeed`.
    pub rcv_link_speed: u64,
    /// `MediaConnectState`.
    pub media_connect_state: NDIS_MEDIA_CONNECT_STATE,
    /// `MediaDuplexState`.
    pub media_duplex_state: NDIS_MEDIA_DUPLEX_STATE,
    /// `LookaheadSize`.
    pub lookahead: u32,
    /// `MacOptions`.
    pub mac_options: u32,
    /// `SupportedPacketFilters`.
    pub supported_packet_filters: u32,
    /// `MaxMulticastListSize`.
    pub max_multicast_list_size: u32,
    /// `PermanentMacAddress`, `MacAddressLength` bytes of it.
    pub permanent_address: Vec<u8>,
    /// `CurrentMacAddress`, `MacAddressLength` bytes of it.
    pub current_address: Vec<u8>,
    /// `IfType`.
    pub if_type: u16,
    /// `IfConnectorPresent`.
    pub connector_present: bool,
    /// `SupportedStatistics`.
    pub supported_statistics: u32,
    /// `SupportedOidList`, copied.
    pub supported_oids: Vec<NDIS_OID>,
    /// Whether the NDIS 6.0 `PowerManagementCapabilities` pointer was set.
    pub has_pnp_capabilities: bool,
    /// `PowerManagementCapabilitiesEx`, copied.
    pub pm_capabilities: Option<NDIS_PM_CAPABILITIES>,
    /// `RecvScaleCapabilities`, copied (`None`: no RSS).
    pub rss_capabilities: Option<NDIS_RECEIVE_SCALE_CAPABILITIES>,
}

/// What the registration attributes told NDIS about an adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrationAttributes {
    /// The attributes' header revision.
    pub revision: u8,
    /// `NDIS_MINIPORT_ATTRIBUTES_*`.
    pub flags: u32,
    /// `CheckForHangTimeInSeconds`.
    pub check_for_hang_seconds: u32,
}

/// The device power state of an adapter, and how NDIS took it there for a system sleep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Power {
    /// `NdisDeviceStateD0` (working) or the low-power state NDIS set.
    pub state: NDIS_DEVICE_POWER_STATE,
    /// How the adapter went to sleep, while it sleeps.
    pub asleep: Option<Sleep>,
    /// The user turned power management off for the device ("Allow the computer to turn off this
    /// device to save power" unchecked): NDIS treats the miniport as not power-management aware.
    pub management_disabled: bool,
}

/// How NDIS takes an adapter down for a system sleep ([`Host::sleep`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleep {
    /// `OID_PNP_SET_POWER` to D3, after a pause unless the miniport set
    /// `NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND` (`paused` says which; `was_running` whether
    /// it ran before).
    SetPower {
        /// Whether NDIS paused the adapter first.
        paused: bool,
        /// Whether the adapter ran before the sleep.
        was_running: bool,
    },
    /// `MiniportHaltEx` (`NdisHaltDevicePoweredDown`); waking initializes it again.
    Halted {
        /// Whether the adapter ran before the sleep.
        was_running: bool,
    },
}

/// Called with each frame an adapter indicates, as a protocol's receive handler would see it
/// (outside the host's lock, on the indicating thread, at the indication's IRQL). The frame is a
/// copy the sink owns, so keeping it costs no second copy.
pub type ReceiveSink = Arc<dyn Fn(Received) + Send + Sync>;

/// Called with each frame an adapter indicates, in place: the frame's bytes as the MDLs of its
/// `NET_BUFFER` hold them (no copy), with its NBL's offload information, inside the indication
/// (outside the host's lock). The pieces are valid only during the call.
pub type ReceiveWriter = Arc<dyn Fn(&[&[u8]], crate::offload::ReceiveInfo) + Send + Sync>;

/// One received frame with its NBL's offload information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The frame's bytes.
    pub frame: Vec<u8>,
    /// The NBL's receive offload information.
    pub info: crate::offload::ReceiveInfo,
    /// The processor (systemwide index) the indication ran on.
    pub cpu: usize,
}

/// A send the driver completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The ids of the frames of the completed NBL (consecutive, in send order across the host).
    pub frames: std::ops::Range<u64>,
    /// The status the driver completed it with.
    pub status: NDIS_STATUS,
}

/// Counts of the host's own NBLs ([`Host::protocol_nbls`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProtocolNbls {
    /// NBLs allocated for sends.
    pub allocated: u64,
    /// Sends that reused a released NBL.
    pub reused: u64,
}

impl Completion {
    /// How many frames the completed NBL carried.
    #[must_use]
    pub fn frame_count(&self) -> u64 {
        self.frames.end - self.frames.start
    }
}

/// A status indication (`NdisMIndicateStatusEx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusIndication {
    /// `StatusCode`.
    pub code: NDIS_STATUS,
    /// `StatusBuffer`, `StatusBufferSize` bytes of it.
    pub buffer: Vec<u8>,
}

impl StatusIndication {
    /// The payload of an `NDIS_STATUS_LINK_STATE` indication.
    #[must_use]
    pub fn link_state(&self) -> Option<NDIS_LINK_STATE> {
        (self.code == NDIS_STATUS_LINK_STATE && self.buffer.len() >= size_of::<NDIS_LINK_STATE>())
            // The buffer holds at least an NDIS_LINK_STATE's bytes (checked); any bit pattern
            // is a valid NDIS_LINK_STATE (plain integers).
            // SAFETY: an unaligned read of enough bytes of our own buffer.
            .then(|| unsafe { self.buffer.as_ptr().cast::<NDIS_LINK_STATE>().read_unaligned() })
    }
}

#[derive(Debug, Default)]
#[allow(
    clippy::option_option,
    reason = "None: nothing pending; Some(None): pending; Some(Some(s)): completed with s"
)]
struct Pending {
    pause: bool,
    restart: Option<Option<NDIS_STATUS>>,
    reset: Option<Option<(NDIS_STATUS, bool)>>,
    /// The request in progress, and its completion status once completed.
    oid: Option<(usize, Option<NDIS_STATUS>)>,
}

/// The adapters NDIS created, by index, and the miniport adapter handle of each: an adapter is
/// added with its handle and never removed (a halted slot keeps its records for the tests), so a
/// handle always names the slot it was made for.
#[derive(Default)]
pub(crate) struct Adapters {
    slots: Vec<AdapterSlot>,
    handles: std::collections::HashMap<usize, usize>,
}

impl Adapters {
    /// The index the next adapter gets.
    pub fn next_id(&self) -> usize {
        self.slots.len()
    }

    /// Adds an adapter (its index is [`Self::next_id`]) with its handle.
    pub fn add(&mut self, slot: AdapterSlot) {
        self.handles.insert(slot.handle() as usize, self.slots.len());
        self.slots.push(slot);
    }

    /// The adapter index of a miniport adapter handle.
    pub fn of_handle(&self, handle: NDIS_HANDLE) -> Option<usize> {
        self.handles.get(&(handle as usize)).copied()
    }

    pub fn get_mut(&mut self, id: usize) -> Option<&mut AdapterSlot> {
        self.slots.get_mut(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &AdapterSlot> {
        self.slots.iter()
    }
}

impl std::ops::Index<usize> for Adapters {
    type Output = AdapterSlot;
    fn index(&self, id: usize) -> &AdapterSlot {
        &self.slots[id]
    }
}

impl std::ops::IndexMut<usize> for Adapters {
    fn index_mut(&mut self, id: usize) -> &mut AdapterSlot {
        &mut self.slots[id]
    }
}

#[allow(
    clippy::struct_excessive_bools,
    reason = "the flags of NDIS's per-adapter state machine"
)]
pub(crate) struct AdapterSlot {
    pub id: usize,
    handle: Box<u64>,
    pub context: usize,
    pub config: Config,
    pub phase: Phase,
    registered: bool,
    pub registration: RegistrationAttributes,
    pub general: Option<GeneralAttributes>,
    /// The NDIS QoS capabilities of the hardware assist attributes: hardware, current.
    pub qos: Option<(NDIS_QOS_CAPABILITIES, NDIS_QOS_CAPABILITIES)>,
    /// Receive filtering (VMQ): capabilities, queues and filters.
    pub vmq: crate::vmq::Model,
    pending: Pending,
    pub sends_outstanding: usize,
    pub indications_outstanding: usize,
    /// `MiniportSendNetBufferLists` calls the host has decided to make and that have not returned:
    /// halt waits for them (see [`Host::halt`]).
    sends_in_transit: usize,
    /// Halt has begun: no new send is made.
    halting: bool,
    /// Restarts begun so far: a send made while paused is judged only if no restart began before
    /// the driver had it (after a restart the driver may rightly queue it).
    restarts: u64,
    /// `MiniportPause` has returned (the adapter is pausing or paused): sends made from now on
    /// must be rejected at once. A send that races the `MiniportPause` call itself may be taken.
    pause_returned: bool,
    pub power: Power,
    /// The offload attributes, current configuration and encapsulation NDIS keeps.
    pub(crate) offload: crate::offload::OffloadState,
    /// The OID request in progress is to be cancelled if it pends ([`Host::oid_cancelled`]).
    cancel_pending_oid: bool,
    /// The protocol's settings (the last successful set of each OID NDIS restores after a
    /// re-initialization): packet filter, multicast list, lookahead.
    pub settings: Vec<(NDIS_OID, Vec<u8>)>,
    completions: Vec<Completion>,
    completed_count: u64,
    received: Vec<Received>,
    received_count: u64,
    received_bytes: u64,
    held: Vec<usize>,
    status: Vec<StatusIndication>,
    /// The protocol's receive handler, if a test or tool installed one.
    sink: Option<ReceiveSink>,
    /// The protocol's in-place receive handler, if a tool installed one.
    writer: Option<ReceiveWriter>,
    oid_lock: Arc<Mutex<()>>,
    _init: Option<(
        Box<NDIS_MINIPORT_INIT_PARAMETERS>,
        Box<NDIS_PORT_AUTHENTICATION_PARAMETERS>,
    )>,
}

impl AdapterSlot {
    pub fn handle(&self) -> NDIS_HANDLE {
        std::ptr::from_ref(&*self.handle).cast_mut().cast()
    }

    /// Initialised and not yet halted.
    pub fn is_live(&self) -> bool {
        !matches!(self.phase, Phase::Halted | Phase::Failed | Phase::Initializing)
    }
}

/// An OID request as the protocol issues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidRequest {
    /// A query (`NdisRequestQueryInformation`) with an information buffer of `buffer_len` bytes.
    Query {
        /// The OID.
        oid: NDIS_OID,
        /// The information buffer's length.
        buffer_len: usize,
    },
    /// A query whose information buffer starts with `input` (`OID_PNP_QUERY_POWER` carries the
    /// device state it asks about).
    QueryWith {
        /// The OID.
        oid: NDIS_OID,
        /// What the information buffer starts with.
        input: Vec<u8>,
        /// The information buffer's length.
        buffer_len: usize,
    },
    /// A set (`NdisRequestSetInformation`) of `data`.
    Set {
        /// The OID.
        oid: NDIS_OID,
        /// The information buffer.
        data: Vec<u8>,
    },
    /// A method request (`NdisRequestMethod`).
    Method {
        /// The OID.
        oid: NDIS_OID,
        /// The method.
        method_id: u32,
        /// The input buffer.
        input: Vec<u8>,
        /// The output buffer's length.
        output_len: usize,
    },
}

/// A completed OID request, as NDIS returns it to the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidResult {
    /// The request's status.
    pub status: NDIS_STATUS,
    /// `BytesWritten` (a query).
    pub bytes_written: u32,
    /// `BytesRead` (a set).
    pub bytes_read: u32,
    /// `BytesNeeded`.
    pub bytes_needed: u32,
    /// The information buffer's first `bytes_written` bytes (queries and methods).
    pub data: Vec<u8>,
}

/// The protocol settings NDIS restores with OID sets after it initialized an adapter again (the
/// power management page for miniports that are halted on sleep).
/// The offload encapsulation is among them: the binding that set it stays.
const RESTORED_SETTINGS: [NDIS_OID; 4] = [
    OID_GEN_CURRENT_PACKET_FILTER,
    OID_802_3_MULTICAST_LIST,
    OID_GEN_CURRENT_LOOKAHEAD,
    OID_OFFLOAD_ENCAPSULATION,
];

/// Bytes after an OID's information buffer that must stay unchanged.
const GUARD: usize = 16;
const GUARD_BYTE: u8 = 0xAB;

fn callbacks(st: &State) -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    let Some(r) = st.driver.registration() else {
        crate::fatal("no driver is loaded in this host")
    };
    // SAFETY: a plain copy of the registered characteristics (fn pointers and integers).
    unsafe { std::ptr::read(&raw const r.characteristics) }
}

fn driver_context(st: &State) -> NDIS_HANDLE {
    st.driver
        .registration()
        .map_or(std::ptr::null_mut(), |r| r.driver_context as NDIS_HANDLE)
}

/// Resources of `adapter` that must be gone: generic objects after halt or a failed initialize
/// (rvnic's design rule: only when the test opted in).
fn check_generic_objects(st: &mut State, adapter: usize, api: &'static str, when: &str) {
    if !st.findings.checks(Rule::GenericObjectOutlivesHalt) {
        return;
    }
    let left: Vec<String> = st
        .tracker
        .live()
        .filter(|a| a.kind == Kind::GenericObject && a.owner == Owner::Adapter(adapter))
        .map(crate::verifier::Allocation::describe)
        .collect();
    for object in left {
        st.violate(
            Rule::GenericObjectOutlivesHalt,
            api,
            Some(adapter),
            format!("{when}: {object}"),
        );
    }
}

fn complete_pause(st: &mut State, adapter: usize, api: &'static str) {
    let slot = &st.adapters[adapter];
    // NBLs of a send call still under way are judged when the call returns (the driver may be
    // rejecting them this moment): see `Host::after_send`.
    let in_call = if slot.sends_in_transit == 0 {
        0
    } else {
        st.nbls
            .sent
            .values()
            .filter(|s| s.adapter == adapter && s.in_call && s.completed.is_none())
            .count()
    };
    let (sends, indications) = (slot.sends_outstanding - in_call, slot.indications_outstanding);
    if sends > 0 || indications > 0 {
        st.violate(Rule::OutstandingAtPause, api, Some(adapter), format!("pause completed with {sends} send(s) not completed and {indications} indicated NBL(s) not returned"));
    }
    let slot = &mut st.adapters[adapter];
    slot.pending.pause = false;
    slot.phase = Phase::Paused;
}

fn oid_of(request: &OidRequest) -> NDIS_OID {
    match request {
        OidRequest::Query { oid, .. }
        | OidRequest::QueryWith { oid, .. }
        | OidRequest::Set { oid, .. }
        | OidRequest::Method { oid, .. } => *oid,
    }
}

/// Links `nbls` into a chain and hands it to `MiniportReturnNetBufferLists` at `level`.
fn return_nbls(host: &crate::host::Inner, adapter: usize, nbls: &[usize], level: KIRQL) {
    let (handler, context) = {
        let mut st = host.lock();
        if st.findings.per_object() {
            for nbl in nbls {
                crate::nbl::release_indicated(*nbl);
            }
        }
        st.adapters[adapter].indications_outstanding -= nbls.len();
        (
            callbacks(&st).ReturnNetBufferListsHandler,
            st.adapters[adapter].context,
        )
    };
    for pair in nbls.windows(2) {
        // SAFETY: the protocol owns these NBLs until the return call, so it may relink them.
        unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(pair[0] as PNET_BUFFER_LIST, pair[1] as PNET_BUFFER_LIST) };
    }
    if let Some(&last) = nbls.last() {
        // SAFETY: as above.
        unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(last as PNET_BUFFER_LIST, std::ptr::null_mut()) };
    }
    let Some(ret) = handler else {
        crate::fatal("no MiniportReturnNetBufferLists")
    };
    let flags = if level >= DISPATCH_LEVEL {
        NDIS_RETURN_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    let head = nbls[0] as PNET_BUFFER_LIST;
    // SAFETY: the driver's return handler with its context and NBLs it indicated; ownership passes back.
    host.call("MiniportReturnNetBufferLists", Some(adapter), level, || unsafe {
        ret(context as NDIS_HANDLE, head, flags);
    });
}

/// The NBLs of a chain, in order. A link poisoned by an earlier completion ends the walk (the NBL
/// it belongs to is reported as not owned; following it would crash).
fn chain(head: PNET_BUFFER_LIST) -> Vec<usize> {
    // Room for a usual chain (the datapath's batches are 64) in one allocation.
    let mut out = Vec::with_capacity(64);
    let mut nbl = head;
    while !nbl.is_null() && nbl as usize != crate::nbl::COMPLETED_WORD {
        out.push(nbl as usize);
        // SAFETY: NBLs of a chain the driver handed over; `Next` is read before anything else changes.
        nbl = unsafe { NET_BUFFER_LIST_NEXT_NBL(nbl) };
    }
    out
}

fn adapter_for(st: &mut State, api: &'static str, handle: NDIS_HANDLE) -> Option<usize> {
    let found = st.adapter_of(handle);
    if found.is_none() {
        st.violate(
            Rule::BadParameter,
            api,
            with_thread(|t| t.adapter),
            format!("{:#x} is not a miniport adapter handle", handle as usize),
        );
    }
    found
}

fn dispatch_flag_mismatch(st: &mut State, api: &'static str, adapter: usize, flag_set: bool) {
    let now = irql::current();
    if flag_set && now != DISPATCH_LEVEL {
        st.violate(
            Rule::FlagIrqlMismatch,
            api,
            Some(adapter),
            format!("the DISPATCH_LEVEL flag is set at {}", irql::name(now)),
        );
    }
}

/// When a reset completes: "Starting with NDIS 6.30, the miniport driver must not hold pending OID
/// or send requests until after the reset operation is complete" (`MiniportResetEx`'s page). NDIS
/// sends nothing during the reset, so every send outstanding now was given before it.
fn check_reset_sends(st: &mut State, adapter: usize, api: &'static str) {
    let held = st.adapters[adapter].sends_outstanding;
    if held > 0 && minor_version(st) >= 30 {
        st.violate(
            Rule::SendHeldPastReset,
            api,
            Some(adapter),
            format!("the reset completed with {held} send(s) given before it not completed"),
        );
    }
}

/// The registered driver's NDIS minor version (30 for 6.30).
fn minor_version(st: &State) -> u8 {
    st.driver
        .registration()
        .map_or(0, |r| r.characteristics.MinorNdisVersion)
}

/// An `NDIS_OFFLOAD_ENCAPSULATION` turning IEEE 802.3 offloads on or off per IP version.
#[must_use]
pub fn encapsulation_bytes(ipv4: bool, ipv6: bool) -> Vec<u8> {
    let mut b = vec![0u8; usize::from(NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1)];
    b[0] = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
    b[1] = NDIS_OFFLOAD_ENCAPSULATION_REVISION_1;
    b[2..4].copy_from_slice(&NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1.to_le_bytes());
    for (on, at) in [(ipv4, 4), (ipv6, 16)] {
        let enabled = if on {
            NDIS_OFFLOAD_SET_ON
        } else {
            NDIS_OFFLOAD_SET_OFF
        };
        b[at..at + 4].copy_from_slice(&enabled.to_le_bytes());
        b[at + 4..at + 8].copy_from_slice(&NDIS_ENCAPSULATION_IEEE_802_3.to_le_bytes());
        b[at + 8..at + 12].copy_from_slice(&14u32.to_le_bytes());
    }
    b
}
