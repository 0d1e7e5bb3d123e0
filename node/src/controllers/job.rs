//! The Job controller, as Kubernetes' (non-indexed jobs): run pods cut from the
//! template, at most `parallelism` at a time, until `completions` of them
//! succeeded (Complete), or fail the Job when its failures pass `backoffLimit`
//! or it ran past `activeDeadlineSeconds` (Failed; its running pods are
//! deleted). Finished pods are kept, so `get pods` shows them Completed, until
//! the Job goes — when deleted, or `ttlSecondsAfterFinished` after it finished.
//!
//! [`plan`] is pure (pods, stored status and the time in; acts and the new
//! status out); [`sync`] only carries it out. Counts come from the pods on
//! every pass and never go down, so a finished pod deleted by hand is not run
//! again. Not done: the exponential delay before a failed pod is replaced
//! (Kubernetes waits 10 s, doubling): a failed pod is replaced on the next pass.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::Resource;
use podrt_sandbox::manifest::names;

use super::pods::{Life, PodView, Pods};
use super::replicaset;
use crate::events::{About, EventType, Events};
use crate::objects::pod_from_template;
use crate::store::Store;

/// What to do for one Job now, and the status it then has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// How many pods to make.
    pub(crate) create: usize,
    /// Which active pods to delete.
    pub(crate) delete: Vec<String>,
    /// The Job's finished and its time to live is over: remove it (its pods go
    /// with it, by the garbage collector).
    pub(crate) expired: bool,
    /// Its status after these acts.
    pub(crate) status: JobStatus,
}

/// The condition types that end a Job.
/// The name its events give as their source.
const COMPONENT: &str = "job-controller";

const FINISHED: [&str; 2] = ["Complete", "Failed"];

