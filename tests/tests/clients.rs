//! Real clients nobody here wrote drive podrt-runc: podman (through conmon) and
//! containerd (through `ctr` and containerd-shim-runc-v2). Each test gives its client a
//! private everything under one temporary directory (storage, state, sockets, runtime
//! root) and a private cgroup parent, and its guard removes all of it, also when the
//! test fails. Containers get no network (`--network none`, or ctr's default empty
//! netns): these tests touch no host network configuration.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use podrt_tests::{
    binary, cgroup_exists, cgroup_file, kill_processes_mentioning, remove_cgroup_tree, repo,
    require_root, require_tool, run_within, run_within_unchecked, shell_line, unique,
    unmount_under, wait_until, Ran,
};

/// Seconds any single client command may take before the test fails.
const CMD_SECS: u64 = 60;

/// Where podman's runtime keeps state: podman passes no `--root` to the runtime, so
/// podrt-runc uses its default.
const PODRT_DEFAULT_ROOT: &str = "/run/podrt/runc";

/// The vendored OCI image archive built by `vendor-images/build.sh`.
fn image_archive() -> PathBuf {
    let p = repo().join("vendor-images/build/busybox-oci.tar");
    assert!(
        p.exists(),
        "{} is missing: run vendor-images/build.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

/// A hard limit to ask podman for: ours, capped (podman's default of 1048576 needs
/// CAP_SYS_RESOURCE, which root lacks on these machines).
fn hard_limit(resource: libc::__rlimit_resource_t, cap: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return cap;
    }
    r.rlim_max.min(cap)
}

/// A fresh directory under /tmp for one test's client.
fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// Run `args` under `script`, which gives them a terminal (podman -t and ctr -t want
/// one on our side); `script -e` returns the command's exit code.
fn on_a_terminal(args: &[std::ffi::OsString], env: &[(&str, &Path)], scratch: &Path) -> Ran {
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

// ------------------------------------------------------------------------------------
// podman
// ------------------------------------------------------------------------------------

/// A podman with private storage, run root, tmpdir, network config and cgroup parent,
/// using podrt-runc as its OCI runtime. Dropping it removes every container, conmon,
/// mount, cgroup and file it made.
struct Podman {
    dir: PathBuf,
    conf: PathBuf,
    runtime: PathBuf,
    cgroup_parent: String,
    /// `localhost/podrt-busybox:latest`, loaded from the vendored archive.
    image: String,
    /// Containers podman made, for the fallback cleanup.
    ids: std::cell::RefCell<Vec<String>>,
}

impl Podman {
    fn new() -> Podman {
        require_root();
        require_tool("podman", "podman");
        require_tool("conmon", "conmon");
        let dir = scratch_dir("podrt-podman");
        let mut podman = Podman {
            conf: dir.join("containers.conf"),
            cgroup_parent: format!("/{}", unique("podrt-clients")),
            runtime: binary("podrt-runc"),
            image: "localhost/podrt-busybox:latest".into(),
            ids: Default::default(),
            dir,
        };
        podman.write_conf();
        podman.load_image();
        podman
    }

    fn write_conf(&mut self) {
        let nofile = hard_limit(libc::RLIMIT_NOFILE, 1 << 20);
        let nproc = hard_limit(libc::RLIMIT_NPROC, 32768);
        let networks = self.dir.join("networks");
        std::fs::create_dir_all(&networks).unwrap();
        let conf = format!(
            "[containers]\n\
             default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n\
             [engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             [network]\n\
             network_config_dir = \"{}\"\n",
            networks.display()
        );
        std::fs::write(&self.conf, conf).expect("write containers.conf");
    }

    /// `podman` with the private global flags.
    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf);
        c.args(self.global_args());
        c
    }

    fn global_args(&self) -> Vec<std::ffi::OsString> {
        let d = &self.dir;
        let mut v: Vec<std::ffi::OsString> = Vec::new();
        for (flag, value) in [
            ("--root", d.join("storage")),
            ("--runroot", d.join("runroot")),
            ("--tmpdir", d.join("tmp")),
            ("--runtime", self.runtime.clone()),
        ] {
            v.push(flag.into());
            v.push(value.into());
        }
        for a in [
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ] {
            v.push(a.into());
        }
        v
    }

    fn podman(&self, args: &[&str]) -> Ran {
        run_within(self.cmd().args(args), CMD_SECS, &self.dir)
    }

    /// `podman run` flags every test uses: no network, our cgroup parent.
    fn run_flags(&self) -> Vec<String> {
        vec![
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            self.cgroup_parent.clone(),
        ]
    }

    /// `podman run --rm [extra] IMAGE cmd...`; returns what it did and the container id
    /// (from `--cidfile`).
    fn run_rm(&self, extra: &[&str], cmd: &[&str]) -> (Ran, String) {
        let cidfile = self.dir.join(unique("cid"));
        let mut c = self.cmd();
        c.args(["run", "--rm"])
            .args(self.run_flags())
            .arg("--cidfile")
            .arg(&cidfile);
        c.args(extra).arg(&self.image).args(cmd);
        let ran = run_within(&mut c, CMD_SECS, &self.dir);
        let cid = std::fs::read_to_string(&cidfile)
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(!cid.is_empty(), "podman wrote no --cidfile:\n{ran}");
        self.ids.borrow_mut().push(cid.clone());
        (ran, cid)
    }

    /// `podman run -d IMAGE cmd...`; returns the container id.
    fn run_detached(&self, cmd: &[&str]) -> String {
        let mut c = self.cmd();
        c.args(["run", "-d"])
            .args(self.run_flags())
            .arg(&self.image)
            .args(cmd);
        let ran = run_within(&mut c, CMD_SECS, &self.dir);
        ran.ok();
        let cid = ran.stdout.trim().to_string();
        self.ids.borrow_mut().push(cid.clone());
        cid
    }

    fn inspect(&self, cid: &str, format: &str) -> String {
        let ran = self.podman(&["inspect", "--format", format, cid]);
        ran.ok();
        ran.stdout.trim().to_string()
    }

    /// Import the vendored archive. podman records blob digests in the host-wide
    /// `/var/lib/containers/cache`, whatever `--root` says; a tmpfs over it in a
    /// private mount namespace (gone when podman exits) keeps the host untouched.
    fn load_image(&self) {
        let cache_parent = if Path::new("/var/lib/containers").is_dir() {
            "/var/lib/containers"
        } else {
            "/var/lib"
        };
        let mut c = Command::new(require_tool("unshare", "util-linux"));
        c.env("CONTAINERS_CONF", &self.conf)
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size=16m,mode=0700 podrt-test {cache_parent} && exec \"$@\""
            ))
            .arg("sh")
            .arg("podman")
            .args(self.global_args())
            .arg("load")
            .arg("-i")
            .arg(image_archive());
        let ran = run_within(&mut c, CMD_SECS, &self.dir);
        ran.ok();
        // "Loaded image: localhost/latest:latest" (or "Loaded image(s): ...").
        let loaded = ran
            .stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("Loaded image")
                    .and_then(|r| r.split_once(": "))
            })
            .map(|(_, name)| name.split(',').next().unwrap_or(name).trim().to_string())
            .unwrap_or_else(|| panic!("podman load printed no image name:\n{ran}"));
        self.podman(&["tag", &loaded, &self.image]).ok();
    }

    /// podrt-runc cleaned up after podman: no state directory, no container cgroup.
    #[track_caller]
    fn assert_gone(&self, cid: &str) {
        let state = Path::new(PODRT_DEFAULT_ROOT).join(cid);
        let cgroups = || cgroups_mentioning(&self.cgroup_parent, cid);
        assert!(
            wait_until(5, || !state.exists() && cgroups().is_empty()),
            "container {cid} left state behind: state dir {} exists: {}, cgroups: {:?}",
            state.display(),
            state.exists(),
            cgroups()
        );
    }
}

