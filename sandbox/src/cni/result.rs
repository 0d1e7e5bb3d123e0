//! The typed result of a CNI ADD: interfaces, addresses, routes and DNS.
//! Results of spec 1.0.0, 0.4.0 and 0.3.x share this shape (the older ones add a
//! per-address `version` field, which is ignored); the plugin's JSON is kept
//! verbatim in `raw` and is what a result serializes to, so a stored result can
//! be handed back to the plugins as DEL's `prevResult`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::{Error, Result};

/// Result versions this module understands.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["1.0.0", "0.4.0", "0.3.1", "0.3.0"];

/// An address with its prefix length, as CNI writes it: `10.88.0.5/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub(crate) addr: IpAddr,
    /// The prefix length.
    pub(crate) prefix_len: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not address/prefix"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: bad address {addr:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = len
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{s:?}: bad prefix length {len:?}"))?;
        Ok(Cidr { addr, prefix_len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An interface a plugin created or configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Interface name (`eth0`, `veth1234`, …).
    pub(crate) name: String,
    /// Hardware address, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mac: Option<String>,
    /// The netns path for interfaces inside the container's sandbox; absent for
    /// host-side interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sandbox: Option<String>,
}

/// An address assigned by the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// The address and prefix.
    pub(crate) address: Cidr,
    /// The default gateway for this subnet, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gateway: Option<IpAddr>,
    /// Index into the result's `interfaces` of the interface holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) interface: Option<usize>,
}

/// A route added in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination network.
    pub(crate) dst: Cidr,
    /// Next hop; the subnet's gateway if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gw: Option<IpAddr>,
}

/// DNS settings for the sandbox's resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers, in order of preference.
    #[serde(default)]
    pub(crate) nameservers: Vec<String>,
    /// The local domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) domain: Option<String>,
    /// Search domains.
    #[serde(default)]
    pub(crate) search: Vec<String>,
    /// resolv.conf options.
    #[serde(default)]
    pub(crate) options: Vec<String>,
}

/// The wire shape shared by results of 0.3.x, 0.4.0 and 1.0.0.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    cni_version: String,
    #[serde(default)]
    interfaces: Vec<Interface>,
    #[serde(default)]
    ips: Vec<IpConfig>,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    dns: Dns,
}

/// The result of ADD for a whole network list: the last plugin's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CniResult {
    /// The spec version the result is written in.
    pub(crate) cni_version: String,
    /// Interfaces created or configured.
    pub(crate) interfaces: Vec<Interface>,
    /// Addresses assigned.
    pub(crate) ips: Vec<IpConfig>,
    /// Routes added.
    pub(crate) routes: Vec<Route>,
    /// DNS settings.
    pub(crate) dns: Dns,
    /// The result exactly as the plugin printed it.
    pub(crate) raw: Value,
}

impl CniResult {
    /// Reads a result of a supported version from a plugin's JSON.
    pub fn from_json(raw: Value) -> Result<CniResult> {
        let version = raw.get("cniVersion").and_then(Value::as_str).unwrap_or("");
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(Error::Result(format!(
                "cniVersion {version:?} is not supported (supported: {})",
                SUPPORTED_VERSIONS.join(", ")
            )));
        }
        let wire = Wire::deserialize(&raw).map_err(|e| Error::Result(e.to_string()))?;
        if let Some(bad) = wire
            .ips
            .iter()
            .filter_map(|ip| ip.interface)
            .find(|i| *i >= wire.interfaces.len())
        {
            return Err(Error::Result(format!(
                "ips refer to interface {bad} but only {} interfaces are listed",
                wire.interfaces.len()
            )));
        }
        Ok(CniResult {
            cni_version: wire.cni_version,
            interfaces: wire.interfaces,
            ips: wire.ips,
            routes: wire.routes,
            dns: wire.dns,
            raw,
        })
    }

    /// The pod's addresses: those on interfaces inside the sandbox (an `ips`
    /// entry whose interface has a `sandbox` field), or every address if no
    /// entry says where it lives.
    pub fn pod_ips(&self) -> Vec<IpAddr> {
        let in_sandbox: Vec<IpAddr> = self
            .ips
            .iter()
            .filter(|ip| {
                ip.interface
                    .and_then(|i| self.interfaces.get(i))
                    .is_some_and(|iface| iface.sandbox.as_deref().is_some_and(|s| !s.is_empty()))
            })
            .map(|ip| ip.address.addr)
            .collect();
        if in_sandbox.is_empty() {
            self.ips.iter().map(|ip| ip.address.addr).collect()
        } else {
            in_sandbox
        }
    }
}

