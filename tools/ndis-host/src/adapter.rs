//! Adapters: `MiniportInitializeEx` and the attributes it sets, the pause/restart/reset/PnP/shutdown/
//! halt lifecycle with NDIS's pending/complete protocol, OID requests, sends and receives.
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

/// An adapter of a host, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Adapter(pub usize);

/// Where an adapter is in NDIS's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initializing,
    Paused,
    Restarting,
    Running,
    Pausing,
    Halted,
    /// `MiniportInitializeEx` failed.
    Failed,
}

/// What the general attributes told NDIS about an adapter.
#[derive(Debug, Clone, Default)]
pub struct GeneralAttributes {
    pub media_type: NDIS_MEDIUM,
    pub physical_medium: NDIS_PHYSICAL_MEDIUM,
    pub mtu: u32,
    pub max_xmit_link_speed: u64,
    pub xmit_link_speed: u64,
    pub max_rcv_link_speed: u64,
    pub rcv_link_speed: u64,
    pub media_connect_state: NDIS_MEDIA_CONNECT_STATE,
    pub media_duplex_state: NDIS_MEDIA_DUPLEX_STATE,
    pub lookahead: u32,
    pub mac_options: u32,
    pub supported_packet_filters: u32,
    pub max_multicast_list_size: u32,
    pub permanent_address: Vec<u8>,
    pub current_address: Vec<u8>,
    pub if_type: u16,
    pub connector_present: bool,
    pub supported_statistics: u32,
    pub supported_oids: Vec<NDIS_OID>,
    pub has_pnp_capabilities: bool,
    /// `PowerManagementCapabilitiesEx`, copied.
    pub pm_capabilities: Option<NDIS_PM_CAPABILITIES>,
}

/// What the registration attributes told NDIS about an adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrationAttributes {
    pub revision: u8,
    /// `NDIS_MINIPORT_ATTRIBUTES_*`.
    pub flags: u32,
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
    SetPower { paused: bool, was_running: bool },
    /// `MiniportHaltEx` (`NdisHaltDevicePoweredDown`); waking initializes it again.
    Halted { was_running: bool },
}

/// Called with each frame an adapter indicates, as a protocol's receive handler would see it
/// (outside the host's lock, on the indicating thread, at the indication's IRQL). The frame is a
/// copy the sink owns, so keeping it costs no second copy.
pub type ReceiveSink = Arc<dyn Fn(Received) + Send + Sync>;

/// Called with each frame an adapter indicates, in place: the frame's bytes as the MDLs of its
/// NET_BUFFER hold them (no copy), with its NBL's offload information, inside the indication
/// (outside the host's lock). The pieces are valid only during the call.
pub type ReceiveWriter = Arc<dyn Fn(&[&[u8]], crate::offload::ReceiveInfo) + Send + Sync>;

/// One received frame with its NBL's offload information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub frame: Vec<u8>,
    pub info: crate::offload::ReceiveInfo,
}

/// A send the driver completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The ids of the frames of the completed NBL (consecutive, in send order across the host).
    pub frames: std::ops::Range<u64>,
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
    pub code: NDIS_STATUS,
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
struct Pending {
    pause: bool,
    restart: Option<Option<NDIS_STATUS>>,
    reset: Option<Option<(NDIS_STATUS, bool)>>,
    /// The request in progress, and its completion status once completed.
    oid: Option<(usize, Option<NDIS_STATUS>)>,
}

pub(crate) struct AdapterSlot {
    pub id: usize,
    handle: Box<u64>,
    pub context: usize,
    pub config: Config,
    pub phase: Phase,
    registered: bool,
    pub registration: RegistrationAttributes,
    pub general: Option<GeneralAttributes>,
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
    /// must be rejected at once. A send that races the MiniportPause call itself may be taken.
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
    Query {
        oid: NDIS_OID,
        buffer_len: usize,
    },
    /// A query whose information buffer starts with `input` (`OID_PNP_QUERY_POWER` carries the
    /// device state it asks about).
    QueryWith {
        oid: NDIS_OID,
        input: Vec<u8>,
        buffer_len: usize,
    },
    Set {
        oid: NDIS_OID,
        data: Vec<u8>,
    },
    Method {
        oid: NDIS_OID,
        method_id: u32,
        input: Vec<u8>,
        output_len: usize,
    },
}

/// A completed OID request, as NDIS returns it to the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidResult {
    pub status: NDIS_STATUS,
    pub bytes_written: u32,
    pub bytes_read: u32,
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
    let Some(r) = st.registration.as_ref() else {
        crate::fatal("no driver is loaded in this host")
    };
    // SAFETY: a plain copy of the registered characteristics (fn pointers and integers).
    unsafe { std::ptr::read(&raw const r.characteristics) }
}

fn driver_context(st: &State) -> NDIS_HANDLE {
    st.registration
        .as_ref()
        .map_or(std::ptr::null_mut(), |r| r.driver_context as NDIS_HANDLE)
}

