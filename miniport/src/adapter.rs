//! One virtual NIC: initialize, halt, pause, restart, reset, `PnP` and shutdown, and its state.
//!
//! Pause waits for in-flight work without locks ([`InFlight`]): every NBL NDIS sent and the driver
//! has not completed, every NBL the driver indicated and the protocol has not returned, and every
//! handler still running on the adapter holds a reference; a running adapter holds one more. Pause
//! drops that one; whoever drops the last reference while a pause is pending completes it
//! (`NdisMPauseComplete`), so pause returns `NDIS_STATUS_PENDING` while anything is in flight and
//! completes exactly when it drains.
#![forbid(unsafe_code)]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;
use rvnic_helpers::adapter::{AdapterHandle, Configuration, active_processors, processor_index};
use rvnic_helpers::generic_object::DriverObject;
use rvnic_helpers::in_flight::InFlight;
use rvnic_helpers::irql::Raised;
use rvnic_helpers::memory::PoolBox;
use rvnic_helpers::oid::{OidRequest, PendedRequest};
use rvnic_helpers::receive::RxPool;
use rvnic_helpers::seats::Occupant;
use rvnic_helpers::spin::SpinLock;
use rvnic_helpers::timer_pool::{TimerCallback, TimerPool};

use crate::chores::{Cancels, Reset, Settled};
use crate::config::{Config, KEYWORDS, RSS_OR_VMQ_PREFERENCE};
use crate::offload;
use crate::oid::{self, Change, Control, Live};
use crate::recv::VmPools;
use crate::send::TxQueue;
use crate::stats::Statistics;
use crate::wire::scaling::{self, Queues};
use crate::wire::{self, Address, Port, Published, Seated};
use crate::{LANES, POOL_TAG, dbg_print};

/// One adapter. Lives in pool memory from initialize to halt, owned by its seat on the wire
/// ([`wire::attach`] moves it in, [`wire::detach`] out); NDIS passes its address back as the
/// adapter context.
#[derive(Debug)]
pub struct Adapter {
    handle: AdapterHandle,
    config: Config,
    port: Port,
    /// What OIDs see and change, and what they publish to the wire.
    settings: PoolBox<Settings>,
    /// Running, pausing or paused, and the references that keep a pause pending.
    in_flight: InFlight,
    /// Sends NDIS cancelled, for the drain to abort ([`crate::chores`]).
    pub(crate) cancels: Cancels,
    /// A reset waiting for the sends queued before it ([`crate::chores`]).
    reset: Reset,
    connected: AtomicBool,
    /// A one-timer pool: resumes a drain that stopped at its budget (see [`wire`]). Declared
    /// before the queues so that dropping it (which cancels the timer and waits for a running
    /// callback) happens while everything a callback touches still exists.
    resume: TimerPool<Resume, 1>,
    /// The RSS receive queues (none with `*RSS` off). Closed in halt before anything its DPCs
    /// touch goes.
    pub(crate) rss: Queues,
    pub(crate) tx: TxQueue,
    pub(crate) rx: RxPool,
    /// The VM queues' receive buffers (none with VMQ off).
    pub(crate) vmq: PoolBox<VmPools>,
    pub(crate) stats: Statistics,
}

/// What OIDs see and change, and what they publish, in pool memory of its own: the adapter is
/// built on initialize's stack before it moves to the pool, and stays small without them.
#[derive(Debug)]
struct Settings {
    /// Everything OIDs see and change. NDIS issues one request at a time per adapter; the lock
    /// also orders requests with status indications that read the link.
    control: SpinLock<Control>,
    /// The filter, offloads, VLAN and RSS parameters the wire applies, published by OID sets; the
    /// wire keeps its own copy in the adapter's seat and refreshes it when the generation changes.
    published: SpinLock<Published>,
}

impl Settings {
    /// The settings in pool memory. Not inlined: the control state and the published copy are
    /// built in this frame, not in the adapter's.
    #[inline(never)]
    fn boxed(config: Config, permanent: Address) -> Result<PoolBox<Self>, NDIS_STATUS> {
        PoolBox::new_in_place(POOL_TAG, |place| {
            Ok::<_, core::convert::Infallible>(place.write(Self::new(config, permanent)))
        })
        .map_err(|_| NDIS_STATUS_RESOURCES)
    }

