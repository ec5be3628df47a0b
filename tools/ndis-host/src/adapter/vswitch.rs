//! What a Hyper-V virtual switch does with an adapter's VM queues, through NDIS: it allocates a
//! queue per virtual NIC (`OID_RECEIVE_FILTER_ALLOCATE_QUEUE`, with the queue identifier NDIS
//! assigns), sets a filter on the virtual NIC's MAC address and VLAN
//! (`OID_RECEIVE_FILTER_SET_FILTER`, the filter identifier NDIS assigns), completes the
//! allocation (`OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE`), and when the virtual NIC goes,
//! clears the filters and frees the queue ("Allocating a VM Queue", "Freeing a VM Queue"). NDIS
//! answers the capability queries itself, from the hardware assist attributes.

use super::*;
use crate::vmq::QueueState;

/// A VM queue a virtual switch asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmQueueSpec {
    /// The virtual NIC's MAC address (the filter's destination address).
    pub mac: [u8; 6],
    /// Its VLAN (a VLAN identifier field in the filter), if any.
    pub vlan: Option<u16>,
    /// Only untagged frames or VLAN 0 (`NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO`).
    pub untagged_only: bool,
    /// The processor (of group 0) the queue is affinitized to.
    pub processor: u8,
}

/// A queue the switch allocated: its identifier and its filters'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmQueue {
    /// The queue identifier NDIS assigned.
    pub id: u32,
    /// The filter identifiers NDIS assigned.
    pub filters: Vec<u32>,
}

/// `NDIS_RECEIVE_QUEUE_PARAMETERS` (revision 2) of a VM queue `id` on `processor`, with the
/// per-queue indication flag a switch sets.
#[must_use]
pub fn queue_parameters(id: u32, processor: u8) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_PARAMETERS_REVISION_2);
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(&header(NDIS_RECEIVE_QUEUE_PARAMETERS_REVISION_2, size));
    put(
        &mut b,
        4,
        NDIS_RECEIVE_QUEUE_PARAMETERS_PER_QUEUE_RECEIVE_INDICATION,
    );
    put(&mut b, 8, NdisReceiveQueueTypeVMQueue);
    put(&mut b, 12, id);
    b[24..32].copy_from_slice(&(1u64 << processor).to_le_bytes());
    put(&mut b, 40, 128);
    let name: Vec<u8> = "rvnic-vm".encode_utf16().flat_map(u16::to_le_bytes).collect();
    b[52..54].copy_from_slice(&(name.len() as u16).to_le_bytes());
    b[54..54 + name.len()].copy_from_slice(&name);
    b
}

/// `NDIS_RECEIVE_FILTER_PARAMETERS` (revision 2) of VMQ filter `filter` on `queue`, followed by
/// its fields: the destination address, and the VLAN identifier if `vlan` (network byte order).
#[must_use]
pub fn filter_parameters(queue: u32, filter: u32, spec: &VmQueueSpec) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_FILTER_PARAMETERS_REVISION_2);
    let field = usize::from(NDIS_SIZEOF_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_2);
    let first = size.next_multiple_of(8);
    let count = 1 + usize::from(spec.vlan.is_some());
    let mut b = vec![0u8; first + count * field];
    b[..4].copy_from_slice(&header(NDIS_RECEIVE_FILTER_PARAMETERS_REVISION_2, size));
    put(&mut b, 8, NdisReceiveFilterTypeVMQueue);
    put(&mut b, 12, queue);
    put(&mut b, 16, filter);
    put(&mut b, 20, first as u32);
    put(&mut b, 24, count as u32);
    put(&mut b, 28, field as u32);
    let mut fields = vec![(NdisMacHeaderFieldDestinationAddress, spec.mac.to_vec())];
    if let Some(vlan) = spec.vlan {
        fields.push((NdisMacHeaderFieldVlanId, vlan.to_be_bytes().to_vec()));
    }
    for (k, (which, value)) in fields.into_iter().enumerate() {
        let at = first + k * field;
        b[at..at + 4].copy_from_slice(&header(NDIS_RECEIVE_FILTER_FIELD_PARAMETERS_REVISION_2, field));
        let flags = if spec.untagged_only {
            NDIS_RECEIVE_FILTER_FIELD_MAC_HEADER_VLAN_UNTAGGED_OR_ZERO
        } else {
            0
        };
        put(&mut b, at + 4, flags);
        put(&mut b, at + 8, NdisFrameHeaderMac);
        put(&mut b, at + 12, NdisReceiveFilterTestEqual);
        put(&mut b, at + 16, which);
        b[at + 24..at + 24 + value.len()].copy_from_slice(&value);
    }
    b
}