/// Resources of `adapter` that must be gone: generic objects after halt or a failed initialize
/// (rvnic's design rule: only when the test opted in).
fn check_generic_objects(st: &mut State, adapter: usize, api: &'static str, when: &str) {
    if !st.design_rules.contains(&Rule::GenericObjectOutlivesHalt) {
        return;
    }
    let left: Vec<String> = st
        .tracker
        .live
        .values()
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

impl Host {
    fn slot_call<R>(&self, adapter: Adapter, f: impl FnOnce(&mut AdapterSlot) -> R) -> R {
        let mut st = self.inner.lock();
        let Some(slot) = st.adapters.get_mut(adapter.0) else {
            panic!("no adapter {}", adapter.0)
        };
        f(slot)
    }

    /// Creates an adapter with `config` and runs `MiniportInitializeEx` (the adapter is then Paused,
    /// as NDIS leaves it). Returns the failure status if initialize fails.
    pub fn add_adapter(&self, config: Config) -> Result<Adapter, NDIS_STATUS> {
        let id = {
            let mut st = self.inner.lock();
            let id = st.adapters.len();
            let slot = AdapterSlot {
                id,
                handle: Box::new(0x4e41_0000 + id as u64),
                context: 0,
                config,
                phase: Phase::Initializing,
                registered: false,
                registration: RegistrationAttributes::default(),
                general: None,
                pending: Pending::default(),
                sends_outstanding: 0,
                indications_outstanding: 0,
                sends_in_transit: 0,
                halting: false,
                restarts: 0,
                pause_returned: false,
                cancel_pending_oid: false,
                offload: crate::offload::OffloadState::default(),
                power: Power {
                    state: NdisDeviceStateD0,
                    ..Power::default()
                },
                settings: Vec::new(),
                completions: Vec::new(),
                completed_count: 0,
                received: Vec::new(),
                received_count: 0,
                received_bytes: 0,
                held: Vec::new(),
                status: Vec::new(),
                sink: None,
                writer: None,
                oid_lock: Arc::new(Mutex::new(())),
                _init: None,
            };
            let handle = slot.handle();
            st.handles.insert(handle as usize, id);
            st.adapters.push(slot);
            id
        };
        self.initialize(id).map(|()| Adapter(id))
    }

    /// `MiniportInitializeEx` for adapter slot `id` (new, or halted for a system sleep), at
    /// PASSIVE_LEVEL; the adapter is Paused afterwards, or Failed.
    pub(crate) fn initialize(&self, id: usize) -> Result<(), NDIS_STATUS> {
        let (handle, init, context, params) = {
            let mut st = self.inner.lock();
            let chars = callbacks(&st);
            let mut auth = Box::new(NDIS_PORT_AUTHENTICATION_PARAMETERS {
                Header: NDIS_OBJECT_HEADER::new(
                    NDIS_OBJECT_TYPE_DEFAULT,
                    NDIS_PORT_AUTHENTICATION_PARAMETERS_REVISION_1,
                    20,
                ),
                SendControlState: 1,
                RcvControlState: 1,
                SendAuthorizationState: 1,
                RcvAuthorizationState: 1,
            });
            let index = u32::try_from(id + 1).unwrap_or(u32::MAX);
            let mut params = Box::new(NDIS_MINIPORT_INIT_PARAMETERS {
                Header: NDIS_OBJECT_HEADER::new(
                    NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS,
                    NDIS_MINIPORT_INIT_PARAMETERS_REVISION_1,
                    NDIS_SIZEOF_MINIPORT_INIT_PARAMETER_REVISION_1,
                ),
                Flags: 0,
                AllocatedResources: std::ptr::null_mut(),
                IMDeviceInstanceContext: std::ptr::null_mut(),
                MiniportAddDeviceContext: std::ptr::null_mut(),
                IfIndex: index,
                NetLuid: NET_LUID {
                    Value: (u64::from(IF_TYPE_ETHERNET_CSMACD) << 48) | (u64::from(index) << 24),
                },
                DefaultPortAuthStates: &raw mut *auth,
                PciDeviceCustomProperties: std::ptr::null_mut(),
            });
            let params_ptr: *mut NDIS_MINIPORT_INIT_PARAMETERS = &raw mut *params;
            let slot = &mut st.adapters[id];
            slot.phase = Phase::Initializing;
            slot.registered = false;
            slot.registration = RegistrationAttributes::default();
            slot.general = None;
            slot.offload = crate::offload::OffloadState::default();
            slot.context = 0;
            slot.pending = Pending::default();
            slot.halting = false;
            slot.pause_returned = false;
            slot.power.state = NdisDeviceStateD0;
            slot._init = Some((params, auth));
            let handle = slot.handle();
            let Some(init) = chars.InitializeHandlerEx else {
                crate::fatal("the driver registered no MiniportInitializeEx")
            };
            (handle, init, driver_context(&st), params_ptr)
        };
        // The driver's MiniportInitializeEx with the adapter handle, its driver context and
        // init parameters boxed in the adapter slot (alive for the adapter's life); PASSIVE_LEVEL.
        let status = self.inner.call(
            "MiniportInitializeEx",
            Some(id),
            irql::callback::PASSIVE,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { init(handle, context, params) },
        );
        let mut st = self.inner.lock();
        if status == NDIS_STATUS_SUCCESS {
            let slot = &st.adapters[id];
            if slot.registered && slot.general.is_some() {
                st.adapters[id].phase = Phase::Paused;
                return Ok(());
            }
            // The driver believes the adapter is initialised, so NDIS fails it by halting it.
            let missing = if slot.registered {
                "general"
            } else {
                "registration"
            };
            st.violate(
                Rule::Attributes,
                "MiniportInitializeEx",
                Some(id),
                format!("returned success without setting the {missing} attributes"),
            );
            st.adapters[id].phase = Phase::Paused;
            drop(st);
            if self.slot_call(Adapter(id), |s| s.registered) {
                self.halt(Adapter(id), NdisHaltDeviceInitializationFailed);
            }
            self.slot_call(Adapter(id), |s| s.phase = Phase::Failed);
            return Err(NDIS_STATUS_FAILURE);
        }
        if status == NDIS_STATUS_PENDING {
            st.violate(
                Rule::BadStatus,
                "MiniportInitializeEx",
                Some(id),
                "returned NDIS_STATUS_PENDING (initialize completes synchronously)",
            );
        }
        st.adapters[id].phase = Phase::Failed;
        crate::config::close_leftovers(&mut st, id, "MiniportInitializeEx");
        check_generic_objects(&mut st, id, "MiniportInitializeEx", "failed initialize left");
        Err(status)
    }

    /// [`Self::add_adapter`] followed by [`Self::restart`], as NDIS brings an adapter up.
    pub fn start_adapter(&self, config: Config) -> Result<Adapter, NDIS_STATUS> {
        let adapter = self.add_adapter(config)?;
        match self.restart(adapter) {
            NDIS_STATUS_SUCCESS => Ok(adapter),
            failure => Err(failure),
        }
    }

    #[must_use]
    pub fn adapter_phase(&self, adapter: Adapter) -> Phase {
        self.slot_call(adapter, |s| s.phase)
    }

    /// The general attributes the driver set in `MiniportInitializeEx`.
    #[must_use]
    pub fn attributes(&self, adapter: Adapter) -> Option<GeneralAttributes> {
        self.slot_call(adapter, |s| s.general.clone())
    }

    /// The registration attributes the driver set in `MiniportInitializeEx`.
    #[must_use]
    pub fn registration_attributes(&self, adapter: Adapter) -> RegistrationAttributes {
        self.slot_call(adapter, |s| s.registration)
    }

    /// The adapter's miniport adapter handle (what the driver passes back to NDIS).
    #[must_use]
    pub fn adapter_handle(&self, adapter: Adapter) -> NDIS_HANDLE {
        self.slot_call(adapter, |s| s.handle())
    }

    /// `MiniportPause` at PASSIVE_LEVEL; waits for `NdisMPauseComplete` if it pends. Returns the
    /// status it returned (pause can only succeed or pend).
    pub fn pause(&self, adapter: Adapter) -> NDIS_STATUS {
        let status = self.start_pause(adapter);
        if status == NDIS_STATUS_PENDING {
            self.wait_pause(adapter);
        }
        status
    }

    /// `MiniportPause` at PASSIVE_LEVEL, without waiting if it pends: the adapter stays Pausing
    /// until the driver calls `NdisMPauseComplete` ([`Self::wait_pause`] waits for that). Sends
    /// that arrive meanwhile must be completed at once with `NDIS_STATUS_PAUSED`.
    pub fn start_pause(&self, adapter: Adapter) -> NDIS_STATUS {
        let (handler, context) = {
            let mut st = self.inner.lock();
            let chars = callbacks(&st);
            let slot = &mut st.adapters[adapter.0];
            assert_eq!(
                slot.phase,
                Phase::Running,
                "pause of adapter {} in phase {:?}",
                adapter.0,
                slot.phase
            );
            slot.phase = Phase::Pausing;
            slot.pending.pause = true;
            (chars.PauseHandler, slot.context)
        };
        // Sends may still be on their way into the driver (other threads) and may arrive while it
        // pauses: MiniportPause's page has the driver complete those at once with
        // NDIS_STATUS_PAUSED, so the host does not hold them back.
        let Some(pause) = handler else {
            crate::fatal("no MiniportPause")
        };
        let mut params = NDIS_MINIPORT_PAUSE_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_MINIPORT_PAUSE_PARAMETERS_REVISION_1,
            ),
            Flags: 0,
            PauseReason: NDIS_PAUSE_NDIS_INTERNAL,
        };
        // The driver's MiniportPause with its adapter context and parameters on this stack
        // for the call; PASSIVE_LEVEL; NDIS does not pause an adapter twice (asserted above).
        let status = self.inner.call(
            "MiniportPause",
            Some(adapter.0),
            irql::callback::PASSIVE,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { pause(context as NDIS_HANDLE, &raw mut params) },
        );
        self.slot_call(adapter, |s| s.pause_returned = true);
        match status {
            NDIS_STATUS_SUCCESS => {
                let mut st = self.inner.lock();
                if st.adapters[adapter.0].pending.pause {
                    complete_pause(&mut st, adapter.0, "MiniportPause");
                }
            }
            NDIS_STATUS_PENDING => {}
            other => {
                let mut st = self.inner.lock();
                st.violate(
                    Rule::BadStatus,
                    "MiniportPause",
                    Some(adapter.0),
                    format!("returned {:#010x}; pause must succeed or pend", other as u32),
                );
                complete_pause(&mut st, adapter.0, "MiniportPause");
            }
        }
        status
    }

    /// Waits for the `NdisMPauseComplete` of a pause that pended (firing timers in deterministic
    /// mode). False, and a violation, if it never came within the host's wait limit.
    pub fn wait_pause(&self, adapter: Adapter) -> bool {
        if self.inner.wait_for(|st| !st.adapters[adapter.0].pending.pause) {
            return true;
        }
        let mut st = self.inner.lock();
        st.violate(
            Rule::NeverCompleted,
            "MiniportPause",
            Some(adapter.0),
            "returned NDIS_STATUS_PENDING and never called NdisMPauseComplete",
        );
        st.adapters[adapter.0].phase = Phase::Paused;
        st.adapters[adapter.0].pending.pause = false;
        false
    }

    /// `MiniportRestart` at PASSIVE_LEVEL; waits for `NdisMRestartComplete` if it pends. Returns the
    /// final status (the adapter runs only on success).
    pub fn restart(&self, adapter: Adapter) -> NDIS_STATUS {
        let (handler, context) = {
            let mut st = self.inner.lock();
            let chars = callbacks(&st);
            let slot = &mut st.adapters[adapter.0];
            assert_eq!(
                slot.phase,
                Phase::Paused,
                "restart of adapter {} in phase {:?}",
                adapter.0,
                slot.phase
            );
            slot.phase = Phase::Restarting;
            slot.restarts += 1;
            slot.pause_returned = false;
            slot.pending.restart = Some(None);
            (chars.RestartHandler, slot.context)
        };
        let Some(restart) = handler else {
            crate::fatal("no MiniportRestart")
        };
        let mut params = NDIS_MINIPORT_RESTART_PARAMETERS {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_MINIPORT_RESTART_PARAMETERS_REVISION_1,
                NDIS_SIZEOF_MINIPORT_RESTART_PARAMETERS_REVISION_1,
            ),
            RestartAttributes: std::ptr::null_mut(),
            Flags: 0,
        };
        // The driver's MiniportRestart with its context and parameters on this stack; PASSIVE.
        let mut status = self.inner.call(
            "MiniportRestart",
            Some(adapter.0),
            irql::callback::PASSIVE,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { restart(context as NDIS_HANDLE, &raw mut params) },
        );
        if status == NDIS_STATUS_PENDING {
            if self.inner.wait_for(|st| {
                st.adapters[adapter.0]
                    .pending
                    .restart
                    .is_some_and(|s| s.is_some())
            }) {
                status = self.slot_call(adapter, |s| {
                    s.pending.restart.and_then(|s| s).unwrap_or(NDIS_STATUS_FAILURE)
                });
            } else {
                self.inner.violate(
                    Rule::NeverCompleted,
                    "MiniportRestart",
                    Some(adapter.0),
                    "returned NDIS_STATUS_PENDING and never called NdisMRestartComplete",
                );
                status = NDIS_STATUS_FAILURE;
            }
        }
        self.slot_call(adapter, |s| {
            s.pending.restart = None;
            s.phase = if status == NDIS_STATUS_SUCCESS {
                Phase::Running
            } else {
                Phase::Paused
            };
        });
        status
    }

    /// `MiniportResetEx` at DISPATCH_LEVEL (the upper bound of its documented IRQL); waits for
    /// `NdisMResetComplete` if it pends. Returns the status and `AddressingReset`.
    pub fn reset(&self, adapter: Adapter) -> (NDIS_STATUS, bool) {
        let (handler, context) = {
            let mut st = self.inner.lock();
            let chars = callbacks(&st);
            let slot = &mut st.adapters[adapter.0];
            assert!(
                slot.is_live(),
                "reset of adapter {} in phase {:?}",
                adapter.0,
                slot.phase
            );
            slot.pending.reset = Some(None);
            (chars.ResetHandlerEx, slot.context)
        };
        let Some(reset) = handler else {
            self.slot_call(adapter, |s| s.pending.reset = None);
            return (NDIS_STATUS_NOT_SUPPORTED, false);
        };
        // No new send starts during a reset; the ones under way finish first.
        if !self
            .inner
            .wait_for(|st| st.adapters[adapter.0].sends_in_transit == 0)
        {
            crate::fatal("a MiniportSendNetBufferLists call never returned");
        }
        let mut addressing: BOOLEAN = FALSE;
        // The driver's MiniportResetEx with its context and an out-variable on this stack.
        let status = self.inner.call(
            "MiniportResetEx",
            Some(adapter.0),
            irql::callback::RESET,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { reset(context as NDIS_HANDLE, &raw mut addressing) },
        );
        let result = if status == NDIS_STATUS_PENDING {
            if self
                .inner
                .wait_for(|st| st.adapters[adapter.0].pending.reset.is_some_and(|r| r.is_some()))
            {
                self.slot_call(adapter, |s| {
                    s.pending
                        .reset
                        .and_then(|r| r)
                        .unwrap_or((NDIS_STATUS_FAILURE, false))
                })
            } else {
                self.inner.violate(
                    Rule::NeverCompleted,
                    "MiniportResetEx",
                    Some(adapter.0),
                    "returned NDIS_STATUS_PENDING and never called NdisMResetComplete",
                );
                (NDIS_STATUS_FAILURE, false)
            }
        } else {
            if status != NDIS_STATUS_PENDING
                && self.slot_call(adapter, |s| s.pending.reset.is_some_and(|r| r.is_some()))
            {
                self.inner.violate(
                    Rule::UnexpectedCompletion,
                    "NdisMResetComplete",
                    Some(adapter.0),
                    "completed a reset that MiniportResetEx did not pend",
                );
            }
            let mut st = self.inner.lock();
            check_reset_sends(&mut st, adapter.0, "MiniportResetEx");
            (status, addressing != 0)
        };
        self.slot_call(adapter, |s| s.pending.reset = None);
        result
    }

    /// `MiniportCancelSend(cancel_id)` at DISPATCH_LEVEL (the upper bound of its IRQL), as NDIS calls
    /// it when a protocol cancels the sends it marked with `cancel_id` ([`SendOptions::cancel_id`]).
    /// The driver completes those it still holds with `NDIS_STATUS_SEND_ABORTED`, now or later.
    pub fn cancel_send(&self, adapter: Adapter, cancel_id: usize) {
        let (handler, context) = {
            let st = self.inner.lock();
            (callbacks(&st).CancelSendHandler, st.adapters[adapter.0].context)
        };
        let Some(cancel) = handler else {
            crate::fatal("no MiniportCancelSend")
        };
        // The driver's MiniportCancelSend with its context and the identifier; DISPATCH_LEVEL.
        self.inner.call(
            "MiniportCancelSend",
            Some(adapter.0),
            DISPATCH_LEVEL,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { cancel(context as NDIS_HANDLE, cancel_id as PVOID) },
        );
        self.inner.notify();
    }

    /// An OID request that the protocol cancels if it pends: issued as [`Self::oid`] issues it;
    /// if `MiniportOidRequest` returns `NDIS_STATUS_PENDING`, NDIS calls `MiniportCancelOidRequest`
    /// with its `RequestId` (at DISPATCH_LEVEL) and the host waits for the completion, which should
    /// carry `NDIS_STATUS_REQUEST_ABORTED`.
    pub fn oid_cancelled(&self, adapter: Adapter, request: OidRequest) -> OidResult {
        self.slot_call(adapter, |s| s.cancel_pending_oid = true);
        let result = self.oid(adapter, request);
        self.slot_call(adapter, |s| s.cancel_pending_oid = false);
        result
    }

    /// `MiniportCancelOidRequest` for the request in progress, at DISPATCH_LEVEL.
    fn cancel_oid(&self, adapter: Adapter, request_id: PVOID) {
        let (handler, context) = {
            let st = self.inner.lock();
            (
                callbacks(&st).CancelOidRequestHandler,
                st.adapters[adapter.0].context,
            )
        };
        let Some(cancel) = handler else {
            crate::fatal("no MiniportCancelOidRequest")
        };
        // The driver's MiniportCancelOidRequest with its context and the pending request's id.
        self.inner.call(
            "MiniportCancelOidRequest",
            Some(adapter.0),
            DISPATCH_LEVEL,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { cancel(context as NDIS_HANDLE, request_id) },
        );
    }

    /// `MiniportCheckForHangEx` at PASSIVE_LEVEL (false if the driver has none).
    pub fn check_for_hang(&self, adapter: Adapter) -> bool {
        let (handler, context) = {
            let st = self.inner.lock();
            (
                callbacks(&st).CheckForHangHandlerEx,
                st.adapters[adapter.0].context,
            )
        };
        let Some(check) = handler else { return false };
        // SAFETY: the driver's MiniportCheckForHangEx with its adapter context; PASSIVE_LEVEL.
        let run = || unsafe { check(context as NDIS_HANDLE) };
        self.inner.call(
            "MiniportCheckForHangEx",
            Some(adapter.0),
            irql::callback::PASSIVE,
            run,
        ) != 0
    }

    /// `MiniportDevicePnPEventNotify` at PASSIVE_LEVEL.
    pub fn pnp_event(&self, adapter: Adapter, event: NDIS_DEVICE_PNP_EVENT, information: &[u8]) {
        let (handler, context) = {
            let st = self.inner.lock();
            (
                callbacks(&st).DevicePnPEventNotifyHandler,
                st.adapters[adapter.0].context,
            )
        };
        let mut info = information.to_vec();
        let mut notification = NET_DEVICE_PNP_EVENT {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NET_DEVICE_PNP_EVENT_REVISION_1,
                NDIS_SIZEOF_NET_DEVICE_PNP_EVENT_REVISION_1,
            ),
            PortNumber: NDIS_DEFAULT_PORT_NUMBER,
            DevicePnPEvent: event,
            InformationBuffer: if info.is_empty() {
                std::ptr::null_mut()
            } else {
                info.as_mut_ptr().cast()
            },
            InformationBufferLength: u32::try_from(info.len()).unwrap_or(u32::MAX),
            NdisReserved: [0; 16],
        };
        if let Some(h) = handler {
            // The driver's handler with its context and a notification on this stack; PASSIVE.
            self.inner.call(
                "MiniportDevicePnPEventNotify",
                Some(adapter.0),
                irql::callback::PASSIVE,
                // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
                || unsafe { h(context as NDIS_HANDLE, &raw mut notification) },
            );
        }
    }

    /// A surprise removal as NDIS runs it: the PnP event, a pause, then halt with
    /// `NdisHaltDeviceSurpriseRemoved`.
    pub fn surprise_remove(&self, adapter: Adapter) {
        self.pnp_event(adapter, NdisDevicePnPEventSurpriseRemoved, &[]);
        if self.adapter_phase(adapter) == Phase::Running {
            self.pause(adapter);
        }
        self.halt(adapter, NdisHaltDeviceSurpriseRemoved);
    }

    /// `MiniportShutdownEx`: at PASSIVE_LEVEL for a power-off, at HIGH_LEVEL for a bug check.
    /// Returns whether NDIS called it: "starting with NDIS 6.30 miniports, NDIS will not invoke
    /// the miniport's MiniportShutdownEx handler during a BugCheck unless" the adapter set
    /// `NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK` (the registration attributes' page).
    pub fn shutdown(&self, adapter: Adapter, action: NDIS_SHUTDOWN_ACTION) -> bool {
        let (handler, context) = {
            let st = self.inner.lock();
            let slot = &st.adapters[adapter.0];
            let registered =
                slot.registration.flags & NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK != 0;
            if action == NdisShutdownBugCheck && minor_version(&st) >= 30 && !registered {
                return false;
            }
            (callbacks(&st).ShutdownHandlerEx, slot.context)
        };
        let level = if action == NdisShutdownBugCheck {
            HIGH_LEVEL
        } else {
            PASSIVE_LEVEL
        };
        let Some(h) = handler else { return false };
        // The driver's MiniportShutdownEx with its context, at the documented IRQL.
        self.inner
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            .call("MiniportShutdownEx", Some(adapter.0), level, || unsafe {
                h(context as NDIS_HANDLE, action)
            });
        true
    }

    /// `MiniportHaltEx` at PASSIVE_LEVEL on a paused adapter; afterwards nothing may be outstanding and
    /// no generic object of the adapter may remain.
    ///
    /// Sends may race the pause before it (the driver completes them with `NDIS_STATUS_PAUSED`);
    /// halt admits no new send and waits for the send calls already under way to return before it
    /// calls `MiniportHaltEx`. A driver must not touch the adapter after the completion that ends
    /// its pause, whatever NDIS does next; the loom model of rvnic's send handler checks that, the
    /// host does not.
    pub fn halt(&self, adapter: Adapter, action: NDIS_HALT_ACTION) {
        let (handler, context) = {
            let mut st = self.inner.lock();
            let slot = &mut st.adapters[adapter.0];
            assert_eq!(
                slot.phase,
                Phase::Paused,
                "halt of adapter {} in phase {:?}",
                adapter.0,
                slot.phase
            );
            slot.halting = true;
            let context = slot.context;
            (callbacks(&st).HaltHandlerEx, context)
        };
        if !self
            .inner
            .wait_for(|st| st.adapters[adapter.0].sends_in_transit == 0)
        {
            crate::fatal("a MiniportSendNetBufferLists call never returned");
        }
        let Some(halt) = handler else {
            crate::fatal("no MiniportHaltEx")
        };
        // The driver's MiniportHaltEx with its context, once, on a paused adapter; PASSIVE.
        self.inner.call(
            "MiniportHaltEx",
            Some(adapter.0),
            irql::callback::PASSIVE,
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            || unsafe { halt(context as NDIS_HANDLE, action) },
        );
        let mut st = self.inner.lock();
        let slot = &mut st.adapters[adapter.0];
        slot.phase = Phase::Halted;
        let (sends, indications) = (slot.sends_outstanding, slot.indications_outstanding);
        if sends > 0 || indications > 0 {
            st.violate(Rule::OutstandingAtPause, "MiniportHaltEx", Some(adapter.0), format!("returned with {sends} send(s) not completed and {indications} indicated NBL(s) not returned"));
        }
        crate::config::close_leftovers(&mut st, adapter.0, "MiniportHaltEx");
        check_generic_objects(
            &mut st,
            adapter.0,
            "MiniportHaltEx",
            "still allocated when MiniportHaltEx returned",
        );
    }

    /// Issues an OID request (one at a time per adapter, as NDIS does) at the host's OID IRQL and
    /// waits for its completion if it pends.
    pub fn oid(&self, adapter: Adapter, request: OidRequest) -> OidResult {
        if let Some(answer) = self.answered_by_ndis(adapter, &request) {
            return answer;
        }
        let (handler, context, serial) = {
            let st = self.inner.lock();
            let slot = &st.adapters[adapter.0];
            assert!(
                slot.is_live(),
                "OID request to adapter {} in phase {:?}",
                adapter.0,
                slot.phase
            );
            (
                callbacks(&st).OidRequestHandler,
                slot.context,
                Arc::clone(&slot.oid_lock),
            )
        };
        let _one_at_a_time = serial.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(handler) = handler else {
            crate::fatal("no MiniportOidRequest")
        };
        let (buffer_len, input) = match &request {
            OidRequest::Query { buffer_len, .. } => (*buffer_len, Vec::new()),
            OidRequest::QueryWith {
                input, buffer_len, ..
            } => ((*buffer_len).max(input.len()), input.clone()),
            OidRequest::Set { data, .. } => (data.len(), data.clone()),
            OidRequest::Method {
                input, output_len, ..
            } => (input.len().max(*output_len), input.clone()),
        };
        let buffer = crate::memory::raw_alloc(buffer_len + GUARD, GUARD_BYTE);
        // SAFETY: `buffer` has `buffer_len + GUARD` bytes; the input fits in the first `buffer_len`.
        unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), buffer, input.len()) };
        let len = u32::try_from(buffer_len).unwrap_or(u32::MAX);
        let mut req: Box<NDIS_OID_REQUEST> = Box::new(
            // SAFETY: NDIS_OID_REQUEST is plain data; all-zero is a valid (empty) request.
            unsafe { std::mem::zeroed() },
        );
        req.Header = NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_OID_REQUEST,
            NDIS_OID_REQUEST_REVISION_1,
            NDIS_SIZEOF_OID_REQUEST_REVISION_1,
        );
        req.PortNumber = NDIS_DEFAULT_PORT_NUMBER;
        let request_id = (0x4e4f_0000 + adapter.0) as PVOID;
        req.RequestId = request_id;
        match &request {
            OidRequest::Query { oid, .. } | OidRequest::QueryWith { oid, .. } => {
                req.RequestType = NdisRequestQueryInformation;
                req.DATA.QUERY_INFORMATION = NDIS_OID_REQUEST_QUERY {
                    Oid: *oid,
                    InformationBuffer: buffer.cast(),
                    InformationBufferLength: len,
                    BytesWritten: 0,
                    BytesNeeded: 0,
                };
            }
            OidRequest::Set { oid, .. } => {
                req.RequestType = NdisRequestSetInformation;
                req.DATA.SET_INFORMATION = NDIS_OID_REQUEST_SET {
                    Oid: *oid,
                    InformationBuffer: buffer.cast(),
                    InformationBufferLength: len,
                    BytesRead: 0,
                    BytesNeeded: 0,
                };
            }
            OidRequest::Method {
                oid,
                method_id,
                input,
                output_len,
            } => {
                req.RequestType = NdisRequestMethod;
                req.DATA.METHOD_INFORMATION = NDIS_OID_REQUEST_METHOD {
                    Oid: *oid,
                    InformationBuffer: buffer.cast(),
                    InputBufferLength: u32::try_from(input.len()).unwrap_or(u32::MAX),
                    OutputBufferLength: u32::try_from(*output_len).unwrap_or(u32::MAX),
                    MethodId: *method_id,
                    BytesWritten: 0,
                    BytesRead: 0,
                    BytesNeeded: 0,
                };
            }
        }
        let req_ptr: *mut NDIS_OID_REQUEST = &raw mut *req;
        let offload_indications = self.slot_call(adapter, |s| {
            if let OidRequest::Set {
                oid: OID_TCP_OFFLOAD_PARAMETERS,
                data,
            } = &request
            {
                crate::offload::update_keywords(&mut s.config, data);
            }
            s.offload.indications
        });
        self.slot_call(adapter, |s| s.pending.oid = Some((req_ptr as usize, None)));
        let level = self.inner.config.oid_irql;
        // The driver's MiniportOidRequest with its context and a request (and buffer) the host
        // keeps alive until the request completes.
        let mut status = self
            .inner
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            .call("MiniportOidRequest", Some(adapter.0), level, || unsafe {
                handler(context as NDIS_HANDLE, req_ptr)
            });
        if status != NDIS_STATUS_PENDING
            && self.slot_call(adapter, |s| s.pending.oid.is_some_and(|(_, done)| done.is_some()))
        {
            self.inner.violate(
                Rule::UnexpectedCompletion,
                "NdisMOidRequestComplete",
                Some(adapter.0),
                "completed an OID request that MiniportOidRequest did not pend",
            );
        }
        if status == NDIS_STATUS_PENDING && self.slot_call(adapter, |s| s.cancel_pending_oid) {
            self.cancel_oid(adapter, request_id);
        }
        if status == NDIS_STATUS_PENDING {
            if self.inner.wait_for(|st| {
                st.adapters[adapter.0]
                    .pending
                    .oid
                    .is_some_and(|(_, s)| s.is_some())
            }) {
                status = self.slot_call(adapter, |s| {
                    s.pending.oid.and_then(|(_, s)| s).unwrap_or(NDIS_STATUS_FAILURE)
                });
            } else {
                self.inner.violate(
                    Rule::NeverCompleted,
                    "MiniportOidRequest",
                    Some(adapter.0),
                    "returned NDIS_STATUS_PENDING and never called NdisMOidRequestComplete",
                );
                status = NDIS_STATUS_REQUEST_ABORTED;
            }
        }
        self.slot_call(adapter, |s| s.pending.oid = None);
        // The request is the host's again (completed); each arm reads the member its type selects.
        let data = req.DATA;
        let (written, read, needed) = match req.RequestType {
            NdisRequestQueryInformation => {
                // SAFETY: a query request: QUERY_INFORMATION is the valid member (plain data).
                let q = unsafe { data.QUERY_INFORMATION };
                (q.BytesWritten, 0, q.BytesNeeded)
            }
            NdisRequestSetInformation => {
                // SAFETY: a set request: SET_INFORMATION is the valid member (plain data).
                let q = unsafe { data.SET_INFORMATION };
                (0, q.BytesRead, q.BytesNeeded)
            }
            _ => {
                // SAFETY: a method request: METHOD_INFORMATION is the valid member (plain data).
                let q = unsafe { data.METHOD_INFORMATION };
                (q.BytesWritten, q.BytesRead, q.BytesNeeded)
            }
        };
        // SAFETY: `buffer` has `buffer_len + GUARD` initialised bytes.
        let all = unsafe { std::slice::from_raw_parts(buffer, buffer_len + GUARD) };
        if all[buffer_len..].iter().any(|b| *b != GUARD_BYTE) {
            self.inner.violate(
                Rule::OidBuffer,
                "MiniportOidRequest",
                Some(adapter.0),
                format!(
                    "OID {:#010x} wrote past the end of its {buffer_len}-byte information buffer",
                    oid_of(&request)
                ),
            );
        }
        if written as usize > buffer_len {
            self.inner.violate(
                Rule::OidBuffer,
                "MiniportOidRequest",
                Some(adapter.0),
                format!(
                    "OID {:#010x} reported BytesWritten {written} for a {buffer_len}-byte buffer",
                    oid_of(&request)
                ),
            );
        }
        let data = all[..(written as usize).min(buffer_len)].to_vec();
        crate::memory::raw_free(buffer as usize, buffer_len + GUARD);
        if status == NDIS_STATUS_SUCCESS {
            match &request {
                OidRequest::Query {
                    oid: OID_GEN_STATISTICS,
                    ..
                } => self.check_statistics(adapter, &data),
                OidRequest::Set { oid, data } if RESTORED_SETTINGS.contains(oid) => {
                    self.slot_call(adapter, |s| {
                        s.settings.retain(|(o, _)| o != oid);
                        s.settings.push((*oid, data.clone()));
                    })
                }
                _ => {}
            }
            if let OidRequest::Set { oid, data } = &request
                && matches!(*oid, OID_TCP_OFFLOAD_PARAMETERS | OID_OFFLOAD_ENCAPSULATION)
            {
                self.offload_set(adapter, *oid, data, offload_indications);
            }
        }
        OidResult {
            status,
            bytes_written: written,
            bytes_read: read,
            bytes_needed: needed,
            data,
        }
    }

    /// The OIDs NDIS answers itself for a miniport, from what it reported at initialization:
    /// `OID_PM_HARDWARE_CAPABILITIES` and `OID_PM_CURRENT_CAPABILITIES` ("NDIS handles the query
    /// for miniport drivers ... Not requested for miniport drivers", their pages).
    fn answered_by_ndis(&self, adapter: Adapter, request: &OidRequest) -> Option<OidResult> {
        let OidRequest::Query { oid, buffer_len } = *request else {
            return None;
        };
        if matches!(
            oid,
            OID_TCP_OFFLOAD_CURRENT_CONFIG
                | OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES
                | OID_OFFLOAD_ENCAPSULATION
        ) {
            return Some(self.offload_answer(adapter, oid, buffer_len));
        }
        if oid != OID_PM_HARDWARE_CAPABILITIES && oid != OID_PM_CURRENT_CAPABILITIES {
            return None;
        }
        let (caps, disabled) = self.slot_call(adapter, |s| {
            (
                s.general.as_ref().and_then(|g| g.pm_capabilities),
                s.power.management_disabled,
            )
        });
        let mut caps = caps?;
        if oid == OID_PM_CURRENT_CAPABILITIES && disabled {
            // Power management turned off: nothing is enabled.
            caps = NDIS_PM_CAPABILITIES {
                Header: caps.Header,
                MinMagicPacketWakeUp: NdisDeviceStateUnspecified,
                MinPatternWakeUp: NdisDeviceStateUnspecified,
                MinLinkChangeWakeUp: NdisDeviceStateUnspecified,
                ..NDIS_PM_CAPABILITIES::default()
            };
        }
        let size = usize::from(caps.Header.Size).min(size_of::<NDIS_PM_CAPABILITIES>());
        if buffer_len < size {
            return Some(OidResult {
                status: NDIS_STATUS_BUFFER_TOO_SHORT,
                bytes_written: 0,
                bytes_read: 0,
                bytes_needed: size as u32,
                data: Vec::new(),
            });
        }
        // SAFETY: NDIS_PM_CAPABILITIES is plain integers; its first `size` bytes are read.
        let bytes = unsafe { std::slice::from_raw_parts((&raw const caps).cast::<u8>(), size) };
        Some(OidResult {
            status: NDIS_STATUS_SUCCESS,
            bytes_written: size as u32,
            bytes_read: 0,
            bytes_needed: 0,
            data: bytes.to_vec(),
        })
    }

    /// After a successful offload set: the miniport must have indicated
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` (both OIDs' pages); NDIS keeps the encapsulation.
    fn offload_set(&self, adapter: Adapter, oid: NDIS_OID, data: &[u8], indications_before: u64) {
        let mut st = self.inner.lock();
        let slot = &mut st.adapters[adapter.0];
        if oid == OID_OFFLOAD_ENCAPSULATION {
            let previous = slot.offload.encapsulation.map(|(e, _)| e);
            slot.offload.encapsulation = crate::offload::encapsulation(previous, data);
        }
        if slot.offload.indications == indications_before {
            let name = if oid == OID_OFFLOAD_ENCAPSULATION {
                "OID_OFFLOAD_ENCAPSULATION"
            } else {
                "OID_TCP_OFFLOAD_PARAMETERS"
            };
            st.violate(
                Rule::OffloadConfig,
                "MiniportOidRequest",
                Some(adapter.0),
                format!("{name} succeeded without an NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG indication"),
            );
        }
    }

    /// NDIS's own answers to `OID_TCP_OFFLOAD_CURRENT_CONFIG` and
    /// `OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES` (from the attributes and the last
    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`), and to the `OID_OFFLOAD_ENCAPSULATION` query
    /// (the last set; a protocol "can issue an OID_OFFLOAD_ENCAPSULATION query only after setting"
    /// it, so before that the host fails it). `NOT_SUPPORTED` for an adapter without offloads.
    fn offload_answer(&self, adapter: Adapter, oid: NDIS_OID, buffer_len: usize) -> OidResult {
        let state = self.slot_call(adapter, |s| s.offload);
        let answer = match oid {
            OID_TCP_OFFLOAD_CURRENT_CONFIG => state.current.map(|o| crate::offload::offload_bytes(&o)),
            OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES => {
                state.hardware.map(|o| crate::offload::offload_bytes(&o))
            }
            _ => state.encapsulation.map(|(_, bytes)| bytes.to_vec()),
        };
        let refused = |status, needed: usize| OidResult {
            status,
            bytes_written: 0,
            bytes_read: 0,
            bytes_needed: needed as u32,
            data: Vec::new(),
        };
        match answer {
            None if state.hardware.is_none() => refused(NDIS_STATUS_NOT_SUPPORTED, 0),
            None => refused(NDIS_STATUS_FAILURE, 0),
            Some(bytes) if bytes.len() > buffer_len => refused(NDIS_STATUS_BUFFER_TOO_SHORT, bytes.len()),
            Some(bytes) => OidResult {
                status: NDIS_STATUS_SUCCESS,
                bytes_written: bytes.len() as u32,
                bytes_read: 0,
                bytes_needed: 0,
                data: bytes,
            },
        }
    }

    /// An `OID_GEN_STATISTICS` answer marks valid (`NDIS_STATISTICS_FLAGS_VALID_*`) exactly the
    /// counters the general attributes claimed (`NDIS_STATISTICS_*_SUPPORTED`).
    fn check_statistics(&self, adapter: Adapter, data: &[u8]) {
        let Some(valid) = data
            .get(4..8)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        else {
            return;
        };
        let mut st = self.inner.lock();
        let Some(supported) = st.adapters[adapter.0]
            .general
            .as_ref()
            .map(|g| g.supported_statistics)
        else {
            return;
        };
        let mismatched: Vec<String> = STATISTICS_INFO
            .iter()
            .filter(|(claimed, marked)| (supported & claimed != 0) != (valid & marked != 0))
            .map(|(claimed, marked)| format!("{claimed:#x}/{marked:#x}"))
            .collect();
        if !mismatched.is_empty() {
            st.violate(
                Rule::Attributes,
                "MiniportOidRequest",
                Some(adapter.0),
                format!(
                    "OID_GEN_STATISTICS marks valid (SupportedStatistics {valid:#x}) other counters than \
                     the general attributes' SupportedStatistics {supported:#x} claims: \
                     *_SUPPORTED/FLAGS_VALID_* pairs that differ: {}",
                    mismatched.join(", ")
                ),
            );
        }
    }

    /// Queries an OID with a buffer of `buffer_len` bytes.
    pub fn oid_query(&self, adapter: Adapter, oid: NDIS_OID, buffer_len: usize) -> OidResult {
        self.oid(adapter, OidRequest::Query { oid, buffer_len })
    }

    /// Sets an OID to `data`.
    pub fn oid_set(&self, adapter: Adapter, oid: NDIS_OID, data: &[u8]) -> OidResult {
        self.oid(
            adapter,
            OidRequest::Set {
                oid,
                data: data.to_vec(),
            },
        )
    }

    /// Sends `frames` to the adapter as a protocol would: an NBL chain (laid out per `options`) given
    /// to `MiniportSendNetBufferLists` from this thread's CPU. Returns the frame ids, or `None` if
    /// NDIS would not send now: while the adapter initializes, restarts or resets, while the system
    /// sleeps, and after it halted (or failed to initialize). A pausing or paused adapter does get the send (a
    /// protocol's send can race a pause): the driver must complete it at once with
    /// `NDIS_STATUS_PAUSED` (MiniportPause's page), which the host checks when the call returns.
    pub fn send(&self, adapter: Adapter, frames: &[&[u8]], options: SendOptions) -> Option<Vec<u64>> {
        if frames.is_empty() {
            return Some(Vec::new());
        }
        let (handler, context, head, ids, while_paused, restarts, nbls) = {
            let mut st = self.inner.lock();
            let slot = &st.adapters[adapter.0];
            let restarts = slot.restarts;
            let while_paused = match slot.phase {
                Phase::Running => false,
                Phase::Pausing => slot.pause_returned,
                Phase::Paused => true,
                _ => return None,
            };
            if slot.pending.reset.is_some() || slot.halting || slot.power.asleep.is_some() {
                // "NDIS will not accept protocol-initiated sends ... while the ... NIC is being
                // reset" (the Reset page): nothing reaches the driver; nor once halt has begun, nor
                // while the system sleeps.
                return None;
            }
            let first = st.nbls.next_frame;
            let head = build_chain(&mut st, adapter.0, frames, options);
            let nbls = chain(head);
            st.adapters[adapter.0].sends_outstanding += nbls.len();
            st.adapters[adapter.0].sends_in_transit += 1;
            let ids: Vec<u64> = (first..st.nbls.next_frame).collect();
            (
                callbacks(&st).SendNetBufferListsHandler,
                st.adapters[adapter.0].context,
                head,
                ids,
                while_paused,
                restarts,
                nbls,
            )
        };
        let Some(send) = handler else {
            crate::fatal("no MiniportSendNetBufferLists")
        };
        let (level, flags) = if options.dispatch {
            (DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL)
        } else {
            (PASSIVE_LEVEL, 0)
        };
        // The driver's send handler with its context and an NBL chain the host built; the
        // driver owns the chain until it completes each NBL.
        self.inner
            // SAFETY: the driver's handler with arguments alive for the call, at its IRQL.
            .call("MiniportSendNetBufferLists", Some(adapter.0), level, || unsafe {
                send(context as NDIS_HANDLE, head, NDIS_DEFAULT_PORT_NUMBER, flags)
            });
        self.after_send(adapter, &nbls, &ids, while_paused, restarts);
        self.inner.notify();
        Some(ids)
    }

    /// After a send call returned: what the driver still holds of it must be a send it may hold.
    /// MiniportPause's page: a pausing or paused miniport completes new sends at once with
    /// NDIS_STATUS_PAUSED, and a pause completes only when every send is completed. So an NBL still
    /// held is wrong if the adapter is paused now, or if it was sent while the adapter paused and no
    /// restart began since; and a send made while paused must complete with NDIS_STATUS_PAUSED.
    fn after_send(&self, adapter: Adapter, nbls: &[usize], ids: &[u64], while_paused: bool, restarts: u64) {
        let mut st = self.inner.lock();
        let (phase, restarted) = {
            let slot = &mut st.adapters[adapter.0];
            slot.sends_in_transit -= 1;
            (slot.phase, slot.restarts != restarts)
        };
        let mut held = Vec::new();
        let mut wrong = Vec::new();
        let ours = ids[0]..=ids[ids.len() - 1];
        for nbl in nbls {
            // The host reuses a completed NBL once its completion was checked: an address whose
            // frames are not this send's was completed and has carried another send since.
            let Some(sent) = st
                .nbls
                .sent
                .get_mut(nbl)
                .filter(|s| ours.contains(&s.frames.start))
            else {
                continue;
            };
            sent.in_call = false;
            match sent.completed {
                None => held.push(sent.frames.start),
                Some(status) if while_paused && !restarted && status != NDIS_STATUS_PAUSED => {
                    wrong.push((sent.frames.start, status));
                }
                Some(_) => {}
            }
        }
        let must_not_hold = phase == Phase::Paused || (while_paused && !restarted);
        if must_not_hold && let Some(first) = held.first() {
            st.violate(
                Rule::SendWhilePaused,
                "MiniportSendNetBufferLists",
                Some(adapter.0),
                format!(
                    "returned holding {} NBL(s) sent while the adapter paused (first frame {first}); \
                     they must be completed at once with NDIS_STATUS_PAUSED",
                    held.len()
                ),
            );
        }
        if let Some(&(frame, status)) = wrong.first() {
            st.violate(
                Rule::SendWhilePaused,
                "MiniportSendNetBufferLists",
                Some(adapter.0),
                format!(
                    "completed {} NBL(s) sent while the adapter paused with a status other than \
                     NDIS_STATUS_PAUSED (frame {frame}: {:#010x})",
                    wrong.len(),
                    status as u32
                ),
            );
        }
    }

    /// Completed sends since the last call.
    pub fn take_completions(&self, adapter: Adapter) -> Vec<Completion> {
        self.slot_call(adapter, |s| std::mem::take(&mut s.completions))
    }

    /// NBLs completed so far (all time) and NBLs sent but not completed.
    #[must_use]
    pub fn send_counts(&self, adapter: Adapter) -> (u64, usize) {
        self.slot_call(adapter, |s| (s.completed_count, s.sends_outstanding))
    }

    /// Frames received since the last call (when the host captures frames).
    pub fn take_received(&self, adapter: Adapter) -> Vec<Vec<u8>> {
        self.take_received_with_info(adapter)
            .into_iter()
            .map(|r| r.frame)
            .collect()
    }

    /// Frames received since the last call with their offload information (when the host
    /// captures frames).
    pub fn take_received_with_info(&self, adapter: Adapter) -> Vec<Received> {
        self.slot_call(adapter, |s| std::mem::take(&mut s.received))
    }

    /// Activates the adapter's task offloads as TCP/IP does after binding: `OID_OFFLOAD_ENCAPSULATION`
    /// with IEEE 802.3 (a 14-byte header) for IPv4 and IPv6, each on or off.
    pub fn set_encapsulation(&self, adapter: Adapter, ipv4: bool, ipv6: bool) -> OidResult {
        self.oid_set(
            adapter,
            OID_OFFLOAD_ENCAPSULATION,
            &encapsulation_bytes(ipv4, ipv6),
        )
    }

    /// The hardware capabilities and the current configuration NDIS knows of the adapter's
    /// offloads (from its attributes and `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG`).
    #[must_use]
    pub fn offloads(&self, adapter: Adapter) -> (Option<NDIS_OFFLOAD>, Option<NDIS_OFFLOAD>) {
        self.slot_call(adapter, |s| (s.offload.hardware, s.offload.current))
    }

    /// The host's own (protocol) NBLs: how many were allocated, and how many sends reused one
    /// released earlier (the common layout, one frame per NBL, is recycled like a protocol's NBL
    /// cache once the driver completed it and the completion was checked).
    #[must_use]
    pub fn protocol_nbls(&self) -> ProtocolNbls {
        self.inner.lock().nbls.protocol
    }

    /// Frames and bytes received so far (all time).
    #[must_use]
    pub fn receive_counts(&self, adapter: Adapter) -> (u64, u64) {
        self.slot_call(adapter, |s| (s.received_count, s.received_bytes))
    }

    /// NBLs the host holds (deferred return mode).
    #[must_use]
    pub fn held_indications(&self, adapter: Adapter) -> usize {
        self.slot_call(adapter, |s| s.held.len())
    }

    /// Returns every held NBL to the driver in one `MiniportReturnNetBufferLists` call at
    /// DISPATCH_LEVEL (deferred return mode).
    pub fn return_indicated(&self, adapter: Adapter) {
        let held = self.slot_call(adapter, |s| std::mem::take(&mut s.held));
        if !held.is_empty() {
            return_nbls(&self.inner, adapter.0, &held, DISPATCH_LEVEL);
        }
    }

    /// Installs an in-place receive handler for `adapter` ([`ReceiveWriter`]): every frame it
    /// indicates from now on is passed to `writer` without a copy.
    pub fn set_receive_writer(&self, adapter: Adapter, writer: ReceiveWriter) {
        self.slot_call(adapter, |s| s.writer = Some(writer));
    }

    /// Installs a receive handler for `adapter` (see [`ReceiveSink`]).
    pub fn set_receive_sink(&self, adapter: Adapter, sink: ReceiveSink) {
        self.slot_call(adapter, |s| s.sink = Some(sink));
    }

    /// Status indications since the last call.
    pub fn take_status_indications(&self, adapter: Adapter) -> Vec<StatusIndication> {
        self.slot_call(adapter, |s| std::mem::take(&mut s.status))
    }

    /// The configuration the adapter was created with.
    #[must_use]
    pub fn config(&self, adapter: Adapter) -> Config {
        self.slot_call(adapter, |s| s.config.clone())
    }
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
        for nbl in nbls {
            st.nbls.indicated.remove(nbl);
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
        ret(context as NDIS_HANDLE, head, flags)
    });
}

