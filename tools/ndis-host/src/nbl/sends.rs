//! The host's own NBLs, built as a protocol builds its sends: frames in MDLs of the shapes
//! `SendOptions` asks for, offload information, cancel identifiers, and reuse of completed NBLs.

use super::*;

/// How the host lays out a send.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// `NET_BUFFERs` per `NET_BUFFER_LIST` (frames are grouped in order).
    pub nbs_per_nbl: usize,
    /// Split each frame's data into MDLs of at most this many bytes (`None`: one MDL per frame).
    pub mdl_split: Option<usize>,
    /// Send at `DISPATCH_LEVEL` (with `NDIS_SEND_FLAGS_DISPATCH_LEVEL`) instead of `PASSIVE_LEVEL`.
    pub dispatch: bool,
    /// Bytes of unused space before each frame's data in its first MDL (`DataOffset`).
    pub data_offset: usize,
    /// The cancel identifier every NBL carries (`NDIS_SET_NET_BUFFER_LIST_CANCEL_ID`), for
    /// [`crate::Host::cancel_send`]; `None` leaves it NULL.
    pub cancel_id: Option<usize>,
    /// `LSOv2` information every NBL carries (`TcpLargeSendNetBufferListInfo`); with it, each NBL
    /// must carry one frame, as TCP/IP's large sends do.
    pub large_send: Option<LargeSend>,
    /// The `Transmit` bits of `TcpIpChecksumNetBufferListInfo` (`CHECKSUM_TX_*`) every NBL
    /// carries; 0 asks for nothing.
    pub checksum: u32,
    /// The `NDIS_NET_BUFFER_LIST_8021Q_INFO` every NBL carries: `UserPriority` and `VlanId`
    /// (zeros: none).
    pub ieee8021q: (u8, u16),
    /// The MDLs describe locked pages not mapped to system space (`MdlFlags` without
    /// `MDL_MAPPED_TO_SYSTEM_VA` or `MDL_SOURCE_IS_NONPAGED_POOL`, `MappedSystemVa` garbage): the
    /// driver must map them (`MmGetSystemAddressForMdlSafe`), as it must for a protocol's buffers
    /// in Windows.
    pub unmapped_mdls: bool,
}

/// `LsoV2Transmit` of `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargeSend {
    /// `MSS` (20 bits).
    pub mss: u32,
    /// `TcpHeaderOffset` (10 bits): the TCP header's offset from the frame's start.
    pub tcp_header_offset: u32,
    /// `IPVersion`: `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6` when true.
    pub ipv6: bool,
}

impl LargeSend {
    /// The pointer-sized value TCP/IP stores.
    #[must_use]
    pub fn value(&self) -> usize {
        let ip = if self.ipv6 {
            NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6
        } else {
            NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4
        };
        ((self.mss & LSO_MSS_MASK)
            | ((self.tcp_header_offset & LSO_TCP_HEADER_OFFSET_MASK) << LSO_TCP_HEADER_OFFSET_SHIFT)
            | (NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE << LSO_TYPE_SHIFT)
            | (ip << LSO_IP_VERSION_SHIFT)) as usize
    }
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            nbs_per_nbl: 1,
            mdl_split: None,
            dispatch: true,
            data_offset: 0,
            cancel_id: None,
            large_send: None,
            checksum: 0,
            ieee8021q: (0, 0),
            unmapped_mdls: false,
        }
    }
}

