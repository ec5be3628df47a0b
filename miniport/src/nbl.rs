//! Owned NET_BUFFER_LISTs: the only place the datapath touches NBL, NET_BUFFER and MDL pointers.
//!
//! NDIS hands the driver chains of NBLs it owns until it completes them (sends) and takes back
//! chains it indicated until the protocol returns them (receives). [`Nbl`] is that ownership as a
//! value: made once from a raw pointer by whoever received it, unlinked from its chain, and turned
//! back into a pointer only to give it away again. Everything else here is safe to call.

use core::ptr::{NonNull, null_mut};

use ndis::{NDIS_STATUS, NET_BUFFER_DATA_LENGTH, PNET_BUFFER, PNET_BUFFER_LIST};

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
    pub fn into_raw(self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }

    /// The NBL's address (for comparisons; ownership stays with `self`).
    #[must_use]
    pub fn as_ptr(&self) -> PNET_BUFFER_LIST {
        self.0.as_ptr()
    }

    pub fn set_status(&mut self, status: NDIS_STATUS) {
        // SAFETY: owned by `self` (type invariant); any IRQL.
        unsafe { ndis::NET_BUFFER_LIST_SET_STATUS(self.0.as_ptr(), status) };
    }

    /// The cancel identifier the sender marked this NBL with (0: none).
    #[must_use]
    pub fn cancel_id(&self) -> usize {
        // SAFETY: owned by `self`; a plain read of an out-of-band field the sender set.
        unsafe { ndis::NDIS_GET_NET_BUFFER_LIST_CANCEL_ID(self.0.as_ptr()) as usize }
    }

    /// The first pointer-sized word of `MiniportReserved` (the driver's own field).
    #[must_use]
    pub fn reserved(&self) -> usize {
        // SAFETY: owned by `self`; a plain read of a field the miniport owns.
        unsafe { (*self.0.as_ptr()).MiniportReserved.0[0] as usize }
    }

    pub fn set_reserved(&mut self, value: usize) {
        // SAFETY: owned by `self`; a plain write of a field the miniport owns.
        unsafe { (*self.0.as_ptr()).MiniportReserved.0[0] = value as *mut core::ffi::c_void };
    }

    /// The NET_BUFFERs (frames) of this NBL, in order.
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
    pub fn frame_count(&self) -> usize {
        self.frames().count()
    }
}

/// An iterator over the NET_BUFFERs of an owned NBL.
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
    pub fn len(&self) -> usize {
        // SAFETY: the NB of an owned NBL, borrowed; a plain read.
        unsafe { ndis::NET_BUFFER_DATA_LENGTH(self.nb.as_ptr()) as usize }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the frame's first `out.len()` bytes (at most [`Self::len`]) into `out`, however its
    /// MDLs split it. Returns `false` (and leaves `out` unspecified) if NDIS cannot map the data.
    pub fn copy_to(&self, out: &mut [u8]) -> bool {
        let len = out.len().min(self.len());
        let Ok(needed) = u32::try_from(len) else {
            return false;
        };
        if len == 0 {
            return true;
        }
        let storage = out.as_mut_ptr();
        // NdisGetDataBuffer returns a pointer to the data if it is contiguous, or copies it into
        // `storage` (which has `len` writable bytes) and returns `storage`; NULL if it cannot map
        // the MDLs. The NB is owned and not changed meanwhile. IRQL <= DISPATCH_LEVEL.
        // SAFETY: an owned NB; `storage` valid for `len` bytes for the call.
        let data = unsafe { ndis::NdisGetDataBuffer(self.nb.as_ptr(), needed, storage.cast(), 1, 0) };
        let data = data.cast::<u8>();
        if data.is_null() {
            return false;
        }
        if data != storage {
            // `data` points at `len` contiguous bytes of the sender's buffer, which cannot overlap
            // `out` (a receive buffer the driver owns).
            // SAFETY: `len` readable bytes at `data`, `len` writable at `storage`, disjoint.
            unsafe { core::ptr::copy_nonoverlapping(data, storage, len) };
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
    pub const fn new() -> Self {
        Self {
            head: null_mut(),
            tail: null_mut(),
            len: 0,
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

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
    pub fn take(&mut self) -> Option<(PNET_BUFFER_LIST, usize)> {
        let taken = (!self.head.is_null()).then_some((self.head, self.len));
        *self = Self::new();
        taken
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

/// Sets a receive NET_BUFFER's data length (its MDL describes the whole buffer).
pub(crate) fn set_data_length(nbl: &mut Nbl, len: usize) {
    // SAFETY: owned by `nbl`; a receive NBL carries exactly one NB, allocated with it.
    let nb = unsafe { ndis::NET_BUFFER_LIST_FIRST_NB(nbl.0.as_ptr()) };
    if let Some(mut nb) = NonNull::new(nb) {
        // SAFETY: the NB belongs to the owned NBL; `&mut nbl` makes the write exclusive.
        let data = unsafe { nb.as_mut() }.NetBufferHeader.data_mut();
        data.NbDataLength = NET_BUFFER_DATA_LENGTH { stDataLength: len };
    }
}
