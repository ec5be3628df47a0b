//! OID requests as safe views: the request type decides which member of `NDIS_OID_REQUEST`'s
//! union is read, and the information buffer becomes a slice of exactly its stated length, once,
//! here.

use core::marker::PhantomData;

#[allow(
    clippy::wildcard_imports,
    reason = "the C names of ndis.h, used as the WDK's own headers are"
)]
use ndis::*;

/// A request NDIS passed to `MiniportOidRequest`, by the member its type makes valid.
#[derive(Debug)]
pub enum OidRequest<'r> {
    /// `NdisRequestQueryInformation` or `NdisRequestQueryStatistics`.
    Query(Query<'r>),
    /// `NdisRequestSetInformation`.
    Set(Set<'r>),
    /// `NdisRequestMethod`: input and output in one buffer.
    Method(Method<'r>),
    /// Any other type: not read further.
    Other(NDIS_REQUEST_TYPE),
}

/// A method request: the OID, its input (the first `InputBufferLength` bytes of the buffer) and
/// room for its output (`OutputBufferLength` bytes of the same buffer), and where the sizes go.
///
/// # Invariants
/// As for [`Query`]: `buffer` is the request's information buffer, as long as the longer of its
/// input and output lengths; `input_len` is at most its length.
#[derive(Debug)]
pub struct Method<'r> {
    oid: NDIS_OID,
    buffer: &'r mut [u8],
    input_len: usize,
    read: &'r mut u32,
    written: &'r mut u32,
    needed: &'r mut u32,
}

/// A query: the OID, the buffer to answer into, and where the answer's sizes go.
///
/// # Invariants
/// `buffer` is the request's information buffer (lent by NDIS, or by an [`OwnedRequest`], for
/// `'r`); `written` and `needed` are the request's own fields.
#[derive(Debug)]
pub struct Query<'r> {
    oid: NDIS_OID,
    buffer: &'r mut [u8],
    written: &'r mut u32,
    needed: &'r mut u32,
}

/// A set: the OID, the buffer to read, and where the sizes of the answer go.
///
/// # Invariants
/// As for [`Query`], read-only buffer.
#[derive(Debug)]
pub struct Set<'r> {
    oid: NDIS_OID,
    buffer: &'r [u8],
    read: &'r mut u32,
    needed: &'r mut u32,
}

impl<'r> OidRequest<'r> {
    /// # Safety
    /// `request` is the request NDIS passed to `MiniportOidRequest` (or one built the same way),
    /// the caller's until it completes; its `InformationBuffer` is valid for
    /// `InformationBufferLength` bytes, readable and (for a query) writable, and aliased by
    /// nothing else for `'r` (NULL is read as no buffer).
    #[allow(non_upper_case_globals, reason = "C enumerator names in patterns")]
    pub unsafe fn from_raw(request: &'r mut NDIS_OID_REQUEST) -> Self {
        match request.RequestType {
            NdisRequestQueryInformation | NdisRequestQueryStatistics => {
                // SAFETY: `RequestType` says `QUERY_INFORMATION` is the union's valid member.
                let query = unsafe { &mut request.DATA.QUERY_INFORMATION };
                let (data, len) = (
                    query.InformationBuffer.cast::<u8>(),
                    query.InformationBufferLength,
                );
                let buffer: &'r mut [u8] = if data.is_null() {
                    &mut []
                } else {
                    // Lent for `'r`, `len` bytes, writable, unaliased (this function's contract);
                    // NDIS's buffers are non-paged, so usable at any IRQL <= DISPATCH_LEVEL.
                    // SAFETY: valid, exclusive bytes for `'r`.
                    unsafe { core::slice::from_raw_parts_mut(data, len as usize) }
                };
                Self::Query(Query {
                    oid: query.Oid,
                    buffer,
                    written: &mut query.BytesWritten,
                    needed: &mut query.BytesNeeded,
                })
            }
            NdisRequestSetInformation => {
                // SAFETY: `RequestType` says `SET_INFORMATION` is the union's valid member.
                let set = unsafe { &mut request.DATA.SET_INFORMATION };
                let (data, len) = (set.InformationBuffer.cast::<u8>(), set.InformationBufferLength);
                let buffer: &'r [u8] = if data.is_null() {
                    &[]
                } else {
                    // As for a query, read only.
                    // SAFETY: valid bytes for `'r`.
                    unsafe { core::slice::from_raw_parts(data, len as usize) }
                };
                Self::Set(Set {
                    oid: set.Oid,
                    buffer,
                    read: &mut set.BytesRead,
                    needed: &mut set.BytesNeeded,
                })
            }
            NdisRequestMethod => {
                // SAFETY: `RequestType` says `METHOD_INFORMATION` is the union's valid member.
                let method = unsafe { &mut request.DATA.METHOD_INFORMATION };
                let data = method.InformationBuffer.cast::<u8>();
                let input = method.InputBufferLength as usize;
                let len = input.max(method.OutputBufferLength as usize);
                let buffer: &'r mut [u8] = if data.is_null() {
                    &mut []
                } else {
                    // As for a query: NDIS lends the buffer for both directions, as long as the
                    // longer of the two lengths.
                    // SAFETY: valid, exclusive bytes for `'r`.
                    unsafe { core::slice::from_raw_parts_mut(data, len) }
                };
                Self::Method(Method {
                    oid: method.Oid,
                    input_len: input.min(buffer.len()),
                    buffer,
                    read: &mut method.BytesRead,
                    written: &mut method.BytesWritten,
                    needed: &mut method.BytesNeeded,
                })
            }
            other => Self::Other(other),
        }
    }
}

