//! Pool memory a component owns: non-paged, tagged with the component's tag, aligned as asked.

use core::ptr::NonNull;

/// A block of non-paged pool, freed on drop. IRQL <= DISPATCH_LEVEL for both.
#[derive(Debug)]
pub struct PoolBlock {
    /// The aligned start handed out.
    start: NonNull<u8>,
    /// What ExAllocatePool2 returned (freed on drop).
    raw: NonNull<u8>,
    len: usize,
    tag: u32,
}

// SAFETY: the block is plain memory owned by this value; moving the owner moves the ownership.
unsafe impl Send for PoolBlock {}
// SAFETY: shared access hands out `&[u8]` only.
unsafe impl Sync for PoolBlock {}

/// `ExAllocatePool2` returns blocks aligned to `MEMORY_ALLOCATION_ALIGNMENT`.
const POOL_ALIGN: usize = ndis::MEMORY_ALLOCATION_ALIGNMENT;

impl PoolBlock {
    /// `len` zeroed bytes aligned to `align` (a power of two), or `None` if the pool is out of memory
    /// or the request overflows.
    #[must_use]
    pub fn new(len: usize, align: usize, tag: u32) -> Option<Self> {
        let align = align.max(POOL_ALIGN);
        let extra = align - POOL_ALIGN;
        let total = len.max(1).checked_add(extra)?;
        // Non-paged pool at IRQL <= DISPATCH_LEVEL (this function's contract); zeroed by
        // default; NULL on failure.
        // SAFETY: non-paged pool at IRQL <= DISPATCH_LEVEL; the block is ours until drop.
        let raw = unsafe { ndis::ExAllocatePool2(ndis::POOL_FLAG_NON_PAGED, total, tag) };
        let raw = NonNull::new(raw.cast::<u8>())?;
        let offset = raw.as_ptr().align_offset(align);
        debug_assert!(
            offset <= extra,
            "a 16-aligned block reaches any alignment within align - 16 bytes"
        );
        // SAFETY: `offset <= extra`, so `start .. start + len` is inside the `total`-byte block.
        let start = unsafe { raw.add(offset) };
        Some(Self { start, raw, len, tag })
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[must_use]
    pub fn as_ptr(&self) -> *mut u8 {
        self.start.as_ptr()
    }

    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` initialised (zeroed) bytes owned by `self`, shared for the borrow.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, exclusively for the borrow.
        unsafe { core::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl Drop for PoolBlock {
    fn drop(&mut self) {
        // SAFETY: `raw` came from ExAllocatePool2 with `tag` and is freed once. IRQL <= DISPATCH_LEVEL.
        unsafe { ndis::ExFreePoolWithTag(self.raw.as_ptr().cast(), self.tag) };
    }
}
