//! Receive-side scaling: what `OID_GEN_RECEIVE_SCALE_PARAMETERS` sets ([`Scaling`]), and the
//! receive queues that indicate each frame on the processor the indirection table names
//! ([`Queues`]).
//!
//! The wire hashes every frame it gives an adapter that has RSS on (`wire::rss`: Toeplitz over the
//! addresses and TCP ports, the types the protocol enabled), sets the hash on the NBL, and hands
//! it to the queue that the hash's indirection-table entry maps to. A queue is a lock-free
//! [`Mailbox`] and a DPC targeted at the queue's processor: the CPU that drains the wire posts the
//! frames and queues the DPC, which indicates them there ("RSS with Message Signaled Interrupts":
//! each queue's DPC runs on its own processor). As the `NDIS_RECEIVE_SCALE_PARAMETERS` page asks,
//! when the table names more processors than there are queues, a subset of them (the first ones
//! named) get the queues and the entries of the others share those.
//!
//! Only the CPU that holds the wire's baton posts and retargets (from the published copy of the
//! parameters), so a DPC is never retargeted while another CPU queues it.

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;
use rvnic_helpers::dpc::DpcSet;
use rvnic_helpers::generic_object::DriverObject;
use rvnic_helpers::nbl::Chain;
use rvnic_helpers::ring::Mailbox;

use super::rss::{HashType, HashTypes, MAX_KEY, hash_frame};
use crate::oid::{Refused, le16, le32};

/// Receive queues an adapter can have (`*NumRSSQueues` at most).
pub const MAX_QUEUES: usize = 16;
/// Indirection table entries rvnic takes (`NumberOfIndirectionTableEntries`, the NDIS 6.30 maximum).
pub const TABLE_ENTRIES: usize = 128;

/// The hash types rvnic computes: addresses, and TCP ports, over IPv4 and IPv6.
pub const HASH_TYPES: u32 = NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

/// The RSS parameters in effect: off, or the hash types, key and table the protocol set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// The enabled hash types (none: RSS is off).
    pub types: HashTypes,
    /// The secret key.
    pub key: [u8; MAX_KEY],
    /// Entries of the indirection table in use: a power of two, or 0 when off.
    pub entries: usize,
    /// The queue of each entry.
    pub table: [u8; TABLE_ENTRIES],
    /// The processor of each queue in use.
    pub processors: [PROCESSOR_NUMBER; MAX_QUEUES],
    /// Queues in use.
    pub queues: usize,
}

impl Scaling {
    /// RSS off.
    pub const OFF: Self = Self {
        types: HashTypes(0),
        key: [0; MAX_KEY],
        entries: 0,
        table: [0; TABLE_ENTRIES],
        processors: [PROCESSOR_NUMBER {
            Group: 0,
            Number: 0,
            Reserved: 0,
        }; MAX_QUEUES],
        queues: 0,
    };

    /// Whether frames are hashed and spread.
    #[must_use]
    pub const fn is_on(&self) -> bool {
        self.types.0 != 0 && self.entries != 0
    }

    /// The hash value and hash information (`NetBufferListHashValue`, `NetBufferListHashInfo`) of
    /// an Ethernet frame, or zeros when no enabled type applies to it. Not inlined into the
    /// copy of every frame: only frames for an adapter with RSS on come here.
    #[must_use]
    #[inline(never)]
    pub fn hash(&self, frame: &[u8]) -> (u32, u32) {
        hash_frame(&self.key, self.types, frame).map_or((0, 0), |(value, ty)| (value, info(ty)))
    }

    /// The queue a frame with hash `value` goes to: its indirection-table entry's (a frame without
    /// a hash, value 0, goes to entry 0's).
    #[must_use]
    pub fn queue_of(&self, value: u32) -> usize {
        let entry = value as usize & (self.entries.max(1) - 1);
        usize::from(self.table[entry])
    }
}

/// `NDIS_RSS_HASH_INFO_FROM_TYPE_AND_FUNC` of a hash type and Toeplitz.
#[must_use]
pub const fn info(ty: HashType) -> u32 {
    let bits = match ty {
        HashType::Ipv4 => NDIS_HASH_IPV4,
        HashType::TcpIpv4 => NDIS_HASH_TCP_IPV4,
        HashType::Ipv6 => NDIS_HASH_IPV6,
        HashType::TcpIpv6 => NDIS_HASH_TCP_IPV6,
    };
    bits | NdisHashFunctionToeplitz
}

