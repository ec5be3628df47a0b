//! `rvnic check-inf PATH`: checks rvnic's INF (the `.inx` template or the stamped `.inf`) against the
//! rules an NDIS virtual miniport's INF must follow and against the driver's own keyword table
//! (`rvnic::config::KEYWORDS`), so the advanced properties a user sees can never drift from what the
//! driver reads.
//!
//! INF files are not INI files (keys repeat, lines without keys, `%strings%`, `\` continuations,
//! UTF-16), so this is a small strict parser of its own: comments after `;` outside quotes,
//! sections by case-insensitive name, entries as `key = value` or bare comma lists.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use rvnic::config::{KEYWORDS, Keyword, Kind};

/// The Net class GUID (devguid.h `GUID_DEVCLASS_NET`).
pub const NET_CLASS_GUID: &str = "{4d36e972-e325-11ce-bfc1-08002be10318}";
/// The hardware id instances are created with (`devgen /add /hardwareid root\rvnic`).
pub const HARDWARE_ID: &str = r"root\rvnic";

/// One line of a section: its number in the file, its key (if `key = value`), and the values (the
/// comma-separated fields after `=`, or of the whole line), unquoted, strings not yet substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its line number in the file (from 1).
    pub number: usize,
    /// The key before `=`, if any.
    pub key: Option<String>,
    /// The comma-separated values, unquoted.
    pub fields: Vec<String>,
}

/// A parsed INF: sections by lower-case name, in file order within each.
#[derive(Debug, Default)]
pub struct Inf {
    sections: BTreeMap<String, Vec<Line>>,
    strings: BTreeMap<String, String>,
}

/// Decodes the file: UTF-16LE with its BOM (what Windows tools write), or UTF-8 (with or without
/// BOM). UTF-16 without a BOM, and lone-CR line ends, get a message that says so: Windows reads
/// neither as the author meant.
///
/// # Errors
/// Bytes that are neither UTF-8 nor UTF-16 with a byte-order mark.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let text = decode_encoding(bytes)?;
    if let Some(at) = text
        .find('\r')
        .filter(|&at| text.as_bytes().get(at + 1) != Some(&b'\n'))
    {
        let line = text[..at].matches('\n').count() + 1;
        return Err(format!(
            "line {line} ends with a lone CR (classic Mac line ends); Windows reads INF lines ended by CR LF or LF"
        ));
    }
    Ok(text)
}

/// Whether `bytes` look like UTF-16 without its byte-order mark: every other byte zero, as ASCII
/// text encoded in UTF-16 is. `Some(true)` for little-endian.
fn bomless_utf16(bytes: &[u8]) -> Option<bool> {
    let pairs = bytes.len() / 2;
    if pairs < 4 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let zeros = |offset: usize| bytes.iter().skip(offset).step_by(2).filter(|&&b| b == 0).count();
    let (even, odd) = (zeros(0), zeros(1));
    if odd * 10 >= pairs * 9 && even * 10 < pairs {
        Some(true)
    } else if even * 10 >= pairs * 9 && odd * 10 < pairs {
        Some(false)
    } else {
        None
    }
}

fn decode_encoding(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return Err("UTF-16LE file with an odd number of bytes".into());
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).map_err(|_| "invalid UTF-16LE".to_string());
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("UTF-16BE is not an encoding Windows accepts for INF files".into());
    }
    if let Some(little) = bomless_utf16(bytes) {
        let order = if little { "UTF-16LE" } else { "UTF-16BE" };
        return Err(format!(
            "the file looks like {order} without a byte-order mark: Windows reads an INF as UTF-16 only when it starts with the BOM FF FE; save it with one (UTF-16LE), or as UTF-8"
        ));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("neither UTF-16LE with BOM nor UTF-8: {e}"))
}

/// Splits `text` at commas outside double quotes, trims, and removes the quotes (`""` is a quote).
fn fields(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field).trim().to_string()),
            c => field.push(c),
        }
    }
    out.push(field.trim().to_string());
    out
}

/// The line without its comment (a `;` outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

