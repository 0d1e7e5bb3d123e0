//! The image store's error type. Each variant names the file, reference or digest
//! at fault and, where there is one, what the user can do about it.

use std::path::PathBuf;

/// Everything that can go wrong while importing, resolving or removing an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference that Docker's reference grammar refuses.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reference that names no image in the store.
    #[error(
        "image {reference:?} is not in podrt's image store: pull it with `podrt image pull \
         {reference}`, or import it with `podrt image import PATH --name {reference}` (PATH: \
         an OCI image layout or a docker-archive tar, e.g. from vendor-images/build.sh, \
         `podman save` or `docker save`)"
    )]
    NotFound {
        /// The reference as given (or normalised).
        reference: String,
    },
    /// A system call on a file of the store or of the imported image failed.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What podrt was doing ("read", "create directory", ...).
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path is neither an OCI image layout nor a docker-archive.
    #[error(
        "{path}: not an OCI image layout (no oci-layout file) nor a docker-archive \
         (no manifest.json); give the directory or tar written by `skopeo copy`, \
         `podman save` or `docker save`"
    )]
    UnknownFormat {
        /// The path given to import.
        path: PathBuf,
    },
    /// A file the layout or archive refers to is not in it.
    #[error("{path}: {file} is missing; the image is incomplete, export it again")]
    MissingFile {
        /// The layout or archive.
        path: PathBuf,
        /// The file inside it.
        file: String,
    },
    /// A JSON document of the image does not parse.
    #[error("{path}: {file} is not valid: {message}")]
    Json {
        /// The layout or archive.
        path: PathBuf,
        /// The document inside it.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Content whose sha256 is not the digest it is stored or referred to under.
    #[error(
        "{path}: {file} has digest {actual}, but {expected} was expected; the image is \
         corrupt, export it again"
    )]
    DigestMismatch {
        /// The layout or archive.
        path: PathBuf,
        /// The blob or layer inside it.
        file: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// Content that parses but that podrt cannot use as it is.
    #[error("{path}: {reason}")]
    Invalid {
        /// The layout or archive.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// An image without a usable name, and no `--name` to give it one.
    #[error("{path}: {reason}; give one with --name")]
    NameNeeded {
        /// The layout or archive.
        path: PathBuf,
        /// Why the image's own name cannot be used.
        reason: String,
    },
    /// A layer tar entry that cannot be unpacked safely.
    #[error("{path}: layer {layer}: entry {entry:?}: {reason}")]
    Unpack {
        /// The layout or archive.
        path: PathBuf,
        /// The layer's file in the layout or archive (`blobs/sha256/…`, `…/layer.tar`).
        layer: String,
        /// The entry's path inside the layer tar.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Pulling from a registry failed: the reason names the registry and, for a
    /// layer, its digest.
    #[error("pulling image {reference}: {reason}")]
    Pull {
        /// The normalised reference.
        reference: String,
        /// What failed.
        reason: String,
    },
    /// The store's own metadata is damaged or from an unknown version.
    #[error("{path}: {reason}")]
    Store {
        /// The store file at fault.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
}

/// Result alias for the image store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `Io` error; a short constructor for `map_err`.
    pub(super) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            path,
            action,
            source,
        }
    }
}
