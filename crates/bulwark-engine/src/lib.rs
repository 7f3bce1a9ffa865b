//! The scanning engine: the one place that turns a target into a report and a verdict.
//!
//! An [`Engine`] is built once from an explicit [`EngineConfig`] (cache and DB
//! directories, registry credentials, daemon socket, thread budget, default deadline)
//! and then serves any number of scans, from any number of threads. It reads no
//! environment variable: the CLI (and later the server and the admission webhook) read
//! their own configuration and pass it in.
//!
//! One scan ([`Engine::scan`]):
//! 1. resolves the target **once**, to a digest-pinned image (a registry tag is resolved
//!    to a manifest digest, a daemon name to an image id that is then exported by id);
//!    the report names that digest;
//! 2. walks it **once**: the catalogers, the secret scanner and the misconfiguration
//!    checks are visitors of the same walk ([`visitor::EngineVisitor`]), so every layer
//!    is read, inflated and hashed once ([`ScanStats`] counts it);
//! 3. matches the packages against the vulnerability DB;
//! 4. applies suppression (the ignore file, VEX, inline comments) and the gate options,
//!    and computes the [`Verdict`].
//!
//! A scan takes a [`Cancel`] token (and the config's or the token's deadline); it is
//! checked between stages, between layers and inside the layer loop, and a cancelled or
//! expired scan returns [`EngineError::Image`] with [`bulwark_image::ImageError::Cancelled`]
//! or `DeadlineExceeded` — never a partial report. All scans of one engine run on the
//! engine's one thread pool, so concurrent scans share one thread budget.

use bulwark_core::{Report, Severity};
use bulwark_report::filter::PkgClass;
use bulwark_report::ignore::IgnoreFile;
use bulwark_report::vex::VexDocument;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod cache;
pub mod files;
pub mod pipeline;
pub mod verdict;
pub mod visitor;
pub mod vuln;

pub use bulwark_image::registry::{CredentialConfig, Credentials, RegistryConfig, Secret};
pub use bulwark_image::{CacheUse, Cancel, ImageError, LayerStats};
pub use verdict::{Gate, Suppression, Verdict};

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

/// Everything an engine needs to know, given explicitly.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Cache root: registry blobs, daemon exports, spooled files.
    pub cache_dir: PathBuf,
    /// Vulnerability DB directory; required when the vulnerability scanner runs.
    pub db_dir: Option<PathBuf>,
    /// Registry access: plain HTTP, CA file, credentials, timeouts, retries.
    pub registry: RegistryConfig,
    /// Docker-compatible daemon socket for `docker-daemon:` targets (default sockets when
    /// unset).
    pub daemon_socket: Option<PathBuf>,
    /// Worker threads shared by every scan of this engine; 0 means the available cores.
    pub threads: usize,
    /// Decompression-bomb guard: largest decompressed layer, in bytes.
    pub max_layer_size: u64,
    /// Time budget of each scan whose [`Cancel`] token carries no deadline of its own.
    pub deadline: Option<Duration>,
    /// Keep and reuse per-layer analysis results under `<cache_dir>/layers` (see
    /// [`cache`]); on by default.
    pub layer_cache: bool,
    /// A second tier of per-layer analysis results shared between processes (the
    /// server's database, for its scan jobs): consulted when the local tier (if on) has
    /// no record, and given every record the walk produces. See
    /// [`cache::SharedLayerResults`].
    pub shared_layer_results: Option<Arc<dyn cache::SharedLayerResults>>,
}

impl EngineConfig {
    /// A configuration with the defaults and the given cache directory.
    pub fn new(cache_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            cache_dir: cache_dir.into(),
            db_dir: None,
            registry: RegistryConfig::default(),
            daemon_socket: None,
            threads: 0,
            max_layer_size: 64 << 30,
            deadline: None,
            layer_cache: true,
            shared_layer_results: None,
        }
    }
}

/// What to read: the target string and the platform for multi-platform images.
#[derive(Debug, Clone, Default)]
pub struct TargetRequest {
    /// A path (auto-detected) or a transport-prefixed target (`docker://`, `oci:`, ...).
    pub target: String,
    /// Platform to pick from a multi-platform image (`linux/arm64`).
    pub platform: Option<String>,
    /// Scan a single file that no cataloger recognises with a warning (and an
    /// `unknown-target` incompleteness reason) instead of failing.
    pub allow_unknown: bool,
}