/// `NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY` with an element per queue of `ids`.
#[must_use]
pub fn allocation_complete(ids: &[u32]) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY_REVISION_1);
    let element = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1);
    let first = size.next_multiple_of(8);
    let mut b = vec![0u8; first + ids.len() * element];
    b[..4].copy_from_slice(&header(
        NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_ARRAY_REVISION_1,
        size,
    ));
    put(&mut b, 8, ids.len() as u32);
    put(&mut b, 12, first as u32);
    put(&mut b, 16, element as u32);
    for (k, id) in ids.iter().enumerate() {
        let at = first + k * element;
        b[at..at + 4].copy_from_slice(&header(
            NDIS_RECEIVE_QUEUE_ALLOCATION_COMPLETE_PARAMETERS_REVISION_1,
            element,
        ));
        put(&mut b, at + 8, *id);
        put(&mut b, at + 12, NDIS_STATUS_PENDING as u32);
    }
    b
}

/// `NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS` of filter `filter` on `queue`.
#[must_use]
pub fn clear_parameters(queue: u32, filter: u32) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1);
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(&header(NDIS_RECEIVE_FILTER_CLEAR_PARAMETERS_REVISION_1, size));
    put(&mut b, 8, queue);
    put(&mut b, 12, filter);
    b
}

/// `NDIS_RECEIVE_QUEUE_FREE_PARAMETERS` of `queue`.
#[must_use]
pub fn free_parameters(queue: u32) -> Vec<u8> {
    let size = usize::from(NDIS_SIZEOF_RECEIVE_QUEUE_FREE_PARAMETERS_REVISION_1);
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(&header(NDIS_RECEIVE_QUEUE_FREE_PARAMETERS_REVISION_1, size));
    put(&mut b, 8, queue);
    b
}

/// An `NDIS_OBJECT_HEADER` of type default.
fn header(revision: u8, size: usize) -> [u8; 4] {
    let [low, high] = (size as u16).to_le_bytes();
    [NDIS_OBJECT_TYPE_DEFAULT, revision, low, high]
}

