//! Deleting a workload with what it made (kubectl's default, background
//! cascade): the object and the ReplicaSets or ControllerRevisions it owns leave
//! the store at once; its
//! pods and theirs (a Job's finished ones too) are then deleted gracefully. The agent's garbage collector does the same
//! for anything left whose owner is gone. `--cascade=orphan` ([`orphan`])
//! removes only the object, and what it owned loses its owner reference and
//! stays.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Metadata;
use podrt_sandbox::state::listing;

use super::deployment::controller_uid;
use super::pods::{delete_now, disown};
use super::{revisions, statefulset};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::objects::Kind;
use crate::store::{Store, Stored};

/// Whether `meta` is controlled by an object of `kind` that is not in `owners`
/// (uids).
pub(crate) fn orphaned(meta: &ObjectMeta, kind: &str, owners: &HashSet<&str>) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .is_some_and(|o| o.kind == kind && !owners.contains(o.uid.as_str()))
}

/// What a deleted workload leaves for its deleter to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependents {
    /// The pods it owned, to delete ([`delete_pods`]).
    pub pods: Vec<String>,
    /// The claim directories of a StatefulSet whose retention policy says
    /// `whenDeleted: Delete`, to remove once those pods are gone
    /// ([`crate::release_claims`]).
    pub claims: Vec<std::path::PathBuf>,
}

/// Removes the `kind` object `name` of the store's namespace and the
/// ReplicaSets or revisions it owns from the store (holding its lock), and
/// returns what it leaves: its pods, and the claims that go with it.
pub fn delete_with_dependents(
    store: &Store,
    root: &Path,
    kind: Kind,
    name: &str,
) -> Result<Dependents> {
    let mut claims = Vec::new();
    let _lock = store.lock()?;
    let not_found = || Error::NotFound {
        object: format!("{} {name:?}", kind.plural()),
    };
    let mut set_uids = HashSet::new();
    let events = Events::of(store);
    events.forget(kind.kind_name(), name);
    match kind {
        Kind::Deployment => {
            let d: Deployment = store.get(name)?.ok_or_else(not_found)?;
            let uid = d.metadata.uid.clone().unwrap_or_default();
            for rs in store.list::<ReplicaSet>()? {
                if controller_uid(&rs.metadata) == Some(uid.as_str()) {
                    set_uids.insert(rs.metadata.uid.clone().unwrap_or_default());
                    let rs_name = rs.metadata.name.as_deref().unwrap_or_default();
                    store.remove::<ReplicaSet>(rs_name)?;
                    events.forget(Kind::ReplicaSet.kind_name(), rs_name);
                }
            }
            store.remove::<Deployment>(name)?;
        }
        Kind::ReplicaSet => {
            let rs: ReplicaSet = store.get(name)?.ok_or_else(not_found)?;
            set_uids.insert(rs.metadata.uid.clone().unwrap_or_default());
            store.remove::<ReplicaSet>(name)?;
        }
        Kind::DaemonSet => {
            let ds: DaemonSet = store.get(name)?.ok_or_else(not_found)?;
            let uid = ds.metadata.uid.clone().unwrap_or_default();
            revisions::remove_owned(store, &uid)?;
            set_uids.insert(uid);
            store.remove::<DaemonSet>(name)?;
        }
        Kind::StatefulSet => {
            // Its claims' directories stay unless its policy says otherwise.
            let sts: StatefulSet = store.get(name)?.ok_or_else(not_found)?;
            if statefulset::deletes_claims(&sts, false) {
                claims = statefulset::claims_of(store.state_dir(), &sts)
                    .into_iter()
                    .map(|(_, dir)| dir)
                    .collect();
            }
            let uid = sts.metadata.uid.clone().unwrap_or_default();
            revisions::remove_owned(store, &uid)?;
            set_uids.insert(uid);
            store.remove::<StatefulSet>(name)?;
        }
        Kind::Job => {
            let job: Job = store.get(name)?.ok_or_else(not_found)?;
            set_uids.insert(job.metadata.uid.clone().unwrap_or_default());
            store.remove::<Job>(name)?;
        }
    }
    let pods = listing::list_pod_sandboxes(root)?
        .into_iter()
        .filter(|s| {
            s.record.namespace == store.namespace()
                && controller_uid(&s.record.manifest.metadata).is_some_and(|u| set_uids.contains(u))
        })
        .map(|s| s.record.name)
        .collect();
    Ok(Dependents { pods, claims })
}

/// `delete --cascade=orphan`: removes the `kind` object `name` from the store
/// (holding its lock) and leaves what it owned, its ReplicaSets or its pods,
/// (a set's ControllerRevisions too) without the owner reference, so neither
/// the garbage collector nor a later object of the same name takes them.
pub fn orphan(store: &Store, root: &Path, kind: Kind, name: &str) -> Result<()> {
    let _lock = store.lock()?;
    Events::of(store).forget(kind.kind_name(), name);
    let uid = match kind {
        Kind::Deployment => {
            let uid = remove::<Deployment>(store, kind, name)?;
            for mut rs in store.list::<ReplicaSet>()? {
                if controller_uid(&rs.metadata) == Some(uid.as_str()) {
                    disown(rs.metadata_mut(), &uid);
                    store.put(&rs)?;
                }
            }
            return Ok(());
        }
        Kind::ReplicaSet => remove::<ReplicaSet>(store, kind, name)?,
        Kind::DaemonSet => remove::<DaemonSet>(store, kind, name)?,
        Kind::StatefulSet => remove::<StatefulSet>(store, kind, name)?,
        Kind::Job => remove::<Job>(store, kind, name)?,
    };
    for mut r in revisions::owned(store, &uid)? {
        disown(r.metadata_mut(), &uid);
        store.put(&r)?;
    }
    for mut s in listing::list_pod_sandboxes(root)? {
        if controller_uid(&s.record.manifest.metadata) == Some(uid.as_str()) {
            s.update_metadata(|meta| disown(meta, &uid))?;
        }
    }
    Ok(())
}

/// Removes the object from the store; its uid.
fn remove<T: Stored>(store: &Store, kind: Kind, name: &str) -> Result<String> {
    let obj: T = store.get(name)?.ok_or_else(|| Error::NotFound {
        object: format!("{} {name:?}", kind.plural()),
    })?;
    store.remove::<T>(name)?;
    Ok(obj.metadata().uid.clone().unwrap_or_default())
}

/// Deletes the pods of `namespace` named, gracefully (each its own grace
/// period, or `grace`), all at once (a thread each); returns when all are gone.
/// The errors, one line each.
pub fn delete_pods(
    root: &Path,
    namespace: &str,
    names: &[String],
    grace: Option<Duration>,
) -> Vec<String> {
    let threads: Vec<_> = names
        .iter()
        .map(|name| {
            let root = root.to_path_buf();
            let namespace = namespace.to_string();
            let name = name.clone();
            std::thread::spawn(move || {
                delete_now(&root, &namespace, &name, grace)
                    .map_err(|e| format!("deleting pod {name}: {e}"))
            })
        })
        .collect();
    threads
        .into_iter()
        .filter_map(|t| match t.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("a pod deletion panicked".to_string()),
        })
        .collect()
}
