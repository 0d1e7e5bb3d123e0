//! A container's `resources`: every quantity must parse, every resource name
//! must be one Kubernetes knows (or a fully qualified extended resource), and
//! requests may not exceed limits. The result is in bytes and millicores,
//! ready for cgroup files.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::names;
use super::quantity;
use super::report::{FieldPath, Report};
use super::valid::ContainerResources;

/// How a resource's quantities are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cpu,
    Memory,
    /// ephemeral-storage and hugepages-*: bytes, not enforced by podrt.
    Bytes,
    /// example.com/gpu: a count podrt does not manage.
    Extended,
}

/// Validates one container's resources and converts them. `path` is the
/// container's field path.
pub(super) fn validate_resources(
    resources: Option<&ResourceRequirements>,
    name: &str,
    path: &FieldPath,
    report: &mut Report,
) -> ContainerResources {
    let empty = BTreeMap::new();
    let path = path.key("resources");
    let limits_path = path.key("limits");
    let requests_path = path.key("requests");
    let limits = resources.and_then(|r| r.limits.as_ref()).unwrap_or(&empty);
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .unwrap_or(&empty);
    let lim = Amounts::read(limits, &limits_path, report);
    let req = Amounts::read(requests, &requests_path, report);
    if let Some(claims) = resources.and_then(|r| r.claims.as_ref()) {
        if !claims.is_empty() {
            report.ignored(&path.key("claims"));
        }
    }
    for (resource, limit, request) in [
        ("cpu", lim.cpu, req.cpu),
        ("memory", lim.memory, req.memory),
    ] {
        if let (Some(limit), Some(request)) = (limit, request) {
            if request > limit {
                let q_req = quantity_of(requests, resource);
                let q_lim = quantity_of(limits, resource);
                report.invalid(
                    &requests_path.map_key(resource),
                    q_req,
                    &format!("must be less than or equal to {resource} limit of {q_lim}"),
                );
            }
        }
    }
    ContainerResources {
        name: name.to_string(),
        memory_limit: lim.memory,
        // Kubernetes defaults an unset request to the limit.
        memory_request: req.memory.or(lim.memory),
        cpu_limit_millis: lim.cpu,
        cpu_request_millis: req.cpu.or(lim.cpu),
    }
}

fn quantity_of<'a>(map: &'a BTreeMap<String, Quantity>, resource: &str) -> &'a str {
    map.get(resource).map_or("", |q| q.0.as_str())
}

/// The CPU and memory of one `limits` or `requests` map.
struct Amounts {
    cpu: Option<u64>,
    memory: Option<u64>,
}

impl Amounts {
    fn read(map: &BTreeMap<String, Quantity>, path: &FieldPath, report: &mut Report) -> Self {
        let mut amounts = Amounts {
            cpu: None,
            memory: None,
        };
        for (resource, q) in map {
            let field = path.map_key(resource);
            let Some(kind) = kind_of(resource) else {
                report.invalid(
                    &field,
                    resource,
                    "must be a standard resource type or fully qualified",
                );
                continue;
            };
            let unit = if kind == Kind::Cpu { 1000 } else { 1 };
            let scaled = match quantity::scaled(&q.0, unit) {
                Ok(scaled) => scaled,
                Err(e) => {
                    report.invalid(&field, &q.0, &e);
                    continue;
                }
            };
            match kind {
                Kind::Cpu => amounts.cpu = Some(scaled.value),
                Kind::Memory => {
                    if !scaled.exact {
                        let message = format!(
                            "fractional byte value {:?} is invalid, must be an integer; rounded up",
                            q.0
                        );
                        report.warn(&field, &message);
                    }
                    amounts.memory = Some(scaled.value);
                }
                Kind::Bytes => {}
                Kind::Extended => report.warn(
                    &field,
                    "extended resources are not managed by podrt, ignored",
                ),
            }
        }
        amounts
    }
}

/// Which kind of resource a name is, or None for a name Kubernetes refuses.
fn kind_of(resource: &str) -> Option<Kind> {
    match resource {
        "cpu" => Some(Kind::Cpu),
        "memory" => Some(Kind::Memory),
        "ephemeral-storage" => Some(Kind::Bytes),
        _ => {
            if let Some(size) = resource.strip_prefix("hugepages-") {
                return quantity::parse_bytes(size).ok().map(|_| Kind::Bytes);
            }
            // Extended resources must carry a domain (example.com/gpu), and
            // kubernetes.io is reserved for the standard ones.
            let (domain, _) = resource.split_once('/')?;
            let reserved = domain == "kubernetes.io" || domain.ends_with(".kubernetes.io");
            (!reserved && names::qualified_name(resource).is_ok()).then_some(Kind::Extended)
        }
    }
}
