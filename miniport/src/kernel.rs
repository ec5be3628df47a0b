//! The kernel-only module: the root of the `rvnic-sys` binary, which `tools/cross/build-sys.sh`
//! links into `rvnic.sys`. Nothing here is compiled for the host.
//!
//! It holds what only a kernel image needs: the exported `DriverEntry`, a panic handler that bug
//! checks (never a silent spin), a global allocator on non-paged pool, and the two symbols the MSVC
//! target expects from a C runtime (`__chkstk`, `_fltused`).

#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::fmt::Write;

use ndis::{NTSTATUS, PDRIVER_OBJECT, PUNICODE_STRING};
use rvnic_helpers::log::Line;

/// Bug check code of a Rust panic in rvnic: "RVNC" in ASCII, a value Windows does not use.
/// Parameters: 1 = address of the NUL-terminated panic message (on the panicking stack), 2 = source
/// line, 3 = address of the source file name, 4 = its length in bytes.
const RVNIC_PANIC_BUGCHECK: u32 = u32::from_be_bytes(*b"RVNC");

/// `DriverEntry`, the image's entry point (`/ENTRY:DriverEntry`). PASSIVE_LEVEL.
///
/// # Safety
/// Called once by the I/O manager with a valid driver object and registry path.
#[unsafe(no_mangle)]
#[ndis::kernel_abi]
pub unsafe extern "system" fn DriverEntry(
    driver_object: PDRIVER_OBJECT,
    registry_path: PUNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: the I/O manager's pointers are forwarded unchanged, as `driver_entry` requires.
    unsafe { rvnic::driver::driver_entry(driver_object, registry_path) }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = Line::new();
    let _ = write!(line, "rvnic: panic: {}", info.message());
    let (file, number) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    let _ = write!(line, " at {file}:{number}\n");
    // DbgPrint is callable at any IRQL a panic can happen at in this driver (<= DISPATCH_LEVEL).
    // SAFETY: "%s" with one NUL-terminated string that outlives the call.
    unsafe { ndis::DbgPrint(c"%s".as_ptr(), line.as_c_str().as_ptr()) };
    // The parameters are plain numbers for the crash dump (see RVNIC_PANIC_BUGCHECK).
    // SAFETY: KeBugCheckEx is callable at any IRQL and does not return.
    unsafe {
        ndis::KeBugCheckEx(
            RVNIC_PANIC_BUGCHECK,
            line.as_c_str().as_ptr() as usize,
            number as usize,
            file.as_ptr() as usize,
            file.len(),
        )
    }
}

/// The global allocator: non-paged pool with rvnic's tag. Usable at IRQL <= DISPATCH_LEVEL.
///
/// `ExAllocatePool2` returns `MEMORY_ALLOCATION_ALIGNMENT` (16-byte) aligned blocks. A layout with a
/// larger alignment is over-allocated by `align` bytes; the block's start is stored in the word just
/// before the aligned pointer so `dealloc` can free it.
struct PoolAllocator;

const POOL_ALIGN: usize = ndis::MEMORY_ALLOCATION_ALIGNMENT;

// SAFETY: `alloc` returns blocks of at least `layout.size()` bytes aligned to `layout.align()` or
// NULL, never unwinds, and `dealloc` frees exactly what `alloc` returned.
unsafe impl GlobalAlloc for PoolAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= POOL_ALIGN {
            // SAFETY: non-paged pool may be allocated at IRQL <= DISPATCH_LEVEL; NULL on failure.
            return unsafe {
                ndis::ExAllocatePool2(ndis::POOL_FLAG_NON_PAGED, layout.size(), rvnic::POOL_TAG)
            }
            .cast();
        }
        let Some(total) = layout.size().checked_add(layout.align()) else {
            return core::ptr::null_mut();
        };
        // SAFETY: non-paged pool may be allocated at IRQL <= DISPATCH_LEVEL; NULL on failure.
        let raw = unsafe { ndis::ExAllocatePool2(ndis::POOL_FLAG_NON_PAGED, total, rvnic::POOL_TAG) };
        let raw: *mut u8 = raw.cast();
        if raw.is_null() {
            return raw;
        }
        // At least `align` (>= 32) bytes lie between `raw` and the next `align` boundary past it, so
        // the word just before `aligned` is inside the block.
        let offset = layout.align() - (raw as usize & (layout.align() - 1));
        let aligned = raw.wrapping_add(offset);
        // `aligned - 8` is inside the block (offset >= 16) and 8-byte aligned (`raw` and `aligned` are
        // both 16-byte aligned).
        // SAFETY: in bounds and aligned as shown; the block is ours until `dealloc`.
        unsafe { aligned.cast::<*mut u8>().sub(1).write(raw) };
        aligned
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = if layout.align() <= POOL_ALIGN {
            ptr
        } else {
            // SAFETY: `alloc` stored the block start in the word before `ptr` for this layout.
            unsafe { ptr.cast::<*mut u8>().sub(1).read() }
        };
        // Freeing non-paged pool is allowed at IRQL <= DISPATCH_LEVEL.
        // SAFETY: `block` came from ExAllocatePool2 with this tag and is freed once.
        unsafe { ndis::ExFreePoolWithTag(block.cast(), rvnic::POOL_TAG) };
    }
}

#[global_allocator]
static ALLOCATOR: PoolAllocator = PoolAllocator;

/// The MSVC target references `_fltused` from any code that touches floating point.
#[unsafe(no_mangle)]
#[used]
static _fltused: i32 = 0;

/// `__chkstk`: the stack probe the MSVC target calls before a frame larger than a page.
///
/// On entry `rax` holds the frame size. Touch each page from the caller's stack pointer downwards, so
/// the guard page is hit in order, and return with every register but flags unchanged (rsp too: the
/// caller subtracts `rax` itself).
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub extern "C" fn __chkstk() {
    core::arch::naked_asm!(
        "push rcx",
        "push rax",
        // rcx = the caller's rsp: ours plus the two pushes and the return address.
        "lea rcx, [rsp + 24]",
        "cmp rax, 0x1000",
        "jb 3f",
        "2:",
        "sub rcx, 0x1000",
        "test [rcx], rcx",
        "sub rax, 0x1000",
        "cmp rax, 0x1000",
        "ja 2b",
        "3:",
        "sub rcx, rax",
        "test [rcx], rcx",
        "pop rax",
        "pop rcx",
        "ret",
    );
}
