//! `rvnic check-sys`: is this file a kernel driver image Windows will load, and one rvnic ships?
//!
//! The image is judged as the loader reads it ([`pe`]): every header field it relies on (machine,
//! section count, optional header size, alignments, image base, `SizeOfHeaders`, `SizeOfImage`),
//! every section's raw extent (inside the file: a truncated image is called truncated) and virtual
//! extent (aligned, ascending, no overlap or gap), every data directory's range, the whole import
//! table and every base relocation block, and the exception directory's unwind codes. Then what a
//! miniport needs: PE32+ for x86-64, subsystem NATIVE, not a DLL, executable, NX and dynamic base,
//! relocations not stripped, code sections executable and not discardable, no section both
//! writable and executable, the entry point in executable code (and at `DriverEntry` when
//! exported), a valid PE checksum, no stack frame over [`MAX_FRAME`] bytes, and imports only from
//! `ntoskrnl.exe`, `ndis.sys` and `hal.dll`, by name, each a real export of its module (the mingw-w64
//! import libraries plus [`NEWER_EXPORTS`]). Each finding is one line under a stable rule name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The modules a miniport may import from, and the mingw-w64 import library of each.
pub const ALLOWED_MODULES: [(&str, &str); 3] = [
    ("ntoskrnl.exe", "libntoskrnl.a"),
    ("ndis.sys", "libndis.a"),
    ("hal.dll", "libhal.a"),
];

/// Real exports newer than the mingw-w64 10 import libraries know. Each entry names the Windows
/// release that added it.
pub const NEWER_EXPORTS: [(&str, &str); 1] = [
    // Windows 10, version 2004: the replacement of ExAllocatePoolWithTag (zeroes by default).
    ("ntoskrnl.exe", "ExAllocatePool2"),
];

/// Where Debian's mingw-w64-x86-64-dev puts the import libraries.
pub const DEFAULT_LIB_DIR: &str = "/usr/x86_64-w64-mingw32/lib";

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short stable name of the rule (`subsystem`, `import-module`, ...).
    pub rule: &'static str,
    /// What is wrong, in words.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// The exported names of each allowed module (lower-case module name -> names).
#[derive(Debug, Default, Clone)]
pub struct Exports {
    modules: BTreeMap<String, BTreeSet<String>>,
}

impl Exports {
    /// Reads the export lists from the mingw-w64 import libraries in `lib_dir`, plus [`NEWER_EXPORTS`].
    ///
    /// # Errors
    /// An import library that could not be read or parsed.
    pub fn from_mingw(lib_dir: &Path) -> Result<Self, String> {
        let mut exports = Self::default();
        for (module, lib) in ALLOWED_MODULES {
            let path = lib_dir.join(lib);
            let data = std::fs::read(&path).map_err(|e| {
                format!(
                    "cannot read {}: {e} (install mingw-w64-x86-64-dev, or pass --lib-dir)",
                    path.display()
                )
            })?;
            let names = archive_import_names(&data).map_err(|e| format!("{}: {e}", path.display()))?;
            if names.is_empty() {
                return Err(format!(
                    "{}: no imports found; is it an import library?",
                    path.display()
                ));
            }
            exports.modules.insert(module.to_string(), names);
        }
        exports.add_newer();
        Ok(exports)
    }

    /// An explicit export list, plus [`NEWER_EXPORTS`] (tests and the fuzz target).
    #[must_use]
    pub fn from_lists<'a>(lists: impl IntoIterator<Item = (&'a str, &'a [&'a str])>) -> Self {
        let mut exports = Self::default();
        for (module, names) in lists {
            exports
                .modules
                .entry(module.to_ascii_lowercase())
                .or_default()
                .extend(names.iter().map(|n| (*n).to_string()));
        }
        exports.add_newer();
        exports
    }

    fn add_newer(&mut self) {
        for (module, name) in NEWER_EXPORTS {
            self.modules
                .entry(module.to_string())
                .or_default()
                .insert(name.to_string());
        }
    }

    #[must_use]
    /// Whether `module` exports `name`.
    pub fn exports(&self, module: &str, name: &str) -> bool {
        self.modules.get(module).is_some_and(|names| names.contains(name))
    }
}