impl Serialize for CniResult {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CniResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        CniResult::from_json(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v1() -> Value {
        json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "cni0", "mac": "aa:bb:cc:dd:ee:01"},
                {"name": "veth1", "mac": "aa:bb:cc:dd:ee:02"},
                {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/p1"}
            ],
            "ips": [
                {"address": "10.88.0.1/16", "interface": 0},
                {"address": "10.88.0.5/16", "gateway": "10.88.0.1", "interface": 2},
                {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2}
            ],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00::1"}],
            "dns": {"nameservers": ["10.88.0.1"], "search": ["svc.local"]}
        })
    }

    #[test]
    fn parses_a_1_0_0_result() {
        let r = CniResult::from_json(v1()).unwrap();
        assert_eq!(r.interfaces.len(), 3);
        assert_eq!(r.ips[1].address.to_string(), "10.88.0.5/16");
        assert_eq!(r.ips[1].gateway, Some("10.88.0.1".parse().unwrap()));
        assert_eq!(r.routes[1].gw, Some("fd00::1".parse().unwrap()));
        assert_eq!(r.dns.nameservers, vec!["10.88.0.1"]);
        assert_eq!(r.dns.search, vec!["svc.local"]);
    }

    #[test]
    fn pod_ips_picks_the_sandbox_interface() {
        let r = CniResult::from_json(v1()).unwrap();
        let want: Vec<IpAddr> = vec!["10.88.0.5".parse().unwrap(), "fd00::5".parse().unwrap()];
        assert_eq!(r.pod_ips(), want);
    }

    #[test]
    fn pod_ips_falls_back_to_all() {
        let raw = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}]});
        let r = CniResult::from_json(raw).unwrap();
        assert_eq!(r.pod_ips(), vec!["10.1.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn parses_0_4_0_and_0_3_1_results() {
        for version in ["0.4.0", "0.3.1"] {
            let raw = json!({
                "cniVersion": version,
                "interfaces": [{"name": "eth0", "sandbox": "/proc/1/ns/net"}],
                "ips": [{"version": "4", "address": "10.22.0.9/24", "gateway": "10.22.0.1", "interface": 0}],
                "routes": [{"dst": "0.0.0.0/0", "gw": "10.22.0.1"}],
                "dns": {}
            });
            let r = CniResult::from_json(raw).unwrap();
            assert_eq!(r.cni_version, version);
            assert_eq!(r.pod_ips(), vec!["10.22.0.9".parse::<IpAddr>().unwrap()]);
            assert_eq!(r.routes[0].dst.prefix_len, 0);
        }
    }

    #[test]
    fn refuses_old_versions_and_bad_fields() {
        let old = json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}});
        assert!(CniResult::from_json(old)
            .unwrap_err()
            .to_string()
            .contains("0.2.0"));
        let bad = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2"}]});
        assert!(CniResult::from_json(bad).is_err());
        let dangling =
            json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/8", "interface": 3}]});
        assert!(CniResult::from_json(dangling).is_err());
    }

    #[test]
    fn round_trips_through_serde_as_the_raw_json() {
        let r = CniResult::from_json(v1()).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v1());
        let back: CniResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
