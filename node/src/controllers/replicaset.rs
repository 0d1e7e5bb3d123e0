//! The ReplicaSet controller: keep `replicas` active pods cut from the template.
//! Pods that finished (Succeeded/Failed) or are being deleted do not count, so
//! they are replaced; extra pods go not-ready first, then newest first, as
//! Kubernetes picks them.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::Resource;
use podrt_sandbox::manifest::names;

use super::pods::{PodView, Pods};
use crate::events::{About, Events};
use crate::objects::pod_from_template;
use crate::selector;
use crate::store::Store;

/// The name its events give as their source.
const COMPONENT: &str = "replicaset-controller";
/// The condition of a ReplicaSet (and its Deployment) that cannot make pods.
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

/// What to do for one ReplicaSet now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// How many pods to make.
    pub(crate) create: usize,
    /// Which pods to delete.
    pub(crate) delete: Vec<String>,
}

/// The plan for `replicas` given the set's own pods.
pub(crate) fn plan(replicas: usize, owned: &[&PodView]) -> Plan {
    let mut active: Vec<&PodView> = owned.iter().copied().filter(|p| p.active()).collect();
    if active.len() <= replicas {
        return Plan {
            create: replicas - active.len(),
            delete: Vec::new(),
        };
    }
    // Not ready before ready; among equals, the newest first.
    active.sort_by(|a, b| a.ready().cmp(&b.ready()).then(b.created.cmp(&a.created)));
    Plan {
        create: 0,
        delete: active[..active.len() - replicas]
            .iter()
            .map(|p| p.name.clone())
            .collect(),
    }
}

/// The status the set's pods give it.
pub(crate) fn status(rs: &ReplicaSet, owned: &[&PodView]) -> ReplicaSetStatus {
    let active = owned.iter().filter(|p| p.active()).count() as i32;
    let ready = owned.iter().filter(|p| p.ready()).count() as i32;
    let available = owned
        .iter()
        .filter(|p| p.available(rs.spec.min_ready_seconds))
        .count() as i32;
    ReplicaSetStatus {
        replicas: active,
        fully_labeled_replicas: Some(active),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.metadata.generation,
        ..ReplicaSetStatus::default()
    }
}

