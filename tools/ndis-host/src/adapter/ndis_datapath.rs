//! The datapath exports: `NdisMSendNetBufferListsComplete` and
//! `NdisMIndicateReceiveNetBufferLists`, with the ownership and IRQL rules of their pages.

use super::*;

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
    // The phase first: only a paused or halted adapter's completions need the scan.
    let stopped = matches!(phase, Phase::Paused | Phase::Halted | Phase::Failed);
    let late = || {
        nbls.iter()
            .any(|nbl| !st.nbls.sent.get(*nbl).is_some_and(|s| s.in_call))
    };
    if stopped && late() {
        st.violate(
            Rule::ActivityWhilePaused,
            API,
            Some(adapter),
            format!("send completion while the adapter is {phase:?}"),
        );
    }
    let mut lso_incomplete = Vec::new();
    for nbl in nbls {
        // Whether its send call is still running (it is then released when the call returns).
        let mut in_call = false;
        let verdict = match st.nbls.sent.get_mut(nbl) {
            Some(sent) if sent.adapter == adapter && sent.completed.is_none() => {
                in_call = sent.in_call;
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
                let slot = &mut st.adapters[adapter];
                slot.sends_outstanding -= 1;
                slot.completed_count += 1;
                slot.completions.push(completion);
                if st.findings.per_object() {
                    poison_completed(nbl as PNET_BUFFER_LIST);
                    if let Some(old) = st.nbls.keep_completed(nbl) {
                        crate::nbl::release_sent(&mut st, old);
                    }
                } else if !in_call {
                    // Without the verifier nothing is kept to catch late writes: the NBL is
                    // reused at once (once its send call returned and was checked).
                    crate::nbl::release_sent(&mut st, nbl);
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
    let mut held = Vec::with_capacity(nbls.len());
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
        // Each NBL's out-of-band information, read once: the queue check and the offload rules.
        let infos: Vec<crate::offload::ReceiveInfo> = nbls
            .iter()
            .map(|&nbl| crate::offload::ReceiveInfo::of(nbl as PNET_BUFFER_LIST))
            .collect();
        let queues = infos.iter().map(|i| i.queue.0);
        if let Err(why) = crate::vmq::check_receive(&st.adapters[adapter].vmq, queues) {
            st.violate(Rule::ReceiveQueue, API, Some(adapter), why);
        }
        let capture = host.config.capture_frames;
        let sink = st.adapters[adapter].sink.clone();
        let writer = st.adapters[adapter].writer.clone();
        for (&nbl, &info) in nbls.iter().zip(&infos) {
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
            if st.findings.per_object() && crate::nbl::indicated_by(nbl).is_some() {
                st.violate(
                    Rule::NblIndicatedTwice,
                    API,
                    Some(adapter),
                    format!("NBL {nbl:#x} indicated again before the protocol returned it"),
                );
                continue;
            }
            if info.has_offload() {
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
                            let frame = Received {
                                frame,
                                info,
                                cpu: crate::irql::current_cpu(),
                            };
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
                if st.findings.per_object() {
                    crate::nbl::hold_indicated(nbl, adapter);
                }
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
