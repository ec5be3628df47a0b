//! What fits in the trailing bytes of an `NDIS_GENERIC_OBJECT`.
//!
//! `NdisAllocateGenericObject(DriverObject, Tag, Size)` returns an `NDIS_GENERIC_OBJECT` followed by
//! `Size` bytes for the caller (`Size` is a `USHORT`). A component's state `T` is placed right after
//! the header, so `T` must fit in a `USHORT` and must not need more alignment than the object gets:
//! pool allocations are `MEMORY_ALLOCATION_ALIGNMENT` (16) aligned and the header is 32 bytes, so the
//! trailing bytes are 16-byte aligned.

use core::mem::{align_of, size_of};

use ndis::{MEMORY_ALLOCATION_ALIGNMENT, NDIS_GENERIC_OBJECT};

/// Offset of the caller's bytes from the start of the object.
pub const TRAILING_OFFSET: usize = size_of::<NDIS_GENERIC_OBJECT>();

/// The alignment the trailing bytes are guaranteed to have.
pub const TRAILING_ALIGN: usize = {
    // The largest power of two dividing both the pool alignment and the header size.
    let mut a = MEMORY_ALLOCATION_ALIGNMENT;
    while !TRAILING_OFFSET.is_multiple_of(a) {
        a /= 2;
    }
    a
};

/// Why a type cannot live in a generic object's trailing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// `size_of::<T>()` does not fit the `USHORT` `Size` parameter.
    TooLarge { size: usize },
    /// `T` needs more alignment than the trailing bytes have.
    OverAligned { align: usize, available: usize },
}

/// The `Size` to pass to `NdisAllocateGenericObject` to hold a `T`, or why it cannot.
pub const fn trailing_bytes<T>() -> Result<u16, LayoutError> {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    if align > TRAILING_ALIGN {
        return Err(LayoutError::OverAligned {
            align,
            available: TRAILING_ALIGN,
        });
    }
    if size > u16::MAX as usize {
        return Err(LayoutError::TooLarge { size });
    }
    Ok(size as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_leaves_16_byte_aligned_trailing_bytes() {
        assert_eq!(TRAILING_OFFSET, 32);
        assert_eq!(TRAILING_ALIGN, 16);
    }

    #[test]
    fn small_types_fit_exactly() {
        assert_eq!(trailing_bytes::<()>(), Ok(0));
        assert_eq!(trailing_bytes::<u64>(), Ok(8));
        assert_eq!(trailing_bytes::<[u8; 65535]>(), Ok(65535));
    }

    #[test]
    fn too_large_and_over_aligned_types_are_refused() {
        assert_eq!(
            trailing_bytes::<[u8; 65536]>(),
            Err(LayoutError::TooLarge { size: 65536 })
        );
        #[repr(align(64))]
        struct CacheLine(#[allow(dead_code, reason = "only its layout matters")] [u8; 64]);
        assert_eq!(
            trailing_bytes::<CacheLine>(),
            Err(LayoutError::OverAligned {
                align: 64,
                available: 16
            })
        );
        #[repr(align(16))]
        struct Sixteen(#[allow(dead_code, reason = "only its layout matters")] u8);
        assert_eq!(trailing_bytes::<Sixteen>(), Ok(16));
    }
}
