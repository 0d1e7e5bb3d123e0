//! A container gets no handle on the host through the runtime's own processes: a
//! `process.cwd` (a pod's `workingDir`) of `/proc/self/fd/N` never leads into a
//! directory that the runtime or its caller held open (the class of CVE-2024-21626),
//! and the process that `exec` starts in a container is never open to the container
//! as podrt through `/proc/<pid>/exe`, not even with the pod's supervisor gone (the
//! class of CVE-2019-5736).

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use podrt_sandbox::runtime::fault;
use podrt_tests::pods::{text, PodEnv};
use podrt_tests::*;
use serde_json::json;

/// The descriptor numbers tried in `/proc/self/fd/N`.
const FDS: std::ops::RangeInclusive<RawFd> = 3..=20;

/// The file in the host directory a test hands to podrt.
const MARKER: &str = "HOST-DIRECTORY-MARKER";

/// The container's process says where it stands: the names in its cwd, then
/// `INSIDE` if climbing `..` from there ends at its own root, `ESCAPED` if it ends
/// anywhere else (the host's root).
const WHERE_AM_I: &str = "ls -a; i=0; while [ $i -lt 64 ]; do cd -P .. || exit 9; i=$((i+1)); done; \
     if [ \"$(stat -c %d:%i .)\" = \"$(stat -c %d:%i /)\" ]; then echo INSIDE; else echo ESCAPED; fi";

/// A host directory holding [`MARKER`], open.
fn host_dir(test_dir: &Path) -> File {
    let dir = test_dir.join("host-dir");
    std::fs::create_dir_all(&dir).expect("create the host directory");
    std::fs::write(dir.join(MARKER), b"").expect("create the marker");
    File::open(&dir).expect("open the host directory")
}

/// Start `cmd` with `dir` as its descriptor `n`, without close-on-exec: what a caller
/// that forgot `O_CLOEXEC` hands to podrt without meaning to.
fn with_dir_as<'a>(cmd: &'a mut Command, dir: &File, n: RawFd) -> &'a mut Command {
    let fd = dir.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only calls dup2
    // and fcntl on descriptor numbers, both async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if fd != n && libc::dup2(fd, n) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(n, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The process with `cwd` either never started (an error naming process.cwd) or ran
/// inside its root; it never saw the host directory.
fn assert_not_on_host(what: &str, cwd: &str, out: &Output) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains(MARKER) && !stdout.contains("ESCAPED"),
        "{what}: the process started in a directory of the host:\n{stdout}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    if out.status.success() {
        assert!(stdout.contains("INSIDE"), "{what}: {stdout}{stderr}");
    } else {
        assert!(
            stderr.contains("process.cwd") && stderr.contains(cwd),
            "{what}: refused without naming process.cwd {cwd}: {stderr}"
        );
    }
}

/// No state or cgroup of container `id` is left.
fn assert_no_container(env: &Env, id: &str) {
    let list = text(&env.run(&["list", "-q"]).stdout);
    assert!(
        !list.lines().any(|l| l == id),
        "{id} left in the state root"
    );
    assert!(
        !cgroup_exists(&format!("/podrt-test/{id}")),
        "cgroup of {id} left"
    );
}

#[test]
fn a_directory_leaked_into_run_is_never_the_containers_cwd() {
    let env = Env::new();
    let dir = host_dir(&env.dir);
    for n in FDS {
        let id = env.id("cwd-leak");
        let cwd = format!("/proc/self/fd/{n}");
        let bundle = env.bundle(&id, |c| {
            args(c, &["sh", "-c", WHERE_AM_I]);
            c["process"]["cwd"] = json!(cwd);
        });
        let out = with_dir_as(
            env.runc()
                .args(["run", "--bundle", bundle.to_str().unwrap(), &id])
                .stdin(Stdio::null()),
            &dir,
            n,
        )
        .output()
        .expect("spawn podrt-runc run");
        assert_not_on_host(&format!("run, host directory as fd {n}"), &cwd, &out);
        assert_no_container(&env, &id);
    }
}

#[test]
fn a_directory_leaked_into_exec_is_never_the_processs_cwd() {
    let env = Env::new();
    let dir = host_dir(&env.dir);
    let id = env.id("exec-leak");
    let bundle = env.bundle(&id, |c| args(c, &["sleep", "300"]));
    env.create_detached(&id, &bundle, true);
    for n in FDS {
        let cwd = format!("/proc/self/fd/{n}");
        let out = with_dir_as(
            env.runc()
                .args(["exec", "--cwd", &cwd, &id, "sh", "-c", WHERE_AM_I])
                .stdin(Stdio::null()),
            &dir,
            n,
        )
        .output()
        .expect("spawn podrt-runc exec");
        assert_not_on_host(&format!("exec, host directory as fd {n}"), &cwd, &out);
    }
    assert_eq!(env.state(&id)["status"], "running");
}

