//! The Deployment controller: one ReplicaSet per template (named by the
//! template's hash, labelled with it), the current one grown and the old ones
//! shrunk by the strategy (RollingUpdate within maxSurge/maxUnavailable, or
//! Recreate: all old pods gone before a new one starts), old sets kept up to
//! `revisionHistoryLimit` for a rollback, and the status kubectl shows.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::Resource;

use super::pods::PodView;
use super::progress;
use super::rolling::{self, Counts};
use crate::events::{About, EventType, Events};
use crate::objects::{template_hash, TEMPLATE_HASH_LABEL};
use crate::store::Store;

/// The annotation holding a ReplicaSet's revision number.
pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";

/// The reference a ReplicaSet of `d` carries to it.
fn owner_of(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: Deployment::API_VERSION.to_string(),
        kind: Deployment::KIND.to_string(),
        name: d.metadata.name.clone().unwrap_or_default(),
        uid: d.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The uid of the object controlling `meta`, if any.
pub(crate) fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// A set's template without the hash label: what it was cut from.
pub(crate) fn unhashed(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    t
}

pub(crate) fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A new ReplicaSet for `d`'s template, with 0 replicas (the rollout grows it).
fn new_set(d: &Deployment, hash: &str, revision: i64) -> ReplicaSet {
    let spec = d.spec.clone();
    let hash_label = BTreeMap::from([(TEMPLATE_HASH_LABEL.to_string(), hash.to_string())]);
    let mut template = spec.template.clone();
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .extend(hash_label.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .extend(hash_label);
    let name = d.metadata.name.clone().unwrap_or_default();
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            uid: Some(uuid::Uuid::new_v4().to_string()),
            creation_timestamp: Some(Time(jiff::Timestamp::now())),
            generation: Some(1),
            labels: meta.labels.clone(),
            annotations: Some(BTreeMap::from([(
                REVISION.to_string(),
                revision.to_string(),
            )])),
            owner_references: Some(vec![owner_of(d)]),
            ..ObjectMeta::default()
        },
        spec: ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        },
        status: None,
    }
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(0)
}

fn set_replicas(store: &Store, rs: &mut ReplicaSet, n: i32) {
    if spec_replicas(rs) == n {
        return;
    }
    let name = rs.metadata.name.clone().unwrap_or_default();
    let from = spec_replicas(rs);
    tracing::info!(replicaset = %name, from, to = n, "scaled replica set");
    if let Some(owner) = rs
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        let about = About {
            kind: Deployment::KIND,
            name: &owner.name,
            uid: &owner.uid,
        };
        let way = if n > from { "up" } else { "down" };
        let message = format!("Scaled {way} replica set {name} from {from} to {n}");
        Events::of(store).record(
            about,
            EventType::Normal,
            "ScalingReplicaSet",
            "deployment-controller",
            &message,
        );
    }
    rs.spec.replicas = Some(n);
    rs.metadata.generation = Some(rs.metadata.generation.unwrap_or(1) + 1);
    if let Err(e) = store.put(rs) {
        tracing::warn!(replicaset = %name, error = %e, "storing replica set");
    }
}

/// One pass for one Deployment.
pub(crate) fn sync(store: &Store, d: &Deployment, sets: &[ReplicaSet], pods: &[PodView]) {
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let spec = d.spec.clone();
    let replicas = spec.replicas.unwrap_or(1);
    let mut owned: Vec<ReplicaSet> = sets
        .iter()
        .filter(|rs| controller_uid(&rs.metadata) == Some(uid.as_str()))
        .cloned()
        .collect();
    owned.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let max_revision = owned.iter().map(revision).max().unwrap_or(0);

    // The set for today's template: an existing one (a rollback finds its old
    // set), or a new one named by the hash.
    let current = owned.iter().position(|rs| {
        rs.spec
            .template
            .as_ref()
            .is_some_and(|t| unhashed(t) == spec.template)
    });
    // Paused: a new template waits for `rollout resume`; the status still
    // says so.
    if current.is_none() && spec.paused == Some(true) {
        store_status(store, d, None, &owned, pods, replicas);
        return;
    }
    let current = match current {
        Some(i) => {
            if revision(&owned[i]) < max_revision {
                let rs = &mut owned[i];
                rs.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(REVISION.to_string(), (max_revision + 1).to_string());
                if let Err(e) = store.put(rs) {
                    tracing::warn!(deployment = %name, error = %e, "storing replica set");
                }
            }
            i
        }
        None => {
            let mut collisions = d.status.as_ref().and_then(|s| s.collision_count);
            let rs = loop {
                let hash = template_hash(&spec.template, collisions);
                let candidate = new_set(d, &hash, max_revision + 1);
                let taken = sets
                    .iter()
                    .any(|rs| rs.metadata.name == candidate.metadata.name);
                if !taken {
                    break candidate;
                }
                collisions = Some(collisions.unwrap_or(0) + 1);
            };
            tracing::info!(deployment = %name, replicaset = %rs.metadata.name.as_deref().unwrap_or_default(), "created replica set");
            if let Err(e) = store.put(&rs) {
                tracing::warn!(deployment = %name, error = %e, "storing replica set");
                return;
            }
            owned.push(rs);
            owned.len() - 1
        }
    };

    let counts = |rs: &ReplicaSet| {
        let uid = rs.metadata.uid.as_deref();
        Counts {
            spec: spec_replicas(rs),
            available: pods
                .iter()
                .filter(|p| p.owner_uid.as_deref() == uid && p.available(spec.min_ready_seconds))
                .count() as i32,
        }
    };
    let mut new_rs = owned.remove(current);
    let mut olds = owned;
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    if recreate {
        for rs in olds.iter_mut() {
            set_replicas(store, rs, 0);
        }
        let old_pods_left = olds.iter().any(|rs| {
            let uid = rs.metadata.uid.as_deref();
            pods.iter()
                .any(|p| p.owner_uid.as_deref() == uid && !p.finished())
        });
        if !old_pods_left {
            set_replicas(store, &mut new_rs, replicas);
        }
    } else {
        let limits = rolling::limits(spec.strategy.as_ref(), replicas);
        let old_counts: Vec<Counts> = olds.iter().map(counts).collect();
        let target = rolling::new_target(replicas, limits, counts(&new_rs), &old_counts);
        set_replicas(store, &mut new_rs, target);
        let targets = rolling::old_targets(replicas, limits, counts(&new_rs), &old_counts);
        for (rs, t) in olds.iter_mut().zip(targets) {
            set_replicas(store, rs, t);
        }
    }

    clean_up_history(store, &spec, &olds, pods);
    store_status(store, d, Some(&new_rs), &olds, pods, replicas);
}

