//! A PE32+ image as the Windows loader reads it: every header field it relies on, every section's
//! raw and virtual extent, every data directory's range, the whole import table and every base
//! relocation block, each checked before it is used. Nothing here can panic or read out of bounds:
//! every access goes through [`Bytes`], which returns `None` past the end.
//!
//! The rules are the PE format's (Microsoft's "PE Format" page,
//! <https://learn.microsoft.com/windows/win32/debug/pe-format>): alignments are powers of two with
//! `FileAlignment` in 512..=64K and `SectionAlignment` >= `FileAlignment`; `SizeOfImage` and each
//! section's `VirtualAddress` are multiples of `SectionAlignment`; `SizeOfHeaders` and each
//! section's `PointerToRawData` multiples of `FileAlignment`; sections ascend without overlap or
//! gap; a base relocation block covers one 4 KiB page.

#![allow(
    missing_docs,
    reason = "header fields keep the names the PE Format page gives and documents; the byte \
              readers are named for what they read"
)]

/// Little-endian reads that say `None` past the end instead of panicking.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    #[must_use]
    pub fn slice(&self, at: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(at..at.checked_add(len)?)
    }
    #[must_use]
    pub fn u16(&self, at: usize) -> Option<u16> {
        self.slice(at, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    #[must_use]
    pub fn u32(&self, at: usize) -> Option<u32> {
        self.slice(at, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    #[must_use]
    pub fn u64(&self, at: usize) -> Option<u64> {
        self.slice(at, 8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
    /// A NUL-terminated string starting at `at` (at most `max` bytes before the NUL).
    #[must_use]
    pub fn c_str(&self, at: usize, max: usize) -> Option<&'a [u8]> {
        let rest = self.0.get(at..)?;
        let end = rest.iter().take(max + 1).position(|&b| b == 0)?;
        Some(&rest[..end])
    }
}

pub const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
pub const IMAGE_FILE_RELOCS_STRIPPED: u16 = 0x0001;
pub const IMAGE_FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
pub const IMAGE_FILE_DLL: u16 = 0x2000;
pub const IMAGE_NT_OPTIONAL_HDR64_MAGIC: u16 = 0x20b;
pub const IMAGE_SUBSYSTEM_NATIVE: u16 = 1;
pub const IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE: u16 = 0x0040;
pub const IMAGE_DLLCHARACTERISTICS_NX_COMPAT: u16 = 0x0100;
pub const IMAGE_SCN_CNT_CODE: u32 = 0x0000_0020;
pub const IMAGE_SCN_MEM_DISCARDABLE: u32 = 0x0200_0000;
pub const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
pub const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;
pub const IMAGE_REL_BASED_ABSOLUTE: u16 = 0;
pub const IMAGE_REL_BASED_DIR64: u16 = 10;

/// Data directory indexes.
pub const DIRECTORY_EXPORT: usize = 0;
pub const DIRECTORY_IMPORT: usize = 1;
pub const DIRECTORY_EXCEPTION: usize = 3;
pub const DIRECTORY_SECURITY: usize = 4;
pub const DIRECTORY_BASERELOC: usize = 5;
pub const DIRECTORY_DEBUG: usize = 6;
pub const DIRECTORY_IAT: usize = 12;

/// Names of the 16 data directories, for messages.
pub const DIRECTORY_NAMES: [&str; 16] = [
    "export",
    "import",
    "resource",
    "exception",
    "security",
    "base relocation",
    "debug",
    "architecture",
    "global pointer",
    "TLS",
    "load configuration",
    "bound import",
    "import address table",
    "delay import",
    "CLR runtime",
    "reserved",
];

/// The most sections the loader accepts (the PE format's limit).
pub const MAX_SECTIONS: u16 = 96;
/// The fixed part of the PE32+ optional header, before the data directories.
pub const OPTIONAL_FIXED: usize = 112;

/// One section header.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub raw_size: u32,
    pub raw_pointer: u32,
    pub characteristics: u32,
}

impl Section {
    /// The bytes the section occupies in memory (its virtual size, or its raw size when that is 0).
    #[must_use]
    pub fn memory_size(&self) -> u32 {
        if self.virtual_size == 0 {
            self.raw_size
        } else {
            self.virtual_size
        }
    }
    /// Whether `rva..rva + len` lies inside the section's memory.
    #[must_use]
    pub fn holds(&self, rva: u32, len: u32) -> bool {
        let start = u64::from(self.virtual_address);
        let end = start + u64::from(self.memory_size());
        u64::from(rva) >= start && u64::from(rva) + u64::from(len) <= end
    }
    #[must_use]
    pub fn executable(&self) -> bool {
        self.characteristics & IMAGE_SCN_MEM_EXECUTE != 0
    }
}

/// The headers, read and checked for being in the file (field values are checked by the rules).
#[derive(Debug, Clone)]
pub struct Headers {
    pub pe_offset: usize,
    pub machine: u16,
    pub number_of_sections: u16,
    pub size_of_optional_header: u16,
    pub characteristics: u16,
    pub optional_offset: usize,
    pub magic: u16,
    pub entry: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub checksum_offset: usize,
    pub checksum: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub number_of_rva_and_sizes: u32,
    /// (RVA, size) of each present directory (at most 16).
    pub directories: Vec<(u32, u32)>,
    pub section_table: usize,
    pub sections: Vec<Section>,
}

/// Reads the headers and the section table; `Err` names what cannot be read at all.
///
/// # Errors
/// What makes the bytes not a PE32+ image.
pub fn headers(data: &[u8]) -> Result<Headers, String> {
    let b = Bytes(data);
    if b.slice(0, 2) != Some(b"MZ") {
        return Err("no MZ signature: not a PE image".into());
    }
    let pe_offset = b.u32(0x3c).ok_or("the file ends inside the DOS header")? as usize;
    if pe_offset < 0x40 || !pe_offset.is_multiple_of(8) {
        return Err(format!(
            "e_lfanew {pe_offset:#x} is not an 8-byte aligned offset past the DOS header"
        ));
    }
    if b.slice(pe_offset, 4) != Some(b"PE\0\0") {
        return Err(format!("no PE signature at e_lfanew {pe_offset:#x}"));
    }
    let coff = pe_offset + 4;
    let too_short = || format!("the file ends inside the headers (at {:#x} bytes)", data.len());
    let machine = b.u16(coff).ok_or_else(too_short)?;
    let number_of_sections = b.u16(coff + 2).ok_or_else(too_short)?;
    let size_of_optional_header = b.u16(coff + 16).ok_or_else(too_short)?;
    let characteristics = b.u16(coff + 18).ok_or_else(too_short)?;
    let o = coff + 20;
    let magic = b.u16(o).ok_or_else(too_short)?;
    if magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC {
        return Err(format!("optional header magic {magic:#06x}, not PE32+ (0x20b)"));
    }
    if usize::from(size_of_optional_header) < OPTIONAL_FIXED {
        return Err(format!(
            "SizeOfOptionalHeader {size_of_optional_header} is smaller than a PE32+ optional header ({OPTIONAL_FIXED})"
        ));
    }
    let number_of_rva_and_sizes = b.u32(o + 108).ok_or_else(too_short)?;
    let count = number_of_rva_and_sizes.min(16) as usize;
    let mut directories = Vec::with_capacity(count);
    for i in 0..count {
        let at = o + OPTIONAL_FIXED + i * 8;
        directories.push((
            b.u32(at).ok_or_else(too_short)?,
            b.u32(at + 4).ok_or_else(too_short)?,
        ));
    }
    let section_table = o + usize::from(size_of_optional_header);
    // More sections than the format allows is judged by the header rule, without reading them.
    let readable = if number_of_sections > MAX_SECTIONS {
        0
    } else {
        number_of_sections
    };
    let mut sections = Vec::with_capacity(usize::from(readable));
    for i in 0..usize::from(readable) {
        let at = section_table + i * 40;
        let raw = b.slice(at, 40).ok_or_else(|| {
            format!("the file ends inside the section table (section {i} of {number_of_sections})")
        })?;
        let name = String::from_utf8_lossy(&raw[..8])
            .trim_end_matches('\0')
            .to_string();
        let r = Bytes(raw);
        sections.push(Section {
            name,
            virtual_size: r.u32(8).unwrap_or(0),
            virtual_address: r.u32(12).unwrap_or(0),
            raw_size: r.u32(16).unwrap_or(0),
            raw_pointer: r.u32(20).unwrap_or(0),
            characteristics: r.u32(36).unwrap_or(0),
        });
    }
    Ok(Headers {
        pe_offset,
        machine,
        number_of_sections,
        size_of_optional_header,
        characteristics,
        optional_offset: o,
        magic,
        entry: b.u32(o + 16).ok_or_else(too_short)?,
        image_base: b.u64(o + 24).ok_or_else(too_short)?,
        section_alignment: b.u32(o + 32).ok_or_else(too_short)?,
        file_alignment: b.u32(o + 36).ok_or_else(too_short)?,
        size_of_image: b.u32(o + 56).ok_or_else(too_short)?,
        size_of_headers: b.u32(o + 60).ok_or_else(too_short)?,
        checksum_offset: o + 64,
        checksum: b.u32(o + 64).ok_or_else(too_short)?,
        subsystem: b.u16(o + 68).ok_or_else(too_short)?,
        dll_characteristics: b.u16(o + 70).ok_or_else(too_short)?,
        number_of_rva_and_sizes,
        directories,
        section_table,
        sections,
    })
}

impl Headers {
    /// The section whose memory holds `rva..rva + len`.
    #[must_use]
    pub fn section_of(&self, rva: u32, len: u32) -> Option<&Section> {
        self.sections.iter().find(|s| s.holds(rva, len))
    }

    /// The file offset of `rva`, if `len` bytes from it lie in a section's raw data.
    #[must_use]
    pub fn offset_of(&self, rva: u32, len: u32) -> Option<usize> {
        let s = self.section_of(rva, len)?;
        let into = rva - s.virtual_address;
        if u64::from(into) + u64::from(len) > u64::from(s.raw_size) {
            return None;
        }
        Some(s.raw_pointer as usize + into as usize)
    }

    /// A present directory: (RVA, size), or `None` when absent (index past the count, or zero).
    #[must_use]
    pub fn directory(&self, index: usize) -> Option<(u32, u32)> {
        self.directories
            .get(index)
            .copied()
            .filter(|&(rva, size)| rva != 0 || size != 0)
    }
}

/// One import, by name or ordinal, with the module it comes from (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Import {
    Name(String, String),
    Ordinal(String, u16),
}

/// Walks the whole import table; `Err` says where it stops being readable.
///
/// # Errors
/// Where the import directory leaves the image or breaks its format.
#[allow(
    clippy::cast_possible_truncation,
    reason = "an import-by-name thunk holds a 31-bit RVA in a 64-bit slot"
)]
pub fn imports(data: &[u8], h: &Headers) -> Result<Vec<Import>, String> {
    let b = Bytes(data);
    let Some((rva, size)) = h.directory(DIRECTORY_IMPORT) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for index in 0u32.. {
        if u64::from(index) * 20 + 20 > u64::from(size) {
            return Err(format!(
                "the import directory ({size} bytes) has no terminating null descriptor"
            ));
        }
        let at = rva
            .checked_add(index * 20)
            .ok_or("the import directory wraps around")?;
        let offset = h.offset_of(at, 20).ok_or_else(|| {
            format!("import descriptor {index} at RVA {at:#x} is not in a section's raw data")
        })?;
        let d = Bytes(
            b.slice(offset, 20)
                .ok_or("import descriptor past the end of the file")?,
        );
        let (lookup, name_rva, address) = (
            d.u32(0).unwrap_or(0),
            d.u32(12).unwrap_or(0),
            d.u32(16).unwrap_or(0),
        );
        if lookup == 0 && name_rva == 0 && address == 0 {
            break;
        }
        let module = h
            .offset_of(name_rva, 1)
            .and_then(|o| b.c_str(o, 255))
            .ok_or_else(|| format!("import descriptor {index}: its module name (RVA {name_rva:#x}) is not a terminated string in the image"))?;
        let module = String::from_utf8_lossy(module).to_ascii_lowercase();
        if address == 0 {
            return Err(format!("{module}: no import address table (FirstThunk 0)"));
        }
        let thunks = if lookup == 0 { address } else { lookup };
        for (table, what) in [(thunks, "lookup"), (address, "address")] {
            if table % 8 != 0 {
                return Err(format!(
                    "{module}: import {what} table at RVA {table:#x} is not 8-byte aligned"
                ));
            }
        }
        for n in 0u32.. {
            let entry_rva = thunks
                .checked_add(n * 8)
                .ok_or_else(|| format!("{module}: the import lookup table wraps around"))?;
            let iat_rva = address
                .checked_add(n * 8)
                .ok_or_else(|| format!("{module}: the import address table wraps around"))?;
            if h.section_of(iat_rva, 8).is_none() {
                return Err(format!(
                    "{module}: import address table entry {n} (RVA {iat_rva:#x}) is outside every section"
                ));
            }
            let entry = h.offset_of(entry_rva, 8).and_then(|o| b.u64(o)).ok_or_else(|| {
                format!(
                    "{module}: import lookup entry {n} (RVA {entry_rva:#x}) is not in a section's raw data"
                )
            })?;
            if entry == 0 {
                break;
            }
            if entry >> 63 == 1 {
                if entry & 0x7fff_ffff_ffff_0000 != 0 {
                    return Err(format!(
                        "{module}: import lookup entry {n} {entry:#x} has bits set beside the ordinal"
                    ));
                }
                out.push(Import::Ordinal(module.clone(), (entry & 0xffff) as u16));
                continue;
            }
            if entry >> 31 != 0 {
                return Err(format!(
                    "{module}: import lookup entry {n} {entry:#x} is neither an ordinal nor a 31-bit name RVA"
                ));
            }
            let hint_rva = entry as u32;
            let name = h
                .offset_of(hint_rva, 3)
                .and_then(|o| b.c_str(o + 2, 4096))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("{module}: import {n}'s name (RVA {hint_rva:#x}) is not a terminated string in the image"))?;
            out.push(Import::Name(
                module.clone(),
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
    }
    Ok(out)
}

/// Walks every base relocation block; returns how many fixups they apply. `Err` names the first
/// block that is wrong.
///
/// # Errors
/// Where the relocation blocks leave the image or break their format.
pub fn relocations(data: &[u8], h: &Headers) -> Result<usize, String> {
    let b = Bytes(data);
    let Some((rva, size)) = h.directory(DIRECTORY_BASERELOC) else {
        return Ok(0);
    };
    let offset = h.offset_of(rva, size).ok_or_else(|| {
        format!("the base relocation directory (RVA {rva:#x}, {size} bytes) is not in one section's raw data")
    })?;
    let table = b
        .slice(offset, size as usize)
        .ok_or("the base relocation directory runs past the end of the file")?;
    let t = Bytes(table);
    let mut at = 0usize;
    let mut fixups = 0;
    let mut block = 0;
    while at < table.len() {
        let (Some(page), Some(length)) = (t.u32(at), t.u32(at + 4)) else {
            return Err(format!(
                "block {block} at offset {at} is cut short by the end of the directory"
            ));
        };
        if page % 0x1000 != 0 {
            return Err(format!("block {block}: page RVA {page:#x} is not 4 KiB aligned"));
        }
        if length < 8 || length % 2 != 0 {
            return Err(format!(
                "block {block}: SizeOfBlock {length} is not 8 plus a whole number of 2-byte entries"
            ));
        }
        if at + length as usize > table.len() {
            return Err(format!(
                "block {block}: SizeOfBlock {length} runs past the directory's {size} bytes"
            ));
        }
        for e in (at + 8..at + length as usize).step_by(2) {
            let entry = t.u16(e).unwrap_or(0);
            let kind = entry >> 12;
            let target = page.wrapping_add(u32::from(entry & 0xfff));
            match kind {
                IMAGE_REL_BASED_ABSOLUTE => {}
                IMAGE_REL_BASED_DIR64 => {
                    if h.section_of(target, 8).is_none() {
                        return Err(format!(
                            "block {block}: a DIR64 fixup at RVA {target:#x} is outside every section"
                        ));
                    }
                    fixups += 1;
                }
                other => {
                    return Err(format!(
                        "block {block}: fixup type {other} at RVA {target:#x} (an x64 image uses only DIR64 and ABSOLUTE)"
                    ));
                }
            }
        }
        at += length as usize;
        block += 1;
    }
    Ok(fixups)
}

/// One `RUNTIME_FUNCTION` of the exception directory, with the fixed stack allocation its unwind
/// codes describe (`UWOP_ALLOC_SMALL`/`_LARGE` and the pushes), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub begin: u32,
    pub end: u32,
    pub fixed: u32,
}

/// Reads the exception directory and each function's unwind codes. `Err` names the first entry
/// that is wrong.
///
/// # Errors
/// Where the exception directory or its unwind data break their format.
pub fn frames(data: &[u8], h: &Headers) -> Result<Vec<Frame>, String> {
    let b = Bytes(data);
    let Some((rva, size)) = h.directory(DIRECTORY_EXCEPTION) else {
        return Ok(Vec::new());
    };
    if size % 12 != 0 {
        return Err(format!(
            "the exception directory's size {size} is not a multiple of 12"
        ));
    }
    let offset = h.offset_of(rva, size).ok_or_else(|| {
        format!("the exception directory (RVA {rva:#x}, {size} bytes) is not in one section's raw data")
    })?;
    let mut out = Vec::new();
    for i in 0..(size / 12) as usize {
        let e = offset + i * 12;
        let (Some(begin), Some(end), Some(unwind)) = (b.u32(e), b.u32(e + 4), b.u32(e + 8)) else {
            return Err(format!("function entry {i} runs past the end of the file"));
        };
        if begin >= end || !h.section_of(begin, end - begin).is_some_and(Section::executable) {
            return Err(format!(
                "function entry {i}: {begin:#x}..{end:#x} is not a range of executable code"
            ));
        }
        out.push(Frame {
            begin,
            end,
            fixed: unwind_allocation(&b, h, unwind, 0).ok_or_else(|| {
                format!("function entry {i}: its unwind information (RVA {unwind:#x}) is unreadable")
            })?,
        });
    }
    Ok(out)
}

/// The stack bytes the prologue described by `UNWIND_INFO` at `rva` allocates (chained entries
/// followed, at most 32 deep).
#[allow(
    clippy::match_same_arms,
    reason = "one arm per UWOP code, as the unwind format lists them"
)]
fn unwind_allocation(b: &Bytes<'_>, h: &Headers, rva: u32, depth: usize) -> Option<u32> {
    // Bit 0 of the RUNTIME_FUNCTION's unwind field marks chained data in some images.
    let rva = rva & !1;
    let at = h.offset_of(rva, 4)?;
    let version_flags = *b.0.get(at)?;
    let count = usize::from(*b.0.get(at + 2)?);
    let codes = b.slice(at + 4, count * 2)?;
    let c = Bytes(codes);
    let mut total = 0u32;
    let mut i = 0;
    while i < count {
        let op = c.0.get(i * 2 + 1)? & 0x0f;
        let info = u32::from(c.0.get(i * 2 + 1)? >> 4);
        i += match op {
            0 => {
                total = total.saturating_add(8); // UWOP_PUSH_NONVOL
                1
            }
            1 if info == 0 => {
                total = total.saturating_add(u32::from(c.u16((i + 1) * 2)?) * 8); // UWOP_ALLOC_LARGE, scaled
                2
            }
            1 => {
                total = total.saturating_add(c.u32((i + 1) * 2)?); // UWOP_ALLOC_LARGE, unscaled
                3
            }
            2 => {
                total = total.saturating_add(info * 8 + 8); // UWOP_ALLOC_SMALL
                1
            }
            3 => 1,         // UWOP_SET_FPREG
            4 | 6 | 8 => 2, // UWOP_SAVE_NONVOL, UWOP_EPILOG (version 2), UWOP_SAVE_XMM128
            5 | 7 | 9 => 3, // their _FAR forms (7: version 2's spare)
            10 => 1,        // UWOP_PUSH_MACHFRAME
            _ => return None,
        };
    }
    // UNW_FLAG_CHAININFO: the parent function's allocation is part of this frame.
    if version_flags >> 3 & 0x4 != 0 && depth < 32 {
        let chained = (at + 4 + count.next_multiple_of(2) * 2).checked_add(8)?;
        let parent = b.u32(chained)?;
        total = total.saturating_add(unwind_allocation(b, h, parent, depth + 1)?);
    }
    Some(total)
}