/// Builds a chain of host NBLs carrying `frames`, tracked as sent to `adapter`. Returns the head.
pub(crate) fn build_chain(
    st: &mut State,
    adapter: usize,
    frames: &[&[u8]],
    options: SendOptions,
) -> PNET_BUFFER_LIST {
    let per = options.nbs_per_nbl.max(1);
    let mut head: PNET_BUFFER_LIST = std::ptr::null_mut();
    let mut tail: PNET_BUFFER_LIST = std::ptr::null_mut();
    let mut link = |nbl: PNET_BUFFER_LIST| {
        if tail.is_null() {
            head = nbl;
        } else {
            // SAFETY: host-owned NBL chain under construction.
            unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(tail, nbl) };
        }
        tail = nbl;
    };
    if per == 1 && options.mdl_split.is_none() {
        for frame in frames {
            let (slot, nbl, mdl) = spare_with(st, options.data_offset, frame);
            set_cancel_id(nbl, options.cancel_id);
            set_offload_info(nbl, &options);
            if options.unmapped_mdls {
                unmap(mdl);
            }
            let id = st.nbls.next_frame;
            st.nbls.next_frame += 1;
            let sent = Sent::new(adapter, id..id + 1, &options, Vec::new());
            st.nbls.sent.occupy(slot, nbl as usize, sent);
            link(nbl);
        }
        return head;
    }
    for group in frames.chunks(per) {
        st.nbls.protocol.allocated += 1;
        let nbl = raw_alloc(size_of::<NET_BUFFER_LIST>(), 0).cast::<NET_BUFFER_LIST>();
        let mut memory = vec![(nbl as usize, size_of::<NET_BUFFER_LIST>())];
        let first_id = st.nbls.next_frame;
        let mut previous_nb: PNET_BUFFER = std::ptr::null_mut();
        for frame in group {
            let total = options.data_offset + frame.len();
            let buffer = raw_alloc(total, 0);
            let at = buffer.wrapping_add(options.data_offset);
            // SAFETY: `buffer` has `total` bytes; the frame goes after the offset.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len()) };
            memory.push((buffer as usize, total));
            let chunk = options.mdl_split.unwrap_or(total).max(1);
            let mut first_mdl: PMDL = std::ptr::null_mut();
            let mut last_mdl: PMDL = std::ptr::null_mut();
            let mut at = 0;
            while at < total.max(1) {
                let len = chunk.min(total - at);
                let mdl = make_mdl(buffer.wrapping_add(at).cast(), len as u32);
                if options.unmapped_mdls {
                    unmap(mdl);
                }
                memory.push((mdl as usize, size_of::<MDL>()));
                if last_mdl.is_null() {
                    first_mdl = mdl;
                } else {
                    // SAFETY: `last_mdl` is this frame's previous MDL, host-owned.
                    unsafe { (*last_mdl).Next = mdl };
                }
                last_mdl = mdl;
                at += len.max(1);
            }
            let nb = new_nb(HOST_POOL, first_mdl, options.data_offset as u32, frame.len());
            memory.push((nb as usize, size_of::<NET_BUFFER>()));
            if previous_nb.is_null() {
                // SAFETY: the host's NBL, linked before it is handed out.
                unsafe { &mut *nbl }.NetBufferListHeader.data_mut().FirstNetBuffer = nb;
            } else {
                // SAFETY: the host's previous NB of this NBL, linked before it is handed out.
                unsafe { &mut *previous_nb }.NetBufferHeader.data_mut().Next = nb;
            }
            previous_nb = nb;
            st.nbls.next_frame += 1;
        }
        // SAFETY: host-owned NBL.
        unsafe { (*nbl).NdisPoolHandle = HOST_POOL as NDIS_HANDLE };
        set_cancel_id(nbl, options.cancel_id);
        set_offload_info(nbl, &options);
        let sent = Sent::new(adapter, first_id..st.nbls.next_frame, &options, memory);
        st.nbls.sent.insert(nbl as usize, sent);
        link(nbl);
    }
    head
}

impl Sent {
    /// A send to `adapter` of the frames `frames`, inside its send call, not completed yet.
    fn new(adapter: usize, frames: Range<u64>, options: &SendOptions, blocks: Vec<(usize, usize)>) -> Self {
        Self {
            adapter,
            completed: None,
            in_call: true,
            frames,
            large_send: options.large_send.is_some(),
            blocks,
        }
    }
}

