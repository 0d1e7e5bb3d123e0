//! A Deployment's conditions, as the Kubernetes deployment controller keeps
//! them. `Available` says whether enough pods are available; `Progressing`
//! says whether the rollout moves: its `lastUpdateTime` is bumped each time the
//! rollout makes progress (more updated, ready or available pods, fewer old
//! ones, a new ReplicaSet), and a rollout that makes none for
//! `progressDeadlineSeconds` (600 by default) turns `False` with
//! `ProgressDeadlineExceeded`, which `rollout status` reports as a failure. A
//! finished rollout, or a paused one, never times out.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// `Progressing`'s reason once the deadline passed without progress.
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
/// `Progressing`'s reason once the rollout is complete.
const COMPLETE: &str = "NewReplicaSetAvailable";
/// `Progressing`'s reason while the Deployment is paused.
const PAUSED: &str = "DeploymentPaused";
/// The API server's default for `progressDeadlineSeconds`.
const DEFAULT_DEADLINE_SECONDS: i32 = 600;

/// Where the rollout stands in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Enough pods are available (replicas − maxUnavailable).
    pub(crate) available: bool,
    /// Every replica is updated and available, and no old pod is left.
    pub(crate) complete: bool,
}

/// The condition `type_` of `status`, if it has one.
pub(crate) fn find<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some(type_))
}

/// A condition that follows `before`: its transition time moves only when its
/// status or reason does, its update time also when `touched`.
fn condition(
    before: Option<&DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    touched: bool,
    now: Timestamp,
) -> DeploymentCondition {
    let changed = before
        .is_none_or(|c| c.status.as_deref() != Some(status) || c.reason.as_deref() != Some(reason));
    let kept = |time: Option<&Time>| time.cloned().or(Some(Time(now)));
    DeploymentCondition {
        type_: Some(type_.to_string()),
        status: Some(status.to_string()),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_transition_time: if changed {
            Some(Time(now))
        } else {
            kept(before.and_then(|c| c.last_transition_time.as_ref()))
        },
        last_update_time: if changed || touched {
            Some(Time(now))
        } else {
            kept(before.and_then(|c| c.last_update_time.as_ref()))
        },
    }
}

