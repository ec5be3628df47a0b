//! Compiles the C shim that defines `DbgPrint`: stable Rust cannot define a C-variadic function.
fn main() {
    println!("cargo::rerun-if-changed=src/dbgprint.c");
    cc::Build::new()
        .file("src/dbgprint.c")
        .warnings(true)
        .compile("ndis_host_dbgprint");
}
