//! The harness's adapter lifecycle: adding and initializing adapters, pause, restart, reset,
//! cancellation, `PnP` events, shutdown and halt, each called as NDIS calls the driver and checked
//! against the rules of its page.

use super::*;

impl Host {
    pub(super) fn slot_call<R>(&self, adapter: Adapter, f: impl FnOnce(&mut AdapterSlot) -> R) -> R {
        let mut st = self.inner.lock();
        let Some(slot) = st.adapters.get_mut(adapter.0) else {
            panic!("no adapter {}", adapter.0)
        };
        f(slot)
    }

    /// Creates an adapter with `config` and runs `MiniportInitializeEx` (the adapter is then Paused,
    /// as NDIS leaves it). Returns the failure status if initialize fails.
    ///
    /// # Errors
    /// The status `MiniportInitializeEx` returned.
    pub fn add_adapter(&self, config: Config) -> Result<Adapter, NDIS_STATUS> {
        let id = {
            let mut st = self.inner.lock();
            let id = st.adapters.next_id();
            let slot = AdapterSlot {
                id,
                handle: Box::new(0x4e41_0000 + id as u64),
                context: 0,
                config,
                phase: Phase::Initializing,
                registered: false,
                registration: RegistrationAttributes::default(),
                general: None,
                qos: None,
                vmq: crate::vmq::Model::default(),
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
            st.adapters.add(slot);
            id
        };
        self.initialize(id).map(|()| Adapter(id))
    }

    /// `MiniportInitializeEx` for adapter slot `id` (new, or halted for a system sleep), at
    /// `PASSIVE_LEVEL`; the adapter is Paused afterwards, or Failed.
    #[allow(
        clippy::used_underscore_binding,
        reason = "_init only keeps the parameters alive for the driver"
    )]
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
    ///
    /// # Errors
    /// The status `MiniportInitializeEx` or `MiniportRestart` returned.
    pub fn start_adapter(&self, config: Config) -> Result<Adapter, NDIS_STATUS> {
        let adapter = self.add_adapter(config)?;
        match self.restart(adapter) {
            NDIS_STATUS_SUCCESS => Ok(adapter),
            failure => Err(failure),
        }
    }

    #[must_use]
    /// Where `adapter` is in NDIS's state machine.
    pub fn adapter_phase(&self, adapter: Adapter) -> Phase {
        self.slot_call(adapter, |s| s.phase)
    }

    /// The general attributes the driver set in `MiniportInitializeEx`.
    #[must_use]
    pub fn attributes(&self, adapter: Adapter) -> Option<GeneralAttributes> {
        self.slot_call(adapter, |s| s.general.clone())
    }

    /// The NDIS QoS capabilities (hardware, current) the driver set in its hardware assist
    /// attributes, if it set any.
    #[must_use]
    pub fn qos_capabilities(
        &self,
        adapter: Adapter,
    ) -> Option<(NDIS_QOS_CAPABILITIES, NDIS_QOS_CAPABILITIES)> {
        self.slot_call(adapter, |s| s.qos)
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

    /// `MiniportPause` at `PASSIVE_LEVEL`; waits for `NdisMPauseComplete` if it pends. Returns the
    /// status it returned (pause can only succeed or pend).
    pub fn pause(&self, adapter: Adapter) -> NDIS_STATUS {
        let status = self.start_pause(adapter);
        if status == NDIS_STATUS_PENDING {
            self.wait_pause(adapter);
        }
        status
    }

    /// `MiniportPause` at `PASSIVE_LEVEL`, without waiting if it pends: the adapter stays Pausing
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

    /// `MiniportRestart` at `PASSIVE_LEVEL`; waits for `NdisMRestartComplete` if it pends. Returns the
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

    /// `MiniportResetEx` at `DISPATCH_LEVEL` (the upper bound of its documented IRQL); waits for
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

    /// `MiniportCancelSend(cancel_id)` at `DISPATCH_LEVEL` (the upper bound of its IRQL), as NDIS calls
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
    /// with its `RequestId` (at `DISPATCH_LEVEL`) and the host waits for the completion, which should
    /// carry `NDIS_STATUS_REQUEST_ABORTED`.
    pub fn oid_cancelled(&self, adapter: Adapter, request: OidRequest) -> OidResult {
        self.slot_call(adapter, |s| s.cancel_pending_oid = true);
        let result = self.oid(adapter, request);
        self.slot_call(adapter, |s| s.cancel_pending_oid = false);
        result
    }

    /// `MiniportCancelOidRequest` for the request in progress, at `DISPATCH_LEVEL`.
    pub(super) fn cancel_oid(&self, adapter: Adapter, request_id: PVOID) {
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

    /// `MiniportCheckForHangEx` at `PASSIVE_LEVEL` (false if the driver has none).
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

    /// `MiniportDevicePnPEventNotify` at `PASSIVE_LEVEL`.
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

    /// A surprise removal as NDIS runs it: the `PnP` event, a pause, then halt with
    /// `NdisHaltDeviceSurpriseRemoved`.
    pub fn surprise_remove(&self, adapter: Adapter) {
        self.pnp_event(adapter, NdisDevicePnPEventSurpriseRemoved, &[]);
        if self.adapter_phase(adapter) == Phase::Running {
            self.pause(adapter);
        }
        self.halt(adapter, NdisHaltDeviceSurpriseRemoved);
    }

    /// `MiniportShutdownEx`: at `PASSIVE_LEVEL` for a power-off, at `HIGH_LEVEL` for a bug check.
    /// Returns whether NDIS called it: "starting with NDIS 6.30 miniports, NDIS will not invoke
    /// the miniport's `MiniportShutdownEx` handler during a `BugCheck` unless" the adapter set
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
                h(context as NDIS_HANDLE, action);
            });
        true
    }

    /// `MiniportHaltEx` at `PASSIVE_LEVEL` on a paused adapter; afterwards nothing may be outstanding and
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
}
