//! Debug output: each line prefixed `rvnic: `, formatted and handed to `DbgPrint` by the safe
//! layer ([`rvnic_helpers::log`]).
#![forbid(unsafe_code)]

/// Formats `args` after the `rvnic: ` prefix and hands the line to `DbgPrint`.
pub fn print(args: core::fmt::Arguments<'_>) {
    rvnic_helpers::log::print("rvnic: ", args);
}

/// `dbg_print!("adapter {} up", n)`: a line of debug output (see [`print`]).
#[macro_export]
macro_rules! dbg_print {
    ($($arg:tt)*) => { $crate::log::print(core::format_args!($($arg)*)) };
}
