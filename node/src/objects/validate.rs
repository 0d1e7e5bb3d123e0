//! Checking a workload before it is stored, with Kubernetes' field paths and
//! wording: its name, replicas, selector (which must select its own template),
//! rollout strategy, a Job's counts (in `job`), and its pod template — checked as the pod it will make,
//! by the same validation and admission policy a Pod goes through.

use k8s_openapi::api::apps::v1::{DaemonSetSpec, DeploymentSpec, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use podrt_sandbox::manifest::{self, names};
use podrt_sandbox::policy::Policy;

use super::job::{check_job, complete_job};
use super::percent::resolve;
use super::statefulset::{
    check_stateful_set, template_with_claims, update_allowed, FORBIDDEN_UPDATE,
};
use super::template::pod_from_template;
use super::Workload;
use crate::error::{Error, Result};
use crate::selector;

/// Checks `workload` completely; every field at fault is listed in one
/// [`Error::Invalid`]. `image_exists` answers for the template's images; with a
/// `policy`, the template's pod must pass it. The template's warnings (fields
/// podrt ignores) are returned.
pub fn validate(
    workload: &Workload,
    image_exists: &dyn Fn(&str) -> bool,
    policy: Option<&Policy>,
) -> Result<Vec<String>> {
    let mut errors = Vec::new();
    let meta = workload.metadata();
    match meta.name.as_deref() {
        None | Some("") => errors.push("metadata.name: Required value: name is required".into()),
        Some(name) => {
            if let Err(e) = names::dns1123_subdomain(name) {
                errors.push(format!("metadata.name: Invalid value: {name:?}: {e}"));
            }
        }
    }
    if let Some(ns) = meta.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        if let Err(e) = names::dns1123_label(ns) {
            errors.push(format!("metadata.namespace: Invalid value: {ns:?}: {e}"));
        }
    }
    let template = match workload {
        Workload::Deployment(d) => {
            let spec = &d.spec;
            check_strategy(spec, &mut errors);
            check_replicas(spec.replicas, &mut errors);
            check_selector(&spec.selector, &spec.template, &mut errors);
            spec.template.clone()
        }
        Workload::ReplicaSet(r) => {
            let spec: &ReplicaSetSpec = &r.spec;
            check_min_ready(spec.min_ready_seconds, &mut errors);
            check_replicas(spec.replicas, &mut errors);
            let template = spec.template.clone().unwrap_or_default();
            check_selector(&spec.selector, &template, &mut errors);
            template
        }
        Workload::DaemonSet(d) => {
            let spec = &d.spec;
            check_daemon_set(spec, &mut errors);
            check_selector(&spec.selector, &spec.template, &mut errors);
            spec.template.clone()
        }
        Workload::StatefulSet(s) => {
            let spec = &s.spec;
            check_stateful_set(workload.name(), spec, &mut errors);
            check_selector(&spec.selector, &spec.template, &mut errors);
            template_with_claims(spec)
        }
        Workload::Job(j) => {
            let spec = j.spec.clone().unwrap_or_default();
            check_job(workload.name(), &spec, &mut errors);
            if let Some(sel) = &spec.selector {
                check_selector(sel, &spec.template, &mut errors);
            }
            spec.template
        }
    };
    let warnings = check_template(workload, &template, image_exists, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid {
            object: workload.reference(),
            fields: errors,
        });
    }
    if let Some(policy) = policy {
        let pod = pod_from_template(
            &template,
            workload.name(),
            "default",
            &Default::default(),
            None,
        );
        policy.admit(&pod).map_err(|refusal| Error::Refused {
            object: workload.reference(),
            refusal,
        })?;
    }
    Ok(warnings)
}

/// What may not change once stored: the selector (apps/v1 and batch/v1 make it
/// immutable), a Job's template and completions (a Job runs its pods once), and
/// a StatefulSet's spec but for the few fields Kubernetes lets change.
pub fn check_update(old: &Workload, new: &Workload) -> Result<()> {
    let immutable = |field: &str, shown: String| Error::Invalid {
        object: new.reference(),
        fields: vec![format!(
            "{field}: Invalid value: {shown}: field is immutable"
        )],
    };
    let (before, after) = match (old, new) {
        (Workload::Deployment(a), Workload::Deployment(b)) => {
            (a.spec.selector.clone(), b.spec.selector.clone())
        }
        (Workload::ReplicaSet(a), Workload::ReplicaSet(b)) => {
            (a.spec.selector.clone(), b.spec.selector.clone())
        }
        (Workload::DaemonSet(a), Workload::DaemonSet(b)) => {
            (a.spec.selector.clone(), b.spec.selector.clone())
        }
        (Workload::StatefulSet(a), Workload::StatefulSet(b)) => {
            if update_allowed(a, b) {
                return Ok(());
            }
            return Err(Error::Invalid {
                object: new.reference(),
                fields: vec![FORBIDDEN_UPDATE.to_string()],
            });
        }
        (Workload::Job(a), Workload::Job(b)) => {
            // The new one as it would be stored: completed with the old uid.
            let mut b = b.as_ref().clone();
            b.metadata.uid = a.metadata.uid.clone();
            complete_job(&mut b);
            let (a, b) = (
                a.spec.clone().unwrap_or_default(),
                b.spec.unwrap_or_default(),
            );
            if a.template != b.template {
                return Err(immutable("spec.template", "the new template".into()));
            }
            if a.completions != b.completions {
                let shown = b.completions.map_or("null".into(), |n| n.to_string());
                return Err(immutable("spec.completions", shown));
            }
            (
                a.selector.unwrap_or_default(),
                b.selector.unwrap_or_default(),
            )
        }
        _ => return Ok(()),
    };
    if before != after {
        return Err(immutable(
            "spec.selector",
            format!("{:?}", selector::render(&after)),
        ));
    }
    Ok(())
}

