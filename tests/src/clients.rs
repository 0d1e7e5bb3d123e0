//! Shared parts of the tests in which real clients nobody here wrote drive podrt-runc
//! (`tests/podman.rs`, `tests/containerd.rs`). Each test gives its client a private
//! everything under one temporary directory (storage, state, sockets, runtime root) and
//! a private cgroup parent, and its guard removes all of it, also when the test fails.
//! Containers get no network (`--network none`, or ctr's default empty netns): these
//! tests touch no host network configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::process::Stdio;
use std::sync::atomic::Ordering;

use crate::{repo, unique, wait_until, COUNTER};

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

/// The path of `tool` on `PATH`; fails loudly when it is missing, because a client
/// test that skipped its client would prove nothing.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .unwrap_or_else(|| {
            panic!("`{tool}` is not installed (apt-get install {package}): this test needs it to drive podrt-runc")
        })
}

/// What a command did. Output goes through files, not pipes, so a daemon the command
/// leaves behind (conmon, a containerd shim) cannot keep our reads open.
#[derive(Debug)]
pub struct Ran {
    /// The command line, for messages.
    pub what: String,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub took: std::time::Duration,
    /// The command could be started.
    pub spawned: bool,
    /// It ran past its time and was killed.
    pub timed_out: bool,
}

impl Ran {
    /// Assert the command succeeded; returns self for chaining.
    #[track_caller]
    pub fn ok(&self) -> &Ran {
        assert_eq!(self.code, Some(0), "`{}` failed:\n{self}", self.what);
        self
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// Run `cmd` with stdin from /dev/null; kill it (by its PID) and fail if it takes
/// longer than `secs`. `scratch` holds the output files.
#[track_caller]
pub fn run_within(cmd: &mut Command, secs: u64, scratch: &Path) -> Ran {
    let ran = run_within_unchecked(cmd, secs, scratch);
    assert!(
        !ran.timed_out,
        "`{}` did not finish within {secs} s; killed it.\n{ran}",
        ran.what
    );
    assert!(ran.spawned, "could not run `{}`: {}", ran.what, ran.stderr);
    ran
}

/// [`run_within`] that never panics (for cleanup guards): a command that cannot be
/// spawned or times out comes back with `code: None`.
pub fn run_within_unchecked(cmd: &mut Command, secs: u64, scratch: &Path) -> Ran {
    let what = format!("{cmd:?}");
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_path = scratch.join(format!("cmd-{n}.out"));
    let err_path = scratch.join(format!("cmd-{n}.err"));
    let start = std::time::Instant::now();
    let failed = |msg: String| Ran {
        what: what.clone(),
        code: None,
        stdout: String::new(),
        stderr: msg,
        took: start.elapsed(),
        spawned: false,
        timed_out: false,
    };
    let (out, err) = match (
        std::fs::File::create(&out_path),
        std::fs::File::create(&err_path),
    ) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return failed(format!(
                "creating output files in {}: {e}",
                scratch.display()
            ))
        }
    };
    let mut child = match cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn() {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let mut status = None;
    let finished = wait_until(secs, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
    }
    let ran = Ran {
        what,
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        took: start.elapsed(),
        spawned: true,
        timed_out: !finished,
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    ran
}

/// Quote `args` for `sh -c` (used to run a client under `script`, which wants one
/// command string).
pub fn shell_line<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| {
            let a = a.as_ref().to_string_lossy();
            format!("'{}'", a.replace('\'', r"'\''"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unmount everything mounted at or below `dir` in our mount namespace, deepest first.
pub fn unmount_under(dir: &Path) {
    let Ok(info) = podrt_sandbox::runtime::mountinfo::read_own() else {
        return;
    };
    let mut points: Vec<PathBuf> = podrt_sandbox::runtime::mountinfo::parse(&info)
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// SIGKILL, by PID, every process whose command line mentions `dir`: the daemons a
/// client started for this test only (conmon, containerd shims), when the client's own
/// cleanup failed. Never this process.
/// (`dir` is never empty: it is a test's own temporary directory.)
pub fn kill_processes_mentioning(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        // The dir itself, not a longer name it prefixes (`…-2` must not match
        // another test's `…-25`): followed by '/', the end of an argument, or '='.
        let mentions = (0..cmdline.len().saturating_sub(needle.len() - 1)).any(|i| {
            cmdline[i..].starts_with(needle)
                && matches!(cmdline.get(i + needle.len()), None | Some(b'/' | 0 | b'"'))
        });
        if mentions {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Remove the cgroup `rel` (e.g. `/podrt-clients-1-2`) and every cgroup below it, in
/// every mounted hierarchy. Cgroups still holding processes stay (rmdir refuses).
pub fn remove_cgroup_tree(rel: &str) {
    fn rmdir_tree(dir: &Path) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    rmdir_tree(&e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        return;
    }
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for root in roots {
        let dir = root.join(rel);
        if dir.is_dir() {
            rmdir_tree(&dir);
        }
    }
}
