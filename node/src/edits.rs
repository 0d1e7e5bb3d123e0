//! What kubectl's `scale`, `label` and `rollout` do to a stored workload: each is an
//! edit of the desired state, made under the store's lock; the controllers do
//! the rest on their next pass (the caller nudges the agent). `rollout status`
//! reads the status the controllers keep (of a Deployment, a StatefulSet or a
//! DaemonSet), as kubectl reads the API server's; `rollout history` and `undo`
//! read a Deployment's ReplicaSets and the other two kinds' ControllerRevisions.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::controllers::deployment::{controller_uid, revision, unhashed};
use crate::controllers::{progress, revisions};
use crate::error::{Error, Result};
use crate::labels::{relabel, LabelChange};
use crate::objects::Kind;
use crate::store::{Store, Stored};

/// The annotation `kubectl rollout restart` puts on a template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The annotation `rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

fn not_found(kind: Kind, name: &str) -> Error {
    Error::NotFound {
        object: format!("{} {name:?}", kind.plural()),
    }
}

/// Loads `name`, lets `edit` change it, and stores it with its generation one
/// up if it changed; whether it did.
fn edit<T: Stored>(
    store: &Store,
    kind: Kind,
    name: &str,
    edit: impl FnOnce(&mut T) -> Result<()>,
) -> Result<bool> {
    let _lock = store.lock()?;
    let mut obj: T = store.get(name)?.ok_or_else(|| not_found(kind, name))?;
    let before = obj.clone();
    edit(&mut obj)?;
    if obj == before {
        return Ok(false);
    }
    let meta: &mut ObjectMeta = obj.metadata_mut();
    meta.generation = Some(meta.generation.unwrap_or(1) + 1);
    store.put(&obj)?;
    Ok(true)
}

