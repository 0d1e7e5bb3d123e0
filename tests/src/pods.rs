//! Helpers for pod tests: a private podrt root with the vendored busybox imported,
//! `podrt` run against it inside a network namespace of the test's own standing for
//! the host ([`TestHost`]), podrt's built-in network (the host's CNI configs are
//! never read), manifests written from YAML text, and a guard that force-deletes
//! every pod and removes its files and cgroups, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::test_host::TestHost;
use crate::{binary, repo, require_root, unique};

/// A private podrt root for one test.
pub struct PodEnv {
    /// Temporary directory (root, manifests).
    pub dir: PathBuf,
    /// `--root`.
    pub root: PathBuf,
    /// `--cgroup-parent`, private to this test.
    pub cgroup_parent: String,
    /// Extra global flags (e.g. `--cluster-dns`).
    pub flags: Vec<String>,
    /// `--cni-conf-dir`: empty unless a test writes a config there.
    pub cni_conf_dir: PathBuf,
    /// The network namespace every podrt command runs in.
    pub host: TestHost,
    /// `PODRT_CONFIG`: empty unless a test writes settings there, so the
    /// machine's /etc/podrt/config.yaml never changes what a test sees.
    pub config: PathBuf,
    /// Extra environment for every podrt command (e.g. a test-only fault switch).
    pub vars: Vec<(String, String)>,
    /// The podrt binary every command runs (and so every supervisor and helper): the
    /// built one unless a test points it at a copy of its own.
    pub podrt: PathBuf,
}

/// What every test's config holds: the vendored image is imported as
/// `busybox` (`:latest`), which Kubernetes' default policy would pull each time.
const BASE_CONFIG: &str = "# podrt test config\ndefaultImagePullPolicy: IfNotPresent\n";

impl PodEnv {
    /// A fresh root with busybox imported as `busybox:latest`.
    pub fn new() -> PodEnv {
        let env = PodEnv::empty();
        let layout = busybox_layout();
        let out = env.podrt(&[
            "image",
            "import",
            layout.to_str().unwrap(),
            "--name",
            "busybox",
        ]);
        assert!(
            out.status.success(),
            "image import failed: {}",
            text(&out.stderr)
        );
        env
    }

    /// A fresh root with no image.
    pub fn empty() -> PodEnv {
        require_root();
        let dir = std::env::temp_dir().join(unique("podrt-pods"));
        std::fs::create_dir_all(&dir).expect("create test dir");
        let root = dir.join("root");
        let cgroup_parent = format!("/{}", unique("podrt-test-pods"));
        let host = TestHost::new(&dir.join("host-netns"));
        let config = dir.join("config.yaml");
        std::fs::write(&config, BASE_CONFIG).expect("write test config");
        PodEnv {
            config,
            podrt: binary("podrt"),
            cni_conf_dir: dir.join("net.d"),
            dir,
            root,
            cgroup_parent,
            flags: Vec::new(),
            vars: Vec::new(),
            host,
        }
    }

    /// Replace the test's config file with `text` after the base every test
    /// config has (no pull for `:latest` images the store has: tests are offline).
    pub fn set_config(&self, text: impl AsRef<str>) -> std::io::Result<()> {
        std::fs::write(&self.config, format!("{BASE_CONFIG}{}", text.as_ref()))
    }

