//! The controllers, run one pass at a time: Deployments first (they shape their
//! ReplicaSets), then ReplicaSets, DaemonSets, StatefulSets and Jobs (they make and delete
//! pods), then Services' endpoints, then the garbage collector (sets, revisions and pods whose owner is gone). Each pass starts from what is
//! stored and what runs, never from memory of the last pass, so an agent killed
//! at any point and started again carries on where the state says.

pub(crate) mod cascade;
mod daemonset;
pub(crate) mod deployment;
pub(crate) mod endpoints;
mod job;
pub(crate) mod namespace;
pub(crate) mod pods;
pub(crate) mod progress;
mod replicaset;
pub(crate) mod revisions;
pub(crate) mod rolling;
pub(crate) mod statefulset;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use podrt_sandbox::pod::Options;

use crate::error::Result;
use crate::store::Store;
use pods::{PodView, Pods};

/// What a pass did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// It made, released or began deleting pods: the statuses it wrote were
    /// computed before, so another pass should follow at once.
    pub(crate) acted: bool,
    /// Pods are still being deleted by its threads: their end matters (a
    /// StatefulSet's replacement waits for it) and no nudge announces it.
    pub(crate) deleting: bool,
    /// Every namespace's Services, with their endpoints as the pass left them.
    pub(crate) services: Vec<endpoints::Served>,
}

/// The controllers of one store and one podrt root.
#[derive(Debug, Clone)]
pub(crate) struct Controllers {
    store: Store,
    pods: Pods,
    /// This node's labels, for DaemonSets.
    node: BTreeMap<String, String>,
}

impl Controllers {
    /// Controllers acting on `store`, making pods under `opts`, on a node
    /// with `labels` besides kubelet's own.
    pub(crate) fn new(
        store: Store,
        opts: Options,
        labels: BTreeMap<String, String>,
    ) -> Controllers {
        let mut node = daemonset::this_node();
        node.extend(labels);
        Controllers {
            pods: Pods::new(opts, Some(store.clone())),
            store,
            node,
        }
    }

    /// One pass over every object, holding the store's lock: namespace by
    /// namespace, each controller seeing only the objects and pods of the
    /// namespace at hand. What it did, for the agent to know when to pass
    /// again.
    pub(crate) fn pass(&self) -> Result<Outcome> {
        let acts = self.pods.acts();
        let services = self.pass_all()?;
        Ok(Outcome {
            acted: self.pods.acts() != acts,
            deleting: self.pods.deleting_any(),
            services,
        })
    }

    fn pass_all(&self) -> Result<Vec<endpoints::Served>> {
        let _lock = self.store.lock()?;
        let pods = self.pods.list()?;
        let mut namespaces: BTreeSet<String> =
            self.store.namespaces_in_use()?.into_iter().collect();
        namespaces.extend(pods.iter().map(|p| p.namespace.clone()));
        if let Err(e) = namespace::finish_terminating(&self.store, &self.pods, self.pods.root()) {
            tracing::warn!(error = %e, "deleting terminating namespaces");
        }
        let mut services = Vec::new();
        for ns in &namespaces {
            let in_ns: Vec<PodView> = pods
                .iter()
                .filter(|p| &p.namespace == ns)
                .cloned()
                .collect();
            services.extend(self.pass_in(
                &self.store.in_namespace(ns),
                &self.pods.in_namespace(ns),
                &in_ns,
            )?);
        }
        Ok(services)
    }

