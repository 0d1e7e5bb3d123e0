//! Services as a user runs them: `podrt create -f` of the seed's two Services
//! (no selector: an address and no endpoints), kubectl's tables, and a Service
//! selecting a Deployment's pods, whose endpoints the agent keeps: Ready pods
//! in, a pod being deleted out at once (while it still runs its grace period),
//! a named targetPort resolved per pod. Bad Services are refused naming the
//! field, with nothing stored.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{workload_env, Agent};
use serde_json::Value;

/// The seed's services.yaml, as the user wrote it.
const SEED_SERVICES: &str = "kind: Service
apiVersion: v1
metadata:
  name: myservice
spec:
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9376
---
kind: Service
apiVersion: v1
metadata:
  name: mydb
spec:
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9377
";

/// A Deployment of `replicas` pods serving on a port named `web`, whose
/// container ignores SIGTERM (so a deleted pod stays Terminating for its grace
/// period), and a Service selecting them by that name, as a NodePort.
fn backend(replicas: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 20
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
        ports: [{{name: web, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, labels: {{tier: front}}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: web}}
"#
    )
}

fn json(env: &PodEnv, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).expect("-o json is JSON")
}

/// `ip:port` of the ready addresses of the Endpoints `name`.
fn ready_endpoints(env: &PodEnv, name: &str) -> Vec<String> {
    let out = env.podrt(&["get", "endpoints", name, "-o", "json"]);
    if !out.status.success() {
        return Vec::new();
    }
    let e: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut pairs = Vec::new();
    for s in e["subsets"].as_array().into_iter().flatten() {
        for a in s["addresses"].as_array().into_iter().flatten() {
            for p in s["ports"].as_array().into_iter().flatten() {
                pairs.push(format!(
                    "{}:{}",
                    a["ip"].as_str().unwrap_or_default(),
                    p["port"]
                ));
            }
        }
    }
    pairs.sort();
    pairs
}