/// `scale KIND/NAME --replicas=N`.
pub fn scale(store: &Store, kind: Kind, name: &str, replicas: i32) -> Result<()> {
    if replicas < 0 {
        return Err(Error::Invalid {
            object: format!("{}/{name}", kind.qualified()),
            fields: vec![format!(
                "spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            )],
        });
    }
    match kind {
        Kind::Deployment => edit::<Deployment>(store, kind, name, |d| {
            d.spec.replicas = Some(replicas);
            Ok(())
        })?,
        Kind::ReplicaSet => edit::<ReplicaSet>(store, kind, name, |r| {
            r.spec.replicas = Some(replicas);
            Ok(())
        })?,
        Kind::StatefulSet => edit::<StatefulSet>(store, kind, name, |s| {
            s.spec.replicas = Some(replicas);
            Ok(())
        })?,
        other => {
            return Err(Error::Invalid {
                object: format!("{}/{name}", other.qualified()),
                fields: vec![format!(
                    "{} cannot be scaled (deployments, replicasets and statefulsets can)",
                    other.plural()
                )],
            })
        }
    };
    Ok(())
}

/// `label KIND NAME CHANGES… [--overwrite]`: the object's labels changed, its
/// generation kept (labels are not its spec); whether they changed.
pub fn label(
    store: &Store,
    kind: Kind,
    name: &str,
    changes: &[LabelChange],
    overwrite: bool,
) -> Result<bool> {
    match kind {
        Kind::Deployment => label_stored::<Deployment>(store, kind, name, changes, overwrite),
        Kind::ReplicaSet => label_stored::<ReplicaSet>(store, kind, name, changes, overwrite),
        Kind::DaemonSet => label_stored::<DaemonSet>(store, kind, name, changes, overwrite),
        Kind::StatefulSet => label_stored::<StatefulSet>(store, kind, name, changes, overwrite),
        Kind::Job => label_stored::<Job>(store, kind, name, changes, overwrite),
    }
}

fn label_stored<T: Stored>(
    store: &Store,
    kind: Kind,
    name: &str,
    changes: &[LabelChange],
    overwrite: bool,
) -> Result<bool> {
    let _lock = store.lock()?;
    let mut obj: T = store.get(name)?.ok_or_else(|| not_found(kind, name))?;
    let meta: &mut ObjectMeta = obj.metadata_mut();
    let mut labels = meta.labels.take().unwrap_or_default();
    let changed = relabel(&mut labels, changes, overwrite).map_err(|e| Error::Invalid {
        object: format!("{}/{name}", kind.qualified()),
        fields: vec![e],
    })?;
    meta.labels = (!labels.is_empty()).then_some(labels);
    if changed {
        store.put(&obj)?;
    }
    Ok(changed)
}

/// The error for a `rollout` verb on a kind that has no rollout (only
/// Deployments, StatefulSets and DaemonSets roll their templates out).
fn not_rolled(verb: &str, kind: Kind, name: &str) -> Error {
    Error::Invalid {
        object: format!("{}/{name}", kind.qualified()),
        fields: vec![format!(
            "rollout {verb} works on deployments, statefulsets and daemonsets, not {}",
            kind.plural()
        )],
    }
}

/// Loads the `kind` object `name`, lets `edit` change its pod template (given
/// its metadata too), and stores it if that changed; whether it did.
fn edit_template(
    store: &Store,
    verb: &str,
    kind: Kind,
    name: &str,
    edit: impl FnOnce(&ObjectMeta, &mut PodTemplateSpec) -> Result<()>,
) -> Result<bool> {
    match kind {
        Kind::Deployment => self::edit::<Deployment>(store, kind, name, |d| {
            edit(&d.metadata, &mut d.spec.template)
        }),
        Kind::StatefulSet => self::edit::<StatefulSet>(store, kind, name, |s| {
            edit(&s.metadata, &mut s.spec.template)
        }),
        Kind::DaemonSet => self::edit::<DaemonSet>(store, kind, name, |s| {
            edit(&s.metadata, &mut s.spec.template)
        }),
        other => Err(not_rolled(verb, other, name)),
    }
}

/// `rollout restart`: a new template (its restartedAt annotation), so every pod
/// of the Deployment, StatefulSet or DaemonSet is replaced by the rollout.
pub fn restart(store: &Store, kind: Kind, name: &str, now: &str) -> Result<()> {
    edit_template(store, "restart", kind, name, |_, template| {
        template
            .metadata
            .get_or_insert_with(Default::default)
            .annotations
            .get_or_insert_with(Default::default)
            .insert(RESTARTED_AT.to_string(), now.to_string());
        Ok(())
    })?;
    Ok(())
}

/// `rollout pause` (true) and `rollout resume` (false); whether it changed.
pub fn pause(store: &Store, name: &str, paused: bool) -> Result<bool> {
    edit::<Deployment>(store, Kind::Deployment, name, |d| {
        d.spec.paused = paused.then_some(true);
        Ok(())
    })
}

/// One row of `rollout history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision number.
    pub number: i64,
    /// What keeps it: a Deployment's ReplicaSet, a StatefulSet's or
    /// DaemonSet's ControllerRevision.
    pub kept_as: String,
    /// Its `kubernetes.io/change-cause` annotation, if any.
    pub change_cause: Option<String>,
}

/// The kept revisions of the workload of uid `uid`, oldest first, each with
/// the template it puts back.
fn kept(store: &Store, kind: Kind, uid: &str) -> Result<Vec<(Revision, PodTemplateSpec)>> {
    let cause = |meta: &ObjectMeta| {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(CHANGE_CAUSE).cloned())
    };
    if kind == Kind::Deployment {
        return Ok(owned_sets(store, uid)?
            .iter()
            .map(|rs| {
                let row = Revision {
                    number: revision(rs),
                    kept_as: rs.metadata.name.clone().unwrap_or_default(),
                    change_cause: cause(&rs.metadata),
                };
                (
                    row,
                    rs.spec.template.as_ref().map(unhashed).unwrap_or_default(),
                )
            })
            .collect());
    }
    Ok(revisions::owned(store, uid)?
        .iter()
        .filter_map(|r| {
            let row = Revision {
                number: revisions::number(r),
                kept_as: r.metadata.name.clone().unwrap_or_default(),
                change_cause: cause(&r.metadata),
            };
            Some((row, revisions::template_of(r)?))
        })
        .collect())
}

/// The uid of the `kind` object `name`.
fn uid_of(store: &Store, verb: &str, kind: Kind, name: &str) -> Result<String> {
    fn uid<T: Stored>(store: &Store, kind: Kind, name: &str) -> Result<String> {
        let obj: T = store.get(name)?.ok_or_else(|| not_found(kind, name))?;
        Ok(obj.metadata().uid.clone().unwrap_or_default())
    }
    match kind {
        Kind::Deployment => uid::<Deployment>(store, kind, name),
        Kind::StatefulSet => uid::<StatefulSet>(store, kind, name),
        Kind::DaemonSet => uid::<DaemonSet>(store, kind, name),
        other => Err(not_rolled(verb, other, name)),
    }
}

