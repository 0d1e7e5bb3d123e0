//! StatefulSets as the API server takes them: the checks of a set's own fields
//! (its template is checked as every kind's is, with its claims as volumes), and
//! which fields may change once it is stored. A set's pods are named
//! `<name>-<ordinal>` and use that name as their hostname, so the set's name is
//! held to a DNS label, not a subdomain.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podrt_sandbox::manifest::names;

use super::percent::resolve;

/// The policies by which a set makes and removes its pods.
const POLICIES: &str = "\"OrderedReady\", \"Parallel\"";

/// Checks a StatefulSet's own fields: its name as the stem of its pods'
/// hostnames, replicas, pod management and update policies, its service name
/// (its pods' subdomain) and its volume claim templates.
pub(crate) fn check_stateful_set(name: &str, spec: &StatefulSetSpec, errors: &mut Vec<String>) {
    // A name that is no subdomain is reported with the other kinds' checks.
    if names::dns1123_subdomain(name).is_ok() {
        if let Err(e) = names::dns1123_label(name) {
            errors.push(format!(
                "metadata.name: Invalid value: {name:?}: {e} (it is the stem of its pods' hostnames)"
            ));
        } else {
            // The last pod's name is a hostname too: `<name>-<replicas-1>`.
            let last = format!("{name}-{}", spec.replicas.unwrap_or(1).max(1) - 1);
            if last.len() > 63 {
                errors.push(format!(
                    "metadata.name: Invalid value: {name:?}: too long for its pods' hostnames ({last:?} is over 63 characters)"
                ));
            }
        }
    }
    let at_least_zero = |field: &str, value: Option<i32>, errors: &mut Vec<String>| {
        if let Some(n) = value.filter(|n| *n < 0) {
            errors.push(format!(
                "{field}: Invalid value: {n}: must be greater than or equal to 0"
            ));
        }
    };
    at_least_zero("spec.replicas", spec.replicas, errors);
    at_least_zero("spec.minReadySeconds", spec.min_ready_seconds, errors);
    at_least_zero(
        "spec.revisionHistoryLimit",
        spec.revision_history_limit,
        errors,
    );
    match spec.pod_management_policy.as_deref() {
        None | Some("OrderedReady" | "Parallel") => {}
        Some(other) => errors.push(format!(
            "spec.podManagementPolicy: Unsupported value: {other:?}: supported values: {POLICIES}"
        )),
    }
    check_update_strategy(spec, errors);
    if let Some(service) = spec.service_name.as_deref().filter(|s| !s.is_empty()) {
        if let Err(e) = names::dns1123_label(service) {
            errors.push(format!("spec.serviceName: Invalid value: {service:?}: {e}"));
        }
    }
    if let Some(start) = spec
        .ordinals
        .as_ref()
        .and_then(|o| o.start)
        .filter(|s| *s != 0)
    {
        errors.push(format!(
            "spec.ordinals.start: Unsupported value: {start}: podrt numbers a set's pods from 0"
        ));
    }
    check_retention(spec, errors);
    check_claims(spec, errors);
}

fn check_update_strategy(spec: &StatefulSetSpec, errors: &mut Vec<String>) {
    let Some(strategy) = &spec.update_strategy else {
        return;
    };
    match strategy.type_.as_deref() {
        None | Some("RollingUpdate") => {}
        Some("OnDelete") => {
            if strategy.rolling_update.is_some() {
                errors.push(
                    "spec.updateStrategy.rollingUpdate: Invalid value: only allowed for updateStrategy 'RollingUpdate'".into(),
                );
            }
        }
        Some(other) => errors.push(format!(
            "spec.updateStrategy.type: Unsupported value: {other:?}: supported values: \"OnDelete\", \"RollingUpdate\""
        )),
    }
    if let Some(n) = strategy
        .rolling_update
        .as_ref()
        .and_then(|r| r.partition)
        .filter(|n| *n < 0)
    {
        errors.push(format!(
            "spec.updateStrategy.rollingUpdate.partition: Invalid value: {n}: must be greater than or equal to 0"
        ));
    }
    let field = "spec.updateStrategy.rollingUpdate.maxUnavailable";
    if let Some(max) = strategy
        .rolling_update
        .as_ref()
        .and_then(|r| r.max_unavailable.as_ref())
    {
        // Resolved against 100 replicas, only to check the form and the range.
        match resolve(max, 100, true) {
            Err(e) => errors.push(format!("{field}: {e}")),
            Ok(0) => errors.push(format!("{field}: Invalid value: 0: must not be 0")),
            Ok(n) if n > 100 && matches!(max, IntOrString::String(_)) => errors.push(format!(
                "{field}: Invalid value: {n}%: must not be greater than 100%"
            )),
            Ok(_) => {}
        }
    }
}

