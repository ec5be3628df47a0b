//! The shipped kernel image, loaded natively by ndis-host: its handlers live in the image, its
//! sections get their protection, and an image the loader must refuse is refused with a precise
//! error. The image is `RVNIC_IMAGE`, or what `tools/cross/build-sys.sh` built; without one these
//! tests skip with one line, except in CI (`RVNIC_REQUIRE_IMAGE` set), where the image is built
//! first and must be there.

use std::path::PathBuf;

use ndis_host::image::{Image, ImageError};
use ndis_host::{Driver, Host};
use rvnic_tests::{config, finish};

fn image_path() -> Option<PathBuf> {
    let path = std::env::var_os("RVNIC_IMAGE").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/x86_64-pc-windows-msvc/kernel/rvnic.sys")
        },
        PathBuf::from,
    );
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("RVNIC_REQUIRE_IMAGE").is_none(),
        "no kernel image at {} in CI: tools/cross/build-sys.sh runs first",
        path.display()
    );
    eprintln!(
        "skipping: no kernel image at {} (run tools/cross/build-sys.sh)",
        path.display()
    );
    None
}

#[test]
fn the_image_runs_and_its_handlers_live_in_it() {
    let Some(path) = image_path() else { return };
    let host = Host::new();
    host.load_driver(&Driver::Image(path))
        .expect("the image loads and registers");
    let (base, size) = host.image_range().expect("an image is loaded");
    let handler = host
        .with_registration(|r| r.characteristics.InitializeHandlerEx.map_or(0, |f| f as usize))
        .expect("registered");
    assert!(
        (base..base + size).contains(&handler),
        "{handler:#x} outside {base:#x}+{size:#x}"
    );
    // Its sections' protections: code read-execute, nothing writable and executable.
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let mut kinds = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (start, end) = (
            usize::from_str_radix(start, 16).unwrap_or(0),
            usize::from_str_radix(end, 16).unwrap_or(0),
        );
        if start >= base && end <= base + size {
            assert!(!(perms.contains('w') && perms.contains('x')), "{line}");
            kinds.push(perms[..3].to_string());
        }
    }
    assert!(kinds.iter().any(|k| k == "r-x"), "code: {kinds:?}");
    assert!(kinds.iter().any(|k| k == "rw-"), "data: {kinds:?}");
    assert!(
        kinds.iter().any(|k| k == "r--"),
        "headers and read-only data: {kinds:?}"
    );
    let a = host
        .start_adapter(config(&[]))
        .expect("the image initializes an adapter");
    finish(host, &[a]);
}

#[test]
fn an_import_the_host_does_not_define_is_refused_by_name() {
    let Some(path) = image_path() else { return };
    let mut bytes = std::fs::read(&path).expect("read");
    let name = b"KeFlushQueuedDpcs\0";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("the import's name");
    bytes[at + name.len() - 2] = b'X';
    assert_eq!(
        Image::from_bytes(&bytes, &path).err(),
        Some(ImageError::Import {
            module: "ntoskrnl.exe".into(),
            name: "KeFlushQueuedDpcX".into(),
        })
    );
}

#[test]
fn a_writable_code_section_and_a_foreign_machine_are_refused() {
    use object::read::pe::PeFile64;
    let Some(path) = image_path() else { return };
    let bytes = std::fs::read(&path).expect("read");
    let file = PeFile64::parse(&*bytes).expect("PE32+");
    // The section headers follow the optional header; find .text's characteristics field.
    let text = bytes
        .windows(8)
        .position(|w| w == b".text\0\0\0")
        .expect(".text header");
    let characteristics = text + 36;
    let mut writable = bytes.clone();
    writable[characteristics + 3] |= 0x80; // IMAGE_SCN_MEM_WRITE (0x80000000)
    assert_eq!(
        Image::from_bytes(&writable, &path).err(),
        Some(ImageError::WritableExecutable(".text".into()))
    );
    let machine = file.dos_header().e_lfanew.get(object::LittleEndian) as usize + 4;
    let mut arm = bytes.clone();
    arm[machine..machine + 2].copy_from_slice(&0xAA64u16.to_le_bytes());
    assert!(matches!(
        Image::from_bytes(&arm, &path),
        Err(ImageError::Format(_))
    ));
    assert!(matches!(
        Image::from_bytes(&bytes[..200], &path),
        Err(ImageError::Format(_))
    ));
}
