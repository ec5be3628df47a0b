//! `NET_BUFFER_LIST`, `NET_BUFFER` and MDL: the driver's pools and allocations, and the protocol side
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
    /// It carried `LSOv2` information: its completion must carry `LsoV2TransmitComplete`.
    pub large_send: bool,
    /// Host memory of an NBL of any layout but the common one (NBL, NBs, MDLs and data):
    /// blocks (address, size) freed with the record. The common layout's blocks stay with its
    /// slot ([`Spare`]), and this is empty.
    blocks: Vec<(usize, usize)>,
}

/// A host NBL with one NB, one MDL and a data buffer of `capacity` bytes, which the host reuses
/// for later sends once the driver completed it and the completion was checked, as a protocol's
/// NBL cache does (TCP/IP does not allocate an NBL per send). It belongs to one slot of the
/// [`SentTable`] for its life, so a reuse moves nothing. Every field a driver reads is rewritten
/// on reuse.
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

/// The index of a size class among the spares.
fn class_index(capacity: usize) -> usize {
    capacity.trailing_zeros().saturating_sub(11) as usize
}

/// The host NBLs the driver has (or had, until they are released): each record in a slot of a
/// table, and each NBL carrying its slot number in `ProtocolReserved[0]`, the protocol's own area
/// (miniports must not touch it), as a protocol keeps its per-send state in the NBL instead of a
/// lookup. An NBL is found by reading its slot and checking the slot holds that NBL.
///
/// A slot that carried an NBL of the common layout keeps its blocks ([`Spare`]) when the record
/// is released: the next send of that size takes the slot back whole, so a send and its release
/// move a few words, not the NBL's memory or its record.
#[derive(Debug, Default)]
pub(crate) struct SentTable {
    slots: Vec<Slot>,
    /// Free slots without blocks.
    free: Vec<u32>,
    /// Free slots keeping a spare, by size class (index `log2(capacity) - 11`).
    spares: Vec<Vec<u32>>,
}

/// One slot of the [`SentTable`].
#[derive(Debug, Default)]
struct Slot {
    /// The NBL of the record (0 when the slot is free).
    nbl: usize,
    /// The record while `nbl` is set; a free slot that keeps a spare keeps its last record too,
    /// for the next send to rewrite in place.
    sent: Option<Sent>,
    /// The common layout's blocks this slot keeps across sends.
    spare: Option<Spare>,
}

impl SentTable {
    /// The slot an NBL names (its `ProtocolReserved[0]`, 0 for none, else slot + 1).
    fn slot_of(nbl: usize) -> Option<usize> {
        // The host reads its own field of an NBL the driver handed back (a host NBL, or whatever
        // the driver passed, which NDIS would dereference as well); any thread, under the state
        // lock that guards the table.
        // SAFETY: a plain read of a pointer-sized field of the NBL the caller names.
        let mark = unsafe { (*(nbl as PNET_BUFFER_LIST)).ProtocolReserved.0[0] } as usize;
        mark.checked_sub(1)
    }

    /// A free slot, new if none is.
    fn free_slot(&mut self) -> usize {
        self.free.pop().map_or_else(
            || {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            },
            |slot| slot as usize,
        )
    }

    /// A free slot keeping a spare of `capacity` bytes (the blocks are made if no slot keeps one),
    /// and whether it was reused. The caller describes its frame in the spare and then records the
    /// send with [`Self::occupy`]. Inlined into the send path (once per NBL sent).
    #[inline]
    fn spare_slot(&mut self, capacity: usize) -> (usize, &Spare, bool) {
        let reused = self.spares.get_mut(class_index(capacity)).and_then(Vec::pop);
        let slot = reused.map_or_else(|| self.free_slot(), |slot| slot as usize);
        let spare = self.slots[slot].spare.get_or_insert_with(|| Spare {
            nbl: raw_alloc(size_of::<NET_BUFFER_LIST>(), 0).cast(),
            nb: raw_alloc(size_of::<NET_BUFFER>(), 0).cast(),
            mdl: raw_alloc(size_of::<MDL>(), 0).cast(),
            buffer: raw_alloc(capacity, 0),
            capacity,
        });
        (slot, spare, reused.is_some())
    }

    /// Records a host NBL sent to the driver in `slot`, marking the NBL with it.
    fn occupy(&mut self, slot: usize, nbl: usize, sent: Sent) {
        let entry = &mut self.slots[slot];
        entry.nbl = nbl;
        entry.sent = Some(sent);
        // The host's NBL, not handed out yet: its protocol area is the host's.
        // SAFETY: a write to a field of a live host NBL.
        unsafe { (*(nbl as PNET_BUFFER_LIST)).ProtocolReserved.0[0] = (slot + 1) as PVOID };
    }

    /// Records a host NBL of any layout but the common one (its blocks are in `sent`).
    pub fn insert(&mut self, nbl: usize, sent: Sent) {
        let slot = self.free_slot();
        self.occupy(slot, nbl, sent);
    }

    fn slot(&self, nbl: usize) -> Option<&Slot> {
        self.slots.get(Self::slot_of(nbl)?).filter(|s| s.nbl == nbl)
    }

    pub fn get(&self, nbl: usize) -> Option<&Sent> {
        self.slot(nbl)?.sent.as_ref()
    }

    pub fn get_mut(&mut self, nbl: usize) -> Option<&mut Sent> {
        let slot = Self::slot_of(nbl)?;
        self.slots.get_mut(slot).filter(|s| s.nbl == nbl)?.sent.as_mut()
    }

