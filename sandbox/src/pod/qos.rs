//! A pod's QoS class (Guaranteed / Burstable / BestEffort) as Kubernetes computes
//! it (`qos.GetPodQOS`), and the quantity comparison it needs. podrt's status and
//! kubectl-style printing both use this one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The compute resources that decide the QoS class.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// The QoS class from the requests and limits of all containers (init containers
/// included), or of the pod-level resources when given.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let pod_level = spec.resources.as_ref().filter(|r| {
        r.requests.as_ref().is_some_and(|m| !m.is_empty())
            || r.limits.as_ref().is_some_and(|m| !m.is_empty())
    });
    // Pod-level resources, when given, replace the containers' for the QoS class.
    let all: Vec<Option<&ResourceRequirements>> = match pod_level {
        Some(r) => vec![Some(r)],
        None => spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .map(|c| c.resources.as_ref())
            .collect(),
    };
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for resources in all {
        let mut limits_found = 0;
        for name in QOS_RESOURCES {
            let limit = resources.and_then(|r| get(r.limits.as_ref(), name));
            // The API server defaults a missing request to the limit; do the same.
            let request = resources
                .and_then(|r| get(r.requests.as_ref(), name))
                .or(limit);
            if let Some(v) = request.filter(|v| *v > 0) {
                *requests.entry(name).or_default() += v;
            }
            if let Some(v) = limit.filter(|v| *v > 0) {
                *limits.entry(name).or_default() += v;
                limits_found += 1;
            }
        }
        if limits_found < QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let matching = requests
        .iter()
        .all(|(name, req)| limits.get(name) == Some(req));
    if guaranteed && matching && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn get(list: Option<&BTreeMap<String, Quantity>>, name: &str) -> Option<i128> {
    list?.get(name).map(|q| parse_quantity(&q.0).unwrap_or(0))
}

/// A Kubernetes quantity (`250m`, `1.5`, `128Mi`, `1e3`, `2G`) in billionths, so
/// `1` and `1000m` compare equal; fractions below a billionth round up, as the
/// API server does. `None` if `s` is not a quantity.
pub fn parse_quantity(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: i128 = digits.parse().ok()?;
    let (binary_shift, decimal_exp): (u32, i32) = match suffix {
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "" => (0, 0),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        other => (0, other.strip_prefix(['e', 'E'])?.parse().ok()?),
    };
    let fraction_digits = i32::try_from(fraction.len()).ok()?;
    let exp = decimal_exp + 9 - fraction_digits;
    let scaled = mantissa.checked_mul(1i128.checked_shl(binary_shift)?)?;
    let value = if exp >= 0 {
        scaled.checked_mul(10i128.checked_pow(u32::try_from(exp).ok()?)?)?
    } else {
        let divisor = 10i128.checked_pow(exp.unsigned_abs())?;
        scaled.checked_add(divisor - 1)? / divisor
    };
    Some(if negative { -value } else { value })
}