/// The functions an import library provides: its `__imp_NAME` symbols.
fn archive_import_names(data: &[u8]) -> Result<BTreeSet<String>, String> {
    let archive = object::read::archive::ArchiveFile::parse(data).map_err(|e| e.to_string())?;
    let symbols = archive
        .symbols()
        .map_err(|e| e.to_string())?
        .ok_or("archive has no symbol table")?;
    let mut names = BTreeSet::new();
    for symbol in symbols {
        let symbol = symbol.map_err(|e| e.to_string())?;
        if let Some(name) = std::str::from_utf8(symbol.name())
            .ok()
            .and_then(|n| n.strip_prefix("__imp_"))
        {
            names.insert(name.to_string());
        }
    }
    Ok(names)
}

/// The PE checksum: 16-bit one's-complement-style sum of the file's words with the checksum field
/// taken as zero, plus the file length (the algorithm of `CheckSumMappedFile`).
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    reason = "the PE checksum folds to 16 bits and adds the file length modulo 2^32, by definition"
)]
pub fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in data.chunks(2).enumerate() {
        let offset = i * 2;
        if offset == checksum_offset || offset == checksum_offset + 2 {
            continue;
        }
        let word = u64::from(chunk[0]) | (u64::from(*chunk.get(1).unwrap_or(&0)) << 8);
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(data.len() as u32)
}

/// The largest fixed stack frame (`UWOP_ALLOC_*` plus pushes) any function may reserve: a kernel
/// stack is 24 KiB, shared by every driver on the call path (rvnic's rule, issue 16).
pub const MAX_FRAME: u32 = 2048;

/// Runs every check on `data`, in the loader's order: headers, sections, data directories, the
/// tables they point to, then the checksum and imports. When the headers or sections are broken
/// the later checks are not run (their findings would only echo the damage), and the checksum is
/// judged only on a structurally sound image, so a truncated file is called truncated.
#[must_use]
pub fn check(data: &[u8], exports: &Exports) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |rule: &'static str, detail: String| out.push(Violation { rule, detail });
    let h = match pe::headers(data) {
        Ok(h) => h,
        Err(e) => {
            fail("format", e);
            return out;
        }
    };
    // Sections are judged only against sound headers (their alignments divide everything below).
    let structural = check_headers(data, &h, &mut fail) || check_sections(data, &h, &mut fail);
    if structural {
        return out;
    }
    let directories_ok = check_directories(data, &h, &mut fail);
    // Entry point: in an executable section that stays loaded, and DriverEntry when exported.
    match h.section_of(h.entry, 1) {
        None => fail("entry", format!("entry point {:#x} is in no section", h.entry)),
        Some(s) if !s.executable() => fail(
            "entry",
            format!(
                "entry point {:#x} is in {}, which is not executable",
                h.entry, s.name
            ),
        ),
        Some(s) if s.characteristics & pe::IMAGE_SCN_MEM_DISCARDABLE != 0 => fail(
            "entry",
            format!(
                "entry point {:#x} is in {}, which is discardable",
                h.entry, s.name
            ),
        ),
        Some(_) => {}
    }
    if let Some(rva) = exported(data, &h, b"DriverEntry")
        && rva != h.entry
    {
        fail(
            "entry",
            format!("entry point {:#x} is not DriverEntry ({rva:#x})", h.entry),
        );
    }
    // Relocations: an image the loader must be able to move.
    if h.characteristics & pe::IMAGE_FILE_RELOCS_STRIPPED != 0 {
        fail(
            "relocations",
            "IMAGE_FILE_RELOCS_STRIPPED is set (the image cannot be relocated)".into(),
        );
    } else if h.directory(pe::DIRECTORY_BASERELOC).is_none() {
        fail(
            "relocations",
            "no base relocation directory (the image cannot be relocated)".into(),
        );
    } else {
        match pe::relocations(data, &h) {
            Ok(0) => fail(
                "relocations",
                "the base relocation directory applies no fixup".into(),
            ),
            Ok(_) => {}
            Err(e) => fail("relocation-table", e),
        }
    }
    match pe::frames(data, &h) {
        Ok(frames) => {
            if let Some(big) = frames
                .iter()
                .max_by_key(|f| f.fixed)
                .filter(|f| f.fixed > MAX_FRAME)
            {
                fail(
                    "stack-frame",
                    format!(
                        "the function at {:#x}..{:#x} reserves a {}-byte stack frame; kernel stacks are 24 KiB, so rvnic keeps every frame within {MAX_FRAME} bytes",
                        big.begin, big.end, big.fixed
                    ),
                );
            }
        }
        Err(e) => fail("exception-table", e),
    }
    let checksum = pe_checksum(data, h.checksum_offset);
    if h.checksum != checksum {
        fail(
            "checksum",
            format!(
                "stored {:#010x}, computed {checksum:#010x}: the image was changed after linking, or was not linked with /RELEASE",
                h.checksum
            ),
        );
    }
    if directories_ok {
        match pe::imports(data, &h) {
            Ok(imports) => check_imports(&imports, exports, &mut fail),
            Err(e) => fail("import-table", e),
        }
    }
    out
}

