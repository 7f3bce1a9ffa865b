//! `bulwark config`: misconfiguration checks of Dockerfiles, Kubernetes manifests
//! (multi-document, `List`, Helm-rendered output) and Compose files given as files or
//! found in directories. Findings go through the usual filters (severity,
//! `.bulwarkignore`) and writers; malformed files become warnings and never change the
//! exit code, while unusable arguments (a path that does not exist) exit 2.

use anyhow::{bail, Context, Result};
use bulwark_core::{Report, ReportTarget, Severity, TargetKind};
use bulwark_scan::files::{self, ConfigChecks, FileFindings};
use bulwark_scan::{ScanOptions, Scanners};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments of `bulwark config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Files and directories to check (directories are walked).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Checks to run: sets (`pss-baseline`, `pss-restricted`, `cis-docker`, `cis-k8s`,
    /// `nsa`, `dockerfile`, `compose`, `all`) and/or check ids, comma-separated.
    #[arg(long, default_value = "all")]
    pub checks: String,
    /// Pod Security Standards version (`v1.30`, `latest`).
    #[arg(long, default_value = "latest")]
    pub pss_version: String,
    /// Directory of custom Rego checks (see docs/custom-checks.md).
    #[arg(long)]
    pub custom_checks: Option<PathBuf>,
    /// Output format: table, json, sarif or html.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Severities to report, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Exit with this code when a finding remains after filtering.
    #[arg(long, default_value_t = 0)]
    pub exit_code: u8,
    /// Ignore file (default: `.bulwarkignore` in the current directory, when present).
    #[arg(long)]
    pub ignorefile: Option<PathBuf>,
    /// Keep suppressed findings (ignore file, inline comments) in the output, marked with
    /// the reason; they never count towards --exit-code.
    #[arg(long)]
    pub show_suppressed: bool,
}

/// Runs `bulwark config`; returns the exit code.
pub fn run(args: ConfigArgs) -> Result<u8> {
    let format: bulwark_report::Format = args
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format {}: {e}", args.format))?;
    if !matches!(
        format,
        bulwark_report::Format::Table
            | bulwark_report::Format::Json
            | bulwark_report::Format::Sarif
            | bulwark_report::Format::Html
    ) {
        bail!("--format {format}: bulwark config writes table, json, sarif or html");
    }
    let severities = args
        .severity
        .iter()
        .map(|s| s.parse::<Severity>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()
        .context("--severity")?;
    let opts = ScanOptions {
        scanners: Scanners {
            vuln: false,
            secret: false,
            misconfig: true,
        },
        checks: Some(args.checks.clone()),
        pss_version: Some(args.pss_version.clone()),
        custom_checks: args.custom_checks.clone(),
        ..ScanOptions::default()
    };
    let checks = ConfigChecks::from_options(&opts)?;
    for p in &args.paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let mut found = FileFindings::default();
    for p in &args.paths {
        let part = check_path(p, &opts, &checks)?;
        found.misconfigurations.extend(part.misconfigurations);
        found.warnings.extend(part.warnings);
    }
    let ignore = load_ignore(args.ignorefile.as_deref())?;

    let name = args
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let kind = if args.paths.len() == 1 && args.paths.iter().all(|p| p.is_file()) {
        TargetKind::File
    } else {
        TargetKind::Directory
    };
    let mut report = Report::new(
        ReportTarget {
            name,
            kind,
            image: None,
        },
        now_rfc3339(),
    );
    report.misconfigurations = found.misconfigurations;
    report.warnings = found.warnings;
    report.sort();
    let mut filter = bulwark_report::filter::FilterOptions::new(today());
    filter.severities = severities;
    filter.ignore = ignore;
    filter.show_suppressed = args.show_suppressed;
    let summary = bulwark_report::filter::apply(&mut report, &filter);
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    let ignored = summary.count(bulwark_report::filter::FilterReason::Ignored);
    if ignored > 0 {
        let verb = if args.show_suppressed {
            "marked suppressed"
        } else {
            "suppressed (--show-suppressed to list them)"
        };
        tracing::warn!("{ignored} finding(s) {verb}");
    }
    for w in &report.warnings {
        match &w.path {
            Some(p) => tracing::warn!("{p}: {}", w.message),
            None => tracing::warn!("{}", w.message),
        }
    }
    let color = args.output.is_none() && std::io::stdout().is_terminal();
    let wopts = bulwark_report::WriteOptions { color };
    crate::write_output(args.output.as_deref(), |w| {
        bulwark_report::write_with(&report, format, &wopts, w).map_err(anyhow::Error::from)
    })?;
    // Suppressed findings shown with --show-suppressed do not fail the run.
    let code =
        bulwark_report::filter::exit_code(&report, Severity::Unknown, i32::from(args.exit_code));
    Ok(u8::try_from(code).unwrap_or(args.exit_code))
}

/// Checks one argument: a directory is walked (paths in findings are the directory as
/// typed joined with the relative path), a file is checked by its name or, when the name
/// says nothing, by content.
fn check_path(p: &Path, opts: &ScanOptions, checks: &ConfigChecks) -> Result<FileFindings> {
    let shown = p.display().to_string();
    if p.is_dir() {
        let target = bulwark_image::Target::Dir(p.to_path_buf());
        let mut found = files::scan_files_with(&target, opts, None, Some(checks))
            .with_context(|| format!("reading {shown}"))?;
        let prefix = |rel: &str| {
            if shown == "." {
                rel.to_string()
            } else {
                format!("{}/{rel}", shown.trim_end_matches('/'))
            }
        };
        for m in &mut found.misconfigurations {
            m.path = prefix(&m.path);
        }
        for w in &mut found.warnings {
            if let Some(path) = &w.path {
                w.path = Some(prefix(path));
            }
        }
        return Ok(found);
    }
    Ok(files::check_config_file(p, &shown, checks))
}

fn load_ignore(explicit: Option<&Path>) -> Result<Option<bulwark_report::ignore::IgnoreFile>> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let d = PathBuf::from(".bulwarkignore");
            if !d.is_file() {
                return Ok(None);
            }
            d
        }
    };
    let f = bulwark_report::ignore::IgnoreFile::load(&path)
        .with_context(|| format!("--ignorefile {}", path.display()))?;
    Ok(Some(f))
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
