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
pub mod dockerfile;
pub mod image_config;
pub mod k8s;
pub mod rego;
pub mod yaml;

pub use check::{checks, CheckMeta, CheckSelection};
pub use compose::{scan_compose, ComposeOptions};
pub use dockerfile::{
    check_dockerfile, check_dockerfile_with, scan_dockerfile, scan_dockerfile_with,
    DockerfileOptions,
};
pub use image_config::scan_image_config;
pub use k8s::{check_k8s, check_pod_security, scan_k8s, K8sOptions, PssLevel, PssVersion};

/// Something about a file that the checks resolved in a way the user should know about
/// (a repeated key in a manifest, a `RUN` too large to check in full). The file was
/// still checked; callers show these as warnings naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWarning {
    /// 1-based line the warning is about (0 for the whole file).
    pub line: u32,
    /// What happened and how the checks dealt with it.
    pub message: String,
}

impl std::fmt::Display for CheckWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// What checking one file produced: findings, and warnings about how it was read.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The misconfigurations found.
    pub findings: Vec<bulwark_core::Misconfiguration>,
    /// How parts of the file were resolved or left unchecked.
    pub warnings: Vec<CheckWarning>,
}

/// Why a file could not be checked. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum MisconfigError {
    /// The file is larger than the size limit for its kind (YAML, Dockerfile, Rego).
    #[error("{path}: {size} bytes exceeds the {limit}-byte limit for this kind of file")]
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
    /// A file that is not valid in its own syntax (a Dockerfile with an unterminated
    /// heredoc, a Rego policy that does not compile) or exceeds a structural limit.
    #[error("{path}:{line}: invalid {what}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// 1-based line (0 when the problem concerns the whole file).
        line: u32,
        /// The kind of file (`Dockerfile`, `Rego policy`).
        what: &'static str,
        /// What is wrong.
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
