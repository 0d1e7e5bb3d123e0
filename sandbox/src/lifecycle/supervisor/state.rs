//! What the supervisor records about each container in
//! `containers/<name>/state.json`: Kubernetes' container state (waiting, running,
//! terminated), the last termination, and the restart count. `get`/`describe` turn it
//! into `containerStatuses`. Kept small and free of Kubernetes types: the supervisor
//! that writes it is meant to stay a small process.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::state::record::{read_json, write_atomic};

/// kubelet's reason for a container whose end nobody saw.
pub const UNKNOWN_REASON: &str = "ContainerStatusUnknown";

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terminated {
    /// Exit status, or 128 + the signal's number; `None` when nobody could see it
    /// (the container ended while its supervisor was gone).
    pub exit_code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// `Completed`, `Error`, `OOMKilled` or [`UNKNOWN_REASON`].
    pub reason: String,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub finished_at: String,
}

/// Kubernetes' three container states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Not running: being created, or waiting out a back-off.
    Waiting {
        /// `ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`,
        /// `CreateContainerError`.
        reason: String,
        /// Details.
        message: Option<String>,
    },
    /// Its process runs.
    Running {
        /// Since when (RFC 3339).
        started_at: String,
    },
    /// It ended.
    Terminated(Terminated),
}

/// The record of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Now.
    pub state: State,
    /// The previous termination, once it has been restarted.
    pub last_state: Option<Terminated>,
    /// How many times it was restarted.
    pub restart_count: u32,
}

impl ContainerState {
    /// Read `state.json`; `None` before the supervisor wrote one.
    pub fn load(path: &Path) -> Result<Option<ContainerState>> {
        read_json(path)
    }

    /// Write it atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).map_err(|e| crate::Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, &data)
    }
}
