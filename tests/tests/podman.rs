//! podman (through conmon) drives podrt-runc. Each test gives podman a private
//! storage, run root, tmpdir and network config under one temporary directory, and a
//! private cgroup parent; its guard removes all of it, also when the test fails.
//! Containers run with `--network none`: these tests touch no host network
//! configuration. Helpers shared with the containerd tests are in
//! `podrt_tests::clients`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use podrt_tests::clients::{
    image_archive, kill_processes_mentioning, on_a_terminal, remove_cgroup_tree, require_tool,
    run_within, run_within_unchecked, scratch_dir, unmount_under, Ran, CMD_SECS,
};
use podrt_tests::{binary, cgroup_file, require_root, unique, wait_until};

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
            runtime: PathBuf::new(),
            image: "localhost/podrt-busybox:latest".into(),
            ids: Default::default(),
            dir,
        };
        podman.write_runtime();
        podman.write_conf();
        {
            // podman's first command on a new root makes its lock segment in
            // /dev/shm (`/libpod_lock`), host-wide: two made at once, by tests
            // running side by side, clash ("file exists"). One at a time.
            let lock = std::fs::File::create(std::env::temp_dir().join("podrt-podman-first.lock"))
                .expect("the podman tests' lock file");
            let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
                .expect("lock the podman tests' lock file");
            podman.load_image();
        }
        podman
    }

    /// podman passes its runtime no `--root` (and 4.3's `--runtime-flag` does not
    /// reach every call), so podrt-runc would keep its state in its default
    /// /run/podrt/runc: podman gets a runtime that is podrt-runc with this test's
    /// own state root.
    fn write_runtime(&mut self) {
        let script = self.dir.join("podrt-runc");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec '{}' --root '{}' \"$@\"\n",
                binary("podrt-runc").display(),
                self.runtime_root().display()
            ),
        )
        .expect("write the runtime wrapper");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("make the runtime wrapper executable");
        self.runtime = script;
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

    /// podrt-runc's state root for this podman.
    fn runtime_root(&self) -> PathBuf {
        self.dir.join("runtime-root")
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
        let state = self.runtime_root().join(cid);
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
