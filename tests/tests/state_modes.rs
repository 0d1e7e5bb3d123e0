//! podrt's state is root's alone: every directory podrt and podrt-runc make under
//! their root is 0700, records, logs, locks, FIFOs and sockets 0600, and a user
//! other than root can neither list the root, read a pod's record or log, open its
//! output FIFOs nor talk to its supervisor — while a pod running as uid 1000 still
//! uses its emptyDir, hostPath, subPath and `/etc` files, which reach it through
//! bind mounts that root made.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use podrt_tests::pods::{busybox_layout, text, PodEnv};
use podrt_tests::{args, binary, Env};

/// The user the probes run as: `nobody`, no groups.
const NOBODY: u32 = 65534;

fn pod(host_dir: &Path) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: private}}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {{runAsUser: 1000, runAsGroup: 1000}}
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo secret-log-line; echo from-1000 > /data/written && exec sleep 3600"]
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: data, mountPath: /sub, subPath: s}}
    - {{name: host, mountPath: /host, readOnly: true}}
  volumes:
  - {{name: data, emptyDir: {{}}}}
  - {{name: host, hostPath: {{path: {}, type: Directory}}}}
"#,
        host_dir.display()
    )
}

#[test]
fn a_pods_state_is_root_only_and_its_non_root_container_still_works() {
    // podrt runs under a umask of 0 here: its modes must not come from the umask.
    let env = PodEnv::empty();
    let layout = busybox_layout();
    umask_0_ok(
        &env,
        &[
            "image",
            "import",
            layout.to_str().unwrap(),
            "--name",
            "busybox",
        ],
    );
    let host_dir = env.dir.join("host-data");
    std::fs::create_dir(&host_dir).expect("create the hostPath dir");
    std::fs::write(host_dir.join("marker"), "from-the-host\n").expect("write marker");
    let manifest = env.manifest("private", &pod(&host_dir));
    umask_0_ok(&env, &["apply", "-f", manifest.to_str().unwrap()]);

    // The container, uid 1000, writes its emptyDir and reads everything root
    // mounted for it, though the directories they come from are root's alone.
    assert_eq!(env.sh("private", "app", "id -u"), "1000");
    assert!(
        podrt_tests::wait_until(10, || env
            .exec("private", "app", &["cat", "/data/written"])
            .1
            .trim()
            == "from-1000"),
        "the container could not write its emptyDir"
    );
    assert_eq!(
        env.sh("private", "app", "touch /data/more && echo ok"),
        "ok"
    );
    assert_eq!(
        env.sh("private", "app", "cat /host/marker"),
        "from-the-host"
    );
    assert_eq!(env.sh("private", "app", "ls -a /sub | wc -l"), "2");
    assert_eq!(env.sh("private", "app", "cat /etc/hostname"), "private");
    assert!(env
        .sh("private", "app", "cat /etc/hosts")
        .contains("private"));
    env.sh("private", "app", "cat /etc/resolv.conf >/dev/null");
    assert_eq!(env.sh("private", "app", "stat -c %a /data"), "777");

    // As root: every directory podrt made has no group or other bits, and its
    // files none that let another user read (records, logs) or write.
    let pod_dir = env.pod_dir("private");
    let log = pod_dir.join("containers/app/log");
    assert!(
        podrt_tests::wait_until(10, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("secret-log-line"))),
        "the container's line never reached {}",
        log.display()
    );
    let (seen, mut bad) = root_only_findings(&env.root);
    let rel = |name: &str| pod_dir.strip_prefix(&env.root).unwrap().join(name);
    let expected = [
        "pods",
        "pods.lock",
        "images/index.json",
        "images/layers",
        "cni/networks",
    ]
    .map(PathBuf::from)
    .into_iter()
    .chain(
        [
            "pod.json",
            "lock",
            "supervisor.sock",
            "supervisor.json",
            "supervisor.log",
            "etc/hosts",
            "volumes",
            "containers/app/log",
            "containers/app/stdout.fifo",
            "containers/app/stderr.fifo",
            "runtime",
        ]
        .map(rel),
    );
    for p in expected {
        assert!(seen.contains(&p), "{} not seen: {seen:?}", p.display());
    }
    let runtime_state = std::fs::read_dir(pod_dir.join("runtime"))
        .expect("list the runtime's state")
        .flatten()
        .map(|e| e.path().join("state.json"))
        .next()
        .expect("a container's runtime state");

    // As nobody: nothing of it can be opened.
    bad.extend(denied_to_nobody(&[
        ("list", env.root.clone()),
        ("list", pod_dir.clone()),
        ("read", pod_dir.join("pod.json")),
        ("read", runtime_state),
        ("read", log),
        ("connect", pod_dir.join("supervisor.sock")),
        ("open-fifo", pod_dir.join("containers/app/stdout.fifo")),
        ("read", env.root.join("images/index.json")),
    ]));

    // `podrt get pods` as nobody: one line that says why, no pods, no panic.
    let mut get = env.cmd();
    get.args(["get", "pods"]);
    let out = as_nobody(&mut get).output().expect("run podrt as nobody");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if out.status.code() != Some(1)
        || !stdout.is_empty()
        || stderr.trim_end().lines().count() != 1
        || !stderr.contains("ermission denied")
        || !stderr.contains("run podrt as root")
        || stderr.contains("panicked")
        || stderr.contains("internal error")
    {
        bad.push(format!(
            "`podrt get pods` as nobody: exit {:?}, stdout {stdout:?}, stderr {stderr:?}",
            out.status.code()
        ));
    }
    assert!(
        bad.is_empty(),
        "under {} others could use:\n{}",
        env.root.display(),
        bad.join("\n")
    );

    // The pod is still as it was.
    assert_eq!(env.sh("private", "app", "cat /data/written"), "from-1000");
}

