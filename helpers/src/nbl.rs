//! Owned `NET_BUFFER_LIST`s: the only place the datapath touches NBL, `NET_BUFFER` and MDL pointers.
//!
//! NDIS hands the driver chains of NBLs it owns until it completes them (sends) and takes back
//! chains it indicated until the protocol returns them (receives). [`Nbl`] is that ownership as a
//! value: made once from a raw pointer by whoever received it, unlinked from its chain, and turned
//! back into a pointer only to give it away again. Everything else here is safe to call.

use core::ptr::{NonNull, null_mut};

use ndis::{NDIS_STATUS, NET_BUFFER_DATA_LENGTH, NET_BUFFER_LIST, PNET_BUFFER, PNET_BUFFER_LIST};

use crate::ring::{Linked, Mailbox};

/// One NBL this driver owns right now. `Send`: ownership moves between CPUs with it.
#[derive(Debug)]
pub struct Nbl(NonNull<ndis::NET_BUFFER_LIST>);

// SAFETY: an owned NBL is plain memory NDIS lent to whichever thread holds this value.
unsafe impl Send for Nbl {}

impl Nbl {
    /// Takes ownership of `nbl` (unlinking nothing; see [`Chain::split`] for received chains).
    ///
    /// # Safety
    /// `nbl` is a live NBL that NDIS gave this driver (or that the driver allocated) and that no
    /// other `Nbl` value owns.
    #[must_use]
    pub unsafe fn from_raw(nbl: PNET_BUFFER_LIST) -> Option<Self> {
        NonNull::new(nbl).map(Self)
    }

    /// Gives ownership away as a pointer (to NDIS, or into a ring that stores pointers).
    #[must_use]
    #[inline]
    pub fn into_raw(self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }

    /// The NBL's address (for comparisons; ownership stays with `self`).
    #[must_use]
    #[inline]
    pub fn as_ptr(&self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }

    /// Sets the NBL's completion status (`NET_BUFFER_LIST.Status`).
    #[inline]
    pub fn set_status(&mut self, status: NDIS_STATUS) {
        // SAFETY: owned by `self` (type invariant); any IRQL.
        unsafe { ndis::NET_BUFFER_LIST_SET_STATUS(self.0.as_ptr(), status) };
    }

    /// The cancel identifier the sender marked this NBL with (0: none).
    #[must_use]
    #[inline]
    pub fn cancel_id(&self) -> usize {
        // SAFETY: owned by `self`; a plain read of an out-of-band field the sender set.
        unsafe { ndis::NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(self.0.as_ptr()) as usize }
    }

    /// The first pointer-sized word of `MiniportReserved` (the driver's own field).
    #[must_use]
    #[inline]
    pub fn reserved(&self) -> usize {
        // SAFETY: owned by `self`; a plain read of a field the miniport owns.
        unsafe { (*self.0.as_ptr()).MiniportReserved.0[0] as usize }
    }

    /// Sets the miniport's word of the NBL (`MiniportReserved[0]`).
    #[inline]
    pub fn set_reserved(&mut self, value: usize) {
        // SAFETY: owned by `self`; a plain write of a field the miniport owns.
        unsafe { (*self.0.as_ptr()).MiniportReserved.0[0] = value as *mut core::ffi::c_void };
    }

    #[inline]
    fn info(&self, id: ndis::NDIS_NET_BUFFER_LIST_INFO) -> usize {
        // SAFETY: owned by `self`; a plain read of one out-of-band value.
        unsafe { ndis::NET_BUFFER_LIST_INFO(self.0.as_ptr(), id) as usize }
    }

    #[inline]
    fn set_info(&mut self, id: ndis::NDIS_NET_BUFFER_LIST_INFO, value: usize) {
        // SAFETY: owned by `self`; a plain write of one out-of-band value.
        unsafe { ndis::NET_BUFFER_LIST_SET_INFO(self.0.as_ptr(), id, value as *mut core::ffi::c_void) };
    }