/// The running pods' IPs.
fn pod_ips(env: &PodEnv) -> Vec<(String, String)> {
    let list = json(env, &["get", "pods", "-o", "json"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running"
        })
        .map(|p| {
            (
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["status"]["podIP"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn the_seeds_services_get_addresses_and_no_endpoints() {
    let env = workload_env();
    let file = env.manifest("services.yaml", SEED_SERVICES);
    let out = env.ok(&["create", "-f", file.to_str().unwrap()]);
    assert_eq!(out, "service/myservice created\nservice/mydb created\n");
    let table = env.ok(&["get", "svc"]);
    let mut lines = table.lines();
    assert!(
        lines.next().is_some_and(|h| h.split_whitespace().eq([
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ])),
        "{table}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    let mut addresses = Vec::new();
    for row in &rows {
        assert!(["mydb", "myservice"].contains(&row[0]), "{table}");
        assert_eq!(row[1], "ClusterIP");
        let ip: std::net::Ipv4Addr = row[2].parse().expect("an IPv4 cluster IP");
        let [a, b, ..] = ip.octets();
        assert!(
            a == 10 && (96..112).contains(&b),
            "{ip} outside 10.96.0.0/12"
        );
        assert_eq!(row[3..5], ["<none>", "80/TCP"]);
        addresses.push(ip);
    }
    assert_ne!(addresses[0], addresses[1]);
    // Created again: each exists.
    let again = env.podrt(&["create", "-f", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("services \"myservice\" already exists"));
    // Applied again: unchanged, the same address.
    let out = env.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out, "service/myservice unchanged\nservice/mydb unchanged\n");
    let svc = json(&env, &["get", "svc", "myservice", "-o", "json"]);
    assert!(addresses.contains(&svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap()));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 9376);
    // No selector, no endpoints.
    let none = env.podrt(&["get", "endpoints", "myservice"]);
    assert!(text(&none.stderr).contains("endpoints \"myservice\" not found"));
    let page = env.ok(&["describe", "-f", file.to_str().unwrap()]);
    for want in [
        "Name:",
        "myservice",
        "TargetPort:",
        "9376/TCP",
        "Endpoints:",
        "<none>",
    ] {
        assert!(page.contains(want), "{want} in:\n{page}");
    }
    assert!(env
        .ok(&["get", "-f", file.to_str().unwrap()])
        .contains("service/mydb"));
    assert!(env.ok(&["get", "all"]).contains("service/myservice"));
    let out = env.ok(&["delete", "-f", file.to_str().unwrap()]);
    assert!(
        out.contains("service \"myservice\" deleted") && out.contains("service \"mydb\" deleted"),
        "{out}"
    );
    let gone = env.podrt(&["get", "svc"]);
    assert!(
        text(&gone.stderr).contains("No resources found"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn a_services_endpoints_follow_its_ready_pods_and_drop_a_terminating_one_at_once() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    env.apply(&backend(2));
    let mut pods = Vec::new();
    assert!(
        wait_until(40, || {
            pods = pod_ips(&env);
            let want: Vec<String> = {
                let mut w: Vec<String> = pods.iter().map(|(_, ip)| format!("{ip}:8080")).collect();
                w.sort();
                w
            };
            pods.len() == 2 && ready_endpoints(&env, "web") == want
        }),
        "pods {pods:?}, endpoints {:?}",
        ready_endpoints(&env, "web")
    );
    // kubectl's tables.
    let table = env.ok(&["get", "svc", "web", "-o", "wide"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[1], "NodePort", "{table}");
    assert!(
        row[4].starts_with("80:3") && row[4].ends_with("/TCP"),
        "{table}"
    );
    assert_eq!(row[6], "app=web", "{table}");
    let ep = env.ok(&["get", "ep"]);
    assert!(ep.contains(":8080,") && ep.starts_with("NAME"), "{ep}");
    let slices = env.ok(&["get", "endpointslices"]);
    let row: Vec<&str> = slices
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(
        row[0].starts_with("web-") && row[1..3] == ["IPv4", "8080"],
        "{slices}"
    );
    let page = env.ok(&["describe", "svc", "web"]);
    assert!(
        page.contains("NodePort:") && page.contains("TargetPort:") && page.contains(":8080"),
        "{page}"
    );

    // A pod being deleted leaves the endpoints while it still runs its grace
    // period (its container ignores SIGTERM).
    let (gone, gone_ip) = pods[0].clone();
    let out = env.ok(&["delete", "pod", &gone, "--wait=false"]);
    assert!(out.contains("deleted"), "{out}");
    let mut seen_terminating_and_out = false;
    assert!(
        wait_until(20, || {
            let listed = env.podrt(&["get", "pod", &gone]).status.success();
            let out = !ready_endpoints(&env, "web")
                .iter()
                .any(|e| e.starts_with(&format!("{gone_ip}:")));
            seen_terminating_and_out |= listed && out;
            seen_terminating_and_out
        }),
        "{gone} ({gone_ip}) kept in the endpoints while terminating: {:?}\n{}",
        ready_endpoints(&env, "web"),
        env.ok(&["get", "pods"])
    );
    let slice = json(&env, &["get", "endpointslices", "-o", "json"]);
    let terminating: Vec<&Value> = slice["items"][0]["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["conditions"]["terminating"] == true)
        .collect();
    if env.podrt(&["get", "pod", &gone]).status.success() {
        assert!(
            terminating
                .iter()
                .any(|e| e["addresses"][0] == gone_ip.as_str()),
            "{slice}"
        );
    }
    // The replacement joins.
    assert!(
        wait_until(40, || ready_endpoints(&env, "web").len() == 2),
        "{:?}",
        ready_endpoints(&env, "web")
    );
    // Deleting the Service takes its endpoints.
    env.ok(&["delete", "svc", "web"]);
    assert!(ready_endpoints(&env, "web").is_empty());
    let none = env.podrt(&["get", "endpointslices"]);
    assert!(
        text(&none.stderr).contains("No resources found"),
        "{}",
        text(&none.stdout)
    );
    env.ok(&["delete", "deploy", "web", "--grace-period=0", "--force"]);
}

#[test]
fn bad_services_are_refused_naming_the_field_and_nothing_is_stored() {
    let env = workload_env();
    let svc = |spec: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: bad}}\nspec:\n{spec}")
    };
    for (spec, want) in [
        (
            "  clusterIP: 192.168.7.7\n  ports: [{port: 80}]\n",
            "The range of valid IPs is 10.96.0.0/12",
        ),
        (
            "  ports: [{name: a, port: 80}, {name: b, port: 80}]\n",
            "spec.ports[1]: Duplicate value: \"80/TCP\"",
        ),
        (
            "  ports: [{port: 80, targetPort: Web_Port}]\n",
            "spec.ports[0].targetPort: Invalid value: \"Web_Port\"",
        ),
        (
            "  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n",
            "spec.ports[0].nodePort: Invalid value: 80",
        ),
        (
            "  type: Magic\n  ports: [{port: 80}]\n",
            "spec.type: Unsupported value: \"Magic\"",
        ),
    ] {
        env.apply_refused(&svc(spec), &[], &["The Service \"bad\" is invalid", want]);
    }
    // A taken address, and a document of the same file with it: nothing of
    // the file is stored.
    env.apply(
        &svc("  clusterIP: 10.96.0.50\n  ports: [{port: 80}]\n")
            .replace("name: bad", "name: first"),
    );
    let both = format!(
        "{}---\n{}",
        svc("  ports: [{port: 81}]\n").replace("name: bad", "name: fine"),
        svc("  clusterIP: 10.96.0.50\n  ports: [{port: 80}]\n")
    );
    env.apply_refused(&both, &[], &["provided IP is already allocated"]);
    let listed = env.ok(&["get", "svc", "-o", "name"]);
    assert_eq!(listed, "service/first\n");
    env.ok(&["delete", "svc", "first"]);
}

#[test]
fn edit_svc_changes_a_service_and_refuses_what_the_api_server_would() {
    let env = workload_env();
    env.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n");
    let edit = |script: &str| {
        env.cmd()
            .args(["edit", "svc", "web"])
            .env("EDITOR", format!("sed -i -e '{script}'"))
            .output()
            .expect("run edit")
    };
    let ip = json(&env, &["get", "svc", "web", "-o", "json"])["spec"]["clusterIP"].clone();
    let out = edit("s/port: 80/port: 81/");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "service/web edited");
    let svc = json(&env, &["get", "svc", "web", "-o", "json"]);
    assert_eq!(svc["spec"]["ports"][0]["port"], 81);
    assert_eq!(svc["spec"]["clusterIP"], ip, "the cluster IP moved");
    for (script, want) in [
        (
            "s/clusterIP: .*/clusterIP: 10.96.0.99/",
            "may not change once set",
        ),
        ("s/name: web/name: other/", "cannot be changed by edit"),
        ("s/port: 81/port: 0/", "spec.ports[0].port"),
    ] {
        let out = edit(script);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{script}: {err}");
        assert!(err.contains(want), "{script}: {err}");
        if let Some(kept) = err.split('"').find(|s| s.starts_with("/tmp/podrt-edit-")) {
            let _ = std::fs::remove_file(kept);
        }
    }
    let svc = json(&env, &["get", "svc", "web", "-o", "json"]);
    assert_eq!(svc["spec"]["ports"][0]["port"], 81);
    env.ok(&["delete", "svc", "web"]);
}
