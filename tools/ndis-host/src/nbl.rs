//! NET_BUFFER_LIST, NET_BUFFER and MDL: the driver's pools and allocations, and the protocol side
//! (NBL chains the host sends, NBLs the driver indicates).
//!
//! Ownership is tracked per NBL: each NBL the host sends is owned by the driver until it is completed,
//! exactly once; each NBL the driver indicates is owned by the protocol (the host) until it is returned.
//! When the driver completes an NBL the host poisons the fields the miniport may use (`Next`,
//! `MiniportReserved`) and later checks they are unchanged.
#![allow(non_snake_case, reason = "exports keep the C names of the WDK prototypes")]

use std::ops::Range;

use rustc_hash::FxHashMap as HashMap;

use ndis::*;

use crate::host::{State, current};
use crate::irql::with_thread;
use crate::memory::{raw_alloc, raw_free};
use crate::verifier::{Kind, Rule};

/// Fill of the fields a miniport must not touch after completing an NBL.
pub const COMPLETED: u8 = 0xDC;
pub(crate) const COMPLETED_WORD: usize = usize::from_ne_bytes([COMPLETED; 8]);
/// `MDL_PAGES_LOCKED` (wdm.h; not in the NDIS oracle): a protocol's send MDL describes locked
/// pages that may not be mapped to system space ([`SendOptions::unmapped_mdls`]).
const MDL_PAGES_LOCKED: i16 = 0x0002;
/// What an unmapped MDL's `MappedSystemVa` holds: nothing a driver may read through.
const UNMAPPED: usize = 0xBAD0_0000_0000;
/// The `NdisPoolHandle` the host's own (protocol) NBLs carry.
const HOST_POOL: usize = 0x4e48_0000_0000;

#[derive(Debug)]
pub(crate) struct Pool {
    nbl: bool,
    allocate_nb: bool,
    outstanding: usize,
}

/// An NBL the host built and sent.
#[derive(Debug)]
pub(crate) struct Sent {
    pub adapter: usize,
    pub completed: Option<NDIS_STATUS>,
    /// The `MiniportSendNetBufferLists` call that carried it has not returned yet.
    pub in_call: bool,
    /// The frame ids of its NBs (consecutive).
    pub frames: Range<u64>,
    /// It carried LSOv2 information: its completion must carry `LsoV2TransmitComplete`.
    pub large_send: bool,
    /// Host memory of the NBL, its NBs, MDLs and data, released with the NBL.
    memory: Memory,
}

/// The host memory behind a sent NBL.
#[derive(Debug)]
enum Memory {
    /// The common layout (one NB, one MDL), kept for reuse when released: see [`Spare`].
    Spare(Spare),
    /// Any other layout: blocks (address, size) freed when the NBL is released.
    Blocks(Vec<(usize, usize)>),
}

/// A host NBL with one NB, one MDL and a data buffer of `capacity` bytes, which the host reuses
/// for later sends once the driver completed it and the completion was checked, as a protocol's
/// NBL cache does (TCP/IP does not allocate an NBL per send). Every field the driver can see is
/// rewritten on reuse, exactly as a fresh allocation would have it.
#[derive(Debug)]
struct Spare {
    nbl: *mut NET_BUFFER_LIST,
    nb: *mut NET_BUFFER,
    mdl: PMDL,
    buffer: *mut u8,
    capacity: usize,
}

// SAFETY: the blocks are plain host memory; whoever holds the `Spare` (the state, under its lock)
// is their only user.
unsafe impl Send for Spare {}

/// Spare NBLs kept per buffer size class; beyond this they are freed.
const SPARES_PER_CLASS: usize = 8192;

/// The buffer capacity (size class) for `total` bytes of data: powers of two from 2 KiB.
fn capacity_class(total: usize) -> usize {
    total.max(2048).next_power_of_two()
}

#[derive(Debug, Default)]
pub(crate) struct NblTracker {
    pools: HashMap<usize, Pool>,
    /// Driver-allocated NBLs -> their pool, and NBs allocated with them.
    driver_nbls: HashMap<usize, (usize, Option<usize>)>,
    driver_nbs: HashMap<usize, usize>,
    /// NBL context blocks, by NBL.
    contexts: HashMap<usize, (usize, usize)>,
    pub sent: HashMap<usize, Sent>,
    /// NBLs the driver indicated and the protocol holds, by adapter.
    pub indicated: HashMap<usize, usize>,
    pub next_frame: u64,
    /// Completed host NBLs, oldest first, kept poisoned for a while before they are checked and freed.
    pub completed_fifo: std::collections::VecDeque<usize>,
    /// Released host NBLs of the common layout, by buffer capacity, ready for reuse.
    spares: HashMap<usize, Vec<Spare>>,
    pub protocol: crate::adapter::ProtocolNbls,
}

fn parent_and_check(st: &mut State, api: &'static str, handle: NDIS_HANDLE) -> Result<Option<usize>, ()> {
    match crate::memory::handle_kind(st, handle) {
        Some("generic object") => Ok(Some(handle as usize)),
        Some(_) => Ok(None),
        None => {
            st.violate(
                Rule::BadParameter,
                api,
                with_thread(|t| t.adapter),
                format!("NdisHandle {:#x} is not an NDIS handle", handle as usize),
            );
            Err(())
        }
    }
}

