//! The Kubernetes Container Runtime Interface, v1, over gRPC: what kubelet,
//! crictl and critest speak to a runtime (DESIGN.md §8). `podrt serve` serves it
//! on a Unix socket (`ROOT/cri.sock` by default, so `/run/podrt/cri.sock`).
//!
//! Why its own process: the agent's controllers fork pod supervisors that run
//! Rust code before they exec, which is only sound in a process with one
//! thread, while a gRPC server wants an async runtime with threads. So the
//! server is forked off before the agent starts any thread (as the cluster DNS
//! is), and dies with the agent.
//!
//! What it answers comes from the same state as the CLI's: pods made with
//! `podrt apply` are listed as sandboxes and containers, with kubelet's labels,
//! and pods kubelet makes over the CRI are ordinary pods to the CLI.
//! Each file maps one part: [`sandboxes`] and [`containers`] (podrt's pods in
//! the CRI's terms, with the CRI's filters), [`exec_sync`] (commands run in a
//! container), [`stats`] (cgroups, writable layers, the pod's network),
//! [`events`] (container events, by looking), [`resources`] (new limits),
//! [`images`] (the image store), [`pod_config`] and [`container_config`]
//! (kubelet's requests as a pod and its containers), [`maker`] (the process
//! of one thread that makes sandboxes), [`pods`] (the calls that change pods),
//! [`runtime_service`] and [`image_service`] (the two gRPC services),
//! [`server`] (the socket and the process), and [`authority`] (clients that
//! name the socket as HTTP/2's `:authority`).

mod authority;
mod container_config;
mod containers;
mod disk_usage;
mod events;
mod exec_sync;
mod image_service;
mod images;
mod maker;
mod nanos;
mod pod_config;
mod pods;
mod resources;
mod runtime_service;
mod sandboxes;
mod server;
mod stats;

use std::path::PathBuf;

pub(crate) use server::start;

/// The CRI service's settings (`serve --cri-listen`).
#[derive(Debug, Clone)]
pub struct CriSettings {
    /// The socket to listen on.
    pub socket: PathBuf,
    /// How images are pulled (`PullImage`).
    pub registries: podrt_sandbox::image::registry::RegistryOptions,
    /// The socket was asked for (`--cri-listen`): failing to serve it stops
    /// `podrt serve`; the default one is reported and left out instead.
    pub required: bool,
}

/// The socket an endpoint names, as kubelet's `--container-runtime-endpoint`
/// and crictl's `--runtime-endpoint` write it: `unix:///run/podrt/cri.sock`,
/// or a plain absolute path.
pub fn socket_of(endpoint: &str) -> Result<PathBuf, String> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if endpoint.contains("://") && !endpoint.starts_with("unix://") {
        return Err(format!(
            "{endpoint:?}: only unix:// endpoints are served (a Unix socket, as kubelet expects)"
        ));
    }
    if !path.starts_with('/') {
        return Err(format!(
            "{endpoint:?}: want unix:///ABSOLUTE/PATH or an absolute path"
        ));
    }
    Ok(PathBuf::from(path))
}

/// The runtime's name in `Version`.
pub const RUNTIME_NAME: &str = "podrt";
/// The CRI version served.
pub const API_VERSION: &str = "v1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_sockets() {
        assert_eq!(
            socket_of("unix:///run/podrt/cri.sock").unwrap(),
            PathBuf::from("/run/podrt/cri.sock")
        );
        assert_eq!(
            socket_of("/tmp/x.sock").unwrap(),
            PathBuf::from("/tmp/x.sock")
        );
        assert!(socket_of("tcp://127.0.0.1:1234").is_err());
        assert!(socket_of("unix://relative.sock").is_err());
    }
}
