//! The endpoints controller: for each Service with a selector, the `v1`
//! Endpoints of the same name and its `discovery.k8s.io/v1` EndpointSlices,
//! computed from the pods of its namespace whose labels match and that have an
//! address. In Endpoints a Ready pod is an address and one not Ready a
//! not-ready address; a pod being deleted leaves them at once (the seed's
//! termination step 5: the delete nudges the agent, whose next pass writes
//! them without it). EndpointSlices keep a terminating pod with the
//! `terminating` condition, as Kubernetes does. A `targetPort` given by name is
//! resolved per pod from its containers' named ports; pods that resolve the
//! ports differently get subsets (and slices) of their own.
//!
//! A Service without a selector gets neither: its endpoints are the user's.
//! Endpoints and slices whose Service is gone, or lost its selector, go.
//! [`endpoints_for`] and [`groups`] are pure; [`sync`] stores what changed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Service,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Resource;
use podrt_sandbox::manifest::names;

use super::pods::{Life, PodView};
use crate::error::Result;
use crate::objects::is_headless;
use crate::store::Store;

/// The label naming an EndpointSlice's Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Kubernetes' endpoint slice controller's name, which podrt's takes.
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// The label Kubernetes puts on a headless Service's endpoints.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// One pod behind a Service, with the ports it serves the Service's on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend<'a> {
    /// The pod.
    pub(crate) pod: &'a PodView,
    /// Its address.
    pub(crate) ip: &'a str,
}

/// A Service port resolved on a pod: (name, port, protocol).
pub(crate) type Resolved = (Option<String>, i32, String);

/// The pods behind `svc` (matching its selector, with an address, not
/// finished), grouped by the ports they resolve its ports to, ports sorted.
/// A pod that resolves none of them serves nothing and is left out.
pub(crate) fn groups<'a>(
    svc: &Service,
    pods: &'a [PodView],
) -> BTreeMap<Vec<Resolved>, Vec<Backend<'a>>> {
    let spec = svc.spec.clone().unwrap_or_default();
    let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
        return BTreeMap::new();
    };
    let mut out: BTreeMap<Vec<Resolved>, Vec<Backend<'a>>> = BTreeMap::new();
    for pod in pods {
        let Some(ip) = pod.net.ip.as_deref() else {
            continue;
        };
        if pod.finished() || !selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            continue;
        }
        let mut ports: Vec<Resolved> = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                let port = match &p.target_port {
                    None => p.port,
                    Some(IntOrString::Int(n)) => *n,
                    Some(IntOrString::String(name)) => {
                        let (n, proto) = pod.net.ports.get(name)?;
                        if *proto != protocol {
                            return None;
                        }
                        *n
                    }
                };
                Some((p.name.clone().filter(|n| !n.is_empty()), port, protocol))
            })
            .collect();
        // A headless Service without ports still lists its pods.
        if ports.is_empty() && spec.ports.as_ref().is_some_and(|p| !p.is_empty()) {
            continue;
        }
        ports.sort();
        out.entry(ports).or_default().push(Backend { pod, ip });
    }
    out
}

fn target(pod: &PodView) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        name: Some(pod.name.clone()),
        namespace: Some(pod.namespace.clone()),
        uid: Some(pod.net.uid.clone()).filter(|u| !u.is_empty()),
        ..ObjectReference::default()
    }
}

/// The pod's hostname in the Service's DNS: its `hostname`, when its
/// `subdomain` is the Service.
fn dns_hostname(svc_name: &str, pod: &PodView) -> Option<String> {
    (pod.net.subdomain.as_deref() == Some(svc_name))
        .then(|| pod.net.hostname.clone())
        .flatten()
}

/// The labels of `svc`'s Endpoints: the Service's, and the headless mark.
fn labels_of(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.to_string(), String::new());
    }
    labels
}