/// What a pool allocation asks for: NBL pool (with or without NBs) or NB pool.
struct PoolRequest {
    api: &'static str,
    kind: Kind,
    header: NDIS_OBJECT_HEADER,
    revision: u8,
    size: u16,
    tag: u32,
    context_size: u16,
    allocate_nb: bool,
}

/// `NdisAllocateNetBufferListPool` and `NdisAllocateNetBufferPool`: the same checks and tracking.
fn allocate_pool(handle: NDIS_HANDLE, request: Option<PoolRequest>, api: &'static str) -> NDIS_HANDLE {
    let host = current();
    if !host.check_irql(api) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let Ok(parent) = parent_and_check(&mut st, api, handle) else {
        return std::ptr::null_mut();
    };
    let Some(r) = request else {
        st.violate(Rule::BadParameter, api, None, "NULL Parameters");
        return std::ptr::null_mut();
    };
    if !st.check_header(r.api, r.header, NDIS_OBJECT_TYPE_DEFAULT, r.revision, r.size) {
        return std::ptr::null_mut();
    }
    if usize::from(r.context_size) % MEMORY_ALLOCATION_ALIGNMENT != 0 {
        st.violate(
            Rule::BadParameter,
            api,
            None,
            format!(
                "ContextSize {} is not a multiple of MEMORY_ALLOCATION_ALIGNMENT",
                r.context_size
            ),
        );
        return std::ptr::null_mut();
    }
    if st.faults.should_fail(r.kind, api) {
        return std::ptr::null_mut();
    }
    let pool = raw_alloc(8, 0) as usize;
    st.nbls.pools.insert(
        pool,
        Pool {
            nbl: r.kind == Kind::NblPool,
            allocate_nb: r.allocate_nb,
            outstanding: 0,
        },
    );
    st.track(pool, r.kind, api, r.tag, 0, parent);
    pool as NDIS_HANDLE
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateNetBufferListPool(
    NdisHandle: NDIS_HANDLE,
    Parameters: PNET_BUFFER_LIST_POOL_PARAMETERS,
) -> NDIS_HANDLE {
    const API: &str = "NdisAllocateNetBufferListPool";
    // SAFETY: the driver passes parameters valid for the call, or NULL.
    let request = unsafe { Parameters.as_ref() }.map(|p| PoolRequest {
        api: API,
        kind: Kind::NblPool,
        header: p.Header,
        revision: NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        size: NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        tag: p.PoolTag,
        context_size: p.ContextSize,
        allocate_nb: p.fAllocateNetBuffer != 0,
    });
    allocate_pool(NdisHandle, request, API)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateNetBufferPool(
    NdisHandle: NDIS_HANDLE,
    Parameters: PNET_BUFFER_POOL_PARAMETERS,
) -> NDIS_HANDLE {
    const API: &str = "NdisAllocateNetBufferPool";
    // SAFETY: as above.
    let request = unsafe { Parameters.as_ref() }.map(|p| PoolRequest {
        api: API,
        kind: Kind::NbPool,
        header: p.Header,
        revision: NET_BUFFER_POOL_PARAMETERS_REVISION_1,
        size: NDIS_SIZEOF_NET_BUFFER_POOL_PARAMETERS_REVISION_1,
        tag: p.PoolTag,
        context_size: 0,
        allocate_nb: false,
    });
    allocate_pool(NdisHandle, request, API)
}

fn free_pool(api: &'static str, pool: NDIS_HANDLE, nbl: bool) {
    let host = current();
    if !host.check_irql(api) {
        return;
    }
    let mut st = host.lock();
    let key = pool as usize;
    match st.nbls.pools.get(&key) {
        Some(p) if p.nbl == nbl && p.outstanding == 0 => {
            st.nbls.pools.remove(&key);
            st.tracker.remove(key);
            raw_free(key, 8);
        }
        Some(p) if p.nbl == nbl => {
            let n = p.outstanding;
            st.violate(
                Rule::BadFree,
                api,
                None,
                format!("pool freed with {n} allocation(s) from it still outstanding"),
            );
        }
        _ => st.violate(
            Rule::BadFree,
            api,
            None,
            format!("{key:#x} is not a live {} pool", if nbl { "NBL" } else { "NB" }),
        ),
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE) {
    free_pool("NdisFreeNetBufferListPool", PoolHandle, true);
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeNetBufferPool(PoolHandle: NDIS_HANDLE) {
    free_pool("NdisFreeNetBufferPool", PoolHandle, false);
}

/// Fills an NB's data description from an MDL chain, as NDIS does (CurrentMdl at DataOffset).
fn describe(nb: *mut NET_BUFFER, mdl: PMDL, offset: ULONG, length: SIZE_T) {
    let (mut current, mut within) = (mdl, offset);
    // SAFETY: the MDL chain is the caller's, valid while the NB uses it; only fields are read.
    while let Some(m) = unsafe { current.as_ref() } {
        if within < m.ByteCount || m.Next.is_null() {
            break;
        }
        within -= m.ByteCount;
        current = m.Next;
    }
    // SAFETY: `nb` is a freshly allocated NET_BUFFER owned by the host until handed out.
    let data = unsafe { (*nb).NetBufferHeader.data_mut() };
    data.MdlChain = mdl;
    data.CurrentMdl = current;
    data.CurrentMdlOffset = within;
    data.DataOffset = offset;
    data.NbDataLength = NET_BUFFER_DATA_LENGTH { stDataLength: length };
}

fn new_nb(pool: usize, mdl: PMDL, offset: ULONG, length: SIZE_T) -> *mut NET_BUFFER {
    let nb = raw_alloc(size_of::<NET_BUFFER>(), 0).cast::<NET_BUFFER>();
    // SAFETY: fresh zeroed NET_BUFFER-sized, 16-byte aligned block.
    unsafe { (*nb).NdisPoolHandle = pool as NDIS_HANDLE };
    describe(nb, mdl, offset, length);
    nb
}

fn new_nbl(st: &mut State, pool: usize, context_size: USHORT, backfill: USHORT) -> *mut NET_BUFFER_LIST {
    let nbl = raw_alloc(size_of::<NET_BUFFER_LIST>(), 0).cast::<NET_BUFFER_LIST>();
    // SAFETY: fresh zeroed NET_BUFFER_LIST-sized, 16-byte aligned block.
    unsafe { (*nbl).NdisPoolHandle = pool as NDIS_HANDLE };
    let total = usize::from(context_size) + usize::from(backfill);
    if total > 0 {
        let size = size_of::<NET_BUFFER_LIST_CONTEXT>() + total;
        let context = raw_alloc(size, 0).cast::<NET_BUFFER_LIST_CONTEXT>();
        // SAFETY: a fresh block large enough for the header, the host's until handed out.
        let header = unsafe { &mut *context };
        header.Size = u16::try_from(total).unwrap_or(u16::MAX);
        header.Offset = backfill;
        // SAFETY: the NBL is fresh and the host's until handed out.
        unsafe { (*nbl).Context = context };
        st.nbls.contexts.insert(nbl as usize, (context as usize, size));
    }
    nbl
}

fn free_nbl_memory(st: &mut State, nbl: usize) {
    if let Some((context, size)) = st.nbls.contexts.remove(&nbl) {
        raw_free(context, size);
    }
    crate::memory::quarantine(st, nbl, size_of::<NET_BUFFER_LIST>(), "a freed NET_BUFFER_LIST");
}

fn pool_for(st: &mut State, api: &'static str, pool: NDIS_HANDLE, nbl: bool) -> Option<usize> {
    let key = pool as usize;
    match st.nbls.pools.get(&key) {
        Some(p) if p.nbl == nbl => Some(key),
        _ => {
            st.violate(
                Rule::BadParameter,
                api,
                with_thread(|t| t.adapter),
                format!("{key:#x} is not a live {} pool", if nbl { "NBL" } else { "NB" }),
            );
            None
        }
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateNetBufferList(
    PoolHandle: NDIS_HANDLE,
    ContextSize: USHORT,
    ContextBackFill: USHORT,
) -> PNET_BUFFER_LIST {
    const API: &str = "NdisAllocateNetBufferList";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let Some(pool) = pool_for(&mut st, API, PoolHandle, true) else {
        return std::ptr::null_mut();
    };
    if st.faults.should_fail(Kind::Nbl, API) {
        return std::ptr::null_mut();
    }
    let nbl = new_nbl(&mut st, pool, ContextSize, ContextBackFill);
    st.nbls.pools.get_mut(&pool).expect("pool").outstanding += 1;
    st.nbls.driver_nbls.insert(nbl as usize, (pool, None));
    st.track(
        nbl as usize,
        Kind::Nbl,
        API,
        0,
        size_of::<NET_BUFFER_LIST>(),
        None,
    );
    nbl
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateNetBufferAndNetBufferList(
    PoolHandle: NDIS_HANDLE,
    ContextSize: USHORT,
    ContextBackFill: USHORT,
    MdlChain: PMDL,
    DataOffset: ULONG,
    DataLength: SIZE_T,
) -> PNET_BUFFER_LIST {
    const API: &str = "NdisAllocateNetBufferAndNetBufferList";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let Some(pool) = pool_for(&mut st, API, PoolHandle, true) else {
        return std::ptr::null_mut();
    };
    if !st.nbls.pools[&pool].allocate_nb {
        st.violate(
            Rule::BadParameter,
            API,
            with_thread(|t| t.adapter),
            "the pool was not created with fAllocateNetBuffer",
        );
        return std::ptr::null_mut();
    }
    if st.faults.should_fail(Kind::Nbl, API) {
        return std::ptr::null_mut();
    }
    let nbl = new_nbl(&mut st, pool, ContextSize, ContextBackFill);
    let nb = new_nb(pool, MdlChain, DataOffset, DataLength);
    // SAFETY: both blocks are fresh and the host's until returned.
    unsafe { (*nbl).NetBufferListHeader.data_mut().FirstNetBuffer = nb };
    st.nbls.pools.get_mut(&pool).expect("pool").outstanding += 1;
    st.nbls
        .driver_nbls
        .insert(nbl as usize, (pool, Some(nb as usize)));
    st.track(
        nbl as usize,
        Kind::Nbl,
        API,
        0,
        size_of::<NET_BUFFER_LIST>() + size_of::<NET_BUFFER>(),
        None,
    );
    nbl
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeNetBufferList(NetBufferList: PNET_BUFFER_LIST) {
    const API: &str = "NdisFreeNetBufferList";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let key = NetBufferList as usize;
    let Some(&(pool, nb)) = st.nbls.driver_nbls.get(&key) else {
        st.violate(
            Rule::BadFree,
            API,
            with_thread(|t| t.adapter),
            format!("{key:#x} is not an NBL the driver allocated (or it was freed already)"),
        );
        return;
    };
    if let Some(&adapter) = st.nbls.indicated.get(&key) {
        st.violate(
            Rule::NblNotOwned,
            API,
            Some(adapter),
            "freed an NBL the protocol still holds (indicated, not returned)",
        );
        return;
    }
    st.nbls.driver_nbls.remove(&key);
    if let Some(p) = st.nbls.pools.get_mut(&pool) {
        p.outstanding -= 1;
    }
    st.tracker.remove(key);
    if let Some(nb) = nb {
        crate::memory::quarantine(&mut st, nb, size_of::<NET_BUFFER>(), "a freed NET_BUFFER");
    }
    free_nbl_memory(&mut st, key);
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateNetBuffer(
    PoolHandle: NDIS_HANDLE,
    MdlChain: PMDL,
    DataOffset: ULONG,
    DataLength: SIZE_T,
) -> PNET_BUFFER {
    const API: &str = "NdisAllocateNetBuffer";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let Some(pool) = pool_for(&mut st, API, PoolHandle, false) else {
        return std::ptr::null_mut();
    };
    if st.faults.should_fail(Kind::Nb, API) {
        return std::ptr::null_mut();
    }
    let nb = new_nb(pool, MdlChain, DataOffset, DataLength);
    st.nbls.pools.get_mut(&pool).expect("pool").outstanding += 1;
    st.nbls.driver_nbs.insert(nb as usize, pool);
    st.track(nb as usize, Kind::Nb, API, 0, size_of::<NET_BUFFER>(), None);
    nb
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeNetBuffer(NetBuffer: PNET_BUFFER) {
    const API: &str = "NdisFreeNetBuffer";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let key = NetBuffer as usize;
    let Some(pool) = st.nbls.driver_nbs.remove(&key) else {
        st.violate(
            Rule::BadFree,
            API,
            with_thread(|t| t.adapter),
            format!("{key:#x} is not an NB the driver allocated (or it was freed already)"),
        );
        return;
    };
    if let Some(p) = st.nbls.pools.get_mut(&pool) {
        p.outstanding -= 1;
    }
    st.tracker.remove(key);
    crate::memory::quarantine(&mut st, key, size_of::<NET_BUFFER>(), "a freed NET_BUFFER");
}

fn make_mdl(va: PVOID, length: UINT) -> PMDL {
    let mdl = raw_alloc(size_of::<MDL>(), 0).cast::<MDL>();
    init_mdl(mdl, va, length);
    mdl
}

/// Writes a complete MDL describing `length` bytes of non-paged memory at `va`.
fn init_mdl(mdl: PMDL, va: PVOID, length: UINT) {
    let address = va as usize;
    let value = MDL {
        Next: std::ptr::null_mut(),
        Size: size_of::<MDL>() as i16,
        MdlFlags: MDL_SOURCE_IS_NONPAGED_POOL,
        Process: std::ptr::null_mut(),
        MappedSystemVa: va,
        StartVa: (address & !0xfff) as PVOID,
        ByteCount: length,
        ByteOffset: (address & 0xfff) as u32,
    };
    // SAFETY: an MDL-sized, aligned host block nobody else uses (fresh or a spare being reused).
    unsafe { mdl.write(value) };
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisAllocateMdl(NdisHandle: NDIS_HANDLE, VirtualAddress: PVOID, Length: UINT) -> PMDL {
    const API: &str = "NdisAllocateMdl";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let Ok(parent) = parent_and_check(&mut st, API, NdisHandle) else {
        return std::ptr::null_mut();
    };
    // NdisAllocateMdl's page: VirtualAddress "only accepts memory from the nonpaged pool"
    // (ExAllocatePool*(NonPagedNx), NdisAllocateMemoryWithTagPriority, ...), "not ... memory from
    // the stack, paged pool, driver global data". The host knows every block the driver allocated.
    if !st.tracker.in_non_paged(VirtualAddress as usize, Length as usize) {
        st.violate(
            Rule::BadParameter,
            API,
            with_thread(|t| t.adapter),
            format!(
                "{Length} bytes at {:#x} are not inside non-paged pool the driver allocated (stack, \
                 image data, paged pool or freed memory)",
                VirtualAddress as usize
            ),
        );
        return std::ptr::null_mut();
    }
    if st.faults.should_fail(Kind::Mdl, API) {
        return std::ptr::null_mut();
    }
    let mdl = make_mdl(VirtualAddress, Length);
    st.track(mdl as usize, Kind::Mdl, API, 0, size_of::<MDL>(), parent);
    mdl
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisFreeMdl(Mdl: PMDL) {
    const API: &str = "NdisFreeMdl";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let key = Mdl as usize;
    if st.tracker.live.get(&key).is_some_and(|a| a.kind == Kind::Mdl) {
        st.tracker.remove(key);
        crate::memory::quarantine(&mut st, key, size_of::<MDL>(), "a freed MDL");
    } else {
        st.violate(
            Rule::BadFree,
            API,
            with_thread(|t| t.adapter),
            format!("{key:#x} is not an MDL the driver allocated (or it was freed already)"),
        );
    }
}

/// The address of an MDL's buffer. Every host MDL describes host memory at `StartVa + ByteOffset`,
/// mapped or not as far as the driver can tell.
pub(crate) fn mdl_address(m: &MDL) -> *mut u8 {
    (m.StartVa as usize + m.ByteOffset as usize) as *mut u8
}

/// `MmMapLockedPagesSpecifyCache` for kernel mode, as `MmGetSystemAddressForMdlSafe` calls it: maps
/// an MDL that is not mapped yet and records the mapping in it; NULL when mapping fails (a
/// [`Kind::Mapping`] fault), as it does "if there are insufficient system resources".
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn MmMapLockedPagesSpecifyCache(
    MemoryDescriptorList: PMDL,
    AccessMode: KPROCESSOR_MODE,
    CacheType: MEMORY_CACHING_TYPE,
    RequestedAddress: PVOID,
    BugCheckOnFailure: ULONG,
    Priority: ULONG,
) -> PVOID {
    const API: &str = "MmMapLockedPagesSpecifyCache";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    let mut st = host.lock();
    let adapter = with_thread(|t| t.adapter);
    // The function's page: with KernelMode, RequestedAddress "must be NULL"; a kernel driver
    // mapping a protocol's buffer never asks for a user-mode mapping, and asks for no bug check.
    let _ = (CacheType, Priority);
    if MemoryDescriptorList.is_null()
        || AccessMode != KernelMode
        || !RequestedAddress.is_null()
        || BugCheckOnFailure != 0
    {
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            format!(
                "MDL {:#x}, AccessMode {AccessMode}, RequestedAddress {:#x}, BugCheckOnFailure {BugCheckOnFailure}",
                MemoryDescriptorList as usize, RequestedAddress as usize
            ),
        );
        return std::ptr::null_mut();
    }
    // SAFETY: the driver passes an MDL of an NB it owns.
    let m = unsafe { &mut *MemoryDescriptorList };
    if m.MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0 {
        // MmGetSystemAddressForMdlSafe returns MappedSystemVa for these; mapping one again would
        // leak a mapping (Windows bug-checks on a second mapping of a mapped MDL).
        st.violate(
            Rule::BadParameter,
            API,
            adapter,
            "the MDL is mapped already (MDL_MAPPED_TO_SYSTEM_VA or MDL_SOURCE_IS_NONPAGED_POOL): use MappedSystemVa",
        );
        return m.MappedSystemVa;
    }
    if st.faults.should_fail(Kind::Mapping, API) {
        return std::ptr::null_mut();
    }
    m.MappedSystemVa = mdl_address(m).cast();
    m.MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    m.MappedSystemVa
}

/// Copies an NB's data out of its MDL chain; `None` if the chain is shorter than `DataLength`.
pub(crate) fn read_nb(nb: PNET_BUFFER) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    walk_nb(nb, |piece| out.extend_from_slice(piece))?;
    Some(out)
}

/// The first `max` bytes of an NB's data (fewer if it is shorter), and its whole length; `None`
/// if the MDL chain is shorter than `DataLength`.
pub(crate) fn read_nb_prefix(nb: PNET_BUFFER, max: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(max);
    let len = walk_nb(nb, |piece| {
        let room = max - out.len();
        out.extend_from_slice(&piece[..piece.len().min(room)]);
    })?;
    Some((out, len))
}

/// Where an NB's data lies, MDL piece by MDL piece (address, bytes), without copying; `None` if
/// the MDL chain is shorter than `DataLength`. Valid while the NB's owner keeps it.
pub(crate) fn nb_pieces(nb: PNET_BUFFER) -> Option<Vec<(usize, usize)>> {
    let mut pieces = Vec::new();
    walk_nb(nb, |piece| pieces.push((piece.as_ptr() as usize, piece.len())))?;
    Some(pieces)
}

/// The NB's data length, checked against its MDL chain as [`read_nb`] checks it, without copying
/// (what the host needs when it neither captures frames nor has a receive handler).
pub(crate) fn nb_length(nb: PNET_BUFFER) -> Option<usize> {
    walk_nb(nb, |_| {})
}

/// Hands the NB's `DataLength` bytes to `visit`, MDL piece by MDL piece; `None` if the MDL chain
/// ends first.
fn walk_nb(nb: PNET_BUFFER, mut visit: impl FnMut(&[u8])) -> Option<usize> {
    // SAFETY: `nb` belongs to an NBL the caller may read (just indicated, or the host's own).
    let data = unsafe { *(*nb).NetBufferHeader.data() };
    let length = data.NbDataLength.get() as usize;
    let mut seen = 0;
    let (mut mdl, mut offset) = (data.CurrentMdl, data.CurrentMdlOffset as usize);
    while seen < length {
        if mdl.is_null() {
            return None;
        }
        // SAFETY: MDLs of a live NB describe mapped, readable memory of ByteCount bytes.
        let m = unsafe { &*mdl };
        let (va, count, next) = (mdl_address(m), m.ByteCount as usize, m.Next);
        if offset < count {
            let take = (count - offset).min(length - seen);
            // SAFETY: `offset + take <= count` bytes of the MDL's mapped memory.
            visit(unsafe { std::slice::from_raw_parts(va.wrapping_add(offset), take) });
            seen += take;
        }
        offset = offset.saturating_sub(count);
        mdl = next;
    }
    Some(length)
}

/// `NdisGetDataBuffer`: a pointer to `BytesNeeded` contiguous bytes at the NB's current position: in
/// the MDL itself when they are contiguous there, else copied to `Storage` (if given), else NULL.
#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisGetDataBuffer(
    NetBuffer: PNET_BUFFER,
    BytesNeeded: ULONG,
    Storage: PVOID,
    AlignMultiple: UINT,
    AlignOffset: UINT,
) -> PVOID {
    const API: &str = "NdisGetDataBuffer";
    let host = current();
    if !host.check_irql(API) {
        return std::ptr::null_mut();
    }
    // SAFETY: the driver passes an NB it owns.
    let data = *unsafe { &*NetBuffer }.NetBufferHeader.data();
    if BytesNeeded > data.NbDataLength.get() || data.CurrentMdl.is_null() {
        return std::ptr::null_mut();
    }
    if host.mapping_plan.load(std::sync::atomic::Ordering::Acquire)
        && host.lock().faults.should_fail(Kind::Mapping, API)
    {
        return std::ptr::null_mut();
    }
    // SAFETY: the NB's current MDL (checked non-null) maps readable memory.
    let m = unsafe { &*data.CurrentMdl };
    let (va, count) = (mdl_address(m), m.ByteCount);
    let offset = data.CurrentMdlOffset;
    if offset > count {
        return std::ptr::null_mut();
    }
    let here = va.wrapping_add(offset as usize);
    let aligned = AlignMultiple <= 1 || (here as usize) % (AlignMultiple as usize) == AlignOffset as usize;
    if count - offset >= BytesNeeded && aligned {
        return here.cast();
    }
    if Storage.is_null() {
        return std::ptr::null_mut();
    }
    let Some(bytes) = read_nb(NetBuffer) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the driver provides `Storage` of at least `BytesNeeded` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), Storage.cast::<u8>(), BytesNeeded as usize) };
    Storage
}

/// How the host lays out a send.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// NET_BUFFERs per NET_BUFFER_LIST (frames are grouped in order).
    pub nbs_per_nbl: usize,
    /// Split each frame's data into MDLs of at most this many bytes (`None`: one MDL per frame).
    pub mdl_split: Option<usize>,
    /// Send at DISPATCH_LEVEL (with `NDIS_SEND_FLAGS_DISPATCH_LEVEL`) instead of PASSIVE_LEVEL.
    pub dispatch: bool,
    /// Bytes of unused space before each frame's data in its first MDL (`DataOffset`).
    pub data_offset: usize,
    /// The cancel identifier every NBL carries (`NDIS_SET_NET_BUFFER_LIST_CANCEL_ID`), for
    /// [`crate::Host::cancel_send`]; `None` leaves it NULL.
    pub cancel_id: Option<usize>,
    /// LSOv2 information every NBL carries (`TcpLargeSendNetBufferListInfo`); with it, each NBL
    /// must carry one frame, as TCP/IP's large sends do.
    pub large_send: Option<LargeSend>,
    /// The `Transmit` bits of `TcpIpChecksumNetBufferListInfo` (`CHECKSUM_TX_*`) every NBL
    /// carries; 0 asks for nothing.
    pub checksum: u32,
    /// The MDLs describe locked pages not mapped to system space (`MdlFlags` without
    /// `MDL_MAPPED_TO_SYSTEM_VA` or `MDL_SOURCE_IS_NONPAGED_POOL`, `MappedSystemVa` garbage): the
    /// driver must map them (`MmGetSystemAddressForMdlSafe`), as it must for a protocol's buffers
    /// in Windows.
    pub unmapped_mdls: bool,
}

/// `LsoV2Transmit` of `NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargeSend {
    /// `MSS` (20 bits).
    pub mss: u32,
    /// `TcpHeaderOffset` (10 bits): the TCP header's offset from the frame's start.
    pub tcp_header_offset: u32,
    /// `IPVersion`: `NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6` when true.
    pub ipv6: bool,
}

impl LargeSend {
    /// The pointer-sized value TCP/IP stores.
    #[must_use]
    pub fn value(&self) -> usize {
        let ip = if self.ipv6 {
            NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6
        } else {
            NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4
        };
        ((self.mss & LSO_MSS_MASK)
            | ((self.tcp_header_offset & LSO_TCP_HEADER_OFFSET_MASK) << LSO_TCP_HEADER_OFFSET_SHIFT)
            | (NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE << LSO_TYPE_SHIFT)
            | (ip << LSO_IP_VERSION_SHIFT)) as usize
    }
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            nbs_per_nbl: 1,
            mdl_split: None,
            dispatch: true,
            data_offset: 0,
            cancel_id: None,
            large_send: None,
            checksum: 0,
            unmapped_mdls: false,
        }
    }
}

/// Builds a chain of host NBLs carrying `frames`, tracked as sent to `adapter`. Returns the head.
pub(crate) fn build_chain(
    st: &mut State,
    adapter: usize,
    frames: &[&[u8]],
    options: SendOptions,
) -> PNET_BUFFER_LIST {
    let per = options.nbs_per_nbl.max(1);
    let mut head: PNET_BUFFER_LIST = std::ptr::null_mut();
    let mut tail: PNET_BUFFER_LIST = std::ptr::null_mut();
    let mut link = |nbl: PNET_BUFFER_LIST| {
        if tail.is_null() {
            head = nbl;
        } else {
            // SAFETY: host-owned NBL chain under construction.
            unsafe { NET_BUFFER_LIST_SET_NEXT_NBL(tail, nbl) };
        }
        tail = nbl;
    };
    if per == 1 && options.mdl_split.is_none() {
        for frame in frames {
            let spare = spare_with(st, options.data_offset, frame);
            let nbl = spare.nbl;
            set_cancel_id(nbl, options.cancel_id);
            set_offload_info(nbl, &options);
            if options.unmapped_mdls {
                unmap(spare.mdl);
            }
            let id = st.nbls.next_frame;
            st.nbls.next_frame += 1;
            st.nbls.sent.insert(
                nbl as usize,
                Sent {
                    adapter,
                    completed: None,
                    in_call: true,
                    frames: id..id + 1,
                    large_send: options.large_send.is_some(),
                    memory: Memory::Spare(spare),
                },
            );
            link(nbl);
        }
        return head;
    }
    for group in frames.chunks(per) {
        st.nbls.protocol.allocated += 1;
        let nbl = raw_alloc(size_of::<NET_BUFFER_LIST>(), 0).cast::<NET_BUFFER_LIST>();
        let mut memory = vec![(nbl as usize, size_of::<NET_BUFFER_LIST>())];
        let first_id = st.nbls.next_frame;
        let mut previous_nb: PNET_BUFFER = std::ptr::null_mut();
        for frame in group {
            let total = options.data_offset + frame.len();
            let buffer = raw_alloc(total, 0);
            let at = buffer.wrapping_add(options.data_offset);
            // SAFETY: `buffer` has `total` bytes; the frame goes after the offset.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len()) };
            memory.push((buffer as usize, total));
            let chunk = options.mdl_split.unwrap_or(total).max(1);
            let mut first_mdl: PMDL = std::ptr::null_mut();
            let mut last_mdl: PMDL = std::ptr::null_mut();
            let mut at = 0;
            while at < total.max(1) {
                let len = chunk.min(total - at);
                let mdl = make_mdl(buffer.wrapping_add(at).cast(), len as u32);
                if options.unmapped_mdls {
                    unmap(mdl);
                }
                memory.push((mdl as usize, size_of::<MDL>()));
                if last_mdl.is_null() {
                    first_mdl = mdl;
                } else {
                    // SAFETY: `last_mdl` is this frame's previous MDL, host-owned.
                    unsafe { (*last_mdl).Next = mdl };
                }
                last_mdl = mdl;
                at += len.max(1);
            }
            let nb = new_nb(HOST_POOL, first_mdl, options.data_offset as u32, frame.len());
            memory.push((nb as usize, size_of::<NET_BUFFER>()));
            if previous_nb.is_null() {
                // SAFETY: the host's NBL, linked before it is handed out.
                unsafe { &mut *nbl }.NetBufferListHeader.data_mut().FirstNetBuffer = nb;
            } else {
                // SAFETY: the host's previous NB of this NBL, linked before it is handed out.
                unsafe { &mut *previous_nb }.NetBufferHeader.data_mut().Next = nb;
            }
            previous_nb = nb;
            st.nbls.next_frame += 1;
        }
        // SAFETY: host-owned NBL.
        unsafe { (*nbl).NdisPoolHandle = HOST_POOL as NDIS_HANDLE };
        set_cancel_id(nbl, options.cancel_id);
        set_offload_info(nbl, &options);
        st.nbls.sent.insert(
            nbl as usize,
            Sent {
                adapter,
                completed: None,
                in_call: true,
                frames: first_id..st.nbls.next_frame,
                large_send: options.large_send.is_some(),
                memory: Memory::Blocks(memory),
            },
        );
        link(nbl);
    }
    head
}

/// Marks a host NBL being built with the sender's offload requests.
fn set_offload_info(nbl: PNET_BUFFER_LIST, options: &SendOptions) {
    let lso = options.large_send.map_or(0, |l| l.value());
    // SAFETY: a host NBL under construction, not handed out yet.
    unsafe { NET_BUFFER_LIST_SET_INFO(nbl, TcpLargeSendNetBufferListInfo, lso as PVOID) };
    // SAFETY: as above.
    unsafe {
        NET_BUFFER_LIST_SET_INFO(
            nbl,
            TcpIpChecksumNetBufferListInfo,
            options.checksum as usize as PVOID,
        )
    };
}

/// Makes a host MDL look like a protocol's MDL of locked pages not mapped to system space.
fn unmap(mdl: PMDL) {
    // SAFETY: a host MDL under construction, not handed out yet.
    let m = unsafe { &mut *mdl };
    m.MdlFlags = MDL_PAGES_LOCKED;
    m.MappedSystemVa = UNMAPPED as PVOID;
}

/// Marks a host NBL being built with the sender's cancel identifier.
fn set_cancel_id(nbl: PNET_BUFFER_LIST, id: Option<usize>) {
    if let Some(id) = id {
        // SAFETY: a host NBL under construction, not handed out yet.
        unsafe { NDIS_SET_NET_BUFFER_LIST_CANCEL_ID(nbl, id as PVOID) };
    }
}

/// A host NBL of the common layout carrying `frame` after `data_offset` zero bytes: a spare of the
/// right size class if one was released, else a new one. Every field is as a fresh zeroed
/// allocation plus the description of this frame.
fn spare_with(st: &mut State, data_offset: usize, frame: &[u8]) -> Spare {
    let total = data_offset + frame.len();
    let capacity = capacity_class(total);
    let spare = match st.nbls.spares.get_mut(&capacity).and_then(Vec::pop) {
        Some(spare) => {
            st.nbls.protocol.reused += 1;
            spare
        }
        None => {
            st.nbls.protocol.allocated += 1;
            Spare {
                nbl: raw_alloc(size_of::<NET_BUFFER_LIST>(), 0).cast(),
                nb: raw_alloc(size_of::<NET_BUFFER>(), 0).cast(),
                mdl: raw_alloc(size_of::<MDL>(), 0).cast(),
                buffer: raw_alloc(capacity, 0),
                capacity,
            }
        }
    };
    // The spare's blocks are host memory no one else uses (new, or released after its completion
    // was checked): `buffer` has `capacity >= total` bytes, the others their types' sizes.
    // SAFETY: the offset's bytes are inside the host's buffer (above).
    unsafe { spare.buffer.write_bytes(0, data_offset) };
    let at = spare.buffer.wrapping_add(data_offset);
    // SAFETY: as above; the frame goes after the offset, inside the buffer.
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len()) };
    init_mdl(spare.mdl, spare.buffer.cast(), total as UINT);
    // SAFETY: as above; the NB is rewritten whole (zeroed, then described) before it is handed out.
    unsafe { spare.nb.write_bytes(0, 1) };
    // SAFETY: as above.
    unsafe { (*spare.nb).NdisPoolHandle = HOST_POOL as NDIS_HANDLE };
    describe(spare.nb, spare.mdl, data_offset as ULONG, frame.len());
    // SAFETY: as above; the NBL is rewritten whole before it is handed out.
    unsafe { spare.nbl.write_bytes(0, 1) };
    // SAFETY: as above.
    let nbl = unsafe { &mut *spare.nbl };
    nbl.NdisPoolHandle = HOST_POOL as NDIS_HANDLE;
    nbl.NetBufferListHeader.data_mut().FirstNetBuffer = spare.nb;
    spare
}

