//! The security settings' one kind of refusal: a field podrt cannot honour. It
//! becomes the crate's `Error::Unsupported`, with the same words.

/// Result with a security [`Unsupported`].
pub(crate) type Result<T> = std::result::Result<T, Unsupported>;

/// A security setting that cannot be used; names the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct Unsupported {
    /// Field path in the pod spec (or the config file).
    pub(crate) field: String,
    /// What podrt cannot do, and what to do instead.
    pub(crate) message: String,
}
