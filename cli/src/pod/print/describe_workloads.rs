//! `describe deploy|rs|ds|job NAME`: kubectl's pages for the workload kinds,
//! written with the pod page's [`Page`]: the object's identity and metadata, its
//! replica counts, its pod template, and the events its controller recorded
//! (node/src/events.rs), with kubectl's `AGE (xN over AGE)` for repeats.

use std::time::SystemTime;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_node::objects::TEMPLATE_HASH_LABEL;
use podrt_node::selector;

use super::age::{rfc1123z, since};
use super::containers::containers;
use super::describe::{annotations, labels, Page};

/// The `describe deployment` page; `sets` are the ReplicaSets it owns.
pub fn deployment(
    d: &Deployment,
    sets: &[ReplicaSet],
    events: &[Event],
    now: SystemTime,
) -> String {
    let mut w = Page::default();
    identity(&mut w, &d.metadata);
    w.line(
        0,
        format!("Selector:\t{}", selector::render(&d.spec.selector)),
    );
    let s = d.status.clone().unwrap_or_default();
    let want = d.spec.replicas.unwrap_or(1);
    w.line(
        0,
        format!(
            "Replicas:\t{want} desired | {} updated | {} total | {} available | {} unavailable",
            s.updated_replicas.unwrap_or(0),
            s.replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
            s.unavailable_replicas.unwrap_or(0)
        ),
    );
    let strategy = d.spec.strategy.clone().unwrap_or_default();
    let kind = strategy.type_.as_deref().unwrap_or("RollingUpdate");
    w.line(0, format!("StrategyType:\t{kind}"));
    w.line(
        0,
        format!(
            "MinReadySeconds:\t{}",
            d.spec.min_ready_seconds.unwrap_or(0)
        ),
    );
    if kind == "RollingUpdate" {
        let ru = strategy.rolling_update.unwrap_or_default();
        let text = |v: Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>| match v {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => {
                n.to_string()
            }
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => s,
            None => "25%".to_string(),
        };
        w.line(
            0,
            format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge",
                text(ru.max_unavailable),
                text(ru.max_surge)
            ),
        );
    }
    template(&mut w, &d.spec.template);
    let conditions = s.conditions.unwrap_or_default();
    if !conditions.is_empty() {
        w.line(0, "Conditions:");
        w.line(1, "Type\tStatus\tReason");
        w.line(1, "----\t------\t------");
        for c in &conditions {
            w.line(
                1,
                format!(
                    "{}\t{}\t{}",
                    c.type_.as_deref().unwrap_or_default(),
                    c.status.as_deref().unwrap_or_default(),
                    c.reason.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    let set_line = |rs: &ReplicaSet| {
        format!(
            "{} ({}/{} replicas created)",
            rs.metadata.name.as_deref().unwrap_or_default(),
            rs.status.as_ref().map_or(0, |s| s.replicas),
            rs.spec.replicas.unwrap_or(0)
        )
    };
    // A set's template is the Deployment's plus the hash label.
    let hash = |rs: &ReplicaSet| {
        rs.spec.template.clone().map(|mut t| {
            if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
                labels.remove(TEMPLATE_HASH_LABEL);
            }
            t
        })
    };
    let (new, old): (Vec<&ReplicaSet>, Vec<&ReplicaSet>) = sets
        .iter()
        .partition(|rs| hash(rs).as_ref() == Some(&d.spec.template));
    let old: Vec<String> = old
        .iter()
        .filter(|rs| rs.spec.replicas.unwrap_or(0) > 0)
        .map(|rs| set_line(rs))
        .collect();
    w.line(
        0,
        format!(
            "OldReplicaSets:\t{}",
            if old.is_empty() {
                "<none>".to_string()
            } else {
                old.join(", ")
            }
        ),
    );
    w.line(
        0,
        format!(
            "NewReplicaSet:\t{}",
            new.first().map_or("<none>".to_string(), |rs| set_line(rs))
        ),
    );
    event_lines(&mut w, events, now);
    w.finish()
}

/// The `describe replicaset` page; `pods` are the pods it owns.
pub fn replicaset(rs: &ReplicaSet, pods: &[Pod], events: &[Event], now: SystemTime) -> String {
    let mut w = Page::default();
    identity(&mut w, &rs.metadata);
    w.line(
        0,
        format!("Selector:\t{}", selector::render(&rs.spec.selector)),
    );
    controlled_by(&mut w, &rs.metadata);
    let s = rs.status.clone().unwrap_or_default();
    w.line(
        0,
        format!(
            "Replicas:\t{} current / {} desired",
            s.replicas,
            rs.spec.replicas.unwrap_or(1)
        ),
    );
    pods_status(&mut w, pods);
    if let Some(t) = &rs.spec.template {
        template(&mut w, t);
    }
    event_lines(&mut w, events, now);
    w.finish()
}

/// The `describe daemonset` page; `pods` are the pods it owns.
pub fn daemonset(ds: &DaemonSet, pods: &[Pod], events: &[Event], now: SystemTime) -> String {
    let mut w = Page::default();
    identity(&mut w, &ds.metadata);
    w.line(
        0,
        format!("Selector:\t{}", selector::render(&ds.spec.selector)),
    );
    let node_selector = ds
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.clone())
        .unwrap_or_default();
    let rendered: Vec<String> = node_selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    w.line(
        0,
        format!(
            "Node-Selector:\t{}",
            if rendered.is_empty() {
                "<none>".to_string()
            } else {
                rendered.join(",")
            }
        ),
    );
    let s = ds.status.clone().unwrap_or_default();
    w.line(
        0,
        format!(
            "Desired Number of Nodes Scheduled:\t{}",
            s.desired_number_scheduled
        ),
    );
    w.line(
        0,
        format!(
            "Current Number of Nodes Scheduled:\t{}",
            s.current_number_scheduled
        ),
    );
    w.line(
        0,
        format!(
            "Number of Nodes Scheduled with Up-to-date Pods:\t{}",
            s.updated_number_scheduled.unwrap_or(0)
        ),
    );
    w.line(
        0,
        format!(
            "Number of Nodes Scheduled with Available Pods:\t{}",
            s.number_available.unwrap_or(0)
        ),
    );
    w.line(
        0,
        format!("Number of Nodes Misscheduled:\t{}", s.number_misscheduled),
    );
    pods_status(&mut w, pods);
    template(&mut w, &ds.spec.template);
    event_lines(&mut w, events, now);
    w.finish()
}

/// The `describe statefulset` page; `pods` are the pods it owns.
pub fn statefulset(sts: &StatefulSet, pods: &[Pod], events: &[Event], now: SystemTime) -> String {
    let mut w = Page::default();
    identity(&mut w, &sts.metadata);
    w.line(
        0,
        format!("Selector:\t{}", selector::render(&sts.spec.selector)),
    );
    let s = sts.status.clone().unwrap_or_default();
    w.line(
        0,
        format!(
            "Replicas:\t{} desired | {} total",
            sts.spec.replicas.unwrap_or(1),
            s.replicas
        ),
    );
    let strategy = sts.spec.update_strategy.clone().unwrap_or_default();
    let kind = strategy.type_.as_deref().unwrap_or("RollingUpdate");
    w.line(0, format!("Update Strategy:\t{kind}"));
    if kind == "RollingUpdate" {
        let partition = strategy
            .rolling_update
            .and_then(|r| r.partition)
            .unwrap_or(0);
        w.line(1, format!("Partition:\t{partition}"));
    }
    pods_status(&mut w, pods);
    template(&mut w, &sts.spec.template);
    let claims = sts.spec.volume_claim_templates.as_deref().unwrap_or(&[]);
    if claims.is_empty() {
        w.line(0, "Volume Claims:\t<none>");
    } else {
        w.line(0, "Volume Claims:");
        for c in claims {
            w.line(
                1,
                format!("Name:\t{}", c.metadata.name.as_deref().unwrap_or_default()),
            );
        }
    }
    event_lines(&mut w, events, now);
    w.finish()
}

/// The `describe job` page.
pub fn job(job: &Job, events: &[Event], now: SystemTime) -> String {
    let mut w = Page::default();
    let spec = job.spec.clone().unwrap_or_default();
    identity(&mut w, &job.metadata);
    if let Some(sel) = &spec.selector {
        w.line(0, format!("Selector:\t{}", selector::render(sel)));
    }
    controlled_by(&mut w, &job.metadata);
    w.line(
        0,
        format!("Parallelism:\t{}", spec.parallelism.unwrap_or(1)),
    );
    w.line(
        0,
        format!(
            "Completions:\t{}",
            spec.completions
                .map_or("<unset>".to_string(), |n| n.to_string())
        ),
    );
    w.line(
        0,
        format!(
            "Completion Mode:\t{}",
            spec.completion_mode.as_deref().unwrap_or("NonIndexed")
        ),
    );
    let status = job.status.clone().unwrap_or_default();
    if let Some(start) = &status.start_time {
        w.line(0, format!("Start Time:\t{}", rfc1123z(Some(start))));
    }
    if let Some(done) = &status.completion_time {
        w.line(0, format!("Completed At:\t{}", rfc1123z(Some(done))));
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        w.line(0, format!("Active Deadline Seconds:\t{deadline}s"));
    }
    w.line(
        0,
        format!(
            "Pods Statuses:\t{} Active ({} Ready) / {} Succeeded / {} Failed",
            status.active.unwrap_or(0),
            status.ready.unwrap_or(0),
            status.succeeded.unwrap_or(0),
            status.failed.unwrap_or(0)
        ),
    );
    template(&mut w, &spec.template);
    event_lines(&mut w, events, now);
    w.finish()
}

/// Name, namespace, creation time, labels and annotations.
fn identity(w: &mut Page, meta: &ObjectMeta) {
    w.line(
        0,
        format!("Name:\t{}", meta.name.as_deref().unwrap_or_default()),
    );
    w.line(
        0,
        format!(
            "Namespace:\t{}",
            meta.namespace.as_deref().unwrap_or("default")
        ),
    );
    w.line(
        0,
        format!(
            "CreationTimestamp:\t{}",
            rfc1123z(meta.creation_timestamp.as_ref())
        ),
    );
    labels(w, "Labels", meta.labels.as_ref());
    annotations(w, meta.annotations.as_ref());
}

fn controlled_by(w: &mut Page, meta: &ObjectMeta) {
    if let Some(owner) = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        w.line(0, format!("Controlled By:\t{}/{}", owner.kind, owner.name));
    }
}

