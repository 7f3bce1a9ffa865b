//! From a target string to a report: resolve the target once, walk it once with every
//! analyzer the scan needs, and assemble packages, secrets and misconfigurations into
//! one [`Report`]. SBOM files are read instead of walked.

use crate::files::{self, ConfigChecks};
use crate::visitor::{EngineVisitor, FileOutput};
use crate::{Cancel, Engine, EngineError, LayerCount, ScanRequest, ScanStats, TargetRequest};
use bulwark_catalog::assemble::{assemble_merged, CatalogVisitor};
use bulwark_catalog::ScanMode;
use bulwark_core::{Report, ReportTarget, TargetKind};
use bulwark_image::{OpenOptions, Target};
use bulwark_secrets::Scanner;

/// Largest SBOM document read.
const MAX_SBOM_BYTES: u64 = 512 << 20;

/// The analyzers besides the catalogers, built before the target is read so that a bad
/// secret config or check selection fails fast.
#[derive(Default)]
pub struct Analyzers {
    /// The secret scanner, when it runs.
    pub secrets: Option<Scanner>,
    /// The misconfiguration checks, when they run.
    pub checks: Option<ConfigChecks>,
    /// The secret scanner's configuration as text, when it runs (for the layer-result
    /// cache's analyzer key).
    pub secret_fingerprint: Option<String>,
}

impl Analyzers {
    /// Catalogers only (an SBOM run).
    pub fn none() -> Analyzers {
        Analyzers::default()
    }

    /// What a scan request asks for.
    pub fn for_scan(req: &ScanRequest) -> Result<Analyzers, EngineError> {
        let (secrets, secret_fingerprint) = if req.scanners.secret {
            let (s, f) = files::secret_scanner_and_fingerprint(req.secret_config.as_deref())?;
            (Some(s), Some(f))
        } else {
            (None, None)
        };
        let checks = if req.scanners.misconfig {
            Some(ConfigChecks::from_parts(
                req.checks.as_deref(),
                req.pss_version.as_deref(),
                req.custom_checks.as_deref(),
            )?)
        } else {
            None
        };
        Ok(Analyzers {
            secrets,
            checks,
            secret_fingerprint,
        })
    }
}

/// A finished walk's report and counters.
pub struct Done {
    /// Packages, secrets, misconfigurations and warnings (not yet matched or filtered).
    pub report: Report,
    /// Bytes per layer.
    pub stats: ScanStats,
}

