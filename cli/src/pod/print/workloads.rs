//! `get deployments` and `get replicasets`: kubectl's columns for each kind
//! (`-o wide` adds the containers, images and selector), and `-o json|yaml` of any
//! stored object.

use std::time::SystemTime;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use podrt_node::selector;
use serde::Serialize;

use super::age::since;
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