fn check_replicas(replicas: Option<i32>, errors: &mut Vec<String>) {
    if let Some(n) = replicas.filter(|n| *n < 0) {
        errors.push(format!(
            "spec.replicas: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
}

/// A DaemonSet's update strategy and counts.
fn check_daemon_set(spec: &DaemonSetSpec, errors: &mut Vec<String>) {
    check_min_ready(spec.min_ready_seconds, errors);
    if let Some(n) = spec.revision_history_limit.filter(|n| *n < 0) {
        errors.push(format!(
            "spec.revisionHistoryLimit: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate" | "OnDelete") => {}
        Some(other) => errors.push(format!(
            "spec.updateStrategy.type: Unsupported value: {other:?}: supported values: \"OnDelete\", \"RollingUpdate\""
        )),
    }
    let ru = strategy.rolling_update.unwrap_or_default();
    for (field, value) in [
        ("maxSurge", ru.max_surge),
        ("maxUnavailable", ru.max_unavailable),
    ] {
        if let Some(Err(e)) = value.map(|v| resolve(&v, 100, true)) {
            errors.push(format!("spec.updateStrategy.rollingUpdate.{field}: {e}"));
        }
    }
}

fn check_selector(sel: &LabelSelector, template: &PodTemplateSpec, errors: &mut Vec<String>) {
    if selector::is_empty(sel) {
        errors.push(
            "spec.selector: Invalid value: {}: empty selector is invalid for this kind".into(),
        );
        return;
    }
    for (field, message) in selector::check(sel) {
        errors.push(format!("spec.selector.{field}: {message}"));
    }
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if !selector::matches(sel, &labels) {
        let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        errors.push(format!(
            "spec.template.metadata.labels: Invalid value: map[{}]: `selector` does not match template `labels`",
            shown.join(" ")
        ));
    }
}

fn check_strategy(spec: &DeploymentSpec, errors: &mut Vec<String>) {
    check_min_ready(spec.min_ready_seconds, errors);
    if let Some(n) = spec.revision_history_limit.filter(|n| *n < 0) {
        errors.push(format!(
            "spec.revisionHistoryLimit: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
    if let Some(n) = spec.progress_deadline_seconds {
        if n <= spec.min_ready_seconds.unwrap_or(0) {
            errors.push(format!(
                "spec.progressDeadlineSeconds: Invalid value: {n}: must be greater than minReadySeconds"
            ));
        }
    }
    let Some(strategy) = &spec.strategy else {
        return;
    };
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate") => {}
        Some("Recreate") => {
            if strategy.rolling_update.is_some() {
                errors.push(
                    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
                );
            }
            return;
        }
        Some(other) => {
            errors.push(format!(
                "spec.strategy.type: Unsupported value: {other:?}: supported values: \"Recreate\", \"RollingUpdate\""
            ));
            return;
        }
    }
    let Some(ru) = &strategy.rolling_update else {
        return;
    };
    // Resolved against 100 replicas, only to check the form and the sign.
    let surge = ru.max_surge.as_ref().map(|v| ("maxSurge", v));
    let unavailable = ru.max_unavailable.as_ref().map(|v| ("maxUnavailable", v));
    let mut zero = 0;
    for (field, value) in surge.into_iter().chain(unavailable) {
        match resolve(value, 100, true) {
            Ok(0) => zero += 1,
            Ok(_) => {}
            Err(e) => errors.push(format!("spec.strategy.rollingUpdate.{field}: {e}")),
        }
    }
    if zero == 2 {
        errors.push(
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0".into(),
        );
    }
}

fn check_min_ready(min_ready: Option<i32>, errors: &mut Vec<String>) {
    if let Some(n) = min_ready.filter(|n| *n < 0) {
        errors.push(format!(
            "spec.minReadySeconds: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
}

/// The template checked as the pod it makes; its errors under `spec.template.`.
fn check_template(
    workload: &Workload,
    template: &PodTemplateSpec,
    image_exists: &dyn Fn(&str) -> bool,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let Some(spec) = &template.spec else {
        errors.push("spec.template.spec: Required value".into());
        return Vec::new();
    };
    // A Job's pods end; every other kind's pods run for good.
    let allowed: &[&str] = match workload {
        Workload::Job(_) => &["OnFailure", "Never"],
        _ => &["Always"],
    };
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    if !allowed.contains(&policy) {
        let shown: Vec<String> = allowed.iter().map(|p| format!("{p:?}")).collect();
        errors.push(format!(
            "spec.template.spec.restartPolicy: Unsupported value: {policy:?}: supported values: {}",
            shown.join(", ")
        ));
    }
    // A name of the length the controller will give its pods.
    let name = format!("{}-1234567890-abcde", workload.name());
    let pod = pod_from_template(template, &name, "default", &Default::default(), None);
    match manifest::validate(&pod, image_exists) {
        Ok(valid) => valid
            .warnings
            .iter()
            // A DaemonSet places its pod by nodeSelector; this node has no
            // taints, so tolerations have nothing to tolerate.
            .filter(|w| {
                !(matches!(workload, Workload::DaemonSet(_))
                    && (w.starts_with("spec.nodeSelector") || w.starts_with("spec.tolerations")))
            })
            .map(|w| format!("{}: spec.template.{w}", workload.reference()))
            .collect(),
        Err(invalid) => {
            for (field, message) in invalid.fields() {
                // The name is ours, not the user's: its errors are about the
                // workload's name, reported above.
                if field != "metadata.name" {
                    errors.push(format!("spec.template.{field}: {message}"));
                }
            }
            Vec::new()
        }
    }
}
