//! ControllerRevisions: the templates a StatefulSet or a DaemonSet has had, kept
//! as Kubernetes keeps them — an `apps/v1` ControllerRevision named
//! `<set>-<hash>`, owned by the set, numbered from 1, its data the patch
//! `{"spec":{"template":{…,"$patch":"replace"}}}` that puts the template back.
//! They are what `rollout history` lists and `rollout undo` returns to for
//! those kinds, and a StatefulSet's pod re-made below its partition is cut from
//! the set's current revision rather than from the template being rolled out.
//!
//! A template that matches an older revision (after an undo) does not make a
//! new one: that revision is renumbered the newest, as the API's controllers
//! do. Revisions beyond `revisionHistoryLimit` (10 by default) go, oldest
//! first, except those a pod or the set's status still names.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use super::deployment::controller_uid;
use crate::error::Result;
use crate::store::Store;

/// The label a revision carries its template's hash in.
pub(crate) const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// How many old revisions a set keeps when it does not say.
const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// The revision name Kubernetes gives a set's template of hash `hash`:
/// `<set>-<hash>`.
pub(crate) fn name(set: &str, hash: &str) -> String {
    format!("{set}-{hash}")
}

/// The set a revision is for, as [`record`] sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    /// The set's reference, as its revisions carry it.
    pub(crate) reference: &'a OwnerReference,
    /// Its metadata (name, namespace, annotations, which a revision copies).
    pub(crate) meta: &'a ObjectMeta,
    /// Its template now.
    pub(crate) template: &'a PodTemplateSpec,
    /// That template's hash.
    pub(crate) hash: &'a str,
    /// `spec.revisionHistoryLimit`.
    pub(crate) history_limit: Option<i32>,
}

/// The revisions controlled by the object of uid `uid`, oldest first.
pub(crate) fn owned(store: &Store, uid: &str) -> Result<Vec<ControllerRevision>> {
    Ok(owned_in(&store.list::<ControllerRevision>()?, uid))
}

/// Those of `all` (a namespace's revisions, as a pass read them) controlled by
/// the object of uid `uid`, oldest first.
pub(crate) fn owned_in(all: &[ControllerRevision], uid: &str) -> Vec<ControllerRevision> {
    let mut revisions: Vec<ControllerRevision> = all
        .iter()
        .filter(|r| controller_uid(&r.metadata) == Some(uid))
        .cloned()
        .collect();
    revisions.sort_by_key(number);
    revisions
}

/// A revision's number (0 if it has none).
pub(crate) fn number(revision: &ControllerRevision) -> i64 {
    revision.revision.unwrap_or(0)
}

/// The template a revision puts back, if its data holds one.
pub(crate) fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.0.get("spec")?.get("template")?.clone();
    if let Some(fields) = template.as_object_mut() {
        fields.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The hash of the template a revision holds.
pub(crate) fn hash_of(revision: &ControllerRevision) -> Option<&str> {
    revision
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
}

/// The revision for `owner`'s template as it stands: the existing one with its
/// hash (renumbered the newest if it was not), or a new one numbered one past
/// the newest. `revisions` are the owner's, oldest first.
pub(crate) fn wanted(owner: &Owner<'_>, revisions: &[ControllerRevision]) -> ControllerRevision {
    let newest = revisions.iter().map(number).max().unwrap_or(0);
    if let Some(existing) = revisions.iter().find(|r| hash_of(r) == Some(owner.hash)) {
        let mut existing = existing.clone();
        if number(&existing) != newest {
            existing.revision = Some(newest + 1);
        }
        return existing;
    }
    let set = owner.meta.name.as_deref().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = owner
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.to_string(), owner.hash.to_string());
    let mut template = serde_json::to_value(owner.template).unwrap_or_default();
    if let Some(fields) = template.as_object_mut() {
        fields.insert("$patch".to_string(), "replace".into());
    }
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name(set, owner.hash)),
            namespace: owner.meta.namespace.clone(),
            labels: Some(labels),
            annotations: owner.meta.annotations.clone(),
            owner_references: Some(vec![owner.reference.clone()]),
            uid: Some(uuid::Uuid::new_v4().to_string()),
            creation_timestamp: Some(Time(jiff::Timestamp::now())),
            ..ObjectMeta::default()
        },
        data: RawExtension(serde_json::json!({ "spec": { "template": template } })),
        revision: Some(newest + 1),
    }
}

