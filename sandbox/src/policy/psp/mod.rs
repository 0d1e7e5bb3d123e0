//! PodSecurityPolicy: the policy document ([`document`]), reading and checking
//! it ([`load`]), the defaults it fills into a pod, and the checks it makes.
//! Admission works on a copy: the pod is defaulted, judged, and only a pod
//! that passes is returned, with the `kubernetes.io/psp` annotation naming
//! the policy, as the admission plugin wrote it.

mod checks;
mod defaults;
pub(crate) mod document;
pub(crate) mod load;

use k8s_openapi::api::core::v1::Pod;

pub(crate) use document::PodSecurityPolicy;

use super::Violation;

/// The annotation that names the policy that admitted a pod.
pub(crate) const ANNOTATION: &str = "kubernetes.io/psp";

/// `pod` defaulted by `policy`, or every rule it breaks.
pub(crate) fn admit(policy: &PodSecurityPolicy, pod: &Pod) -> Result<Pod, Vec<Violation>> {
    let mut out = pod.clone();
    let Some(spec) = out.spec.as_mut() else {
        return Ok(out);
    };
    defaults::apply(&policy.spec, spec);
    let found = checks::check(&policy.spec, spec);
    if !found.is_empty() {
        return Err(found);
    }
    out.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION.to_string(), policy.metadata.name.clone());
    Ok(out)
}

#[cfg(test)]
mod tests;
