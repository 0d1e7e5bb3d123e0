#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root) to build and test podrt:
# install missing apt packages, check for cargo, build the vendored images,
# build the release binaries. Safe to re-run: apt is skipped when nothing is missing.
# Env: PODRT_SKIP_APT=1 skips the apt step entirely.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Package names from the shared list (comments and blank lines stripped).
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' scripts/apt-packages.txt | tr -d ' \t')

if [ "${PODRT_SKIP_APT:-0}" = 1 ]; then
    echo "setup: PODRT_SKIP_APT=1, skipping apt"
else
    # dpkg-query, not apt, so a fully provisioned machine needs no network.
    missing=()
    for p in "${pkgs[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "error: missing packages (${missing[*]}); run scripts/setup.sh as root" >&2
            exit 1
        fi
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "setup: all apt packages already installed"
    fi
fi

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