/// The capabilities rvnic reports with `queues` receive queues (one DPC each).
#[must_use]
pub fn capabilities(queues: usize) -> NDIS_RECEIVE_SCALE_CAPABILITIES {
    let queues = u32::try_from(queues).unwrap_or(1);
    NDIS_RECEIVE_SCALE_CAPABILITIES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_RSS_CAPABILITIES,
            NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
            NDIS_SIZEOF_RECEIVE_SCALE_CAPABILITIES_REVISION_2,
        ),
        // Frames are classified where the DPC runs for a software NIC: the CPU that drains the
        // wire, at DISPATCH_LEVEL. The address types need no flag; the TCP types do.
        CapabilitiesFlags: NDIS_RSS_CAPS_CLASSIFICATION_AT_DPC
            | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4
            | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6
            | NdisHashFunctionToeplitz,
        NumberOfInterruptMessages: queues,
        NumberOfReceiveQueues: queues,
        // 128: fits.
        NumberOfIndirectionTableEntries: u16::try_from(TABLE_ENTRIES).unwrap_or(u16::MAX),
    }
}

/// The bytes `[offset, offset + size)` of the request, which must lie after the structure and
/// within the buffer.
fn region(b: &[u8], header: usize, offset: u32, size: u16) -> Result<&[u8], Refused> {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = offset.saturating_add(usize::from(size));
    if offset < header {
        return Err((NDIS_STATUS_INVALID_DATA, 0));
    }
    b.get(offset..end).ok_or((NDIS_STATUS_INVALID_LENGTH, end))
}

/// Applies an `OID_GEN_RECEIVE_SCALE_PARAMETERS` set to `current`, with at most `queues` receive
/// queues; `exists` says whether a processor number names a processor of this system. Returns the
/// bytes read and the new parameters.
///
/// # Errors
/// `NDIS_STATUS_INVALID_LENGTH` (with `BytesNeeded`) for a buffer shorter than the structure or
/// the table and key it points to; `NDIS_STATUS_INVALID_DATA` for a bad header, a table or key
/// offset inside the structure, a table that is not a power of two of `PROCESSOR_NUMBER`s up to
/// [`TABLE_ENTRIES`] or names a processor that does not exist, or a key that is not 40 bytes;
/// `NDIS_STATUS_NOT_SUPPORTED` for a hash function other than Toeplitz or hash types rvnic does
/// not compute (its capabilities do not offer them).
pub fn apply_parameters(
    current: &Scaling,
    buffer: &[u8],
    queues: usize,
    exists: impl Fn(PROCESSOR_NUMBER) -> bool,
) -> Result<(usize, Scaling), Refused> {
    let rev1 = usize::from(NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_1);
    let Some(&[ty, revision, s0, s1]) = buffer.first_chunk::<4>() else {
        return Err((NDIS_STATUS_INVALID_LENGTH, rev1));
    };
    let size = usize::from(u16::from_le_bytes([s0, s1]));
    let needed = if revision >= NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2 {
        usize::from(NDIS_SIZEOF_RECEIVE_SCALE_PARAMETERS_REVISION_2)
    } else {
        rev1
    };
    if ty != NDIS_OBJECT_TYPE_RSS_PARAMETERS || revision == 0 || size < needed {
        return Err((NDIS_STATUS_INVALID_DATA, 0));
    }
    if buffer.len() < needed {
        return Err((NDIS_STATUS_INVALID_LENGTH, needed));
    }
    let field16 = |at| le16(buffer, at);
    let field32 = |at| le32(buffer, at);
    let flags = field16(4);
    let hash_information = field32(8);
    if flags & NDIS_RSS_PARAM_FLAG_DISABLE_RSS != 0 || hash_information & NDIS_HASH_FUNCTION_MASK == 0 {
        // "The miniport driver should ignore all of the other flags and settings and disable
        // RSS"; a hash function of zero disables it too.
        return Ok((buffer.len(), Scaling::OFF));
    }
    let mut next = *current;
    if flags & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED == 0 || !current.is_on() {
        if hash_information & NDIS_HASH_FUNCTION_MASK != NdisHashFunctionToeplitz {
            return Err((NDIS_STATUS_NOT_SUPPORTED, 0));
        }
        let types = hash_information & NDIS_HASH_TYPE_MASK;
        if types & !HASH_TYPES != 0 || types == 0 {
            return Err((NDIS_STATUS_NOT_SUPPORTED, 0));
        }
        next.types = HashTypes(types);
    }
    if flags & NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED == 0 || !current.is_on() {
        let key = region(buffer, needed, field32(24), field16(20))?;
        next.key = key.try_into().map_err(|_| (NDIS_STATUS_INVALID_DATA, 0))?;
    }
    if flags & NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED == 0 || !current.is_on() {
        let table = region(buffer, needed, field32(16), field16(12))?;
        spread(&mut next, table, queues, exists)?;
    }
    Ok((buffer.len(), next))
}

