//! What validation hands to the sandbox: the facts of a pod, checked and
//! converted once (names, bytes, millicores, seconds, volume kinds), so the
//! code that builds containers never re-parses a string.

use std::path::PathBuf;

/// A pod that passed [`validate`](super::validate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPod {
    /// `metadata.name`, or the name generated from `metadata.generateName`.
    pub name: String,
    /// `metadata.namespace`, `default` when unset.
    pub namespace: String,
    /// True when [`Self::name`] was generated from `metadata.generateName`.
    pub(crate) generated_name: bool,
    /// The pod-level values podrt acts on for the pod's whole life; the pod's
    /// record keeps them.
    pub(crate) settings: PodSettings,
    /// One entry per container: init containers first, then app containers,
    /// each in manifest order.
    pub containers: Vec<ContainerResources>,
    /// `spec.volumes`, in manifest order.
    pub(crate) volumes: Vec<PodVolume>,
    /// Fields podrt accepts but ignores, one line each with its field path.
    pub warnings: Vec<String>,
}

/// The pod-level fields that podrt acts on after creation (termination,
/// restarts, status, the containers made later), defaulted once here as
/// Kubernetes defaults them. The pod's record keeps them next to the manifest
/// as the user wrote it, so no later step re-derives a default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSettings {
    /// `spec.restartPolicy`, `Always` when unset.
    pub(crate) restart_policy: RestartPolicy,
    /// `spec.terminationGracePeriodSeconds`, 30 when unset.
    pub(crate) termination_grace_period_seconds: u64,
    /// `spec.activeDeadlineSeconds`, if set.
    pub(crate) active_deadline_seconds: Option<u64>,
    /// `spec.hostNetwork`: the host's network (and UTS) namespace.
    pub(crate) host_network: bool,
    /// `spec.hostPID`: the host's PID namespace.
    pub(crate) host_pid: bool,
    /// `spec.hostIPC`: the host's IPC namespace.
    pub(crate) host_ipc: bool,
    /// `spec.shareProcessNamespace`: one PID namespace for the pod.
    pub(crate) share_process_namespace: bool,
}

impl PodSettings {
    /// The grace period as a duration.
    pub fn grace_period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.termination_grace_period_seconds)
    }
}

/// A pod's `restartPolicy` (what the supervisor does with it is in
/// `supervisor::policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RestartPolicy {
    /// Restart every container that exits (the Kubernetes default).
    #[default]
    Always,
    /// Restart containers that exit non-zero.
    OnFailure,
    /// Never restart; a failed init container fails the pod.
    Never,
}

impl RestartPolicy {
    /// The Kubernetes spellings, for messages.
    pub(super) const NAMES: [&'static str; 3] = ["Always", "OnFailure", "Never"];

    /// Reads a Kubernetes spelling.
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "Always" => Some(Self::Always),
            "OnFailure" => Some(Self::OnFailure),
            "Never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// A container's resources in kernel units.
///
/// A request left unset takes the limit's value, as Kubernetes defaults it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// The container's name.
    pub name: String,
    /// `limits.memory` in bytes.
    pub(crate) memory_limit: Option<u64>,
    /// `requests.memory` in bytes (or the limit).
    pub(crate) memory_request: Option<u64>,
    /// `limits.cpu` in millicores.
    pub(crate) cpu_limit_millis: Option<u64>,
    /// `requests.cpu` in millicores (or the limit).
    pub(crate) cpu_request_millis: Option<u64>,
}

/// A volume of the pod, of a kind podrt supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodVolume {
    /// `spec.volumes[].name`.
    pub(crate) name: String,
    /// Where its contents come from.
    pub(crate) source: PodVolumeSource,
}

/// The volume kinds podrt supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PodVolumeSource {
    /// A fresh directory living as long as the pod (also a volume with no
    /// source at all, as Kubernetes defaults it).
    EmptyDir {
        /// `medium: Memory`: backed by tmpfs.
        memory: bool,
        /// `sizeLimit` in bytes.
        size_limit: Option<u64>,
    },
    /// A file or directory of the host.
    HostPath {
        /// The absolute host path.
        path: PathBuf,
        /// What must (or will) be there.
        kind: HostPathType,
    },
}

/// `hostPath.type`: what the host path must be, or what to create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum HostPathType {
    /// `""`: no check.
    #[default]
    Unset,
    /// Create an empty directory (0755) if nothing is there.
    DirectoryOrCreate,
    /// A directory must exist.
    Directory,
    /// Create an empty file (0644) if nothing is there.
    FileOrCreate,
    /// A regular file must exist.
    File,
    /// A UNIX socket must exist.
    Socket,
    /// A character device must exist.
    CharDevice,
    /// A block device must exist.
    BlockDevice,
}

impl HostPathType {
    /// The Kubernetes spellings, for messages.
    pub(super) const NAMES: [&'static str; 8] = [
        "",
        "DirectoryOrCreate",
        "Directory",
        "FileOrCreate",
        "File",
        "Socket",
        "CharDevice",
        "BlockDevice",
    ];

    /// Reads a Kubernetes spelling.
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" => Self::Unset,
            "DirectoryOrCreate" => Self::DirectoryOrCreate,
            "Directory" => Self::Directory,
            "FileOrCreate" => Self::FileOrCreate,
            "File" => Self::File,
            "Socket" => Self::Socket,
            "CharDevice" => Self::CharDevice,
            "BlockDevice" => Self::BlockDevice,
            _ => return None,
        })
    }

    /// The Kubernetes spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "",
            Self::DirectoryOrCreate => "DirectoryOrCreate",
            Self::Directory => "Directory",
            Self::FileOrCreate => "FileOrCreate",
            Self::File => "File",
            Self::Socket => "Socket",
            Self::CharDevice => "CharDevice",
            Self::BlockDevice => "BlockDevice",
        }
    }

    /// Whether the path must exist before the pod starts.
    pub(crate) fn must_exist(self) -> bool {
        !matches!(
            self,
            Self::Unset | Self::DirectoryOrCreate | Self::FileOrCreate
        )
    }
}
