//! A DMA-like descriptor ring: what a NIC and its driver share, modelled in memory the component owns.
//!
//! A ring of `count` descriptors (a power of two), each naming one buffer of `buffer_size` bytes
//! (rounded up to 64, and 64-byte aligned: an unaligned copy destination measured 17x slower here).
//! The driver *posts* descriptors to the device (setting `OWNED_BY_HW`), the device *completes* them
//! in order (clearing it, setting `DONE` and the status bits), and the driver *reclaims* completed
//! ones. A TX ring posts full buffers and reclaims them empty; an RX ring posts empty buffers and
//! reclaims them full. The ring is single-owner (`&mut self`); whoever shares it locks at the edge.
//!
//! Three free-running indices, `reclaim <= device <= post` (wrapping), `post - reclaim <= count`:
//! - `reclaim .. device`: completed, waiting for the driver;
//! - `device .. post`: owned by the device;
//! - `post .. reclaim + count`: free, the driver's to post.

use bitflags::bitflags;

use crate::generic_object::{self, DriverObject, GenericObject, Plain};
use crate::memory::PoolBlock;

bitflags! {
    /// Descriptor status, as a NIC's descriptor would carry it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Flags: u16 {
        /// The device owns the descriptor (set by post, cleared by complete).
        const OWNED_BY_HW = 1 << 0;
        /// The buffer starts a packet.
        const START_OF_PACKET = 1 << 1;
        /// The buffer ends a packet.
        const END_OF_PACKET = 1 << 2;
        /// The device completed the descriptor and the driver has not reclaimed it.
        const DONE = 1 << 3;
        /// The device failed the transfer.
        const ERROR = 1 << 4;
        /// The device verified the frame's checksums.
        const CHECKSUM_OK = 1 << 5;
    }
}

/// One descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Descriptor {
    /// Bytes of data in the buffer (TX: to send; RX: received).
    pub length: u32,
    pub flags: Flags,
}

/// TX rings post full buffers; RX rings post empty ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Tx,
    Rx,
}

/// Alignment of every buffer.
pub const BUFFER_ALIGN: usize = 64;

/// Why a ring could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorError {
    /// `count` is not a power of two, or a size overflows.
    BadGeometry {
        count: usize,
        buffer_size: usize,
    },
    /// Pool memory for the descriptors or buffers could not be allocated.
    OutOfMemory,
    Object(generic_object::Error<()>),
}

/// Why a post was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostError {
    /// Every descriptor is posted or waiting to be reclaimed.
    Full,
    /// The data does not fit a buffer.
    TooLong { length: usize, buffer_size: usize },
    /// TX posts data; RX posts empty buffers.
    WrongDirection,
}

/// A descriptor the driver reclaimed: which one, and what the device left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub index: usize,
    pub descriptor: Descriptor,
}

#[derive(Debug)]
struct Ring {
    direction: Direction,
    descriptors: PoolBlock,
    buffers: PoolBlock,
    /// `count - 1`.
    mask: usize,
    /// Bytes per buffer, a multiple of [`BUFFER_ALIGN`].
    buffer_size: usize,
    /// Next descriptor the driver posts. Wrapping; `post - reclaim <= count`.
    post: usize,
    /// Next descriptor the device completes. `reclaim <= device <= post`.
    device: usize,
    /// Next descriptor the driver reclaims.
    reclaim: usize,
}

/// A descriptor ring whose state lives in its generic object and whose descriptors and buffers are
/// pool memory with the component's tag. IRQL <= DISPATCH_LEVEL for everything.
#[derive(Debug)]
pub struct DescriptorRing {
    object: GenericObject<Plain<Ring>>,
}

impl Ring {
    fn count(&self) -> usize {
        self.mask + 1
    }

    fn check(&self) {
        debug_assert!(
            self.device.wrapping_sub(self.reclaim) <= self.post.wrapping_sub(self.reclaim),
            "device is between reclaim and post"
        );
        debug_assert!(
            self.post.wrapping_sub(self.reclaim) <= self.count(),
            "at most count descriptors in use"
        );
    }

