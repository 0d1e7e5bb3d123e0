//! The DaemonSet controller, for the one node there is: exactly one pod cut from
//! the template when its `nodeSelector` matches this node's labels, none when it
//! does not. A pod that finished or was deleted is replaced; a changed template
//! replaces the pod (RollingUpdate with `maxUnavailable: 1` on one node: delete,
//! then create on the next pass), unless the strategy is OnDelete.
//!
//! Tolerations are not looked at: this node has no taints, so every daemon pod
//! tolerates it. [`plan`] and [`status`] are pure; [`sync`] carries them out.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::Resource;
use podrt_sandbox::manifest::names;

use super::pods::PodView;
use super::pods::Pods;
use super::revisions::{self, Owner};
use crate::events::{About, Events};
use crate::objects::{pod_from_template, template_hash};
use crate::store::Store;

/// The name its events give as their source.
const COMPONENT: &str = "daemonset-controller";

/// The label carrying the hash of the template a daemon pod was cut from.
pub(crate) const REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// The labels a kubelet gives its node: `kubernetes.io/hostname`,
/// `kubernetes.io/os` and `kubernetes.io/arch` (Go's names: `amd64`, `arm64`).
pub(crate) fn node_labels(hostname: &str, rust_arch: &str) -> BTreeMap<String, String> {
    let arch = match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    BTreeMap::from([
        (
            "kubernetes.io/hostname".to_string(),
            hostname.to_lowercase(),
        ),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch.to_string()),
    ])
}

/// This node's labels.
pub(crate) fn this_node() -> BTreeMap<String, String> {
    let hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    node_labels(&hostname, std::env::consts::ARCH)
}

/// Whether a pod of `ds` belongs on a node labelled `node`.
pub(crate) fn should_run(ds: &DaemonSet, node: &BTreeMap<String, String>) -> bool {
    ds.spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .into_iter()
        .flatten()
        .all(|(k, v)| node.get(k) == Some(v))
}

/// What to do for one DaemonSet now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Make its pod.
    pub(crate) create: bool,
    /// Pods to delete.
    pub(crate) delete: Vec<String>,
}

/// The plan given whether its pod belongs here, the current template's `hash`,
/// whether a changed template waits for the pod to be deleted (OnDelete), and
/// its own pods.
pub(crate) fn plan(should_run: bool, hash: &str, on_delete: bool, owned: &[&PodView]) -> Plan {
    // Finished pods go (a daemon pod that ended is replaced); terminating ones
    // are on their way.
    let mut delete: Vec<String> = owned
        .iter()
        .filter(|p| p.finished())
        .map(|p| p.name.clone())
        .collect();
    let mut active: Vec<&PodView> = owned.iter().copied().filter(|p| p.active()).collect();
    if !should_run {
        delete.extend(active.iter().map(|p| p.name.clone()));
        return Plan {
            create: false,
            delete,
        };
    }
    // One too many: the oldest stays, as Kubernetes keeps it.
    active.sort_by(|a, b| a.created.cmp(&b.created));
    delete.extend(active.iter().skip(1).map(|p| p.name.clone()));
    match active.first() {
        None => Plan {
            create: true,
            delete,
        },
        Some(p) => {
            let outdated = p.labels.get(REVISION_HASH_LABEL).map(String::as_str) != Some(hash);
            if outdated && !on_delete {
                delete.push(p.name.clone());
            }
            Plan {
                create: false,
                delete,
            }
        }
    }
}

