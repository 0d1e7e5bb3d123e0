//! A pod's life as the supervisor runs it: init containers in order, restart
//! policies with back-off, how containers end (OOMKilled), as `get pods` shows it.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use serde_json::Value;

fn status<'a>(pod: &'a Value, list: &str, name: &str) -> &'a Value {
    pod["status"][list]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

fn row(env: &PodEnv, pod: &str) -> String {
    env.ok(&["get", "pods"])
        .lines()
        .find(|l| l.starts_with(&format!("{pod} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn init_containers_run_in_order_before_the_app() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  initContainers:
  - {name: one, image: busybox, command: [sh, -c, "echo one >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  - {name: two, image: busybox, command: [sh, -c, "sleep 0.3; echo two >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  - {name: three, image: busybox, command: [sh, -c, "echo three >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  containers:
  - {name: app, image: busybox, command: [sh, -c, "echo app >> /work/order; cat /work/order; exec sleep 3600"], volumeMounts: [{name: w, mountPath: /work}]}
  volumes: [{name: w, emptyDir: {}}]
"#,
    );
    // apply returned once the first init container started; the app waits.
    assert!(wait_until(10, || text(
        &env.podrt(&["logs", "ordered", "-c", "app"]).stdout
    )
    .contains("app")));
    assert_eq!(
        env.ok(&["logs", "ordered", "-c", "app"]),
        "one\ntwo\nthree\napp\n"
    );
    let v = env.pod_json("ordered");
    for name in ["one", "two", "three"] {
        let t = &status(&v, "initContainerStatuses", name)["state"]["terminated"];
        assert_eq!(t["exitCode"], 0, "{name}: {t}");
        assert_eq!(t["reason"], "Completed");
    }
    assert!(row(&env, "ordered").contains("Running"));
}

#[test]
fn a_failed_init_container_under_never_fails_the_pod() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: initfail}
spec:
  restartPolicy: Never
  initContainers:
  - {name: one, image: busybox, command: [sh, -c, "echo one >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  - {name: two, image: busybox, command: [sh, -c, "echo two >> /work/order; exit 4"], volumeMounts: [{name: w, mountPath: /work}]}
  - {name: three, image: busybox, command: [sh, -c, "echo three >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  containers:
  - {name: app, image: busybox, command: [sh, -c, "echo app >> /work/order"], volumeMounts: [{name: w, mountPath: /work}]}
  volumes: [{name: w, emptyDir: {}}]
"#,
    );
    let order = env.pod_dir("initfail").join("volumes/w/order");
    // apply returned once the first init container started.
    assert!(
        wait_until(10, || env.pod_json("initfail")["status"]["phase"]
            == "Failed"),
        "{}",
        env.pod_json("initfail")
    );
    assert_eq!(std::fs::read_to_string(&order).unwrap(), "one\ntwo\n");
    let v = env.pod_json("initfail");
    assert_eq!(v["status"]["phase"], "Failed");
    assert_eq!(
        status(&v, "initContainerStatuses", "two")["state"]["terminated"]["exitCode"],
        4
    );
    assert!(status(&v, "initContainerStatuses", "three")["state"]["waiting"].is_object());
    assert!(status(&v, "containerStatuses", "app")["state"]["waiting"].is_object());
    let r = row(&env, "initfail");
    assert!(
        r.contains("Init:ExitCode:4") || r.contains("Init:Error"),
        "{r}"
    );
}

fn restarts(env: &PodEnv, pod: &str) -> i64 {
    status(&env.pod_json(pod), "containerStatuses", "c")["restartCount"]
        .as_i64()
        .unwrap_or(-1)
}

fn one_container(env: &PodEnv, name: &str, policy: &str, script: &str) {
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: {policy}\n  containers:\n  - {{name: c, image: busybox, command: [sh, -c, '{script}']}}\n"
    ));
}

#[test]
fn on_failure_restarts_a_failing_container_with_back_off() {
    let env = PodEnv::new();
    one_container(&env, "flaky", "OnFailure", "echo attempt; exit 2");
    // The first restart is immediate; the next waits out the back-off.
    assert!(
        wait_until(10, || restarts(&env, "flaky") >= 1),
        "never restarted"
    );
    assert!(
        wait_until(10, || row(&env, "flaky").contains("CrashLoopBackOff")),
        "{}",
        row(&env, "flaky")
    );
    let v = env.pod_json("flaky");
    let c = status(&v, "containerStatuses", "c");
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 2, "{c}");
    assert!(
        c["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("back-off 10s"),
        "{c}"
    );
    assert!(env.ok(&["logs", "flaky"]).matches("attempt").count() >= 2);
}

#[test]
fn never_does_not_restart_and_always_restarts_even_after_success() {
    let env = PodEnv::new();
    one_container(&env, "once", "Never", "exit 1");
    one_container(&env, "again", "Always", "exit 0");
    assert!(
        wait_until(10, || restarts(&env, "again") >= 1),
        "Always did not restart"
    );
    let v = env.pod_json("once");
    assert_eq!(
        status(&v, "containerStatuses", "c")["state"]["terminated"]["exitCode"],
        1
    );
    assert_eq!(restarts(&env, "once"), 0);
    assert_eq!(v["status"]["phase"], "Failed");
    assert_eq!(env.pod_json("again")["status"]["phase"], "Running");
}

#[test]
fn an_oom_killed_container_shows_oomkilled() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "dd if=/dev/zero of=/dev/null bs=256M count=1"]
    resources: {limits: {memory: 32Mi}}
"#,
    );
    let terminated =
        || status(&env.pod_json("hog"), "containerStatuses", "c")["state"]["terminated"].clone();
    assert!(wait_until(20, || terminated().is_object()), "did not end");
    let t = terminated();
    assert_eq!(t["reason"], "OOMKilled", "{t}");
    assert_eq!(t["exitCode"], 137);
    assert!(row(&env, "hog").contains("OOMKilled"));
}

#[test]
fn delete_runs_pre_stop_then_term_and_waits_no_longer_than_needed() {
    let env = PodEnv::new();
    let shared = env.dir.join("shared");
    env.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: polite}}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "trap 'echo term >> /shared/order; exit 0' TERM; echo started >> /shared/order; while true; do sleep 0.1; done"]
    lifecycle:
      preStop: {{exec: {{command: [sh, -c, "echo prestop >> /shared/order"]}}}}
    volumeMounts: [{{name: s, mountPath: /shared}}]
  volumes: [{{name: s, hostPath: {{path: {}, type: DirectoryOrCreate}}}}]