/// Marks a host NBL being built with the sender's offload requests and 802.1Q information.
pub(super) fn set_offload_info(nbl: PNET_BUFFER_LIST, options: &SendOptions) {
    if options.ieee8021q != (0, 0) {
        let (priority, vlan) = options.ieee8021q;
        let value = ieee8021q_value(priority, vlan);
        // SAFETY: a host NBL under construction, not handed out yet.
        unsafe { NET_BUFFER_LIST_SET_INFO(nbl, Ieee8021QNetBufferListInfo, value as PVOID) };
    }
    if options.large_send.is_none() && options.checksum == 0 {
        // The NBL is zeroed (new or rewritten for reuse): nothing is asked for already.
        return;
    }
    let lso = options.large_send.map_or(0, |l| l.value());
    // SAFETY: a host NBL under construction, not handed out yet.
    unsafe { NET_BUFFER_LIST_SET_INFO(nbl, TcpLargeSendNetBufferListInfo, lso as PVOID) };
    // SAFETY: as above.
    unsafe {
        NET_BUFFER_LIST_SET_INFO(
            nbl,
            TcpIpChecksumNetBufferListInfo,
            options.checksum as usize as PVOID,
        );
    };
}

/// Makes a host MDL look like a protocol's MDL of locked pages not mapped to system space.
pub(super) fn unmap(mdl: PMDL) {
    // SAFETY: a host MDL under construction, not handed out yet.
    let m = unsafe { &mut *mdl };
    m.MdlFlags = MDL_PAGES_LOCKED;
    m.MappedSystemVa = UNMAPPED as PVOID;
}

/// Marks a host NBL being built with the sender's cancel identifier.
pub(super) fn set_cancel_id(nbl: PNET_BUFFER_LIST, id: Option<usize>) {
    if let Some(id) = id {
        // SAFETY: a host NBL under construction, not handed out yet.
        unsafe { NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(nbl, id as PVOID) };
    }
}

/// A host NBL of the common layout carrying `frame` after `data_offset` zero bytes, in a slot of
/// the sent table that keeps one of the right size class (reused if one is free, else new):
/// (slot, NBL, MDL). With the verifier on, every field is as a fresh zeroed allocation plus the
/// description of this frame (a driver that reads a field it did not set sees zero, every time).
/// Without it, a reused NBL is reinitialised as a protocol reinitialises the NBLs it caches: the
/// links, the status, the miniport's scratch and the information the host sets.
pub(super) fn spare_with(
    st: &mut State,
    data_offset: usize,
    frame: &[u8],
) -> (usize, PNET_BUFFER_LIST, PMDL) {
    let total = data_offset + frame.len();
    let whole = st.findings.per_object();
    let (slot, spare, reused) = st.nbls.sent.spare_slot(capacity_class(total));
    let (nbl, nb, mdl, buffer) = (spare.nbl, spare.nb, spare.mdl, spare.buffer);
    if reused {
        st.nbls.protocol.reused += 1;
    } else {
        st.nbls.protocol.allocated += 1;
    }
    // The spare's blocks are host memory no one else uses (new, or released after its completion
    // was checked): `buffer` has `capacity >= total` bytes, the others their types' sizes.
    if data_offset > 0 {
        // SAFETY: the offset's bytes are inside the host's buffer (above).
        unsafe { buffer.write_bytes(0, data_offset) };
    }
    let at = buffer.wrapping_add(data_offset);
    // SAFETY: as above; the frame goes after the offset, inside the buffer.
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len()) };
    init_mdl(mdl, buffer.cast(), total as UINT);
    let fresh = whole || !reused;
    if fresh {
        // The slot's NB is host memory no other code reaches until this send hands it out (new,
        // or released after its completion was checked); the state lock is held.
        // SAFETY: that NB, exclusively ours; all zeros is a valid NET_BUFFER (integers, pointers).
        unsafe { nb.write_bytes(0, 1) };
        // SAFETY: the slot's NBL, owned and valid as the NB above; all zeros is a valid NBL.
        unsafe { nbl.write_bytes(0, 1) };
    }
    describe(nb, mdl, data_offset as ULONG, frame.len());
    // The slot's NB, the host's alone until the send hands it out (see above).
    // SAFETY: valid and exclusively ours; no other reference to it is live while this one is.
    let b = unsafe { &mut *nb };
    // SAFETY: the slot's NBL, the host's alone until the send hands it out; the only reference.
    let l = unsafe { &mut *nbl };
    if !fresh {
        // What a driver may have changed on the NBL's last trip, and the information the host
        // sets: as a protocol reinitialises the NBLs it caches.
        b.NetBufferHeader.data_mut().Next = std::ptr::null_mut();
        b.MiniportReserved.0 = [std::ptr::null_mut(); 4];
        l.NetBufferListHeader.data_mut().Next = std::ptr::null_mut();
        l.MiniportReserved.0 = [std::ptr::null_mut(); 2];
        l.Status = NDIS_STATUS_SUCCESS;
        for info in [
            TcpIpChecksumNetBufferListInfo,
            TcpLargeSendNetBufferListInfo,
            Ieee8021QNetBufferListInfo,
            NetBufferListCancelId,
        ] {
            l.NetBufferListInfo[info as usize] = std::ptr::null_mut();
        }
    }
    b.NdisPoolHandle = HOST_POOL as NDIS_HANDLE;
    l.NdisPoolHandle = HOST_POOL as NDIS_HANDLE;
    l.NetBufferListHeader.data_mut().FirstNetBuffer = nb;
    (slot, nbl, mdl)
}

