//! The shipped kernel image, loaded into this process: `rvnic.sys` is x86-64 machine code with no
//! privileged instruction and no segment-register access, whose every import ndis-host defines, so
//! it runs here at native speed under the same host and verifier as the linked driver.
//!
//! [`Image::load`] does what the Windows loader does for a driver: maps `SizeOfImage` bytes, copies
//! the headers and each section's raw data to its RVA, applies the base relocations (`DIR64`; any
//! other kind is refused), resolves every import by module and name to ndis-host's export of it
//! (an import it does not define is refused by name, as is an import by ordinal), and gives each
//! section its protection (read, write, execute from its characteristics; never writable and
//! executable). [`Image::entry`] is then `DriverEntry`, which [`crate::Host::load`] calls like the
//! linked driver's: the two are interchangeable behind [`crate::Driver`].

use std::path::{Path, PathBuf};

use ndis::DRIVER_INITIALIZE;
use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, Import, PeFile64};

/// Why an image cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// The file could not be read.
    Read(String),
    /// Not a PE32+ x86-64 image, or a malformed one.
    Format(String),
    /// An import ndis-host does not define.
    Import {
        /// The module the image imports it from.
        module: String,
        /// The function's name.
        name: String,
    },
    /// A base relocation of a kind other than `IMAGE_REL_BASED_DIR64`.
    Relocation(u16),
    /// A section that is both writable and executable.
    WritableExecutable(String),
    /// Mapping or protecting memory failed.
    Memory(String),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(e) => write!(f, "cannot read the image: {e}"),
            Self::Format(e) => write!(f, "not a loadable x86-64 driver image: {e}"),
            Self::Import { module, name } => {
                write!(
                    f,
                    "the image imports {module}!{name}, which ndis-host does not define"
                )
            }
            Self::Relocation(kind) => write!(f, "a base relocation of kind {kind} (only DIR64 is supported)"),
            Self::WritableExecutable(s) => write!(f, "section {s} is writable and executable"),
            Self::Memory(e) => write!(f, "cannot map the image: {e}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// A mapped, relocated, bound and protected kernel image. Unmapped when dropped: the host keeps it
/// until the driver is unloaded.
#[derive(Debug)]
pub struct Image {
    base: usize,
    size: usize,
    entry: usize,
    path: PathBuf,
}

impl Image {
    /// Loads the image at `path` (see the module documentation).
    ///
    /// # Errors
    /// The file could not be read, or [`Self::from_bytes`] refused it.
    pub fn load(path: &Path) -> Result<Self, ImageError> {
        let data = std::fs::read(path).map_err(|e| ImageError::Read(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&data, path)
    }

    /// Loads an image from its bytes (`path` names it in reports).
    ///
    /// # Errors
    /// [`ImageError`]: not a PE32+ x86-64 image, an import the host does not define, or a
    /// relocation it does not apply.
    #[allow(
        clippy::too_many_lines,
        reason = "the loader's steps in the order Windows' loader takes them"
    )]
    pub fn from_bytes(data: &[u8], path: &Path) -> Result<Self, ImageError> {
        let format = |e: object::Error| ImageError::Format(e.to_string());
        let file = PeFile64::parse(data).map_err(format)?;
        let nt = file.nt_headers();
        if nt.file_header().machine.get(LE) != pe::IMAGE_FILE_MACHINE_AMD64 {
            return Err(ImageError::Format("not an x86-64 image".into()));
        }
        let optional = nt.optional_header();
        let size = optional.size_of_image.get(LE) as usize;
        let headers = optional.size_of_headers.get(LE) as usize;
        let entry = optional.address_of_entry_point.get(LE) as usize;
        if size == 0 || headers > size || headers > data.len() || entry >= size {
            return Err(ImageError::Format(format!(
                "SizeOfImage {size}, SizeOfHeaders {headers}, entry point {entry:#x}"
            )));
        }
        let image = Mapping::new(size)?;
        image.bytes()[..headers].copy_from_slice(&data[..headers]);
        let sections = file.section_table();
        let mut protections = Vec::new();
        for section in sections.iter() {
            let name = String::from_utf8_lossy(section.raw_name())
                .trim_end_matches('\0')
                .to_string();
            let (rva, virtual_size) = (
                section.virtual_address.get(LE) as usize,
                section.virtual_size.get(LE) as usize,
            );
            let raw = section.pe_data(data).map_err(format)?;
            if size
                .checked_sub(rva)
                .is_none_or(|room| room < virtual_size.max(raw.len()))
            {
                return Err(ImageError::Format(format!(
                    "section {name} lies outside SizeOfImage"
                )));
            }
            image.bytes()[rva..rva + raw.len()].copy_from_slice(raw);
            let c = section.characteristics.get(LE);
            let (write, execute) = (
                c & pe::IMAGE_SCN_MEM_WRITE != 0,
                c & pe::IMAGE_SCN_MEM_EXECUTE != 0,
            );
            if write && execute {
                return Err(ImageError::WritableExecutable(name));
            }
            protections.push((rva, virtual_size.max(raw.len()), write, execute));
        }
        // Base relocations: the image was linked for ImageBase; it lives at `image.base`.
        let delta = (image.base as u64).wrapping_sub(optional.image_base.get(LE));
        if let Some(mut blocks) = file
            .data_directories()
            .relocation_blocks(data, &sections)
            .map_err(format)?
        {
            while let Some(block) = blocks.next().map_err(format)? {
                for reloc in block {
                    match reloc.typ {
                        pe::IMAGE_REL_BASED_ABSOLUTE => {}
                        pe::IMAGE_REL_BASED_DIR64 => {
                            let at = reloc.virtual_address as usize;
                            let slot = image.bytes().get_mut(at..at + 8).ok_or_else(|| {
                                ImageError::Format(format!("a relocation at {at:#x} outside the image"))
                            })?;
                            let value =
                                u64::from_le_bytes(slot.try_into().unwrap_or([0; 8])).wrapping_add(delta);
                            slot.copy_from_slice(&value.to_le_bytes());
                        }
                        other => return Err(ImageError::Relocation(other)),
                    }
                }
            }
        }
        // Imports: every one by name, each bound to ndis-host's definition.
        if let Some(table) = file.import_table().map_err(format)? {
            let mut descriptors = table.descriptors().map_err(format)?;
            while let Some(d) = descriptors.next().map_err(format)? {
                let module = String::from_utf8_lossy(table.name(d.name.get(LE)).map_err(format)?).to_string();
                let lookup = match d.original_first_thunk.get(LE) {
                    0 => d.first_thunk.get(LE),
                    rva => rva,
                };
                let mut thunks = table.thunks(lookup).map_err(format)?;
                let mut iat = d.first_thunk.get(LE) as usize;
                while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().map_err(format)? {
                    let name = match table.import::<pe::ImageNtHeaders64>(thunk).map_err(format)? {
                        Import::Name(_, name) => String::from_utf8_lossy(name).to_string(),
                        Import::Ordinal(n) => format!("#{n}"),
                    };
                    let address =
                        crate::exports::export(&module, &name).ok_or_else(|| ImageError::Import {
                            module: module.clone(),
                            name: name.clone(),
                        })?;
                    let slot = image.bytes().get_mut(iat..iat + 8).ok_or_else(|| {
                        ImageError::Format(format!("{module}: its import address table is outside the image"))
                    })?;
                    slot.copy_from_slice(&(address as u64).to_le_bytes());
                    iat += 8;
                }
            }
        }
        image.protect(headers, &protections)?;
        let (base, size) = image.release();
        Ok(Self {
            base,
            size,
            entry: base + entry,
            path: path.to_path_buf(),
        })
    }

    /// `DriverEntry`.
    #[must_use]
    pub fn entry(&self) -> DRIVER_INITIALIZE {
        // The entry point of an image this value keeps mapped, relocated and bound; its code is the
        // driver's DriverEntry, which the kernel calls with the DRIVER_INITIALIZE convention (win64).
        // SAFETY: a code address of the mapped image, transmuted to the entry's function pointer type.
        unsafe { std::mem::transmute::<usize, DRIVER_INITIALIZE>(self.entry) }
    }

    /// Where the image is mapped, and how many bytes.
    #[must_use]
    pub fn range(&self) -> (usize, usize) {
        (self.base, self.size)
    }

    #[must_use]
    /// The file the image was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // The mapping made in `from_bytes`, unmapped once: the host drops the image only after the
        // driver was unloaded and no thread runs its code.
        // SAFETY: our own anonymous mapping of `size` bytes at `base`.
        let _ = unsafe { rustix::mm::munmap(self.base as *mut core::ffi::c_void, self.size) };
    }
}

