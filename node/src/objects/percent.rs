//! Numbers given as a count or a percentage (`maxSurge: 25%`), as Kubernetes
//! resolves them against a total.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `maxSurge` / `maxUnavailable` as numbers of pods, or a percentage of `total`
/// (rounded up when `round_up`, else down). A negative number or a malformed
/// string is an error in Kubernetes' words.
pub(crate) fn resolve(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) if *n < 0 => Err(format!(
            "Invalid value: {n}: must be greater than or equal to 0"
        )),
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .filter(|p| *p >= 0)
                .ok_or_else(|| {
                    format!("Invalid value: {s:?}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '10%')")
                })?;
            let scaled = i64::from(total) * percent;
            let n = if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            };
            Ok(i32::try_from(n).unwrap_or(i32::MAX))
        }
    }
}
