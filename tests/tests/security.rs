//! What a container may do, tried from inside real pods: a default pod cannot
//! mount, reboot, make namespaces, load modules, make block devices, reach
//! another container's processes or write the kernel's /proc files, and each
//! refusal is checked for its errno with a small static probe (built from
//! tests/fixtures/probe/probe.c and given to the pod as a hostPath volume). A
//! privileged pod can do what privileged means; securityContext fields and
//! seccomp profiles show in /proc/self/status and in what fails.

use std::path::{Path, PathBuf};

use podrt_tests::build_static;
use podrt_tests::pods::{text, PodEnv};

/// The default capability set (containerd's and CRI-O's 14) as /proc shows it.
const DEFAULT_CAPS: &str = "00000000a80425fb";

/// Build the probe statically into the test's directory; the dir to mount.
fn probe_dir(env: &PodEnv) -> PathBuf {
    build_static(
        "tests/fixtures/probe/probe.c",
        &env.dir.join("probe"),
        "probe",
    )
}

/// A pod of two sleeping containers `a` and `b` with the probe at /probe;
/// `extra` is indented YAML added to each container.
fn pod(name: &str, probe: &Path, pod_extra: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
{pod_extra}  volumes:
  - name: probe
    hostPath: {{path: {probe}, type: Directory}}
  containers:
  - name: a
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{{name: probe, mountPath: /probe, readOnly: true}}]
{extra}  - name: b
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{{name: probe, mountPath: /probe, readOnly: true}}]
{extra}"#,
        probe = probe.display()
    )
}

/// Run the probe in container `c`: its one-word answer.
fn probe(env: &PodEnv, pod: &str, c: &str, op: &str, arg: &str) -> String {
    env.sh(pod, c, &format!("/probe/probe {op} {arg}"))
}

/// A line of the container's /proc/self/status, e.g. `CapEff`.
fn status(env: &PodEnv, pod: &str, c: &str, key: &str) -> String {
    env.sh(
        pod,
        c,
        &format!("grep '^{key}:' /proc/self/status | cut -f2"),
    )
}

