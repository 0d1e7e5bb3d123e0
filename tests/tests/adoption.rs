//! A pod outlives its supervisor: SIGKILL it while the pod runs, and the containers
//! run on, their output waiting; the next podrt command says so in one line and a
//! new supervisor takes the pod over (found again by PID and start time), with what
//! the kernel still knows: restart counts kept, an exit nobody saw shown as
//! unknown. A deletion whose deleter, supervisor and terminator were all killed is
//! carried on by the next command with the whole grace period again.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use serde_json::Value;

fn status<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no status of {name}: {pod}"))
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn a_pod_whose_supervisor_died_is_taken_over_by_the_next_command() {
    take_over(false);
}

/// The same under a subreaper that reaps the orphaned containers the moment they
/// end, as a host's init does: nobody can know how the unseen one ended.
#[test]
fn an_exit_nobody_saw_is_shown_as_unknown() {
    take_over(true);
}

/// The test reaper, killed when the test ends, passed or not.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Who applies the pod: podrt directly, or podrt under the test reaper (then the
/// supervisor, and after it the containers, are the reaper's).
fn apply_orphan(env: &PodEnv, yaml: &str, under_reaper: bool) -> Option<Reaper> {
    if !under_reaper {
        env.apply(yaml);
        return None;
    }
    let file = env.manifest("orphan", yaml);
    let podrt = env.cmd();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_podrt-test-reaper"));
    cmd.arg(podrt.get_program())
        .args(podrt.get_args())
        .args(["apply", "-f", file.to_str().expect("utf-8 path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in podrt.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    // The reaper, and podrt under it, in the test's own network namespace (what
    // env.cmd() does is not carried by the program, arguments and environment).
    env.host.enter(&mut cmd);
    let mut reaper = Reaper(cmd.spawn().expect("spawn the test reaper"));
    let mut out = std::io::BufReader::new(reaper.0.stdout.take().expect("stdout"));
    let mut said = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut out, &mut line).expect("read the reaper");
        said.push_str(&line);
        if n == 0 || line.starts_with("exit ") {
            break;
        }
    }
    assert!(said.contains("exit 0"), "apply under the reaper: {said}");
    Some(reaper)
}

fn take_over(under_reaper: bool) {
    let env = PodEnv::new();
    // talker writes all the time (with pipes to a dead supervisor it would die of
    // SIGPIPE); quitter's first run ends while no supervisor watches, its second
    // runs on.
    let reaper = apply_orphan(
        &env,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: orphan}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes: [{name: v, emptyDir: {}}]\n  containers:\n  - {name: talker, image: busybox, command: [sh, -c, \"i=0; while true; do echo line $i; i=$((i+1)); sleep 0.02; done\"]}\n  - name: quitter\n    image: busybox\n    command: [sh, -c, \"if [ -e /v/once ]; then exec sleep 3600; fi; touch /v/once; while [ ! -e /v/stop ]; do sleep 0.02; done; exit 3\"]\n    volumeMounts: [{name: v, mountPath: /v}]\n",
        under_reaper,
    );
    let talker = env.container_pid("orphan", "talker");
    let quitter = env.container_pid("orphan", "quitter");
    // The supervisor in its steady state first (its startup work done, talker's
    // first lines logged): a SIGKILL between its read of a chunk and its write
    // loses that chunk, a window far wider while it is still busy starting the
    // pod than when it only copies output.
    assert!(
        wait_until(10, || env
            .podrt(&["logs", "orphan", "-c", "talker"])
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
            >= 3),
        "talker's first lines never reached its log"
    );
    let old = env.kill_supervisor("orphan");

    // No podrt command runs now: nobody supervises the pod. (A fixed time on
    // purpose: what is tested is that the pod runs on unsupervised meanwhile.)
    std::thread::sleep(Duration::from_millis(300));
    let volume = env.pod_dir("orphan").join("volumes/v");
    std::fs::write(volume.join("stop"), b"").expect("create /v/stop");
    assert!(wait_until(5, || !alive(quitter)), "quitter did not end");
    // A fixed time on purpose: talker must not die during it (of SIGPIPE, say).
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(talker), "talker died without its supervisor");

    let out = env.podrt(&["get", "pods"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("pod orphan: its supervisor (pid {old}) was gone"))
            && err.contains("took over its 1 running container(s)")
            && err.contains("1 had ended meanwhile"),
        "{err}"
    );
    // quitter's new parent (init, here) may not have reaped it yet: then the
    // kernel still shows its exit status; else nobody knows it.
    let unknown = err.contains("(1 with exit status unknown)");
    if under_reaper {
        assert!(unknown, "the reaper reaped quitter, yet: {err}");
    }
    let new = env.record("orphan")["supervisor"]["pid"]
        .as_i64()
        .expect("a new supervisor is recorded") as i32;
    assert_ne!(new, old);
    assert!(alive(new), "the new supervisor {new} is not running");

    // talker is the same process, never restarted, and nothing it wrote while
    // unsupervised was lost: its log counts on without a gap.
    let pod = env.pod_json("orphan");
    let t = status(&pod, "talker");
    assert_eq!(t["restartCount"], 0, "{t}");
    assert!(t["state"]["running"].is_object(), "{t}");
    assert!(alive(talker) && env.container_pid("orphan", "talker") == talker);
    // The new supervisor drains what talker wrote meanwhile into the log in its own
    // time, and talker's pace depends on the machine's load: read until enough came.
    let numbers = |log: &str| -> Vec<u64> {
        log.lines()
            .filter_map(|l| l.strip_prefix("line ")?.trim().parse().ok())
            .collect()
    };
    let mut log = String::new();
    wait_until(10, || {
        log = env.ok(&["logs", "orphan", "-c", "talker"]);
        numbers(&log).len() > 30
    });
    let numbers = numbers(&log);
    assert!(numbers.len() > 30, "too few lines: {log}");
    for (i, n) in numbers.iter().enumerate() {
        assert_eq!(*n, i as u64, "a gap in talker's log at line {i}: {log}");
    }

    // quitter ended unseen: restarted (restartPolicy Always); its last state has
    // the exit status the kernel showed, or says it is unknown; none is made up.
    let pod = wait_for(&env, "orphan", |p| {
        status(p, "quitter")["state"]["running"].is_object()
    });
    let q = status(&pod, "quitter");
    assert_eq!(q["restartCount"], 1, "{q}");
    let last = &q["lastState"]["terminated"];
    let described = env.ok(&["describe", "pod", "orphan"]);
    let exit_line = described
        .lines()
        .find(|l| l.contains("Exit Code:"))
        .unwrap_or_else(|| panic!("no exit code: {described}"))
        .to_string();
    if unknown {
        assert_eq!(last["reason"], "ContainerStatusUnknown", "{q}");
        assert_eq!(last["exitCode"], -1, "{q}");
        let message = last["message"].as_str().unwrap_or_default();
        assert!(message.contains("unknown"), "{q}");
        assert!(exit_line.contains("unknown"), "{described}");
    } else {
        assert_eq!(last["reason"], "Error", "{q}");
        assert_eq!(last["exitCode"], 3, "{q}");
        assert!(exit_line.trim_end().ends_with('3'), "{described}");
    }
    println!(
        "quitter's unseen exit: {}",
        if unknown {
            "unknown"
        } else {
            "read from its zombie"
        }
    );

    // The new supervisor restarts what ends from now on: talker, killed.
    // SAFETY: kill of a container process this test's pod runs, by its PID.
    unsafe { libc::kill(talker, libc::SIGKILL) };
    let pod = wait_for(&env, "orphan", |p| {
        let t = status(p, "talker");
        t["restartCount"] == 1 && t["state"]["running"].is_object()
    });
    assert!(status(&pod, "talker")["lastState"]["terminated"].is_object());
    let log = env.ok(&["logs", "orphan", "-c", "talker"]);
    assert!(log.lines().filter(|l| *l == "line 0").count() >= 2, "{log}");

    // Taken over once: the next command is quiet; delete removes it all.
    let out = env.podrt(&["get", "pods"]);
    assert_eq!(text(&out.stderr), "", "a second takeover");
    assert_eq!(env.ok(&["gc"]).trim(), "nothing to remove");
    env.ok(&["delete", "pod", "orphan"]);
    assert!(
        wait_until(5, || !alive(new)),
        "the new supervisor outlived its pod"
    );
    env.assert_nothing_left();
    drop(reaper);
}

/// `get pod -o json` until `ok` holds (10 s at most).
fn wait_for(env: &PodEnv, pod: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = env.pod_json(pod);
        if ok(&p) || Instant::now() > deadline {
            assert!(ok(&p), "never came: {p}");
            return p;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PIDs of `pid`'s children.
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn a_deletion_whose_processes_all_died_is_carried_on_with_the_whole_grace_period() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, \"trap '' TERM; while true; do sleep 0.1; done\"]}\n",
    );
    let container = env.container_pid("stubborn", "c");
    let supervisor = env.record("stubborn")["supervisor"]["pid"]
        .as_i64()
        .expect("supervisor") as i32;
    let before = children(supervisor);
    let mut delete = env.cmd();
    delete
        .args(["delete", "pod", "stubborn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut delete = delete.spawn().expect("spawn podrt delete");
    // The supervisor starts its terminator when the delete asks.
    let mut terminator = None;
    assert!(
        wait_until(5, || {
            terminator = children(supervisor)
                .into_iter()
                .find(|p| !before.contains(p) && *p != container);
            terminator.is_some()
        }),
        "no terminator started"
    );
    // Kill everything that carries the deletion: the command, the supervisor and
    // its terminator (all started by this test's podrt).
    let _ = delete.kill();
    let _ = delete.wait();
    for pid in [supervisor, terminator.expect("terminator")] {
        // SAFETY: kill of a process this test's podrt started, by its PID.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(wait_until(5, || !alive(supervisor)));
    assert!(alive(container), "the container ignores SIGTERM");
    assert_eq!(env.record("stubborn")["stage"], "deleting");

    let started = Instant::now();
    let out = env.podrt(&["get", "pods"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("pod stubborn: its deletion was interrupted; carrying it on")
            && err.contains("2s grace period"),
        "{err}"
    );
    assert!(
        text(&out.stdout).contains("Terminating"),
        "{}",
        text(&out.stdout)
    );
    // One carrier: the next command sees the deletion under way.
    let again = env.podrt(&["get", "pods"]);
    assert_eq!(text(&again.stderr), "", "a second carrier");

    assert!(
        wait_until(15, || !Path::new(&env.root.join("pods")).exists()
            || env.pod_dirs().is_empty()),
        "the pod was not removed"
    );
    let took = started.elapsed();
    // Only SIGKILL at the end of a new grace period stops the container.
    assert!(
        took >= Duration::from_secs(2),
        "removed after {took:?}: no grace period"
    );
    assert!(!alive(container));
    env.assert_nothing_left();
}

#[test]
fn a_pod_that_has_finished_needs_no_new_supervisor() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: done}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, command: [\"true\"]}\n",
    );
    let supervisor = env.record("done")["supervisor"]["pid"]
        .as_i64()
        .expect("supervisor") as i32;
    // Its only container ends and will never run again: the supervisor's work
    // is over and it exits by itself.
    assert!(
        wait_until(10, || !alive(supervisor)),
        "the supervisor of a finished pod did not exit"
    );
    for _ in 0..2 {
        let out = env.podrt(&["get", "pods"]);
        assert_eq!(text(&out.stderr), "", "a finished pod was taken over");
        assert!(
            text(&out.stdout).contains("Completed"),
            "{}",
            text(&out.stdout)
        );
    }
    assert_eq!(
        env.record("done")["supervisor"]["pid"].as_i64(),
        Some(supervisor as i64),
        "a new supervisor was recorded"
    );
    env.ok(&["delete", "pod", "done"]);
    env.assert_nothing_left();
}

#[test]
fn a_delete_goes_on_when_only_the_supervisor_dies() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: halfway}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, \"trap '' TERM; while true; do sleep 0.1; done\"]}\n",
    );
    let container = env.container_pid("halfway", "c");
    let supervisor = env.record("halfway")["supervisor"]["pid"]
        .as_i64()
        .expect("supervisor") as i32;
    let before = children(supervisor);
    let started = Instant::now();
    let mut delete = env.cmd();
    delete
        .args(["delete", "pod", "halfway"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let delete = delete.spawn().expect("spawn podrt delete");
    assert!(
        wait_until(5, || env.record("halfway")["stage"] == "deleting"),
        "the delete did not begin"
    );
    // The stage is saved before the delete asks the supervisor: wait until the
    // supervisor has started its terminator, which carries the deletion on.
    assert!(
        wait_until(5, || children(supervisor)
            .into_iter()
            .any(|p| !before.contains(&p) && p != container)),
        "no terminator started"
    );
    // SAFETY: kill of the supervisor this test's podrt started, by its PID.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    // The delete and the terminator go on: no other command steps in.
    let out = env.podrt(&["get", "pods"]);
    assert_eq!(text(&out.stderr), "", "a second carrier");
    assert!(
        text(&out.stdout).contains("Terminating"),
        "{}",
        text(&out.stdout)
    );
    let out = delete.wait_with_output().expect("wait for delete");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "deleted after {took:?}: no grace period"
    );
    assert!(!alive(container));
    env.assert_nothing_left();
}

#[test]
fn a_pod_that_cannot_be_taken_over_says_why_and_still_deletes() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: lost}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n",
    );
    env.kill_supervisor("lost");
    let plan = env.pod_dir("lost").join("supervisor.json");
    std::fs::remove_file(&plan).expect("remove the plan");
    let out = env.podrt(&["get", "pods"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("taking over pod lost from its dead supervisor")
            && err.contains("supervisor.json"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    env.ok(&["delete", "pod", "lost"]);
    env.assert_nothing_left();
}

/// The supervisors running for the pod at `dir` (their command lines name it).
fn supervisors_of(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes().to_vec();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) == Some(&&b"__podrt-supervise"[..])
            && args.get(2) == Some(&&needle[..])
            && alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn commands_taking_over_at_once_leave_one_supervisor() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: contested}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n",
    );
    let dir = env.pod_dir("contested");
    let old = env.kill_supervisor("contested");
    let commands: Vec<_> = (0..4)
        .map(|_| {
            let mut c = env.cmd();
            c.args(["get", "pods"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            c.spawn().expect("spawn podrt get pods")
        })
        .collect();
    let said: Vec<String> = commands
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for podrt get pods");
            assert!(out.status.success(), "{}", text(&out.stderr));
            text(&out.stderr)
        })
        .collect();
    let took: Vec<&String> = said.iter().filter(|s| s.contains("took over")).collect();
    assert_eq!(took.len(), 1, "one takeover is reported: {said:?}");
    assert!(
        took[0].contains(&format!("(pid {old}) was gone")),
        "{said:?}"
    );
    let recorded = env.record("contested")["supervisor"]["pid"]
        .as_i64()
        .expect("a supervisor is recorded") as i32;
    assert!(
        wait_until(5, || supervisors_of(&dir) == vec![recorded]),
        "supervisors running: {:?}, recorded: {recorded}",
        supervisors_of(&dir)
    );
    assert_eq!(text(&env.podrt(&["get", "pods"]).stderr), "");
    env.ok(&["delete", "pod", "contested"]);
    env.assert_nothing_left();
}

