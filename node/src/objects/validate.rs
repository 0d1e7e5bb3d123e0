//! Checking a workload before it is stored, with Kubernetes' field paths and
//! wording: its name, replicas, selector (which must select its own template),
//! rollout strategy, and its pod template — checked as the pod it will make,
//! by the same validation and admission policy a Pod goes through.

use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use podrt_sandbox::manifest::{self, names};
use podrt_sandbox::policy::Policy;

use super::percent::resolve;
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
    if let Some(ns) = meta.namespace.as_deref().filter(|ns| *ns != "default") {
        errors.push(format!(
            "metadata.namespace: Unsupported value: {ns:?}: podrt keeps workloads in the \"default\" namespace"
        ));
    }
    let (replicas, sel, template) = match workload {
        Workload::Deployment(d) => {
            let spec = d.spec.clone();
            check_strategy(&spec, &mut errors);
            (spec.replicas, spec.selector, spec.template)
        }
        Workload::ReplicaSet(r) => {
            let spec: ReplicaSetSpec = r.spec.clone();
            check_min_ready(spec.min_ready_seconds, &mut errors);
            (
                spec.replicas,
                spec.selector,
                spec.template.unwrap_or_default(),
            )
        }
    };
    if let Some(n) = replicas.filter(|n| *n < 0) {
        errors.push(format!(
            "spec.replicas: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
    check_selector(&sel, &template, &mut errors);
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

/// What may not change once stored: the selector (apps/v1 makes it immutable).
pub fn check_update(old: &Workload, new: &Workload) -> Result<()> {
    let selector_of = |w: &Workload| match w {
        Workload::Deployment(d) => d.spec.selector.clone(),
        Workload::ReplicaSet(r) => r.spec.selector.clone(),
    };
    let (before, after) = (selector_of(old), selector_of(new));
    if before != after {
        let shown = selector::render(&after);
        return Err(Error::Invalid {
            object: new.reference(),
            fields: vec![format!(
                "spec.selector: Invalid value: {shown:?}: field is immutable"
            )],
        });
    }
    Ok(())
}

fn check_selector(sel: &LabelSelector, template: &PodTemplateSpec, errors: &mut Vec<String>) {
    if selector::is_empty(sel) {
        errors.push("spec.selector: Invalid value: {}: empty selector is invalid for deployment and replicaset".into());
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
    if let Some(policy) = spec.restart_policy.as_deref().filter(|p| *p != "Always") {
        errors.push(format!(
            "spec.template.spec.restartPolicy: Unsupported value: {policy:?}: supported values: \"Always\""
        ));
    }
    // A name of the length the controller will give its pods.
    let name = format!("{}-1234567890-abcde", workload.name());
    let pod = pod_from_template(template, &name, "default", &Default::default(), None);
    match manifest::validate(&pod, image_exists) {
        Ok(valid) => valid
            .warnings
            .iter()
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
