//! The atomics and cells the rings use: `core`'s normally, loom's when model checking
//! (`--cfg rvnic_loom`), as crossbeam-utils does. Everything concurrent in this crate goes through
//! here, so loom sees every access.

#[cfg(not(rvnic_loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
#[cfg(rvnic_loom)]
// (The timer pool, the one user of `AtomicU32`, is not built under loom.)
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// `UnsafeCell` with loom's access API (`with`, `with_mut`), so the same code runs under loom, which
/// checks that no access races with another.
#[cfg(not(rvnic_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(rvnic_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(rvnic_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A busy-wait step: the CPU's pause hint, or a yield to loom's scheduler when model checking (a
/// spin loop loom does not see would never let the other thread run).
#[inline]
pub(crate) fn spin() {
    #[cfg(not(rvnic_loom))]
    core::hint::spin_loop();
    #[cfg(rvnic_loom)]
    loom::thread::yield_now();
}