    /// What the sender asked of large-send offload (`TcpLargeSendNetBufferListInfo`).
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the information is a ULONG stored in a pointer-sized slot"
    )]
    #[inline]
    pub fn large_send(&self) -> LargeSendRequest {
        let value = self.info(ndis::TcpLargeSendNetBufferListInfo) as u32;
        if value == 0 {
            return LargeSendRequest::None;
        }
        if (value >> ndis::LSO_TYPE_SHIFT) & 1 != ndis::NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE {
            return LargeSendRequest::V1;
        }
        LargeSendRequest::V2 {
            mss: value & ndis::LSO_MSS_MASK,
            tcp_offset: (value >> ndis::LSO_TCP_HEADER_OFFSET_SHIFT) & ndis::LSO_TCP_HEADER_OFFSET_MASK,
        }
    }

    /// Sets `LsoV2TransmitComplete` before completion: `Reserved` zero, `Type`
    /// `NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE` (the LSO page).
    #[inline]
    pub fn set_large_send_complete(&mut self) {
        let value = (ndis::NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE << ndis::LSO_TYPE_SHIFT) as usize;
        self.set_info(ndis::TcpLargeSendNetBufferListInfo, value);
    }

    /// The `Transmit` checksum bits the sender set (`TcpIpChecksumNetBufferListInfo`, `CHECKSUM_TX_*`).
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the information is a ULONG stored in a pointer-sized slot"
    )]
    #[inline]
    pub fn checksum_request(&self) -> u32 {
        self.info(ndis::TcpIpChecksumNetBufferListInfo) as u32
    }

    /// Sets what a receive indication says about offloads: the `Receive` checksum bits
    /// (`CHECKSUM_RX_*`), and for a coalesced unit its segment count (`NDIS_RSC_NBL_INFO`, no
    /// duplicate ACKs) and timestamp delta (zero: every segment of one large send carries the
    /// same timestamp). Zeros say nothing was checked or coalesced.
    #[inline]
    pub fn set_receive_offload(&mut self, checksum: u32, coalesced: u16) {
        self.set_info(ndis::TcpIpChecksumNetBufferListInfo, checksum as usize);
        self.set_info(ndis::TcpRecvSegCoalesceInfo, ndis::rsc_nbl_value(coalesced, 0));
        self.set_info(ndis::RscTcpTimestampDelta, 0);
    }

    /// The 802.1Q information the sender attached (`Ieee8021QNetBufferListInfo`): its
    /// `UserPriority` and `VlanId`, both zero when it attached none.
    #[must_use]
    #[inline]
    pub fn ieee8021q(&self) -> (u8, u16) {
        ndis::ieee8021q_fields(self.info(ndis::Ieee8021QNetBufferListInfo))
    }

    /// Sets the 802.1Q information a receive indication carries out of band (zeros: none): a
    /// miniport that strips the tag "must ... map the 802.1Q tag information into the
    /// `NDIS_NET_BUFFER_LIST_8021Q_INFO` OOB data" (that structure's page).
    #[inline]
    pub fn set_ieee8021q(&mut self, priority: u8, vlan_id: u16) {
        self.set_info(
            ndis::Ieee8021QNetBufferListInfo,
            ndis::ieee8021q_value(priority, vlan_id),
        );
    }

    /// Sets the RSS hash a receive indication carries (`NetBufferListHashValue`, and
    /// `NetBufferListHashInfo`: the hash type and function, `NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC`).
    /// Zeros say no hash was computed.
    #[inline]
    pub fn set_hash(&mut self, value: u32, info: u32) {
        self.set_info(ndis::NetBufferListHashValue, value as usize);
        self.set_info(ndis::NetBufferListHashInfo, info as usize);
    }

    /// The RSS hash value and information set on this NBL ([`Self::set_hash`]).
    #[must_use]
    #[inline]
    pub fn hash(&self) -> (u32, u32) {
        // Both were written from a u32 (`set_hash`): the upper bits are zero.
        let low = |id| u32::try_from(self.info(id) & 0xffff_ffff).unwrap_or(0);
        (
            low(ndis::NetBufferListHashValue),
            low(ndis::NetBufferListHashInfo),
        )
    }

    /// Sets the receive queue (and filter) a receive indication came from
    /// (`NetBufferListFilteringInfo`, `NET_BUFFER_LIST_RECEIVE_QUEUE_ID`): zeros for the default
    /// queue.
    #[inline]
    pub fn set_receive_queue(&mut self, queue: u16, filter: u16) {
        self.set_info(
            ndis::NetBufferListFilteringInfo,
            ndis::filtering_info(filter, queue),
        );
    }

    /// The receive queue set on this NBL ([`Self::set_receive_queue`]).
    #[must_use]
    #[inline]
    pub fn receive_queue(&self) -> u16 {
        ndis::filtering_queue(self.info(ndis::NetBufferListFilteringInfo))
    }

    /// The `NET_BUFFER`s (frames) of this NBL, in order.
    #[must_use]
    #[inline]
    pub fn frames(&self) -> Frames<'_> {
        // SAFETY: owned by `self`; the NB chain belongs to the NBL.
        let first = unsafe { ndis::NET_BUFFER_LIST_FIRST_NB(self.0.as_ptr()) };
        Frames {
            next: first,
            _nbl: self,
        }
    }

    /// How many frames the NBL carries.
    #[must_use]
    #[inline]
    pub fn frame_count(&self) -> usize {
        self.frames().count()
    }
}

/// A send's `TcpLargeSendNetBufferListInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargeSendRequest {
    /// Zero: not a large send.
    None,
    /// `LSOv1`, which rvnic does not offer.
    V1,
    /// `LSOv2` with the sender's MSS and TCP header offset.
    V2 {
        /// The largest TCP payload of one segment.
        mss: u32,
        /// Where the TCP header starts, in bytes from the start of the frame.
        tcp_offset: u32,
    },
}

/// An iterator over the `NET_BUFFER`s of an owned NBL.
#[derive(Debug)]
pub struct Frames<'n> {
    next: PNET_BUFFER,
    _nbl: &'n Nbl,
}

impl<'n> Iterator for Frames<'n> {
    type Item = NetBuffer<'n>;
    fn next(&mut self) -> Option<NetBuffer<'n>> {
        let nb = NonNull::new(self.next)?;
        // SAFETY: an NB of the NBL borrowed for `'n`, which the driver owns.
        self.next = unsafe { ndis::NET_BUFFER_NEXT_NB(nb.as_ptr()) };
        Some(NetBuffer {
            nb,
            _nbl: core::marker::PhantomData,
        })
    }
}

/// One frame of an owned NBL.
#[derive(Debug)]
pub struct NetBuffer<'n> {
    nb: NonNull<ndis::NET_BUFFER>,
    _nbl: core::marker::PhantomData<&'n Nbl>,
}

impl NetBuffer<'_> {
    /// The frame's length in bytes (`DataLength`).
    #[must_use]
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: the NB of an owned NBL, borrowed; a plain read.
        unsafe { ndis::NET_BUFFER_DATA_LENGTH(self.nb.as_ptr()) as usize }
    }

    #[must_use]
    /// Whether the frame has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame's first bytes as its first MDL holds them (mapped), at most the frame's length:
    /// the whole frame when one MDL holds it, as is usual, with no walk and no copy. `None` if
    /// the pages cannot be mapped (or there is no MDL).
    #[must_use]
    #[inline]
    pub fn first_piece(&self) -> Option<&[u8]> {
        self.reader().piece()
    }

    /// A reader of the frame's bytes from its start.
    #[must_use]
    #[inline]
    pub fn reader(&self) -> Reader<'_> {
        // SAFETY: the NB of an owned NBL, borrowed; plain reads.
        let data = unsafe { *self.nb.as_ref().NetBufferHeader.data() };
        Reader {
            mdl: data.CurrentMdl,
            offset: data.CurrentMdlOffset as usize,
            left: data.NbDataLength.get() as usize,
            _nb: core::marker::PhantomData,
        }
    }

    /// Copies the frame's first `out.len()` bytes (at most [`Self::len`]) into `out`, however its
    /// MDLs split it. Returns `false` (and leaves `out` unspecified) if the pages cannot be mapped.
    ///
    /// This walks the MDLs itself ([`Reader`]) rather than calling `NdisGetDataBuffer`: the
    /// bytes are copied either way, and the walk is inline where `NdisGetDataBuffer` is a call
    /// into NDIS for every frame.
    #[inline]
    pub fn copy_to(&self, out: &mut [u8]) -> bool {
        let len = out.len().min(self.len());
        self.reader().read(&mut out[..len])
    }
}

/// Reads a frame's bytes in order from its MDL chain, mapping each MDL's pages to system space if
/// they are not mapped yet (`MmGetSystemAddressForMdlSafe`): a send's MDLs may describe any
/// locked pages, not only non-paged pool.
#[derive(Debug)]
pub struct Reader<'n> {
    mdl: ndis::PMDL,
    /// Offset in the current MDL.
    offset: usize,
    /// Bytes of the frame not yet read.
    left: usize,
    _nb: core::marker::PhantomData<&'n Nbl>,
}

