//! Namespaces as kubectl users use them: `default` always exists; a Namespace
//! applied with the objects that go into it; the same names in two namespaces
//! are two objects; `-n` and `-A` on the verbs; an object in a namespace that
//! does not exist, or a manifest's namespace that `-n` contradicts, is refused
//! naming it; deleting a Namespace deletes what is in it.

use podrt_tests::pods::text;
use podrt_tests::wait_until;
use podrt_tests::workloads::{names, workload_env, Agent};

const NAMESPACE_AND_POD: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
"#;

fn pod(name: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
"#
    )
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
"#;

#[test]
fn the_same_name_in_two_namespaces_is_two_pods_and_n_and_a_pick_them() {
    let env = workload_env();
    let made = env.apply(NAMESPACE_AND_POD);
    assert!(made.contains("namespace/team-a created"), "{made}");
    assert!(made.contains("pod/web created"), "{made}");
    env.apply(&pod("web"));

    assert_eq!(names(&env, &["pods"]), ["web"]);
    assert_eq!(names(&env, &["pods", "-n", "team-a"]), ["web"]);
    let all = env.ok(&["get", "pods", "-A"]);
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE "), "{all}");
    assert_eq!(lines.len(), 3, "{all}");
    assert!(lines.iter().any(|l| l.starts_with("team-a ")), "{all}");
    // Each pod knows its namespace; exec finds it there.
    let json = env.ok(&["get", "pod", "web", "-n", "team-a", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["metadata"]["namespace"], "team-a");
    let out = env.ok(&["exec", "-n", "team-a", "web", "--", "hostname"]);
    assert_eq!(out.trim(), "web");

    // A reader that leaves early (`| head -1`) is no error of podrt's.
    let mut child = env
        .cmd()
        .args(["get", "pods", "-A"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn get");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait get");
    assert!(
        matches!(out.status.code(), Some(0 | 141)),
        "{:?} {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("internal error"),
        "{}",
        text(&out.stderr)
    );

    // `get ns` lists default and team-a as kubectl does.
    let ns = env.ok(&["get", "ns"]);
    assert!(ns.starts_with("NAME "), "{ns}");
    assert!(
        ns.lines()
            .any(|l| l.starts_with("default ") && l.contains("Active")),
        "{ns}"
    );
    assert!(
        ns.lines()
            .any(|l| l.starts_with("team-a ") && l.contains("Active")),
        "{ns}"
    );

    // A namespace that does not exist, and a contradicting -n, are refused.
    let refused = env.podrt(&[
        "apply",
        "-f",
        env.manifest(
            "ghost",
            &pod("x").replace("  labels:", "  namespace: ghost\n  labels:"),
        )
        .to_str()
        .unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("namespaces \"ghost\" not found"),
        "{}",
        text(&refused.stderr)
    );
    let file = env.manifest("both", NAMESPACE_AND_POD);
    let refused = env.podrt(&["apply", "-n", "default", "-f", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("does not match the namespace \"default\""),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(names(&env, &["pods", "-A"]), ["web", "web"]);
    // get -f reads the Namespace document and finds the pod in team-a.
    let listed = env.ok(&["get", "-f", file.to_str().unwrap()]);
    assert!(listed.contains("pod/web"), "{listed}");

    // Deleting in one namespace leaves the other's pod of the same name.
    env.ok(&[
        "delete",
        "pod",
        "web",
        "-n",
        "team-a",
        "--grace-period=0",
        "--force",
    ]);
    assert_eq!(names(&env, &["pods", "-A"]), ["web"]);
    assert_eq!(names(&env, &["pods", "-n", "team-a"]), Vec::<String>::new());
    let e = env.podrt(&["delete", "ns", "default"]);
    assert_eq!(e.status.code(), Some(1));
    assert!(
        text(&e.stderr).contains("may not be deleted"),
        "{}",
        text(&e.stderr)
    );
}

#[test]
fn a_deployment_in_a_namespace_lives_there_and_goes_with_it() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    env.ok(&[
        "apply",
        "-f",
        env.manifest(
            "ns",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n",
        )
        .to_str()
        .unwrap(),
    ]);
    let file = env.manifest("deploy", DEPLOYMENT);
    env.ok(&["apply", "-n", "team-b", "-f", file.to_str().unwrap()]);
    // The same Deployment in default too: two objects, four pods.
    env.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        wait_until(60, || {
            names(&env, &["pods", "-n", "team-b"]).len() == 2 && names(&env, &["pods"]).len() == 2
        }),
        "{}",
        env.ok(&["get", "pods", "-A"])
    );
    let out = env.ok(&[
        "rollout",
        "status",
        "deploy/api",
        "-n",
        "team-b",
        "--timeout=60s",
    ]);
    assert!(out.contains("successfully rolled out"), "{out}");
    assert_eq!(names(&env, &["deploy", "-n", "team-b"]), ["api"]);
    let deploys = env.ok(&["get", "deploy", "-A"]);
    assert_eq!(deploys.lines().count(), 3, "{deploys}");
    let pods = env.ok(&["get", "pods", "-n", "team-b", "-o", "json"]);
    let pods: serde_json::Value = serde_json::from_str(&pods).expect("json");
    for p in pods["items"].as_array().expect("items") {
        assert_eq!(p["metadata"]["namespace"], "team-b");
    }
    let described = env.ok(&["describe", "deploy", "api", "-n", "team-b"]);
    assert!(
        described.contains("Namespace:") && described.contains("team-b"),
        "{described}"
    );

    // Scaling one leaves the other.
    env.ok(&["scale", "deploy/api", "--replicas=1", "-n", "team-b"]);
    assert!(
        wait_until(60, || names(&env, &["pods", "-n", "team-b"]).len() == 1),
        "{}",
        env.ok(&["get", "pods", "-A"])
    );
    assert_eq!(names(&env, &["pods"]).len(), 2);

    // Deleting the Namespace deletes its Deployment and pods, then itself.
    let out = env.ok(&["delete", "ns", "team-b"]);
    assert!(out.contains("namespace \"team-b\" deleted"), "{out}");
    assert_eq!(names(&env, &["pods", "-n", "team-b"]), Vec::<String>::new());
    assert_eq!(
        names(&env, &["deploy", "-n", "team-b"]),
        Vec::<String>::new()
    );
    let ns = env.ok(&["get", "ns", "-o", "name"]);
    assert!(!ns.contains("team-b"), "{ns}");
    assert_eq!(names(&env, &["deploy"]), ["api"]);
    assert_eq!(names(&env, &["pods"]).len(), 2);
    env.ok(&["delete", "deploy", "api"]);
}
