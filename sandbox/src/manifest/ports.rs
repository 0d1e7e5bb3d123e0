//! `ports` of each container. The containers of a pod share one network
//! namespace (DESIGN.md P3), so a `containerPort`/protocol pair may appear
//! only once across the pod's app containers, and a `hostPort` only once.

use std::collections::HashSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::ContainerPort;

use super::names;
use super::report::{FieldPath, Report};

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Ports already claimed by earlier app containers of the pod.
#[derive(Debug, Default)]
pub(super) struct PodPorts {
    container: HashSet<(i32, String)>,
    host: HashSet<(i32, String, String)>,
}

/// Validates one container's ports. `pod_ports` is `None` for init containers,
/// which run before the app containers and may reuse their ports.
pub(super) fn validate_ports(
    ports: &[ContainerPort],
    container: &FieldPath,
    host_network: bool,
    mut pod_ports: Option<&mut PodPorts>,
    report: &mut Report,
) {
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let path = container.key("ports").index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let field = path.key("name");
            if let Err(e) = names::iana_svc_name(name) {
                report.invalid(&field, name, &e);
            } else if !names_seen.insert(name) {
                report.duplicate(&field, name);
            }
        }
        let port_field = path.key("containerPort");
        let port_ok = match port.container_port {
            0 => {
                report.required(&port_field);
                false
            }
            1..=65535 => true,
            n => {
                report.invalid_number(
                    &port_field,
                    n.into(),
                    "must be between 1 and 65535, inclusive",
                );
                false
            }
        };
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        let protocol_ok = PROTOCOLS.contains(&protocol);
        if !protocol_ok {
            report.unsupported(&path.key("protocol"), protocol, &PROTOCOLS);
        }
        let host_ip = port.host_ip.as_deref().unwrap_or("");
        if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
            report.invalid(&path.key("hostIP"), host_ip, "must be a valid IP address");
        }
        let host_port = host_port(port, &path, host_network, report);
        if !(port_ok && protocol_ok) {
            continue;
        }
        let Some(pod_ports) = pod_ports.as_deref_mut() else {
            continue;
        };
        let key = format!("{}/{protocol}", port.container_port);
        if !pod_ports
            .container
            .insert((port.container_port, protocol.to_string()))
        {
            report.duplicate(&port_field, &key);
        }
        if let Some(h) = host_port {
            if !pod_ports
                .host
                .insert((h, protocol.to_string(), host_ip.to_string()))
            {
                report.duplicate(&path.key("hostPort"), &format!("{h}/{protocol}"));
            }
        }
    }
}

/// Checks `hostPort`; returns it when it is set and valid.
fn host_port(
    port: &ContainerPort,
    path: &FieldPath,
    host_network: bool,
    report: &mut Report,
) -> Option<i32> {
    let field = path.key("hostPort");
    match port.host_port {
        None | Some(0) => None,
        Some(h @ 1..=65535) => {
            if host_network && h != port.container_port {
                report.invalid_number(
                    &field,
                    h.into(),
                    "must match containerPort when hostNetwork is true",
                );
                return None;
            }
            Some(h)
        }
        Some(h) => {
            report.invalid_number(&field, h.into(), "must be between 1 and 65535, inclusive");
            None
        }
    }
}
