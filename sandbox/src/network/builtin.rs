//! podrt's own network, used when the CNI config dir has none: a `bridge` plugin
//! (bridge `podrt0`, the subnet's first address as gateway, hairpin on so a pod can
//! reach itself through its hostPort, no masquerade unless asked) with `host-local`
//! IPAM, then `portmap` for `hostPort`s. Loopback needs no plugin: podrt brings `lo`
//! up itself when it makes the namespace ([`crate::pod::pins`]).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde_json::json;

use super::NetworkOptions;
use crate::cni::{Cidr, NetworkList};
use crate::state::paths;

/// The built-in network's name, and the name of its IPAM store.
pub(crate) const NAME: &str = "podrt";
/// The built-in network's bridge on the host.
pub(crate) const BRIDGE: &str = "podrt0";

/// `10.88.0.0/16`.
pub(crate) fn default_subnet() -> Cidr {
    Cidr {
        addr: IpAddr::V4(Ipv4Addr::new(10, 88, 0, 0)),
        prefix_len: 16,
    }
}

/// Checks a subnet given for the built-in network: IPv4, room for a gateway and
/// at least two pods, and written as its network address.
pub fn check_subnet(subnet: &Cidr) -> Result<(), String> {
    let IpAddr::V4(addr) = subnet.addr else {
        return Err(format!(
            "{subnet}: the built-in network takes an IPv4 subnet"
        ));
    };
    if subnet.prefix_len > 29 || subnet.prefix_len < 8 {
        return Err(format!(
            "{subnet}: the prefix length must be between 8 and 29"
        ));
    }
    let mask = u32::MAX << (32 - subnet.prefix_len);
    if u32::from(addr) & !mask != 0 {
        let network = Ipv4Addr::from(u32::from(addr) & mask);
        return Err(format!(
            "{subnet}: not a network address (did you mean {network}/{}?)",
            subnet.prefix_len
        ));
    }
    Ok(())
}

/// The built-in network list, its leases under `root`.
pub(crate) fn network(opts: &NetworkOptions, root: &Path) -> NetworkList {
    let bridge = json!({
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": true,
        "ipMasq": opts.masquerade,
        "hairpinMode": true,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": opts.subnet.to_string()}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": paths::ipam_dir(root),
        },
    });
    let portmap = json!({
        "type": "portmap",
        "capabilities": {"portMappings": true},
        "snat": true,
    });
    NetworkList {
        name: NAME.to_string(),
        cni_version: "1.0.0".to_string(),
        plugins: vec![bridge, portmap],
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_network_is_bridge_host_local_portmap() {
        let list = network(&NetworkOptions::default(), Path::new("/run/podrt"));
        assert_eq!(list.name, "podrt");
        let types: Vec<&str> = list
            .plugins
            .iter()
            .map(|p| p["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["bridge", "portmap"]);
        let bridge = &list.plugins[0];
        assert_eq!(bridge["bridge"], "podrt0");
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.88.0.0/16");
        assert_eq!(bridge["ipam"]["dataDir"], "/run/podrt/cni/networks");
        assert_eq!(list.plugins[1]["capabilities"]["portMappings"], true);
    }

    #[test]
    fn subnets_are_checked() {
        let cidr = |s: &str| s.parse::<Cidr>().unwrap();
        assert!(check_subnet(&default_subnet()).is_ok());
        assert!(check_subnet(&cidr("192.168.77.0/24")).is_ok());
        assert!(check_subnet(&cidr("10.88.0.1/16"))
            .unwrap_err()
            .contains("did you mean 10.88.0.0/16"));
        assert!(check_subnet(&cidr("10.88.0.0/30")).is_err());
        assert!(check_subnet(&cidr("fd00::/64")).is_err());
    }
}