    fn descriptors(&mut self) -> &mut [Descriptor] {
        let count = self.count();
        // The block holds `count` descriptors (sized in `new`), 64-byte aligned (more than a
        // Descriptor needs), zero-initialised (a valid empty descriptor), owned by this ring.
        // SAFETY: our block, sized, aligned and initialised for `count` descriptors.
        unsafe { core::slice::from_raw_parts_mut(self.descriptors.as_ptr().cast::<Descriptor>(), count) }
    }

    fn buffer(&mut self, index: usize) -> &mut [u8] {
        let size = self.buffer_size;
        let start = (index & self.mask) * size;
        &mut self.buffers.as_mut_slice()[start..start + size]
    }
}

impl DescriptorRing {
    /// A ring of `count` descriptors (a power of two) with buffers of at least `buffer_size` bytes,
    /// its memory tagged `tag`. IRQL <= DISPATCH_LEVEL.
    pub fn new(
        driver: Option<DriverObject>,
        tag: u32,
        direction: Direction,
        count: usize,
        buffer_size: usize,
    ) -> Result<Self, DescriptorError> {
        let bad = DescriptorError::BadGeometry { count, buffer_size };
        if !count.is_power_of_two() || buffer_size == 0 {
            return Err(bad);
        }
        let buffer_size = buffer_size.checked_next_multiple_of(BUFFER_ALIGN).ok_or(bad)?;
        let buffer_bytes = count.checked_mul(buffer_size).ok_or(bad)?;
        let descriptor_bytes = count.checked_mul(size_of::<Descriptor>()).ok_or(bad)?;
        let mut memory_failed = false;
        let object = GenericObject::new(driver, tag, |_| {
            let descriptors = PoolBlock::new(descriptor_bytes, BUFFER_ALIGN, tag);
            let buffers = PoolBlock::new(buffer_bytes, BUFFER_ALIGN, tag);
            match (descriptors, buffers) {
                (Some(descriptors), Some(buffers)) => Ok(Ring {
                    direction,
                    descriptors,
                    buffers,
                    mask: count - 1,
                    buffer_size,
                    post: 0,
                    device: 0,
                    reclaim: 0,
                }),
                _ => {
                    memory_failed = true;
                    Err(())
                }
            }
        });
        match object {
            Ok(object) => Ok(Self { object }),
            Err(_) if memory_failed => Err(DescriptorError::OutOfMemory),
            Err(e) => Err(DescriptorError::Object(e)),
        }
    }

    fn ring(&mut self) -> &mut Ring {
        self.object.get_mut()
    }

    fn ring_ref(&self) -> &Ring {
        self.object.get()
    }

    #[must_use]
    pub fn count(&self) -> usize {
        self.ring_ref().count()
    }

    /// Bytes per buffer (the requested size rounded up to 64).
    #[must_use]
    pub fn buffer_size(&self) -> usize {
        self.ring_ref().buffer_size
    }

    #[must_use]
    pub fn direction(&self) -> Direction {
        self.ring_ref().direction
    }

    /// Descriptors the driver may still post.
    #[must_use]
    pub fn free(&self) -> usize {
        let r = self.ring_ref();
        r.count() - r.post.wrapping_sub(r.reclaim)
    }

    /// Descriptors the device owns.
    #[must_use]
    pub fn with_device(&self) -> usize {
        let r = self.ring_ref();
        r.post.wrapping_sub(r.device)
    }

    /// TX: copies `frame` into the next free buffer and gives it to the device. Returns its index.
    pub fn post_tx(&mut self, frame: &[u8]) -> Result<usize, PostError> {
        let ring = self.ring();
        if ring.direction != Direction::Tx {
            return Err(PostError::WrongDirection);
        }
        if frame.len() > ring.buffer_size {
            return Err(PostError::TooLong {
                length: frame.len(),
                buffer_size: ring.buffer_size,
            });
        }
        if ring.post.wrapping_sub(ring.reclaim) == ring.count() {
            return Err(PostError::Full);
        }
        let index = ring.post & ring.mask;
        ring.buffer(index)[..frame.len()].copy_from_slice(frame);
        let length = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        ring.descriptors()[index] = Descriptor {
            length,
            flags: Flags::OWNED_BY_HW | Flags::START_OF_PACKET | Flags::END_OF_PACKET,
        };
        ring.post = ring.post.wrapping_add(1);
        ring.check();
        Ok(index)
    }

