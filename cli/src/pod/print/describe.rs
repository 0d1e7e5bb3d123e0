//! `describe pod`: kubectl's `describePod` page, written as lines of tab-ended
//! cells at two spaces per level and aligned at the end as kubectl's tabwriter does.
//!
//! The page ends with the pod's events (those podrt keeps: its image pulls).

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Event, Pod, PodSpec, PodStatus, Toleration, Volume};

use super::age::{rfc1123z, since};
use super::containers::{containers, resources};
use super::qos::qos_class;
use super::table::{escape_terminal, DESCRIBE};

/// Annotations kubectl never shows.
const SKIP_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Longer `key: value` annotations are printed on their own, shortened lines.
const MAX_ANNOTATION_LEN: usize = 140;

/// The page being written: one `\n`-ended line per call, cells ended by `\t`.
#[derive(Default)]
pub(super) struct Page(String);

impl Page {
    /// Write `text` at `level` (two spaces per level) as one line.
    pub(crate) fn line(&mut self, level: usize, text: impl AsRef<str>) {
        for _ in 0..level {
            self.0.push_str("  ");
        }
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    /// The lines written so far, unaligned (to nest one page in another).
    pub(super) fn lines(&self) -> impl Iterator<Item = &str> {
        self.0.lines()
    }

    /// The aligned page, with terminal control characters escaped.
    pub(super) fn finish(self) -> String {
        DESCRIBE.format(&escape_terminal(&self.0))
    }
}

/// The `describe pod` page for `pod` and its `events` at time `now`.
pub(crate) fn describe(pod: &Pod, events: &[Event], now: SystemTime) -> String {
    let mut w = Page::default();
    header(&mut w, pod, now);
    let (empty_spec, empty_status) = (PodSpec::default(), PodStatus::default());
    let spec = pod.spec.as_ref().unwrap_or(&empty_spec);
    let status = pod.status.as_ref().unwrap_or(&empty_status);
    if spec.resources.is_some() {
        w.line(0, "Resources:");
        resources(&mut w, spec.resources.as_ref(), 1);
    }
    let inits = spec.init_containers.as_deref().unwrap_or(&[]);
    if !inits.is_empty() {
        containers(
            &mut w,
            "Init Containers",
            inits,
            status.init_container_statuses.as_deref().unwrap_or(&[]),
            pod,
        );
    }
    containers(
        &mut w,
        "Containers",
        &spec.containers,
        status.container_statuses.as_deref().unwrap_or(&[]),
        pod,
    );
    let conditions = status.conditions.as_deref().unwrap_or(&[]);
    let gates = spec.readiness_gates.as_deref().unwrap_or(&[]);
    if !gates.is_empty() {
        w.line(0, "Readiness Gates:");
        w.line(1, "Type\tStatus");
        for g in gates {
            let found = conditions.iter().find(|c| c.type_ == g.condition_type);
            w.line(
                1,
                format!(
                    "{} \t{} ",
                    g.condition_type,
                    found.map_or("<none>", |c| c.status.as_str())
                ),
            );
        }
    }
    if !conditions.is_empty() {
        w.line(0, "Conditions:");
        w.line(1, "Type\tStatus");
        for c in conditions {
            w.line(1, format!("{} \t{} ", c.type_, c.status));
        }
    }
    volumes(&mut w, spec.volumes.as_deref().unwrap_or(&[]));
    w.line(0, format!("QoS Class:\t{}", qos_class(pod)));
    labels(&mut w, "Node-Selectors", spec.node_selector.as_ref());
    tolerations(&mut w, spec.tolerations.as_deref().unwrap_or(&[]));
    super::describe_workloads::event_lines(&mut w, events, now);
    w.finish()
}

/// Everything above the containers: identity, placement, metadata and status.
fn header(w: &mut Page, pod: &Pod, now: SystemTime) {
    let meta = &pod.metadata;
    let (empty_spec, empty_status) = (PodSpec::default(), PodStatus::default());
    let spec = pod.spec.as_ref().unwrap_or(&empty_spec);
    let status = pod.status.as_ref().unwrap_or(&empty_status);
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    w.line(0, format!("Name:\t{}", text(&meta.name)));
    w.line(0, format!("Namespace:\t{}", text(&meta.namespace)));
    if let Some(priority) = spec.priority {
        w.line(0, format!("Priority:\t{priority}"));
    }
    for (title, value) in [
        ("Priority Class Name", &spec.priority_class_name),
        ("Runtime Class Name", &spec.runtime_class_name),
        ("Service Account", &spec.service_account_name),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            w.line(0, format!("{title}:\t{v}"));
        }
    }
    match spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        None => w.line(0, "Node:\t<none>"),
        Some(node) => w.line(0, format!("Node:\t{node}/{}", text(&status.host_ip))),
    }
    if let Some(start) = &status.start_time {
        w.line(0, format!("Start Time:\t{}", rfc1123z(Some(start))));
    }
    labels(w, "Labels", meta.labels.as_ref());
    annotations(w, meta.annotations.as_ref());
    let phase = text(&status.phase);
    match &meta.deletion_timestamp {
        Some(deleted) if phase != "Failed" && phase != "Succeeded" => {
            w.line(
                0,
                format!("Status:\tTerminating (lasts {})", since(Some(deleted), now)),
            );
            let grace = meta.deletion_grace_period_seconds.unwrap_or(0);
            w.line(0, format!("Termination Grace Period:\t{grace}s"));
        }
        _ => w.line(0, format!("Status:\t{phase}")),
    }
    for (title, value) in [("Reason", &status.reason), ("Message", &status.message)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            w.line(0, format!("{title}:\t{v}"));
        }
    }
    if let Some(profile) = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        w.line(0, format!("SeccompProfile:\t{}", profile.type_));
        if profile.type_ == "Localhost" {
            w.line(
                0,
                format!(
                    "LocalhostProfile:\t{}",
                    profile.localhost_profile.as_deref().unwrap_or("")
                ),
            );
        }
    }
    w.line(0, format!("IP:\t{}", text(&status.pod_ip)));
    let ips = status.pod_ips.as_deref().unwrap_or(&[]);
    if ips.is_empty() {
        w.line(0, "IPs:\t<none>");
    } else {
        w.line(0, "IPs:");
        for ip in ips {
            w.line(1, format!("IP:\t{}", ip.ip));
        }
    }
    let owners = meta.owner_references.as_deref().unwrap_or(&[]);
    if let Some(owner) = owners.iter().find(|o| o.controller == Some(true)) {
        w.line(0, format!("Controlled By:\t{}/{}", owner.kind, owner.name));
    }
    if let Some(nominated) = status
        .nominated_node_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        w.line(0, format!("NominatedNodeName:\t{nominated}"));
    }
}

