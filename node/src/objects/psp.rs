//! PodSecurityPolicy objects: cluster-scoped, stored by `podrt create -f`
//! (the seed's `extensions/v1beta1` document or `policy/v1beta1`, kept as
//! `policy/v1beta1`, the group Kubernetes served it from last), and read back
//! as the admission policy when neither `--policy` nor the config file names
//! one. Kubernetes removed the type in 1.25, so k8s-openapi has none: the
//! object keeps its spec as written, and the sandbox's PodSecurityPolicy
//! reader checks it (the same checks as a `--policy` file) when it is stored
//! and turns it into rules when pods are admitted.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_sandbox::policy::{PodSecurityPolicy, Policy, PolicyError};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The API version a PodSecurityPolicy is stored and shown under.
pub const PSP_API_VERSION: &str = "policy/v1beta1";

/// A stored `PodSecurityPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityPolicyObject {
    /// Always [`PSP_API_VERSION`].
    pub api_version: String,
    /// Always `PodSecurityPolicy`.
    pub kind: String,
    /// Name, labels, annotations and what the store adds.
    pub metadata: ObjectMeta,
    /// The spec as written (checked by the sandbox's reader).
    pub spec: serde_json::Value,
}

impl k8s_openapi::Resource for PodSecurityPolicyObject {
    const API_VERSION: &'static str = PSP_API_VERSION;
    const GROUP: &'static str = "policy";
    const KIND: &'static str = "PodSecurityPolicy";
    const VERSION: &'static str = "v1beta1";
    const URL_PATH_SEGMENT: &'static str = "podsecuritypolicies";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::Metadata for PodSecurityPolicyObject {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl PodSecurityPolicyObject {
    /// Its name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// kubectl's reference: `podsecuritypolicy.policy/NAME`.
    pub fn reference(&self) -> String {
        format!("podsecuritypolicy.policy/{}", self.name())
    }

    /// Decodes and checks a PodSecurityPolicy document (`source` names it in
    /// errors): one refused names the field at fault.
    pub fn decode(doc: &serde_json::Value, source: &str) -> Result<PodSecurityPolicyObject> {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let invalid = |e: PolicyError| Error::Invalid {
            object: format!("podsecuritypolicy.policy/{name}"),
            fields: vec![e.to_string()],
        };
        // What the store adds to the metadata (shown by `get -o yaml`, kept
        // by `edit`) is not the policy's: the reader sees the rest.
        let mut checked = doc.clone();
        if let Some(meta) = checked
            .get_mut("metadata")
            .and_then(serde_json::Value::as_object_mut)
        {
            meta.retain(|k, _| matches!(k.as_str(), "name" | "labels" | "annotations"));
        }
        PodSecurityPolicy::from_document(checked, source).map_err(invalid)?;
        let mut object: PodSecurityPolicyObject = serde_json::from_value(doc.clone())
            .map_err(|e| invalid(PolicyError::Text(format!("{source}: {e}"))))?;
        object.api_version = PSP_API_VERSION.to_string();
        Ok(object)
    }

    /// The sandbox's policy of this object: its document without what the
    /// store added to the metadata.
    pub fn policy(&self) -> Result<PodSecurityPolicy> {
        let meta = &self.metadata;
        let doc = serde_json::json!({
            "apiVersion": PSP_API_VERSION,
            "kind": "PodSecurityPolicy",
            "metadata": {
                "name": meta.name,
                "labels": meta.labels,
                "annotations": meta.annotations,
            },
            "spec": self.spec,
        });
        PodSecurityPolicy::from_document(doc, &self.reference()).map_err(|e| Error::Invalid {
            object: self.reference(),
            fields: vec![e.to_string()],
        })
    }
}

/// The admission policy that stored PodSecurityPolicies make (none stored:
/// none).
pub fn policy_of(stored: &[PodSecurityPolicyObject]) -> Result<Option<Policy>> {
    if stored.is_empty() {
        return Ok(None);
    }
    let policies = stored
        .iter()
        .map(PodSecurityPolicyObject::policy)
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Policy::Stored(policies)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "extensions/v1beta1",
            "kind": "PodSecurityPolicy",
            "metadata": {"name": "permissive"},
            "spec": {
                "seLinux": {"rule": "RunAsAny"},
                "supplementalGroups": {"rule": "RunAsAny"},
                "runAsUser": {"rule": "RunAsAny"},
                "fsGroup": {"rule": "RunAsAny"},
                "hostPorts": [{"min": 8000, "max": 8080}],
                "volumes": ["*"],
            }
        })
    }

    #[test]
    fn the_seeds_policy_is_kept_under_policy_v1beta1_and_reads_back() {
        let mut o = PodSecurityPolicyObject::decode(&seed(), "psp.yaml").unwrap();
        assert_eq!(o.api_version, "policy/v1beta1");
        assert_eq!(o.reference(), "podsecuritypolicy.policy/permissive");
        // What the store adds does not disturb the reader.
        o.metadata.uid = Some("u".into());
        o.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        assert_eq!(o.policy().unwrap().name(), "permissive");
    }

    #[test]
    fn a_bad_policy_is_refused_naming_the_field() {
        let mut doc = seed();
        doc["spec"]["hostPorts"][0]["min"] = serde_json::json!(9000);
        let e = PodSecurityPolicyObject::decode(&doc, "psp.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.hostPorts[0]"), "{e}");
        let mut doc = seed();
        doc["spec"]["runAsUser"] = serde_json::json!({"rule": "Sometimes"});
        let e = PodSecurityPolicyObject::decode(&doc, "psp.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("runAsUser"), "{e}");
        // What get -o yaml shows (and edit gives back) reads again.
        let mut doc = seed();
        doc["metadata"]["uid"] = serde_json::json!("u");
        doc["metadata"]["creationTimestamp"] = serde_json::json!("2026-12-07T06:15:06Z");
        assert!(PodSecurityPolicyObject::decode(&doc, "psp.yaml").is_ok());
    }
}
