//! Jobs as the API server takes them: the checks of a Job's own fields, and
//! what it gets when it is stored — the defaults of its counts and, unless the
//! user chose a selector, a selector on its own uid, with the labels that select
//! its pods added to its template. Completing runs again on every apply (with
//! the stored uid), so a manifest applied twice compares equal to what is
//! stored.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The labels naming the Job on its pods (the qualified one, and the legacy one
/// older tools select on).
pub const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// The labels carrying the Job's uid on its pods; the first is its generated
/// selector.
pub const JOB_UID_LABELS: [&str; 2] = ["batch.kubernetes.io/controller-uid", "controller-uid"];

/// `backoffLimit` when not given.
const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// Checks a Job's own fields (its template is checked as every kind's is):
/// counts, deadlines, the modes podrt does not run, and a name short enough
/// to be a label value on its pods.
pub(crate) fn check_job(name: &str, spec: &JobSpec, errors: &mut Vec<String>) {
    let at_least = |field: &str, value: Option<i64>, min: i64, errors: &mut Vec<String>| {
        if let Some(n) = value.filter(|n| *n < min) {
            errors.push(format!(
                "spec.{field}: Invalid value: {n}: must be greater than or equal to {min}"
            ));
        }
    };
    at_least("parallelism", spec.parallelism.map(i64::from), 0, errors);
    at_least("completions", spec.completions.map(i64::from), 0, errors);
    at_least("backoffLimit", spec.backoff_limit.map(i64::from), 0, errors);
    at_least(
        "activeDeadlineSeconds",
        spec.active_deadline_seconds,
        1,
        errors,
    );
    at_least(
        "ttlSecondsAfterFinished",
        spec.ttl_seconds_after_finished.map(i64::from),
        0,
        errors,
    );
    if let Some(mode) = spec
        .completion_mode
        .as_deref()
        .filter(|m| *m != "NonIndexed")
    {
        errors.push(format!(
            "spec.completionMode: Unsupported value: {mode:?}: podrt runs \"NonIndexed\" jobs only"
        ));
    }
    if spec.suspend == Some(true) {
        errors
            .push("spec.suspend: Unsupported value: true: podrt does not suspend jobs yet".into());
    }
    if spec.pod_failure_policy.is_some() {
        errors.push(
            "spec.podFailurePolicy: Unsupported value: podrt counts every failed pod against backoffLimit".into(),
        );
    }
    if name.len() > 63 {
        errors.push(format!(
            "metadata.name: Invalid value: {name:?}: must be no more than 63 characters (it is the value of the job-name label on its pods)"
        ));
    }
}

/// Fills in what the API server would: `completions` and `parallelism` 1 when
/// neither is given (a Job with only `parallelism` is a work queue: it keeps
/// `completions` unset), `parallelism` 1, `backoffLimit` 6; the job-name labels
/// on its template; and, when it has no selector, one on its uid (which must
/// be set), with those labels on the template too.
pub fn complete_job(job: &mut Job) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    spec.backoff_limit.get_or_insert(DEFAULT_BACKOFF_LIMIT);
    let mut added: BTreeMap<String, String> = JOB_NAME_LABELS
        .iter()
        .map(|k| (k.to_string(), name.clone()))
        .collect();
    if spec.selector.is_none() {
        added.extend(JOB_UID_LABELS.iter().map(|k| (k.to_string(), uid.clone())));
        spec.selector = Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(JOB_UID_LABELS[0].to_string(), uid)])),
            match_expressions: None,
        });
    }
    spec.template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(added);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;

    fn job(spec: JobSpec) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                uid: Some("u-1".into()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
            status: None,
        }
    }

    #[test]
    fn a_bare_job_gets_the_api_servers_defaults_and_a_selector_on_its_uid() {
        let mut j = job(JobSpec::default());
        complete_job(&mut j);
        let spec = j.spec.clone().unwrap();
        assert_eq!(spec.completions, Some(1));
        assert_eq!(spec.parallelism, Some(1));
        assert_eq!(spec.backoff_limit, Some(6));
        let sel = spec.selector.unwrap().match_labels.unwrap();
        assert_eq!(sel["batch.kubernetes.io/controller-uid"], "u-1");
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels["job-name"], "pi");
        assert_eq!(labels["batch.kubernetes.io/job-name"], "pi");
        assert_eq!(labels["controller-uid"], "u-1");
        // Completing twice changes nothing: an apply of the same manifest is
        // unchanged.
        let mut again = j.clone();
        complete_job(&mut again);
        assert_eq!(again, j);
    }

    #[test]
    fn bad_counts_and_unsupported_modes_are_named() {
        let spec = JobSpec {
            parallelism: Some(-1),
            backoff_limit: Some(-2),
            active_deadline_seconds: Some(0),
            completion_mode: Some("Indexed".into()),
            suspend: Some(true),
            ..JobSpec::default()
        };
        let mut errors = Vec::new();
        check_job(&"x".repeat(64), &spec, &mut errors);
        let fields: Vec<&str> = errors
            .iter()
            .map(|e| e.split(':').next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.parallelism",
                "spec.backoffLimit",
                "spec.activeDeadlineSeconds",
                "spec.completionMode",
                "spec.suspend",
                "metadata.name"
            ]
        );
        let mut none = Vec::new();
        check_job("pi", &JobSpec::default(), &mut none);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn a_work_queue_keeps_completions_unset_and_a_given_selector_is_kept() {
        let given = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".into(), "q".into())])),
            match_expressions: None,
        };
        let mut j = job(JobSpec {
            parallelism: Some(3),
            selector: Some(given.clone()),
            ..JobSpec::default()
        });
        complete_job(&mut j);
        let spec = j.spec.unwrap();
        assert_eq!(spec.completions, None);
        assert_eq!(spec.parallelism, Some(3));
        assert_eq!(spec.selector, Some(given));
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert!(!labels.contains_key("controller-uid"));
        assert_eq!(labels["job-name"], "pi");
    }
}
