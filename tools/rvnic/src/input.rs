//! Reading a file the user named, bounded: `check-sys` and `check-inf` read only regular files of
//! at most a documented size, so `/dev/zero` is refused at once instead of read without end, and a
//! FIFO is refused instead of waited on.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// The largest image `check-sys` reads: Windows' own kernel is about 11 MiB; rvnic.sys is 70 KiB.
pub const MAX_IMAGE: u64 = 64 << 20;
/// The largest INF `check-inf` reads (rvnic's is 7 KiB).
pub const MAX_INF: u64 = 4 << 20;

/// The whole of `path` if it is a regular file of at most `cap` bytes; otherwise one line saying
/// why not. Opened without blocking (a FIFO cannot stall the open), then judged by what was opened.
///
/// # Errors
/// The file could not be read, or is longer than `cap` bytes.
pub fn read_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open {shown}: {}", std::io::Error::from(e)))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            use std::os::unix::fs::FileTypeExt as _;
            let t = meta.file_type();
            if t.is_fifo() {
                "a FIFO"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }
        };
        return Err(format!("{shown} is {kind}; only a regular file is read"));
    }
    if meta.len() > cap {
        return Err(format!(
            "{shown} is {} bytes, more than the {cap} this reads",
            meta.len()
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file that grows while it is read stops at the cap plus one byte, and is refused.
    file.take(cap + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if data.len() as u64 > cap {
        return Err(format!("{shown} grew past {cap} bytes while it was read"));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_directories_and_large_files_are_refused_before_reading() {
        assert!(
            read_bounded(Path::new("/dev/zero"), MAX_IMAGE)
                .unwrap_err()
                .contains("is a device")
        );
        assert!(
            read_bounded(Path::new("/"), MAX_IMAGE)
                .unwrap_err()
                .contains("a directory")
        );
        let dir = std::env::temp_dir().join(format!("rvnic-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        // Nobody writes to it: a blocking open would wait for ever.
        assert!(read_bounded(&fifo, MAX_IMAGE).unwrap_err().contains("a FIFO"));
        let big = dir.join("big");
        std::fs::write(&big, vec![0u8; 1025]).expect("write");
        assert!(
            read_bounded(&big, 1024)
                .unwrap_err()
                .contains("1025 bytes, more than the 1024")
        );
        assert_eq!(read_bounded(&big, 1025).map(|d| d.len()), Ok(1025));
        assert!(
            read_bounded(&dir.join("missing"), 1)
                .unwrap_err()
                .contains("cannot open")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