impl Query<'_> {
    #[must_use]
    /// The OID queried.
    pub fn oid(&self) -> NDIS_OID {
        self.oid
    }

    /// The information buffer, exactly `InformationBufferLength` bytes.
    pub fn buffer(&mut self) -> &mut [u8] {
        self.buffer
    }

    /// Records the answer's `BytesWritten` and `BytesNeeded`.
    pub fn finish(self, written: u32, needed: u32) {
        *self.written = written;
        *self.needed = needed;
    }
}

impl Set<'_> {
    #[must_use]
    /// The OID set.
    pub fn oid(&self) -> NDIS_OID {
        self.oid
    }

    /// The information buffer, exactly `InformationBufferLength` bytes.
    #[must_use]
    pub fn buffer(&self) -> &[u8] {
        self.buffer
    }

    /// Records the answer's `BytesRead` and `BytesNeeded`.
    pub fn finish(self, read: u32, needed: u32) {
        *self.read = read;
        *self.needed = needed;
    }
}

impl Method<'_> {
    #[must_use]
    /// The method's OID.
    pub fn oid(&self) -> NDIS_OID {
        self.oid
    }

    /// The input: the first `InputBufferLength` bytes of the buffer.
    #[must_use]
    pub fn input(&self) -> &[u8] {
        &self.buffer[..self.input_len]
    }

    /// The whole buffer, for an output written over the input.
    pub fn buffer(&mut self) -> &mut [u8] {
        self.buffer
    }

    /// Records `BytesRead`, `BytesWritten` and `BytesNeeded`.
    pub fn finish(self, read: u32, written: u32, needed: u32) {
        *self.read = read;
        *self.written = written;
        *self.needed = needed;
    }
}

/// A request NDIS passed to `MiniportOidRequest`, which the handler may keep to complete later
/// ([`crate::adapter::AdapterHandle::complete_request`]) after answering `NDIS_STATUS_PENDING`.
/// Dropped, it does nothing: the request completes with the status the handler returns.
///
/// # Invariants
/// `0` is the request NDIS passed to this call of `MiniportOidRequest`. NDIS keeps it (and its
/// information buffer) alive until `NdisMOidRequestComplete` is called for it; the handler's views
/// of it ([`OidRequest`]) end with the call, so after it the token is its only user.
#[derive(Debug)]
pub struct PendedRequest(core::ptr::NonNull<NDIS_OID_REQUEST>);

// SAFETY: the token is a handle to a request NDIS keeps for the driver until completed, usable
// from any CPU (NdisMOidRequestComplete is called at IRQL <= DISPATCH_LEVEL on any).
unsafe impl Send for PendedRequest {}

impl PendedRequest {
    /// # Safety
    /// `request` is the request NDIS passed to the running `MiniportOidRequest`, and the token is
    /// made once per call.
    #[must_use]
    pub unsafe fn from_raw(request: core::ptr::NonNull<NDIS_OID_REQUEST>) -> Self {
        Self(request)
    }