#[test]
fn podrt_runc_state_is_root_only() {
    let env = Env::new();
    let bundle = env.bundle("modes", |cfg| args(cfg, &["sleep", "3600"]));
    let id = env.id("modes");
    env.create_detached(&id, &bundle, true);
    let (seen, mut bad) = root_only_findings(&env.root);
    for name in ["state.json", "config.json"] {
        let p = Path::new(&id).join(name);
        assert!(seen.contains(&p), "{} not seen: {seen:?}", p.display());
    }
    bad.extend(denied_to_nobody(&[
        ("list", env.root.clone()),
        ("read", env.root.join(&id).join("state.json")),
    ]));
    assert!(
        bad.is_empty(),
        "under {} others could use:\n{}",
        env.root.display(),
        bad.join("\n")
    );
}

/// Each probe as nobody; a line for each that did not fail with EACCES.
fn denied_to_nobody(probes: &[(&str, PathBuf)]) -> Vec<String> {
    probes
        .iter()
        .filter_map(|(what, path)| {
            let outcome = probe_as_nobody(what, path);
            (outcome != "EACCES").then(|| format!("nobody's {what} {}: {outcome}", path.display()))
        })
        .collect()
}

/// Run podrt with `args` under a umask of 0 (its supervisor inherits it) and
/// require success.
fn umask_0_ok(env: &PodEnv, args: &[&str]) {
    let mut cmd = env.cmd();
    cmd.args(args);
    // SAFETY: umask is async-signal-safe and cannot fail.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = cmd.output().expect("run podrt");
    assert!(
        out.status.success(),
        "podrt {args:?}: {}",
        text(&out.stderr)
    );
}

/// Run `cmd` as nobody with no supplementary groups (after the command's own
/// `pre_exec` steps, which may need root: entering the test host's namespace).
fn as_nobody(cmd: &mut Command) -> &mut Command {
    // SAFETY: setgroups/setgid/setuid are async-signal-safe and touch no memory of
    // the parent; the order (groups and gid while still root) is the one that works.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// `podrt-test-probe WHAT PATH` as nobody: `ok` or the error's name.
fn probe_as_nobody(what: &str, path: &Path) -> String {
    let mut cmd = Command::new(binary("podrt-test-probe"));
    cmd.arg(what).arg(path).stdin(Stdio::null());
    let out: Output = as_nobody(&mut cmd).output().expect("run the probe");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "probe {what} {}: {}",
        path.display(),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// Walk `root` as root: the paths seen (relative to `root`) and a line for anything
/// another user could use. Content that is not podrt's own is only required to sit
/// in a directory of podrt's: mounts (overlay roots, the pod's shm, namespace pins,
/// pinned volumes), emptyDir volumes (0777 as kubelet makes them), overlay upper
/// and work directories, and unpacked image layers (the image's own modes).
fn root_only_findings(root: &Path) -> (BTreeSet<PathBuf>, Vec<String>) {
    let md = std::fs::symlink_metadata(root).expect("stat the root");
    let mut bad = Vec::new();
    if md.mode() & 0o7777 != 0o700 {
        bad.push(format!(
            "the root {} is {:o}, not 700",
            root.display(),
            md.mode() & 0o7777
        ));
    }
    let mounts = mount_points_under(root);
    let mut seen = BTreeSet::new();
    visit(root, root, &mounts, &mut seen, &mut bad);
    (seen, bad)
}

fn visit(
    root: &Path,
    dir: &Path,
    mounts: &BTreeSet<PathBuf>,
    seen: &mut BTreeSet<PathBuf>,
    bad: &mut Vec<String>,
) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("under the root")
            .to_path_buf();
        seen.insert(rel.clone());
        if mounts.contains(&path) || not_podrts(&rel) {
            continue;
        }
        let md = std::fs::symlink_metadata(&path).expect("stat");
        let mode = md.mode() & 0o7777;
        let ft = md.file_type();
        let what = if ft.is_dir() {
            "directory"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_fifo() {
            "FIFO"
        } else {
            "file"
        };
        if md.uid() != 0 {
            bad.push(format!(
                "{what} {} owned by uid {}",
                rel.display(),
                md.uid()
            ));
        }
        let allowed = if what == "file" && readable_by_design(&rel) {
            0o055
        } else {
            0
        };
        if mode & 0o077 & !allowed != 0 {
            bad.push(format!("{what} {} is {mode:o}", rel.display()));
        }
        if ft.is_dir() {
            visit(root, &path, mounts, seen, bad);
        }
    }
}

/// Directories whose contents belong to the pod or the image, not to podrt.
fn not_podrts(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    matches!(
        parts.as_slice(),
        ["pods", _, "volumes", _]
            | ["pods", _, "containers", _, "upper" | "work" | "rootfs"]
            | ["images", "layers", _]
    )
}

/// Files meant to be world-readable inside the container, or written by a CNI
/// plugin (host-local's leases and lock): they need only a private directory and
/// must not be writable by others.
fn readable_by_design(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    matches!(
        parts.as_slice(),
        ["pods", _, "etc", "hosts" | "hostname" | "resolv.conf"] | ["cni", "networks", _, _]
    )
}

/// Mount points at or under `root` in this mount namespace.
fn mount_points_under(root: &Path) -> BTreeSet<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|m| m.starts_with(root))
        .collect()
}