/// A descriptor passed on on purpose (stdin, `--preserve-fds`) is still open when the
/// process changes into its cwd: the check that the cwd is inside the root refuses it.
#[test]
fn a_directory_passed_on_is_refused_as_cwd_by_run_and_exec() {
    let env = Env::new();
    let dir = host_dir(&env.dir);
    let refused = |what: &str, cwd: &str, out: &Output| {
        assert_not_on_host(what, cwd, out);
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && err.contains("outside the container's root"),
            "{what}: not refused as outside the root: {err}"
        );
    };
    // --preserve-fds 1 with the directory as descriptor 3.
    let id = env.id("cwd-preserved");
    let bundle = env.bundle(&id, |c| {
        args(c, &["sh", "-c", WHERE_AM_I]);
        c["process"]["cwd"] = json!("/proc/self/fd/3");
    });
    let out = with_dir_as(
        env.runc()
            .args(["run", "--preserve-fds", "1", "--bundle"])
            .args([bundle.to_str().unwrap(), &id])
            .stdin(Stdio::null()),
        &dir,
        3,
    )
    .output()
    .expect("spawn podrt-runc run");
    refused("run --preserve-fds 1", "/proc/self/fd/3", &out);
    assert_no_container(&env, &id);
    // The directory as stdin.
    let id = env.id("cwd-stdin");
    let bundle = env.bundle(&id, |c| {
        args(c, &["sh", "-c", WHERE_AM_I]);
        c["process"]["cwd"] = json!("/proc/self/fd/0");
    });
    let out = env
        .runc()
        .args(["run", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(dir.try_clone().expect("dup the directory"))
        .output()
        .expect("spawn podrt-runc run");
    refused("run with the directory as stdin", "/proc/self/fd/0", &out);
    assert_no_container(&env, &id);

    // The same two through exec.
    let id = env.id("exec-preserved");
    let bundle = env.bundle(&id, |c| args(c, &["sleep", "300"]));
    env.create_detached(&id, &bundle, true);
    let out = with_dir_as(
        env.runc()
            .args(["exec", "--preserve-fds", "1", "--cwd", "/proc/self/fd/3"])
            .args([&id, "sh", "-c", WHERE_AM_I])
            .stdin(Stdio::null()),
        &dir,
        3,
    )
    .output()
    .expect("spawn podrt-runc exec");
    refused("exec --preserve-fds 1", "/proc/self/fd/3", &out);
    let out = env
        .runc()
        .args([
            "exec",
            "--cwd",
            "/proc/self/fd/0",
            &id,
            "sh",
            "-c",
            WHERE_AM_I,
        ])
        .stdin(dir.try_clone().expect("dup the directory"))
        .output()
        .expect("spawn podrt-runc exec");
    refused("exec with the directory as stdin", "/proc/self/fd/0", &out);
    assert_eq!(env.state(&id)["status"], "running");
}

/// Apply pod `pod` whose container starts in `/proc/self/fd/{n}` and reports where
/// it stands into `out_dir`; `fault` is a test-only switch for podrt, if any.
fn assert_pod_not_on_host(env: &PodEnv, out_dir: &Path, pod: &str, n: RawFd, fault: Option<&str>) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}}}\nspec:\n  terminationGracePeriodSeconds: 0\n  volumes: [{{name: out, hostPath: {{path: {out}, type: Directory}}}}]\n  containers:\n  - name: c\n    image: busybox\n    workingDir: /proc/self/fd/{n}\n    command: [sh, -c, '({WHERE_AM_I}) > /out/{pod}.tmp; mv /out/{pod}.tmp /out/{pod}; sleep 3600']\n    volumeMounts: [{{name: out, mountPath: /out}}]\n",
        out = out_dir.display()
    );
    let file = env.manifest(pod, &yaml);
    let mut cmd = env.cmd();
    if let Some(f) = fault {
        podrt_tests::require_fault_injection();
        cmd.env(fault::VAR, f);
    }
    let out = cmd
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .expect("run podrt apply");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{pod}: {err}");
    if !out.status.success() {
        assert!(
            err.contains(&format!("process.cwd /proc/self/fd/{n}")),
            "{pod}: refused without naming its working directory: {err}"
        );
        env.assert_nothing_left();
        return;
    }
    let report = out_dir.join(pod);
    assert!(
        wait_until(10, || report.exists()),
        "{pod} started but never reported where it stands"
    );
    let said = std::fs::read_to_string(&report).expect("read the report");
    assert!(
        said.contains("INSIDE") && !said.contains("ESCAPED"),
        "{pod}: the container started in a directory of the host:\n{said}"
    );
    env.ok(&["delete", "pod", pod, "--grace-period=0", "--force"]);
}