/// Retain (the default) or Delete, for each of `whenDeleted` and `whenScaled`.
fn check_retention(spec: &StatefulSetSpec, errors: &mut Vec<String>) {
    let Some(policy) = &spec.persistent_volume_claim_retention_policy else {
        return;
    };
    for (field, value) in [
        ("whenDeleted", &policy.when_deleted),
        ("whenScaled", &policy.when_scaled),
    ] {
        match value.as_deref() {
            None | Some("Retain" | "Delete") => {}
            Some(other) => errors.push(format!(
                "spec.persistentVolumeClaimRetentionPolicy.{field}: Unsupported value: {other:?}: supported values: \"Retain\", \"Delete\""
            )),
        }
    }
}

/// Each claim becomes a volume of every pod, named after the claim: the names
/// must be volume names, unique, and not those of the template's own volumes.
fn check_claims(spec: &StatefulSetSpec, errors: &mut Vec<String>) {
    let own: Vec<&str> = spec
        .template
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .map(|v| v.name.as_str())
        .collect();
    let mut seen = Vec::new();
    for (i, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
        let field = format!("spec.volumeClaimTemplates[{i}].metadata.name");
        let name = claim.metadata.name.as_deref().unwrap_or_default();
        if name.is_empty() {
            errors.push(format!("{field}: Required value"));
            continue;
        }
        if let Err(e) = names::dns1123_label(name) {
            errors.push(format!("{field}: Invalid value: {name:?}: {e}"));
        } else if seen.contains(&name) {
            errors.push(format!("{field}: Duplicate value: {name:?}"));
        } else if own.contains(&name) {
            errors.push(format!(
                "{field}: Duplicate value: {name:?}: the template has a volume of this name"
            ));
        }
        seen.push(name);
    }
}

/// The names of the set's claims, in order.
pub(crate) fn claim_names(spec: &StatefulSetSpec) -> Vec<String> {
    spec.volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|c| c.metadata.name.clone())
        .collect()
}

/// The template as validation sees it: its claims added as volumes (empty
/// directories here; the controller mounts each pod's own directory), so that
/// mounts of a claim are not refused as mounts of nothing.
pub(crate) fn template_with_claims(spec: &StatefulSetSpec) -> PodTemplateSpec {
    let mut template = spec.template.clone();
    let claims = claim_names(spec);
    if let Some(pod) = template.spec.as_mut().filter(|_| !claims.is_empty()) {
        let volumes = pod.volumes.get_or_insert_with(Vec::new);
        for name in claims {
            // A clash is reported by check_claims; do not hide it.
            if volumes.iter().all(|v| v.name != name) {
                volumes.push(Volume {
                    name,
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Volume::default()
                });
            }
        }
    }
    template
}