/// Linux 6.15 or later keeps a reaped process's exit status with its pidfd.
fn pidfd_keeps_exit_status() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (nums.next().unwrap_or(0), nums.next().unwrap_or(0)) >= (6, 15)
}

/// A container taken over that then ends, under a subreaper that reaps it at once:
/// its exit status comes from the pidfd where the kernel keeps it (else it is
/// unknown), what it wrote while unsupervised is logged, and the supervisor
/// finishes although the container had closed its stdout before the takeover (a
/// FIFO reopened without a writer never reports end of file). (What is written to
/// a FIFO and then closed by its last holder while nobody reads is gone: the
/// kernel frees a pipe's buffer with its last descriptor.)
#[test]
fn an_exit_after_the_takeover_is_seen_and_its_output_kept() {
    let env = PodEnv::new();
    let reaper = apply_orphan(
        &env,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: orphan}\nspec:\n  restartPolicy: Never\n  volumes: [{name: v, emptyDir: {}}]\n  containers:\n  - name: c\n    image: busybox\n    command: [sh, -c, \"while [ ! -e /v/go ]; do sleep 0.02; done; echo unseen >&2; exec 1>&-; while [ ! -e /v/stop ]; do sleep 0.02; done; echo bye >&2; exit 3\"]\n    volumeMounts: [{name: v, mountPath: /v}]\n",
        true,
    );
    let volume = env.pod_dir("orphan").join("volumes/v");
    let container = env.container_pid("orphan", "c");
    env.kill_supervisor("orphan");
    std::fs::write(volume.join("go"), b"").expect("create /v/go");
    // The takeover comes after the container has written "unseen" and closed its
    // stdout.
    let stdout = format!("/proc/{container}/fd/1");
    assert!(
        wait_until(5, || std::fs::symlink_metadata(&stdout).is_err()),
        "the container did not close its stdout"
    );
    let out = env.podrt(&["get", "pods"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("took over its 1 running container(s)"),
        "{err}"
    );
    let new = env.record("orphan")["supervisor"]["pid"]
        .as_i64()
        .expect("a new supervisor is recorded") as i32;

    std::fs::write(volume.join("stop"), b"").expect("create /v/stop");
    assert!(
        wait_until(10, || !alive(new)),
        "the new supervisor did not finish after the pod's only container ended"
    );
    assert!(env.pod_dir("orphan").join("supervisor.done").exists());
    let pod = env.pod_json("orphan");
    let t = &status(&pod, "c")["state"]["terminated"];
    if pidfd_keeps_exit_status() {
        assert_eq!(t["exitCode"], 3, "{pod}");
        assert_eq!(t["reason"], "Error", "{pod}");
    } else {
        assert_eq!(t["reason"], "ContainerStatusUnknown", "{pod}");
        assert_eq!(t["exitCode"], -1, "{pod}");
    }
    let log = env.ok(&["logs", "orphan"]);
    assert!(
        log.lines().any(|l| l == "unseen") && log.lines().any(|l| l == "bye"),
        "{log}"
    );
    assert_eq!(text(&env.podrt(&["get", "pods"]).stderr), "");
    env.ok(&["delete", "pod", "orphan"]);
    env.assert_nothing_left();
    drop(reaper);
}

/// A delete of a pod whose supervisor died removes it without first starting a
/// new supervisor for it, whether the pod is named or in the -f file.
#[test]
fn a_delete_takes_over_nothing_it_deletes() {
    let env = PodEnv::new();
    let yaml = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {{name: c, image: busybox, command: [sleep, \"3600\"]}}\n")
    };
    env.apply(&yaml("named"));
    env.apply(&yaml("filed"));
    let file = env.manifest("filed", &yaml("filed"));
    for (pod, args) in [
        ("named", vec!["delete", "pod", "named"]),
        (
            "filed",
            vec!["delete", "-f", file.to_str().expect("utf-8 path")],
        ),
    ] {
        env.kill_supervisor(pod);
        let out = env.podrt(&args);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            !err.contains("took over"),
            "{args:?} took a pod over: {err}"
        );
    }
    env.assert_nothing_left();
}