/// The subsets of `svc`'s Endpoints on node `node`: per group of ports, the
/// Ready pods as addresses and the others as not-ready addresses; pods being
/// deleted are in neither.
pub(crate) fn endpoints_for(svc: &Service, pods: &[PodView], node: &str) -> Vec<EndpointSubset> {
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let mut subsets = Vec::new();
    for (ports, backends) in groups(svc, pods) {
        let address = |b: &Backend<'_>| EndpointAddress {
            ip: b.ip.to_string(),
            hostname: dns_hostname(name, b.pod),
            node_name: Some(node.to_string()).filter(|n| !n.is_empty()),
            target_ref: Some(target(b.pod)),
        };
        let live: Vec<&Backend<'_>> = backends
            .iter()
            .filter(|b| b.pod.life != Life::Terminating)
            .collect();
        let mut ready: Vec<EndpointAddress> = live
            .iter()
            .filter(|b| b.pod.ready())
            .map(|b| address(b))
            .collect();
        let mut not_ready: Vec<EndpointAddress> = live
            .iter()
            .filter(|b| !b.pod.ready())
            .map(|b| address(b))
            .collect();
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        ready.sort_by(|a, b| a.ip.cmp(&b.ip));
        not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
        subsets.push(EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .into_iter()
                    .map(|(name, port, protocol)| EndpointPort {
                        name,
                        port,
                        protocol: Some(protocol),
                        app_protocol: None,
                    })
                    .collect()
            }),
        });
    }
    subsets
}

/// The slices' contents for `svc`: per group of ports, its endpoints (pods
/// being deleted with the `terminating` condition) and ports.
fn slice_contents(
    svc: &Service,
    pods: &[PodView],
    node: &str,
) -> Vec<(Vec<Endpoint>, Vec<SlicePort>)> {
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    groups(svc, pods)
        .into_iter()
        .map(|(ports, backends)| {
            let mut endpoints: Vec<Endpoint> = backends
                .iter()
                .map(|b| {
                    let terminating = b.pod.life == Life::Terminating;
                    Endpoint {
                        addresses: vec![b.ip.to_string()],
                        conditions: Some(EndpointConditions {
                            ready: Some(b.pod.ready()),
                            serving: Some(b.pod.ready()),
                            terminating: Some(terminating),
                        }),
                        hostname: dns_hostname(name, b.pod),
                        node_name: Some(node.to_string()).filter(|n| !n.is_empty()),
                        target_ref: Some(target(b.pod)),
                        ..Endpoint::default()
                    }
                })
                .collect();
            endpoints.sort_by(|a, b| a.addresses.cmp(&b.addresses));
            let ports = ports
                .into_iter()
                .map(|(name, port, protocol)| SlicePort {
                    name,
                    port: Some(port),
                    protocol: Some(protocol),
                    app_protocol: None,
                })
                .collect();
            (endpoints, ports)
        })
        .collect()
}

fn owner(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: Service::KIND.into(),
        name: svc.metadata.name.clone().unwrap_or_default(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata for a new object of `svc`'s, named `name`, labelled `labels`.
fn new_meta(svc: &Service, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: svc.metadata.namespace.clone(),
        labels: Some(labels),
        uid: Some(uuid::Uuid::new_v4().to_string()),
        creation_timestamp: Some(Time(jiff::Timestamp::now())),
        ..ObjectMeta::default()
    }
}

/// A Service as a pass left it: with the subsets of its Endpoints (none
/// without a selector), for the cluster DNS.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Served {
    /// The Service.
    pub(crate) service: Service,
    /// Its Endpoints' subsets.
    pub(crate) subsets: Vec<EndpointSubset>,
}