"#,
        shared.display()
    ));
    let order = shared.join("order");
    assert!(wait_until(10, || std::fs::read_to_string(&order)
        .is_ok_and(|s| s.contains("started"))));
    let t0 = std::time::Instant::now();
    env.ok(&["delete", "pod", "polite"]);
    let took = t0.elapsed();
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "started\nprestop\nterm\n"
    );
    // It left on TERM: no waiting for the 20 s grace period, no SIGKILL.
    assert!(
        took < std::time::Duration::from_secs(10),
        "delete took {took:?}"
    );
    assert!(env.pod_dirs().is_empty());
}

#[test]
fn a_container_ignoring_term_is_killed_at_the_end_of_the_grace_period_not_before() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - {name: c, image: busybox, command: [sh, -c, "trap '' TERM; while true; do sleep 0.1; done"]}
"#,
    );
    let t0 = std::time::Instant::now();
    env.ok(&["delete", "pod", "stubborn", "--grace-period", "2"]);
    let took = t0.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(2),
        "killed before the grace period: {took:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(6),
        "grace period overrun: {took:?}"
    );
    assert!(env.pod_dirs().is_empty());
}

#[test]
fn restarts_stop_once_deletion_begins_and_wait_false_returns_at_once() {
    let env = PodEnv::new();
    one_container(
        &env,
        "restarter",
        "Always",
        "trap \"exit 0\" TERM; sleep 0.2",
    );
    assert!(wait_until(10, || restarts(&env, "restarter") >= 1));
    let dir = env.pod_dir("restarter");
    let out = env.ok(&["delete", "pod", "restarter", "--wait=false"]);
    assert_eq!(out.trim(), "pod \"restarter\" deleted");
    assert!(wait_until(20, || !dir.exists()), "pod not gone");
    assert!(env.mounts_under_root().is_empty());
}

