//! The StatefulSet controller: pods with stable names, `<set>-0` … `<set>-(n-1)`,
//! each its own hostname, each with its own directory per volume claim that
//! outlives it. OrderedReady (the default) makes pod `i` only once `0..i` are
//! Running and Ready, and removes the highest ordinal first, one at a time;
//! Parallel makes and removes them all at once. A changed template replaces the
//! pods at or above the partition, highest first, one at a time or as many as
//! `maxUnavailable` lets be down (RollingUpdate), or only those the user
//! deletes (OnDelete).
//!
//! Claims are host directories under `<state-dir>/volumes`. By default
//! (Kubernetes' retention policy Retain) podrt never removes them: a pod
//! re-created after a delete, a scale-down or the set's own deletion mounts the
//! same data again. `persistentVolumeClaimRetentionPolicy.whenScaled: Delete`
//! removes the claims of the ordinals a scale-down took away, once their pods
//! are gone ([`release_scaled`]); `whenDeleted: Delete` those of every ordinal
//! once the set and its pods are ([`claims_of`], for the deleting command).
//! Each template the set has had is kept as a ControllerRevision
//! ([`super::revisions`]), so a pod re-created below the partition gets the
//! set's current revision, not the one being rolled out. [`plan`] and
//! [`status`] are pure; [`sync`] carries them out.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{HostPathVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::Resource;

use super::daemonset::REVISION_HASH_LABEL;
use super::pods::{PodView, Pods};
use super::revisions::{self, Owner};
use crate::events::{About, EventType, Events};
use crate::objects::{claim_names, pod_from_template, resolve, template_hash};
use crate::store::Store;

/// The label naming a set's pod on itself (a Service can select one pod).
pub(crate) const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// The label carrying a set's pod's ordinal.
pub(crate) const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The name of the set `set`'s pod `ordinal`.
pub(crate) fn pod_name(set: &str, ordinal: usize) -> String {
    format!("{set}-{ordinal}")
}

/// The ordinal of `pod` in the set `set`, if its name is one the set gives.
pub(crate) fn ordinal(set: &str, pod: &str) -> Option<usize> {
    let digits = pod.strip_prefix(set)?.strip_prefix('-')?;
    let n: usize = digits.parse().ok()?;
    (n.to_string() == digits).then_some(n)
}

/// The host directory of claim `claim` for the set `set`'s pod `ordinal`:
/// Kubernetes' claim name, `<claim>-<set>-<ordinal>`, under `volumes/` for the
/// default namespace and `volumes/namespaces/<namespace>/` for others.
pub(crate) fn claim_dir(
    state_dir: &Path,
    namespace: &str,
    claim: &str,
    set: &str,
    ordinal: usize,
) -> PathBuf {
    let volumes = state_dir.join("volumes");
    let dir = if namespace == crate::store::DEFAULT_NAMESPACE {
        volumes
    } else {
        volumes.join("namespaces").join(namespace)
    };
    dir.join(format!("{claim}-{set}-{ordinal}"))
}

/// Whether `sts`'s retention policy deletes its claims when it is scaled down
/// (`scaled`) or deleted (not `scaled`).
pub(crate) fn deletes_claims(sts: &StatefulSet, scaled: bool) -> bool {
    sts.spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .and_then(|p| {
            if scaled {
                p.when_scaled.as_deref()
            } else {
                p.when_deleted.as_deref()
            }
        })
        == Some("Delete")
}

/// The set's name and its namespace (`default` when unset).
fn set_and_namespace(sts: &StatefulSet) -> (&str, &str) {
    (
        sts.metadata.name.as_deref().unwrap_or_default(),
        sts.metadata
            .namespace
            .as_deref()
            .unwrap_or(crate::store::DEFAULT_NAMESPACE),
    )
}

