//! What the cluster DNS knows, and what it answers. The agent writes a [`Zone`]
//! (every namespace's Services with their addresses, ports and ready
//! endpoints) after each pass; the resolver answers from the last one it read.
//!
//! The names are Kubernetes' DNS specification's: `<svc>.<ns>.svc.<domain>`
//! (A: the cluster IP, or a headless Service's ready pod IPs; CNAME for an
//! ExternalName Service), `<host>.<svc>.<ns>.svc.<domain>` (a headless
//! Service's pod with that hostname and subdomain), `_<port>._<proto>.<svc>.
//! <ns>.svc.<domain>` (SRV for a named port), `<a-b-c-d>.<ns>.pod.<domain>`.
//! Shorter forms reach these through the pods' search path.
//!
//! One rule is not in the specification: busybox's nslookup (1.35, Debian's)
//! asks every expansion of the search path and the bare name, and fails if any
//! gets NXDOMAIN. So a name in the cluster domain, or a single label, whose
//! first label is an existing Service's name is answered NOERROR with no
//! records; a name no Service has stays NXDOMAIN.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Every Service the resolver answers for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The cluster domain (`cluster.local`).
    pub domain: String,
    /// The Services, of every namespace.
    pub services: Vec<ZoneService>,
}

/// One Service as DNS sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneService {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its cluster IP; none when headless.
    pub cluster_ip: Option<Ipv4Addr>,
    /// An ExternalName Service's target.
    pub external_name: Option<String>,
    /// Its named ports: (name, port, protocol in lower case).
    pub ports: Vec<(String, u16, String)>,
    /// Its ready endpoints: (address, hostname within the Service).
    pub endpoints: Vec<(Ipv4Addr, Option<String>)>,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Addresses.
    A(Vec<Ipv4Addr>),
    /// Another name (an ExternalName Service).
    Cname(String),
    /// Services: (port, target name).
    Srv(Vec<(u16, String)>),
    /// The name exists, with nothing of the type asked.
    NoData,
    /// No such name.
    NxDomain,
    /// Not the cluster's: for the upstream resolvers.
    Forward,
}

/// The kinds of question the resolver tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// An IPv4 address.
    A,
    /// A service record.
    Srv,
    /// Anything else (AAAA, TXT, …): the cluster has none.
    Other,
}

impl Zone {
    fn service(&self, name: &str, namespace: &str) -> Option<&ZoneService> {
        self.services
            .iter()
            .find(|s| s.name == name && s.namespace == namespace)
    }

    fn names(&self) -> BTreeSet<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// The answer to a question of `asked` for `name` (any case, with or
    /// without the final dot).
    pub fn answer(&self, name: &str, asked: Asked) -> Answer {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let domain = self.domain.trim_end_matches('.').to_ascii_lowercase();
        let relative = if name == domain {
            Some("")
        } else {
            name.strip_suffix(&format!(".{domain}"))
        };
        let Some(relative) = relative else {
            // The bare name busybox asks last: not ours to forward.
            if !name.contains('.') && self.names().contains(name.as_str()) {
                return Answer::NoData;
            }
            return Answer::Forward;
        };
        let labels: Vec<&str> = if relative.is_empty() {
            Vec::new()
        } else {
            relative.split('.').collect()
        };
        match labels.as_slice() {
            [] | ["svc"] | ["pod"] | [_, "pod"] => Answer::NoData,
            // A namespace's: known when a Service lives there.
            [ns, "svc"] if self.services.iter().any(|s| s.namespace == *ns) => Answer::NoData,
            [svc, ns, "svc"] => match self.service(svc, ns) {
                Some(s) => self.service_answer(s, asked),
                None => Answer::NxDomain,
            },
            [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
                match self.service(svc, ns) {
                    Some(s) => self.srv(s, &port[1..], &proto[1..], asked),
                    None => Answer::NxDomain,
                }
            }
            [host, svc, ns, "svc"] => {
                let found = self.service(svc, ns).and_then(|s| {
                    s.endpoints
                        .iter()
                        .find(|(_, h)| h.as_deref() == Some(*host))
                        .map(|(ip, _)| *ip)
                });
                match (found, asked) {
                    (Some(ip), Asked::A) => Answer::A(vec![ip]),
                    (Some(_), _) => Answer::NoData,
                    (None, _) => Answer::NxDomain,
                }
            }
            [dashed, _ns, "pod"] => match dashed.replace('-', ".").parse::<Ipv4Addr>() {
                Ok(ip) if asked == Asked::A => Answer::A(vec![ip]),
                Ok(_) => Answer::NoData,
                Err(_) => Answer::NxDomain,
            },
            [first, ..] if self.names().contains(first) => Answer::NoData,
            _ => Answer::NxDomain,
        }
    }

    fn service_answer(&self, s: &ZoneService, asked: Asked) -> Answer {
        if let Some(target) = &s.external_name {
            return Answer::Cname(target.clone());
        }
        match asked {
            Asked::A => match s.cluster_ip {
                Some(ip) => Answer::A(vec![ip]),
                None if s.endpoints.is_empty() => Answer::NoData,
                None => Answer::A(s.endpoints.iter().map(|(ip, _)| *ip).collect()),
            },
            Asked::Srv => {
                let records: Vec<(u16, String)> = s
                    .ports
                    .iter()
                    .flat_map(|(_, port, _)| self.targets(s).into_iter().map(move |t| (*port, t)))
                    .collect();
                if records.is_empty() {
                    Answer::NoData
                } else {
                    Answer::Srv(records)
                }
            }
            Asked::Other => Answer::NoData,
        }
    }

