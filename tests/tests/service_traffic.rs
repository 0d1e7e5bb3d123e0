//! Traffic to Services as kube-proxy carries it, in the agent's nftables
//! table: a client pod reaches a Deployment's three pods through the
//! Service's cluster IP and through its name, spread over all three (or
//! always the same one with ClientIP affinity, also after the rules change);
//! the host reaches them through the cluster IP and through the node port on
//! the bridge's address; a Service without endpoints is refused at once; a
//! pod being deleted is no longer reached while it still runs; a restarted
//! agent writes the rules again; a deleted Service leaves no table behind and
//! no name.
//! Every address is in the test's own network namespace.

use std::collections::BTreeSet;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{pods, ready, workload_env, Agent};
use serde_json::Value;

/// Three pods answering HTTP on a port named `http` with their own name, a
/// NodePort Service over them (targetPort by name), one with no pods behind
/// it, and a client pod.
const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: c
        image: busybox
        # PID 1 without a TERM handler: a deleted pod runs on for its grace.
        command: ["sh", "-c", "mkdir /w && hostname > /w/index.html && exec httpd -f -p 8080 -h /w"]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: none}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: ["sleep", "3600"]}
"#;

fn json(env: &PodEnv, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).expect("podrt's JSON")
}

fn cluster_ip(env: &PodEnv, svc: &str) -> String {
    json(env, &["get", "svc", svc, "-o", "json"])["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The ready addresses of a Service's endpoints.
fn ready_addresses(env: &PodEnv, svc: &str) -> BTreeSet<String> {
    // The agent makes a new Service's Endpoints on its next pass: none yet is
    // no address yet.
    let out = env.podrt(&["get", "endpoints", svc, "-o", "json"]);
    if !out.status.success() {
        return BTreeSet::new();
    }
    serde_json::from_slice::<Value>(&out.stdout).expect("-o json is JSON")["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect()
}

/// One HTTP GET from the client pod: the page (a pod's name) or the error.
fn fetch_from_client(env: &PodEnv, url: &str) -> Result<String, String> {
    let (code, out, err) = env.exec("client", "c", &["timeout", "5", "wget", "-qO-", url]);
    if code == 0 {
        Ok(out.trim().to_string())
    } else {
        Err(format!("exit {code}: {out}{err}"))
    }
}

/// The same from the test's host namespace.
fn fetch_from_host(env: &PodEnv, url: &str) -> Result<String, String> {
    let out = env
        .host
        .run(&["timeout", "5", "busybox", "wget", "-qO-", url]);
    if out.status.success() {
        Ok(text(&out.stdout).trim().to_string())
    } else {
        Err(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

/// Fetches `url` until every name in `want` answered (or 60 tries); the
/// names seen and the last error.
fn spread(
    mut fetch: impl FnMut() -> Result<String, String>,
    want: &BTreeSet<String>,
) -> (BTreeSet<String>, String) {
    let mut seen = BTreeSet::new();
    let mut last = String::new();
    for _ in 0..60 {
        match fetch() {
            Ok(name) => {
                seen.insert(name);
            }
            Err(e) => last = e,
        }
        if want.is_subset(&seen) {
            break;
        }
    }
    (seen, last)
}

fn web_pods(env: &PodEnv) -> BTreeSet<String> {
    pods(env)
        .iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "web")
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect()
}

/// The test host's nftables tables.
fn tables(env: &PodEnv) -> String {
    env.host.ok(&["nft", "list", "tables"])
}

#[test]
fn services_carry_traffic_to_their_ready_pods_from_pods_and_the_host() {
    let env = workload_env();
    let agent = Agent::start_with(&env, &["--dns-upstream", "127.0.0.1"]);
    // The client pod, made by this command, gets the agent's DNS once it serves.
    assert!(
        wait_until(10, || env.root.join("dns/server.json").is_file()),
        "the agent never served DNS"
    );
    env.apply(APP);
    assert!(
        wait_until(60, || pods(&env).iter().filter(|p| ready(p)).count() == 4),
        "{:?}",
        pods(&env)
    );
    assert!(
        wait_until(20, || ready_addresses(&env, "web").len() == 3),
        "{}",
        env.ok(&["get", "endpoints", "web", "-o", "yaml"])
    );
    let ip = cluster_ip(&env, "web");
    let names = web_pods(&env);
    assert_eq!(names.len(), 3, "{names:?}");

    // From a pod, by address and by name: every endpoint answers.
    let url = format!("http://{ip}/");
    let (seen, last) = spread(|| fetch_from_client(&env, &url), &names);
    assert_eq!(seen, names, "through {url}: {last}");
    let (seen, last) = spread(|| fetch_from_client(&env, "http://web/"), &names);
    assert_eq!(seen, names, "through http://web/: {last}");

    // With ClientIP affinity, one client keeps its endpoint.
    let sticky = format!("http://{}/", cluster_ip(&env, "sticky"));
    let answers: BTreeSet<_> = (0..10).map(|_| fetch_from_client(&env, &sticky)).collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|n| names.contains(n))),
        "{answers:?}"
    );

    // It keeps it when the rules change (another Service comes).
    env.apply("apiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec:\n  selector: {app: web}\n  ports: [{port: 81, targetPort: 8080}]\n");
    assert!(
        wait_until(20, || ready_addresses(&env, "extra").len() == 3),
        "{}",
        env.ok(&["get", "endpoints", "extra", "-o", "yaml"])
    );
    let extra = format!("http://{}:81/", cluster_ip(&env, "extra"));
    assert!(
        wait_until(20, || fetch_from_client(&env, &extra).is_ok()),
        "the rules never carried the new Service"
    );
    let again: BTreeSet<_> = (0..10).map(|_| fetch_from_client(&env, &sticky)).collect();
    assert_eq!(again, answers, "affinity lost when the rules changed");

    // From the host: the cluster IP (routed like a host with a default route
    // would route it) and the node port on the bridge's address.
    env.host
        .ok(&["ip", "route", "add", "10.96.0.0/12", "dev", "podrt0"]);
    let (seen, last) = spread(|| fetch_from_host(&env, &url), &names);
    assert_eq!(seen, names, "from the host through {url}: {last}");
    let node = "http://10.88.0.1:30080/";
    let (seen, last) = spread(|| fetch_from_host(&env, node), &names);
    assert_eq!(seen, names, "from the host through {node}: {last}");

    // No endpoints: refused, not left to time out.
    let empty = format!("http://{}/", cluster_ip(&env, "nobody"));
    let refused =
        fetch_from_client(&env, &empty).expect_err("a Service without endpoints answered");
    assert!(refused.contains("refused"), "{refused}");
    let refused = fetch_from_host(&env, &empty).expect_err("a Service without endpoints answered");
    assert!(refused.contains("refused"), "{refused}");

    // A pod being deleted leaves at once, while it still runs its grace.
    let gone = names.iter().next().cloned().unwrap_or_default();
    let gone_ip = pods(&env)
        .iter()
        .find(|p| p["metadata"]["name"] == gone.as_str())
        .and_then(|p| p["status"]["podIP"].as_str().map(String::from))
        .unwrap_or_default();
    let out = env.podrt(&["delete", "pod", &gone, "--wait=false"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        wait_until(20, || !ready_addresses(&env, "web").contains(&gone_ip)),
        "{}",
        env.ok(&["get", "endpoints", "web", "-o", "yaml"])
    );
    for _ in 0..20 {
        let answer = fetch_from_client(&env, &url);
        assert_ne!(
            answer.as_deref(),
            Ok(gone.as_str()),
            "a terminating pod was reached"
        );
    }
    assert!(
        pods(&env)
            .iter()
            .any(|p| p["metadata"]["name"] == gone.as_str()),
        "the deleted pod was gone before the check ended"
    );

    // SIGKILL the agent and take its rules away: a new agent writes them again.
    drop(agent);
    for t in tables(&env).lines() {
        let mut args = vec!["nft", "delete"];
        args.extend(t.split_whitespace());
        env.host.ok(&args);
    }
    assert!(
        fetch_from_client(&env, &url).is_err(),
        "reached without rules"
    );
    let _agent = Agent::start_with(&env, &["--dns-upstream", "127.0.0.1"]);
    assert!(
        wait_until(20, || fetch_from_client(&env, &url).is_ok()),
        "a restarted agent did not restore the rules: {}",
        tables(&env)
    );

    // Deleted Services leave no rules.
    env.ok(&["delete", "svc", "web", "sticky", "nobody", "extra"]);
    assert!(
        wait_until(10, || tables(&env).trim().is_empty()),
        "{}",
        tables(&env)
    );
    assert!(
        fetch_from_client(&env, &url).is_err(),
        "reached a deleted Service"
    );
    // Nor its name.
    let mut last = String::new();
    assert!(
        wait_until(15, || {
            let (code, out, err) = env.exec(
                "client",
                "c",
                &["nslookup", "web.default.svc.cluster.local"],
            );
            last = format!("{out}{err}");
            code != 0 && last.contains("NXDOMAIN")
        }),
        "{last}"
    );
}
