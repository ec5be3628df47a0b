//! Pool memory (`ExAllocatePool2`, `NdisAllocateMemoryWithTagPriority`) and generic objects.
//!
//! Memory the driver frees is filled with [`FREED`] and held in a quarantine instead of being
//! returned at once; when it leaves the quarantine (or at unload) a changed byte is a use-after-free.
//! Memory allocated without zeroing is filled with [`UNINITIALISED`], so code that relies on it being
//! zero sees garbage here as it might in Windows.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use std::alloc::Layout;

use ndis::*;

use crate::host::{State, current};
use crate::verifier::{Kind, Rule, tag_str};

/// Freed memory's fill byte.
pub const FREED: u8 = 0xDF;
/// Fill byte of memory handed out without zeroing.
pub const UNINITIALISED: u8 = 0xCD;
/// `POOL_FLAG_NON_PAGED_EXECUTE` and `POOL_FLAG_PAGED` (`POOL_FLAGS` documentation; not in the NDIS
/// headers): the host accepts one pool type per allocation, and paged pool only at IRQL <= `APC_LEVEL`.
const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x80;
const POOL_FLAG_PAGED: u64 = 0x100;
/// How many freed blocks the quarantine keeps before checking and releasing the oldest.
const QUARANTINE: usize = 512;

#[derive(Debug)]
pub(crate) struct Quarantined {
    address: usize,
    size: usize,
    what: Freed,
}

/// What a quarantined block was, for a use-after-free report. An allocation keeps its captured
/// site and is described (its backtrace resolved, which is slow) only if a report needs it.
#[derive(Debug)]
pub(crate) enum Freed {
    Named(&'static str),
    Allocation(crate::verifier::Allocation),
}

impl Freed {
    fn describe(&self) -> String {
        match self {
            Self::Named(what) => (*what).to_string(),
            Self::Allocation(a) => a.describe(),
        }
    }
}

impl From<&'static str> for Freed {
    fn from(what: &'static str) -> Self {
        Self::Named(what)
    }
}

impl From<crate::verifier::Allocation> for Freed {
    fn from(allocation: crate::verifier::Allocation) -> Self {
        Self::Allocation(allocation)
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size.max(1), MEMORY_ALLOCATION_ALIGNMENT).expect("allocation size fits a Layout")
}

