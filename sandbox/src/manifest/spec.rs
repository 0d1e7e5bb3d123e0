//! Validation of a whole pod, top to bottom: metadata, pod-level fields,
//! volumes, then containers (which need the volume names). Every check
//! records into one [`Report`] so the user sees all problems at once.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::containers::{validate_containers, PodContext};
use super::error::Invalid;
use super::host_users;
use super::names;
use super::report::{FieldPath, Report};
use super::unsupported;
use super::valid::{PodSettings, RestartPolicy, ValidPod};
use super::volumes::validate_volumes;

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: u64 = 30;

/// See [`super::validate`].
pub(super) fn validate(
    pod: &Pod,
    image_exists: &dyn Fn(&str) -> bool,
    containers_optional: bool,
) -> Result<ValidPod, Invalid> {
    let mut report = Report::default();
    let (name, generated_name) = pod_name(&pod.metadata, &mut report);
    let namespace = namespace(&pod.metadata, &mut report);
    labels(&pod.metadata, &mut report);
    let Some(spec) = &pod.spec else {
        report.required(&FieldPath::root("spec"));
        return Err(report.into_invalid());
    };
    let settings = settings(spec, &mut report);
    host_names(spec, &mut report);
    sysctls(spec, &mut report);
    host_users::validate(spec, &mut report);
    let volumes = spec.volumes.as_deref().unwrap_or(&[]);
    let pod_volumes = validate_volumes(volumes, &mut report);
    let ctx = PodContext {
        volume_names: volumes.iter().map(|v| v.name.as_str()).collect(),
        image_exists,
        host_network: spec.host_network == Some(true),
        containers_optional,
    };
    let containers = validate_containers(spec, &ctx, &mut report);
    unsupported::pod(spec, &mut report);
    let warnings = report.finish()?;
    Ok(ValidPod {
        name,
        namespace,
        generated_name,
        settings,
        containers,
        volumes: pod_volumes,
        warnings,
    })
}

/// The pod-level values, defaulted; problems go to `report`.
pub(super) fn settings(spec: &PodSpec, report: &mut Report) -> PodSettings {
    // In field order, so errors are reported as the user reads the spec.
    let restart_policy = restart_policy(spec, report);
    let (termination_grace_period_seconds, active_deadline_seconds) = timeouts(spec, report);
    PodSettings {
        restart_policy,
        termination_grace_period_seconds,
        active_deadline_seconds,
        host_network: spec.host_network == Some(true),
        host_pid: spec.host_pid == Some(true),
        host_ipc: spec.host_ipc == Some(true),
        share_process_namespace: spec.share_process_namespace == Some(true),
    }
}

/// `metadata.name`, or a name generated (once) from `metadata.generateName`.
fn pod_name(meta: &ObjectMeta, report: &mut Report) -> (String, bool) {
    let metadata = FieldPath::root("metadata");
    if let Some(name) = meta.name.as_deref().filter(|n| !n.is_empty()) {
        if let Err(e) = names::dns1123_subdomain(name) {
            report.invalid(&metadata.key("name"), name, &e);
        }
        return (name.to_string(), false);
    }
    if let Some(prefix) = meta.generate_name.as_deref().filter(|p| !p.is_empty()) {
        let name = names::generate_name(prefix);
        if let Err(e) = names::dns1123_subdomain(&name) {
            report.invalid(&metadata.key("generateName"), prefix, &e);
        }
        return (name, true);
    }
    report.required_because(&metadata.key("name"), "name or generateName is required");
    (String::new(), false)
}

fn namespace(meta: &ObjectMeta, report: &mut Report) -> String {
    match meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => {
            if let Err(e) = names::dns1123_label(ns) {
                report.invalid(&FieldPath::root("metadata").key("namespace"), ns, &e);
            }
            ns.to_string()
        }
        None => "default".to_string(),
    }
}

/// Label keys are qualified names and values at most 63 characters of the
/// same alphabet, as Kubernetes requires (podrt selects pods by label).
fn labels(meta: &ObjectMeta, report: &mut Report) {
    let field = FieldPath::root("metadata").key("labels");
    let empty = BTreeMap::new();
    for (key, value) in meta.labels.as_ref().unwrap_or(&empty) {
        if let Err(e) = names::qualified_name(key) {
            report.invalid(&field, key, &e);
        }
        if let Err(e) = names::label_value(value) {
            report.invalid(&field, value, &e);
        }
    }
    if meta.uid.as_ref().is_some_and(|u| !u.is_empty()) {
        report.warn(
            &FieldPath::root("metadata").key("uid"),
            "podrt gives every pod a new UID, ignored",
        );
    }
}

fn restart_policy(spec: &PodSpec, report: &mut Report) -> RestartPolicy {
    match spec.restart_policy.as_deref() {
        None | Some("") => RestartPolicy::Always,
        Some(s) => RestartPolicy::parse(s).unwrap_or_else(|| {
            let field = FieldPath::root("spec").key("restartPolicy");
            report.unsupported(&field, s, &RestartPolicy::NAMES);
            RestartPolicy::Always
        }),
    }
}

/// `terminationGracePeriodSeconds` (≥ 0, default 30) and
/// `activeDeadlineSeconds` (1..=2^31-1).
fn timeouts(spec: &PodSpec, report: &mut Report) -> (u64, Option<u64>) {
    let spec_path = FieldPath::root("spec");
    let grace = match spec.termination_grace_period_seconds {
        None => DEFAULT_GRACE_SECONDS,
        Some(g) => u64::try_from(g).unwrap_or_else(|_| {
            let field = spec_path.key("terminationGracePeriodSeconds");
            report.invalid_number(&field, g, "must be greater than or equal to 0");
            DEFAULT_GRACE_SECONDS
        }),
    };
    let deadline = match spec.active_deadline_seconds {
        None => None,
        Some(d @ 1..=0x7fff_ffff) => u64::try_from(d).ok(),
        Some(d) => {
            let field = spec_path.key("activeDeadlineSeconds");
            report.invalid_number(&field, d, "must be between 1 and 2147483647, inclusive");
            None
        }
    };
    (grace, deadline)
}

fn host_names(spec: &PodSpec, report: &mut Report) {
    for (name, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            if let Err(e) = names::dns1123_label(value) {
                report.invalid(&FieldPath::root("spec").key(name), value, &e);
            }
        }
    }
}

/// Sysctl names only; which sysctls are safe is the policy's job.
fn sysctls(spec: &PodSpec, report: &mut Report) {
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_deref())
        .unwrap_or(&[]);
    let base = FieldPath::root("spec")
        .key("securityContext")
        .key("sysctls");
    let mut seen = HashSet::new();
    for (i, sysctl) in sysctls.iter().enumerate() {
        let field = base.index(i).key("name");
        if sysctl.name.is_empty() {
            report.required(&field);
        } else if let Err(e) = names::sysctl_name(&sysctl.name) {
            report.invalid(&field, &sysctl.name, &e);
        } else if !seen.insert(sysctl.name.as_str()) {
            report.duplicate(&field, &sysctl.name);
        }
    }
}