/// One pass over the Services of the store's namespace: the Endpoints and
/// slices of those with a selector written where they changed, and those of
/// Services gone (or without a selector now) removed. `node` is this node's
/// name, as endpoints carry it. Every Service with its subsets.
pub(crate) fn sync(
    store: &Store,
    services: &[Service],
    pods: &[PodView],
    node: &str,
) -> Result<Vec<Served>> {
    let selecting: BTreeMap<&str, &Service> = services
        .iter()
        .filter(|s| {
            s.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|s| !s.is_empty())
        })
        .filter_map(|s| Some((s.metadata.name.as_deref()?, s)))
        .collect();
    // Read once: what each Service has, and what is left of those gone.
    let mut stored_endpoints: BTreeMap<String, Endpoints> = store
        .list::<Endpoints>()?
        .into_iter()
        .filter_map(|e| Some((e.metadata.name.clone()?, e)))
        .collect();
    let stored_slices: Vec<EndpointSlice> = store.list()?;
    let mut served: BTreeMap<&str, Vec<EndpointSubset>> = BTreeMap::new();
    for (name, svc) in &selecting {
        let computed = endpoints_for(svc, pods, node);
        served.insert(name, computed.clone());
        let subsets = (!computed.is_empty()).then_some(computed);
        let labels = labels_of(svc);
        let stored = stored_endpoints.remove(*name);
        let changed = stored
            .as_ref()
            .is_none_or(|e| e.subsets != subsets || e.metadata.labels.as_ref() != Some(&labels));
        if changed {
            let mut meta = stored
                .map(|e| e.metadata)
                .unwrap_or_else(|| new_meta(svc, name.to_string(), labels.clone()));
            meta.labels = Some(labels);
            store.put(&Endpoints {
                metadata: meta,
                subsets,
            })?;
        }
        sync_slices(store, svc, &stored_slices, pods, node)?;
    }
    for name in stored_endpoints.keys() {
        store.remove::<Endpoints>(name)?;
    }
    for slice in &stored_slices {
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        let managed = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY);
        let of = labels
            .get(SERVICE_NAME_LABEL)
            .map(String::as_str)
            .unwrap_or_default();
        if managed && !selecting.contains_key(of) {
            store.remove::<EndpointSlice>(slice.metadata.name.as_deref().unwrap_or_default())?;
        }
    }
    Ok(services
        .iter()
        .map(|svc| Served {
            service: svc.clone(),
            subsets: served
                .remove(svc.metadata.name.as_deref().unwrap_or_default())
                .unwrap_or_default(),
        })
        .collect())
}

