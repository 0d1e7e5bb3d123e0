//! `spec.securityContext.sysctls`: only the namespaced ones, which change the
//! pod's own network or IPC namespace and nothing of the host's, are accepted
//! (Kubernetes' list: `kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`,
//! `net.*`); a pod sharing the host's network or IPC namespace may not set the
//! sysctls of that namespace.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::PodSpec;

use super::error::{Result, Unsupported};

/// Which namespace a sysctl belongs to, if it is namespaced.
fn namespace_of(name: &str) -> Option<&'static str> {
    let name = name.replace('/', ".");
    if name.starts_with("net.") {
        Some("net")
    } else if name.starts_with("kernel.shm")
        || name.starts_with("kernel.msg")
        || name == "kernel.sem"
        || name.starts_with("fs.mqueue.")
    {
        Some("ipc")
    } else {
        None
    }
}

/// The pod's sysctls, checked.
pub(crate) fn for_pod(spec: &PodSpec) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let list = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref());
    for (i, s) in list.into_iter().flatten().enumerate() {
        let field = format!("spec.securityContext.sysctls[{i}].name");
        let refuse = |message: String| Unsupported {
            field: field.clone(),
            message,
        };
        match namespace_of(&s.name) {
            None => {
                return Err(refuse(format!(
                    "Invalid value: {:?}: not a namespaced sysctl; it would change the host",
                    s.name
                )))
            }
            Some("net") if spec.host_network == Some(true) => {
                return Err(refuse(format!(
                    "Invalid value: {:?}: a hostNetwork pod may not set network sysctls",
                    s.name
                )))
            }
            Some("ipc") if spec.host_ipc == Some(true) => {
                return Err(refuse(format!(
                    "Invalid value: {:?}: a hostIPC pod may not set IPC sysctls",
                    s.name
                )))
            }
            Some(_) => {}
        }
        out.insert(s.name.clone(), s.value.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn namespaced_sysctls_only() {
        let ok = spec(
            serde_json::json!({"containers": [], "securityContext": {"sysctls": [
            {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
            {"name": "kernel.shm_rmid_forced", "value": "1"}]}}),
        );
        assert_eq!(for_pod(&ok).unwrap().len(), 2);
        let host = spec(
            serde_json::json!({"containers": [], "securityContext": {"sysctls": [
            {"name": "kernel.panic", "value": "1"}]}}),
        );
        let err = for_pod(&host).unwrap_err().to_string();
        assert!(
            err.starts_with("spec.securityContext.sysctls[0].name:"),
            "{err}"
        );
        let hostnet = spec(serde_json::json!({"containers": [], "hostNetwork": true,
            "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}));
        assert!(for_pod(&hostnet).is_err());
    }
}