/// The kept revisions of the Deployment, StatefulSet or DaemonSet `name`,
/// oldest first.
pub fn history(store: &Store, kind: Kind, name: &str) -> Result<Vec<Revision>> {
    let uid = uid_of(store, "history", kind, name)?;
    Ok(kept(store, kind, &uid)?
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

fn owned_sets(store: &Store, uid: &str) -> Result<Vec<ReplicaSet>> {
    let mut sets: Vec<ReplicaSet> = store
        .list::<ReplicaSet>()?
        .into_iter()
        .filter(|rs| controller_uid(&rs.metadata) == Some(uid))
        .collect();
    sets.sort_by_key(revision);
    Ok(sets)
}

/// What `rollout undo` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undone {
    /// The revision rolled back to.
    pub revision: i64,
    /// Whether the template changed: false when it already was that revision's
    /// (kubectl's "skipped rollback").
    pub changed: bool,
}

/// `rollout undo [--to-revision=N]`: the template of the Deployment,
/// StatefulSet or DaemonSet becomes that revision's (default: the one before
/// the newest); on its next pass the controller rolls it out and renumbers
/// that revision the newest.
pub fn undo(store: &Store, kind: Kind, name: &str, to: Option<i64>) -> Result<Undone> {
    let invalid = |message: String| Error::Invalid {
        object: format!("{}/{name}", kind.qualified()),
        fields: vec![message],
    };
    let mut target = None;
    let changed = edit_template(store, "undo", kind, name, |meta, template| {
        let uid = meta.uid.clone().unwrap_or_default();
        let kept = kept(store, kind, &uid)?;
        let (row, back) = match to {
            Some(n) => kept.iter().find(|(r, _)| r.number == n).ok_or_else(|| {
                invalid(format!("unable to find specified revision {n} in history"))
            })?,
            None => kept
                .iter()
                .rev()
                .nth(1)
                .ok_or_else(|| invalid("no rollout history found".to_string()))?,
        };
        target = Some(row.number);
        *template = back.clone();
        Ok(())
    })?;
    let revision = target.ok_or_else(|| invalid("no rollout history found".to_string()))?;
    Ok(Undone { revision, changed })
}

/// Where a rollout is, in `rollout status`'s words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Done: every replica updated and available.
    Done(String),
    /// Still going, with kubectl's line saying why.
    Waiting(String),
    /// Given up: the Deployment exceeded its progress deadline.
    Failed(String),
}

/// The rollout of Deployment `name` now.
pub fn status(store: &Store, name: &str) -> Result<Progress> {
    let d: Deployment = store
        .get(name)?
        .ok_or_else(|| not_found(Kind::Deployment, name))?;
    let s = d.status.clone().unwrap_or_default();
    let want = d.spec.replicas.unwrap_or(1);
    let updated = s.updated_replicas.unwrap_or(0);
    let total = s.replicas.unwrap_or(0);
    let available = s.available_replicas.unwrap_or(0);
    let waiting = |line: String| Ok(Progress::Waiting(line));
    if s.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(1) {
        return waiting("Waiting for deployment spec update to be observed...".into());
    }
    let timed_out = progress::find(&s, "Progressing")
        .is_some_and(|c| c.reason.as_deref() == Some(progress::TIMED_OUT));
    if timed_out {
        return Ok(Progress::Failed(format!(
            "deployment {name:?} exceeded its progress deadline"
        )));
    }
    if updated < want {
        return waiting(format!("Waiting for deployment {name:?} rollout to finish: {updated} out of {want} new replicas have been updated..."));
    }
    if total > updated {
        return waiting(format!("Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...", total - updated));
    }
    if available < updated {
        return waiting(format!("Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."));
    }
    Ok(Progress::Done(format!(
        "deployment {name:?} successfully rolled out"
    )))
}

/// The rollout of StatefulSet `name` now, as kubectl reads it (the API server
/// defaults a RollingUpdate's partition to 0, so kubectl always speaks of a
/// partitioned roll out). OnDelete has no rollout to follow.
pub fn stateful_set_status(store: &Store, name: &str) -> Result<Progress> {
    let sts: StatefulSet = store
        .get(name)?
        .ok_or_else(|| not_found(Kind::StatefulSet, name))?;
    stateful_set_progress(&sts).map_err(|message| Error::Invalid {
        object: format!("statefulset.apps/{name}"),
        fields: vec![message],
    })
}

fn stateful_set_progress(sts: &StatefulSet) -> std::result::Result<Progress, String> {
    let strategy = sts.spec.update_strategy.clone().unwrap_or_default();
    if strategy
        .type_
        .as_deref()
        .is_some_and(|t| t != "RollingUpdate")
    {
        return Err("rollout status is only available for RollingUpdate strategy type".into());
    }
    let s = sts.status.clone().unwrap_or_default();
    let observed = s.observed_generation.unwrap_or(0);
    if observed == 0 || sts.metadata.generation.unwrap_or(1) > observed {
        return Ok(Progress::Waiting(
            "Waiting for statefulset spec update to be observed...".into(),
        ));
    }
    let want = sts.spec.replicas.unwrap_or(1);
    let ready = s.ready_replicas.unwrap_or(0);
    if ready < want {
        return Ok(Progress::Waiting(format!(
            "Waiting for {} pods to be ready...",
            want - ready
        )));
    }
    let partition = strategy
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let updated = s.updated_replicas.unwrap_or(0);
    if updated < want - partition {
        return Ok(Progress::Waiting(format!(
            "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
            want - partition
        )));
    }
    Ok(Progress::Done(format!(
        "partitioned roll out complete: {updated} new pods have been updated..."
    )))
}

