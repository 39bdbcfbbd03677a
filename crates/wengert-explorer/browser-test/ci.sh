#!/usr/bin/env bash
# The explorer's browser test, as CI runs it: installs Debian's chromium and the WebAssembly
# target, builds the page, starts the local server twice (with explorer.wasm, and without it
# so that the page falls back to /api), runs the test against both, and stops the servers.
#
#   bash crates/wengert-explorer/browser-test/ci.sh
#
# If the wasm32-unknown-unknown target cannot be installed, it says so and tests the
# fallback only. The screenshot goes to target/explorer-test/explorer.png.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
jobs="${BUILD_JOBS:-2}"
wasm_port="${EXPLORER_WASM_PORT:-18731}"
server_port="${EXPLORER_SERVER_PORT:-18732}"

if [ ! -x /usr/bin/chromium ]; then
  echo "explorer browser test: installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null
fi

wasm=1
if ! rustup target add wasm32-unknown-unknown; then
  echo "explorer browser test: the wasm32-unknown-unknown target could not be installed;" \
    "testing the page against the native fallback (/api) only"
  wasm=0
fi

page="$root/target/explorer"
if [ "$wasm" = 1 ]; then
  BUILD_JOBS="$jobs" "$root/crates/wengert-explorer/build-page.sh" "$page"
else
  # The page without explorer.wasm: the server answers /api.
  mkdir -p "$page"
  rm -f "$page/explorer.wasm"
  cp "$root/crates/wengert-explorer/web/"{index.html,explorer.js,style.css} "$page/"
fi
# The test profile: `cargo test --workspace` built it already (examples are built by cargo test).
cargo build --manifest-path "$root/Cargo.toml" -p wengert-explorer --example serve --profile test -j "$jobs"
serve="$target_dir/debug/examples/serve"

(cd "$here" && npm ci --no-audit --no-fund)

pids=()
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_servers EXIT

# Starts the server on port $1 with the extra flags after it, and waits until it listens.
start_server() {
  local port="$1"
  shift
  "$serve" --port "$port" --dir "$page" "$@" &
  pids+=("$!")
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "explorer browser test: the server on port $port did not start" >&2
  return 1
}

mkdir -p "$root/target/explorer-test"
status=0
if [ "$wasm" = 1 ]; then
  start_server "$wasm_port"
  (cd "$here" && EXPLORER_URL="http://127.0.0.1:$wasm_port/" EXPECT_ENGINE=wasm \
    SCREENSHOT="$root/target/explorer-test/explorer.png" node --test explorer.test.mjs) || status=1
fi
start_server "$server_port" --no-wasm
(cd "$here" && EXPLORER_URL="http://127.0.0.1:$server_port/" EXPECT_ENGINE=server \
  node --test explorer.test.mjs) || status=1
exit "$status"