/// Frees a spare's blocks.
pub(super) fn free_spare(spare: &Spare) {
    raw_free(spare.nbl as usize, size_of::<NET_BUFFER_LIST>());
    raw_free(spare.nb as usize, size_of::<NET_BUFFER>());
    raw_free(spare.mdl as usize, size_of::<MDL>());
    raw_free(spare.buffer as usize, spare.capacity);
}

/// Poisons what a miniport must not touch once it completed an NBL.
pub(crate) fn poison_completed(nbl: PNET_BUFFER_LIST) {
    // SAFETY: the protocol (host) owns the NBL again after completion.
    let nbl = unsafe { &mut *nbl };
    nbl.NetBufferListHeader.data_mut().Next = COMPLETED_WORD as PNET_BUFFER_LIST;
    nbl.MiniportReserved.0 = [COMPLETED_WORD as PVOID; 2];
}

/// Whether a completed NBL's poison is intact.
pub(crate) fn poison_intact(nbl: usize) -> bool {
    let nbl = nbl as PNET_BUFFER_LIST;
    // SAFETY: a completed host NBL, still allocated (freed only by `release_sent`).
    let nbl = unsafe { &*nbl };
    nbl.NetBufferListHeader.data().Next as usize == COMPLETED_WORD
        && nbl
            .MiniportReserved
            .0
            .iter()
            .all(|p| *p as usize == COMPLETED_WORD)
}

/// Frame ids as a list, for reports (`[3, 4]`).
pub(crate) fn listed(frames: &Range<u64>) -> Vec<u64> {
    frames.clone().collect()
}

/// Frees a completed host NBL after checking nothing wrote to it since completion.
pub(crate) fn release_sent(st: &mut State, nbl: usize) {
    if st.findings.per_object()
        && let Some(sent) = st.nbls.sent.get(nbl)
        && sent.completed.is_some()
        && !poison_intact(nbl)
    {
        let (adapter, frames) = (sent.adapter, listed(&sent.frames));
        st.violate(
            Rule::NblTouchedAfterCompletion,
            "NdisMSendNetBufferListsComplete",
            Some(adapter),
            format!("NBL {nbl:#x} (frames {frames:?}) was written after the driver completed it"),
        );
    }
    if let Some(blocks) = st.nbls.sent.remove(nbl)
        && !blocks.is_empty()
    {
        for &(address, size) in &blocks {
            raw_free(address, size);
        }
    }
}

/// At the end of a run: releases the host's NBLs (checking completed ones) and what the driver left.
pub(crate) fn release_all(st: &mut State) {
    let sent: Vec<usize> = st.nbls.sent.keys().collect();
    for nbl in sent {
        release_sent(st, nbl);
    }
    st.nbls.sent.free_spares();
    let contexts: Vec<(usize, usize)> = st.nbls.contexts.drain().map(|(_, c)| c).collect();
    for (address, size) in contexts {
        raw_free(address, size);
    }
    crate::timer::release_all(st);
}
