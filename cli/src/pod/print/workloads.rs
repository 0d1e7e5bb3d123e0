//! `get deployments`, `replicasets`, `daemonsets`, `statefulsets` and `jobs`:
//! kubectl's columns for each kind (`-o wide` adds the containers, images and,
//! but for StatefulSets, selector), and `-o json|yaml` of any stored object.

use std::time::SystemTime;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, PodTemplateSpec, Secret};
use podrt_node::selector;
use serde::Serialize;

use super::age::{human_duration_nanos, since, system_nanos, time_nanos};
use super::table;

/// The `get deployments` table, header included.
pub fn deployments(items: &[Deployment], wide: bool, now: SystemTime) -> String {
    let mut text = String::from("NAME\tREADY\tUP-TO-DATE\tAVAILABLE\tAGE");
    if wide {
        text.push_str("\tCONTAINERS\tIMAGES\tSELECTOR");
    }
    text.push('\n');
    for d in items {
        let status = d.status.clone().unwrap_or_default();
        let mut cells = vec![
            d.metadata.name.clone().unwrap_or_default(),
            format!(
                "{}/{}",
                status.ready_replicas.unwrap_or(0),
                d.spec.replicas.unwrap_or(1)
            ),
            status.updated_replicas.unwrap_or(0).to_string(),
            status.available_replicas.unwrap_or(0).to_string(),
            since(d.metadata.creation_timestamp.as_ref(), now),
        ];
        if wide {
            cells.extend(template_cells(Some(&d.spec.template)));
            cells.push(selector::render(&d.spec.selector));
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get replicasets` table, header included.
pub fn replicasets(items: &[ReplicaSet], wide: bool, now: SystemTime) -> String {
    let mut text = String::from("NAME\tDESIRED\tCURRENT\tREADY\tAGE");
    if wide {
        text.push_str("\tCONTAINERS\tIMAGES\tSELECTOR");
    }
    text.push('\n');
    for rs in items {
        let status = rs.status.clone().unwrap_or_default();
        let mut cells = vec![
            rs.metadata.name.clone().unwrap_or_default(),
            rs.spec.replicas.unwrap_or(1).to_string(),
            status.replicas.to_string(),
            status.ready_replicas.unwrap_or(0).to_string(),
            since(rs.metadata.creation_timestamp.as_ref(), now),
        ];
        if wide {
            cells.extend(template_cells(rs.spec.template.as_ref()));
            cells.push(selector::render(&rs.spec.selector));
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get daemonsets` table, header included.
pub fn daemonsets(items: &[DaemonSet], wide: bool, now: SystemTime) -> String {
    let mut text =
        String::from("NAME\tDESIRED\tCURRENT\tREADY\tUP-TO-DATE\tAVAILABLE\tNODE SELECTOR\tAGE");
    if wide {
        text.push_str("\tCONTAINERS\tIMAGES\tSELECTOR");
    }
    text.push('\n');
    for ds in items {
        let status = ds.status.clone().unwrap_or_default();
        let node_selector: Vec<String> = ds
            .spec
            .template
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.clone())
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut cells = vec![
            ds.metadata.name.clone().unwrap_or_default(),
            status.desired_number_scheduled.to_string(),
            status.current_number_scheduled.to_string(),
            status.number_ready.to_string(),
            status.updated_number_scheduled.unwrap_or(0).to_string(),
            status.number_available.unwrap_or(0).to_string(),
            if node_selector.is_empty() {
                "<none>".to_string()
            } else {
                node_selector.join(",")
            },
            since(ds.metadata.creation_timestamp.as_ref(), now),
        ];
        if wide {
            cells.extend(template_cells(Some(&ds.spec.template)));
            cells.push(selector::render(&ds.spec.selector));
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get statefulsets` table, header included: READY is
/// `readyReplicas/replicas`; `-o wide` adds the containers and images (kubectl
/// shows no selector for this kind).
pub fn statefulsets(items: &[StatefulSet], wide: bool, now: SystemTime) -> String {
    let mut text = String::from("NAME\tREADY\tAGE");
    if wide {
        text.push_str("\tCONTAINERS\tIMAGES");
    }
    text.push('\n');
    for sts in items {
        let status = sts.status.clone().unwrap_or_default();
        let mut cells = vec![
            sts.metadata.name.clone().unwrap_or_default(),
            format!(
                "{}/{}",
                status.ready_replicas.unwrap_or(0),
                sts.spec.replicas.unwrap_or(1)
            ),
            since(sts.metadata.creation_timestamp.as_ref(), now),
        ];
        if wide {
            cells.extend(template_cells(Some(&sts.spec.template)));
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// kubectl's STATUS of a Job: its finishing condition, else Running.
fn job_status(job: &Job) -> &'static str {
    let has = |t: &str| {
        job.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| c.type_ == t && c.status == "True")
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if job.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else {
        "Running"
    }
}

/// kubectl's COMPLETIONS: `succeeded/completions`, or `n/1 of P` for a work
/// queue run `P` at a time.
fn job_completions(job: &Job) -> String {
    let spec = job.spec.clone().unwrap_or_default();
    let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
    match (spec.completions, spec.parallelism) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    }
}

/// kubectl's DURATION: start to completion, or to now while it has not
/// completed; empty before it started.
fn job_duration(job: &Job, now: SystemTime) -> String {
    let status = job.status.clone().unwrap_or_default();
    let Some(start) = status.start_time.as_ref() else {
        return String::new();
    };
    let end = status
        .completion_time
        .as_ref()
        .map_or_else(|| system_nanos(now), time_nanos);
    human_duration_nanos(end - time_nanos(start))
}

/// The `get namespaces` table, header included.
pub fn namespaces(items: &[Namespace], now: SystemTime) -> String {
    let mut text = String::from("NAME\tSTATUS\tAGE\n");
    for n in items {
        let phase = n
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Active".to_string());
        text.push_str(&format!(
            "{}\t{phase}\t{}\n",
            n.metadata.name.as_deref().unwrap_or_default(),
            since(n.metadata.creation_timestamp.as_ref(), now)
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// kubectl's `NAME TYPE DATA AGE` (with `NAMESPACE` first under `-A`).
pub fn secrets(items: &[Secret], namespaces: bool, _wide: bool, now: SystemTime) -> String {
    let mut text = table::namespace_header(namespaces);
    text.push_str("NAME\tTYPE\tDATA\tAGE\n");
    for s in items {
        table::namespace_cell(&mut text, namespaces, s.metadata.namespace.as_deref());
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            s.metadata.name.as_deref().unwrap_or_default(),
            s.type_.as_deref().unwrap_or("Opaque"),
            s.data.as_ref().map_or(0, |d| d.len()),
            since(s.metadata.creation_timestamp.as_ref(), now)
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get controllerrevisions` table, header included: CONTROLLER is the
/// owner as `statefulset.apps/web`.
pub fn controller_revisions(
    items: &[ControllerRevision],
    namespaces: bool,
    _wide: bool,
    now: SystemTime,
) -> String {
    let mut text = table::namespace_header(namespaces);
    text.push_str("NAME\tCONTROLLER\tREVISION\tAGE\n");
    for r in items {
        table::namespace_cell(&mut text, namespaces, r.metadata.namespace.as_deref());
        let controller = r
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map_or_else(
                || "<none>".to_string(),
                |o| {
                    let group = o.api_version.split_once('/').map_or("", |(g, _)| g);
                    format!("{}.{group}/{}", o.kind.to_ascii_lowercase(), o.name)
                },
            );
        text.push_str(&format!(
            "{}\t{controller}\t{}\t{}\n",
            r.metadata.name.as_deref().unwrap_or_default(),
            r.revision.unwrap_or(0),
            since(r.metadata.creation_timestamp.as_ref(), now)
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get jobs` table, header included.
pub fn jobs(items: &[Job], wide: bool, now: SystemTime) -> String {
    let mut text = String::from("NAME\tSTATUS\tCOMPLETIONS\tDURATION\tAGE");
    if wide {
        text.push_str("\tCONTAINERS\tIMAGES\tSELECTOR");
    }
    text.push('\n');
    for job in items {
        let mut cells = vec![
            job.metadata.name.clone().unwrap_or_default(),
            job_status(job).to_string(),
            job_completions(job),
            job_duration(job, now),
            since(job.metadata.creation_timestamp.as_ref(), now),
        ];
        if wide {
            let spec = job.spec.clone().unwrap_or_default();
            cells.extend(template_cells(Some(&spec.template)));
            cells.push(
                spec.selector
                    .as_ref()
                    .map_or_else(String::new, selector::render),
            );
        }
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// CONTAINERS and IMAGES: the template's, comma-separated.
fn template_cells(template: Option<&PodTemplateSpec>) -> [String; 2] {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    [
        containers
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(","),
        containers
            .iter()
            .map(|c| c.image.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
    ]
}

/// `-o json` of stored objects: one as itself when `single`, else a `List`.
pub fn objects_json<T: Serialize>(items: &[T], single: bool) -> anyhow::Result<String> {
    super::json_text(&value(items, single)?)
}

/// `-o yaml` of stored objects: one as itself when `single`, else a `List`.
pub fn objects_yaml<T: Serialize>(items: &[T], single: bool) -> anyhow::Result<String> {
    super::yaml_text(&value(items, single)?)
}

fn value<T: Serialize>(items: &[T], single: bool) -> anyhow::Result<serde_json::Value> {
    let values = items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::sorted(match values.as_slice() {
        [one] if single => one.clone(),
        _ => serde_json::json!({
            "apiVersion": "v1",
            "items": values,
            "kind": "List",
            "metadata": { "resourceVersion": "" },
        }),
    }))
}