/// One scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// What to read.
    pub target: TargetRequest,
    /// Which scanners run.
    pub scanners: Scanners,
    /// Warn when the DB is older than this (default 7 days).
    pub max_db_age: Option<Duration>,
    /// Secret scanner config file (`bulwark-secret.yaml`).
    pub secret_config: Option<PathBuf>,
    /// Misconfiguration check selection (`all`, `pss-restricted`, ids...).
    pub checks: Option<String>,
    /// Pod Security Standards version (`v1.37`, `latest`).
    pub pss_version: Option<String>,
    /// Directory of custom Rego checks.
    pub custom_checks: Option<PathBuf>,
    /// Ignore file, VEX documents, whether suppressed findings stay listed.
    pub suppression: Suppression,
    /// What is reported and what fails the verdict.
    pub gate: Gate,
}

/// One `config` run: configuration files and directories checked for misconfigurations.
#[derive(Debug, Clone, Default)]
pub struct ConfigRequest {
    /// Files and directories (directories are walked).
    pub paths: Vec<PathBuf>,
    /// Check selection (`all` when unset).
    pub checks: Option<String>,
    /// Pod Security Standards version (`latest` when unset).
    pub pss_version: Option<String>,
    /// Directory of custom Rego checks.
    pub custom_checks: Option<PathBuf>,
    /// Ignore file and whether suppressed findings stay listed (VEX does not apply).
    pub suppression: Suppression,
    /// What is reported and what fails the verdict.
    pub gate: Gate,
}

/// Bytes moved for one layer of the scanned image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCount {
    /// The layer's blob digest.
    pub digest: String,
    /// What was read, inflated and hashed.
    pub stats: LayerStats,
}

/// What a scan did, beside its findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// One entry per image layer, bottom first (empty for directories, files, SBOMs).
    pub layers: Vec<LayerCount>,
    /// Walks made over the target (1 for any scan of an image or directory).
    pub walks: u32,
}

/// The outcome of a scan: the report (filtered and suppressed as asked), the verdict
/// and the counters.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// The report, with only the requested severities and package classes; suppressed
    /// findings are removed or, with `show_suppressed`, kept and marked.
    pub report: Report,
    /// Pass or fail, with reasons.
    pub verdict: Verdict,
    /// Findings suppressed by the ignore file.
    pub ignored: usize,
    /// Findings suppressed by VEX.
    pub vexed: usize,
    /// Bytes read, inflated and hashed per layer.
    pub stats: ScanStats,
}

/// The outcome of an SBOM run.
#[derive(Debug, Clone)]
pub struct SbomOutcome {
    /// The package report.
    pub report: Report,
    /// Bytes read, inflated and hashed per layer.
    pub stats: ScanStats,
}

/// Errors that stop a scan. None of them comes with a partial report.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading the target failed, or the scan was cancelled or ran out of time.
    #[error(transparent)]
    Image(#[from] bulwark_image::ImageError),
    /// A single-file target that nothing recognises (and `allow_unknown` is off).
    #[error("{path}: no cataloger recognises this file (expected a lock file, package manifest, package database, binary with build info, image archive or SBOM); pass --allow-unknown to accept it with a warning")]
    Unrecognised {
        /// The file.
        path: String,
    },
    /// An SBOM target could not be read.
    #[error("{path}: {message}")]
    Sbom {
        /// The SBOM file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The vulnerability DB could not be used.
    #[error("vulnerability DB: {0}")]
    Db(String),
    /// A configuration input (secret config, checks, Rego, a path) is invalid.
    #[error("{0}")]
    Config(String),
    /// The engine's thread pool could not be built.
    #[error("thread pool: {0}")]
    Pool(String),
}

impl EngineError {
    /// Whether the scan stopped because it was cancelled or ran past its deadline.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            EngineError::Image(
                bulwark_image::ImageError::Cancelled
                    | bulwark_image::ImageError::DeadlineExceeded { .. }
            )
        )
    }
}

/// The scanning engine. Cheap to share (`&Engine` is `Sync`); build one per process.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    pool: Arc<rayon::ThreadPool>,
}

impl Engine {
    /// Builds an engine and its thread pool.
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .thread_name(|i| format!("bulwark-engine-{i}"))
            .build()
            .map_err(|e| EngineError::Pool(e.to_string()))?;
        Ok(Engine {
            config,
            pool: Arc::new(pool),
        })
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Worker threads in the shared pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The token a scan runs under: the caller's, with the config's deadline when the
    /// caller gave none.
    fn effective_cancel(&self, cancel: &Cancel) -> Cancel {
        match self.config.deadline {
            Some(d) if !cancel.has_deadline() => cancel.clone().with_timeout(d),
            _ => cancel.clone(),
        }
    }

    /// The package report (SBOM) of a target.
    pub fn sbom(&self, req: &TargetRequest, cancel: &Cancel) -> Result<SbomOutcome, EngineError> {
        let cancel = self.effective_cancel(cancel);
        let done = pipeline::run(self, req, &pipeline::Analyzers::none(), &cancel)?;
        Ok(SbomOutcome {
            report: done.report,
            stats: done.stats,
        })
    }

