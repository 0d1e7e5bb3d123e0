//! Services as the API server takes them: the checks of a Service's fields, and
//! what it fills in — the type (ClusterIP), TCP, a `targetPort` equal to the
//! port, session affinity None, one IPv4 family — and what it allocates: a
//! cluster IP from the service range (`--service-cidr`, 10.96.0.0/12 by
//! default), and for NodePort (and LoadBalancer, which on one host is a
//! NodePort whose external IP stays pending) a node port per port from
//! 30000–32767. Addresses and node ports are unique across every namespace; an
//! address or port the user asks for must be free and in range. Once set, a
//! cluster IP never changes; an apply that does not name one (or a node port)
//! keeps the one allocated, as the API server's merge does.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podrt_sandbox::manifest::names;

/// The service range when none is given (kube-apiserver's default).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
/// The node port range when none is given.
pub const DEFAULT_NODE_PORTS: &str = "30000-32767";

/// The types podrt takes.
const TYPES: &str = "\"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"";

/// Where Services get their addresses and node ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// The range's first address.
    base: u32,
    /// Its prefix length.
    prefix: u8,
    /// The lowest node port.
    first_port: i32,
    /// The highest node port.
    last_port: i32,
}

impl ServiceNetwork {
    /// The range `cidr` (`10.96.0.0/12`) and the node ports `ports`
    /// (`30000-32767`); an error names which is malformed.
    pub fn parse(cidr: &str, ports: &str) -> Result<ServiceNetwork, String> {
        let bad_cidr = || format!("service CIDR {cidr:?}: want an IPv4 range such as 10.96.0.0/12");
        let (addr, prefix) = cidr.split_once('/').ok_or_else(bad_cidr)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad_cidr())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad_cidr())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "service CIDR {cidr:?}: the prefix must be between /8 and /30"
            ));
        }
        let mask = u32::MAX << (32 - prefix);
        let bad_ports = || format!("node port range {ports:?}: want FIRST-LAST, e.g. 30000-32767");
        let (first, last) = ports.split_once('-').ok_or_else(bad_ports)?;
        let first: i32 = first.trim().parse().map_err(|_| bad_ports())?;
        let last: i32 = last.trim().parse().map_err(|_| bad_ports())?;
        if !(1..=65535).contains(&first) || !(first..=65535).contains(&last) {
            return Err(bad_ports());
        }
        Ok(ServiceNetwork {
            base: u32::from(addr) & mask,
            prefix,
            first_port: first,
            last_port: last,
        })
    }

    /// The range as `10.96.0.0/12`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    /// Whether `ip` may be a Service's: in the range, neither its network nor
    /// its broadcast address.
    fn holds(&self, ip: Ipv4Addr) -> bool {
        let offset = u32::from(ip).wrapping_sub(self.base);
        offset >= 1 && offset < self.size() - 1
    }
}

impl Default for ServiceNetwork {
    fn default() -> ServiceNetwork {
        ServiceNetwork {
            base: u32::from(Ipv4Addr::new(10, 96, 0, 0)),
            prefix: 12,
            first_port: 30000,
            last_port: 32767,
        }
    }
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip == "None")
}

fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("ClusterIP")
}

fn has_node_ports(spec: &ServiceSpec) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

/// A port as kubectl shows it in errors: `80/TCP`.
fn port_key(p: &ServicePort) -> String {
    format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP"))
}

