//! A trace of the calls between the driver and NDIS, for watching a driver run: every entry point
//! the host calls (`MiniportSendNetBufferLists`, `MiniportReturnNetBufferLists`, ...) and every
//! NDIS or kernel function the driver calls (`NdisMIndicateReceiveNetBufferLists`, ...), in order,
//! each with the CPU it ran on, indented by how deeply the calls nest (a return the protocol makes
//! from inside an indication shows under `NdisMIndicateReceiveNetBufferLists`).
//!
//! Off unless [`crate::HostBuilder::trace`] asks for it or the environment variable
//! `NDIS_HOST_TRACE` is set; the variable also echoes each line to stderr as it happens (as
//! `NDIS_HOST_ECHO` echoes the driver's `DbgPrint`, which the trace shows too, where it was
//! printed). [`crate::Host::trace`] takes the lines.
//! Off, a call costs one relaxed load.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ndis::KIRQL;

use crate::irql::with_thread;

static ON: AtomicBool = AtomicBool::new(false);
static ECHO: AtomicBool = AtomicBool::new(false);
/// The lines so far. One host runs in a process at a time, so one trace.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    /// Driver entries this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Turns tracing on or off for a new host (on anyway when `NDIS_HOST_TRACE` is set), with an
/// empty trace.
pub(crate) fn configure(on: bool) {
    let echo = std::env::var_os("NDIS_HOST_TRACE").is_some();
    ECHO.store(echo, Ordering::Relaxed);
    ON.store(on || echo, Ordering::Relaxed);
    LINES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// The lines recorded since the last call (or since the host was built).
pub(crate) fn take() -> Vec<String> {
    std::mem::take(&mut *LINES.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

fn record(depth: usize, text: &str) {
    let cpu = with_thread(|t| t.cpu);
    let line = format!("cpu {cpu} {:indent$}{text}", "", indent = 2 * depth);
    if ECHO.load(Ordering::Relaxed) {
        eprintln!("{line}");
    }
    LINES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(line);
}

/// The host is about to call the driver's `entry` (for `adapter`, at `irql`). Returns a guard that
/// ends the entry's nesting when the call returns.
pub(crate) fn driver_entry(entry: &str, adapter: Option<usize>, irql: KIRQL) -> Option<Entered> {
    if !ON.load(Ordering::Relaxed) {
        return None;
    }
    let adapter = adapter.map_or_else(String::new, |a| format!("adapter {a}, "));
    Some(enter(&format!(
        "-> {entry} ({adapter}{})",
        crate::irql::name(irql)
    )))
}

/// Records `text` at the current depth and goes one level in until the guard drops.
fn enter(text: &str) -> Entered {
    let depth = DEPTH.with(Cell::get);
    record(depth, text);
    DEPTH.with(|d| d.set(depth + 1));
    Entered
}

/// The driver called the NDIS or kernel function `name`. Returns a guard that ends the call's
/// nesting (what the host calls in the driver meanwhile is one level in) when it returns.
pub(crate) fn ndis_call(name: &str) -> Option<Entered> {
    if !ON.load(Ordering::Relaxed) {
        return None;
    }
    Some(enter(name))
}

/// What the driver printed (`DbgPrint`), where it printed it.
pub(crate) fn message(text: &str) {
    if ON.load(Ordering::Relaxed) {
        record(DEPTH.with(Cell::get), &format!("DbgPrint: {text}"));
    }
}

/// Inside a driver entry or an NDIS call; leaving it when dropped.
pub(crate) struct Entered;

impl Drop for Entered {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}