impl Inf {
    /// Parses INF text. Errors name the line.
    ///
    /// # Errors
    /// The first line the parser cannot read, and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut inf = Self::default();
        let mut current: Option<String> = None;
        let mut pending = String::new();
        let mut pending_start = 0;
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = strip_comment(raw).trim_end();
            if pending.is_empty() {
                pending_start = number;
            }
            if let Some(continued) = line.strip_suffix('\\') {
                pending.push_str(continued);
                continue;
            }
            pending.push_str(line);
            let line = std::mem::take(&mut pending);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .ok_or_else(|| format!("line {number}: section header without ']'"))?;
                let name = name.trim().to_ascii_lowercase();
                inf.sections.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            let Some(section) = &current else {
                return Err(format!("line {pending_start}: an entry before any section"));
            };
            let (key, values) = match split_key(line) {
                Some((k, v)) => (Some(k.trim().to_string()), v),
                None => (None, line),
            };
            let parsed = Line {
                number: pending_start,
                key,
                fields: fields(values),
            };
            if section == "strings" {
                let Some(key) = parsed.key.clone() else {
                    return Err(format!("line {pending_start}: a [Strings] line without a key"));
                };
                inf.strings
                    .insert(key.to_ascii_lowercase(), parsed.fields.join(","));
            }
            inf.sections.entry(section.clone()).or_default().push(parsed);
        }
        if !pending.is_empty() {
            return Err(format!(
                "line {pending_start}: a '\\' continuation at the end of the file"
            ));
        }
        Ok(inf)
    }

    /// The lines of section `name` (case-insensitive).
    pub fn section(&self, name: &str) -> Option<&[Line]> {
        self.sections.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// The first value of `key` in `section`, strings substituted.
    pub fn value(&self, section: &str, key: &str) -> Option<Result<String, String>> {
        let line = self
            .section(section)?
            .iter()
            .find(|l| l.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key)))?;
        Some(self.substitute(line.fields.first().map_or("", String::as_str), line.number))
    }

    /// Replaces `%token%` with its [Strings] value (`%%` is a percent sign; `%13%`-style DIRIDs
    /// stay as they are).
    ///
    /// # Errors
    /// An unmatched `%`, or a `%token%` the `[Strings]` section does not define.
    pub fn substitute(&self, text: &str, line: usize) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after
                .find('%')
                .ok_or_else(|| format!("line {line}: unmatched '%' in {text:?}"))?;
            let token = &after[..end];
            if token.is_empty() {
                out.push('%');
            } else if token.chars().all(|c| c.is_ascii_digit()) {
                out.push('%');
                out.push_str(token);
                out.push('%');
            } else {
                let value = self
                    .strings
                    .get(&token.to_ascii_lowercase())
                    .ok_or_else(|| format!("line {line}: %{token}% is not in [Strings]"))?;
                out.push_str(value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `key = value`, if the line has an `=` outside quotes.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted => return Some((&line[..i], &line[i + 1..])),
            _ => {}
        }
    }
    None
}

/// An advanced property as the INF declares it.
#[derive(Debug, Default, Clone)]
struct Property {
    line: usize,
    values: BTreeMap<String, String>,
    enums: Vec<(String, String)>,
}

/// The functions the driver imports, for the target-OS rule: read from a built image, or every
/// function the `ndis` crate can import (a superset of any image's, so never a weaker check).
#[derive(Debug, Clone)]
pub enum Imports {
    /// The imports of a built image: (module, function).
    Image(Vec<(String, String)>),
    /// Every function the `ndis` crate declares.
    Declared,
}

impl Imports {
    fn pairs(&self) -> Vec<(&str, &str)> {
        match self {
            Self::Image(list) => list.iter().map(|(m, n)| (m.as_str(), n.as_str())).collect(),
            Self::Declared => target::FIRST_BUILD.iter().map(|r| (r.module, r.name)).collect(),
        }
    }
}

/// The target-OS decorations of `[Manufacturer]` (the fields after the models section name).
fn decorations(inf: &Inf) -> Vec<String> {
    inf.section("Manufacturer")
        .and_then(|m| m.first())
        .map(|line| line.fields.iter().skip(1).cloned().collect())
        .unwrap_or_default()
}

