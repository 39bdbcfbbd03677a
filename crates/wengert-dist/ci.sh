#!/usr/bin/env bash
# CI for wengert-dist, the MPI crate outside the root workspace: installs Open MPI and
# libclang (for the MPI bindings) from Debian's packages, then checks formatting, clippy,
# the docs, and runs the tests (mpirun -np 2 over loopback TCP).
set -euo pipefail
cd "$(dirname "$0")"

# .ci/run installs the packages beforehand; run alone, this installs them if missing.
packages="openmpi-bin libopenmpi-dev libclang-dev"
if ! dpkg -s $packages > /dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
fi
# Open MPI refuses to start as root without these (CI runs as root); the tests set them too.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked
cargo test --locked