/// The names of the revisions past the history limit: the oldest of those no
/// hash in `live` names (the set's current and update revisions, its pods').
pub(crate) fn past_limit(
    revisions: &[ControllerRevision],
    limit: Option<i32>,
    live: &HashSet<&str>,
) -> Vec<String> {
    let limit = usize::try_from(limit.unwrap_or(DEFAULT_HISTORY_LIMIT)).unwrap_or(0);
    let history: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !hash_of(r).is_some_and(|h| live.contains(h)))
        .collect();
    let excess = history.len().saturating_sub(limit);
    history
        .iter()
        .take(excess)
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

/// Brings `owner`'s revisions up to date in the store: its template's revision
/// stored (made or renumbered), and those past the history limit removed
/// (except any whose hash `live` names, or the template's own). `all` are the
/// namespace's revisions as the pass read them. The owner's revisions after,
/// oldest first.
pub(crate) fn sync(
    store: &Store,
    all: &[ControllerRevision],
    owner: &Owner<'_>,
    live: &HashSet<&str>,
) -> Result<Vec<ControllerRevision>> {
    let mut revisions = owned_in(all, &owner.reference.uid);
    let want = wanted(owner, &revisions);
    match revisions
        .iter_mut()
        .find(|r| r.metadata.name == want.metadata.name)
    {
        Some(r) if *r == want => {}
        Some(r) => {
            store.put(&want)?;
            *r = want;
        }
        None => {
            store.put(&want)?;
            revisions.push(want);
        }
    }
    revisions.sort_by_key(number);
    let mut keep = live.clone();
    keep.insert(owner.hash);
    let gone = past_limit(&revisions, owner.history_limit, &keep);
    for name in &gone {
        store.remove::<ControllerRevision>(name)?;
    }
    revisions.retain(|r| r.metadata.name.as_ref().is_none_or(|n| !gone.contains(n)));
    Ok(revisions)
}

/// Removes the revisions controlled by the object of uid `uid` (its deletion).
pub(crate) fn remove_owned(store: &Store, uid: &str) -> Result<()> {
    for r in owned(store, uid)? {
        store.remove::<ControllerRevision>(r.metadata.name.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::test_template as template;

    fn reference() -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/change-cause".into(),
                "to v2".into(),
            )])),
            ..ObjectMeta::default()
        }
    }

    fn made(image: &str, hash: &str, existing: &[ControllerRevision]) -> ControllerRevision {
        let (r, m, t) = (reference(), meta(), template(image));
        wanted(
            &Owner {
                reference: &r,
                meta: &m,
                template: &t,
                hash,
                history_limit: None,
            },
            existing,
        )
    }

    #[test]
    fn a_new_template_gets_the_next_number_and_gives_its_template_back() {
        let first = made("busybox:1", "h1", &[]);
        assert_eq!(first.revision, Some(1));
        assert_eq!(first.metadata.name.as_deref(), Some("web-h1"));
        assert_eq!(hash_of(&first), Some("h1"));
        let labels = first.metadata.labels.clone().unwrap();
        assert_eq!(labels["app"], "web");
        assert_eq!(
            first.metadata.annotations.clone().unwrap()["kubernetes.io/change-cause"],
            "to v2"
        );
        assert_eq!(first.metadata.owner_references.clone().unwrap()[0].uid, "u");
        let data = &first.data.0;
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        assert_eq!(template_of(&first), Some(template("busybox:1")));
        let second = made("busybox:2", "h2", std::slice::from_ref(&first));
        assert_eq!(second.revision, Some(2));
        // The same template again: the same revision, unchanged.
        let both = [first.clone(), second.clone()];
        assert_eq!(made("busybox:2", "h2", &both), second);
        // Back to the first (an undo): it becomes the newest.
        let back = made("busybox:1", "h1", &both);
        assert_eq!(back.revision, Some(3));
        assert_eq!(back.metadata.uid, first.metadata.uid);
    }

    #[test]
    fn history_past_the_limit_goes_oldest_first_but_not_what_is_live() {
        let mut revisions = Vec::new();
        for (i, h) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
            let r = made(&format!("busybox:{i}"), h, &revisions);
            revisions.push(r);
        }
        let none = HashSet::new();
        assert_eq!(past_limit(&revisions, Some(2), &none), ["web-h1", "web-h2"]);
        assert!(past_limit(&revisions, None, &none).is_empty());
        let live = HashSet::from(["h1", "h4"]);
        assert_eq!(past_limit(&revisions, Some(1), &live), ["web-h2"]);
        assert_eq!(past_limit(&revisions, Some(0), &live), ["web-h2", "web-h3"]);
    }
}
