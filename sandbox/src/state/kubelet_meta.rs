//! What kubelet said about a pod and its containers when it made them over the
//! CRI: its own names, UIDs, attempts, labels and annotations, kept as given so
//! the CRI can return them unchanged. podrt's own names for them (the record's
//! pod name, the manifest's container names) are unique keys derived from these
//! ([`crate::lifecycle::kubelet`]); a pod made with `podrt apply` has none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A pod sandbox as kubelet described it (`PodSandboxConfig.metadata` and the
/// rest it gives back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletPod {
    /// The pod's name.
    pub name: String,
    /// The pod's UID (kubelet's, not the sandbox id).
    pub uid: String,
    /// The pod's namespace.
    pub namespace: String,
    /// Which sandbox of the pod this is, from 0.
    pub attempt: u32,
    /// The sandbox's labels, as given.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The sandbox's annotations, as given.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Where kubelet wants the containers' logs (`/var/log/pods/...`).
    #[serde(default)]
    pub log_directory: String,
    /// The pod's cgroup, kubelet's (`LinuxPodSandboxConfig.cgroup_parent`,
    /// cgroupfs driver); empty: podrt's own below its `--cgroup-parent`.
    #[serde(default)]
    pub cgroup_parent: String,
    /// The runtime handler asked for (empty: the default).
    #[serde(default)]
    pub runtime_handler: String,
    /// The pod's containers, by their name in the manifest.
    #[serde(default)]
    pub containers: BTreeMap<String, KubeletContainer>,
}

/// A container as kubelet described it (`ContainerConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletContainer {
    /// The container's name in the pod.
    pub name: String,
    /// Which container of that name this is, from 0.
    pub attempt: u32,
    /// Its labels, as given.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Its annotations, as given.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Its log, relative to the pod's log directory (empty: none asked for).
    #[serde(default)]
    pub log_path: String,
    /// The image as kubelet named it.
    #[serde(default)]
    pub image: String,
    /// When it was created (nanoseconds since the epoch).
    #[serde(default)]
    pub created_at: i64,
    /// The paths masked in its `/proc` and `/sys`, as kubelet gave them
    /// (empty: podrt's defaults).
    #[serde(default)]
    pub masked_paths: Vec<String>,
    /// The paths made read-only, as kubelet gave them (empty: podrt's
    /// defaults).
    #[serde(default)]
    pub readonly_paths: Vec<String>,
}

impl KubeletPod {
    /// The manifest name of the container kubelet calls `name`, attempt
    /// `attempt`, if it has one.
    pub fn container_named(&self, name: &str, attempt: u32) -> Option<&str> {
        self.containers
            .iter()
            .find(|(_, c)| c.name == name && c.attempt == attempt)
            .map(|(key, _)| key.as_str())
    }
}
