//! Standard output that never panics and never hides a failure: `println!` panics when stdout is a
//! full device, and ignoring write errors would report a run as done when its report was lost.
//! [`out!`] and [`outln!`] record the first error; [`finish`] turns it into the exit status. A
//! closed pipe (`rvnic run --json | head`) is the reader's choice, not a failure: the output
//! stops quietly and the command's own status stands.

use std::io::{ErrorKind, Write as _};
use std::process::ExitCode;
use std::sync::Mutex;

/// The first error a write to stdout met.
static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Records the result of one write.
pub fn record(result: std::io::Result<()>) {
    if let Err(e) = result {
        let mut failed = FAILED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if failed.is_none() {
            *failed = Some(e);
        }
    }
}

/// `print!` that records a failure instead of panicking.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        $crate::out::record(write!(std::io::stdout().lock(), $($t)*));
    }};
}

/// `println!`, likewise.
#[macro_export]
macro_rules! outln {
    () => { $crate::out!("\n") };
    ($($t:tt)*) => {{
        use std::io::Write as _;
        $crate::out::record(writeln!(std::io::stdout().lock(), $($t)*));
    }};
}

/// The command's exit status, unless its output could not be written: then one line on stderr and
/// failure (a closed pipe excepted).
pub fn finish(command: &str, status: ExitCode) -> ExitCode {
    record(std::io::stdout().lock().flush());
    let failed = FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match failed {
        Some(e) if e.kind() != ErrorKind::BrokenPipe => {
            eprintln!("rvnic {command}: cannot write the output: {e}");
            ExitCode::FAILURE
        }
        _ => status,
    }
}
