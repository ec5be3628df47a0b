//! The harness's datapath: sends as a protocol makes them, what the driver completed and
//! indicated, and returning indicated NBLs.

use super::*;

impl Host {
    /// Sends `frames` to the adapter as a protocol would: an NBL chain (laid out per `options`) given
    /// to `MiniportSendNetBufferLists` from this thread's CPU. Returns the frame ids, or `None` if
    /// NDIS would not send now: while the adapter initializes, restarts or resets, while the system
    /// sleeps, and after it halted (or failed to initialize). A pausing or paused adapter does get the send (a
    /// protocol's send can race a pause): the driver must complete it at once with
    /// `NDIS_STATUS_PAUSED` (`MiniportPause`'s page), which the host checks when the call returns.
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
                send(context as NDIS_HANDLE, head, NDIS_DEFAULT_PORT_NUMBER, flags);
            });
        self.after_send(adapter, &nbls, &ids, while_paused, restarts);
        self.inner.notify();
        Some(ids)
    }

    /// After a send call returned: what the driver still holds of it must be a send it may hold.
    /// `MiniportPause`'s page: a pausing or paused miniport completes new sends at once with
    /// `NDIS_STATUS_PAUSED`, and a pause completes only when every send is completed. So an NBL still
    /// held is wrong if the adapter is paused now, or if it was sent while the adapter paused and no
    /// restart began since; and a send made while paused must complete with `NDIS_STATUS_PAUSED`.
    pub(super) fn after_send(
        &self,
        adapter: Adapter,
        nbls: &[usize],
        ids: &[u64],
        while_paused: bool,
        restarts: u64,
    ) {
        let mut st = self.inner.lock();
        let (phase, restarted) = {
            let slot = &mut st.adapters[adapter.0];
            slot.sends_in_transit -= 1;
            (slot.phase, slot.restarts != restarts)
        };
        let mut held = Vec::new();
        let mut wrong = Vec::new();
        let mut done = Vec::with_capacity(if st.findings.per_object() { 0 } else { nbls.len() });
        let ours = ids[0]..=ids[ids.len() - 1];
        for nbl in nbls {
            // The host reuses a completed NBL once its completion was checked: an address whose
            // frames are not this send's was completed and has carried another send since.
            let Some(sent) = st
                .nbls
                .sent
                .get_mut(*nbl)
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
            if sent.completed.is_some() && !st.findings.per_object() {
                done.push(*nbl);
            }
        }
        // Without the verifier, an NBL completed during its own send call is reused now (its
        // completion left it to this check).
        for nbl in done {
            crate::nbl::release_sent(&mut st, nbl);
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
        // The next batch starts at this one's size: a long run does not grow a vector from
        // nothing (a reallocation every doubling) for every batch it takes.
        self.slot_call(adapter, |s| {
            let room = s.completions.len();
            std::mem::replace(&mut s.completions, Vec::with_capacity(room))
        })
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
    /// `DISPATCH_LEVEL` (deferred return mode).
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