    fn new(config: Config, permanent: Address) -> Self {
        let mut control = Control::new(config, permanent);
        control.processor_exists = |n| processor_index(n).is_some();
        let published = Published::new(&control);
        Self {
            control: SpinLock::new(control),
            published: SpinLock::new(published),
        }
    }
}

/// The resume timer's callback: kicks the adapter's wire again.
#[derive(Debug)]
pub struct Resume {
    port: Port,
}

impl TimerCallback for Resume {
    fn fire(&self, _timer: usize) {
        // Timer callbacks run at DISPATCH_LEVEL. A kick needs nothing of the adapter (wires are
        // statics): one that comes while the adapter leaves its seat only drains the others.
        let raised = Raised::to_dispatch();
        wire::kick(self.port, raised.dispatch());
    }
}

/// Processors the datapath may run on, capped at the lanes the rings have.
fn processors() -> usize {
    active_processors().clamp(1, LANES)
}

/// The permanent address of adapter `index`: locally administered, "rv" then the interface index.
#[must_use]
pub fn permanent_address(index: u32) -> Address {
    let [_, a, b, c] = index.to_be_bytes();
    [0x02, b'r', b'v', a, b, c]
}

impl Adapter {
    /// `MiniportInitializeEx`: reads the configuration, builds the components, tells NDIS the
    /// attributes and puts the adapter on its wire. `PASSIVE_LEVEL`. On failure everything built so
    /// far is freed (no generic object outlives a failed initialize). Not inlined into the
    /// trampoline: its frame is its own.
    ///
    /// # Errors
    /// The status of the first step that failed: reading the configuration, an allocation
    /// (`NDIS_STATUS_RESOURCES`, also when every wire is taken), or setting the attributes.
    #[inline(never)]
    pub fn initialize(
        handle: AdapterHandle,
        driver: Option<DriverObject>,
        if_index: u32,
    ) -> Result<NonNull<Self>, NDIS_STATUS> {
        let config = read_configuration(handle)?;
        let port = wire::reserve(config.topology, config.segment).ok_or(NDIS_STATUS_RESOURCES)?;
        // A queue per processor at most: its DPC runs on one.
        let mut config = config;
        config.rss_queues = config
            .rss_queues
            .min(u32::try_from(active_processors()).unwrap_or(u32::MAX));
        let adapter = Settings::boxed(config, permanent_address(if_index))
            .and_then(|settings| Self::build(handle, driver, config, port, settings));
        let adapter = match adapter {
            Ok(adapter) => adapter,
            Err(status) => {
                // What was built so far is dropped already.
                wire::release(port);
                return Err(status);
            }
        };
        let context = NonNull::from(&**adapter);
        // The DPCs run with the adapter's final address, as NDIS's handlers do.
        adapter
            .rss
            .bind(Some(crate::callbacks::receive_queue), context.as_ptr().cast());
        let configured = adapter.register().and_then(|()| {
            // What the general attributes say of the link: as it will be once attached.
            adapter.set_connected(wire::will_connect(port));
            adapter.set_general_attributes()?;
            adapter.set_offload_attributes()?;
            adapter.set_hardware_assist_attributes()
        });
        if let Err(status) = configured {
            drop(adapter);
            wire::release(port);
            return Err(status);
        }
        dbg_print!(
            "adapter {if_index}: {:?} segment {}, {} byte frames, {} receive and {} transmit buffers",
            config.topology,
            config.segment,
            config.max_frame,
            config.receive_buffers,
            config.transmit_buffers
        );
        // The seat is the one reserved above, free: the move cannot fail, and if it somehow did
        // the adapter would come back and be freed here.
        if let Err(refused) = wire::attach(adapter) {
            drop(refused);
            wire::release(port);
            return Err(NDIS_STATUS_FAILURE);
        }
        Ok(context)
    }