/// Resolves `req` once and builds its report with one walk.
pub fn run(
    engine: &Engine,
    req: &TargetRequest,
    analyzers: &Analyzers,
    cancel: &Cancel,
) -> Result<Done, EngineError> {
    cancel.check()?;
    let target = req.target.as_str();
    if let Some(path) = target.strip_prefix("sbom:") {
        return sbom_file_report(target, path);
    }
    let cfg = engine.config();
    std::fs::create_dir_all(&cfg.cache_dir).map_err(|source| bulwark_image::ImageError::Io {
        path: cfg.cache_dir.display().to_string(),
        source,
    })?;
    let open_opts = OpenOptions {
        platform: req.platform.clone(),
        cache_dir: cfg.cache_dir.clone(),
        registry: cfg.registry.clone(),
        daemon_socket: cfg.daemon_socket.clone(),
        cancel: cancel.clone(),
    };
    let resolved = bulwark_image::open(target, &open_opts)?;
    if let Target::File(p) = &resolved {
        if looks_like_sbom(p) {
            return sbom_file_report(target, &p.to_string_lossy());
        }
    }
    if let Target::Image(img) = &resolved {
        tracing::info!(
            "{target} resolved to image {}{}",
            img.meta.id,
            img.meta
                .manifest_digest
                .as_deref()
                .map(|d| format!(" (manifest {d})"))
                .unwrap_or_default()
        );
    }
    cancel.check()?;
    let mode = match resolved {
        Target::Image(_) => ScanMode::Image,
        Target::Dir(_) | Target::File(_) => ScanMode::Source,
    };
    let image = matches!(resolved, Target::Image(_));
    let catalogers = bulwark_catalog::all_catalogers();
    // The analyzers were built from the request's scanners: present means asked for.
    let wants_files = analyzers.secrets.is_some() || analyzers.checks.is_some();
    let visitor = EngineVisitor {
        catalog: CatalogVisitor::new(&catalogers, mode),
        files: wants_files.then(|| {
            files::FilesVisitor::new(analyzers.secrets.as_ref(), analyzers.checks.as_ref(), image)
        }),
    };
    let walk_opts = engine.walk_options(cancel);
    let cache = (image && (cfg.layer_cache || cfg.shared_layer_results.is_some())).then(|| {
        crate::cache::LayerResultCache::new(
            &cfg.cache_dir,
            &crate::cache::analyzer_key(analyzers, &walk_opts),
        )
        .local(cfg.layer_cache)
        .shared(cfg.shared_layer_results.clone())
    });
    let walk = bulwark_image::walk_cached(
        &resolved,
        &visitor,
        &walk_opts,
        cache
            .as_ref()
            .map(|c| c as &dyn bulwark_image::LayerCache<FileOutput>),
    )?;
    cancel.check()?;
    // The merged view and the deleted files, computed once for both consumers.
    let (merged, deleted) = walk.merged_and_deleted();
    let mut cat = assemble_merged(&resolved, &catalogers, &walk, &merged, |o: &FileOutput| {
        &o.catalog
    });
    if let (Target::File(p), true) = (&resolved, cat.unrecognised) {
        let path = p.display().to_string();
        // A file no package cataloger knows may still be a manifest or hold secrets:
        // when those scanners ran on it, that is what was asked for.
        if !wants_files {
            if !req.allow_unknown {
                return Err(EngineError::Unrecognised { path });
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
    }
    let stats = ScanStats {
        layers: walk
            .layers
            .iter()
            .filter(|l| !l.digest.is_empty())
            .map(|l| LayerCount {
                digest: l.digest.clone(),
                stats: l.stats.clone(),
            })
            .collect(),
        walks: 1,
    };
    for l in &stats.layers {
        let s = &l.stats;
        tracing::info!(
            "layer {}: read {} B, inflated {} B, hashed {} B in {} pass(es); link-target pass: read {} B, inflated {} B, not hashed; layer cache: {}",
            l.digest,
            s.read,
            s.inflated,
            s.hashed,
            s.passes,
            s.revisit_read,
            s.revisit_inflated,
            s.cache.as_str()
        );
    }
    let (kind, image_meta) = match &resolved {
        Target::Image(img) => (TargetKind::Image, Some(img.meta.clone())),
        Target::Dir(_) => (TargetKind::Directory, None),
        Target::File(_) => (TargetKind::File, None),
    };
    let mut report = Report::new(
        ReportTarget {
            name: target.to_string(),
            kind,
            image: image_meta,
        },
        crate::now_rfc3339(),
    );
    report.os = cat.os;
    report.packages = cat.packages;
    report.warnings = cat.warnings;
    report.incomplete = cat.incomplete;
    if wants_files {
        let found = files::collect(
            &resolved,
            &walk,
            (&merged, &deleted),
            |o: &FileOutput| o.files.as_ref(),
            analyzers.secrets.as_ref(),
            analyzers.checks.as_ref(),
        );
        report.secrets = found.secrets;
        report.misconfigurations = found.misconfigurations;
        report.warnings.extend(found.warnings);
    }
    report.sort();
    Ok(Done { report, stats })
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

fn sbom_file_report(target: &str, path: &str) -> Result<Done, EngineError> {
    let err = |m: String| EngineError::Sbom {
        path: path.to_string(),
        message: m,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_SBOM_BYTES {
        return Err(err(format!(
            "SBOM is {} bytes, over the {MAX_SBOM_BYTES}-byte limit",
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
        crate::now_rfc3339(),
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
    Ok(Done {
        report,
        stats: ScanStats::default(),
    })
}
