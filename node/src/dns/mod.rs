//! The cluster DNS, served by the node agent on an address of the pod network
//! (the built-in network's gateway, `10.88.0.1`, unless `serve --dns-address`
//! says otherwise), port 53, UDP and TCP. Pods with `dnsPolicy: ClusterFirst` made
//! while the agent runs get it as their nameserver, with kubelet's search path
//! and `ndots:5` (`--cluster-dns` still wins).
//!
//! It runs in a process of its own, forked from the agent before the agent
//! starts any thread: the agent forks pod supervisors that run Rust code before
//! they exec, which a resolver thread holding a lock at that moment could
//! deadlock. The child dies with the agent (PR_SET_PDEATHSIG) and reads what to
//! answer from `ROOT/dns/zone.json`, which the agent rewrites after each pass
//! that changed it; `ROOT/dns/server.json` tells commands where it listens.

mod server;
mod tcp;
mod zone;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use podrt_sandbox::runtime::private_fs;
use serde::{Deserialize, Serialize};

pub use server::host_upstreams;
pub use zone::{Answer, Asked, Zone, ZoneService};

use crate::controllers::endpoints::Served;
use crate::error::{Error, Result};

/// Where and for which domain the agent's resolver answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advertised {
    /// Its address (port 53).
    pub address: Ipv4Addr,
    /// The cluster domain.
    pub domain: String,
}

fn dir(root: &Path) -> PathBuf {
    root.join("dns")
}

fn zone_path(root: &Path) -> PathBuf {
    dir(root).join("zone.json")
}

fn advertised_path(root: &Path) -> PathBuf {
    dir(root).join("server.json")
}

/// Where the agent for `root` said its resolver listens, if it ever did (the
/// caller asks [`crate::agent::running`] whether it still runs).
pub fn advertised(root: &Path) -> Option<Advertised> {
    crate::store::read(&advertised_path(root)).ok().flatten()
}

/// Binds the resolver on `address`:53 and forks the process that serves it,
/// forwarding other names to `upstreams`; records where it listens. Call from
/// a single-threaded process (it forks).
pub(crate) fn start(
    root: &Path,
    address: Ipv4Addr,
    domain: &str,
    upstreams: Vec<SocketAddr>,
) -> Result<()> {
    let dns = dir(root);
    private_fs::create_dir_all(&dns).map_err(|e| Error::io("creating", &dns, e))?;
    // The resolver of an agent killed just now may not be gone yet: its
    // PR_SET_PDEATHSIG is on its way. Give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (socket, listener) = loop {
        match server::bind(address, 53).and_then(|s| Ok((s, server::listen(address, 53)?))) {
            Ok(pair) => break pair,
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    };
    let zone = zone_path(root);
    // The closure owns the sockets: the agent's copies close when it is
    // dropped here, the resolver's live on in it.
    crate::companion::fork("forking the cluster DNS for", root, move || {
        server::serve(socket, listener, zone, upstreams)
    })?;
    crate::store::write_atomic(
        &advertised_path(root),
        &Advertised {
            address,
            domain: domain.to_string(),
        },
    )?;
    tracing::info!(%address, domain, "cluster DNS serving");
    Ok(())
}

/// The zone of `domain` for the Services a pass left, with their endpoints.
pub(crate) fn zone(domain: &str, served: &[Served]) -> Zone {
    Zone {
        domain: domain.to_string(),
        services: served.iter().map(zone_service).collect(),
    }
}

fn zone_service(served: &Served) -> ZoneService {
    let svc = &served.service;
    let spec = svc.spec.clone().unwrap_or_default();
    ZoneService {
        name: svc.metadata.name.clone().unwrap_or_default(),
        namespace: svc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| crate::store::DEFAULT_NAMESPACE.to_string()),
        cluster_ip: spec.cluster_ip.as_deref().and_then(|ip| ip.parse().ok()),
        external_name: (spec.type_.as_deref() == Some("ExternalName"))
            .then(|| spec.external_name.clone())
            .flatten(),
        ports: spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.name.clone().filter(|n| !n.is_empty())?,
                    u16::try_from(p.port).ok()?,
                    p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                ))
            })
            .collect(),
        endpoints: served
            .subsets
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .filter_map(|a| Some((a.ip.parse().ok()?, a.hostname.clone())))
            .collect(),
    }
}

/// Writes the zone the resolver reads.
pub(crate) fn publish(root: &Path, zone: &Zone) -> Result<()> {
    crate::store::write_atomic(&zone_path(root), zone)
}