/// The reference a pod of `rs` carries to it.
pub(crate) fn owner_of(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: ReplicaSet::API_VERSION.to_string(),
        kind: ReplicaSet::KIND.to_string(),
        name: rs.metadata.name.clone().unwrap_or_default(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// One pass for one set: make or delete pods by the plan, then store its status
/// if it changed.
pub(crate) fn sync(store: &Store, pods: &Pods, rs: &ReplicaSet, all: &[PodView]) {
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    let mut owned: Vec<&PodView> = all
        .iter()
        .filter(|p| p.owner_uid.as_deref() == Some(uid))
        .collect();
    // A pod relabelled out of the selector is let go, and replaced.
    owned.retain(|p| {
        if selector::matches(&rs.spec.selector, &p.labels) {
            return true;
        }
        match pods.release(&p.name, uid) {
            Ok(()) => tracing::info!(replicaset = %name, pod = %p.name, "released: its labels no longer match"),
            Err(e) => tracing::warn!(replicaset = %name, pod = %p.name, error = %e, "releasing a pod"),
        }
        false
    });
    let spec = rs.spec.clone();
    let replicas = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let todo = plan(replicas, &owned);
    let events = Events::of(store);
    let about = About {
        kind: ReplicaSet::KIND,
        name: &name,
        uid,
    };
    let template = spec.template.unwrap_or_default();
    let mut made = 0;
    let mut failure = None;
    for _ in 0..todo.create {
        let pod_name = names::generate_name(&format!("{name}-"));
        let pod = pod_from_template(
            &template,
            &pod_name,
            store.namespace(),
            &Default::default(),
            Some(owner_of(rs)),
        );
        match pods.create(&pod) {
            Ok(()) => {
                made += 1;
                tracing::info!(replicaset = %name, pod = %pod_name, "created pod");
                events.created(about, COMPONENT, &pod_name);
            }
            Err(e) => {
                tracing::warn!(replicaset = %name, error = %e, "creating a pod");
                events.failed_create(about, COMPONENT, &e);
                failure = Some(e.to_string());
                break;
            }
        }
    }
    for p in &todo.delete {
        tracing::info!(replicaset = %name, pod = %p, "deleting pod");
        pods.delete(p);
        events.deleted(about, COMPONENT, p);
    }
    let mut status = status(rs, &owned);
    status.replicas += made;
    status.replicas -= todo.delete.len() as i32;
    status.conditions = replica_failure(rs.status.as_ref(), failure);
    if rs.status.as_ref() != Some(&status) {
        let mut updated = rs.clone();
        updated.status = Some(status);
        if let Err(e) = store.put(&updated) {
            tracing::warn!(replicaset = %name, error = %e, "storing status");
        }
    }
}

/// The ReplicaFailure condition as the ReplicaSet controller keeps it: set
/// (reason FailedCreate) while pods cannot be made, gone once they can.
fn replica_failure(
    old: Option<&ReplicaSetStatus>,
    failure: Option<String>,
) -> Option<Vec<ReplicaSetCondition>> {
    let was = old.and_then(|s| s.conditions.as_ref()).and_then(|c| {
        c.iter()
            .find(|c| c.type_.as_deref() == Some(REPLICA_FAILURE))
    });
    let message = failure?;
    let since = match was {
        Some(c) if c.status.as_deref() == Some("True") => c.last_transition_time.clone(),
        _ => Some(Time(jiff::Timestamp::now())),
    };
    Some(vec![ReplicaSetCondition {
        type_: Some(REPLICA_FAILURE.to_string()),
        status: Some("True".to_string()),
        reason: Some("FailedCreate".to_string()),
        message: Some(message),
        last_transition_time: since,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::pods::Life;

    fn pod(name: &str, created: &str, life: Life) -> PodView {
        PodView {
            name: name.into(),
            namespace: "default".into(),
            owner_uid: Some("rs".into()),
            owner_kind: Some("ReplicaSet".into()),
            labels: Default::default(),
            created: created.into(),
            restarts: 0,
            life,
            ready_since: None,
            net: Default::default(),
        }
    }

    #[test]
    fn missing_pods_are_made_and_finished_or_terminating_ones_do_not_count() {
        let pods = [
            pod("a", "1", Life::Active { ready: true }),
            pod("b", "2", Life::Succeeded),
            pod("c", "3", Life::Terminating),
        ];
        let refs: Vec<&PodView> = pods.iter().collect();
        assert_eq!(
            plan(3, &refs),
            Plan {
                create: 2,
                delete: vec![]
            }
        );
        assert_eq!(
            plan(1, &refs),
            Plan {
                create: 0,
                delete: vec![]
            }
        );
    }

    #[test]
    fn extra_pods_go_not_ready_first_then_newest() {
        let pods = [
            pod("old-ready", "1", Life::Active { ready: true }),
            pod("new-ready", "3", Life::Active { ready: true }),
            pod("mid-unready", "2", Life::Active { ready: false }),
        ];
        let refs: Vec<&PodView> = pods.iter().collect();
        assert_eq!(plan(2, &refs).delete, ["mid-unready"]);
        assert_eq!(plan(1, &refs).delete, ["mid-unready", "new-ready"]);
        assert_eq!(plan(0, &refs).delete.len(), 3);
    }

    #[test]
    fn status_counts_active_and_ready() {
        let pods = [
            pod("a", "1", Life::Active { ready: true }),
            pod("b", "2", Life::Active { ready: false }),
            pod("c", "3", Life::Succeeded),
        ];
        let refs: Vec<&PodView> = pods.iter().collect();
        let s = status(&ReplicaSet::default(), &refs);
        assert_eq!(s.replicas, 2);
        assert_eq!(s.ready_replicas, Some(1));
        assert_eq!(s.available_replicas, Some(1));
    }
}
