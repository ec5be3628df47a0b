//! One unit of a large send (a segment, or a coalesced unit) written into receive descriptors.
//! Safe code only: `wire`'s `#![forbid(unsafe_code)]` holds for this module too.

use super::{Adapter, LargeSend, MIN_FRAME, Reader, Taken, Unit};

/// Writes one unit of a large send into the buffers of `taken` (in order): its headers from the
/// template, then its payload read from the sender, and (when `compute`) its TCP checksum.
/// `false` if the sender's bytes could not be read.
#[inline(never)]
pub(super) fn fill_unit(
    receiver: &Adapter,
    taken: &mut Taken,
    send: &LargeSend,
    template: &[u8],
    unit: &Unit,
    reader: &mut Reader<'_>,
    compute: bool,
) -> bool {
    let size = receiver.rx.buffer_size();
    let frame_len = send.header_len + unit.len;
    let mut sum = send.pseudo_sum(unit);
    {
        let Some(first) = receiver.rx.buffer(taken, 0).get_mut(..send.header_len) else {
            return false;
        };
        send.write_headers(template, unit, first);
        if compute {
            sum.add(&first[send.headers.l4..]);
        }
    }
    let mut at = send.header_len;
    while at < frame_len {
        let (k, offset) = (at / size, at % size);
        let n = (size - offset).min(frame_len - at);
        let Some(piece) = receiver.rx.buffer(taken, k).get_mut(offset..offset + n) else {
            return false;
        };
        if !reader.read(piece) {
            return false;
        }
        if compute {
            sum.add(piece);
        }
        at += n;
    }
    let first = receiver.rx.buffer(taken, 0);
    if frame_len < MIN_FRAME
        && let Some(pad) = first.get_mut(frame_len..MIN_FRAME)
    {
        pad.fill(0);
    }
    if compute && let Some(field) = first.get_mut(send.checksum_at()..send.checksum_at() + 2) {
        field.copy_from_slice(&sum.checksum().to_be_bytes());
    }
    true
}