fn put(b: &mut [u8], at: usize, value: u32) {
    b[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A method request of `input`, its output as long.
fn method(oid: NDIS_OID, input: Vec<u8>) -> OidRequest {
    let output_len = input.len();
    OidRequest::Method {
        oid,
        method_id: 0,
        input,
        output_len,
    }
}

impl Host {
    /// The receive filter (VMQ) capabilities the driver set in its hardware assist attributes
    /// (hardware, current), if it set any.
    #[must_use]
    pub fn receive_filter_capabilities(
        &self,
        adapter: Adapter,
    ) -> Option<(NDIS_RECEIVE_FILTER_CAPABILITIES, NDIS_RECEIVE_FILTER_CAPABILITIES)> {
        self.slot_call(adapter, |s| s.vmq.caps)
    }

    /// `OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES` or `..._CURRENT_CAPABILITIES`, which NDIS
    /// answers from the hardware assist attributes ("NDIS handles this OID for miniport drivers").
    pub(super) fn receive_filter_answer(
        &self,
        adapter: Adapter,
        oid: NDIS_OID,
        buffer_len: usize,
    ) -> OidResult {
        let caps = self.receive_filter_capabilities(adapter);
        let answer = caps.map(|(hardware, current)| {
            let c = if oid == OID_RECEIVE_FILTER_HARDWARE_CAPABILITIES {
                hardware
            } else {
                current
            };
            // SAFETY: plain data of its own size.
            unsafe {
                std::slice::from_raw_parts(
                    (&raw const c).cast::<u8>(),
                    usize::from(c.Header.Size).min(size_of::<NDIS_RECEIVE_FILTER_CAPABILITIES>()),
                )
            }
            .to_vec()
        });
        let (status, needed, data) = match answer {
            None => (NDIS_STATUS_NOT_SUPPORTED, 0, Vec::new()),
            Some(bytes) if bytes.len() > buffer_len => {
                (NDIS_STATUS_BUFFER_TOO_SHORT, bytes.len(), Vec::new())
            }
            Some(bytes) => (NDIS_STATUS_SUCCESS, 0, bytes),
        };
        OidResult {
            status,
            bytes_written: data.len() as u32,
            bytes_read: 0,
            bytes_needed: needed as u32,
            data,
        }
    }

    /// The state of queue `id` as NDIS knows it (`None`: not allocated).
    #[must_use]
    pub fn vm_queue_state(&self, adapter: Adapter, id: u32) -> Option<QueueState> {
        self.slot_call(adapter, |s| s.vmq.queues.get(&id).and_then(|q| q.state))
    }

    /// Free requests the driver pended (to wait for the queue's frames).
    #[must_use]
    pub fn vm_queue_frees_pended(&self, adapter: Adapter) -> u32 {
        self.slot_call(adapter, |s| s.vmq.frees_pended)
    }

    /// What a virtual switch does for a virtual NIC: allocates a queue, sets its filter and
    /// completes the allocation. The first request that fails is returned (the queue allocated
    /// so far stays, as the switch would then free it).
    ///
    /// # Errors
    /// The result of the request that failed, or of an allocation completed with another status
    /// than success for the queue.
    pub fn allocate_vm_queue(&self, adapter: Adapter, spec: &VmQueueSpec) -> Result<VmQueue, OidResult> {
        let id = self.slot_call(adapter, |s| s.vmq.next_queue());
        let r = self.oid(
            adapter,
            method(
                OID_RECEIVE_FILTER_ALLOCATE_QUEUE,
                queue_parameters(id, spec.processor),
            ),
        );
        if r.status != NDIS_STATUS_SUCCESS {
            return Err(r);
        }
        let filter = self.set_vm_filter(adapter, id, spec)?;
        let r = self.oid(
            adapter,
            method(
                OID_RECEIVE_FILTER_QUEUE_ALLOCATION_COMPLETE,
                allocation_complete(&[id]),
            ),
        );
        let completed = r
            .data
            .get(24 + 12..24 + 16)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if r.status != NDIS_STATUS_SUCCESS || completed != Some(NDIS_STATUS_SUCCESS as u32) {
            return Err(r);
        }
        Ok(VmQueue {
            id,
            filters: vec![filter],
        })
    }

    /// Sets another filter on queue `queue` (0: the default queue), with the identifier NDIS
    /// assigns; returns it.
    ///
    /// # Errors
    /// The result of the failed request.
    pub fn set_vm_filter(&self, adapter: Adapter, queue: u32, spec: &VmQueueSpec) -> Result<u32, OidResult> {
        let filter = self.slot_call(adapter, |s| s.vmq.next_filter());
        let r = self.oid(
            adapter,
            method(
                OID_RECEIVE_FILTER_SET_FILTER,
                filter_parameters(queue, filter, spec),
            ),
        );
        if r.status == NDIS_STATUS_SUCCESS {
            Ok(filter)
        } else {
            Err(r)
        }
    }

    /// Clears every filter of `queue` and frees it, as a switch does when its virtual NIC goes.
    /// While the free request pends the switch goes on returning the frames it holds (deferred
    /// return mode: every held NBL is returned then). Returns the free request's result (or the
    /// first failed clear's).
    pub fn free_vm_queue(&self, adapter: Adapter, queue: &VmQueue) -> OidResult {
        for filter in &queue.filters {
            let r = self.oid_set(
                adapter,
                OID_RECEIVE_FILTER_CLEAR_FILTER,
                &clear_parameters(queue.id, *filter),
            );
            if r.status != NDIS_STATUS_SUCCESS {
                return r;
            }
        }
        self.oid_set(adapter, OID_RECEIVE_FILTER_FREE_QUEUE, &free_parameters(queue.id))
    }
}
