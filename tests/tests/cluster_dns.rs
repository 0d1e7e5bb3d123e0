//! The agent's cluster DNS as pods use it: a headless Service over a
//! StatefulSet answers its ready pods' addresses, each pod by its hostname,
//! and SRV for its named port; a ClusterIP Service its address; and after the
//! agent is SIGKILLed and started again, the new one answers too. Queries go
//! from the pods to the gateway of the test's own pod network; the agent
//! forwards nothing beyond 127.0.0.1 of the test's namespace.

use podrt_tests::pods::PodEnv;
use podrt_tests::wait_until;
use podrt_tests::workloads::{pods, ready, workload_env, Agent};

const SET: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: c, image: busybox, command: ["sleep", "3600"]}
"#;

/// `nslookup` in web-0, whose exit status and output.
fn lookup(env: &PodEnv, args: &[&str]) -> (i32, String) {
    let mut all = vec!["nslookup"];
    all.extend_from_slice(args);
    let (code, out, err) = env.exec("web-0", "c", &all);
    (code, format!("{out}{err}"))
}

fn pod_ip(env: &PodEnv, name: &str) -> String {
    pods(env)
        .iter()
        .find(|p| p["metadata"]["name"] == name)
        .and_then(|p| p["status"]["podIP"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn headless_and_cluster_ip_services_resolve_and_survive_an_agent_restart() {
    let env = workload_env();
    let agent = Agent::start_with(&env, &["--dns-upstream", "127.0.0.1"]);
    assert!(
        wait_until(10, || env.root.join("dns/server.json").is_file()),
        "the agent never served DNS"
    );
    env.apply(SET);
    assert!(
        wait_until(40, || pods(&env).iter().filter(|p| ready(p)).count() == 2),
        "{:?}",
        pods(&env)
    );
    let (ip0, ip1) = (pod_ip(&env, "web-0"), pod_ip(&env, "web-1"));
    // Both pods in the headless Service's answer, once its endpoints have them.
    let mut last = String::new();
    assert!(
        wait_until(20, || {
            let (code, out) = lookup(&env, &["web.default.svc.cluster.local"]);
            last = out;
            code == 0 && last.contains(&ip0) && last.contains(&ip1)
        }),
        "{last}"
    );
    let (code, out) = lookup(&env, &["web-1.web.default.svc.cluster.local"]);
    assert!(
        code == 0 && out.contains(&ip1) && !out.contains(&ip0),
        "{out}"
    );
    // Through the search path: busybox asks every expansion and the bare
    // name, and must not meet an NXDOMAIN.
    let (code, out) = lookup(&env, &["web"]);
    assert!(
        code == 0 && out.contains(&ip0) && out.contains(&ip1),
        "{out}"
    );
    let (code, out) = lookup(&env, &["nothere"]);
    assert_ne!(code, 0, "{out}");
    let (code, out) = lookup(
        &env,
        &["-type=SRV", "_http._tcp.web.default.svc.cluster.local"],
    );
    assert!(
        code == 0 && out.contains("web-0.web.default.svc.cluster.local") && out.contains("80"),
        "{out}"
    );
    let front: serde_json::Value =
        serde_json::from_str(&env.ok(&["get", "svc", "front", "-o", "json"])).expect("json");
    let cluster_ip = front["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (code, out) = lookup(&env, &["front"]);
    assert!(code == 0 && out.contains(&cluster_ip), "{out}");
    let dashed = format!("{}.default.pod.cluster.local", ip1.replace('.', "-"));
    let (code, out) = lookup(&env, &[&dashed]);
    assert!(code == 0 && out.contains(&ip1), "{out}");

    // SIGKILLed and started again: the new agent answers (its resolver binds
    // once the old one has gone with the old agent).
    drop(agent);
    let _agent = Agent::start_with(&env, &["--dns-upstream", "127.0.0.1"]);
    let mut last = String::new();
    assert!(
        wait_until(20, || {
            let (code, out) = lookup(&env, &["front.default.svc.cluster.local"]);
            last = out;
            code == 0 && last.contains(&cluster_ip)
        }),
        "{last}"
    );
    env.ok(&["delete", "sts", "web"]);
    env.ok(&["delete", "svc", "web", "front"]);
}
