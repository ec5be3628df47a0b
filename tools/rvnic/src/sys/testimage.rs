//! A PE32+ image writer for tests: a minimal, well-formed driver image with chosen imports, which
//! each test then breaks in exactly one way. Nothing binary is committed; images are made here.

#![allow(
    clippy::cast_possible_truncation,
    reason = "a tiny test image: every offset and size is far below 4 GiB"
)]

pub enum Import {
    Name(&'static str),
    Ordinal(u16),
}

pub struct Image {
    pub machine: u16,
    pub characteristics: u16,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub imports: Vec<(&'static str, Vec<Import>)>,
    pub text_characteristics: u32,
    pub relocations: bool,
    pub entry_in_data: bool,
    pub valid_checksum: bool,
    /// An exception directory with one function (all of .text) whose prologue allocates this
    /// many bytes (`UWOP_ALLOC_SMALL` or `_LARGE`).
    pub frame: Option<u32>,
}

const TEXT_RVA: u32 = 0x1000;
const RDATA_RVA: u32 = 0x2000;
const DATA_RVA: u32 = 0x3000;
const RELOC_RVA: u32 = 0x4000;
const FILE_ALIGN: usize = 0x200;

impl Image {
    /// What a correct miniport image looks like (the shape of rvnic.sys).
    pub fn driver() -> Self {
        Self {
            machine: 0x8664,
            characteristics: 0x0022,     // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
            subsystem: 1,                // NATIVE
            dll_characteristics: 0x0160, // HIGH_ENTROPY_VA | DYNAMIC_BASE | NX_COMPAT
            imports: vec![
                (
                    "ntoskrnl.exe",
                    vec![Import::Name("KeBugCheckEx"), Import::Name("ExAllocatePool2")],
                ),
                ("ndis.sys", vec![Import::Name("NdisMRegisterMiniportDriver")]),
                ("hal.dll", vec![Import::Name("KeStallExecutionProcessor")]),
            ],
            text_characteristics: 0x6000_0020, // CODE | EXECUTE | READ
            relocations: true,
            entry_in_data: false,
            valid_checksum: true,
            frame: Some(40),
        }
    }

    /// Unwind information and one `RUNTIME_FUNCTION`, appended to `rd` (RVA base `RDATA_RVA)`:
    /// returns the RVA of the `RUNTIME_FUNCTION`.
    fn pdata(rd: &mut Vec<u8>, frame: u32) -> u32 {
        rd.resize(rd.len().next_multiple_of(4), 0);
        let unwind = rd.len();
        // UNWIND_INFO: version 1, no flags; prologue size; count of code slots; no frame register.
        let (slots, codes): (u8, Vec<u8>) = if (8..=128).contains(&frame) && frame.is_multiple_of(8) {
            (1, vec![4, (((frame / 8 - 1) as u8) << 4) | 2]) // UWOP_ALLOC_SMALL
        } else {
            // UWOP_ALLOC_LARGE with info 1: the unscaled size in the next two slots, then a pad
            // slot (the array has an even number of slots).
            let mut c = vec![7, 0x11];
            c.extend_from_slice(&frame.to_le_bytes());
            c.extend_from_slice(&[0, 0]);
            (3, c)
        };
        rd.extend_from_slice(&[1, 8, slots, 0]);
        rd.extend_from_slice(&codes);
        rd.resize(rd.len().next_multiple_of(4), 0);
        let function = rd.len();
        put32v(rd, TEXT_RVA);
        put32v(rd, TEXT_RVA + 16);
        put32v(rd, RDATA_RVA + unwind as u32);
        RDATA_RVA + function as u32
    }

    fn rdata(&self) -> (Vec<u8>, u32) {
        let descriptors = (self.imports.len() + 1) * 20;
        let mut rd = vec![0u8; descriptors];
        for (i, (module, imports)) in self.imports.iter().enumerate() {
            let table_len = (imports.len() + 1) * 8;
            rd.resize(rd.len().next_multiple_of(8), 0);
            let ilt = rd.len();
            rd.resize(ilt + table_len, 0);
            let iat = rd.len();
            rd.resize(iat + table_len, 0);
            for (j, import) in imports.iter().enumerate() {
                let entry: u64 = match import {
                    Import::Ordinal(n) => (1u64 << 63) | u64::from(*n),
                    Import::Name(name) => {
                        let at = rd.len();
                        rd.extend_from_slice(&0u16.to_le_bytes());
                        rd.extend_from_slice(name.as_bytes());
                        rd.push(0);
                        if rd.len() % 2 == 1 {
                            rd.push(0);
                        }
                        u64::from(RDATA_RVA) + at as u64
                    }
                };
                rd[ilt + j * 8..ilt + j * 8 + 8].copy_from_slice(&entry.to_le_bytes());
                rd[iat + j * 8..iat + j * 8 + 8].copy_from_slice(&entry.to_le_bytes());
            }
            let name_at = rd.len();
            rd.extend_from_slice(module.as_bytes());
            rd.push(0);
            let d = i * 20;
            put32(&mut rd, d, RDATA_RVA + ilt as u32);
            put32(&mut rd, d + 12, RDATA_RVA + name_at as u32);
            put32(&mut rd, d + 16, RDATA_RVA + iat as u32);
        }
        (rd, descriptors as u32)
    }

