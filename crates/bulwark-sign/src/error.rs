//! The crate's error type. Every failure names its cause once; verification failures
//! carry the reason a check failed so callers can report it.

use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. [`Error::is_unverified`] separates "the input was read and did not
/// verify" (a policy answer) from "the input could not be read or is not supported".
#[derive(Debug, Error)]
pub enum Error {
    /// The input is malformed: bad PEM/DER/JSON/base64, wrong shape, too large.
    #[error("{0}")]
    Malformed(String),
    /// The input is well-formed but uses something this crate does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A private key could not be decrypted (wrong password or corrupted key).
    #[error("cannot decrypt the private key: wrong password or corrupted key")]
    WrongPassword,
    /// A key reference could not be resolved (missing file or environment variable).
    #[error("{0}")]
    KeyRef(String),
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Verification was attempted and failed; the string says which check failed.
    #[error("not verified: {0}")]
    Unverified(String),
}

impl Error {
    /// True when the input was read and a verification check failed (as opposed to
    /// input that could not be read or understood).
    pub fn is_unverified(&self) -> bool {
        matches!(self, Error::Unverified(_) | Error::WrongPassword)
    }

    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// Shorthand for a verification failure.
pub(crate) fn unverified(msg: impl Into<String>) -> Error {
    Error::Unverified(msg.into())
}

/// Shorthand for malformed input.
pub(crate) fn malformed(msg: impl Into<String>) -> Error {
    Error::Malformed(msg.into())
}
