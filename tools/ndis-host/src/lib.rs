//! ndis-host: a user-mode NDIS that runs the unmodified rvnic driver on a development host.
//!
//! It defines, with `#[no_mangle] extern "system"`, the functions the `ndis` crate imports, so the
//! driver links against it exactly as it links against `ndis.sys` in Windows, and it calls the
//! driver's real entry points. A test binary must name this crate (`extern crate ndis_host;` or a
//! `use`), otherwise rustc does not link it and the driver's imports stay undefined.
//!
//! This first slice loads a driver: it calls `DriverEntry` with a host-made `DRIVER_OBJECT` and
//! registry path, validates the characteristics passed to `NdisMRegisterMiniportDriver` as NDIS does,
//! captures `DbgPrint` output, and calls the driver's unload handler.

use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard};

use ndis::*;

mod exports;
pub use exports::registration_failure;

/// What the driver registered with `NdisMRegisterMiniportDriver`.
#[derive(Debug)]
pub struct Registration {
    /// The driver object the registration belongs to.
    pub driver_object: usize,
    /// A copy of the characteristics (NDIS copies them too).
    pub characteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    pub driver_context: usize,
    /// The handle NDIS returned; deregistration must pass it back.
    pub handle: usize,
    pub deregistered: bool,
}

#[derive(Debug, Default)]
struct State {
    registrations: Vec<Registration>,
    next_handle: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    registrations: Vec::new(),
    next_handle: 0,
});

thread_local! {
    /// `DbgPrint` output, captured per thread: each test drives its driver from its own thread, so
    /// tests running in parallel never read each other's lines.
    static DEBUG_OUTPUT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Appends a line to this thread's debug capture (the driver's `DbgPrint`, and host diagnostics).
pub(crate) fn debug_line(line: String) {
    DEBUG_OUTPUT.with(|d| d.borrow_mut().push(line));
}

fn state() -> MutexGuard<'static, State> {
    // A test that panicked while holding the lock leaves consistent data (every update is one push
    // or one assignment), so a poisoned lock is still usable.
    STATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serialises tests that load drivers: the host's state is process-wide, like NDIS's.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

/// A driver loaded into the host: `DriverEntry` has returned success.
#[derive(Debug)]
pub struct Driver {
    driver_object: Box<DRIVER_OBJECT>,
    _registry_path: Box<[u16]>,
    _registry: Box<UNICODE_STRING>,
    unload: MINIPORT_DRIVER_UNLOAD,
    unloaded: bool,
    _serial: MutexGuard<'static, ()>,
}

/// Why a driver did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// `DriverEntry` returned this failure status.
    DriverEntryFailed(NTSTATUS),
    /// `DriverEntry` returned success without registering a miniport driver.
    NotRegistered,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DriverEntryFailed(s) => write!(f, "DriverEntry failed with {:#010x}", *s as u32),
            Self::NotRegistered => f.write_str("DriverEntry succeeded but registered no miniport driver"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The registry path NDIS would pass for a service named `rvnic`.
pub const REGISTRY_PATH: &str = r"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Services\rvnic";

impl Driver {
    /// Loads a driver: calls `entry` (its `DriverEntry`) at PASSIVE_LEVEL, as the I/O manager does.
    pub fn load(entry: DRIVER_INITIALIZE) -> Result<Self, LoadError> {
        let serial = LOAD_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut driver_object = Box::new(DRIVER_OBJECT { Opaque: [0; 42] });
        let mut path: Box<[u16]> = REGISTRY_PATH.encode_utf16().collect();
        let bytes = u16::try_from(path.len() * 2).expect("registry path fits a UNICODE_STRING");
        let mut registry = Box::new(UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: path.as_mut_ptr(),
        });
        let object_ptr: *mut DRIVER_OBJECT = &raw mut *driver_object;
        // The driver object and registry path are boxed and live as long as the returned `Driver`.
        // SAFETY: `entry` is a DriverEntry, called at PASSIVE_LEVEL with pointers valid while loaded.
        let status = unsafe { entry(object_ptr, &raw mut *registry) };
        if status != STATUS_SUCCESS {
            return Err(LoadError::DriverEntryFailed(status));
        }
        let unload = state()
            .registrations
            .iter()
            .find(|r| r.driver_object == object_ptr as usize && !r.deregistered)
            .map(|r| r.characteristics.UnloadHandler)
            .ok_or(LoadError::NotRegistered)?;
        Ok(Self {
            driver_object,
            _registry_path: path,
            _registry: registry,
            unload,
            unloaded: false,
            _serial: serial,
        })
    }

    fn object_ptr(&self) -> *mut DRIVER_OBJECT {
        std::ptr::from_ref(&*self.driver_object).cast_mut()
    }

    /// Runs `f` on the driver's live registration.
    pub fn with_registration<R>(&self, f: impl FnOnce(&Registration) -> R) -> R {
        let state = state();
        let reg = state
            .registrations
            .iter()
            .rev()
            .find(|r| r.driver_object == self.object_ptr() as usize)
            .expect("a loaded driver has a registration");
        f(reg)
    }

    /// Calls the driver's unload handler, then reports whether it deregistered.
    pub fn unload(mut self) -> UnloadReport {
        self.unloaded = true;
        if let Some(unload) = self.unload {
            // The driver object is freed only after this, when `self` drops.
            // SAFETY: the driver's own unload handler, called once at PASSIVE_LEVEL with its object.
            unsafe { unload(self.object_ptr()) };
        }
        UnloadReport {
            deregistered: self.with_registration(|r| r.deregistered),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.unloaded {
            // A test that forgot to unload still must not leave a registration pointing at freed memory.
            let ptr = self.object_ptr() as usize;
            state().registrations.retain(|r| r.driver_object != ptr);
        }
    }
}

/// What unload left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnloadReport {
    /// The driver called `NdisMDeregisterMiniportDriver` for its registration.
    pub deregistered: bool,
}

/// Every `DbgPrint` line this thread produced since the last call, in order.
pub fn take_debug_output() -> Vec<String> {
    DEBUG_OUTPUT.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// Called by the C `DbgPrint` shim with the formatted text.
#[unsafe(no_mangle)]
extern "C" fn ndis_host_dbg_print(text: *const u8, len: usize) {
    // SAFETY: the shim passes a buffer of `len` initialised bytes that lives until this returns.
    let bytes = unsafe { std::slice::from_raw_parts(text, len) };
    debug_line(String::from_utf8_lossy(bytes).trim_end_matches('\n').to_string());
}

/// Opaque handle values the host hands out: never dereferenced by drivers, unique, non-null.
fn new_handle(state: &mut State) -> *mut c_void {
    state.next_handle += 1;
    (0x4e00_0000 + state.next_handle * 0x10) as *mut c_void
}
