//! Shared parts of the tests in which real clients nobody here wrote drive podrt-runc
//! (`tests/podman.rs`, `tests/containerd.rs`). Each test gives its client a private
//! everything under one temporary directory (storage, state, sockets, runtime root) and
//! a private cgroup parent, and its guard removes all of it, also when the test fails.
//! Containers get no network (`--network none`, or ctr's default empty netns): these
//! tests touch no host network configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{repo, require_tool, run_within, shell_line, unique, Ran};

/// Seconds any single client command may take before the test fails.
pub const CMD_SECS: u64 = 60;

/// The vendored OCI image archive built by `vendor-images/build.sh`.
pub fn image_archive() -> PathBuf {
    let p = repo().join("vendor-images/build/busybox-oci.tar");
    assert!(
        p.exists(),
        "{} is missing: run vendor-images/build.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

/// A fresh directory under /tmp for one test's client.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// Run `args` under `script`, which gives them a terminal (podman -t and ctr -t want
/// one on our side); `script -e` returns the command's exit code.
pub fn on_a_terminal(args: &[std::ffi::OsString], env: &[(&str, &Path)], scratch: &Path) -> Ran {
    let script = require_tool("script", "util-linux");
    let mut cmd = Command::new(script);
    cmd.args(["-q", "-e", "-c"])
        .arg(shell_line(args))
        .arg("/dev/null");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_within(&mut cmd, CMD_SECS, scratch)
}