/// `title:` then `key=value` lines sorted by key, or `<none>`.
pub(super) fn labels(w: &mut Page, title: &str, map: Option<&BTreeMap<String, String>>) {
    let map = map.filter(|m| !m.is_empty());
    let Some(map) = map else {
        w.line(0, format!("{title}:\t<none>"));
        return;
    };
    for (i, (k, v)) in map.iter().enumerate() {
        let lead = if i == 0 {
            format!("{title}:")
        } else {
            String::new()
        };
        w.line(0, format!("{lead}\t{k}={v}"));
    }
}

/// `Annotations:` as `key: value`, a long or multi-line value on shortened lines.
pub(super) fn annotations(w: &mut Page, map: Option<&BTreeMap<String, String>>) {
    let entries: Vec<_> = map
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != SKIP_ANNOTATION)
        .collect();
    if entries.is_empty() {
        w.line(0, "Annotations:\t<none>");
        return;
    }
    for (i, (key, value)) in entries.into_iter().enumerate() {
        let lead = if i == 0 { "Annotations:" } else { "" };
        let value = value.strip_suffix('\n').unwrap_or(value);
        if value.len() + key.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
            w.line(0, format!("{lead}\t{key}:"));
            for line in value.split('\n') {
                w.line(0, format!("\t  {}", shorten(line, MAX_ANNOTATION_LEN - 2)));
            }
        } else {
            w.line(0, format!("{lead}\t{key}: {value}"));
        }
    }
}

