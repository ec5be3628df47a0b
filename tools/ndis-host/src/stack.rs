//! Kernel stacks: every call into a driver runs on an x64 kernel stack of [`KERNEL_STACK`] bytes
//! (24 KiB, what a Windows x64 thread has) with a guard page below it, as in Windows; every host
//! export the driver calls runs back on the thread's own stack, so the host's bookkeeping (which is
//! heavier than NDIS's) never counts against the driver, and the driver's frames are measured
//! alone.
//!
//! - **Peak use.** The kernel stack is painted with [`PAINT`]; after each outermost call the host
//!   finds the lowest byte the call changed, records the depth for that entry point
//!   ([`crate::Host::stack_peaks`]), and paints again what was used.
//! - **Overflow.** A touch of the guard page is caught (`src/stack.c`: a SIGSEGV handler that
//!   `siglongjmp`s back to the call): the verifier records a `stack-overflow` violation naming the
//!   entry point and the call panics, failing the test instead of killing the process.
//!
//! Each thread gets its stack the first time it calls a driver, and keeps it.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// Bytes of a kernel stack on x64 Windows (`KERNEL_STACK_SIZE` is 6 pages).
pub const KERNEL_STACK: usize = 24 * 1024;
/// The byte an unused kernel stack holds.
pub const PAINT: u8 = 0xC5;

unsafe extern "C" {
    fn ndis_host_switch_stack(top: *mut c_void, f: unsafe extern "C" fn(*mut c_void), ctx: *mut c_void);
    fn ndis_host_guarded(top: *mut c_void, f: unsafe extern "C" fn(*mut c_void), ctx: *mut c_void) -> i32;
    fn ndis_host_set_guard(low: usize, high: usize);
    fn ndis_host_install_fault_handler() -> i32;
    fn ndis_host_page_size() -> usize;
}

/// One thread's kernel stack: a guard page, then [`KERNEL_STACK`] bytes.
struct KernelStack {
    /// The mapping (guard page included).
    map: usize,
    len: usize,
    /// The lowest usable address (just above the guard page) and the top.
    bottom: usize,
    top: usize,
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        // The thread's own mapping, made in `kernel_stack`; the thread is exiting and no frame
        // lives on it.
        // SAFETY: unmaps our own anonymous mapping.
        let _ = unsafe { rustix::mm::munmap(self.map as *mut c_void, self.len) };
    }
}

thread_local! {
    static STACK: RefCell<Option<KernelStack>> = const { RefCell::new(None) };
    /// How many driver calls are under way on this thread (outermost first).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The thread runs on its kernel stack now (inside a driver call, not in a host export).
    static ON_KERNEL: Cell<bool> = const { Cell::new(false) };
    /// Where the host stack was left when the outermost call switched to the kernel stack, and
    /// where the kernel stack was left when a host export switched back to the host stack.
    static HOST_SP: Cell<usize> = const { Cell::new(0) };
    static KERNEL_SP: Cell<usize> = const { Cell::new(0) };
}

/// Room left below a saved host stack pointer before a host export's frames start: the frames
/// of the switch itself (the C trampoline's, sigsetjmp's buffer) live there.
const MARGIN: usize = 8 * 1024;
/// The same on the kernel stack, where every byte counts against the driver: the export's own
/// frame below the saved pointer, the switch's return address and saved register, and the System
/// V red zone (an export is compiled for Linux).
const KERNEL_MARGIN: usize = 512;

/// The page size (`sysconf`, through `stack.c`: rustix's auxiliary-vector reader checks the vDSO,
/// which valgrind does not map, and callgrind must be able to run the host).
pub(crate) fn page() -> usize {
    // SAFETY: a C function with no arguments and no state; any thread, any time.
    unsafe { ndis_host_page_size() }
}