/// The NBLs of a chain, in order. A link poisoned by an earlier completion ends the walk (the NBL
/// it belongs to is reported as not owned; following it would crash).
fn chain(head: PNET_BUFFER_LIST) -> Vec<usize> {
    let mut out = Vec::new();
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

/// Completed NBLs the host keeps (poisoned) before checking and freeing them.
const KEEP_COMPLETED: usize = 4096;

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMSendNetBufferListsComplete(
    MiniportAdapterHandle: NDIS_HANDLE,
    NetBufferList: PNET_BUFFER_LIST,
    SendCompleteFlags: ULONG,
) {
    const API: &str = "NdisMSendNetBufferListsComplete";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let nbls = chain(NetBufferList);
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, API, MiniportAdapterHandle) else {
        return;
    };
    dispatch_flag_mismatch(
        &mut st,
        API,
        adapter,
        SendCompleteFlags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0,
    );
    let phase = st.adapters[adapter].phase;
    // A send that arrives while the adapter is paused is completed while it is paused, during its
    // own send call (at once, with NDIS_STATUS_PAUSED); any other completion after the pause
    // completed is of a send held past it.
    let late = nbls
        .iter()
        .any(|nbl| !st.nbls.sent.get(nbl).is_some_and(|s| s.in_call));
    if late && matches!(phase, Phase::Paused | Phase::Halted | Phase::Failed) {
        st.violate(
            Rule::ActivityWhilePaused,
            API,
            Some(adapter),
            format!("send completion while the adapter is {phase:?}"),
        );
    }
    let mut lso_incomplete = Vec::new();
    for nbl in nbls {
        let verdict = match st.nbls.sent.get_mut(&nbl) {
            Some(sent) if sent.adapter == adapter && sent.completed.is_none() => {
                // SAFETY: the driver owns the NBL until this completion; reading its status.
                let status = unsafe { NET_BUFFER_LIST_STATUS(nbl as PNET_BUFFER_LIST) };
                sent.completed = Some(status);
                if sent.large_send
                    && status == NDIS_STATUS_SUCCESS
                    && let Err(value) = crate::offload::large_send_completed(nbl as PNET_BUFFER_LIST)
                {
                    lso_incomplete.push((sent.frames.start, value));
                }
                Ok(Completion {
                    frames: sent.frames.clone(),
                    status,
                })
            }
            Some(sent) if sent.completed.is_some() => Err(format!(
                "NBL {nbl:#x} (frames {:?}) completed twice",
                crate::nbl::listed(&sent.frames)
            )),
            Some(sent) => Err(format!(
                "NBL {nbl:#x} was sent to adapter {}, completed on adapter {adapter}",
                sent.adapter
            )),
            None => Err(format!("NBL {nbl:#x} was never sent to the driver")),
        };
        match verdict {
            Ok(completion) => {
                poison_completed(nbl as PNET_BUFFER_LIST);
                let slot = &mut st.adapters[adapter];
                slot.sends_outstanding -= 1;
                slot.completed_count += 1;
                slot.completions.push(completion);
                st.nbls.completed_fifo.push_back(nbl);
                if st.nbls.completed_fifo.len() > KEEP_COMPLETED
                    && let Some(old) = st.nbls.completed_fifo.pop_front()
                {
                    crate::nbl::release_sent(&mut st, old);
                }
            }
            Err(detail) => st.violate(Rule::NblNotOwned, API, Some(adapter), detail),
        }
    }
    for (frame, value) in lso_incomplete {
        st.violate(
            Rule::OffloadInfo,
            API,
            Some(adapter),
            format!(
                "large send (frame {frame}) completed without LsoV2TransmitComplete (Reserved 0, Type \
                 NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE): its information is {value:#010x}"
            ),
        );
    }
    drop(st);
    host.notify();
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMIndicateReceiveNetBufferLists(
    MiniportAdapterHandle: NDIS_HANDLE,
    NetBufferList: PNET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    NumberOfNetBufferLists: ULONG,
    ReceiveFlags: ULONG,
) {
    const API: &str = "NdisMIndicateReceiveNetBufferLists";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let nbls = chain(NetBufferList);
    let resources = ReceiveFlags & NDIS_RECEIVE_FLAGS_RESOURCES != 0;
    let mut held = Vec::new();
    let mut for_sink = Vec::new();
    let mut for_writer = Vec::new();
    let adapter = {
        let mut st = host.lock();
        let Some(adapter) = adapter_for(&mut st, API, MiniportAdapterHandle) else {
            return;
        };
        dispatch_flag_mismatch(
            &mut st,
            API,
            adapter,
            ReceiveFlags & NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL != 0,
        );
        let phase = st.adapters[adapter].phase;
        // NdisMRestartComplete: "The miniport driver can resume indicating received packets
        // immediately after NDIS calls MiniportRestart and before the driver calls
        // NdisMRestartComplete", so Restarting is a receiving state too.
        if !matches!(phase, Phase::Running | Phase::Pausing | Phase::Restarting) {
            st.violate(
                Rule::ActivityWhilePaused,
                API,
                Some(adapter),
                format!("receive indication while the adapter is {phase:?}"),
            );
        }
        if PortNumber != NDIS_DEFAULT_PORT_NUMBER {
            st.violate(
                Rule::BadParameter,
                API,
                Some(adapter),
                format!("port {PortNumber} (the adapter has only the default port)"),
            );
        }
        if nbls.len() != NumberOfNetBufferLists as usize {
            st.violate(
                Rule::NblCountMismatch,
                API,
                Some(adapter),
                format!(
                    "NumberOfNetBufferLists {NumberOfNetBufferLists}, chain of {}",
                    nbls.len()
                ),
            );
        }
        let capture = host.config.capture_frames;
        let sink = st.adapters[adapter].sink.clone();
        let writer = st.adapters[adapter].writer.clone();
        for &nbl in &nbls {
            // NET_BUFFER_LIST's page: SourceHandle is the handle NDIS gave the driver in
            // MiniportInitializeEx; NDIS uses it to return the NBL to the driver that indicated it.
            // SAFETY: the driver passes NBLs it owns; a plain read of one field.
            let source = unsafe { (*(nbl as PNET_BUFFER_LIST)).SourceHandle };
            if source != MiniportAdapterHandle {
                st.violate(
                    Rule::BadParameter,
                    API,
                    Some(adapter),
                    format!(
                        "NBL {nbl:#x} has SourceHandle {:#x}, not the miniport adapter handle",
                        source as usize
                    ),
                );
            }
            if st.nbls.indicated.contains_key(&nbl) {
                st.violate(
                    Rule::NblIndicatedTwice,
                    API,
                    Some(adapter),
                    format!("NBL {nbl:#x} indicated again before the protocol returned it"),
                );
                continue;
            }
            let info = crate::offload::ReceiveInfo::of(nbl as PNET_BUFFER_LIST);
            if info != crate::offload::ReceiveInfo::default() {
                // SAFETY: as below; the first NB of an NBL the driver indicates.
                let first = unsafe { NET_BUFFER_LIST_FIRST_NB(nbl as PNET_BUFFER_LIST) };
                // The headers are all the rules look at: the first 256 bytes, and the length.
                let (head, len) = if first.is_null() {
                    None
                } else {
                    crate::nbl::read_nb_prefix(first, 256)
                }
                .unwrap_or_default();
                let verdict = crate::offload::check_receive(&st.adapters[adapter].offload, &info, &head, len);
                if let Err(why) = verdict {
                    st.violate(Rule::OffloadInfo, API, Some(adapter), why);
                }
            }
            // SAFETY: the driver passes NBLs it owns; the protocol reads them during the indication.
            let mut nb = unsafe { NET_BUFFER_LIST_FIRST_NB(nbl as PNET_BUFFER_LIST) };
            while !nb.is_null() {
                if writer.is_some()
                    && let Some(pieces) = crate::nbl::nb_pieces(nb)
                {
                    for_writer.push((pieces, info));
                }
                // Copy the frame only for someone who will look at it.
                let frame = if capture || sink.is_some() {
                    crate::nbl::read_nb(nb).map(Some)
                } else {
                    crate::nbl::nb_length(nb).map(|_| None)
                };
                let length = || -> u64 {
                    // SAFETY: as above; a plain read of the NB's length.
                    u64::from(unsafe { NET_BUFFER_DATA_LENGTH(nb) })
                };
                match frame {
                    Some(frame) => {
                        let bytes = length();
                        let slot = &mut st.adapters[adapter];
                        slot.received_count += 1;
                        slot.received_bytes += bytes;
                        if let Some(frame) = frame {
                            let frame = Received { frame, info };
                            match (capture, sink.is_some()) {
                                (true, true) => {
                                    for_sink.push(frame.clone());
                                    slot.received.push(frame);
                                }
                                (true, false) => slot.received.push(frame),
                                (false, _) => for_sink.push(frame),
                            }
                        }
                    }
                    None => st.violate(
                        Rule::BadParameter,
                        API,
                        Some(adapter),
                        "a NET_BUFFER's DataLength runs past its MDL chain",
                    ),
                }
                // SAFETY: as above.
                nb = unsafe { NET_BUFFER_NEXT_NB(nb) };
            }
            if !resources {
                st.nbls.indicated.insert(nbl, adapter);
                st.adapters[adapter].indications_outstanding += 1;
                held.push(nbl);
            }
        }
        if host.config.return_mode == ReturnMode::Deferred {
            st.adapters[adapter].held.append(&mut held);
        }
        (adapter, sink, writer)
    };
    let (adapter, sink, writer) = adapter;
    if let Some(sink) = sink {
        for frame in for_sink {
            sink(frame);
        }
    }
    if let Some(writer) = writer {
        for (pieces, info) in for_writer {
            let slices: Vec<&[u8]> = pieces
                .iter()
                .map(|&(at, len)| {
                    // The MDL pieces of an NB the driver indicated and the protocol (the host) has
                    // not returned yet: readable until the NBLs go back below.
                    // SAFETY: each (address, length) was read from a live MDL of the indicated NB.
                    unsafe { std::slice::from_raw_parts(at as *const u8, len) }
                })
                .collect();
            writer(&slices, info);
        }
    }
    host.notify();
    if !held.is_empty() {
        return_nbls(&host, adapter, &held, irql::current());
    }
}

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

fn registration(
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

/// When a reset completes: "Starting with NDIS 6.30, the miniport driver must not hold pending OID
/// or send requests until after the reset operation is complete" (MiniportResetEx's page). NDIS
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

/// The attribute flags NDIS 6.30 added.
const NDIS_630_ATTRIBUTES: u32 = NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND
    | NDIS_MINIPORT_ATTRIBUTES_NO_OID_INTERCEPT_ON_NONDEFAULT_PORTS
    | NDIS_MINIPORT_ATTRIBUTES_REGISTER_BUGCHECK_CALLBACK;

/// The registered driver's NDIS minor version (30 for 6.30).
fn minor_version(st: &State) -> u8 {
    st.registration
        .as_ref()
        .map_or(0, |r| r.characteristics.MinorNdisVersion)
}

/// Each `NDIS_STATISTICS_*_SUPPORTED` bit of the general attributes' `SupportedStatistics`, and
/// the OID that reports the counter (NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES' page).
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
/// `OID_GEN_STATISTICS` answer (OID_GEN_STATISTICS' page).
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

fn general(
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
    });
    Ok(())
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMIndicateStatusEx(
    MiniportAdapterHandle: NDIS_HANDLE,
    StatusIndication: PNDIS_STATUS_INDICATION,
) {
    const API: &str = "NdisMIndicateStatusEx";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, API, MiniportAdapterHandle) else {
        return;
    };
    // NdisMIndicateStatusEx's page: the driver may indicate "after setting its registration
    // attributes even if the driver is still in the context of" MiniportInitializeEx, and "must not
    // call NdisMIndicateStatusEx after it returns from" MiniportHaltEx.
    let slot = &st.adapters[adapter];
    let too_early = slot.phase == Phase::Initializing && !slot.registered;
    if too_early || matches!(slot.phase, Phase::Halted | Phase::Failed) {
        let when = if too_early {
            "before the registration attributes were set"
        } else {
            "after MiniportHaltEx returned (or initialize failed)"
        };
        st.violate(
            Rule::StatusOutsideLifetime,
            API,
            Some(adapter),
            format!("status indication {when}"),
        );
        return;
    }
    // SAFETY: the driver passes a status indication valid for the call.
    let ind = unsafe { &*StatusIndication };
    if !st.check_header(
        API,
        ind.Header,
        NDIS_OBJECT_TYPE_STATUS_INDICATION,
        NDIS_STATUS_INDICATION_REVISION_1,
        NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    ) {
        return;
    }
    if ind.SourceHandle != MiniportAdapterHandle {
        st.violate(
            Rule::BadParameter,
            API,
            Some(adapter),
            "SourceHandle is not the miniport adapter handle",
        );
        return;
    }
    let buffer = if ind.StatusBuffer.is_null() {
        Vec::new()
    } else {
        // SAFETY: the driver's status buffer of StatusBufferSize bytes, valid for the call.
        unsafe { std::slice::from_raw_parts(ind.StatusBuffer.cast::<u8>(), ind.StatusBufferSize as usize) }
            .to_vec()
    };
    if ind.StatusCode == NDIS_STATUS_LINK_STATE {
        let ok = buffer.len() == size_of::<NDIS_LINK_STATE>()
            && buffer[0] == NDIS_OBJECT_TYPE_DEFAULT
            && buffer[1] >= NDIS_LINK_STATE_REVISION_1
            && u16::from_le_bytes([buffer[2], buffer[3]]) >= NDIS_SIZEOF_LINK_STATE_REVISION_1;
        if !ok {
            st.violate(
                Rule::BadParameter,
                API,
                Some(adapter),
                format!(
                    "NDIS_STATUS_LINK_STATE with a {}-byte buffer that is not an NDIS_LINK_STATE",
                    buffer.len()
                ),
            );
            return;
        }
    }
    if ind.StatusCode == NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG {
        let minor = minor_version(&st);
        if let Err(why) = crate::offload::current_config(&mut st.adapters[adapter].offload, &buffer, minor) {
            st.violate(Rule::OffloadConfig, API, Some(adapter), why);
        }
    }
    st.adapters[adapter].status.push(StatusIndication {
        code: ind.StatusCode,
        buffer,
    });
}