/// The claim directories of `sts` that exist under `state_dir`, with the
/// ordinal each is for.
pub(crate) fn claims_of(state_dir: &Path, sts: &StatefulSet) -> Vec<(usize, PathBuf)> {
    let (set, namespace) = set_and_namespace(sts);
    let mut found = Vec::new();
    for claim in claim_names(&sts.spec) {
        let stem = format!("{claim}-{set}");
        let example = claim_dir(state_dir, namespace, &claim, set, 0);
        let Some(parent) = example.parent() else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(i) = name.to_str().and_then(|n| ordinal(&stem, n)) {
                found.push((i, entry.path()));
            }
        }
    }
    found.sort();
    found
}

/// Removes claim directories; the errors, one line each.
pub fn release_claims(dirs: &[PathBuf]) -> Vec<String> {
    dirs.iter()
        .filter_map(|d| match std::fs::remove_dir_all(d) {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("removing claim {}: {e}", d.display())),
        })
        .collect()
}

/// `whenScaled: Delete`: removes the claims of ordinals at or past the replicas
/// wanted whose pod is gone (not merely terminating: it may still write), and
/// records each removal as an event.
fn release_scaled(store: &Store, sts: &StatefulSet, replicas: usize, all: &[PodView]) {
    if !deletes_claims(sts, true) {
        return;
    }
    let set = sts.metadata.name.as_deref().unwrap_or_default();
    let present: HashSet<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let events = Events::of(store);
    let about = About {
        kind: StatefulSet::KIND,
        name: set,
        uid: sts.metadata.uid.as_deref().unwrap_or_default(),
    };
    for (i, dir) in claims_of(store.state_dir(), sts) {
        let pod = pod_name(set, i);
        if i < replicas || present.contains(pod.as_str()) {
            continue;
        }
        let claim = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match release_claims(std::slice::from_ref(&dir)).pop() {
            None => {
                tracing::info!(statefulset = %set, claim = %claim, "claim removed after a scale-down");
                let message =
                    format!("delete Claim {claim} Pod {pod} in StatefulSet {set} success");
                events.record(
                    about,
                    EventType::Normal,
                    "SuccessfulDelete",
                    COMPONENT,
                    &message,
                );
            }
            Some(e) => tracing::warn!(statefulset = %set, error = %e, "removing a claim"),
        }
    }
}

/// How a set's pods are to be replaced when its template changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    /// Replace those with an ordinal at or above the partition, highest
    /// first, as many at a time as may be unavailable.
    Rolling {
        /// The lowest ordinal replaced.
        partition: usize,
        /// `maxUnavailable` resolved against the replicas (at least 1): how
        /// many of the replicas may be down, the rollout's own included.
        max_unavailable: usize,
    },
    /// Replace none: a pod the user deletes comes back with the new template.
    OnDelete,
}

/// What a set wants, as its plan reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Want<'a> {
    /// The set's name (its pods' stem).
    pub(crate) name: &'a str,
    /// `spec.replicas`.
    pub(crate) replicas: usize,
    /// `podManagementPolicy: Parallel`.
    pub(crate) parallel: bool,
    /// The update strategy.
    pub(crate) update: Update,
    /// The hash of the current template.
    pub(crate) hash: &'a str,
}

/// What to do for one StatefulSet now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Ordinals to make a pod for, from the current template.
    pub(crate) create: Vec<usize>,
    /// Pods to delete.
    pub(crate) delete: Vec<String>,
}