/// This thread's kernel stack (made, painted and guarded on first use): (bottom, top).
fn kernel_stack() -> (usize, usize) {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        let stack = s.get_or_insert_with(|| {
            static HANDLER: std::sync::Once = std::sync::Once::new();
            HANDLER.call_once(|| {
                // Installed once per process; it passes every fault but a guard page's on.
                // SAFETY: sigaction with a handler written for signal context (stack.c).
                if unsafe { ndis_host_install_fault_handler() } != 0 {
                    crate::fatal("cannot install the kernel stacks' fault handler");
                }
            });
            let guard = page();
            let len = guard + KERNEL_STACK;
            // A fresh private anonymous mapping.
            // SAFETY: mmap with a NULL hint creates new memory.
            let map = unsafe {
                rustix::mm::mmap_anonymous(
                    std::ptr::null_mut(),
                    len,
                    rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                    rustix::mm::MapFlags::PRIVATE,
                )
            }
            .unwrap_or_else(|e| crate::fatal(&format!("cannot map a kernel stack: {e}")));
            // The guard page: any touch faults.
            // SAFETY: the first page of our own mapping.
            unsafe { rustix::mm::mprotect(map, guard, rustix::mm::MprotectFlags::empty()) }
                .unwrap_or_else(|e| crate::fatal(&format!("cannot protect a guard page: {e}")));
            let bottom = map as usize + guard;
            // SAFETY: the stack's bytes, ours, written before anything runs on them.
            unsafe { std::ptr::write_bytes(bottom as *mut u8, PAINT, KERNEL_STACK) };
            ensure_alternate_signal_stack();
            KernelStack {
                map: map as usize,
                len,
                bottom,
                top: bottom + KERNEL_STACK,
            }
        });
        (stack.bottom, stack.top)
    })
}

/// A SIGSEGV on an overflowed stack needs another stack to run on: Rust gives the threads it
/// starts one; a thread that has none gets one here (kept for the thread's life).
fn ensure_alternate_signal_stack() {
    const ALT: usize = 64 * 1024;
    // A query of this thread's alternate stack (NULL new stack).
    // SAFETY: sigaltstack with a NULL first argument only reads.
    let mut old: libc_stack = unsafe { std::mem::zeroed() };
    // SAFETY: as above, into our own struct.
    let queried = unsafe { sigaltstack(std::ptr::null(), &raw mut old) };
    if queried == 0 && old.ss_flags & SS_DISABLE == 0 {
        return;
    }
    let memory = Box::leak(vec![0u8; ALT].into_boxed_slice());
    let new = libc_stack {
        ss_sp: memory.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: ALT,
    };
    // Memory leaked for the thread's (and the process's) life.
    // SAFETY: a valid stack_t describing memory that is never freed.
    unsafe { sigaltstack(&raw const new, std::ptr::null_mut()) };
}

/// `stack_t` (x86-64 Linux).
#[repr(C)]
#[allow(non_camel_case_types, reason = "the C type's name")]
#[allow(clippy::struct_field_names, reason = "stack_t's C member names")]
struct libc_stack {
    ss_sp: *mut c_void,
    ss_flags: i32,
    ss_size: usize,
}
const SS_DISABLE: i32 = 2;

unsafe extern "C" {
    fn sigaltstack(new: *const libc_stack, old: *mut libc_stack) -> i32;
}

/// A closure and its result, passed through the C switch.
struct Job<F, R> {
    f: Option<F>,
    out: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(ctx: *mut c_void) {
    // `ctx` is the `Job` the caller keeps on its (other) stack for the whole switch.
    // SAFETY: a live, exclusively borrowed Job of these types.
    let job = unsafe { &mut *ctx.cast::<Job<F, R>>() };
    if let Some(f) = job.f.take() {
        // No unwind may cross the C frames of the switch: a panic is carried back as a value.
        job.out = Some(catch_unwind(AssertUnwindSafe(f)));
    }
}

/// What ran out of stack.
#[derive(Debug)]
pub struct Overflow;

/// The current stack pointer, near enough (an address in this frame).
#[allow(
    clippy::inline_always,
    reason = "it must read the stack pointer of its caller's frame"
)]
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// Runs a driver call on this thread's kernel stack: the outermost call starts at its top, a call
/// made from a host export (itself called by the driver) continues below the driver's frames.
/// `Err(Overflow)` if the driver touched the guard page; a panic inside is carried through.
/// Records the outermost call's depth in `peak`, when there is one (measuring and repainting the
/// stack costs about as much as a small driver call).
pub(crate) fn on_kernel_stack<F: FnOnce() -> R, R>(
    f: F,
    peak: Option<impl FnOnce(usize)>,
) -> Result<R, Overflow> {
    let (bottom, top) = kernel_stack();
    let depth = DEPTH.with(Cell::get);
    // Called on the thread's own stack: a host export the driver calls from here on runs below
    // this point, which the callers above keep alive.
    let saved_host = HOST_SP.with(|s| s.replace(stack_pointer()));
    let start = if depth == 0 {
        top
    } else {
        KERNEL_SP.with(Cell::get) - KERNEL_MARGIN
    } & !15;
    let mut job = Job {
        f: Some(f),
        out: None,
    };
    DEPTH.with(|d| d.set(depth + 1));
    let was_on_kernel = ON_KERNEL.with(|k| k.replace(true));
    // The guard page lies just below `bottom`.
    // SAFETY: sets two thread-locals of stack.c.
    unsafe { ndis_host_set_guard(bottom - page(), bottom) };
    // `start` is inside this thread's kernel stack, above every live frame on it; `job` outlives
    // the call; the trampoline's types are the job's.
    let job_pointer = (&raw mut job).cast();
    // SAFETY: a switch to memory we own, back before this returns.
    let guarded = unsafe { ndis_host_guarded(start as *mut c_void, trampoline::<F, R>, job_pointer) };
    let faulted = guarded != 0;
    ON_KERNEL.with(|k| k.set(was_on_kernel));
    DEPTH.with(|d| d.set(depth));
    HOST_SP.with(|s| s.set(saved_host));
    if depth == 0
        && let Some(peak) = peak
    {
        peak(measure_and_repaint(bottom, top));
    }
    if faulted {
        return Err(Overflow);
    }
    match job.out {
        Some(Ok(r)) => Ok(r),
        Some(Err(payload)) => resume_unwind(payload),
        None => Err(Overflow),
    }
}