    /// The components and the adapter in pool memory, for `port`, with its `settings`. On failure
    /// what was built is dropped (no generic object outlives a failed initialize). Not inlined:
    /// its frame holds the adapter on its way to pool memory, and is its own.
    #[inline(never)]
    fn build(
        handle: AdapterHandle,
        driver: Option<DriverObject>,
        config: Config,
        port: Port,
        settings: PoolBox<Settings>,
    ) -> Result<Seated, NDIS_STATUS> {
        let cpus = processors();
        let rx = RxPool::new(
            driver,
            &handle,
            config.receive_buffers as usize,
            // Room for an 802.1Q tag that stays in a frame's bytes (wire/vlan.rs).
            config.max_frame as usize + wire::vlan::TAG_LEN,
            cpus,
            POOL_TAG,
        )?;
        let tx = TxQueue::new(driver, config.transmit_buffers as usize, cpus)?;
        // Half the default queue's descriptors for each VM queue.
        let vm_buffers = (config.receive_buffers as usize / 2, rx.buffer_size());
        let vmq = VmPools::new(config.vmq.is_some(), driver, &handle, vm_buffers)?;
        let resume = TimerPool::new(driver, POOL_TAG, Resume { port }).map_err(|_| NDIS_STATUS_RESOURCES)?;
        let stats = Statistics::new(cpus).ok_or(NDIS_STATUS_RESOURCES)?;
        // The receive queues' DPCs: RSS's, or with VMQ (its alternative) the VM queues'.
        let queues = if config.vmq.is_some() {
            crate::wire::vmq::VM_QUEUES
        } else {
            config.rss_queues as usize
        };
        let rss = Queues::new(driver, POOL_TAG, queues)?;
        // The wire's copy of what the adapter publishes starts as the original.
        let published = *settings.published.lock();
        PoolBox::new_in_place(POOL_TAG, |place: &mut core::mem::MaybeUninit<Occupant<Self, Published>>| {
            // Written straight into pool memory: the adapter is too large to build on a kernel
            // stack and move.
            Ok::<_, core::convert::Infallible>(place.write(Occupant::new(Self {
                handle,
                config,
                port,
                settings,
                in_flight: InFlight::new(),
                cancels: Cancels::default(),
                reset: Reset::default(),
                connected: AtomicBool::new(false),
                resume,
                rss,
                tx,
                rx,
                vmq,
                stats,
            }, published)))
        })
        // The pool is exhausted: the components were moved into the closure and dropped with it.
        .map_err(|_| NDIS_STATUS_RESOURCES)
    }

    /// `MiniportHaltEx` of the adapter on `port`: it is paused (nothing in flight); take it off
    /// the wire and free everything, generic objects included, before returning. `PASSIVE_LEVEL`.
    pub fn halt(port: Port, action: NDIS_HALT_ACTION) {
        let Some(this) = wire::detach(port) else {
            dbg_print!("halt: no adapter on wire {} port {}", port.wire, port.slot);
            return;
        };
        let busy = this.in_flight.references();
        if busy != 0 {
            // NDIS halts only paused adapters, and a paused adapter has nothing in flight.
            dbg_print!("halt with {busy} send(s) or indication(s) in flight: NDIS broke the pause contract");
        }
        // Off the wire nothing posts to the receive queues; once closed no DPC runs, so none sees
        // the adapter while it is dropped.
        this.rss.close();
        drop(this);
        wire::release(port);
        dbg_print!("halt (action {action})");
    }

    /// The registration attributes: the context NDIS passes back, and how NDIS treats us.
    fn register(&self) -> Result<(), NDIS_STATUS> {
        // A virtual NIC: nothing to lose on surprise removal, no hardware state to lose on suspend
        // (so NDIS sets it to D3 instead of halting it even when the user turns its power
        // management off). It keeps the pause before D3 (no NO_PAUSE_ON_SUSPEND): the datapath
        // stops through the pause it already handles.
        let flags = NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK | NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND;
        let status =
            self.handle
                .set_registration_attributes(core::ptr::from_ref(self), flags, NdisInterfaceInternal);
        attributes_set("registration", status)
    }