    /// `podrt --root … --cgroup-parent …` ready for arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.podrt);
        c.arg("--root")
            .arg(&self.root)
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--cni-conf-dir")
            .arg(&self.cni_conf_dir)
            .args(&self.flags)
            .env("PODRT_CONFIG", &self.config)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        self.host.enter(&mut c);
        c
    }

    /// Run podrt with `args` and collect its output.
    pub fn podrt(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run podrt")
    }

    /// Run podrt and require success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.podrt(args);
        assert!(
            out.status.success(),
            "podrt {args:?} failed ({:?}): {}{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Write `yaml` to a file in the test directory.
    pub fn manifest(&self, name: &str, yaml: &str) -> PathBuf {
        let p = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&p, yaml).expect("write manifest");
        p
    }

    /// `podrt apply -f` the YAML, requiring success.
    pub fn apply(&self, yaml: &str) -> String {
        let p = self.manifest(&unique("m"), yaml);
        self.ok(&["apply", "-f", p.to_str().unwrap()])
    }

    /// `podrt exec POD -c C -- args…`: (exit code, stdout, stderr).
    pub fn exec(&self, pod: &str, container: &str, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["exec", pod, "-c", container, "--"];
        all.extend_from_slice(args);
        let out = self.podrt(&all);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// `exec` that must succeed; its trimmed stdout.
    pub fn sh(&self, pod: &str, container: &str, script: &str) -> String {
        let (code, out, err) = self.exec(pod, container, &["sh", "-c", script]);
        assert_eq!(code, 0, "exec {pod}/{container} {script:?}: {out}{err}");
        out.trim().to_string()
    }

    /// The pod object as `get -o json` prints it.
    pub fn pod_json(&self, pod: &str) -> Value {
        let out = self.ok(&["get", "pod", pod, "-o", "json"]);
        serde_json::from_str(&out).expect("get -o json is JSON")
    }

    /// The pod's state directory, found by reading the records, not through a
    /// podrt command (which would look after the pod first: a test that has just
    /// broken something must see it as it was left).
    pub fn pod_dir(&self, pod: &str) -> PathBuf {
        self.pod_dirs()
            .into_iter()
            .find(|d| {
                std::fs::read_to_string(d.join("pod.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .is_some_and(|r| r["name"] == pod)
            })
            .unwrap_or_else(|| panic!("no record of pod {pod} under {}", self.root.display()))
    }

    /// Host PID of container `name`'s process, from the runtime's state (not
    /// through a podrt command, as [`PodEnv::pod_dir`]).
    pub fn container_pid(&self, pod: &str, name: &str) -> i32 {
        let dir = self.pod_dir(pod);
        let record = self.record(pod);
        let id = record["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no container {name} in the record of {pod}"))
            .to_string();
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("runtime").join(id).join("state.json"))
                .expect("read the runtime state"),
        )
        .expect("state.json is JSON");
        state["pid"].as_i64().expect("pid") as i32
    }

    /// Container `name`'s cgroup path (relative to the hierarchy roots).
    pub fn container_cgroup(&self, pod: &str, name: &str) -> String {
        let v = self.pod_json(pod);
        let uid = v["metadata"]["uid"].as_str().expect("uid");
        let statuses = v["status"]["containerStatuses"]
            .as_array()
            .expect("statuses");
        let id = statuses
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["containerID"].as_str())
            .expect("containerID")
            .trim_start_matches("podrt://")
            .to_string();
        format!("{}/pod{uid}/{id}", self.cgroup_parent)
    }

    /// Mounts podrt made under this test's directory still in the mount table (the
    /// test host's netns pin is the test's own, not counted).
    pub fn mounts_under_root(&self) -> Vec<String> {
        let info = podrt_sandbox::runtime::mountinfo::read_own().unwrap_or_default();
        // By components, and strictly below: podrt-pods-1-1 must not match
        // podrt-pods-1-15's mounts.
        podrt_sandbox::runtime::mountinfo::parse(&info)
            .map(|m| m.mount_point)
            .filter(|m| m.starts_with(&self.dir) && *m != self.dir && *m != self.host.pin)
            .map(|m| m.display().to_string())
            .collect()
    }

    /// `podrt apply -f` the YAML with `extra` arguments and require a refusal:
    /// exit status 1, each of `expect` in stderr, no panic, and nothing of the
    /// pod left. Its stderr.
    pub fn apply_refused(&self, yaml: &str, extra: &[&str], expect: &[&str]) -> String {
        let file = self.manifest(&unique("bad"), yaml);
        let mut args = vec!["apply", "-f", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = self.podrt(&args);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "accepted ({extra:?}):\n{yaml}\nstderr: {err}"
        );
        for e in expect {
            assert!(err.contains(e), "expected {e:?} in: {err}");
        }
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
        self.assert_nothing_left();
        err
    }

    /// The pod's record (`pod.json`) as JSON.
    pub fn record(&self, pod: &str) -> Value {
        let path = self.pod_dir(pod).join("pod.json");
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read pod.json"))
            .expect("pod.json is JSON")
    }

    /// Change the pod's record on disk, as a crash at some step would have left it.
    pub fn edit_record(&self, pod: &str, edit: impl FnOnce(&mut Value)) {
        let path = self.pod_dir(pod).join("pod.json");
        let mut record = self.record(pod);
        edit(&mut record);
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&record).expect("serialize"),
        )
        .expect("write pod.json");
    }

    /// SIGKILL the pod's supervisor (which this test's podrt started) and wait
    /// until it is gone; its PID.
    pub fn kill_supervisor(&self, pod: &str) -> i32 {
        let pid = self.record(pod)["supervisor"]["pid"]
            .as_i64()
            .expect("the record names a supervisor") as i32;
        // SAFETY: kill of the supervisor this test's podrt started, by its PID.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let gone = crate::wait_until(5, || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.contains(") Z "))
        });
        assert!(gone, "supervisor {pid} did not die");
        pid
    }

    /// Fails the test if anything of a pod is left: a pod directory, a mount,
    /// the test's cgroup parent, or a veth on the test host.
    pub fn assert_nothing_left(&self) {
        assert!(
            self.pod_dirs().is_empty(),
            "pod dirs left: {:?}",
            self.pod_dirs()
        );
        let mounts = self.mounts_under_root();
        assert!(mounts.is_empty(), "mounts left: {mounts:?}");
        assert!(
            !crate::cgroup_exists(&self.cgroup_parent),
            "cgroup parent {} made",
            self.cgroup_parent
        );
        assert!(
            self.host.veths().is_empty(),
            "veths left: {:?}",
            self.host.veths()
        );
        let ranges = self.id_ranges();
        assert!(
            ranges.is_empty(),
            "user namespace id ranges left: {ranges:?}"
        );
    }

    /// The user namespace id ranges podrt holds for pods (`<root>/userns/<index>`).
    pub fn id_ranges(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("userns"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Pod directories left under the root.
    pub fn pod_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root.join("pods"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

/// The vendored busybox OCI image layout, which must have been built.
pub fn busybox_layout() -> PathBuf {
    let layout = repo().join("vendor-images/build/oci-image");
    assert!(
        layout.join("index.json").exists(),
        "{} is missing: run vendor-images/build.sh (scripts/setup.sh does)",
        layout.display()
    );
    layout
}

impl Default for PodEnv {
    fn default() -> Self {
        PodEnv::new()
    }
}

impl Drop for PodEnv {
    fn drop(&mut self) {
        // Every namespace's pods.
        if let Ok(out) = self
            .cmd()
            .args(["get", "pods", "-A", "-o", "json"])
            .output()
        {
            let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            for pod in list["items"].as_array().into_iter().flatten() {
                let meta = &pod["metadata"];
                let (Some(ns), Some(name)) = (meta["namespace"].as_str(), meta["name"].as_str())
                else {
                    continue;
                };
                let _ = self
                    .cmd()
                    .args([
                        "delete",
                        "pod",
                        name,
                        "-n",
                        ns,
                        "--grace-period=0",
                        "--force",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for m in self.mounts_under_root().iter().rev() {
            let _ = nix::mount::umount2(Path::new(m), nix::mount::MntFlags::MNT_DETACH);
        }
        // Last, the test host: its bridge, veths and rules go with it.
        let _ = nix::mount::umount2(&self.host.pin, nix::mount::MntFlags::MNT_DETACH);
        remove_cgroup_tree(&self.cgroup_parent);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Remove a (now empty) cgroup directory and its children in every hierarchy:
/// the clients' helper serves the pods' tests too.
pub use crate::clients::remove_cgroup_tree;

/// Lossy UTF-8.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