/// Kubernetes' refusal of any change to a stored set outside the fields it lets
/// change, in its words.
pub(crate) const FORBIDDEN_UPDATE: &str = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// Whether `new` changes only what a stored set lets change.
pub(crate) fn update_allowed(old: &StatefulSet, new: &StatefulSet) -> bool {
    let mut changed = new.spec.clone();
    let was = &old.spec;
    changed.replicas = was.replicas;
    changed.ordinals = was.ordinals.clone();
    changed.template = was.template.clone();
    changed.update_strategy = was.update_strategy.clone();
    changed.revision_history_limit = was.revision_history_limit;
    changed.persistent_volume_claim_retention_policy =
        was.persistent_volume_claim_retention_policy.clone();
    changed.min_ready_seconds = was.min_ready_seconds;
    &changed == was
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSetUpdateStrategy};
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn claim(name: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        }
    }

    fn spec() -> StatefulSetSpec {
        StatefulSetSpec {
            replicas: Some(3),
            service_name: Some("web".into()),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    volumes: Some(vec![Volume {
                        name: "config".into(),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![claim("data")]),
            ..StatefulSetSpec::default()
        }
    }

    fn errors(name: &str, spec: &StatefulSetSpec) -> Vec<String> {
        let mut errors = Vec::new();
        check_stateful_set(name, spec, &mut errors);
        errors
    }

    #[test]
    fn a_plain_set_passes() {
        assert_eq!(errors("web", &spec()), Vec::<String>::new());
    }

    #[test]
    fn the_name_is_a_label_short_enough_for_its_last_pod() {
        let e = errors("web.site", &spec());
        assert!(
            e[0].starts_with("metadata.name: Invalid value: \"web.site\""),
            "{e:?}"
        );
        let long = "a".repeat(62);
        let mut s = spec();
        s.replicas = Some(1);
        assert_eq!(errors(&long[..61], &s), Vec::<String>::new());
        s.replicas = Some(10);
        assert_eq!(errors(&long[..61], &s), Vec::<String>::new());
        s.replicas = Some(11);
        let e = errors(&long[..61], &s);
        assert!(e[0].contains("over 63 characters"), "{e:?}");
    }

    #[test]
    fn policies_strategies_and_counts_name_their_field() {
        let mut s = spec();
        s.pod_management_policy = Some("Sometimes".into());
        s.replicas = Some(-1);
        s.service_name = Some("Web_Svc".into());
        s.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("Recreate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy {
                partition: Some(-2),
                ..Default::default()
            }),
        });
        let e = errors("web", &s).join("\n");
        for want in [
            "spec.podManagementPolicy: Unsupported value: \"Sometimes\": supported values: \"OrderedReady\", \"Parallel\"",
            "spec.replicas: Invalid value: -1",
            "spec.serviceName: Invalid value: \"Web_Svc\"",
            "spec.updateStrategy.type: Unsupported value: \"Recreate\"",
            "spec.updateStrategy.rollingUpdate.partition: Invalid value: -2",
        ] {
            assert!(e.contains(want), "{want} in {e}");
        }
        s = spec();
        s.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: Some(Default::default()),
        });
        assert!(errors("web", &s)[0].starts_with("spec.updateStrategy.rollingUpdate:"));
        s.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
        s.pod_management_policy = Some("Parallel".into());
        assert_eq!(errors("web", &s), Vec::<String>::new());
        let field = "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: ";
        for (max, want) in [
            (IntOrString::Int(0), "0: must not be 0"),
            (
                IntOrString::Int(-1),
                "-1: must be greater than or equal to 0",
            ),
            (
                IntOrString::String("150%".into()),
                "150%: must not be greater than 100%",
            ),
            (
                IntOrString::String("half".into()),
                "\"half\": a valid percent string",
            ),
        ] {
            s.update_strategy = Some(StatefulSetUpdateStrategy {
                type_: None,
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    max_unavailable: Some(max),
                    partition: None,
                }),
            });
            let e = errors("web", &s).join("\n");
            assert!(e.contains(&format!("{field}{want}")), "{want} in {e}");
        }
        for fine in [IntOrString::Int(5), IntOrString::String("25%".into())] {
            s.update_strategy = Some(StatefulSetUpdateStrategy {
                type_: None,
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    max_unavailable: Some(fine),
                    partition: None,
                }),
            });
            assert_eq!(errors("web", &s), Vec::<String>::new());
        }
    }

    #[test]
    fn claims_are_unique_valid_and_do_not_shadow_template_volumes() {
        let mut s = spec();
        s.volume_claim_templates = Some(vec![
            claim("data"),
            claim("data"),
            claim("Bad_Name"),
            claim("config"),
            PersistentVolumeClaim::default(),
        ]);
        let e = errors("web", &s);
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0]
            .starts_with("spec.volumeClaimTemplates[1].metadata.name: Duplicate value: \"data\""));
        assert!(e[1].starts_with(
            "spec.volumeClaimTemplates[2].metadata.name: Invalid value: \"Bad_Name\""
        ));
        assert!(e[2].starts_with(
            "spec.volumeClaimTemplates[3].metadata.name: Duplicate value: \"config\": the template"
        ));
        assert_eq!(
            e[3],
            "spec.volumeClaimTemplates[4].metadata.name: Required value"
        );
    }

    #[test]
    fn claims_become_volumes_for_the_check() {
        let t = template_with_claims(&spec());
        let names: Vec<String> = t
            .spec
            .unwrap()
            .volumes
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["config", "data"]);
    }

    #[test]
    fn only_some_fields_may_change() {
        let old = StatefulSet {
            spec: spec(),
            ..StatefulSet::default()
        };
        let mut new = old.clone();
        new.spec.replicas = Some(5);
        new.spec.template.metadata = Some(ObjectMeta::default());
        new.spec.min_ready_seconds = Some(3);
        new.spec.update_strategy = Some(StatefulSetUpdateStrategy::default());
        assert!(update_allowed(&old, &new));
        let mut moved = new.clone();
        moved.spec.service_name = Some("other".into());
        assert!(!update_allowed(&old, &moved));
        let mut claims = new;
        claims.spec.volume_claim_templates = None;
        assert!(!update_allowed(&old, &claims));
        let mut policy = old.clone();
        policy.spec.pod_management_policy = Some("Parallel".into());
        assert!(!update_allowed(&old, &policy));
    }
}
