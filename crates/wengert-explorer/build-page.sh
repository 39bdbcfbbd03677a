#!/usr/bin/env bash
# Builds the explorer's page into static files: index.html, explorer.js, style.css and
# explorer.wasm (the engine, compiled to WebAssembly), in target/explorer/ at the repository
# root or in the folder given as the first argument. No server is needed to publish them.
#
#   crates/wengert-explorer/build-page.sh [OUT_DIR]
#
# Needs the wasm32-unknown-unknown target (`rustup target add wasm32-unknown-unknown`).
set -euo pipefail
crate_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$crate_dir/../.." && pwd)"
out="${1:-$root/target/explorer}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

# Small rather than fast, one unit, without symbols: the page downloads the file (about
# 0.75 MB instead of 2.5 MB), and its graphs are tiny.
CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=true \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --manifest-path "$root/Cargo.toml" -p wengert-explorer --lib --release \
  --target wasm32-unknown-unknown -j "${BUILD_JOBS:-2}"

mkdir -p "$out"
cp "$crate_dir/web/index.html" "$crate_dir/web/explorer.js" "$crate_dir/web/style.css" "$out/"
cp "$target_dir/wasm32-unknown-unknown/release/wengert_explorer.wasm" "$out/explorer.wasm"
echo "built the explorer's page in $out ($(wc -c < "$out/explorer.wasm") bytes of WebAssembly)"
