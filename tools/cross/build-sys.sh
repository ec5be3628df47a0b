#!/usr/bin/env bash
# Build rvnic.sys, the real Windows kernel image, on Linux.
#
# Debian's rustc-web (1.96) and its library source (rust-web-src) compile core and alloc for
# x86_64-pc-windows-msvc with -Zbuild-std; lld-link (lld-19) links a NATIVE-subsystem driver image.
# Imports are raw-dylib, so no Windows import libraries are needed. The mingw-w64 packages provide
# the export lists (libntoskrnl.a, libndis.a, libhal.a) that `rvnic check-sys` judges imports by.
#
# Usage: tools/cross/build-sys.sh [--install-only]
#   Idempotent: installs what is missing (as root), then builds; prints the image's path on its last
#   line. --install-only stops after the installation (CI uses it before the tests that read the
#   mingw-w64 import libraries).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
target=x86_64-pc-windows-msvc
profile=kernel
rustc_web=/usr/bin/rustc
lld_link=/usr/bin/lld-link-19
packages=(rustc-web rust-web-src lld-19 mingw-w64-x86-64-dev binutils-mingw-w64-x86-64)

die() { echo "build-sys: error: $*" >&2; exit 1; }

install_only=false
case "${1:-}" in
    "") ;;
    --install-only) install_only=true ;;
    *) die "unknown argument '$1' (usage: build-sys.sh [--install-only])" ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    echo "build-sys: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed (rustc-web 1.96 comes from bookworm-security)"
fi

$install_only && { echo "build-sys: toolchain installed" >&2; exit 0; }

[ -x "$rustc_web" ] || die "$rustc_web not found after installing rustc-web"
[ -x "$lld_link" ] || die "$lld_link not found after installing lld-19"
sysroot=$("$rustc_web" --print sysroot)
[ -d "$sysroot/lib/rustlib/src/rust/library/core" ] \
    || die "rust-web-src did not provide $sysroot/lib/rustlib/src/rust/library (needed by -Zbuild-std)"

# The image's link arguments (/DRIVER, /SUBSYSTEM:NATIVE, /ENTRY:DriverEntry, ...) come from
# miniport/build.rs, the one list a Windows build with the WDK uses too. Here: the linker only.
flags=(-C "linker=$lld_link" -C linker-flavor=lld-link -C target-feature=+crt-static)
# CARGO_ENCODED_RUSTFLAGS: flags separated by the ASCII unit separator, so none is split or merged.
encoded=$(IFS=$'\x1f'; echo "${flags[*]}")

cd "$root"
echo "build-sys: $("$rustc_web" --version), $("$lld_link" --version | head -n1)" >&2
RUSTC="$rustc_web" RUSTC_BOOTSTRAP=1 CARGO_ENCODED_RUSTFLAGS="$encoded" RUSTFLAGS="" \
    cargo build -p rvnic --bin rvnic-sys --features kernel --profile "$profile" --target "$target" \
    -Zbuild-std=core,alloc -Zbuild-std-features=compiler-builtins-mem \
    || die "cargo build of the kernel image failed"

out="$root/target/$target/$profile"
[ -f "$out/rvnic-sys.exe" ] || die "linker produced no $out/rvnic-sys.exe"
cp -f "$out/rvnic-sys.exe" "$out/rvnic.sys"
echo "build-sys: built $out/rvnic.sys ($(stat -c %s "$out/rvnic.sys") bytes)" >&2
echo "$out/rvnic.sys"
