#![allow(dead_code, reason = "each test binary uses a different part of these readers")]

//! Readers for the oracle files in `oracle/`: clang's MSVC x64 view of the WDK 10.0.22000 headers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The committed copy of an oracle file.
pub fn oracle_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle").join(name)
}

pub fn read_oracle(name: &str) -> String {
    let path = oracle_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One row of a STRUCT block.
#[derive(Clone, Debug)]
pub struct Row {
    pub offset: usize,
    pub size: usize,
    /// The C access path (`Header.Size`, `NetBufferHeader.DataLength`), or a `<...>` descriptor of an
    /// anonymous aggregate.
    pub path: String,
    /// The declared type as clang prints it.
    pub ty: String,
    pub bitfield: bool,
}

impl Row {
    /// Rows naming an anonymous aggregate (or reached only through one's descriptor) have no C path.
    pub fn is_anonymous_descriptor(&self) -> bool {
        self.path.contains('<')
    }
}

#[derive(Clone, Debug)]
pub struct Layout {
    pub size: usize,
    pub align: usize,
    /// `struct _TAG` or `union _TAG` of the record definition.
    pub tag: String,
    pub rows: Vec<Row>,
}

/// The primary (`NDIS630_MINIPORT`) layouts, by typedef name; the VARIANTS section is not read.
pub fn layouts() -> BTreeMap<String, Layout> {
    let text = read_oracle("ndis-layout-x64.txt");
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Layout)> = None;
    for line in text.lines() {
        if line.starts_with("# VARIANTS") {
            break;
        }
        if let Some(rest) = line.strip_prefix("STRUCT ") {
            if let Some((name, layout)) = current.take() {
                out.insert(name, layout);
            }
            let mut words = rest.split_whitespace();
            let name = words.next().expect("STRUCT name").to_string();
            let (mut size, mut align) = (usize::MAX, 0);
            for w in words.clone() {
                if let Some(v) = w.strip_prefix("size=") {
                    size = v.parse().expect("size");
                }
                if let Some(v) = w.strip_prefix("align=") {
                    align = v.parse().expect("align");
                }
            }
            let tag = rest
                .split(';')
                .map(str::trim)
                .find(|p| p.starts_with("struct _") || p.starts_with("union _"))
                .unwrap_or("")
                .to_string();
            current = Some((
                name,
                Layout {
                    size,
                    align,
                    tag,
                    rows: Vec::new(),
                },
            ));
            continue;
        }
        let Some((_, layout)) = current.as_mut() else {
            continue;
        };
        let trimmed = line.trim_start();
        let mut nums = trimmed.splitn(3, char::is_whitespace);
        let (Some(off), Some(_)) = (nums.next(), nums.clone().next()) else {
            continue;
        };
        let Ok(offset) = off.parse::<usize>() else {
            continue;
        };
        let rest = trimmed[off.len()..].trim_start();
        let size_str = rest.split_whitespace().next().expect("row size");
        let size: usize = size_str.parse().expect("row size number");
        let rest = rest[size_str.len()..].trim_start();
        let (path, ty_and_more) = rest.split_once("  [").expect("row type");
        let close = ty_and_more.rfind(']').expect("row type end");
        let ty = ty_and_more[..close].to_string();
        let bitfield = ty_and_more[close..].contains("bits ");
        layout.rows.push(Row {
            offset,
            size,
            path: path.trim().to_string(),
            ty,
            bitfield,
        });
    }
    if let Some((name, layout)) = current.take() {
        out.insert(name, layout);
    }
    out
}

/// `NAME = VALUE` lines of the constants oracle (the primary NDIS630 set), values as bit patterns.
pub fn constants() -> BTreeMap<String, u64> {
    let text = read_oracle("ndis-constants-x64.txt");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.split_whitespace().next().unwrap_or("");
        let parsed = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => value.parse::<u64>(),
        };
        if let Ok(v) = parsed {
            out.entry(name.trim().to_string()).or_insert(v);
        }
    }
    out
}
