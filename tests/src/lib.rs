//! Helpers shared by the integration tests: finding the binaries, making bundles from
//! the vendored busybox rootfs, running `podrt-runc` with a private `--root`, and a
//! guard that deletes every container a test made and its temporary files, also when
//! the test fails.

pub mod clients;
pub mod cri;
pub mod fuzzing;
pub mod pods;
pub mod registry;
pub mod scenarios;
pub mod test_host;
pub mod workloads;

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

/// A binary built in the same profile as this test (`target/<profile>/<name>`),
/// with the feature `fault-injection` for the tests that use its switches.
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
        "{} is missing: build it first with `cargo build --profile <the test profile> --workspace --bins --features fault-injection` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Fail unless `podrt` and `podrt-runc` were built with the feature
/// `fault-injection`: without it a test-only fault switch (`PODRT_TEST_FAULT`) is
/// silently off, and a test that sets one would pass without testing its path.
pub fn require_fault_injection() {
    let var = podrt_sandbox::runtime::fault::VAR.as_bytes();
    for name in ["podrt", "podrt-runc"] {
        let path = binary(name);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            bytes.windows(var.len()).any(|w| w == var),
            "{} was built without its test-only fault switches: build it with `cargo build --profile <the test profile> --workspace --bins --features fault-injection` (scripts/test.sh does)",
            path.display()
        );
    }
}

/// Build `src` (relative to the repository) statically with gcc into `dir/name`,
/// so it runs in any image; `dir` is made if missing. Returns `dir`.
pub fn build_static(src: &str, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create the fixture's dir");
    let out = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join(name))
        .arg(repo().join(src))
        .output()
        .expect("run gcc (apt-get install gcc libc6-dev; scripts/setup.sh does)");
    assert!(
        out.status.success(),
        "building {src} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.to_path_buf()
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

pub(crate) static COUNTER: AtomicUsize = AtomicUsize::new(0);

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