/// Host PIDs of container `c` (from its cgroup).
fn host_pids(env: &PodEnv, pod: &str, c: &str) -> Vec<i32> {
    let cg = env.container_cgroup(pod, c);
    let procs = format!("/sys/fs/cgroup/pids{cg}/cgroup.procs");
    let procs = if Path::new(&procs).exists() {
        procs
    } else {
        format!("/sys/fs/cgroup{cg}/cgroup.procs")
    };
    std::fs::read_to_string(&procs)
        .unwrap_or_else(|e| panic!("read {procs}: {e}"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn a_default_pod_cannot_reach_past_its_containers() {
    let env = PodEnv::new();
    let dir = probe_dir(&env);
    env.apply(&pod("jail", &dir, "", ""));

    assert_eq!(
        probe(&env, "jail", "a", "mount-tmpfs", "/tmp"),
        "EPERM",
        "mount"
    );
    assert_eq!(probe(&env, "jail", "a", "reboot", ""), "EPERM", "reboot");
    assert_eq!(
        probe(&env, "jail", "a", "unshare-net", ""),
        "EPERM",
        "unshare -n"
    );
    assert_eq!(
        probe(&env, "jail", "a", "unshare-uts", ""),
        "EPERM",
        "unshare -u"
    );
    assert_eq!(
        probe(&env, "jail", "a", "setns-uts", "/proc/self/ns/uts"),
        "EPERM",
        "setns into a UTS namespace"
    );
    assert_eq!(
        probe(&env, "jail", "a", "init-module", "/probe/probe"),
        "EPERM",
        "finit_module"
    );
    assert_eq!(
        probe(&env, "jail", "a", "mknod-blk", "/tmp/loop0"),
        "EPERM",
        "mknod of a block device"
    );
    // busybox's own commands fail the same way.
    let (code, _, err) = env.exec("jail", "a", &["unshare", "-n", "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");

    // Container b's process: not in a's PID namespace (ESRCH), and ptrace is refused
    // before the kernel even looks (EPERM); b lives on.
    let b = host_pids(&env, "jail", "b");
    assert!(!b.is_empty(), "b has processes");
    assert_eq!(probe(&env, "jail", "a", "kill", &b[0].to_string()), "ESRCH");
    assert_eq!(
        probe(&env, "jail", "a", "ptrace", &b[0].to_string()),
        "EPERM"
    );
    assert_eq!(
        probe(&env, "jail", "a", "ptrace", "1"),
        "EPERM",
        "ptrace of its own PID 1"
    );
    assert_eq!(env.sh("jail", "b", "echo alive"), "alive");

    // Masked and read-only /proc paths, where this kernel has them.
    for masked in ["/proc/timer_list", "/proc/keys"] {
        assert!(
            Path::new(masked).exists(),
            "{masked} is missing on this host: the masked-path check has nothing to probe"
        );
        assert_eq!(
            probe(&env, "jail", "a", "read", masked),
            "empty",
            "{masked}"
        );
    }
    for masked in ["/proc/kcore", "/proc/sysrq-trigger"] {
        // Not on every kernel (not on these VMs); probed where they exist.
        if Path::new(masked).exists() {
            assert_ne!(probe(&env, "jail", "a", "write", masked), "ok", "{masked}");
        }
    }
    assert_eq!(
        probe(&env, "jail", "a", "write", "/proc/sys/kernel/domainname"),
        "EROFS",
        "/proc/sys is read-only"
    );
    assert_eq!(
        probe(&env, "jail", "a", "write", "/proc/sysrq-trigger"),
        if Path::new("/proc/sysrq-trigger").exists() {
            "EROFS"
        } else {
            "ENOENT"
        }
    );

    // The process's own view: 14 capabilities, no_new_privs, a seccomp filter.
    assert_eq!(status(&env, "jail", "a", "CapEff"), DEFAULT_CAPS);
    assert_eq!(status(&env, "jail", "a", "CapBnd"), DEFAULT_CAPS);
    assert_eq!(status(&env, "jail", "a", "NoNewPrivs"), "1");
    assert_eq!(status(&env, "jail", "a", "Seccomp"), "2");
}

#[test]
fn a_privileged_pod_can_mount_and_sees_the_hosts_devices() {
    let env = PodEnv::new();
    let dir = probe_dir(&env);
    let extra = "    securityContext: {privileged: true}\n";
    env.apply(&pod("root", &dir, "", extra));
    assert_eq!(probe(&env, "root", "a", "mount-tmpfs", "/tmp"), "ok");
    assert!(
        Path::new("/dev/loop-control").exists(),
        "host has /dev/loop-control"
    );
    let devices = env.sh("root", "a", "ls /dev");
    assert!(devices.contains("loop-control"), "{devices}");
    // The device cgroup lets it open a host device.
    assert_eq!(probe(&env, "root", "a", "read", "/dev/zero"), "data");
    assert_eq!(status(&env, "root", "a", "Seccomp"), "0");
    assert_eq!(status(&env, "root", "a", "NoNewPrivs"), "0");
    let host_caps = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapPrm:").map(|v| v.trim().to_string()))
        .unwrap();
    assert_eq!(
        status(&env, "root", "a", "CapEff"),
        host_caps,
        "every capability podrt has"
    );
    // Nothing masked, /sys writable.
    assert_eq!(probe(&env, "root", "a", "read", "/proc/timer_list"), "data");
    let sys = env.sh("root", "a", "grep ' /sys ' /proc/self/mounts");
    assert!(sys.contains(" rw,"), "{sys}");
}

#[test]
fn security_context_fields_show_in_the_container() {
    let env = PodEnv::new();
    let yaml = r#"apiVersion: v1
kind: Pod
metadata: {name: ctx}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], fsGroup: 2000}
  volumes:
  - name: scratch
    emptyDir: {}
  containers:
  - name: a
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
    securityContext:
      readOnlyRootFilesystem: true
      capabilities: {add: [net_admin], drop: [CAP_CHOWN]}
"#;
    env.apply(yaml);
    assert_eq!(env.sh("ctx", "a", "id -u"), "1000");
    assert_eq!(env.sh("ctx", "a", "id -g"), "3000");
    let groups = env.sh("ctx", "a", "id -G");
    for g in ["2000", "3000", "4000"] {
        assert!(groups.split(' ').any(|x| x == g), "group {g} in {groups}");
    }
    // fsGroup: the emptyDir is the group's, setgid, and a new file inherits it.
    assert_eq!(
        env.sh("ctx", "a", "stat -c '%g %A' /scratch"),
        "2000 drwxrwsrwx"
    );
    assert_eq!(
        env.sh("ctx", "a", "touch /scratch/f && stat -c %g /scratch/f"),
        "2000"
    );
    // readOnlyRootFilesystem.
    let (code, _, err) = env.exec("ctx", "a", &["touch", "/x"]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    // add NET_ADMIN (12), drop CHOWN (0): the bounding set shows it (a non-root
    // user's effective set is empty).
    let want = format!("{:016x}", (0xa80425fbu64 | 1 << 12) & !1);
    assert_eq!(status(&env, "ctx", "a", "CapBnd"), want);
    assert_eq!(status(&env, "ctx", "a", "CapEff"), "0000000000000000");
    assert_eq!(status(&env, "ctx", "a", "NoNewPrivs"), "1");
}

#[test]
fn run_as_non_root_refuses_a_root_image_and_leaves_nothing() {
    let env = PodEnv::new();
    let m = env.manifest(
        "nonroot",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#,
    );
    let out = env.podrt(&["apply", "-f", m.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("spec.securityContext.runAsNonRoot"), "{err}");
    assert!(err.contains("uid 0"), "{err}");
    // The reason kubelet would show in the container's status.
    assert!(err.contains("CreateContainerConfigError"), "{err}");
    env.assert_nothing_left();
    // With a non-root user it runs.
    let ok = std::fs::read_to_string(&m).unwrap().replace(
        "{runAsNonRoot: true}",
        "{runAsNonRoot: true, runAsUser: 65534}",
    );
    env.apply(&ok);
    assert_eq!(env.sh("nonroot", "c", "id -u"), "65534");
}

#[test]
fn seccomp_profiles_localhost_and_unconfined() {
    let mut env = PodEnv::new();
    let profiles = env.dir.join("seccomp");
    std::fs::create_dir_all(profiles.join("profiles")).unwrap();
    std::fs::write(
        profiles.join("profiles/deny-mkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    env.flags = vec![
        "--seccomp-profile-root".into(),
        profiles.display().to_string(),
    ];
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: profiles}
spec:
  containers:
  - name: local
    image: busybox
    command: [sleep, "3600"]
    securityContext:
      seccompProfile: {type: Localhost, localhostProfile: profiles/deny-mkdir.json}
  - name: open
    image: busybox
    command: [sleep, "3600"]
    securityContext:
      seccompProfile: {type: Unconfined}
"#,
    );
    let (code, _, err) = env.exec("profiles", "local", &["mkdir", "/tmp/d"]);
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(
        env.sh("profiles", "local", "touch /tmp/f && echo made"),
        "made"
    );
    assert_eq!(
        env.sh("profiles", "open", "mkdir /tmp/d && echo made"),
        "made"
    );
    assert_eq!(status(&env, "profiles", "open", "Seccomp"), "0");

    // A profile that is not there is refused with its field, and nothing is made.
    let m = env.manifest(
        "missing",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  securityContext:
    seccompProfile: {type: Localhost, localhostProfile: nope.json}
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#,
    );
    let out = env.podrt(&["apply", "-f", m.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("spec.securityContext.seccompProfile.localhostProfile")
            && err.contains("nope.json"),
        "{err}"
    );
    assert_eq!(env.pod_dirs().len(), 1, "only the first pod");
}

#[test]
fn namespaced_sysctls_are_set_and_others_refused() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: tuned}
spec:
  securityContext:
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "80"}]
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#,
    );
    assert_eq!(
        env.sh(
            "tuned",
            "c",
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"
        ),
        "80"
    );
    let m = env.manifest(
        "host",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hosty}
spec:
  securityContext:
    sysctls: [{name: kernel.panic, value: "1"}]
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#,
    );
    let out = env.podrt(&["apply", "-f", m.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("spec.securityContext.sysctls[0].name"),
        "{err}"
    );
    assert_eq!(env.pod_dirs().len(), 1);
}