    /// Ends the record of `nbl`: its slot is free again, keeping its spare (up to
    /// [`SPARES_PER_CLASS`] per size class; beyond that the blocks are freed). Returns the blocks
    /// of any other layout, for the caller to free; `None` if `nbl` has no record. Inlined into
    /// the completion path (once per NBL completed).
    #[inline]
    pub fn remove(&mut self, nbl: usize) -> Option<Vec<(usize, usize)>> {
        let slot = Self::slot_of(nbl)?;
        let entry = self.slots.get_mut(slot).filter(|s| s.nbl == nbl)?;
        // The record stays where it is (the next send rewrites it): only its blocks leave.
        let blocks = std::mem::take(&mut entry.sent.as_mut()?.blocks);
        entry.nbl = 0;
        let index = slot as u32;
        let Some(spare) = &entry.spare else {
            entry.sent = None;
            self.free.push(index);
            return Some(blocks);
        };
        let class = class_index(spare.capacity);
        if self.spares.len() <= class {
            self.spares.resize_with(class + 1, Vec::new);
        }
        if self.spares[class].len() < SPARES_PER_CLASS {
            self.spares[class].push(index);
        } else {
            if let Some(spare) = entry.spare.take() {
                free_spare(&spare);
            }
            self.free.push(index);
        }
        Some(blocks)
    }

    pub fn keys(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().filter(|s| s.nbl != 0).map(|s| s.nbl)
    }

    pub fn values(&self) -> impl Iterator<Item = &Sent> + '_ {
        self.slots
            .iter()
            .filter(|s| s.nbl != 0)
            .filter_map(|s| s.sent.as_ref())
    }

    /// Frees every slot's spare (the records must have been released).
    fn free_spares(&mut self) {
        for slot in &mut self.slots {
            if let Some(spare) = slot.spare.take() {
                free_spare(&spare);
            }
        }
        self.spares.clear();
        self.free = (0..self.slots.len() as u32).collect();
    }
}

#[derive(Debug, Default)]
pub(crate) struct NblTracker {
    pools: HashMap<usize, Pool>,
    /// Driver-allocated NBLs -> their pool, and NBs allocated with them.
    driver_nbls: HashMap<usize, (usize, Option<usize>)>,
    driver_nbs: HashMap<usize, usize>,
    /// NBL context blocks, by NBL.
    contexts: HashMap<usize, (usize, usize)>,
    pub sent: SentTable,
    pub next_frame: u64,
    /// Completed host NBLs, oldest first, kept poisoned for a while before they are checked and freed.
    completed_fifo: std::collections::VecDeque<usize>,
    pub protocol: crate::adapter::ProtocolNbls,
}

/// Completed host NBLs kept poisoned before they are checked and released.
const KEEP_COMPLETED: usize = 4096;

/// NBLs the driver indicated and the protocol holds are marked in the NBL itself, as NDIS keeps
/// its own per-NBL state in the fields it reserves (`NdisReserved[1]`: the indicating adapter + 1,
/// 0 when not indicated), not in a table: no lookup per frame. The driver must not write these
/// fields; freshly allocated NBLs have them zero. The functions below are called under the state
/// lock, on NBLs the driver passed to an NDIS call (a plain read or write of one field, which NDIS
/// itself would make).
///
/// The protocol now holds `nbl`, indicated by `adapter`.
pub(crate) fn hold_indicated(nbl: usize, adapter: usize) {
    // SAFETY: an NBL the driver is indicating, live for the call (see above).
    unsafe { (*(nbl as PNET_BUFFER_LIST)).NdisReserved.0[1] = (adapter + 1) as PVOID };
}

/// The adapter that indicated `nbl`, while the protocol holds it.
pub(crate) fn indicated_by(nbl: usize) -> Option<usize> {
    // SAFETY: as for `hold_indicated`: a live NBL the driver passed.
    let mark = unsafe { (*(nbl as PNET_BUFFER_LIST)).NdisReserved.0[1] } as usize;
    mark.checked_sub(1)
}

/// The protocol returns `nbl` to its miniport.
pub(crate) fn release_indicated(nbl: usize) {
    // SAFETY: as for `hold_indicated`: an indicated NBL, live until its miniport has it back.
    unsafe { (*(nbl as PNET_BUFFER_LIST)).NdisReserved.0[1] = std::ptr::null_mut() };
}

impl NblTracker {
    /// Keeps a completed host NBL (poisoned) for a while; returns the oldest kept one when there
    /// are more than [`KEEP_COMPLETED`], to be checked and released.
    pub fn keep_completed(&mut self, nbl: usize) -> Option<usize> {
        self.completed_fifo.push_back(nbl);
        if self.completed_fifo.len() > KEEP_COMPLETED {
            self.completed_fifo.pop_front()
        } else {
            None
        }
    }
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

/// Fills an NB's data description from an MDL chain, as NDIS does (`CurrentMdl` at `DataOffset`).
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
    if let Some(adapter) = indicated_by(key) {
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

mod mdl;
mod sends;
#[allow(unused_imports, reason = "the parts' items, under the module's old paths")]
pub(crate) use mdl::*;
#[allow(unused_imports, reason = "the parts' items, under the module's old paths")]
pub(crate) use sends::*;
pub use sends::{LargeSend, SendOptions};
