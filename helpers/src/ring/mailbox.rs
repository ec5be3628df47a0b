//! A lock-free mailbox of intrusively linked nodes: any CPU posts a list, whoever collects takes
//! everything posted so far, oldest first.
//!
//! The receive side of RSS hands frames from the CPU that drains a wire to the DPC of each receive
//! queue through one of these: posting is one compare-and-swap per list, collecting one swap, and
//! neither waits for the other or allocates. A Treiber stack whose only pop is "take all" has no ABA
//! problem (no node is ever read from the stack and pushed back while another CPU looks at it).
//! Order: a list is posted reversed (newest node on top) and the collector reverses what it takes,
//! so nodes come out in the order they were posted, across posts and within each.

use core::ptr::null_mut;

use crate::sync::{AtomicPtr, Ordering};

/// A node type with one link the mailbox may use while it holds the node.
///
/// # Safety
/// `next` and `set_next` read and write only the node's link; a node's link is used by nothing
/// else while the node is posted; and a node may be handed to another thread with its ownership
/// (as an NBL moves between CPUs).
pub unsafe trait Linked {
    /// The node's link.
    ///
    /// # Safety
    /// `node` is a live node the caller owns or the mailbox holds.
    unsafe fn next(node: *mut Self) -> *mut Self;
    /// Sets the node's link.
    ///
    /// # Safety
    /// As [`Self::next`], and no other thread reads the link meanwhile.
    unsafe fn set_next(node: *mut Self, next: *mut Self);
}

/// The mailbox: the top of the stack of posted nodes (the newest).
#[derive(Debug)]
pub struct Mailbox<N> {
    top: AtomicPtr<N>,
}

// SAFETY: the mailbox only passes node pointers between threads, which `Linked` allows; whoever
// posts gives up the nodes and whoever collects owns them, the atomics order the links' accesses.
unsafe impl<N: Linked> Sync for Mailbox<N> {}
// SAFETY: as above.
unsafe impl<N: Linked> Send for Mailbox<N> {}

impl<N: Linked> Mailbox<N> {
    #[cfg(not(rvnic_loom))]
    #[must_use]
    /// An empty mailbox.
    pub const fn new() -> Self {
        Self {
            top: AtomicPtr::new(null_mut()),
        }
    }

    /// Loom's atomics cannot be made in a `const fn`.
    #[cfg(rvnic_loom)]
    #[must_use]
    pub fn new() -> Self {
        Self {
            top: AtomicPtr::new(null_mut()),
        }
    }

    /// Posts the list that starts at `first` (linked through [`Linked`], ending with a null link),
    /// keeping its order. Returns whether the mailbox was empty: only then does the collector need
    /// waking (a non-empty mailbox has a collection coming already, if the caller wakes it on every
    /// post that found it empty).
    ///
    /// # Safety
    /// The caller owns every node of the list and gives them to the mailbox.
    pub unsafe fn post(&self, first: *mut N) -> bool {
        if first.is_null() {
            return false;
        }
        // Reverse the list: `first` ends at the bottom, linked to what the mailbox holds.
        let mut newest = null_mut();
        let mut node = first;
        while !node.is_null() {
            // SAFETY: an owned node of the caller's list (the contract), not yet shared.
            let next = unsafe { N::next(node) };
            // SAFETY: as above.
            unsafe { N::set_next(node, newest) };
            newest = node;
            node = next;
        }
        // Relaxed: the value is only a guess for the compare-and-swap, whose success publishes.
        let mut top = self.top.load(Ordering::Relaxed);
        loop {
            // SAFETY: `first` is still the caller's: nobody sees it before the swap below succeeds.
            unsafe { N::set_next(first, top) };
            // Release: the links written above happen before a collector's Acquire swap sees them.
            match self
                .top
                .compare_exchange_weak(top, newest, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return top.is_null(),
                Err(now) => top = now,
            }
        }
    }

    /// Takes everything posted so far, oldest first, as a list linked through [`Linked`] (null:
    /// nothing). The caller owns the nodes.
    #[must_use]
    pub fn collect(&self) -> *mut N {
        // Acquire: pairs with the posts' Release, so their links are visible.
        let mut node = self.top.swap(null_mut(), Ordering::Acquire);
        let mut oldest = null_mut();
        while !node.is_null() {
            // SAFETY: the nodes are the collector's now (the swap took them all).
            let next = unsafe { N::next(node) };
            // SAFETY: as above.
            unsafe { N::set_next(node, oldest) };
            oldest = node;
            node = next;
        }
        oldest
    }

    /// Whether nothing is posted (a snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.top.load(Ordering::Relaxed).is_null()
    }
}

#[cfg(not(rvnic_loom))]
impl<N: Linked> Default for Mailbox<N> {
    fn default() -> Self {
        Self::new()
    }
}