    /// The pass over one namespace: `store` and `pods` act on it, `views` are
    /// its pods. Its Services with their endpoints.
    fn pass_in(
        &self,
        store: &Store,
        pods_of: &Pods,
        pods: &[PodView],
    ) -> Result<Vec<endpoints::Served>> {
        let deployments: Vec<Deployment> = store.list()?;
        let sets: Vec<ReplicaSet> = store.list()?;
        for d in &deployments {
            deployment::sync(store, d, &sets, pods);
        }
        // The sets as the deployments left them; those whose Deployment is gone
        // go with it.
        let owners: HashSet<&str> = deployments
            .iter()
            .filter_map(|d| d.metadata.uid.as_deref())
            .collect();
        let mut kept = Vec::new();
        for rs in store.list::<ReplicaSet>()? {
            if cascade::orphaned(&rs.metadata, "Deployment", &owners) {
                let name = rs.metadata.name.clone().unwrap_or_default();
                tracing::info!(replicaset = %name, "removed: its deployment is gone");
                store.remove::<ReplicaSet>(&name)?;
            } else {
                kept.push(rs);
            }
        }
        for rs in &kept {
            replicaset::sync(store, pods_of, rs, pods);
        }
        // Read once for the sets of both kinds and the collector below (a
        // revision a set adds now has a live owner).
        let revisions: Vec<ControllerRevision> = store.list()?;
        let daemon_sets: Vec<DaemonSet> = store.list()?;
        for ds in &daemon_sets {
            daemonset::sync(store, pods_of, ds, pods, &revisions, &self.node);
        }
        let stateful_sets: Vec<StatefulSet> = store.list()?;
        for sts in &stateful_sets {
            statefulset::sync(store, pods_of, sts, pods, &revisions);
        }
        let mut jobs: Vec<Job> = store.list()?;
        jobs.retain(|j| job::sync(store, pods_of, j, pods));
        let services: Vec<Service> = store.list()?;
        let node = self
            .node
            .get("kubernetes.io/hostname")
            .map(String::as_str)
            .unwrap_or_default();
        let served = endpoints::sync(store, &services, pods, node).unwrap_or_else(|e| {
            tracing::warn!(namespace = %store.namespace(), error = %e, "writing endpoints");
            let unserved = |s: &Service| endpoints::Served {
                service: s.clone(),
                subsets: Vec::new(),
            };
            services.iter().map(unserved).collect()
        });
        // Revisions whose set is gone.
        let sets: HashSet<&str> = daemon_sets
            .iter()
            .filter_map(|o| o.metadata.uid.as_deref())
            .chain(
                stateful_sets
                    .iter()
                    .filter_map(|o| o.metadata.uid.as_deref()),
            )
            .collect();
        for r in &revisions {
            let owned = r.metadata.owner_references.iter().flatten();
            if owned
                .filter(|o| o.controller == Some(true))
                .any(|o| !sets.contains(o.uid.as_str()))
            {
                let name = r.metadata.name.clone().unwrap_or_default();
                tracing::info!(revision = %name, "removed: its set is gone");
                store.remove::<ControllerRevision>(&name)?;
            }
        }
        // Pods whose owner is gone.
        let owners: [(&str, HashSet<&str>); 4] = [
            (
                "ReplicaSet",
                kept.iter()
                    .filter_map(|o| o.metadata.uid.as_deref())
                    .collect(),
            ),
            (
                "DaemonSet",
                daemon_sets
                    .iter()
                    .filter_map(|o| o.metadata.uid.as_deref())
                    .collect(),
            ),
            (
                "StatefulSet",
                stateful_sets
                    .iter()
                    .filter_map(|o| o.metadata.uid.as_deref())
                    .collect(),
            ),
            (
                "Job",
                jobs.iter()
                    .filter_map(|o| o.metadata.uid.as_deref())
                    .collect(),
            ),
        ];
        for p in pods {
            let Some((kind, live)) = owners
                .iter()
                .find(|(kind, _)| p.owner_kind.as_deref() == Some(*kind))
            else {
                continue;
            };
            let orphan = p.owner_uid.as_deref().is_some_and(|u| !live.contains(u));
            if orphan && p.life != pods::Life::Terminating {
                tracing::info!(pod = %p.name, namespace = %p.namespace, owner = %kind, "deleting: its owner is gone");
                pods_of.delete(&p.name);
            }
        }
        Ok(served)
    }
}