    /// Scans a target with the selected scanners and computes the verdict.
    ///
    /// The DB and the scanner configuration are opened before the target is read, so a
    /// missing DB or a bad `--checks` fails fast instead of after a long image read.
    pub fn scan(&self, req: &ScanRequest, cancel: &Cancel) -> Result<ScanOutcome, EngineError> {
        let cancel = self.effective_cancel(cancel);
        let mut early_warnings = Vec::new();
        let db = if req.scanners.vuln {
            let dir = self.config.db_dir.as_deref().ok_or_else(|| {
                EngineError::Db(
                    "no DB directory: set BULWARK_DB or --db; then run `bulwark db update` or `bulwark db import`".into(),
                )
            })?;
            Some(vuln::open_db(dir, req.max_db_age, &mut early_warnings)?)
        } else {
            None
        };
        let analyzers = pipeline::Analyzers::for_scan(req)?;
        let mut done = pipeline::run(self, &req.target, &analyzers, &cancel)?;
        done.report.warnings.extend(early_warnings);
        if let Some(db) = &db {
            cancel.check()?;
            let stats = vuln::match_report(&mut done.report, db)?;
            tracing::info!(
                "matched {} packages ({} DB lookups): {} findings",
                stats.packages_looked_up,
                stats.db_queries,
                stats.findings
            );
        }
        cancel.check()?;
        let applied = verdict::apply(&mut done.report, &req.suppression, &req.gate);
        Ok(ScanOutcome {
            report: done.report,
            verdict: applied.verdict,
            ignored: applied.ignored,
            vexed: applied.vexed,
            stats: done.stats,
        })
    }

    /// Checks configuration files and directories for misconfigurations (`bulwark
    /// config`): the same checks, suppression and verdict as a scan's misconfiguration
    /// scanner.
    pub fn check_config(
        &self,
        req: &ConfigRequest,
        cancel: &Cancel,
    ) -> Result<ScanOutcome, EngineError> {
        let cancel = self.effective_cancel(cancel);
        let checks = files::ConfigChecks::from_parts(
            req.checks.as_deref(),
            req.pss_version.as_deref(),
            req.custom_checks.as_deref(),
        )?;
        let mut report = files::check_paths(self, &req.paths, &checks, &cancel)?;
        let suppression = Suppression {
            vex: Vec::new(),
            ..req.suppression.clone()
        };
        let applied = verdict::apply(&mut report, &suppression, &req.gate);
        Ok(ScanOutcome {
            report,
            verdict: applied.verdict,
            ignored: applied.ignored,
            vexed: applied.vexed,
            stats: ScanStats::default(),
        })
    }

    /// Walk options for one walk of this engine: its pool, its limits, the scan's token.
    pub(crate) fn walk_options(&self, cancel: &Cancel) -> bulwark_image::WalkOptions {
        bulwark_image::WalkOptions {
            max_layer_bytes: self.config.max_layer_size,
            spool_dir: Some(self.config.cache_dir.clone()),
            pool: Some(self.pool.clone()),
            cancel: cancel.clone(),
            ..bulwark_image::WalkOptions::default()
        }
    }
}

/// Severities parsed from user input (`HIGH,critical`), one message per bad value; the
/// CLI's `scan` and `config` both parse `--severity` here.
pub fn parse_severities(list: &[String]) -> Result<Vec<Severity>, String> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Severity>()
                .map_err(|e| format!("--severity {s}: {e}"))
        })
        .collect()
}

/// Package classes parsed from user input (`os,library`).
pub fn parse_pkg_types(list: &[String]) -> Result<Vec<PkgClass>, String> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<PkgClass>()
                .map_err(|e| format!("--pkg-types: {e}"))
        })
        .collect()
}

/// Loads an ignore file: `explicit`, else `.bulwarkignore` in the working directory when
/// present.
pub fn load_ignore(explicit: Option<&std::path::Path>) -> Result<Option<IgnoreFile>, String> {
    let default = std::path::Path::new(verdict::DEFAULT_IGNOREFILE);
    // The errors name the file themselves; say only which option brought it in.
    let (path, shown) = match explicit {
        Some(p) => (p, "--ignorefile"),
        None if default.is_file() => (default, "the default ignore file"),
        None => return Ok(None),
    };
    IgnoreFile::load(path)
        .map(Some)
        .map_err(|e| format!("{shown}: {e}"))
}

/// Loads VEX documents.
pub fn load_vex(paths: &[PathBuf]) -> Result<Vec<VexDocument>, String> {
    paths
        .iter()
        .map(|p| VexDocument::load(p).map_err(|e| format!("--vex: {e}")))
        .collect()
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
