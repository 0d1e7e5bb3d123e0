//! `get svc`, `get endpoints`, `get endpointslices` and `describe svc`, with
//! kubectl's columns and page.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Endpoints, Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::age::since;
use super::describe::{annotations, labels, Page};
use super::table;

/// kubectl lists at most this many endpoints in a cell, then `+ N more...`.
const SHOWN: usize = 3;

/// `80/TCP`, or `80:30080/TCP` with a node port.
fn port_cell(p: &ServicePort) -> String {
    let protocol = p.protocol.as_deref().unwrap_or("TCP");
    match p.node_port {
        Some(n) => format!("{}:{n}/{protocol}", p.port),
        None => format!("{}/{protocol}", p.port),
    }
}

/// The `selector` as kubectl's wide column prints it: `app=web,tier=db`.
fn selector_cell(svc: &Service) -> String {
    let selector = svc.spec.as_ref().and_then(|s| s.selector.as_ref());
    match selector.filter(|s| !s.is_empty()) {
        None => "<none>".into(),
        Some(s) => s
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The `get services` table, header included (`-o wide` adds SELECTOR).
pub fn services(items: &[Service], namespaces: bool, wide: bool, now: SystemTime) -> String {
    let mut text = table::namespace_header(namespaces);
    text.push_str("NAME\tTYPE\tCLUSTER-IP\tEXTERNAL-IP\tPORT(S)\tAGE");
    text.push_str(if wide { "\tSELECTOR\n" } else { "\n" });
    for svc in items {
        table::namespace_cell(&mut text, namespaces, svc.metadata.namespace.as_deref());
        let spec = svc.spec.clone().unwrap_or_default();
        let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let external = match kind.as_str() {
            "ExternalName" => spec.external_name.clone().unwrap_or_default(),
            "LoadBalancer" => "<pending>".into(),
            _ => "<none>".into(),
        };
        let ports: Vec<String> = spec.ports.iter().flatten().map(port_cell).collect();
        text.push_str(&format!(
            "{}\t{kind}\t{}\t{external}\t{}\t{}",
            svc.metadata.name.as_deref().unwrap_or_default(),
            spec.cluster_ip.as_deref().unwrap_or("<none>"),
            if ports.is_empty() {
                "<none>".to_string()
            } else {
                ports.join(",")
            },
            since(svc.metadata.creation_timestamp.as_ref(), now)
        ));
        if wide {
            text.push('\t');
            text.push_str(&selector_cell(svc));
        }
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// Up to [`SHOWN`] entries joined by commas, then kubectl's ` + N more...`;
/// `<none>` for none.
fn few(all: &[String]) -> String {
    if all.is_empty() {
        return "<none>".into();
    }
    let mut cell = all
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if all.len() > SHOWN {
        cell.push_str(&format!(" + {} more...", all.len() - SHOWN));
    }
    cell
}

/// An Endpoints object's ready `ip:port` pairs, as kubectl lists them.
pub(crate) fn endpoint_pairs(e: &Endpoints) -> Vec<String> {
    let mut out = Vec::new();
    for s in e.subsets.iter().flatten() {
        let ports: Vec<i32> = s.ports.iter().flatten().map(|p| p.port).collect();
        for a in s.addresses.iter().flatten() {
            if ports.is_empty() {
                out.push(a.ip.clone());
            }
            for p in &ports {
                out.push(format!("{}:{p}", a.ip));
            }
        }
    }
    out
}

/// The `get endpoints` table, header included.
pub fn endpoints(items: &[Endpoints], namespaces: bool, _wide: bool, now: SystemTime) -> String {
    let mut text = table::namespace_header(namespaces);
    text.push_str("NAME\tENDPOINTS\tAGE\n");
    for e in items {
        table::namespace_cell(&mut text, namespaces, e.metadata.namespace.as_deref());
        text.push_str(&format!(
            "{}\t{}\t{}\n",
            e.metadata.name.as_deref().unwrap_or_default(),
            few(&endpoint_pairs(e)),
            since(e.metadata.creation_timestamp.as_ref(), now)
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `get endpointslices` table, header included.
pub fn endpoint_slices(
    items: &[EndpointSlice],
    namespaces: bool,
    _wide: bool,
    now: SystemTime,
) -> String {
    let mut text = table::namespace_header(namespaces);
    text.push_str("NAME\tADDRESSTYPE\tPORTS\tENDPOINTS\tAGE\n");
    for s in items {
        table::namespace_cell(&mut text, namespaces, s.metadata.namespace.as_deref());
        let ports: Vec<String> = s
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.port.map(|n| n.to_string()))
            .collect();
        let addresses: Vec<String> = s
            .endpoints
            .iter()
            .flatten()
            .flat_map(|e| e.addresses.iter().cloned())
            .collect();
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            s.metadata.name.as_deref().unwrap_or_default(),
            s.address_type,
            if ports.is_empty() {
                "<unset>".to_string()
            } else {
                ports.join(",")
            },
            few(&addresses),
            since(s.metadata.creation_timestamp.as_ref(), now)
        ));
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// The `describe service` page; `endpoints` are its Endpoints, if any.
pub fn describe_service(svc: &Service, endpoints: Option<&Endpoints>) -> String {
    let mut w = Page::default();
    let meta = &svc.metadata;
    w.line(
        0,
        format!("Name:\t{}", meta.name.as_deref().unwrap_or_default()),
    );
    w.line(
        0,
        format!(
            "Namespace:\t{}",
            meta.namespace.as_deref().unwrap_or("default")
        ),
    );
    labels(&mut w, "Labels", meta.labels.as_ref());
    annotations(&mut w, meta.annotations.as_ref());
    w.line(0, format!("Selector:\t{}", selector_cell(svc)));
    let spec = svc.spec.clone().unwrap_or_default();
    let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
    w.line(0, format!("Type:\t{kind}"));
    if kind == "ExternalName" {
        w.line(
            0,
            format!(
                "External Name:\t{}",
                spec.external_name.as_deref().unwrap_or_default()
            ),
        );
    } else {
        w.line(
            0,
            format!(
                "IP Family Policy:\t{}",
                spec.ip_family_policy.as_deref().unwrap_or("SingleStack")
            ),
        );
        w.line(
            0,
            format!(
                "IP Families:\t{}",
                spec.ip_families.clone().unwrap_or_default().join(",")
            ),
        );
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        w.line(0, format!("IP:\t{ip}"));
        w.line(0, format!("IPs:\t{ip}"));
    }
    let pairs = endpoints.map(endpoint_pairs).unwrap_or_default();
    for p in spec.ports.iter().flatten() {
        let name = p.name.clone().unwrap_or_else(|| "<unset>".into());
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        w.line(0, format!("Port:\t{name}\t{}/{protocol}", p.port));
        let target = match &p.target_port {
            Some(IntOrString::Int(n)) => n.to_string(),
            Some(IntOrString::String(s)) => s.clone(),
            None => p.port.to_string(),
        };
        w.line(0, format!("TargetPort:\t{target}/{protocol}"));
        if let Some(n) = p.node_port {
            w.line(0, format!("NodePort:\t{name}\t{n}/{protocol}"));
        }
        w.line(0, format!("Endpoints:\t{}", few(&pairs)));
    }
    if spec.ports.as_ref().is_none_or(|p| p.is_empty()) {
        w.line(0, format!("Endpoints:\t{}", few(&pairs)));
    }
    w.line(
        0,
        format!(
            "Session Affinity:\t{}",
            spec.session_affinity.as_deref().unwrap_or("None")
        ),
    );
    if let Some(policy) = &spec.internal_traffic_policy {
        w.line(0, format!("Internal Traffic Policy:\t{policy}"));
    }
    w.line(0, "Events:\t<none>");
    w.finish()
}