/// An anonymous read-write mapping being filled; unmapped on drop unless released.
struct Mapping {
    base: *mut u8,
    size: usize,
}

impl Mapping {
    fn new(size: usize) -> Result<Self, ImageError> {
        // A fresh private anonymous mapping: no file, no existing memory affected.
        // SAFETY: mmap with a NULL hint creates new memory the kernel picks.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                size,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }
        .map_err(|e| ImageError::Memory(e.to_string()))?;
        Ok(Self {
            base: base.cast(),
            size,
        })
    }

    #[allow(
        clippy::mut_from_ref,
        reason = "the mapping is written only while it is being built, on one thread"
    )]
    fn bytes(&self) -> &mut [u8] {
        // `size` bytes of our own read-write mapping, written only by the loader before anything
        // else can see it.
        // SAFETY: valid, exclusively ours while the image is built.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.size) }
    }

    /// Read-only headers, and each section's own protection (rounded out to whole pages).
    fn protect(&self, headers: usize, sections: &[(usize, usize, bool, bool)]) -> Result<(), ImageError> {
        use rustix::mm::MprotectFlags as P;
        let page = crate::stack::page();
        let set = |at: usize, len: usize, flags: P| {
            let start = at - at % page;
            let end = (at + len).next_multiple_of(page).min(self.size);
            // Whole pages of our own mapping.
            // SAFETY: changes the protection of memory we mapped and no Rust reference points into.
            unsafe { rustix::mm::mprotect(self.base.wrapping_add(start).cast(), end - start, flags) }
                .map_err(|e| ImageError::Memory(format!("mprotect: {e}")))
        };
        set(0, headers.max(1), P::READ)?;
        for &(rva, len, write, execute) in sections {
            let mut flags = P::READ;
            if write {
                flags |= P::WRITE;
            }
            if execute {
                flags |= P::EXEC;
            }
            set(rva, len.max(1), flags)?;
        }
        Ok(())
    }

    fn release(self) -> (usize, usize) {
        let kept = (self.base as usize, self.size);
        std::mem::forget(self);
        kept
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Our own mapping, abandoned half-built.
        // SAFETY: unmaps memory nothing else uses.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.size) };
    }
}
