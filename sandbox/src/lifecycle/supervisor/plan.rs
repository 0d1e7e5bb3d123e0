//! `supervisor.json`: what the pod's supervisor runs, written by `apply` before the
//! supervisor starts, so the supervisor never has to read the manifest itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::RestartPolicy;
use crate::error::Result;
use crate::state::record::{read_json, write_atomic};

/// The supervisor's instructions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Plan {
    /// The pod's name (for messages).
    pub(crate) pod: String,
    /// The pod's state directory.
    pub(crate) pod_dir: PathBuf,
    /// `spec.restartPolicy`.
    pub(crate) restart_policy: RestartPolicy,
    /// Init containers, in order.
    pub(crate) init_containers: Vec<String>,
    /// App containers.
    pub(crate) containers: Vec<String>,
    /// The podrt binary, to run container creation in a fresh process.
    pub(crate) helper_exe: Option<PathBuf>,
    /// The ceiling of the restart back-off, if lower than kubelet's 5 minutes.
    #[serde(default)]
    pub(crate) max_restart_period: Option<std::time::Duration>,
    /// When the pod counts as made, for `apply`'s report.
    #[serde(default)]
    pub(crate) made_when: MadeWhen,
    /// How images are pulled when containers are made (with the pod's pull
    /// Secrets: the file is root's alone); `None` never pulls.
    #[serde(default)]
    pub(crate) pulling: Option<crate::pod::pulls::PullSettings>,
}

/// When [`super::apply`] returns: what a made pod means to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MadeWhen {
    /// Once its first phase has started: every app container, or, with init
    /// containers, the first of them (which may wait for long: `apply` does
    /// not wait for it, as kubectl's does not). `podrt apply`'s promise that
    /// a pod it made runs: a container of that first phase that cannot be
    /// made fails the whole pod, and nothing of it is left.
    #[default]
    Running,
    /// Once its sandbox is made and its supervisor listens, before any
    /// container starts: a controller's, which must not wait out an init
    /// container (it may wait for a Service), as kubelet does not. A
    /// container that cannot be made then waits in `CreateContainerError` and
    /// is tried again with the back-off.
    Supervised,
    /// A pod kubelet drives over the CRI: made with its sandbox alone, like
    /// [`MadeWhen::Supervised`], and then its supervisor makes, starts and
    /// forgets containers when asked, restarts none, and lives until the pod
    /// is stopped.
    Kubelet,
}

impl Plan {
    /// Read it.
    pub(crate) fn load(path: &Path) -> Result<Plan> {
        read_json(path)?.ok_or_else(|| crate::Error::State {
            path: path.to_path_buf(),
            message: "missing".into(),
        })
    }

    /// Write it atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(|e| crate::Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, &data)
    }
}