/// Frees a spare's blocks.
fn free_spare(spare: &Spare) {
    raw_free(spare.nbl as usize, size_of::<NET_BUFFER_LIST>());
    raw_free(spare.nb as usize, size_of::<NET_BUFFER>());
    raw_free(spare.mdl as usize, size_of::<MDL>());
    raw_free(spare.buffer as usize, spare.capacity);
}

/// Poisons what a miniport must not touch once it completed an NBL.
pub(crate) fn poison_completed(nbl: PNET_BUFFER_LIST) {
    // SAFETY: the protocol (host) owns the NBL again after completion.
    let nbl = unsafe { &mut *nbl };
    nbl.NetBufferListHeader.data_mut().Next = COMPLETED_WORD as PNET_BUFFER_LIST;
    nbl.MiniportReserved.0 = [COMPLETED_WORD as PVOID; 2];
}

/// Whether a completed NBL's poison is intact.
pub(crate) fn poison_intact(nbl: usize) -> bool {
    let nbl = nbl as PNET_BUFFER_LIST;
    // SAFETY: a completed host NBL, still allocated (freed only by `release_sent`).
    let nbl = unsafe { &*nbl };
    nbl.NetBufferListHeader.data().Next as usize == COMPLETED_WORD
        && nbl
            .MiniportReserved
            .0
            .iter()
            .all(|p| *p as usize == COMPLETED_WORD)
}