/// Old sets scaled to 0 with no pod left, beyond `revisionHistoryLimit` (10),
/// oldest first, are removed.
fn clean_up_history(
    store: &Store,
    spec: &k8s_openapi::api::apps::v1::DeploymentSpec,
    olds: &[ReplicaSet],
    pods: &[PodView],
) {
    let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10)).unwrap_or(0);
    let idle: Vec<&ReplicaSet> = olds
        .iter()
        .filter(|rs| {
            let uid = rs.metadata.uid.as_deref();
            spec_replicas(rs) == 0 && !pods.iter().any(|p| p.owner_uid.as_deref() == uid)
        })
        .collect();
    let extra = idle.len().saturating_sub(limit);
    let mut by_revision = idle;
    by_revision.sort_by_key(|rs| revision(rs));
    for rs in by_revision.into_iter().take(extra) {
        let name = rs.metadata.name.clone().unwrap_or_default();
        tracing::info!(replicaset = %name, "removed old replica set");
        if let Err(e) = store.remove::<ReplicaSet>(&name) {
            tracing::warn!(replicaset = %name, error = %e, "removing replica set");
        }
    }
}

fn store_status(
    store: &Store,
    d: &Deployment,
    new_rs: Option<&ReplicaSet>,
    olds: &[ReplicaSet],
    pods: &[PodView],
    replicas: i32,
) {
    let of = |rs: &ReplicaSet| {
        let uid = rs.metadata.uid.as_deref();
        pods.iter()
            .filter(move |p| p.owner_uid.as_deref() == uid)
            .cloned()
            .collect::<Vec<_>>()
    };
    let new_pods = new_rs.map(of).unwrap_or_default();
    let all: Vec<PodView> = olds.iter().flat_map(of).chain(new_pods.clone()).collect();
    let total = all.iter().filter(|p| p.active()).count() as i32;
    let ready = all.iter().filter(|p| p.ready()).count() as i32;
    let spec = d.spec.clone();
    let ready_long = all
        .iter()
        .filter(|p| p.available(spec.min_ready_seconds))
        .count() as i32;
    let updated = new_pods.iter().filter(|p| p.active()).count() as i32;
    let limits = rolling::limits(spec.strategy.as_ref(), replicas);
    let standing = progress::Standing {
        available: ready_long >= replicas - limits.unavailable,
        complete: new_rs.is_some()
            && updated == replicas
            && total == replicas
            && ready_long == replicas,
    };
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(total),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(ready_long),
        unavailable_replicas: Some((replicas - ready_long).max(0)),
        collision_count: old.collision_count,
        ..DeploymentStatus::default()
    };
    let rs_name = new_rs
        .and_then(|rs| rs.metadata.name.clone())
        .unwrap_or_default();
    let mut conditions = progress::conditions(
        &spec,
        &old,
        &status,
        &rs_name,
        standing,
        jiff::Timestamp::now(),
    );
    // A ReplicaSet that cannot make pods (refused by a policy, say): the
    // Deployment says so too, as Kubernetes' deployment controller does.
    if let Some(failure) = new_rs
        .and_then(|rs| rs.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| {
            c.iter()
                .find(|c| c.type_.as_deref() == Some(super::replicaset::REPLICA_FAILURE))
        })
    {
        conditions.push(DeploymentCondition {
            type_: failure.type_.clone(),
            status: failure.status.clone(),
            reason: failure.reason.clone(),
            message: failure.message.clone(),
            last_transition_time: failure.last_transition_time.clone(),
            last_update_time: failure.last_transition_time.clone(),
        });
    }
    status.conditions = Some(conditions);
    if d.status.as_ref() != Some(&status) {
        let mut updated = d.clone();
        updated.status = Some(status);
        if let Err(e) = store.put(&updated) {
            tracing::warn!(deployment = ?d.metadata.name, error = %e, "storing status");
        }
    }
}