    pub fn build(&self) -> Vec<u8> {
        let text = vec![0xC3u8; 16]; // ret
        let (mut rdata, import_dir_size) = self.rdata();
        let exception = self.frame.map(|frame| Self::pdata(&mut rdata, frame));
        let data = vec![0u8; 16];
        // One base relocation block: a DIR64 fixup at .data+0, padded with an ABSOLUTE entry.
        let mut reloc = Vec::new();
        put32v(&mut reloc, DATA_RVA);
        put32v(&mut reloc, 12);
        reloc.extend_from_slice(&0xA000u16.to_le_bytes());
        reloc.extend_from_slice(&0u16.to_le_bytes());

        let mut sections: Vec<(&[u8; 8], u32, &[u8], u32)> = vec![
            (b".text\0\0\0", TEXT_RVA, &text, self.text_characteristics),
            (b".rdata\0\0", RDATA_RVA, &rdata, 0x4000_0040),
            (b".data\0\0\0", DATA_RVA, &data, 0xC000_0040),
        ];
        if self.relocations {
            sections.push((b".reloc\0\0", RELOC_RVA, &reloc, 0x4200_0040));
        }

        let pe_at = 0x40usize;
        let opt_at = pe_at + 4 + 20;
        let headers_end = opt_at + 240 + sections.len() * 40;
        let size_of_headers = align(headers_end, FILE_ALIGN);
        let mut out = vec![0u8; size_of_headers];
        out[0..2].copy_from_slice(b"MZ");
        put32(&mut out, 0x3c, pe_at as u32);
        out[pe_at..pe_at + 4].copy_from_slice(b"PE\0\0");
        let coff = pe_at + 4;
        put16(&mut out, coff, self.machine);
        put16(&mut out, coff + 2, sections.len() as u16);
        put16(&mut out, coff + 16, 240);
        put16(&mut out, coff + 18, self.characteristics);

        let o = opt_at;
        put16(&mut out, o, 0x20b);
        put32(&mut out, o + 4, FILE_ALIGN as u32);
        put32(
            &mut out,
            o + 16,
            if self.entry_in_data { DATA_RVA } else { TEXT_RVA },
        );
        put32(&mut out, o + 20, TEXT_RVA);
        put64(&mut out, o + 24, 0x1_4000_0000);
        put32(&mut out, o + 32, 0x1000);
        put32(&mut out, o + 36, FILE_ALIGN as u32);
        put16(&mut out, o + 40, 10);
        put16(&mut out, o + 48, 10);
        let last_rva = sections.last().map_or(0, |s| s.1);
        put32(&mut out, o + 56, last_rva + 0x1000);
        put32(&mut out, o + 60, size_of_headers as u32);
        put16(&mut out, o + 68, self.subsystem);
        put16(&mut out, o + 70, self.dll_characteristics);
        put64(&mut out, o + 72, 0x4_0000);
        put64(&mut out, o + 80, 0x1000);
        put32(&mut out, o + 108, 16);
        let dirs = o + 112;
        put32(&mut out, dirs + 8, RDATA_RVA);
        put32(&mut out, dirs + 12, import_dir_size);
        if let Some(function) = exception {
            put32(&mut out, dirs + 3 * 8, function);
            put32(&mut out, dirs + 3 * 8 + 4, 12);
        }
        if self.relocations {
            put32(&mut out, dirs + 5 * 8, RELOC_RVA);
            put32(&mut out, dirs + 5 * 8 + 4, reloc.len() as u32);
        }

        let mut table = opt_at + 240;
        for (name, rva, bytes, flags) in &sections {
            let raw_at = out.len();
            let raw_len = align(bytes.len(), FILE_ALIGN);
            out[table..table + 8].copy_from_slice(*name);
            put32(&mut out, table + 8, bytes.len() as u32);
            put32(&mut out, table + 12, *rva);
            put32(&mut out, table + 16, raw_len as u32);
            put32(&mut out, table + 20, raw_at as u32);
            put32(&mut out, table + 36, *flags);
            out.extend_from_slice(bytes);
            out.resize(raw_at + raw_len, 0);
            table += 40;
        }
        let checksum_at = opt_at + 64;
        let sum = super::pe_checksum(&out, checksum_at);
        put32(
            &mut out,
            checksum_at,
            if self.valid_checksum { sum } else { sum ^ 0x5a5a },
        );
        out
    }
}

fn align(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn put32v(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}