/// Cgroup directories below `parent`, in any hierarchy, whose name contains `needle`
/// (podman puts a pod's containers one level deeper, under the pod's cgroup).
fn cgroups_mentioning(parent: &str, needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, found: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if e.file_name().to_string_lossy().contains(needle) {
                    found.push(e.path());
                }
                walk(&e.path(), needle, found);
            }
        }
    }
    let mut found = Vec::new();
    let rel = parent.trim_start_matches('/');
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            walk(&h.path().join(rel), needle, &mut found);
        }
    }
    walk(&Path::new("/sys/fs/cgroup").join(rel), needle, &mut found);
    found
}

impl Drop for Podman {
    fn drop(&mut self) {
        let quietly = |c: &mut Command| run_within_unchecked(c, CMD_SECS, &self.dir);
        let listed = quietly(self.cmd().args(["ps", "-aq", "--no-trunc"]));
        let mut ids = self.ids.borrow().clone();
        ids.extend(listed.stdout.lines().map(|l| l.trim().to_string()));
        quietly(self.cmd().args(["pod", "rm", "-af", "-t", "0"]));
        quietly(self.cmd().args(["rm", "-af", "-t", "0"]));
        // Fallback, in case podman could not clean up after a failure.
        for id in ids.iter().filter(|id| !id.is_empty()) {
            quietly(Command::new(&self.runtime).args(["delete", "--force", id]));
        }
        kill_processes_mentioning(&self.dir);
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

#[test]
fn podman_runs_a_container_with_podrt_and_leaves_nothing_behind() {
    let pm = Podman::new();
    let (ran, cid) = pm.run_rm(&[], &["echo", "hi"]);
    ran.ok();
    assert_eq!(
        ran.stdout, "hi\n",
        "podman run printed the wrong thing:\n{ran}"
    );
    pm.assert_gone(&cid);
}

#[test]
fn podman_reports_the_exit_code_of_the_container() {
    let pm = Podman::new();
    let (ran, cid) = pm.run_rm(&[], &["sh", "-c", "exit 3"]);
    assert_eq!(
        ran.code,
        Some(3),
        "podman run should exit with the container's code:\n{ran}"
    );
    pm.assert_gone(&cid);
}

#[test]
fn podman_shows_why_the_runtime_could_not_start_a_container() {
    let pm = Podman::new();
    let (ran, cid) = pm.run_rm(&[], &["/no/such/program"]);
    // podman maps "command not found" from the runtime's error to 127.
    assert_eq!(
        ran.code,
        Some(127),
        "a missing program should give 127:\n{ran}"
    );
    assert!(
        ran.stderr.contains("/no/such/program"),
        "podman's error should carry podrt-runc's reason (its --log record):\n{ran}"
    );
    pm.assert_gone(&cid);
}

#[test]
fn podman_execs_into_a_detached_container_then_stops_and_removes_it() {
    let pm = Podman::new();
    let cid = pm.run_detached(&["sleep", "1000"]);

    // podrt-runc holds the container, and agrees with podman on its init.
    let state = Command::new(&pm.runtime)
        .args(["state", &cid])
        .output()
        .unwrap();
    assert!(
        state.status.success(),
        "podrt-runc has no state for podman's container {cid}"
    );
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["status"], "running");
    assert_eq!(state["pid"].to_string(), pm.inspect(&cid, "{{.State.Pid}}"));

    let exec = pm.podman(&["exec", &cid, "echo", "hi"]);
    exec.ok();
    assert_eq!(
        exec.stdout, "hi\n",
        "podman exec printed the wrong thing:\n{exec}"
    );
    let failing = pm.podman(&["exec", &cid, "sh", "-c", "exit 4"]);
    assert_eq!(
        failing.code,
        Some(4),
        "podman exec should exit with the process's code:\n{failing}"
    );

    // PID 1 `sleep` ignores SIGTERM: stop must fall back to SIGKILL after 1 s.
    let stop = pm.podman(&["stop", "-t", "1", &cid]);
    stop.ok();
    assert!(
        stop.took < Duration::from_secs(10),
        "stop -t 1 took {:?}",
        stop.took
    );
    assert_eq!(pm.inspect(&cid, "{{.State.Status}}"), "exited");
    assert_eq!(pm.inspect(&cid, "{{.State.ExitCode}}"), "137");
    pm.podman(&["rm", &cid]).ok();
    pm.assert_gone(&cid);
}

#[test]
fn podman_stop_sends_sigterm_first() {
    let pm = Podman::new();
    let cid = pm.run_detached(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; while :; do sleep 0.1; done",
    ]);
    let stop = pm.podman(&["stop", "-t", "20", &cid]);
    stop.ok();
    assert!(
        stop.took < Duration::from_secs(10),
        "the container traps SIGTERM and exits, yet stop took {:?}",
        stop.took
    );
    assert_eq!(pm.inspect(&cid, "{{.State.ExitCode}}"), "7");
    pm.podman(&["rm", &cid]).ok();
    pm.assert_gone(&cid);
}

