//! `rvnic check-sys`: is this file a kernel driver image Windows will load?
//!
//! Checks, each reported as one line:
//! PE32+ for x86-64; subsystem NATIVE; not a DLL; entry point inside `.text` (and at `DriverEntry`
//! when the image exports or names it); a valid PE checksum; base relocations present; NX and dynamic
//! base set; no section both writable and executable; imports only from `ntoskrnl.exe`, `ndis.sys` and
//! `hal.dll`, by name, and every imported name a real export of its module, judged against the
//! mingw-w64 import libraries plus [`NEWER_EXPORTS`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};

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

    /// An explicit export list, plus [`NEWER_EXPORTS`].
    #[cfg(test)]
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

    fn exports(&self, module: &str, name: &str) -> bool {
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

/// Runs every check on `data`. An unparsable file is one violation.
#[must_use]
pub fn check(data: &[u8], exports: &Exports) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |rule: &'static str, detail: String| out.push(Violation { rule, detail });

    let Ok(kind) = object::FileKind::parse(data) else {
        fail("format", "not a recognisable object file".into());
        return out;
    };
    if kind != object::FileKind::Pe64 {
        fail("format", format!("{kind:?}, not a PE32+ image"));
        return out;
    }
    let file = match PeFile64::parse(data) {
        Ok(f) => f,
        Err(e) => {
            fail("format", format!("malformed PE32+ image: {e}"));
            return out;
        }
    };
    let nt = file.nt_headers();
    let coff = nt.file_header();
    let opt = nt.optional_header();

    let machine = coff.machine.get(LE);
    if machine != pe::IMAGE_FILE_MACHINE_AMD64 {
        fail("machine", format!("{machine:#06x}, not x86-64 (0x8664)"));
    }
    if opt.subsystem() != pe::IMAGE_SUBSYSTEM_NATIVE {
        fail("subsystem", format!("{}, not NATIVE (1)", opt.subsystem()));
    }
    let characteristics = coff.characteristics.get(LE);
    if characteristics & pe::IMAGE_FILE_DLL != 0 {
        fail(
            "dll",
            format!("IMAGE_FILE_DLL is set (characteristics {characteristics:#06x})"),
        );
    }
    if characteristics & pe::IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
        fail("executable", "IMAGE_FILE_EXECUTABLE_IMAGE is not set".into());
    }
    let dll_chars = opt.dll_characteristics();
    if dll_chars & pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT == 0 {
        fail("nx", "IMAGE_DLLCHARACTERISTICS_NX_COMPAT is not set".into());
    }
    if dll_chars & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE == 0 {
        fail(
            "dynamic-base",
            "IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE is not set".into(),
        );
    }

    // Sections: entry point in .text, no W+X.
    let entry = opt.address_of_entry_point();
    let sections = file.section_table();
    let mut entry_section = None;
    for section in sections.iter() {
        let name = String::from_utf8_lossy(section.raw_name())
            .trim_end_matches('\0')
            .to_string();
        let flags = section.characteristics.get(LE);
        if flags & pe::IMAGE_SCN_MEM_WRITE != 0 && flags & pe::IMAGE_SCN_MEM_EXECUTE != 0 {
            fail(
                "wx-section",
                format!("section {name} is both writable and executable ({flags:#010x})"),
            );
        }
        let start = section.virtual_address.get(LE);
        let size = section.virtual_size.get(LE).max(section.size_of_raw_data.get(LE));
        if entry >= start && entry < start.saturating_add(size) {
            entry_section = Some(name);
        }
    }
    match entry_section.as_deref() {
        Some(".text") => {}
        Some(other) => fail(
            "entry",
            format!("entry point {entry:#x} is in {other}, not .text"),
        ),
        None => fail("entry", format!("entry point {entry:#x} is in no section")),
    }
    // Where the image names DriverEntry (an export), the entry point must be it.
    let exported_entry = file
        .export_table()
        .ok()
        .flatten()
        .and_then(|table| table.exports().ok())
        .and_then(|exports| {
            exports
                .into_iter()
                .find(|e| e.name == Some(b"DriverEntry".as_slice()))
        })
        .map(|e| e.target);
    if let Some(object::read::pe::ExportTarget::Address(rva)) = exported_entry
        && rva != entry
    {
        fail(
            "entry",
            format!("entry point {entry:#x} is not DriverEntry ({rva:#x})"),
        );
    }

    // Checksum.
    let checksum_offset = nt_checksum_offset(data);
    let stored = opt.check_sum();
    let computed = pe_checksum(data, checksum_offset);
    if stored != computed {
        fail(
            "checksum",
            format!("stored {stored:#010x}, computed {computed:#010x} (link with /RELEASE)"),
        );
    }

    // Relocations.
    let relocs = file
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC)
        .map_or(0, |d| d.size.get(LE));
    if relocs == 0 {
        fail(
            "relocations",
            "no base relocation directory (the image cannot be relocated)".into(),
        );
    }

    // Imports.
    match file.import_table() {
        Ok(Some(table)) => check_imports(&table, exports, &mut fail),
        Ok(None) => {}
        Err(e) => fail("imports", format!("unreadable import table: {e}")),
    }
    out
}