/// The header fields the loader relies on. True when the image is too broken to read further.
#[allow(
    clippy::too_many_lines,
    reason = "one check per header field, in the order the loader reads them"
)]
fn check_headers(data: &[u8], h: &pe::Headers, fail: &mut impl FnMut(&'static str, String)) -> bool {
    let mut broken = false;
    if h.machine != pe::IMAGE_FILE_MACHINE_AMD64 {
        fail("machine", format!("{:#06x}, not x86-64 (0x8664)", h.machine));
    }
    if h.number_of_sections == 0 || h.number_of_sections > pe::MAX_SECTIONS {
        fail(
            "header",
            format!(
                "NumberOfSections {} is outside 1..={}",
                h.number_of_sections,
                pe::MAX_SECTIONS
            ),
        );
        broken = true;
    }
    if h.characteristics & pe::IMAGE_FILE_DLL != 0 {
        fail(
            "dll",
            format!(
                "IMAGE_FILE_DLL is set (characteristics {:#06x})",
                h.characteristics
            ),
        );
    }
    if h.characteristics & pe::IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
        fail("executable", "IMAGE_FILE_EXECUTABLE_IMAGE is not set".into());
    }
    if h.subsystem != pe::IMAGE_SUBSYSTEM_NATIVE {
        fail("subsystem", format!("{}, not NATIVE (1)", h.subsystem));
    }
    if h.dll_characteristics & pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT == 0 {
        fail("nx", "IMAGE_DLLCHARACTERISTICS_NX_COMPAT is not set".into());
    }
    if h.dll_characteristics & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE == 0 {
        fail(
            "dynamic-base",
            "IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE is not set".into(),
        );
    }
    let fa = h.file_alignment;
    let sa = h.section_alignment;
    if !fa.is_power_of_two() || !(512..=0x1_0000).contains(&fa) {
        fail(
            "header",
            format!("FileAlignment {fa:#x} is not a power of two in 0x200..=0x10000"),
        );
        broken = true;
    }
    if !sa.is_power_of_two() || sa < fa || (sa < 0x1000 && sa != fa) {
        fail(
            "header",
            format!(
                "SectionAlignment {sa:#x} is not a power of two >= FileAlignment {fa:#x} (and equal to it below 4 KiB)"
            ),
        );
        broken = true;
    }
    if !h.image_base.is_multiple_of(0x1_0000) {
        fail(
            "header",
            format!("ImageBase {:#x} is not a multiple of 64 KiB", h.image_base),
        );
    }
    if h.number_of_rva_and_sizes > 16 {
        fail(
            "header",
            format!(
                "NumberOfRvaAndSizes {} is more than 16",
                h.number_of_rva_and_sizes
            ),
        );
    }
    let optional = pe::OPTIONAL_FIXED + 8 * h.number_of_rva_and_sizes.min(16) as usize;
    if usize::from(h.size_of_optional_header) != optional {
        fail(
            "header",
            format!(
                "SizeOfOptionalHeader {} does not match {} data directories ({optional} bytes)",
                h.size_of_optional_header, h.number_of_rva_and_sizes
            ),
        );
        broken = true;
    }
    if broken {
        return true;
    }
    let table_end = h.section_table + usize::from(h.number_of_sections) * 40;
    let headers = h.size_of_headers as usize;
    if !headers.is_multiple_of(fa as usize) || headers < table_end || headers > data.len() {
        fail(
            "header",
            format!(
                "SizeOfHeaders {headers:#x} must be a multiple of FileAlignment, cover the section table (ends at {table_end:#x}) and lie within the {:#x}-byte file",
                data.len()
            ),
        );
        broken = true;
    }
    if !h.size_of_image.is_multiple_of(sa) {
        fail(
            "header",
            format!(
                "SizeOfImage {:#x} is not a multiple of SectionAlignment {sa:#x}",
                h.size_of_image
            ),
        );
        broken = true;
    }
    broken
}

