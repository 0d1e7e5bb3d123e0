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
pub(crate) const UNKNOWN_REASON: &str = "ContainerStatusUnknown";

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Terminated {
    /// Exit status, or 128 + the signal's number; `None` when nobody could see it
    /// (the container ended while its supervisor was gone).
    pub(crate) exit_code: Option<i32>,
    /// The signal that killed it.
    pub(crate) signal: Option<i32>,
    /// `Completed`, `Error`, `OOMKilled` or [`UNKNOWN_REASON`].
    pub(crate) reason: String,
    /// When it started (RFC 3339).
    pub(crate) started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub(crate) finished_at: String,
}

/// Kubernetes' three container states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum State {
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

/// The waiting reason of a kubelet pod's container made and not started yet
/// (the CRI's `CONTAINER_CREATED`).
pub(crate) const CONTAINER_CREATED: &str = "ContainerCreated";
/// kubelet's reason for a container that could not be made.
pub(crate) const CREATE_CONTAINER_ERROR: &str = "CreateContainerError";
/// kubelet's reason for a container whose image could not be pulled.
pub(crate) const ERR_IMAGE_PULL: &str = "ErrImagePull";
/// kubelet's reason for a container waiting to pull its image again.
pub(crate) const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";

impl State {
    /// Waiting after its image could not be pulled.
    pub(crate) fn pull_failed(&self) -> bool {
        matches!(self, State::Waiting { reason, .. }
            if reason == ERR_IMAGE_PULL || reason == IMAGE_PULL_BACK_OFF)
    }

    /// Waiting to be made again: it never started (it could not be made, or
    /// its image pulled).
    pub(crate) fn not_made(&self) -> bool {
        self.pull_failed()
            || matches!(self, State::Waiting { reason, .. } if reason == CREATE_CONTAINER_ERROR)
    }
}

/// The record of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerState {
    /// Now.
    pub(crate) state: State,
    /// The previous termination, once it has been restarted.
    pub(crate) last_state: Option<Terminated>,
    /// How many times it was restarted.
    pub(crate) restart_count: u32,
}

impl ContainerState {
    /// Read `state.json`; `None` before the supervisor wrote one.
    pub(crate) fn load(path: &Path) -> Result<Option<ContainerState>> {
        read_json(path)
    }

    /// Write it atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).map_err(|e| crate::Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, &data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::TempDir;
    use serde_json::json;

    fn crashed(exit_code: Option<i32>) -> Terminated {
        Terminated {
            exit_code,
            signal: None,
            reason: if exit_code.is_some() {
                "Error".into()
            } else {
                UNKNOWN_REASON.into()
            },
            started_at: Some("2026-01-02T03:04:05Z".into()),
            finished_at: "2026-01-02T03:04:09Z".into(),
        }
    }

    fn each_state() -> Vec<ContainerState> {
        vec![
            ContainerState {
                state: State::Waiting {
                    reason: "ContainerCreating".into(),
                    message: None,
                },
                last_state: None,
                restart_count: 0,
            },
            ContainerState {
                state: State::Running {
                    started_at: "2026-01-02T03:04:05Z".into(),
                },
                last_state: None,
                restart_count: 0,
            },
            ContainerState {
                state: State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: Some("back-off 20s restarting failed container".into()),
                },
                last_state: Some(crashed(Some(3))),
                restart_count: 2,
            },
            ContainerState {
                state: State::Terminated(Terminated {
                    signal: Some(libc::SIGKILL),
                    ..crashed(Some(137))
                }),
                last_state: Some(crashed(None)),
                restart_count: 7,
            },
        ]
    }

    #[test]
    fn every_state_survives_save_and_load() {
        let dir = TempDir::new("container-state");
        for (i, state) in each_state().into_iter().enumerate() {
            let path = dir.path().join(format!("state{i}.json"));
            state.save(&path).expect("save");
            let loaded = ContainerState::load(&path).expect("load");
            assert_eq!(loaded, Some(state));
        }
    }

    #[test]
    fn a_state_not_written_yet_loads_as_none() {
        let dir = TempDir::new("container-state-none");
        let loaded = ContainerState::load(&dir.path().join("state.json")).expect("no error");
        assert_eq!(loaded, None);
    }

    #[test]
    fn saving_replaces_the_previous_state() {
        let dir = TempDir::new("container-state-replace");
        let path = dir.path().join("state.json");
        let states = each_state();
        states[0].save(&path).expect("first");
        states[2].save(&path).expect("second");
        assert_eq!(
            ContainerState::load(&path).expect("load").as_ref(),
            Some(&states[2])
        );
    }

    #[test]
    fn the_file_layout_stays_as_written_so_far() {
        let v = serde_json::to_value(&each_state()[2]).expect("serialize");
        assert_eq!(
            v,
            json!({
                "state": {"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 20s restarting failed container"
                }},
                "lastState": {
                    "exitCode": 3,
                    "signal": null,
                    "reason": "Error",
                    "startedAt": "2026-01-02T03:04:05Z",
                    "finishedAt": "2026-01-02T03:04:09Z"
                },
                "restartCount": 2
            })
        );
        // `rename_all` on the enum names its variants, not their fields: the
        // running state's field is written `started_at`, and files say so.
        let running = serde_json::to_value(&each_state()[1]).expect("serialize");
        assert_eq!(
            running["state"],
            json!({"running": {"started_at": "2026-01-02T03:04:05Z"}})
        );
    }

    #[test]
    fn an_unknown_state_is_refused_naming_the_file() {
        let dir = TempDir::new("container-state-bad");
        let path = dir.write(
            "state.json",
            r#"{"state": {"paused": {}}, "lastState": null, "restartCount": 0}"#,
        );
        let e = ContainerState::load(&path).expect_err("refused");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
}
