//! The files kubelet gives every container of a pod: `/etc/hosts` (with the pod's
//! hostname and `spec.hostAliases`), `/etc/hostname` and `/etc/resolv.conf`, written
//! once in the pod's state and bind-mounted into each container, plus the pod's
//! shared `/dev/shm` (a tmpfs of its own, so POSIX shared memory is shared by the
//! pod's containers as their IPC namespace is).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::PodSpec;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{Mount, MountBuilder};
use podrt_runtime::private_fs;

use crate::cni::Dns;
use crate::error::{Error, Result};

use crate::state::paths::PodPaths;
use crate::state::record::{write_atomic_mode, PodNetwork};

/// The files' mode: every user of the container reads them (they are mounted from
/// a directory only root can reach).
const FILE_MODE: u32 = 0o644;

/// Size of the pod's `/dev/shm`, as Docker and containerd default it.
const SHM_SIZE: u64 = 64 << 20;

/// DNS settings podrt applies for `dnsPolicy: ClusterFirst` (kubelet's
/// `--cluster-dns`/`--cluster-domain`); empty means the host's resolv.conf.
#[derive(Debug, Clone, Default)]
pub struct ClusterDns {
    /// Name servers.
    pub servers: Vec<String>,
    /// Cluster domain, e.g. `cluster.local`.
    pub domain: String,
}

