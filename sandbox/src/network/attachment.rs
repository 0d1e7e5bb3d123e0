//! A pod's attachment to its CNI network, as kept in `pod.json`: the exact network
//! config and plugin dirs its ADD used, the capability arguments (port mappings)
//! and, once ADD succeeded, its result. DEL runs from this record, never from the
//! config dir as it is now, so a pod is detached the way it was attached even if
//! the config changed or vanished meanwhile. The record's type is the state's
//! ([`PodNetwork`]); making and undoing the attachment is here.

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Map, Value};

use super::host_ports::{self, HostPort};
use super::{NetworkOptions, POD_IFNAME};
use crate::cni::{Attachment, CniResult, NetworkList, Runtime};
use crate::error::{Error, Result};
use crate::state::record::PodNetwork;

/// The capability the `portmap` plugin declares to receive `hostPort`s.
const PORT_MAPPINGS: &str = "portMappings";

impl PodNetwork {
    /// The attachment of a pod with `ports` to `list`, not yet made. A pod with
    /// host ports needs a plugin declaring the `portMappings` capability: without
    /// one they would silently not be mapped, so that is refused.
    pub(crate) fn plan(
        list: NetworkList,
        opts: &NetworkOptions,
        ports: &[HostPort],
    ) -> Result<Self> {
        let mut capability_args = Map::new();
        if let Some(first) = ports.first() {
            let declared = list.plugins.iter().any(|p| {
                p.get("capabilities")
                    .and_then(|c| c.get(PORT_MAPPINGS))
                    .and_then(Value::as_bool)
                    == Some(true)
            });
            if !declared {
                let source = list
                    .source
                    .as_ref()
                    .map(|s| format!(" ({})", s.display()))
                    .unwrap_or_default();
                return Err(Error::Unsupported {
                    field: first.field.clone(),
                    message: format!(
                        "the CNI network {:?}{source} has no plugin with the portMappings \
                         capability (such as portmap), so host ports cannot be mapped",
                        list.name
                    ),
                });
            }
            capability_args.insert(PORT_MAPPINGS.into(), host_ports::port_mappings(ports));
        }
        Ok(PodNetwork {
            list,
            bin_dirs: opts.bin_dirs.clone(),
            ifname: POD_IFNAME.to_string(),
            capability_args,
            result: None,
        })
    }

    /// ADD: attach the namespace pinned at `netns` of pod `pod_uid`, keeping the
    /// result. On failure the caller runs [`PodNetwork::del`] to release what
    /// the plugins that succeeded set up.
    pub(crate) fn add(&mut self, pod_uid: &str, netns: &Path) -> Result<()> {
        let result = self
            .runtime()
            .add(&self.list, &self.attachment(pod_uid, netns))?;
        self.result = Some(result);
        Ok(())
    }

    /// DEL: detach the pod, every plugin in reverse order, with ADD's result if
    /// there was one. Plugins release what they made even when the namespace is
    /// already gone.
    pub(crate) fn del(&self, pod_uid: &str, netns: &Path) -> Result<()> {
        self.runtime()
            .del(
                &self.list,
                &self.attachment(pod_uid, netns),
                self.result.as_ref(),
            )
            .map_err(Error::from)
    }

    /// The pod's addresses, IPv4 first, as `status.podIPs` lists them.
    pub(crate) fn pod_ips(&self) -> Vec<IpAddr> {
        let mut ips = self
            .result
            .as_ref()
            .map(CniResult::pod_ips)
            .unwrap_or_default();
        ips.sort_by_key(|ip| ip.is_ipv6());
        ips
    }

    fn runtime(&self) -> Runtime {
        Runtime::new(self.bin_dirs.clone())
    }

    fn attachment<'a>(&'a self, pod_uid: &'a str, netns: &'a Path) -> Attachment<'a> {
        Attachment {
            container_id: pod_uid,
            netns,
            ifname: &self.ifname,
            capability_args: self.capability_args.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::builtin;

    fn port(host: i32) -> HostPort {
        HostPort {
            host_port: host,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
            field: "spec.containers[0].ports[0].hostPort".into(),
        }
    }

    #[test]
    fn host_ports_go_to_the_port_mappings_capability() {
        let opts = NetworkOptions::default();
        let list = builtin::network(&opts, Path::new("/run/podrt"));
        let net = PodNetwork::plan(list, &opts, &[port(8080)]).unwrap();
        assert_eq!(
            net.capability_args["portMappings"][0]["hostPort"],
            serde_json::json!(8080)
        );
        let plain = PodNetwork::plan(builtin::network(&opts, Path::new("/r")), &opts, &[]).unwrap();
        assert!(plain.capability_args.is_empty());
    }

    #[test]
    fn host_ports_without_portmap_are_refused_with_the_field() {
        let list = NetworkList::parse(
            r#"{"cniVersion":"1.0.0","name":"flat","plugins":[{"type":"bridge"}]}"#,
            Some(Path::new("/etc/cni/net.d/10-flat.conflist")),
        )
        .unwrap();
        let err = PodNetwork::plan(list, &NetworkOptions::default(), &[port(8080)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("spec.containers[0].ports[0].hostPort:"),
            "{err}"
        );
        assert!(err.contains("10-flat.conflist"), "{err}");
        assert!(err.contains("portMappings"), "{err}");
    }

    #[test]
    fn record_round_trips_through_json() {
        let opts = NetworkOptions::default();
        let mut net =
            PodNetwork::plan(builtin::network(&opts, Path::new("/r")), &opts, &[]).unwrap();
        net.result = Some(
            CniResult::from_json(serde_json::json!({
                "cniVersion": "1.0.0",
                "interfaces": [{"name": "eth0", "sandbox": "/x"}],
                "ips": [{"interface": 0, "address": "10.88.0.7/16", "gateway": "10.88.0.1"}]
            }))
            .unwrap(),
        );
        let text = serde_json::to_string(&net).unwrap();
        let back: PodNetwork = serde_json::from_str(&text).unwrap();
        assert_eq!(back.list, net.list);
        assert_eq!(back.pod_ips(), vec!["10.88.0.7".parse::<IpAddr>().unwrap()]);
    }
}