/// Host memory for the driver, 16-byte aligned like pool, filled with `fill`.
pub(crate) fn raw_alloc(size: usize, fill: u8) -> *mut u8 {
    let layout = layout(size);
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` points to `layout.size()` bytes just allocated.
    unsafe { p.write_bytes(fill, layout.size()) };
    p
}

/// Returns memory from [`raw_alloc`].
pub(crate) fn raw_free(address: usize, size: usize) {
    // SAFETY: `address` came from `raw_alloc(size)` and is freed once (callers remove it first).
    unsafe { std::alloc::dealloc(address as *mut u8, layout(size)) };
}

/// Freed blocks held poisoned, oldest first, at most [`QUARANTINE`]: each is checked when it
/// leaves (by age, or at unload) and only then returned.
#[derive(Debug, Default)]
pub(crate) struct Quarantine(std::collections::VecDeque<Quarantined>);

/// Poisons a freed block and keeps it for a while to catch late writes; frees it at once with the
/// verifier off.
pub(crate) fn quarantine(st: &mut State, address: usize, size: usize, what: impl Into<Freed>) {
    crate::dpc::DpcTable::freed(st, address, size, "ExFreePoolWithTag");
    if !st.findings.per_object() {
        raw_free(address, size);
        return;
    }
    // SAFETY: the block is still ours (it leaves the host only in `release`), `size` bytes long.
    unsafe { (address as *mut u8).write_bytes(FREED, size) };
    st.quarantine.0.push_back(Quarantined {
        address,
        size,
        what: what.into(),
    });
    if st.quarantine.0.len() > QUARANTINE
        && let Some(oldest) = st.quarantine.0.pop_front()
    {
        release(st, &oldest);
    }
}

fn release(st: &mut State, q: &Quarantined) {
    // SAFETY: a quarantined block is host memory of `q.size` bytes nobody else frees.
    let bytes = unsafe { std::slice::from_raw_parts(q.address as *const u8, q.size) };
    if let Some(at) = bytes.iter().position(|b| *b != FREED) {
        st.violate(
            Rule::UseAfterFree,
            "ExFreePoolWithTag",
            None,
            format!(
                "{} was written after it was freed (byte {at} is {:#04x})",
                q.what.describe(),
                bytes[at]
            ),
        );
    }
    raw_free(q.address, q.size);
}

/// Checks and releases every quarantined block (at unload).
pub(crate) fn check_quarantine_all(st: &mut State) {
    while let Some(q) = st.quarantine.0.pop_front() {
        release(st, &q);
    }
}

/// `ExAllocatePool2`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn ExAllocatePool2(Flags: u64, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID {
    const API: &str = "ExAllocatePool2";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let types = [POOL_FLAG_NON_PAGED, POOL_FLAG_NON_PAGED_EXECUTE, POOL_FLAG_PAGED]
        .iter()
        .filter(|t| Flags & **t != 0)
        .count();
    if types != 1 {
        st.violate(
            Rule::BadParameter,
            API,
            None,
            format!("flags {Flags:#x} name {types} pool types (exactly one is required)"),
        );
        return std::ptr::null_mut();
    }
    if Flags & POOL_FLAG_PAGED != 0 && crate::irql::current() > APC_LEVEL {
        st.violate(Rule::Irql, API, None, "paged pool allocated above APC_LEVEL");
        return std::ptr::null_mut();
    }
    if Tag == 0 {
        st.violate(Rule::BadParameter, API, None, "pool tag 0 (a tag is required)");
    }
    if st.faults.should_fail(Kind::Pool, API) {
        return std::ptr::null_mut();
    }
    let fill = if Flags & POOL_FLAG_UNINITIALIZED != 0 {
        UNINITIALISED
    } else {
        0
    };
    let p = raw_alloc(NumberOfBytes, fill);
    let paged = Flags & POOL_FLAG_PAGED != 0;
    st.track_pool(p as usize, Kind::Pool, API, Tag, NumberOfBytes, None, paged);
    p.cast()
}

/// `ExFreePoolWithTag`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn ExFreePoolWithTag(P: PVOID, Tag: ULONG) {
    const API: &str = "ExFreePoolWithTag";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let address = P as usize;
    match st.tracker.get(address) {
        None => st.violate(
            Rule::BadFree,
            API,
            None,
            format!("{address:#x} is not allocated pool (never allocated, or freed already)"),
        ),
        Some(a) if a.kind != Kind::Pool => {
            let what = a.describe();
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!("{address:#x} is {what}, not ExAllocatePool2 memory"),
            );
        }
        Some(a) if a.paged && crate::irql::current() > APC_LEVEL => {
            let what = a.describe();
            st.violate(
                Rule::Irql,
                API,
                None,
                format!("{what} is paged pool, freed above APC_LEVEL (the limit for paged pool)"),
            );
        }
        Some(a) if a.tag != Tag => {
            let expected = a.tag;
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!(
                    "freed with tag {} but allocated with {}",
                    tag_str(Tag),
                    tag_str(expected)
                ),
            );
        }
        Some(_) => {
            let a = st.tracker.remove(address).expect("present");
            let size = a.size.max(1);
            quarantine(&mut st, address, size, a);
        }
    }
}

/// A handle NDIS accepts as the `NdisHandle` of an allocation: the adapter or driver handle, or (for
/// the APIs that document it) a generic object.
pub(crate) fn handle_kind(st: &State, handle: NDIS_HANDLE) -> Option<&'static str> {
    let value = handle as usize;
    if st.adapter_of(handle).is_some() {
        return Some("adapter");
    }
    if st.driver.registration().is_some_and(|r| r.handle == value) {
        return Some("driver");
    }
    if st
        .tracker
        .get(value)
        .is_some_and(|a| a.kind == Kind::GenericObject)
    {
        return Some("generic object");
    }
    None
}

/// `NdisAllocateMemoryWithTagPriority`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateMemoryWithTagPriority(
    NdisHandle: NDIS_HANDLE,
    Length: UINT,
    Tag: ULONG,
    Priority: i32,
) -> PVOID {
    const API: &str = "NdisAllocateMemoryWithTagPriority";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    match handle_kind(&st, NdisHandle) {
        Some("adapter" | "driver") => {}
        Some(other) => {
            st.violate(
                Rule::BadParameter,
                API,
                None,
                format!(
                    "NdisHandle is a {other}; the documentation lists only adapter and driver handles here"
                ),
            );
            return std::ptr::null_mut();
        }
        None => {
            st.violate(
                Rule::BadParameter,
                API,
                None,
                format!("NdisHandle {:#x} is not an NDIS handle", NdisHandle as usize),
            );
            return std::ptr::null_mut();
        }
    }
    let _ = Priority;
    if st.faults.should_fail(Kind::Memory, API) {
        return std::ptr::null_mut();
    }
    let p = raw_alloc(Length as usize, UNINITIALISED);
    let parent = None;
    st.track(p as usize, Kind::Memory, API, Tag, Length as usize, parent);
    p.cast()
}

/// `NdisFreeMemory`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeMemory(VirtualAddress: PVOID, Length: UINT, MemoryFlags: UINT) {
    const API: &str = "NdisFreeMemory";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let address = VirtualAddress as usize;
    if MemoryFlags != 0 {
        st.violate(
            Rule::BadParameter,
            API,
            None,
            format!("MemoryFlags {MemoryFlags:#x} (0 for NdisAllocateMemoryWithTagPriority memory)"),
        );
    }
    match st.tracker.get(address) {
        Some(a) if a.kind == Kind::Memory && a.size == Length as usize => {
            let a = st.tracker.remove(address).expect("present");
            let size = a.size.max(1);
            quarantine(&mut st, address, size, a);
        }
        Some(a) if a.kind == Kind::Memory => {
            let size = a.size;
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!("Length {Length} but {size} bytes were allocated"),
            );
        }
        Some(a) => {
            let what = a.describe();
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!("{address:#x} is {what}, not NdisAllocateMemoryWithTagPriority memory"),
            );
        }
        None => st.violate(
            Rule::BadFree,
            API,
            None,
            format!("{address:#x} is not allocated (never allocated, or freed already)"),
        ),
    }
}

/// The generic-object header the host writes. The documentation says NDIS sets `Header.Type` to
/// `NDIS_OBJECT_TYPE_GENERIC_OBJECT`, which the WDK 10.0.22000 headers do not define; the host
/// leaves it 0 and sets revision 1 and size `sizeof(NDIS_GENERIC_OBJECT)`.
const GENERIC_OBJECT_HEADER: NDIS_OBJECT_HEADER = NDIS_OBJECT_HEADER {
    Type: 0,
    Revision: 1,
    Size: size_of::<NDIS_GENERIC_OBJECT>() as u16,
};

/// `NdisAllocateGenericObject`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateGenericObject(
    DriverObject: PDRIVER_OBJECT,
    Tag: ULONG,
    Size: USHORT,
) -> PNDIS_GENERIC_OBJECT {
    const API: &str = "NdisAllocateGenericObject";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let ours = st.driver.object_address();
    if !DriverObject.is_null() && Some(DriverObject as usize) != ours {
        st.violate(
            Rule::BadParameter,
            API,
            None,
            format!(
                "DriverObject {:#x} is not the driver's object",
                DriverObject as usize
            ),
        );
        return std::ptr::null_mut();
    }
    if st.faults.should_fail(Kind::GenericObject, API) {
        return std::ptr::null_mut();
    }
    let total = size_of::<NDIS_GENERIC_OBJECT>() + usize::from(Size);
    let p = raw_alloc(total, UNINITIALISED).cast::<NDIS_GENERIC_OBJECT>();
    let header = NDIS_GENERIC_OBJECT {
        Header: GENERIC_OBJECT_HEADER,
        Caller: std::ptr::null_mut(),
        CallersCaller: std::ptr::null_mut(),
        DriverObject,
    };
    // SAFETY: `p` is a fresh, 16-byte aligned block of `total` >= sizeof(NDIS_GENERIC_OBJECT) bytes.
    unsafe { p.write(header) };
    st.track(p as usize, Kind::GenericObject, API, Tag, total, None);
    p
}

/// `NdisFreeGenericObject`.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeGenericObject(NdisObject: PNDIS_GENERIC_OBJECT) {
    const API: &str = "NdisFreeGenericObject";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let address = NdisObject as usize;
    match st.tracker.get(address) {
        Some(a) if a.kind == Kind::GenericObject => {}
        Some(a) => {
            let what = a.describe();
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!("{address:#x} is {what}, not a generic object"),
            );
            return;
        }
        None => {
            st.violate(
                Rule::BadFree,
                API,
                None,
                format!("{address:#x} is not a live generic object (never allocated, or freed already)"),
            );
            return;
        }
    }
    let children: Vec<String> = st.tracker.children(address).map(|(_, a)| a.describe()).collect();
    let object = st.tracker.remove(address).expect("present");
    if !children.is_empty() {
        st.violate(
            Rule::GenericObjectFreedWithChildren,
            API,
            match object.owner {
                crate::verifier::Owner::Adapter(a) => Some(a),
                crate::verifier::Owner::Driver => None,
            },
            format!(
                "generic object {} freed while {} allocated through it: {}",
                tag_str(object.tag),
                children.len(),
                children.join("; ")
            ),
        );
    }
    let size = object.size;
    quarantine(&mut st, address, size, object);
}
