//! The node agent's errors: each names the object (`deployment.apps/web`) or the
//! file it is about.

use std::path::PathBuf;

/// Result with the node agent's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong in the node agent or in a command on workload objects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest could not be read or decoded.
    #[error(transparent)]
    Manifest(#[from] podrt_sandbox::manifest::Error),
    /// An object failed validation; every field at fault is listed.
    #[error("{object} is invalid: {}", fields.join("; "))]
    Invalid {
        /// `deployment.apps/web`.
        object: String,
        /// `field: what is wrong`, one entry per field.
        fields: Vec<String>,
    },
    /// The admission policy refused the object's pod template.
    #[error("{object}: its pod template is {refusal}")]
    Refused {
        /// `deployment.apps/web`.
        object: String,
        /// The policy's refusal, every broken rule listed.
        refusal: podrt_sandbox::policy::Refusal,
    },
    /// A file of the store could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `reading`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored object is not valid JSON of its kind.
    #[error("reading {}: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The object does not exist.
    #[error("{object} not found")]
    NotFound {
        /// `deployments.apps "web"`.
        object: String,
    },
    /// The API server's Forbidden: the request is refused as it stands (a
    /// namespace being deleted, `default` deleted).
    #[error("{message}")]
    Forbidden {
        /// The whole message.
        message: String,
    },
    /// Another `podrt serve` runs for the same root.
    #[error("another podrt serve is running for {} (its lock {} is held)", root.display(), lock.display())]
    AgentRunning {
        /// The podrt root.
        root: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The image store could not be opened.
    #[error(transparent)]
    Image(#[from] podrt_sandbox::image::Error),
    /// The sandbox failed to make, list or delete a pod.
    #[error(transparent)]
    Sandbox(#[from] podrt_sandbox::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}