#[test]
fn podman_pause_unpause_and_update_reach_the_cgroup() {
    let pm = Podman::new();
    let cid = pm.run_detached(&["sleep", "1000"]);
    let cgroup = format!("{}/libpod-{cid}", pm.cgroup_parent);

    pm.podman(&["pause", &cid]).ok();
    assert_eq!(pm.inspect(&cid, "{{.State.Status}}"), "paused");
    if !podrt_tests::cgroup_v2() {
        let freezer = cgroup_file(&cgroup, "freezer", "freezer.state", "");
        assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), "FROZEN");
    }
    pm.podman(&["unpause", &cid]).ok();
    assert_eq!(pm.inspect(&cid, "{{.State.Status}}"), "running");
    pm.podman(&["exec", &cid, "true"]).ok();

    pm.podman(&["update", "--memory", "64m", &cid]).ok();
    let limit = cgroup_file(&cgroup, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(std::fs::read_to_string(&limit).unwrap().trim(), "67108864");

    pm.podman(&["rm", "-f", "-t", "0", &cid]).ok();
    pm.assert_gone(&cid);
}

#[test]
fn podman_tty_run_and_exec_get_a_pty_through_the_console_socket() {
    let pm = Podman::new();
    let conf: &Path = &pm.conf;
    let mut run: Vec<std::ffi::OsString> = vec!["podman".into()];
    run.extend(pm.global_args());
    let mut exec = run.clone();
    run.extend(["run", "--rm", "-t"].map(Into::into));
    run.extend(pm.run_flags().into_iter().map(Into::into));
    run.extend([pm.image.as_str(), "tty"].map(Into::into));
    let ran = on_a_terminal(&run, &[("CONTAINERS_CONF", conf)], &pm.dir);
    ran.ok();
    assert!(
        ran.stdout.contains("/dev/pts/"),
        "`podman run -t` gave no pty:\n{ran}"
    );

    let cid = pm.run_detached(&["sleep", "1000"]);
    exec.extend(["exec", "-t", &cid, "tty"].map(Into::into));
    let ran = on_a_terminal(&exec, &[("CONTAINERS_CONF", conf)], &pm.dir);
    ran.ok();
    assert!(
        ran.stdout.contains("/dev/pts/"),
        "`podman exec -t` gave no pty:\n{ran}"
    );
    pm.podman(&["rm", "-f", "-t", "0", &cid]).ok();
    pm.assert_gone(&cid);
}