    /// The targets a Service's SRV records name: the Service itself, or a
    /// headless one's pods (by hostname, else by dashed address).
    fn targets(&self, s: &ZoneService) -> Vec<String> {
        let base = format!("{}.{}.svc.{}", s.name, s.namespace, self.domain);
        if s.cluster_ip.is_some() {
            return vec![base];
        }
        s.endpoints
            .iter()
            .map(|(ip, host)| {
                let label = host
                    .clone()
                    .unwrap_or_else(|| ip.to_string().replace('.', "-"));
                format!("{label}.{base}")
            })
            .collect()
    }

    fn srv(&self, s: &ZoneService, port: &str, proto: &str, asked: Asked) -> Answer {
        let ports: Vec<u16> = s
            .ports
            .iter()
            .filter(|(n, _, p)| n == port && p == proto)
            .map(|(_, n, _)| *n)
            .collect();
        if ports.is_empty() {
            return Answer::NxDomain;
        }
        if asked != Asked::Srv {
            return Answer::NoData;
        }
        Answer::Srv(
            ports
                .iter()
                .flat_map(|p| self.targets(s).into_iter().map(move |t| (*p, t)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone {
            domain: "cluster.local".into(),
            services: vec![
                ZoneService {
                    name: "myservice".into(),
                    namespace: "default".into(),
                    cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 20)),
                    ports: vec![("http".into(), 80, "tcp".into())],
                    ..ZoneService::default()
                },
                ZoneService {
                    name: "web".into(),
                    namespace: "shop".into(),
                    cluster_ip: None,
                    ports: vec![("http".into(), 8080, "tcp".into())],
                    endpoints: vec![
                        (Ipv4Addr::new(10, 88, 0, 5), Some("web-0".into())),
                        (Ipv4Addr::new(10, 88, 0, 6), None),
                    ],
                    ..ZoneService::default()
                },
                ZoneService {
                    name: "ext".into(),
                    namespace: "default".into(),
                    external_name: Some("example.org".into()),
                    ..ZoneService::default()
                },
            ],
        }
    }

    #[test]
    fn service_names_answer_their_address() {
        let z = zone();
        let ip = Answer::A(vec![Ipv4Addr::new(10, 96, 0, 20)]);
        assert_eq!(
            z.answer("myservice.default.svc.cluster.local.", Asked::A),
            ip
        );
        assert_eq!(
            z.answer("MyService.Default.svc.cluster.local", Asked::A),
            ip
        );
        assert_eq!(
            z.answer("myservice.default.svc.cluster.local", Asked::Other),
            Answer::NoData
        );
        assert_eq!(
            z.answer("nothere.default.svc.cluster.local", Asked::A),
            Answer::NxDomain
        );
        assert_eq!(
            z.answer("myservice.shop.svc.cluster.local", Asked::A),
            Answer::NxDomain
        );
        assert_eq!(
            z.answer("ext.default.svc.cluster.local", Asked::A),
            Answer::Cname("example.org".into())
        );
    }

    #[test]
    fn headless_services_answer_their_ready_pods_and_their_hostnames() {
        let z = zone();
        assert_eq!(
            z.answer("web.shop.svc.cluster.local", Asked::A),
            Answer::A(vec![
                Ipv4Addr::new(10, 88, 0, 5),
                Ipv4Addr::new(10, 88, 0, 6)
            ])
        );
        assert_eq!(
            z.answer("web-0.web.shop.svc.cluster.local", Asked::A),
            Answer::A(vec![Ipv4Addr::new(10, 88, 0, 5)])
        );
        assert_eq!(
            z.answer("web-9.web.shop.svc.cluster.local", Asked::A),
            Answer::NxDomain
        );
        assert_eq!(
            z.answer("_http._tcp.web.shop.svc.cluster.local", Asked::Srv),
            Answer::Srv(vec![
                (8080, "web-0.web.shop.svc.cluster.local".into()),
                (8080, "10-88-0-6.web.shop.svc.cluster.local".into())
            ])
        );
        assert_eq!(
            z.answer("_http._tcp.myservice.default.svc.cluster.local", Asked::Srv),
            Answer::Srv(vec![(80, "myservice.default.svc.cluster.local".into())])
        );
        assert_eq!(
            z.answer("_ftp._tcp.myservice.default.svc.cluster.local", Asked::Srv),
            Answer::NxDomain
        );
    }

    #[test]
    fn pod_names_are_their_dashed_address() {
        assert_eq!(
            zone().answer("10-88-0-7.default.pod.cluster.local", Asked::A),
            Answer::A(vec![Ipv4Addr::new(10, 88, 0, 7)])
        );
        assert_eq!(
            zone().answer("x-y.default.pod.cluster.local", Asked::A),
            Answer::NxDomain
        );
    }

    #[test]
    fn busyboxs_other_expansions_of_an_existing_service_are_no_data_not_nxdomain() {
        let z = zone();
        for name in [
            "myservice.svc.cluster.local",
            "myservice.cluster.local",
            "myservice",
            "myservice.default.cluster.local",
        ] {
            assert_eq!(z.answer(name, Asked::A), Answer::NoData, "{name}");
        }
        for name in [
            "mydb.svc.cluster.local",
            "mydb.cluster.local",
            "mydb.default.svc.cluster.local",
        ] {
            assert_eq!(z.answer(name, Asked::A), Answer::NxDomain, "{name}");
        }
        assert_eq!(z.answer("mydb", Asked::A), Answer::Forward);
        assert_eq!(z.answer("example.org", Asked::A), Answer::Forward);
        assert_eq!(z.answer("cluster.local", Asked::A), Answer::NoData);
    }
}
