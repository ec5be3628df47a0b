//! Raising to `DISPATCH_LEVEL` for the length of a scope.

use ndis::KIRQL;

use crate::ring::Dispatch;

/// The current thread raised to `DISPATCH_LEVEL`; lowers back to where it was when dropped. Not `Send`
/// (the IRQL belongs to the thread). While it lives, this thread is the only code on its CPU.
#[derive(Debug)]
pub struct Raised {
    old: KIRQL,
    token: Dispatch,
}

impl Raised {
    /// Raises to `DISPATCH_LEVEL` (a no-op if already there) and notes the CPU. Callable at
    /// IRQL <= `DISPATCH_LEVEL`.
    #[must_use]
    pub fn to_dispatch() -> Self {
        // KeRaiseIrqlToDpcLevel is callable at IRQL <= DISPATCH_LEVEL (this function's
        // documented precondition); `drop` restores the old IRQL on this thread.
        // SAFETY: IRQL <= DISPATCH_LEVEL on entry; restored on this thread by drop.
        let old = unsafe { ndis::KeRaiseIrqlToDpcLevel() };
        // SAFETY: callable at any IRQL; NULL asks for the index only.
        let cpu = unsafe { ndis::KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
        // This thread now runs at DISPATCH_LEVEL on `cpu` until `self` drops, and the token
        // cannot outlive `self` (it is only lent out by `dispatch`).
        // SAFETY: this thread is at DISPATCH_LEVEL on `cpu` for the token's whole life.
        let token = unsafe { Dispatch::assume(cpu as usize) };
        Self { old, token }
    }

    /// The proof of exclusivity the per-CPU rings need.
    #[must_use]
    pub fn dispatch(&self) -> &Dispatch {
        &self.token
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        // SAFETY: lowering back to the IRQL `to_dispatch` found, on the thread that raised.
        unsafe { ndis::KeLowerIrql(self.old) };
    }
}
