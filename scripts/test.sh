#!/usr/bin/env bash
# The project's test command: set the machine up (scripts/setup.sh and the
# test-only packages of scripts/apt-packages-test.txt), then run every workspace
# test as root. Extra arguments go to the test harness, e.g.
#   scripts/test.sh some_test_name --nocapture
set -euo pipefail

# The integration tests create namespaces, mounts and cgroups.
if [ "$(id -u)" -ne 0 ]; then
    echo "error: scripts/test.sh must run as root (tests start real containers); try: sudo $0 $*" >&2
    exit 1
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scripts/check-layers.sh  # sandbox/'s modules import only downward; cheap, so first
scripts/setup.sh
# What only the tests need (reference runtimes, qemu for the VM test, ...).
scripts/apt-install.sh scripts/apt-packages-test.txt

# Same fallback as setup.sh: rustup's cargo may not be on root's PATH.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
# The "fast" profile (see Cargo.toml): release optimisations without fat LTO, so
# each test binary links in seconds. Tests run the binaries of their own profile.
# The feature fault-injection compiles in the test-only fault switches
# (PODRT_TEST_FAULT, runtime/src/fault.rs) that some tests use; release builds
# (scripts/setup.sh) leave them out. Every cargo command here passes the same
# features, or the next would rebuild the binaries without them.
features=(--features fault-injection)
cargo build --profile fast --workspace --bins "${features[@]}"
# Two test threads: tests are container-heavy and contend for cgroups and mounts.
cargo test --profile fast --workspace "${features[@]}" -- --test-threads=2 "$@"
# The libraries' unit tests that need root (cgroups, BPF, mounts) are #[ignore]d
# so that `cargo test` works unprivileged; here is root, so run them too.
cargo test --profile fast -p podrt-runtime -p podrt-sandbox --lib "${features[@]}" \
    -- --ignored --test-threads=2 "$@"
