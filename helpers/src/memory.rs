//! Pool memory a component owns: non-paged, tagged with the component's tag, aligned as asked.

use core::ptr::NonNull;

/// A block of non-paged pool, freed on drop. IRQL <= `DISPATCH_LEVEL` for both.
#[derive(Debug)]
pub struct PoolBlock {
    /// The aligned start handed out.
    start: NonNull<u8>,
    /// What `ExAllocatePool2` returned (freed on drop).
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
    /// The block's bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    /// Whether the block has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[must_use]
    /// The block's first byte (aligned as asked).
    pub fn as_ptr(&self) -> *mut u8 {
        self.start.as_ptr()
    }

    #[must_use]
    /// The block's bytes, shared.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` initialised (zeroed) bytes owned by `self`, shared for the borrow.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }

    /// The block's bytes, exclusively.
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

/// One `T` in non-paged pool, tagged, dropped and freed with the box. The fallible `Box` of kernel
/// code: allocation failure is an `Err` the caller handles, never a panic. IRQL <= `DISPATCH_LEVEL`.
#[derive(Debug)]
pub struct PoolBox<T> {
    value: NonNull<T>,
    /// The memory `value` lives in, freed after the value is dropped.
    _block: PoolBlock,
}

// SAFETY: the box owns its `T` exclusively, as `Box<T>` does.
unsafe impl<T: Send> Send for PoolBox<T> {}
// SAFETY: shared access hands out `&T` only.
unsafe impl<T: Sync> Sync for PoolBox<T> {}

impl<T> PoolBox<T> {
    /// Moves `value` into a fresh pool block tagged `tag`; hands it back if the pool is exhausted.
    ///
    /// # Errors
    /// `value`, back, if the pool is exhausted.
    pub fn new(value: T, tag: u32) -> Result<Self, T> {
        let Some(block) = PoolBlock::new(size_of::<T>(), align_of::<T>(), tag) else {
            return Err(value);
        };
        let slot = block.as_ptr().cast::<T>();
        // The block has `size_of::<T>()` bytes aligned for `T` and is ours, uninitialised for `T`.
        // SAFETY: writing the value into memory this box owns, sized and aligned for it.
        unsafe { slot.write(value) };
        // SAFETY: PoolBlock never hands out a null start.
        let value = unsafe { NonNull::new_unchecked(slot) };
        Ok(Self { value, _block: block })
    }

    /// Builds the value directly in pool memory with `init` (for values too large for a kernel
    /// stack). `Err(None)` if the pool is exhausted, `Err(Some(e))` if `init` failed (it must
    /// leave the memory uninitialised then).
    ///
    /// # Errors
    /// `None` if the pool is exhausted, or what `init` returned (the block is freed).
    pub fn new_in_place<E>(
        tag: u32,
        init: impl FnOnce(&mut core::mem::MaybeUninit<T>) -> Result<&mut T, E>,
    ) -> Result<Self, Option<E>> {
        let block = PoolBlock::new(size_of::<T>(), align_of::<T>(), tag).ok_or(None)?;
        let slot = block.as_ptr().cast::<core::mem::MaybeUninit<T>>();
        // The block is sized and aligned for `T` and ours; `MaybeUninit` needs no initialisation.
        // SAFETY: a valid, exclusive place for a `T` for the call.
        let place = unsafe { &mut *slot };
        init(place).map_err(Some)?;
        // SAFETY: PoolBlock never hands out a null start.
        let value = unsafe { NonNull::new_unchecked(slot.cast::<T>()) };
        Ok(Self { value, _block: block })
    }

    /// Gives up the box, keeping the value alive, as a pointer for an NDIS context. Only for
    /// types aligned to at most the pool's alignment (so the value starts the block).
    #[must_use]
    pub fn into_raw(self) -> NonNull<T> {
        const { assert!(align_of::<T>() <= POOL_ALIGN, "into_raw needs pool alignment") };
        let value = self.value;
        core::mem::forget(self);
        value
    }

    /// Takes back a box given up with [`Self::into_raw`].
    ///
    /// # Safety
    /// `value` came from `into_raw` of a `PoolBox<T>` allocated with `tag`, and is taken back once.
    #[must_use]
    pub unsafe fn from_raw(value: NonNull<T>, tag: u32) -> Self {
        let block = PoolBlock {
            start: value.cast(),
            raw: value.cast(),
            len: size_of::<T>(),
            tag,
        };
        Self { value, _block: block }
    }

    /// The value's address, for an NDIS context pointer; the box keeps ownership.
    #[must_use]
    pub fn as_ptr(&self) -> *const T {
        self.value.as_ptr()
    }
}

impl<T> core::ops::Deref for PoolBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialised in `new`, alive until drop, shared for the borrow.
        unsafe { self.value.as_ref() }
    }
}

impl<T> core::ops::DerefMut for PoolBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: initialised in `new`, alive until drop; `&mut self` makes the borrow exclusive.
        unsafe { self.value.as_mut() }
    }
}

impl<T> Drop for PoolBox<T> {
    fn drop(&mut self) {
        // The value was written in `new` and is dropped once, here; `block` frees the memory after.
        // SAFETY: initialised, dropped exactly once, before its memory is freed.
        unsafe { self.value.as_ptr().drop_in_place() };
    }
}

/// `len` values of `T` in one block of non-paged pool: the fallible boxed slice of kernel code.
#[derive(Debug)]
pub struct PoolSlice<T> {
    start: NonNull<T>,
    len: usize,
    _block: PoolBlock,
}

// SAFETY: the slice owns its elements exclusively, as `Box<[T]>` does.
unsafe impl<T: Send> Send for PoolSlice<T> {}
// SAFETY: shared access hands out `&[T]` only.
unsafe impl<T: Sync> Sync for PoolSlice<T> {}

impl<T> PoolSlice<T> {
    /// `len` elements made by `make(i)`, or `None` if the pool is exhausted or the size overflows.
    pub fn new(len: usize, tag: u32, mut make: impl FnMut(usize) -> T) -> Option<Self> {
        let bytes = size_of::<T>().checked_mul(len)?;
        let block = PoolBlock::new(bytes, align_of::<T>(), tag)?;
        let start = block.as_ptr().cast::<T>();
        for i in 0..len {
            // Element `i` lies inside the block (`bytes` = `len` elements, aligned for `T`).
            let element = start.wrapping_add(i);
            // Each element is written once before the slice is used.
            // SAFETY: in bounds of memory this slice owns, aligned, written once.
            unsafe { element.write(make(i)) };
        }
        // SAFETY: PoolBlock never hands out a null start.
        let start = unsafe { NonNull::new_unchecked(start) };
        Some(Self {
            start,
            len,
            _block: block,
        })
    }
}

impl<T> core::ops::Deref for PoolSlice<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements owned by `self`, shared for the borrow.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T> core::ops::DerefMut for PoolSlice<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, exclusively for the borrow.
        unsafe { core::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl<T> Drop for PoolSlice<T> {
    fn drop(&mut self) {
        let elements = core::ptr::slice_from_raw_parts_mut(self.start.as_ptr(), self.len);
        // Each element was written in `new` and is dropped once, here, before the block is freed.
        // SAFETY: initialised elements, dropped exactly once.
        unsafe { elements.drop_in_place() };
    }
}

// SAFETY: the slots live in the slice's own pool block, which never moves and which only the ring
// that owns the slice touches.
unsafe impl<T> crate::ring::Storage<T> for PoolSlice<crate::ring::Slot<T>> {
    fn slots(&self) -> &[crate::ring::Slot<T>] {
        self
    }
}