    /// The general attributes: medium, sizes, link, filters, addresses, statistics, OIDs, power.
    #[inline(never)]
    fn set_general_attributes(&self) -> Result<(), NDIS_STATUS> {
        // Only the addresses: the rest of the control state is large.
        let (permanent_address, current_address) = {
            let control = self.settings.control.lock();
            (control.permanent, control.filter.address)
        };
        // Mandatory for NDIS 6.20 and later: power managed (NDIS sets D3 for a sleep and D0 after,
        // the adapter keeps its state), with no wake-up of any kind, as netvmini reports.
        let power = NDIS_PM_CAPABILITIES {
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
        let speed = self.config.link_speed;
        let mut permanent = [0u8; 32];
        permanent[..6].copy_from_slice(&permanent_address);
        let mut current = [0u8; 32];
        current[..6].copy_from_slice(&current_address);
        let attributes = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
                NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
                NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            ),
            Flags: 0,
            MediaType: NdisMedium802_3,
            PhysicalMediumType: NdisPhysicalMedium802_3,
            MtuSize: self.config.mtu(),
            MaxXmitLinkSpeed: speed,
            XmitLinkSpeed: speed,
            MaxRcvLinkSpeed: speed,
            RcvLinkSpeed: speed,
            MediaConnectState: self.media_connect_state(),
            MediaDuplexState: MediaDuplexStateFull,
            LookaheadSize: self.config.mtu(),
            // The pointer members are the layer's to fill in (from the OID list and `power`).
            PowerManagementCapabilities: core::ptr::null_mut(),
            MacOptions: oid::mac_options(self.config.vlan.tagging),
            SupportedPacketFilters: wire::SUPPORTED_FILTERS,
            MaxMulticastListSize: u32::try_from(wire::MAX_MULTICAST).unwrap_or(u32::MAX),
            MacAddressLength: 6,
            PermanentMacAddress: permanent,
            CurrentMacAddress: current,
            RecvScaleCapabilities: core::ptr::null_mut(),
            AccessType: NET_IF_ACCESS_BROADCAST,
            DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
            ConnectionType: NET_IF_CONNECTION_DEDICATED,
            IfType: IF_TYPE_ETHERNET_CSMACD,
            IfConnectorPresent: FALSE,
            SupportedStatistics: crate::stats::SUPPORTED,
            SupportedPauseFunctions: NdisPauseFunctionsUnsupported as u32,
            DataBackFillSize: 0,
            ContextBackFillSize: 0,
            SupportedOidList: core::ptr::null_mut(),
            SupportedOidListLength: 0,
            AutoNegotiationFlags: NDIS_LINK_STATE_XMIT_LINK_SPEED_AUTO_NEGOTIATED
                | NDIS_LINK_STATE_RCV_LINK_SPEED_AUTO_NEGOTIATED
                | NDIS_LINK_STATE_DUPLEX_AUTO_NEGOTIATED,
            PowerManagementCapabilitiesEx: core::ptr::null_mut(),
        };
        let queues = self.config.rss_queues as usize;
        let rss = (queues > 0).then(|| scaling::capabilities(queues));
        let status = self
            .handle
            .set_general_attributes(attributes, &oid::SUPPORTED, &power, rss.as_ref());
        attributes_set("general", status)
    }

    /// The offload attributes: the configuration the keywords chose and everything rvnic can do
    /// ([`offload`]). No TCP chimney: its two pointers stay NULL.
    #[inline(never)]
    fn set_offload_attributes(&self) -> Result<(), NDIS_STATUS> {
        let default = self.config.offloads.configuration();
        let hardware = offload::capabilities();
        attributes_set("offload", self.handle.set_offload_attributes(&default, &hardware))
    }

    /// The hardware assist attributes: the NDIS QoS capabilities if `*QOS` is present (all of
    /// them in hardware, currently enabled only with `*QOS` 1: "Standardized INF Keywords for
    /// NDIS QoS"), and the receive filter (VMQ) capabilities, complete in hardware and current as
    /// the VMQ keywords say ("Standardized INF Keywords for VMQ").
    #[inline(never)]
    fn set_hardware_assist_attributes(&self) -> Result<(), NDIS_STATUS> {
        use crate::wire::{qos, vmq};
        let qos = self
            .config
            .qos
            .map(|enabled| (qos::capabilities(true), qos::capabilities(enabled)));
        let filters = (
            vmq::capabilities(self.config.vmq, true),
            vmq::capabilities(self.config.vmq, false),
        );
        let status = self.handle.set_hardware_assist_attributes(
            qos.as_ref().map(|(hardware, current)| (hardware, current)),
            Some((&filters.0, &filters.1)),
        );
        attributes_set("hardware assist", status)
    }

    /// `MiniportPause`: refuse new sends, and complete when in-flight work has drained.
    pub fn pause(&self) -> NDIS_STATUS {
        if self.in_flight.pause() {
            NDIS_STATUS_SUCCESS
        } else {
            NDIS_STATUS_PENDING
        }
    }

    /// `MiniportRestart`: accept sends again and tell NDIS the link state and, with QoS enabled,
    /// the operational QoS parameters ("must always issue" them when the capabilities are enabled:
    /// "Standardized INF Keywords for NDIS QoS").
    pub fn restart(&self) -> NDIS_STATUS {
        self.in_flight.restart();
        self.indicate_link();
        if self.config.qos == Some(true) {
            let qos = self.settings.control.lock().qos;
            self.indicate_qos(&qos);
        }
        NDIS_STATUS_SUCCESS
    }

    /// `NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE` with the operational parameters.
    fn indicate_qos(&self, qos: &crate::wire::qos::Qos) {
        let operational = qos.operational();
        self.handle
            .indicate_status(NDIS_STATUS_QOS_OPERATIONAL_PARAMETERS_CHANGE, &operational);
    }

    /// Asks for the wire to be drained again soon, from a timer callback: for a drain that stopped
    /// at its budget. IRQL <= `DISPATCH_LEVEL`.
    pub(crate) fn resume_soon(&self) {
        if let Some(timer) = self.resume.timer(0) {
            let _ = timer.arm_once(core::time::Duration::ZERO);
        }
    }

    /// Takes an in-flight reference (before looking at the state, so pause cannot miss it).
    pub(crate) fn enter(&self) {
        self.in_flight.enter();
    }

    /// Drops an in-flight reference; the last one out completes a pending pause. The caller must
    /// not touch the adapter after this (NDIS may halt it as soon as the pause completes) unless it
    /// still holds another reference.
    pub(crate) fn leave(&self) {
        if self.in_flight.leave() {
            // A pause is pending and nothing is in flight: this completes it, once.
            self.handle.pause_complete();
        }
    }

    /// Drops `n` in-flight references (a chained frame holds one per descriptor).
    pub(crate) fn leave_many(&self, n: usize) {
        for _ in 0..n {
            self.leave();
        }
    }

    #[must_use]
    /// Whether the adapter runs (restarted, not pausing or paused).
    pub fn is_running(&self) -> bool {
        self.in_flight.is_running()
    }

    #[must_use]
    /// Whether the adapter has a link (always, but for a pair without its peer).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
    }

    /// The pair's other end came or went: record it and tell NDIS if the adapter runs.
    pub(crate) fn link_changed(&self, connected: bool) {
        self.set_connected(connected);
        self.indicate_link();
    }

    fn media_connect_state(&self) -> NDIS_MEDIA_CONNECT_STATE {
        if self.is_connected() {
            MediaConnectStateConnected
        } else {
            MediaConnectStateDisconnected
        }
    }

    /// `NDIS_STATUS_LINK_STATE` with the current connection, speed and duplex.
    fn indicate_link(&self) {
        let speed = self.config.link_speed;
        let state = NDIS_LINK_STATE {
            Header: NDIS_OBJECT_HEADER::new(
                NDIS_OBJECT_TYPE_DEFAULT,
                NDIS_LINK_STATE_REVISION_1,
                NDIS_SIZEOF_LINK_STATE_REVISION_1,
            ),
            MediaConnectState: self.media_connect_state(),
            MediaDuplexState: MediaDuplexStateFull,
            XmitLinkSpeed: speed,
            RcvLinkSpeed: speed,
            PauseFunctions: NdisPauseFunctionsUnsupported,
            AutoNegotiationFlags: NDIS_LINK_STATE_XMIT_LINK_SPEED_AUTO_NEGOTIATED
                | NDIS_LINK_STATE_RCV_LINK_SPEED_AUTO_NEGOTIATED
                | NDIS_LINK_STATE_DUPLEX_AUTO_NEGOTIATED,
        };
        self.handle.indicate_status(NDIS_STATUS_LINK_STATE, &state);
    }

    /// `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` with the current offload configuration, after
    /// every change of it ("Miniport drivers must use the contents of the `NDIS_OFFLOAD_PARAMETERS`
    /// structure to update the currently reported TCP offload capabilities. After the update, the
    /// miniport driver must report [them] with the `NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG` status
    /// indication", on the pages of both OIDs that change it).
    fn indicate_offload(&self, offloads: &offload::Offloads) {
        let current = offloads.configuration();
        self.handle
            .indicate_status(NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, &current);
    }

    /// `MiniportOidRequest`: answered at once through [`oid::Control`]; a changed filter or offload
    /// configuration is published to the wire before the request completes, so a send after the
    /// completion sees it (a large send after LSO was turned off is dropped, as the LSO page asks).
    ///
    /// A VM queue's free request pends until the queue's frames are back (`pended` is kept then).
    pub fn oid_request(&self, request: OidRequest<'_>, pended: PendedRequest) -> NDIS_STATUS {
        let mut control = self.settings.control.lock();
        let live = || Live {
            connected: self.is_connected(),
            queued_sends: u32::try_from(self.tx.len()).unwrap_or(u32::MAX),
            statistics: self.stats.snapshot(),
            rsc: self.stats.rsc(),
        };
        let (status, change) = oid::handle(&mut control, request, live);
        match change {
            Change::Filter | Change::Offload | Change::Qos | Change::Routes => {
                self.settings.published.lock().publish(&control);
            }
            Change::Power(state) => dbg_print!("power state {state:?}"),
            Change::Nothing | Change::FreeQueue(_) => {}
        }
        if let Change::Routes | Change::FreeQueue(_) = change {
            // The wire follows the new routes before the request completes: no frame is
            // indicated on a queue after its last filter went, or its DMA stopped.
            drop(control);
            wire::follow(self.port);
            // And what it posted to the queues' DPCs before is indicated (PASSIVE_LEVEL, as
            // MiniportOidRequest runs).
            self.rss.flush();
            return match change {
                Change::FreeQueue(freed) => self.free_queue(freed, pended),
                _ => status,
            };
        }
        if change == Change::Offload {
            // Indicated without the control lock held (NDIS may call back into the driver).
            let offloads = control.offloads;
            drop(control);
            self.indicate_offload(&offloads);
        } else if change == Change::Qos {
            let qos = control.qos;
            drop(control);
            self.indicate_qos(&qos);
        }
        status
    }

    /// The VM queue in `slot` is freed: its frames are back, its buffers free for another queue.
    pub(crate) fn queue_freed(&self, slot: usize) {
        self.settings.control.lock().vmq.freed(slot);
    }

    /// Brings the wire's copy (`copy`, in the adapter's seat) of the filter, offloads, VLAN and
    /// RSS parameters up to date, pointing the receive queues at their processors when those
    /// change. The wire's baton holder calls this. Not inlined: the copy of what is published
    /// would sit in the drain's frame.
    #[inline(never)]
    pub(crate) fn refresh(&self, copy: &mut Published) {
        let changed = copy.refresh(&self.settings.published.lock());
        if changed && copy.scaling.is_on() {
            // The baton holder is the only CPU that queues the DPCs: none is retargeted under it.
            self.rss.retarget(&copy.scaling);
        }
        if let Some(routes) = copy.vmq.as_ref().filter(|_| changed) {
            for (queue, number) in routes.processors.iter().enumerate() {
                // Checked when the queue was allocated or its affinity changed.
                let _ = self.rss.target(queue, *number);
            }
        }
    }

    /// `MiniportResetEx`: nothing in a virtual NIC can wedge, but since NDIS 6.30 no send may stay
    /// pending past a reset: the sends still queued go out first ([`crate::chores`]). Succeeds at
    /// once if a drain empties the lanes while this runs; otherwise pends, and the drain that
    /// empties them calls `NdisMResetComplete`. The addressing (filter, multicast list) is kept.
    /// IRQL <= `DISPATCH_LEVEL`.
    pub fn reset(&self) -> (NDIS_STATUS, bool) {
        self.reset.begin();
        let raised = Raised::to_dispatch();
        // The kick runs a drain pass after `begin`, here or on the CPU that holds the wire.
        wire::kick(self.port, raised.dispatch());
        drop(raised);
        if self.reset.decide() {
            (NDIS_STATUS_SUCCESS, false)
        } else {
            (NDIS_STATUS_PENDING, false)
        }
    }

    /// A drain pass completed what it moved and found this adapter's transmit lanes empty: retire
    /// the cancels it began with, and settle a reset waiting for it. The wire's baton holder calls
    /// this, at `DISPATCH_LEVEL`.
    pub(crate) fn lanes_empty(&self) {
        self.cancels.retire_seen();
        if self.reset.in_progress() && self.reset.lanes_empty() == Settled::Complete {
            // The reset this adapter's handler pended; every send given before it is completed
            // (NDIS sends nothing during a reset).
            self.handle.reset_complete(NDIS_STATUS_SUCCESS);
        }
    }

    /// `MiniportDevicePnPEventNotify`.
    #[allow(non_upper_case_globals, reason = "C enumerator names in patterns")]
    pub fn pnp_event(&self, event: NDIS_DEVICE_PNP_EVENT) {
        match event {
            // A virtual NIC has no hardware that can vanish: nothing to stop touching. NDIS
            // pauses and halts the adapter next, which releases everything as usual.
            NdisDevicePnPEventSurpriseRemoved => dbg_print!("surprise removal: NDIS pauses and halts next"),
            other => dbg_print!("PnP event {other} (nothing to do for a virtual NIC)"),
        }
    }

    /// `MiniportShutdownEx`, possibly at `HIGH_LEVEL` after a bug check: touch nothing but our own
    /// state (no NDIS calls).
    pub fn shutdown(&self, _action: NDIS_SHUTDOWN_ACTION) {
        self.in_flight.shut_down();
    }

    /// `MiniportCancelSend`: the drain aborts the queued NBLs marked `cancel_id`, completing them
    /// with `NDIS_STATUS_SEND_ABORTED` ([`crate::chores`]); the kick makes it happen now rather than
    /// at the next send or timer. IRQL <= `DISPATCH_LEVEL`.
    pub fn cancel_send(&self, cancel_id: usize) {
        if !self.cancels.add(cancel_id) {
            dbg_print!(
                "cancel {cancel_id:#x} not recorded ({} pending already): its sends complete normally",
                crate::chores::MAX_CANCELS
            );
        }
        let raised = Raised::to_dispatch();
        wire::kick(self.port, raised.dispatch());
    }

    /// `MiniportCancelOidRequest`: only a VM queue's free pends. The page asks a miniport to
    /// complete a cancelled request as soon as possible, `NDIS_STATUS_REQUEST_ABORTED` if it is not
    /// done; the free is not aborted: its queue's DMA has stopped already (an aborted free would
    /// leave a queue neither running nor freed), and it completes as soon as the frames are back.
    pub fn cancel_oid_request(&self, _request_id: usize) {}

    #[must_use]
    /// The adapter's NDIS handle, for the calls the driver makes with it.
    pub fn handle(&self) -> &AdapterHandle {
        &self.handle
    }

    #[must_use]
    /// The adapter's place on its wire.
    pub fn port(&self) -> Port {
        self.port
    }

    #[must_use]
    /// The largest frame, Ethernet header included (`*JumboPacket`).
    pub fn max_frame(&self) -> usize {
        self.config.max_frame as usize
    }

    #[must_use]
    /// The validated configuration initialize read.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// `Ok` if NDIS took the `what` attributes; otherwise says so and returns its status.
