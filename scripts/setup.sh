#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root) to build and run podrt: install the
# missing packages of scripts/apt-packages.txt (what the tests need on top is
# scripts/test.sh's business), check for cargo, build the vendored images, build
# the release binaries. Safe to re-run: apt is skipped when nothing is missing.
# Env: PODRT_SKIP_APT=1 skips the apt step entirely.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/apt-install.sh scripts/apt-packages.txt

# rustup installs into ~/.cargo/bin, which non-login root shells often lack on PATH.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    cat >&2 <<'MSG'
error: cargo not found. Install the Rust toolchain with rustup, then re-run:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . "$HOME/.cargo/env"
MSG
    exit 1
fi

vendor-images/build.sh
cargo build --release --workspace --bins