/// The plan for the set `want`, given its own pods and the names of pods that
/// are not its own (a name taken by another pod is not made until it is free).
pub(crate) fn plan(want: &Want<'_>, owned: &[&PodView], others: &HashSet<&str>) -> Plan {
    let mut plan = Plan::default();
    // Finished pods go, whatever their ordinal; a replica comes back, with the
    // same name, once its old pod is gone.
    plan.delete.extend(
        owned
            .iter()
            .filter(|p| p.finished())
            .map(|p| p.name.clone()),
    );
    let mut replicas: BTreeMap<usize, &PodView> = BTreeMap::new();
    let mut condemned: Vec<(usize, &PodView)> = Vec::new();
    for p in owned {
        match ordinal(want.name, &p.name) {
            Some(i) if i < want.replicas => {
                replicas.insert(i, p);
            }
            // A name the set does not give sorts above every ordinal: it goes
            // first.
            i => condemned.push((i.unwrap_or(usize::MAX), p)),
        }
    }
    // Replicas, lowest first: OrderedReady stops at the first that is not
    // Running and Ready, having made it if it was missing.
    let mut all_ready = true;
    for i in 0..want.replicas {
        match replicas.get(&i) {
            Some(p) if p.ready() => continue,
            Some(_) => {}
            None if others.contains(pod_name(want.name, i).as_str()) => {}
            None => {
                if want.parallel || all_ready {
                    plan.create.push(i);
                }
            }
        }
        all_ready = false;
        if !want.parallel {
            break;
        }
    }
    scale_down(want, &mut condemned, all_ready, &mut plan);
    if let (
        true,
        Update::Rolling {
            partition,
            max_unavailable,
        },
    ) = (condemned.is_empty(), want.update)
    {
        // The highest outdated replicas go, as many as leave no more than
        // max_unavailable of the replicas down (missing, terminating or not
        // Ready); the pass that finds one gone makes it again from the new
        // template.
        let healthy = replicas.values().filter(|p| p.ready()).count();
        let room = max_unavailable.saturating_sub(want.replicas.saturating_sub(healthy));
        let outdated = replicas
            .range(partition..)
            .rev()
            .filter(|(_, p)| {
                p.active()
                    && p.labels.get(REVISION_HASH_LABEL).map(String::as_str) != Some(want.hash)
            })
            .take(room)
            .map(|(_, p)| p.name.clone());
        plan.delete.extend(outdated);
    }
    plan
}

/// Pods past the replicas, highest ordinal first: all at once (Parallel), or
/// one at a time once every lower pod is Ready (OrderedReady).
fn scale_down(
    want: &Want<'_>,
    condemned: &mut Vec<(usize, &PodView)>,
    replicas_ready: bool,
    plan: &mut Plan,
) {
    condemned.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    if want.parallel {
        plan.delete.extend(
            condemned
                .iter()
                .filter(|(_, p)| p.active())
                .map(|(_, p)| p.name.clone()),
        );
        return;
    }
    if !replicas_ready
        || condemned
            .iter()
            .any(|(_, p)| p.life == super::pods::Life::Terminating)
    {
        return;
    }
    let active: Vec<&(usize, &PodView)> = condemned.iter().filter(|(_, p)| p.active()).collect();
    if let Some((_, highest)) = active.first() {
        if active.iter().skip(1).all(|(_, p)| p.ready()) {
            plan.delete.push(highest.name.clone());
        }
    }
}

/// The status its pods give it. The current revision stays what `previous`
/// says until every replica wanted runs the update revision and is Ready.
pub(crate) fn status(
    sts: &StatefulSet,
    hash: &str,
    owned: &[&PodView],
    previous: Option<&StatefulSetStatus>,
) -> StatefulSetStatus {
    let name = sts.metadata.name.as_deref().unwrap_or_default();
    let active: Vec<&&PodView> = owned.iter().filter(|p| p.active()).collect();
    let at = |h: &str| {
        active
            .iter()
            .filter(|p| p.labels.get(REVISION_HASH_LABEL).map(String::as_str) == Some(h))
            .count()
    };
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let replicas = count(active.len());
    let ready = count(active.iter().filter(|p| p.ready()).count());
    let updated = count(at(hash));
    let update_revision = revisions::name(name, hash);
    let mut current_revision = previous
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_else(|| update_revision.clone());
    // Against the replicas wanted, not those there: a pod deleted below the
    // partition is still to come back as the current revision.
    let wanted = sts.spec.replicas.unwrap_or(1);
    if updated == wanted && ready == wanted {
        current_revision = update_revision.clone();
    }
    let current_hash = current_revision
        .strip_prefix(name)
        .and_then(|h| h.strip_prefix('-'))
        .unwrap_or_default();
    StatefulSetStatus {
        replicas,
        ready_replicas: Some(ready),
        available_replicas: Some(ready),
        current_replicas: Some(count(at(current_hash))),
        updated_replicas: Some(updated),
        current_revision: Some(current_revision),
        update_revision: Some(update_revision),
        observed_generation: sts.metadata.generation,
        collision_count: previous.and_then(|s| s.collision_count),
        conditions: previous.and_then(|s| s.conditions.clone()),
    }
}