/// The bytes of the kernel stack the last outermost call used, and paints them again.
fn measure_and_repaint(bottom: usize, top: usize) -> usize {
    const PAINTED: u64 = u64::from_ne_bytes([PAINT; 8]);
    // The stack's bytes, ours, with no frame on them now (the outermost call returned).
    // SAFETY: reads and writes our own mapping's usable part.
    let stack = unsafe { std::slice::from_raw_parts_mut(bottom as *mut u8, top - bottom) };
    // Sixty-four bytes at a time (an OR of eight words' differences from the paint, which the
    // compiler vectorises: the untouched part is most of the stack, scanned after every outermost
    // call) up to the first block a frame changed, then that block's bytes.
    let (blocks, _) = stack.as_chunks::<64>();
    let changed = |block: &[u8; 64]| {
        let (words, _) = block.as_chunks::<8>();
        words
            .iter()
            .fold(0, |any, w| any | (u64::from_ne_bytes(*w) ^ PAINTED))
            != 0
    };
    let block = blocks.iter().position(changed).unwrap_or(blocks.len()) * 64;
    let lowest = block
        + stack[block..]
            .iter()
            .position(|b| *b != PAINT)
            .unwrap_or(stack.len() - block);
    stack[lowest..].fill(PAINT);
    stack.len() - lowest
}

/// [`on_host_stack`] for the host export `name` (what `#[ndis::kernel_abi(host)]` generates): the
/// call is traced ([`crate::trace`]) before the export's body runs.
pub fn on_host_stack_named<F: FnOnce() -> R, R>(name: &'static str, f: F) -> R {
    on_host_stack(|| {
        let _traced = crate::trace::ndis_call(name);
        f()
    })
}

/// Runs a host export on the thread's own stack when the driver called it from its kernel stack
/// (and simply runs it otherwise).
pub fn on_host_stack<F: FnOnce() -> R, R>(f: F) -> R {
    if !ON_KERNEL.with(Cell::get) {
        return f();
    }
    // A driver call made from this export continues below the driver's frames, which wait here.
    let saved_kernel = KERNEL_SP.with(|s| s.replace(stack_pointer()));
    let start = (HOST_SP.with(Cell::get) - MARGIN) & !15;
    let mut job = Job {
        f: Some(f),
        out: None,
    };
    ON_KERNEL.with(|k| k.set(false));
    // `start` is on this thread's own stack below every frame that was live when the driver was
    // entered (those frames wait for the driver to return); `job` outlives the call.
    // SAFETY: a switch to our own thread's free stack, back before this returns.
    unsafe { ndis_host_switch_stack(start as *mut c_void, trampoline::<F, R>, (&raw mut job).cast()) };
    ON_KERNEL.with(|k| k.set(true));
    KERNEL_SP.with(|s| s.set(saved_kernel));
    match job.out {
        Some(Ok(r)) => r,
        // A panic cannot unwind through the driver's frames on the kernel stack.
        Some(Err(_)) | None => crate::fatal("a host export panicked inside a driver call"),
    }
}
