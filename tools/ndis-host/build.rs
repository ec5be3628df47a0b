//! Compiles the C shims: `DbgPrint` (stable Rust cannot define a C-variadic function) and the
//! kernel stacks' switch and guard (`src/stack.c`: a stack switch and sigsetjmp).
fn main() {
    println!("cargo::rerun-if-changed=src/dbgprint.c");
    println!("cargo::rerun-if-changed=src/stack.c");
    cc::Build::new()
        .file("src/dbgprint.c")
        .file("src/stack.c")
        .warnings(true)
        .compile("ndis_host_dbgprint");
}
