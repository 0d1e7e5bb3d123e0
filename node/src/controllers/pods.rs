//! The controllers' view of pods, and their two acts on them. Pods are the
//! sandbox's: they are listed from its records, made with the same calls as
//! `podrt apply` (validation, then a supervisor), and deleted as `podrt delete`
//! deletes them, gracefully, each in a thread of its own so that one pod's grace
//! period does not hold up the pass.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, PodSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_sandbox::image::registry::PullSecret;
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::lifecycle::{delete, status, supervisor};
use podrt_sandbox::manifest;
use podrt_sandbox::pod::{pulls, Options};
use podrt_sandbox::state::{listing, Sandbox};

use crate::error::{Error, Result};

/// Where a pod is in its life, as a controller counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// Pending or Running, not being deleted.
    Active {
        /// Every container runs (and is ready, once probes land).
        ready: bool,
    },
    /// Being deleted.
    Terminating,
    /// Succeeded: every container ended with 0; it will not run again.
    Succeeded,
    /// Failed: it ended and will not run again.
    Failed,
}

/// One pod, as the controllers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodView {
    /// Its name.
    pub(crate) name: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// The uid of the object that controls it (its controller owner reference).
    pub(crate) owner_uid: Option<String>,
    /// That object's kind (`ReplicaSet`).
    pub(crate) owner_kind: Option<String>,
    /// Its labels.
    pub(crate) labels: BTreeMap<String, String>,
    /// Its creation time (RFC 3339), for "newest first".
    pub(crate) created: String,
    /// Its containers' restarts, init containers included (a Job with
    /// `restartPolicy: OnFailure` counts them against its backoff limit).
    pub(crate) restarts: i32,
    /// Where it is in its life.
    pub(crate) life: Life,
    /// Since when it is ready: the latest start of its running containers
    /// (readiness is "every container runs" until probes land).
    pub(crate) ready_since: Option<jiff::Timestamp>,
    /// What a Service needs of it.
    pub(crate) net: PodNet,
}

/// A pod as a Service's endpoints name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PodNet {
    /// Its uid (an endpoint's target reference).
    pub(crate) uid: String,
    /// Its address, once it has one.
    pub(crate) ip: Option<String>,
    /// `spec.hostname` and `spec.subdomain` (a headless Service of that name
    /// gives the pod a DNS name).
    pub(crate) hostname: Option<String>,
    /// See `hostname`.
    pub(crate) subdomain: Option<String>,
    /// Its containers' named ports: name → (port, protocol), for a Service's
    /// `targetPort` by name.
    pub(crate) ports: BTreeMap<String, (i32, String)>,
}

impl PodNet {
    /// The network facts of a pod object.
    pub(crate) fn of(pod: &Pod) -> PodNet {
        let spec = pod.spec.clone().unwrap_or_default();
        let ports = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                Some((p.name.clone()?, (p.container_port, protocol)))
            })
            .collect();
        PodNet {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ip: pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .filter(|ip| !ip.is_empty()),
            hostname: spec.hostname.clone(),
            subdomain: spec.subdomain.clone(),
            ports,
        }
    }
}

impl PodView {
    /// The view of a pod object as `get -o yaml` shows it.
    pub(crate) fn of(pod: &Pod) -> PodView {
        let status = pod.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let life = if pod.metadata.deletion_timestamp.is_some() {
            Life::Terminating
        } else if status.phase.as_deref() == Some("Succeeded") {
            Life::Succeeded
        } else if status.phase.as_deref() == Some("Failed") {
            Life::Failed
        } else {
            Life::Active { ready }
        };
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        PodView {
            name: pod.metadata.name.clone().unwrap_or_default(),
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| crate::store::DEFAULT_NAMESPACE.to_string()),
            owner_uid: owner.map(|o| o.uid.clone()),
            owner_kind: owner.map(|o| o.kind.clone()),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            created: pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
            restarts: status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten())
                .map(|c| c.restart_count)
                .sum(),
            life,
            ready_since: ready
                .then(|| {
                    status
                        .container_statuses
                        .iter()
                        .flatten()
                        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
                        .map(|t| t.0)
                        .max()
                })
                .flatten(),
            net: PodNet::of(pod),
        }
    }

    /// Succeeded or Failed: it will not run again.
    pub(crate) fn finished(&self) -> bool {
        matches!(self.life, Life::Succeeded | Life::Failed)
    }

    /// Pending or Running and not being deleted.
    pub(crate) fn active(&self) -> bool {
        matches!(self.life, Life::Active { .. })
    }

    /// Active and ready.
    pub(crate) fn ready(&self) -> bool {
        self.life == Life::Active { ready: true }
    }

    /// Ready for at least `min_ready_seconds` (a Deployment's or ReplicaSet's
    /// `minReadySeconds`): Kubernetes' *available*.
    pub(crate) fn available(&self, min_ready_seconds: Option<i32>) -> bool {
        let min = i64::from(min_ready_seconds.unwrap_or(0).max(0));
        if !self.ready() {
            return false;
        }
        if min == 0 {
            return true;
        }
        self.ready_since
            .is_some_and(|since| jiff::Timestamp::now().as_second() - since.as_second() >= min)
    }
}

