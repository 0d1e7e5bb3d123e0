//! Fields Kubernetes accepts that podrt does not act on. Scheduling, probes,
//! service accounts and the like make no sense or are not built yet on a
//! single host: each is a warning naming the field, so a manifest written for
//! a cluster still runs. A field whose absence would change what the
//! containers do (sidecars, probes on init containers) is an error instead.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::report::{FieldPath, Report};

/// Warns about pod-level fields podrt ignores.
pub(super) fn pod(spec: &PodSpec, report: &mut Report) {
    let path = FieldPath::root("spec");
    let set: [(&str, bool); 22] = [
        ("affinity", spec.affinity.is_some()),
        (
            "nodeSelector",
            spec.node_selector.as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "nodeName",
            spec.node_name.as_ref().is_some_and(|s| !s.is_empty()),
        ),
        (
            "tolerations",
            spec.tolerations.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "topologySpreadConstraints",
            spec.topology_spread_constraints
                .as_ref()
                .is_some_and(|v| !v.is_empty()),
        ),
        (
            "serviceAccountName",
            spec.service_account_name
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "serviceAccount",
            spec.service_account.as_ref().is_some_and(|s| !s.is_empty()),
        ),
        (
            "imagePullSecrets",
            spec.image_pull_secrets
                .as_ref()
                .is_some_and(|v| !v.is_empty()),
        ),
        ("priority", spec.priority.is_some()),
        (
            "priorityClassName",
            spec.priority_class_name
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
        ),
        ("preemptionPolicy", spec.preemption_policy.is_some()),
        (
            "schedulerName",
            spec.scheduler_name.as_ref().is_some_and(|s| !s.is_empty()),
        ),
        (
            "schedulingGates",
            spec.scheduling_gates
                .as_ref()
                .is_some_and(|v| !v.is_empty()),
        ),
        ("schedulingGroup", spec.scheduling_group.is_some()),
        (
            "readinessGates",
            spec.readiness_gates.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "runtimeClassName",
            spec.runtime_class_name
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "hostAliases",
            spec.host_aliases.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "overhead",
            spec.overhead.as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "resourceClaims",
            spec.resource_claims.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        ("resources", spec.resources.is_some()),
        ("setHostnameAsFQDN", spec.set_hostname_as_fqdn == Some(true)),
        (
            "hostnameOverride",
            spec.hostname_override
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
        ),
    ];
    for (name, _) in set.iter().filter(|(_, is_set)| *is_set) {
        report.ignored(&path.key(name));
    }
    if let Some(os) = &spec.os {
        if os.name != "linux" {
            report.unsupported(&path.key("os").key("name"), &os.name, &["linux"]);
        }
    }
}

/// Checks container fields podrt does not act on. Init containers may not
/// have probes or hooks at all (as in Kubernetes); sidecars are refused.
pub(super) fn container(c: &Container, path: &FieldPath, init: bool, report: &mut Report) {
    restart_policy(c, path, init, report);
    let probes = [
        ("livenessProbe", c.liveness_probe.is_some()),
        ("readinessProbe", c.readiness_probe.is_some()),
        ("startupProbe", c.startup_probe.is_some()),
        ("lifecycle", c.lifecycle.is_some()),
    ];
    for (name, _) in probes.iter().filter(|(_, set)| *set) {
        if init {
            report.forbidden(
                &path.key(name),
                "may not be set for init containers without restartPolicy=Always",
            );
        } else if *name != "lifecycle" {
            report.ignored(&path.key(name));
        }
    }
    if let (Some(lifecycle), false) = (&c.lifecycle, init) {
        let lc = path.key("lifecycle");
        if lifecycle.post_start.is_some() {
            report.ignored(&lc.key("postStart"));
        }
        // DESIGN.md P9: preStop runs as an exec hook; other actions are not built.
        if let Some(pre_stop) = &lifecycle.pre_stop {
            if pre_stop.exec.is_none() {
                report.warn(
                    &lc.key("preStop"),
                    "only exec hooks are supported by podrt yet, ignored",
                );
            }
        }
        if lifecycle.stop_signal.is_some() {
            report.ignored(&lc.key("stopSignal"));
        }
    }
    match c.image_pull_policy.as_deref() {
        None | Some("Always") | Some("IfNotPresent") | Some("Never") => {}
        Some(other) => report.unsupported(
            &path.key("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        ),
    }
    let others = [
        (
            "resizePolicy",
            c.resize_policy.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "volumeDevices",
            c.volume_devices.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        ("stdin", c.stdin == Some(true)),
        ("tty", c.tty == Some(true)),
    ];
    for (name, _) in others.iter().filter(|(_, set)| *set) {
        report.ignored(&path.key(name));
    }
}

fn restart_policy(c: &Container, path: &FieldPath, init: bool, report: &mut Report) {
    let field = path.key("restartPolicy");
    match (c.restart_policy.as_deref(), init) {
        (None, _) => {}
        (Some("Always"), true) => report.forbidden(
            &field,
            "sidecar containers (init containers with restartPolicy: Always) \
             are not supported by podrt",
        ),
        (Some(other), true) => report.unsupported(&field, other, &["Always"]),
        (Some(_), false) => report.forbidden(&field, "may not be set for non-init containers"),
    }
    if c.restart_policy_rules
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        report.forbidden(&path.key("restartPolicyRules"), "not supported by podrt");
    }
}
