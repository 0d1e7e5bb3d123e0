//! How pods are shown: the `get pods` table (plain and `-o wide`), `-o json`,
//! `-o yaml` and `describe pod`, each the same text kubectl prints for the same
//! Pod object.
//!
//! Everything here is a pure function of the Pod objects and the current time, so
//! callers decide where the text goes and what to print when there are no pods.

pub(crate) mod age;
mod containers;
mod describe;
pub mod describe_workloads;
mod host_check;
mod networks;
mod policy;
mod psps;
mod qos;
mod services;
mod status;
mod table;
mod workloads;

use std::time::SystemTime;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

pub use age::human_duration;
pub use host_check::host_check;
pub use networks::networks;
pub use policy::verdicts;
pub use psps::{describe_psp, psps};
pub use services::{describe_service, endpoint_slices, endpoints, services};
pub use workloads::{
    controller_revisions, daemonsets, deployments, jobs, namespaces, objects_json, objects_yaml,
    replicasets, secrets, statefulsets,
};

/// One row of `get pods`, each cell as kubectl prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRow {
    /// NAME: the pod's name.
    pub name: String,
    /// READY: ready containers over containers (sidecar init containers count), e.g. `1/2`.
    pub ready: String,
    /// STATUS: kubectl's reason, e.g. `Running`, `Init:0/2`, `CrashLoopBackOff`, `Terminating`.
    pub status: String,
    /// RESTARTS: total restarts, with the age of the last one, e.g. `3 (2m ago)`.
    pub restarts: String,
    /// AGE: time since creation, e.g. `5m20s`.
    pub age: String,
    /// IP (wide): the pod's first IP, or `<none>`.
    pub ip: String,
    /// NODE (wide): the node the pod runs on, or `<none>`.
    pub node: String,
    /// NOMINATED NODE (wide): `status.nominatedNodeName`, or `<none>`.
    pub nominated_node: String,
    /// READINESS GATES (wide): true gates over gates, or `<none>`.
    pub readiness_gates: String,
}

/// The `get pods` row of `pod` at time `now`.
pub fn pod_row(pod: &Pod, now: SystemTime) -> PodRow {
    status::row(pod, now)
}

/// The `get pods` table, header included, every line ending in `\n`; `wide` adds
/// kubectl's `-o wide` columns. An empty `pods` gives just the header: printing
/// `No resources found` instead is the caller's choice.
pub fn table(pods: &[Pod], wide: bool, now: SystemTime) -> String {
    let mut text = String::from("NAME\tREADY\tSTATUS\tRESTARTS\tAGE");
    if wide {
        text.push_str("\tIP\tNODE\tNOMINATED NODE\tREADINESS GATES");
    }
    text.push('\n');
    for pod in pods {
        let r = pod_row(pod, now);
        let mut cells = vec![r.name, r.ready, r.status, r.restarts, r.age];
        if wide {
            cells.extend([r.ip, r.node, r.nominated_node, r.readiness_gates]);
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// `-o json`: one pod as the object itself, any other number as a `v1` `List`.
/// Keys are sorted and indented by four spaces, and `<`, `>`, `&` escaped, as Go's
/// `json.MarshalIndent` writes them.
pub fn to_json(pods: &[Pod]) -> anyhow::Result<String> {
    match pods {
        [pod] => json_text(&object(pod)?),
        _ => list_json(pods),
    }
}

/// `-o json` of a listing (`get pods`): always a `List`, even of one pod.
pub fn list_json(pods: &[Pod]) -> anyhow::Result<String> {
    json_text(&list(pods)?)
}

/// `-o yaml`: one pod as the object itself, any other number as a `v1` `List`,
/// keys sorted as kubectl prints them.
pub fn to_yaml(pods: &[Pod]) -> anyhow::Result<String> {
    match pods {
        [pod] => yaml_text(&object(pod)?),
        _ => list_yaml(pods),
    }
}

/// `-o yaml` of a listing (`get pods`): always a `List`, even of one pod.
pub fn list_yaml(pods: &[Pod]) -> anyhow::Result<String> {
    yaml_text(&list(pods)?)
}

/// A `rollout history` table (tab-separated cells in, aligned as kubectl's).
pub fn history(text: &str) -> String {
    table::GET.format(&table::escape_terminal(text))
}

/// The `describe pod` page of `pod` and its events at time `now`.
pub fn describe(
    pod: &Pod,
    events: &[k8s_openapi::api::core::v1::Event],
    now: SystemTime,
) -> String {
    describe::describe(pod, events, now)
}

/// The pod as a JSON value with its keys sorted, as Go prints an object it read
/// from the API server (an unstructured map).
fn object(pod: &Pod) -> anyhow::Result<Value> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let value =
        serde_json::to_value(pod).with_context(|| format!("cannot encode pod {name:?} as JSON"))?;
    Ok(sorted(value))
}

fn list(pods: &[Pod]) -> anyhow::Result<Value> {
    let items = pods
        .iter()
        .map(object)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(sorted(serde_json::json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": { "resourceVersion": "" },
    })))
}