/// A podman pod: the infra container holds PID, IPC, UTS and network namespaces, and
/// podrt-runc must join them by path (`/proc/<infra>/ns/*`) for each member.
#[test]
fn podman_pod_members_share_the_infra_namespaces() {
    let pm = Podman::new();
    let pod = unique("pod");
    pm.podman(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "--share",
        "pid,ipc,uts,net",
        "--cgroup-parent",
        &pm.cgroup_parent,
    ])
    .ok();
    let mut c = pm.cmd();
    c.args(["run", "-d", "--pod", &pod, &pm.image, "sleep", "1000"]);
    let first = run_within(&mut c, CMD_SECS, &pm.dir);
    first.ok();
    let first = first.stdout.trim().to_string();
    pm.ids.borrow_mut().push(first.clone());

    let mut c = pm.cmd();
    c.args([
        "run",
        "--rm",
        "--pod",
        &pod,
        &pm.image,
        "sh",
        "-c",
        "hostname; ps -o args",
    ]);
    let ran = run_within(&mut c, CMD_SECS, &pm.dir);
    ran.ok();
    let mut lines = ran.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(pod.as_str()),
        "UTS namespace not shared:\n{ran}"
    );
    assert!(
        ran.stdout.lines().any(|l| l.trim() == "sleep 1000"),
        "the second member should see the first one's `sleep 1000` (shared PID namespace):\n{ran}"
    );
    pm.podman(&["pod", "rm", "-f", "-t", "0", &pod]).ok();
    pm.assert_gone(&first);
}

