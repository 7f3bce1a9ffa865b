//! The crate's error type: each cause is named once, by the layer that saw it.

use bulwark_image::registry::{ErrorKind, RegistryError};
use bulwark_image::ImageError;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while storing, finding or verifying signatures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A registry operation failed (the error names registry, repository, operation).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Reading or writing an OCI layout failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Keys, payloads, envelopes or bundles (from `bulwark-sign`).
    #[error(transparent)]
    Sign(#[from] bulwark_sign::Error),
    /// The image argument cannot be used.
    #[error("{target}: {message}")]
    Target {
        /// The argument as given.
        target: String,
        /// Why.
        message: String,
    },
    /// Stored signature data is malformed or too large.
    #[error("{0}")]
    Malformed(String),
    /// A Rego policy could not be loaded or read (the message names the file).
    #[error(transparent)]
    Rego(#[from] bulwark_misconfig::MisconfigError),
    /// A Rego policy failed to load or evaluate.
    #[error("policy {path}: {message}")]
    Policy {
        /// The policy file.
        path: String,
        /// Why.
        message: String,
    },
}

impl Error {
    /// Whether the storage could not be reached or read at all (registry down, 5xx,
    /// timeouts, auth, local I/O): verification must stop rather than report the
    /// signature as merely "not verified".
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Registry(e) => !matches!(
                e.kind,
                ErrorKind::NotFound(_) | ErrorKind::Protocol(_) | ErrorKind::DigestMismatch { .. }
            ),
            Error::Image(ImageError::Io { .. }) => true,
            _ => false,
        }
    }
}

pub(crate) fn malformed(m: impl Into<String>) -> Error {
    Error::Malformed(m.into())
}
