//! The harness's OID requests: issued as NDIS issues them, the ones NDIS answers itself, and the
//! checks of the driver's answers (statistics, offload configuration).

use super::*;

impl Host {
    /// Issues an OID request (one at a time per adapter, as NDIS does) at the host's OID IRQL and
    /// waits for its completion if it pends.
    #[allow(
        clippy::too_many_lines,
        reason = "NDIS's request protocol, step by step: issue, pend, cancel, complete, check"
    )]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the request is given away, as a protocol gives NDIS its request"
    )]
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
        let before = self.slot_call(adapter, |s| {
            crate::vmq::before_request(&mut s.vmq, oid_of(&request), &input)
        });
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
        if status == NDIS_STATUS_PENDING && oid_of(&request) == OID_RECEIVE_FILTER_FREE_QUEUE {
            // A virtual switch goes on returning what it holds while its free request pends.
            self.slot_call(adapter, |s| s.vmq.frees_pended += 1);
            self.return_indicated(adapter);
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
        let changed = self.slot_call(adapter, |s| {
            crate::vmq::after_request(
                &mut s.vmq,
                oid_of(&request),
                (&input, &all[..buffer_len]),
                status,
                before,
            )
        });
        if let Err(why) = changed {
            self.inner
                .violate(Rule::ReceiveQueue, "MiniportOidRequest", Some(adapter.0), why);
        }
        if oid_of(&request) == OID_RECEIVE_FILTER_FREE_QUEUE && status == NDIS_STATUS_SUCCESS {
            self.check_freed_queue(adapter, &input);
        }
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
                    });
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
    pub(super) fn answered_by_ndis(&self, adapter: Adapter, request: &OidRequest) -> Option<OidResult> {
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
        if oid == OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES || oid == OID_RECEIVE_FILTER_CURRENT_CAPABILITIES {
            return Some(self.receive_filter_answer(adapter, oid, buffer_len));
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
    pub(super) fn offload_set(&self, adapter: Adapter, oid: NDIS_OID, data: &[u8], indications_before: u64) {
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
    /// (the last set; a protocol "can issue an `OID_OFFLOAD_ENCAPSULATION` query only after setting"
    /// it, so before that the host fails it). `NOT_SUPPORTED` for an adapter without offloads.
    pub(super) fn offload_answer(&self, adapter: Adapter, oid: NDIS_OID, buffer_len: usize) -> OidResult {
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
    pub(super) fn check_statistics(&self, adapter: Adapter, data: &[u8]) {
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

    /// A freed queue has no frame left with the protocol ("Waits for all outstanding
    /// `NET_BUFFER_LIST` structures, which are associated with the queue, to be returned").
    fn check_freed_queue(&self, adapter: Adapter, input: &[u8]) {
        let id = input.get(8..10).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
        let held = self.slot_call(adapter, |s| {
            s.held
                .iter()
                .filter(|&&nbl| crate::offload::ReceiveInfo::of(nbl as PNET_BUFFER_LIST).queue.0 == id)
                .count()
        });
        if held > 0 {
            self.inner.violate(
                Rule::ReceiveQueue,
                "MiniportOidRequest",
                Some(adapter.0),
                format!(
                    "OID_RECEIVE_FILTER_FREE_QUEUE of queue {id} completed with {held} of its NBLs still held"
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
}