/// Each section's raw and virtual extent, order, and protection. True when a section is out of
/// the file or the image (the tables in it cannot be read).
fn check_sections(data: &[u8], h: &pe::Headers, fail: &mut impl FnMut(&'static str, String)) -> bool {
    let mut broken = false;
    let sa = u64::from(h.section_alignment);
    let fa = u64::from(h.file_alignment);
    if sa == 0 || fa == 0 {
        return true; // check_headers reported it
    }
    let mut next_va = u64::from(h.size_of_headers).next_multiple_of(sa);
    for s in &h.sections {
        let name = &s.name;
        let va = u64::from(s.virtual_address);
        if va % sa != 0 {
            fail(
                "section",
                format!("{name}: VirtualAddress {va:#x} is not a multiple of SectionAlignment {sa:#x}"),
            );
            broken = true;
        }
        if va != next_va {
            let what = if va < next_va {
                "overlaps the headers or the section before it"
            } else {
                "leaves a gap after the section before it"
            };
            fail(
                "section",
                format!("{name}: VirtualAddress {va:#x} {what} (expected {next_va:#x})"),
            );
            broken = true;
        }
        let end = va + u64::from(s.memory_size());
        if end > u64::from(h.size_of_image) {
            fail(
                "section",
                format!(
                    "{name}: ends at {end:#x}, past SizeOfImage {:#x}",
                    h.size_of_image
                ),
            );
            broken = true;
        }
        next_va = end.next_multiple_of(sa);
        if s.raw_size != 0 {
            let raw = u64::from(s.raw_pointer);
            if raw % fa != 0 || raw < u64::from(h.size_of_headers) {
                fail(
                    "section",
                    format!(
                        "{name}: PointerToRawData {raw:#x} is not a FileAlignment multiple past the headers"
                    ),
                );
                broken = true;
            }
            let raw_end = raw + u64::from(s.raw_size);
            if raw_end > data.len() as u64 {
                fail(
                    "section",
                    format!(
                        "{name}: its raw data ends at {raw_end:#x}, past the end of the {:#x}-byte file (the image is truncated)",
                        data.len()
                    ),
                );
                broken = true;
            }
        }
        let flags = s.characteristics;
        if flags & pe::IMAGE_SCN_MEM_WRITE != 0 && flags & pe::IMAGE_SCN_MEM_EXECUTE != 0 {
            fail(
                "wx-section",
                format!("section {name} is both writable and executable ({flags:#010x})"),
            );
        }
        let code = flags & pe::IMAGE_SCN_CNT_CODE != 0;
        if code && flags & pe::IMAGE_SCN_MEM_EXECUTE == 0 {
            fail(
                "code-section",
                format!("{name} holds code but is not executable ({flags:#010x})"),
            );
        }
        if code && flags & pe::IMAGE_SCN_MEM_DISCARDABLE != 0 {
            fail(
                "code-section",
                format!(
                    "{name} holds code but is discardable: Windows frees it after DriverEntry, and rvnic's callbacks run from it"
                ),
            );
        }
    }
    if next_va != u64::from(h.size_of_image) && !broken {
        fail(
            "header",
            format!(
                "SizeOfImage {:#x} is not where the last section ends ({next_va:#x})",
                h.size_of_image
            ),
        );
        broken = true;
    }
    broken
}

/// Each data directory's range: inside the image and inside one section (the security directory
/// is a file offset, inside the file). True when all are.
fn check_directories(data: &[u8], h: &pe::Headers, fail: &mut impl FnMut(&'static str, String)) -> bool {
    let mut ok = true;
    for (index, &(rva, size)) in h.directories.iter().enumerate() {
        let name = pe::DIRECTORY_NAMES[index];
        if rva == 0 && size == 0 {
            continue;
        }
        if rva == 0 || size == 0 {
            fail(
                "directory",
                format!("the {name} directory has RVA {rva:#x} and size {size}: one without the other"),
            );
            ok = false;
            continue;
        }
        if index == pe::DIRECTORY_SECURITY {
            if u64::from(rva) + u64::from(size) > data.len() as u64 {
                fail(
                    "directory",
                    format!(
                        "the {name} directory (file offset {rva:#x}, {size} bytes) runs past the end of the file"
                    ),
                );
                ok = false;
            }
            continue;
        }
        if u64::from(rva) + u64::from(size) > u64::from(h.size_of_image) {
            fail(
                "directory",
                format!(
                    "the {name} directory (RVA {rva:#x}, {size} bytes) runs past SizeOfImage {:#x}",
                    h.size_of_image
                ),
            );
            ok = false;
        } else if h.offset_of(rva, size).is_none() {
            fail(
                "directory",
                format!(
                    "the {name} directory (RVA {rva:#x}, {size} bytes) is not inside one section's raw data"
                ),
            );
            ok = false;
        }
        if index == pe::DIRECTORY_DEBUG && size % 28 != 0 {
            fail(
                "directory",
                format!("the debug directory's size {size} is not a whole number of 28-byte entries"),
            );
            ok = false;
        }
    }
    ok
}

/// The RVA of the export named `name`, if the image exports it.
fn exported(data: &[u8], h: &pe::Headers, name: &[u8]) -> Option<u32> {
    let b = pe::Bytes(data);
    let (rva, size) = h.directory(pe::DIRECTORY_EXPORT)?;
    let d = h.offset_of(rva, size.min(40))?;
    let count = b.u32(d + 24)?.min(65_536);
    let functions = b.u32(d + 28)?;
    let names = b.u32(d + 32)?;
    let ordinals = b.u32(d + 36)?;
    for i in 0..count {
        let name_rva = b.u32(h.offset_of(names.checked_add(i * 4)?, 4)?)?;
        if b.c_str(h.offset_of(name_rva, 1)?, 512)? == name {
            let ordinal = b.u16(h.offset_of(ordinals.checked_add(i * 2)?, 2)?)?;
            return b.u32(h.offset_of(functions.checked_add(u32::from(ordinal) * 4)?, 4)?);
        }
    }
    None
}

fn check_imports(imports: &[pe::Import], exports: &Exports, fail: &mut impl FnMut(&'static str, String)) {
    let mut refused_modules = BTreeSet::new();
    for import in imports {
        let module = match import {
            pe::Import::Name(m, _) | pe::Import::Ordinal(m, _) => m,
        };
        let allowed = ALLOWED_MODULES.iter().any(|(m, _)| m == module);
        if !allowed && refused_modules.insert(module.clone()) {
            fail(
                "import-module",
                format!(
                    "imports from {module}; a miniport may import only from ntoskrnl.exe, ndis.sys, hal.dll"
                ),
            );
        }
        match import {
            pe::Import::Name(_, name) if allowed && !exports.exports(module, name) => {
                fail(
                    "import-name",
                    format!("{module}!{name} is not an export of {module}"),
                );
            }
            pe::Import::Ordinal(_, ordinal) => {
                fail(
                    "import-ordinal",
                    format!("{module}: import by ordinal {ordinal}; import by name"),
                );
            }
            pe::Import::Name(..) => {}
        }
    }
}

/// The image's imports by name, as (lower-case module, function name) pairs.
///
/// # Errors
/// The image's headers or import directory are malformed.
pub fn imports(data: &[u8]) -> Result<Vec<(String, String)>, String> {
    let h = pe::headers(data)?;
    Ok(pe::imports(data, &h)?
        .into_iter()
        .filter_map(|i| match i {
            pe::Import::Name(m, n) => Some((m, n)),
            pe::Import::Ordinal(..) => None,
        })
        .collect())
}

/// The largest fixed stack frame of the image's functions, from its unwind information: (bytes,
/// function start RVA).
///
/// # Errors
/// The image's headers or unwind data are malformed.
pub fn largest_frame(data: &[u8]) -> Result<Option<(u32, u32)>, String> {
    let h = pe::headers(data)?;
    Ok(pe::frames(data, &h)?.iter().map(|f| (f.fixed, f.begin)).max())
}

pub mod pe;

#[cfg(test)]
mod testimage;

#[cfg(test)]
mod tests;