    /// The request, for `NdisMOidRequestComplete`.
    pub(crate) fn into_raw(self) -> PNDIS_OID_REQUEST {
        self.0.as_ptr()
    }
}

/// An `NDIS_OID_REQUEST` built around a buffer the caller lends, as NDIS builds one: for code that
/// issues requests itself (tests, tools) without unsafe code.
///
/// # Invariants
/// `request.DATA`'s member for `request.RequestType` points at a buffer borrowed for `'b` with its
/// exact length.
#[derive(Debug)]
pub struct OwnedRequest<'b> {
    request: NDIS_OID_REQUEST,
    _buffer: PhantomData<&'b mut [u8]>,
}

impl<'b> OwnedRequest<'b> {
    /// A request of `kind` for `oid` over `buffer` (a query writes it, a set reads it; any other
    /// kind only carries it).
    #[must_use]
    pub fn new(kind: NDIS_REQUEST_TYPE, oid: NDIS_OID, buffer: &'b mut [u8]) -> Self {
        // QUERY_INFORMATION and SET_INFORMATION begin with the same members (Oid, buffer, length),
        // so writing one makes the request valid for either type.
        let request = NDIS_OID_REQUEST {
            RequestType: kind,
            DATA: NDIS_OID_REQUEST_DATA {
                QUERY_INFORMATION: NDIS_OID_REQUEST_QUERY {
                    Oid: oid,
                    InformationBuffer: buffer.as_mut_ptr().cast(),
                    InformationBufferLength: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
                    BytesWritten: 0,
                    BytesNeeded: 0,
                },
            },
            ..NDIS_OID_REQUEST::default()
        };
        Self {
            request,
            _buffer: PhantomData,
        }
    }

    /// A method request for `oid` whose input is the first `input` bytes of `buffer` and whose
    /// output may use all of it.
    #[must_use]
    pub fn method(oid: NDIS_OID, buffer: &'b mut [u8], input: usize) -> Self {
        let length = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
        let request = NDIS_OID_REQUEST {
            RequestType: NdisRequestMethod,
            DATA: NDIS_OID_REQUEST_DATA {
                METHOD_INFORMATION: NDIS_OID_REQUEST_METHOD {
                    Oid: oid,
                    InformationBuffer: buffer.as_mut_ptr().cast(),
                    InputBufferLength: u32::try_from(input).unwrap_or(u32::MAX).min(length),
                    OutputBufferLength: length,
                    MethodId: 0,
                    BytesWritten: 0,
                    BytesRead: 0,
                    BytesNeeded: 0,
                },
            },
            ..NDIS_OID_REQUEST::default()
        };
        Self {
            request,
            _buffer: PhantomData,
        }
    }

    /// The request as `MiniportOidRequest` sees it.
    pub fn view(&mut self) -> OidRequest<'_> {
        // The buffer is borrowed for `'b`, which outlives this borrow of `self`, with its exact
        // length (the invariant); `&mut self` makes it unaliased for the view's life.
        // SAFETY: the contract of `from_raw`, met by construction.
        unsafe { OidRequest::from_raw(&mut self.request) }
    }

    /// `BytesWritten` (a query) or `BytesRead` (a set): the two share their offset.
    #[must_use]
    pub fn bytes_done(&self) -> u32 {
        // Both members are plain integers at the same offsets; `new` initialized them.
        // SAFETY: reading an initialized integer member of a union of plain structures.
        unsafe { self.request.DATA.QUERY_INFORMATION.BytesWritten }
    }

    /// A method request's `BytesRead`, `BytesWritten` and `BytesNeeded`; `None` for another type.
    #[must_use]
    pub fn method_sizes(&self) -> Option<(u32, u32, u32)> {
        (self.request.RequestType == NdisRequestMethod).then(|| {
            // `RequestType` says `METHOD_INFORMATION` is the member `method` initialized.
            // SAFETY: reading initialized integer members of the valid member.
            let m = unsafe { self.request.DATA.METHOD_INFORMATION };
            (m.BytesRead, m.BytesWritten, m.BytesNeeded)
        })
    }

    /// `BytesNeeded`.
    #[must_use]
    pub fn bytes_needed(&self) -> u32 {
        // SAFETY: as for `bytes_done`.
        unsafe { self.request.DATA.QUERY_INFORMATION.BytesNeeded }
    }
}
