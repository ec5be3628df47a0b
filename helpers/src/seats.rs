//! Seats on a shared medium: a fixed number of places, each empty or holding an [`Occupant`] the
//! table owns (in pool memory): a value and a private record, used only by whoever holds the
//! table's [`Baton`].
//!
//! This is how adapters share a wire without raw pointers in the driver: an adapter is moved into
//! its seat when it joins ([`Seats::occupy`]) and moved out when it leaves ([`Seats::vacate`]);
//! in between, the baton holder borrows it ([`Seats::get`]). The borrows hang on the held baton,
//! and occupying or vacating needs the baton exclusively (`&mut Held`), so no borrow can outlive
//! the value it points to. A private record per seat (the wire's copy of an adapter's receive
//! filter) is read with the baton shared and written with it exclusive, so it needs no lock. It
//! lives in the occupant's own pool memory, so an empty table is a few zero words per seat.

use core::cell::UnsafeCell;

use crate::memory::PoolBox;
use crate::ring::{Baton, Held};

/// A value and the private record a [`Seats`] table keeps with it. Outside a table only the value
/// is reachable ([`core::ops::Deref`]).
///
/// # Invariants
/// `private` is touched only by [`Seats`], under its baton, while the occupant is seated.
#[derive(Debug)]
pub struct Occupant<T, C> {
    value: T,
    private: UnsafeCell<C>,
}

// SAFETY: the value is shared as `T` is; the private record is used by one baton holder at a time
// (the invariant), which may be any CPU (`C: Send`).
unsafe impl<T: Sync, C: Send> Sync for Occupant<T, C> {}

impl<T, C> Occupant<T, C> {
    /// `value` with its private record.
    pub const fn new(value: T, private: C) -> Self {
        Self {
            value,
            private: UnsafeCell::new(private),
        }
    }
}

impl<T, C> core::ops::Deref for Occupant<T, C> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One seat: empty, or an occupant.
type Seat<T, C> = UnsafeCell<Option<PoolBox<Occupant<T, C>>>>;

/// See the module documentation. Any IRQL <= `DISPATCH_LEVEL`; nothing here blocks or allocates.
///
/// # Invariants
/// A seat is read only through a [`Held`] of this table's baton (checked on every call), and
/// written only through a `&mut Held` of it: one thread at a time, and never while a borrow handed
/// out through a shared `&Held` lives.
#[derive(Debug)]
pub struct Seats<T, C, const N: usize> {
    baton: Baton,
    seats: [Seat<T, C>; N],
}

// SAFETY: occupants are shared with whichever CPU holds the baton (`T: Sync`) and moved in and out
// between CPUs (`T: Send`); private records are touched by one baton holder at a time (`C: Send`).
// The invariant makes every access to a seat exclusive or shared-read only.
unsafe impl<T: Send + Sync, C: Send, const N: usize> Sync for Seats<T, C, N> {}

impl<T, C, const N: usize> Default for Seats<T, C, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, C, const N: usize> Seats<T, C, N> {
    /// Every seat empty.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            baton: Baton::new(),
            seats: [const { UnsafeCell::new(None) }; N],
        }
    }

    /// The table's baton: [`Baton::signal`] and [`Baton::try_take`] give the [`Held`] every other
    /// method needs.
    #[must_use]
    pub fn baton(&self) -> &Baton {
        &self.baton
    }

    /// Seat `seat`, if `held` is this table's baton and the seat exists.
    fn seat(&self, held: &Held<'_>, seat: usize) -> Option<&Seat<T, C>> {
        held.is_of(&self.baton).then(|| self.seats.get(seat)).flatten()
    }

    /// The occupant of `seat`, borrowed for as long as the baton is held and shared.
    #[must_use]
    pub fn get<'h>(&'h self, held: &'h Held<'_>, seat: usize) -> Option<&'h T> {
        let cell = self.seat(held, seat)?;
        // The baton is held (checked), and writes need it exclusively (`&mut Held`), which this
        // shared borrow of `held` rules out for `'h`.
        // SAFETY: a shared read of the seat, no writer possible for `'h`.
        let seat = unsafe { &*cell.get() };
        seat.as_ref().map(|occupant| &occupant.value)
    }

    /// The occupant of `seat` and its private record.
    #[must_use]
    pub fn get_with<'h>(&'h self, held: &'h Held<'_>, seat: usize) -> Option<(&'h T, &'h C)> {
        let cell = self.seat(held, seat)?;
        // SAFETY: as for `get`.
        let seat = unsafe { &*cell.get() };
        let occupant = seat.as_ref()?;
        // Seated, and only the baton holder touches the record: shared for `'h` like the seat.
        // SAFETY: no writer of the record for `'h` (writes need `&mut Held`).
        Some((&occupant.value, unsafe { &*occupant.private.get() }))
    }

    /// The occupant of `seat` and its private record, the record writable.
    pub fn get_mut<'h>(&'h self, held: &'h mut Held<'_>, seat: usize) -> Option<(&'h T, &'h mut C)> {
        let cell = self.seat(held, seat)?;
        // The baton is held exclusively (`&mut Held`, checked to be this table's) for `'h`: no
        // other borrow of any seat exists or can be made meanwhile.
        // SAFETY: exclusive access to the seat for `'h`.
        let seat = unsafe { &*cell.get() };
        let occupant = seat.as_ref()?;
        // As above: with the baton exclusive for `'h`, nobody else reads or writes the record.
        // SAFETY: exclusive access to the record for `'h`.
        Some((&occupant.value, unsafe { &mut *occupant.private.get() }))
    }

    /// Moves `occupant` into `seat`. Gives it back if the seat is taken, does not exist, or `held`
    /// is not this table's baton.
    ///
    /// # Errors
    /// `occupant`, back, if the seat is taken or does not exist, or `held` is not this table's
    /// baton.
    pub fn occupy(
        &self,
        held: &mut Held<'_>,
        seat: usize,
        occupant: PoolBox<Occupant<T, C>>,
    ) -> Result<(), PoolBox<Occupant<T, C>>> {
        let Some(cell) = self.seat(held, seat) else {
            return Err(occupant);
        };
        // The baton is held exclusively (`&mut Held`, checked to be this table's): no borrow of
        // any seat exists.
        // SAFETY: exclusive access to the seat for the call.
        let seat = unsafe { &mut *cell.get() };
        if seat.is_some() {
            return Err(occupant);
        }
        *seat = Some(occupant);
        Ok(())
    }

    /// Moves the occupant of `seat` out (`None` if empty); the table no longer lends it.
    pub fn vacate(&self, held: &mut Held<'_>, seat: usize) -> Option<PoolBox<Occupant<T, C>>> {
        let cell = self.seat(held, seat)?;
        // SAFETY: exclusive access to the seat for the call, as in `occupy`.
        let seat = unsafe { &mut *cell.get() };
        seat.take()
    }
}