    /// RX: gives the next free (empty) buffer to the device. Returns its index.
    pub fn post_rx(&mut self) -> Result<usize, PostError> {
        let ring = self.ring();
        if ring.direction != Direction::Rx {
            return Err(PostError::WrongDirection);
        }
        if ring.post.wrapping_sub(ring.reclaim) == ring.count() {
            return Err(PostError::Full);
        }
        let index = ring.post & ring.mask;
        ring.descriptors()[index] = Descriptor {
            length: 0,
            flags: Flags::OWNED_BY_HW,
        };
        ring.post = ring.post.wrapping_add(1);
        ring.check();
        Ok(index)
    }

    /// The device's side: the oldest descriptor it owns, to transfer and complete.
    pub fn device_next(&mut self) -> Option<DeviceSlot<'_>> {
        let ring = self.ring();
        if ring.device == ring.post {
            return None;
        }
        let index = ring.device & ring.mask;
        debug_assert!(
            ring.descriptors()[index].flags.contains(Flags::OWNED_BY_HW),
            "the device owns device .. post"
        );
        Some(DeviceSlot { ring, index })
    }

    /// The oldest completed descriptor, handed back to the driver (its buffer stays readable through
    /// [`Self::buffer`] until it is posted again).
    pub fn reclaim(&mut self) -> Option<Reclaimed> {
        let ring = self.ring();
        if ring.reclaim == ring.device {
            return None;
        }
        let index = ring.reclaim & ring.mask;
        let descriptors = ring.descriptors();
        let descriptor = descriptors[index];
        debug_assert!(
            descriptor.flags.contains(Flags::DONE) && !descriptor.flags.contains(Flags::OWNED_BY_HW)
        );
        descriptors[index].flags.remove(Flags::DONE);
        ring.reclaim = ring.reclaim.wrapping_add(1);
        ring.check();
        Some(Reclaimed { index, descriptor })
    }

    /// The bytes the device left in a reclaimed RX buffer (or a TX buffer's contents).
    #[must_use]
    pub fn buffer(&mut self, reclaimed: &Reclaimed) -> &[u8] {
        let length = reclaimed.descriptor.length as usize;
        &self.ring().buffer(reclaimed.index)[..length]
    }

    /// Address of buffer `index` (for tests of alignment and for MDLs over the buffers).
    #[must_use]
    pub fn buffer_address(&mut self, index: usize) -> *mut u8 {
        self.ring().buffer(index).as_mut_ptr()
    }
}

/// The device's view of one descriptor it owns.
#[derive(Debug)]
pub struct DeviceSlot<'r> {
    ring: &'r mut Ring,
    index: usize,
}

impl DeviceSlot<'_> {
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// TX: the data to send.
    #[must_use]
    pub fn data(&mut self) -> &[u8] {
        let length = self.ring.descriptors()[self.index].length as usize;
        &self.ring.buffer(self.index)[..length]
    }

    /// RX: the buffer to receive into.
    pub fn buffer(&mut self) -> &mut [u8] {
        self.ring.buffer(self.index)
    }

    /// Completes the descriptor: `length` bytes (RX: received; TX: ignored), status `flags` added to
    /// DONE, ownership back to the driver.
    pub fn complete(self, length: usize, flags: Flags) {
        let ring = self.ring;
        let direction = ring.direction;
        let buffer_size = ring.buffer_size;
        let descriptor = &mut ring.descriptors()[self.index];
        if direction == Direction::Rx {
            descriptor.length = u32::try_from(length.min(buffer_size)).unwrap_or(u32::MAX);
            descriptor
                .flags
                .insert(Flags::START_OF_PACKET | Flags::END_OF_PACKET);
        }
        descriptor.flags.remove(Flags::OWNED_BY_HW);
        descriptor
            .flags
            .insert(Flags::DONE | (flags - Flags::OWNED_BY_HW - Flags::DONE));
        ring.device = ring.device.wrapping_add(1);
        ring.check();
    }
}