#[test]
fn post_start_runs_before_the_container_counts_and_pre_stop_http_get_reaches_the_pod() {
    let env = PodEnv::new();
    let shared = env.dir.join("hooks");
    env.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: hooked}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: busybox
    command: [sh, -c, "mkdir -p /www/cgi-bin && printf '#!/bin/sh\necho http-prestop >> /shared/order\necho Content-Type: text/plain\necho\necho ok\n' > /www/cgi-bin/mark && chmod +x /www/cgi-bin/mark && exec httpd -f -p 8080 -h /www"]
    lifecycle:
      postStart: {{exec: {{command: [sh, -c, "sleep 0.3; echo poststart >> /shared/order"]}}}}
      preStop: {{httpGet: {{path: /cgi-bin/mark, port: 8080}}}}
    volumeMounts: [{{name: s, mountPath: /shared}}]
  volumes: [{{name: s, hostPath: {{path: {}, type: DirectoryOrCreate}}}}]
"#,
        shared.display()
    ));
    // apply returned: postStart has completed.
    let order = shared.join("order");
    assert_eq!(std::fs::read_to_string(&order).unwrap(), "poststart\n");
    env.ok(&["delete", "pod", "hooked"]);
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "poststart\nhttp-prestop\n"
    );
}

#[test]
fn commands_ask_the_supervisor_and_fall_back_to_state_files_without_it() {
    use std::io::{BufRead, BufReader, Write};
    let env = PodEnv::new();
    one_container(&env, "asked", "Always", "exec sleep 3600");
    let dir = env.pod_dir("asked");
    let mut s = std::os::unix::net::UnixStream::connect(dir.join("supervisor.sock")).unwrap();
    // The supervisor's protocol, version 1, on the wire.
    writeln!(s, r#"{{"v":1,"request":"status"}}"#).unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (&reply["v"], &reply["reply"]),
        (&1.into(), &"status".into()),
        "{line}"
    );
    let v = &reply["containers"];
    assert!(v["c"]["state"]["running"].is_object(), "{line}");
    // A podrt of another protocol version, or of none, is told so, not misread.
    for (request, said) in [
        (
            r#"{"v":2,"request":"status"}"#,
            "the podrt command speaks protocol version 2, this podrt speaks 1",
        ),
        ("status", "which is not a podrt protocol message"),
    ] {
        let mut s = std::os::unix::net::UnixStream::connect(dir.join("supervisor.sock")).unwrap();
        writeln!(s, "{request}").unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(reply["reply"], "error", "{line}");
        assert!(reply["message"].as_str().unwrap().contains(said), "{line}");
    }

    // Without its supervisor the pod is still shown from its files and the kernel,
    // and can still be deleted.
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("pod.json")).unwrap()).unwrap();
    let sup = record["supervisor"]["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill of the pod's supervisor, a process this test's podrt started.
    unsafe { libc::kill(sup, libc::SIGKILL) };
    assert!(wait_until(5, || !std::path::Path::new(&format!(
        "/proc/{sup}/stat"
    ))
    .exists()
        || std::fs::read_to_string(format!("/proc/{sup}/stat"))
            .is_ok_and(|t| t.contains(") Z "))));
    assert!(row(&env, "asked").contains("1/1"), "{}", row(&env, "asked"));
    assert!(row(&env, "asked").contains("Running"));
    env.ok(&["delete", "pod", "asked", "--grace-period=0", "--force"]);
    assert!(!dir.exists());
}

#[test]
fn a_failing_init_container_is_retried_with_back_off_under_on_failure() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: initloop}\nspec:\n  restartPolicy: OnFailure\n  initContainers:\n  - {name: i, image: busybox, command: [sh, -c, 'exit 1']}\n  containers:\n  - {name: app, image: busybox, command: [sleep, '3600']}\n",
    );
    assert!(
        wait_until(10, || row(&env, "initloop")
            .contains("Init:CrashLoopBackOff")),
        "{}",
        row(&env, "initloop")
    );
    let v = env.pod_json("initloop");
    assert!(status(&v, "initContainerStatuses", "i")["restartCount"].as_i64() >= Some(1));
    assert!(status(&v, "containerStatuses", "app")["state"]["waiting"].is_object());
    assert_eq!(v["status"]["phase"], "Pending");
}