/// Frame ids as a list, for reports (`[3, 4]`).
pub(crate) fn listed(frames: &Range<u64>) -> Vec<u64> {
    frames.clone().collect()
}

/// Frees a completed host NBL after checking nothing wrote to it since completion.
pub(crate) fn release_sent(st: &mut State, nbl: usize) {
    let Some(sent) = st.nbls.sent.remove(&nbl) else {
        return;
    };
    if sent.completed.is_some() && !poison_intact(nbl) {
        st.violate(
            Rule::NblTouchedAfterCompletion,
            "NdisMSendNetBufferListsComplete",
            Some(sent.adapter),
            format!(
                "NBL {nbl:#x} (frames {:?}) was written after the driver completed it",
                listed(&sent.frames)
            ),
        );
    }
    match sent.memory {
        Memory::Blocks(blocks) => {
            for (address, size) in blocks {
                raw_free(address, size);
            }
        }
        Memory::Spare(spare) => {
            let kept = st.nbls.spares.entry(spare.capacity).or_default();
            if kept.len() < SPARES_PER_CLASS {
                kept.push(spare);
            } else {
                free_spare(&spare);
            }
        }
    }
}

/// At the end of a run: releases the host's NBLs (checking completed ones) and what the driver left.
pub(crate) fn release_all(st: &mut State) {
    let sent: Vec<usize> = st.nbls.sent.keys().copied().collect();
    for nbl in sent {
        release_sent(st, nbl);
    }
    for spare in st.nbls.spares.drain().flat_map(|(_, kept)| kept) {
        free_spare(&spare);
    }
    let contexts: Vec<(usize, usize)> = st.nbls.contexts.drain().map(|(_, c)| c).collect();
    for (address, size) in contexts {
        raw_free(address, size);
    }
    crate::timer::release_all(st);
}