/// Cut `s` to at most `max` bytes (at a character boundary) and mark the cut.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// `Tolerations:` sorted by key, as `key=value:Effect op=Exists for Ns`.
fn tolerations(w: &mut Page, list: &[Toleration]) {
    if list.is_empty() {
        w.line(0, "Tolerations:\t<none>");
        return;
    }
    let mut sorted: Vec<&Toleration> = list.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for (i, t) in sorted.into_iter().enumerate() {
        let key = t.key.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let mut s = key.to_string();
        if !value.is_empty() {
            s += &format!("={value}");
        }
        if !effect.is_empty() {
            s += &format!(":{effect}");
        }
        if t.operator.as_deref() == Some("Exists") && value.is_empty() {
            s += if key.is_empty() && effect.is_empty() {
                "op=Exists"
            } else {
                " op=Exists"
            };
        }
        if let Some(seconds) = t.toleration_seconds {
            s += &format!(" for {seconds}s");
        }
        w.line(
            0,
            format!("{}\t{s}", if i == 0 { "Tolerations:" } else { "" }),
        );
    }
}

/// `Volumes:` with kubectl's wording for each volume type podrt can meet.
fn volumes(w: &mut Page, list: &[Volume]) {
    if list.is_empty() {
        w.line(0, "Volumes:\t<none>");
        return;
    }
    w.line(0, "Volumes:");
    for v in list {
        w.line(1, format!("{}:", v.name));
        if let Some(hp) = &v.host_path {
            w.line(2, "Type:\tHostPath (bare host directory volume)");
            w.line(2, format!("Path:\t{}", hp.path));
            w.line(
                2,
                format!("HostPathType:\t{}", hp.type_.as_deref().unwrap_or("<none>")),
            );
        } else if let Some(ed) = &v.empty_dir {
            let limit = ed
                .size_limit
                .as_ref()
                .filter(|q| super::qos::parse_quantity(&q.0).unwrap_or(0) > 0);
            w.line(
                2,
                "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)",
            );
            w.line(
                2,
                format!("Medium:\t{}", ed.medium.as_deref().unwrap_or("")),
            );
            w.line(
                2,
                format!("SizeLimit:\t{}", limit.map_or("<unset>", |q| q.0.as_str())),
            );
        } else if let Some(s) = &v.secret {
            w.line(2, "Type:\tSecret (a volume populated by a Secret)");
            w.line(
                2,
                format!("SecretName:\t{}", s.secret_name.as_deref().unwrap_or("")),
            );
            w.line(2, format!("Optional:\t{}", s.optional.unwrap_or(false)));
        } else if let Some(cm) = &v.config_map {
            w.line(2, "Type:\tConfigMap (a volume populated by a ConfigMap)");
            w.line(2, format!("Name:\t{}", cm.name));
            w.line(2, format!("Optional:\t{}", cm.optional.unwrap_or(false)));
        } else if let Some(pvc) = &v.persistent_volume_claim {
            w.line(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)");
            w.line(2, format!("ClaimName:\t{}", pvc.claim_name));
            w.line(2, format!("ReadOnly:\t{}", pvc.read_only.unwrap_or(false)));
        } else if let Some(image) = &v.image {
            w.line(2, "Type:\tImage (a container image or OCI artifact)");
            w.line(
                2,
                format!("Reference:\t{}", image.reference.as_deref().unwrap_or("")),
            );
            w.line(
                2,
                format!(
                    "PullPolicy:\t{}",
                    image.pull_policy.as_deref().unwrap_or("")
                ),
            );
        } else {
            w.line(1, "<unknown>");
        }
    }
}

#[cfg(test)]
mod tests;
