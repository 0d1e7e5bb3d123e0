//! Killing a pod's creation at different points: `podrt apply` and the pod's
//! supervisor are SIGKILLed at measured delays after the supervisor appears in
//! the pod's record. Afterwards the pod either exists and runs (the kill came
//! after it was made), or `podrt gc` removes every trace of it: no pod
//! directory, mount, cgroup, veth or lease. Nothing half-made is ever shown as
//! Running.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;

/// The supervisor PID recorded in the only pod's record, once it is there.
fn supervisor_pid(env: &PodEnv, deadline: Instant) -> Option<i32> {
    while Instant::now() < deadline {
        for dir in env.pod_dirs() {
            let Ok(t) = std::fs::read_to_string(dir.join("pod.json")) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) else {
                continue;
            };
            if let Some(pid) = v["supervisor"]["pid"].as_i64() {
                return Some(pid as i32);
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    None
}

/// The podrt processes still at work on a pod under `env`'s root once its apply
/// and supervisor are killed: container creators and supervisors (both name the
/// pod's directory in their command line), and forks of podrt that have not exec'd
/// their role yet (they still show the command line, with `--root`, of the podrt
/// they came from). The pod's PID 1 lives on and is not counted.
fn at_work(env: &PodEnv) -> Vec<i32> {
    let root = env.root.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // A zombie's command line reads empty.
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let role = args.get(1).copied().unwrap_or_default();
        let role_here = (role == b"__podrt-create" || role == b"__podrt-supervise")
            && args.get(2).is_some_and(|dir| dir.starts_with(root));
        // A fork that has not exec'd its role yet still shows the command line of
        // the podrt it was forked from, which names this test's root.
        let forked_here =
            args.first().is_some_and(|a| a.ends_with(b"podrt")) && args.contains(&root);
        if role_here || forked_here {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_creation_killed_at_any_point_is_whole_or_gone_after_gc() {
    let env = PodEnv::new();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: victim}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes: [{name: v, emptyDir: {}}]\n  initContainers:\n  - {name: init, image: busybox, command: [\"true\"]}\n  containers:\n  - {name: a, image: busybox, command: [sleep, \"3600\"], volumeMounts: [{name: v, mountPath: /v}]}\n  - {name: b, image: busybox, command: [sleep, \"3600\"]}\n";
    let file = env.manifest("victim", yaml);
    let mut outcomes = Vec::new();
    for delay_ms in [0u64, 2, 5, 10, 20, 40, 80, 160, 320] {
        let mut apply = env.cmd();
        apply
            .args(["apply", "-f", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = apply.spawn().expect("spawn podrt apply");
        let supervisor = supervisor_pid(&env, Instant::now() + Duration::from_secs(10));
        if supervisor.is_none() {
            let out = child.wait_with_output().expect("wait for apply");
            panic!("no supervisor appeared: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        if let Some(pid) = supervisor {
            // SAFETY: kill of the supervisor this test's podrt started, by its PID.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
        // What the supervisor had started goes on a moment (a container creator).
        assert!(
            wait_until(10, || at_work(&env).is_empty()),
            "delay {delay_ms} ms: podrt processes still at work on the pod: {:?}",
            at_work(&env)
        );

        let listed = text(&env.podrt(&["get", "pods"]).stdout);
        let gc = env.ok(&["gc"]);
        let exists = env.podrt(&["get", "pod", "victim"]).status.success();
        if exists {
            // The kill came after the pod was made: it runs, and goes cleanly.
            let phase = env.pod_json("victim")["status"]["phase"].clone();
            assert_eq!(phase, "Running", "delay {delay_ms} ms: {listed}\n{gc}");
            let (code, out, _) = env.exec("victim", "a", &["ls", "/v"]);
            assert_eq!(code, 0, "delay {delay_ms} ms: {out}");
            env.ok(&["delete", "pod", "victim", "--grace-period=0", "--force"]);
            outcomes.push(format!("{delay_ms} ms: whole"));
        } else {
            assert!(
                !listed.contains("Running"),
                "delay {delay_ms} ms: a half-made pod was shown as Running: {listed}"
            );
            assert!(
                !listed.contains("victim")
                    || listed.contains("CreationInterrupted")
                    || listed.contains("Init:"),
                "delay {delay_ms} ms: {listed}"
            );
            outcomes.push(format!(
                "{delay_ms} ms: removed by gc ({})",
                gc.lines().count()
            ));
        }
        env.assert_nothing_left();
        let leases = env.root.join("cni/networks/podrt");
        let left = std::fs::read_dir(&leases)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(
            left,
            0,
            "delay {delay_ms} ms: leases left in {}",
            leases.display()
        );
        assert!(!Path::new(&env.root.join("pods")).exists() || env.pod_dirs().is_empty());
    }
    println!("{}", outcomes.join("\n"));
}

#[test]
fn a_pod_whose_supervisor_died_is_reported_and_deletes_cleanly() {
    let env = PodEnv::new();
    env.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: orphan}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n");
    let pid = env.kill_supervisor("orphan");
    let out = env.podrt(&["get", "pods"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("pod orphan: its supervisor") && err.contains(&format!("pid {pid}")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // gc leaves a made pod alone; delete removes it all.
    assert_eq!(env.ok(&["gc"]).trim(), "nothing to remove");
    assert!(text(&env.podrt(&["get", "pods"]).stdout).contains("orphan"));
    env.ok(&["delete", "pod", "orphan"]);
    env.assert_nothing_left();
}
