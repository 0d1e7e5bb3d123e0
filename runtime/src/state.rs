//! A container's state on disk: `<root>/<id>/state.json` plus the spec it was made from.
//!
//! Writes are write-temp-then-rename so a reader never sees half a file. The status
//! is never stored: it is derived each time from the kernel (is the PID alive with the
//! same start time? is the exec FIFO still there? is the cgroup frozen?), so a crash
//! can't leave a stale "running".

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::{private_fs, proc_info};

/// Version of the state file layout.
pub(crate) const STATE_VERSION: u32 = 1;
/// Name of the FIFO the init process blocks on until `start`.
pub(crate) const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";
const CONFIG_FILE: &str = "config.json";

/// The OCI lifecycle status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// `create` is still running.
    Creating,
    /// Set up, waiting for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init process has exited.
    Stopped,
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ContainerStatus::Creating => "creating",
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

impl ContainerStatus {
    /// Whether its init process exists (made, running or frozen): a container to
    /// stop before it is removed.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            ContainerStatus::Created | ContainerStatus::Running | ContainerStatus::Paused
        )
    }
}

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredState {
    /// Layout version ([`STATE_VERSION`]).
    pub(crate) version: u32,
    /// Container id.
    pub(crate) id: String,
    /// Bundle directory.
    pub(crate) bundle: PathBuf,
    /// Root filesystem (absolute).
    pub(crate) rootfs: PathBuf,
    /// Host PID of the init process, 0 while creating.
    pub pid: i32,
    /// Start time of that PID in clock ticks since boot, to detect PID reuse.
    pub pid_start_time: u64,
    /// RFC 3339 creation time.
    pub(crate) created: String,
    /// Cgroup path, relative to the hierarchy roots.
    pub cgroup_path: String,
    /// The spec's annotations.
    #[serde(default)]
    pub(crate) annotations: HashMap<String, String>,
    /// Owner shown by `list`.
    #[serde(default)]
    pub(crate) owner: String,
}

/// The OCI `state` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// OCI runtime spec version.
    pub(crate) oci_version: String,
    /// Container id.
    pub id: String,
    /// Lifecycle status.
    pub status: ContainerStatus,
    /// Host PID of the init process (0 once stopped).
    pub pid: i32,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Annotations from the spec.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub(crate) annotations: HashMap<String, String>,
    /// Root filesystem (runc reports it; extension).
    #[serde(default)]
    pub(crate) rootfs: PathBuf,
    /// Creation time (runc extension).
    #[serde(default)]
    pub created: String,
    /// Owner (runc extension).
    #[serde(default)]
    pub owner: String,
}

/// The state directory of one container.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    /// `<root>/<id>`.
    pub(crate) path: PathBuf,
}

impl StateDir {
    /// The directory for `id` under `root` (not created).
    pub(crate) fn new(root: &Path, id: &str) -> StateDir {
        StateDir {
            path: root.join(id),
        }
    }

    /// Does it exist?
    pub(crate) fn exists(&self) -> bool {
        self.path.join(STATE_FILE).exists() || self.path.exists()
    }

    /// Path of the exec FIFO.
    pub(crate) fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Create the directory, 0700 (and the root, 0700, if missing); fails if it
    /// already exists (ids are unique).
    pub(crate) fn create(&self, root: &Path) -> Result<()> {
        private_fs::create_dir_all(root)
            .map_err(|e| Error::io(format!("creating state root {}", root.display()), e))?;
        match private_fs::create_dir(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let id = self
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Err(Error::AlreadyExists(id))
            }
            Err(e) => Err(Error::io(
                format!("creating state directory {}", self.path.display()),
                e,
            )),
        }
    }

    /// Write the state atomically.
    pub(crate) fn save(&self, state: &StoredState) -> Result<()> {
        let text = serde_json::to_vec(state).map_err(|e| Error::State {
            path: self.path.join(STATE_FILE),
            message: e.to_string(),
        })?;
        write_atomic(&self.path.join(STATE_FILE), &text)
    }

    /// Read the state back.
    pub(crate) fn load(&self) -> Result<StoredState> {
        let path = self.path.join(STATE_FILE);
        let text = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        serde_json::from_slice(&text).map_err(|e| Error::State {
            path,
            message: e.to_string(),
        })
    }

    /// Save the spec the container was created from (exec and delete need it).
    pub(crate) fn save_spec(&self, spec: &Spec) -> Result<()> {
        let text = serde_json::to_vec(spec).map_err(|e| Error::State {
            path: self.path.join(CONFIG_FILE),
            message: e.to_string(),
        })?;
        write_atomic(&self.path.join(CONFIG_FILE), &text)
    }

    /// Load the saved spec.
    pub(crate) fn load_spec(&self) -> Result<Spec> {
        let path = self.path.join(CONFIG_FILE);
        let text = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        crate::spec::parse_spec(&text, &path)
    }

    /// Remove the directory and everything in it.
    pub(crate) fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", self.path.display()), e)),
        }
    }
}

/// Write `data` to `path` (0600: only root reads the runtime's records and pid
/// files) through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    private_fs::create_file(&tmp, private_fs::FILE_MODE)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        Error::io(
            format!("renaming {} to {}", tmp.display(), path.display()),
            e,
        )
    })
}

impl StoredState {
    /// Is the recorded init process still the same live process?
    pub(crate) fn init_alive(&self) -> bool {
        self.pid > 0
            && proc_info::stat(self.pid)
                .map(|s| s.start_time == self.pid_start_time && s.state != 'Z' && s.state != 'X')
                .unwrap_or(false)
    }

    /// The status as the kernel sees it now.
    pub(crate) fn status(&self, dir: &StateDir, frozen: bool) -> ContainerStatus {
        if self.pid == 0 {
            return ContainerStatus::Creating;
        }
        if !self.init_alive() {
            return ContainerStatus::Stopped;
        }
        if dir.fifo().exists() {
            return ContainerStatus::Created;
        }
        if frozen {
            ContainerStatus::Paused
        } else {
            ContainerStatus::Running
        }
    }

    /// The OCI state document for a given status.
    pub(crate) fn to_oci(&self, status: ContainerStatus) -> OciState {
        OciState {
            oci_version: "1.2.0".into(),
            id: self.id.clone(),
            status,
            pid: if status == ContainerStatus::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_has_a_process_from_created_until_it_stops() {
        let has = |s: ContainerStatus| s.has_process();
        assert!(has(ContainerStatus::Created));
        assert!(has(ContainerStatus::Running));
        assert!(has(ContainerStatus::Paused));
        assert!(!has(ContainerStatus::Creating));
        assert!(!has(ContainerStatus::Stopped));
    }
}
