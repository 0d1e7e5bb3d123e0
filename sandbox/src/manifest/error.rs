//! Errors of the manifest layer.
//!
//! Two kinds: [`Error`] stops parsing a file (it cannot be read, is not YAML, or
//! holds no Pod), and [`Invalid`] lists every field of a parsed pod that
//! validation refused, so a user fixes the whole manifest in one round.

use std::fmt;
use std::path::PathBuf;

/// Why a manifest file could not be turned into pods.
///
/// Each variant names the file (`file`) and, once documents are split, the
/// document number (1-based, counting non-empty documents).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file (or stdin, for `-`) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path given by the user.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not well-formed YAML.
    #[error("{file}: invalid YAML: {message}")]
    Yaml {
        /// Where the text came from.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The text starts like JSON but is not well-formed JSON.
    #[error("{file}: invalid JSON: {message}")]
    Json {
        /// Where the text came from.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A document is not a Kubernetes object podrt can read.
    #[error("{file}: document {document}: {message}")]
    Document {
        /// Where the text came from.
        file: String,
        /// The 1-based document number.
        document: usize,
        /// What is wrong with the document.
        message: String,
    },
    /// A field of a Pod has the wrong type or shape.
    #[error("{file}: document {document}: {field}: {message}")]
    Field {
        /// Where the text came from.
        file: String,
        /// The 1-based document number.
        document: usize,
        /// Kubernetes-style path of the field, e.g. `spec.containers[0].ports[0].containerPort`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file parsed but holds no Pod.
    #[error("{file}: no Pod found{found}: podrt runs Pods")]
    NoPod {
        /// Where the text came from.
        file: String,
        /// A note on what was found instead, e.g. ` (skipped: Service, Deployment)`.
        found: String,
    },
}

/// One refused field of a pod, in Kubernetes' words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// Kubernetes-style field path, e.g. `spec.containers[1].name`.
    pub(crate) field: String,
    /// What is wrong, e.g. `Duplicate value: "web"`.
    pub(crate) message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every reason a pod was refused by [`validate`](super::validate); never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The refused fields, in manifest order.
    pub(crate) errors: Vec<FieldError>,
}

impl Invalid {
    /// Each refused field: its path (`spec.containers[1].name`) and what is wrong.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
    }

    /// Whether some error names exactly this field path.
    #[cfg(test)]
    pub(crate) fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}
