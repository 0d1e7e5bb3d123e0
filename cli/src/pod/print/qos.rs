//! The pod's QoS class for `describe`: the status's, or computed as Kubernetes does
//! when the status carries none (the rule itself lives in `podrt_sandbox::pod::qos`).

use k8s_openapi::api::core::v1::Pod;

pub(crate) use podrt_sandbox::pod::qos::parse_quantity;

/// `status.qosClass` if set, otherwise Guaranteed / Burstable / BestEffort from the
/// requests and limits of all containers (init containers included).
pub(crate) fn qos_class(pod: &Pod) -> String {
    if let Some(class) = pod
        .status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .filter(|c| !c.is_empty())
    {
        return class.to_string();
    }
    pod.spec
        .as_ref()
        .map_or("BestEffort", podrt_sandbox::pod::qos::qos_class)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: &str) -> Pod {
        serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"p"}},"spec":{{"containers":[{containers}]}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn quantities_compare_across_units() {
        assert_eq!(parse_quantity("1"), parse_quantity("1000m"));
        assert_eq!(parse_quantity("0.5"), Some(500_000_000));
        assert_eq!(
            parse_quantity("128Mi"),
            Some(128 * 1024 * 1024 * 1_000_000_000)
        );
        assert_eq!(parse_quantity("1e3"), parse_quantity("1k"));
        assert_eq!(parse_quantity("1n"), Some(1));
        assert_eq!(parse_quantity("abc"), None);
    }

    #[test]
    fn best_effort_without_resources() {
        assert_eq!(qos_class(&pod(r#"{"name":"a"}"#)), "BestEffort");
    }

    #[test]
    fn guaranteed_when_limits_equal_requests_or_requests_are_defaulted() {
        let equal = r#"{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1000m","memory":"1Gi"}}}"#;
        assert_eq!(qos_class(&pod(equal)), "Guaranteed");
        let limits_only = r#"{"name":"a","resources":{"limits":{"cpu":"500m","memory":"64Mi"}}}"#;
        assert_eq!(qos_class(&pod(limits_only)), "Guaranteed");
    }

    #[test]
    fn burstable_otherwise() {
        let partial = r#"{"name":"a","resources":{"requests":{"cpu":"100m"}}}"#;
        assert_eq!(qos_class(&pod(partial)), "Burstable");
        let two = r#"{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b"}"#;
        assert_eq!(qos_class(&pod(two)), "Burstable");
    }

    #[test]
    fn status_wins() {
        let mut p = pod(r#"{"name":"a"}"#);
        p.status = Some(serde_json::from_str(r#"{"qosClass":"Guaranteed"}"#).unwrap());
        assert_eq!(qos_class(&p), "Guaranteed");
    }
}
