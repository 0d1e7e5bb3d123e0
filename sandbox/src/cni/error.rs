//! The CNI module's errors. Each names the plugin, the command, the network and
//! the config file it came from, and the plugin's own code and message if it gave
//! one, so a failed pod network setup can be traced to one plugin invocation.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Result with the CNI module's [`Error`].
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// The CNI operation a plugin is asked to do (its `CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach the container to the network.
    Add,
    /// Detach the container and release its resources.
    Del,
}

impl Command {
    /// The value of `CNI_COMMAND` for this operation.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One plugin invocation, as named in error messages:
/// `CNI plugin "bridge" ADD for network "podrt" (/etc/cni/net.d/10-podrt.conflist)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The plugin's `type`.
    pub plugin: String,
    /// The command it was run with.
    pub command: Command,
    /// The network list's name.
    pub network: String,
    /// The config file the list was loaded from, if any.
    pub source: Option<PathBuf>,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CNI plugin {:?} {} for network {:?}",
            self.plugin, self.command, self.network
        )?;
        match &self.source {
            Some(path) => write!(f, " ({})", path.display()),
            None => Ok(()),
        }
    }
}

/// The meaning of the error codes the CNI spec reserves (0-99).
pub(crate) fn code_name(code: u32) -> &'static str {
    match code {
        1 => "incompatible CNI version",
        2 => "unsupported field in network configuration",
        3 => "container unknown or does not exist",
        4 => "invalid necessary environment variables",
        5 => "I/O failure",
        6 => "failed to decode content",
        7 => "invalid network config",
        11 => "try again later",
        50 => "plugin not available",
        51 => "plugin not available, limited connectivity",
        100.. => "plugin-specific error",
        _ => "reserved error code",
    }
}

/// What went wrong while loading a network config or running its plugins.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network config file or string was refused.
    #[error("CNI config {}: {message}", file_name(.file))]
    Config {
        /// The file, if the config came from one.
        file: Option<PathBuf>,
        /// What is wrong with it.
        message: String,
    },
    /// A config directory or file could not be read.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading CNI config dir", …).
        what: String,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No executable named after the plugin's `type` in any plugin dir.
    #[error(
        "{call}: no executable {:?} in the CNI plugin dirs [{}] (install the plugin there or add its dir to the plugin path)",
        .call.plugin, join_dirs(.dirs)
    )]
    PluginNotFound {
        /// The invocation that needed it.
        call: Box<Call>,
        /// The dirs searched, in order.
        dirs: Vec<PathBuf>,
    },
    /// The plugin could not be started.
    #[error("{call}: starting {}: {source}", path.display())]
    Spawn {
        /// The invocation.
        call: Box<Call>,
        /// The executable.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The plugin failed with a CNI error object.
    #[error("{call} failed: code {code} ({}): {msg}{}", code_name(*.code), details_suffix(.details))]
    Plugin {
        /// The invocation.
        call: Box<Call>,
        /// The plugin's error code.
        code: u32,
        /// The plugin's message.
        msg: String,
        /// The plugin's details, possibly empty.
        details: String,
    },
    /// The plugin failed without a readable CNI error object.
    #[error("{call} failed ({status}){}", stderr_suffix(.stderr))]
    PluginFailed {
        /// The invocation.
        call: Box<Call>,
        /// How it ended ("exit status 2", …).
        status: String,
        /// The tail of its stderr, or of its stdout if stderr was empty.
        stderr: String,
    },
    /// The plugin did not finish in time and was killed.
    #[error("{call} did not finish within {timeout:?} and was killed")]
    Timeout {
        /// The invocation.
        call: Box<Call>,
        /// The limit.
        timeout: Duration,
    },
    /// The plugin succeeded but its result could not be understood.
    #[error("{call} returned an unusable result: {message}")]
    BadResult {
        /// The invocation.
        call: Box<Call>,
        /// What is wrong with the result.
        message: String,
    },
    /// A stored or returned result is not a CNI result this module understands.
    #[error("CNI result: {0}")]
    Result(String),
}

fn file_name(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => path.display().to_string(),
        None => "<string>".to_string(),
    }
}

fn join_dirs(dirs: &[PathBuf]) -> String {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    names.join(", ")
}

fn details_suffix(details: &str) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({details})")
    }
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}
