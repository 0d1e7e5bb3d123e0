//! containerd (through `ctr` and containerd-shim-runc-v2) drives podrt-runc. Each test
//! starts a containerd of its own with its root, state, sockets and the runtime root
//! under one temporary directory, and a private cgroup parent; its guard removes all
//! of it, also when the test fails. Containers get ctr's default empty network
//! namespace: these tests touch no host network configuration. Helpers shared with the
//! podman tests are in `podrt_tests::clients`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use podrt_tests::clients::{
    image_archive, kill_processes_mentioning, on_a_terminal, remove_cgroup_tree, require_tool,
    run_within, run_within_unchecked, scratch_dir, unmount_under, Ran, CMD_SECS,
};
use podrt_tests::{binary, cgroup_exists, require_root, unique, wait_until};

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