/// The reference a pod of `sts` carries to it.
fn owner_of(sts: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: StatefulSet::API_VERSION.to_string(),
        kind: StatefulSet::KIND.to_string(),
        name: sts.metadata.name.clone().unwrap_or_default(),
        uid: sts.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The pod `ordinal` of `sts`, cut from `template` (one of its revisions, of
/// hash `hash`): named and hostnamed `<set>-<ordinal>`, in the subdomain of its
/// service, with a host directory under `state_dir` for each claim.
pub(crate) fn pod_for(
    sts: &StatefulSet,
    ordinal: usize,
    (template, hash): (&PodTemplateSpec, &str),
    state_dir: &Path,
) -> Pod {
    let (set, namespace) = set_and_namespace(sts);
    let name = pod_name(set, ordinal);
    let labels = BTreeMap::from([
        (POD_NAME_LABEL.to_string(), name.clone()),
        (POD_INDEX_LABEL.to_string(), ordinal.to_string()),
        (REVISION_HASH_LABEL.to_string(), hash.to_string()),
    ]);
    let mut pod = pod_from_template(template, &name, namespace, &labels, Some(owner_of(sts)));
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = sts.spec.service_name.clone().filter(|s| !s.is_empty());
    let claims = claim_names(&sts.spec);
    if !claims.is_empty() {
        let volumes = spec.volumes.get_or_insert_with(Vec::new);
        for claim in claims {
            let dir = claim_dir(state_dir, namespace, &claim, set, ordinal);
            volumes.push(Volume {
                name: claim,
                host_path: Some(HostPathVolumeSource {
                    path: dir.display().to_string(),
                    type_: Some("DirectoryOrCreate".to_string()),
                }),
                ..Volume::default()
            });
        }
    }
    pod
}

/// Stores `sts`'s revisions (its template's made or renumbered, those past its
/// history limit removed) and returns the template and hash of its current
/// revision (`status.currentRevision`), if that is kept.
fn current_revision(
    store: &Store,
    namespace_revisions: &[ControllerRevision],
    sts: &StatefulSet,
    hash: &str,
    owned: &[&PodView],
) -> Option<(PodTemplateSpec, String)> {
    let reference = owner_of(sts);
    let current = sts.status.as_ref().and_then(|s| s.current_revision.clone());
    let current_hash = current
        .as_deref()
        .and_then(|c| c.strip_prefix(reference.name.as_str()))
        .and_then(|h| h.strip_prefix('-'));
    let mut live: HashSet<&str> = owned
        .iter()
        .filter_map(|p| p.labels.get(REVISION_HASH_LABEL).map(String::as_str))
        .collect();
    live.extend(current_hash);
    let owner = Owner {
        reference: &reference,
        meta: &sts.metadata,
        template: &sts.spec.template,
        hash,
        history_limit: sts.spec.revision_history_limit,
    };
    let kept = match revisions::sync(store, namespace_revisions, &owner, &live) {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(statefulset = %reference.name, error = %e, "storing revisions");
            return None;
        }
    };
    let revision = kept.iter().find(|r| r.metadata.name == current)?;
    Some((
        revisions::template_of(revision)?,
        revisions::hash_of(revision)?.to_string(),
    ))
}

/// What `sts` asks of its plan.
fn want<'a>(sts: &'a StatefulSet, hash: &'a str) -> Want<'a> {
    let replicas = sts.spec.replicas.unwrap_or(1);
    let strategy = sts.spec.update_strategy.clone().unwrap_or_default();
    let update = if strategy.type_.as_deref() == Some("OnDelete") {
        Update::OnDelete
    } else {
        let rolling = strategy.rolling_update.unwrap_or_default();
        let partition = rolling.partition.unwrap_or(0);
        let max_unavailable = rolling
            .max_unavailable
            .and_then(|m| resolve(&m, replicas, true).ok())
            .unwrap_or(1)
            .max(1);
        Update::Rolling {
            partition: usize::try_from(partition).unwrap_or(0),
            max_unavailable: usize::try_from(max_unavailable).unwrap_or(1),
        }
    };
    Want {
        name: sts.metadata.name.as_deref().unwrap_or_default(),
        replicas: usize::try_from(replicas).unwrap_or(0),
        parallel: sts.spec.pod_management_policy.as_deref() == Some("Parallel"),
        update,
        hash,
    }
}

/// The name its events give as their source.
const COMPONENT: &str = "statefulset-controller";

/// One pass for one StatefulSet: act by the plan, then store the status if it
/// changed.
pub(crate) fn sync(
    store: &Store,
    pods: &Pods,
    sts: &StatefulSet,
    all: &[PodView],
    namespace_revisions: &[ControllerRevision],
) {
    let uid = sts.metadata.uid.as_deref().unwrap_or_default();
    let name = sts.metadata.name.clone().unwrap_or_default();
    let (owned, others): (Vec<&PodView>, Vec<&PodView>) = all
        .iter()
        .partition(|p| p.owner_uid.as_deref() == Some(uid));
    let others: HashSet<&str> = others.iter().map(|p| p.name.as_str()).collect();
    let hash = template_hash(&sts.spec.template, None);
    let want = want(sts, &hash);
    let todo = plan(&want, &owned, &others);
    let current = current_revision(store, namespace_revisions, sts, &hash, &owned);
    let events = Events::of(store);
    let about = About {
        kind: StatefulSet::KIND,
        name: &name,
        uid,
    };
    for p in &todo.delete {
        tracing::info!(statefulset = %name, pod = %p, "deleting pod");
        pods.delete(p);
        let message = format!("delete Pod {p} in StatefulSet {name} successful");
        events.record(
            about,
            EventType::Normal,
            "SuccessfulDelete",
            COMPONENT,
            &message,
        );
    }
    for &i in &todo.create {
        // Below the partition a pod comes back as the current revision has it.
        let below = matches!(want.update, Update::Rolling { partition, .. } if i < partition);
        let cut = match &current {
            Some((template, h)) if below => (template, h.as_str()),
            _ => (&sts.spec.template, hash.as_str()),
        };
        let pod = pod_for(sts, i, cut, store.state_dir());
        let pod_name = format!("{name}-{i}");
        match pods.create(&pod) {
            Ok(()) => {
                tracing::info!(statefulset = %name, ordinal = i, "created pod");
                let message = format!("create Pod {pod_name} in StatefulSet {name} successful");
                events.record(
                    about,
                    EventType::Normal,
                    "SuccessfulCreate",
                    COMPONENT,
                    &message,
                );
            }
            Err(e) => {
                tracing::warn!(statefulset = %name, ordinal = i, error = %e, "creating a pod");
                let message =
                    format!("create Pod {pod_name} in StatefulSet {name} failed error: {e}");
                events.record(
                    about,
                    EventType::Warning,
                    "FailedCreate",
                    COMPONENT,
                    &message,
                );
            }
        }
    }
    release_scaled(store, sts, want.replicas, all);
    let status = status(sts, &hash, &owned, sts.status.as_ref());
    if sts.status.as_ref() != Some(&status) {
        let mut updated = sts.clone();
        updated.status = Some(status);
        if let Err(e) = store.put(&updated) {
            tracing::warn!(statefulset = %name, error = %e, "storing status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::pods::Life;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    const UP: Life = Life::Active { ready: true };
    const STARTING: Life = Life::Active { ready: false };

    fn pod(name: &str, hash: &str, life: Life) -> PodView {
        PodView {
            name: name.into(),
            namespace: "default".into(),
            owner_uid: Some("u".into()),
            owner_kind: Some("StatefulSet".into()),
            labels: BTreeMap::from([(REVISION_HASH_LABEL.to_string(), hash.to_string())]),
            created: String::new(),
            restarts: 0,
            life,
            ready_since: None,
            net: Default::default(),
        }
    }

    fn want(replicas: usize, parallel: bool, update: Update) -> Want<'static> {
        Want {
            name: "web",
            replicas,
            parallel,
            update,
            hash: "h2",
        }
    }

    const ROLLING: Update = Update::Rolling {
        partition: 0,
        max_unavailable: 1,
    };

    fn run(want: &Want<'_>, pods: &[PodView]) -> Plan {
        let refs: Vec<&PodView> = pods.iter().collect();
        plan(want, &refs, &HashSet::new())
    }

    fn creates(ordinals: &[usize]) -> Plan {
        Plan {
            create: ordinals.to_vec(),
            delete: vec![],
        }
    }

    fn deletes(names: &[&str]) -> Plan {
        Plan {
            create: vec![],
            delete: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn names_and_ordinals() {
        assert_eq!(pod_name("web", 2), "web-2");
        assert_eq!(ordinal("web", "web-2"), Some(2));
        assert_eq!(ordinal("web", "web-10"), Some(10));
        for not in ["web-02", "web-", "web-x", "webs-1", "web1", "web-1-2"] {
            assert_eq!(ordinal("web", not), None, "{not}");
        }
        assert_eq!(
            claim_dir(Path::new("/s"), "default", "data", "web", 1),
            Path::new("/s/volumes/data-web-1")
        );
    }

    #[test]
    fn ordered_ready_makes_one_pod_at_a_time_in_order() {
        let w = want(3, false, ROLLING);
        assert_eq!(run(&w, &[]), creates(&[0]));
        assert_eq!(run(&w, &[pod("web-0", "h2", STARTING)]), Plan::default());
        assert_eq!(run(&w, &[pod("web-0", "h2", UP)]), creates(&[1]));
        let two = [pod("web-0", "h2", UP), pod("web-1", "h2", UP)];
        assert_eq!(run(&w, &two), creates(&[2]));
        // A lower pod that is not ready holds back the ones above it.
        let gap = [pod("web-0", "h2", STARTING), pod("web-2", "h2", UP)];
        assert_eq!(run(&w, &gap), Plan::default());
    }

    #[test]
    fn parallel_makes_them_all_at_once() {
        let w = want(3, true, ROLLING);
        assert_eq!(run(&w, &[]), creates(&[0, 1, 2]));
        assert_eq!(run(&w, &[pod("web-1", "h2", STARTING)]), creates(&[0, 2]));
    }

    #[test]
    fn a_failed_or_deleted_pod_comes_back_with_its_name_once_gone() {
        let w = want(2, false, ROLLING);
        let failed = [pod("web-0", "h2", UP), pod("web-1", "h2", Life::Failed)];
        assert_eq!(run(&w, &failed), deletes(&["web-1"]));
        let going = [
            pod("web-0", "h2", UP),
            pod("web-1", "h2", Life::Terminating),
        ];
        assert_eq!(run(&w, &going), Plan::default());
        assert_eq!(run(&w, &[pod("web-0", "h2", UP)]), creates(&[1]));
        // Someone else's pod holds the name: wait for it.
        let refs = [pod("web-0", "h2", UP)];
        let refs: Vec<&PodView> = refs.iter().collect();
        assert_eq!(plan(&w, &refs, &HashSet::from(["web-1"])), Plan::default());
    }

    #[test]
    fn ordered_scale_down_goes_highest_first_one_at_a_time() {
        let w = want(1, false, ROLLING);
        let three = [
            pod("web-0", "h2", UP),
            pod("web-1", "h2", UP),
            pod("web-2", "h2", UP),
        ];
        assert_eq!(run(&w, &three), deletes(&["web-2"]));
        let going = [
            pod("web-0", "h2", UP),
            pod("web-1", "h2", UP),
            pod("web-2", "h2", Life::Terminating),
        ];
        assert_eq!(run(&w, &going), Plan::default());
        assert_eq!(run(&w, &three[..2]), deletes(&["web-1"]));
        // Not while a lower pod is not ready.
        let unready = [pod("web-0", "h2", STARTING), pod("web-1", "h2", UP)];
        assert_eq!(run(&w, &unready), Plan::default());
        let unready = [
            pod("web-0", "h2", UP),
            pod("web-1", "h2", STARTING),
            pod("web-2", "h2", UP),
        ];
        assert_eq!(run(&w, &unready), Plan::default());
        // Parallel: all at once.
        assert_eq!(
            run(&want(1, true, ROLLING), &three),
            deletes(&["web-2", "web-1"])
        );
        // To zero.
        assert_eq!(
            run(&want(0, false, ROLLING), &three[..1]),
            deletes(&["web-0"])
        );
    }

    #[test]
    fn a_rolling_update_replaces_highest_first_above_the_partition() {
        let old = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", UP),
            pod("web-2", "h1", UP),
        ];
        assert_eq!(run(&want(3, false, ROLLING), &old), deletes(&["web-2"]));
        let mid = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", UP),
            pod("web-2", "h2", STARTING),
        ];
        assert_eq!(run(&want(3, false, ROLLING), &mid), Plan::default());
        let next = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", UP),
            pod("web-2", "h2", UP),
        ];
        assert_eq!(run(&want(3, false, ROLLING), &next), deletes(&["web-1"]));
        // Parallel pods still roll one at a time.
        assert_eq!(run(&want(3, true, ROLLING), &next), deletes(&["web-1"]));
        let partitioned = want(
            3,
            false,
            Update::Rolling {
                partition: 2,
                max_unavailable: 1,
            },
        );
        assert_eq!(run(&partitioned, &next), Plan::default());
        assert_eq!(
            run(&want(3, false, Update::OnDelete), &old),
            Plan::default()
        );
        // Deleted under OnDelete: made again (from the current template).
        assert_eq!(
            run(&want(3, false, Update::OnDelete), &old[..2]),
            creates(&[2])
        );
    }

    #[test]
    fn max_unavailable_replaces_several_at_once_counting_those_already_down() {
        let two = |partition| Update::Rolling {
            partition,
            max_unavailable: 2,
        };
        let old = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", UP),
            pod("web-2", "h1", UP),
        ];
        assert_eq!(
            run(&want(3, false, two(0)), &old),
            deletes(&["web-2", "web-1"])
        );
        // One down already: one more may go.
        let one_down = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", STARTING),
            pod("web-2", "h1", UP),
        ];
        assert_eq!(run(&want(3, false, two(0)), &one_down), deletes(&["web-2"]));
        // A replaced pod still coming up counts; a missing one too.
        let mid = [pod("web-0", "h1", UP), pod("web-2", "h2", STARTING)];
        assert_eq!(run(&want(3, true, two(0)), &mid), creates(&[1]));
        // Terminating ones are not deleted twice, and count as down.
        let going = [
            pod("web-0", "h1", UP),
            pod("web-1", "h1", UP),
            pod("web-2", "h1", Life::Terminating),
        ];
        assert_eq!(run(&want(3, true, two(0)), &going), deletes(&["web-1"]));
        // The partition still holds.
        assert_eq!(run(&want(3, false, two(2)), &old), deletes(&["web-2"]));
    }

    #[test]
    fn max_unavailable_resolves_against_the_replicas_and_is_at_least_one() {
        let mut sts = set();
        sts.spec.replicas = Some(4);
        let strategy = |max: IntOrString| k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(
                k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy {
                    max_unavailable: Some(max),
                    partition: None,
                },
            ),
        };
        for (max, want_max) in [
            (IntOrString::String("50%".into()), 2),
            (IntOrString::String("10%".into()), 1),
            (IntOrString::Int(3), 3),
        ] {
            sts.spec.update_strategy = Some(strategy(max));
            assert_eq!(
                super::want(&sts, "h").update,
                Update::Rolling {
                    partition: 0,
                    max_unavailable: want_max
                }
            );
        }
        sts.spec.update_strategy = None;
        assert_eq!(super::want(&sts, "h").update, ROLLING);
    }

    fn set() -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                uid: Some("u".into()),
                generation: Some(4),
                ..ObjectMeta::default()
            },
            spec: k8s_openapi::api::apps::v1::StatefulSetSpec {
                replicas: Some(2),
                service_name: Some("nginx".into()),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec::default()),
                },
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("data".into()),
                        ..ObjectMeta::default()
                    },
                    ..PersistentVolumeClaim::default()
                }]),
                ..Default::default()
            },
            status: None,
        }
    }

    #[test]
    fn a_pod_has_its_name_hostname_labels_owner_and_claim() {
        let sts = set();
        let p = pod_for(&sts, 1, (&sts.spec.template, "h2"), Path::new("/state"));
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(labels["app"], "web");
        assert_eq!(labels[POD_NAME_LABEL], "web-1");
        assert_eq!(labels[REVISION_HASH_LABEL], "h2");
        assert_eq!(labels[POD_INDEX_LABEL], "1");
        let owner = &p.metadata.owner_references.clone().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("StatefulSet", "u")
        );
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-1"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let v = &spec.volumes.unwrap()[0];
        assert_eq!(v.name, "data");
        let hp = v.host_path.clone().unwrap();
        assert_eq!(hp.path, "/state/volumes/data-web-1");
        assert_eq!(hp.type_.as_deref(), Some("DirectoryOrCreate"));
    }

    #[test]
    fn status_counts_and_the_current_revision_follows_a_finished_rollout() {
        let sts = set();
        let pods = [
            pod("web-0", "h1", UP),
            pod("web-1", "h2", STARTING),
            pod("web-2", "h2", Life::Terminating),
        ];
        let refs: Vec<&PodView> = pods.iter().collect();
        let before = StatefulSetStatus {
            current_revision: Some("web-h1".into()),
            ..StatefulSetStatus::default()
        };
        let s = status(&sts, "h2", &refs, Some(&before));
        assert_eq!(s.replicas, 2);
        assert_eq!(s.ready_replicas, Some(1));
        assert_eq!(s.updated_replicas, Some(1));
        assert_eq!(s.current_replicas, Some(1));
        assert_eq!(s.current_revision.as_deref(), Some("web-h1"));
        assert_eq!(s.update_revision.as_deref(), Some("web-h2"));
        assert_eq!(s.observed_generation, Some(4));
        let done = [pod("web-0", "h2", UP), pod("web-1", "h2", UP)];
        let refs: Vec<&PodView> = done.iter().collect();
        let s = status(&sts, "h2", &refs, Some(&before));
        assert_eq!(s.current_revision.as_deref(), Some("web-h2"));
        assert_eq!(s.current_replicas, Some(2));
        // A replica missing (deleted below a partition) holds the current
        // revision back.
        let s = status(&sts, "h2", &refs[..1], Some(&before));
        assert_eq!(s.current_revision.as_deref(), Some("web-h1"));
        // A new set starts at its update revision.
        let s = status(&sts, "h2", &[], None);
        assert_eq!(s.current_revision.as_deref(), Some("web-h2"));
    }
}
