//! Misconfiguration checks for infrastructure-as-code: Kubernetes workload manifests
//! (including Helm-rendered multi-document YAML), the Kubernetes Pod Security Standards
//! at every published version, CIS Kubernetes Benchmark section 5 / NSA-CISA hardening
//! checks, and docker-compose files (CIS Docker Benchmark section 5).
//!
//! Shared parts live in [`check`] (check metadata, sets, `--checks` selection) and
//! [`yaml`] (bounded YAML loading with line numbers); each input family has its own
//! module ([`k8s`], [`compose`]).

pub mod check;
pub mod compose;
pub mod k8s;
pub mod yaml;

pub use check::{checks, CheckMeta, CheckSelection};
pub use compose::{scan_compose, ComposeOptions};
pub use k8s::{scan_k8s, K8sOptions, PssVersion};

/// Why a file could not be checked. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum MisconfigError {
    /// The file is larger than the YAML size limit.
    #[error("{path}: {size} bytes exceeds the {limit}-byte limit for YAML files")]
    TooLarge {
        /// File.
        path: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8 text (binary content under a `.yaml` name). Callers report
    /// this as a warning, not a failure: see [`MisconfigError::is_warning`].
    #[error("{path}: not a text file ({reason}); skipped")]
    NotText {
        /// File.
        path: String,
        /// What gave it away.
        reason: String,
    },
    /// Malformed YAML, or YAML exceeding the depth or alias-expansion limits.
    #[error("{path}:{line}: invalid YAML: {message}")]
    Yaml {
        /// File.
        path: String,
        /// 1-based line.
        line: u32,
        /// Parser message.
        message: String,
    },
}

impl MisconfigError {
    /// True for problems that mean "this was not a config file" rather than "this config
    /// file is broken": the caller should warn and go on.
    pub fn is_warning(&self) -> bool {
        matches!(self, MisconfigError::NotText { .. })
    }
}
