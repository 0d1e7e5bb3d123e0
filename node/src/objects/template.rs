//! Pod templates: the cookie cutter a controller makes pods with. A pod cut from a
//! template is never changed afterwards; a changed template gets a new hash, so
//! a Deployment makes a new ReplicaSet for it and replaces the old pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The label a Deployment adds to its ReplicaSets' selectors and pods.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// The letters Kubernetes encodes names with: no vowels (no words), no
/// look-alikes (0/o, 1/l, 3/e).
const SAFE: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// The template's hash as Kubernetes spells it: FNV-1a (32 bits) over the
/// template, and the collision count if any, each decimal digit of the sum
/// written as one safe letter. Equal templates give equal hashes in every
/// process, as the hash names the ReplicaSet.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(n) = collision_count {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash.to_string()
        .bytes()
        .map(|d| char::from(SAFE[usize::from(d) % SAFE.len()]))
        .collect()
}

/// A pod cut from `template`: named `name`, its template labels plus
/// `extra_labels`, owned by `owner` (the controller's reference).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    name: &str,
    namespace: &str,
    extra_labels: &BTreeMap<String, String>,
    owner: Option<OwnerReference>,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.extend(extra_labels.clone());
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: meta.annotations,
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// A template labelled `app: web` with one container `c` of `image`, for
/// tests.
#[cfg(test)]
pub(crate) fn test_template(image: &str) -> PodTemplateSpec {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some(image.into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_template as template;

    #[test]
    fn equal_templates_hash_equal_and_changes_do_not() {
        let a = template("busybox");
        assert_eq!(template_hash(&a, None), template_hash(&a.clone(), None));
        assert_ne!(
            template_hash(&a, None),
            template_hash(&template("nginx"), None)
        );
        assert_ne!(template_hash(&a, None), template_hash(&a, Some(1)));
        let h = template_hash(&a, None);
        assert!(h.bytes().all(|c| SAFE.contains(&c)), "{h}");
        assert!((1..=10).contains(&h.len()), "{h}");
    }

    #[test]
    fn a_cut_pod_has_the_template_labels_the_hash_and_its_owner() {
        let t = template("busybox");
        let owner = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-abc".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let extra = BTreeMap::from([(TEMPLATE_HASH_LABEL.to_string(), "abc".to_string())]);
        let pod = pod_from_template(&t, "web-abc-xyz12", "default", &extra, Some(owner.clone()));
        let labels = pod.metadata.labels.unwrap();
        assert_eq!(labels["app"], "web");
        assert_eq!(labels[TEMPLATE_HASH_LABEL], "abc");
        assert_eq!(pod.metadata.owner_references, Some(vec![owner]));
        assert_eq!(pod.spec, t.spec);
    }
}