fn attributes_set(what: &str, status: Result<(), NDIS_STATUS>) -> Result<(), NDIS_STATUS> {
    if let Err(status) = status {
        dbg_print!("NdisMSetMiniportAttributes ({what}) failed: {status:#010x}");
    }
    status
}

/// Reads every keyword of [`KEYWORDS`], the hidden `*RssOrVmqPreference` and `NetworkAddress`
/// through NDIS, validates them, and says which were refused.
#[inline(never)]
fn read_configuration(handle: AdapterHandle) -> Result<Config, NDIS_STATUS> {
    let configuration = Configuration::open(&handle).inspect_err(|status| {
        dbg_print!("NdisOpenConfigurationEx failed: {status:#010x}");
    })?;
    let number = |name: &'static str| {
        debug_assert!(KEYWORDS.iter().any(|k| k.name == name) || name == RSS_OR_VMQ_PREFERENCE.name);
        configuration.read_integer(name)
    };
    // Everything read is copied out before the configuration closes (at the end of this scope).
    let (config, fallbacks) = Config::from_registry(number, configuration.network_address());
    // Said here: the fallbacks stay out of initialize's frame.
    for f in fallbacks.iter() {
        dbg_print!(
            "keyword {} refused ({:?}): using its default",
            f.keyword,
            f.reason
        );
    }
    Ok(config)
}
