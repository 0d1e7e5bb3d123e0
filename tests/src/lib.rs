//! Helpers shared by the integration tests: finding the binaries, making bundles from
//! the vendored busybox rootfs, running `podrt-runc` with a private `--root`, and a
//! guard that deletes every container a test made and its temporary files, also when
//! the test fails.

pub mod clients;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// Fail loudly unless we are root: these tests create namespaces, mounts and cgroups.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "integration tests must run as root (they create real containers); run ./scripts/test.sh as root"
    );
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A binary built in the same profile as this test (`target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join(name))
        .expect("test binary lives in target/<profile>/deps");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --release --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The vendored rootfs built by `vendor-images/build.sh`.
pub fn vendored_rootfs() -> PathBuf {
    let p = repo().join("vendor-images/build/rootfs");
    assert!(
        p.join("bin/busybox").exists(),
        "{} is missing: run vendor-images/build.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

/// The vendored bundle's config.json as JSON.
pub fn base_config() -> Value {
    let p = repo().join("vendor-images/build/bundle/config.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}; run vendor-images/build.sh", p.display()));
    serde_json::from_str(&text).expect("vendored config.json is valid JSON")
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this process and call.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A private state root plus the containers made in it; cleans up on drop.
pub struct Env {
    /// Temporary directory holding the state root and bundles.
    pub dir: PathBuf,
    /// `--root` for podrt-runc.
    pub root: PathBuf,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Env {
    /// A fresh environment under /tmp.
    pub fn new() -> Env {
        require_root();
        let dir = std::env::temp_dir().join(unique("podrt-test"));
        std::fs::create_dir_all(&dir).expect("create test dir");
        let root = dir.join("state");
        Env {
            dir,
            root,
            ids: Default::default(),
        }
    }

    /// A new container id, remembered for cleanup.
    pub fn id(&self, prefix: &str) -> String {
        let id = unique(prefix);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// Write a bundle whose rootfs is the vendored one, with `edit` applied to the
    /// config. Its cgroup is `/podrt-test/<name>` unless `edit` changes it.
    pub fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.dir.join(format!("bundle-{name}"));
        std::fs::create_dir_all(&dir).expect("create bundle dir");
        let mut cfg = base_config();
        cfg["root"] = serde_json::json!({"path": vendored_rootfs(), "readonly": true});
        cfg["linux"]["cgroupsPath"] = Value::String(format!("/podrt-test/{name}"));
        edit(&mut cfg);
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&cfg).unwrap(),
        )
        .expect("write config.json");
        dir
    }

    /// A `podrt-runc --root <root>` command.
    pub fn runc(&self) -> Command {
        let mut c = Command::new(binary("podrt-runc"));
        c.arg("--root").arg(&self.root);
        c
    }

    /// Run podrt-runc with `args`, capturing output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.runc()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn podrt-runc")
    }

    /// `run` in the foreground: returns (exit code, stdout, stderr).
    pub fn run_container(&self, id: &str, bundle: &Path) -> (i32, String, String) {
        let out = self.run(&["run", "--bundle", bundle.to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `create` then `start` a container whose stdout/stderr go to a file in the test
    /// directory (a pipe would keep our reads open until the container exits).
    pub fn create_detached(&self, id: &str, bundle: &Path, start: bool) -> PathBuf {
        let log = self.dir.join(format!("{id}.out"));
        let f = std::fs::File::create(&log).expect("log file");
        let status = self
            .runc()
            .args(["create", "--bundle", bundle.to_str().unwrap(), id])
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .status()
            .expect("spawn create");
        assert!(
            status.success(),
            "create {id} failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        if start {
            let out = self.run(&["start", id]);
            assert!(
                out.status.success(),
                "start {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        log
    }

    /// The OCI state of a container as JSON.
    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]);
        assert!(
            out.status.success(),
            "state {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("state is JSON")
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self
                .runc()
                .args(["delete", "--force", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Is this host on pure cgroup v2?
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A cgroup file of a container on the host: `controller` is the v1 hierarchy; on v2
/// the single hierarchy is used and `file_v2` is read instead.
pub fn cgroup_file(cgroup_path: &str, controller: &str, file_v1: &str, file_v2: &str) -> PathBuf {
    let rel = cgroup_path.trim_start_matches('/');
    if cgroup_v2() {
        Path::new("/sys/fs/cgroup").join(rel).join(file_v2)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel)
            .join(file_v1)
    }
}

/// Does any mounted cgroup hierarchy still hold `cgroup_path`?
pub fn cgroup_exists(cgroup_path: &str) -> bool {
    let rel = cgroup_path.trim_start_matches('/');
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|rd| rd.flatten().any(|e| e.path().join(rel).is_dir()))
        .unwrap_or(false)
        || (cgroup_v2() && Path::new("/sys/fs/cgroup").join(rel).is_dir())
}

/// Set `process.args`.
pub fn args(cfg: &mut Value, a: &[&str]) {
    cfg["process"]["args"] = serde_json::json!(a);
}

/// Poll `f` until it returns true or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    f()
}

// ---- Helpers for tests that drive podrt-runc through real clients (podman, ctr) ----

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
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
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
        if cmdline.windows(needle.len()).any(|w| w == needle) {
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
