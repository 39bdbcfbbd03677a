#!/usr/bin/env bash
# CI for wengert-dist, the MPI crate outside the root workspace: installs Open MPI and
# libclang (for the MPI bindings) from Debian's packages, then checks formatting, clippy,
# the docs, and runs the tests (mpirun -np 2 over loopback TCP).
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev libclang-dev
else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev libclang-dev
fi
# Open MPI refuses to start as root without these (CI runs as root); the tests set them too.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked
cargo test --locked