impl<'n> Reader<'n> {
    /// The current MDL's mapped bytes from `offset` on (at most what is left of the frame).
    #[inline]
    fn piece(&mut self) -> Option<&'n [u8]> {
        loop {
            let mdl = NonNull::new(self.mdl)?;
            // MDLs of a NET_BUFFER the driver owns; a plain read of the header.
            // SAFETY: a live MDL of the owned NB.
            let count = unsafe { mdl.as_ref() }.ByteCount as usize;
            if self.offset < count {
                // The MDL describes locked pages the sender lent with the NBL; IRQL <=
                // DISPATCH_LEVEL. NULL when the system cannot map them.
                // SAFETY: a live MDL of the owned NB.
                let va = unsafe {
                    ndis::MmGetSystemAddressForMdlSafe(
                        mdl.as_ptr(),
                        ndis::NormalPagePriority | ndis::MdlMappingNoExecute,
                    )
                };
                if va.is_null() {
                    return None;
                }
                let take = (count - self.offset).min(self.left);
                let start = va.cast::<u8>().wrapping_add(self.offset);
                // `offset + take <= ByteCount` bytes of the mapped buffer, which stays mapped and
                // unchanged while the driver owns the NBL (this borrow is shorter); any IRQL.
                // SAFETY: readable bytes of the sender's buffer, borrowed from the owned NBL.
                return Some(unsafe { core::slice::from_raw_parts(start, take) });
            }
            self.offset -= count;
            // SAFETY: as above; the link to the next MDL of the chain.
            self.mdl = unsafe { mdl.as_ref() }.Next;
        }
    }

    /// Skips `n` bytes; `false` if the frame is shorter.
    #[inline]
    pub fn skip(&mut self, n: usize) -> bool {
        if n > self.left {
            return false;
        }
        self.offset += n;
        self.left -= n;
        true
    }

    /// The next `N` bytes, or `None` if the frame ends first or a page cannot be mapped. When the
    /// current MDL holds all of them (a frame's first bytes almost always are), a fixed-size copy
    /// the compiler inlines.
    #[inline]
    pub fn read_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        // A page that cannot be mapped is not asked for again.
        if let Some(bytes) = self.piece()?.get(..N) {
            out.copy_from_slice(bytes);
            self.offset += N;
            self.left -= N;
            return Some(out);
        }
        self.read(&mut out).then_some(out)
    }

    /// Fills `out` with the next bytes; `false` if the frame ends first or a page cannot be mapped
    /// (`out` is then partly written).
    #[inline]
    pub fn read(&mut self, mut out: &mut [u8]) -> bool {
        while !out.is_empty() {
            let Some(piece) = self.piece() else {
                return false;
            };
            let n = piece.len().min(out.len());
            if n == 0 {
                return false;
            }
            out[..n].copy_from_slice(&piece[..n]);
            out = &mut out[n..];
            self.offset += n;
            self.left -= n;
        }
        true
    }
}

/// A chain of owned NBLs being built (for one completion or one indication): pushes at the tail.
#[derive(Debug)]
pub struct Chain {
    head: PNET_BUFFER_LIST,
    tail: PNET_BUFFER_LIST,
    len: usize,
}