/// The pod path holds no directory open when it starts a container (its supervisor
/// closes what it inherited); the second round makes the runtime hold one, through a
/// test-only switch, to prove that init would still not reach it.
#[test]
fn a_pod_whose_working_dir_is_a_descriptor_link_never_starts_on_the_host() {
    let env = PodEnv::new();
    let out_dir = env.dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    for n in FDS {
        assert_pod_not_on_host(&env, &out_dir, &format!("cwd-{n}"), n, None);
    }
    for n in FDS {
        let pod = format!("cwd-leaked-{n}");
        assert_pod_not_on_host(&env, &out_dir, &pod, n, Some(fault::LEAK_DIRECTORY));
    }
}

/// The catcher: forever looks through `/proc` for a process whose `exe` is not the
/// container's busybox, opens each such binary it can, and then keeps trying to
/// reopen it for writing through `/proc/self/fd` (without writing a byte), as the
/// CVE-2019-5736 exploit does. Everything it manages goes to `/report/log`.
const CATCHER: &str = r#"echo ready > /report/ready
seen=
while :; do
  for e in /proc/[0-9]*/exe; do
    p=${e#/proc/}; p=${p%/exe}
    case " $seen " in *" $p "*) continue;; esac
    t=$(readlink "$e" 2>/dev/null) || continue
    [ -z "$t" ] || [ "$t" = /bin/busybox ] && continue
    seen="$seen $p"
    ( exec 7<"$e" || exit 0
      echo "READ pid $p exe $t" >> /report/log
      i=0
      while [ $i -lt 100 ]; do
        if true 2>/dev/null >>/proc/self/fd/7; then echo "WRITABLE pid $p exe $t" >> /report/log; exit 0; fi
        sleep 0.1; i=$((i+1))
      done ) 2>/dev/null &
  done
  sleep 0.02
done"#;

/// PID of the pod's supervisor, if its record names one that is alive and ours.
fn live_supervisor(env: &PodEnv, pod: &str) -> Option<i32> {
    let pid = env.record(pod)["supervisor"]["pid"].as_i64()? as i32;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let dir = env.pod_dir(pod);
    let needle = dir.as_os_str().as_encoded_bytes();
    cmdline
        .windows(needle.len())
        .any(|w| w == needle)
        .then_some(pid)
}

#[test]
fn exec_never_lets_the_container_open_the_host_podrt_binary() {
    let mut env = PodEnv::new();
    // Everything in this test runs a private copy of podrt: whatever the container
    // manages to do to it, the built binary is safe, and no other test runs the copy
    // (which would keep it busy and hide a reopen for writing).
    let bin = env.dir.join("bin");
    std::fs::create_dir_all(&bin).expect("create the binary's directory");
    let podrt: PathBuf = bin.join("podrt");
    std::fs::copy(&env.podrt, &podrt).expect("copy podrt");
    let original = std::fs::read(&podrt).expect("read the copy of podrt");
    env.podrt = podrt.clone();

    let report = env.dir.join("report");
    std::fs::create_dir_all(&report).expect("create the report directory");
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: catch}}\nspec:\n  terminationGracePeriodSeconds: 0\n  volumes: [{{name: report, hostPath: {{path: {}, type: Directory}}}}]\n  containers:\n  - name: catcher\n    image: busybox\n    command: [sh, -c, {}]\n    volumeMounts: [{{name: report, mountPath: /report}}]\n",
        report.display(),
        json!(CATCHER)
    ));
    assert!(
        wait_until(10, || report.join("ready").exists()),
        "the catcher never started"
    );

    // With the supervisor gone, only `podrt exec` itself runs the binary, and only
    // while its command runs.
    podrt_tests::require_fault_injection();
    let mut killed = env.kill_supervisor("catch");
    let mut failed = None;
    for i in 0..3 {
        let out = env
            .cmd()
            .env(fault::VAR, fault::EXEC_PAUSE)
            .args(["exec", "catch", "-c", "catcher", "--", "true"])
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            // "Text file busy" here means the container holds the binary open for writing.
            Ok(out) => failed = Some(format!("exec #{i}: {}", text(&out.stderr))),
            Err(e) => failed = Some(format!("exec #{i}: running {}: {e}", podrt.display())),
        }
        if failed.is_some() {
            break;
        }
        // The exec took the pod over: its new supervisor would run the binary again.
        if wait_until(2, || {
            live_supervisor(&env, "catch").is_some_and(|p| p != killed)
        }) {
            killed = env.kill_supervisor("catch");
        }
    }
    // Time for the catcher to try its handles while nothing runs the binary.
    std::thread::sleep(Duration::from_secs(2));
    let caught = std::fs::read_to_string(report.join("log")).unwrap_or_default();
    assert!(
        caught.is_empty(),
        "a container process opened a host binary through /proc/<pid>/exe:\n{caught}{}",
        failed.as_deref().unwrap_or("")
    );
    assert_eq!(failed, None);
    assert!(
        std::fs::read(&podrt).expect("read the copy of podrt") == original,
        "the podrt binary changed"
    );
}
