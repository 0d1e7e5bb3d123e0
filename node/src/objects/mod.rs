//! The workload documents a user applies, decoded into k8s-openapi's types and
//! checked before anything is stored: Deployments, ReplicaSets, DaemonSets and
//! StatefulSets (`apps/v1`), and Jobs (`batch/v1`); the `v1` objects pods
//! read: Namespaces and Secrets; Services; and PodSecurityPolicies.
//!
//! Decoding reuses the sandbox's manifest reader (`manifest::parse_with` keeps
//! these kinds, `manifest::decode` names the field of a type error and warns of
//! unknown fields), so a Deployment's template reads exactly as a Pod does.

mod job;
mod namespace;
mod percent;
mod psp;
mod secret;
mod service;
mod statefulset;
mod template;
mod validate;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_sandbox::manifest::{self, Object};

pub use job::{complete_job, JOB_NAME_LABELS, JOB_UID_LABELS};
pub use namespace::{complete_namespace, default_namespace, DEFAULT_NAMESPACE};
pub(crate) use percent::resolve;
pub use psp::{policy_of, PodSecurityPolicyObject, PSP_API_VERSION};
pub use secret::{
    check_secret, complete_secret, docker_config, pull_secrets, DOCKER_CFG, DOCKER_CONFIG_JSON,
};
pub use service::{
    check_service, complete_service, is_headless, ServiceNetwork, DEFAULT_NODE_PORTS,
    DEFAULT_SERVICE_CIDR,
};
pub(crate) use statefulset::claim_names;
#[cfg(test)]
pub(crate) use template::test_template;
pub use template::{pod_from_template, template_hash, TEMPLATE_HASH_LABEL};
pub use validate::{check_update, validate};

use crate::error::Result;

/// One workload object of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// `apps/v1` Deployment.
    Deployment(Box<Deployment>),
    /// `apps/v1` ReplicaSet.
    ReplicaSet(Box<ReplicaSet>),
    /// `apps/v1` DaemonSet.
    DaemonSet(Box<DaemonSet>),
    /// `apps/v1` StatefulSet.
    StatefulSet(Box<StatefulSet>),
    /// `batch/v1` Job.
    Job(Box<Job>),
}

/// A kind podrt stores: its kubectl names and the way it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deployments.
    Deployment,
    /// ReplicaSets.
    ReplicaSet,
    /// DaemonSets.
    DaemonSet,
    /// StatefulSets.
    StatefulSet,
    /// Jobs.
    Job,
}

impl Kind {
    /// The kind a kubectl resource word names (`deploy`, `deployments.apps`, `rs`).
    pub fn from_word(word: &str) -> Option<Kind> {
        match word.to_ascii_lowercase().as_str() {
            "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps" => {
                Some(Kind::Deployment)
            }
            "rs" | "replicaset" | "replicasets" | "replicaset.apps" | "replicasets.apps" => {
                Some(Kind::ReplicaSet)
            }
            "ds" | "daemonset" | "daemonsets" | "daemonset.apps" | "daemonsets.apps" => {
                Some(Kind::DaemonSet)
            }
            "sts" | "statefulset" | "statefulsets" | "statefulset.apps" | "statefulsets.apps" => {
                Some(Kind::StatefulSet)
            }
            "job" | "jobs" | "job.batch" | "jobs.batch" => Some(Kind::Job),
            _ => None,
        }
    }

    /// kubectl's plural `TYPE.GROUP`, as in not-found errors: `deployments.apps`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments.apps",
            Kind::ReplicaSet => "replicasets.apps",
            Kind::DaemonSet => "daemonsets.apps",
            Kind::StatefulSet => "statefulsets.apps",
            Kind::Job => "jobs.batch",
        }
    }

    /// Every kind, in the order a delete goes through them (owners before what
    /// they own).
    pub const ALL: [Kind; 5] = [
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::DaemonSet,
        Kind::StatefulSet,
        Kind::Job,
    ];

    /// The API's `kind`: `Deployment`.
    pub fn kind_name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::Job => "Job",
        }
    }

    /// kubectl's `TYPE.GROUP` for messages: `deployment.apps`.
    pub fn qualified(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment.apps",
            Kind::ReplicaSet => "replicaset.apps",
            Kind::DaemonSet => "daemonset.apps",
            Kind::StatefulSet => "statefulset.apps",
            Kind::Job => "job.batch",
        }
    }
}

impl Workload {
    /// Whether podrt reads objects of this `apiVersion` and `kind` (for
    /// `manifest::parse_with`).
    pub fn accepts(api_version: &str, kind: &str) -> bool {
        match api_version {
            "apps/v1" => matches!(
                kind,
                "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet"
            ),
            "batch/v1" => kind == "Job",
            _ => false,
        }
    }

    /// Decodes a kept object; unknown fields are pushed to `warnings`.
    pub fn decode(object: &Object, warnings: &mut Vec<String>) -> Result<Workload> {
        Ok(match object.kind.as_str() {
            "Deployment" => Workload::Deployment(Box::new(manifest::decode(object, warnings)?)),
            "DaemonSet" => Workload::DaemonSet(Box::new(manifest::decode(object, warnings)?)),
            "StatefulSet" => Workload::StatefulSet(Box::new(manifest::decode(object, warnings)?)),
            "Job" => Workload::Job(Box::new(manifest::decode(object, warnings)?)),
            _ => Workload::ReplicaSet(Box::new(manifest::decode(object, warnings)?)),
        })
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Workload::Deployment(_) => Kind::Deployment,
            Workload::ReplicaSet(_) => Kind::ReplicaSet,
            Workload::DaemonSet(_) => Kind::DaemonSet,
            Workload::StatefulSet(_) => Kind::StatefulSet,
            Workload::Job(_) => Kind::Job,
        }
    }

    /// The object as `get -o json` shows it.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Workload::Deployment(d) => serde_json::to_value(d),
            Workload::ReplicaSet(r) => serde_json::to_value(r),
            Workload::DaemonSet(d) => serde_json::to_value(d),
            Workload::StatefulSet(s) => serde_json::to_value(s),
            Workload::Job(j) => serde_json::to_value(j),
        }
    }

    /// Its metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Workload::Deployment(d) => &d.metadata,
            Workload::ReplicaSet(r) => &r.metadata,
            Workload::DaemonSet(d) => &d.metadata,
            Workload::StatefulSet(s) => &s.metadata,
            Workload::Job(j) => &j.metadata,
        }
    }

    /// Its metadata, to change.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Workload::Deployment(d) => &mut d.metadata,
            Workload::ReplicaSet(r) => &mut r.metadata,
            Workload::DaemonSet(d) => &mut d.metadata,
            Workload::StatefulSet(s) => &mut s.metadata,
            Workload::Job(j) => &mut j.metadata,
        }
    }

    /// `metadata.namespace`, `default` when unset.
    pub fn namespace(&self) -> &str {
        self.metadata()
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The pod spec of its template, if it has one.
    pub fn pod_spec(&self) -> Option<&k8s_openapi::api::core::v1::PodSpec> {
        match self {
            Workload::Deployment(d) => d.spec.template.spec.as_ref(),
            Workload::ReplicaSet(r) => r.spec.template.as_ref()?.spec.as_ref(),
            Workload::DaemonSet(d) => d.spec.template.spec.as_ref(),
            Workload::StatefulSet(s) => s.spec.template.spec.as_ref(),
            Workload::Job(j) => j.spec.as_ref()?.template.spec.as_ref(),
        }
    }

    /// `metadata.name` (empty when missing: validation refuses that).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// kubectl's reference: `deployment.apps/web`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind().qualified(), self.name())
    }
}