// SAFETY: a chain owns its NBLs as `Nbl` does.
unsafe impl Send for Chain {}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    #[must_use]
    /// An empty chain.
    pub const fn new() -> Self {
        Self {
            head: null_mut(),
            tail: null_mut(),
            len: 0,
        }
    }

    #[must_use]
    /// The NBLs in the chain.
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    /// Whether the chain has no NBL.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `nbl` (unlinked from anything else) at the tail.
    #[inline]
    pub fn push(&mut self, nbl: Nbl) {
        let nbl = nbl.into_raw();
        // SAFETY: `nbl` is owned (it came from an `Nbl`); its link is ours to write.
        unsafe { ndis::NET_BUFFER_LIST_SET_NEXT_NBL(nbl, null_mut()) };
        if self.tail.is_null() {
            self.head = nbl;
        } else {
            // SAFETY: the tail is an NBL this chain owns.
            unsafe { ndis::NET_BUFFER_LIST_SET_NEXT_NBL(self.tail, nbl) };
        }
        self.tail = nbl;
        self.len += 1;
    }

    /// Gives the whole chain away: its head and length, for one NDIS call. The chain is empty after.
    #[must_use]
    #[inline]
    pub fn take(&mut self) -> Option<(PNET_BUFFER_LIST, usize)> {
        let taken = (!self.head.is_null()).then_some((self.head, self.len));
        *self = Self::new();
        taken
    }

    /// Takes the chain's NBLs one by one, unlinked; the chain is empty after.
    pub fn drain(&mut self) -> Split {
        let head = self.take().map_or(null_mut(), |(head, _)| head);
        // A chain owns its NBLs: handing them to `Split` moves that ownership.
        // SAFETY: owned NBLs.
        unsafe { Self::split(head) }
    }

    /// Posts the whole chain to `mailbox` (in order); the chain is empty after. Returns whether the
    /// mailbox was empty: see [`Mailbox::post`].
    pub fn post_to(&mut self, mailbox: &Mailbox<NET_BUFFER_LIST>) -> bool {
        let Some((head, _)) = self.take() else {
            return false;
        };
        // A chain owns its NBLs, linked through their `Next`; the mailbox takes them all.
        // SAFETY: owned NBLs, given to the mailbox.
        unsafe { mailbox.post(head) }
    }

    /// Everything posted to `mailbox` so far, oldest first, owned by the new chain.
    #[must_use]
    pub fn collect_from(mailbox: &Mailbox<NET_BUFFER_LIST>) -> Self {
        let mut chain = Self::new();
        let mut node = mailbox.collect();
        while let Some(nbl) = NonNull::new(node) {
            // The collected nodes are owned NBLs (only owned chains are posted); read the link
            // before `push` rewrites it.
            // SAFETY: an owned NBL of the collected list.
            node = unsafe { ndis::NET_BUFFER_LIST_NEXT_NBL(nbl.as_ptr()) };
            chain.push(Nbl(nbl));
        }
        chain
    }

    /// Takes ownership of a chain NDIS handed over and yields its NBLs one by one, each unlinked.
    ///
    /// # Safety
    /// Every NBL of the chain starting at `head` is owned by the driver from now on (NDIS passed
    /// the chain to `MiniportSendNetBufferLists` or `MiniportReturnNetBufferLists`).
    pub unsafe fn split(head: PNET_BUFFER_LIST) -> Split {
        Split { next: head }
    }
}

/// The NBLs of a chain NDIS handed over, unlinked one at a time (see [`Chain::split`]).
#[derive(Debug)]
pub struct Split {
    next: PNET_BUFFER_LIST,
}

impl Iterator for Split {
    type Item = Nbl;
    fn next(&mut self) -> Option<Nbl> {
        let nbl = NonNull::new(self.next)?;
        // The chain is owned (the contract of `Chain::split`); read the link before the NBL is
        // handed out and relinked.
        // SAFETY: an owned NBL of the chain.
        self.next = unsafe { ndis::NET_BUFFER_LIST_NEXT_NBL(nbl.as_ptr()) };
        // SAFETY: as above.
        unsafe { ndis::NET_BUFFER_LIST_SET_NEXT_NBL(nbl.as_ptr(), null_mut()) };
        Some(Nbl(nbl))
    }
}

/// Sets a receive `NET_BUFFER`'s data length (its MDL describes the whole buffer).
pub fn set_data_length(nbl: &mut Nbl, len: usize) {
    // SAFETY: owned by `nbl`; a receive NBL carries exactly one NB, allocated with it.
    let nb = unsafe { ndis::NET_BUFFER_LIST_FIRST_NB(nbl.0.as_ptr()) };
    if let Some(mut nb) = NonNull::new(nb) {
        // SAFETY: the NB belongs to the owned NBL; `&mut nbl` makes the write exclusive.
        let data = unsafe { nb.as_mut() }.NetBufferHeader.data_mut();
        data.NbDataLength = NET_BUFFER_DATA_LENGTH { stDataLength: len };
    }
}

// SAFETY: the mailbox uses only an NBL's `Next` link, which belongs to whoever owns the NBL: the
// mailbox while it holds it.
unsafe impl Linked for NET_BUFFER_LIST {
    unsafe fn next(node: *mut Self) -> *mut Self {
        // SAFETY: a live NBL the caller owns or the mailbox holds.
        unsafe { ndis::NET_BUFFER_LIST_NEXT_NBL(node) }
    }
    unsafe fn set_next(node: *mut Self, next: *mut Self) {
        // SAFETY: as above; nobody else reads the link meanwhile.
        unsafe { ndis::NET_BUFFER_LIST_SET_NEXT_NBL(node, next) };
    }
}