/// Rebuild every map in key order, whether or not serde_json preserves insertion order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn json_text(value: &Value) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut ser).context("cannot write JSON")?;
    let text = String::from_utf8(out).context("JSON output is not UTF-8")?;
    // Go's HTML-safe escaping; these characters only occur inside JSON strings.
    let mut text = text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    text.push('\n');
    Ok(text)
}

fn yaml_text(value: &Value) -> anyhow::Result<String> {
    let mut text = serde_saphyr::to_string(value).context("cannot write YAML")?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    fn now() -> SystemTime {
        // 2026-11-25T14:10:00Z
        UNIX_EPOCH + Duration::from_secs(1_795_615_800)
    }

    fn pod(name: &str, phase: &str, ready: bool) -> Pod {
        let state = if ready {
            json!({"running": {"startedAt": "2026-11-25T14:00:00Z"}})
        } else {
            json!({"waiting": {"reason": "ContainerCreating"}})
        };
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": "0b7e", "creationTimestamp": "2026-11-25T14:00:00Z",
                         "annotations": {"note": "<b>&"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], "nodeName": "node1"},
            "status": {"phase": phase, "podIP": if ready { "10.88.0.2" } else { "" },
                       "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "", "ready": ready,
                                              "restartCount": 0, "state": state}]},
        }))
        .unwrap()
    }

    #[test]
    fn table_aligns_columns_as_kubectl() {
        let pods = [
            pod("web", "Running", true),
            pod("database-0", "Pending", false),
        ];
        let want = "\
NAME         READY   STATUS              RESTARTS   AGE
web          1/1     Running             0          10m
database-0   0/1     ContainerCreating   0          10m
";
        assert_eq!(table(&pods, false, now()), want);
        assert_eq!(
            table(&[], false, now()),
            "NAME   READY   STATUS   RESTARTS   AGE\n"
        );
    }

    #[test]
    fn wide_table_adds_kubectl_columns() {
        let pods = [
            pod("web", "Running", true),
            pod("database-0", "Pending", false),
        ];
        let want = "\
NAME         READY   STATUS              RESTARTS   AGE   IP          NODE    NOMINATED NODE   READINESS GATES
web          1/1     Running             0          10m   10.88.0.2   node1   <none>           <none>
database-0   0/1     ContainerCreating   0          10m   <none>      node1   <none>           <none>
";
        assert_eq!(table(&pods, true, now()), want);
    }

    #[test]
    fn json_of_one_pod_is_the_object() {
        let p = pod("web", "Running", true);
        let text = to_json(std::slice::from_ref(&p)).unwrap();
        assert!(text.starts_with("{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"annotations\""));
        assert!(text.ends_with("}\n"));
        assert!(text.contains(r#""note": "\u003cb\u003e\u0026""#), "{text}");
        let back: Pod = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn json_of_several_pods_is_a_list() {
        let pods = [pod("a", "Running", true), pod("b", "Pending", false)];
        let text = to_json(&pods).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kind"], "List");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["metadata"], json!({"resourceVersion": ""}));
        assert_eq!(v["items"][1]["metadata"]["name"], "b");
        let order: Vec<usize> = [
            "\"apiVersion\"",
            "\"items\"",
            "\"kind\": \"List\"",
            "\"resourceVersion\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let one = list_json(&pods[..1]).unwrap();
        assert!(one.contains("\"kind\": \"List\""));
        assert!(to_json(&[]).unwrap().contains("\"items\": []"));
    }

    #[test]
    fn yaml_round_trips() {
        let p = pod("web", "Running", true);
        let text = to_yaml(std::slice::from_ref(&p)).unwrap();
        assert!(
            text.starts_with("apiVersion: v1\nkind: Pod\nmetadata:\n"),
            "{text}"
        );
        assert!(
            text.contains("  containers:\n  - image: nginx:1.27\n"),
            "{text}"
        );
        let back: Pod = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, p);

        let pods = [p, pod("b", "Pending", false)];
        let list: Value = serde_saphyr::from_str(&to_yaml(&pods).unwrap()).unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["metadata"]["resourceVersion"], "");
        let items: Vec<Pod> = serde_json::from_value(list["items"].clone()).unwrap();
        assert_eq!(items, pods);
    }
}
