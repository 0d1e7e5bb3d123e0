//! OCI lifecycle hooks: programs run at fixed points with the container's state JSON on
//! stdin. `prestart`, `createRuntime`, `poststart` and `poststop` run in the runtime's
//! namespaces; `createContainer` and `startContainer` run inside the container's
//! namespaces, which we enter with `setns` in the hook's child before it execs.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Error, Result};
use crate::state::OciState;

/// Which list of hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookKind {
    /// Deprecated `prestart` (runs with createRuntime).
    Prestart,
    /// After the environment is created, before pivot_root, runtime namespaces.
    CreateRuntime,
    /// Same point, container namespaces.
    CreateContainer,
    /// After `start`, before the user process, container namespaces.
    StartContainer,
    /// After the user process started, runtime namespaces.
    Poststart,
    /// After the container is deleted, runtime namespaces.
    Poststop,
}

impl HookKind {
    /// The spec's name of the list.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    fn in_container(self) -> bool {
        matches!(self, HookKind::CreateContainer | HookKind::StartContainer)
    }
}

/// The hooks of one kind from the spec.
pub(crate) fn list(hooks: Option<&Hooks>, kind: HookKind) -> Vec<Hook> {
    let Some(h) = hooks else { return Vec::new() };
    #[allow(deprecated)]
    let v = match kind {
        HookKind::Prestart => h.prestart(),
        HookKind::CreateRuntime => h.create_runtime(),
        HookKind::CreateContainer => h.create_container(),
        HookKind::StartContainer => h.start_container(),
        HookKind::Poststart => h.poststart(),
        HookKind::Poststop => h.poststop(),
    };
    v.clone().unwrap_or_default()
}

fn open_namespaces(pid: i32) -> Vec<(OwnedFd, libc::c_int)> {
    // The hook runs as the host's root, which may join every namespace from the
    // host's user namespace; the user namespace comes last, since from inside it a
    // mount namespace it does not own could not be joined. /proc is opened first.
    [
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("mnt", libc::CLONE_NEWNS),
        ("user", libc::CLONE_NEWUSER),
    ]
    .iter()
    .filter_map(|(name, flag)| {
        let path = format!("/proc/{pid}/ns/{name}");
        let own = std::fs::metadata(format!("/proc/self/ns/{name}")).ok()?;
        let theirs = std::fs::metadata(&path).ok()?;
        use std::os::unix::fs::MetadataExt;
        if own.ino() == theirs.ino() {
            return None; // same namespace: nothing to join (and joining own userns fails)
        }
        std::fs::File::open(&path)
            .ok()
            .map(|f| (OwnedFd::from(f), *flag))
    })
    .collect()
}

/// Run every hook of `kind` in order; the first failure stops the list.
pub(crate) fn run(
    kind: HookKind,
    hooks: &[Hook],
    state: &OciState,
    container_pid: i32,
) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let input = serde_json::to_vec(state).map_err(|e| Error::Hook {
        kind: kind.name(),
        path: Default::default(),
        message: e.to_string(),
    })?;
    for hook in hooks {
        let namespaces = if kind.in_container() {
            open_namespaces(container_pid)
        } else {
            Vec::new()
        };
        run_one(kind, hook, &input, namespaces)?;
    }
    Ok(())
}

fn run_one(
    kind: HookKind,
    hook: &Hook,
    input: &[u8],
    namespaces: Vec<(OwnedFd, libc::c_int)>,
) -> Result<()> {
    let err = |message: String| Error::Hook {
        kind: kind.name(),
        path: hook.path().clone(),
        message,
    };
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    if !namespaces.is_empty() {
        let raw: Vec<(i32, libc::c_int)> = namespaces
            .iter()
            .map(|(fd, t)| (fd.as_raw_fd(), *t))
            .collect();
        // SAFETY: the closure only calls setns, which is async-signal-safe, on descriptors
        // that stay open in the parent until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                for &(fd, t) in &raw {
                    if libc::setns(fd, t) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| err(format!("cannot start: {e}")))?;
    drop(namespaces);
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(input);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut stderr);
                }
                return Err(err(format!("{status}: {}", stderr.trim())));
            }
            Ok(None) => {}
            Err(e) => return Err(err(format!("waiting: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
