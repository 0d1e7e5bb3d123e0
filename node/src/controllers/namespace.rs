//! Namespaces: `default` always exists; others are `v1` Namespace objects a user
//! applies. Deleting one is Kubernetes' two steps: the Namespace is marked
//! Terminating (its `deletionTimestamp` set, `status.phase: Terminating`, and
//! nothing new may be made in it), then everything in it goes (workloads with
//! their pods, then any pod left), and the Namespace itself goes last, once no
//! pod of it remains. A command does both steps in the foreground; the agent's
//! pass finishes any deletion a killed command left half-done
//! ([`finish_terminating`]).

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, NamespaceStatus, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use podrt_sandbox::state::listing;

use super::cascade::{delete_pods, delete_with_dependents};
use super::pods::Pods;
use super::statefulset::release_claims;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::objects::Kind;
use crate::store::{Store, Stored, DEFAULT_NAMESPACE};

/// Whether objects may be made in `namespace`: `default`, or a stored
/// Namespace that is not being deleted. The error is the API server's.
pub fn check_usable(store: &Store, namespace: &str) -> Result<()> {
    if namespace == DEFAULT_NAMESPACE {
        return Ok(());
    }
    match store.get::<Namespace>(namespace)? {
        None => Err(Error::NotFound {
            object: format!("namespaces {namespace:?}"),
        }),
        Some(ns) if terminating(&ns) => Err(Error::Forbidden {
            message: format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// Whether the Namespace is being deleted.
pub fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

/// Marks the Namespace `name` Terminating (the first step of its deletion);
/// holding the store's lock. `default` may not be deleted.
pub fn begin_deletion(store: &Store, name: &str) -> Result<()> {
    if name == DEFAULT_NAMESPACE {
        return Err(Error::Forbidden {
            message: format!("namespaces {name:?} is forbidden: this namespace may not be deleted"),
        });
    }
    let _lock = store.lock()?;
    let mut ns: Namespace = store.get(name)?.ok_or_else(|| Error::NotFound {
        object: format!("namespaces {name:?}"),
    })?;
    if terminating(&ns) {
        return Ok(());
    }
    ns.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
    ns.status = Some(NamespaceStatus {
        phase: Some("Terminating".to_string()),
        conditions: None,
    });
    store.put(&ns)
}

/// The second step, in the foreground: every workload of the namespace goes
/// with its pods, then every pod left, each gracefully (or with `grace`), and
/// then the Namespace. The errors of pods that could not be deleted, one line
/// each (the Namespace stays Terminating for the agent, or a new delete, to
/// finish).
pub fn delete_contents(
    store: &Store,
    root: &Path,
    name: &str,
    grace: Option<Duration>,
) -> Result<Vec<String>> {
    let in_ns = store.in_namespace(name);
    let mut pods = Vec::new();
    let mut claims = Vec::new();
    for kind in Kind::ALL {
        for object in names_of(&in_ns, kind)? {
            match delete_with_dependents(&in_ns, root, kind, &object) {
                Ok(owned) => {
                    pods.extend(owned.pods);
                    claims.extend(owned.claims);
                }
                // A Deployment's ReplicaSet went with it.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for s in listing::list_pod_sandboxes(root)? {
        if s.record.namespace == name && !pods.contains(&s.record.name) {
            pods.push(s.record.name.clone());
        }
    }
    let mut errors = delete_pods(root, name, &pods, grace);
    if errors.is_empty() {
        errors = release_claims(&claims);
        remove_if_empty(store, root, name)?;
    }
    Ok(errors)
}

/// The agent's part: for each Terminating Namespace, what a killed delete left
/// (workloads, pods) goes, and the Namespace with the last of its pods. The
/// caller holds the store's lock.
pub(crate) fn finish_terminating(store: &Store, pods: &Pods, root: &Path) -> Result<()> {
    for ns in store.list::<Namespace>()? {
        if !terminating(&ns) {
            continue;
        }
        let name = ns.metadata.name.clone().unwrap_or_default();
        let in_ns = store.in_namespace(&name);
        for kind in Kind::ALL {
            for object in names_of(&in_ns, kind)? {
                remove_object(&in_ns, kind, &object)?;
            }
        }
        let pods_of = pods.in_namespace(&name);
        for s in listing::list_pod_sandboxes(root)? {
            if s.record.namespace == name {
                pods_of.delete(&s.record.name);
            }
        }
        remove_if_empty(store, root, &name)?;
    }
    Ok(())
}

/// Removes the Namespace `name`, its events, its Secrets, Services and their
/// endpoints, any revision left and its empty object directories, once no pod
/// of it is left.
fn remove_if_empty(store: &Store, root: &Path, name: &str) -> Result<()> {
    if listing::list_pod_sandboxes(root)?
        .iter()
        .any(|s| s.record.namespace == name)
    {
        return Ok(());
    }
    Events::new(store.state_dir(), name).forget_namespace();
    let in_ns = store.in_namespace(name);
    remove_all::<Secret>(&in_ns)?;
    remove_all::<ControllerRevision>(&in_ns)?;
    remove_all::<Service>(&in_ns)?;
    remove_all::<Endpoints>(&in_ns)?;
    remove_all::<EndpointSlice>(&in_ns)?;
    store.remove_namespace_dirs(name)?;
    store.remove::<Namespace>(name)?;
    tracing::info!(namespace = %name, "namespace deleted");
    Ok(())
}

/// Removes every object of the kind in the store's namespace.
fn remove_all<T: Stored>(store: &Store) -> Result<()> {
    for o in store.list::<T>()? {
        store.remove::<T>(o.metadata().name.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

/// The names of the objects of `kind` in the store's namespace.
fn names_of(store: &Store, kind: Kind) -> Result<Vec<String>> {
    fn names<T: Stored>(store: &Store) -> Result<Vec<String>> {
        Ok(store
            .list::<T>()?
            .into_iter()
            .filter_map(|o| o.metadata().name.clone())
            .collect())
    }
    match kind {
        Kind::Deployment => names::<Deployment>(store),
        Kind::ReplicaSet => names::<ReplicaSet>(store),
        Kind::DaemonSet => names::<DaemonSet>(store),
        Kind::StatefulSet => names::<StatefulSet>(store),
        Kind::Job => names::<Job>(store),
    }
}

/// Removes one object from the store (its pods are deleted as orphans).
fn remove_object(store: &Store, kind: Kind, name: &str) -> Result<()> {
    match kind {
        Kind::Deployment => store.remove::<Deployment>(name),
        Kind::ReplicaSet => store.remove::<ReplicaSet>(name),
        Kind::DaemonSet => store.remove::<DaemonSet>(name),
        Kind::StatefulSet => store.remove::<StatefulSet>(name),
        Kind::Job => store.remove::<Job>(name),
    }
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn temp_store(tag: &str) -> (std::path::PathBuf, Store) {
        let d = std::env::temp_dir().join(format!("podrt-ns-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        let store = Store::open(&d).unwrap();
        (d, store)
    }

    fn namespace(name: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    #[test]
    fn only_default_and_stored_active_namespaces_are_usable() {
        let (dir, store) = temp_store("usable");
        check_usable(&store, "default").unwrap();
        let e = check_usable(&store, "team-a").unwrap_err().to_string();
        assert_eq!(e, "namespaces \"team-a\" not found");
        store.apply(namespace("team-a")).unwrap();
        check_usable(&store, "team-a").unwrap();
        begin_deletion(&store, "team-a").unwrap();
        let e = check_usable(&store, "team-a").unwrap_err().to_string();
        assert!(e.contains("being terminated"), "{e}");
        let e = begin_deletion(&store, "default").unwrap_err().to_string();
        assert!(e.contains("may not be deleted"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