fn complete<T>(
    api: &'static str,
    handle: NDIS_HANDLE,
    what: &str,
    apply: impl FnOnce(&mut State, usize) -> Result<T, ()>,
) {
    let host = current();
    if !host.check_irql(api) {
        return;
    }
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, api, handle) else {
        return;
    };
    if apply(&mut st, adapter).is_err() {
        st.violate(
            Rule::UnexpectedCompletion,
            api,
            Some(adapter),
            format!("no {what} is pending"),
        );
    }
    drop(st);
    host.notify();
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE) {
    const API: &str = "NdisMPauseComplete";
    complete(API, MiniportAdapterHandle, "pause", |st, a| {
        if !st.adapters[a].pending.pause {
            return Err(());
        }
        complete_pause(st, a, API);
        Ok(())
    });
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMRestartComplete(MiniportAdapterHandle: NDIS_HANDLE, Status: NDIS_STATUS) {
    complete(
        "NdisMRestartComplete",
        MiniportAdapterHandle,
        "restart",
        |st, a| match &mut st.adapters[a].pending.restart {
            Some(slot @ None) => {
                *slot = Some(Status);
                Ok(())
            }
            _ => Err(()),
        },
    );
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMResetComplete(
    MiniportAdapterHandle: NDIS_HANDLE,
    Status: NDIS_STATUS,
    AddressingReset: BOOLEAN,
) {
    complete(
        "NdisMResetComplete",
        MiniportAdapterHandle,
        "reset",
        |st, a| match &mut st.adapters[a].pending.reset {
            Some(slot @ None) => {
                *slot = Some((Status, AddressingReset != 0));
                check_reset_sends(st, a, "NdisMResetComplete");
                Ok(())
            }
            _ => Err(()),
        },
    );
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMOidRequestComplete(
    MiniportAdapterHandle: NDIS_HANDLE,
    OidRequest: PNDIS_OID_REQUEST,
    Status: NDIS_STATUS,
) {
    complete(
        "NdisMOidRequestComplete",
        MiniportAdapterHandle,
        "OID request",
        |st, a| match &mut st.adapters[a].pending.oid {
            Some((request, slot @ None)) if *request == OidRequest as usize => {
                *slot = Some(Status);
                Ok(())
            }
            _ => Err(()),
        },
    );
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