/// `--read-only` and `--tmpfs` make podman ask for tmpfs mounts with `tmpcopyup`: the
/// new tmpfs starts with a copy of the image's directory (runc and crun support it).
/// A tmpfs over /etc must still hold the image's passwd, and be writable, while the
/// root stays read-only.
#[test]
fn podman_read_only_root_with_tmpfs_keeps_the_image_files() {
    let pm = Podman::new();
    let (ran, cid) = pm.run_rm(
        &["--read-only", "--tmpfs", "/etc"],
        &[
            "sh",
            "-c",
            "head -n1 /etc/passwd && touch /etc/new /tmp/new && ! touch /new 2>/dev/null && echo ok",
        ],
    );
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(0), "root:x:0:0:root:/root:/bin/sh\nok\n"),
        "podman run --read-only --tmpfs /etc failed:\n{ran}"
    );
    pm.assert_gone(&cid);
}

// ------------------------------------------------------------------------------------
// containerd
// ------------------------------------------------------------------------------------

/// The directories containerd 1.6 and its shims use under /run/containerd whatever the
/// config says (shim sockets live in /run/containerd/s). Recorded before the first
/// containerd of this process starts, so a guard removes only what we created.
fn run_containerd_preexisted() -> bool {
    static PRE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRE.get_or_init(|| Path::new("/run/containerd").exists())
}