/// `Pods Status:` counted by phase.
fn pods_status(w: &mut Page, pods: &[Pod]) {
    let count = |phase: &str| {
        pods.iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase))
            .count()
    };
    w.line(
        0,
        format!(
            "Pods Status:\t{} Running / {} Waiting / {} Succeeded / {} Failed",
            count("Running"),
            count("Pending"),
            count("Succeeded"),
            count("Failed")
        ),
    );
}

/// `Pod Template:` with its labels and containers, one level in.
fn template(w: &mut Page, t: &PodTemplateSpec) {
    w.line(0, "Pod Template:");
    let meta = t.metadata.clone().unwrap_or_default();
    let mut inner = Page::default();
    labels(&mut inner, "Labels", meta.labels.as_ref());
    if meta.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
        annotations(&mut inner, meta.annotations.as_ref());
    }
    let spec = t.spec.clone().unwrap_or_default();
    let pod = Pod {
        metadata: meta,
        spec: Some(spec.clone()),
        status: None,
    };
    if let Some(inits) = spec.init_containers.as_deref().filter(|i| !i.is_empty()) {
        containers(&mut inner, "Init Containers", inits, &[], &pod);
    }
    containers(&mut inner, "Containers", &spec.containers, &[], &pod);
    for line in inner.lines() {
        w.line(1, line);
    }
}

/// `Events:` as kubectl prints them, or `<none>`.
pub(super) fn event_lines(w: &mut Page, events: &[Event], now: SystemTime) {
    if events.is_empty() {
        w.line(0, "Events:\t<none>");
        return;
    }
    w.line(0, "Events:");
    w.line(1, "Type\tReason\tAge\tFrom\tMessage");
    w.line(1, "----\t------\t----\t----\t-------");
    for e in events {
        let last = e.last_timestamp.as_ref().or(e.first_timestamp.as_ref());
        let count = e.count.unwrap_or(1);
        let age = if count > 1 {
            format!(
                "{} (x{count} over {})",
                since(last, now),
                since(e.first_timestamp.as_ref(), now)
            )
        } else {
            since(last, now)
        };
        let from = e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .unwrap_or_default();
        w.line(
            1,
            format!(
                "{}\t{}\t{age}\t{from}\t{}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default().trim()
            ),
        );
    }
}
