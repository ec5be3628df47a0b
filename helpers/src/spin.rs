//! A kernel spin lock around the data it guards: for short, rare critical sections off the
//! datapath's hot loop (an OID's view of the adapter, a published receive filter).

use core::cell::UnsafeCell;

use ndis::{KIRQL, KSPIN_LOCK};

/// `T` guarded by a `KSPIN_LOCK`. Locking raises to `DISPATCH_LEVEL` (callable at IRQL <=
/// `DISPATCH_LEVEL`) and lowers back when the guard drops; never hold it across a frame copy or a
/// call into NDIS that may call back into the driver.
#[derive(Debug)]
pub struct SpinLock<T> {
    /// Zero when free (`KeInitializeSpinLock` is a store of zero on x64).
    lock: UnsafeCell<KSPIN_LOCK>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `T`, which may move between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// `value`, unlocked.
    pub const fn new(value: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock (spinning at `DISPATCH_LEVEL` while another CPU holds it).
    pub fn lock(&self) -> Guard<'_, T> {
        // The lock word lives as long as `self`, which the guard borrows, so it cannot move or go
        // away while held; IRQL <= DISPATCH_LEVEL is this method's documented precondition.
        // SAFETY: a valid, initialised KSPIN_LOCK, released by the guard on this thread.
        let old = unsafe { ndis::KeAcquireSpinLockRaiseToDpc(self.lock.get()) };
        Guard {
            lock: self,
            old,
            _this_thread: core::marker::PhantomData,
        }
    }

    /// The value, without locking: `&mut self` already proves exclusive access.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// The lock, held; lowers the IRQL back when dropped.
///
/// Not `Send`: the guard raised its thread's IRQL and must lower the same thread's again (released
/// on another thread, it would lower that thread's IRQL and leave this one at `DISPATCH_LEVEL`).
///
/// ```compile_fail,E0277
/// use rvnic_helpers::spin::SpinLock;
/// fn needs_send<T: Send>(_: T) {}
/// let lock = SpinLock::new(0u32);
/// needs_send(lock.lock()); // a guard cannot move to another thread
/// ```
#[derive(Debug)]
pub struct Guard<'l, T> {
    lock: &'l SpinLock<T>,
    old: KIRQL,
    _this_thread: core::marker::PhantomData<*const ()>,
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // Releasing the lock this guard acquired, on the same thread, back to the IRQL it found.
        // SAFETY: held by this guard; released exactly once.
        unsafe { ndis::KeReleaseSpinLock(self.lock.lock.get(), self.old) };
    }
}