fn check_imports(
    table: &object::read::pe::ImportTable<'_>,
    exports: &Exports,
    fail: &mut impl FnMut(&'static str, String),
) {
    let Ok(mut descriptors) = table.descriptors() else {
        fail("imports", "unreadable import descriptors".into());
        return;
    };
    loop {
        let descriptor = match descriptors.next() {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(e) => {
                fail("imports", format!("unreadable import descriptor: {e}"));
                break;
            }
        };
        let module = match table.name(descriptor.name.get(LE)) {
            Ok(name) => String::from_utf8_lossy(name).to_ascii_lowercase(),
            Err(e) => {
                fail("imports", format!("unreadable module name: {e}"));
                continue;
            }
        };
        let allowed = ALLOWED_MODULES.iter().any(|(m, _)| *m == module);
        if !allowed {
            fail(
                "import-module",
                format!(
                    "imports from {module}; a miniport may import only from ntoskrnl.exe, ndis.sys, hal.dll"
                ),
            );
        }
        let thunk_rva = match descriptor.original_first_thunk.get(LE) {
            0 => descriptor.first_thunk.get(LE),
            rva => rva,
        };
        let Ok(mut thunks) = table.thunks(thunk_rva) else {
            fail("imports", format!("{module}: unreadable import lookup table"));
            continue;
        };
        loop {
            let thunk = match thunks.next::<pe::ImageNtHeaders64>() {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => {
                    fail(
                        "imports",
                        format!("{module}: unreadable import lookup entry: {e}"),
                    );
                    break;
                }
            };
            match table.import::<pe::ImageNtHeaders64>(thunk) {
                Ok(object::read::pe::Import::Name(_, name)) => {
                    let name = String::from_utf8_lossy(name);
                    if allowed && !exports.exports(&module, &name) {
                        fail(
                            "import-name",
                            format!("{module}!{name} is not an export of {module}"),
                        );
                    }
                }
                Ok(object::read::pe::Import::Ordinal(ordinal)) => {
                    fail(
                        "import-ordinal",
                        format!("{module}: import by ordinal {ordinal}; import by name"),
                    );
                }
                Err(e) => fail("imports", format!("{module}: unreadable import: {e}")),
            }
        }
    }
}

/// The image's imports, as (lower-case module, function name) pairs.
pub fn imports(data: &[u8]) -> Result<Vec<(String, String)>, String> {
    use object::Object;
    let file = object::File::parse(data).map_err(|e| e.to_string())?;
    let imports = file.imports().map_err(|e| e.to_string())?;
    Ok(imports
        .iter()
        .map(|i| {
            (
                String::from_utf8_lossy(i.library()).to_ascii_lowercase(),
                String::from_utf8_lossy(i.name()).into_owned(),
            )
        })
        .collect())
}

/// File offset of `OptionalHeader.CheckSum` (64 bytes into the PE32+ optional header).
fn nt_checksum_offset(data: &[u8]) -> usize {
    let e_lfanew = data
        .get(0x3c..0x40)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    e_lfanew + 4 + 20 + 64
}

#[cfg(test)]
mod testimage;

#[cfg(test)]
mod tests;
