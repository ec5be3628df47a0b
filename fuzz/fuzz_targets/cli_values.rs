//! Fuzzes every value parser of the `rvnic` command line with arbitrary text: none may panic, and
//! what they accept must mean what it says (a parsed MAC list is 6 bytes per address, a number fits
//! its width, a keyword the driver refuses is described).
//!
//! Input: one byte choosing a width, then the text (lossy UTF-8, so every byte string is tried).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvnic_cli::values::{
    self, Setting, Sizes, frames, mac, oid, oid_value, resolve, run_duration, tap_duration, width,
};

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let w = usize::from(w % 10);
    if let Ok(bytes) = oid_value(&text, w) {
        let numeric = !text.starts_with("hex:") && !text.contains('-') && !text.contains(':');
        if numeric {
            assert_eq!(bytes.len(), w, "a number is written in exactly its width");
        } else if !text.starts_with("hex:") {
            assert_eq!(bytes.len() % 6, 0, "a MAC list is 6 bytes per address");
        }
    }
    let _ = oid_value(&format!("hex:{text}"), w);
    let _ = mac(&text);
    let _ = oid(&text);
    if let Ok(w) = width(&text) {
        assert!(matches!(w, 1 | 2 | 4 | 8));
    }
    if let Ok(n) = frames(&text) {
        assert!((1..=values::MAX_FRAMES).contains(&n));
    }
    if let Ok(d) = run_duration(&text) {
        assert!(d.is_finite() && d >= values::RUN_SECONDS.0 && d <= values::RUN_SECONDS.1);
    }
    let _ = tap_duration(&text);
    if let Ok(Sizes::Fixed(n)) = text.parse::<Sizes>() {
        assert!(values::FRAME_SIZES.contains(&n));
    }
    let mut settings = Vec::new();
    for part in text.split(';') {
        if let Ok(s) = part.parse::<Setting>() {
            settings.push(s);
        }
    }
    let (_, refused) = resolve(&settings);
    for f in &refused {
        assert!(!values::describe(f).is_empty());
    }
    let _ = values::topology(None, &settings, values::Topology::Pair);
});
