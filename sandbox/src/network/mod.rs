//! The pod's network: which CNI network a pod joins, attaching its pinned network
//! namespace to it when the sandbox is made (ADD) and detaching it when the pod goes
//! (DEL), and the pod's `hostPort`s. The protocol itself is [`crate::cni`]'s; this
//! module decides what to run and keeps what DEL needs in the pod's record.
//!
//! The network is the lexically first config in the CNI config dir, as containerd
//! and CRI-O choose it, or podrt's built-in one ([`builtin`]) when there is none.

pub(crate) mod attachment;
pub mod builtin;
pub mod host_ports;
mod readiness;
pub mod summary;
pub use readiness::readiness;

use std::path::{Path, PathBuf};

use crate::cni::{Cidr, NetworkList};
use crate::error::Result;
use host_ports::HostPort;

/// The interface CNI creates in every pod (`CNI_IFNAME`), as kubelet names it.
pub(crate) const POD_IFNAME: &str = "eth0";

/// Where networks and plugins are found, and the built-in network's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    /// CNI config dir (`--cni-conf-dir`, `/etc/cni/net.d`).
    pub conf_dir: PathBuf,
    /// CNI plugin dirs, searched in order (`--cni-bin-dir`).
    pub bin_dirs: Vec<PathBuf>,
    /// The built-in network's subnet (`--pod-subnet`, `10.88.0.0/16`).
    pub subnet: Cidr,
    /// The built-in network masquerades pod traffic leaving the subnet
    /// (`--pod-masquerade`); off by default, so podrt adds no NAT rule of its own.
    pub masquerade: bool,
}

/// The CNI config dir containerd, CRI-O and podman read.
pub const DEFAULT_CONF_DIR: &str = "/etc/cni/net.d";
/// Where Debian's `containernetworking-plugins` and upstream's tarball put plugins.
pub const DEFAULT_BIN_DIRS: [&str; 2] = ["/usr/lib/cni", "/opt/cni/bin"];
/// The built-in network's default subnet (podman's and CRI-O's default too).
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            conf_dir: PathBuf::from(DEFAULT_CONF_DIR),
            bin_dirs: DEFAULT_BIN_DIRS.iter().map(PathBuf::from).collect(),
            subnet: builtin::default_subnet(),
            masquerade: false,
        }
    }
}

/// The network pods made now join: the first config in the config dir, or the
/// built-in one, whose IP leases live under `root` (they go when the pods do).
pub(crate) fn resolve(opts: &NetworkOptions, root: &Path) -> Result<NetworkList> {
    match NetworkList::load_dir(&opts.conf_dir)? {
        Some(list) => Ok(list),
        None => Ok(builtin::network(opts, root)),
    }
}

/// The gateway of the built-in network (the subnet's first address), where
/// the node agent serves the cluster DNS; none when a config in the config dir
/// is used instead.
pub fn builtin_gateway(opts: &NetworkOptions) -> Result<Option<std::net::Ipv4Addr>> {
    if NetworkList::load_dir(&opts.conf_dir)?.is_some() {
        return Ok(None);
    }
    Ok(match opts.subnet.addr {
        std::net::IpAddr::V4(a) => Some(std::net::Ipv4Addr::from(u32::from(a) + 1)),
        std::net::IpAddr::V6(_) => None,
    })
}

/// The network a pod with `ports` joins: [`resolve`]'s, except that a pod without
/// host ports runs the built-in network without its `portmap` step, which would
/// only cost it a plugin run and a dozen iptables calls each way. (A user's
/// config always runs as written.) The pod's record keeps the list it ran, so
/// its DEL runs the same.
pub(crate) fn for_pod(
    opts: &NetworkOptions,
    root: &Path,
    ports: &[HostPort],
) -> Result<NetworkList> {
    let mut list = resolve(opts, root)?;
    if list.source.is_none() && ports.is_empty() {
        list.plugins
            .retain(|p| p.get("type").and_then(|t| t.as_str()) != Some("portmap"));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_network_runs_portmap_only_for_host_ports() {
        let opts = NetworkOptions {
            conf_dir: PathBuf::from("/nonexistent/net.d"),
            ..NetworkOptions::default()
        };
        let root = Path::new("/r");
        let plain = for_pod(&opts, root, &[]).unwrap();
        assert_eq!(plain.plugins.len(), 1);
        assert_eq!(plain.plugins[0]["type"], "bridge");
        let port = HostPort {
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
            field: String::new(),
        };
        assert_eq!(for_pod(&opts, root, &[port]).unwrap().plugins.len(), 2);
    }
}