/// A containerd of our own: root, state, sockets and plugins' dirs under one
/// temporary directory, CRI disabled. Dropping it removes its containers, kills it and
/// its shims (by PID), and removes every mount, cgroup and file it made.
struct Containerd {
    dir: PathBuf,
    daemon: Child,
    socket: PathBuf,
    namespace: &'static str,
    snapshotter: &'static str,
    runtime: PathBuf,
    cgroup_parent: String,
    /// `localhost/podrt-busybox:latest`.
    image: String,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Containerd {
    fn new() -> Containerd {
        require_root();
        let containerd = require_tool("containerd", "containerd");
        require_tool("ctr", "containerd");
        require_tool("containerd-shim-runc-v2", "containerd");
        run_containerd_preexisted();
        let dir = scratch_dir("podrt-ctrd");
        let socket = dir.join("containerd.sock");
        let config = format!(
            "version = 2\n\
             root = \"{d}/root\"\n\
             state = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\", \
               \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
               \"io.containerd.snapshotter.v1.devmapper\"]\n\
             [grpc]\n  address = \"{s}\"\n\
             [ttrpc]\n  address = \"{s}.ttrpc\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n",
            d = dir.display(),
            s = socket.display()
        );
        std::fs::write(dir.join("config.toml"), config).expect("write config.toml");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("containerd.log");
        let daemon = Command::new(containerd)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        // Overlay needs kernel support; the native snapshotter (plain copies) works anywhere.
        let overlay = std::fs::read_to_string("/proc/filesystems")
            .map(|f| f.lines().any(|l| l.ends_with("\toverlay")))
            .unwrap_or(false);
        let ctrd = Containerd {
            socket,
            daemon,
            namespace: "podrt-test",
            snapshotter: if overlay { "overlayfs" } else { "native" },
            runtime: binary("podrt-runc"),
            cgroup_parent: format!("/{}", unique("podrt-clients")),
            image: "localhost/podrt-busybox:latest".into(),
            ids: Default::default(),
            dir,
        };
        ctrd.wait_ready();
        ctrd.ctr(&[
            "images",
            "import",
            "--all-platforms",
            "--snapshotter",
            ctrd.snapshotter,
            "--base-name",
            "localhost/podrt-busybox",
            image_archive().to_str().unwrap(),
        ])
        .ok();
        ctrd
    }

    fn wait_ready(&self) {
        let ready = wait_until(20, || {
            self.socket.exists()
                && self
                    .cmd()
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
        });
        assert!(
            ready,
            "containerd did not answer on {} within 20 s; its log:\n{}",
            self.socket.display(),
            std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
        );
    }

    /// `ctr --address SOCK --namespace NS`.
    fn cmd(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.socket)
            .args(["--namespace", self.namespace]);
        c
    }

    fn ctr(&self, args: &[&str]) -> Ran {
        run_within(self.cmd().args(args), CMD_SECS, &self.dir)
    }

    /// The runtime root the shim hands podrt-runc (`--runc-root` plus the namespace).
    fn runc_root(&self) -> PathBuf {
        self.dir.join("runc")
    }

    fn fifo_dir(&self) -> PathBuf {
        self.dir.join("fifo")
    }

    /// `ctr run` arguments up to the image: podrt-runc as the runc binary, a private
    /// runtime root, FIFOs and cgroup; no `--net-host`, so the container gets an empty
    /// network namespace.
    fn run_args(&self, id: &str, extra: &[&str]) -> Vec<std::ffi::OsString> {
        self.ids.borrow_mut().push(id.to_string());
        let mut v: Vec<std::ffi::OsString> = vec!["run".into()];
        v.extend(extra.iter().map(Into::into));
        v.push("--runc-binary".into());
        v.push(self.runtime.clone().into());
        v.push("--runc-root".into());
        v.push(self.runc_root().into());
        v.push("--fifo-dir".into());
        v.push(self.fifo_dir().into());
        v.push("--snapshotter".into());
        v.push(self.snapshotter.into());
        v.push("--cgroup".into());
        v.push(format!("{}/{id}", self.cgroup_parent).into());
        v.push(self.image.clone().into());
        v.push(id.into());
        v
    }

    fn run(&self, id: &str, extra: &[&str], cmd: &[&str]) -> Ran {
        let mut c = self.cmd();
        c.args(self.run_args(id, extra)).args(cmd);
        run_within(&mut c, CMD_SECS, &self.dir)
    }

