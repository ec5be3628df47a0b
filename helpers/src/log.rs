//! Debug output through `DbgPrint`, formatted in Rust.
//!
//! `DbgPrint` is variadic; rvnic never passes it a format string of its own making. It formats the
//! message with `core::fmt` into a buffer on the stack and calls `DbgPrint("%s", text)`, so the host
//! needs to implement only that form and a `%` in a message can never be misread as a conversion.
//! Callable at any IRQL <= `DISPATCH_LEVEL`; never allocates.

use core::fmt::{self, Write};

/// Longest message, in bytes, including the prefix; longer messages are cut at a character boundary.
pub const MAX_MESSAGE: usize = 240;

/// A fixed buffer that keeps the first `MAX_MESSAGE - 1` bytes written to it, NUL-terminated.
#[derive(Debug)]
pub struct Line {
    buf: [u8; MAX_MESSAGE],
    len: usize,
}

impl Line {
    #[must_use]
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_MESSAGE],
            len: 0,
        }
    }

    /// The text so far, without the terminating NUL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // The buffer only ever receives whole UTF-8 characters (see `write_str`).
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The text as a NUL-terminated C string.
    #[must_use]
    pub fn as_c_str(&self) -> &core::ffi::CStr {
        core::ffi::CStr::from_bytes_until_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_MESSAGE - 1 - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        // Interior NULs would end the C string early; show them as '?' instead.
        for (dst, src) in self.buf[self.len..self.len + take].iter_mut().zip(s.bytes()) {
            *dst = if src == 0 { b'?' } else { src };
        }
        self.len += take;
        self.buf[self.len] = 0;
        Ok(())
    }
}

/// Formats `args` after `prefix` and hands the line to `DbgPrint`.
pub fn print(prefix: &str, args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    // Writing into a `Line` cannot fail: it truncates instead.
    let _ = line.write_str(prefix);
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    // "%s" takes exactly the one `char *` argument passed. DbgPrint: any IRQL <= DISPATCH_LEVEL.
    // SAFETY: both pointers are NUL-terminated strings that live until the call returns.
    unsafe { ndis::DbgPrint(c"%s".as_ptr(), line.as_c_str().as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary_and_stay_terminated() {
        let mut line = Line::new();
        let text = "é".repeat(MAX_MESSAGE);
        let _ = line.write_str(&text);
        assert!(line.as_str().len() < MAX_MESSAGE);
        assert!(line.as_str().chars().all(|c| c == 'é'));
        assert_eq!(line.as_c_str().to_bytes().len(), line.as_str().len());
    }

    #[test]
    fn interior_nul_cannot_cut_the_c_string() {
        let mut line = Line::new();
        let _ = write!(line, "a\0b {}", 5);
        assert_eq!(line.as_c_str().to_str(), Ok("a?b 5"));
    }
}
