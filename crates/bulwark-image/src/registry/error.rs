//! Typed registry errors: every failure names the registry, the repository and the
//! operation, and each failing status (401, 403, 404, 429, 5xx) has its own kind so
//! callers (and users) can tell "wrong password" from "no such repository" from "the
//! registry is down".

use std::time::Duration;

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {registry}/{repository}: {kind}")]
pub struct RegistryError {
    /// The registry host as written in the reference (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// The repository (`team/app`); empty for registry-wide requests.
    pub repository: String,
    /// What was being done, as a phrase that reads before the repository name
    /// (`push manifest 1.0 to`, `pull blob sha256:... from`).
    pub operation: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// 401 after authenticating (or with nothing to authenticate with).
    #[error("401 Unauthorized: {0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("403 Forbidden: {0}")]
    Forbidden(String),
    /// 404: the repository, manifest, tag or blob does not exist.
    #[error("404 Not Found: {0}")]
    NotFound(String),
    /// 429 on every attempt.
    #[error("429 Too Many Requests: still rate-limited after {attempts} attempts{detail}")]
    RateLimited {
        /// Requests made.
        attempts: u32,
        /// The registry's error text, `": ..."` or empty.
        detail: String,
    },
    /// A 5xx status on every attempt.
    #[error("HTTP {status} server error after {attempts} attempts{detail}")]
    Server {
        /// The last status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// The registry's error text, `": ..."` or empty.
        detail: String,
    },
    /// Another unexpected status.
    #[error("unexpected HTTP {status}{detail}")]
    Status {
        /// The status.
        status: u16,
        /// The registry's error text, `": ..."` or empty.
        detail: String,
    },
    /// No (complete) answer in time: the registry hangs.
    #[error("timed out: no answer within {secs} s ({0})", secs = .1.as_secs_f64())]
    Timeout(String, Duration),
    /// Connection, TLS or protocol failure below HTTP.
    #[error("{0}")]
    Transport(String),
    /// The registry answered something malformed or inconsistent.
    #[error("{0}")]
    Protocol(String),
    /// Content does not hash to its digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received or read.
        actual: String,
    },
    /// Local configuration (CA file, credentials) is unusable.
    #[error("{0}")]
    Config(String),
    /// Reading local content failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl RegistryError {
    /// The HTTP status behind the error, when there is one.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Unauthorized(_) => Some(401),
            ErrorKind::Forbidden(_) => Some(403),
            ErrorKind::NotFound(_) => Some(404),
            ErrorKind::RateLimited { .. } => Some(429),
            ErrorKind::Server { status, .. } | ErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound(_))
    }
}