    /// podrt-runc's own view of a container the shim made.
    fn podrt_state(&self, id: &str) -> Option<serde_json::Value> {
        let out = Command::new(&self.runtime)
            .arg("--root")
            .arg(self.runc_root().join(self.namespace))
            .args(["state", id])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    /// podrt-runc cleaned up after the shim: no state, no cgroup.
    #[track_caller]
    fn assert_gone(&self, id: &str) {
        let state = self.runc_root().join(self.namespace).join(id);
        let cgroup = format!("{}/{id}", self.cgroup_parent);
        assert!(
            wait_until(5, || !state.exists() && !cgroup_exists(&cgroup)),
            "container {id} left state behind: {} exists: {}, cgroup {cgroup} exists: {}",
            state.display(),
            state.exists(),
            cgroup_exists(&cgroup)
        );
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let quietly = |c: &mut Command| run_within_unchecked(c, CMD_SECS, &self.dir);
        let root = self.runc_root().join(self.namespace);
        for id in self.ids.borrow().iter() {
            quietly(self.cmd().args(["task", "kill", "-a", "-s", "SIGKILL", id]));
            quietly(self.cmd().args(["task", "delete", "-f", id]));
            quietly(self.cmd().args(["containers", "rm", id]));
            // Fallback: podrt-runc removes what the shim could not.
            quietly(
                Command::new(&self.runtime)
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", id]),
            );
        }
        // SIGTERM our containerd, then SIGKILL if it lingers.
        let pid = nix::unistd::Pid::from_raw(self.daemon.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if !wait_until(5, || matches!(self.daemon.try_wait(), Ok(Some(_)))) {
            let _ = self.daemon.kill();
        }
        let _ = self.daemon.wait();
        kill_processes_mentioning(&self.dir); // shims left by a failed test
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        remove_cgroup_tree(&self.cgroup_parent);
        if !run_containerd_preexisted() {
            // Only if empty: another containerd may be using them by now.
            let _ = std::fs::remove_dir("/run/containerd/s");
            let _ = std::fs::remove_dir("/run/containerd");
        }
    }
}

#[test]
fn containerd_runs_a_container_with_podrt_and_leaves_nothing_behind() {
    let ctrd = Containerd::new();
    let ran = ctrd.run("echo", &["--rm"], &["echo", "hi"]);
    ran.ok();
    assert_eq!(
        ran.stdout, "hi\n",
        "ctr run printed the wrong thing:\n{ran}"
    );
    ctrd.assert_gone("echo");
}

#[test]
fn containerd_reports_the_exit_code_of_the_container() {
    let ctrd = Containerd::new();
    let ran = ctrd.run("exit3", &["--rm"], &["sh", "-c", "exit 3"]);
    assert_eq!(
        ran.code,
        Some(3),
        "ctr run should exit with the container's code:\n{ran}"
    );
    ctrd.assert_gone("exit3");
}

#[test]
fn containerd_shows_why_the_runtime_could_not_start_a_container() {
    let ctrd = Containerd::new();
    let ran = ctrd.run("missing", &["--rm"], &["/no/such/program"]);
    assert_ne!(
        ran.code,
        Some(0),
        "running a missing program should fail:\n{ran}"
    );
    assert!(
        ran.stderr.contains("OCI runtime create failed") && ran.stderr.contains("/no/such/program"),
        "the shim should pass on podrt-runc's reason (its --log-format json record):\n{ran}"
    );
    // `ctr run --rm` removes the container record itself after a failed start.
    let left = ctrd.ctr(&["containers", "ls", "-q"]);
    assert!(
        !left.stdout.lines().any(|l| l == "missing"),
        "ctr kept the container:\n{left}"
    );
    ctrd.assert_gone("missing");
}

#[test]
fn containerd_execs_pauses_and_kills_a_detached_container() {
    let ctrd = Containerd::new();
    let id = "detached";
    ctrd.run(
        id,
        &["-d"],
        &[
            "sh",
            "-c",
            "trap 'exit 7' TERM; while :; do sleep 0.1; done",
        ],
    )
    .ok();

    // The shim created it through podrt-runc, in the root it was given.
    let state = ctrd.podrt_state(id).unwrap_or_else(|| {
        panic!(
            "podrt-runc has no state for {id} under {}",
            ctrd.runc_root().display()
        )
    });
    assert_eq!(state["status"], "running");
    let tasks = ctrd.ctr(&["task", "ls"]);
    let pid = state["pid"].to_string();
    assert!(
        tasks
            .stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [id, &pid, "RUNNING"]),
        "ctr task ls should show {id} with podrt-runc's pid {pid}:\n{tasks}"
    );

    let exec = ctrd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "hi",
        "--fifo-dir",
        ctrd.fifo_dir().to_str().unwrap(),
        id,
        "echo",
        "hi",
    ]);
    exec.ok();
    assert_eq!(
        exec.stdout, "hi\n",
        "ctr task exec printed the wrong thing:\n{exec}"
    );
    let failing = ctrd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "four",
        "--fifo-dir",
        ctrd.fifo_dir().to_str().unwrap(),
        id,
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(
        failing.code,
        Some(4),
        "ctr task exec should exit with the process's code:\n{failing}"
    );

    // `ps` goes through `podrt-runc ps --format json`.
    let ps = ctrd.ctr(&["task", "ps", id]);
    ps.ok();
    assert!(
        ps.stdout.lines().any(|l| l.starts_with(&pid)),
        "ctr task ps lacks init {pid}:\n{ps}"
    );

    ctrd.ctr(&["task", "pause", id]).ok();
    assert!(
        ctrd.ctr(&["task", "ls"]).stdout.contains("PAUSED"),
        "task should be PAUSED"
    );
    ctrd.ctr(&["task", "resume", id]).ok();
    assert!(
        ctrd.ctr(&["task", "ls"]).stdout.contains("RUNNING"),
        "task should run again"
    );

    ctrd.ctr(&["task", "kill", "-s", "SIGTERM", id]).ok();
    assert!(
        wait_until(10, || ctrd.ctr(&["task", "ls"]).stdout.contains("STOPPED")),
        "the container traps SIGTERM and exits, yet its task did not stop"
    );
    let deleted = ctrd.ctr(&["task", "delete", id]);
    deleted.ok();
    assert!(
        deleted.stderr.contains("exit code 7"),
        "ctr task delete should report exit code 7 from the trap:\n{deleted}"
    );
    ctrd.ctr(&["containers", "rm", id]).ok();
    ctrd.assert_gone(id);
}

