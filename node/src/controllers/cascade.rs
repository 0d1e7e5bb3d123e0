//! Deleting a workload with what it made (kubectl's default, background
//! cascade): the object and the ReplicaSets it owns leave the store at once; its
//! pods and theirs (a Job's finished ones too) are then deleted gracefully. The agent's garbage collector does the same
//! for anything left whose owner is gone.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_sandbox::state::listing;

use super::deployment::controller_uid;
use super::pods::delete_now;
use crate::error::{Error, Result};
use crate::objects::Kind;
use crate::store::Store;

/// Whether `meta` is controlled by an object of `kind` that is not in `owners`
/// (uids).
pub(crate) fn orphaned(meta: &ObjectMeta, kind: &str, owners: &HashSet<&str>) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .is_some_and(|o| o.kind == kind && !owners.contains(o.uid.as_str()))
}

/// Removes the `kind` object `name` and the ReplicaSets it owns (a Deployment's)
/// from the store
/// (holding its lock), and returns the names of the pods they owned, for the
/// caller to delete ([`delete_pods`]).
pub fn delete_with_dependents(
    store: &Store,
    root: &Path,
    kind: Kind,
    name: &str,
) -> Result<Vec<String>> {
    let _lock = store.lock()?;
    let not_found = || Error::NotFound {
        object: format!("{} {name:?}", kind.plural()),
    };
    let mut set_uids = HashSet::new();
    match kind {
        Kind::Deployment => {
            let d: Deployment = store.get(name)?.ok_or_else(not_found)?;
            let uid = d.metadata.uid.clone().unwrap_or_default();
            for rs in store.list::<ReplicaSet>()? {
                if controller_uid(&rs.metadata) == Some(uid.as_str()) {
                    set_uids.insert(rs.metadata.uid.clone().unwrap_or_default());
                    store.remove::<ReplicaSet>(rs.metadata.name.as_deref().unwrap_or_default())?;
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
            set_uids.insert(ds.metadata.uid.clone().unwrap_or_default());
            store.remove::<DaemonSet>(name)?;
        }
        Kind::StatefulSet => {
            // Its claims' directories stay (Kubernetes' Retain).
            let sts: StatefulSet = store.get(name)?.ok_or_else(not_found)?;
            set_uids.insert(sts.metadata.uid.clone().unwrap_or_default());
            store.remove::<StatefulSet>(name)?;
        }
        Kind::Job => {
            let job: Job = store.get(name)?.ok_or_else(not_found)?;
            set_uids.insert(job.metadata.uid.clone().unwrap_or_default());
            store.remove::<Job>(name)?;
        }
    }
    Ok(listing::list_pod_sandboxes(root)?
        .into_iter()
        .filter(|s| {
            controller_uid(&s.record.manifest.metadata).is_some_and(|u| set_uids.contains(u))
        })
        .map(|s| s.record.name)
        .collect())
}

/// Deletes the pods named, gracefully (each its own grace period, or `grace`),
/// all at once (a thread each); returns when all are gone. The errors, one line
/// each.
pub fn delete_pods(root: &Path, names: &[String], grace: Option<Duration>) -> Vec<String> {
    let threads: Vec<_> = names
        .iter()
        .map(|name| {
            let root = root.to_path_buf();
            let name = name.clone();
            std::thread::spawn(move || {
                delete_now(&root, &name, grace).map_err(|e| format!("deleting pod {name}: {e}"))
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
