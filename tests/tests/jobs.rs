//! Jobs and DaemonSets as a user runs them: `podrt apply` stores them,
//! `podrt serve` runs a Job's pods until enough succeeded (or fails it past its
//! backoff limit) and keeps one daemon pod on this node, replacing a deleted
//! one; `delete` takes them away with their pods.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{workload_env, Agent};
use serde_json::Value;

fn env() -> PodEnv {
    workload_env()
}

fn job(name: &str, completions: u32, parallelism: u32, exit: u32, backoff: u32) -> String {
    format!(
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completions: {completions}
  parallelism: {parallelism}
  backoffLimit: {backoff}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "exit {exit}"]
"#
    )
}

const DAEMON_SET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 0
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{operator: Exists}]
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
"#;

/// The pods as `get pods -o json` lists them.
fn pods(env: &PodEnv) -> Vec<Value> {
    let out = env.ok(&["get", "pods", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("get -o json is JSON");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn with_phase(env: &PodEnv, phase: &str) -> Vec<Value> {
    pods(env)
        .into_iter()
        .filter(|p| p["status"]["phase"] == phase && p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn object(env: &PodEnv, kind: &str, name: &str) -> Value {
    serde_json::from_str(&env.ok(&["get", kind, name, "-o", "json"])).expect("JSON")
}

fn condition(job: &Value) -> (String, String) {
    let c = job["status"]["conditions"]
        .as_array()
        .and_then(|c| c.last().cloned())
        .unwrap_or_default();
    (
        c["type"].as_str().unwrap_or_default().to_string(),
        c["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn a_job_runs_its_completions_two_at_a_time_and_goes_with_its_pods() {
    let env = env();
    let _agent = Agent::start(&env);
    let out = env.apply(&job("pi", 3, 2, 0, 6));
    assert_eq!(out.trim(), "job.batch/pi created");
    assert!(
        wait_until(30, || condition(&object(&env, "job", "pi")).0 == "Complete"),
        "{}",
        object(&env, "job", "pi")
    );
    let j = object(&env, "jobs", "pi");
    assert_eq!(j["status"]["succeeded"], 3, "{j}");
    assert!(j["status"]["completionTime"].is_string(), "{j}");
    assert!(j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].is_string());
    let done = with_phase(&env, "Succeeded");
    assert_eq!(done.len(), 3, "{:?}", pods(&env));
    for p in &done {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("pi-") && name.len() == 8, "{name}");
        assert_eq!(p["metadata"]["labels"]["job-name"], "pi");
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "pi"
        );
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(
            (&owner["kind"], &owner["controller"]),
            (&"Job".into(), &true.into())
        );
    }
    let table = env.ok(&["get", "jobs"]);
    assert!(table.starts_with("NAME"), "{table}");
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.contains("Complete") && row.contains("3/3"), "{table}");
    // Kept, Completed, until the Job goes.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(with_phase(&env, "Succeeded").len(), 3);
    let out = env.ok(&["delete", "job.batch/pi"]);
    assert!(out.contains("job.batch \"pi\" deleted"), "{out}");
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
}

#[test]
fn a_failing_job_stops_past_its_backoff_limit_and_always_is_refused() {
    let env = env();
    env.apply_refused(
        &job("bad", 1, 1, 0, 1).replace("restartPolicy: Never", "restartPolicy: Always"),
        &[],
        &["spec.template.spec.restartPolicy", "\"Always\""],
    );
    let _agent = Agent::start(&env);
    env.apply(&job("fail", 1, 1, 1, 1));
    assert!(
        wait_until(30, || condition(&object(&env, "job", "fail")).0 == "Failed"),
        "{}",
        object(&env, "job", "fail")
    );
    let j = object(&env, "job", "fail");
    assert_eq!(condition(&j).1, "BackoffLimitExceeded", "{j}");
    assert_eq!(j["status"]["failed"], 2, "{j}");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(with_phase(&env, "Failed").len(), 2, "{:?}", pods(&env));
    let table = env.ok(&["get", "job", "fail"]);
    assert!(table.contains("Failed") && table.contains("0/1"), "{table}");
    env.ok(&["delete", "job", "fail"]);
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
}

#[test]
fn a_daemon_set_keeps_one_pod_on_this_node() {
    let env = env();
    let _agent = Agent::start(&env);
    let out = env.apply(DAEMON_SET);
    assert_eq!(out.trim(), "daemonset.apps/agent created");
    assert!(
        wait_until(30, || with_phase(&env, "Running").len() == 1),
        "{:?}",
        pods(&env)
    );
    let first = with_phase(&env, "Running")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.starts_with("agent-"), "{first}");
    env.ok(&[
        "delete",
        &format!("pod/{first}"),
        "--grace-period=0",
        "--force",
    ]);
    assert!(
        wait_until(30, || {
            let now = with_phase(&env, "Running");
            now.len() == 1 && now[0]["metadata"]["name"] != first.as_str()
        }),
        "replacement: {:?}",
        pods(&env)
    );
    assert!(
        wait_until(10, || {
            let t = env.ok(&["get", "ds"]);
            t.lines().nth(1).is_some_and(|r| {
                r.split_whitespace().take(6).collect::<Vec<_>>()
                    == ["agent", "1", "1", "1", "1", "1"]
            })
        }),
        "{}",
        env.ok(&["get", "ds"])
    );
    assert!(env
        .ok(&["get", "daemonsets"])
        .contains("kubernetes.io/os=linux"));
    assert_eq!(
        env.ok(&["get", "ds", "-o", "name"]).trim(),
        "daemonset.apps/agent"
    );
    // Rollouts: restart replaces the pod, history lists both templates, undo
    // returns to the first (renumbered the newest).
    let rolled = env.ok(&["rollout", "status", "ds/agent", "--timeout=20s"]);
    assert_eq!(
        rolled.trim(),
        "daemon set \"agent\" successfully rolled out"
    );
    let before = with_phase(&env, "Running")[0]["metadata"]["name"].clone();
    let out = env.ok(&["rollout", "restart", "ds/agent"]);
    assert_eq!(out.trim(), "daemonset.apps/agent restarted");
    let rolled = env.ok(&["rollout", "status", "ds/agent", "--timeout=30s"]);
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    assert!(
        wait_until(30, || {
            let now = with_phase(&env, "Running");
            now.len() == 1 && now[0]["metadata"]["name"] != before
        }),
        "not replaced: {:?}",
        pods(&env)
    );
    let revisions = |env: &PodEnv| -> Vec<String> {
        env.ok(&["rollout", "history", "daemonset", "agent"])
            .lines()
            .skip(2)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    assert_eq!(revisions(&env), ["1", "2"]);
    let out = env.ok(&["rollout", "undo", "ds/agent"]);
    assert_eq!(out.trim(), "daemonset.apps/agent rolled back");
    assert!(
        wait_until(20, || revisions(&env) == ["2", "3"]),
        "{:?}",
        revisions(&env)
    );
    let ds = object(&env, "ds", "agent");
    assert!(
        ds["spec"]["template"]["metadata"]["annotations"].is_null(),
        "the undo kept the restart: {ds}"
    );
    let paused = env.podrt(&["rollout", "pause", "ds/agent"]);
    assert!(
        !paused.status.success() && text(&paused.stderr).contains("work on deployments"),
        "{}",
        text(&paused.stderr)
    );
    let out = env.ok(&["delete", "ds", "agent"]);
    assert!(out.contains("daemonset.apps \"agent\" deleted"), "{out}");
    let kept = env
        .dir
        .join("state/objects/controllerrevisions.apps/default");
    assert!(
        std::fs::read_dir(&kept).map_or(true, |mut d| d.next().is_none()),
        "revisions left in {}",
        kept.display()
    );
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
    let gone = env.podrt(&["get", "ds", "agent"]);
    assert!(text(&gone.stderr).contains("daemonsets.apps \"agent\" not found"));
}

#[test]
fn a_daemon_set_runs_only_where_the_node_labels_match_its_node_selector() {
    let env = env();
    // The config file's labels, and the flag's (kubelet's --node-labels).
    env.set_config("nodeLabels: {zone: east}\n")
        .expect("write config");
    let manifest = DAEMON_SET.replace(
        "nodeSelector: {kubernetes.io/os: linux}",
        "nodeSelector: {disk: ssd, zone: east}",
    );
    let bad = env.podrt(&["serve", "--node-labels", "disk=a b"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("--node-labels: invalid label value \"a b\""),
        "{}",
        text(&bad.stderr)
    );
    {
        let _agent = Agent::start(&env);
        env.apply(&manifest);
        // A pass has looked at it: its status is written, with nothing desired.
        assert!(
            wait_until(30, || {
                let ds: Value =
                    serde_json::from_str(&env.ok(&["get", "ds", "agent", "-o", "json"]))
                        .expect("json");
                ds["status"]["observedGeneration"] == 1
            }),
            "{}",
            env.ok(&["get", "ds", "agent", "-o", "yaml"])
        );
        assert!(pods(&env).is_empty(), "{:?}", pods(&env));
        assert!(
            env.ok(&["get", "ds"]).contains("agent   0 "),
            "{}",
            env.ok(&["get", "ds"])
        );
    }
    let _agent = Agent::start_with(&env, &["--node-labels", "disk=ssd"]);
    assert!(
        wait_until(30, || with_phase(&env, "Running").len() == 1),
        "{:?}",
        pods(&env)
    );
    env.ok(&["delete", "ds", "agent"]);
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
}