/// When the Job finished (its Complete or Failed condition), if it did.
fn finished_at(status: &JobStatus) -> Option<jiff::Timestamp> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| FINISHED.contains(&c.type_.as_str()) && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(jiff::Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

fn condition(type_: &str, reason: &str, message: &str, now: jiff::Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.to_string(),
        status: "True".to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Why the Job fails now, if it does: Kubernetes checks the backoff limit, then
/// the deadline.
fn failure(
    spec: &JobSpec,
    failed: i32,
    active: &[&PodView],
    start: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<(&'static str, &'static str)> {
    let limit = spec.backoff_limit.unwrap_or(6);
    let on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    // With OnFailure a failure restarts the container in its pod: the restarts
    // of the running pods are the failures.
    let restarts: i32 = active.iter().map(|p| p.restarts).sum();
    let past_restarts = on_failure
        && if limit == 0 {
            restarts > 0
        } else {
            restarts >= limit
        };
    if failed > limit || past_restarts {
        return Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
    }
    let ran = now.as_second() - start.as_second();
    if spec.active_deadline_seconds.is_some_and(|d| ran >= d) {
        return Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ));
    }
    None
}

/// The plan for a Job with `spec` and its stored `status`, given its own pods,
/// at `now`.
pub(crate) fn plan(
    spec: &JobSpec,
    status: Option<&JobStatus>,
    owned: &[&PodView],
    now: jiff::Timestamp,
) -> Plan {
    let mut status = status.cloned().unwrap_or_default();
    let active: Vec<&PodView> = owned.iter().copied().filter(|p| p.active()).collect();
    let count = |life: Life| owned.iter().filter(|p| p.life == life).count() as i32;
    let all_active: Vec<String> = active.iter().map(|p| p.name.clone()).collect();
    if let Some(at) = finished_at(&status) {
        // Done: nothing runs again; what still runs goes.
        let ttl = spec.ttl_seconds_after_finished.map(i64::from);
        status.active = Some(0);
        status.ready = Some(0);
        return Plan {
            create: 0,
            delete: all_active,
            expired: ttl.is_some_and(|t| now.as_second() >= at.as_second() + t),
            status,
        };
    }
    let start = status.start_time.as_ref().map_or(now, |t| t.0);
    status.start_time = Some(Time(start));
    let succeeded = status.succeeded.unwrap_or(0).max(count(Life::Succeeded));
    let failed = status.failed.unwrap_or(0).max(count(Life::Failed));
    status.succeeded = Some(succeeded);
    status.failed = Some(failed);
    let ready = active.iter().filter(|p| p.ready()).count() as i32;
    let finish = |mut status: JobStatus, cond: JobCondition, delete: Vec<String>| {
        status.conditions.get_or_insert_with(Vec::new).push(cond);
        status.active = Some(0);
        status.ready = Some(0);
        Plan {
            create: 0,
            delete,
            expired: false,
            status,
        }
    };
    if let Some((reason, message)) = failure(spec, failed, &active, start, now) {
        // The pods it stops count as failed, as Kubernetes counts them.
        status.failed = Some(failed + active.len() as i32);
        return finish(
            status,
            condition("Failed", reason, message, now),
            all_active,
        );
    }
    let complete = match spec.completions {
        Some(c) => succeeded >= c,
        // A work queue: done when one pod succeeded and none runs.
        None => succeeded > 0 && active.is_empty(),
    };
    if complete {
        status.completion_time = Some(Time(now));
        let cond = condition(
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        );
        return finish(status, cond, all_active);
    }
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let want = match spec.completions {
        Some(c) => (c - succeeded).clamp(0, parallelism),
        None if succeeded > 0 => active.len() as i32,
        None => parallelism,
    };
    // Too many running: not ready first, newest first, as a ReplicaSet picks.
    let todo = replicaset::plan(usize::try_from(want).unwrap_or(0), &active);
    status.active = Some((active.len() + todo.create - todo.delete.len()) as i32);
    status.ready = Some(ready);
    Plan {
        create: todo.create,
        delete: todo.delete,
        expired: false,
        status,
    }
}

/// The reference a pod of `job` carries to it.
fn owner_of(job: &Job) -> OwnerReference {
    OwnerReference {
        api_version: Job::API_VERSION.to_string(),
        kind: Job::KIND.to_string(),
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// One pass for one Job: make or delete pods by the plan, store its status if it
/// changed, or remove it if its time to live is over. Whether it is still
/// stored.
pub(crate) fn sync(store: &Store, pods: &Pods, job: &Job, all: &[PodView]) -> bool {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let owned: Vec<&PodView> = all
        .iter()
        .filter(|p| p.owner_uid.as_deref() == Some(uid))
        .collect();
    let spec = job.spec.clone().unwrap_or_default();
    let mut todo = plan(&spec, job.status.as_ref(), &owned, jiff::Timestamp::now());
    if todo.expired {
        tracing::info!(job = %name, "removed: finished longer than its ttlSecondsAfterFinished");
        if let Err(e) = store.remove::<Job>(&name) {
            tracing::warn!(job = %name, error = %e, "removing the job");
            return true;
        }
        return false;
    }
    let events = Events::of(store);
    let about = About {
        kind: Job::KIND,
        name: &name,
        uid,
    };
    for p in &todo.delete {
        tracing::info!(job = %name, pod = %p, "deleting pod");
        pods.delete(p);
        events.deleted(about, COMPONENT, p);
    }
    for i in 0..todo.create {
        let pod_name = names::generate_name(&format!("{name}-"));
        let pod = pod_from_template(
            &spec.template,
            &pod_name,
            store.namespace(),
            &Default::default(),
            Some(owner_of(job)),
        );
        if let Err(e) = pods.create(&pod) {
            tracing::warn!(job = %name, error = %e, "creating a pod");
            events.failed_create(about, COMPONENT, &e);
            let missing = (todo.create - i) as i32;
            todo.status.active = todo.status.active.map(|n| n - missing);
            break;
        }
        tracing::info!(job = %name, pod = %pod_name, "created pod");
        events.created(about, COMPONENT, &pod_name);
    }
    if job.status.as_ref() != Some(&todo.status) {
        if let Some(c) = todo.status.conditions.iter().flatten().last() {
            if job
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .map(Vec::len)
                != todo.status.conditions.as_ref().map(Vec::len)
            {
                tracing::info!(job = %name, condition = %c.type_, reason = ?c.reason, "job finished");
                if c.type_ == "Complete" {
                    events.record(
                        about,
                        EventType::Normal,
                        "Completed",
                        COMPONENT,
                        "Job completed",
                    );
                } else {
                    let reason = c.reason.as_deref().unwrap_or("Failed");
                    let message = c.message.as_deref().unwrap_or("Job has failed");
                    events.record(about, EventType::Warning, reason, COMPONENT, message);
                }
            }
        }
        let mut updated = job.clone();
        updated.status = Some(todo.status);
        if let Err(e) = store.put(&updated) {
            tracing::warn!(job = %name, error = %e, "storing status");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

    fn spec(completions: Option<i32>, parallelism: i32, backoff: i32, policy: &str) -> JobSpec {
        JobSpec {
            completions,
            parallelism: Some(parallelism),
            backoff_limit: Some(backoff),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some(policy.into()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }
    }

    fn pod(name: &str, life: Life, restarts: i32) -> PodView {
        PodView {
            name: name.into(),
            namespace: "default".into(),
            owner_uid: Some("job".into()),
            owner_kind: Some("Job".into()),
            labels: Default::default(),
            created: name.into(),
            restarts,
            life,
            ready_since: None,
            net: Default::default(),
        }
    }

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn run(spec: &JobSpec, status: Option<&JobStatus>, pods: &[PodView], now: i64) -> Plan {
        let refs: Vec<&PodView> = pods.iter().collect();
        plan(spec, status, &refs, at(now))
    }

    fn finished(p: &Plan) -> Option<(String, Option<String>)> {
        p.status
            .conditions
            .iter()
            .flatten()
            .last()
            .map(|c| (c.type_.clone(), c.reason.clone()))
    }

    #[test]
    fn a_job_runs_parallelism_pods_until_completions_succeeded() {
        let s = spec(Some(3), 2, 6, "Never");
        let first = run(&s, None, &[], 0);
        assert_eq!((first.create, first.status.active), (2, Some(2)));
        assert_eq!(first.status.start_time, Some(Time(at(0))));
        // One succeeded: one more to start, never more than 2 at a time.
        let pods = [
            pod("a", Life::Succeeded, 0),
            pod("b", Life::Active { ready: true }, 0),
        ];
        let p = run(&s, Some(&first.status), &pods, 1);
        assert_eq!(p.create, 1);
        assert_eq!(p.status.succeeded, Some(1));
        assert_eq!(p.status.start_time, Some(Time(at(0))), "start time kept");
        // Two succeeded, one running: nothing more to start.
        let pods = [
            pod("a", Life::Succeeded, 0),
            pod("b", Life::Succeeded, 0),
            pod("c", Life::Active { ready: true }, 0),
        ];
        assert_eq!(run(&s, Some(&p.status), &pods, 2).create, 0);
        // Three: complete, at that time, and nothing after.
        let pods = [
            pod("a", Life::Succeeded, 0),
            pod("b", Life::Succeeded, 0),
            pod("c", Life::Succeeded, 0),
        ];
        let done = run(&s, Some(&p.status), &pods, 3);
        assert_eq!(
            finished(&done),
            Some(("Complete".into(), Some("CompletionsReached".into())))
        );
        assert_eq!(done.status.completion_time, Some(Time(at(3))));
        assert_eq!(
            (done.status.succeeded, done.status.active),
            (Some(3), Some(0))
        );
        let after = run(&s, Some(&done.status), &pods, 100);
        assert_eq!(after.create, 0);
        assert_eq!(after.status, done.status, "a finished job's status stays");
        assert!(!after.expired, "no ttl: kept");
    }

    #[test]
    fn with_never_each_failed_pod_counts_and_past_the_limit_the_job_fails() {
        let s = spec(Some(1), 1, 1, "Never");
        let one = [pod("a", Life::Failed, 0)];
        let p = run(&s, None, &one, 0);
        assert_eq!((p.create, p.status.failed), (1, Some(1)), "replaced");
        assert_eq!(finished(&p), None);
        let two = [pod("a", Life::Failed, 0), pod("b", Life::Failed, 0)];
        let p = run(&s, Some(&p.status), &two, 1);
        assert_eq!(p.create, 0);
        assert_eq!(p.status.failed, Some(2));
        assert_eq!(
            finished(&p),
            Some(("Failed".into(), Some("BackoffLimitExceeded".into())))
        );
        assert_eq!(p.status.completion_time, None);
    }

    #[test]
    fn with_on_failure_restarts_count_and_running_pods_are_deleted_on_failure() {
        let s = spec(Some(2), 2, 3, "OnFailure");
        let pods = [
            pod("a", Life::Active { ready: true }, 1),
            pod("b", Life::Active { ready: false }, 1),
        ];
        let p = run(&s, None, &pods, 0);
        assert_eq!(finished(&p), None, "2 restarts < 3");
        let pods = [
            pod("a", Life::Active { ready: true }, 2),
            pod("b", Life::Active { ready: false }, 1),
        ];
        let p = run(&s, None, &pods, 0);
        assert_eq!(
            finished(&p),
            Some(("Failed".into(), Some("BackoffLimitExceeded".into())))
        );
        assert_eq!(p.delete, ["a", "b"]);
        assert_eq!(
            p.status.failed,
            Some(2),
            "the pods it stopped count as failed"
        );
    }

    #[test]
    fn past_its_deadline_a_job_fails_and_its_pods_go() {
        let mut s = spec(Some(1), 1, 6, "Never");
        s.active_deadline_seconds = Some(10);
        let pods = [pod("a", Life::Active { ready: true }, 0)];
        let p = run(&s, None, &pods, 0);
        assert_eq!(finished(&p), None);
        assert!(p.delete.is_empty());
        let p = run(&s, Some(&p.status), &pods, 10);
        assert_eq!(
            finished(&p),
            Some(("Failed".into(), Some("DeadlineExceeded".into())))
        );
        assert_eq!(p.delete, ["a"]);
    }

    #[test]
    fn a_finished_job_expires_after_its_ttl() {
        let mut s = spec(Some(1), 1, 6, "Never");
        s.ttl_seconds_after_finished = Some(5);
        let pods = [pod("a", Life::Succeeded, 0)];
        let done = run(&s, None, &pods, 0);
        assert_eq!(finished(&done).map(|f| f.0), Some("Complete".into()));
        assert!(!run(&s, Some(&done.status), &pods, 4).expired);
        assert!(run(&s, Some(&done.status), &pods, 5).expired);
    }

    #[test]
    fn a_work_queue_completes_when_one_succeeded_and_none_runs() {
        let s = spec(None, 2, 6, "Never");
        assert_eq!(run(&s, None, &[], 0).create, 2);
        let pods = [
            pod("a", Life::Succeeded, 0),
            pod("b", Life::Active { ready: true }, 0),
        ];
        let p = run(&s, None, &pods, 0);
        assert_eq!((p.create, finished(&p)), (0, None), "no new pod, not done");
        let pods = [pod("a", Life::Succeeded, 0), pod("b", Life::Succeeded, 0)];
        assert_eq!(
            finished(&run(&s, None, &pods, 0)).map(|f| f.0),
            Some("Complete".into())
        );
    }

    #[test]
    fn counts_never_go_down_when_finished_pods_are_deleted_by_hand() {
        let s = spec(Some(3), 1, 6, "Never");
        let status = JobStatus {
            succeeded: Some(2),
            ..JobStatus::default()
        };
        let p = run(&s, Some(&status), &[], 0);
        assert_eq!((p.create, p.status.succeeded), (1, Some(2)));
    }
}
