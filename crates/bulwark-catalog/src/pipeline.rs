//! From a target string to a [`Report`]: resolve the source, walk it with every
//! cataloger, and assemble the report. This is the one entry point the CLI (and later
//! the server) calls, so every front end builds the same report.

use crate::assemble::catalog_target;
use bulwark_core::{Report, ReportTarget, TargetKind};
use bulwark_image::{ImageError, OpenOptions, Target, WalkOptions};
use std::path::PathBuf;

/// How to read a target.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Platform to pick from a multi-platform image.
    pub platform: Option<String>,
    /// How to reach registries (plain HTTP, CA file, credentials, timeouts, retries).
    pub registry: bulwark_image::registry::RegistryConfig,
    /// Cache directory (blobs, spooled files); default: the user cache dir.
    pub cache_dir: Option<PathBuf>,
    /// Decompression-bomb guard: largest decompressed layer, in bytes.
    pub max_layer_size: Option<u64>,
    /// Scan a single file that no cataloger recognises with a warning instead of failing.
    pub allow_unknown: bool,
}

/// Errors from building a report.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The image or directory could not be read.
    #[error(transparent)]
    Image(#[from] ImageError),
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
}

/// The default cache directory: `$XDG_CACHE_HOME/bulwark` or `~/.cache/bulwark`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("bulwark");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".cache").join("bulwark");
    }
    std::env::temp_dir().join("bulwark-cache")
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Builds the package report (SBOM) for a target string.
pub fn sbom_report(target: &str, opts: &ScanOptions) -> Result<Report, PipelineError> {
    if let Some(path) = target.strip_prefix("sbom:") {
        return sbom_file_report(target, path);
    }
    let cache_dir = opts.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let open_opts = OpenOptions {
        platform: opts.platform.clone(),
        cache_dir: cache_dir.clone(),
        registry: opts.registry.clone(),
    };
    let resolved = bulwark_image::open(target, &open_opts)?;
    if let Target::File(p) = &resolved {
        if looks_like_sbom(p) {
            return sbom_file_report(target, &p.to_string_lossy());
        }
    }
    let mut walk_opts = WalkOptions::default();
    if let Some(m) = opts.max_layer_size {
        walk_opts.max_layer_bytes = m;
    }
    let _ = std::fs::create_dir_all(&cache_dir);
    walk_opts.spool_dir = Some(cache_dir);
    let catalogers = crate::all_catalogers();
    let mut cat = catalog_target(&resolved, &catalogers, &walk_opts)?;
    if let (Target::File(p), true) = (&resolved, cat.unrecognised) {
        let path = p.display().to_string();
        if !opts.allow_unknown {
            return Err(PipelineError::Unrecognised { path });
        }
        let message = "no package cataloger recognises this file; no packages were read from it (--allow-unknown)";
        cat.warnings.push(bulwark_core::Warning {
            path: Some(path.clone()),
            layer: None,
            message: message.into(),
        });
        cat.incomplete.push(bulwark_core::IncompleteReason {
            kind: bulwark_core::IncompleteKind::UnknownTarget,
            path: Some(path),
            layer: None,
            message: message.into(),
        });
    }
    let (kind, image) = match &resolved {
        Target::Image(img) => (TargetKind::Image, Some(img.meta.clone())),
        Target::Dir(_) => (TargetKind::Directory, None),
        Target::File(_) => (TargetKind::File, None),
    };
    let mut report = Report::new(
        ReportTarget {
            name: target.to_string(),
            kind,
            image,
        },
        now_rfc3339(),
    );
    report.os = cat.os;
    report.packages = cat.packages;
    report.warnings = cat.warnings;
    report.incomplete = cat.incomplete;
    report.sort();
    Ok(report)
}

/// Sniffs the first bytes of a JSON file for CycloneDX/SPDX markers.
fn looks_like_sbom(path: &std::path::Path) -> bool {
    use std::io::Read;
    let name = path.to_string_lossy();
    if !(name.ends_with(".json")) {
        return false;
    }
    // Writers order keys freely (SPDX tools often put `spdxVersion` after the
    // annotations), so look at the first MiB rather than the first block.
    let mut head = Vec::new();
    let _ = std::fs::File::open(path).and_then(|f| f.take(1 << 20).read_to_end(&mut head));
    let head = String::from_utf8_lossy(&head);
    head.contains("\"bomFormat\"") || head.contains("\"spdxVersion\"")
}

fn sbom_file_report(target: &str, path: &str) -> Result<Report, PipelineError> {
    const LIMIT: u64 = 512 << 20;
    let err = |m: String| PipelineError::Sbom {
        path: path.to_string(),
        message: m,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > LIMIT {
        return Err(err(format!(
            "SBOM is {} bytes, over the {LIMIT}-byte limit",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let doc = bulwark_report::read_sbom(&bytes).map_err(|e| err(e.to_string()))?;
    let mut report = Report::new(
        ReportTarget {
            name: doc.name.clone().unwrap_or_else(|| target.to_string()),
            kind: TargetKind::Sbom,
            image: None,
        },
        now_rfc3339(),
    );
    report.os = doc.os;
    report.packages = doc.packages;
    for w in &doc.warnings {
        report.warnings.push(bulwark_core::Warning {
            path: Some(path.to_string()),
            layer: None,
            message: w.clone(),
        });
    }
    if !doc.warnings.is_empty() {
        report.mark_incomplete(bulwark_core::IncompleteReason {
            kind: bulwark_core::IncompleteKind::SkippedRecords,
            path: Some(path.to_string()),
            layer: None,
            message: format!(
                "{} SBOM entr(y/ies) could not be read; their packages are missing",
                doc.warnings.len()
            ),
        });
    }
    for p in &mut report.packages {
        if p.purl.is_empty() {
            p.finalize(report.os.as_ref());
        }
    }
    report.sort();
    Ok(report)
}
