//! Per-CPU lanes in pool memory: the multi-producer rings of the datapath (the transmit queue and
//! the receive free list) as the driver builds them, and the push every processor can make.

use ndis::{NDIS_STATUS, NDIS_STATUS_RESOURCES};

use crate::memory::{PoolBox, PoolSlice};
use crate::ring::{Dispatch, Mpsc, Slot};

/// Per-CPU lanes of the datapath's rings: Windows' processors per group. A CPU numbered beyond the
/// lanes (or added after they were built) pushes onto the shared lane ([`push_from_on`]).
pub const LANES: usize = 64;

/// A ring of one lane per CPU in pool memory.
pub type Lanes<T> = Mpsc<T, PoolSlice<Slot<T>>, LANES>;

/// An MPSC ring in pool memory whose lanes for `cpus` processors, and its shared lane, hold
/// `capacity` items each. The lanes of CPUs that did not exist then hold one item: such a CPU
/// (added later, or numbered `LANES` or more) pushes onto the shared lane instead ([`push_from_on`]).
/// Each lane's storage is allocated as the ring is built in place, so nothing the size of the
/// lanes is ever on the kernel stack. `PASSIVE_LEVEL` or `DISPATCH_LEVEL`.
///
/// # Errors
/// `NDIS_STATUS_RESOURCES` if the pool is exhausted (nothing stays allocated).
#[inline(never)]
pub fn build<T>(capacity: usize, cpus: usize, tag: u32) -> Result<PoolBox<Lanes<T>>, NDIS_STATUS> {
    PoolBox::new_in_place(tag, |place| {
        Mpsc::init_in_place(place, |lane| {
            let capacity = if lane < cpus || lane == LANES {
                capacity.next_power_of_two()
            } else {
                1
            };
            PoolSlice::new(capacity, tag, |_| Slot::new())
        })
    })
    .map_err(|_| NDIS_STATUS_RESOURCES)
}

/// Pushes items from `items` onto `on`'s CPU lane if the CPU existed when the lanes were built for
/// `cpus` processors, and onto the shared lane otherwise (every processor can push, whatever its
/// number and whenever it came), while they fit: on a CPU's own lane with one publish for them all. Returns an item taken from `items` that did not
/// fit (only the shared lane, which takes one at a time, can leave one); the rest stay in `items`.
pub fn push_from_on<T>(
    lanes: &Lanes<T>,
    cpus: usize,
    on: &Dispatch,
    items: &mut impl Iterator<Item = T>,
) -> Option<T> {
    if on.cpu() < cpus {
        lanes.push_from(on, items)
    } else {
        lanes.push_shared_from(on, items)
    }
}
