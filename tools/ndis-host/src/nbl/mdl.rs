//! MDLs: `NdisAllocateMdl`, `NdisFreeMdl`, `MmMapLockedPagesSpecifyCache`, `NdisGetDataBuffer`, and
//! reading a `NET_BUFFER`'s bytes through its MDL chain as the host checks them.

use super::*;

pub(super) fn make_mdl(va: PVOID, length: UINT) -> PMDL {
    let mdl = raw_alloc(size_of::<MDL>(), 0).cast::<MDL>();
    init_mdl(mdl, va, length);
    mdl
}

/// Writes a complete MDL describing `length` bytes of non-paged memory at `va`.
pub(super) fn init_mdl(mdl: PMDL, va: PVOID, length: UINT) {
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
    if st.tracker.get(key).is_some_and(|a| a.kind == Kind::Mdl) {
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
pub(super) fn walk_nb(nb: PNET_BUFFER, mut visit: impl FnMut(&[u8])) -> Option<usize> {
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
