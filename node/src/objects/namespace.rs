//! Namespace documents: `default` as the API server makes it, and what it
//! fills in on a new Namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The namespace that always exists, where objects without one go.
pub const DEFAULT_NAMESPACE: &str = "default";

/// `default`, as the API server makes it: always there, never deleted.
pub fn default_namespace() -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(DEFAULT_NAMESPACE.to_string()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                DEFAULT_NAMESPACE.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(NamespaceStatus {
            phase: Some("Active".to_string()),
            conditions: None,
        }),
    }
}

/// Fills in what the API server gives a new Namespace: the
/// `kubernetes.io/metadata.name` label and the Active phase.
pub fn complete_namespace(ns: &mut Namespace) {
    let name = ns.metadata.name.clone().unwrap_or_default();
    ns.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("kubernetes.io/metadata.name".to_string(), name);
    if ns.status.is_none() {
        ns.status = Some(NamespaceStatus {
            phase: Some("Active".to_string()),
            conditions: None,
        });
    }
}
