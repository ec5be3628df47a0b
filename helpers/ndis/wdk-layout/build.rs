//! Windows hosts: generates `$OUT_DIR/ndis.rs`, bindgen's Rust view of the installed WDK's ndis.h
//! (types only), configured by `wdk_build` exactly as `wdk-sys` configures its own bindings, so
//! `tests/wdk_layout.rs` can compare the hand-written `ndis` crate with it. Elsewhere: nothing.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(windows)]
    if let Err(e) = wdk::generate() {
        eprintln!("ndis-wdk-layout build: {e}");
        std::process::exit(1);
    }
}

#[cfg(windows)]
mod wdk {
    use std::path::PathBuf;

    use bindgen::CodegenConfig;
    use wdk_build::{ApiSubset, BuilderExt, Config};

    /// What a miniport build defines before ndis.h (the WDK's NDIS miniport projects set both):
    /// the NDIS version rvnic is built for, as its oracle was computed, and the miniport role, which
    /// selects the miniport view of the headers.
    const NDIS_DEFINE: &str = "#define NDIS_MINIPORT_DRIVER 1\n#define NDIS630_MINIPORT 1\n";

    pub fn generate() -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::from_env_auto()?;
        // The base headers wdk-sys uses (ntifs.h, ntddk.h, ntstrsafe.h), then ndis.h.
        let mut header = config.bindgen_header_contents([ApiSubset::Base])?;
        header.push_str(NDIS_DEFINE);
        header.push_str("#include \"ndis.h\"\n");
        let bindings = bindgen::Builder::wdk_default(&config)?
            .with_codegen_config(CodegenConfig::TYPES)
            .header_contents("rvnic-ndis-input.h", &header)
            // ndis.h, its ndis\*.h parts, ntddndis.h; ifdef.h for NET_LUID. Types these use from
            // the base headers are generated too (bindgen follows them); the test compares the
            // base kernel types with wdk-sys's own bindings instead.
            .allowlist_file("(?i).*ndis.*\\.h")
            .allowlist_file("(?i).*ifdef\\.h")
            .generate()?;
        let out = PathBuf::from(std::env::var("OUT_DIR")?).join("ndis.rs");
        bindings.write_to_file(&out)?;
        Ok(())
    }
}