/// The counts moved forward from `old` to `new`: more updated, ready or
/// available pods, or fewer old ones.
fn moved(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let olds = |s: &DeploymentStatus| n(s.replicas) - n(s.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
        || olds(new) < olds(old)
}

/// Both conditions of a Deployment whose status was `old` and whose counts
/// are now `new`, rolling out ReplicaSet `rs_name`.
pub(crate) fn conditions(
    spec: &DeploymentSpec,
    old: &DeploymentStatus,
    new: &DeploymentStatus,
    rs_name: &str,
    standing: Standing,
    now: Timestamp,
) -> Vec<DeploymentCondition> {
    let available = if standing.available {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let before = find(old, "Available");
    let available = condition(
        before,
        "Available",
        available.0,
        available.1,
        available.2.to_string(),
        false,
        now,
    );
    vec![
        available,
        progressing(spec, old, new, rs_name, standing, now),
    ]
}

/// The `Progressing` condition (see the module comment).
fn progressing(
    spec: &DeploymentSpec,
    old: &DeploymentStatus,
    new: &DeploymentStatus,
    rs_name: &str,
    standing: Standing,
    now: Timestamp,
) -> DeploymentCondition {
    let before = find(old, "Progressing");
    let make = |status, reason, message, touched| {
        condition(before, "Progressing", status, reason, message, touched, now)
    };
    if spec.paused == Some(true) {
        return make("Unknown", PAUSED, "Deployment is paused".into(), false);
    }
    if standing.complete {
        return make(
            "True",
            COMPLETE,
            format!("ReplicaSet {rs_name:?} has successfully progressed."),
            false,
        );
    }
    let progressing = || {
        make(
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet {rs_name:?} is progressing."),
            true,
        )
    };
    let Some(was) = before else {
        return progressing();
    };
    let reason = was.reason.as_deref().unwrap_or_default();
    // A new ReplicaSet (a changed template, an undo) or a resumed rollout
    // starts the clock again, as does any step forward.
    let same_set = was
        .message
        .as_deref()
        .is_some_and(|m| m.contains(&format!("{rs_name:?}")));
    if !same_set || reason == PAUSED || moved(old, new) {
        return progressing();
    }
    if reason == COMPLETE {
        return was.clone();
    }
    let deadline = i64::from(
        spec.progress_deadline_seconds
            .unwrap_or(DEFAULT_DEADLINE_SECONDS),
    );
    let since = was.last_update_time.as_ref().map_or(now, |t| t.0);
    if reason == TIMED_OUT || now.duration_since(since) > SignedDuration::from_secs(deadline) {
        return make(
            "False",
            TIMED_OUT,
            format!("ReplicaSet {rs_name:?} has timed out progressing."),
            false,
        );
    }
    was.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(updated: i32, ready: i32, conditions: Vec<DeploymentCondition>) -> DeploymentStatus {
        DeploymentStatus {
            replicas: Some(updated),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            conditions: Some(conditions),
            ..DeploymentStatus::default()
        }
    }

    fn spec(deadline: i32) -> DeploymentSpec {
        DeploymentSpec {
            progress_deadline_seconds: Some(deadline),
            ..DeploymentSpec::default()
        }
    }

    const NOT_DONE: Standing = Standing {
        available: false,
        complete: false,
    };

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("timestamp")
    }

    fn reason(c: &DeploymentCondition) -> &str {
        c.reason.as_deref().unwrap_or_default()
    }

    #[test]
    fn a_rollout_without_progress_times_out_after_the_deadline_and_stays_so() {
        let spec = spec(10);
        let first = conditions(
            &spec,
            &status(0, 0, vec![]),
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(0),
        );
        assert_eq!(reason(&first[1]), "ReplicaSetUpdated");
        let still = status(2, 0, first.clone());
        let at_5 = conditions(
            &spec,
            &still,
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(5),
        );
        assert_eq!(
            at_5[1], first[1],
            "no progress, within the deadline: unchanged"
        );
        let at_11 = conditions(
            &spec,
            &still,
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(11),
        );
        assert_eq!(reason(&at_11[1]), TIMED_OUT);
        assert_eq!(at_11[1].status.as_deref(), Some("False"));
        assert_eq!(
            at_11[1].message.as_deref(),
            Some("ReplicaSet \"web-1\" has timed out progressing.")
        );
        let timed_out = status(2, 0, at_11.clone());
        let later = conditions(
            &spec,
            &timed_out,
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(30),
        );
        assert_eq!(later[1], at_11[1], "a timed-out rollout stays timed out");
    }

    #[test]
    fn progress_or_a_new_set_restarts_the_clock_and_completion_ends_it() {
        let spec = spec(10);
        let first = conditions(
            &spec,
            &status(0, 0, vec![]),
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(0),
        );
        let one_ready = conditions(
            &spec,
            &status(2, 0, first),
            &status(2, 1, vec![]),
            "web-1",
            NOT_DONE,
            at(8),
        );
        assert_eq!(reason(&one_ready[1]), "ReplicaSetUpdated");
        assert_eq!(one_ready[1].last_update_time, Some(Time(at(8))));
        let at_15 = conditions(
            &spec,
            &status(2, 1, one_ready.clone()),
            &status(2, 1, vec![]),
            "web-1",
            NOT_DONE,
            at(15),
        );
        assert_eq!(
            reason(&at_15[1]),
            "ReplicaSetUpdated",
            "10 s have not passed since the last step"
        );
        let timed_out = conditions(
            &spec,
            &status(2, 1, one_ready),
            &status(2, 1, vec![]),
            "web-1",
            NOT_DONE,
            at(19),
        );
        assert_eq!(reason(&timed_out[1]), TIMED_OUT);
        let new_set = conditions(
            &spec,
            &status(2, 1, timed_out),
            &status(0, 1, vec![]),
            "web-2",
            NOT_DONE,
            at(20),
        );
        assert_eq!(
            reason(&new_set[1]),
            "ReplicaSetUpdated",
            "a new template starts again"
        );
        let done = Standing {
            available: true,
            complete: true,
        };
        let complete = conditions(
            &spec,
            &status(2, 1, new_set),
            &status(2, 2, vec![]),
            "web-2",
            done,
            at(21),
        );
        assert_eq!(reason(&complete[1]), COMPLETE);
        assert_eq!(complete[0].status.as_deref(), Some("True"));
        let pod_lost = conditions(
            &spec,
            &status(2, 2, complete.clone()),
            &status(2, 1, vec![]),
            "web-2",
            NOT_DONE,
            at(100),
        );
        assert_eq!(
            pod_lost[1], complete[1],
            "a finished rollout never times out"
        );
    }

    #[test]
    fn a_paused_deployment_is_unknown_and_resuming_restarts_the_clock() {
        let mut spec = spec(10);
        spec.paused = Some(true);
        let paused = conditions(
            &spec,
            &status(2, 0, vec![]),
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(0),
        );
        assert_eq!(paused[1].status.as_deref(), Some("Unknown"));
        assert_eq!(reason(&paused[1]), PAUSED);
        spec.paused = None;
        let resumed = conditions(
            &spec,
            &status(2, 0, paused),
            &status(2, 0, vec![]),
            "web-1",
            NOT_DONE,
            at(60),
        );
        assert_eq!(reason(&resumed[1]), "ReplicaSetUpdated");
        assert_eq!(resumed[1].last_update_time, Some(Time(at(60))));
    }
}
