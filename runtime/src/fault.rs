//! Test-only fault switches. `PODRT_TEST_FAULT=<name>` breaks one named code
//! path on purpose, so a test can prove that its checks notice when that path
//! is wrong (a VM test that passes whatever the code does proves nothing).
//! Nothing but tests sets it, and every time a switch is taken podrt says so
//! on stderr, so it can never go unnoticed.
//!
//! The switches exist only in a build with the cargo feature `fault-injection`
//! (scripts/test.sh's): without it [`active`] is a constant `false`, so no switch
//! and no read of the variable is in the binary.

/// The environment variable.
pub const VAR: &str = "PODRT_TEST_FAULT";

/// Skip writing memory, cpu and pids limits on cgroup v2.
pub(crate) const CGROUP_V2_LIMITS: &str = "cgroup-v2-limits";

/// Bind mounts without `open_tree`/`move_mount`/`mount_setattr`, as on kernels
/// before 5.12, so that path is tested on this one.
pub(crate) const LEGACY_BINDS: &str = "legacy-binds";

/// Resolve paths inside a root component by component, as on kernels without
/// `openat2` (before 5.6), so that path is tested on this one.
pub const NO_OPENAT2: &str = "no-openat2";

/// Whether the switch `name` is on (and, if so, a warning on stderr).
#[cfg(feature = "fault-injection")]
pub fn active(name: &str) -> bool {
    let on = std::env::var_os(VAR).is_some_and(|v| v == name);
    if on {
        eprintln!("podrt: {VAR}={name}: this code path is broken on purpose (a test-only switch)");
    }
    on
}

/// Whether the switch `name` is on: never, in a build without the feature
/// `fault-injection`.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub const fn active(_name: &str) -> bool {
    false
}

/// `exec`'s process sleeps [`EXEC_PAUSE_FOR`] just before it execs the command: the
/// moment between fork and exec when it is still podrt, made long enough for a test
/// to look at it from inside the container.
pub const EXEC_PAUSE: &str = "exec-pause";

/// How long [`EXEC_PAUSE`] holds `exec`'s process.
pub(crate) const EXEC_PAUSE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// `create` holds the container's state directory (a directory of the host) open
/// while it clones init, as a careless change to the runtime could: a test proves
/// that init still never reaches it through `/proc/self/fd/N`.
pub const LEAK_DIRECTORY: &str = "leak-directory";