/// Makes and deletes pods for the controllers, in one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Pods {
    opts: Options,
    /// Where the pods' pull Secrets are read.
    secrets: Option<crate::store::Store>,
    /// The namespace whose pods `release` and `delete` name.
    namespace: String,
    /// Pods a thread of ours is deleting (`namespace/name`): not asked for twice.
    deleting: Arc<Mutex<HashSet<String>>>,
    /// How many pods were made, released or sent to deletion, ever: a pass
    /// that changed it acted, and the agent passes again at once.
    acts: Arc<AtomicUsize>,
}

impl Pods {
    /// Pods made under `opts` (the same settings `podrt apply` uses), named in
    /// the default namespace.
    pub(crate) fn new(opts: Options, secrets: Option<crate::store::Store>) -> Pods {
        Pods {
            opts,
            secrets,
            namespace: crate::store::DEFAULT_NAMESPACE.to_string(),
            deleting: Arc::default(),
            acts: Arc::default(),
        }
    }

    /// How many acts so far ([`Pods::acts`]'s counter).
    pub(crate) fn acts(&self) -> usize {
        self.acts.load(Ordering::Relaxed)
    }

    /// Whether a thread of ours is still deleting a pod.
    pub(crate) fn deleting_any(&self) -> bool {
        self.deleting.lock().is_ok_and(|set| !set.is_empty())
    }

    /// The podrt root the pods live under.
    pub(crate) fn root(&self) -> &std::path::Path {
        &self.opts.root
    }

    /// The same pods, naming those of `namespace`.
    pub(crate) fn in_namespace(&self, namespace: &str) -> Pods {
        Pods {
            opts: self.opts.clone(),
            secrets: self.secrets.clone(),
            namespace: namespace.to_string(),
            deleting: Arc::clone(&self.deleting),
            acts: Arc::clone(&self.acts),
        }
    }

    /// Every pod under the root, with its status. Pods a thread of ours is
    /// deleting count as terminating even before their record says so.
    pub(crate) fn list(&self) -> Result<Vec<PodView>> {
        let deleting = self.deleting_now();
        Ok(listing::list_pod_sandboxes(&self.opts.root)?
            .iter()
            .map(|s| {
                let mut view = PodView::of(&status::pod_object(s));
                if deleting.contains(&format!("{}/{}", view.namespace, view.name)) {
                    view.life = Life::Terminating;
                }
                view
            })
            .collect())
    }

    fn deleting_now(&self) -> HashSet<String> {
        self.deleting
            .lock()
            .map(|set| set.clone())
            .unwrap_or_default()
    }

