//! A pod's life as the supervisor runs it: init containers in order, restart
//! policies with back-off, how containers end (OOMKilled), as `get pods` shows it.

use podrt_tests::pods::PodEnv;
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
    assert!(wait_until(10, || env
        .ok(&["logs", "ordered", "-c", "app"])
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
    std::thread::sleep(std::time::Duration::from_millis(500));
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