/// Checks a Service's own fields, as the API server does; each error
/// `field: message`.
pub fn check_service(svc: &Service) -> Vec<String> {
    let mut errors = Vec::new();
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        errors.push("metadata.name: Required value: name or generateName is required".into());
    } else if let Err(e) = names::dns1035_label(name) {
        errors.push(format!("metadata.name: Invalid value: {name:?}: {e}"));
    }
    let spec = svc.spec.clone().unwrap_or_default();
    let kind = service_type(&spec);
    if !matches!(
        kind,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errors.push(format!(
            "spec.type: Unsupported value: {kind:?}: supported values: {TYPES}"
        ));
    }
    if kind == "ExternalName" {
        match spec.external_name.as_deref() {
            None | Some("") => errors.push("spec.externalName: Required value".into()),
            Some(n) => {
                if let Err(e) = names::dns1123_subdomain(n.trim_end_matches('.')) {
                    errors.push(format!("spec.externalName: Invalid value: {n:?}: {e}"));
                }
            }
        }
    }
    let ports = spec.ports.clone().unwrap_or_default();
    if ports.is_empty() && kind != "ExternalName" && !is_headless(svc) {
        errors.push("spec.ports: Required value".into());
    }
    let mut names_seen = HashSet::new();
    let mut keys_seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let field = format!("spec.ports[{i}]");
        match p.name.as_deref() {
            None | Some("") if ports.len() > 1 => {
                errors.push(format!("{field}.name: Required value"));
            }
            None | Some("") => {}
            Some(n) => {
                if let Err(e) = names::dns1123_label(n) {
                    errors.push(format!("{field}.name: Invalid value: {n:?}: {e}"));
                }
                if !names_seen.insert(n.to_string()) {
                    errors.push(format!("{field}.name: Duplicate value: {n:?}"));
                }
            }
        }
        if !(1..=65535).contains(&p.port) {
            errors.push(format!(
                "{field}.port: Invalid value: {}: must be between 1 and 65535, inclusive",
                p.port
            ));
        }
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        if !matches!(protocol, "TCP" | "UDP" | "SCTP") {
            errors.push(format!(
                "{field}.protocol: Unsupported value: {protocol:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""
            ));
        }
        if !keys_seen.insert(port_key(p)) {
            errors.push(format!(
                "{field}: Duplicate value: {:?}: a Service may use a port and protocol once",
                port_key(p)
            ));
        }
        match &p.target_port {
            Some(IntOrString::Int(n)) if !(1..=65535).contains(n) => errors.push(format!(
                "{field}.targetPort: Invalid value: {n}: must be between 1 and 65535, inclusive"
            )),
            Some(IntOrString::String(n)) => {
                if let Err(e) = names::iana_svc_name(n) {
                    errors.push(format!("{field}.targetPort: Invalid value: {n:?}: {e}"));
                }
            }
            _ => {}
        }
        if p.node_port.is_some_and(|n| n != 0) && !has_node_ports(&spec) {
            errors.push(format!(
                "{field}.nodePort: Forbidden: may not be used when `type` is '{kind}'"
            ));
        }
    }
    if is_headless(svc) && kind != "ClusterIP" {
        errors.push(format!(
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for {kind} services"
        ));
    }
    if let Some(ip) = spec
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
    {
        if ip.parse::<Ipv4Addr>().is_err() {
            errors.push(format!(
                "spec.clusterIPs[0]: Invalid value: {ip:?}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ));
        }
    }
    match spec.session_affinity.as_deref() {
        None | Some("None" | "ClientIP") => {}
        Some(other) => errors.push(format!(
            "spec.sessionAffinity: Unsupported value: {other:?}: supported values: \"ClientIP\", \"None\""
        )),
    }
    for (k, v) in spec.selector.iter().flatten() {
        if let Err(e) = names::qualified_name(k) {
            errors.push(format!("spec.selector: Invalid value: {k:?}: {e}"));
        }
        if let Err(e) = names::label_value(v) {
            errors.push(format!("spec.selector: Invalid value: {v:?}: {e}"));
        }
    }
    errors
}

/// A random number for allocations.
fn random() -> u64 {
    // A v4 uuid is 122 random bits from the OS.
    let bits = uuid::Uuid::new_v4().as_u128();
    (bits as u64) ^ ((bits >> 64) as u64)
}

/// Fills in what the API server does on create or update (of `old`), and
/// allocates the cluster IP and node ports; `others` are every other stored
/// Service, in every namespace. The errors, `field: message`.
pub fn complete_service(
    svc: &mut Service,
    old: Option<&Service>,
    others: &[Service],
    net: &ServiceNetwork,
) -> Vec<String> {
    let mut errors = Vec::new();
    let old_spec = old.and_then(|o| o.spec.clone()).unwrap_or_default();
    let spec = svc.spec.get_or_insert_with(Default::default);
    let kind = service_type(spec).to_string();
    spec.type_ = Some(kind.clone());
    if kind == "ExternalName" {
        spec.cluster_ip = None;
        spec.cluster_ips = None;
        spec.session_affinity.get_or_insert_with(|| "None".into());
        complete_ports(spec, &old_spec, false);
        return errors;
    }
    spec.session_affinity.get_or_insert_with(|| "None".into());
    spec.ip_families = Some(vec!["IPv4".into()]);
    spec.ip_family_policy = Some("SingleStack".into());
    spec.internal_traffic_policy
        .get_or_insert_with(|| "Cluster".into());
    if has_node_ports(spec) {
        spec.external_traffic_policy
            .get_or_insert_with(|| "Cluster".into());
    }
    // The cluster IP: kept, asked for, or allocated.
    let taken: HashSet<&str> = others
        .iter()
        .filter_map(|o| o.spec.as_ref()?.cluster_ip.as_deref())
        .collect();
    let was = old_spec.cluster_ip.clone().filter(|ip| !ip.is_empty());
    let asked = spec.cluster_ip.clone().filter(|ip| !ip.is_empty());
    let ip = match (was, asked) {
        (Some(was), Some(asked)) if was != asked => {
            errors.push(format!(
                "spec.clusterIPs[0]: Invalid value: {asked:?}: may not change once set"
            ));
            was
        }
        (Some(was), _) => was,
        (None, Some(asked)) if asked == "None" => asked,
        (None, Some(asked)) => {
            match asked.parse::<Ipv4Addr>() {
                Ok(a) if !net.holds(a) => errors.push(format!(
                    "spec.clusterIPs: Invalid value: [{asked:?}]: failed to allocate IP {asked}: the provided IP ({asked}) is not in the valid range. The range of valid IPs is {}",
                    net.cidr()
                )),
                Ok(_) if taken.contains(asked.as_str()) => errors.push(format!(
                    "spec.clusterIPs: Invalid value: [{asked:?}]: failed to allocate IP {asked}: provided IP is already allocated"
                )),
                _ => {}
            }
            asked
        }
        (None, None) => match free_ip(net, &taken) {
            Some(ip) => ip,
            None => {
                errors.push(format!(
                    "spec.clusterIPs: Internal error: failed to allocate a serviceIP: range is full ({})",
                    net.cidr()
                ));
                String::new()
            }
        },
    };
    spec.cluster_ip = Some(ip.clone());
    spec.cluster_ips = Some(vec![ip]);
    let taken_ports: HashSet<i32> = others
        .iter()
        .filter_map(|o| o.spec.as_ref()?.ports.as_ref())
        .flatten()
        .filter_map(|p| p.node_port)
        .collect();
    let node_ports = has_node_ports(spec);
    complete_ports(spec, &old_spec, node_ports);
    if node_ports {
        let mut used = taken_ports.clone();
        let ports = spec.ports.iter_mut().flatten();
        for (i, p) in ports.enumerate() {
            match p.node_port.filter(|n| *n != 0) {
                Some(n) if !(net.first_port..=net.last_port).contains(&n) => errors.push(format!(
                    "spec.ports[{i}].nodePort: Invalid value: {n}: provided port is not in the valid range. The range of valid ports is {}-{}",
                    net.first_port, net.last_port
                )),
                Some(n) if !used.insert(n) => errors.push(format!(
                    "spec.ports[{i}].nodePort: Invalid value: {n}: provided port is already allocated"
                )),
                Some(_) => {}
                None => match free_port(net, &used) {
                    Some(n) => {
                        used.insert(n);
                        p.node_port = Some(n);
                    }
                    None => errors.push(format!(
                        "spec.ports[{i}].nodePort: Internal error: failed to allocate a nodePort: range is full"
                    )),
                },
            }
        }
    }
    if svc.status.is_none() {
        svc.status = Some(Default::default());
    }
    errors
}

/// Each port's protocol (TCP) and targetPort (the port) filled in; a node port
/// the user left out kept from `old`'s port of the same number and protocol
/// (when node ports are kept at all), or dropped.
fn complete_ports(spec: &mut ServiceSpec, old: &ServiceSpec, node_ports: bool) {
    let kept: BTreeMap<String, i32> = old
        .ports
        .iter()
        .flatten()
        .filter_map(|p| Some((port_key(p), p.node_port?)))
        .collect();
    for p in spec.ports.iter_mut().flatten() {
        p.protocol.get_or_insert_with(|| "TCP".into());
        p.target_port.get_or_insert(IntOrString::Int(p.port));
        if !node_ports {
            p.node_port = None;
        } else if p.node_port.is_none_or(|n| n == 0) {
            p.node_port = kept.get(&port_key(p)).copied();
        }
    }
}

/// A free address of the range, from a random start.
fn free_ip(net: &ServiceNetwork, taken: &HashSet<&str>) -> Option<String> {
    let usable = u64::from(net.size() - 2);
    let start = random() % usable;
    (0..usable)
        .map(|k| (start + k) % usable + 1)
        .filter_map(|offset| u32::try_from(offset).ok())
        .map(|offset| Ipv4Addr::from(net.base + offset).to_string())
        .find(|ip| !taken.contains(ip.as_str()))
}

/// A free node port, from a random start.
fn free_port(net: &ServiceNetwork, used: &HashSet<i32>) -> Option<i32> {
    let count = u64::try_from(net.last_port - net.first_port + 1).unwrap_or(1);
    let start = random() % count;
    (0..count)
        .filter_map(|k| i32::try_from((start + k) % count).ok())
        .map(|k| net.first_port + k)
        .find(|n| !used.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(name: &str, yaml_spec: serde_json::Value) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(serde_json::from_value(yaml_spec).unwrap()),
            status: None,
        }
    }

    fn plain() -> Service {
        service(
            "myservice",
            serde_json::json!({"ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}]}),
        )
    }

    #[test]
    fn the_seeds_services_pass() {
        assert_eq!(check_service(&plain()), Vec::<String>::new());
        let db = service(
            "mydb",
            serde_json::json!({"ports": [{"protocol": "TCP", "port": 80, "targetPort": 9377}]}),
        );
        assert_eq!(check_service(&db), Vec::<String>::new());
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = service(
            "My_svc",
            serde_json::json!({
                "type": "Balanced",
                "sessionAffinity": "Sticky",
                "ports": [
                    {"name": "web", "port": 80, "targetPort": "Web_Port"},
                    {"name": "web", "port": 80, "protocol": "TCP"},
                    {"port": 70000, "protocol": "HTTP", "targetPort": 0}
                ]
            }),
        );
        let e = check_service(&bad).join("\n");
        for want in [
            "metadata.name: Invalid value: \"My_svc\": a DNS-1035 label",
            "spec.type: Unsupported value: \"Balanced\"",
            "spec.sessionAffinity: Unsupported value: \"Sticky\"",
            "spec.ports[0].targetPort: Invalid value: \"Web_Port\"",
            "spec.ports[1].name: Duplicate value: \"web\"",
            "spec.ports[1]: Duplicate value: \"80/TCP\"",
            "spec.ports[2].name: Required value",
            "spec.ports[2].port: Invalid value: 70000",
            "spec.ports[2].protocol: Unsupported value: \"HTTP\"",
            "spec.ports[2].targetPort: Invalid value: 0",
        ] {
            assert!(e.contains(want), "{want} in:\n{e}");
        }
        let no_ports = service("a", serde_json::json!({}));
        assert_eq!(check_service(&no_ports), ["spec.ports: Required value"]);
        let headless_node_port = service(
            "a",
            serde_json::json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}),
        );
        assert!(check_service(&headless_node_port)[0].contains("may not be set to 'None'"));
        let node_port_on_cluster_ip = service(
            "a",
            serde_json::json!({"ports": [{"port": 80, "nodePort": 30001}]}),
        );
        assert!(check_service(&node_port_on_cluster_ip)[0].contains("nodePort: Forbidden"));
    }

    #[test]
    fn defaults_and_allocations() {
        let net = ServiceNetwork::default();
        let mut svc = plain();
        assert!(complete_service(&mut svc, None, &[], &net).is_empty());
        let spec = svc.spec.clone().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.session_affinity.as_deref(), Some("None"));
        let ip: Ipv4Addr = spec.cluster_ip.clone().unwrap().parse().unwrap();
        assert!(net.holds(ip), "{ip}");
        assert_eq!(spec.cluster_ips, Some(vec![ip.to_string()]));
        assert_eq!(spec.ports.unwrap()[0].protocol.as_deref(), Some("TCP"));
        // Applied again without an address: it keeps its own.
        let mut again = plain();
        assert!(complete_service(&mut again, Some(&svc), &[], &net).is_empty());
        assert_eq!(again, svc);
        // Asked to change it: refused.
        let mut moved = plain();
        moved.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.99".into());
        let e = complete_service(&mut moved, Some(&svc), &[], &net);
        assert!(e[0].contains("may not change once set"), "{e:?}");
        // An address asked for: in range and free.
        let mut fixed = service(
            "b",
            serde_json::json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"}]}),
        );
        assert!(complete_service(&mut fixed, None, &[], &net).is_empty());
        assert_eq!(
            fixed.spec.as_ref().unwrap().cluster_ip.as_deref(),
            Some("10.96.0.10")
        );
        let mut clash = service(
            "c",
            serde_json::json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
        );
        let e = complete_service(&mut clash, None, std::slice::from_ref(&fixed), &net);
        assert!(e[0].contains("provided IP is already allocated"), "{e:?}");
        let mut outside = service(
            "d",
            serde_json::json!({"clusterIP": "192.168.1.1", "ports": [{"port": 53}]}),
        );
        let e = complete_service(&mut outside, None, &[], &net);
        assert!(
            e[0].contains("The range of valid IPs is 10.96.0.0/12"),
            "{e:?}"
        );
        // Headless stays None.
        let mut headless = service(
            "e",
            serde_json::json!({"clusterIP": "None", "ports": [{"port": 80}]}),
        );
        assert!(complete_service(&mut headless, None, &[], &net).is_empty());
        assert!(is_headless(&headless));
    }

    #[test]
    fn node_ports_are_allocated_in_range_kept_and_never_shared() {
        let net = ServiceNetwork::parse("10.100.0.0/24", "30000-30001").unwrap();
        let mut a = service(
            "a",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80}]}),
        );
        assert!(complete_service(&mut a, None, &[], &net).is_empty());
        let port = a.spec.as_ref().unwrap().ports.as_ref().unwrap()[0]
            .node_port
            .unwrap();
        assert!((30000..=30001).contains(&port));
        let ip: Ipv4Addr = a
            .spec
            .as_ref()
            .unwrap()
            .cluster_ip
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        assert!(ip.octets()[..3] == [10, 100, 0] && ip.octets()[3] != 0 && ip.octets()[3] != 255);
        let mut again = service(
            "a",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80}]}),
        );
        assert!(complete_service(&mut again, Some(&a), &[], &net).is_empty());
        assert_eq!(again, a);
        let mut b = service(
            "b",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80}]}),
        );
        assert!(complete_service(&mut b, None, std::slice::from_ref(&a), &net).is_empty());
        let other = b.spec.as_ref().unwrap().ports.as_ref().unwrap()[0]
            .node_port
            .unwrap();
        assert_ne!(other, port);
        let mut c = service(
            "c",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80}]}),
        );
        let e = complete_service(&mut c, None, &[a.clone(), b], &net);
        assert!(e[0].contains("range is full"), "{e:?}");
        let mut taken = service(
            "d",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}),
        );
        let e = complete_service(&mut taken, None, std::slice::from_ref(&a), &net);
        assert!(e[0].contains("provided port is already allocated"), "{e:?}");
        let mut outside = service(
            "e",
            serde_json::json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}),
        );
        let e = complete_service(&mut outside, None, &[], &net);
        assert!(
            e[0].contains("The range of valid ports is 30000-30001"),
            "{e:?}"
        );
        // Back to ClusterIP: the node port goes.
        let mut plain = service("a", serde_json::json!({"ports": [{"port": 80}]}));
        assert!(complete_service(&mut plain, Some(&a), &[], &net).is_empty());
        assert_eq!(plain.spec.unwrap().ports.unwrap()[0].node_port, None);
    }

    #[test]
    fn ranges_parse_or_say_what_is_wrong() {
        let net = ServiceNetwork::parse("10.96.0.0/12", DEFAULT_NODE_PORTS).unwrap();
        assert_eq!(net, ServiceNetwork::default());
        assert_eq!(net.cidr(), "10.96.0.0/12");
        assert!(ServiceNetwork::parse("10.96.0.0", DEFAULT_NODE_PORTS)
            .unwrap_err()
            .contains("service CIDR"));
        assert!(ServiceNetwork::parse("10.96.0.0/31", DEFAULT_NODE_PORTS).is_err());
        assert!(ServiceNetwork::parse(DEFAULT_SERVICE_CIDR, "3-2")
            .unwrap_err()
            .contains("node port range"));
    }
}