    /// Makes `pod` as `podrt apply` would, validated and handed to its
    /// supervisor, but returns once the supervisor has it: its containers are
    /// started (init containers first, which may wait long) while the
    /// controllers go on.
    /// Its supervisor pulls the images it lacks (as the containers'
    /// `imagePullPolicy` says) with the pod's pull Secrets, and a failed pull
    /// leaves the container in `ErrImagePull`, as under kubelet.
    pub(crate) fn create(&self, pod: &Pod) -> Result<()> {
        let admitted = self.admit(pod)?;
        let pod = &admitted;
        let images = ImageStore::open(&self.opts.image_root)?;
        let spec = pod.spec.clone().unwrap_or_default();
        let exists = |image: &str| {
            images.resolve(image).is_ok()
                || pulls::will_pull(self.opts.pulling.as_ref(), &spec, image)
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let valid = manifest::validate(pod, &exists).map_err(|invalid| Error::Invalid {
            object: format!("pod/{name}"),
            fields: invalid.fields().map(|(f, m)| format!("{f}: {m}")).collect(),
        })?;
        let mut opts = self.opts.clone();
        if let Some(pulling) = &mut opts.pulling {
            pulling.registries.pull_secrets = self.pull_secrets(&valid.namespace, &spec);
        }
        supervisor::apply(&opts, pod, &valid, supervisor::MadeWhen::Supervised)?;
        self.acts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// `pod` as the stored PodSecurityPolicies admit it (defaulted), or the
    /// API server's Forbidden with every rule it breaks; unchanged when none
    /// is stored.
    fn admit(&self, pod: &Pod) -> Result<Pod> {
        let Some(store) = &self.secrets else {
            return Ok(pod.clone());
        };
        let stored: Vec<crate::objects::PodSecurityPolicyObject> = store.list()?;
        let Some(policy) = crate::objects::policy_of(&stored)? else {
            return Ok(pod.clone());
        };
        policy.admit(pod).map_err(|refusal| Error::Forbidden {
            message: format!(
                "pods {:?} is {}",
                pod.metadata.name.as_deref().unwrap_or_default(),
                refusal.to_string().replace("\n  ", " ").replace(":\n", ":")
            ),
        })
    }

    /// The credentials of the pull Secrets `spec` names in `namespace`; one
    /// missing or of another type is left out (the pull goes on without it, as
    /// kubelet's does, after a warning in the agent's log).
    fn pull_secrets(&self, namespace: &str, spec: &PodSpec) -> Vec<PullSecret> {
        let Some(store) = &self.secrets else {
            return Vec::new();
        };
        let store = store.in_namespace(namespace);
        let found = crate::objects::pull_secrets(spec, namespace, |name| {
            Ok::<_, std::convert::Infallible>(store.get::<Secret>(name).ok().flatten())
        });
        let Ok((found, missing)) = found;
        for secret in missing {
            tracing::warn!(
                namespace,
                secret,
                "Unable to retrieve an image pull secret; attempting to pull the image may not succeed"
            );
        }
        found
    }

    /// Lets the pod `name` go: its owner reference to `owner_uid` is removed, so
    /// that owner neither counts it nor deletes it (a pod relabelled out of its
    /// set's selector, as Kubernetes releases it).
    pub(crate) fn release(&self, name: &str, owner_uid: &str) -> Result<()> {
        if let Some(mut sandbox) = listing::find(&self.opts.root, &self.namespace, name)? {
            sandbox.update_metadata(|meta| disown(meta, owner_uid))?;
            self.acts.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Starts deleting the pod named `name` gracefully (its own grace period), in
    /// a thread; returns at once.
    pub(crate) fn delete(&self, name: &str) {
        let key = format!("{}/{name}", self.namespace);
        let Ok(mut set) = self.deleting.lock() else {
            return;
        };
        if !set.insert(key.clone()) {
            return;
        }
        drop(set);
        self.acts.fetch_add(1, Ordering::Relaxed);
        let root = self.opts.root.clone();
        let deleting = Arc::clone(&self.deleting);
        let namespace = self.namespace.clone();
        let name = name.to_string();
        std::thread::spawn(move || {
            if let Err(e) = delete_now(&root, &namespace, &name, None) {
                tracing::warn!(pod = %name, %namespace, error = %e, "deleting a pod");
            }
            if let Ok(mut set) = deleting.lock() {
                set.remove(&key);
            }
        });
    }
}

/// Removes `meta`'s owner references to `owner_uid` (none left: no field).
pub(crate) fn disown(meta: &mut ObjectMeta, owner_uid: &str) {
    if let Some(refs) = meta.owner_references.as_mut() {
        refs.retain(|r| r.uid != owner_uid);
        if refs.is_empty() {
            meta.owner_references = None;
        }
    }
}

/// Deletes the pod `name` of `namespace` under `root`, gracefully (its own
/// grace period, or `grace`); gone already is fine.
pub(crate) fn delete_now(
    root: &std::path::Path,
    namespace: &str,
    name: &str,
    grace: Option<std::time::Duration>,
) -> Result<()> {
    let Some(mut sandbox): Option<Sandbox> = listing::find(root, namespace, name)? else {
        return Ok(());
    };
    let grace = grace.unwrap_or_else(|| sandbox.record.settings().grace_period());
    delete::delete_pod(&mut sandbox, grace)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(ready: bool, since_secs_ago: i64) -> PodView {
        PodView {
            name: "p".into(),
            namespace: "default".into(),
            owner_uid: None,
            owner_kind: None,
            labels: BTreeMap::new(),
            created: String::new(),
            restarts: 0,
            life: Life::Active { ready },
            ready_since: jiff::Timestamp::from_second(
                jiff::Timestamp::now().as_second() - since_secs_ago,
            )
            .ok(),
            net: PodNet::default(),
        }
    }

    #[test]
    fn available_means_ready_for_min_ready_seconds() {
        assert!(view(true, 0).available(None));
        assert!(!view(false, 100).available(None));
        assert!(!view(true, 1).available(Some(5)));
        assert!(view(true, 6).available(Some(5)));
    }
}
