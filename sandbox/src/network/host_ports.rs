//! A pod's `hostPort`s: the port mappings handed to the CNI `portmap` plugin
//! (capability `portMappings`), and the check that no two pods on this host claim
//! the same host port, made before anything of the new pod exists. As in
//! Kubernetes, every `containerPort` of a `hostNetwork` pod is a host port too.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde::Deserialize;
use serde_json::{json, Value};

/// The annotation of a pod kubelet made over the CRI that holds the sandbox's
/// port mappings (`PodSandboxConfig.port_mappings`): JSON, a list of
/// `{"containerPort", "hostPort", "protocol", "hostIP"}` as in CNI's
/// `portMappings`. kubelet gives them for the sandbox, before any container.
pub const PORT_MAPPINGS_ANNOTATION: &str = "podrt.io/port-mappings";

/// One entry of [`PORT_MAPPINGS_ANNOTATION`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// The port in the pod.
    pub container_port: i32,
    /// The port on the host.
    pub host_port: i32,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The host address it is bound to; empty for all.
    #[serde(default, rename = "hostIP", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// One host port a pod claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    /// The port on the host.
    pub(crate) host_port: i32,
    /// The port in the pod.
    pub(crate) container_port: i32,
    /// `tcp`, `udp` or `sctp` (CNI writes them in lower case).
    pub(crate) protocol: String,
    /// The host address it is bound to; empty for all.
    pub(crate) host_ip: String,
    /// Where it is in the manifest: `spec.containers[0].ports[1].hostPort`.
    pub(crate) field: String,
}

impl HostPort {
    /// Do the two claim the same port on some host address?
    pub(crate) fn clashes_with(&self, other: &HostPort) -> bool {
        let any =
            |ip: &str| ip.is_empty() || ip.parse::<IpAddr>().is_ok_and(|a| a.is_unspecified());
        self.host_port == other.host_port
            && self.protocol == other.protocol
            && (any(&self.host_ip) || any(&other.host_ip) || self.host_ip == other.host_ip)
    }
}

/// The host ports of a pod: its app containers' ([`of`]) and, for a pod
/// kubelet made, its sandbox's ([`PORT_MAPPINGS_ANNOTATION`]; unreadable ones
/// were refused when it was made, and count as none).
pub(crate) fn of_pod(pod: &Pod) -> Vec<HostPort> {
    let mut out = of(&pod.spec.clone().unwrap_or_default());
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PORT_MAPPINGS_ANNOTATION));
    let mappings: Vec<PortMapping> = annotated
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    for (i, m) in mappings.into_iter().enumerate() {
        out.push(HostPort {
            host_port: m.host_port,
            container_port: m.container_port,
            protocol: m.protocol.to_lowercase(),
            host_ip: m.host_ip,
            field: format!("port_mappings[{i}].host_port"),
        });
    }
    out
}

/// The host ports of a pod's app containers (init containers get no mappings, as
/// with kubelet).
pub(crate) fn of(spec: &PodSpec) -> Vec<HostPort> {
    let host_network = spec.host_network == Some(true);
    let mut out = Vec::new();
    for (c, container) in spec.containers.iter().enumerate() {
        for (p, port) in container.ports.iter().flatten().enumerate() {
            let host_port = match port.host_port {
                Some(h) if h > 0 => h,
                _ if host_network => port.container_port,
                _ => continue,
            };
            out.push(HostPort {
                host_port,
                container_port: port.container_port,
                protocol: port.protocol.as_deref().unwrap_or("TCP").to_lowercase(),
                host_ip: port.host_ip.clone().unwrap_or_default(),
                field: format!("spec.containers[{c}].ports[{p}].hostPort"),
            });
        }
    }
    out
}

/// The `portMappings` capability argument for these ports.
pub(crate) fn port_mappings(ports: &[HostPort]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|p| {
                let mut m = json!({
                    "hostPort": p.host_port,
                    "containerPort": p.container_port,
                    "protocol": p.protocol,
                });
                if !p.host_ip.is_empty() {
                    m["hostIP"] = Value::String(p.host_ip.clone());
                }
                m
            })
            .collect(),
    )
}

/// The first of `wanted` that clashes with a port of `taken`, with the one it
/// clashes with.
pub(crate) fn first_clash<'a>(
    wanted: &'a [HostPort],
    taken: &'a [HostPort],
) -> Option<(&'a HostPort, &'a HostPort)> {
    wanted
        .iter()
        .find_map(|w| taken.iter().find(|t| w.clashes_with(t)).map(|t| (w, t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: Value) -> PodSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn host_ports_of_a_pod() {
        let s = spec(json!({"containers": [
            {"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 8080, "hostPort": 18080}]},
            {"name": "b", "ports": [{"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"}]}
        ]}));
        let ports = of(&s);
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].field, "spec.containers[0].ports[1].hostPort");
        assert_eq!(ports[1].protocol, "udp");
        assert_eq!(
            port_mappings(&ports),
            json!([
                {"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"},
                {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}
            ])
        );
    }

    #[test]
    fn host_network_container_ports_are_host_ports() {
        let s = spec(json!({"hostNetwork": true, "containers": [
            {"name": "a", "ports": [{"containerPort": 9090}]}]}));
        assert_eq!(of(&s)[0].host_port, 9090);
    }

    #[test]
    fn clashes_need_port_protocol_and_overlapping_address() {
        let p = |port: i32, proto: &str, ip: &str| HostPort {
            host_port: port,
            container_port: 80,
            protocol: proto.into(),
            host_ip: ip.into(),
            field: String::new(),
        };
        assert!(p(8080, "tcp", "").clashes_with(&p(8080, "tcp", "10.0.0.1")));
        assert!(p(8080, "tcp", "0.0.0.0").clashes_with(&p(8080, "tcp", "10.0.0.1")));
        assert!(!p(8080, "tcp", "").clashes_with(&p(8080, "udp", "")));
        assert!(!p(8080, "tcp", "").clashes_with(&p(8081, "tcp", "")));
        assert!(!p(8080, "tcp", "10.0.0.2").clashes_with(&p(8080, "tcp", "10.0.0.1")));
        let wanted = [p(1, "tcp", ""), p(2, "tcp", "")];
        let taken = [p(2, "tcp", "")];
        assert_eq!(first_clash(&wanted, &taken).unwrap().0.host_port, 2);
    }
}
