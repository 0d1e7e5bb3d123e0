//! The runtime's error type: one variant per kind of failure, each carrying what
//! failed and on which path, id or spec field, so a user can act on the message.

use std::path::PathBuf;

/// Result alias used throughout the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while managing a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A container id that runc would refuse (empty, `.`/`..`, or with a `/`).
    #[error("invalid container id {0:?}: use letters, digits, '_', '-', '.' (not only dots)")]
    InvalidId(String),
    /// `create` on an id that already has state.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// An id with no state directory under the root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The bundle has no readable `config.json`.
    #[error("cannot read {path}: {source}")]
    ConfigRead {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `config.json` is not JSON at all.
    #[error("{path}: not valid JSON: {message}")]
    ConfigSyntax {
        /// The file being parsed.
        path: PathBuf,
        /// The parser's message with line and column.
        message: String,
    },
    /// `config.json` does not match the OCI runtime spec.
    #[error("{path}: invalid spec at field `{field}`: {message}")]
    ConfigParse {
        /// The file being parsed.
        path: PathBuf,
        /// The JSON path of the offending field (`process.capabilities.bounding[2]`).
        field: String,
        /// The parser's message.
        message: String,
    },
    /// A spec that parses but asks for something invalid or unsupported.
    #[error("invalid spec: {field}: {message}")]
    InvalidSpec {
        /// The spec field at fault (`linux.namespaces[3].type`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An operation that the container's current status does not allow.
    #[error("container {id:?} is {status}: cannot {op}")]
    WrongStatus {
        /// Container id.
        id: String,
        /// Its current status.
        status: crate::state::ContainerStatus,
        /// The refused operation.
        op: &'static str,
    },
    /// A syscall or file operation in the runtime process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The container's init process reported a failure during setup.
    #[error("container init failed: {0}")]
    Init(String),
    /// A cgroup operation failed.
    #[error("cgroup {path}: {message}")]
    Cgroup {
        /// The cgroup path (relative to the hierarchy roots).
        path: String,
        /// What failed.
        message: String,
    },
    /// Device rules that cannot be compiled or attached (cgroup v2).
    #[error("{0}")]
    DeviceFilter(#[from] crate::device_filter::DeviceFilterError),
    /// A seccomp profile that cannot be compiled.
    #[error("invalid spec: {0}")]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// A lifecycle hook failed.
    #[error("{kind} hook {path} failed: {message}")]
    Hook {
        /// Which hook list (`prestart`, `poststop`...).
        kind: &'static str,
        /// The hook's executable.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// State on disk that cannot be read back.
    #[error("corrupt state {path}: {message}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A feature the runtime does not implement, named so the user knows.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// Wrap an I/O error with a description of what was being done.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Build an `InvalidSpec` error for a field.
    pub(crate) fn spec(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidSpec {
            field: field.into(),
            message: message.into(),
        }
    }
}