/// Write the pod's `hosts`, `hostname`, `resolv.conf`, and mount its shm tmpfs.
/// `network` is the pod's CNI attachment: its addresses go into `hosts`, and the
/// DNS its plugins returned, if any, takes the host's place in `resolv.conf`.
/// `shm_owner` is the pod's root on the host when the pod has its own user
/// namespace: the shm tmpfs is then its, as if it had been mounted inside.
pub(crate) fn write(
    spec: &PodSpec,
    paths: &PodPaths,
    hostname: &str,
    namespace: &str,
    dns: &ClusterDns,
    network: Option<&PodNetwork>,
    shm_owner: Option<u32>,
) -> Result<()> {
    let dir = paths.etc("");
    private_fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let ips = network.map(PodNetwork::pod_ips).unwrap_or_default();
    let put =
        |name: &str, text: &str| write_atomic_mode(&paths.etc(name), text.as_bytes(), FILE_MODE);
    put("hosts", &hosts(spec, hostname, &ips))?;
    put("hostname", &format!("{hostname}\n"))?;
    let cni_dns = network
        .and_then(|n| n.result.as_ref())
        .map(|r| &r.dns)
        .filter(|d| !d.nameservers.is_empty());
    let base = match cni_dns {
        Some(d) => cni_resolv_conf(d),
        None => host_resolv_conf(),
    };
    put("resolv.conf", &resolv_conf(spec, namespace, dns, &base))?;
    let shm = shm_dir(paths);
    private_fs::create_dir_all(&shm).map_err(|e| Error::io("creating", &shm, e))?;
    let mut data = format!("mode=1777,size={SHM_SIZE}");
    if let Some(id) = shm_owner {
        data.push_str(&format!(",uid={id},gid={id}"));
    }
    mount(
        Some("shm"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(data.as_str()),
    )
    .map_err(|e| Error::io("mounting the pod's shm tmpfs on", &shm, e.into()))
}

/// Unmount the pod's shm (the files go with the pod directory).
pub(crate) fn release(paths: &PodPaths) {
    let _ = umount2(&shm_dir(paths), MntFlags::MNT_DETACH);
}

fn shm_dir(paths: &PodPaths) -> PathBuf {
    paths.dir.join("shm")
}

/// The bind mounts of these files into a container.
pub(crate) fn mounts(paths: &PodPaths, host_network: bool) -> Vec<Mount> {
    let bind = |src: PathBuf, dst: &str, extra: &[&str]| {
        let mut options = vec!["rbind".to_string(), "nosuid".into(), "nodev".into()];
        options.extend(extra.iter().map(|s| s.to_string()));
        MountBuilder::default()
            .destination(dst)
            .typ("bind")
            .source(src)
            .options(options)
            .build()
    };
    let mut list = vec![
        bind(paths.etc("hosts"), "/etc/hosts", &[]),
        bind(paths.etc("resolv.conf"), "/etc/resolv.conf", &[]),
        bind(shm_dir(paths), "/dev/shm", &["noexec"]),
    ];
    if !host_network {
        list.push(bind(paths.etc("hostname"), "/etc/hostname", &[]));
    }
    // MountBuilder only fails on missing required fields, all of which are set.
    list.into_iter().filter_map(|m| m.ok()).collect()
}

/// The pod's `/etc/hosts`, as kubelet writes it: the hostname maps to the pod's
/// addresses (to 127.0.1.1 for a pod without any, such as a `hostNetwork` one).
pub(crate) fn hosts(spec: &PodSpec, hostname: &str, pod_ips: &[IpAddr]) -> String {
    let mut s = String::from("# Kubernetes-managed hosts file (podrt).\n");
    s.push_str("127.0.0.1\tlocalhost\n");
    s.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    s.push_str("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n");
    s.push_str("fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n");
    if pod_ips.is_empty() {
        s.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    for ip in pod_ips {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    let aliases = spec.host_aliases.iter().flatten();
    let mut first = true;
    for a in aliases {
        if first {
            s.push_str("\n# Entries added by HostAliases.\n");
            first = false;
        }
        let names = a.hostnames.clone().unwrap_or_default().join("\t");
        s.push_str(&format!("{}\t{names}\n", a.ip));
    }
    s
}

/// The DNS a CNI result gave, in resolv.conf's words, to stand for the host's file.
fn cni_resolv_conf(dns: &Dns) -> String {
    let mut s = String::new();
    if let Some(domain) = &dns.domain {
        s.push_str(&format!("domain {domain}\n"));
    }
    if !dns.search.is_empty() {
        s.push_str(&format!("search {}\n", dns.search.join(" ")));
    }
    for n in &dns.nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !dns.options.is_empty() {
        s.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    s
}

fn host_resolv_conf() -> String {
    std::fs::read_to_string(Path::new("/etc/resolv.conf")).unwrap_or_default()
}

/// The pod's `/etc/resolv.conf` per `dnsPolicy` and `dnsConfig`, as kubelet builds it.
pub(crate) fn resolv_conf(spec: &PodSpec, namespace: &str, dns: &ClusterDns, host: &str) -> String {
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let (mut servers, mut searches, mut options) = (Vec::new(), Vec::new(), Vec::new());
    let from_host =
        |servers: &mut Vec<String>, searches: &mut Vec<String>, options: &mut Vec<String>| {
            for line in host.lines() {
                let mut words = line.split_whitespace();
                match words.next() {
                    Some("nameserver") => servers.extend(words.map(String::from)),
                    Some("search") => searches.extend(words.map(String::from)),
                    Some("options") => options.extend(words.map(String::from)),
                    _ => {}
                }
            }
        };
    match policy {
        "None" => {}
        "ClusterFirst" | "ClusterFirstWithHostNet" if !dns.servers.is_empty() => {
            servers.extend(dns.servers.iter().cloned());
            let d = &dns.domain;
            searches.extend([
                format!("{namespace}.svc.{d}"),
                format!("svc.{d}"),
                d.clone(),
            ]);
            options.push("ndots:5".into());
        }
        _ => from_host(&mut servers, &mut searches, &mut options),
    }
    if let Some(cfg) = &spec.dns_config {
        servers.extend(cfg.nameservers.iter().flatten().cloned());
        searches.extend(cfg.searches.iter().flatten().cloned());
        for o in cfg.options.iter().flatten() {
            let name = o.name.clone().unwrap_or_default();
            options.retain(|x| x.split(':').next() != Some(name.as_str()));
            options.push(match &o.value {
                Some(v) => format!("{name}:{v}"),
                None => name,
            });
        }
    }
    let mut s = String::new();
    if !searches.is_empty() {
        s.push_str(&format!("search {}\n", searches.join(" ")));
    }
    for n in &servers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hosts_has_localhost_hostname_and_aliases() {
        let s = spec(serde_json::json!({"containers": [],
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}]}));
        let h = hosts(&s, "web", &[]);
        assert!(h.contains("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("127.0.1.1\tweb\n"));
        assert!(h.contains("10.1.2.3\tfoo\tbar\n"));
        let with_ip = hosts(&s, "web", &["10.88.0.9".parse().unwrap()]);
        assert!(with_ip.contains("10.88.0.9\tweb\n"), "{with_ip}");
        assert!(!with_ip.contains("127.0.1.1"), "{with_ip}");
    }

    #[test]
    fn cni_dns_stands_for_the_hosts_file() {
        let dns = Dns {
            nameservers: vec!["10.88.0.1".into()],
            domain: None,
            search: vec!["pods.example".into()],
            options: vec![],
        };
        let plain = spec(serde_json::json!({"containers": [], "dnsPolicy": "Default"}));
        assert_eq!(
            resolv_conf(
                &plain,
                "default",
                &ClusterDns::default(),
                &cni_resolv_conf(&dns)
            ),
            "search pods.example\nnameserver 10.88.0.1\n"
        );
    }

    #[test]
    fn resolv_conf_follows_dns_policy() {
        let host = "nameserver 192.0.2.1\nsearch example.org\n";
        let none = ClusterDns::default();
        let cluster = ClusterDns {
            servers: vec!["127.0.0.1".into()],
            domain: "cluster.local".into(),
        };
        let plain = spec(serde_json::json!({"containers": []}));
        assert_eq!(
            resolv_conf(&plain, "default", &none, host),
            "search example.org\nnameserver 192.0.2.1\n"
        );
        assert_eq!(
            resolv_conf(&plain, "default", &cluster, host),
            "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n"
        );
        let custom = spec(serde_json::json!({"containers": [], "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["10.0.0.10"], "options": [{"name": "ndots", "value": "2"}]}}));
        assert_eq!(
            resolv_conf(&custom, "default", &cluster, host),
            "nameserver 10.0.0.10\noptions ndots:2\n"
        );
    }
}
