//! What podrt keeps about a pod in `pod.json`: the manifest as applied, the ids it
//! gave the pod and its containers, and the processes it must be able to find again.
//! Status is not stored here: it is derived on each read from the kernel and the
//! supervisor's container states ([`crate::status`]), so a crash never leaves a stale one.

use std::io::Write;
use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::proc::identity::ProcRef;

/// Version of the `pod.json` layout.
pub const RECORD_VERSION: u32 = 1;

/// Where the pod is in its life, as far as podrt's own steps go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodStage {
    /// `apply` is still building it.
    Creating,
    /// Every container was started.
    Created,
    /// `delete` has begun.
    Deleting,
}

/// One container of the pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Its name in the manifest.
    pub name: String,
    /// The runtime's container id (also the CRI container id).
    pub id: String,
    /// An init container (runs to completion before the app containers).
    pub init: bool,
    /// The image as the manifest names it.
    pub image: String,
    /// The image's normalised name in the store.
    pub image_name: String,
    /// The image's config digest.
    pub image_id: String,
    /// When its process was started (RFC 3339).
    pub started_at: Option<String>,
}

/// The contents of `pod.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    /// Layout version ([`RECORD_VERSION`]).
    pub version: u32,
    /// The pod's UID (new for every pod).
    pub uid: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace (podrt keeps it for display; names are unique per root).
    pub namespace: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// The manifest as applied, name filled in.
    pub manifest: Pod,
    /// The pod's hostname (pod name or `spec.hostname`).
    pub hostname: String,
    /// The pod's cgroup; each container's is below it.
    pub cgroup_parent: String,
    /// Where podrt is in making or removing the pod.
    pub stage: PodStage,
    /// When deletion began (RFC 3339).
    #[serde(default)]
    pub deletion_timestamp: Option<String>,
    /// The PID 1 of a shared PID namespace (`shareProcessNamespace`).
    #[serde(default)]
    pub pod_init: Option<ProcRef>,
    /// The pod's supervisor, the parent of its containers.
    #[serde(default)]
    pub supervisor: Option<ProcRef>,
    /// Containers made so far, init containers first.
    #[serde(default)]
    pub containers: Vec<ContainerRecord>,
    /// The pod's volumes as made on the host.
    #[serde(default)]
    pub volumes: Vec<crate::volumes::PreparedVolume>,
    /// The pod's CNI attachment, recorded before ADD runs so that DEL can undo
    /// even a half-made one; `None` for a `hostNetwork` pod.
    #[serde(default)]
    pub network: Option<crate::network::PodNetwork>,
    /// The security settings the pod was made under (its containers are made
    /// later, by processes that have no command line of their own).
    #[serde(default)]
    pub security: crate::security::SecurityOptions,
    /// The pod's own user namespace range (`hostUsers: false`), recorded as soon as
    /// it is allocated so deletion gives it back; `None` in the host's users.
    #[serde(default)]
    pub userns: Option<crate::userns::Allocation>,
}

impl PodRecord {
    /// The supervisor recorded for the pod, if it is dead (a pod made through
    /// the library API records none: its caller is its supervisor).
    pub fn dead_supervisor(&self) -> Option<ProcRef> {
        self.supervisor.filter(|p| !p.alive())
    }

    /// Read `pod.json`.
    pub fn load(path: &Path) -> Result<PodRecord> {
        let text = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let record: PodRecord = serde_json::from_slice(&text).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if record.version != RECORD_VERSION {
            return Err(Error::State {
                path: path.to_path_buf(),
                message: format!(
                    "layout version {} (this podrt reads {RECORD_VERSION})",
                    record.version
                ),
            });
        }
        Ok(record)
    }

    /// Write `pod.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, &data)
    }

    /// The record of container `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerRecord> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// Write `data` to a temporary file beside `path`, sync it and rename it over `path`,
/// so a reader sees the old or the new contents, never a mix. The file is root's
/// alone (0600).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, podrt_runtime::private_fs::FILE_MODE)
}

/// [`write_atomic`] of a file with `mode`, for the few that others must read.
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = podrt_runtime::private_fs::create_file(&tmp, mode)?;
        f.write_all(data)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("writing", path, e)
    })
}

/// Read a small JSON file written with [`write_atomic`]; `None` if it does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::State {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}