/// Everything wrong with `inf`, one message per problem (empty: the INF is right).
#[must_use]
#[allow(
    clippy::too_many_lines,
    reason = "the INF rules in the order the sections appear"
)]
pub fn check(inf: &Inf, imports: &Imports) -> Vec<String> {
    let mut problems = Vec::new();
    let expect =
        |section: &str, key: &str, wanted: &str, problems: &mut Vec<String>| match inf.value(section, key) {
            None => problems.push(format!("[{section}] has no {key} (expected {wanted})")),
            Some(Err(e)) => problems.push(e),
            Some(Ok(v)) if !same(&v, wanted) => {
                problems.push(format!("[{section}] {key} is {v:?}, expected {wanted:?}"));
            }
            Some(Ok(_)) => {}
        };
    duplicates(inf, &mut problems);
    // Every %token% anywhere must be defined in [Strings].
    for (name, lines) in &inf.sections {
        if name == "strings" {
            continue;
        }
        for line in lines {
            for field in line.key.iter().chain(&line.fields) {
                if let Err(e) = inf.substitute(field, line.number) {
                    problems.push(e);
                }
            }
        }
    }
    // [Version]
    expect("Version", "Signature", "$WINDOWS NT$", &mut problems);
    expect("Version", "Class", "Net", &mut problems);
    expect("Version", "ClassGUID", NET_CLASS_GUID, &mut problems);
    expect("Version", "PnpLockdown", "1", &mut problems);
    for key in ["Provider", "CatalogFile", "DriverVer"] {
        if inf.value("Version", key).is_none() {
            problems.push(format!("[Version] has no {key}"));
        }
    }
    // The target OS: no Windows build whose kernel lacks an import.
    problems.extend(target::check(&decorations(inf), imports.pairs()));
    // [Manufacturer] -> models -> the install section for root\rvnic.
    let Some(install) = install_section(inf, &mut problems) else {
        return problems;
    };
    expect(&install, "Characteristics", "0x1", &mut problems);
    expect(&install, "*IfType", "6", &mut problems);
    expect(&install, "*MediaType", "0", &mut problems);
    expect(&install, "*PhysicalMediaType", "14", &mut problems);
    if inf.value(&install, "NumberOfInterfaces").is_some() {
        problems.push(format!(
            "[{install}] sets NumberOfInterfaces, which NDIS 6 INFs must not"
        ));
    }
    // The service.
    let services = format!("{install}.Services");
    match inf
        .section(&services)
        .and_then(|s| s.iter().find(|l| has_key(l, "AddService")))
    {
        None => problems.push(format!("[{services}] has no AddService")),
        Some(line) => {
            let name = line.fields.first().map_or("", String::as_str);
            let flags = line.fields.get(1).map_or("", String::as_str);
            if !name.eq_ignore_ascii_case("rvnic") || !same(flags, "2") {
                problems.push(format!(
                    "line {}: AddService must install service rvnic with flag 2 (SPSVCINST_ASSOCSERVICE)",
                    line.number
                ));
            }
            match line.fields.get(2) {
                None => problems.push(format!(
                    "line {}: AddService names no service section",
                    line.number
                )),
                Some(service) => {
                    if inf.section(service).is_none() {
                        problems.push(format!(
                            "line {}: AddService names [{service}], which does not exist",
                            line.number
                        ));
                    }
                    for list in ["AddReg", "DelReg"] {
                        referenced(inf, service, list, &mut problems);
                    }
                    expect(service, "ServiceType", "1", &mut problems);
                    expect(service, "StartType", "3", &mut problems);
                    expect(service, "ErrorControl", "1", &mut problems);
                    expect(service, "ServiceBinary", r"%13%\rvnic.sys", &mut problems);
                    expect(service, "LoadOrderGroup", "NDIS", &mut problems);
                }
            }
            if let Some(log) = line.fields.get(3).filter(|f| !f.is_empty()) {
                if inf.section(log).is_none() {
                    problems.push(format!(
                        "line {}: AddService names the event log section [{log}], which does not exist",
                        line.number
                    ));
                }
                referenced(inf, log, "AddReg", &mut problems);
            }
        }
    }
    for list in ["AddReg", "DelReg", "CopyFiles", "DelFiles", "RenFiles", "BitReg"] {
        referenced(inf, &install, list, &mut problems);
    }
    files(inf, &install, &mut problems);
    // Files go to the driver store (DIRID 13), as InfVerif's isolation rules require.
    for copy in list(inf, &install, "CopyFiles") {
        let dirid = inf
            .section("DestinationDirs")
            .and_then(|d| {
                d.iter()
                    .find(|l| has_key(l, &copy))
                    .or_else(|| d.iter().find(|l| has_key(l, "DefaultDestDir")))
            })
            .and_then(|l| l.fields.first().cloned());
        match dirid.as_deref() {
            Some("13") => {}
            Some(other) => problems.push(format!(
                "[DestinationDirs] sends {copy} to DIRID {other}; files must run from the driver store (13)"
            )),
            None => problems.push(format!("[DestinationDirs] has no entry for {copy}")),
        }
    }
    // Ndi keys and the advanced properties, from the install section's AddReg sections.
    let properties = properties(inf, &install, &mut problems);
    check_keywords(&properties, &mut problems);
    problems
}

/// An INF number: decimal, or hexadecimal after `0x` (how INF values and flags are written).
#[must_use]
#[allow(
    clippy::match_same_arms,
    reason = "a malformed hexadecimal number and a malformed decimal one are told apart"
)]
pub fn number(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// Whether two INF values say the same thing: as numbers when both are numbers (`0x1` is `1`),
/// otherwise as text, ignoring case as Windows does.
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

mod checks;
pub use checks::*;
pub mod target;

#[cfg(test)]
mod tests;
