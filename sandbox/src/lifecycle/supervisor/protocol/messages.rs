//! The messages themselves, one enum (or struct) per channel. Each is tagged
//! inside its JSON object by a field naming its channel (`report`, `request`,
//! `reply`, `outcome`), so a line read from the wrong channel fails to decode
//! rather than meaning something else. A new request is a new variant here and
//! an arm in the supervisor's `serve`.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use serde::{Deserialize, Serialize};

use super::Message;
use crate::lifecycle::supervisor::state::ContainerState;

/// What the supervisor reports, once, on the pipe to the command that started it:
/// `apply` (creating the pod) or the command that found the pod's supervisor dead
/// (taking it over).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub(crate) enum Report {
    /// The pod is made: every app container was started (or the pod failed for
    /// good in its init containers, or is retrying them).
    Ready,
    /// The pod could not be made, or taken over; nothing of it runs.
    Failed {
        /// What went wrong.
        message: String,
    },
    /// A taking-over supervisor leaves the pod alone: another one has it, it is
    /// being deleted, or nothing of it will run again.
    Left {
        /// Which of these.
        why: String,
    },
    /// A taking-over supervisor has the pod now.
    Adopted {
        /// Its PID.
        pid: i32,
        /// Its start time (clock ticks since boot).
        start_time: u64,
        /// Containers it found running.
        running: usize,
        /// Containers that had ended while no supervisor watched.
        ended: usize,
        /// Of those, how many ended so long ago that the kernel no longer said how.
        unknown: usize,
    },
}

impl Message for Report {
    const SENDER: &'static str = "the pod's supervisor";
}

/// A request on the supervisor's control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Every container's state, answered by [`Reply::Status`].
    Status,
    /// The pod is being deleted: restart nothing, and terminate every container
    /// gracefully in a terminator process of the supervisor's.
    Terminate {
        /// The grace period, in milliseconds.
        grace_ms: u64,
    },
    /// The pod is being deleted: restart nothing from now on.
    Terminating,
    /// A kubelet pod's `CreateContainer`: make the container `name` (already
    /// in the pod's manifest) and leave it waiting for [`Request::Start`].
    Create {
        /// The container's name in the manifest.
        name: String,
    },
    /// A kubelet pod's `StartContainer`: start the container `name` made by
    /// [`Request::Create`].
    Start {
        /// The container's name in the manifest.
        name: String,
    },
    /// `ReopenContainerLog`: the container `name`'s log was rotated (renamed);
    /// write to a new file at its path from now on.
    ReopenLog {
        /// The container's name in the manifest.
        name: String,
    },
    /// A kubelet pod's `RemoveContainer`: forget the container `name` (its
    /// caller removes it).
    Forget {
        /// The container's name in the manifest.
        name: String,
    },
}

impl Message for Request {
    const SENDER: &'static str = "the podrt command";
}

/// The supervisor's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub(crate) enum Reply {
    /// Each container's state, by name.
    Status {
        /// Container name to its state.
        containers: BTreeMap<String, ContainerState>,
    },
    /// Done.
    Ok,
    /// The request was not carried out.
    Error {
        /// Why.
        message: String,
    },
}

impl Message for Reply {
    const SENDER: &'static str = "the pod's supervisor";
}

/// A container for the creator to make, with the descriptors its stdout and
/// stderr go to (the write ends of the supervisor's FIFOs, inherited across the
/// creator's exec). One per line on the creator's stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkItem {
    /// Container name.
    pub(crate) name: String,
    /// Its stdout.
    pub(crate) stdout_fd: RawFd,
    /// Its stderr.
    pub(crate) stderr_fd: RawFd,
    /// Pull its image first if its `imagePullPolicy` asks for it (not on a
    /// first start after `apply` pulled).
    #[serde(default)]
    pub(crate) pull: bool,
    /// Make it but do not start it (a kubelet pod's `CreateContainer`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) create_only: bool,
}

impl Message for WorkItem {
    const SENDER: &'static str = "the pod's supervisor";
}

/// What became of one [`WorkItem`], one per line on the creator's stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Created and started.
    Started {
        /// Container name.
        name: String,
        /// Host PID of its process.
        pid: i32,
        /// Its cgroup path.
        cgroup: String,
    },
    /// Created, not started (a [`WorkItem::create_only`] item).
    Created {
        /// Container name.
        name: String,
        /// Host PID of its process, waiting to be started.
        pid: i32,
        /// Its cgroup path.
        cgroup: String,
    },
    /// Not made; why.
    Failed {
        /// Container name.
        name: String,
        /// The error, one line.
        message: String,
        /// kubelet's reason for the wait that follows, when it is not
        /// `CreateContainerError` (`ErrImagePull`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The creator made none of its items (the pod is being deleted, its record
    /// could not be read, the binary could not be run); why.
    Aborted {
        /// The error, one line.
        message: String,
    },
}

impl Message for Outcome {
    const SENDER: &'static str = "the container creator";
}
