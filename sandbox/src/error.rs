//! The sandbox's errors: each says what failed, on which pod, container, path or
//! field, so the CLI can print it as one line.

use std::path::PathBuf;

/// Result with the sandbox's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong while making, inspecting or removing a pod.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or file operation failed on a path.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done ("creating", "mounting tmpfs on", …).
        what: String,
        /// The path it was done on.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The manifest was refused.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::Error),
    /// The pod failed validation; every field at fault is listed.
    #[error("pod {pod} is invalid: {invalid}")]
    Invalid {
        /// Pod name.
        pod: String,
        /// The field errors.
        invalid: crate::manifest::Invalid,
    },
    /// The admission policy refused the pod; every broken rule is listed.
    #[error("pod {pod} is {refusal}")]
    Refused {
        /// Pod name.
        pod: String,
        /// What it breaks.
        refusal: crate::policy::Refusal,
    },
    /// The admission policy could not be read.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The image store refused.
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    /// An overlay mount failed.
    #[error(transparent)]
    Overlay(#[from] crate::overlay::Error),
    /// The runtime refused a container.
    #[error("container {container}: {source}")]
    Container {
        /// Container name within its pod.
        container: String,
        /// The runtime's error.
        source: podrt_runtime::Error,
    },
    /// The runtime failed on a pod-level object (cgroup, exec).
    #[error(transparent)]
    Runtime(#[from] podrt_runtime::Error),
    /// No pod by that name or id.
    #[error("pod {0:?} not found")]
    PodNotFound(String),
    /// No container by that name in the pod.
    #[error("container {container:?} not found in pod {pod}")]
    ContainerNotFound {
        /// Pod name.
        pod: String,
        /// Container name asked for.
        container: String,
    },
    /// A pod of that name exists already.
    #[error("pod {0:?} already exists (delete it first, or give the new one another name)")]
    PodExists(String),
    /// A state file could not be read or written.
    #[error("state file {}: {message}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// Something in the pod that podrt cannot do; names the field.
    #[error("{field}: {message}")]
    Unsupported {
        /// Field path in the pod spec.
        field: String,
        /// What podrt cannot do, and what to do instead.
        message: String,
    },
    /// Setting up or tearing down the pod's network failed (names the plugin,
    /// the network and its config file).
    #[error("pod network: {0}")]
    Network(#[from] crate::cni::Error),
    /// A `hostPort` another pod on this host has already.
    #[error("{field}: host port {port} is already taken by pod {other:?} ({other_field})")]
    HostPortTaken {
        /// Field path in the new pod.
        field: String,
        /// `8080/tcp`.
        port: String,
        /// The pod that has it.
        other: String,
        /// Field path in that pod.
        other_field: String,
    },
    /// A new supervisor could not take over a pod whose supervisor died.
    #[error("taking over pod {pod} from its dead supervisor: {message}")]
    Adopt {
        /// Pod name.
        pod: String,
        /// What went wrong.
        message: String,
    },
    /// The supervisor that was creating the pod failed or vanished.
    #[error("creating pod {pod}: {message}")]
    Create {
        /// Pod name.
        pod: String,
        /// What the supervisor said.
        message: String,
    },
}

impl From<crate::security::Unsupported> for Error {
    fn from(e: crate::security::Unsupported) -> Error {
        Error::Unsupported {
            field: e.field,
            message: e.message,
        }
    }
}

impl Error {
    /// An [`Error::Io`] from a description, a path and the OS error.
    pub(crate) fn io(
        what: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Io`] from the current `errno`.
    pub(crate) fn last_os(what: impl Into<String>, path: impl Into<PathBuf>) -> Error {
        Error::io(what, path, std::io::Error::last_os_error())
    }

    /// The message as said of a container already named: a runtime error of
    /// that container without its `container NAME:` prefix, anything else whole.
    pub(crate) fn in_container(&self) -> String {
        match self {
            Error::Container { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// Wrap a runtime error as belonging to a container.
    pub(crate) fn container(container: &str) -> impl FnOnce(podrt_runtime::Error) -> Error + '_ {
        move |source| Error::Container {
            container: container.to_string(),
            source,
        }
    }
}
