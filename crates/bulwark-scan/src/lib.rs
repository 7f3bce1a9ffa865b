//! The whole scan of one target: the package catalog (SBOM), vulnerabilities matched
//! from the vulnerability DB, secrets in every layer, and misconfigurations of the files
//! and the image config — assembled into one [`Report`]. The CLI's `scan` and `config`
//! commands (and later the server) call this crate, so every front end builds the same
//! report.

use bulwark_core::Report;
use std::path::PathBuf;

pub mod files;
pub mod vuln;

/// Which scanners run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanners {
    /// Vulnerabilities (needs the DB).
    pub vuln: bool,
    /// Secrets in files (every layer) and image metadata.
    pub secret: bool,
    /// Misconfigurations of files and the image config.
    pub misconfig: bool,
}

impl Default for Scanners {
    fn default() -> Self {
        Scanners {
            vuln: true,
            secret: false,
            misconfig: false,
        }
    }
}

/// Everything a scan needs to know.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// How to read the target.
    pub target: bulwark_catalog::pipeline::ScanOptions,
    /// Which scanners run.
    pub scanners: Scanners,
    /// Vulnerability DB directory (default: `BULWARK_DB` or the user cache).
    pub db_dir: Option<PathBuf>,
    /// Warn when the DB is older than this.
    pub max_db_age: Option<std::time::Duration>,
    /// Secret scanner config file (`bulwark-secret.yaml`).
    pub secret_config: Option<PathBuf>,
    /// Misconfiguration check selection (`all`, `pss-restricted`, ids...).
    pub checks: Option<String>,
    /// Pod Security Standards version (`v1.37`, `latest`).
    pub pss_version: Option<String>,
    /// Directory of custom Rego checks.
    pub custom_checks: Option<PathBuf>,
}

/// Errors that stop a scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading the target failed.
    #[error(transparent)]
    Pipeline(#[from] bulwark_catalog::pipeline::PipelineError),
    /// Reading the image or directory failed.
    #[error(transparent)]
    Image(#[from] bulwark_image::ImageError),
    /// The vulnerability DB could not be used.
    #[error("vulnerability DB: {0}")]
    Db(String),
    /// A configuration input (secret config, checks, Rego) is invalid.
    #[error("{0}")]
    Config(String),
}

/// Scans a target with the selected scanners.
///
/// The DB is opened before the target is read, so a missing DB fails fast instead of
/// after a long image read.
pub fn scan(target: &str, opts: &ScanOptions) -> Result<Report, ScanError> {
    let mut early_warnings = Vec::new();
    let db = if opts.scanners.vuln {
        let dir = vuln::resolve_db_dir(opts.db_dir.as_deref())?;
        Some(vuln::open_db(&dir, opts.max_db_age, &mut early_warnings)?)
    } else {
        None
    };
    let mut topts = opts.target.clone();
    // A file no package cataloger knows may still be a manifest or hold secrets.
    topts.allow_unknown |= opts.scanners.secret || opts.scanners.misconfig;
    let mut report = bulwark_catalog::pipeline::sbom_report(target, &topts)?;
    if !opts.target.allow_unknown {
        // The file went to the secret/misconfig scanners, which is what was asked for.
        report
            .incomplete
            .retain(|r| r.kind != bulwark_core::IncompleteKind::UnknownTarget);
    }
    report.warnings.extend(early_warnings);
    if let Some(db) = &db {
        let stats = vuln::match_report(&mut report, db)?;
        tracing::info!(
            "matched {} packages ({} DB lookups): {} findings",
            stats.packages_looked_up,
            stats.db_queries,
            stats.findings
        );
    }
    if (opts.scanners.secret || opts.scanners.misconfig) && !target.starts_with("sbom:") {
        let resolved = files::open_target(target, opts)?;
        let found = files::scan_files(&resolved, opts)?;
        report.secrets.extend(found.secrets);
        report.misconfigurations.extend(found.misconfigurations);
        report.warnings.extend(found.warnings);
        report.sort();
    }
    Ok(report)
}
