//! `/proc` tricks from inside a pod, tried as an attacker would: with
//! `shareProcessNamespace: true` every container sees podrt's pod init as its PID 1,
//! and a container granted CAP_SYS_PTRACE (not privileged) may follow
//! `/proc/1/{root,cwd,exe,fd}` and read `/proc/1/environ`. Neither it nor a default
//! container may reach the host's files, the pod's control socket, the environment
//! of whoever ran `podrt apply`, or a writable podrt binary that way; and no
//! container holds a descriptor of podrt's.

use podrt_tests::pods::PodEnv;

const SECRET: &str = "HOST SECRET of the test";

/// Two sleeping containers in one PID namespace: `plain` with the default
/// capabilities, `tracer` with CAP_SYS_PTRACE added.
const SHARED: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  shareProcessNamespace: true
  containers:
  - name: plain
    image: busybox
    command: [sleep, "3600"]
  - name: tracer
    image: busybox
    command: [sleep, "3600"]
    securityContext: {capabilities: {add: [SYS_PTRACE]}}
"#;

/// Run `script` in `container` of pod `shared`; (exit code, stdout + stderr).
fn run(env: &PodEnv, container: &str, script: &str) -> (i32, String) {
    let (code, out, err) = env.exec("shared", container, &["sh", "-c", script]);
    (code, format!("{out}{err}"))
}

/// The pod init's host PID, from the pod's record.
fn pod_init_pid(env: &PodEnv) -> i32 {
    env.record("shared")["podInit"]["pid"]
        .as_i64()
        .expect("a pod with shareProcessNamespace records its init") as i32
}

#[test]
fn a_shared_pid_1_leads_no_container_to_the_host() {
    let env = PodEnv::new();
    let marker = env.dir.join("host-marker");
    std::fs::write(&marker, SECRET).expect("write the marker");
    env.apply(SHARED);
    let marker = marker.display().to_string();
    let socket = env.pod_dir("shared").join("supervisor.sock");
    assert!(
        std::fs::symlink_metadata(&socket).is_ok(),
        "the control socket {} exists on the host, so its absence below means something",
        socket.display()
    );
    let socket = socket.display().to_string();
    let ps = run(&env, "tracer", "ps -o pid,args").1;
    assert!(
        ps.lines()
            .any(|l| l.trim().starts_with("1 ") && l.contains("podrt-pod-init")),
        "the containers' PID 1 is podrt's pod init:\n{ps}"
    );

    // The tracer may follow PID 1's links: they must lead to nothing of the host.
    for path in [
        format!("/proc/1/root{marker}"),
        format!("/proc/1/cwd{marker}"),
        format!("/proc/1/root/../../..{marker}"),
    ] {
        let (code, out) = run(&env, "tracer", &format!("cat {path}"));
        assert!(
            code != 0 && !out.contains(SECRET),
            "a CAP_SYS_PTRACE container read the host file {marker} as {path} ({code}): {out}"
        );
    }
    for dir in ["/proc/1/root/", "/proc/1/root/../", "/proc/1/cwd/"] {
        let (code, out) = run(&env, "tracer", &format!("ls -A {dir}"));
        assert_eq!(
            (code, out.trim()),
            (0, ""),
            "PID 1's {dir} must be an empty directory, not the host's"
        );
    }
    let (code, out) = run(
        &env,
        "tracer",
        &format!("test -e /proc/1/root{socket} || test -e /proc/1/cwd{socket}"),
    );
    assert_ne!(code, 0, "the control socket is reachable: {out}");
    let (code, out) = run(&env, "tracer", "wc -c < /proc/1/environ");
    assert_eq!(
        (code, out.trim()),
        (0, "0"),
        "PID 1 shows no environment (podrt apply's would be on show)"
    );
    let (code, fds) = run(&env, "tracer", "ls -l /proc/1/fd/");
    assert_eq!(code, 0, "{fds}");
    let links: Vec<&str> = fds.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(
        links.len() == 3 && links.iter().all(|l| l.ends_with("/null")),
        "PID 1 holds only /dev/null on 0, 1 and 2:\n{fds}"
    );
    let (_, status) = run(
        &env,
        "tracer",
        "grep -E '^(CapPrm|CapBnd|NoNewPrivs)' /proc/1/status",
    );
    for want in [
        "CapPrm:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
    ] {
        assert!(status.contains(want), "PID 1 has {want}:\n{status}");
    }

    // A default container has no CAP_SYS_PTRACE; PID 1 being non-dumpable is what
    // keeps it out now that PID 1 holds no capabilities of its own.
    for probe in [
        "ls /proc/1/root/",
        "cat /proc/1/exe >/dev/null",
        "cat /proc/1/environ",
        "cat /proc/1/fd/0",
    ] {
        let (code, out) = run(&env, "plain", probe);
        assert!(
            code != 0 && out.contains("ermission denied"),
            "a default container ran `{probe}` on PID 1 ({code}): {out}"
        );
    }

    // From the host: the init's binary is read-only however it is reopened, its
    // mount namespace holds only its empty root, and it is in the pod's network.
    let pid = pod_init_pid(&env);
    // While it runs, a write open fails with ETXTBSY; the read-only mount is what
    // holds once nothing runs the binary and a handle smuggled out is reopened.
    let exe = format!("/proc/{pid}/exe");
    let fs = nix::sys::statvfs::statvfs(exe.as_str()).expect("statvfs of the init's binary");
    assert!(
        fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "{exe} is on a writable mount: {:?}",
        fs.flags()
    );
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    assert!(
        mounts.lines().count() == 1 && mounts.contains(" / / ro,") && mounts.contains("tmpfs"),
        "the pod init sees one mount, its empty read-only root:\n{mounts}"
    );
    let cpid = env.container_pid("shared", "plain");
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/net")).expect("ns/net");
    assert_eq!(
        ns(pid),
        ns(cpid),
        "the pod init is in the pod's network namespace"
    );
}

/// No process a container can see holds a directory of the host open (the
/// CVE-2024-21626 shape: a leaked directory descriptor is a way out through
/// `/proc/<pid>/fd/N/..`), the control socket or a terminal. A container's own
/// stdout and stderr are FIFOs in the pod's directory: those it may hold.
#[test]
fn no_container_holds_a_descriptor_of_podrts() {
    let env = PodEnv::new();
    env.apply(SHARED);
    for c in ["plain", "tracer"] {
        let (code, out) = run(
            &env,
            c,
            "for f in /proc/[0-9]*/fd/*; do t=$(readlink $f) || continue; \
             if test -d $f; then echo \"$f $t DIR\"; else echo \"$f $t\"; fi; done",
        );
        assert_eq!(code, 0, "{out}");
        let bad: Vec<&str> = out
            .lines()
            .filter(|l| {
                let own = l
                    .split(' ')
                    .next()
                    .is_some_and(|f| f.starts_with("/proc/self/"));
                !own && (l.ends_with(" DIR")
                    || l.contains("supervisor.sock")
                    || l.contains("pod.json")
                    || l.contains("/dev/pts"))
            })
            .collect();
        assert!(
            bad.is_empty(),
            "{c} sees descriptors of podrt's: {bad:?}\n{out}"
        );
    }
}