/// The status its pods give it (on one node: every number is 0 or 1).
pub(crate) fn status(
    ds: &DaemonSet,
    should_run: bool,
    hash: &str,
    owned: &[&PodView],
) -> DaemonSetStatus {
    let active: Vec<&&PodView> = owned.iter().filter(|p| p.active()).collect();
    let running = i32::from(!active.is_empty());
    let ready = i32::from(active.iter().any(|p| p.ready()));
    let updated = i32::from(
        active
            .iter()
            .any(|p| p.labels.get(REVISION_HASH_LABEL).map(String::as_str) == Some(hash)),
    );
    let desired = i32::from(should_run);
    DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: if should_run { running } else { 0 },
        number_misscheduled: if should_run { 0 } else { running },
        number_ready: ready,
        number_available: Some(ready),
        number_unavailable: Some((desired - ready).max(0)),
        updated_number_scheduled: Some(updated),
        observed_generation: ds.metadata.generation,
        ..DaemonSetStatus::default()
    }
}

/// The reference a pod of `ds` carries to it.
fn owner_of(ds: &DaemonSet) -> OwnerReference {
    OwnerReference {
        api_version: DaemonSet::API_VERSION.to_string(),
        kind: DaemonSet::KIND.to_string(),
        name: ds.metadata.name.clone().unwrap_or_default(),
        uid: ds.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// One pass for one DaemonSet on the node labelled `node`: keep its
/// revisions (`namespace_revisions`: the namespace's, as the pass read them), act by the
/// plan, then store the status if it changed.
pub(crate) fn sync(
    store: &Store,
    pods: &Pods,
    ds: &DaemonSet,
    all: &[PodView],
    namespace_revisions: &[ControllerRevision],
    node: &BTreeMap<String, String>,
) {
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let name = ds.metadata.name.clone().unwrap_or_default();
    let owned: Vec<&PodView> = all
        .iter()
        .filter(|p| p.owner_uid.as_deref() == Some(uid))
        .collect();
    let template = &ds.spec.template;
    let hash = template_hash(template, None);
    let on_delete = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    let reference = owner_of(ds);
    let live: std::collections::HashSet<&str> = owned
        .iter()
        .filter_map(|p| p.labels.get(REVISION_HASH_LABEL).map(String::as_str))
        .collect();
    let owner = Owner {
        reference: &reference,
        meta: &ds.metadata,
        template,
        hash: &hash,
        history_limit: ds.spec.revision_history_limit,
    };
    if let Err(e) = revisions::sync(store, namespace_revisions, &owner, &live) {
        tracing::warn!(daemonset = %name, error = %e, "storing revisions");
    }
    let run = should_run(ds, node);
    let todo = plan(run, &hash, on_delete, &owned);
    let events = Events::of(store);
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let about = About {
        kind: DaemonSet::KIND,
        name: &name,
        uid: &uid,
    };
    for p in &todo.delete {
        tracing::info!(daemonset = %name, pod = %p, "deleting pod");
        pods.delete(p);
        events.deleted(about, COMPONENT, p);
    }
    if todo.create {
        let pod_name = names::generate_name(&format!("{name}-"));
        let labels = BTreeMap::from([(REVISION_HASH_LABEL.to_string(), hash.clone())]);
        let pod = pod_from_template(
            template,
            &pod_name,
            store.namespace(),
            &labels,
            Some(reference.clone()),
        );
        match pods.create(&pod) {
            Ok(()) => {
                tracing::info!(daemonset = %name, pod = %pod_name, "created pod");
                events.created(about, COMPONENT, &pod_name);
            }
            Err(e) => {
                tracing::warn!(daemonset = %name, error = %e, "creating a pod");
                events.failed_create(about, COMPONENT, &e);
            }
        }
    }
    let status = status(ds, run, &hash, &owned);
    if ds.status.as_ref() != Some(&status) {
        let mut updated = ds.clone();
        updated.status = Some(status);
        if let Err(e) = store.put(&updated) {
            tracing::warn!(daemonset = %name, error = %e, "storing status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::pods::Life;
    use k8s_openapi::api::core::v1::PodSpec;

    fn pod(name: &str, created: &str, hash: &str, life: Life) -> PodView {
        PodView {
            name: name.into(),
            namespace: "default".into(),
            owner_uid: Some("ds".into()),
            owner_kind: Some("DaemonSet".into()),
            labels: BTreeMap::from([(REVISION_HASH_LABEL.to_string(), hash.to_string())]),
            created: created.into(),
            restarts: 0,
            life,
            ready_since: None,
            net: Default::default(),
        }
    }

    const UP: Life = Life::Active { ready: true };

    fn run(should: bool, on_delete: bool, pods: &[PodView]) -> Plan {
        let refs: Vec<&PodView> = pods.iter().collect();
        plan(should, "h2", on_delete, &refs)
    }

    #[test]
    fn one_pod_is_made_and_a_finished_or_deleted_one_replaced() {
        assert_eq!(
            run(true, false, &[]),
            Plan {
                create: true,
                delete: vec![]
            }
        );
        assert_eq!(
            run(true, false, &[pod("a", "1", "h2", UP)]),
            Plan {
                create: false,
                delete: vec![]
            }
        );
        let p = run(true, false, &[pod("a", "1", "h2", Life::Failed)]);
        assert_eq!(
            p,
            Plan {
                create: true,
                delete: vec!["a".into()]
            }
        );
        let p = run(true, false, &[pod("a", "1", "h2", Life::Terminating)]);
        assert_eq!(
            p,
            Plan {
                create: true,
                delete: vec![]
            }
        );
    }

    #[test]
    fn a_second_pod_goes_newest_first() {
        let p = run(
            true,
            false,
            &[pod("new", "2", "h2", UP), pod("old", "1", "h2", UP)],
        );
        assert_eq!(
            p,
            Plan {
                create: false,
                delete: vec!["new".into()]
            }
        );
    }

    #[test]
    fn a_changed_template_deletes_then_creates_unless_on_delete() {
        let old = [pod("a", "1", "h1", UP)];
        assert_eq!(
            run(true, false, &old),
            Plan {
                create: false,
                delete: vec!["a".into()]
            }
        );
        assert_eq!(
            run(true, true, &old),
            Plan {
                create: false,
                delete: vec![]
            }
        );
    }

    #[test]
    fn a_node_the_selector_does_not_match_runs_none() {
        let p = run(false, false, &[pod("a", "1", "h2", UP)]);
        assert_eq!(
            p,
            Plan {
                create: false,
                delete: vec!["a".into()]
            }
        );
        assert_eq!(
            run(false, false, &[]),
            Plan {
                create: false,
                delete: vec![]
            }
        );
    }

    #[test]
    fn node_labels_and_the_node_selector() {
        let node = node_labels("Box1", "x86_64");
        assert_eq!(node["kubernetes.io/hostname"], "box1");
        assert_eq!(node["kubernetes.io/arch"], "amd64");
        assert_eq!(node_labels("b", "aarch64")["kubernetes.io/arch"], "arm64");
        let mut ds = DaemonSet::default();
        assert!(should_run(&ds, &node), "no selector: every node");
        ds.spec.template.spec = Some(PodSpec {
            node_selector: Some(BTreeMap::from([(
                "kubernetes.io/os".to_string(),
                "linux".to_string(),
            )])),
            ..PodSpec::default()
        });
        assert!(should_run(&ds, &node));
        ds.spec
            .template
            .spec
            .as_mut()
            .unwrap()
            .node_selector
            .as_mut()
            .unwrap()
            .insert("disk".into(), "ssd".into());
        assert!(!should_run(&ds, &node));
    }

    #[test]
    fn status_counts_on_one_node() {
        let ds = DaemonSet::default();
        let pods = [pod("a", "1", "h1", UP)];
        let refs: Vec<&PodView> = pods.iter().collect();
        let s = status(&ds, true, "h2", &refs);
        assert_eq!(
            (
                s.desired_number_scheduled,
                s.current_number_scheduled,
                s.number_ready
            ),
            (1, 1, 1)
        );
        assert_eq!(s.updated_number_scheduled, Some(0));
        let s = status(&ds, false, "h1", &refs);
        assert_eq!((s.desired_number_scheduled, s.number_misscheduled), (0, 1));
    }
}
