//! What `podrt network ls` shows: the network new pods join and any other network
//! pods are still attached to (the config may have changed since they were made),
//! each with its plugins, subnets and pods.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::NetworkOptions;
use crate::cni::NetworkList;
use crate::error::Result;

/// One network as `network ls` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSummary {
    /// The network's name.
    pub name: String,
    /// Its config file; `None` for the built-in network.
    pub source: Option<PathBuf>,
    /// Plugin types in chain order.
    pub plugins: Vec<String>,
    /// Subnets of its IPAM ranges, as written in the config.
    pub subnets: Vec<String>,
    /// New pods join this one.
    pub current: bool,
    /// Pods attached to it, with their addresses.
    pub pods: Vec<(String, Vec<String>)>,
}

impl NetworkSummary {
    fn of(list: &NetworkList, current: bool) -> NetworkSummary {
        NetworkSummary {
            name: list.name.clone(),
            source: list.source.clone(),
            plugins: list
                .plugins
                .iter()
                .map(|p| p["type"].as_str().unwrap_or("").to_string())
                .collect(),
            subnets: list.plugins.iter().flat_map(subnets).collect(),
            current,
            pods: Vec::new(),
        }
    }
}

/// The networks in use under `root`: the current one first.
pub fn list(opts: &NetworkOptions, root: &Path) -> Result<Vec<NetworkSummary>> {
    let current = super::resolve(opts, root)?;
    let mut out = vec![NetworkSummary::of(&current, true)];
    for pod in crate::state::listing::list_pod_sandboxes(root)? {
        let Some(net) = &pod.record.network else {
            continue;
        };
        let ips = net.pod_ips().iter().map(ToString::to_string).collect();
        let same = |s: &NetworkSummary| s.name == net.list.name && s.source == net.list.source;
        let i = match out.iter().position(same) {
            Some(i) => i,
            None => {
                out.push(NetworkSummary::of(&net.list, false));
                out.len() - 1
            }
        };
        out[i].pods.push((pod.record.name.clone(), ips));
    }
    Ok(out)
}

/// The subnets a plugin's IPAM section names (`ranges` or the older `subnet`).
fn subnets(plugin: &Value) -> Vec<String> {
    let Some(ipam) = plugin.get("ipam") else {
        return Vec::new();
    };
    let mut out: Vec<String> = ipam["ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|r| r["subnet"].as_str().map(String::from))
        .collect();
    if let Some(s) = ipam["subnet"].as_str() {
        out.push(s.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_the_built_in_network() {
        let list = super::super::builtin::network(&NetworkOptions::default(), Path::new("/r"));
        let s = NetworkSummary::of(&list, true);
        assert_eq!(s.plugins, ["bridge", "portmap"]);
        assert_eq!(s.subnets, ["10.88.0.0/16"]);
        assert!(s.source.is_none());
    }

    #[test]
    fn old_style_subnet_is_found() {
        let p = serde_json::json!({"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}});
        assert_eq!(subnets(&p), ["10.1.0.0/24"]);
    }
}