/// Maps the indirection table (`PROCESSOR_NUMBER`s) to queues: each processor named gets a queue,
/// in the order first named, until `queues` are taken; entries of the processors after that share
/// the queues round-robin.
fn spread(
    next: &mut Scaling,
    table: &[u8],
    queues: usize,
    exists: impl Fn(PROCESSOR_NUMBER) -> bool,
) -> Result<(), Refused> {
    const ENTRY: usize = size_of::<PROCESSOR_NUMBER>();
    let entries = table.len() / ENTRY;
    if !table.len().is_multiple_of(ENTRY) || !entries.is_power_of_two() || entries > TABLE_ENTRIES {
        return Err((NDIS_STATUS_INVALID_DATA, 0));
    }
    let queues = queues.clamp(1, MAX_QUEUES);
    let mut named = [PROCESSOR_NUMBER::default(); TABLE_ENTRIES];
    let mut distinct = 0;
    for (entry, bytes) in table.chunks_exact(ENTRY).enumerate() {
        let number = PROCESSOR_NUMBER {
            Group: u16::from_le_bytes([bytes[0], bytes[1]]),
            Number: bytes[2],
            Reserved: 0,
        };
        if !exists(number) {
            return Err((NDIS_STATUS_INVALID_DATA, 0));
        }
        let index = named[..distinct]
            .iter()
            .position(|n| *n == number)
            .unwrap_or_else(|| {
                named[distinct] = number;
                distinct += 1;
                distinct - 1
            });
        next.table[entry] = u8::try_from(index % queues).unwrap_or(0);
    }
    next.queues = distinct.min(queues);
    next.processors[..next.queues].copy_from_slice(&named[..next.queues]);
    next.entries = entries;
    Ok(())
}

/// An adapter's receive queues: a mailbox and a DPC each.
#[derive(Debug)]
pub struct Queues {
    dpcs: DpcSet<MAX_QUEUES>,
    mailboxes: [Mailbox<NET_BUFFER_LIST>; MAX_QUEUES],
    /// How many the adapter has (`*NumRSSQueues`, capped by `*MaxRssProcessors` and the
    /// processors there are); 0 with `*RSS` off.
    count: usize,
}

impl Queues {
    /// `count` queues (at most [`MAX_QUEUES`]), their DPCs in a generic object of tag `tag`. The
    /// DPCs are bound by [`Self::bind`] once the adapter's address is final.
    ///
    /// # Errors
    /// `NDIS_STATUS_RESOURCES` if the generic object could not be made.
    pub fn new(driver: Option<DriverObject>, tag: u32, count: usize) -> Result<Self, NDIS_STATUS> {
        Ok(Self {
            dpcs: DpcSet::new(driver, tag).map_err(|_| NDIS_STATUS_RESOURCES)?,
            mailboxes: [const { Mailbox::new() }; MAX_QUEUES],
            count: count.min(MAX_QUEUES),
        })
    }

    /// The queues the adapter has (0: no RSS).
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// Binds the DPCs to the routine that indicates a queue's frames, with `context`.
    pub fn bind(&self, routine: PKDEFERRED_ROUTINE, context: *const core::ffi::c_void) {
        let _ = self.dpcs.bind(routine, context);
    }

    /// Points each queue's DPC at the processor `scaling` gives it. The wire's baton holder calls
    /// this when the parameters change, and is the only CPU that queues the DPCs.
    pub fn retarget(&self, scaling: &Scaling) {
        for (queue, number) in scaling.processors[..scaling.queues].iter().enumerate() {
            // The processors were checked when the parameters were set: this cannot fail.
            let _ = self.dpcs.target(queue, *number);
        }
    }

    /// Points queue `queue`'s DPC at processor `number` (a VM queue's affinity). The wire's baton
    /// holder calls this; `false` if the processor does not exist.
    pub fn target(&self, queue: usize, number: PROCESSOR_NUMBER) -> bool {
        self.dpcs.target(queue, number)
    }

    /// Waits until what was posted so far is indicated (the DPCs queued have run). `PASSIVE_LEVEL`.
    pub fn flush(&self) {
        self.dpcs.flush();
    }

    /// Hands `chain` to queue `queue` and wakes its DPC if it was idle. The wire's baton holder
    /// calls this.
    pub fn post(&self, queue: usize, chain: &mut Chain) {
        if let Some(mailbox) = self.mailboxes.get(queue)
            && chain.post_to(mailbox)
        {
            let _ = self.dpcs.queue(queue);
        }
    }

    /// What was posted to queue `queue`, oldest first (its DPC calls this).
    #[must_use]
    pub fn collect(&self, queue: usize) -> Chain {
        self.mailboxes
            .get(queue)
            .map_or_else(Chain::new, Chain::collect_from)
    }

    /// Stops the DPCs: none runs after this returns. `PASSIVE_LEVEL`, with nothing posting.
    pub fn close(&self) {
        self.dpcs.close();
    }
}

#[cfg(test)]
mod tests;