/// The rollout of DaemonSet `name` now, in kubectl's words. OnDelete has no
/// rollout to follow.
pub fn daemon_set_status(store: &Store, name: &str) -> Result<Progress> {
    let ds: DaemonSet = store
        .get(name)?
        .ok_or_else(|| not_found(Kind::DaemonSet, name))?;
    daemon_set_progress(&ds).map_err(|message| Error::Invalid {
        object: format!("daemonset.apps/{name}"),
        fields: vec![message],
    })
}

fn daemon_set_progress(ds: &DaemonSet) -> std::result::Result<Progress, String> {
    let rolling = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if !rolling {
        return Err("rollout status is only available for RollingUpdate strategy type".into());
    }
    let s = ds.status.clone().unwrap_or_default();
    let observed = s.observed_generation.unwrap_or(0);
    if observed == 0 || ds.metadata.generation.unwrap_or(1) > observed {
        return Ok(Progress::Waiting(
            "Waiting for daemon set spec update to be observed...".into(),
        ));
    }
    let name = ds.metadata.name.as_deref().unwrap_or_default();
    let desired = s.desired_number_scheduled;
    let updated = s.updated_number_scheduled.unwrap_or(0);
    if updated < desired {
        return Ok(Progress::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        )));
    }
    let available = s.number_available.unwrap_or(0);
    if available < desired {
        return Ok(Progress::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        )));
    }
    Ok(Progress::Done(format!(
        "daemon set {name:?} successfully rolled out"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetStatus, StatefulSetUpdateStrategy};

    fn sts(replicas: i32, ready: i32, updated: i32) -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.generation = Some(2);
        s.spec.replicas = Some(replicas);
        s.status = Some(StatefulSetStatus {
            observed_generation: Some(2),
            ready_replicas: Some(ready),
            updated_replicas: Some(updated),
            ..StatefulSetStatus::default()
        });
        s
    }

    #[test]
    fn a_stateful_set_rollout_reads_as_kubectl_prints_it() {
        let done = stateful_set_progress(&sts(3, 3, 3));
        assert_eq!(
            done,
            Ok(Progress::Done(
                "partitioned roll out complete: 3 new pods have been updated...".into()
            ))
        );
        assert_eq!(
            stateful_set_progress(&sts(3, 1, 1)),
            Ok(Progress::Waiting(
                "Waiting for 2 pods to be ready...".into()
            ))
        );
        assert_eq!(
            stateful_set_progress(&sts(3, 3, 1)),
            Ok(Progress::Waiting("Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...".into()))
        );
        let mut unseen = sts(3, 3, 3);
        unseen.metadata.generation = Some(3);
        assert!(
            matches!(stateful_set_progress(&unseen), Ok(Progress::Waiting(l)) if l.contains("spec update to be observed"))
        );
        let mut on_delete = sts(3, 3, 3);
        on_delete.spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
        assert!(stateful_set_progress(&on_delete).is_err());
    }

    #[test]
    fn a_daemon_set_rollout_reads_as_kubectl_prints_it() {
        let ds = |desired: i32, updated: i32, available: i32| {
            let mut d = DaemonSet::default();
            d.metadata.name = Some("agent".into());
            d.metadata.generation = Some(2);
            d.status = Some(k8s_openapi::api::apps::v1::DaemonSetStatus {
                observed_generation: Some(2),
                desired_number_scheduled: desired,
                updated_number_scheduled: Some(updated),
                number_available: Some(available),
                ..Default::default()
            });
            d
        };
        assert_eq!(
            daemon_set_progress(&ds(1, 1, 1)),
            Ok(Progress::Done(
                "daemon set \"agent\" successfully rolled out".into()
            ))
        );
        assert_eq!(
            daemon_set_progress(&ds(1, 0, 1)),
            Ok(Progress::Waiting("Waiting for daemon set \"agent\" rollout to finish: 0 out of 1 new pods have been updated...".into()))
        );
        assert_eq!(
            daemon_set_progress(&ds(1, 1, 0)),
            Ok(Progress::Waiting("Waiting for daemon set \"agent\" rollout to finish: 0 of 1 updated pods are available...".into()))
        );
        let mut unseen = ds(1, 1, 1);
        unseen.metadata.generation = Some(3);
        assert!(
            matches!(daemon_set_progress(&unseen), Ok(Progress::Waiting(l)) if l.contains("spec update to be observed"))
        );
        let mut on_delete = ds(1, 1, 1);
        on_delete.spec.update_strategy =
            Some(k8s_openapi::api::apps::v1::DaemonSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            });
        assert!(daemon_set_progress(&on_delete).is_err());
    }
}