#[test]
fn containerd_tty_run_and_exec_get_a_pty_through_the_console_socket() {
    let ctrd = Containerd::new();
    let base = |args: Vec<std::ffi::OsString>| {
        let mut v: Vec<std::ffi::OsString> =
            vec!["ctr".into(), "--address".into(), ctrd.socket.clone().into()];
        v.extend(["--namespace", ctrd.namespace].map(Into::into));
        v.extend(args);
        v
    };
    let mut run = ctrd.run_args("tty", &["--rm", "-t"]);
    run.push("tty".into());
    let ran = on_a_terminal(&base(run), &[], &ctrd.dir);
    ran.ok();
    assert!(
        ran.stdout.contains("/dev/pts/"),
        "`ctr run -t` gave no pty:\n{ran}"
    );
    ctrd.assert_gone("tty");

    ctrd.run("ttyexec", &["-d"], &["sleep", "1000"]).ok();
    let exec: Vec<std::ffi::OsString> = ["task", "exec", "-t", "--exec-id", "t", "--fifo-dir"]
        .map(Into::into)
        .into_iter()
        .chain([ctrd.fifo_dir().into(), "ttyexec".into(), "tty".into()])
        .collect();
    let ran = on_a_terminal(&base(exec), &[], &ctrd.dir);
    ran.ok();
    assert!(
        ran.stdout.contains("/dev/pts/"),
        "`ctr task exec -t` gave no pty:\n{ran}"
    );
    ctrd.ctr(&["task", "kill", "-s", "SIGKILL", "ttyexec"]).ok();
    assert!(wait_until(10, || ctrd
        .ctr(&["task", "ls"])
        .stdout
        .contains("STOPPED")));
    ctrd.ctr(&["task", "delete", "ttyexec"]).ok();
    ctrd.ctr(&["containers", "rm", "ttyexec"]).ok();
    ctrd.assert_gone("ttyexec");
}
