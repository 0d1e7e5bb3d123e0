//! Workloads as a user runs them: `podrt apply` stores a Deployment or a
//! ReplicaSet, `podrt serve` keeps its pods (replacing a deleted one, scaling,
//! rolling a changed template out within its limits), `delete` takes them away
//! with their pods; invalid objects are refused naming the field, and nothing
//! is stored.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{pods, ready, workload_env, Agent};
use serde_json::Value;

fn env() -> PodEnv {
    workload_env()
}

fn deployment(replicas: u32, greeting: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        env: [{{name: GREETING, value: "{greeting}"}}]
        command: ["sleep", "3600"]
"#
    )
}

fn greeting(pod: &Value) -> String {
    pod["spec"]["containers"][0]["env"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Names of the ready pods whose GREETING is `greeting`.
fn ready_with(env: &PodEnv, greeting_is: &str) -> Vec<String> {
    pods(env)
        .iter()
        .filter(|p| ready(p) && greeting(p) == greeting_is)
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_deployment_keeps_its_replicas_scales_rolls_out_and_goes_with_its_pods() {
    let env = env();
    let out = env.apply(&deployment(2, "one"));
    assert_eq!(out.trim(), "deployment.apps/web created");
    assert_eq!(
        env.apply(&deployment(2, "one")).trim(),
        "deployment.apps/web unchanged"
    );
    let agent = Agent::start(&env);

    assert!(
        wait_until(30, || ready_with(&env, "one").len() == 2),
        "2 ready pods: {:?}",
        pods(&env)
    );
    // One agent per root.
    let second = env.podrt(&["serve"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("another podrt serve"),
        "{}",
        text(&second.stderr)
    );

    // Made by a ReplicaSet named by the template's hash, owned through it.
    let first = pods(&env);
    let owner = &first[0]["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ReplicaSet");
    assert_eq!(owner["controller"], true);
    let rs_name = owner["name"].as_str().unwrap().to_string();
    assert!(rs_name.starts_with("web-"), "{rs_name}");
    let hash = &first[0]["metadata"]["labels"]["pod-template-hash"];
    assert_eq!(format!("web-{}", hash.as_str().unwrap()), rs_name);
    let table = env.ok(&["get", "deploy"]);
    assert!(
        wait_until(10, || env.ok(&["get", "deploy"]).contains("2/2")),
        "{table}"
    );

    // A deleted pod is replaced by a new one with a new name.
    let victim = ready_with(&env, "one")[0].clone();
    env.ok(&[
        "delete",
        &format!("pod/{victim}"),
        "--grace-period=0",
        "--force",
    ]);
    assert!(
        wait_until(30, || {
            let now = ready_with(&env, "one");
            now.len() == 2 && !now.contains(&victim)
        }),
        "replacement: {:?}",
        pods(&env)
    );

    // Scale up.
    assert_eq!(
        env.apply(&deployment(3, "one")).trim(),
        "deployment.apps/web configured"
    );
    assert!(
        wait_until(30, || ready_with(&env, "one").len() == 3),
        "scaled: {:?}",
        pods(&env)
    );

    // A new template rolls out: never fewer than 3 ready (maxUnavailable 0), never
    // more than 4 pods (maxSurge 1), and old pods keep their spec until replaced.
    env.apply(&deployment(3, "two"));
    let mut done = false;
    for _ in 0..600 {
        let all = pods(&env);
        let live: Vec<&Value> = all
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect();
        let ready_now = all.iter().filter(|p| ready(p)).count();
        assert!(
            ready_now >= 3,
            "{ready_now} ready during the rollout: {all:?}"
        );
        assert!(live.len() <= 4, "{} pods during the rollout", live.len());
        for p in &live {
            let g = greeting(p);
            assert!(g == "one" || g == "two", "a pod changed in place: {p}");
        }
        if ready_with(&env, "two").len() == 3 && live.len() == 3 {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(done, "the rollout did not finish: {:?}", pods(&env));
    let sets = env.ok(&["get", "rs"]);
    assert_eq!(sets.lines().count(), 3, "two replica sets kept:\n{sets}");
    let history = env.ok(&["rollout", "history", "deploy/web"]);
    assert!(
        history.contains("REVISION") && history.contains("\n1 ") && history.contains("\n2 "),
        "{history}"
    );

    // Undo goes back to the first template; rollout status waits for it.
    assert_eq!(
        env.ok(&["rollout", "undo", "deploy/web"]).trim(),
        "deployment.apps/web rolled back"
    );
    let status = env.ok(&["rollout", "status", "deployment", "web", "--timeout", "60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    assert!(
        wait_until(30, || ready_with(&env, "one").len() == 3),
        "undone: {:?}",
        pods(&env)
    );

    // Scale down.
    assert_eq!(
        env.ok(&["scale", "deploy/web", "--replicas=1"]).trim(),
        "deployment.apps/web scaled"
    );
    assert!(
        wait_until(30, || pods(&env)
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .count()
            == 1),
        "scaled down: {:?}",
        pods(&env)
    );

    // Deleting the Deployment takes its sets and pods.
    let out = env.ok(&["delete", "deployment", "web"]);
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
    let sets = env.podrt(&["get", "rs"]);
    assert!(text(&sets.stdout).is_empty(), "{}", text(&sets.stdout));
    // The agent does not bring them back.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
    drop(agent);
}

#[test]
fn a_replica_set_alone_keeps_its_pods_and_delete_f_takes_it() {
    let env = env();
    let yaml = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: solo
spec:
  replicas: 2
  selector:
    matchExpressions: [{key: app, operator: In, values: [solo]}]
  template:
    metadata:
      labels: {app: solo}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
"#;
    let file = env.manifest("rs", yaml);
    let _agent = Agent::start(&env);
    let out = env.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.trim(), "replicaset.apps/solo created");
    assert!(
        wait_until(30, || pods(&env).iter().filter(|p| ready(p)).count() == 2),
        "{:?}",
        pods(&env)
    );
    let table = env.ok(&["get", "rs", "solo"]);
    assert!(table.starts_with("NAME"), "{table}");
    let out = env.ok(&["delete", "-f", file.to_str().unwrap()]);
    assert!(out.contains("replicaset.apps \"solo\" deleted"), "{out}");
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));
}

#[test]
fn invalid_workloads_are_refused_naming_the_field_and_nothing_is_stored() {
    let env = env();
    let base = deployment(1, "x");
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("matchLabels: {app: web}", "matchLabels: {app: other}"),
            "`selector` does not match template `labels`",
        ),
        (
            base.replace("replicas: 1", "replicas: -1"),
            "spec.replicas: Invalid value: -1",
        ),
        (
            base.replace("terminationGracePeriodSeconds: 0", "restartPolicy: Never"),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\"",
        ),
        (
            base.replace(
                "image: busybox",
                "image: no-such-image\n        imagePullPolicy: Never",
            ),
            "spec.template.spec.containers[0].image",
        ),
        (
            base.replace(
                "maxSurge: 1, maxUnavailable: 0",
                "maxSurge: 0, maxUnavailable: 0",
            ),
            "spec.strategy.rollingUpdate.maxUnavailable",
        ),
        (
            base.replace("name: web\nspec", "name: Web_1\nspec"),
            "metadata.name",
        ),
        (
            base.replace("replicas: 1", "replicas: many"),
            "spec.replicas",
        ),
    ];
    for (yaml, expect) in &cases {
        env.apply_refused(yaml, &[], &[expect]);
    }
    let listed = env.podrt(&["get", "deploy"]);
    assert!(
        text(&listed.stdout).is_empty(),
        "stored: {}",
        text(&listed.stdout)
    );

    // The selector cannot change once stored.
    env.apply(&base);
    env.apply_refused(
        &base
            .replace(
                "matchLabels: {app: web}",
                "matchLabels: {app: web, tier: a}",
            )
            .replace("labels: {app: web}", "labels: {app: web, tier: a}"),
        &[],
        &["spec.selector", "field is immutable"],
    );
    let out = env.ok(&["get", "deploy", "web", "-o", "json"]);
    let d: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "web"})
    );
    assert_eq!(d["kind"], "Deployment");
    env.ok(&["delete", "deploy", "web"]);
    let gone = env.podrt(&["get", "deploy", "web"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("deployments.apps \"web\" not found"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn a_pod_counts_as_available_only_min_ready_seconds_after_it_is_ready() {
    let env = env();
    let _agent = Agent::start(&env);
    let manifest = deployment(1, "hi").replace(
        "spec:\n  replicas",
        "spec:\n  minReadySeconds: 3\n  replicas",
    );
    env.apply(&manifest);
    let status = |env: &PodEnv| -> Value {
        let d: Value =
            serde_json::from_str(&env.ok(&["get", "deploy", "web", "-o", "json"])).expect("json");
        d["status"].clone()
    };
    assert!(
        wait_until(30, || status(&env)["readyReplicas"] == 1),
        "{}",
        status(&env)
    );
    // Availability counts from the container's start as the pod records it
    // (whole seconds, rounded down, so the true start is no earlier), not from
    // when this test saw it Ready: a loaded machine may see that late.
    let pods: Value = serde_json::from_str(&env.ok(&["get", "pods", "-o", "json"])).expect("json");
    let started = pods["items"][0]["status"]["containerStatuses"][0]["state"]["running"]
        ["startedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("no startedAt in {pods}"))
        .parse::<jiff::Timestamp>()
        .expect("startedAt is RFC 3339");
    let since_start = || jiff::Timestamp::now().duration_since(started);
    let seen = status(&env);
    if since_start() < jiff::SignedDuration::from_millis(2500) {
        // Ready, not yet available: `rollout status` waits.
        assert_eq!(seen["availableReplicas"], 0, "{seen}");
    }
    let rolled = env.podrt(&["rollout", "status", "deploy/web", "--timeout=30s"]);
    assert!(rolled.status.success(), "{}", text(&rolled.stderr));
    assert!(
        since_start() >= jiff::SignedDuration::from_secs(3),
        "available {:?} after the container started, with minReadySeconds 3",
        since_start()
    );
    assert_eq!(status(&env)["availableReplicas"], 1, "{}", status(&env));
    env.ok(&["delete", "deploy", "web"]);
}

#[test]
fn a_rollout_that_makes_no_progress_exceeds_its_deadline_and_rollout_status_fails() {
    let env = env();
    let _agent = Agent::start(&env);
    // The init container never ends, so the pod never becomes Ready.
    let manifest = deployment(1, "hi")
        .replace(
            "spec:\n  replicas",
            "spec:\n  progressDeadlineSeconds: 2\n  replicas",
        )
        .replace(
            "      containers:\n",
            "      initContainers:\n      - {name: wait, image: busybox, command: [sleep, '3600']}\n      containers:\n",
        );
    env.apply(&manifest);
    let rolled = env.podrt(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    assert!(
        rolled.status.code() == Some(1)
            && text(&rolled.stderr).contains("deployment \"web\" exceeded its progress deadline"),
        "{:?} {}{}\n{}",
        rolled.status.code(),
        text(&rolled.stdout),
        text(&rolled.stderr),
        env.ok(&["get", "deploy", "web", "-o", "yaml"])
    );
    let d: Value =
        serde_json::from_str(&env.ok(&["get", "deploy", "web", "-o", "json"])).expect("json");
    let progressing = d["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(progressing["status"], "False", "{d}");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded", "{d}");
    // The agent made the pod and went on while its init container waits.
    let listed = env.ok(&["get", "pods"]);
    assert!(listed.contains("Init:0/1"), "{listed}");
    env.ok(&["delete", "deploy", "web"]);
}