/// The slices of one Service: one per group of ports, the names of those
/// stored (`stored`: the namespace's slices) kept in order, extra ones removed.
fn sync_slices(
    store: &Store,
    svc: &Service,
    stored: &[EndpointSlice],
    pods: &[PodView],
    node: &str,
) -> Result<()> {
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let mut existing: Vec<EndpointSlice> = stored
        .iter()
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str)
                == Some(name)
        })
        .cloned()
        .collect();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut contents = slice_contents(svc, pods, node);
    // A Service with no pods still has its (empty) slice.
    if contents.is_empty() {
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| matches!(p.target_port, None | Some(IntOrString::Int(_))))
            .map(|p| SlicePort {
                name: p.name.filter(|n| !n.is_empty()),
                port: Some(match p.target_port {
                    Some(IntOrString::Int(n)) => n,
                    _ => p.port,
                }),
                protocol: p.protocol,
                app_protocol: None,
            })
            .collect();
        contents.push((Vec::new(), ports));
    }
    let mut labels = labels_of(svc);
    labels.insert(SERVICE_NAME_LABEL.to_string(), name.to_string());
    labels.insert(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string());
    let mut kept = existing.into_iter();
    for (endpoints, ports) in contents {
        let old = kept.next();
        let ports = (!ports.is_empty()).then_some(ports);
        let endpoints = (!endpoints.is_empty()).then_some(endpoints);
        let same = old.as_ref().is_some_and(|o| {
            o.endpoints == endpoints
                && o.ports == ports
                && o.metadata.labels.as_ref() == Some(&labels)
        });
        if same {
            continue;
        }
        let mut meta = old.map(|o| o.metadata).unwrap_or_else(|| {
            let mut m = new_meta(
                svc,
                names::generate_name(&format!("{name}-")),
                labels.clone(),
            );
            m.owner_references = Some(vec![owner(svc)]);
            m
        });
        meta.labels = Some(labels.clone());
        store.put(&EndpointSlice {
            metadata: meta,
            address_type: "IPv4".into(),
            endpoints,
            ports,
        })?;
    }
    for extra in kept {
        store.remove::<EndpointSlice>(extra.metadata.name.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::pods::PodNet;

    fn pod(name: &str, ip: &str, life: Life, ports: &[(&str, i32)]) -> PodView {
        PodView {
            name: name.into(),
            namespace: "default".into(),
            owner_uid: None,
            owner_kind: None,
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            created: String::new(),
            restarts: 0,
            life,
            ready_since: None,
            net: PodNet {
                uid: format!("uid-{name}"),
                ip: Some(ip.to_string()).filter(|i| !i.is_empty()),
                hostname: Some(name.into()),
                subdomain: Some("web".into()),
                ports: ports
                    .iter()
                    .map(|(n, p)| (n.to_string(), (*p, "TCP".to_string())))
                    .collect(),
            },
        }
    }

    fn service(target: IntOrString) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc"},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": target}]
            }
        }))
        .unwrap()
    }

    const UP: Life = Life::Active { ready: true };
    const STARTING: Life = Life::Active { ready: false };

    #[test]
    fn ready_pods_are_addresses_others_not_ready_and_terminating_ones_gone() {
        let pods = [
            pod("web-0", "10.88.0.2", UP, &[]),
            pod("web-1", "10.88.0.3", STARTING, &[]),
            pod("web-2", "10.88.0.4", Life::Terminating, &[]),
            pod("web-3", "", UP, &[]),
            pod("web-4", "10.88.0.6", Life::Succeeded, &[]),
        ];
        let subsets = endpoints_for(&service(IntOrString::Int(8080)), &pods, "node1");
        assert_eq!(subsets.len(), 1);
        let s = &subsets[0];
        let ips = |a: &Option<Vec<EndpointAddress>>| -> Vec<String> {
            a.iter().flatten().map(|a| a.ip.clone()).collect()
        };
        assert_eq!(ips(&s.addresses), ["10.88.0.2"]);
        assert_eq!(ips(&s.not_ready_addresses), ["10.88.0.3"]);
        let a = &s.addresses.as_ref().unwrap()[0];
        assert_eq!(a.hostname.as_deref(), Some("web-0"));
        assert_eq!(a.node_name.as_deref(), Some("node1"));
        assert_eq!(
            a.target_ref.as_ref().unwrap().uid.as_deref(),
            Some("uid-web-0")
        );
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
        // Slices keep the terminating one, marked.
        let slices = slice_contents(&service(IntOrString::Int(8080)), &pods, "node1");
        let (endpoints, _) = &slices[0];
        assert_eq!(endpoints.len(), 3);
        let going = endpoints
            .iter()
            .find(|e| e.addresses == ["10.88.0.4"])
            .unwrap();
        assert_eq!(going.conditions.as_ref().unwrap().terminating, Some(true));
    }

    #[test]
    fn a_named_target_port_resolves_per_pod() {
        let pods = [
            pod("a", "10.88.0.2", UP, &[("web", 8080)]),
            pod("b", "10.88.0.3", UP, &[("web", 9090)]),
            pod("c", "10.88.0.4", UP, &[]),
        ];
        let subsets = endpoints_for(&service(IntOrString::String("web".into())), &pods, "");
        let mut seen: Vec<(String, i32)> = subsets
            .iter()
            .map(|s| {
                (
                    s.addresses.as_ref().unwrap()[0].ip.clone(),
                    s.ports.as_ref().unwrap()[0].port,
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("10.88.0.2".to_string(), 8080),
                ("10.88.0.3".to_string(), 9090)
            ]
        );
    }

    #[test]
    fn no_selector_no_endpoints() {
        let mut svc = service(IntOrString::Int(80));
        svc.spec.as_mut().unwrap().selector = None;
        assert!(groups(&svc, &[pod("a", "10.88.0.2", UP, &[])]).is_empty());
    }
}
