//! Admission: before anything of a pod is created, it is judged against the
//! policy in force, either a Pod Security Standards level ([`standards`]) or
//! a PodSecurityPolicy document ([`psp`]). A refusal lists every rule the pod
//! breaks, each with the pod field at fault, so the user fixes the manifest in
//! one round; a PodSecurityPolicy may also fill in defaults, and the pod that
//! is created (and shown by `get -o yaml`) is the defaulted one.

mod pod_view;
pub(crate) mod psp;

pub use psp::document::PodSecurityPolicy;
pub mod report;
pub(crate) mod standards;

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

pub use standards::Level;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The pod field at fault, e.g. `spec.containers[0].securityContext.privileged`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// The rule: a PSS control (`baseline: Host Namespaces`) or a PSP field (`hostNetwork`).
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.field, self.message, self.rule)
    }
}

/// Every rule a pod breaks, under the policy's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The policy, e.g. `restricted` or `PodSecurityPolicy "strict"`.
    pub(crate) policy: String,
    /// What the pod breaks, in the order the checks found it.
    pub(crate) violations: Vec<Violation>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "forbidden by policy {}:", self.policy)?;
        for v in &self.violations {
            write!(f, "\n  {v}")?;
        }
        Ok(())
    }
}

/// Why a policy could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Neither a level nor a readable file.
    #[error("cannot read policy {}: {source} (a policy is privileged, baseline, restricted or a PodSecurityPolicy file)", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML or JSON.
    #[error("{0}")]
    Text(String),
    /// A field of the policy is wrong.
    #[error("{file}: {field}{sep}{message}", sep = if field.is_empty() { "" } else { ": " })]
    Field {
        /// The policy file.
        file: String,
        /// The policy field (empty for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The policy a pod is admitted under.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A Pod Security Standards level.
    Level(Level),
    /// A PodSecurityPolicy document.
    Psp(Box<PodSecurityPolicy>),
    /// The PodSecurityPolicy objects stored with `podrt create -f`, as the
    /// admission plugin used them: tried in name order, the first that admits
    /// the pod unchanged wins, else the first that admits it with defaults.
    Stored(Vec<PodSecurityPolicy>),
}

impl PodSecurityPolicy {
    /// Decodes and checks one PodSecurityPolicy document (a stored object);
    /// `source` names it in errors.
    pub fn from_document(doc: serde_json::Value, source: &str) -> Result<Self, PolicyError> {
        psp::load::from_document(doc, source)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

impl Policy {
    /// `privileged`, `baseline`, `restricted`, or the path of a
    /// PodSecurityPolicy file; a relative path is taken from `base`.
    pub fn load(spec: &str, base: &Path) -> Result<Policy, PolicyError> {
        if let Some(level) = Level::parse(spec) {
            return Ok(Policy::Level(level));
        }
        let path = base.join(spec);
        Ok(Policy::Psp(Box::new(psp::load::load(&path)?)))
    }

    /// How refusals name the policy.
    pub fn name(&self) -> String {
        match self {
            Policy::Level(l) => l.name().to_string(),
            Policy::Psp(p) => format!("PodSecurityPolicy {:?}", p.metadata.name),
            Policy::Stored(list) => {
                let mut names: Vec<String> = list
                    .iter()
                    .map(|p| format!("{:?}", p.metadata.name))
                    .collect();
                names.sort();
                format!("PodSecurityPolicy {}", names.join(" or "))
            }
        }
    }

    /// `pod` as it is to be created (defaulted by a PodSecurityPolicy), or
    /// every rule it breaks.
    pub fn admit(&self, pod: &Pod) -> Result<Pod, Refusal> {
        let found = match self {
            Policy::Level(level) => {
                let annotations: Vec<(String, String)> = pod
                    .metadata
                    .annotations
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let spec = pod.spec.clone().unwrap_or_default();
                let found = level.check(&annotations, &spec);
                if found.is_empty() {
                    return Ok(pod.clone());
                }
                found
            }
            Policy::Psp(p) => match psp::admit(p, pod) {
                Ok(admitted) => return Ok(admitted),
                Err(found) => found,
            },
            Policy::Stored(list) => match admit_stored(list, pod) {
                Ok(admitted) => return Ok(admitted),
                Err(found) => found,
            },
        };
        Err(Refusal {
            policy: self.name(),
            violations: found,
        })
    }
}

/// The stored policies' admission: in name order, the first policy under
/// which the pod needs no defaults, else the first that admits it defaulted;
/// with none, every policy's violations, each rule prefixed with its policy.
fn admit_stored(list: &[PodSecurityPolicy], pod: &Pod) -> Result<Pod, Vec<Violation>> {
    let mut sorted: Vec<&PodSecurityPolicy> = list.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut defaulted = None;
    let mut found = Vec::new();
    for policy in sorted {
        match psp::admit(policy, pod) {
            Ok(admitted) if admitted.spec == pod.spec => return Ok(admitted),
            Ok(admitted) => {
                defaulted.get_or_insert(admitted);
            }
            Err(violations) => found.extend(violations.into_iter().map(|v| Violation {
                rule: format!("{}: {}", policy.metadata.name, v.rule),
                ..v
            })),
        }
    }
    defaulted.ok_or(found)
}
